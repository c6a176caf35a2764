//! Close TCP connections without losing data.
//!
//! An application that writes a response and calls `close()` can lose it: if the peer sent
//! anything we did not read, Linux answers with RST and drops what it had not delivered.
//! `linger` performs a *lingering close* instead: uncork, shut down writing, discard what
//! the peer still sends, wait until the kernel reports every byte and our FIN acknowledged,
//! wait a bounded time for the peer's EOF, and only then release the socket, reporting
//! honestly how it ended.
//!
//! This crate is the sans-IO core: [`CloseMachine`] takes intents from the application,
//! observations ([`Event`]) from a driver, and time as a parameter, and returns [`Action`]s
//! and deadlines. It is `no_std`, allocates nothing, contains no `unsafe` and reads no clock.
//! Drivers map the actions onto real syscalls (`linger-mio`).
//!
//! ```
//! use linger::{Action, CloseMachine, Event, Instant, Policy, State};
//!
//! let mut machine = CloseMachine::new(Policy::default());
//! machine.handle(Event::Wrote(512), Instant::ZERO)?;
//! machine.close(Instant::ZERO)?;
//! assert_eq!(machine.state(), State::WriteShut);
//! assert_eq!(machine.poll_action(), Some(Action::ShutdownWrite));
//! # Ok::<(), linger::Error>(())
//! ```
//!
//! [`CloseMachine`] documents the loop a driver runs; `docs/design.md` explains why, and
//! `docs/transitions.md` lists every input in every state.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

mod action;
mod error;
mod input;
mod machine;
mod outcome;
mod policy;
mod state;
mod time;
mod timer;

pub use action::Action;
pub use error::Error;
pub use input::{Event, Intent};
pub use machine::CloseMachine;
pub use outcome::{Ending, Outcome, Release, Stats};
pub use policy::{Knob, NagleMode, OnBudgetSpent, Policy, PolicyBuilder, PolicyError};
pub use state::State;
#[cfg(feature = "std")]
pub use time::Clock;
pub use time::Instant;
