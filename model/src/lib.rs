//! A model checker for TCP close strategies. Write how your application closes a connection
//! as a [`Strategy`], and check it, exhaustively, over every interleaving of a bounded world:
//! our kernel (following Linux's, FreeBSD's or macOS's rules), the peer's kernel, the network
//! between them (in order, never lost, delayed arbitrarily), your application, and an
//! adversarial peer that may read, send, half-close, close, reset or fall silent. The check
//! holds your close to P1-P5 (no silent loss, no self-inflicted reset, bounded, no misuse, an
//! honest outcome) and to properties of your own, and prints, for each that fails, the
//! shortest path that breaks it. The same strategy runs under random walks beyond the bound
//! ([`fuzz`]) and, on Linux, its traces replay on this machine's kernel through a scripted
//! peer, to show that the model's kernel is the real one ([`conformance`]).
//!
//! It is the checker behind [linger](https://docs.rs/linger), whose `CloseMachine` is the
//! strategy [`Linger`]; the closes it replaces are in [`reference`](mod@reference).
//!
//! # Check a close of your own
//!
//! A strategy answers the model's calls: [`Strategy::start`] writes the response,
//! [`Strategy::close`] runs when the application decides to close, then
//! [`Strategy::on_delivered`] after each segment reaches our kernel and [`Strategy::on_time`]
//! at the deadline it asks for. Each acts on the socket through [`Io`], which records what the
//! properties need (a close over unread data, a call after the release). Here a close that
//! shuts down writing, reads until the peer's EOF, and closes; or closes when 10 model
//! milliseconds have passed:
//!
//! ```
//! use linger_model::{Bound, Check, Describe, Io, Read, Strategy};
//!
//! #[derive(Clone, Debug)]
//! struct DrainToEof;
//!
//! /// Where the close is: open, draining until a deadline, or done.
//! #[derive(Clone, Debug, PartialEq, Eq, Hash)]
//! enum Drain {
//!     Open,
//!     Until(u64),
//!     Done,
//! }
//!
//! impl Describe for Drain {
//!     fn describe(&self) -> String {
//!         format!("{self:?}")
//!     }
//! }
//!
//! impl DrainToEof {
//!     /// Reads what is there; closes at the EOF, an error, or the deadline.
//!     fn drain(&self, app: &mut Drain, io: &mut Io<'_>, deadline_passed: bool) {
//!         if let Drain::Until(_) = app {
//!             loop {
//!                 match io.read() {
//!                     Read::Data => continue,
//!                     Read::WouldBlock if !deadline_passed => return,
//!                     Read::WouldBlock | Read::Eof | Read::Error(_) => break,
//!                 }
//!             }
//!             io.close();
//!             *app = Drain::Done;
//!         }
//!     }
//! }
//!
//! impl Strategy for DrainToEof {
//!     type App = Drain;
//!
//!     fn name(&self) -> String {
//!         "drain to EOF".into()
//!     }
//!
//!     fn start(&self, response: u8, io: &mut Io<'_>) -> Drain {
//!         io.write(response);
//!         Drain::Open
//!     }
//!
//!     fn close(&self, app: &mut Drain, io: &mut Io<'_>) {
//!         let _ = io.shutdown_write();
//!         *app = Drain::Until(io.now() + 10_000);
//!         self.drain(app, io, false);
//!     }
//!
//!     fn on_delivered(&self, app: &mut Drain, io: &mut Io<'_>) {
//!         self.drain(app, io, false);
//!     }
//!
//!     fn deadline(&self, app: &Drain) -> Option<u64> {
//!         match app {
//!             Drain::Until(deadline) => Some(*deadline),
//!             Drain::Open | Drain::Done => None,
//!         }
//!     }
//!
//!     fn on_time(&self, app: &mut Drain, io: &mut Io<'_>) {
//!         self.drain(app, io, true);
//!     }
//!
//!     fn released(&self, app: &Drain) -> bool {
//!         *app == Drain::Done
//!     }
//!
//!     fn claims_delivery(&self, app: &Drain) -> bool {
//!         *app == Drain::Done
//!     }
//!
//!     fn time_bound(&self) -> u64 {
//!         10_000
//!     }
//! }
//!
//! let small = Bound { segments: 2, peer_sends: 1, peer_moves: 2, ..Bound::default() };
//! let report = Check::new(DrainToEof).bound(small)?.run();
//! // Draining to the EOF is no proof of delivery: when the path fails (our kernel gives up
//! // retransmitting), the read returns the error and the close believes everything sent.
//! assert!(!report.verdict("P1 no silent loss").is_some_and(|verdict| verdict.holds));
//! println!("{report}");
//! # Ok::<(), linger_model::Error>(())
//! ```
//!
//! [`Check`] also restricts the peer ([`Peer`]: never resets, never half-closes, reads at most
//! so much, or a rule of your own), adds properties of your own ([`Check::always`],
//! [`Check::sometimes`]), keeps only some ([`Check::only`]), and serves stateright's explorer
//! ([`Check::explore`]). [`Check::walk`] follows one path chosen by a fuzzer's bytes or by
//! proptest ([`fuzz`]), on bounds larger than exhaustive search takes; [`conformance`] replays
//! the strategy's traces on the real kernel (Linux, root).
//!
//! # The model
//!
//! - [`kernel`]: one endpoint's TCP at the level that matters for close, with Linux's rules
//!   (close over unread data resets; data to a closed socket is answered with RST; a RST
//!   leaves acknowledged data readable; `SIOCOUTQ` counts the FIN; the FIN's place in the
//!   window) and, for our side, where FreeBSD's and macOS's differ ([`Flavour`]);
//! - [`world`]: the whole state and the steps that move it;
//! - [`strategy`]: the trait a close implements and the socket calls it may make;
//! - [`properties`]: P1-P5 and the rest as stateright properties; [`trace`]: counterexamples
//!   in words; [`search`]: the shortest counterexample; [`diagram`]: `CloseMachine`'s state
//!   diagram read off the explored graph.
//!
//! The repository's `docs/model.md` says what is abstracted away and why that is sound for
//! P1-P5, and `docs/your-close.md` walks through a whole example, Apache's lingering close.

