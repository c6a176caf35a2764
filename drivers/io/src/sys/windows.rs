//! Windows: `SIO_TCP_INFO` (`TCP_INFO_v0`, Windows 10 1703 and later) gives the state, which
//! proves data and FIN acknowledged once it reaches FIN_WAIT_2 or TIME_WAIT; there is no
//! send-queue figure and no cork. Reads that must not block poll first (`WSAPoll`), since
//! `recv` has no `MSG_DONTWAIT`.

use crate::AsSocket;
use crate::acks::{self, TcpState, Verdict};
use linger::Stats;
use std::io;
use std::os::windows::io::AsRawSocket;
use windows_sys::Win32::Networking::WinSock;

fn raw(socket: &impl AsSocket) -> WinSock::SOCKET {
    socket.as_socket().as_raw_socket() as WinSock::SOCKET
}

pub(super) fn unacked(_: &impl AsSocket) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn unsent(_: &impl AsSocket) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn bytes_written(_: &impl AsSocket) -> io::Result<Option<u64>> {
    Ok(None)
}

/// `WSAIoctl(SIO_TCP_INFO)`, version 0: the connection's state, `None` when the query fails
/// (before Windows 10 1703, or once the connection is gone).
#[allow(unsafe_code)]
fn state(socket: &impl AsSocket) -> Option<TcpState> {
    let version: u32 = 0;
    let mut info = WinSock::TCP_INFO_v0::default();
    let mut returned: u32 = 0;
    // SAFETY: the input is a live `u32` of the size given, the output a live, writable
    // `TCP_INFO_v0` of the size given; no overlapped operation or completion routine is
    // passed, so the call completes before it returns and keeps no pointer.
    let result = unsafe {
        WinSock::WSAIoctl(
            raw(socket),
            WinSock::SIO_TCP_INFO,
            (&version as *const u32).cast(),
            std::mem::size_of::<u32>() as u32,
            (&mut info as *mut WinSock::TCP_INFO_v0).cast(),
            std::mem::size_of::<WinSock::TCP_INFO_v0>() as u32,
            &mut returned,
            std::ptr::null_mut(),
            None,
        )
    };
    (result == 0)
        .then_some(info.State)
        .and_then(TcpState::from_windows)
}

/// The state; the pending error only when the verdict depends on it.
pub(super) fn send_queue_verdict(socket: &impl AsSocket, stats: &Stats) -> io::Result<Verdict> {
    Ok(acks::windows(state(socket), stats))
}

pub(super) fn unacked_kept_after_the_end(_: &impl AsSocket) -> Option<u32> {
    None
}

pub(super) fn set_cork(_: &impl AsSocket, _: bool) -> io::Result<()> {
    Ok(())
}

/// `WSAPoll` for readability, at most `millis`.
pub(super) fn wait_readable(socket: &impl AsSocket, millis: i32) -> bool {
    poll_readable(socket, millis).is_ok_and(|revents| revents.is_some())
}

/// `WSAPoll` with no wait: `POLLERR` says the connection was aborted, which a graceful end
/// (`POLLHUP` alone) never sets. Windows' `recv` reports such a reset itself
/// (`WSAECONNRESET`); Wine's returns 0 instead, its server having taken the error
/// (`sock_poll_event` reads `SO_ERROR` on `POLLERR`, `server/sock.c`), and only this flag
/// is left to tell a reset from an EOF.
pub(super) fn flagged_aborted(socket: &impl AsSocket) -> bool {
    poll_readable(socket, 0)
        .is_ok_and(|revents| revents.is_some_and(|revents| revents & WinSock::POLLERR != 0))
}

/// One `WSAPoll` for readability, at most `millis`: the events it reported, `None` when the
/// wait ran out.
#[allow(unsafe_code)]
fn poll_readable(socket: &impl AsSocket, millis: i32) -> io::Result<Option<i16>> {
    let mut poll = WinSock::WSAPOLLFD {
        fd: raw(socket),
        events: WinSock::POLLRDNORM,
        revents: 0,
    };
    // SAFETY: `poll` is one live, writable `WSAPOLLFD` and the count is 1.
    match unsafe { WinSock::WSAPoll(&mut poll, 1, millis) } {
        WinSock::SOCKET_ERROR => Err(last_error()),
        0 => Ok(None),
        _ => Ok(Some(poll.revents)),
    }
}

/// `WSAPoll` with no wait, then `recv` only if the socket is readable (data, EOF, or an
/// error to report): never blocks, whatever the socket's mode.
#[allow(unsafe_code)]
pub(super) fn read_nonblocking(socket: &impl AsSocket, buf: &mut [u8]) -> io::Result<usize> {
    if poll_readable(socket, 0)?.is_none() {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    let len = i32::try_from(buf.len()).unwrap_or(i32::MAX);
    // SAFETY: `buf` is live and writable for at least `len` bytes, which is all `recv`
    // writes.
    let read = unsafe { WinSock::recv(raw(socket), buf.as_mut_ptr(), len, 0) };
    usize::try_from(read).map_err(|_| last_error())
}

#[allow(unsafe_code)]
fn last_error() -> io::Error {
    // SAFETY: reads the calling thread's last Winsock error; no pointers.
    io::Error::from_raw_os_error(unsafe { WinSock::WSAGetLastError() })
}
