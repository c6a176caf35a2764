//! The transitions of the model's Linux kernel rules: each input to our kernel ([`Logged`])
//! named by the condition of `Kernel` that decided it, read off the kernel before the input,
//! so the replay can say which rules a trace exercised and the covering set can hold the
//! shortest trace through each.
//!
//! Where one of `Kernel`'s decisions rests on more than one condition (an ACK that covers our
//! data but not our FIN, a FIN that waits for the window or for the data, an error pending with
//! and without the peer's FIN, a socket readable for its data, its EOF, its error or its end),
//! each condition that can decide alone is a transition of its own (MC/DC's rule: a trace where
//! each condition is seen to matter), so the replay compares the kernel with the model in each
//! case, not only in the one a small bound makes common. A transition is named by the situation
//! before the input, never by the model's answer: a model that answers wrongly still has to
//! answer, and the replay compares the answer.
//!
//! These names only label what the model did; what the kernel should do is never predicted
//! here, it is the model's own `Kernel` that the replay compares with the real one.

use crate::kernel::{Dead, Fin, Kernel, Segment, SoError};
use crate::strategy::{Call, Input, Logged};
use core::fmt;
use linger_io::acks::TcpState;

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
    /// `close()` over unread data once both sides have closed (TIME_WAIT, or CLOSED after
    /// LAST_ACK): the connection is over, nothing is sent.
    CloseOverUnreadClosedBothWays,
    /// Data for a socket the application closed is answered with RST.
    DataAfterCloseAnsweredWithRst,
    /// `close()` with nothing unread queues the FIN behind the data.
    CloseQueuesFin,
    /// `close()` after `shutdown`: the FIN is already queued.
    CloseAfterShutdown,
    /// `close()` of a connection reset or timed out.
    CloseOfADeadConnection,
    /// `close()` with nothing unread once both sides have closed.
    CloseClosedBothWays,
    /// The closed socket's kernel sends the rest of the data on its own as the window opens.
    OrphanSendsOnItsOwn,
    /// ... and its FIN.
    OrphanSendsItsFin,
    /// A RST arrives: the connection is dropped, `ECONNRESET` pending.
    ResetReceived,
    /// ... with data unsent, which it drops.
    ResetDropsUnsent,
    /// ... in CLOSING or LAST_ACK, our FIN unacknowledged (macOS leaves no error there; Linux
    /// does).
    ResetWhileClosing,
    /// A read after a reset returns the data received before it.
    ReadDataAfterReset,
    /// A read takes the pending `ECONNRESET` (no FIN from the peer).
    ReadTakesReset,
    /// A read of a connection that is over, its error taken and no FIN received: EOF.
    ReadEofOfADeadConnection,
    /// A connection our kernel reset (a close over unread data, data after close, an abort)
    /// answers what arrives later with RST again: no socket has it.
    AnsweredWithRstAfterOurReset,
    /// A RST arrives after the peer's FIN.
    ResetAfterPeerFin,
    /// With the peer's FIN in and `ECONNRESET` pending, a read returns EOF and leaves the error.
    ReadEofWithResetPending,
    /// The poller reports a socket readable for its pending error alone (no data, no FIN).
    PollerWokenByError,
    /// ... for the end of its connection alone (no data, no FIN, the error taken).
    PollerWokenByADeadConnection,
    /// `SIOCOUTQ` counts data not acknowledged.
    SendQueueCountsData,
    /// `SIOCOUTQ` counts a FIN queued and not sent.
    SendQueueCountsFinQueued,
    /// `SIOCOUTQ` counts a FIN sent and not acknowledged.
    SendQueueCountsFinSent,
    /// `SIOCOUTQ` is 0 with everything acknowledged.
    SendQueueEmpty,
    /// `SIOCOUTQ` keeps its figure after a reset.
    SendQueueKeptAfterReset,
    /// `shutdown` fails with `ENOTCONN` after a reset.
    ShutdownRefusedAfterReset,
    /// `shutdown` fails with `ENOTCONN` in TIME_WAIT (we closed first).
    ShutdownRefusedInTimeWait,
    /// `shutdown` fails with `ENOTCONN` in CLOSED after LAST_ACK (we closed second).
    ShutdownRefusedAfterLastAck,
    /// A RST in TIME_WAIT is ignored.
    ResetIgnoredInTimeWait,
    /// A RST in CLOSED after LAST_ACK is ignored.
    ResetIgnoredAfterLastAck,
    /// `shutdown` with the data all sent and room in the window: the FIN goes at once.
    ShutdownSendsFin,
    /// `shutdown` with data unsent: the FIN queues behind it.
    ShutdownQueuesFinBehindData,
    /// `shutdown` again: nothing more.
    ShutdownAgain,
    /// An ACK lets the last data out, and the FIN with it, the window reaching past both.
    FinSentWithTheLastData,
    /// An ACK lets a run of two or more segments out whole, and the FIN riding on it goes past
    /// the window's edge.
    FinRidesPastTheWindow,
    /// The last data segment, the FIN riding on it, and room in the window for the data alone:
    /// both held.
    LastSegmentHeldWithTheFin,
    /// The persist timer's probe sends the held last segment, without the FIN.
    ProbeSendsTheHeldSegment,
    /// An ACK makes room for the FIN alone, the data all sent before.
    FinLetOutByAnAck,
    /// The FIN queued with the data all sent and the peer's window full: held back.
    FinHeldByWindow,
    /// `shutdown` with the data all sent and no room left for the FIN.
    ShutdownFinHeldByWindow,
    /// A write sends what the window allows.
    WriteSends,
    /// A write leaves data waiting for the window.
    WriteHeldByWindow,
    /// An ACK opens the window and more data goes out.
    WindowOpens,
    /// ... but not all of it: the rest waits.
    WindowOpensPartly,
    /// An ACK acknowledges data.
    AckAcknowledgesData,
    /// An ACK acknowledges our FIN.
    AckAcknowledgesFin,
    /// An ACK acknowledges data behind which our FIN is in flight, and not the FIN.
    AckCoversDataNotFin,
    /// An ACK acknowledges nothing new and moves the window's edge.
    AckMovesTheWindowOnly,
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
    /// The poller reports a socket readable for its data.
    PollerWokenByData,
    /// ... for the peer's EOF alone.
    PollerWokenByEof,
    /// ... and not readable.
    PollerNotWoken,
    /// `SO_ERROR` takes the pending reset.
    TakeErrorReset,
    /// `SO_ERROR` with nothing pending.
    TakeErrorNone,
    /// The application aborts: RST.
    AbortResets,
    /// The application aborts in CLOSING or LAST_ACK with something unsent: RST.
    AbortResetsWhileClosingWithSomethingUnsent,
    /// The application aborts in CLOSING or LAST_ACK with everything sent: dropped without a
    /// RST.
    AbortQuietlyWhileClosing,
    /// A connection so aborted answers what arrives with RST.
    AnsweredWithRstAfterAQuietAbort,
    /// A connection closed second, our FIN acknowledged (CLOSED), answers what arrives with
    /// RST.
    AnsweredWithRstAfterLastAck,
    /// The application aborts a connection reset or timed out: nothing is sent.
    AbortOfADeadConnection,
    /// The application aborts a connection closed both ways: nothing is sent.
    AbortClosedBothWays,
    /// The connection enters CLOSE_WAIT: the peer's FIN first.
    EntersCloseWait,
    /// ... FIN_WAIT1: our FIN queued first.
    EntersFinWait1,
    /// ... FIN_WAIT2: our FIN acknowledged, the peer's not in.
    EntersFinWait2,
    /// ... CLOSING: the peer's FIN in while ours is unacknowledged, ours first.
    EntersClosing,
    /// ... LAST_ACK: our FIN queued after the peer's.
    EntersLastAck,
    /// ... TIME_WAIT: both FINs acknowledged, ours first.
    EntersTimeWait,
    /// ... CLOSED: our FIN acknowledged in LAST_ACK.
    EntersClosedAfterLastAck,
    /// Our kernel gives up retransmitting data: `ETIMEDOUT` pending, no RST.
    GiveUpWithDataUnacked,
    /// ... its FIN alone unacknowledged, the data all acknowledged.
    GiveUpWithOnlyTheFin,
    /// ... with data unsent, which it drops.
    GiveUpDropsUnsent,
    /// ... after the peer's FIN (CLOSE_WAIT, LAST_ACK).
    GiveUpAfterPeerFin,
    /// ... at the persist timer, whose probe first sends the segment held for the window.
    GiveUpAfterAProbe,
    /// `SIOCOUTQ` keeps its figure after the timeout.
    SendQueueKeptAfterTimeout,
    /// A read takes the pending `ETIMEDOUT` (no FIN from the peer).
    ReadTakesTimeout,
    /// With the peer's FIN in and `ETIMEDOUT` pending, a read returns EOF and leaves the error.
    ReadEofWithTimeoutPending,
    /// A read after giving up returns the data received before.
    ReadDataAfterGivingUp,
    /// `SO_ERROR` takes the pending `ETIMEDOUT`.
    TakeErrorTimeout,
    /// `shutdown` fails with `ENOTCONN` after giving up.
    ShutdownRefusedAfterTimeout,
    /// After giving up, a segment from the peer is answered with RST.
    AnsweredWithRstAfterGivingUp,
    /// After giving up, a RST from the peer is answered with nothing.
    RstAfterGivingUpNotAnswered,
}

