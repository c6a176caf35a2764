//! The check of one strategy: [`Check`] sets it up (bound, kernel, peer, properties of your
//! own), [`Check::run`] explores every state with stateright's breadth-first checker and
//! returns a [`Report`] with the shortest counterexample of each property that fails;
//! [`Check::explore`] serves stateright's web explorer instead.

use crate::bound::Bound;
use crate::kernel::Flavour;
use crate::peer::Peer;
use crate::properties;
use crate::search;
use crate::strategy::Strategy;
use crate::text::{WIDTH, wrap};
use crate::trace;
use crate::world::{Step, World};
use core::fmt;
use core::time::Duration;
use stateright::{Checker, Expectation, Model, Property};
use std::net::TcpListener;
use std::time::Instant;

/// A condition on the model's states: a property of your own holds in a state when it
/// returns true. It is given the model (your strategy is `model.strategy`, the bound
/// `model.bound`) and the state: both kernels, the wires, your application's state
/// (`world.app`) and what the model recorded of its calls (`world.facts`).
///
/// ```
/// use linger::CloseMachine;
/// use linger_model::stateright::Model;
/// use linger_model::{Check, CloseModel, Linger, World, policy};
///
/// /// The machine never reads more after the close than its policy's discard cap.
/// fn within_the_cap(model: &CloseModel<Linger>, world: &World<CloseMachine>) -> bool {
///     u32::from(world.facts.read_after_close) <= model.strategy.policy.discard_cap()
/// }
///
/// let check = Check::new(Linger { policy: policy() }).always("within the cap", within_the_cap);
/// // The built-in properties (P1-P5, the policy's promises, three `sometimes`), and ours.
/// assert_eq!(check.model().properties().len(), 11);
/// ```
pub type Condition<S> = fn(&CloseModel<S>, &World<<S as Strategy>::App>) -> bool;

/// Why a check cannot be set up as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A count of the bound is outside what the model explores.
    #[error(
        "{field} is {value}, outside {min} to {max}: the state space grows exponentially in it"
    )]
    Bound {
        /// The field of [`Bound`].
        field: &'static str,
        /// Its value.
        value: u8,
        /// The smallest allowed.
        min: u8,
        /// The largest allowed.
        max: u8,
    },
    /// [`Check::only`] named a property the check does not have.
    #[error("no property is named {0:?}")]
    UnknownProperty(String),
}

/// The largest count of a [`Bound`] a check takes: past it the state space (exponential in
/// each count) is out of reach anyway, and the model's counters stay far from overflowing.
pub const LARGEST_COUNT: u8 = 16;

/// A strategy in the bounded world, the peer's restrictions and the properties checked: the
/// stateright model.
#[derive(Clone, Debug)]
pub struct CloseModel<S: Strategy> {
    /// The strategy under test.
    pub strategy: S,
    /// How far to explore.
    pub bound: Bound,
    /// What the peer may do.
    pub peer: Peer,
    /// Properties of the caller's own, after the built-in ones.
    own: Vec<(Expectation, &'static str, Condition<S>)>,
    /// The properties kept, by name (`None`: all).
    kept: Option<Vec<&'static str>>,
}

impl<S: Strategy> CloseModel<S> {
    /// `strategy` in `bound`, the peer unrestricted, the built-in properties.
    pub fn new(strategy: S, bound: Bound) -> CloseModel<S> {
        CloseModel {
            strategy,
            bound,
            peer: Peer::default(),
            own: Vec::new(),
            kept: None,
        }
    }

    /// The same model (strategy, peer, properties) in `bound`.
    pub fn in_bound(&self, bound: Bound) -> CloseModel<S> {
        CloseModel {
            bound,
            ..self.clone()
        }
    }
}

impl<S: Strategy> Model for CloseModel<S> {
    type State = World<S::App>;
    type Action = Step;

    fn init_states(&self) -> Vec<World<S::App>> {
        vec![World::start(&self.strategy, &self.bound)]
    }

    fn actions(&self, world: &World<S::App>, steps: &mut Vec<Step>) {
        world.steps(&self.strategy, &self.peer, steps);
    }

