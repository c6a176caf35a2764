//! Every other platform: nothing can be observed, so the outcomes say so.

use std::io;
use std::os::fd::{AsFd, RawFd};

pub(super) fn unacked(_fd: RawFd) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn unsent(_fd: RawFd) -> io::Result<Option<u32>> {
    Ok(None)
}

pub(super) fn bytes_written(_fd: RawFd) -> io::Result<Option<u64>> {
    Ok(None)
}

pub(super) fn set_cork(_socket: &impl AsFd, _cork: bool) -> io::Result<()> {
    Ok(())
}
