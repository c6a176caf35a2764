//! Each driver's `Connection`: writes counted, Nagle control applied, closed gracefully.

use linger::{Ending, NagleMode, Policy};
use linger_check::sockets::{self, Received};
use linger_io::profile::Profile;
use mio::{Events, Poll, Token};
use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";

fn corked() -> Policy {
    Policy::builder()
        .nagle(NagleMode::CorkWhileAssembling)
        .build()
        .expect("valid policy")
}

fn clean() -> Ending {
    Profile::detect().expect("loopback").ending(Ending::Clean)
}

fn reader(client: std::net::TcpStream) -> thread::JoinHandle<Received> {
    thread::spawn(move || sockets::read_all(client, 4096, Duration::ZERO, Duration::from_secs(5)))
}

#[test]
fn std_connection_corks_while_assembling_and_delivers_on_close() {
    let (client, server) = sockets::pair(None);
    let mut connection = linger_std::Connection::new(server, corked());
    let cork = socket2::SockRef::from(connection.stream())
        .tcp_cork()
        .expect("TCP_CORK");
    assert!(cork, "the policy corks from the start");
    connection.write_all(HEAD).expect("head");
    connection.write_all(b"hello").expect("body");
    let reader = reader(client);
    let outcome = connection.close();
    let received = reader.join().expect("reader");
    assert_eq!((received.bytes, received.eof), (HEAD.len() + 5, true));
    assert_eq!(outcome.ending, clean());
    assert_eq!(outcome.bytes_written, Some((HEAD.len() + 5) as u64));
}

#[test]
fn std_connection_counts_both_ways_and_half_closes() {
    let (mut client, server) = sockets::pair(None);
    let mut connection = linger_std::Connection::new(server, Policy::default());
    client.write_all(b"request").expect("request");
    let mut request = [0u8; 7];
    connection.read_exact(&mut request).expect("read through");
    assert_eq!(&request, b"request");
    connection.write_all(HEAD).expect("head");
    assert_eq!(connection.stats().bytes_written, Some(HEAD.len() as u64));
    connection.shutdown_write().expect("half-close");
    let received = sockets::read_all(client, 4096, Duration::ZERO, Duration::from_secs(2));
    assert_eq!(
        (received.bytes, received.eof),
        (HEAD.len(), true),
        "our FIN"
    );
    assert_eq!(connection.close().ending, clean(), "the client closed too");
}

#[test]
fn std_connection_cork_holds_the_tail_until_flushed() {
    let (mut client, server) = sockets::pair(None);
    let mut connection = linger_std::Connection::new(server, Policy::default());
    let cork = |connection: &linger_std::Connection| {
        socket2::SockRef::from(connection.stream())
            .tcp_cork()
            .expect("TCP_CORK")
    };
    connection.cork().expect("cork");
    assert!(cork(&connection));
    connection.write_all(b"tail").expect("write");
    connection.flush_segments().expect("flush");
    // A corked tail waits up to 200 ms; flushed, it arrives at once.
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut tail = [0u8; 4];
    client.read_exact(&mut tail).expect("the flushed tail");
    connection.uncork().expect("uncork");
    assert!(!cork(&connection));
}

#[test]
fn mio_connection_closes_on_the_applications_own_poll() {
    let (client, server) = sockets::pair(None);
    server.set_nonblocking(true).expect("non-blocking");
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(16);
    let stream = mio::net::TcpStream::from_std(server);
    let mut connection = linger_mio::Connection::new(stream, corked());
    connection
        .register(poll.registry(), Token(7))
        .expect("register");
    connection.write_all(HEAD).expect("head");
    connection.write_all(b"hello").expect("body");
    let reader = reader(client);

    let mut outcome = connection.close(poll.registry()).expect("close");
    let deadline = Instant::now() + Duration::from_secs(5);
    while outcome.is_none() && Instant::now() < deadline {
        poll.poll(&mut events, connection.timeout()).expect("poll");
        for event in events.iter() {
            outcome = outcome.or(connection.handle_event(poll.registry(), event));
        }
        outcome = outcome.or(connection.handle_timeout(poll.registry()));
    }
    let outcome = outcome.expect("the close ended within five seconds");
    let received = reader.join().expect("reader");
    assert_eq!((received.bytes, received.eof), (HEAD.len() + 5, true));
    assert_eq!(outcome.ending, clean());
    assert_eq!(outcome.bytes_written, Some((HEAD.len() + 5) as u64));
    assert!(connection.stream().is_none(), "released");
}

#[test]
fn std_connection_whose_half_close_finds_a_reset_closes_at_once() {
    let (client, server) = sockets::pair(None);
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(client);
    thread::sleep(Duration::from_millis(20));
    let mut connection = linger_std::Connection::new(server, Policy::default());
    connection
        .shutdown_write()
        .expect("the machine accepts the half-close");
    assert_eq!(
        connection.state(),
        linger::State::Closed,
        "the reset ended it"
    );
    // The close must release at once, not wait on a machine that has nothing left to do.
    let (done, outcome) = std::sync::mpsc::channel();
    thread::spawn(move || done.send(connection.close()));
    let outcome = outcome
        .recv_timeout(Duration::from_secs(5))
        .expect("the close never released the socket");
    assert!(
        matches!(outcome.ending, Ending::ResetByPeer { .. }),
        "{outcome}"
    );
}
