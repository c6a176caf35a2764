//! `linger_std` on real loopback sockets: the seed's loss reproduced, and cured.

use linger::{Ending, NagleMode, OnBudgetSpent, Policy, Release};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const RESPONSE: usize = 1 << 20;
const REQUEST: usize = 64 << 10;

/// What the client saw.
#[derive(Debug)]
struct Received {
    bytes: usize,
    reset: bool,
}

fn socket_pair(client_rcvbuf: Option<usize>) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    if let Some(size) = client_rcvbuf {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    socket.connect(&address.into()).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (socket.into(), server)
}

/// Reads until EOF or an error, `chunk` bytes at a time with `pause` between reads, for at
/// most ten seconds.
fn read_all(mut client: TcpStream, chunk: usize, pause: Duration) -> Received {
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0; chunk];
    let mut bytes = 0;
    while Instant::now() < deadline {
        match client.read(&mut buf) {
            Ok(0) => {
                return Received {
                    bytes,
                    reset: false,
                };
            }
            Ok(read) => bytes += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => {
                let reset = error.kind() == ErrorKind::ConnectionReset;
                return Received { bytes, reset };
            }
        }
        thread::sleep(pause);
    }
    Received {
        bytes,
        reset: false,
    }
}

/// The seed's scenario: the client uploads a request the server never reads, then reads
/// the response slowly through a small receive buffer; the server answers and closes with
/// `close`, while part of its answer is still unacknowledged.
fn early_reply(close: impl FnOnce(TcpStream) + Send + 'static) -> Received {
    let (mut client, mut server) = socket_pair(Some(64 << 10));
    client.write_all(&vec![b'u'; REQUEST]).expect("request");
    let server = thread::spawn(move || {
        server.write_all(&vec![b'r'; RESPONSE]).expect("response");
        close(server);
    });
    thread::sleep(Duration::from_millis(50));
    let received = read_all(client, 16 << 10, Duration::from_micros(200));
    server.join().expect("server thread");
    received
}

#[test]
fn plain_close_loses_the_response_when_the_request_was_not_read() {
    // Runs until the loss shows (at most five tries): the test pins that the scenario is
    // real, so the cure below is tested against a real loss.
    let lost = (0..5)
        .map(|_| early_reply(drop))
        .find(|received| received.bytes < RESPONSE);
    let received = lost.expect("plain close never lost data in five tries");
    println!(
        "plain close: client got {} of {RESPONSE} bytes, reset: {}",
        received.bytes, received.reset
    );
    assert!(received.reset, "the loss comes with ECONNRESET");
}

#[test]
fn shutdown_then_close_loses_the_response_the_same_way() {
    let shutdown_then_close = |server: TcpStream| {
        server
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        drop(server);
    };
    let lost = (0..5)
        .map(|_| early_reply(shutdown_then_close))
        .find(|received| received.bytes < RESPONSE);
    let received = lost.expect("shutdown-then-close never lost data in five tries");
    println!(
        "shutdown+close: client got {} of {RESPONSE} bytes",
        received.bytes
    );
}

#[test]
fn linger_delivers_every_byte_when_the_request_was_not_read() {
    for _ in 0..3 {
        let (outcome_tx, outcome_rx) = std::sync::mpsc::channel();
        let received = early_reply(move |server| {
            let _ = outcome_tx.send(linger_std::close(server, &Policy::default()));
        });
        let outcome = outcome_rx.recv().expect("outcome");
        println!("linger: client got {} bytes; {outcome}", received.bytes);
        assert_eq!((received.bytes, received.reset), (RESPONSE, false));
        assert_eq!(outcome.ending, Ending::Clean);
        assert!(outcome.claims_delivery());
        assert_eq!(
            outcome.bytes_discarded, REQUEST as u64,
            "the unread request was drained"
        );
    }
}

#[test]
fn peer_that_never_closes_is_released_at_the_budget_with_everything_acked() {
    let (client, mut server) = socket_pair(None);
    server.write_all(b"bye").expect("write");
    let policy = Policy::builder()
        .linger_budget(Duration::from_millis(300))
        .build()
        .expect("valid policy");
    let started = Instant::now();
    let outcome = linger_std::close(server, &policy);
    let took = started.elapsed();
    println!("silent peer: {outcome} (wall clock {took:?})");
    assert_eq!(outcome.ending, Ending::AckedPeerOpen);
    assert_eq!(outcome.release, Release::Close);
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3));
    drop(client);
}

#[test]
fn peer_that_resets_is_reported_with_the_bytes_it_never_acked() {
    let (client, mut server) = socket_pair(Some(4096));
    server.set_nonblocking(true).expect("nonblocking");
    // Fill the client's window and our send buffer: the client never reads.
    let block = vec![b'r'; 64 << 10];
    while server.write(&block).is_ok() {}
    server.set_nonblocking(false).expect("blocking");
    let resetter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        socket2::SockRef::from(&client)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER");
        drop(client);
    });
    let outcome = linger_std::close(server, &Policy::default());
    resetter.join().expect("resetter");
    println!("resetting peer: {outcome}");
    assert!(
        matches!(outcome.ending, Ending::ResetByPeer { unacked: Some(unacked) } if unacked > 0)
    );
}

#[test]
fn flooding_peer_is_bounded_by_the_discard_cap_and_the_budget() {
    let (mut client, server) = socket_pair(None);
    let flooder = thread::spawn(move || {
        let block = vec![b'f'; 64 << 10];
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && client.write_all(&block).is_ok() {}
    });
    let policy = Policy::builder()
        .discard_cap(1 << 20)
        .linger_budget(Duration::from_secs(2))
        .on_budget_spent(OnBudgetSpent::Abort)
        .build()
        .expect("valid policy");
    let started = Instant::now();
    let outcome = linger_std::close(server, &policy);
    let took = started.elapsed();
    flooder.join().expect("flooder");
    println!("flooding peer: {outcome} (wall clock {took:?})");
    assert!(outcome.bytes_discarded <= 1 << 20);
    assert_eq!(
        outcome.release,
        Release::Abort,
        "unread data makes any close a reset"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn corked_connection_sends_everything_on_close() {
    let (client, server) = socket_pair(None);
    let policy = Policy::builder()
        .nagle(NagleMode::CorkWhileAssembling)
        .build()
        .expect("valid");
    let mut connection = linger_std::Connection::new(server, &policy);
    assert!(
        socket2::SockRef::from(connection.stream())
            .tcp_cork()
            .expect("TCP_CORK")
    );
    connection
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        .expect("head");
    connection.write_all(b"hello").expect("body");
    let reader = thread::spawn(move || read_all(client, 4096, Duration::ZERO));
    let outcome = connection.close();
    let received = reader.join().expect("reader");
    assert_eq!(received.bytes, 43);
    assert_eq!(outcome.ending, Ending::Clean);
    assert_eq!(outcome.bytes_written, 43);
}
