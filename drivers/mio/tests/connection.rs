//! `Connection` on real loopback sockets: writes and reads go through it and are counted,
//! its Nagle control reaches the socket, and its close runs on the application's own poll.

use linger::{Ending, NagleMode, Policy, Release};
use linger_io::profile::Profile;
use linger_mio::{Connection, Lingerer};
use mio::{Events, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const TOKEN: Token = Token(3);

/// A connection on the server side of a loopback pair, and its client.
fn connected(policy: Policy) -> (Connection, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("non-blocking");
    let stream = mio::net::TcpStream::from_std(server);
    (Connection::new(stream, policy), client)
}

fn profile() -> Profile {
    Profile::detect().expect("loopback")
}

/// A poll with `connection` registered under [`TOKEN`].
fn registered(connection: &mut Connection) -> Poll {
    let poll = Poll::new().expect("poll");
    connection
        .register(poll.registry(), TOKEN)
        .expect("register");
    poll
}

fn policy(build: impl FnOnce(linger::PolicyBuilder) -> linger::PolicyBuilder) -> Policy {
    build(Policy::builder()).build().expect("valid policy")
}

/// Runs the application's loop for the closing `connection` until it reports an outcome,
/// for at most five seconds: readiness to `handle_event`, deadlines to `handle_timeout`.
fn close_on(poll: &mut Poll, connection: &mut Connection) -> Option<linger::Outcome> {
    let mut events = Events::with_capacity(16);
    let mut outcome = connection.close(poll.registry()).expect("close");
    let deadline = Instant::now() + Duration::from_secs(5);
    while outcome.is_none() && Instant::now() < deadline {
        poll.poll(&mut events, connection.timeout()).expect("poll");
        for event in events.iter() {
            outcome = outcome.or(connection.handle_event(poll.registry(), event));
        }
        outcome = outcome.or(connection.handle_timeout(poll.registry()));
    }
    outcome
}

/// Reads `client` until EOF, for at most two seconds.
fn read_to_eof(client: &mut TcpStream) -> Vec<u8> {
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("read timeout");
    let mut received = Vec::new();
    client.read_to_end(&mut received).expect("EOF, not a reset");
    received
}

/// Reads through `connection` until `want` bytes came, for at most two seconds.
fn read_through(connection: &mut Connection, want: usize) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut received = Vec::new();
    let mut buf = [0u8; 64];
    while received.len() < want && Instant::now() < deadline {
        match connection.read(&mut buf) {
            Ok(read) => received.extend_from_slice(&buf[..read]),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(error) => panic!("read: {error}"),
        }
    }
    received
}

#[test]
fn writes_are_counted_and_delivered_and_the_close_ends_clean() {
    let (mut connection, mut client) = connected(Policy::default());
    let mut poll = registered(&mut connection);
    connection.write_all(b"hello, ").expect("write");
    connection.write_all(b"world").expect("write");
    assert_eq!(connection.stats().bytes_written, Some(12));
    assert!(connection.stream().is_some(), "open until released");
    client.shutdown(Shutdown::Write).expect("client FIN");
    let outcome = close_on(&mut poll, &mut connection).expect("the close ended");
    assert_eq!(outcome.ending, profile().ending(Ending::Clean));
    assert_eq!(outcome.bytes_written, Some(12));
    assert_eq!(connection.outcome(), Some(outcome));
    assert!(connection.stream().is_none(), "released");
    assert_eq!(read_to_eof(&mut client), b"hello, world");
}

#[test]
fn reads_before_the_close_belong_to_the_application_and_after_it_are_refused() {
    let (mut connection, mut client) = connected(Policy::default());
    let mut poll = registered(&mut connection);
    client.write_all(b"request").expect("request");
    assert_eq!(read_through(&mut connection, 7), b"request");
    client.shutdown(Shutdown::Write).expect("client FIN");
    let mut buf = [0u8; 8];
    let deadline = Instant::now() + Duration::from_secs(2);
    while !connection.stats().peer_eof && Instant::now() < deadline {
        let _ = connection.read(&mut buf);
    }
    assert!(connection.stats().peer_eof, "the EOF read is observed");
    let outcome = close_on(&mut poll, &mut connection).expect("the close ended");
    assert_eq!(outcome.ending, profile().ending(Ending::Clean));
    assert_eq!(outcome.bytes_discarded, 0, "the application read it all");
    let refused = connection.read(&mut buf).expect_err("released");
    assert_eq!(refused.kind(), ErrorKind::NotConnected);
}

