//! The `Lingerer` under pressure: past three quarters of its capacity it shortens the close
//! that gives way first; at capacity, and when `accept` runs out of descriptors, it reclaims
//! closes in the order they give way (everything acknowledged first, then peers that read
//! nothing, then peers still reading), each released at once with an honest outcome.

use linger::{Ending, Outcome, Policy, Release};
use linger_io::profile::Profile;
use linger_mio::{Lingerer, SHORT_LINGER};
use mio::Token;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

mod common;
use common::silent_pair;

/// As [`silent_pair`], the client's receive buffer shrunk so that our answer outgrows it.
fn small_window_pair(listener: &TcpListener) -> (mio::net::TcpStream, TcpStream) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let address = listener.local_addr().expect("address");
    socket.connect(&address.into()).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("non-blocking");
    (mio::net::TcpStream::from_std(server), socket.into())
}

/// Writes `bytes` to `server`, its send buffer grown first so that the kernel takes them all
/// at once (the count is what it took).
fn answer(server: &mut mio::net::TcpStream, bytes: usize) -> usize {
    socket2::SockRef::from(&*server)
        .set_send_buffer_size(bytes)
        .expect("SO_SNDBUF");
    let chunk = vec![b'a'; bytes];
    let mut written = 0;
    while written < bytes {
        match server.write(&chunk[written..]) {
            Ok(n) => written += n,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    written
}

/// A client reading 1 KiB every 10 ms until told to stop or EOF: a slow but honest peer,
/// 2.6 s for 256 KiB, twice the time the test lets acknowledgements settle.
fn slow_reader(mut client: TcpStream, stop: Arc<AtomicBool>) -> JoinHandle<usize> {
    thread::spawn(move || {
        client
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let mut buf = [0u8; 1024];
        let mut read = 0;
        while !stop.load(Ordering::Relaxed) {
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => read += n,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == ErrorKind::TimedOut => {}
                Err(_) => break,
            }
            thread::sleep(Duration::from_millis(10));
        }
        read
    })
}

/// Polls until a close ends, for at most `within`.
fn next_ended(lingerer: &mut Lingerer, within: Duration) -> Option<(Token, Outcome)> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let mut ended = lingerer
            .poll(Some(Duration::from_millis(50)))
            .expect("poll");
        if let Some(first) = ended.next() {
            return Some(first);
        }
    }
    None
}

/// Polls for `long`, returning every close that ended meanwhile.
fn poll_for(lingerer: &mut Lingerer, long: Duration) -> Vec<(Token, Outcome)> {
    let deadline = Instant::now() + long;
    let mut ended = Vec::new();
    while Instant::now() < deadline {
        ended.extend(
            lingerer
                .poll(Some(Duration::from_millis(10)))
                .expect("poll"),
        );
    }
    ended
}

/// A reclaimed close of a silent peer that acknowledged everything: a plain close, and an
/// outcome that says acknowledged (or, if the FIN's acknowledgement was not yet seen, timed
/// out with that one byte), as far as `profile` observes acknowledgements.
fn acked_and_closed(outcome: &Outcome, profile: Profile) -> bool {
    let acked = [
        Ending::AckedPeerOpen,
        Ending::TimedOut { unacked: Some(0) },
        Ending::TimedOut { unacked: Some(1) },
    ]
    .map(|ending| profile.ending(ending));
    acked.contains(&outcome.ending) && outcome.release == Release::Close
}

#[test]
fn under_pressure_the_oldest_close_is_shortened_and_at_capacity_reclaimed() {
    let profile = Profile::detect().expect("loopback");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let mut clients = Vec::new();
    let mut adopt = |lingerer: &mut Lingerer| {
        let (stream, client) = silent_pair(&listener);
        clients.push(client);
        lingerer.adopt(stream, Policy::default()).expect("adopt")
    };
    let tokens: Vec<_> = (0..4).map(|_| adopt(&mut lingerer)).collect();

    // The fourth adoption found three held, three quarters of four: the oldest close now has
    // the short linger left instead of the default 30 s, and ends by itself within it.
    let due = lingerer.next_timeout().expect("a deadline");
    assert!(
        due <= SHORT_LINGER,
        "the oldest was not shortened: next deadline in {due:?}"
    );
    let (token, outcome) = next_ended(&mut lingerer, SHORT_LINGER + Duration::from_secs(2))
        .expect("the shortened close ended");
    assert_eq!(token, tokens[0]);
    assert_eq!(outcome.ending, profile.ending(Ending::AckedPeerOpen));
    assert_eq!(
        lingerer.reclaimed(),
        0,
        "a shortened close is not reclaimed"
    );

    // Three held: the next adoption shortens the oldest (the second), the one after finds
    // the lingerer full and reclaims it to make room, at once.
    adopt(&mut lingerer);
    adopt(&mut lingerer);
    assert_eq!((lingerer.len(), lingerer.reclaimed()), (4, 1));
    let (token, outcome) = next_ended(&mut lingerer, Duration::from_secs(1)).expect("a reclaim");
    assert_eq!(token, tokens[1], "the oldest goes first");
    assert!(acked_and_closed(&outcome, profile), "{outcome}");
}

