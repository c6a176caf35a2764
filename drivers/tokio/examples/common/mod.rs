//! What the HTTP examples share: their command line, their listener, how they print an
//! outcome, and when they stop. (linger-stacks' examples share it too; a server that binds
//! its own listener takes only the command line.)
#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use linger_tokio::{CloseReport, Policy};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use tokio::net::TcpListener;

/// How the server closes its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Close {
    /// Through linger: a lingering close.
    Linger,
    /// As hyper does on its own: shut down writing, then drop the socket.
    Plain,
}

/// The command line: `--listen ADDR [--close linger|plain] [--policy default|unguarded]
/// [--body-bytes N]`.
pub(crate) struct Args {
    pub(crate) listen: SocketAddr,
    pub(crate) close: Close,
    /// The lingerer's policy: `Policy::default()`, or with `--policy unguarded` the same
    /// without the guards of the life before the close (`Policy::unguarded`).
    pub(crate) policy: Policy,
    pub(crate) body_bytes: usize,
}

/// What the command line asks for.
enum Command {
    Serve(Args),
    /// `--help`: print the usage and exit 0.
    Help,
}

/// The command line of example `name` and its listener, bound; or, once `--help` printed the
/// usage (0) or an error was said (2 for the command line, 1 for the listener), the status
/// to exit with.
pub(crate) async fn start(name: &str) -> Result<(Args, TcpListener), ExitCode> {
    let args = arguments(name)?;
    match TcpListener::bind(args.listen).await {
        Ok(listener) => Ok((args, listener)),
        Err(error) => {
            eprintln!("{name}: cannot listen on {}: {error}", args.listen);
            Err(ExitCode::FAILURE)
        }
    }
}

/// The command line of example `name`; or, once `--help` printed the usage (0) or an error
/// was said (2), the status to exit with.
pub(crate) fn arguments(name: &str) -> Result<Args, ExitCode> {
    let usage = format!(
        "usage: {name} --listen ADDR [--close linger|plain] [--policy default|unguarded] \
         [--body-bytes N]"
    );
    let args = match parse() {
        Ok(Command::Serve(args)) => args,
        Ok(Command::Help) => {
            println!("{usage}");
            return Err(ExitCode::SUCCESS);
        }
        Err(message) => {
            eprintln!("{name}: {message}\n{usage}");
            return Err(ExitCode::from(2));
        }
    };
    Ok(args)
}

/// hyper's handler: `413` and the answer, once the upload has begun; the rest of it is never read.
pub(crate) async fn early_reply(
    request: Request<Incoming>,
    answer: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let _first_bytes = request.into_body().frame().await;
    let mut response = Response::new(Full::new(answer));
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    Ok(response)
}

/// Prints how a close ended, with its peer: the examples' hook.
pub(crate) fn print_outcome(report: &CloseReport) {
    let peer = report.peer.map_or("?".into(), |peer| peer.to_string());
    println!("{peer}: {}", report.outcome);
}

/// Parses the command line, or returns the message to print before exiting with status 2.
fn parse() -> Result<Command, String> {
    let mut listen = None;
    let mut close = Close::Linger;
    let mut policy = Policy::default();
    let mut body_bytes = 1 << 20;
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        if word == "--help" || word == "-h" {
            return Ok(Command::Help);
        }
        if !["--listen", "--close", "--policy", "--body-bytes"].contains(&word.as_str()) {
            return Err(if word.starts_with('-') {
                format!("unknown option {word}")
            } else {
                format!("unexpected argument {word:?}")
            });
        }
        let value = words
            .next()
            .ok_or_else(|| format!("{word} needs a value"))?;
        let invalid = |what: &str| format!("{word} {value:?}: {what}");
        match word.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|_| invalid("not an address"))?),
            "--close" => {
                close = match value.as_str() {
                    "linger" => Close::Linger,
                    "plain" => Close::Plain,
                    _ => return Err(invalid("choose linger or plain")),
                }
            }
            "--policy" => {
                policy = match value.as_str() {
                    "default" => Policy::default(),
                    "unguarded" => Policy::default().unguarded(),
                    _ => return Err(invalid("choose default or unguarded")),
                }
            }
            _ => body_bytes = value.parse().map_err(|_| invalid("not a whole number"))?,
        }
    }
    Ok(Command::Serve(Args {
        listen: listen.ok_or("--listen is required")?,
        close,
        policy,
        body_bytes,
    }))
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM: when the server should stop gracefully.
#[cfg(unix)]
pub(crate) async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// Resolves on Ctrl-C: when the server should stop gracefully (Windows has no SIGTERM).
#[cfg(not(unix))]
pub(crate) async fn stop_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
