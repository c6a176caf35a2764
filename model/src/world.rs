//! The model's state, two kernels, the wires between them, our application and an
//! adversarial peer, and the steps that move it.

use super::kernel::{Flavour, Kernel, Wire};
use super::strategy::{Facts, Input, Io, Logged, Strategy};
use crate::bound::Bound;
use crate::peer::Peer;
use core::fmt;

/// Everything the model knows at one instant: what a property of your own reads. Its `Debug`
/// is in words (`trace.rs`): it is what stateright's explorer shows of each state.
///
/// ```
/// use linger_model::{Dead, World};
///
/// /// Neither side reset while the peer's kernel still held data it had not read.
/// fn no_reset_over_unread<A>(world: &World<A>) -> bool {
///     let reset = world.ours.dead == Some(Dead::Aborted) || world.peer.dead.is_some();
///     !(reset && world.peer.unread() > 0)
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct World<A> {
    /// Our application's close strategy state.
    pub app: A,
    /// Our kernel.
    pub ours: Kernel,
    /// The peer's kernel.
    pub peer: Kernel,
    /// Segments on their way from us to the peer.
    pub to_peer: Wire,
    /// Segments on their way from the peer to us.
    pub to_us: Wire,
    /// The clock, in microseconds. It only moves to our application's next deadline.
    pub now: u64,
    /// What our application did, for the properties.
    pub facts: Facts,
    /// Moves the peer may still make (sending, half-closing, closing, resetting).
    pub peer_moves_left: u8,
    /// Data segments the peer may still send.
    pub peer_sends_left: u8,
}

/// One step of the model. Any enabled step may come next: that is the adversary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Our application decides to close.
    AppCloses,
    /// The next segment from us reaches the peer's kernel.
    DeliverToPeer,
    /// The next segment from the peer reaches our kernel; our event loop reacts.
    DeliverToUs,
    /// The peer's application reads one segment of our data.
    PeerReads,
    /// The peer's application sends one more segment.
    PeerSends,
    /// The peer's application shuts down its write side (its FIN).
    PeerHalfCloses,
    /// The peer's application closes its socket (a reset if it left our data unread).
    PeerCloses,
    /// The peer's application resets the connection.
    PeerResets,
    /// The path fails: our kernel gives up retransmitting (an adversary's move, like the
    /// peer's).
    OurKernelGivesUp,
    /// Our kernel's persist timer sends the last data segment it held for the window (Linux).
    OurKernelProbes,
    /// The peer's kernel's persist timer does.
    PeerKernelProbes,
    /// Time passes to our application's next deadline.
    Tick,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::AppCloses => "our app closes",
            Step::DeliverToPeer => "a segment reaches the peer",
            Step::DeliverToUs => "a segment reaches us",
            Step::PeerReads => "peer app reads a segment",
            Step::PeerSends => "peer app sends a segment",
            Step::PeerHalfCloses => "peer app shuts down writing",
            Step::PeerCloses => "peer app closes",
            Step::PeerResets => "peer app resets",
            Step::OurKernelGivesUp => "our kernel gives up retransmitting",
            Step::OurKernelProbes => "our kernel's persist timer sends the held segment",
            Step::PeerKernelProbes => "the peer's persist timer sends the held segment",
            Step::Tick => "time passes to our next deadline",
        })
    }
}

impl<A> World<A> {
    /// Our data that will never reach the peer's kernel: unsent when our kernel died, or
    /// arrived after the peer's died.
    pub fn lost(&self) -> u8 {
        self.ours.discarded.saturating_add(self.peer.dropped)
    }

    /// Our application called `close` (or abort) and got its socket back.
    pub fn released(&self) -> bool {
        self.facts.released_at.is_some()
    }

    fn io<'a>(&'a mut self, log: Option<&'a mut Vec<Logged>>) -> (&'a mut A, Io<'a>) {
        let io = Io {
            kernel: &mut self.ours,
            wire: &mut self.to_peer,
            facts: &mut self.facts,
            now: self.now,
            log,
        };
        (&mut self.app, io)
    }
}

impl<A: Clone> World<A> {
    /// The connection right after our application wrote its response.
    pub fn start<S: Strategy<App = A>>(strategy: &S, bound: &Bound) -> World<A> {
        World::start_logged(strategy, bound, None)
    }

    /// [`start`](Self::start), logging what our kernel was asked and answered into `log`.
    pub fn start_logged<S: Strategy<App = A>>(
        strategy: &S,
        bound: &Bound,
        log: Option<&mut Vec<Logged>>,
    ) -> World<A> {
        let mut ours = Kernel::new(bound.kernel, bound.our_window, bound.peer_window);
        let mut to_peer = Wire::default();
        let mut facts = Facts::default();
        let app = strategy.start(
            bound.segments,
            &mut Io {
                kernel: &mut ours,
                wire: &mut to_peer,
                facts: &mut facts,
                now: 0,
                log,
            },
        );
        World {
            app,
            ours,
            peer: Kernel::new(Flavour::Linux, bound.peer_window, bound.our_window),
            to_peer,
            to_us: Wire::default(),
            now: 0,
            facts,
            peer_moves_left: bound.peer_moves,
            peer_sends_left: bound.peer_sends,
        }
    }