/// Why no trace reaches a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreached {
    /// No path of the model reaches it, at any bound: the reason.
    Impossible(&'static str),
}

impl fmt::Display for Unreached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreached::Impossible(why) => write!(f, "impossible in the model: {why}"),
        }
    }
}

impl Transition {
    /// The rule of docs/model.md's table this transition belongs to.
    pub fn rule(self) -> &'static str {
        use Transition::*;
        match self {
            CloseOverUnreadResets | CloseOverUnreadDropsUnsent | CloseOverUnreadClosedBothWays => {
                "close() with unread data sends RST and drops unsent data"
            }
            DataAfterCloseAnsweredWithRst => "data arriving after close() is answered with RST",
            CloseQueuesFin
            | CloseAfterShutdown
            | CloseOfADeadConnection
            | CloseClosedBothWays
            | OrphanSendsOnItsOwn
            | OrphanSendsItsFin => {
                "close() with nothing unread queues the FIN behind the data, and the kernel sends both on its own"
            }
            ResetReceived
            | ResetDropsUnsent
            | ResetWhileClosing
            | ReadDataAfterReset
            | ReadTakesReset
            | ReadEofOfADeadConnection => {
                "a RST received leaves received data readable; then a read returns ECONNRESET, once; then EOF"
            }
            ResetAfterPeerFin | ReadEofWithResetPending => {
                "after the peer's FIN, a RST leaves the error pending and reads return EOF"
            }
            PollerWokenByError | PollerWokenByADeadConnection => {
                "a pending error makes the socket readable to the poller"
            }
            SendQueueCountsData
            | SendQueueCountsFinQueued
            | SendQueueCountsFinSent
            | SendQueueEmpty => "SIOCOUTQ = data not acknowledged + 1 for an unacknowledged FIN",
            SendQueueKeptAfterReset => "SIOCOUTQ keeps its figure after a reset",
            ShutdownRefusedAfterReset => {
                "shutdown fails with ENOTCONN after a reset, the error pending"
            }
            ShutdownRefusedInTimeWait | ShutdownRefusedAfterLastAck => {
                "shutdown fails with ENOTCONN once both sides closed gracefully, no error pending"
            }
            ResetIgnoredInTimeWait | ResetIgnoredAfterLastAck => {
                "a connection closed both ways ignores what comes later"
            }
            ShutdownSendsFin
            | ShutdownQueuesFinBehindData
            | ShutdownAgain
            | FinSentWithTheLastData
            | FinLetOutByAnAck => "the FIN follows the data",
            FinHeldByWindow
            | ShutdownFinHeldByWindow
            | FinRidesPastTheWindow
            | LastSegmentHeldWithTheFin
            | ProbeSendsTheHeldSegment => "the FIN takes a place in the peer's window",
            WriteSends
            | WriteHeldByWindow
            | WindowOpens
            | WindowOpensPartly
            | AckAcknowledgesData
            | AckAcknowledgesFin
            | AckCoversDataNotFin
            | AckMovesTheWindowOnly => {
                "sending respects the window, which opens as the receiver reads"
            }
            DataReceived
            | FinReceived
            | ReadData
            | ReadWouldBlock
            | ReadEof
            | PollerWokenByData
            | PollerWokenByEof
            | PollerNotWoken
            | TakeErrorReset
            | TakeErrorNone
            | AbortResets
            | AbortOfADeadConnection
            | AbortClosedBothWays => "the socket calls and segments every rule rests on",
            AbortResetsWhileClosingWithSomethingUnsent | AbortQuietlyWhileClosing => {
                "an abort resets a connection, in CLOSING and LAST_ACK only while something is unsent"
            }
            AnsweredWithRstAfterOurReset
            | AnsweredWithRstAfterAQuietAbort
            | AnsweredWithRstAfterLastAck => {
                "a connection in CLOSED answers every segment but a RST with RST"
            }
            EntersCloseWait
            | EntersFinWait1
            | EntersFinWait2
            | EntersClosing
            | EntersLastAck
            | EntersTimeWait
            | EntersClosedAfterLastAck => {
                "the TCP state follows from the FINs sent, received and acknowledged"
            }
            GiveUpWithDataUnacked
            | GiveUpWithOnlyTheFin
            | GiveUpDropsUnsent
            | GiveUpAfterPeerFin
            | GiveUpAfterAProbe
            | SendQueueKeptAfterTimeout
            | ReadTakesTimeout
            | ReadEofWithTimeoutPending
            | ReadDataAfterGivingUp
            | TakeErrorTimeout
            | ShutdownRefusedAfterTimeout
            | AnsweredWithRstAfterGivingUp
            | RstAfterGivingUpNotAnswered => {
                "a retransmission timeout leaves ETIMEDOUT pending and SIOCOUTQ as it was, sends no RST, and answers the peer's next segment with one"
            }
        }
    }

    /// Why no trace of the model reaches this transition at any bound, for those none can
    /// (`cargo test` checks that the covering set reaches every other one, and none of these).
    pub fn unreached(self) -> Option<Unreached> {
        use Transition::*;
        match self {
            ShutdownRefusedAfterTimeout => Some(Unreached::Impossible(
                "every strategy shuts down writing no later than the step in which it decides \
                 to close, and our kernel gives up only after that decision",
            )),
            TakeErrorTimeout => Some(Unreached::Impossible(
                "on Linux the driver reads SO_ERROR only after shutdown is refused, which a \
                 connection that timed out never meets (ShutdownRefusedAfterTimeout)",
            )),
            ShutdownRefusedAfterLastAck => Some(Unreached::Impossible(
                "handover, the one strategy that shuts down twice, makes its first call at the \
                 start, before the peer can have sent its FIN: our side always closes first \
                 (TIME_WAIT), never second (LAST_ACK)",
            )),
            ResetIgnoredAfterLastAck => Some(Unreached::Impossible(
                "the peer's kernel, Linux's, sends no RST once it has acknowledged our FIN (it \
                 is in TIME_WAIT, where an abort resets nothing), and a RST it sent before \
                 reaches us, over the in-order wire, before that acknowledgement does",
            )),
            ReadEofOfADeadConnection | PollerWokenByADeadConnection => Some(Unreached::Impossible(
                "no strategy uses its socket once a read or SO_ERROR has taken the error \
                     that ended the connection (the machine's close ends there), and without \
                     the peer's FIN that is the only way to a connection over with no error \
                     pending",
            )),
            _ => None,
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
        match logged.input {
            Input::Receive(segment) => received(before, after, segment, &mut add),
            Input::GiveUp => {
                add(before.acked < before.written, GiveUpWithDataUnacked);
                add(before.acked == before.written, GiveUpWithOnlyTheFin);
                add(before.written > before.sent, GiveUpDropsUnsent);
                add(before.peer_fin, GiveUpAfterPeerFin);
                add(before.probe_due(), GiveUpAfterAProbe);
            }
            Input::Probe => add(before.probe_due(), ProbeSendsTheHeldSegment),
            Input::Call(call) => called(before, after, call, &mut add),
        }
        add(fin_held(after) && !fin_held(before), FinHeldByWindow);
        add(
            last_held(after) && !last_held(before),
            LastSegmentHeldWithTheFin,
        );
        let state = after.tcp_state();
        if state != before.tcp_state() && after.dead.is_none() {
            let entered = match state {
                TcpState::CloseWait => Some(EntersCloseWait),
                TcpState::FinWait1 => Some(EntersFinWait1),
                TcpState::FinWait2 => Some(EntersFinWait2),
                TcpState::Closing => Some(EntersClosing),
                TcpState::LastAck => Some(EntersLastAck),
                TcpState::TimeWait => Some(EntersTimeWait),
                TcpState::Closed => Some(EntersClosedAfterLastAck),
                _ => None,
            };
            if let Some(entered) = entered {
                found.push(entered);
            }
        }
        found
    }
}

