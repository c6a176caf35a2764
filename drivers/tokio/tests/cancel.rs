//! Dropping a close's future ends the close at once, as if its budget ran out: a plain close
//! when nothing is unread and the policy says `Close`, a reset otherwise.

use linger::{OnBudgetSpent, Policy};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// A connected pair: (server as tokio stream, client as std stream).
async fn pair() -> (tokio::net::TcpStream, std::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let client = std::net::TcpStream::connect(address).expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    (server, client)
}

/// What the client sees: the bytes before the end, how the read ended, and whether a write
/// after it still finds a connection (after a reset it fails: the socket is gone).
fn read_to_end(mut client: std::net::TcpStream) -> (usize, Result<(), ErrorKind>, bool) {
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = Vec::new();
    let result = client.read_to_end(&mut buf).map(drop).map_err(|e| e.kind());
    let connected = client.write(b"late").is_ok();
    (buf.len(), result, connected)
}

#[tokio::test]
async fn a_dropped_close_of_a_silent_peer_closes_plainly_under_a_close_policy() {
    let (mut server, client) = pair().await;
    server.write_all(b"response").await.expect("write");
    // The peer stays silent: the close would linger 30 s; the timeout drops it after 50 ms.
    let started = Instant::now();
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        linger_tokio::close(server, &Policy::default()),
    )
    .await;
    assert!(cut.is_err(), "the close ended by itself: {cut:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let (bytes, end, connected) = tokio::task::spawn_blocking(move || read_to_end(client))
        .await
        .expect("reader");
    assert_eq!((bytes, end), (8, Ok(())), "the peer saw a reset or no end");
    assert!(
        connected,
        "a plain close leaves the connection half open, not reset"
    );
}

#[tokio::test]
async fn a_dropped_close_resets_under_an_abort_policy() {
    let (mut server, client) = pair().await;
    server.write_all(b"response").await.expect("write");
    let policy = Policy::builder()
        .on_budget_spent(OnBudgetSpent::Abort)
        .build()
        .expect("policy");
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        linger_tokio::close(server, &policy),
    )
    .await;
    assert!(cut.is_err());
    let (bytes, _, connected) = tokio::task::spawn_blocking(move || read_to_end(client))
        .await
        .expect("reader");
    // The data was acknowledged before the reset, so a Linux peer still reads it.
    assert_eq!(bytes, 8);
    assert!(!connected, "no reset reached the peer");
}

#[tokio::test]
async fn a_spawned_close_delivers_and_reports_clean() {
    let (mut server, client) = pair().await;
    server.write_all(&[b'r'; 100_000]).await.expect("write");
    let reader = tokio::task::spawn_blocking(move || {
        let mut client = client;
        let mut buf = Vec::new();
        let got = client.read_to_end(&mut buf).map(|_| buf.len());
        drop(client);
        got
    });
    let outcome = linger_tokio::spawn_close(server, Policy::default())
        .await
        .expect("the close task");
    let clean = linger_io::profile::Profile::detect()
        .expect("loopback")
        .ending(linger::Ending::Clean);
    assert_eq!(outcome.ending, clean, "{outcome}");
    assert_eq!(reader.await.expect("reader").expect("read"), 100_000);
}
