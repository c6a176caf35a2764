//! How `Lingerer::poll` waits: until the given timeout or the next deadline, whichever
//! comes first, woken early by a socket that needs it, not at all when closes have ended
//! already, and through a signal; how its descriptor wakes an outer poll; and what `adopt`
//! gives back when the poller refuses a socket. Unix only: the tests hand descriptors
//! around and send a signal.
#![cfg(unix)]

use linger::{Ending, Policy};
use linger_io::profile::Profile;
use linger_mio::Lingerer;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::time::{Duration, Instant};

mod common;
use common::silent_pair;

/// Polls with `each` as the given timeout until a close ends or two seconds pass; the
/// outcome and when it came.
fn first_outcome(lingerer: &mut Lingerer, each: Duration) -> Option<(linger::Outcome, Instant)> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let mut ended = lingerer.poll(Some(each)).expect("poll");
        if let Some((_, outcome)) = ended.next() {
            return Some((outcome, Instant::now()));
        }
    }
    None
}

#[test]
fn a_deadline_sooner_than_the_given_timeout_ends_the_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let (stream, _client) = silent_pair(&listener);
    let budget = Duration::from_millis(100);
    let policy = Policy::builder()
        .linger_budget(budget)
        .build()
        .expect("valid policy");
    let started = Instant::now();
    lingerer.adopt(stream, policy).expect("adopt");
    let (outcome, at) =
        first_outcome(&mut lingerer, Duration::from_secs(3)).expect("ended at the budget");
    let acked_peer_open = Profile::detect()
        .expect("loopback")
        .ending(Ending::AckedPeerOpen);
    assert_eq!(outcome.ending, acked_peer_open);
    assert!(at - started < Duration::from_secs(1), "{:?}", at - started);
}

#[test]
fn with_nothing_due_the_poll_waits_its_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let (stream, _client) = silent_pair(&listener);
    lingerer.adopt(stream, Policy::default()).expect("adopt");
    // Once the acks are in, nothing is due before the 5 s idle timeout.
    let settle = Instant::now() + Duration::from_secs(2);
    while lingerer.next_timeout() < Some(Duration::from_secs(1)) && Instant::now() < settle {
        let _ = lingerer
            .poll(Some(Duration::from_millis(10)))
            .expect("poll");
    }
    let due = lingerer.next_timeout().expect("a deadline");
    assert!(due > Duration::from_secs(1), "next deadline in {due:?}");
    assert!(!lingerer.is_empty());
    let started = Instant::now();
    let ended = lingerer
        .poll(Some(Duration::from_millis(200)))
        .expect("poll");
    assert_eq!(ended.count(), 0);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "returned after {:?}: the poll spins",
        started.elapsed()
    );
}

#[test]
fn the_peers_fin_wakes_the_poll_and_ends_the_close() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let (stream, client) = silent_pair(&listener);
    lingerer.adopt(stream, Policy::default()).expect("adopt");
    let started = Instant::now();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        client.shutdown(Shutdown::Write).expect("client FIN");
        client
    });
    // The default idle timeout is 5 s: only readiness can end this close in time.
    let ended = first_outcome(&mut lingerer, Duration::from_secs(2));
    let _client = closer.join().expect("closer");
    let (outcome, at) = ended.expect("the close ended");
    let clean = Profile::detect().expect("loopback").ending(Ending::Clean);
    assert_eq!(outcome.ending, clean);
    assert!(at - started < Duration::from_secs(1), "{:?}", at - started);
}

#[test]
#[allow(unsafe_code)]
fn a_socket_the_poller_refuses_comes_back_and_is_not_held() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let (stream, _client) = silent_pair(&listener);
    let fd = stream.as_raw_fd();
    lingerer.adopt(stream, Policy::default()).expect("adopt");
    // SAFETY: a second stream on the descriptor the lingerer holds, so that registering it
    // fails (epoll already watches it). It is turned back into a raw descriptor below, and
    // the lingerer forgotten if it kept it, so the descriptor is closed exactly once.
    let alias = unsafe { mio::net::TcpStream::from_raw_fd(fd) };
    match lingerer.adopt(alias, Policy::default()) {
        Err(refused) => {
            let returned = refused.stream.map(IntoRawFd::into_raw_fd);
            assert_eq!(returned, Some(fd), "the stream comes back");
            assert_eq!(lingerer.len(), 1, "only the first close is held");
        }
        Ok(token) => {
            std::mem::forget(lingerer);
            panic!("a second registration of one descriptor was accepted as {token:?}");
        }
    }
}

#[test]
fn a_close_that_ended_during_adopt_is_reported_without_waiting() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let (stream, client) = silent_pair(&listener);
    client.shutdown(Shutdown::Write).expect("client FIN");
    // Once the FIN is in, the close ends inside `adopt`: EOF, and everything acknowledged.
    let settle = Instant::now() + Duration::from_secs(2);
    while stream.peek(&mut [0u8; 1]).map_or(true, |read| read > 0) && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(1));
    }
    lingerer.adopt(stream, Policy::default()).expect("adopt");
    assert!(lingerer.is_empty(), "ended during adopt");
    let started = Instant::now();
    let ended: Vec<_> = lingerer
        .poll(Some(Duration::from_secs(2)))
        .expect("poll")
        .collect();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_lingerers_descriptor_wakes_an_outer_poll() {
    const LINGERER: Token = Token(9);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    let mut outer = Poll::new().expect("poll");
    let fd = lingerer.as_raw_fd();
    outer
        .registry()
        .register(&mut SourceFd(&fd), LINGERER, Interest::READABLE)
        .expect("register the lingerer");
    let (stream, client) = silent_pair(&listener);
    lingerer.adopt(stream, Policy::default()).expect("adopt");
    client.shutdown(Shutdown::Write).expect("client FIN");
    let mut events = Events::with_capacity(4);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut woken = false;
    while !woken && Instant::now() < deadline {
        outer
            .poll(&mut events, Some(Duration::from_millis(100)))
            .expect("outer poll");
        woken = events.iter().any(|event| event.token() == LINGERER);
    }
    assert!(woken, "the outer poll never saw the lingerer's work");
}

extern "C" fn ignore(_: libc::c_int) {}

#[test]
#[allow(unsafe_code)]
fn a_signal_during_the_wait_is_no_error() {
    // SAFETY: installs a handler that does nothing, for a signal nothing else in this
    // process uses; without SA_RESTART, the wait it interrupts fails with EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
    }
    let mut lingerer = Lingerer::new(4).expect("lingerer");
    // SAFETY: pthread_self names this thread, alive until the signaller is joined.
    let this_thread = unsafe { libc::pthread_self() };
    let signaller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: the target thread is alive: it joins this one before returning.
        unsafe { libc::pthread_kill(this_thread, libc::SIGUSR2) }
    });
    let waited = lingerer
        .poll(Some(Duration::from_millis(500)))
        .map(Iterator::count);
    assert_eq!(signaller.join().expect("signaller"), 0, "signalled");
    assert_eq!(waited.expect("an interrupted wait is no error"), 0);
}
