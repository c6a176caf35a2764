//! macOS and iOS: `TCP_CONNECTION_INFO` gives the state and the send buffer's bytes (the data
//! not acknowledged, not the FIN), both kept to the end; `TCP_NOPUSH` holds partial segments,
//! and clearing it sends nothing by itself.

use super::unix;
use crate::AsSocket;
use crate::acks::{self, TcpState, Verdict};
use linger::Stats;
use std::io;

/// Offsets in `struct tcp_connection_info` (`bsd/netinet/tcp.h`): `tcpi_state` is its first
/// byte; `tcpi_snd_sbbytes` follows four bytes and seven `u_int32_t`s.
const STATE: usize = 0;
const SND_SBBYTES: usize = 32;

pub(super) fn unacked(socket: &impl AsSocket) -> io::Result<Option<u32>> {
    let (value, _) = unix::getsockopt(socket, libc::SOL_SOCKET, libc::SO_NWRITE, 0 as libc::c_int)?;
    unix::figure(value).map(Some)
}

pub(super) fn unsent(_: &impl AsSocket) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn bytes_written(_: &impl AsSocket) -> io::Result<Option<u64>> {
    Ok(None)
}

/// One `getsockopt(TCP_CONNECTION_INFO)` for both figures; the pending error only when the
/// verdict depends on it. A failed query, or a short answer, leaves the state unknown.
pub(super) fn send_queue_verdict(socket: &impl AsSocket, _: &Stats) -> io::Result<Verdict> {
    let buffer = [0u8; unix::TCP_INFO_BUFFER];
    let info = unix::getsockopt(socket, libc::IPPROTO_TCP, libc::TCP_CONNECTION_INFO, buffer);
    Ok(match info {
        Ok((info, len)) if len >= SND_SBBYTES + 4 => {
            let at = SND_SBBYTES;
            let sbbytes = u32::from_ne_bytes([info[at], info[at + 1], info[at + 2], info[at + 3]]);
            acks::macos(sbbytes, TcpState::from_bsd(info[STATE]))
        }
        Ok(_) | Err(_) => acks::macos(0, None),
    })
}

/// XNU keeps the send buffer after the end: `SO_NWRITE` still counts what was not
/// acknowledged.
pub(super) fn unacked_kept_after_the_end(socket: &impl AsSocket) -> Option<u32> {
    unacked(socket).ok().flatten()
}

/// Clearing `TCP_NOPUSH` only clears XNU's flag (`tcp_ctloutput`, `bsd/netinet/tcp_usrreq.c`);
/// held segments leave at the next `tcp_output`. A zero-length send runs one: `sosend` passes
/// it to `tcp_usr_send` (`bsd/kern/uipc_socket.c`), which calls `tcp_output`, and with the flag
/// clear that sends the tail (`bsd/netinet/tcp_output.c`). `MSG_NOSIGNAL` keeps a socket
/// already shut down from raising `SIGPIPE`; its `EPIPE` means the FIN is queued, and the
/// shutdown already pushed everything, so it is no failure.
pub(super) fn set_cork(socket: &impl AsSocket, cork: bool) -> io::Result<()> {
    let value = libc::c_int::from(cork);
    unix::setsockopt_int(socket, libc::IPPROTO_TCP, libc::TCP_NOPUSH, value)?;
    if cork {
        return Ok(());
    }
    match push(socket) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}

#[allow(unsafe_code)]
fn push(socket: &impl AsSocket) -> io::Result<()> {
    // SAFETY: a send of zero bytes reads nothing through the pointer, which is a live empty
    // slice's; an invalid descriptor makes the call fail, nothing worse.
    let sent = unsafe {
        libc::send(
            unix::fd(socket),
            [0u8; 0].as_ptr().cast(),
            0,
            libc::MSG_NOSIGNAL,
        )
    };
    if sent == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(super) use unix::{flagged_aborted, read_nonblocking, wait_readable};

/// `kern.maxfilesperproc`: XNU refuses a soft `RLIMIT_NOFILE` above it (and above
/// `OPEN_MAX` on older releases, even when the hard limit is unlimited), so Go raises the
/// soft limit to it at most (`syscall/rlimit_darwin.go`).
#[allow(unsafe_code)]
pub(super) fn max_files_per_process() -> Option<u64> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>();
    // SAFETY: the name is a NUL-terminated string; the kernel writes at most `len` bytes into
    // `value`, a live, writable `c_int` of that size, and reads no new value (null, 0).
    let result = unsafe {
        libc::sysctlbyname(
            c"kern.maxfilesperproc".as_ptr(),
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (result == 0).then(|| u64::try_from(value).ok()).flatten()
}
