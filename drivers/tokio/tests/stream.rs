//! `LingerStream` on real loopback sockets: what the framework does maps onto the machine,
//! and a dropped stream closes without losing the answer.

use linger_io::profile::Profile;
use linger_tokio::{CloseReport, Ending, Lingerer, Policy, Release, State};
use std::io::{ErrorKind, IoSlice, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A lingerer whose hook collects every report.
fn recording_lingerer(policy: Policy) -> (Lingerer, Arc<Mutex<Vec<CloseReport>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let lingerer = Lingerer::builder(policy)
        .on_outcome(move |report| sink.lock().expect("reports").push(*report))
        .build();
    (lingerer, reports)
}

/// A connected pair: (server as tokio stream, client as blocking std stream).
async fn pair() -> (tokio::net::TcpStream, std::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let client =
        std::net::TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    (server, client)
}

fn profile() -> Profile {
    Profile::detect().expect("loopback")
}

/// Reads until EOF or an error, for at most ten seconds: (bytes, ended by a reset).
fn read_all(mut client: std::net::TcpStream) -> (usize, bool) {
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = vec![0; 64 << 10];
    let mut bytes = 0;
    loop {
        match client.read(&mut buf) {
            Ok(read) if read > 0 => bytes += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            end => return (bytes, profile().saw_reset(&end, &client)),
        }
    }
}

/// Waits (at most five seconds) until the lingerer has reported `count` closes.
async fn reported(reports: &Mutex<Vec<CloseReport>>, count: usize) -> Vec<CloseReport> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = reports.lock().expect("reports").clone();
        if seen.len() >= count || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn every_write_is_counted_vectored_or_not() {
    let (server, client) = pair().await;
    let (lingerer, _) = recording_lingerer(Policy::default());
    let mut stream = lingerer.stream(server);
    assert!(
        AsyncWrite::is_write_vectored(&stream),
        "tokio's stream writes vectors"
    );
    stream.write_all(b"head\r\n").await.expect("write");
    let slices = [IoSlice::new(b"abc"), IoSlice::new(b"defg")];
    let vectored = stream.write_vectored(&slices).await.expect("write");
    let reader = tokio::task::spawn_blocking(move || read_all(client));
    let outcome = stream.close().await;
    assert_eq!(outcome.bytes_written, Some(6 + vectored as u64));
    assert_eq!(reader.await.expect("reader"), (6 + vectored, false));
    assert_eq!(outcome.ending, profile().ending(Ending::Clean), "{outcome}");
}

#[tokio::test]
async fn stats_count_the_writes_and_cork_holds_until_uncork() {
    let (server, client) = pair().await;
    let mut stream = linger_tokio::LingerStream::new(server, Policy::default());
    stream.write_all(b"response").await.expect("write");
    assert_eq!(stream.stats().bytes_written, Some(8));
    stream.cork().expect("cork while open");
    assert_eq!(stream.state(), State::Corked);
    stream.uncork().expect("uncork");
    assert_eq!(stream.state(), State::Open);
    let reader = tokio::task::spawn_blocking(move || read_all(client));
    assert_eq!(stream.close().await.ending, profile().ending(Ending::Clean));
    assert_eq!(reader.await.expect("reader"), (8, false));
}

#[tokio::test]
async fn the_peers_eof_is_seen_after_a_partial_read() {
    let (server, mut client) = pair().await;
    let mut stream = linger_tokio::LingerStream::new(server, Policy::default());
    client.write_all(b"ab").expect("write");
    client.shutdown(std::net::Shutdown::Write).expect("FIN");
    // Two reads into one buffer: the bytes, then the EOF with the buffer half filled.
    let short = stream.read_exact(&mut [0u8; 4]).await.expect_err("EOF");
    assert_eq!(short.kind(), ErrorKind::UnexpectedEof);
    assert!(stream.stats().peer_eof);
}

#[tokio::test]
async fn a_flush_pushes_what_the_cork_holds() {
    let (server, mut client) = pair().await;
    let mut stream = linger_tokio::LingerStream::new(server, Policy::default());
    stream.cork().expect("cork");
    stream.write_all(b"tail").await.expect("write");
    stream.flush().await.expect("flush");
    assert_eq!(stream.state(), State::Corked, "still corked after a flush");
    // A corked tail waits up to 200 ms; flushed, it arrives at once.
    let tail = tokio::task::spawn_blocking(move || {
        client
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let mut tail = [0u8; 4];
        client.read_exact(&mut tail).map(|()| tail)
    });
    assert_eq!(
        tail.await.expect("reader").expect("the flushed tail"),
        *b"tail"
    );
}

#[tokio::test]
async fn a_dropped_stream_delivers_an_early_answer_to_a_client_still_uploading() {
    let (server, client) = pair().await;
    let (lingerer, reports) = recording_lingerer(Policy::default());
    let mut stream = lingerer.stream(server);
    let uploader = {
        let mut client = client.try_clone().expect("clone");
        std::thread::spawn(move || {
            let block = vec![b'u'; 64 << 10];
            // 8 MiB, or until the server has gone.
            (0..128)
                .take_while(|_| client.write_all(&block).is_ok())
                .count()
        })
    };
    // The answer, without reading the upload: then the framework drops the stream.
    let mut upload_started = [0u8; 1];
    stream.read_exact(&mut upload_started).await.expect("read");
    stream
        .write_all(&vec![b'a'; 1 << 20])
        .await
        .expect("answer");
    stream.shutdown().await.expect("shutdown");
    drop(stream);
    let (bytes, reset) = tokio::task::spawn_blocking(move || read_all(client))
        .await
        .expect("reader");
    assert_eq!((bytes, reset), (1 << 20, false), "the answer was cut");
    // Joined off the runtime: the close that discards the rest of the upload runs on it.
    let uploaded = tokio::task::spawn_blocking(move || uploader.join())
        .await
        .expect("joiner");
    assert_eq!(uploaded.expect("uploader"), 128, "the upload was cut");
    let reports = reported(&reports, 1).await;
    let outcome = reports[0].outcome;
    assert_eq!(outcome.ending, profile().ending(Ending::Clean), "{outcome}");
    assert_eq!(outcome.bytes_written, Some(1 << 20));
    assert!(outcome.bytes_discarded > 0, "{outcome}");
}

#[tokio::test]
async fn shutdown_is_a_half_close_issued_once() {
    let (server, mut client) = pair().await;
    let mut stream = linger_tokio::LingerStream::new(server, Policy::default());
    stream.write_all(b"bye").await.expect("write");
    stream.shutdown().await.expect("shutdown");
    stream
        .shutdown()
        .await
        .expect("a second shutdown is no error");
    assert_eq!(stream.state(), State::WriteShut);
    let refused = stream
        .write_all(b"late")
        .await
        .expect_err("write after shutdown");
    assert_eq!(refused.kind(), ErrorKind::BrokenPipe);
    // Reads go on after the half-close.
    client.write_all(b"more").expect("client write");
    let mut more = [0u8; 4];
    stream
        .read_exact(&mut more)
        .await
        .expect("read after shutdown");
    assert_eq!(&more, b"more");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("client FIN");
    let outcome = stream.close().await;
    assert_eq!(outcome.ending, profile().ending(Ending::Clean), "{outcome}");
    assert_eq!(read_all(client), (3, false));
}

#[tokio::test]
async fn a_client_that_closed_first_ends_clean_without_a_task() {
    let (server, mut client) = pair().await;
    let (lingerer, reports) = recording_lingerer(Policy::default());
    let mut stream = lingerer.stream(server);
    stream.write_all(b"response").await.expect("write");
    let mut response = [0u8; 8];
    client.read_exact(&mut response).expect("client read");
    drop(client);
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .await
        .expect("the client's EOF");
    stream.shutdown().await.expect("shutdown");
    // Give the FIN's acknowledgement time to arrive, as a keep-alive client's would have.
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(stream);
    // Reported inside the drop: nothing waited in the background.
    let reports = reports.lock().expect("reports").clone();
    assert_eq!(reports.len(), 1, "the close had to wait");
    let clean = profile().ending(Ending::Clean);
    assert_eq!(reports[0].outcome.ending, clean);
    assert_eq!(lingerer.counts().of(clean), 1);
    assert_eq!(lingerer.counts().in_flight, 0);
}

#[test]
fn a_reset_found_by_the_frameworks_shutdown_releases_the_socket_at_the_drop() {
    // On a thread of its own: a close that never ends would hold its runtime's only thread.
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (server, client) = pair().await;
            let (lingerer, reports) = recording_lingerer(Policy::default());
            let mut stream = lingerer.stream(server);
            reset(client);
            let shutdown = stream.shutdown().await;
            // Where the socket calls hide the reset (Wine), the close's reads find it.
            if profile().reports_resets() {
                let refused = shutdown.expect_err("shutdown after a reset");
                assert_eq!(refused.kind(), ErrorKind::ConnectionReset);
                assert_eq!(stream.state(), State::Closed);
            }
            drop(stream);
            lingerer.finished().await;
            let _ = done.send(reported(&reports, 1).await[0].outcome);
        });
    });
    let outcome = outcome
        .recv_timeout(Duration::from_secs(5))
        .expect("the released socket was kept waiting");
    assert!(
        matches!(outcome.ending, Ending::ResetByPeer { .. }),
        "{outcome}"
    );
}

