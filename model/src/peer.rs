//! What the adversary may do: [`Peer`], restrictions on the peer's moves and on the path.
//!
//! By default the peer may, at any step, within the [`Bound`](crate::Bound)'s budget of
//! moves: read a segment of our data, send a segment, half-close, close, reset, or fall silent
//! for good; and the path may fail for good (our kernel gives up retransmitting), which the
//! same budget pays for. A designer who wants to know how a close fares against a gentler
//! adversary takes some of those away, or adds a rule of their own; every other step
//! (deliveries, our application's, the clock, the kernels' timers) is untouched.

use crate::kernel::Kernel;
use crate::world::Step;

/// A rule of the designer's own on the peer's moves: whether the peer may take `step` (one
/// of [`Step::PeerReads`], [`Step::PeerSends`], [`Step::PeerHalfCloses`],
/// [`Step::PeerCloses`], [`Step::PeerResets`]) given the peer's kernel and ours as they are.
pub type PeerRule = fn(peer: &Kernel, ours: &Kernel, step: Step) -> bool;

/// Restrictions on the adversarial peer's moves. The default restricts nothing.
///
/// How many segments the peer sends and how many moves it makes at most are the bound's
/// ([`Bound::peer_sends`](crate::Bound::peer_sends),
/// [`Bound::peer_moves`](crate::Bound::peer_moves)); these say which moves it makes at all.
///
/// ```
/// use linger_model::{Peer, Step, Kernel};
///
/// // A client that never resets, never half-closes, reads at most two segments of the answer,
/// // and sends nothing once it has read anything.
/// fn no_sends_after_reading(peer: &Kernel, _ours: &Kernel, step: Step) -> bool {
///     step != Step::PeerSends || peer.read == 0
/// }
/// let peer = Peer::default()
///     .never_resets()
///     .never_half_closes()
///     .reads_at_most(2)
///     .only(no_sends_after_reading);
/// assert!(!peer.resets && !peer.half_closes && peer.closes);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// The peer may reset the connection (`SO_LINGER {1, 0}` + `close`).
    pub resets: bool,
    /// The peer may shut down its write side (its FIN, and it reads on).
    pub half_closes: bool,
    /// The peer may close its socket (a reset if it left our data unread).
    pub closes: bool,
    /// The most segments of our data the peer's application reads (`None`: all it gets). A
    /// peer that stops reading keeps its window shut: a slow or stalled reader.
    pub reads: Option<u8>,
    /// The path may fail for good: our kernel gives up retransmitting ([`Step::OurKernelGivesUp`]).
    pub path_fails: bool,
    /// A rule of the designer's own, on top of the above.
    pub rule: Option<PeerRule>,
}

impl Default for Peer {
    /// Every move allowed.
    fn default() -> Peer {
        Peer {
            resets: true,
            half_closes: true,
            closes: true,
            reads: None,
            path_fails: true,
            rule: None,
        }
    }
}

impl Peer {
    /// The peer never resets.
    pub fn never_resets(self) -> Peer {
        Peer {
            resets: false,
            ..self
        }
    }

    /// The peer never half-closes.
    pub fn never_half_closes(self) -> Peer {
        Peer {
            half_closes: false,
            ..self
        }
    }

    /// The peer never closes its socket (it may still reset, half-close, or fall silent).
    pub fn never_closes(self) -> Peer {
        Peer {
            closes: false,
            ..self
        }
    }

    /// The path never fails for good: our kernel never gives up retransmitting.
    pub fn path_never_fails(self) -> Peer {
        Peer {
            path_fails: false,
            ..self
        }
    }

    /// The peer's application reads at most `segments` segments of our data.
    pub fn reads_at_most(self, segments: u8) -> Peer {
        Peer {
            reads: Some(segments),
            ..self
        }
    }

    /// The peer takes a step only where `rule` allows it, as well as the rest of these
    /// restrictions.
    pub fn only(self, rule: PeerRule) -> Peer {
        Peer {
            rule: Some(rule),
            ..self
        }
    }

    /// Whether these restrictions allow `step` now; steps neither the peer's nor the path's
    /// are always allowed.
    pub fn allows(&self, peer: &Kernel, ours: &Kernel, step: Step) -> bool {
        let allowed = match step {
            Step::OurKernelGivesUp => return self.path_fails,
            Step::PeerReads => self.reads.is_none_or(|most| peer.read < most),
            Step::PeerHalfCloses => self.half_closes,
            Step::PeerCloses => self.closes,
            Step::PeerResets => self.resets,
            Step::PeerSends => true,
            _ => return true,
        };
        allowed && self.rule.is_none_or(|rule| rule(peer, ours, step))
    }
}
