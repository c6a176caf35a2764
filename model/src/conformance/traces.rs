//! The traces to replay, all drawn from the model with Linux's rules: the covering set (for a
//! strategy at each bound of a grid, the shortest trace through each transition of
//! [`Transition`] it can reach) and seeded random walks over the grid.

use super::coverage::Transition;
use crate::search::{Path, first_paths};
use crate::strategy::Logged;
use crate::{Bound, CloseModel, Flavour, Step, Strategy, World};
use core::fmt;
use stateright::Model;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// One path of the model: a strategy, the bound, and the steps from the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The strategy's name ([`Strategy::name`]).
    pub strategy: String,
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

/// How much of the bound grid to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// Every bound of the grid: 28 (docs/model.md, "The bound grid").
    Full,
    /// The bounds of the grid marked for CI: the smallest at which each transition is first
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

/// For `model`'s strategy at each of `bounds` (in place of the model's own bound), the
/// shortest trace through each transition of [`Transition`] it reaches (one trace where the
/// same path is the shortest through several): the covering set, in the order of `bounds`,
/// then of [`Transition::ALL`]. The searches run on every core.
pub fn covering<S: Strategy>(model: &CloseModel<S>, bounds: &[Bound]) -> Vec<Trace> {
    on_every_core(bounds, |&bound| covering_at(model, bound))
}

/// `work` done on each of `jobs`, as many at once as there are cores, its results in the
/// order of the jobs: the searches of a covering set, which take seconds each.
pub fn on_every_core<J: Sync, T: Send>(jobs: &[J], work: impl Fn(&J) -> Vec<T> + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<T>)>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else {
                        break;
                    };
                    let results = work(job);
                    if let Ok(mut done) = done.lock() {
                        done.push((index, results));
                    }
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_default();
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().flat_map(|(_, results)| results).collect()
}

/// The covering set of `model`'s strategy at `bound`.
fn covering_at<S: Strategy>(model: &CloseModel<S>, bound: Bound) -> Vec<Trace> {
    let model = model.in_bound(bound);
    let strategy = &model.strategy;
    let mut log = Vec::new();
    let mut found = first_paths(&model, Transition::ALL.len(), |world, step, _| {
        log.clear();
        world.after_logged(strategy, step, Some(&mut log));
        log.iter().flat_map(Transition::of).collect()
    });
    // The start is a path of no step: what it exercises counts as its own trace.
    let mut starting = Vec::new();
    World::start_logged(strategy, &bound, Some(&mut starting));
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
                strategy: strategy.name(),
                bound,
                steps,
                origin: Origin::Covering(transition),
            });
        }
    }
    traces
}

fn steps_of<A>(path: &Path<A>) -> Vec<Step> {
    path.iter().filter_map(|(_, step)| *step).collect()
}

/// Longest a walk goes: far beyond any path of the grid (the default bound's depth is 36).
const WALK_LIMIT: usize = 200;

/// A random walk of `model`'s strategy, in a bound of `bounds` drawn by `seed`: from the start,
/// a step chosen at random among those enabled (and within the model's time boundary), until
/// none is; deliveries, reads and the kernels' timers six times as likely as the peer's close,
/// reset and our kernel giving up, so that walks reach graceful endings as well as resets.
/// The same seed gives the same walk everywhere.
pub fn walk<S: Strategy>(model: &CloseModel<S>, seed: u64, bounds: &[Bound]) -> Trace {
    let mut random = SplitMix(seed);
    let bound = match bounds.len() {
        0 => model.bound,
        count => bounds[random.below(count)],
    };
    let model = model.in_bound(bound);
    let mut world = World::start(&model.strategy, &model.bound);
    let mut steps = Vec::new();
    let mut enabled = Vec::new();
    while steps.len() < WALK_LIMIT {
        enabled.clear();
        model.actions(&world, &mut enabled);
        enabled.retain(|&step| model.within_boundary(&world.after(&model.strategy, step)));
        let total: usize = enabled.iter().map(|&step| weight(step)).sum();
        if total == 0 {
            break;
        }
        let mut pick = random.below(total);
        let Some(&step) = enabled.iter().find(|&&step| {
            let chosen = pick < weight(step);
            pick = pick.saturating_sub(weight(step));
            chosen
        }) else {
            break;
        };
        world = world.after(&model.strategy, step);
        steps.push(step);
    }
    Trace {
        strategy: model.strategy.name(),
        bound,
        steps,
        origin: Origin::Walk(seed),
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

/// The transitions `trace` of `strategy` exercises in the model: what a replay without a
/// difference covers.
pub fn transitions<S: Strategy>(strategy: &S, trace: &Trace) -> Vec<Transition> {
    logs(strategy, trace)
        .iter()
        .flatten()
        .flat_map(Transition::of)
        .collect()
}
