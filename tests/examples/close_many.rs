//! Many closes on loopback, for the driver and scale figures of `docs/performance.md` and
//! for `benches/syscalls.sh` (which runs it under `strace -c -f`):
//!
//! ```sh
//! cargo run --release --example close_many -- --strategy plain --connections 2000
//! cargo run --release --example close_many -- --strategy linger-mio --connections 2000
//! cargo run --release --example close_many -- --strategy linger-mio --connections 10000 --concurrent
//! ```
//!
//! Each connection: the server writes a 4 KiB response, the client (which already sent its
//! FIN: a peer that closes promptly) reads it to EOF. Sequential mode closes one connection
//! at a time and reports closes per second; `--concurrent` holds every close at once in one
//! `Lingerer` and reports the time to close them all and the memory each one added.

use linger::{Ending, Policy};
use linger_check::sockets::{self, Closer};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const RESPONSE: usize = 4096;
const USAGE: &str = "usage: close_many --strategy plain|linger-mio|linger-std [--connections N] \
                     [--concurrent]";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().collect();
    if let [_, flag, address, count_flag, count] = arguments.as_slice()
        && flag == "--clients-of"
        && count_flag == "--connections"
    {
        return clients_of(address, count.parse().unwrap_or(0));
    }
    match parse(arguments.into_iter().skip(1)) {
        Ok(Some(Options {
            closer,
            connections,
            concurrent: false,
        })) => sequential(closer, connections),
        Ok(Some(Options {
            closer,
            connections,
            concurrent: true,
        })) => concurrent(closer, connections),
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("close_many: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    closer: Closer,
    connections: usize,
    concurrent: bool,
}

/// The options, `None` when `--help` or `-h` asks for the usage, or what is wrong with them.
fn parse(words: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let words: Vec<String> = words.into_iter().collect();
    if words.iter().any(|word| word == "--help" || word == "-h") {
        return Ok(None);
    }
    let (mut closer, mut connections, mut concurrent) = (None, 1000, false);
    let mut words = words.iter();
    while let Some(flag) = words.next() {
        let mut value = || {
            words
                .next()
                .map(String::as_str)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--concurrent" => concurrent = true,
            "--strategy" => {
                closer = Some(match value()? {
                    "plain" => Closer::Plain,
                    "linger-mio" => Closer::Mio,
                    "linger-std" => Closer::Std,
                    other => {
                        return Err(format!(
                            "{flag} takes plain, linger-mio or linger-std, not {other:?}"
                        ));
                    }
                });
            }
            "--connections" => {
                let value = value()?;
                connections = value
                    .parse()
                    .ok()
                    .filter(|&count| count > 0)
                    .ok_or_else(|| {
                        format!("{flag} takes a positive whole number, not {value:?}")
                    })?;
            }
            option if option.starts_with('-') => return Err(format!("unknown option {option}")),
            stray => return Err(format!("unexpected argument {stray:?}")),
        }
    }
    let closer = closer.ok_or("--strategy is required")?;
    if concurrent && closer == Closer::Std {
        return Err("--concurrent needs plain or linger-mio (linger-std blocks per close)".into());
    }
    Ok(Some(Options {
        closer,
        connections,
        concurrent,
    }))
}

/// A connected pair whose server has written the response and whose client has sent its
/// FIN: `(client, server)`.
fn prompt_pair(listener: &std::net::TcpListener) -> (TcpStream, TcpStream) {
    let address = listener.local_addr().expect("address");
    let client = TcpStream::connect(address).expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    server.write_all(&[b'r'; RESPONSE]).expect("response");
    client.shutdown(Shutdown::Write).expect("client FIN");
    (client, server)
}

/// Reads the response to EOF; true if all of it arrived.
fn read_response(mut client: &TcpStream) -> bool {
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut response = Vec::with_capacity(RESPONSE);
    client.read_to_end(&mut response).is_ok() && response.len() == RESPONSE
}

fn sequential(closer: Closer, connections: usize) -> ExitCode {
    let listener = sockets::listener(1024);
    // One lingerer for every close, as a server has.
    let mut lingerer = linger_mio::Lingerer::new(1024).expect("a mio poll");
    let mut delivered = 0;
    let mut closing = Duration::ZERO;
    let started = Instant::now();
    for _ in 0..connections {
        let (client, server) = prompt_pair(&listener);
        let close_started = Instant::now();
        let outcome = match closer {
            Closer::Mio => close_in(&mut lingerer, server),
            _ => closer.close(server, &Policy::default()),
        };
        closing += close_started.elapsed();
        if outcome.is_some_and(|outcome| outcome.ending != Ending::Clean) {
            eprintln!("close_many: a close ended {outcome:?}");
        }
        delivered += usize::from(read_response(&client));
    }
    let total = started.elapsed();
    println!(
        "{closer:?}: {connections} closes, {delivered} responses whole; close calls took {:.1} µs \
         each ({:.0} closes/s); {:.1} µs per whole connection",
        closing.as_secs_f64() * 1e6 / connections as f64,
        connections as f64 / closing.as_secs_f64(),
        total.as_secs_f64() * 1e6 / connections as f64,
    );
    status(delivered == connections)
}

/// Hands `server` to `lingerer` and polls until its close ends.
fn close_in(lingerer: &mut linger_mio::Lingerer, server: TcpStream) -> Option<linger::Outcome> {
    server.set_nonblocking(true).expect("non-blocking");
    let token = lingerer
        .adopt(mio::net::TcpStream::from_std(server), Policy::default())
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(35);
    while Instant::now() < deadline {
        let mut ended = lingerer.poll(Some(Duration::from_millis(100))).ok()?;
        if let Some((_, outcome)) = ended.find(|(done, _)| *done == token) {
            return Some(outcome);
        }
    }
    None
}

fn concurrent(closer: Closer, connections: usize) -> ExitCode {
    let limit = sockets::raise_fd_limit();
    let needed = connections as u64 + 64;
    if limit < needed {
        eprintln!("close_many: {connections} connections need {needed} fds, the limit is {limit}");
        return ExitCode::FAILURE;
    }
    let listener = sockets::listener(4096);
    let address = listener.local_addr().expect("address");
    // The clients live in a child process, so each process holds one end of every pair.
    let child = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args(["--clients-of", &address.to_string()])
        .args(["--connections", &connections.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("close_many: cannot start the client process");
        return ExitCode::FAILURE;
    };
    let mut servers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (mut server, _) = listener.accept().expect("accept");
        server.write_all(&[b'r'; RESPONSE]).expect("response");
        servers.push(server);
    }
    let mut lingerer = linger_mio::Lingerer::new(connections + 1).expect("a mio poll");
    // Every socket is open before the baseline: the figure is the closes' own memory. The
    // clients stay silent until every close is held.
    let before = heap::reset_peak();
    let adopting = Instant::now();
    for server in servers {
        match closer {
            Closer::Mio => {
                server.set_nonblocking(true).expect("non-blocking");
                let stream = mio::net::TcpStream::from_std(server);
                if let Err(refused) = lingerer.adopt(stream, Policy::default()) {
                    eprintln!("close_many: {refused}");
                    return ExitCode::FAILURE;
                }
            }
            _ => drop(server),
        }
    }
    let adopted = adopting.elapsed();
    let added = heap::peak().saturating_sub(before);
    // Drives the closes once, so each waits for its peer, then lets the peers close.
    let mut outcomes = Vec::new();
    outcomes.extend(lingerer.poll(Some(Duration::ZERO)).expect("poll"));
    if let Some(stdin) = child.stdin.as_mut() {
        let _ = stdin.write_all(b"close\n");
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    while closer == Closer::Mio && outcomes.len() < connections && Instant::now() < deadline {
        outcomes.extend(
            lingerer
                .poll(Some(Duration::from_millis(100)))
                .expect("poll"),
        );
    }
    let took = started.elapsed();
    let clean = outcomes
        .iter()
        .filter(|(_, outcome)| outcome.ending == Ending::Clean)
        .count();
    let report = child.wait_with_output().expect("the client process");
    let delivered: usize = String::from_utf8_lossy(&report.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    println!(
        "{closer:?}: {connections} closes held at once: adopted in {:.1} ms ({:.2} µs each), \
         {} bytes of heap each; all closed {:.1} ms after the peers closed ({clean} clean), \
         {delivered} responses whole",
        adopted.as_secs_f64() * 1000.0,
        adopted.as_secs_f64() * 1e6 / connections as f64,
        added / connections,
        took.as_secs_f64() * 1000.0,
    );
    status(delivered == connections)
}

/// The child process of `--concurrent`: opens `connections` clients, waits for a line on
/// stdin, then sends every FIN, reads every response to EOF, and prints how many arrived
/// whole.
fn clients_of(address: &str, connections: usize) -> ExitCode {
    sockets::raise_fd_limit();
    let clients: Vec<TcpStream> = (0..connections)
        .filter_map(|_| TcpStream::connect(address).ok())
        .collect();
    let mut go = String::new();
    let _ = std::io::stdin().read_line(&mut go);
    for client in &clients {
        let _ = client.shutdown(Shutdown::Write);
    }
    let whole = clients
        .iter()
        .filter(|client| read_response(client))
        .count();
    println!("{whole}");
    ExitCode::SUCCESS
}

/// Heap bytes in use and their peak, counted by this program's allocator.
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static IN_USE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    struct Counting;

    #[global_allocator]
    static COUNTING: Counting = Counting;

    #[allow(unsafe_code)]
    // SAFETY: every call is passed to the system allocator unchanged; the counters only
    // observe the sizes.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// Starts a new peak from the bytes in use now, and returns them.
    pub(crate) fn reset_peak() -> usize {
        let now = IN_USE.load(Ordering::Relaxed);
        PEAK.store(now, Ordering::Relaxed);
        now
    }

    /// The most bytes in use since [`reset_peak`].
    pub(crate) fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}

fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Option<Options>, String> {
        parse(words.iter().map(|word| word.to_string()))
    }

    #[test]
    fn help_asks_for_the_usage() {
        assert_eq!(parse_words(&["-h"]), Ok(None));
        assert_eq!(parse_words(&["--strategy", "plain", "--help"]), Ok(None));
    }

    #[test]
    fn a_complete_command_line_parses() {
        let options = parse_words(&[
            "--strategy",
            "linger-mio",
            "--connections",
            "5",
            "--concurrent",
        ]);
        let expected = Options {
            closer: Closer::Mio,
            connections: 5,
            concurrent: true,
        };
        assert_eq!(options, Ok(Some(expected)));
    }

    #[test]
    fn unknown_options_stray_words_and_missing_values_are_named() {
        for (words, message) in [
            (&["--bogus-flag"][..], "unknown option --bogus-flag"),
            (
                &["--strategy", "plain", "extra"],
                "unexpected argument \"extra\"",
            ),
            (&["--strategy"], "--strategy needs a value"),
            (
                &["--connections", "0"],
                "--connections takes a positive whole number, not \"0\"",
            ),
        ] {
            assert_eq!(parse_words(words), Err(message.into()), "{words:?}");
        }
    }
}