    /// The steps enabled here, the peer's as `peer` allows them, in a fixed order (BFS then
    /// finds the same shortest counterexample every run).
    pub fn steps<S: Strategy<App = A>>(&self, strategy: &S, peer: &Peer, steps: &mut Vec<Step>) {
        if self.facts.close_asked_at.is_none() {
            steps.push(Step::AppCloses);
        }
        if !self.to_peer.is_empty() {
            steps.push(Step::DeliverToPeer);
        }
        if !self.to_us.is_empty() {
            steps.push(Step::DeliverToUs);
        }
        let peer_alive = self.peer.fd_open && self.peer.dead.is_none();
        let mut peer_step = |step: Step| {
            if peer.allows(&self.peer, &self.ours, step) {
                steps.push(step);
            }
        };
        if peer_alive && self.peer.unread() > 0 {
            peer_step(Step::PeerReads);
        }
        if peer_alive && self.peer_moves_left > 0 {
            if self.peer.fin == super::kernel::Fin::None {
                if self.peer_sends_left > 0 {
                    peer_step(Step::PeerSends);
                }
                peer_step(Step::PeerHalfCloses);
            }
            peer_step(Step::PeerCloses);
            peer_step(Step::PeerResets);
        }
        // From the decision to close, while our application holds the socket: what a close
        // strategy must report. Before, its own reads and writes hear of a failure; after the
        // fd is released, an orphan that times out loses data under any close, unheard.
        let closing = self.facts.close_asked_at.is_some() && self.ours.fd_open;
        if self.peer_moves_left > 0
            && closing
            && !self.ours.disconnected()
            && self.ours.awaiting_ack()
            && peer.allows(&self.peer, &self.ours, Step::OurKernelGivesUp)
        {
            steps.push(Step::OurKernelGivesUp);
        }
        // A kernel's own timer, which fires sooner or later whatever the peer does.
        if self.ours.probe_due() {
            steps.push(Step::OurKernelProbes);
        }
        if self.peer.probe_due() {
            steps.push(Step::PeerKernelProbes);
        }
        if strategy.deadline(&self.app).is_some() {
            steps.push(Step::Tick);
        }
    }

    /// The world after `step`.
    pub fn after<S: Strategy<App = A>>(&self, strategy: &S, step: Step) -> World<A> {
        self.after_logged(strategy, step, None)
    }

    /// [`after`](Self::after), logging each input to our kernel, with what it answered, into
    /// `log`: the segment that reached it, its giving up, our application's calls.
    pub fn after_logged<S: Strategy<App = A>>(
        &self,
        strategy: &S,
        step: Step,
        mut log: Option<&mut Vec<Logged>>,
    ) -> World<A> {
        let mut next = self.clone();
        match step {
            Step::AppCloses => {
                next.facts.close_asked_at = Some(next.now);
                let (app, mut io) = next.io(log);
                strategy.close(app, &mut io);
            }
            Step::DeliverToPeer => {
                if let Some(segment) = next.to_peer.pop() {
                    next.peer.receive(segment, &mut next.to_us);
                }
            }
            Step::DeliverToUs => {
                if let Some(segment) = next.to_us.pop() {
                    let before = log.as_ref().map(|_| next.ours.clone());
                    next.ours.receive(segment, &mut next.to_peer);
                    next.log_input(log.as_deref_mut(), before, Input::Receive(segment));
                    let (app, mut io) = next.io(log);
                    strategy.on_delivered(app, &mut io);
                }
            }
            Step::PeerReads => {
                next.peer.app_read(&mut next.to_us);
            }
            Step::PeerSends => next.peer_move(|peer, wire| peer.write(1, wire)),
            Step::PeerHalfCloses => next.peer_move(|peer, wire| {
                // Offered only while the peer has not sent its FIN and its kernel lives.
                let _ = peer.shutdown_write(wire);
            }),
            Step::PeerCloses => next.peer_move(|peer, wire| peer.close(wire)),
            Step::PeerResets => next.peer_move(|peer, wire| peer.abort(wire)),
            Step::OurKernelGivesUp => {
                next.peer_moves_left = next.peer_moves_left.saturating_sub(1);
                let before = log.as_ref().map(|_| next.ours.clone());
                next.ours.time_out(&mut next.to_peer);
                next.log_input(log.as_deref_mut(), before, Input::GiveUp);
                // The poller reports the error; the event loop reacts as to a delivery.
                let (app, mut io) = next.io(log);
                strategy.on_delivered(app, &mut io);
            }
            Step::OurKernelProbes => {
                let before = log.as_ref().map(|_| next.ours.clone());
                next.ours.probe(&mut next.to_peer);
                next.log_input(log.as_deref_mut(), before, Input::Probe);
            }
            Step::PeerKernelProbes => next.peer.probe(&mut next.to_us),
            Step::Tick => {
                if let Some(deadline) = strategy.deadline(&next.app) {
                    next.now = next.now.max(deadline);
                    let (app, mut io) = next.io(log);
                    strategy.on_time(app, &mut io);
                }
            }
        }
        if step == Step::PeerSends {
            next.peer_sends_left = next.peer_sends_left.saturating_sub(1);
        }
        if next.facts.released_at.is_none() && strategy.released(&next.app) {
            next.facts.released_at = Some(next.now);
            next.facts.unacked_at_release = Some(next.ours.siocoutq());
            next.facts.released_by_time = step == Step::Tick && !next.facts.progressed;
        }
        next.facts.progressed = false;
        next
    }

    fn log_input(&self, log: Option<&mut Vec<Logged>>, before: Option<Kernel>, input: Input) {
        if let (Some(log), Some(before)) = (log, before) {
            log.push(Logged {
                input,
                before,
                after: self.ours.clone(),
            });
        }
    }

    fn peer_move(&mut self, action: impl FnOnce(&mut Kernel, &mut Wire)) {
        self.peer_moves_left = self.peer_moves_left.saturating_sub(1);
        action(&mut self.peer, &mut self.to_us);
    }
}
