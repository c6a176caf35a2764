//! The cross-thread close handle over every interleaving (loom):
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p linger-mio --release --test loom`
#![cfg(loom)]

use linger_mio::close_handle::{CloseHandle, Mailbox, Request, Requests, Wake};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use std::io;

/// Runs `model` under loom and prints how many interleavings it explored.
fn explore(name: &str, model: impl Fn() + Sync + Send + 'static) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    RUNS.store(0, std::sync::atomic::Ordering::Relaxed);
    loom::model(move || {
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        model();
    });
    println!(
        "{name}: {} interleavings",
        RUNS.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// A waker that counts wake-ups; the loop consumes them as `poll` would.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Wake for Counter {
    fn wake(&self) -> io::Result<()> {
        self.0.fetch_add(1, Ordering::Release);
        Ok(())
    }
}

/// The loop: one poll. If woken, act on what the wake-up points at.
fn poll_once(
    requests: &mut Requests,
    waker: &Counter,
    mailbox: &Mailbox,
    acted: &mut Vec<Request>,
) {
    if waker.0.swap(0, Ordering::AcqRel) == 0 {
        return;
    }
    let raised = requests.drain();
    if raised.everyone || raised.tokens.contains(&7) {
        acted.extend(mailbox.take());
    }
}

#[test]
fn close_then_abort_from_two_threads_is_never_lost_and_abort_wins() {
    explore("close then abort", || {
        let waker = Counter::default();
        let mut requests = Requests::new(waker.clone());
        let mailbox = requests.mailbox(7);
        let (closer, aborter) = (CloseHandle::new(&mailbox), CloseHandle::new(&mailbox));
        let close = thread::spawn(move || closer.close().expect("wake"));
        let abort = thread::spawn(move || aborter.abort().expect("wake"));
        let mut acted = Vec::new();
        poll_once(&mut requests, &waker, &mailbox, &mut acted);
        close.join().expect("closer");
        abort.join().expect("aborter");
        // The poller returns the wake-ups still pending.
        poll_once(&mut requests, &waker, &mailbox, &mut acted);
        assert_eq!(acted.last(), Some(&Request::Abort), "abort lost: {acted:?}");
        assert!(
            acted.windows(2).all(|pair| pair[0] < pair[1]),
            "acted twice: {acted:?}"
        );
        assert_eq!(mailbox.take(), None, "a request left without a wake-up");
    });
}

#[test]
fn repeated_close_requests_close_once() {
    explore("repeated close", || {
        let waker = Counter::default();
        let mut requests = Requests::new(waker.clone());
        let mailbox = requests.mailbox(7);
        let handle = CloseHandle::new(&mailbox);
        let other = thread::spawn(move || handle.close().expect("wake"));
        CloseHandle::new(&mailbox).close().expect("wake");
        let mut acted = Vec::new();
        poll_once(&mut requests, &waker, &mailbox, &mut acted);
        other.join().expect("other");
        poll_once(&mut requests, &waker, &mailbox, &mut acted);
        assert_eq!(acted, [Request::Close]);
    });
}

#[test]
fn shutdown_of_everyone_reaches_a_connection_that_asked_to_close() {
    explore("shutdown and close", || {
        let waker = Counter::default();
        let mut requests = Requests::new(waker.clone());
        let mailbox = requests.mailbox(7);
        let (handle, shutdown) = (CloseHandle::new(&mailbox), requests.shutdown_handle());
        let close = thread::spawn(move || handle.close().expect("wake"));
        let abort_all = thread::spawn(move || shutdown.abort_all().expect("wake"));
        let mut acted = Vec::new();
        poll_once(&mut requests, &waker, &mailbox, &mut acted);
        close.join().expect("closer");
        abort_all.join().expect("shutdown");
        poll_once(&mut requests, &waker, &mailbox, &mut acted);
        assert_eq!(
            acted.last(),
            Some(&Request::Abort),
            "shutdown lost: {acted:?}"
        );
        assert!(
            acted.windows(2).all(|pair| pair[0] < pair[1]),
            "acted twice: {acted:?}"
        );
    });
}
