//! From what a platform's kernel reports about a socket's send queue to the event the machine
//! is told: the decisions apart from the syscalls ([`sys`](crate::sys) gathers the figures),
//! so they are tested on every platform and run inside `linger-check`'s model.
//!
//! A figure of 0 is accepted as "every byte and our FIN acknowledged" only when nothing
//! contradicts it: no pending error (`SO_ERROR`) and, where the figure leaves out the FIN or
//! is dropped with the connection, a TCP state that proves it. Each function's doc says what
//! its kernel's figure counts, with the source read.
//!
//! | platform | figure | FIN counted | after a reset | proof of our FIN's ack |
//! |---|---|---|---|---|
//! | Linux | `SIOCOUTQ` | yes | kept | the figure |
//! | FreeBSD | `FIONWRITE` | no | 0 (buffer dropped) | `TCP_INFO` FIN_WAIT_2, TIME_WAIT; gone without an error after it was seen alive |
//! | macOS | `TCP_CONNECTION_INFO`'s `tcpi_snd_sbbytes` | no | kept | FIN_WAIT_2, TIME_WAIT |
//! | Windows | `SIO_TCP_INFO`: no figure (`BytesInFlight` leaves out what is not sent) | | | FIN_WAIT_2, TIME_WAIT |
//! | elsewhere | none | | | none: `AcksUnobservable` |

use crate::errors::event_for;
use linger::{Event, Stats};
use std::io;

/// A TCP connection's state, in RFC 793's names; each kernel numbers them its own way
/// ([`from_bsd`](Self::from_bsd), [`from_windows`](Self::from_windows)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// No connection (any more).
    Closed,
    /// Listening.
    Listen,
    /// Our SYN sent.
    SynSent,
    /// The peer's SYN received, ours sent.
    SynReceived,
    /// Open both ways.
    Established,
    /// The peer's FIN received; ours not queued.
    CloseWait,
    /// Our FIN queued or sent, not acknowledged; the peer's not received.
    FinWait1,
    /// Both FINs sent, ours not acknowledged: a simultaneous close.
    Closing,
    /// The peer's FIN received first; ours queued or sent, not acknowledged.
    LastAck,
    /// Our FIN acknowledged; the peer's not received.
    FinWait2,
    /// Both FINs sent and acknowledged, we closed first.
    TimeWait,
}

impl TcpState {
    /// FreeBSD's and XNU's numbering (`sys/netinet/tcp_fsm.h` in both, from 4.4BSD).
    pub fn from_bsd(state: u8) -> Option<TcpState> {
        use TcpState::*;
        [
            Closed,
            Listen,
            SynSent,
            SynReceived,
            Established,
            CloseWait,
            FinWait1,
            Closing,
            LastAck,
            FinWait2,
            TimeWait,
        ]
        .get(usize::from(state))
        .copied()
    }

    /// Windows' `TCPSTATE` (`TCP_INFO_v0.State`, `mstcpip.h`).
    pub fn from_windows(state: i32) -> Option<TcpState> {
        use TcpState::*;
        let states = [
            Closed,
            Listen,
            SynSent,
            SynReceived,
            Established,
            FinWait1,
            FinWait2,
            CloseWait,
            Closing,
            LastAck,
            TimeWait,
        ];
        usize::try_from(state)
            .ok()
            .and_then(|state| states.get(state))
            .copied()
    }

    /// Our FIN was acknowledged, and with it every byte before it.
    pub fn fin_acked(self) -> bool {
        matches!(self, TcpState::FinWait2 | TcpState::TimeWait)
    }
}

/// What to report, once it is known whether an error is pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Report this whatever is pending: it claims nothing a pending error would contradict.
    Report(Event),
    /// Report this only if no error is pending (`SO_ERROR`); a pending error is reported
    /// instead, as the event it stands for.
    UnlessError(Event),
}

impl Verdict {
    /// The event, reading the socket's pending error through `pending` only when the
    /// verdict depends on it. A pending error that cannot be read proves nothing: `Failed`.
    pub fn resolve(self, pending: impl FnOnce() -> io::Result<Option<io::Error>>) -> Event {
        match self {
            Verdict::Report(event) => event,
            Verdict::UnlessError(event) => match pending() {
                Ok(None) => event,
                Ok(Some(error)) => event_for(&error),
                Err(_) => Event::Failed,
            },
        }
    }
}

