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
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// The model's default bound (three segments through a one-segment window, a peer of three
/// sends and four moves), our kernel Linux's.
pub fn bound() -> Bound {
    Bound {
        kernel: Flavour::Linux,
        ..Bound::default()
    }
}

/// A bound in a few characters, for names and reports: `s3w1o2p3m4` is 3 segments, peer
/// window 1, our window 2, 3 peer sends, 4 peer moves.
pub fn tag(bound: &Bound) -> String {
    format!(
        "s{}w{}o{}p{}m{}",
        bound.segments, bound.peer_window, bound.our_window, bound.peer_sends, bound.peer_moves
    )
}

/// How much of the bound grid to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// Every bound of [`GRID`].
    Full,
    /// The bounds of [`GRID`] marked for CI: the smallest at which each transition is first
    /// reached, found cheaply (under a minute of search).
    Ci,
}

impl Grid {
    /// The name `--grid` takes: `full`, `ci`.
    pub fn name(self) -> &'static str {
        match self {
            Grid::Full => "full",
            Grid::Ci => "ci",
        }
    }

    /// The grid named `name`.
    pub fn from_name(name: &str) -> Option<Grid> {
        [Grid::Full, Grid::Ci]
            .into_iter()
            .find(|grid| grid.name() == name)
    }

    /// Its bounds, our kernel Linux's.
    pub fn bounds(self) -> Vec<Bound> {
        GRID.iter()
            .filter(|(_, ci)| self == Grid::Full || *ci)
            .map(
                |&((segments, peer_window, our_window, peer_sends, peer_moves), _)| Bound {
                    segments,
                    peer_window,
                    our_window,
                    peer_sends,
                    peer_moves,
                    kernel: Flavour::Linux,
                },
            )
            .collect()
    }
}

/// A bound's counts: segments, peer window, our window, peer sends, peer moves.
type Counts = (u8, u8, u8, u8, u8);

/// The bound grid, as (segments, peer window, our window, peer sends, peer moves), and whether
/// CI replays it: three lines through the bounds the CLI offers, each varying the counts that
/// meet in one of the kernel's decisions and holding the others where they cost least
/// (docs/model.md says why this is enough).
#[rustfmt::skip]
const GRID: [(Counts, bool); 28] = [
    // Our data against the peer's window: every window below, at and just past the data (the
    // FIN needs one place more), for 1 to 4 segments; the peer sends 2 in 3 moves (fewer where
    // the windows make the search long).
    ((1, 1, 2, 2, 3), true),
    ((1, 2, 2, 2, 3), true),
    ((2, 1, 2, 2, 3), true),
    ((2, 2, 2, 2, 3), false),
    ((2, 3, 2, 2, 3), false),
    ((3, 1, 2, 2, 3), true),
    ((3, 2, 2, 2, 3), true),
    ((3, 3, 2, 2, 3), false),
    ((3, 4, 2, 2, 3), false),
    ((4, 1, 2, 2, 3), false),
    ((4, 2, 2, 2, 3), false),
    // The cheapest bound where a run of two segments takes the FIN past the window's edge.
    ((4, 2, 1, 0, 1), true),
    ((4, 5, 2, 2, 2), false),
    // The peer's data against our window: each window for each number of sends, 2 segments of
    // ours through a one-segment window, 4 moves (a send more than the most sends).
    ((2, 1, 1, 0, 4), false),
    ((2, 1, 1, 1, 4), false),
    ((2, 1, 1, 2, 4), false),
    ((2, 1, 1, 3, 4), false),
    ((2, 1, 2, 0, 4), false),
    ((2, 1, 2, 1, 4), false),
    ((2, 1, 2, 2, 4), false),
    ((2, 1, 3, 1, 4), false),
    ((2, 1, 3, 3, 4), false),
    // The adversary's moves, the rest as the default bound.
    ((3, 1, 2, 3, 0), false),
    ((3, 1, 2, 3, 1), false),
    ((3, 1, 2, 3, 2), false),
    ((3, 1, 2, 3, 3), false),
    ((3, 1, 2, 3, 4), false),
    ((3, 1, 2, 3, 5), false),
];

