//! The syscalls behind linger's actions, shared by its drivers (`linger-mio`,
//! `linger-std`, `linger-tokio`).
//!
//! [`drive`] performs a [`CloseMachine`]'s actions on any socket that has a file descriptor
//! and reports every result back as an [`Event`](linger::Event); [`sys`] holds the
//! per-platform queries (`SIOCOUTQ`, `SO_NWRITE`, `FIONWRITE`) and the cork option. A driver
//! adds only how it waits (epoll, `poll(2)`, tokio) and how it closes.
//!
//! [docs/drivers.md](https://github.com/linger-rs/linger/blob/main/docs/drivers.md) has the
//! action-to-syscall table, the platform differences, and the steps of writing a driver for
//! another event loop.
#![cfg(unix)]

mod perform;
pub mod sys;

pub use perform::{DISCARD_CHUNK, drive, event_for, perform, read_event, write_event};

use linger::{CloseMachine, Ending, Outcome, Release};

/// The outcome of a machine the driver has released. `drive` reports a release only once the
/// machine is `Closed`, which always has an outcome; should that ever not hold, this answers
/// honestly (`Failed`, with the figures known) instead of panicking.
pub fn released_outcome(machine: &CloseMachine) -> Outcome {
    machine.outcome().unwrap_or_else(|| {
        let stats = machine.stats();
        Outcome {
            ending: Ending::Failed {
                unacked: stats.unacked,
            },
            release: Release::Close,
            bytes_written: stats.bytes_written,
            bytes_discarded: stats.bytes_discarded,
            elapsed: std::time::Duration::ZERO,
        }
    })
}
