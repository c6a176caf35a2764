//! The traces to replay, all drawn from the model with Linux's rules: the covering set (for
//! each close strategy, the shortest trace through each transition of [`Transition`] it can
//! reach) and seeded random walks.

use super::coverage::Transition;
use crate::model::reference::{FixedDelay, Naive, ShutdownClose, SoLinger};
use crate::model::search::{Path, first_paths};
use crate::model::strategy::Logged;
use crate::model::{self, Bound, CloseModel, Flavour, Handover, Linger, Step, Strategy, World};
use core::fmt;
use stateright::Model;

/// The close strategies the replay runs, each as the model runs it (`--strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Closer {
    /// `CloseMachine` under the model policy.
    Linger,
    /// A socket shut down by the application, handed over to an adopted machine.
    Handover,
    /// Plain `close()`.
    Naive,
    /// `shutdown(SHUT_WR)` and `close()` at once.
    ShutdownClose,
    /// `SO_LINGER {1, t}` and a blocking `close()`.
    SoLinger,
    /// `shutdown(SHUT_WR)`, a fixed sleep, `close()`.
    FixedDelay,
}

/// Something to do with a strategy whose type depends on the [`Closer`].
pub trait WithStrategy {
    /// What it gives.
    type Output;
    /// Does it with `strategy`.
    fn with<S: Strategy>(self, closer: Closer, strategy: S) -> Self::Output;
}

impl Closer {
    /// Every closer, in report order.
    pub const ALL: [Closer; 6] = [
        Closer::Linger,
        Closer::Handover,
        Closer::Naive,
        Closer::ShutdownClose,
        Closer::SoLinger,
        Closer::FixedDelay,
    ];

    /// The model strategy's name, as `--strategy` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Closer::Linger => "linger",
            Closer::Handover => "handover",
            Closer::Naive => "naive",
            Closer::ShutdownClose => "shutdown-close",
            Closer::SoLinger => "so-linger",
            Closer::FixedDelay => "fixed-delay",
        }
    }

    /// The closer named `name`.
    pub fn from_name(name: &str) -> Option<Closer> {
        Closer::ALL.into_iter().find(|closer| closer.name() == name)
    }

    /// Calls `work` with this closer's model strategy: the model policy for the machine,
    /// 30 model milliseconds for `SO_LINGER` and the fixed delay, as the command's defaults.
    pub fn with<W: WithStrategy>(self, work: W) -> W::Output {
        match self {
            Closer::Linger => work.with(
                self,
                Linger {
                    policy: model::policy(),
                },
            ),
            Closer::Handover => work.with(
                self,
                Handover {
                    policy: model::policy(),
                },
            ),
            Closer::Naive => work.with(self, Naive),
            Closer::ShutdownClose => work.with(self, ShutdownClose),
            Closer::SoLinger => work.with(self, SoLinger { timeout: 30_000 }),
            Closer::FixedDelay => work.with(self, FixedDelay { delay: 30_000 }),
        }
    }
}

impl fmt::Display for Closer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a trace came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The shortest trace through this transition.
    Covering(Transition),
    /// A random walk from this seed.
    Walk(u64),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Covering(transition) => write!(f, "covering {transition}"),
            Origin::Walk(seed) => write!(f, "walk {seed}"),
        }
    }
}

/// One path of the model: a closer, the bound, and the steps from the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The strategy.
    pub closer: Closer,
    /// The world it runs in (our kernel Linux's).
    pub bound: Bound,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Why it is replayed.
    pub origin: Origin,
}

/// The bound every trace is drawn in: the model's default (three segments through a
/// one-segment window, a peer of four moves), our kernel Linux's.
pub fn bound() -> Bound {
    Bound {
        kernel: Flavour::Linux,
        ..Bound::default()
    }
}

/// The bound the covering set is searched in: smaller than [`bound`] where a closer's state
/// space is large (the machine's), enough for every transition (`cargo test` checks it).
fn covering_bound(closer: Closer) -> Bound {
    match closer {
        Closer::Linger | Closer::Handover => Bound {
            peer_sends: 2,
            peer_moves: 3,
            ..bound()
        },
        _ => bound(),
    }
}

/// For each closer, the shortest trace through each transition it reaches: the covering set,
/// in closer order and then [`Transition::ALL`]'s.
pub fn covering_set() -> Vec<Trace> {
    Closer::ALL
        .into_iter()
        .flat_map(|closer| closer.with(Covering))
        .collect()
}