/// The transitions of a segment reaching our kernel.
fn received(
    before: &Kernel,
    after: &Kernel,
    segment: Segment,
    add: &mut impl FnMut(bool, Transition),
) {
    use Transition::*;
    if before.tcp_state() == TcpState::Closed {
        let answered = segment != Segment::Rst;
        match before.dead {
            Some(Dead::TimedOut) => {
                add(answered, AnsweredWithRstAfterGivingUp);
                add(!answered, RstAfterGivingUpNotAnswered);
            }
            Some(Dead::AbortedQuietly) => add(answered, AnsweredWithRstAfterAQuietAbort),
            Some(Dead::ResetByPeer) => {}
            Some(_) => add(answered, AnsweredWithRstAfterOurReset),
            None => {
                add(answered, AnsweredWithRstAfterLastAck);
                add(!answered, ResetIgnoredAfterLastAck);
            }
        }
        return;
    }
    match segment {
        Segment::Data => {
            add(!before.fd_open, DataAfterCloseAnsweredWithRst);
            add(before.fd_open, DataReceived);
        }
        Segment::Fin => add(true, FinReceived),
        Segment::Ack {
            received,
            fin,
            window_end,
        } => {
            let acks_data = received > before.acked;
            let fin_in_flight = before.fin == Fin::Sent;
            add(acks_data, AckAcknowledgesData);
            add(fin && fin_in_flight, AckAcknowledgesFin);
            add(acks_data && !fin && fin_in_flight, AckCoversDataNotFin);
            add(
                !acks_data && !fin && window_end > before.window_end,
                AckMovesTheWindowOnly,
            );
            let sends = after.sent > before.sent;
            add(sends, WindowOpens);
            add(sends && after.sent < after.written, WindowOpensPartly);
            add(sends && !before.fd_open, OrphanSendsOnItsOwn);
            let fin_goes = before.fin == Fin::Queued && after.fin == Fin::Sent;
            let past_the_edge = after.window_end == after.written;
            add(fin_goes && sends && !past_the_edge, FinSentWithTheLastData);
            add(fin_goes && sends && past_the_edge, FinRidesPastTheWindow);
            add(fin_goes && !sends, FinLetOutByAnAck);
            add(fin_goes && !before.fd_open, OrphanSendsItsFin);
        }
        Segment::Rst => {
            let state = before.tcp_state();
            add(state == TcpState::TimeWait, ResetIgnoredInTimeWait);
            let reset = !before.disconnected();
            add(reset, ResetReceived);
            add(reset && before.written > before.sent, ResetDropsUnsent);
            add(reset && before.peer_fin, ResetAfterPeerFin);
            add(
                matches!(state, TcpState::Closing | TcpState::LastAck),
                ResetWhileClosing,
            );
        }
    }
}

