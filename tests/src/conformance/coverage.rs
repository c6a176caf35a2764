//! The transitions of the model's Linux kernel rules: each input to our kernel
//! ([`Logged`]) named by the branch of `Kernel` it took, read off the kernel before and after
//! it, so the replay can say which rules a trace exercised and the covering set can hold the
//! shortest trace through each.
//!
//! These names only label what the model did; what the kernel should do is never predicted
//! here, it is the model's own `Kernel` that the replay compares with the real one.

use crate::model::kernel::{Dead, Fin, Kernel, Read, Segment, SoError};
use crate::model::strategy::{Call, Input, Logged};
use core::fmt;

/// Declares [`Transition`] and [`Transition::ALL`] from one list.
macro_rules! transitions {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// One transition of a Linux kernel rule, grouped by the rule of docs/model.md ("Linux's
        /// rules") it belongs to.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Transition {
            $($(#[doc = $doc])* $name,)*
        }

        impl Transition {
            /// Every transition, in the report's order.
            pub const ALL: &[Transition] = &[$(Transition::$name,)*];
        }
    };
}

transitions! {
    /// `close()` over unread data sends RST.
    CloseOverUnreadResets,
    /// ... and drops the data not sent yet.
    CloseOverUnreadDropsUnsent,
    /// Data for a socket the application closed is answered with RST.
    DataAfterCloseAnsweredWithRst,
    /// `close()` with nothing unread queues the FIN behind the data.
    CloseQueuesFin,
    /// `close()` after `shutdown`: the FIN is already queued.
    CloseAfterShutdown,
    /// `close()` of a connection that is over.
    CloseWhenOver,
    /// The closed socket's kernel sends the rest on its own as the window opens.
    OrphanSendsOnItsOwn,
    /// A RST arrives: the connection is dropped, `ECONNRESET` pending.
    ResetReceived,
    /// ... with data unsent, which it drops.
    ResetDropsUnsent,
    /// ... after the peer's FIN.
    ResetAfterPeerFin,
    /// A read after a reset returns the data received before it.
    ReadDataAfterReset,
    /// A read takes the pending `ECONNRESET`.
    ReadTakesReset,
    /// With the peer's FIN in and an error pending, a read returns EOF and leaves the error.
    ReadEofWithErrorPending,
    /// The poller reports a socket readable for its pending error or its end alone.
    PollerWokenByError,
    /// `SIOCOUTQ` counts data not acknowledged.
    SendQueueCountsData,
    /// `SIOCOUTQ` counts the FIN not acknowledged.
    SendQueueCountsFin,
    /// `SIOCOUTQ` is 0 with everything acknowledged.
    SendQueueEmpty,
    /// `SIOCOUTQ` keeps its figure after a reset.
    SendQueueKeptAfterReset,
    /// `shutdown` fails with `ENOTCONN` after a reset.
    ShutdownRefusedAfterReset,
    /// `shutdown` fails with `ENOTCONN` once both sides closed.
    ShutdownRefusedClosedBothWays,
    /// `shutdown` sends the FIN at once.
    ShutdownSendsFin,
    /// `shutdown` queues the FIN behind unsent data.
    ShutdownQueuesFinBehindData,
    /// `shutdown` again: nothing more.
    ShutdownAgain,
    /// A connection closed both ways ignores a RST.
    ResetIgnoredClosedBothWays,
    /// The FIN follows the last data, sent as the ACK that lets it out arrives.
    FinFollowsTheData,
    /// The FIN takes room in the peer's window: a full window holds it back.
    FinHeldByWindow,
    /// A write sends what the window allows.
    WriteSends,
    /// A write leaves data waiting for the window.
    WriteHeldByWindow,
    /// An ACK opens the window and more data goes out.
    WindowOpens,
    /// An ACK acknowledges data.
    AckAcknowledgesData,
    /// An ACK acknowledges our FIN.
    AckAcknowledgesFin,
    /// Data arrives and is acknowledged.
    DataReceived,
    /// The peer's FIN arrives and is acknowledged.
    FinReceived,
    /// A read returns one segment.
    ReadData,
    /// A read finds nothing (`EWOULDBLOCK`).
    ReadWouldBlock,
    /// A read returns the peer's EOF.
    ReadEof,
    /// `SO_ERROR` takes the pending reset.
    TakeErrorReset,
    /// `SO_ERROR` with nothing pending.
    TakeErrorNone,
    /// Our kernel gives up retransmitting: `ETIMEDOUT` pending, no RST.
    GiveUp,
    /// ... with data unsent, which it drops.
    GiveUpDropsUnsent,
    /// `SIOCOUTQ` keeps its figure after the timeout.
    SendQueueKeptAfterTimeout,
    /// A read takes the pending `ETIMEDOUT`.
    ReadTakesTimeout,
    /// After giving up, a segment from the peer is answered with RST.
    AnsweredWithRstAfterGivingUp,
    /// A kernel that reset or was reset drops what arrives.
    DeadKernelDrops,
    /// The application aborts: RST.
    AbortResets,
}

