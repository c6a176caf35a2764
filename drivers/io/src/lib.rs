//! The syscalls behind linger's actions, shared by its drivers (`linger-mio`,
//! `linger-std`, `linger-tokio`).
//!
//! [`drive`] performs a [`CloseMachine`](linger::CloseMachine)'s actions on any socket that
//! has a file descriptor and reports every result back as an [`Event`](linger::Event);
//! [`sys`] holds the per-platform queries (`SIOCOUTQ`, `SO_NWRITE`, `FIONWRITE`) and the cork
//! option. A driver adds only how it waits (epoll, `poll(2)`, tokio) and how it closes.
#![cfg(unix)]

mod perform;
pub mod sys;

pub use perform::{DISCARD_CHUNK, drive, event_for, perform, read_event, write_event};