/// Linux: `SIOCOUTQ` is `write_seq - snd_una` (`net/ipv4/tcp.c`, `tcp_ioctl`): every byte not
/// acknowledged and our FIN, which takes a sequence number. A reset purges the write queue
/// but leaves both sequence numbers, so the figure stays what was not acknowledged. Taken as
/// it is, at the cost of that one `ioctl`.
pub fn linux(siocoutq: u32) -> Verdict {
    Verdict::Report(Event::SendQueue { unacked: siocoutq })
}

/// FreeBSD: `FIONWRITE` is `sbavail(&so->so_snd)` (`sys/kern/sys_socket.c`), the data not
/// acknowledged, sent or not, without the FIN; `soisdisconnected` (`sys/kern/uipc_socket.c`)
/// drops the whole send buffer when the connection ends, by a reset, a timeout or gracefully,
/// so the figure then reads 0 whatever was delivered. `state` is `TCP_INFO`'s `tcpi_state`,
/// `None` when the query failed: `tcp_ctloutput` answers `ECONNRESET` once the connection is
/// dropped (and, before FreeBSD 14, in TIME_WAIT), `sys/netinet/tcp_usrreq.c`.
///
/// While the connection lives the FIN adds one until the state proves it acknowledged. Once
/// it is gone, every abnormal end left an error pending (`tcp_input` sets `ECONNRESET` for a
/// reset in any synchronized state, `tcp_drop` `ETIMEDOUT`), so an end without one was
/// graceful: both FINs acknowledged. That holds only if nobody took the error before us,
/// which `seen_alive` (an earlier figure from this machine, whose own reads report every
/// error) guarantees; a socket handed over already ended proves nothing.
pub fn freebsd(fionwrite: u32, state: Option<TcpState>, seen_alive: bool) -> Verdict {
    match state {
        Some(state) if state.fin_acked() => {
            Verdict::UnlessError(Event::SendQueue { unacked: fionwrite })
        }
        None | Some(TcpState::Closed) if seen_alive => {
            Verdict::UnlessError(Event::SendQueue { unacked: 0 })
        }
        None | Some(TcpState::Closed) => Verdict::UnlessError(Event::AcksUnobservable),
        Some(_) => Verdict::Report(Event::SendQueue {
            unacked: fionwrite.saturating_add(1),
        }),
    }
}

/// macOS: `TCP_CONNECTION_INFO` gives `tcpi_state` and `tcpi_snd_sbbytes`, which is
/// `so_snd.sb_cc`, as `SO_NWRITE` is (`bsd/netinet/tcp_usrreq.c`, `bsd/kern/uipc_socket.c`):
/// the data not acknowledged, without the FIN. XNU keeps the send buffer when the connection
/// ends (`soisdisconnected` in `bsd/kern/uipc_socket2.c` drops nothing), so the figure stays
/// true, but `tcp_input` closes a connection reset in CLOSING or LAST_ACK without a pending
/// error (`bsd/netinet/tcp_input.c`): CLOSED without an error says nothing of our FIN. `None`:
/// the query failed (no protocol block any more).
pub fn macos(sbbytes: u32, state: Option<TcpState>) -> Verdict {
    match state {
        Some(state) if state.fin_acked() => {
            Verdict::UnlessError(Event::SendQueue { unacked: sbbytes })
        }
        Some(TcpState::Closed) if sbbytes == 0 => Verdict::UnlessError(Event::DataAcked),
        // Over, data unacknowledged, no reset reported: ended abnormally all the same.
        Some(TcpState::Closed) => Verdict::UnlessError(Event::Failed),
        None => Verdict::UnlessError(Event::AcksUnobservable),
        Some(_) => Verdict::Report(Event::SendQueue {
            unacked: sbbytes.saturating_add(1),
        }),
    }
}

