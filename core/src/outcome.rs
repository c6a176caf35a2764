//! How a close ended, reported honestly.

use core::fmt;
use core::time::Duration;

/// What became of the data we sent, as far as the kernel let us see.
///
/// Only [`Ending::Clean`] and [`Ending::AckedPeerOpen`] claim delivery
/// ([`Ending::claims_delivery`]); every other ending says what is not known or not delivered.
/// What each ending rests on differs per platform: docs/design.md's outcome table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ending {
    /// Every byte and our FIN were acknowledged, and the peer closed its side.
    Clean,
    /// Every byte and our FIN were acknowledged; the peer had not closed when we stopped
    /// waiting (the budget ran out, the policy does not wait, or the peer kept sending).
    AckedPeerOpen,
    /// The budget or the idle timeout ran out with `unacked` bytes not acknowledged
    /// (`None`: the send queue was never reported).
    TimedOut {
        /// Bytes, counting our FIN as one, not acknowledged at the last query.
        unacked: Option<u32>,
    },
    /// The peer reset the connection with `unacked` bytes not acknowledged at the last query
    /// (`None`: never queried, or the platform cannot tell).
    ResetByPeer {
        /// Bytes, counting our FIN as one, not acknowledged at the last query.
        unacked: Option<u32>,
    },
    /// The application aborted; the peer saw RST.
    Aborted {
        /// Bytes not acknowledged at the last query, if one was answered.
        unacked: Option<u32>,
    },
    /// A socket error other than a reset ended the connection.
    Failed {
        /// Bytes not acknowledged at the last query, if one was answered.
        unacked: Option<u32>,
    },
    /// Every byte was acknowledged, but the platform could not tell whether our FIN was (macOS,
    /// once the connection ended: [`Event::DataAcked`](crate::Event::DataAcked)). The peer's
    /// kernel has the data; whether the peer learnt that it ended is not known, so this does
    /// not claim delivery. A protocol that frames its messages (a `Content-Length`) may count
    /// it delivered; one that ends them by closing may not.
    DataAcked {
        /// The peer's EOF arrived.
        peer_eof: bool,
    },
    /// This platform cannot observe acknowledgements: delivery is unknown. `peer_eof` tells
    /// whether the peer at least closed its side before we released the socket.
    Unknown {
        /// The peer's EOF arrived.
        peer_eof: bool,
    },
}

impl Ending {
    /// True when the kernel confirmed that the peer acknowledged every byte and our FIN.
    /// [`Outcome::claims_delivery`] also requires that we did not reset afterwards.
    pub const fn claims_delivery(self) -> bool {
        matches!(self, Ending::Clean | Ending::AckedPeerOpen)
    }

    /// Bytes known not to be acknowledged: `Some(0)` when everything was (our FIN included),
    /// `None` when unknown.
    pub const fn unacked(self) -> Option<u32> {
        match self {
            Ending::Clean | Ending::AckedPeerOpen => Some(0),
            Ending::TimedOut { unacked }
            | Ending::ResetByPeer { unacked }
            | Ending::Aborted { unacked }
            | Ending::Failed { unacked } => unacked,
            Ending::DataAcked { .. } | Ending::Unknown { .. } => None,
        }
    }
}

/// How the socket was released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Release {
    /// A plain `close()`.
    Close,
    /// `SO_LINGER {1, 0}` + `close()`: we sent RST.
    Abort,
}

/// How a close ended, from [`CloseMachine::outcome`](crate::CloseMachine::outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Outcome {
    /// What became of the data.
    pub ending: Ending,
    /// How the socket was released.
    pub release: Release,
    /// Bytes the application wrote on the connection, counted by the machine or, for a socket
    /// handed over after it was written, as the kernel reported them at the handover
    /// ([`CloseMachine::adopt_written`](crate::CloseMachine::adopt_written)). `None` when
    /// the socket was written before the machine saw it and nobody could tell how much.
    pub bytes_written: Option<u64>,
    /// Bytes read and thrown away while closing.
    pub bytes_discarded: u64,
    /// From `close` to release; zero if the connection ended before `close` was called.
    pub elapsed: Duration,
}

impl Outcome {
    /// True only when the kernel confirmed that every byte and our FIN were acknowledged and
    /// the socket was released without a reset.
    pub fn claims_delivery(&self) -> bool {
        self.ending.claims_delivery() && self.release == Release::Close
    }
}

/// The running figures of a connection, from [`CloseMachine::stats`](crate::CloseMachine::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Bytes the application wrote, as in [`Outcome::bytes_written`].
    pub bytes_written: Option<u64>,
    /// Bytes read and thrown away while closing.
    pub bytes_discarded: u64,
    /// The last send-queue figure, if one was reported.
    pub unacked: Option<u32>,
    /// Whether the peer's EOF has arrived.
    pub peer_eof: bool,
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Unacked(Option<u32>);
        impl fmt::Display for Unacked {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Some(bytes) => write!(f, "{bytes} unacked"),
                    None => f.write_str("unacked unknown"),
                }
            }
        }
        match *self {
            Ending::Clean => f.write_str("clean"),
            Ending::AckedPeerOpen => f.write_str("acked, peer open"),
            Ending::TimedOut { unacked } => write!(f, "timed out, {}", Unacked(unacked)),
            Ending::ResetByPeer { unacked } => write!(f, "reset by peer, {}", Unacked(unacked)),
            Ending::Aborted { unacked } => write!(f, "aborted, {}", Unacked(unacked)),
            Ending::Failed { unacked } => write!(f, "failed, {}", Unacked(unacked)),
            Ending::DataAcked { peer_eof: true } => {
                f.write_str("data acked, FIN unknown, peer closed")
            }
            Ending::DataAcked { peer_eof: false } => {
                f.write_str("data acked, FIN unknown, peer open")
            }
            Ending::Unknown { peer_eof: true } => f.write_str("unknown, peer closed"),
            Ending::Unknown { peer_eof: false } => f.write_str("unknown, peer open"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let release = match self.release {
            Release::Close => "close",
            Release::Abort => "abort",
        };
        write!(f, "{} by {release} after {:?}: ", self.ending, self.elapsed)?;
        match self.bytes_written {
            Some(bytes) => write!(f, "{bytes} bytes written")?,
            None => f.write_str("bytes written before the handover not counted")?,
        }
        write!(f, ", {} discarded", self.bytes_discarded)
    }
}

#[cfg(test)]
mod tests {
    use super::Ending;

    #[test]
    fn each_ending_reports_what_it_knows_of_the_unacked_bytes() {
        let table = [
            (Ending::Clean, Some(0)),
            (Ending::AckedPeerOpen, Some(0)),
            (Ending::TimedOut { unacked: Some(7) }, Some(7)),
            (Ending::TimedOut { unacked: None }, None),
            (Ending::ResetByPeer { unacked: Some(5) }, Some(5)),
            (Ending::Aborted { unacked: Some(3) }, Some(3)),
            (Ending::Failed { unacked: Some(2) }, Some(2)),
            (Ending::DataAcked { peer_eof: true }, None),
            (Ending::Unknown { peer_eof: true }, None),
        ];
        for (ending, unacked) in table {
            assert_eq!(ending.unacked(), unacked, "{ending}");
        }
    }
}
