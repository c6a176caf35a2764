//! What a socket error means for a close, per syscall: every errno the drivers can meet,
//! mapped in one place.
//!
//! | errno | from | means | event |
//! |---|---|---|---|
//! | `ECONNRESET` | `read`, `write`, `SO_ERROR` | the peer sent RST | `Reset` |
//! | `EPIPE` | `write`, `SO_ERROR` | the peer's RST was already reported, or (Linux `SO_ERROR`) arrived after its FIN | `Reset` |
//! | `ENOTCONN` | `shutdown` | the connection is over; `SO_ERROR` and the send queue say how ([`shutdown_refused`]) | depends |
//! | `ENOTCONN` | `read`, `write` | never connected | `Failed` |
//! | `ETIMEDOUT` | `read`, `write`, `SO_ERROR` | retransmissions or `TCP_USER_TIMEOUT` gave up | `Failed` |
//! | `ECONNABORTED` | any | aborted by our own host | `Failed` |
//! | `EHOSTUNREACH`, `ENETUNREACH`, others | any | the path or the socket failed | `Failed` |
//! | `EWOULDBLOCK` | `read` | nothing to read now | `ReadBlocked` (discarding) or nothing |
//! | `EINTR` | any | retry | nothing |
//!
//! A failed `accept` concerns the listener, not a close: [`accept_failure`] says what the
//! accept loop does next.
//!
//! | errno (Winsock) | platforms | means | [`AcceptFailure`] |
//! |---|---|---|---|
//! | `ECONNABORTED` (`WSAECONNABORTED`), `ECONNRESET` (`WSAECONNRESET`), `ECONNREFUSED`, `EINTR` (`WSAEINTR`) | all | one connection was lost before it was accepted, or the call was interrupted | `Transient`: accept the next at once |
//! | `ENETDOWN`, `EPROTO`, `ENOPROTOOPT`, `EHOSTDOWN`, `ENONET`, `EHOSTUNREACH`, `EOPNOTSUPP`, `ENETUNREACH` | Linux | a network error already pending on the new connection, which Linux's `accept` passes up ("treat them like `EAGAIN` by retrying", accept(2)) | `Transient` |
//! | `EPERM` | Linux | firewall rules forbid this connection (accept(2)) | `Transient` |
//! | `EMFILE` (`WSAEMFILE`), `ENFILE` | all | the process, or the system, is out of descriptors | `Exhausted`: reclaim lingering closes, retry |
//! | `ENOBUFS` (`WSAENOBUFS`), `ENOMEM` | all | out of socket memory (Linux's `accept` says `ENOMEM` when socket buffer limits are hit) | `Exhausted` |
//! | others | all | the listener failed | `Other`: pause, as axum and nginx do |
//!
//! Sources: Linux's accept(2) (ERRORS, and "Error handling" under NOTES); FreeBSD's and
//! macOS's accept(2), where a connection closed while it waited in the listen queue is
//! `ECONNABORTED` and nothing else of one connection's reaches `accept`; Winsock's `accept`,
//! where it is `WSAECONNRESET`.

use linger::Event;
use std::io::{self, ErrorKind};

/// The observation a socket error stands for: the peer's reset, or another failure.
pub fn event_for(error: &io::Error) -> Event {
    match error.kind() {
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => Event::Reset,
        _ => Event::Failed,
    }
}

/// What a failed `accept` means for the loop that called it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptFailure {
    /// One connection was lost before it was accepted, or the call was interrupted: accept
    /// the next one at once.
    Transient,
    /// Out of descriptors or socket memory: releasing lingering closes frees both, and the
    /// connection waits in the listen queue meanwhile.
    Exhausted,
    /// Anything else: wait before trying again, or the loop spins on the same error.
    Other,
}

/// What the error of a failed `accept` means; see the table above.
pub fn accept_failure(error: &io::Error) -> AcceptFailure {
    use ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    ) {
        return AcceptFailure::Transient;
    }
    match error.raw_os_error() {
        Some(code) if NEW_CONNECTION_ERRORS.contains(&code) => AcceptFailure::Transient,
        Some(code) if EXHAUSTED.contains(&code) => AcceptFailure::Exhausted,
        _ => AcceptFailure::Other,
    }
}

