//! Other unix kernels (NetBSD, OpenBSD, illumos, ...): no send-queue figure or cork that
//! linger reads or sets; closes there end `Unknown`, never claiming delivery.

use super::unix;
use crate::AsSocket;
use crate::acks::{self, Verdict};
use linger::Stats;
use std::io;

pub(super) fn unacked(_: &impl AsSocket) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn unsent(_: &impl AsSocket) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn bytes_written(_: &impl AsSocket) -> io::Result<Option<u64>> {
    Ok(None)
}

pub(super) fn send_queue_verdict(_: &impl AsSocket, _: &Stats) -> io::Result<Verdict> {
    Ok(acks::unobservable())
}

pub(super) fn unacked_kept_after_the_end(_: &impl AsSocket) -> Option<u32> {
    None
}

pub(super) fn set_cork(_: &impl AsSocket, _: bool) -> io::Result<()> {
    Ok(())
}

pub(super) use unix::{flagged_aborted, read_nonblocking, wait_readable};
