//! Exhaustive model checking of close strategies: P1-P5 over every interleaving of a bounded
//! model of two kernels, the network between them, our application and an adversarial peer.
//!
//! - [`kernel`]: one endpoint's TCP at the level that matters for close, with Linux's rules
//!   (close over unread data resets; data to a closed socket is answered with RST; a RST
//!   leaves acknowledged data readable; `SIOCOUTQ` counts the FIN) and, for our side, where
//!   FreeBSD's and macOS's differ ([`Flavour`]);
//! - [`world`]: the whole state and the steps that move it; the peer may read or not, send,
//!   half-close, close, reset or fall silent, and the network delays each segment arbitrarily;
//! - [`strategy`]: the trait a close strategy implements, and the socket calls it may make;
//!   [`Linger`] runs `CloseMachine` (and [`Handover`] a socket the application shut down
//!   itself), [`reference`](mod@reference) holds the closes it replaces;
//! - [`properties`]: P1-P5 as stateright properties, the lingering policy's promises
//!   (progress kept until the budget, the discard cap), and what some path must reach (a
//!   clean ending among them); [`trace`]: counterexamples for people.
//!
//! `docs/model.md` says what is abstracted away and why that is sound for P1-P5.
//!
//! ```
//! use linger_check::model::{check, Bound, Linger};
//!
//! let small = Bound { segments: 1, peer_sends: 1, peer_moves: 1, ..Bound::default() };
//! let report = check(Linger { policy: linger_check::model::policy() }, small);
//! assert!(report.holds(), "{report}");
//! ```

pub mod diagram;
pub mod kernel;
mod machine;
pub mod properties;
pub mod reference;
pub mod search;
pub mod strategy;
pub mod trace;
pub mod world;

pub use kernel::Flavour;
pub use machine::{Handover, Linger, TrustingFigures};
pub use strategy::Strategy;
pub use world::{Step, World};

use crate::text::{WIDTH, wrap};
use core::fmt;
use core::time::Duration;
use stateright::{Checker, Expectation, Model, Property};
use std::time::Instant;

/// How much of the world the checker explores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// Data segments in our response.
    pub segments: u8,
    /// The peer's receive buffer, in segments: how much we may have in flight.
    pub peer_window: u8,
    /// Our receive buffer, in segments.
    pub our_window: u8,
    /// Data segments the peer may send (before or after our close).
    pub peer_sends: u8,
    /// Moves the peer may make: each send, half-close, close or reset costs one, and so does
    /// a retransmission timeout of our kernel.
    pub peer_moves: u8,
    /// Whose rules our kernel follows (the peer's is Linux's).
    pub kernel: Flavour,
}

impl Default for Bound {
    /// Three segments through a one-segment window; a peer that may send three segments (one
    /// more than the model policy's discard cap, so it can flood) and make four moves: enough
    /// for every ordering of data, FIN, ACK and RST that P1-P5 are about.
    fn default() -> Bound {
        Bound {
            segments: 3,
            peer_window: 1,
            our_window: 2,
            peer_sends: 3,
            peer_moves: 4,
            kernel: Flavour::Linux,
        }
    }
}

impl fmt::Display for Bound {
    /// The bound in words, each limit explained.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} segments of response, peer window {}, our window {}, peer sends up to {}, \
             peer moves up to {} (each send, half-close, close or reset of the peer, and each \
             retransmission timeout of our kernel, is a move), our kernel {}",
            self.segments,
            self.peer_window,
            self.our_window,
            self.peer_sends,
            self.peer_moves,
            self.kernel
        )
    }
}

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
            "set on the command line, over"
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

/// A strategy in the bounded world: the stateright model.
#[derive(Clone, Debug)]
pub struct CloseModel<S> {
    /// The strategy under test.
    pub strategy: S,
    /// How far to explore.
    pub bound: Bound,
}

impl<S: Strategy> Model for CloseModel<S> {
    type State = World<S::App>;
    type Action = Step;

    fn init_states(&self) -> Vec<World<S::App>> {
        vec![World::start(&self.strategy, &self.bound)]
    }

    fn actions(&self, world: &World<S::App>, steps: &mut Vec<Step>) {
        world.steps(&self.strategy, steps);
    }

    fn next_state(&self, world: &World<S::App>, step: Step) -> Option<World<S::App>> {
        Some(world.after(&self.strategy, step))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all()
    }

    /// The explorer lists each step by what happens in it.
    fn format_action(&self, step: &Step) -> String {
        step.to_string()
    }

    /// Time stops one millisecond past the strategy's bound; P3 has failed before then.
    fn within_boundary(&self, world: &World<S::App>) -> bool {
        let start = world.facts.close_asked_at.unwrap_or(world.now);
        world.now <= start + self.strategy.bound() + 1000
    }
}

