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
//! [`CloseMachine`] documents the loop a driver runs.
//!
//! # Drivers
//!
//! A driver performs the machine's actions on a real socket. Unless you are writing one, use
//! a driver rather than this crate alone:
//!
//! | crate | for |
//! |---|---|
//! | [`linger-std`] | blocking code: `linger_std::close(stream, &policy)` |
//! | [`linger-mio`] | mio: a `Lingerer` for thousands of closes, a `Connection`, close handles |
//! | [`linger-tokio`] | tokio: `stream.linger_close(&policy).await`, or `spawn_close` |
//! | [`linger-io`] | the syscalls behind each [`Action`]: the base for a driver of your own |
//!
//! [`linger-std`]: https://docs.rs/linger-std
//! [`linger-mio`]: https://docs.rs/linger-mio
//! [`linger-tokio`]: https://docs.rs/linger-tokio
//! [`linger-io`]: https://docs.rs/linger-io
//!
//! # Documentation
//!
//! In the [repository](https://github.com/linger-rs/linger):
//!
//! - [design](https://github.com/linger-rs/linger/blob/main/docs/design.md): why a plain
//!   close loses data, the states, every policy default and its source, the properties P1-P5;
//! - [transition table](https://github.com/linger-rs/linger/blob/main/docs/transitions.md):
//!   every input in every state, generated from the code (a test fails when they disagree);
//! - [drivers](https://github.com/linger-rs/linger/blob/main/docs/drivers.md): actions mapped
//!   onto syscalls, platform differences, writing a driver for another event loop;
//! - [model](https://github.com/linger-rs/linger/blob/main/docs/model.md) and
//!   [verification](https://github.com/linger-rs/linger/blob/main/docs/verification.md): how
//!   P1-P5 are checked (model checking, proptests, fuzzing, loom, real sockets);
//! - [performance](https://github.com/linger-rs/linger/blob/main/docs/performance.md): the
//!   measured figures, each with the command that produced it;
//! - [changelog](https://github.com/linger-rs/linger/blob/main/CHANGELOG.md), and what a 0.x
//!   version promises about [`Event`], [`Action`] and [`Outcome`].
//!
//! # Features
//!
//! - `std`: `Clock`, which maps `std::time::Instant` onto the machine's [`Instant`]. Every
//!   driver enables it.
//! - `arbitrary`: `arbitrary::Arbitrary` for events, intents and policies, for fuzzers
//!   (implies `std`).
// Where rustdoc links this crate's items from docs built without them (`cargo doc
// --no-deps`): docs.rs, at this version (.ci/doc-links checks it).
#![doc(html_root_url = "https://docs.rs/linger/0.1.0")]
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod action;
mod error;
mod input;
mod life;
mod machine;
mod outcome;
mod policy;
mod state;
mod time;
mod timer;

pub use action::Action;
pub use error::Error;
pub use input::{Event, Intent};
pub use life::{Activity, Guard, Life};
pub use machine::CloseMachine;
pub use outcome::{Ending, Outcome, Release, Stats};
pub use policy::{Knob, MinRate, NagleMode, OnBudgetSpent, Policy, PolicyBuilder, PolicyError};
pub use state::State;
#[cfg(feature = "std")]
pub use time::Clock;
pub use time::Instant;
