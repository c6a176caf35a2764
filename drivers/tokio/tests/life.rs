//! The life of a connection before its close, on real sockets through hyper: the guards end
//! the connections that never finish a request (silent, a slowloris, idle past the keep-alive
//! timeout, never reading our answer), each with a lingering close, and never an honest slow
//! client (an upload at a pace, a slow handler, a streamed answer, an upgraded connection
//! quiet for a while).

mod common;

use common::{Server, brisk, client, get, read_until};
use linger_io::profile::Profile;
use linger_tokio::{Ending, Guard, Lingerer};
use std::io::Write;
use std::time::{Duration, Instant};

async fn blocking<T: Send + 'static>(client: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(client).await.expect("client")
}

/// `GET path` on a fresh connection to `server`, read until the answer holds `until`, the
/// connection ends, or 5 s pass.
async fn fetch(server: &Server, path: &'static str, until: &'static str) -> (String, bool) {
    let address = server.address;
    blocking(move || {
        let mut client = client(address, secs(5));
        get(&mut client, path);
        read_until(&mut client, until)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_nothing_reads_the_end_at_the_first_byte_timeout() {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let address = server.address;
    let started = Instant::now();
    let (read, ended) = blocking(move || read_until(&mut client(address, secs(5)), "")).await;
    assert!(ended && read.is_empty(), "{read:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let reports = server.reported(1, secs(5)).await;
    assert_eq!(reports[0].ended_by, Some(Guard::FirstByte));
    assert!(!reports[0].reclaimed);
    assert_eq!(server.lingerer.counts().first_byte_timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_is_ended_and_an_upload_at_a_pace_is_read_whole() {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let address = server.address;
    let slowloris = blocking(move || {
        let mut slowloris = client(address, secs(5));
        slowloris.write_all(b"GET / HTTP/1.1\r\n").expect("head");
        let started = Instant::now();
        // A header byte every 150 ms: 7 bytes a second, far below the minimum.
        while started.elapsed() < secs(5) {
            std::thread::sleep(Duration::from_millis(150));
            if slowloris.write_all(b"x").is_err() {
                break;
            }
        }
        read_until(&mut slowloris, "")
    });
    let upload = blocking(move || {
        let mut uploader = client(address, secs(5));
        let head = "POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 30000\r\n\r\n";
        uploader.write_all(head.as_bytes()).expect("head");
        // 30 KB at 30 KB/s: thirty times the minimum pace.
        for _ in 0..10 {
            uploader.write_all(&[b'u'; 3000]).expect("body");
            std::thread::sleep(Duration::from_millis(100));
        }
        read_until(&mut uploader, "30000")
    });
    let (slowloris, upload) = (slowloris.await, upload.await);
    assert!(slowloris.1, "the slowloris was ended: {slowloris:?}");
    assert!(upload.0.ends_with("30000"), "{upload:?}");
    let reports = server.reported(1, secs(5)).await;
    assert_eq!(reports[0].ended_by, Some(Guard::Pace));
    assert_eq!(server.lingerer.counts().slow_requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_slower_than_every_guard_answers_whole() {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let answer = fetch(&server, "/slow/1500", "done").await;
    assert!(answer.0.ends_with("done"), "{answer:?}");
    no_guard_ended_it(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_with_pauses_shorter_than_the_keep_alive_timeout_is_read_whole() {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let answer = fetch(&server, "/stream/6/400", "line 5").await;
    assert!(
        answer.0.contains("line 0") && answer.0.contains("line 5"),
        "{answer:?}"
    );
    no_guard_ended_it(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_reads_the_end_at_the_keep_alive_timeout() {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let address = server.address;
    let (answered, idle_for, ended) = blocking(move || {
        let mut idler = client(address, secs(5));
        get(&mut idler, "/");
        let answered = read_until(&mut idler, "ok").0;
        let started = Instant::now();
        let (_, ended) = read_until(&mut idler, "");
        (answered, started.elapsed(), ended)
    })
    .await;
    assert!(answered.ends_with("ok"), "{answered}");
    assert!(ended);
    assert!(idle_for >= Duration::from_millis(600), "{idle_for:?}");
    let reports = server.reported(1, secs(5)).await;
    assert_eq!(reports[0].ended_by, Some(Guard::KeepAlive));
    let clean = profile().ending(Ending::Clean);
    assert_eq!(reports[0].outcome.ending, clean, "{}", reports[0].outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_connection_quiet_past_every_guard_goes_on() {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let address = server.address;
    let echoed = blocking(move || {
        let mut peer = client(address, secs(5));
        let request = "GET /upgrade HTTP/1.1\r\nhost: test\r\nconnection: upgrade\r\n\
                       upgrade: echo\r\n\r\n";
        peer.write_all(request.as_bytes()).expect("request");
        read_until(&mut peer, "\r\n\r\n");
        // Quiet past the first-byte, grace and keep-alive timeouts: the server's `101`, in
        // the clear, took the connection over.
        std::thread::sleep(Duration::from_millis(1500));
        peer.write_all(b"ping").expect("after a long quiet");
        read_until(&mut peer, "ping").0
    })
    .await;
    assert_eq!(echoed, "ping");
    no_guard_ended_it(&server).await;
}

/// A server that says which requests it holds (`HoldRequests`): an answer streamed with
/// pauses longer than the keep-alive timeout is never taken for idle.
#[cfg(feature = "hyper")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_that_pauses_past_the_keep_alive_timeout_goes_on_when_the_server_says_it_holds_the_request()
 {
    let server = Server::start_holding(Lingerer::builder(brisk())).await;
    let answer = fetch(&server, "/stream/3/1000", "line 2").await;
    assert!(answer.0.contains("line 2"), "{answer:?}");
    no_guard_ended_it(&server).await;
}

/// Without a word from the server, the same pauses look like an answer that is out: the
/// keep-alive guard ends it, as the docs say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_that_pauses_past_the_keep_alive_timeout_is_taken_for_idle_without_a_word_from_the_server()
 {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let answer = fetch(&server, "/stream/3/1000", "line 2").await;
    assert!(answer.1 && !answer.0.contains("line 2"), "{answer:?}");
    let reports = server.reported(1, secs(5)).await;
    assert_eq!(reports[0].ended_by, Some(Guard::KeepAlive));
}

/// A client that sends the first line of a request and falls silent, for at most `wait`: how
/// long it waited, and whether the connection ended (rather than the wait running out).
async fn a_partial_head_then_silence(server: &Server, wait: Duration) -> (Duration, bool) {
    let address = server.address;
    blocking(move || {
        let mut partial = client(address, wait);
        partial.write_all(b"GET / HTTP/1.1\r\n").expect("head");
        let started = Instant::now();
        let (read, ended) = read_until(&mut partial, "");
        assert!(read.is_empty(), "{read:?}");
        (started.elapsed(), ended)
    })
    .await
}

/// A server that says it holds every request it works on (`HoldRequests`) tells a request
/// still arriving from one being worked on: a head that stops short is ended once its credit
/// runs out, however quiet its peer.
#[cfg(feature = "hyper")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_stops_short_is_ended_for_its_pace_when_the_server_says_it_holds_every_request()
{
    let server = Server::start_holding(Lingerer::builder(brisk())).await;
    let (waited, ended) = a_partial_head_then_silence(&server, secs(5)).await;
    // The grace, 500 ms, and what 16 bytes bought at 1,000 B/s.
    assert!(ended, "the connection ended");
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    let reports = server.reported(1, secs(5)).await;
    assert_eq!(reports[0].ended_by, Some(Guard::Pace));
    assert_eq!(server.lingerer.counts().slow_requests, 1);
}

/// Without a word from the server, a head that stops short looks like a request being worked
/// on (hyper keeps a read pending while its handler runs): no guard ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_stops_short_is_taken_for_a_request_worked_on_without_a_word_from_the_server() {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let (_, ended) = a_partial_head_then_silence(&server, secs(2)).await;
    assert!(!ended, "no guard ended it");
    assert_eq!(server.lingerer.counts().guarded(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_a_large_answer_is_ended_at_the_send_timeout() {
    let server = Server::start(Lingerer::builder(brisk())).await;
    let address = server.address;
    let reader = blocking(move || {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket.set_recv_buffer_size(4096).expect("a small window");
        socket.connect(&address.into()).expect("connect");
        let mut stalled: std::net::TcpStream = socket.into();
        get(&mut stalled, "/large/8000000");
        stalled
    })
    .await;
    let reports = server.reported(1, secs(8)).await;
    assert_eq!(reports[0].ended_by, Some(Guard::Send), "{:?}", reports);
    assert!(!reports[0].outcome.claims_delivery());
    assert_eq!(server.lingerer.counts().send_timeouts, 1);
    drop(reader);
}

/// The client, done, closed its connection: the close that followed was its, not a guard's.
async fn no_guard_ended_it(server: &Server) {
    let reports = server.reported(1, secs(5)).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].ended_by, None);
    let clean = profile().ending(Ending::Clean);
    assert_eq!(reports[0].outcome.ending, clean, "{}", reports[0].outcome);
}

fn profile() -> Profile {
    Profile::detect().expect("loopback")
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}