/// The transitions of a call our application made.
fn called(before: &Kernel, after: &Kernel, call: Call, add: &mut impl FnMut(bool, Transition)) {
    use Transition::*;
    let alive = before.dead.is_none();
    let closed_both_ways = alive && before.disconnected();
    match call {
        Call::Write(_) => {
            add(after.sent > before.sent, WriteSends);
            add(after.written > after.sent, WriteHeldByWindow);
        }
        Call::Read(_) => read(before, add),
        Call::ShutdownWrite(_) => {
            let state = before.tcp_state();
            add(
                before.dead == Some(Dead::ResetByPeer),
                ShutdownRefusedAfterReset,
            );
            add(
                before.dead == Some(Dead::TimedOut),
                ShutdownRefusedAfterTimeout,
            );
            add(
                alive && state == TcpState::TimeWait,
                ShutdownRefusedInTimeWait,
            );
            add(
                alive && state == TcpState::Closed,
                ShutdownRefusedAfterLastAck,
            );
            let queues = !before.disconnected() && before.fin == Fin::None;
            add(!before.disconnected() && !queues, ShutdownAgain);
            let all_sent = before.sent == before.written;
            let room = before.window_end > before.written;
            add(queues && !all_sent, ShutdownQueuesFinBehindData);
            add(queues && all_sent && room, ShutdownSendsFin);
            add(queues && all_sent && !room, ShutdownFinHeldByWindow);
        }
        Call::Close | Call::LingeringClose => {
            let open = alive && !closed_both_ways;
            let unread = before.unread() > 0;
            add(open && unread, CloseOverUnreadResets);
            add(
                open && unread && before.written > before.sent,
                CloseOverUnreadDropsUnsent,
            );
            add(closed_both_ways && unread, CloseOverUnreadClosedBothWays);
            add(closed_both_ways && !unread, CloseClosedBothWays);
            add(!alive, CloseOfADeadConnection);
            add(open && !unread && before.fin == Fin::None, CloseQueuesFin);
            add(
                open && !unread && before.fin != Fin::None,
                CloseAfterShutdown,
            );
        }
        Call::Abort => {
            let closing = matches!(before.tcp_state(), TcpState::Closing | TcpState::LastAck);
            let all_sent = before.sent == before.written && before.fin != Fin::Queued;
            add(alive && !closed_both_ways && !closing, AbortResets);
            add(
                closing && !all_sent,
                AbortResetsWhileClosingWithSomethingUnsent,
            );
            add(closing && all_sent, AbortQuietlyWhileClosing);
            add(!alive, AbortOfADeadConnection);
            add(closed_both_ways, AbortClosedBothWays);
        }
        Call::SendQueue(_) | Call::SendQueueAfterTheEnd(Some(_)) => send_queue(before, add),
        Call::TakeError(_) => match before.error {
            Some(SoError::Reset) => add(true, TakeErrorReset),
            Some(SoError::TimedOut) => add(true, TakeErrorTimeout),
            None => add(true, TakeErrorNone),
        },
        Call::Readable(_) => {
            let data = before.unread() > 0;
            let eof = !data && before.peer_fin;
            let error = !data && !eof && before.error.is_some();
            let over = !data && !eof && !error && !alive;
            add(data, PollerWokenByData);
            add(eof, PollerWokenByEof);
            add(error, PollerWokenByError);
            add(over, PollerWokenByADeadConnection);
            add(!data && !eof && !error && !over, PollerNotWoken);
        }
        Call::SetCork(_) | Call::TcpInfo(_) | Call::SendQueueAfterTheEnd(None) => {}
    }
}