/// Windows: `SIO_TCP_INFO` (`TCP_INFO_v0`, Windows 10 1703 and later) gives the state;
/// `BytesInFlight` leaves out the bytes queued but not sent yet, so no figure of it proves
/// anything and none is used. FIN_WAIT_2 and TIME_WAIT after our `shutdown(SD_SEND)` prove
/// every byte and our FIN acknowledged; until then the machine is told an upper bound that
/// never grows (its last figure, else the bytes written plus the FIN, else `u32::MAX`). A
/// connection gone, or a query that failed (`state` `None`), proves nothing.
pub fn windows(state: Option<TcpState>, stats: &Stats) -> Verdict {
    match state {
        Some(state) if state.fin_acked() => Verdict::UnlessError(Event::SendQueue { unacked: 0 }),
        None | Some(TcpState::Closed) => Verdict::UnlessError(Event::AcksUnobservable),
        Some(_) => {
            let written_and_fin = stats.bytes_written.map_or(u32::MAX, |written| {
                u32::try_from(written.saturating_add(1)).unwrap_or(u32::MAX)
            });
            Verdict::Report(Event::SendQueue {
                unacked: stats.unacked.unwrap_or(written_and_fin),
            })
        }
    }
}

/// Elsewhere (NetBSD, OpenBSD, illumos, ...): no send-queue figure linger reads.
pub fn unobservable() -> Verdict {
    Verdict::Report(Event::AcksUnobservable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use io::ErrorKind;

    const ACKED: Event = Event::SendQueue { unacked: 0 };

    fn nothing_pending() -> io::Result<Option<io::Error>> {
        Ok(None)
    }

    fn reset_pending() -> io::Result<Option<io::Error>> {
        Ok(Some(io::Error::from(ErrorKind::ConnectionReset)))
    }

    fn timed_out_pending() -> io::Result<Option<io::Error>> {
        Ok(Some(io::Error::from(ErrorKind::TimedOut)))
    }

    fn never_read() -> io::Result<Option<io::Error>> {
        panic!("the pending error was read for a verdict that does not depend on it")
    }

    #[test]
    fn bsd_and_windows_numberings_name_the_same_states() {
        assert_eq!(TcpState::from_bsd(9), Some(TcpState::FinWait2));
        assert_eq!(TcpState::from_bsd(10), Some(TcpState::TimeWait));
        assert_eq!(TcpState::from_bsd(8), Some(TcpState::LastAck));
        assert_eq!(TcpState::from_bsd(11), None);
        assert_eq!(TcpState::from_windows(6), Some(TcpState::FinWait2));
        assert_eq!(TcpState::from_windows(10), Some(TcpState::TimeWait));
        assert_eq!(TcpState::from_windows(9), Some(TcpState::LastAck));
        assert_eq!(TcpState::from_windows(-1), None);
        assert_eq!(TcpState::from_windows(11), None);
    }

    #[test]
    fn linux_takes_siocoutq_as_it_is_without_reading_the_error() {
        assert_eq!(linux(0).resolve(never_read), ACKED);
        let unacked = Event::SendQueue { unacked: 1001 };
        assert_eq!(linux(1001).resolve(never_read), unacked);
    }

    #[test]
    fn a_figure_that_claims_acknowledgement_yields_to_a_pending_error() {
        let fin_wait2 = Some(TcpState::FinWait2);
        assert_eq!(
            freebsd(0, fin_wait2, true).resolve(reset_pending),
            Event::Reset
        );
        assert_eq!(
            macos(0, fin_wait2).resolve(timed_out_pending),
            Event::Failed
        );
        let stats = Stats::default();
        assert_eq!(
            windows(fin_wait2, &stats).resolve(reset_pending),
            Event::Reset
        );
        assert_eq!(
            freebsd(0, fin_wait2, true).resolve(|| Err(io::Error::from(ErrorKind::Other))),
            Event::Failed,
            "an error that cannot be read proves nothing"
        );
    }

    #[test]
    fn freebsd_counts_the_fin_until_the_state_proves_it_acknowledged() {
        for state in [TcpState::FinWait1, TcpState::Closing, TcpState::LastAck] {
            assert_eq!(
                freebsd(0, Some(state), true).resolve(never_read),
                Event::SendQueue { unacked: 1 },
                "{state:?}"
            );
        }
        let with_data = freebsd(70, Some(TcpState::FinWait1), false);
        assert_eq!(
            with_data.resolve(never_read),
            Event::SendQueue { unacked: 71 }
        );
        for state in [TcpState::FinWait2, TcpState::TimeWait] {
            let verdict = freebsd(0, Some(state), true);
            assert_eq!(verdict.resolve(nothing_pending), ACKED, "{state:?}");
        }
    }

    #[test]
    fn freebsd_a_connection_gone_with_a_pending_reset_is_a_reset_not_an_empty_queue() {
        // soisdisconnected dropped the send buffer: FIONWRITE reads 0 over lost data.
        assert_eq!(freebsd(0, None, true).resolve(reset_pending), Event::Reset);
        assert_eq!(
            freebsd(0, None, true).resolve(timed_out_pending),
            Event::Failed
        );
    }

    #[test]
    fn freebsd_a_connection_seen_alive_and_gone_without_an_error_ended_gracefully() {
        assert_eq!(freebsd(0, None, true).resolve(nothing_pending), ACKED);
        let closed = freebsd(0, Some(TcpState::Closed), true);
        assert_eq!(closed.resolve(nothing_pending), ACKED);
    }

    #[test]
    fn freebsd_a_socket_handed_over_already_gone_proves_nothing() {
        let verdict = freebsd(0, None, false);
        assert_eq!(verdict.resolve(nothing_pending), Event::AcksUnobservable);
        assert_eq!(verdict.resolve(reset_pending), Event::Reset);
    }

    #[test]
    fn macos_counts_the_fin_until_the_state_proves_it_acknowledged() {
        let last_ack = macos(0, Some(TcpState::LastAck));
        assert_eq!(
            last_ack.resolve(never_read),
            Event::SendQueue { unacked: 1 }
        );
        let fin_wait1 = macos(3, Some(TcpState::FinWait1));
        assert_eq!(
            fin_wait1.resolve(never_read),
            Event::SendQueue { unacked: 4 }
        );
        let time_wait = macos(0, Some(TcpState::TimeWait));
        assert_eq!(time_wait.resolve(nothing_pending), ACKED);
    }

    #[test]
    fn macos_closed_without_an_error_claims_the_data_but_not_the_fin() {
        // A reset in LAST_ACK closes the connection as the ACK of our FIN does.
        let closed = macos(0, Some(TcpState::Closed));
        assert_eq!(closed.resolve(nothing_pending), Event::DataAcked);
        assert_eq!(closed.resolve(reset_pending), Event::Reset);
    }

    #[test]
    fn macos_closed_over_unacknowledged_data_is_a_failure() {
        let closed = macos(12, Some(TcpState::Closed));
        assert_eq!(closed.resolve(nothing_pending), Event::Failed);
        assert_eq!(closed.resolve(reset_pending), Event::Reset);
        let unknown = macos(0, None);
        assert_eq!(unknown.resolve(nothing_pending), Event::AcksUnobservable);
    }

    #[test]
    fn windows_bytes_in_flight_alone_never_claim_acknowledgement() {
        let stats = Stats {
            bytes_written: Some(1000),
            ..Stats::default()
        };
        // Nothing in flight, but 1000 bytes may wait unsent: the bound is written + FIN.
        let established = windows(Some(TcpState::FinWait1), &stats);
        assert_eq!(
            established.resolve(never_read),
            Event::SendQueue { unacked: 1001 }
        );
        let later = Stats {
            unacked: Some(1001),
            ..stats
        };
        let last_ack = windows(Some(TcpState::LastAck), &later);
        assert_eq!(
            last_ack.resolve(never_read),
            Event::SendQueue { unacked: 1001 },
            "the bound never grows"
        );
    }

    #[test]
    fn windows_fin_wait_2_or_time_wait_prove_data_and_fin_acknowledged() {
        let stats = Stats::default();
        for state in [TcpState::FinWait2, TcpState::TimeWait] {
            assert_eq!(windows(Some(state), &stats).resolve(nothing_pending), ACKED);
        }
    }

    #[test]
    fn windows_without_a_state_or_after_the_end_claims_nothing() {
        let stats = Stats::default();
        for state in [None, Some(TcpState::Closed)] {
            let verdict = windows(state, &stats);
            assert_eq!(verdict.resolve(nothing_pending), Event::AcksUnobservable);
        }
        let adopted = windows(Some(TcpState::FinWait1), &stats);
        assert_eq!(
            adopted.resolve(never_read),
            Event::SendQueue { unacked: u32::MAX },
            "written before the handover, uncounted: no bound but the largest"
        );
    }

    #[test]
    fn elsewhere_nothing_is_observable() {
        assert_eq!(unobservable().resolve(never_read), Event::AcksUnobservable);
    }
}