/// For each bound and each closer, the shortest trace through each transition of
/// [`Transition`] it reaches (one trace where the same path is the shortest through several):
/// the covering set, in the order of `bounds`, then of the closers, then of
/// [`Transition::ALL`]. The searches run on every core.
pub fn covering_set(bounds: &[Bound]) -> Vec<Trace> {
    let jobs: Vec<(Bound, Closer)> = bounds
        .iter()
        .flat_map(|&bound| Closer::ALL.map(|closer| (bound, closer)))
        .collect();
    let next = AtomicUsize::new(0);
    let found: Mutex<Vec<(usize, Vec<Trace>)>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(bound, closer)) = jobs.get(index) else {
                        break;
                    };
                    let traces = closer.with(Covering { bound });
                    if let Ok(mut found) = found.lock() {
                        found.push((index, traces));
                    }
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap_or_default();
    found.sort_by_key(|(index, _)| *index);
    found.into_iter().flat_map(|(_, traces)| traces).collect()
}

struct Covering {
    bound: Bound,
}

impl WithStrategy for Covering {
    type Output = Vec<Trace>;

    fn with<S: Strategy>(self, closer: Closer, strategy: S) -> Vec<Trace> {
        let bound = self.bound;
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
        let at_start: Vec<Transition> = starting.iter().flat_map(Transition::of).collect();
        let mut traces: Vec<Trace> = Vec::new();
        for &transition in Transition::ALL {
            let steps = if at_start.contains(&transition) {
                Vec::new()
            } else {
                match found.remove(&transition) {
                    Some(path) => steps_of(&path),
                    None => continue,
                }
            };
            if traces.iter().all(|trace| trace.steps != steps) {
                traces.push(Trace {
                    closer,
                    bound,
                    steps,
                    origin: Origin::Covering(transition),
                });
            }
        }
        traces
    }
}

fn steps_of<A>(path: &Path<A>) -> Vec<Step> {
    path.iter().filter_map(|(_, step)| *step).collect()
}

/// `count` random walks from `seed` on, spread over the closers in turn, each in a bound drawn
/// from `bounds` by its seed.
pub fn walks(seed: u64, count: usize, bounds: &[Bound]) -> Vec<Trace> {
    (0..count as u64)
        .map(|index| {
            let closer = Closer::ALL[(index % Closer::ALL.len() as u64) as usize];
            let seed = seed + index;
            let mut random = SplitMix(seed);
            let bound = bounds[random.below(bounds.len())];
            closer.with(Walk {
                seed,
                random,
                bound,
            })
        })
        .collect()
}

/// Longest a walk goes: far beyond any path of the grid (the default bound's depth is 36).
const WALK_LIMIT: usize = 200;

struct Walk {
    seed: u64,
    random: SplitMix,
    bound: Bound,
}

impl WithStrategy for Walk {
    type Output = Trace;

    /// From the start, a step chosen at random among those enabled (and within the model's
    /// time boundary), until none is; weighted by [`weight`], so that walks reach graceful
    /// endings as often as resets.
    fn with<S: Strategy>(self, closer: Closer, strategy: S) -> Trace {
        let mut random = self.random;
        let model = CloseModel {
            strategy,
            bound: self.bound,
        };
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

/// How much likelier a walk takes `step` than a move that ends the connection: deliveries,
/// reads and the kernels' probes move it forward, a peer's close or reset and our kernel giving
/// up end it.
fn weight(step: Step) -> usize {
    match step {
        Step::DeliverToPeer
        | Step::DeliverToUs
        | Step::PeerReads
        | Step::OurKernelProbes
        | Step::PeerKernelProbes => 6,
        Step::AppCloses | Step::Tick => 3,
        Step::PeerSends | Step::PeerHalfCloses => 2,
        Step::PeerCloses | Step::PeerResets | Step::OurKernelGivesUp => 1,
    }
}

/// SplitMix64 (Steele, Lea, Flood): a seeded generator good enough to pick steps, the same
/// on every platform and every run.
#[derive(Clone, Copy, Debug)]
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

/// The transitions `trace` exercises in the model: what a replay without a difference covers.
pub fn transitions(trace: &Trace) -> Vec<Transition> {
    trace.closer.with(Exercised(trace))
}

struct Exercised<'a>(&'a Trace);

impl WithStrategy for Exercised<'_> {
    type Output = Vec<Transition>;

    fn with<S: Strategy>(self, _: Closer, strategy: S) -> Vec<Transition> {
        logs(&strategy, self.0)
            .iter()
            .flatten()
            .flat_map(Transition::of)
            .collect()
    }
}
