//! What the examples share: their arguments, and the three ways they close.

use linger::{Outcome, Policy};
use linger_mio::Lingerer;
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::Duration;

/// How the server closes each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// A lingering close through a `Lingerer`.
    Linger,
    /// `close()` at once.
    Naive,
    /// `shutdown(SHUT_WR)`, then `close()` at once.
    ShutdownClose,
}

/// Parsed command line: `--name value` pairs.
pub(crate) struct Args {
    pub(crate) listen: SocketAddr,
    pub(crate) strategy: Strategy,
    pub(crate) bytes: usize,
    pub(crate) connections: usize,
}

/// Parses `--listen ADDR --strategy S --<bytes_flag> N [--connections K]`, or returns the
/// message to print before exiting with status 2.
pub(crate) fn parse(bytes_flag: &str, usage: &str) -> Result<Args, String> {
    let mut listen = None;
    let mut strategy = None;
    let mut bytes = None;
    let mut connections = 1;
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let value = words
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{usage}"))?;
        let invalid = |what: &str| format!("{flag} {value:?}: {what}\n{usage}");
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|_| invalid("not an address"))?),
            "--strategy" => {
                strategy = Some(match value.as_str() {
                    "linger" => Strategy::Linger,
                    "naive" => Strategy::Naive,
                    "shutdown-close" => Strategy::ShutdownClose,
                    _ => return Err(invalid("choose linger, naive or shutdown-close")),
                })
            }
            "--connections" => {
                connections = value.parse().map_err(|_| invalid("not a whole number"))?
            }
            flag if flag == bytes_flag => {
                bytes = Some(value.parse().map_err(|_| invalid("not a whole number"))?)
            }
            _ => return Err(format!("unknown flag {flag}\n{usage}")),
        }
    }
    let missing = |flag: &str| format!("{flag} is required\n{usage}");
    Ok(Args {
        listen: listen.ok_or_else(|| missing("--listen"))?,
        strategy: strategy.ok_or_else(|| missing("--strategy"))?,
        bytes: bytes.ok_or_else(|| missing(bytes_flag))?,
        connections,
    })
}

const LISTENER: Token = Token(0);
const LINGERER: Token = Token(1);

/// Accepts `args.connections` connections on one mio poll, lets `answer` write to each
/// (blocking), closes each per the strategy, and reports. Exits 1 if a lingering close did
/// not confirm delivery.
pub(crate) fn serve(
    args: &Args,
    answer: impl Fn(&mut std::net::TcpStream) -> std::io::Result<()>,
) -> ExitCode {
    match run(args, answer) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    args: &Args,
    answer: impl Fn(&mut std::net::TcpStream) -> std::io::Result<()>,
) -> std::io::Result<bool> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(64);
    let mut listener = TcpListener::bind(args.listen)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut lingerer = Lingerer::new(args.connections.max(1))?;
    let lingerer_fd = lingerer.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&lingerer_fd), LINGERER, Interest::READABLE)?;
    println!(
        "listening on {} ({:?}), {} connection(s)",
        listener.local_addr()?,
        args.strategy,
        args.connections
    );

    let (mut accepted, mut ended, mut delivered) = (0, 0, true);
    while ended < args.connections {
        poll.poll(
            &mut events,
            lingerer.next_timeout().or(Some(Duration::from_secs(1))),
        )?;
        while accepted < args.connections {
            let Ok((stream, peer)) = listener.accept() else {
                break;
            };
            accepted += 1;
            let mut stream = blocking(stream)?;
            let answered = answer(&mut stream);
            println!(
                "#{accepted} {peer}: answered ({})",
                answered
                    .as_ref()
                    .map_or_else(ToString::to_string, |()| "ok".into())
            );
            match args.strategy {
                Strategy::Linger => {
                    stream.set_nonblocking(true)?;
                    if let Err(refused) =
                        lingerer.adopt(TcpStream::from_std(stream), Policy::default())
                    {
                        eprintln!("#{accepted}: {refused}");
                        ended += 1;
                        delivered = false;
                    }
                }
                Strategy::Naive => {
                    drop(stream);
                    println!("#{accepted}: closed at once");
                    ended += 1;
                }
                Strategy::ShutdownClose => {
                    let _ = stream.shutdown(Shutdown::Write);
                    drop(stream);
                    println!("#{accepted}: shut down writing, then closed at once");
                    ended += 1;
                }
            }
        }
        for (token, outcome) in lingerer.poll(Some(Duration::ZERO))? {
            report(token, &outcome);
            delivered &= outcome.claims_delivery();
            ended += 1;
        }
    }
    Ok(delivered)
}

fn blocking(stream: TcpStream) -> std::io::Result<std::net::TcpStream> {
    let stream = std::net::TcpStream::from(std::os::fd::OwnedFd::from(stream));
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    Ok(stream)
}

fn report(token: Token, outcome: &Outcome) {
    let verdict = if outcome.claims_delivery() {
        "delivered"
    } else {
        "NOT confirmed"
    };
    println!("lingering close {}: {verdict}: {outcome}", token.0);
}
