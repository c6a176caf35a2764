//! Linux and Android: `SIOCOUTQ` counts what is not acknowledged, our FIN included, and keeps
//! it after a reset; `tcp_info` counts what was written; `TCP_CORK` holds partial segments.

use super::unix;
use crate::AsSocket;
use crate::acks::{self, Verdict};
use linger::Stats;
use std::io;

/// `SIOCOUTQNSD` from `linux/sockios.h`; libc does not export it.
const SIOCOUTQNSD: unix::Request = 0x894B;

/// `SIOCOUTQ`, which is `TIOCOUTQ` for sockets: `write_seq - snd_una`, the FIN included.
fn siocoutq(socket: &impl AsSocket) -> io::Result<u32> {
    unix::figure(unix::ioctl_int(socket, libc::TIOCOUTQ)?)
}

pub(super) fn unacked(socket: &impl AsSocket) -> io::Result<Option<u32>> {
    siocoutq(socket).map(Some)
}

pub(super) fn unsent(socket: &impl AsSocket) -> io::Result<Option<u32>> {
    unix::figure(unix::ioctl_int(socket, SIOCOUTQNSD)?).map(Some)
}

/// One `ioctl(SIOCOUTQ)`: nothing else is read on Linux's close path.
pub(super) fn send_queue_verdict(socket: &impl AsSocket, _: &Stats) -> io::Result<Verdict> {
    Ok(acks::linux(siocoutq(socket)?))
}

pub(super) fn unacked_kept_after_the_end(socket: &impl AsSocket) -> Option<u32> {
    unacked(socket).ok().flatten()
}

pub(super) fn set_cork(socket: &impl AsSocket, cork: bool) -> io::Result<()> {
    socket2::SockRef::from(socket).set_tcp_cork(cork)
}

pub(super) use unix::{flagged_aborted, read_nonblocking, wait_readable};

/// `struct tcp_info` through `tcpi_bytes_retrans` (Linux 4.19), and the offsets read.
pub(super) const TCP_INFO_LEN: usize = 216;
pub(super) const STATE: usize = 0;
pub(super) const NOTSENT_BYTES: usize = 144;
pub(super) const BYTES_SENT: usize = 200;
pub(super) const BYTES_RETRANS: usize = 208;

/// `tcpi_state` values (`include/net/tcp_states.h`; libc does not export them).
pub(super) mod tcp_state {
    pub(crate) const FIN_WAIT1: u8 = 4;
    pub(crate) const FIN_WAIT2: u8 = 5;
    pub(crate) const TIME_WAIT: u8 = 6;
    pub(crate) const CLOSE: u8 = 7;
    pub(crate) const LAST_ACK: u8 = 9;
    pub(crate) const CLOSING: u8 = 11;
}
use tcp_state::*;

/// States in which our FIN is queued: it sits among the unsent bytes while
/// `tcpi_notsent_bytes` is not zero. In `CLOSE` nothing tells whether it is.
const FIN_QUEUED: [u8; 5] = [FIN_WAIT1, FIN_WAIT2, CLOSING, TIME_WAIT, LAST_ACK];

pub(super) fn bytes_written(socket: &impl AsSocket) -> io::Result<Option<u64>> {
    let (info, len) = unix::getsockopt(
        socket,
        libc::IPPROTO_TCP,
        libc::TCP_INFO,
        [0u8; TCP_INFO_LEN],
    )?;
    if len < TCP_INFO_LEN {
        return Ok(None);
    }
    Ok(written_from_raw_tcp_info(&info))
}

/// [`bytes_written`] from the `struct tcp_info` the kernel filled in: its fields are in the
/// machine's byte order.
pub(super) fn written_from_raw_tcp_info(info: &[u8; TCP_INFO_LEN]) -> Option<u64> {
    let u32_at = |at: usize| u32::from_ne_bytes(std::array::from_fn(|i| info[at + i]));
    let u64_at = |at: usize| u64::from_ne_bytes(std::array::from_fn(|i| info[at + i]));
    written_from_tcp_info(
        info[STATE],
        u64_at(BYTES_SENT),
        u64_at(BYTES_RETRANS),
        u32_at(NOTSENT_BYTES),
    )
}

/// The arithmetic of [`bytes_written`], apart so it can be tested on any figures.
pub(super) fn written_from_tcp_info(
    state: u8,
    bytes_sent: u64,
    bytes_retrans: u64,
    notsent: u32,
) -> Option<u64> {
    let unsent = u64::from(notsent);
    let sent_once = bytes_sent.checked_sub(bytes_retrans)?;
    let unsent_data = match state {
        _ if unsent == 0 => 0,
        CLOSE => return None,
        state if FIN_QUEUED.contains(&state) => unsent - 1,
        _ => unsent,
    };
    sent_once.checked_add(unsent_data)
}

#[cfg(test)]
#[path = "linux/tests.rs"]
mod tests;
