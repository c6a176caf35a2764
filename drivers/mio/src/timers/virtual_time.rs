//! The `Lingerer`'s scheduling in virtual time: real `CloseMachine`s, each reading from a
//! simulated peer, driven through [`Timers`] the way `Lingerer::poll` drives them (fire what
//! is due, perform each close's actions, set its next deadline). No socket and no clock: a
//! close of seconds runs in microseconds, and every instant is exact.

use super::Timers;
use linger::{Action, CloseMachine, Ending, Event, Instant, Outcome, Policy, Release};
use std::time::Duration;

/// What a close's socket shows of the peer, which acknowledged everything we sent: bytes
/// waiting to be read, and whether its FIN follows them.
#[derive(Clone, Copy, Debug)]
struct Peer {
    queued: u32,
    fin: bool,
}

/// One close held, and how and when it ended.
struct Close {
    machine: CloseMachine,
    peer: Peer,
    ended: Option<(Outcome, Instant)>,
}

/// A `Lingerer` without sockets: its timers, its closes by slot, and the virtual clock.
#[derive(Default)]
struct VirtualLingerer {
    timers: Timers,
    closes: Vec<Close>,
    now: Instant,
}

impl VirtualLingerer {
    /// Adopts a close under `policy` against `peer`; returns its slot.
    fn adopt(&mut self, policy: Policy, peer: Peer) -> usize {
        let mut machine = CloseMachine::new(policy);
        machine.close(self.now).expect("close from Open");
        self.closes.push(Close {
            machine,
            peer,
            ended: None,
        });
        let slot = self.closes.len() - 1;
        self.run(slot);
        slot
    }

    /// One `Lingerer::poll`, woken at the earliest deadline; false when none is left.
    fn poll(&mut self) -> bool {
        let Some(next) = self.timers.earliest() else {
            return false;
        };
        self.now = next;
        while let Some(slot) = self.timers.pop_due(self.now) {
            self.closes[slot].machine.handle_timeout(self.now);
            self.run(slot);
        }
        true
    }

    /// Polls until no deadline is left, at most `polls` times.
    fn poll_until_idle(&mut self, polls: usize) {
        for _ in 0..polls {
            if !self.poll() {
                return;
            }
        }
    }

    /// `Lingerer::run`: performs the close's actions, then forgets its deadline once it
    /// released the socket, or sets the next one.
    fn run(&mut self, slot: usize) {
        let now = self.now;
        let close = &mut self.closes[slot];
        while let Some(action) = close.machine.poll_action() {
            match action {
                Action::QuerySendQueue => feed(close, Event::SendQueue { unacked: 0 }, now),
                Action::Discard { max_bytes } => discard(close, max_bytes, now),
                Action::Close | Action::Abort => {
                    close.ended = close.machine.outcome().map(|outcome| (outcome, now));
                }
                _ => {}
            }
        }
        let deadline = match close.ended {
            Some(_) => None,
            None => close.machine.poll_timeout(),
        };
        self.timers.set(slot, deadline);
    }

    /// How the close in `slot` ended and when; panics if it has not.
    fn ended(&self, slot: usize) -> (Outcome, Instant) {
        self.closes[slot].ended.expect("the close ended")
    }
}

fn feed(close: &mut Close, event: Event, now: Instant) {
    if let Err(error) = close.machine.handle(event, now) {
        panic!("{event} refused: {error}");
    }
}

/// One discard round, as `linger_io::drive` performs it: read up to `max_bytes`; the socket
/// then blocks, or reads EOF, unless the round took all it was allowed.
fn discard(close: &mut Close, max_bytes: u32, now: Instant) {
    let read = close.peer.queued.min(max_bytes);
    if read > 0 {
        close.peer.queued -= read;
        feed(close, Event::Read(read), now);
    }
    if read < max_bytes {
        let last = if close.peer.fin {
            Event::PeerEof
        } else {
            Event::ReadBlocked
        };
        feed(close, last, now);
    }
}

fn budget(budget: Duration) -> Policy {
    Policy::builder()
        .linger_budget(budget)
        .build()
        .expect("valid policy")
}

fn silent_after(queued: u32) -> Peer {
    Peer { queued, fin: false }
}

const SECOND: Duration = Duration::from_secs(1);

/// The queue-then-silent peer: 512 KiB queued (eight discard rounds), then nothing, no FIN.
/// Every round after the first runs from the resume timer and re-arms it at the instant it
/// fired; the close must still keep its budget.
#[test]
fn a_peer_that_queued_many_rounds_then_fell_silent_is_released_at_the_budget() {
    let mut lingerer = VirtualLingerer::default();
    let slot = lingerer.adopt(budget(SECOND), silent_after(512 << 10));
    lingerer.poll_until_idle(100);
    let (outcome, at) = lingerer.ended(slot);
    assert_eq!(outcome.ending, Ending::AckedPeerOpen);
    assert_eq!(outcome.release, Release::Close, "everything was read");
    assert_eq!(outcome.bytes_discarded, 512 << 10);
    assert_eq!(at, Instant::ZERO + SECOND);
    assert_eq!(outcome.elapsed, SECOND);
}

#[test]
fn a_peer_whose_fin_follows_its_queue_ends_clean_without_waiting() {
    let mut lingerer = VirtualLingerer::default();
    let peer = Peer {
        queued: 200 << 10,
        fin: true,
    };
    let slot = lingerer.adopt(budget(SECOND), peer);
    lingerer.poll_until_idle(100);
    let (outcome, at) = lingerer.ended(slot);
    assert_eq!(outcome.ending, Ending::Clean);
    assert_eq!(outcome.bytes_discarded, 200 << 10);
    assert_eq!(at, Instant::ZERO);
}

#[test]
fn closes_held_together_each_end_at_their_own_budget() {
    let mut lingerer = VirtualLingerer::default();
    let seconds = [3, 1, 2, 1];
    let slots: Vec<usize> = seconds
        .iter()
        .map(|&secs| {
            let policy = budget(Duration::from_secs(secs));
            lingerer.adopt(policy, silent_after(300 << 10))
        })
        .collect();
    lingerer.poll_until_idle(100);
    for (slot, secs) in slots.into_iter().zip(seconds) {
        let (outcome, at) = lingerer.ended(slot);
        assert_eq!(outcome.ending, Ending::AckedPeerOpen, "slot {slot}");
        assert_eq!(outcome.bytes_discarded, 300 << 10, "slot {slot}");
        assert_eq!(at, Instant::from_secs(secs), "slot {slot}");
    }
}
