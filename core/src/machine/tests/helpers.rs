//! One-line constructors for a machine in every situation the table distinguishes, and
//! shorthands for driving it.

use crate::{Action, CloseMachine, Event, Instant, NagleMode, Policy};
use std::vec::Vec;

/// Bytes every constructed machine has written.
pub(super) const WRITTEN: u64 = 1000;
/// The send queue after `close` with nothing acknowledged: the data and our FIN.
pub(super) const ALL_UNACKED: u32 = WRITTEN as u32 + 1;
/// The default per-wake-up read allowance.
pub(super) const ROUND: u32 = Policy::DEFAULT_READS_PER_WAKEUP;

pub(super) fn ms(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

/// Every action the machine has queued, in order.
pub(super) fn drain(machine: &mut CloseMachine) -> Vec<Action> {
    core::iter::from_fn(|| machine.poll_action()).collect()
}

/// Feeds `event` at `now`, which must be accepted.
pub(super) fn feed(machine: &mut CloseMachine, event: Event, now: Instant) {
    if let Err(error) = machine.handle(event, now) {
        panic!("{event} refused: {error}");
    }
}

pub(super) fn policy_with(nagle: NagleMode) -> Policy {
    Policy::builder()
        .nagle(nagle)
        .build()
        .expect("valid policy")
}

/// `Open`, 1000 bytes written, no actions pending.
pub(super) fn open_with(policy: Policy) -> CloseMachine {
    let mut machine = CloseMachine::new(policy);
    drain(&mut machine);
    feed(&mut machine, Event::Wrote(WRITTEN), ms(0));
    machine
}

pub(super) fn open() -> CloseMachine {
    open_with(Policy::default())
}

/// `Corked`, 1000 bytes written, no actions pending.
pub(super) fn corked_with(policy: Policy) -> CloseMachine {
    let mut machine = open_with(policy);
    machine.cork().expect("cork from Open");
    drain(&mut machine);
    machine
}

pub(super) fn corked() -> CloseMachine {
    corked_with(Policy::default())
}

/// `WriteShut` after `shutdown_write` at 0 ms, the shutdown polled; reads still the
/// application's.
pub(super) fn half_closed() -> CloseMachine {
    let mut machine = open();
    machine
        .shutdown_write(ms(0))
        .expect("shutdown_write from Open");
    drain(&mut machine);
    machine
}

/// `WriteShut`, half-closed after the application read the peer's EOF: a keep-alive
/// connection the client closed first.
pub(super) fn half_closed_after_eof() -> CloseMachine {
    let mut machine = half_closed();
    feed(&mut machine, Event::PeerEof, ms(0));
    machine
}

/// `WriteShut` right after `close` at 0 ms: every action polled, none answered yet.
pub(super) fn closing_with(policy: Policy) -> CloseMachine {
    let mut machine = open_with(policy);
    machine.close(ms(0)).expect("close from Open");
    drain(&mut machine);
    machine
}

pub(super) fn closing() -> CloseMachine {
    closing_with(Policy::default())
}

/// `WriteShut` while closing: `unacked` bytes in flight, reads drained, poll timer armed.
pub(super) fn awaiting_acks_with(policy: Policy, unacked: u32) -> CloseMachine {
    let mut machine = closing_with(policy);
    feed(&mut machine, Event::SendQueue { unacked }, ms(0));
    feed(&mut machine, Event::ReadBlocked, ms(0));
    machine
}

pub(super) fn awaiting_acks() -> CloseMachine {
    awaiting_acks_with(Policy::default(), ALL_UNACKED)
}

/// `Draining` while closing: everything acknowledged, reads drained, waiting for EOF.
pub(super) fn draining_with(policy: Policy) -> CloseMachine {
    let mut machine = closing_with(policy);
    feed(&mut machine, Event::SendQueue { unacked: 0 }, ms(0));
    feed(&mut machine, Event::ReadBlocked, ms(0));
    machine
}

pub(super) fn draining() -> CloseMachine {
    draining_with(Policy::default())
}

/// Accepted at 0 ms under `policy`, awaiting its first byte, no actions pending.
pub(super) fn accepted_with(policy: Policy) -> CloseMachine {
    let mut machine = CloseMachine::accepted(policy, ms(0));
    drain(&mut machine);
    machine
}

/// Accepted at 0 ms under the default policy, awaiting its first byte.
pub(super) fn accepted() -> CloseMachine {
    accepted_with(Policy::default())
}

/// Receiving: the first 100 bytes of a request arrived at 0 ms, the application waits for
/// more.
pub(super) fn receiving() -> CloseMachine {
    let mut machine = accepted();
    feed(&mut machine, Event::Read(100), ms(0));
    feed(&mut machine, Event::ReadPending, ms(0));
    machine
}

/// Working: a request of 100 bytes arrived at 0 ms and its peer has been quiet for the
/// grace since; the application has not answered.
pub(super) fn working() -> CloseMachine {
    let mut machine = receiving();
    let quiet = machine.poll_timeout().expect("the grace");
    machine.handle_timeout(quiet);
    machine
}

/// Responding: a request of 100 bytes, then 1000 bytes of answer written at 0 ms, the
/// application not waiting to read.
pub(super) fn responding() -> CloseMachine {
    let mut machine = accepted();
    feed(&mut machine, Event::Read(100), ms(0));
    feed(&mut machine, Event::Wrote(WRITTEN), ms(0));
    machine
}

/// Responding, its write held back at 0 ms: the peer's window is full.
pub(super) fn write_blocked() -> CloseMachine {
    let mut machine = responding();
    feed(&mut machine, Event::WritePending, ms(0));
    machine
}

/// Idle: a request of 100 bytes, then its answer written at 0 ms while the application's
/// read stays pending, as hyper's does.
pub(super) fn idle() -> CloseMachine {
    let mut machine = receiving();
    feed(&mut machine, Event::Wrote(WRITTEN), ms(0));
    machine
}

/// Working on a request the application holds: 100 bytes read at 0 ms, the request held,
/// the application's read pending.
pub(super) fn held() -> CloseMachine {
    let mut machine = receiving();
    machine.hold(ms(0)).expect("hold");
    machine
}

/// A request still arriving, by the application's word: it holds every request it works on
/// (`holds_requests` at the accept), none now; 100 bytes read at 0 ms, its read pending.
pub(super) fn arriving() -> CloseMachine {
    let mut machine = accepted();
    machine.holds_requests(ms(0)).expect("holds requests");
    feed(&mut machine, Event::Read(100), ms(0));
    feed(&mut machine, Event::ReadPending, ms(0));
    machine
}

/// Taken over for another protocol at 0 ms, after an answer.
pub(super) fn upgraded() -> CloseMachine {
    let mut machine = idle();
    machine.upgrade(ms(0)).expect("upgrade");
    machine
}

/// `Closed` cleanly at 2 ms, the `Close` action already polled.
pub(super) fn closed() -> CloseMachine {
    let mut machine = draining();
    feed(&mut machine, Event::PeerEof, ms(2));
    drain(&mut machine);
    machine
}
