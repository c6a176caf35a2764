//! A slow link: 2 MB across a veth pair rate-limited to 8 Mbit/s with `tbf`, between two
//! network namespaces the test creates. The client uploads first, the server answers and
//! closes. Needs root, `ip` and `tc`; skipped with the reason printed where they are missing.
//! `cargo test -p linger-check --test sockets_slow_link -- --nocapture` prints the figures.

use linger::Ending;
use linger_check::sockets::netns::SlowLink;
use linger_check::sockets::{self, Closer, Received};
use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

const ANSWER: usize = 2_000_000;

struct Transfer {
    received: Received,
    /// Bytes still unacknowledged when the server called close.
    queued_at_close: u32,
    close_took: Duration,
    outcome: Option<linger::Outcome>,
}

fn transfer(link: &SlowLink, closer: Closer) -> Transfer {
    let listener = link
        .in_server(|| TcpListener::bind(link.server_socket(0)))
        .expect("bind in the server namespace");
    let address = listener.local_addr().expect("address");
    thread::scope(|scope| {
        let client = link.spawn_client(scope, move || {
            let mut stream = sockets::connect(address, None);
            stream.write_all(&[b'u'; 64 << 10]).expect("upload");
            sockets::read_all(stream, 64 << 10, Duration::ZERO, Duration::from_secs(30))
        });
        let (mut server, _) = listener.accept().expect("accept");
        server.write_all(&vec![b'a'; ANSWER]).expect("answer");
        let queued_at_close = linger_io::sys::unacked(&server).ok().flatten().unwrap_or(0);
        let started = Instant::now();
        let outcome = closer.close(server, &linger::Policy::default());
        let close_took = started.elapsed();
        let received = client.join().expect("client");
        Transfer {
            received,
            queued_at_close,
            close_took,
            outcome,
        }
    })
}

#[test]
fn linger_waits_for_the_slow_link_to_drain_while_plain_close_loses_data() {
    let link = match SlowLink::create(8) {
        Ok(link) => link,
        Err(reason) => {
            println!("skipped: {reason}");
            return;
        }
    };
    for closer in [Closer::Plain, Closer::Std, Closer::Mio] {
        let run = transfer(&link, closer);
        let limit = Duration::from_secs_f64(
            f64::from(run.queued_at_close) * 8.0 / link.rate_bits_per_second as f64,
        );
        let outcome = run
            .outcome
            .map_or("no outcome".into(), |outcome| outcome.to_string());
        println!(
            "slow link / {closer:?}: client got {} of {ANSWER} bytes (reset {}); {} bytes queued \
             at close, physical limit {limit:?}, close took {:?} ({:.2}x); {outcome}",
            run.received.bytes,
            run.received.reset,
            run.queued_at_close,
            run.close_took,
            run.close_took.as_secs_f64() / limit.as_secs_f64().max(1e-9),
        );
        if closer == Closer::Plain {
            assert!(
                run.received.bytes < ANSWER && run.received.reset,
                "no loss: {closer:?}"
            );
        } else {
            assert_eq!(
                (run.received.bytes, run.received.eof),
                (ANSWER, true),
                "{closer:?}"
            );
            assert_eq!(
                run.outcome.map(|outcome| outcome.ending),
                Some(Ending::Clean)
            );
        }
    }
}
