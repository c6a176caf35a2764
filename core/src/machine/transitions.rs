//! Every state change of [`CloseMachine`], in one place.
//!
//! Five tables, h11-style:
//! - [`on_intent`](CloseMachine::on_intent): (state, what the application asks) → actions;
//! - [`on_event`](CloseMachine::on_event): (state, what the driver observed) → facts, actions;
//! - [`on_live`](CloseMachine::on_live): before the close, (activity, the application's read
//!   or write) → activity, or the guard that ends the connection;
//! - [`on_timeout`](CloseMachine::on_timeout): (timer) → actions;
//! - [`settle`](CloseMachine::settle): what the machine now knows → `Draining` or `Closed`,
//!   applied after every input, followed by the timer rules that keep `poll_timeout` honest.
//!
//! Nothing here performs I/O or reads a clock. A step that returns an error may have
//! half-changed its copy of the machine; [`CloseMachine::transaction`] throws the copy away.

use super::{Acks, CloseMachine, End, Phase};
use crate::action::{ActionQueue, Queued};
use crate::life::Tally;
use crate::timer::Timer;
use crate::{Activity, Error, Event, Guard, Instant, Intent, NagleMode, OnBudgetSpent};
use crate::{Release, State};

impl CloseMachine {
    /// The application's intents. `now` is given for the intents that take it.
    pub(super) fn on_intent(&mut self, intent: Intent, now: Option<Instant>) -> Result<(), Error> {
        use Intent::*;
        use State::*;
        let nodelay = self.policy.nagle() == NagleMode::NoDelay;
        let not_allowed = Error::NotAllowed {
            intent,
            state: self.state,
        };
        match (self.state, intent) {
            (Closed, _) => return Err(Error::Closed),
            (_, Abort) => self.finish(End::Aborted, Release::Abort, now.unwrap_or_default()),

            // Nagle control. Linux's cork and nodelay exclude each other (nginx clears one
            // before setting the other), so with `NoDelay` the cork is bracketed by them.
            (Open, Cork) => {
                if nodelay {
                    self.emit(Queued::NodelayOff)?;
                }
                self.emit(Queued::CorkOn)?;
                self.state = Corked;
            }
            (Corked, Uncork) => {
                self.emit(Queued::CorkOff)?;
                if nodelay {
                    self.emit(Queued::NodelayOn)?;
                }
                self.state = Open;
            }
            (Corked, Flush) => {
                self.emit(Queued::CorkOff)?;
                self.emit(Queued::CorkOn)?;
            }
            // Setting TCP_NODELAY pushes pending segments at once; with NoDelay nothing waits.
            (Open, Flush) if !nodelay => {
                self.emit(Queued::NodelayOn)?;
                self.emit(Queued::NodelayOff)?;
            }
            (Open, Flush) => {}

            // Shutting the write side: uncork first so the FIN follows the last segment. The
            // acks are watched from `close` on: a half-close costs only the shutdown.
            (Open | Corked, ShutdownWrite | Close) => {
                if self.state == Corked {
                    self.emit(Queued::CorkOff)?;
                }
                self.emit(Queued::ShutdownWrite)?;
                self.state = WriteShut;
                if let (Close, Some(now)) = (intent, now) {
                    self.query_send_queue()?;
                    self.start_lingering(now)?;
                }
            }
            // After a half-close, `close` hands the reads to the machine, starts the clock and
            // asks for the acks. (`Draining` is reached only while lingering.)
            (WriteShut, Close) if !self.is_lingering() => {
                self.query_send_queue()?;
                if let Some(now) = now {
                    self.start_lingering(now)?;
                }
            }

            // Pressure: pull both give-up deadlines in; the budget never grows.
            (WriteShut | Draining, ShortenBudget(budget)) if self.is_lingering() => {
                if let Some(now) = now {
                    for timer in [Timer::Linger, Timer::Idle] {
                        let deadline = self
                            .timers
                            .get(timer)
                            .map_or(now + budget, |at| at.min(now + budget));
                        self.timers.set(timer, deadline);
                    }
                }
            }

            // The application's word on the life before the close; once closing, there is no
            // life left to tell of.
            (_, Hold | Answered | Upgrade | HoldsRequests) => {
                if let Some(now) = now {
                    self.on_live_intent(intent, now)?;
                }
            }

            (Open, Uncork)
            | (Corked, Cork)
            | (Open | Corked, ShortenBudget(_))
            | (
                WriteShut | Draining,
                Cork | Uncork | Flush | ShutdownWrite | Close | ShortenBudget(_),
            ) => {
                return Err(not_allowed);
            }
        }
        if let Some(now) = now {
            self.settle(now);
        }
        Ok(())
    }

