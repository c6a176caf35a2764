//! The cost of the core: one input, and one complete close.
//!
//! `cargo bench -p linger --bench machine`. The allocation columns come from divan's
//! counting allocator: they show zero, as `no_std` without `alloc` guarantees.

use divan::counter::ItemsCount;
use divan::{AllocProfiler, Bencher, black_box};
use linger::{CloseMachine, Ending, Event, Instant, Outcome, Policy};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

const T0: Instant = Instant::ZERO;
const T1: Instant = Instant::from_millis(1);

fn drain(machine: &mut CloseMachine) {
    while machine.poll_action().is_some() {}
}

/// Closing, 1001 bytes (1000 + FIN) unacknowledged, reads drained, poll timer armed.
fn awaiting_acks() -> CloseMachine {
    let mut machine = CloseMachine::new(Policy::default());
    let accepted = machine
        .handle(Event::Wrote(1000), T0)
        .and_then(|()| machine.close(T0));
    drain(&mut machine);
    let answered = accepted
        .and_then(|()| machine.handle(Event::SendQueue { unacked: 1001 }, T0))
        .and_then(|()| machine.handle(Event::ReadBlocked, T0));
    assert!(answered.is_ok(), "setup refused: {answered:?}");
    machine
}

/// The poll timer fired: a `QuerySendQueue` is outstanding.
fn query_outstanding() -> CloseMachine {
    let mut machine = awaiting_acks();
    machine.handle_timeout(T1);
    drain(&mut machine);
    machine
}

/// The most frequent input while closing: a send-queue figure that shows progress.
#[divan::bench]
fn event_send_queue(bencher: Bencher<'_, '_>) {
    bencher
        .with_inputs(query_outstanding)
        .bench_local_refs(|machine| {
            machine.handle(black_box(Event::SendQueue { unacked: 500 }), T1)
        });
}

/// Readiness while closing: queues a query and a discard round.
#[divan::bench]
fn event_readable(bencher: Bencher<'_, '_>) {
    bencher
        .with_inputs(awaiting_acks)
        .bench_local_refs(|machine| machine.handle(black_box(Event::Readable), T1));
}

/// A refused input: the machine is copied, checked, and left unchanged.
#[divan::bench]
fn event_refused(bencher: Bencher<'_, '_>) {
    bencher
        .with_inputs(awaiting_acks)
        .bench_local_refs(|machine| machine.handle(black_box(Event::Wrote(1)), T1));
}

/// A timer firing: the poll timer queues a query.
#[divan::bench]
fn timeout_poll(bencher: Bencher<'_, '_>) {
    bencher
        .with_inputs(awaiting_acks)
        .bench_local_refs(|machine| machine.handle_timeout(T1));
}

/// A complete close, from `new` to the `Close` action: write, close, answer the query and the
/// first discard round, wait for acks by timer, see the peer's EOF. Eight inputs.
fn close_once() -> Result<Option<Outcome>, linger::Error> {
    let mut machine = CloseMachine::new(black_box(Policy::default()));
    machine.handle(Event::Wrote(1000), T0)?;
    machine.close(T0)?;
    drain(&mut machine);
    machine.handle(Event::SendQueue { unacked: 1001 }, T0)?;
    machine.handle(Event::ReadBlocked, T0)?;
    let deadline = machine.poll_timeout().unwrap_or(T1);
    machine.handle_timeout(deadline);
    drain(&mut machine);
    machine.handle(Event::SendQueue { unacked: 0 }, deadline)?;
    machine.handle(Event::Readable, deadline)?;
    drain(&mut machine);
    machine.handle(Event::PeerEof, deadline)?;
    drain(&mut machine);
    Ok(machine.outcome())
}

const WHOLE_CLOSE_INPUTS: u64 = 8;

#[divan::bench]
fn whole_close(bencher: Bencher<'_, '_>) {
    bencher
        .counter(ItemsCount::new(WHOLE_CLOSE_INPUTS))
        .bench_local(|| {
            let outcome = close_once();
            assert!(matches!(outcome, Ok(Some(outcome)) if outcome.ending == Ending::Clean));
        });
}