impl Transition {
    /// The rule of docs/model.md's table this transition belongs to.
    pub fn rule(self) -> &'static str {
        use Transition::*;
        match self {
            CloseOverUnreadResets | CloseOverUnreadDropsUnsent => {
                "close() with unread data sends RST and drops unsent data"
            }
            DataAfterCloseAnsweredWithRst => "data arriving after close() is answered with RST",
            CloseQueuesFin | CloseAfterShutdown | CloseWhenOver | OrphanSendsOnItsOwn => {
                "close() with nothing unread queues the FIN behind the data, and the kernel sends both on its own"
            }
            ResetReceived | ResetDropsUnsent | ReadDataAfterReset | ReadTakesReset
            | DeadKernelDrops => {
                "a RST received leaves received data readable; then a read returns ECONNRESET, once; then EOF"
            }
            ResetAfterPeerFin | ReadEofWithErrorPending => {
                "after the peer's FIN, a RST leaves the error pending and reads return EOF"
            }
            PollerWokenByError => "a pending error makes the socket readable to the poller",
            SendQueueCountsData | SendQueueCountsFin | SendQueueEmpty => {
                "SIOCOUTQ = data not acknowledged + 1 for an unacknowledged FIN"
            }
            SendQueueKeptAfterReset => "SIOCOUTQ keeps its figure after a reset",
            ShutdownRefusedAfterReset => {
                "shutdown fails with ENOTCONN after a reset, the error pending"
            }
            ShutdownRefusedClosedBothWays => {
                "shutdown fails with ENOTCONN once both sides closed gracefully, no error pending"
            }
            ResetIgnoredClosedBothWays => "a connection closed both ways ignores what comes later",
            FinFollowsTheData | ShutdownSendsFin | ShutdownQueuesFinBehindData | ShutdownAgain => {
                "the FIN follows the data"
            }
            FinHeldByWindow => "the FIN takes a place in the peer's window",
            WriteSends | WriteHeldByWindow | WindowOpens | AckAcknowledgesData
            | AckAcknowledgesFin => {
                "sending respects the window, which opens as the receiver reads"
            }
            DataReceived | FinReceived | ReadData | ReadWouldBlock | ReadEof | TakeErrorReset
            | TakeErrorNone | AbortResets => "the socket calls and segments every rule rests on",
            GiveUp
            | GiveUpDropsUnsent
            | SendQueueKeptAfterTimeout
            | ReadTakesTimeout
            | AnsweredWithRstAfterGivingUp => {
                "a retransmission timeout leaves ETIMEDOUT pending and SIOCOUTQ as it was, sends no RST, and answers the peer's next segment with one"
            }
        }
    }

    /// The transitions `logged` took.
    pub fn of(logged: &Logged) -> Vec<Transition> {
        use Transition::*;
        let (before, after) = (&logged.before, &logged.after);
        let mut found = Vec::new();
        let mut add = |yes: bool, transition: Transition| {
            if yes {
                found.push(transition);
            }
        };
        let over = before.dead.is_some() || before.disconnected();
        match logged.input {
            Input::Receive(segment) => {
                let dead_before = before.dead.is_some();
                add(
                    after.dead == Some(Dead::DataAfterClose) && !dead_before,
                    DataAfterCloseAnsweredWithRst,
                );
                add(after.received > before.received, DataReceived);
                add(after.peer_fin && !before.peer_fin, FinReceived);
                add(after.acked > before.acked, AckAcknowledgesData);
                add(
                    after.fin == Fin::Acked && before.fin != Fin::Acked,
                    AckAcknowledgesFin,
                );
                add(after.sent > before.sent, WindowOpens);
                add(
                    after.sent > before.sent && !after.fd_open,
                    OrphanSendsOnItsOwn,
                );
                add(
                    after.fin == Fin::Sent && before.fin == Fin::Queued,
                    FinFollowsTheData,
                );
                let reset = after.dead == Some(Dead::ResetByPeer) && !dead_before;
                add(reset, ResetReceived);
                add(reset && after.written > after.sent, ResetDropsUnsent);
                add(reset && before.peer_fin, ResetAfterPeerFin);
                add(
                    segment == Segment::Rst && !dead_before && before.disconnected(),
                    ResetIgnoredClosedBothWays,
                );
                add(
                    before.dead == Some(Dead::TimedOut) && segment != Segment::Rst,
                    AnsweredWithRstAfterGivingUp,
                );
                add(
                    dead_before && before.dead != Some(Dead::TimedOut),
                    DeadKernelDrops,
                );
            }
            Input::GiveUp => {
                add(after.dead == Some(Dead::TimedOut), GiveUp);
                add(after.written > after.sent, GiveUpDropsUnsent);
            }
            Input::Call(call) => match call {
                Call::Write(_) => {
                    add(after.sent > before.sent, WriteSends);
                    add(after.written > after.sent, WriteHeldByWindow);
                }
                Call::Read(read) => match read {
                    Read::Data => add(
                        true,
                        if before.dead == Some(Dead::ResetByPeer) {
                            ReadDataAfterReset
                        } else {
                            ReadData
                        },
                    ),
                    Read::WouldBlock => add(true, ReadWouldBlock),
                    Read::Error(SoError::Reset) => add(true, ReadTakesReset),
                    Read::Error(SoError::TimedOut) => add(true, ReadTakesTimeout),
                    Read::Eof if before.error.is_some() => add(true, ReadEofWithErrorPending),
                    Read::Eof => add(true, ReadEof),
                },
                Call::ShutdownWrite(Err(_)) => add(
                    true,
                    if before.dead.is_some() {
                        ShutdownRefusedAfterReset
                    } else {
                        ShutdownRefusedClosedBothWays
                    },
                ),
                Call::ShutdownWrite(Ok(())) => add(
                    true,
                    match (before.fin, after.fin) {
                        (Fin::None, Fin::Sent) => ShutdownSendsFin,
                        (Fin::None, _) => ShutdownQueuesFinBehindData,
                        _ => ShutdownAgain,
                    },
                ),
                Call::Close => {
                    let reset = after.dead == Some(Dead::ClosedOnUnread);
                    add(reset, CloseOverUnreadResets);
                    add(
                        reset && after.written > after.sent,
                        CloseOverUnreadDropsUnsent,
                    );
                    add(over, CloseWhenOver);
                    add(!over && !reset && before.fin == Fin::None, CloseQueuesFin);
                    add(
                        !over && !reset && before.fin != Fin::None,
                        CloseAfterShutdown,
                    );
                }
                Call::Abort => add(after.dead == Some(Dead::Aborted) && !over, AbortResets),
                Call::SendQueue(_) | Call::SendQueueAfterTheEnd(Some(_)) => {
                    send_queue(before, &mut add)
                }
                Call::TakeError(Some(SoError::Reset)) => add(true, TakeErrorReset),
                Call::TakeError(None) => add(true, TakeErrorNone),
                Call::Readable(true) => {
                    add(before.unread() == 0 && !before.peer_fin, PollerWokenByError)
                }
                Call::Readable(false)
                | Call::TakeError(Some(SoError::TimedOut))
                | Call::SetCork(_)
                | Call::TcpInfo(_)
                | Call::SendQueueAfterTheEnd(None) => {}
            },
        }
        add(fin_held(after) && !fin_held(before), FinHeldByWindow);
        found
    }
}

/// The FIN queued behind data all sent, and the window full.
fn fin_held(kernel: &Kernel) -> bool {
    kernel.dead.is_none() && kernel.fin == Fin::Queued && kernel.sent == kernel.written
}

fn send_queue(kernel: &Kernel, add: &mut impl FnMut(bool, Transition)) {
    use Transition::*;
    let figure = kernel.siocoutq();
    match kernel.dead {
        Some(Dead::ResetByPeer) => add(figure > 0, SendQueueKeptAfterReset),
        Some(Dead::TimedOut) => add(figure > 0, SendQueueKeptAfterTimeout),
        _ => {}
    }
    add(figure == 0, SendQueueEmpty);
    add(
        matches!(kernel.fin, Fin::Queued | Fin::Sent),
        SendQueueCountsFin,
    );
    add(kernel.written > kernel.acked, SendQueueCountsData);
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}