/// The transitions of a read: what decides its answer, from the kernel before it.
fn read(before: &Kernel, add: &mut impl FnMut(bool, Transition)) {
    use Transition::*;
    if before.unread() > 0 {
        add(before.dead.is_none(), ReadData);
        add(before.dead == Some(Dead::ResetByPeer), ReadDataAfterReset);
        add(before.dead == Some(Dead::TimedOut), ReadDataAfterGivingUp);
        return;
    }
    let fin = before.peer_fin;
    match before.error {
        Some(SoError::Reset) => {
            add(!fin, ReadTakesReset);
            add(fin, ReadEofWithResetPending);
        }
        Some(SoError::TimedOut) => {
            add(!fin, ReadTakesTimeout);
            add(fin, ReadEofWithTimeoutPending);
        }
        None => {
            add(fin, ReadEof);
            add(!fin && before.dead.is_some(), ReadEofOfADeadConnection);
            add(!fin && before.dead.is_none(), ReadWouldBlock);
        }
    }
}

/// The FIN queued behind data all sent, and the window full.
fn fin_held(kernel: &Kernel) -> bool {
    kernel.dead.is_none() && kernel.fin == Fin::Queued && kernel.sent == kernel.written
}

/// The FIN queued on the last data segment, both unsent, and the window with room for the data
/// alone or none.
fn last_held(kernel: &Kernel) -> bool {
    kernel.dead.is_none()
        && kernel.fin == Fin::Queued
        && kernel.written - kernel.sent == 1
        && kernel.window_end <= kernel.written
}

/// The transitions of a send-queue query: what the figure is made of, from the kernel's state.
fn send_queue(kernel: &Kernel, add: &mut impl FnMut(bool, Transition)) {
    use Transition::*;
    let data = kernel.written > kernel.acked;
    let fin = matches!(kernel.fin, Fin::Queued | Fin::Sent);
    match kernel.dead {
        Some(Dead::ResetByPeer) => add(data || fin, SendQueueKeptAfterReset),
        Some(Dead::TimedOut) => add(data || fin, SendQueueKeptAfterTimeout),
        _ => {}
    }
    add(!data && !fin, SendQueueEmpty);
    add(kernel.fin == Fin::Queued, SendQueueCountsFinQueued);
    add(kernel.fin == Fin::Sent, SendQueueCountsFinSent);
    add(data, SendQueueCountsData);
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}
