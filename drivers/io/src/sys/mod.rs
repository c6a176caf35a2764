//! What each platform's kernel can tell about a socket, the Nagle options socket2 does not
//! cover, and a read that never blocks: the syscalls, one module per platform. The only
//! `unsafe` in linger's drivers lives here; what the figures mean is decided apart, in
//! [`acks`](crate::acks).
//!
//! | platform | send queue (`QuerySendQueue`) | cork | read without blocking | wait |
//! |---|---|---|---|---|
//! | Linux, Android | `ioctl(SIOCOUTQ)` | `TCP_CORK` | `recv(MSG_DONTWAIT)` | `poll` |
//! | FreeBSD | `ioctl(FIONWRITE)`, `TCP_INFO`, `SO_ERROR` | `TCP_NOPUSH` | `recv(MSG_DONTWAIT)` | `poll` |
//! | macOS, iOS | `TCP_CONNECTION_INFO`, `SO_ERROR` | `TCP_NOPUSH`, then a zero-length send to push | `recv(MSG_DONTWAIT)` | `poll` |
//! | Windows | `WSAIoctl(SIO_TCP_INFO)`, `SO_ERROR` | none | `WSAPoll`, then `recv` (and `WSAPoll` again at EOF: [`end_of_stream`]) | `WSAPoll` |
//! | other unix | none: `AcksUnobservable` | none | `recv(MSG_DONTWAIT)` | `poll` |
//!
//! `SO_ERROR` is read only when the answer depends on it.

use crate::AsSocket;
use crate::errors::shutdown_refused;
use linger::{Event, Stats};
use std::io;
use std::time::Duration;

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "linux.rs"]
mod platform;

#[cfg(target_os = "freebsd")]
#[path = "freebsd.rs"]
mod platform;

#[cfg(any(target_os = "macos", target_os = "ios"))]
#[path = "macos.rs"]
mod platform;

#[cfg(windows)]
#[path = "windows.rs"]
mod platform;

#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "macos",
        target_os = "ios"
    ))
))]
#[path = "other_unix.rs"]
mod platform;

#[cfg(unix)]
mod unix;

/// The kernel's own send-queue figure, as the platform defines it: Linux `SIOCOUTQ` (the
/// data and our FIN not acknowledged), FreeBSD `FIONWRITE` and macOS `SO_NWRITE` (the data
/// only); `None` where there is none. [`query_send_queue`] is what a close asks.
pub fn unacked(socket: &impl AsSocket) -> io::Result<Option<u32>> {
    platform::unacked(socket)
}

/// Bytes written to `socket` and not yet sent at all (Linux `SIOCOUTQNSD`): the part of
/// [`unacked`] still waiting for the congestion or receive window. `None` elsewhere.
pub fn unsent(socket: &impl AsSocket) -> io::Result<Option<u32>> {
    platform::unsent(socket)
}

/// Bytes the application wrote to `socket` since it was connected, as the kernel counts
/// them, or `None` where it cannot tell: what a socket handed over after it was written
/// reports as [`Outcome::bytes_written`](linger::Outcome::bytes_written).
///
/// Linux (4.19 and later): `tcp_info`'s bytes sent less those retransmitted, plus those
/// not sent yet (`tcpi_notsent_bytes`), less our FIN when it is queued among the unsent.
pub fn bytes_written(socket: &impl AsSocket) -> io::Result<Option<u64>> {
    platform::bytes_written(socket)
}

/// Holds (`true`) or releases partial segments: `TCP_CORK` on Linux, `TCP_NOPUSH` on the
/// BSDs (on macOS a release is followed by a zero-length send, since XNU only clears the
/// flag). Elsewhere there is no such option and this does nothing.
pub fn set_cork(socket: &impl AsSocket, cork: bool) -> io::Result<()> {
    platform::set_cork(socket, cork)
}

/// Reads into `buf` without blocking, whatever the socket's mode: a blocking std stream can
/// be drained without switching it to non-blocking first (`recv` with `MSG_DONTWAIT` on
/// unix; on Windows, which has no such flag, `WSAPoll` with no wait, then `recv` only when
/// it said readable). `WouldBlock` when nothing is waiting.
pub fn read_nonblocking(socket: &impl AsSocket, buf: &mut [u8]) -> io::Result<usize> {
    platform::read_nonblocking(socket, buf)
}

