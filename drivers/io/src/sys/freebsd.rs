//! FreeBSD: `FIONWRITE` counts the data not acknowledged, not the FIN, and reads 0 once the
//! connection is over; `TCP_INFO` gives the state while it lives; `TCP_NOPUSH` holds partial
//! segments, and clearing it sends them (`tcp_output` from `tcp_ctloutput`).

use super::unix;
use crate::AsSocket;
use crate::acks::{self, TcpState, Verdict};
use linger::Stats;
use std::io;

/// `FIONWRITE`: the data not acknowledged, without the FIN.
fn fionwrite(socket: &impl AsSocket) -> io::Result<u32> {
    unix::figure(unix::ioctl_int(socket, libc::FIONWRITE)?)
}

pub(super) fn unacked(socket: &impl AsSocket) -> io::Result<Option<u32>> {
    fionwrite(socket).map(Some)
}

pub(super) fn unsent(_: &impl AsSocket) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn bytes_written(_: &impl AsSocket) -> io::Result<Option<u64>> {
    Ok(None)
}

/// The state from `TCP_INFO` (`tcpi_state`, its first byte); `None` when it fails, which it
/// does with `ECONNRESET` once the connection is dropped (and in TIME_WAIT before FreeBSD 14).
fn state(socket: &impl AsSocket) -> Option<TcpState> {
    let buffer = [0u8; unix::TCP_INFO_BUFFER];
    let (info, len) = unix::getsockopt(socket, libc::IPPROTO_TCP, libc::TCP_INFO, buffer).ok()?;
    (len > 0).then_some(info[0]).and_then(TcpState::from_bsd)
}

/// `FIONWRITE` and the state; the pending error only when the verdict depends on it.
pub(super) fn send_queue_verdict(socket: &impl AsSocket, stats: &Stats) -> io::Result<Verdict> {
    Ok(acks::freebsd(
        fionwrite(socket)?,
        state(socket),
        stats.unacked.is_some(),
    ))
}

/// `soisdisconnected` dropped the send buffer: no figure survives the end.
pub(super) fn unacked_kept_after_the_end(_: &impl AsSocket) -> Option<u32> {
    None
}

pub(super) fn set_cork(socket: &impl AsSocket, cork: bool) -> io::Result<()> {
    unix::setsockopt_int(
        socket,
        libc::IPPROTO_TCP,
        libc::TCP_NOPUSH,
        libc::c_int::from(cork),
    )
}

pub(super) use unix::{flagged_aborted, read_nonblocking, wait_readable};