#[test]
fn what_the_peer_sends_during_the_close_is_discarded_on_readiness() {
    let budget = Duration::from_millis(300);
    let (mut connection, mut client) = connected(policy(|p| p.linger_budget(budget)));
    let mut poll = registered(&mut connection);
    connection.write_all(b"response").expect("write");
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        client.write_all(&[b'x'; 1000]).expect("late request");
        std::thread::sleep(Duration::from_millis(400));
        client
    });
    let started = Instant::now();
    let outcome = close_on(&mut poll, &mut connection).expect("the close ended");
    let mut client = sender.join().expect("sender");
    assert!(started.elapsed() >= budget, "{:?}", started.elapsed());
    assert_eq!(outcome.ending, profile().ending(Ending::AckedPeerOpen));
    assert_eq!(
        outcome.bytes_discarded, 1000,
        "read when the socket was readable"
    );
    assert_eq!(outcome.release, Release::Close, "nothing was left unread");
    assert_eq!(read_to_eof(&mut client), b"response");
}

#[test]
fn while_closing_the_connection_names_its_next_deadline() {
    let (mut connection, _client) = connected(Policy::default());
    let poll = registered(&mut connection);
    assert_eq!(connection.timeout(), None, "no timer before the close");
    connection.write_all(b"response").expect("write");
    assert_eq!(connection.close(poll.registry()), Ok(None));
    let timeout = connection
        .timeout()
        .expect("a lingering close has a deadline");
    assert!(timeout > Duration::ZERO && timeout <= Duration::from_secs(30));
}

#[test]
fn a_close_after_the_peer_reset_ends_at_once() {
    let (mut connection, client) = connected(Policy::default());
    let poll = registered(&mut connection);
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(client);
    // Loopback delivers the RST before drop returns; the margin is for a loaded machine.
    std::thread::sleep(Duration::from_millis(20));
    let outcome = connection.close(poll.registry()).expect("close");
    let ending = outcome.expect("ended at once").ending;
    assert!(matches!(ending, Ending::ResetByPeer { .. }), "{ending:?}");
}

#[test]
fn an_abort_resets_the_peer() {
    let (mut connection, mut client) = connected(Policy::default());
    let poll = registered(&mut connection);
    let outcome = connection.abort(poll.registry()).expect("abort");
    assert_eq!(outcome.release, Release::Abort);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("read timeout");
    let end = client.read(&mut [0u8; 8]);
    assert!(profile().saw_reset(&end, &client), "{end:?}");
}

/// Reads `TCP_CORK` back, which only Linux has.
#[cfg(target_os = "linux")]
#[test]
fn corking_holds_the_tail_until_flushed() {
    let (mut connection, mut client) = connected(Policy::default());
    let _poll = registered(&mut connection);
    let cork = |connection: &Connection| {
        let stream = connection.stream().expect("open");
        socket2::SockRef::from(stream).tcp_cork().expect("TCP_CORK")
    };
    connection.cork().expect("cork");
    assert!(cork(&connection));
    connection.write_all(b"tail").expect("write");
    connection.flush_segments().expect("flush");
    assert!(cork(&connection), "still corked after a flush");
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
fn a_half_close_sends_our_fin_and_stops_writes() {
    let (mut connection, mut client) = connected(policy(|p| p.nagle(NagleMode::NoDelay)));
    let _poll = registered(&mut connection);
    connection.write_all(b"all of it").expect("write");
    connection.shutdown_write().expect("half-close");
    assert_eq!(read_to_eof(&mut client), b"all of it");
    let refused = connection.write(b"more").expect_err("write side shut");
    assert_eq!(refused.kind(), ErrorKind::BrokenPipe);
}

#[test]
fn registration_delivers_the_connections_readiness() {
    let (mut connection, mut client) = connected(Policy::default());
    let mut poll = registered(&mut connection);
    client.write_all(b"ping").expect("write");
    let mut events = Events::with_capacity(4);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut readable = false;
    while !readable && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .expect("poll");
        readable = events
            .iter()
            .any(|event| event.token() == TOKEN && event.is_readable());
    }
    assert!(readable, "no readiness for the connection's token");
}

#[test]
fn a_connection_handed_to_a_lingerer_closes_there_with_its_figures() {
    let (mut connection, mut client) = connected(Policy::default());
    let poll = registered(&mut connection);
    connection.write_all(b"response").expect("write");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let token = lingerer
        .adopt_connection(connection, poll.registry())
        .expect("adopt");
    client.shutdown(Shutdown::Write).expect("client FIN");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut ended = Vec::new();
    while ended.is_empty() && Instant::now() < deadline {
        ended.extend(
            lingerer
                .poll(Some(Duration::from_millis(50)))
                .expect("poll"),
        );
    }
    let (ended_token, outcome) = ended.pop().expect("the close ended");
    assert_eq!(ended_token, token);
    assert_eq!(outcome.ending, profile().ending(Ending::Clean));
    assert_eq!(outcome.bytes_written, Some(8), "counted by the connection");
    assert_eq!(read_to_eof(&mut client), b"response");
}
