//! What the unix platforms share: integer socket options and ioctls, and a read that says
//! not to block.

use crate::AsSocket;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

pub(super) fn fd(socket: &impl AsSocket) -> RawFd {
    socket.as_fd().as_raw_fd()
}

/// `recv` with `MSG_DONTWAIT`: never blocks, whatever the socket's mode.
#[allow(unsafe_code)]
pub(super) fn read_nonblocking(socket: &impl AsSocket, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is live and writable for `buf.len()` bytes, which is all `recv` writes;
    // an invalid descriptor makes the call fail with EBADF, nothing worse.
    let read = unsafe {
        libc::recv(
            fd(socket),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    usize::try_from(read).map_err(|_| io::Error::last_os_error())
}

/// A reset reaches `recv` itself on unix (`ECONNRESET`): a read of 0 bytes is the peer's EOF,
/// and there is nothing to ask.
pub(super) fn flagged_aborted(_: &impl AsSocket) -> bool {
    false
}

/// `poll(2)` for readability, at most `millis`.
#[allow(unsafe_code)]
pub(super) fn wait_readable(socket: &impl AsSocket, millis: i32) -> bool {
    let mut pollfd = libc::pollfd {
        fd: fd(socket),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pollfd` is one live, writable `pollfd` and the count is 1.
    let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
    ready > 0
}

/// An `ioctl` request, as libc types it on each platform.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) type Request = libc::Ioctl;
#[cfg(target_os = "freebsd")]
pub(super) type Request = libc::c_ulong;

/// An `ioctl` that writes one `int`.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
#[allow(unsafe_code)]
pub(super) fn ioctl_int(socket: &impl AsSocket, request: Request) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    // SAFETY: the requests passed here write one `int` through the pointer, which points to a
    // live, writable `c_int`; an invalid descriptor makes the call fail, nothing worse.
    let result = unsafe { libc::ioctl(fd(socket), request, &mut value as *mut libc::c_int) };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// Room for a `struct tcp_info` (FreeBSD) or `struct tcp_connection_info` (macOS): read as
/// bytes, at the offsets their headers give, since a larger buffer only gets what the kernel
/// writes.
#[cfg(any(target_os = "freebsd", target_os = "macos", target_os = "ios"))]
pub(super) const TCP_INFO_BUFFER: usize = 512;

/// `getsockopt` of a plain-old-data value `T` (an `int`, a `struct tcp_info`): the value and
/// the length the kernel wrote.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "ios"
))]
#[allow(unsafe_code)]
pub(super) fn getsockopt<T: Copy>(
    socket: &impl AsSocket,
    level: libc::c_int,
    name: libc::c_int,
    mut value: T,
) -> io::Result<(T, usize)> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `value`, a live `T` of that size
    // which the callers only use for C structs and integers (every bit pattern valid), and
    // stores the length written in `len`.
    let result = unsafe {
        libc::getsockopt(
            fd(socket),
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((value, len as usize))
}

/// `setsockopt` of one `int`.
#[cfg(any(target_os = "freebsd", target_os = "macos", target_os = "ios"))]
#[allow(unsafe_code)]
pub(super) fn setsockopt_int(
    socket: &impl AsSocket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the option reads one `int` from a live `c_int` of the length given.
    let result = unsafe {
        libc::setsockopt(
            fd(socket),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A send-queue figure from an `int` the kernel reported.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "ios"
))]
pub(super) fn figure(value: libc::c_int) -> io::Result<u32> {
    u32::try_from(value).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("negative send queue {value}"),
        )
    })
}

/// An `rlim_t` as a count, `u64::MAX` for `RLIM_INFINITY` (which is not `u64::MAX` everywhere:
/// macOS and FreeBSD use `i64::MAX`).
fn rlim_to_u64(value: libc::rlim_t) -> u64 {
    if value == libc::RLIM_INFINITY {
        return u64::MAX;
    }
    #[allow(clippy::unnecessary_fallible_conversions, clippy::useless_conversion)]
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// `getrlimit(RLIMIT_NOFILE)`: the soft and hard limits, `u64::MAX` for no limit.
#[allow(unsafe_code)]
pub(crate) fn nofile() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: writes one `rlimit` into the live, writable `limit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((rlim_to_u64(limit.rlim_cur), rlim_to_u64(limit.rlim_max)))
}

/// `setrlimit(RLIMIT_NOFILE)` to `(soft, hard)`, `u64::MAX` for no limit.
#[allow(unsafe_code)]
pub(crate) fn set_nofile(soft: u64, hard: u64) -> io::Result<()> {
    let to_rlim = |value: u64| match value {
        u64::MAX => libc::RLIM_INFINITY,
        value => libc::rlim_t::try_from(value).unwrap_or(libc::RLIM_INFINITY),
    };
    let limit = libc::rlimit {
        rlim_cur: to_rlim(soft),
        rlim_max: to_rlim(hard),
    };
    // SAFETY: reads one live `rlimit`.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `setrlimit(RLIMIT_NOFILE)`: the soft limit set to the hard one, or to `at_most` if that is
/// lower; the hard limit unchanged. Returns the soft limit now in force.
#[allow(unsafe_code, clippy::unnecessary_fallible_conversions)]
pub(crate) fn raise_nofile(at_most: Option<u64>) -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: writes one `rlimit` into the live, writable `limit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1 {
        return Err(io::Error::last_os_error());
    }
    limit.rlim_cur = limit.rlim_max;
    if let Some(cap) = at_most.and_then(|cap| libc::rlim_t::try_from(cap).ok()) {
        limit.rlim_cur = limit.rlim_cur.min(cap);
    }
    // SAFETY: reads one live `rlimit`.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(rlim_to_u64(limit.rlim_cur))
}
