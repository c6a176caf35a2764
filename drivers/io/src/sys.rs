//! What each platform can tell about a socket's send queue, and the Nagle options socket2
//! does not cover. The only `unsafe` in linger's drivers lives here.
//!
//! | platform | unacknowledged bytes | FIN counted | cork |
//! |---|---|---|---|
//! | Linux, Android | `ioctl(SIOCOUTQ)` | yes | `TCP_CORK` |
//! | macOS, iOS | `getsockopt(SO_NWRITE)` | no | `TCP_NOPUSH` |
//! | FreeBSD | `ioctl(FIONWRITE)` | no | `TCP_NOPUSH` |
//! | elsewhere | unknown: the outcome says so | | none |

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// Bytes written to `socket` and not yet acknowledged by the peer, or `None` where the
/// platform cannot tell. On Linux the FIN counts as one byte once it is queued.
pub fn unacked(socket: &impl AsFd) -> io::Result<Option<u32>> {
    platform::unacked(socket.as_fd().as_raw_fd())
}

/// Bytes written to `socket` and not yet sent at all (Linux `SIOCOUTQNSD`): the part of
/// [`unacked`] still waiting for the congestion or receive window. `None` elsewhere.
pub fn unsent(socket: &impl AsFd) -> io::Result<Option<u32>> {
    platform::unsent(socket.as_fd().as_raw_fd())
}

/// Bytes the application wrote to `socket` since it was connected, as the kernel counts
/// them, or `None` where it cannot tell: what a socket handed over after it was written
/// reports as [`Outcome::bytes_written`](linger::Outcome::bytes_written).
///
/// Linux (4.19 and later): `tcp_info`'s bytes sent less those retransmitted, plus those
/// not sent yet (`tcpi_notsent_bytes`), less our FIN when it is queued among the unsent.
pub fn bytes_written(socket: &impl AsFd) -> io::Result<Option<u64>> {
    platform::bytes_written(socket.as_fd().as_raw_fd())
}

/// Holds (`true`) or releases partial segments: `TCP_CORK` on Linux, `TCP_NOPUSH` on the
/// BSDs. Elsewhere there is no such option and this does nothing.
pub fn set_cork(socket: &impl AsFd, cork: bool) -> io::Result<()> {
    platform::set_cork(socket, cork)
}

/// Reads into `buf` without blocking, whatever the socket's mode (`recv` with
/// `MSG_DONTWAIT`): a blocking std stream can be drained without a `fcntl`/`ioctl` call to
/// switch it to non-blocking first. `WouldBlock` when nothing is waiting.
#[allow(unsafe_code)]
pub fn read_nonblocking(socket: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    let fd = socket.as_fd().as_raw_fd();
    // SAFETY: `buf` is live and writable for `buf.len()` bytes, which is all `recv` writes;
    // an invalid `fd` makes the call fail with EBADF, nothing worse.
    let read = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    usize::try_from(read).map_err(|_| io::Error::last_os_error())
}

fn figure(value: libc::c_int) -> io::Result<Option<u32>> {
    u32::try_from(value).map(Some).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("negative send queue {value}"),
        )
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
use linux as platform;

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
mod bsd;
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
use bsd as platform;

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
mod other;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
use other as platform;
