//! HTTPS on every TLS stack linger-tokio adapts, against real clients: a 20 MB upload
//! answered early with `413` and a 1 MiB body. On the stack's own close the clients lose the
//! answer (shown in the same test, against a server of their own); through linger every run
//! gets the `413` and the whole body. HTTP/1.1 over TLS; HTTP/2 is `http2.rs`'s.

use linger_check::sockets::axum::{EARLY_BODY, FETCH_PAGE, FETCHES, Listening};
use linger_check::sockets::clients::{self, Reply, UploadFile};
use linger_stacks::tls_client::{self, TlsEnd};
use linger_stacks::{Https, Stack, Version, reqwest_post};
use linger_tokio::{Lingerer, Policy, SHORT_LINGER};
use std::time::{Duration, Instant};

const UPLOAD: usize = 20 << 20;

/// What the stack's own close must be seen to lose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    /// The answer in every run: a client that sends all before it reads.
    EveryRun,
    /// The answer in at least one run: a client that reads while it sends, which may have
    /// read all before the reset.
    SomeRun,
}

/// Runs `client` `runs` times against `stack` on `listening`; prints and returns the replies;
/// through linger, checks that every close was accounted for.
fn replies(
    stack: Stack,
    listening: Listening,
    runs: usize,
    what: &str,
    client: &impl Fn(&Https) -> Reply,
) -> Vec<Reply> {
    let server = Https::start(stack, listening, "");
    let replies: Vec<Reply> = (0..runs).map(|_| client(&server)).collect();
    println!("{stack:?}, {listening:?}, {what}: {replies:?}");
    if let Some(counts) = server.stop() {
        println!("{stack:?}, {listening:?}, {what}: lingering closes {counts:?}");
        assert_eq!(counts.ended(), runs as u64, "a close was not accounted for");
    }
    replies
}

/// The loss on the stack's own close, then the whole answer through linger in every run.
fn lost_then_whole(
    stack: Stack,
    what: &str,
    runs: usize,
    loss: Loss,
    client: impl Fn(&Https) -> Reply,
) {
    let whole = |reply: &Reply| reply.is(413, EARLY_BODY);
    let plain = replies(stack, Listening::Plain, runs, what, &client);
    let lost = plain.iter().filter(|reply| !whole(reply)).count();
    match loss {
        Loss::EveryRun => assert_eq!(lost, runs, "{stack:?}'s own close kept an answer"),
        Loss::SomeRun => assert!(lost > 0, "{stack:?}'s own close never lost the answer"),
    }
    let linger = replies(stack, Listening::Linger, runs, what, &client);
    assert!(linger.iter().all(whole), "{stack:?}, {what}: {linger:?}");
}

/// Python `requests`, sending its whole upload before it reads, certificate unverified.
fn python(server: &Https) -> Reply {
    clients::python_post(&server.url("/early"), UPLOAD)
}

/// curl over HTTP/1.1, reading at `rate`.
fn curl(upload: &UploadFile, rate: Option<&'static str>) -> impl Fn(&Https) -> Reply {
    move |server| clients::curl_post_with(&server.url("/early"), upload, rate, &["--http1.1"])
}

/// `reqwest` over HTTP/1.1 with rustls.
fn reqwest(server: &Https) -> Reply {
    reqwest_post(Version::Http1, &server.url("/early"), UPLOAD)
}

/// Every client against `stack`: Python, curl at 10 MB/s and unthrottled, `reqwest`.
fn every_client(stack: Stack) {
    let upload = UploadFile::create(UPLOAD);
    if clients::python_requests_available() {
        lost_then_whole(stack, "requests", 3, Loss::EveryRun, python);
    }
    if clients::curl_available() {
        lost_then_whole(
            stack,
            "curl 10M",
            4,
            Loss::SomeRun,
            curl(&upload, Some("10M")),
        );
        // Unthrottled over loopback, curl wins the race against OpenSSL's reset about one
        // time in four: six runs.
        lost_then_whole(stack, "curl", 6, Loss::SomeRun, curl(&upload, None));
    }
    lost_then_whole(stack, "reqwest", 4, Loss::SomeRun, reqwest);
}

#[test]
fn axum_server_with_rustls_delivers_every_early_answer_only_through_linger_acceptor() {
    every_client(Stack::AxumServerRustls);
}

#[test]
fn axum_server_with_openssl_delivers_every_early_answer_only_through_linger_acceptor() {
    every_client(Stack::AxumServerOpenssl);
}

#[test]
fn hyper_with_tokio_rustls_delivers_every_early_answer_only_through_a_lingering_stream() {
    every_client(Stack::HyperRustls);
}

#[test]
fn poem_with_rustls_delivers_every_early_answer_only_through_linger_listener() {
    every_client(Stack::Poem);
}

#[test]
fn salvo_with_rustls_delivers_every_early_answer_only_through_linger_listener() {
    every_client(Stack::Salvo);
}

