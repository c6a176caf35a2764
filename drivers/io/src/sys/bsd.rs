//! macOS, iOS and FreeBSD: `SO_NWRITE` or `FIONWRITE` (no FIN counted), `TCP_NOPUSH`; no
//! count of bytes written.

use super::figure;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

#[cfg(any(target_os = "macos", target_os = "ios"))]
#[allow(unsafe_code)]
pub(super) fn unacked(fd: RawFd) -> io::Result<Option<u32>> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_NWRITE writes at most `len` bytes into `value`, a live `c_int`, and
    // updates `len`; an invalid `fd` makes the call fail, nothing worse.
    let result = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_NWRITE,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    figure(value)
}

#[cfg(target_os = "freebsd")]
#[allow(unsafe_code)]
pub(super) fn unacked(fd: RawFd) -> io::Result<Option<u32>> {
    let mut value: libc::c_int = 0;
    // SAFETY: FIONWRITE writes one `int` through the pointer, which points to a live
    // `c_int`; an invalid `fd` makes the call fail, nothing worse.
    let result = unsafe { libc::ioctl(fd, libc::FIONWRITE, &mut value as *mut libc::c_int) };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    figure(value)
}

pub(super) fn unsent(_fd: RawFd) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn bytes_written(_fd: RawFd) -> io::Result<Option<u64>> {
    Ok(None)
}

#[allow(unsafe_code)]
pub(super) fn set_cork(socket: &impl AsFd, cork: bool) -> io::Result<()> {
    let value = libc::c_int::from(cork);
    // SAFETY: TCP_NOPUSH reads one `int` from a live `c_int` of the length given.
    let result = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NOPUSH,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
