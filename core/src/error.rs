//! Why the machine refused an input. A refused input changes nothing.

use crate::{Intent, State};

/// An input the machine refused: an intent that makes no sense in the current state, or an
/// observation that contradicts what the machine knows. The machine is left unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The application asked for something the current state does not allow.
    #[error("cannot {intent} in state {state}")]
    NotAllowed {
        /// What was asked.
        intent: Intent,
        /// The state the machine is in.
        state: State,
    },
    /// An answer was reported for a request the application did not hold.
    #[error("an answer without a request held")]
    NotHeld,
    /// The machine has released the socket and takes no more input.
    #[error("the connection is closed and takes no more input")]
    Closed,
    /// A write was reported after the write side was shut down.
    #[error("a write was reported after the write side was shut down")]
    WriteAfterShutdown,
    /// Data was reported after the peer's EOF, which TCP cannot deliver.
    #[error("data was read after the peer's EOF")]
    ReadAfterEof,
    /// A read of zero bytes was reported as data.
    #[error("a read of 0 bytes is an EOF: report Event::PeerEof")]
    EmptyRead,
    /// While closing, more bytes were read than the pending `Discard` allowed.
    #[error("{bytes} bytes read while closing, but only {allowed} were asked for")]
    ReadNotRequested {
        /// Bytes reported.
        bytes: u32,
        /// Bytes the outstanding `Discard` still allowed.
        allowed: u32,
    },
    /// The driver let actions pile up: poll them after every input.
    #[error("too many actions are waiting: call poll_action after every input")]
    ActionsNotPolled,
    /// A send-queue result arrived although no `QuerySendQueue` was outstanding.
    #[error("a send-queue result arrived without a QuerySendQueue")]
    UnsolicitedSendQueue,
    /// More bytes unacknowledged than were ever written, plus one for the FIN.
    #[error("the send queue holds {unacked} unacked bytes, but only {limit} were ever sent")]
    UnackedExceedsWritten {
        /// The figure reported.
        unacked: u32,
        /// Bytes written plus one for the FIN.
        limit: u64,
    },
    /// After shutdown nothing new enters the send queue, so it can only shrink.
    #[error("the send queue grew from {previous} to {unacked} after the write side was shut")]
    UnackedGrew {
        /// The previous figure.
        previous: u32,
        /// The figure reported.
        unacked: u32,
    },
}