/// tokio-rustls over a `LingerStream`: hyper's shutdown sends `close_notify`, then the
/// stream's half-close our FIN, and the close drains the rest of the upload. A rustls client
/// reading at 16 MB/s sees the whole answer, then `close_notify`, then the end; the close is
/// `Clean`. The same server without linger resets the client before it has read the answer.
#[test]
fn tokio_rustls_over_a_lingering_stream_ends_with_close_notify_and_a_clean_close() {
    let post =
        |server: &Https| tls_client::post(server.address, server.certificate(), "/early", UPLOAD);
    for listening in Listening::BOTH {
        let server = Https::start(Stack::HyperRustls, listening, "");
        let seen: Vec<_> = (0..3).map(|_| post(&server)).collect();
        let counts = server.stop();
        println!("{listening:?}: {seen:?}; closes {counts:?}");
        let proper = |seen: &tls_client::TlsReply| {
            seen.reply.is(413, EARLY_BODY) && seen.end == TlsEnd::CloseNotify
        };
        match counts {
            None => assert!(
                seen.iter().all(|seen| !proper(seen)),
                "the plain close let an answer through"
            ),
            Some(counts) => {
                assert!(seen.iter().all(proper), "{seen:?}");
                assert_eq!(counts.clean, 3, "{counts:?}");
            }
        }
    }
}

/// Headless Chromium's `fetch()` over TLS (certificate errors ignored), HTTP/1.1: network
/// errors on the stack's own close, the whole answer through linger. Over HTTP/2, which
/// Chromium picks by ALPN, the connection outlives the early answer and nothing is lost on
/// either: reported.
#[test]
fn chromium_over_tls_gets_every_early_answer_only_through_linger() {
    if !clients::chromium_available() {
        return;
    }
    let whole = format!("413 {EARLY_BODY}");
    for stack in [Stack::AxumServerRustls, Stack::HyperRustls] {
        for (version, flags) in [
            (
                "HTTP/1.1",
                &["--ignore-certificate-errors", "--disable-http2"][..],
            ),
            ("HTTP/2", &["--ignore-certificate-errors"][..]),
        ] {
            for listening in Listening::BOTH {
                let server = Https::start(stack, listening, FETCH_PAGE);
                let report = clients::browse(&server.url("/page"), flags, || server.reports());
                let counts = server.stop();
                println!("{stack:?}, {version}, {listening:?}: {report:?}; closes {counts:?}");
                let report = report.expect("the page never reported");
                assert_eq!(report.len(), FETCHES);
                match (listening, version) {
                    (Listening::Linger, _) => assert_eq!(report, vec![whole.clone(); FETCHES]),
                    (Listening::Plain, "HTTP/1.1") => assert!(
                        report.iter().any(|result| *result != whole),
                        "{stack:?}'s own close never lost the answer: {report:?}"
                    ),
                    (Listening::Plain, _) => {}
                }
            }
        }
    }
}

/// Graceful shutdown with clients that had their answer and stay silent, each close waiting
/// for an EOF that does not come (20 s by the policy here): every stack's adapter shortens
/// them all when its server lets go of it (axum-server, salvo: once `serve` has ended; poem:
/// when it stops accepting; the hyper loop asks its lingerer itself), and every close is
/// counted.
#[test]
fn graceful_shutdown_ends_every_lingering_close_within_the_short_linger() {
    // The stacks side by side: each waits two seconds.
    std::thread::scope(|scope| {
        for stack in Stack::ALL {
            scope.spawn(move || shutdown_with_silent_clients(stack));
        }
    });
}

fn shutdown_with_silent_clients(stack: Stack) {
    const CLIENTS: usize = 5;
    let policy = Policy::builder()
        .idle_timeout(Duration::from_secs(20))
        .build()
        .expect("policy");
    let server = Https::start_with(stack, Listening::Linger, Lingerer::new(policy), "");
    let silent: Vec<_> = (0..CLIENTS)
        .map(|_| tls_client::answered_then_silent(server.address, server.certificate(), "/early"))
        .collect();
    let whole = |(seen, _): &(tls_client::TlsReply, _)| {
        seen.reply.is(413, EARLY_BODY) && seen.end == TlsEnd::CloseNotify
    };
    assert!(silent.iter().all(whole), "{stack:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while server
        .counts()
        .is_some_and(|counts| counts.in_flight < CLIENTS)
    {
        assert!(
            Instant::now() < deadline,
            "{stack:?}: {:?}",
            server.counts()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    let counts = server.stop().expect("linger counts");
    let took = started.elapsed();
    println!("{stack:?}: graceful shutdown took {took:?}: {counts:?}");
    assert!(
        took < SHORT_LINGER + Duration::from_secs(1),
        "{stack:?} took {took:?}"
    );
    assert_eq!(
        (counts.acked_peer_open, counts.ended(), counts.in_flight),
        (CLIENTS as u64, CLIENTS as u64, 0),
        "{stack:?}: {counts:?}"
    );
    drop(silent);
}

#[test]
fn the_clients_address_reaches_axum_servers_connect_info_and_poems_remote_addr_through_linger() {
    for stack in [Stack::AxumServerRustls, Stack::Poem] {
        let server = Https::start(stack, Listening::Linger, "");
        let (peer, ours) = tls_client::get(server.address, server.certificate(), "/peer");
        assert_eq!(peer, ours.to_string(), "{stack:?}");
        server.stop();
    }
}
