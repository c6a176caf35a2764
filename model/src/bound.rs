//! How much of the world the checker explores: [`Bound`].

use crate::kernel::Flavour;
use core::fmt;

/// How much of the world the checker explores: the counts the state space grows with, and
/// whose rules our kernel follows.
///
/// ```
/// use linger_model::{Bound, Flavour};
///
/// let wider = Bound { peer_window: 2, kernel: Flavour::FreeBsd, ..Bound::default() };
/// assert_eq!(wider.short_name(), "s3w2o2p3m4");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bound {
    /// Data segments in our response.
    pub segments: u8,
    /// The peer's receive buffer, in segments: how much we may have in flight.
    pub peer_window: u8,
    /// Our receive buffer, in segments.
    pub our_window: u8,
    /// Data segments the peer may send (before or after our close): the most it sends.
    pub peer_sends: u8,
    /// Moves the peer may make: each send, half-close, close or reset costs one, and so does
    /// a retransmission timeout of our kernel.
    pub peer_moves: u8,
    /// Whose rules our kernel follows (the peer's is Linux's).
    pub kernel: Flavour,
}

impl Bound {
    /// The bound in a few characters, for names and tables: `s3w1o2p3m4` is 3 segments, peer
    /// window 1, our window 2, 3 peer sends, 4 peer moves (the kernel is not in it).
    pub fn short_name(&self) -> String {
        format!(
            "s{}w{}o{}p{}m{}",
            self.segments, self.peer_window, self.our_window, self.peer_sends, self.peer_moves
        )
    }
}

impl Default for Bound {
    /// Three segments through a one-segment window; a peer that may send three segments (one
    /// more than the model policy's discard cap, so it can flood) and make four moves: enough
    /// for every ordering of data, FIN, ACK and RST that P1-P5 are about.
    fn default() -> Bound {
        Bound {
            segments: 3,
            peer_window: 1,
            our_window: 2,
            peer_sends: 3,
            peer_moves: 4,
            kernel: Flavour::Linux,
        }
    }
}

impl fmt::Display for Bound {
    /// The bound in words, each limit explained.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} segments of response, peer window {}, our window {}, peer sends up to {}, \
             peer moves up to {} (each send, half-close, close or reset of the peer, and each \
             retransmission timeout of our kernel, is a move), our kernel {}",
            self.segments,
            self.peer_window,
            self.our_window,
            self.peer_sends,
            self.peer_moves,
            self.kernel
        )
    }
}