/// Waits until `socket` is readable (data, EOF, an error) or `timeout` passes; true if
/// readable. `poll(2)` on unix, `WSAPoll` on Windows: the one blocking call of `linger-std`.
/// An interrupted or failed wait reports "not readable": the caller's timers go on.
pub fn wait_readable(socket: &impl AsSocket, timeout: Duration) -> bool {
    // Round up: waking before the deadline would only mean waiting again.
    let millis = timeout.as_micros().div_ceil(1_000).min(i32::MAX as u128) as i32;
    platform::wait_readable(socket, millis)
}

/// What a read of 0 bytes on `socket` stands for: the peer's EOF, or its reset where the
/// platform hid the reset from `recv` but flags the connection aborted (Wine's Winsock:
/// `WSAPoll` says `POLLERR`). One `WSAPoll` on Windows, no syscall on unix, where `recv`
/// reports a reset itself.
pub fn end_of_stream(socket: &impl AsSocket) -> Event {
    if platform::flagged_aborted(socket) {
        Event::Reset
    } else {
        Event::PeerEof
    }
}

/// Built with `cfg(linger_acks_unobservable)` (`LINGER_ACKS_UNOBSERVABLE=1`, see `build.rs`),
/// a close learns nothing of acknowledgements, as on the platforms that show none (the "acks
/// unobservable" [profile](crate::profile)): CI runs the real-socket suites so on Linux.
/// Never set it for a build you ship.
const ACKS_HIDDEN: bool = cfg!(linger_acks_unobservable);

/// Answers a `QuerySendQueue`: reads what the platform can tell (and, only when the answer
/// depends on it, the pending error) and returns the event [`acks`](crate::acks) decides.
/// `stats` are the machine's, for what it saw before. Linux costs one `ioctl`.
pub fn query_send_queue(socket: &impl AsSocket, stats: &Stats) -> Event {
    let verdict = if ACKS_HIDDEN {
        Ok(crate::acks::unobservable())
    } else {
        platform::send_queue_verdict(socket, stats)
    };
    match verdict {
        Ok(verdict) => verdict.resolve(|| socket2::SockRef::from(socket).take_error()),
        Err(error) => crate::event_for(&error),
    }
}

/// What a connection that `shutdown` found over (`ENOTCONN`) ended with: its pending error,
/// and the send-queue figure where the kernel keeps it after the end (Linux, macOS; FreeBSD
/// drops it, Windows has none). See [`shutdown_refused`].
pub fn connection_over(socket: &impl AsSocket) -> Option<Event> {
    let pending = socket2::SockRef::from(socket).take_error().ok().flatten();
    let unacked = platform::unacked_kept_after_the_end(socket).filter(|_| !ACKS_HIDDEN);
    shutdown_refused(pending.as_ref(), unacked)
}

/// The process's `RLIMIT_NOFILE`, `(soft, hard)`, `u64::MAX` for no limit (`getrlimit`);
/// `None` where the platform has no such limit (Windows). [`limits`](crate::limits) says what
/// linger does with it.
pub fn descriptor_limit() -> io::Result<Option<(u64, u64)>> {
    #[cfg(unix)]
    return unix::nofile().map(Some);
    #[cfg(not(unix))]
    return Ok(None);
}

/// Sets `RLIMIT_NOFILE` to `(soft, hard)` (`setrlimit`); `Ok(false)` where the platform has
/// no such limit (Windows).
pub fn set_descriptor_limit(soft: u64, hard: u64) -> io::Result<bool> {
    #[cfg(unix)]
    return unix::set_nofile(soft, hard).map(|()| true);
    #[cfg(not(unix))]
    return {
        let _ = (soft, hard);
        Ok(false)
    };
}

/// Sets the soft `RLIMIT_NOFILE` to the hard limit (`setrlimit`), on macOS and iOS at most
/// `kern.maxfilesperproc`, and returns the soft limit now in force; `None` where the platform
/// has no such limit (Windows).
pub fn raise_descriptor_limit() -> io::Result<Option<u64>> {
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    return unix::raise_nofile(platform::max_files_per_process()).map(Some);
    #[cfg(all(unix, not(any(target_os = "macos", target_os = "ios"))))]
    return unix::raise_nofile(None).map(Some);
    #[cfg(not(unix))]
    return Ok(None);
}