#![doc(html_root_url = "https://docs.rs/linger-model/0.1.0")]

mod bound;
mod check;
#[cfg(target_os = "linux")]
pub mod conformance;
pub mod diagram;
pub mod fuzz;
pub mod kernel;
mod machine;
mod peer;
pub mod properties;
pub mod reference;
pub mod search;
pub mod strategy;
pub mod text;
pub mod trace;
pub mod world;

pub use bound::Bound;
pub use check::{Check, CloseModel, Condition, Error, LARGEST_COUNT, Report, Verdict};
pub use fuzz::{Failure, Walk};
pub use kernel::{Dead, Fin, Flavour, Kernel, Read, Segment, SoError};
pub use linger;
pub use machine::{Handover, Linger, TrustingFigures};
pub use peer::{Peer, PeerRule};
pub use stateright;
pub use strategy::{Describe, Facts, Io, Misuse, Strategy};
pub use world::{Step, World};

use core::time::Duration;

/// The default policy scaled to the model's clock: milliseconds where the real default has
/// seconds, so the timers fire within a few dozen steps. A discard cap of 2 segments read
/// one per wake-up, so a peer that sends three reaches both limits.
pub fn policy() -> linger::Policy {
    linger::Policy::builder()
        .idle_timeout(Duration::from_millis(5))
        .linger_budget(Duration::from_millis(30))
        .poll_interval(Duration::from_millis(1), Duration::from_millis(8))
        .discard_cap(2)
        .reads_per_wakeup(1)
        .build()
        .expect("the model policy is valid")
}

/// `policy` in words, and what it is: the real default scaled down to the model's
/// milliseconds and segments, or that with knobs set on the command line.
pub fn describe_policy(policy: &linger::Policy) -> String {
    let (poll_min, poll_max) = policy.poll_interval();
    let real = linger::Policy::default();
    let (real_min, real_max) = real.poll_interval();
    format!(
        "idle timeout {:?}, budget {:?}, polls every {poll_min:?} to {poll_max:?}, discard cap \
         {} segments, {} read per wake-up, on budget spent {:?}, {}, Nagle {:?}: {} the real \
         default ({:?}, {:?}, {real_min:?} to {real_max:?}, {}, {}) scaled down to the \
         model's milliseconds and segments",
        policy.idle_timeout(),
        policy.linger_budget(),
        policy.discard_cap(),
        policy.reads_per_wakeup(),
        policy.on_budget_spent(),
        if policy.wait_for_peer_eof() {
            "waits for the peer's EOF"
        } else {
            "does not wait for the peer's EOF"
        },
        policy.nagle(),
        if *policy == self::policy() {
            "the model's policy,"
        } else {
            "chosen by hand, over"
        },
        real.idle_timeout(),
        real.linger_budget(),
        bytes(real.discard_cap()),
        bytes(real.reads_per_wakeup()),
    )
}

/// A byte count in the largest binary unit that divides it.
fn bytes(count: u32) -> String {
    [(30, "GiB"), (20, "MiB"), (10, "KiB")]
        .into_iter()
        .find(|(shift, _)| count >= 1 << shift && count.is_multiple_of(1 << shift))
        .map_or(format!("{count} bytes"), |(shift, unit)| {
            format!("{} {unit}", count >> shift)
        })
}
