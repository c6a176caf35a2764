//! The syscalls behind linger's actions, shared by its drivers (`linger-mio`,
//! `linger-std`, `linger-tokio`), on unix and Windows.
//!
//! [`drive`] performs a [`CloseMachine`]'s actions on any socket ([`AsSocket`]: a file
//! descriptor on unix, a `SOCKET` on Windows) and reports every result back as an
//! [`Event`](linger::Event); [`sys`] holds the per-platform syscalls (`SIOCOUTQ`,
//! `FIONWRITE`, `TCP_INFO`, `TCP_CONNECTION_INFO`, `SIO_TCP_INFO`, the cork option);
//! [`acks`] decides what the kernel's figures prove, apart from the syscalls; [`errors`] maps
//! every socket error onto the event it stands for, and a failed `accept` onto what the loop
//! does next. A driver adds only how it waits (epoll, `poll(2)`, `WSAPoll`, tokio) and how it
//! closes. What the lingerers share lives here too: [`limits`], the descriptor budget their
//! default capacity comes from and the opt-in that raises it, and [`pressure`], which close
//! gives way first when they run short. [`profile`] finds at run time what a close can
//! observe here, for test suites that run the same scenarios on every platform.
//!
//! [docs/drivers.md](https://github.com/linger-rs/linger/blob/main/docs/drivers.md) has the
//! action-to-syscall table, what each outcome promises on each platform, and the steps of
//! writing a driver for another event loop.

// Where rustdoc links this crate's items from docs built without them (`cargo doc
// --no-deps`): docs.rs, at this version (.ci/doc-links checks it).
#![doc(html_root_url = "https://docs.rs/linger-io/0.1.0")]

pub mod acks;
pub mod errors;
pub mod limits;
mod perform;
pub mod pressure;
pub mod profile;
pub mod sys;

pub use errors::{AcceptFailure, accept_failure, event_for, read_event, write_event};
pub use perform::{DISCARD_CHUNK, drive, perform};

/// A socket linger-io works on: `AsFd` on unix, `AsSocket` on Windows. Every std, mio,
/// socket2 and tokio TCP stream is one.
#[cfg(unix)]
pub use std::os::fd::AsFd as AsSocket;
/// A socket linger-io works on: `AsFd` on unix, `AsSocket` on Windows. Every std, mio,
/// socket2 and tokio TCP stream is one.
#[cfg(windows)]
pub use std::os::windows::io::AsSocket;

use linger::{CloseMachine, Ending, Outcome, Policy, Release};

/// The machine for `socket`, handed over after it was written: it starts from the kernel's
/// count of the bytes written ([`sys::bytes_written`]) where the platform keeps one, so the
/// outcome reports the real figure; elsewhere the outcome says earlier writes were not
/// counted.
pub fn adopt(socket: &impl AsSocket, policy: Policy) -> CloseMachine {
    match sys::bytes_written(socket) {
        Ok(Some(written)) => CloseMachine::adopt_written(policy, written),
        Ok(None) | Err(_) => CloseMachine::adopt(policy),
    }
}

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
