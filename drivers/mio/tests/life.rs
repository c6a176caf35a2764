//! The life of a live `Connection` before its close, on real loopback sockets and the
//! application's own poll: its guards end one that never finishes a request with a lingering
//! close, never a request being worked on; and when descriptors run short, the live
//! connections the loop offers give way, those that cost least first.

mod common;

use linger::{Activity, Ending, Guard, MinRate, Policy};
use linger_io::profile::Profile;
use linger_mio::{Connection, Lingerer};
use mio::{Events, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Guards a few hundred milliseconds long.
fn brisk() -> Policy {
    Policy::builder()
        .first_byte_timeout(Some(Duration::from_millis(200)))
        .min_receive_rate(Some(MinRate {
            bytes_per_second: 1000,
            grace: Duration::from_millis(300),
        }))
        .keep_alive_timeout(Some(Duration::from_millis(400)))
        .idle_timeout(Duration::from_secs(1))
        .build()
        .expect("a valid policy")
}

/// A live connection accepted under `policy`, registered on `poll` under `token`, and its
/// client.
fn accepted(
    listener: &TcpListener,
    poll: &Poll,
    token: Token,
    policy: Policy,
) -> (Connection, TcpStream) {
    let (stream, client) = common::silent_pair(listener);
    let mut connection = Connection::accepted(stream, policy);
    connection
        .register(poll.registry(), token)
        .expect("register");
    (connection, client)
}

/// The application's loop for one connection, for at most `within`: it reads what comes
/// (and answers `ok` to each read when `answer`), passes readiness and deadlines on, and
/// stops at the outcome. Returns the outcome, if the connection ended.
fn serve(
    poll: &mut Poll,
    connection: &mut Connection,
    answer: bool,
    within: Duration,
) -> Option<linger::Outcome> {
    let mut events = Events::with_capacity(16);
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let wait = connection
            .timeout()
            .map_or(Duration::from_millis(50), |at| {
                at.min(Duration::from_millis(50))
            });
        poll.poll(&mut events, Some(wait)).expect("poll");
        for event in events.iter() {
            if let Some(outcome) = connection.handle_event(poll.registry(), event) {
                return Some(outcome);
            }
        }
        let mut buf = [0u8; 1024];
        loop {
            match connection.read(&mut buf) {
                Ok(0) => break,
                Ok(_) if answer => {
                    let _ = connection.write_all(b"ok");
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if let Some(outcome) = connection.handle_timeout(poll.registry()) {
            return Some(outcome);
        }
    }
    None
}

fn profile() -> Profile {
    Profile::detect().expect("loopback")
}

#[test]
fn a_silent_connection_is_ended_at_the_first_byte_timeout_and_its_client_reads_the_end() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut poll = Poll::new().expect("poll");
    let (mut connection, mut client) = accepted(&listener, &poll, Token(1), brisk());
    let closing = std::thread::spawn(move || {
        client
            .set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        let read = client.read(&mut [0u8; 16]);
        drop(client);
        read
    });
    let outcome = serve(&mut poll, &mut connection, false, Duration::from_secs(5));
    assert_eq!(connection.ended_by(), Some(Guard::FirstByte));
    assert_eq!(closing.join().expect("client").expect("the end"), 0);
    let outcome = outcome.expect("closed");
    assert_eq!(outcome.ending, profile().ending(Ending::Clean), "{outcome}");
}

#[test]
fn a_trickling_request_is_ended_and_a_request_worked_on_for_long_is_not() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut poll = Poll::new().expect("poll");
    let (mut trickling, mut slowloris) = accepted(&listener, &poll, Token(1), brisk());
    let trickle = std::thread::spawn(move || {
        slowloris.write_all(b"GET / HTTP/1.1\r\n").expect("head");
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(100));
            if slowloris.write_all(b"x").is_err() {
                return;
            }
        }
    });
    serve(&mut poll, &mut trickling, false, Duration::from_secs(3));
    assert_eq!(trickling.ended_by(), Some(Guard::Pace));
    trickle.join().expect("slowloris");

    // A whole request in one burst, then a second of work: nothing ends it.
    let (mut working, mut client) = accepted(&listener, &poll, Token(2), brisk());
    client
        .write_all(b"GET /slow HTTP/1.1\r\n\r\n")
        .expect("request");
    serve(&mut poll, &mut working, false, Duration::from_secs(1));
    let life = working.life().expect("still live");
    assert_eq!(life.activity, Activity::Working);
    assert_eq!(working.ended_by(), None);
    working
        .write_all(b"done")
        .expect("the answer, a second later");
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut answer = [0u8; 4];
    client.read_exact(&mut answer).expect("the whole answer");
    assert_eq!(&answer, b"done");
}

#[test]
fn an_answered_connection_idle_past_the_keep_alive_timeout_is_ended() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut poll = Poll::new().expect("poll");
    let (mut connection, mut client) = accepted(&listener, &poll, Token(1), brisk());
    client
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .expect("request");
    let started = Instant::now();
    let answered = std::thread::spawn(move || {
        client
            .set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        let mut read = Vec::new();
        let ended = client.read_to_end(&mut read);
        (read, ended.is_ok())
    });
    serve(&mut poll, &mut connection, true, Duration::from_secs(3));
    let (read, ended) = answered.join().expect("client");
    assert_eq!((read.as_slice(), ended), (&b"ok"[..], true));
    assert_eq!(connection.ended_by(), Some(Guard::KeepAlive));
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[test]
fn making_room_takes_the_silent_then_the_idle_and_never_a_request_being_worked_on() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let poll = Poll::new().expect("poll");
    let policy = Policy::default();
    let (mut working, mut asking) = accepted(&listener, &poll, Token(1), policy);
    let (mut idle, mut answered) = accepted(&listener, &poll, Token(2), policy);
    let (mut silent, mut waiting) = accepted(&listener, &poll, Token(3), policy);
    asking
        .write_all(b"GET /slow HTTP/1.1\r\n\r\n")
        .expect("request");
    answered
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .expect("request");
    std::thread::sleep(Duration::from_millis(50));
    let mut buf = [0u8; 256];
    assert!(working.read(&mut buf).expect("the request") > 0);
    assert!(idle.read(&mut buf).expect("the request") > 0);
    // The application answers one and waits for its next request: idle.
    idle.write_all(b"ok").expect("answer");
    let waits = idle.read(&mut buf).expect_err("nothing more yet");
    assert_eq!(waits.kind(), ErrorKind::WouldBlock);
    assert_eq!(idle.life().map(|life| life.activity), Some(Activity::Idle));

    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let mut live = [
        (Token(1), &mut working),
        (Token(2), &mut idle),
        (Token(3), &mut silent),
    ];
    let mut make_room = || {
        let offered = live.iter_mut().map(|(token, live)| (*token, &mut **live));
        let gave_way = lingerer.make_room(1, offered, poll.registry());
        gave_way.iter().map(|(token, _)| *token).collect::<Vec<_>>()
    };
    assert_eq!(make_room(), [Token(3)], "the silent first");
    assert_eq!(make_room(), [Token(2)], "then the idle");
    assert_eq!(make_room(), [], "a request being worked on never gives way");
    assert_eq!(lingerer.reclaimed(), 2);

    for client in [&mut waiting, &mut answered] {
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut read = Vec::new();
        client.read_to_end(&mut read).expect("the end, not a reset");
    }
    assert!(working.life().is_some(), "still live");
}