struct Covering;

impl WithStrategy for Covering {
    type Output = Vec<Trace>;

    fn with<S: Strategy>(self, closer: Closer, strategy: S) -> Vec<Trace> {
        let bound = covering_bound(closer);
        let model = CloseModel {
            strategy: strategy.clone(),
            bound,
        };
        let mut log = Vec::new();
        let mut found = first_paths(&model, Transition::ALL.len(), |world, step, _| {
            log.clear();
            world.after_logged(&strategy, step, Some(&mut log));
            log.iter().flat_map(Transition::of).collect()
        });
        // The start is a path of no step: what it exercises counts as its own trace.
        let mut starting = Vec::new();
        World::start_logged(&strategy, &bound, Some(&mut starting));
        Transition::ALL
            .iter()
            .copied()
            .filter_map(|transition| {
                let steps = if starting
                    .iter()
                    .flat_map(Transition::of)
                    .any(|t| t == transition)
                {
                    Vec::new()
                } else {
                    steps_of(&found.remove(&transition)?)
                };
                Some(Trace {
                    closer,
                    bound,
                    steps,
                    origin: Origin::Covering(transition),
                })
            })
            .collect()
    }
}

fn steps_of<A>(path: &Path<A>) -> Vec<Step> {
    path.iter().filter_map(|(_, step)| *step).collect()
}

/// `count` random walks from `seed` on, spread over the closers in turn.
pub fn walks(seed: u64, count: usize) -> Vec<Trace> {
    (0..count as u64)
        .map(|index| {
            let closer = Closer::ALL[(index % Closer::ALL.len() as u64) as usize];
            closer.with(Walk { seed: seed + index })
        })
        .collect()
}

/// Longest a walk goes: far beyond any path of [`bound`] (the model's depth is 36).
const WALK_LIMIT: usize = 200;

struct Walk {
    seed: u64,
}

impl WithStrategy for Walk {
    type Output = Trace;

    /// From the start, a step chosen at random among those enabled (and within the model's
    /// time boundary), until none is; weighted by [`weight`], so that walks reach graceful
    /// endings as often as resets.
    fn with<S: Strategy>(self, closer: Closer, strategy: S) -> Trace {
        let model = CloseModel {
            strategy,
            bound: bound(),
        };
        let mut random = SplitMix(self.seed);
        let mut world = World::start(&model.strategy, &model.bound);
        let mut steps = Vec::new();
        let mut enabled = Vec::new();
        while steps.len() < WALK_LIMIT {
            enabled.clear();
            model.actions(&world, &mut enabled);
            enabled.retain(|&step| model.within_boundary(&world.after(&model.strategy, step)));
            if enabled.is_empty() {
                break;
            }
            let total: usize = enabled.iter().map(|&step| weight(step)).sum();
            let mut pick = random.below(total);
            let step = *enabled
                .iter()
                .find(|&&step| {
                    let chosen = pick < weight(step);
                    pick = pick.saturating_sub(weight(step));
                    chosen
                })
                .unwrap_or(&enabled[0]);
            world = world.after(&model.strategy, step);
            steps.push(step);
        }
        Trace {
            closer,
            bound: model.bound,
            steps,
            origin: Origin::Walk(self.seed),
        }
    }
}

/// How much likelier a walk takes `step` than a move that ends the connection: deliveries and
/// reads move it forward, a peer's close or reset and our kernel giving up end it.
fn weight(step: Step) -> usize {
    match step {
        Step::DeliverToPeer | Step::DeliverToUs | Step::PeerReads => 6,
        Step::AppCloses | Step::Tick => 3,
        Step::PeerSends | Step::PeerHalfCloses => 2,
        Step::PeerCloses | Step::PeerResets | Step::OurKernelGivesUp => 1,
    }
}

/// SplitMix64 (Steele, Lea, Flood): a seeded generator good enough to pick steps, the same
/// on every platform and every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The log of every step of `trace`: what our kernel was asked and answered, per step, the
/// start first. For the transitions a trace exercises.
pub fn logs<S: Strategy>(strategy: &S, trace: &Trace) -> Vec<Vec<Logged>> {
    let mut logs = vec![Vec::new()];
    let mut world = World::start_logged(strategy, &trace.bound, logs.last_mut());
    for &step in &trace.steps {
        let mut log = Vec::new();
        world = world.after_logged(strategy, step, Some(&mut log));
        logs.push(log);
    }
    logs
}
