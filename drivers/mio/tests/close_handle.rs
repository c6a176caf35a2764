//! `CloseHandle` and `ShutdownHandle` across threads, on real sockets: another thread aborts
//! one lingering close or cuts every close short, and the lingerer's poll wakes for it.

use linger::{Ending, Policy, Release};
use linger_mio::{Lingerer, SHORT_LINGER};
use std::net::TcpListener;
use std::time::{Duration, Instant};

mod common;
use common::silent_pair;

/// Polls with no timeout of its own (only the wake-up can end the wait early) until a close
/// ends or `within` passes.
fn ended_within(lingerer: &mut Lingerer, within: Duration) -> Vec<(mio::Token, linger::Outcome)> {
    let deadline = Instant::now() + within;
    let mut ended = Vec::new();
    while ended.is_empty() && Instant::now() < deadline {
        ended.extend(lingerer.poll(Some(within)).expect("poll"));
    }
    ended
}

/// Polls until every close has its acks in and its next deadline is the 5 s idle timeout,
/// for at most two seconds: a close cut short is then told apart by its deadline.
fn settle_until_idle_timeouts(lingerer: &mut Lingerer) {
    let settle = Instant::now() + Duration::from_secs(2);
    while lingerer.next_timeout() <= Some(SHORT_LINGER) && Instant::now() < settle {
        lingerer
            .poll(Some(Duration::from_millis(10)))
            .expect("poll")
            .for_each(drop);
    }
    assert!(lingerer.next_timeout() > Some(SHORT_LINGER), "not settled");
}

#[test]
fn an_abort_from_another_thread_wakes_the_lingerer_and_resets_that_close_only() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let (first, _first_client) = silent_pair(&listener);
    let (second, _second_client) = silent_pair(&listener);
    let token = lingerer.adopt(first, Policy::default()).expect("adopt");
    let other = lingerer.adopt(second, Policy::default()).expect("adopt");
    let handle = lingerer
        .close_handle(token)
        .expect("a handle on a held close");

    let started = Instant::now();
    let aborter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        handle.abort()
    });
    // The default policy would linger 30 s; the wake-up ends the wait at once.
    let ended = ended_within(&mut lingerer, Duration::from_secs(10));
    aborter.join().expect("aborter").expect("wake");
    assert!(started.elapsed() < Duration::from_secs(5), "not woken");
    assert_eq!(ended.len(), 1, "{ended:?}");
    let (ended_token, outcome) = ended[0];
    assert_eq!(ended_token, token);
    assert!(
        matches!(outcome.ending, Ending::Aborted { .. }),
        "{outcome}"
    );
    assert_eq!(outcome.release, Release::Abort);
    assert_eq!(lingerer.len(), 1);
    assert!(lingerer.close_handle(other).is_some());
}

#[test]
fn a_close_from_another_thread_cuts_that_close_short() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let (stream, _client) = silent_pair(&listener);
    let token = lingerer.adopt(stream, Policy::default()).expect("adopt");
    settle_until_idle_timeouts(&mut lingerer);
    let handle = lingerer
        .close_handle(token)
        .expect("a handle on a held close");
    std::thread::spawn(move || handle.close())
        .join()
        .expect("closer")
        .expect("wake");
    lingerer
        .poll(Some(Duration::from_millis(100)))
        .expect("poll")
        .for_each(drop);
    let due = lingerer.next_timeout().expect("a deadline");
    assert!(
        due <= SHORT_LINGER,
        "not cut short: next deadline in {due:?}"
    );
    assert_eq!(lingerer.len(), 1, "cut short, not aborted");
}

#[test]
fn a_handle_outliving_its_close_does_nothing_to_the_next_close_in_its_slot() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let (first, _first_client) = silent_pair(&listener);
    let token = lingerer.adopt(first, Policy::default()).expect("adopt");
    let stale = lingerer.close_handle(token).expect("a handle");
    stale.abort().expect("wake");
    assert_eq!(ended_within(&mut lingerer, Duration::from_secs(5)).len(), 1);

    let (second, _second_client) = silent_pair(&listener);
    let reused = lingerer.adopt(second, Policy::default()).expect("adopt");
    assert_eq!(reused, token, "the slot is reused");
    stale.abort().expect("wake");
    let ended: Vec<_> = lingerer
        .poll(Some(Duration::from_millis(200)))
        .expect("poll")
        .collect();
    assert!(
        ended.is_empty(),
        "the stale handle reached the new close: {ended:?}"
    );
    assert_eq!(lingerer.len(), 1);
}

#[test]
fn a_shutdown_cuts_every_close_short_and_an_abort_all_resets_the_rest() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let mut lingerer = Lingerer::new(16).expect("lingerer");
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (stream, client) = silent_pair(&listener);
        clients.push(client);
        lingerer.adopt(stream, Policy::default()).expect("adopt");
    }
    settle_until_idle_timeouts(&mut lingerer);
    let shutdown = lingerer.shutdown_handle();
    std::thread::spawn({
        let shutdown = shutdown.clone();
        move || shutdown.close_all()
    })
    .join()
    .expect("closer")
    .expect("wake");
    lingerer
        .poll(Some(Duration::from_millis(100)))
        .expect("poll")
        .for_each(drop);
    let due = lingerer.next_timeout().expect("deadlines");
    assert!(
        due <= SHORT_LINGER,
        "not cut short: next deadline in {due:?}"
    );

    // A close adopted after the shutdown is cut short too; then everything is aborted.
    let (late, _late_client) = silent_pair(&listener);
    lingerer.adopt(late, Policy::default()).expect("adopt");
    shutdown.abort_all().expect("wake");
    let mut ended = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ended.len() < 4 && Instant::now() < deadline {
        ended.extend(
            lingerer
                .poll(Some(Duration::from_millis(100)))
                .expect("poll"),
        );
    }
    assert_eq!(ended.len(), 4, "{ended:?}");
    assert!(
        ended
            .iter()
            .all(|(_, outcome)| outcome.release == Release::Abort)
    );
    assert!(lingerer.is_empty());
}
