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
#[allow(unsafe_code)]
pub(super) fn wait_readable(socket: &impl AsSocket, millis: i32) -> bool {
    let mut poll = readable_poll(socket);
    // SAFETY: `poll` is one live, writable `WSAPOLLFD` and the count is 1.
    let ready = unsafe { WinSock::WSAPoll(&mut poll, 1, millis) };
    ready > 0
}

fn readable_poll(socket: &impl AsSocket) -> WinSock::WSAPOLLFD {
    WinSock::WSAPOLLFD {
        fd: raw(socket),
        events: WinSock::POLLRDNORM,
        revents: 0,
    }
}

/// `WSAPoll` with no wait, then `recv` only if the socket is readable (data, EOF, or an
/// error to report): never blocks, whatever the socket's mode.
#[allow(unsafe_code)]
pub(super) fn read_nonblocking(socket: &impl AsSocket, buf: &mut [u8]) -> io::Result<usize> {
    let mut poll = readable_poll(socket);
    // SAFETY: `poll` is one live, writable `WSAPOLLFD` and the count is 1.
    let ready = unsafe { WinSock::WSAPoll(&mut poll, 1, 0) };
    if ready == WinSock::SOCKET_ERROR {
        return Err(last_error());
    }
    if ready == 0 {
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