/// Resets the connection from the client's side (`SO_LINGER {1, 0}`, then close).
fn reset(client: std::net::TcpStream) {
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(client);
    std::thread::sleep(Duration::from_millis(20));
}

#[test]
fn a_stream_dropped_outside_any_runtime_closes_at_once_without_panicking() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (lingerer, reports) = recording_lingerer(Policy::default());
    let (stream, client) = runtime.block_on(async {
        let (server, client) = pair().await;
        let mut stream = lingerer.stream(server);
        stream.write_all(b"answer").await.expect("write");
        (stream, client)
    });
    drop(runtime);
    // The peer is silent: the close would have to wait, and no runtime is left to wait on.
    let started = Instant::now();
    std::thread::spawn(move || drop(stream))
        .join()
        .expect("the drop panicked");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the drop blocked"
    );
    // Our FIN went out in the drop, microseconds before the release.
    assert_cut_short_plainly(&reports, client);
}

/// The one close reported ended at once, plainly (nothing was unread), with everything
/// acknowledged or our FIN still on its way, whose acknowledgement the peer's kernel may
/// delay up to 200 ms; and the peer got the answer.
fn assert_cut_short_plainly(reports: &Mutex<Vec<CloseReport>>, mut client: std::net::TcpStream) {
    let reports = reports.lock().expect("reports").clone();
    assert_eq!(reports.len(), 1, "the cut-short close was not reported");
    let outcome = reports[0].outcome;
    let acked_or_fin_on_its_way =
        [Ending::AckedPeerOpen, Ending::TimedOut { unacked: Some(1) }].map(|e| profile().ending(e));
    assert!(
        acked_or_fin_on_its_way.contains(&outcome.ending),
        "{outcome}"
    );
    assert_eq!(
        outcome.release,
        Release::Close,
        "nothing was unread: no reset"
    );
    let mut answer = [0u8; 6];
    client.read_exact(&mut answer).expect("the answer arrived");
}