/// One property's result.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The property's name.
    pub property: &'static str,
    /// `always` (a safety property: no state may break it) or `sometimes` (some state must
    /// satisfy it, or the model explored nothing interesting).
    pub sometimes: bool,
    /// Whether it holds: an `always` property has no counterexample; a `sometimes` property
    /// has an example.
    pub holds: bool,
    /// The shortest counterexample of an `always` property that fails.
    pub counterexample: Option<String>,
}

/// What one exhaustive check found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The strategy checked.
    pub strategy: String,
    /// Its policy, for a strategy that has one.
    pub policy: Option<linger::Policy>,
    /// The bound explored.
    pub bound: Bound,
    /// States visited (a state reached by two paths counts twice).
    pub states: usize,
    /// Distinct states.
    pub unique_states: usize,
    /// Steps on the longest path explored.
    pub max_depth: usize,
    /// Wall-clock time of the check.
    pub elapsed: Duration,
    /// One per property.
    pub verdicts: Vec<Verdict>,
}

impl Report {
    /// Every property holds.
    pub fn holds(&self) -> bool {
        self.verdicts.iter().all(|verdict| verdict.holds)
    }

    /// The verdict on `property`.
    pub fn verdict(&self, property: &str) -> Option<&Verdict> {
        self.verdicts
            .iter()
            .find(|verdict| verdict.property == property)
    }
}

impl fmt::Display for Report {
    /// The report, explained for a reader who has not read docs/model.md, in lines that fit
    /// 80 columns (but for the counterexamples' traces).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "strategy: {}", self.strategy)?;
        writeln!(f, "{}", wrap("bound:    ", &self.bound.to_string(), WIDTH))?;
        if let Some(policy) = &self.policy {
            writeln!(f, "{}", wrap("policy:   ", &describe_policy(policy), WIDTH))?;
        }
        writeln!(
            f,
            "explored: {} states ({} distinct, depth {}) in {:.2?}",
            self.states, self.unique_states, self.max_depth, self.elapsed
        )?;
        for (sometimes, heading) in [
            (false, "always: no state on any path may break it"),
            (true, "sometimes: at least one path must reach it"),
        ] {
            writeln!(f, "{heading}")?;
            for verdict in self.verdicts.iter().filter(|v| v.sometimes == sometimes) {
                let status = if verdict.holds { "holds" } else { "FAILS" };
                writeln!(f, "  {status:5}  {}", verdict.property)?;
            }
        }
        for verdict in &self.verdicts {
            let reaching = properties::SOMETIMES
                .iter()
                .find(|(name, _)| *name == verdict.property)
                .map(|(_, reaching)| *reaching);
            if let (false, Some(reaching)) = (verdict.holds, reaching) {
                let explained = format!(
                    "\"{}\" FAILS: no path reaches {reaching}: a finding about the strategy \
                     (or a bound too small to show it), not an error of the checker.",
                    verdict.property
                );
                writeln!(f, "\n{}", wrap("", &explained, WIDTH))?;
            }
        }
        for verdict in &self.verdicts {
            if let Some(trace) = &verdict.counterexample {
                writeln!(
                    f,
                    "\nshortest counterexample to {}:\n{trace}",
                    verdict.property
                )?;
            }
        }
        Ok(())
    }
}

/// Explores every state of `strategy` within `bound` with stateright's breadth-first checker,
/// then, for each property that fails, searches out its shortest counterexample (the same
/// every run).
pub fn check<S: Strategy>(strategy: S, bound: Bound) -> Report {
    let name = strategy.name();
    let policy = strategy.policy();
    let model = CloseModel { strategy, bound };
    let started = Instant::now();
    let checker = model.checker().spawn_bfs().join();
    let elapsed = started.elapsed();
    let model = checker.model();
    let verdicts = model
        .properties()
        .iter()
        .map(|property| {
            let found = checker.discovery(property.name);
            let fails = property.expectation.discovery_is_failure();
            Verdict {
                property: property.name,
                sometimes: property.expectation == Expectation::Sometimes,
                holds: found.is_some() != fails,
                counterexample: (found.is_some() && fails)
                    .then(|| search::shortest_counterexample(model, property.condition))
                    .flatten()
                    .map(|path| trace::render(&model.strategy, &path)),
            }
        })
        .collect();
    Report {
        strategy: name,
        policy,
        bound,
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        elapsed,
        verdicts,
    }
}

/// Serves stateright's web explorer for `strategy` on `address` until the process ends.
pub fn explore<S: Strategy>(strategy: S, bound: Bound, address: &str) {
    let model = CloseModel { strategy, bound };
    let _ = model.checker().serve(address);
}
