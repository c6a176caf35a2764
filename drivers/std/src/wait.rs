//! Waiting for readability with `poll(2)`, the one blocking call of this driver.

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

/// Waits until `socket` is readable (data, EOF, reset) or `timeout` passes; true if readable.
/// An interrupted (or failed) wait reports "not readable": the caller's timers go on.
#[allow(unsafe_code)]
pub(crate) fn readable(socket: &impl AsFd, timeout: Duration) -> bool {
    let mut pollfd = libc::pollfd {
        fd: socket.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // Round up: waking before the deadline would only mean waiting again.
    let millis = timeout
        .as_micros()
        .div_ceil(1_000)
        .min(libc::c_int::MAX as u128);
    // SAFETY: `pollfd` is one live, writable `pollfd` and the count is 1.
    let ready = unsafe { libc::poll(&mut pollfd, 1, millis as libc::c_int) };
    ready > 0
}