#[test]
fn closes_with_everything_acknowledged_give_way_first_and_an_honest_slow_reader_last() {
    let profile = Profile::detect().expect("loopback");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let stop = Arc::new(AtomicBool::new(false));
    // Oldest: a peer reading a large answer slowly.
    let (mut stream, client) = small_window_pair(&listener);
    let slow_written = answer(&mut stream, 256 << 10);
    assert_eq!(slow_written, 256 << 10, "the kernel took less than asked");
    let reader = slow_reader(client, Arc::clone(&stop));
    let slow = lingerer.adopt(stream, Policy::default()).expect("adopt");
    // Then a peer that reads nothing of a large answer: a zero window.
    let (mut stream, zero_window) = small_window_pair(&listener);
    answer(&mut stream, 256 << 10);
    let unread = lingerer.adopt(stream, Policy::default()).expect("adopt");
    // Youngest: a short answer, acknowledged, the peer silent.
    let (mut stream, silent) = silent_pair(&listener);
    answer(&mut stream, 100);
    let delivered = lingerer.adopt(stream, Policy::default()).expect("adopt");
    // Let the acknowledgements show who reads: a send queue still for a second reads nothing.
    let settle = linger_io::pressure::STALLED_AFTER + Duration::from_millis(300);
    assert!(poll_for(&mut lingerer, settle).is_empty());

    assert_eq!(lingerer.reclaim(2), 2);
    assert_eq!(lingerer.len(), 1, "reclaimed sockets are released at once");
    let mut ended = lingerer.poll(Some(Duration::ZERO)).expect("poll");
    let (first, first_outcome) = ended.next().expect("the first reclaimed");
    let (second, second_outcome) = ended.next().expect("the second reclaimed");
    assert!(ended.next().is_none());
    drop(ended);
    if !profile.observes_acks() {
        // No figure tells who reads: every close counts as delivering, the oldest first.
        stop.store(true, Ordering::Relaxed);
        reader.join().expect("reader");
        assert_eq!((first, second), (slow, unread), "not the oldest first");
        assert!(!first_outcome.claims_delivery() && !second_outcome.claims_delivery());
        return;
    }
    assert_eq!(
        (first, second),
        (delivered, unread),
        "not in the order they give way"
    );
    assert!(acked_and_closed(&first_outcome, profile), "{first_outcome}");
    // The zero-window peer got little of its answer: the outcome says so, plainly closed
    // since it sent nothing.
    assert!(
        matches!(second_outcome.ending, Ending::TimedOut { unacked: Some(n) } if n > 100_000),
        "{second_outcome}"
    );
    assert!(!second_outcome.claims_delivery());
    assert_eq!(lingerer.reclaimed(), 2);

    // The slow reader was spared: it gets every byte, and its close ends cleanly.
    let (token, outcome) =
        next_ended(&mut lingerer, Duration::from_secs(10)).expect("the slow close ended");
    stop.store(true, Ordering::Relaxed);
    assert_eq!(token, slow);
    assert_eq!(reader.join().expect("reader"), slow_written);
    assert!(outcome.claims_delivery(), "{outcome}");
    drop((zero_window, silent));
}

#[test]
fn an_accept_loop_goes_on_at_once_after_a_lost_connection_or_a_reclaimed_batch_only() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (stream, client) = silent_pair(&listener);
        clients.push(client);
        lingerer.adopt(stream, Policy::default()).expect("adopt");
    }
    let listener_gone = std::io::Error::other("listener gone");
    assert!(!lingerer.after_accept_error(&listener_gone), "retry later");
    let lost = std::io::Error::from(ErrorKind::ConnectionAborted);
    assert!(
        lingerer.after_accept_error(&lost),
        "the next connection at once"
    );
    for code in linger_io::errors::NEW_CONNECTION_ERRORS {
        let lost = std::io::Error::from_raw_os_error(code);
        assert!(lingerer.after_accept_error(&lost), "{lost}");
    }
    assert_eq!(lingerer.len(), 3, "nothing reclaimed for a lost connection");
    // EMFILE is 24 on every unix; WSAEMFILE on Windows. A batch is an eighth, at least one.
    let emfile = std::io::Error::from_raw_os_error(if cfg!(windows) { 10024 } else { 24 });
    assert!(lingerer.after_accept_error(&emfile));
    assert_eq!((lingerer.len(), lingerer.reclaimed()), (2, 1));
    let mut empty = Lingerer::new(16).expect("lingerer");
    assert!(
        !empty.after_accept_error(&emfile),
        "nothing to reclaim: retry later"
    );
}