    /// The driver's observations.
    pub(super) fn on_event(&mut self, event: Event, now: Instant) -> Result<(), Error> {
        use State::*;
        match (self.state, event) {
            (Closed, _) => return Err(Error::Closed),

            (Open | Corked, Event::Wrote(bytes)) => {
                self.bytes_written = self.bytes_written.saturating_add(bytes);
                self.live_step(event, now);
            }
            (Open | Corked, Event::WritePending) => self.live_step(event, now),
            (WriteShut | Draining, Event::Wrote(_) | Event::WritePending) => {
                return Err(Error::WriteAfterShutdown);
            }

            (_, Event::Read(0)) => return Err(Error::EmptyRead),
            (_, Event::Read(_)) if self.peer_eof => return Err(Error::ReadAfterEof),
            // Before `close` the application reads; the machine only watches.
            (_, Event::Read(_) | Event::ReadPending) if !self.is_lingering() => {
                self.live_step(event, now);
            }
            // The machine reads for itself while closing: the application waits for nothing.
            (_, Event::ReadPending) => {}
            (_, Event::Read(bytes)) => {
                if bytes > self.discard_allowance {
                    let allowed = self.discard_allowance;
                    return Err(Error::ReadNotRequested { bytes, allowed });
                }
                self.discard_allowance -= bytes;
                self.bytes_discarded = self.bytes_discarded.saturating_add(bytes);
                self.progress(now);
                // The round's allowance is spent but more may wait: yield to the event loop
                // and resume at once.
                if self.discard_allowance == 0 {
                    self.timers.set(Timer::Resume, now);
                }
            }

            (Open | Corked, Event::Readable) => {}
            // Half-closed: the application reads; acks are watched from `close` on.
            (WriteShut, Event::Readable) if !self.is_lingering() => {}
            (WriteShut | Draining, Event::Readable) => {
                if self.state == WriteShut {
                    self.query_send_queue()?;
                }
                if !self.peer_eof {
                    self.rx_pending = true;
                    self.start_discard_round()?;
                }
            }
            (_, Event::ReadBlocked) => {
                self.rx_pending = false;
                self.discard_allowance = 0;
            }
            (_, Event::PeerEof) => {
                if !self.peer_eof {
                    self.progress(now);
                }
                self.peer_eof = true;
                self.rx_pending = false;
                self.discard_allowance = 0;
                if !self.is_lingering() {
                    self.live_step(event, now);
                }
            }

            (_, Event::SendQueue { .. } | Event::DataAcked | Event::AcksUnobservable)
                if !self.query_outstanding =>
            {
                return Err(Error::UnsolicitedSendQueue);
            }
            (_, Event::SendQueue { unacked }) => self.record_send_queue(unacked, now)?,
            (_, Event::DataAcked) => {
                self.query_outstanding = false;
                if self.acks != Acks::DataAcked {
                    self.progress(now);
                }
                self.acks = Acks::DataAcked;
            }
            (_, Event::AcksUnobservable) => {
                self.query_outstanding = false;
                self.acks = Acks::Unobservable;
            }

            (_, Event::Reset) => self.finish(End::ResetByPeer, Release::Close, now),
            (_, Event::Failed) => self.finish(End::Failed, Release::Close, now),
        }
        self.settle(now);
        Ok(())
    }

