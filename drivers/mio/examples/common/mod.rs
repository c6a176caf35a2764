//! What the examples share: their arguments, and the three ways they close.

use linger::{Outcome, Policy};
use linger_mio::Lingerer;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::net::{Shutdown, SocketAddr};
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
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Args {
    pub(crate) listen: SocketAddr,
    pub(crate) strategy: Strategy,
    pub(crate) bytes: usize,
    pub(crate) connections: usize,
}

/// The example's arguments, or the exit status once the usage is printed: 0 after `--help`
/// (on stdout), 2 after a mistake (on stderr, with what was wrong).
pub(crate) fn args(name: &str, bytes_flag: &str, usage: &str) -> Result<Args, ExitCode> {
    match parse(bytes_flag, std::env::args().skip(1)) {
        Ok(Some(args)) => Ok(args),
        Ok(None) => {
            println!("{usage}");
            Err(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("{name}: {message}\n\n{usage}");
            Err(ExitCode::from(2))
        }
    }
}

/// Parses `--listen ADDR --strategy S --<bytes_flag> N [--connections K]`: `None` when
/// `--help` or `-h` asks for the usage, the reason when the words do not make sense.
fn parse(
    bytes_flag: &str,
    words: impl IntoIterator<Item = String>,
) -> Result<Option<Args>, String> {
    let words: Vec<String> = words.into_iter().collect();
    if words.iter().any(|word| word == "--help" || word == "-h") {
        return Ok(None);
    }
    let (mut listen, mut strategy, mut bytes, mut connections) = (None, None, None, 1);
    let mut words = words.iter();
    while let Some(flag) = words.next() {
        let mut value = || {
            words
                .next()
                .map(String::as_str)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let whole = |value: &str| {
            value
                .parse()
                .map_err(|_| format!("{flag} takes a whole number, not {value:?}"))
        };
        match flag.as_str() {
            "--listen" => {
                let value = value()?;
                let address = value.parse();
                listen = Some(address.map_err(|_| format!("{flag}: {value:?} is not an address"))?);
            }
            "--strategy" => {
                strategy = Some(match value()? {
                    "linger" => Strategy::Linger,
                    "naive" => Strategy::Naive,
                    "shutdown-close" => Strategy::ShutdownClose,
                    other => {
                        return Err(format!(
                            "{flag} takes linger, naive or shutdown-close, not {other:?}"
                        ));
                    }
                })
            }
            "--connections" => connections = whole(value()?)?,
            flag if flag == bytes_flag => bytes = Some(whole(value()?)?),
            option if option.starts_with('-') => return Err(format!("unknown option {option}")),
            stray => return Err(format!("unexpected argument {stray:?}")),
        }
    }
    let missing = |flag: &str| format!("{flag} is required");
    Ok(Some(Args {
        listen: listen.ok_or_else(|| missing("--listen"))?,
        strategy: strategy.ok_or_else(|| missing("--strategy"))?,
        bytes: bytes.ok_or_else(|| missing(bytes_flag))?,
        connections,
    }))
}

const LISTENER: Token = Token(0);

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
    let mut lingerer = Lingerer::new(Lingerer::default_capacity())?;
    let idle = watch(&poll, &lingerer)?;
    println!(
        "listening on {} ({:?}), {} connection(s)",
        listener.local_addr()?,
        args.strategy,
        args.connections
    );

    let (mut accepted, mut ended, mut delivered) = (0, 0, true);
    while ended < args.connections {
        let wait = [lingerer.next_timeout(), Some(idle)]
            .into_iter()
            .flatten()
            .min();
        poll.poll(&mut events, wait)?;
        while accepted < args.connections {
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                // One connection lost, or lingering closes reclaimed: accept again at once.
                Err(error) if lingerer.after_accept_error(&error) => continue,
                // None waiting, or nothing to reclaim: the loop wakes again within `idle`.
                Err(_) => break,
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

/// Registers the lingerer's poller in the server's, so either wakes the loop (unix); the loop
/// still wakes within the duration returned. On Windows one `mio::Poll` cannot watch another:
/// the loop wakes every few milliseconds to poll the lingerer instead.
#[cfg(unix)]
fn watch(poll: &Poll, lingerer: &Lingerer) -> std::io::Result<Duration> {
    use std::os::fd::AsRawFd;
    const LINGERER: Token = Token(1);
    let lingerer_fd = lingerer.as_raw_fd();
    poll.registry().register(
        &mut mio::unix::SourceFd(&lingerer_fd),
        LINGERER,
        Interest::READABLE,
    )?;
    Ok(Duration::from_secs(1))
}

#[cfg(not(unix))]
fn watch(_: &Poll, _: &Lingerer) -> std::io::Result<Duration> {
    Ok(Duration::from_millis(5))
}

fn blocking(stream: TcpStream) -> std::io::Result<std::net::TcpStream> {
    let stream = std::net::TcpStream::from(stream);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Option<Args>, String> {
        parse("--bytes", words.iter().map(|word| word.to_string()))
    }

    #[test]
    fn help_asks_for_the_usage_whatever_else_is_given() {
        assert_eq!(parse_words(&["--help"]), Ok(None));
        assert_eq!(parse_words(&["--listen", "127.0.0.1:1", "-h"]), Ok(None));
    }

    #[test]
    fn a_complete_command_line_parses() {
        let words = [
            "--listen",
            "127.0.0.1:8414",
            "--strategy",
            "naive",
            "--bytes",
            "10",
        ];
        let args = parse_words(&words).expect("valid").expect("not help");
        assert_eq!(args.strategy, Strategy::Naive);
        assert_eq!((args.bytes, args.connections), (10, 1));
    }

    #[test]
    fn an_unknown_option_is_named_as_such() {
        assert_eq!(
            parse_words(&["--bogus-flag"]),
            Err("unknown option --bogus-flag".into())
        );
        assert_eq!(
            parse_words(&["--bogus-flag", "3"]),
            Err("unknown option --bogus-flag".into())
        );
    }

    #[test]
    fn a_stray_word_is_an_unexpected_argument() {
        assert_eq!(
            parse_words(&["--strategy", "linger", "extra"]),
            Err("unexpected argument \"extra\"".into())
        );
    }

    #[test]
    fn a_flag_without_its_value_says_so() {
        assert_eq!(
            parse_words(&["--bytes"]),
            Err("--bytes needs a value".into())
        );
        assert_eq!(
            parse_words(&["--bytes", "many"]),
            Err("--bytes takes a whole number, not \"many\"".into())
        );
    }
}