/// The errors of one new connection that Linux's `accept` passes up, beyond those every
/// platform shares (which [`accept_failure`] tells by their kind).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const NEW_CONNECTION_ERRORS: [i32; 9] = [
    libc::ENETDOWN,
    libc::EPROTO,
    libc::ENOPROTOOPT,
    libc::EHOSTDOWN,
    libc::ENONET,
    libc::EHOSTUNREACH,
    libc::EOPNOTSUPP,
    libc::ENETUNREACH,
    libc::EPERM,
];
/// The errors of one new connection that this platform's `accept` passes up beyond those
/// every platform shares: none.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const NEW_CONNECTION_ERRORS: [i32; 0] = [];

/// The codes of [`AcceptFailure::Exhausted`].
#[cfg(unix)]
const EXHAUSTED: [i32; 4] = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
/// The codes of [`AcceptFailure::Exhausted`]: Winsock has no `ENFILE` or `ENOMEM` for sockets.
#[cfg(windows)]
const EXHAUSTED: [i32; 2] = [
    windows_sys::Win32::Networking::WinSock::WSAEMFILE,
    windows_sys::Win32::Networking::WinSock::WSAENOBUFS,
];

/// What a `shutdown(SHUT_WR)` that failed with `ENOTCONN` means, from the socket's pending
/// error (`SO_ERROR`) and the send-queue figure the kernel keeps after the end (Linux
/// `SIOCOUTQ`, macOS `SO_NWRITE`; `None` where it drops it, FreeBSD, or has none), both read
/// right after ([`sys::connection_over`](crate::sys::connection_over)).
///
/// Linux, FreeBSD and XNU answer `ENOTCONN` once the connection is over, however it ended
/// (reset, timed out, or closed both ways): a pending error says it was reset (or timed
/// out); without one, bytes still unacknowledged say it ended abnormally and the error was
/// already consumed; with none unacknowledged, or no figure, nothing is claimed here: the
/// send-queue query that follows decides, and the EOF read reports the peer's side.
pub fn shutdown_refused(pending: Option<&io::Error>, unacked: Option<u32>) -> Option<Event> {
    match (pending, unacked) {
        (Some(error), _) => Some(event_for(error)),
        (None, Some(0) | None) => None,
        (None, Some(_)) => Some(Event::Failed),
    }
}

/// What the application's own `read` into a buffer of `asked` bytes tells the machine
/// (pass `result.as_ref().copied()`).
pub fn read_event(result: Result<usize, &io::Error>, asked: usize) -> Option<Event> {
    match result {
        Ok(0) if asked > 0 => Some(Event::PeerEof),
        Ok(0) => None,
        Ok(bytes) => Some(Event::Read(u32::try_from(bytes).unwrap_or(u32::MAX))),
        Err(error) => failure_event(error),
    }
}

/// What the application's own `write` tells the machine (pass `result.as_ref().copied()`).
pub fn write_event(result: Result<usize, &io::Error>) -> Option<Event> {
    match result {
        Ok(bytes) => Some(Event::Wrote(bytes as u64)),
        Err(error) => failure_event(error),
    }
}