    /// The life before the close, on a machine made by
    /// [`accepted`](CloseMachine::accepted): what the application's reads and writes say the
    /// connection is doing ([`crate::Activity`]), or the guard that ends it. Its deadlines are
    /// [`Live::deadline`](crate::life::Live::deadline)'s; [`on_timeout`](Self::on_timeout)
    /// acts on them.
    pub(super) fn on_live(&mut self, event: Event, now: Instant) -> Option<Guard> {
        use Activity::*;
        let policy = self.policy;
        let live = self.live.as_mut()?;
        let waited = match event {
            Event::Read(_) => live.take_peer_time(now),
            Event::PeerEof => {
                live.stop_waiting();
                0
            }
            Event::ReadPending => {
                live.wait(now);
                0
            }
            _ => 0,
        };
        match (live.activity, event) {
            // Another protocol: only a write the peer leaves unread is watched.
            (Upgraded, Event::Wrote(_)) => {
                live.since = now;
                live.write_blocked = false;
            }
            (Upgraded, Event::WritePending) if !live.write_blocked => {
                live.since = now;
                live.write_blocked = true;
            }
            (Upgraded, _) => {}
            // A request's bytes that arrive after its credit ran out: a peer slower than the
            // minimum pace. Only the time the application waited for them counts.
            (Receiving, Event::Read(_)) if live.past_credit(&policy, waited) => {
                return Some(Guard::Pace);
            }
            (Receiving, Event::Read(bytes)) => {
                live.request.add(bytes, waited);
                live.unanswered.add(bytes, waited);
            }
            // The peer sends while our write waits for it to read: still responding.
            (Responding, Event::Read(bytes)) if live.write_blocked => {
                live.unanswered.add(bytes, waited);
            }
            // The first bytes of a request.
            (_, Event::Read(bytes)) => {
                live.start(Receiving, now);
                live.request.add(bytes, 0);
                live.unanswered.add(bytes, waited);
            }
            // The peer is done sending; the application decides what follows.
            (AwaitingFirstByte | Receiving | Idle, Event::PeerEof) => live.start(Working, now),
            (Working | Responding, Event::PeerEof) => {}
            // The answer is out and the application waits for the peer.
            (Responding, Event::ReadPending) if !live.write_blocked && live.held == 0 => {
                live.start(Idle, now);
            }
            (_, Event::ReadPending) => {}
            // Written before the first request, by the application's word (a TLS
            // handshake's flight, a greeting): the request is still to come, or arriving.
            (AwaitingFirstByte | Receiving, Event::Wrote(_)) if live.first_request_to_come() => {
                live.write_blocked = false;
            }
            // An answer written while the application's read stays pending: out, and the
            // next request awaited; unless the application says it holds one still.
            (_, Event::Wrote(_)) => {
                let next = if live.waiting_since().is_some() && live.held == 0 {
                    Idle
                } else {
                    Responding
                };
                live.start(next, now);
                live.unanswered = Tally::default();
                live.write_blocked = false;
            }
            // Held back from now on, until a write makes progress.
            (_, Event::WritePending) if live.write_blocked => {}
            (_, Event::WritePending) => {
                live.start(Responding, now);
                live.write_blocked = true;
            }
            (
                _,
                Event::Readable
                | Event::ReadBlocked
                | Event::SendQueue { .. }
                | Event::DataAcked
                | Event::AcksUnobservable
                | Event::Reset
                | Event::Failed,
            ) => {}
        }
        None
    }

