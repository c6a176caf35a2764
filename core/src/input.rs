//! What goes into the machine: the driver's observations and the application's intents.

use core::fmt;

/// What the driver observed on the socket, fed to
/// [`CloseMachine::handle`](crate::CloseMachine::handle).
///
/// Results of an [`Action`](crate::Action) must be reported before the next action is polled:
/// a [`QuerySendQueue`](crate::Action::QuerySendQueue) is answered by [`Event::SendQueue`],
/// [`Event::DataAcked`] or [`Event::AcksUnobservable`]; a [`Discard`](crate::Action::Discard)
/// by one [`Event::Read`] per successful read, then [`Event::ReadBlocked`],
/// [`Event::PeerEof`], [`Event::Reset`] or [`Event::Failed`] unless its byte allowance ran
/// out first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Event {
    /// The kernel accepted this many bytes from the application.
    Wrote(u64),
    /// The poller reported the socket readable (or hung up).
    Readable,
    /// A read returned this many bytes (never zero: that is [`Event::PeerEof`]). While the
    /// machine is closing they were discarded; otherwise the application read them.
    Read(u32),
    /// A read would block: nothing is waiting to be read right now.
    ReadBlocked,
    /// A read returned 0: the peer shut down its write side.
    PeerEof,
    /// Before the close: the application asked to read and nothing was there, so it waits
    /// for the peer (a `poll_read` that returned `Pending`, a `read` that would block).
    ReadPending,
    /// Before the close: the application asked to write and the send buffer was full, so it
    /// waits for the peer to read (a `poll_write` that returned `Pending`).
    WritePending,
    /// The send queue holds this many bytes not yet acknowledged by the peer (Linux
    /// `SIOCOUTQ`, where our FIN counts as one byte).
    SendQueue {
        /// Bytes written but not acknowledged.
        unacked: u32,
    },
    /// Every byte written was acknowledged, but the platform cannot tell whether our FIN was
    /// (macOS once the connection has ended: XNU closes it the same way when the peer
    /// acknowledges our FIN and when it resets instead, without a pending error). Nothing more
    /// can be learnt; the outcome says [`Ending::DataAcked`](crate::Ending::DataAcked).
    DataAcked,
    /// This platform cannot tell what the peer acknowledged; the outcome will say "unknown".
    AcksUnobservable,
    /// The peer reset the connection (`ECONNRESET`, or `EPIPE` after a RST).
    Reset,
    /// Any other error that ends the connection.
    Failed,
}

/// What the application asks of the connection; each has a method on
/// [`CloseMachine`](crate::CloseMachine) and is named in [`Error::NotAllowed`](crate::Error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Intent {
    /// Hold partial segments until `uncork`, `flush` or `close`.
    Cork,
    /// Release held segments and return to the Nagle policy.
    Uncork,
    /// Push out whatever partial segment is held, staying in the current mode.
    Flush,
    /// Half-close: send our FIN; reads keep going to the application.
    ShutdownWrite,
    /// Close gracefully: shut down writing, drain, wait for acknowledgements, release.
    Close,
    /// Reset the connection now (`SO_LINGER {1, 0}` + `close()`).
    Abort,
    /// Under pressure, release this lingering close at the latest after the given time
    /// (Apache's short linger, applied to a close already under way).
    ShortenBudget(core::time::Duration),
    /// Before the close: the application holds a request it works on until its answer ends
    /// (one per request in flight).
    Hold,
    /// Before the close: the answer to a request held is out.
    Answered,
    /// Before the close: the application took the connection over for another protocol (an
    /// HTTP upgrade, a WebSocket): only the send timeout guards it from now on.
    Upgrade,
    /// Before the close: from now on the application holds every request it works on, so a
    /// request it does not hold is one still arriving.
    HoldsRequests,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Wrote(bytes) => write!(f, "Wrote({bytes})"),
            Event::Readable => f.write_str("Readable"),
            Event::Read(bytes) => write!(f, "Read({bytes})"),
            Event::ReadBlocked => f.write_str("ReadBlocked"),
            Event::PeerEof => f.write_str("PeerEof"),
            Event::ReadPending => f.write_str("ReadPending"),
            Event::WritePending => f.write_str("WritePending"),
            Event::SendQueue { unacked } => write!(f, "SendQueue({unacked})"),
            Event::DataAcked => f.write_str("DataAcked"),
            Event::AcksUnobservable => f.write_str("AcksUnobservable"),
            Event::Reset => f.write_str("Reset"),
            Event::Failed => f.write_str("Failed"),
        }
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Intent::Cork => "cork",
            Intent::Uncork => "uncork",
            Intent::Flush => "flush",
            Intent::ShutdownWrite => "shutdown_write",
            Intent::Close => "close",
            Intent::Abort => "abort",
            Intent::ShortenBudget(_) => "shorten_budget",
            Intent::Hold => "hold",
            Intent::Answered => "answered",
            Intent::Upgrade => "upgrade",
            Intent::HoldsRequests => "holds_requests",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Event;

    #[test]
    fn events_display_as_they_are_written() {
        let table = [
            (Event::Wrote(3), "Wrote(3)"),
            (Event::Readable, "Readable"),
            (Event::Read(4), "Read(4)"),
            (Event::ReadBlocked, "ReadBlocked"),
            (Event::PeerEof, "PeerEof"),
            (Event::ReadPending, "ReadPending"),
            (Event::WritePending, "WritePending"),
            (Event::SendQueue { unacked: 5 }, "SendQueue(5)"),
            (Event::DataAcked, "DataAcked"),
            (Event::AcksUnobservable, "AcksUnobservable"),
            (Event::Reset, "Reset"),
            (Event::Failed, "Failed"),
        ];
        for (event, shown) in table {
            assert_eq!(event.to_string(), shown);
        }
    }
}
