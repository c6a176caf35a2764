//! The life of a live `Connection` before its close, on real loopback sockets and the
//! application's own poll: its guards end one that never finishes a request with a lingering
//! close, never a request being worked on; and when descriptors run short, the live
//! connections the loop offers give way, those that cost least first.

mod common;

use linger::{Activity, Ending, Guard, MinRate, Policy};
use linger_io::pressure::REQUEST_EN_ROUTE;
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
fn a_server_that_holds_every_request_ends_a_head_that_stops_short_and_spares_a_held_one() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut poll = Poll::new().expect("poll");
    let (mut cut_off, mut client) = accepted(&listener, &poll, Token(1), brisk());
    cut_off.holds_requests().expect("live");
    client.write_all(b"GET / HTTP/1.1\r\n").expect("head");
    let started = Instant::now();
    serve(&mut poll, &mut cut_off, false, Duration::from_secs(3));
    assert_eq!(cut_off.ended_by(), Some(Guard::Pace));
    // The grace (300 ms) and what 16 bytes bought at 1,000 B/s.
    assert!(started.elapsed() >= Duration::from_millis(316));

    let (mut held, mut client) = accepted(&listener, &poll, Token(2), brisk());
    held.holds_requests().expect("live");
    client
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .expect("request");
    serve(&mut poll, &mut held, false, Duration::from_millis(100));
    held.hold().expect("the whole head read");
    serve(&mut poll, &mut held, false, Duration::from_secs(1));
    assert_eq!(held.ended_by(), None, "a request held is worked on");
    held.write_all(b"done").expect("the answer");
    held.answered().expect("held");
    assert_eq!(held.life().map(|life| life.activity), Some(Activity::Idle));
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
    std::thread::sleep(REQUEST_EN_ROUTE);

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

#[test]
fn a_guard_that_ends_a_request_on_its_bytes_shuts_our_side_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let poll = Poll::new().expect("poll");
    let (mut connection, mut slowloris) = accepted(&listener, &poll, Token(1), brisk());
    slowloris.write_all(b"G").expect("a byte");
    std::thread::sleep(Duration::from_millis(20));
    let mut buf = [0u8; 64];
    assert_eq!(connection.read(&mut buf).expect("the byte"), 1);
    assert_eq!(
        connection.read(&mut buf).map_err(|error| error.kind()),
        Err(ErrorKind::WouldBlock)
    );
    // The next byte comes past the grace and what one byte buys: too slow.
    std::thread::sleep(Duration::from_millis(400));
    slowloris.write_all(b"E").expect("a byte");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(connection.read(&mut buf).expect("the byte"), 1);
    assert_eq!(connection.ended_by(), Some(Guard::Pace));
    // Its close began on that read: our FIN is out, though the loop has not polled since.
    slowloris
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    assert_eq!(slowloris.read(&mut buf).expect("the end"), 0);
}

#[test]
fn a_write_the_send_buffer_holds_back_waits_and_a_reset_read_is_no_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let poll = Poll::new().expect("poll");
    let (mut connection, client) = accepted(&listener, &poll, Token(1), Policy::default());
    let chunk = [b'x'; 64 << 10];
    let mut written = 0;
    while written < 64 << 20 {
        match connection.write(&chunk) {
            Ok(bytes) => written += bytes,
            Err(error) => {
                assert_eq!(error.kind(), ErrorKind::WouldBlock);
                break;
            }
        }
    }
    let life = connection.life().expect("live");
    assert!(life.write_blocked, "{life:?}");
    assert_eq!(life.activity, Activity::Responding);
    // The client resets: the next read reports the reset, not a wait (where reads report
    // resets: Wine's read a reset as the end of the stream).
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("linger");
    drop(client);
    std::thread::sleep(Duration::from_millis(20));
    let mut buf = [0u8; 16];
    let read = connection.read(&mut buf);
    if profile().reports_resets() {
        assert!(read.is_err(), "{read:?}");
        assert_eq!(
            connection.state(),
            linger::State::Closed,
            "the reset ended it"
        );
    }
}

#[test]
fn a_write_the_peer_reset_ends_the_connection_and_is_no_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let poll = Poll::new().expect("poll");
    let (mut connection, client) = accepted(&listener, &poll, Token(1), Policy::default());
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("linger");
    drop(client);
    std::thread::sleep(Duration::from_millis(20));
    let written = connection.write(b"too late");
    if profile().reports_resets() {
        assert!(written.is_err(), "{written:?}");
        assert_eq!(
            connection.state(),
            linger::State::Closed,
            "the reset ended it"
        );
        assert!(
            connection.life().is_none(),
            "no write waits on a reset connection"
        );
    }
}

#[test]
fn making_room_passes_over_a_connection_accepted_before_its_first_byte_could_come() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let poll = Poll::new().expect("poll");
    let (mut fresh, _client) = accepted(&listener, &poll, Token(1), Policy::default());
    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let gave_way = lingerer.make_room(1, [(Token(1), &mut fresh)], poll.registry());
    assert!(gave_way.is_empty(), "its request may be on its way");
    std::thread::sleep(REQUEST_EN_ROUTE);
    let gave_way = lingerer.make_room(1, [(Token(1), &mut fresh)], poll.registry());
    assert_eq!(gave_way.len(), 1, "silent since");
}

#[test]
fn making_room_passes_over_a_connection_whose_request_waits_unread() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let poll = Poll::new().expect("poll");
    let policy = Policy::default();
    // The older has its request in, not yet read by the loop; the younger sent nothing.
    let (mut unread, mut asking) = accepted(&listener, &poll, Token(1), policy);
    let (mut silent, _waiting) = accepted(&listener, &poll, Token(2), policy);
    asking
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .expect("request");
    // Long enough that a first byte could have come.
    std::thread::sleep(REQUEST_EN_ROUTE);

    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let live = [(Token(1), &mut unread), (Token(2), &mut silent)];
    let gave_way = lingerer.make_room(2, live, poll.registry());
    let tokens: Vec<Token> = gave_way.iter().map(|(token, _)| *token).collect();
    assert_eq!(tokens, [Token(2)], "only the silent one");
    let mut buf = [0u8; 256];
    assert!(unread.read(&mut buf).expect("its request") > 0);
}

#[test]
fn a_batch_is_an_eighth_of_the_live_and_the_lingering_and_making_room_takes_no_more() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let poll = Poll::new().expect("poll");
    let mut lingerer = Lingerer::new(16).expect("lingerer");
    assert_eq!(lingerer.batch(0), 1, "at least one");
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (stream, client) = common::silent_pair(&listener);
        clients.push(client);
        lingerer.adopt(stream, Policy::default()).expect("adopt");
    }
    assert_eq!(lingerer.batch(8), 2, "16 held in all");
    assert_eq!(lingerer.batch(80), 11);
    let (mut silent, _waiting) = accepted(&listener, &poll, Token(1), Policy::default());
    std::thread::sleep(REQUEST_EN_ROUTE);
    let gave_way = lingerer.make_room(1, [(Token(1), &mut silent)], poll.registry());
    assert_eq!(gave_way.len(), 1);
    assert_eq!(lingerer.len(), 8, "the live one was room enough");
}