#[test]
fn a_runtime_shutting_down_cuts_waiting_closes_short_and_reports_them() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (lingerer, reports) = recording_lingerer(Policy::default());
    let client = runtime.block_on(async {
        let (server, client) = pair().await;
        let mut stream = lingerer.stream(server);
        stream.write_all(b"answer").await.expect("write");
        drop(stream);
        client
    });
    assert_eq!(
        lingerer.counts().in_flight,
        1,
        "the close waits for the peer"
    );
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    runtime.shutdown_timeout(Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown waited for the close"
    );
    assert_eq!(lingerer.counts().in_flight, 0);
    assert_cut_short_plainly(&reports, client);
}

#[tokio::test]
async fn an_aborted_stream_resets_the_peer_and_reports_it() {
    let (server, client) = pair().await;
    let (lingerer, reports) = recording_lingerer(Policy::default());
    let mut stream = lingerer.stream(server);
    stream.write_all(b"partial").await.expect("write");
    let outcome = stream.abort();
    assert_eq!(outcome.release, Release::Abort);
    assert!(
        matches!(outcome.ending, Ending::Aborted { .. }),
        "{outcome}"
    );
    assert_eq!(outcome.bytes_written, Some(7));
    assert_eq!(reports.lock().expect("reports").len(), 1);
    assert_eq!(lingerer.counts().aborted, 1);
    let (_, reset) = tokio::task::spawn_blocking(move || read_all(client))
        .await
        .expect("reader");
    assert!(reset, "the peer saw no reset");
}