    fn next_state(&self, world: &World<S::App>, step: Step) -> Option<World<S::App>> {
        Some(world.after(&self.strategy, step))
    }

    /// The built-in properties ([`properties::all`]), then the caller's own, less those
    /// [`Check::only`] left out.
    fn properties(&self) -> Vec<Property<Self>> {
        let own = self
            .own
            .iter()
            .map(|(expectation, name, condition)| Property {
                expectation: expectation.clone(),
                name,
                condition: *condition,
            });
        properties::all()
            .into_iter()
            .chain(own)
            .filter(|property| {
                self.kept
                    .as_ref()
                    .is_none_or(|kept| kept.contains(&property.name))
            })
            .collect()
    }

    /// The explorer lists each step by what happens in it.
    fn format_action(&self, step: &Step) -> String {
        step.to_string()
    }

    /// Time stops one millisecond past the strategy's bound; P3 has failed before then.
    fn within_boundary(&self, world: &World<S::App>) -> bool {
        let start = world.facts.close_asked_at.unwrap_or(world.now);
        world.now
            <= start
                .saturating_add(self.strategy.time_bound())
                .saturating_add(1000)
    }
}

/// The check of one close strategy, set up step by step, then [run](Check::run) or
/// [explored](Check::explore).
///
/// ```
/// use linger_model::{Bound, Check, CloseModel, Flavour, Linger, Peer, World, policy};
/// use linger::CloseMachine;
///
/// // A property of our own: the machine never holds the socket once the peer has reset.
/// fn lets_go_after_a_reset(_: &CloseModel<Linger>, world: &World<CloseMachine>) -> bool {
///     world.ours.error.is_none() || world.released() || world.now == world.facts.close_asked_at.unwrap_or(0)
/// }
///
/// let report = Check::new(Linger { policy: policy() })
///     .bound(Bound { segments: 1, peer_sends: 1, peer_moves: 2, ..Bound::default() })?
///     .kernel(Flavour::MacOs)
///     .peer(Peer::default().never_half_closes())
///     .sometimes("the peer resets", |_, world| world.peer.dead.is_some())
///     .run();
/// assert!(report.holds(), "{report}");
/// # Ok::<(), linger_model::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Check<S: Strategy> {
    model: CloseModel<S>,
}

impl<S: Strategy> Check<S> {
    /// `strategy` in the default bound ([`Bound::default`], our kernel Linux's), against an
    /// unrestricted peer, for the built-in properties: P1-P5, the lingering policy's
    /// promises, and what some path must reach ([`properties::all`]).
    pub fn new(strategy: S) -> Check<S> {
        Check {
            model: CloseModel::new(strategy, Bound::default()),
        }
    }

    /// Explores within `bound` (its kernel included). Each count but the peer's sends and
    /// moves must be 1 or more, and none more than [`LARGEST_COUNT`].
    pub fn bound(mut self, bound: Bound) -> Result<Check<S>, Error> {
        let counts = [
            ("segments", bound.segments, 1),
            ("peer_window", bound.peer_window, 1),
            ("our_window", bound.our_window, 1),
            ("peer_sends", bound.peer_sends, 0),
            ("peer_moves", bound.peer_moves, 0),
        ];
        for (field, value, min) in counts {
            if !(min..=LARGEST_COUNT).contains(&value) {
                return Err(Error::Bound {
                    field,
                    value,
                    min,
                    max: LARGEST_COUNT,
                });
            }
        }
        self.model.bound = bound;
        Ok(self)
    }

    /// Our kernel follows `kernel`'s rules (the peer's is always Linux's).
    pub fn kernel(mut self, kernel: Flavour) -> Check<S> {
        self.model.bound.kernel = kernel;
        self
    }

    /// The peer is restricted to `peer`.
    pub fn peer(mut self, peer: Peer) -> Check<S> {
        self.model.peer = peer;
        self
    }

    /// Adds a property of your own that every state must satisfy: a counterexample, if there
    /// is one, is reported as for P1-P5, the shortest path to a state that breaks it.
    pub fn always(mut self, name: &'static str, condition: Condition<S>) -> Check<S> {
        self.model.own.push((Expectation::Always, name, condition));
        self
    }