/// Errors that end the connection; a would-block or an interrupted call ends nothing.
fn failure_event(error: &io::Error) -> Option<Event> {
    match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::Interrupted => None,
        _ => Some(event_for(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors by kind, as every platform's errno or Winsock code maps onto them.
    fn os(kind: ErrorKind) -> io::Error {
        io::Error::from(kind)
    }

    #[test]
    fn resets_are_the_peers() {
        assert_eq!(event_for(&os(ErrorKind::ConnectionReset)), Event::Reset);
        assert_eq!(event_for(&os(ErrorKind::BrokenPipe)), Event::Reset);
    }

    #[test]
    fn every_other_error_is_a_failure_not_a_reset() {
        for kind in [
            ErrorKind::NotConnected,
            ErrorKind::TimedOut,
            ErrorKind::ConnectionAborted,
            ErrorKind::HostUnreachable,
            ErrorKind::NetworkUnreachable,
            ErrorKind::Other,
        ] {
            assert_eq!(event_for(&os(kind)), Event::Failed, "{kind:?}");
        }
    }

    #[test]
    fn shutdown_on_a_connection_closed_both_ways_is_no_failure() {
        assert_eq!(shutdown_refused(None, Some(0)), None);
    }

    #[test]
    fn shutdown_after_a_reset_reports_the_pending_error() {
        let reset = os(ErrorKind::ConnectionReset);
        assert_eq!(shutdown_refused(Some(&reset), Some(70)), Some(Event::Reset));
        let timed_out = os(ErrorKind::TimedOut);
        assert_eq!(
            shutdown_refused(Some(&timed_out), None),
            Some(Event::Failed)
        );
    }

    #[test]
    fn shutdown_over_unacked_bytes_without_an_error_is_a_failure() {
        assert_eq!(shutdown_refused(None, Some(70)), Some(Event::Failed));
    }

    #[test]
    fn shutdown_without_a_figure_kept_after_the_end_claims_nothing() {
        assert_eq!(shutdown_refused(None, None), None);
    }

    #[test]
    fn would_block_and_interrupted_end_nothing() {
        let would_block = io::Error::from(ErrorKind::WouldBlock);
        assert_eq!(read_event(Err(&would_block), 10), None);
        let interrupted = io::Error::from(ErrorKind::Interrupted);
        assert_eq!(write_event(Err(&interrupted)), None);
    }

    #[test]
    fn errors_of_the_applications_own_calls_end_the_connection() {
        assert_eq!(
            read_event(Err(&os(ErrorKind::ConnectionReset)), 10),
            Some(Event::Reset)
        );
        assert_eq!(
            write_event(Err(&os(ErrorKind::BrokenPipe))),
            Some(Event::Reset)
        );
        assert_eq!(
            write_event(Err(&os(ErrorKind::TimedOut))),
            Some(Event::Failed)
        );
    }

    #[test]
    fn an_accept_out_of_descriptors_or_socket_memory_is_exhaustion() {
        #[cfg(unix)]
        let codes = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
        #[cfg(windows)]
        let codes = [10024, 10055];
        for code in codes {
            let error = io::Error::from_raw_os_error(code);
            assert_eq!(accept_failure(&error), AcceptFailure::Exhausted, "{error}");
        }
    }

    #[test]
    fn every_error_of_one_new_connection_that_accept_passes_up_is_transient() {
        for code in NEW_CONNECTION_ERRORS {
            let error = io::Error::from_raw_os_error(code);
            assert_eq!(accept_failure(&error), AcceptFailure::Transient, "{error}");
        }
        #[cfg(target_os = "linux")]
        assert_eq!(
            NEW_CONNECTION_ERRORS.len(),
            9,
            "accept(2)'s eight, and the firewall's EPERM"
        );
    }

    #[test]
    fn an_accept_that_lost_one_connection_is_transient() {
        for kind in [
            ErrorKind::ConnectionAborted,
            ErrorKind::ConnectionReset,
            ErrorKind::ConnectionRefused,
            ErrorKind::Interrupted,
        ] {
            assert_eq!(
                accept_failure(&os(kind)),
                AcceptFailure::Transient,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn any_other_accept_error_is_other() {
        assert_eq!(
            accept_failure(&io::Error::other("listener gone")),
            AcceptFailure::Other
        );
        #[cfg(unix)]
        assert_eq!(
            accept_failure(&io::Error::from_raw_os_error(libc::EBADF)),
            AcceptFailure::Other
        );
    }

    #[test]
    fn a_read_of_nothing_is_eof_only_if_something_was_asked() {
        assert_eq!(read_event(Ok(0), 10), Some(Event::PeerEof));
        assert_eq!(read_event(Ok(0), 0), None);
        assert_eq!(read_event(Ok(7), 10), Some(Event::Read(7)));
        assert_eq!(write_event(Ok(7)), Some(Event::Wrote(7)));
    }
}