    /// The application's word on its life before the close, on a machine made by
    /// [`accepted`](CloseMachine::accepted) that is not closing: the requests it holds, and
    /// whether it took the connection over. Nothing otherwise.
    fn on_live_intent(&mut self, intent: Intent, now: Instant) -> Result<(), Error> {
        use Activity::*;
        let lingering = self.is_lingering();
        let Some(live) = self.live.as_mut().filter(|_| !lingering) else {
            return Ok(());
        };
        match (live.activity, intent) {
            // Taken over: requests mean nothing any more.
            (Upgraded, _) => {}
            (_, Intent::Upgrade) => {
                live.start(Upgraded, now);
                live.held = 0;
            }
            (_, Intent::HoldsRequests) => live.holds_requests = true,
            (_, Intent::Hold) => {
                live.held = live.held.saturating_add(1);
                live.held_one = true;
                if matches!(live.activity, AwaitingFirstByte | Idle) {
                    live.start(Working, now);
                }
            }
            (_, Intent::Answered) if live.held == 0 => return Err(Error::NotHeld),
            (_, Intent::Answered) => {
                live.held -= 1;
                // The last answer out, the application waiting for the peer: idle from now.
                let answered = matches!(live.activity, Working | Responding)
                    && !live.write_blocked
                    && live.waiting_since().is_some();
                if live.held == 0 && answered {
                    live.start(Idle, now);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// [`on_live`](Self::on_live), and the lingering close of the guard it names, if any.
    fn live_step(&mut self, event: Event, now: Instant) {
        if let Some(guard) = self.on_live(event, now) {
            self.end_by(guard, now);
        }
    }

    /// A guard ends the live connection: the lingering close, as if the application had
    /// called `close` at `now`. A driver that let actions pile up leaves no room to queue it:
    /// the guard's verdict stands all the same, as a reset (never a plain close).
    fn end_by(&mut self, guard: Guard, now: Instant) {
        let mut closing = self.clone();
        match closing.on_intent(Intent::Close, Some(now)) {
            Ok(()) => *self = closing,
            Err(_) => self.finish(End::Aborted, Release::Abort, now),
        }
        self.ended_by = Some(guard);
    }

    /// A timer fired at `now`. Each armed timer has work to do when it fires (see
    /// [`settle`](Self::settle)), so `poll_timeout` never announces an empty deadline.
    pub(super) fn on_timeout(&mut self, timer: Timer, now: Instant) {
        self.timers.stop(timer);
        // The linger timers run only while lingering, when no intent but `abort` queues
        // anything and events queue at most a query and a discard round: four actions at
        // most, so these emits always find room. The guard's close finds the queue as the
        // driver left it, polled empty after the last input.
        let _ = match timer {
            Timer::Linger | Timer::Idle => {
                self.give_up(now);
                Ok(())
            }
            Timer::Poll => self.query_send_queue(),
            Timer::Resume => self.start_discard_round(),
            // The activity's guard: it ends the connection, or a request whose peer went
            // quiet for the grace is taken as said.
            Timer::Guard => {
                if let Some(live) = self.live.as_mut() {
                    match live.deadline(&self.policy) {
                        Some((_, Some(guard))) => self.end_by(guard, now),
                        Some((_, None)) => live.start(Activity::Working, now),
                        None => {}
                    }
                }
                Ok(())
            }
        };
        self.settle(now);
    }

    /// State-triggered transitions: what follows from what the machine knows, whatever input
    /// taught it. Then the timer rules.
    fn settle(&mut self, now: Instant) {
        use State::*;
        if self.state == WriteShut && self.acks.settled() {
            self.state = Draining;
        }
        if self.is_lingering() {
            let discard_cap_reached = self.bytes_discarded >= self.policy.discard_cap();
            let eof_or_blocked = !self.rx_pending;
            match self.state {
                // Everything acknowledged and the peer closed: the clean end.
                Draining if self.peer_eof => self.finish(End::Clean, Release::Close, now),
                // The peer keeps sending past the cap: any close now resets, so say so.
                Draining if self.rx_pending && discard_cap_reached => {
                    self.finish(End::AckedPeerOpen, Release::Abort, now);
                }
                Draining if !self.policy.wait_for_peer_eof() && eof_or_blocked => {
                    self.finish(End::AckedPeerOpen, Release::Close, now);
                }
                // Without acks the peer's EOF is the only sign it is done.
                WriteShut if self.acks == Acks::Unobservable && self.peer_eof => {
                    self.finish(End::Unknown, Release::Close, now);
                }
                _ => {}
            }
        }
        self.keep_timers_honest();
    }

    /// Every armed timer must have work when it fires; disarm the ones that would not.
    fn keep_timers_honest(&mut self) {
        let lingering = self.is_lingering();
        let awaiting_acks = lingering
            && self.state == State::WriteShut
            && !self.query_outstanding
            && matches!(self.acks, Acks::Unacked(unacked) if unacked > 0);
        if !awaiting_acks {
            self.timers.stop(Timer::Poll);
        }
        if !(lingering && self.rx_pending && self.discard_allowance == 0 && self.may_discard()) {
            self.timers.stop(Timer::Resume);
        }
        if !lingering {
            self.timers.stop(Timer::Linger);
            self.timers.stop(Timer::Idle);
        }
        self.arm_guard();
    }

    /// Arms the guard of what the live connection is doing; none once its close began.
    pub(super) fn arm_guard(&mut self) {
        let guard = self
            .live
            .filter(|_| !self.is_lingering() && self.state != State::Closed)
            .and_then(|live| live.deadline(&self.policy));
        match guard {
            Some((at, _)) => self.timers.set(Timer::Guard, at),
            None => self.timers.stop(Timer::Guard),
        }
    }

    // ---- building blocks ------------------------------------------------------------------

    fn emit(&mut self, action: Queued) -> Result<(), Error> {
        self.queue.push(action).map_err(|_| Error::ActionsNotPolled)
    }

    fn start_lingering(&mut self, now: Instant) -> Result<(), Error> {
        self.phase = Phase::Lingering { since: now };
        self.timers
            .set(Timer::Linger, now + self.policy.linger_budget());
        self.timers
            .set(Timer::Idle, now + self.policy.idle_timeout());
        if !self.peer_eof {
            // Until a read says otherwise, assume the peer sent something: never close on it.
            self.rx_pending = true;
            self.start_discard_round()?;
        }
        Ok(())
    }

    /// Queues a send-queue query unless one is under way or acks cannot be seen.
    fn query_send_queue(&mut self) -> Result<(), Error> {
        if self.query_outstanding || self.acks == Acks::Unobservable {
            return Ok(());
        }
        self.emit(Queued::QuerySendQueue)?;
        self.query_outstanding = true;
        self.timers.stop(Timer::Poll);
        Ok(())
    }

    pub(super) fn may_discard(&self) -> bool {
        !self.peer_eof && self.bytes_discarded < self.policy.discard_cap()
    }

    /// Queues a `Discard` round unless one is under way or the discard cap is reached.
    fn start_discard_round(&mut self) -> Result<(), Error> {
        if self.discard_allowance > 0 || !self.may_discard() {
            return Ok(());
        }
        let cap_left = self.policy.discard_cap() - self.bytes_discarded;
        if !self.queue.contains(Queued::Discard) {
            self.emit(Queued::Discard)?;
        }
        self.discard_allowance = self.policy.reads_per_wakeup().min(cap_left);
        self.timers.stop(Timer::Resume);
        Ok(())
    }

    fn record_send_queue(&mut self, unacked: u32, now: Instant) -> Result<(), Error> {
        let limit = self.bytes_written.saturating_add(1);
        if self.history_known && u64::from(unacked) > limit {
            return Err(Error::UnackedExceedsWritten { unacked, limit });
        }
        let previous = self.acks.figure();
        if let Some(previous) = previous.filter(|&previous| unacked > previous) {
            return Err(Error::UnackedGrew { previous, unacked });
        }
        self.query_outstanding = false;
        self.acks = Acks::Unacked(unacked);
        let since_last = now.saturating_duration_since(self.last_query);
        self.last_query = now;

        let (min, max) = self.policy.poll_interval();
        let (min, max) = (min.as_micros() as u64, max.as_micros() as u64);
        let interval = match previous {
            // Progress: expect the rest to drain at the rate just seen.
            Some(previous) if unacked < previous => {
                self.progress(now);
                let acked = u64::from(previous - unacked);
                let since_last = since_last.as_micros().min(u128::from(u64::MAX)) as u64;
                since_last.saturating_mul(u64::from(unacked)) / acked
            }
            // No progress: back off.
            Some(_) => u64::from(self.poll_interval_us).saturating_mul(2),
            None => min,
        };
        self.poll_interval_us = interval.clamp(min, max) as u32;
        if self.is_lingering() && unacked > 0 {
            let interval = core::time::Duration::from_micros(self.poll_interval_us.into());
            self.timers.set(Timer::Poll, now + interval);
        }
        Ok(())
    }

    /// Something moved: restart the idle timeout (never the total budget).
    fn progress(&mut self, now: Instant) {
        if self.is_lingering() {
            self.timers
                .set(Timer::Idle, now + self.policy.idle_timeout());
        }
    }

    /// The budget or the idle timeout ran out: release, per policy, and report what is known.
    fn give_up(&mut self, now: Instant) {
        let end = match self.acks {
            Acks::Unacked(0) | Acks::DataAcked => End::AckedPeerOpen,
            Acks::Unacked(_) | Acks::Unqueried => End::TimedOut,
            Acks::Unobservable => End::Unknown,
        };
        // Unread data makes any close a reset: order it openly rather than let it happen.
        let release = match (self.policy.on_budget_spent(), self.rx_pending) {
            (OnBudgetSpent::Close, false) => Release::Close,
            (OnBudgetSpent::Abort, _) | (_, true) => Release::Abort,
        };
        self.finish(end, release, now);
    }

    /// Enters `Closed`: whatever was queued is moot; the release is the last action.
    fn finish(&mut self, end: End, release: Release, now: Instant) {
        let elapsed_us = match self.phase {
            Phase::Lingering { since } => now.saturating_duration_since(since).as_micros() as u64,
            Phase::Active | Phase::Ended { .. } => 0,
        };
        self.state = State::Closed;
        self.queue = ActionQueue::only(match release {
            Release::Close => Queued::Close,
            Release::Abort => Queued::Abort,
        });
        self.timers.stop_all();
        self.query_outstanding = false;
        self.discard_allowance = 0;
        self.phase = Phase::Ended {
            end,
            release,
            elapsed_us,
        };
    }
}