    /// Adds a property of your own that some state must satisfy: it fails when no path
    /// reaches such a state (a finding about the strategy, or a bound too small to show it).
    pub fn sometimes(mut self, name: &'static str, condition: Condition<S>) -> Check<S> {
        self.model
            .own
            .push((Expectation::Sometimes, name, condition));
        self
    }

    /// Checks only the properties named (built-in or your own), the others left out.
    pub fn only(mut self, names: &[&str]) -> Result<Check<S>, Error> {
        let all = self.model.properties();
        let mut kept = Vec::new();
        for &name in names {
            let property = all
                .iter()
                .find(|property| property.name == name)
                .ok_or_else(|| Error::UnknownProperty(name.into()))?;
            kept.push(property.name);
        }
        self.model.kept = Some(kept);
        Ok(self)
    }

    /// The model the check explores.
    pub fn model(&self) -> &CloseModel<S> {
        &self.model
    }

    /// Explores every state within the bound with stateright's breadth-first checker (one
    /// thread), then, for each property that fails, searches out its shortest counterexample
    /// (the same every run), in the words the `linger-check` command prints.
    pub fn run(&self) -> Report {
        let started = Instant::now();
        let checker = self.model.clone().checker().spawn_bfs().join();
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
            strategy: model.strategy.name(),
            policy: model.strategy.policy(),
            bound: model.bound,
            peer: model.peer,
            states: checker.state_count(),
            unique_states: checker.unique_state_count(),
            max_depth: checker.max_depth(),
            elapsed,
            verdicts,
        }
    }

    /// Serves stateright's web explorer on `address` (say `127.0.0.1:3000`) until the process
    /// ends: start from the initial state, pick the next step, see the state it leads to, in
    /// words. Fails at once if `address` cannot be bound.
    pub fn explore(&self, address: &str) -> std::io::Result<()> {
        drop(TcpListener::bind(address)?);
        let _ = self.model.clone().checker().serve(address);
        Ok(())
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
    /// The shortest counterexample of an `always` property that fails, as numbered steps.
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
    /// What the peer was allowed.
    pub peer: Peer,
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

/// What restricts the peer, in words; `None` for a peer that may do anything.
fn restrictions(peer: &Peer) -> Option<String> {
    let mut said = Vec::new();
    for (allowed, never) in [
        (peer.resets, "never resets"),
        (peer.half_closes, "never half-closes"),
        (peer.closes, "never closes"),
    ] {
        if !allowed {
            said.push(never.to_string());
        }
    }
    if let Some(reads) = peer.reads {
        said.push(format!("reads at most {reads} segments"));
    }
    if !peer.path_fails {
        said.push("the path never fails (our kernel never gives up)".into());
    }
    if peer.rule.is_some() {
        said.push("moves only where a rule of the caller's own allows".into());
    }
    (!said.is_empty()).then(|| said.join(", "))
}

impl fmt::Display for Report {
    /// The report, explained for a reader who has not read the model's documentation, in
    /// lines that fit 80 columns (but for the counterexamples' traces).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "strategy: {}", self.strategy)?;
        writeln!(f, "{}", wrap("bound:    ", &self.bound.to_string(), WIDTH))?;
        if let Some(restricted) = restrictions(&self.peer) {
            writeln!(f, "{}", wrap("peer:     ", &restricted, WIDTH))?;
        }
        if let Some(policy) = &self.policy {
            let described = crate::describe_policy(policy);
            writeln!(f, "{}", wrap("policy:   ", &described, WIDTH))?;
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
        for verdict in self.verdicts.iter().filter(|v| v.sometimes && !v.holds) {
            let reaching = properties::SOMETIMES
                .iter()
                .find(|(name, _)| *name == verdict.property)
                .map_or("a state where it holds", |(_, reaching)| *reaching);
            let explained = format!(
                "\"{}\" FAILS: no path reaches {reaching}: a finding about the strategy \
                 (or a bound too small to show it), not an error of the checker.",
                verdict.property
            );
            writeln!(f, "\n{}", wrap("", &explained, WIDTH))?;
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
