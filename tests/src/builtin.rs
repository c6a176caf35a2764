//! The six close strategies built into the `linger-check` command, which it checks and
//! replays by name (`--strategy`, `--conformance`): [`Builtin`], and the covering set, walks
//! and replay of all six at once, built on `linger_model`'s, which take one strategy at a
//! time.

use core::fmt;
use linger_model::conformance::coverage::Transition;
use linger_model::conformance::replay::{self, Divergence, Replayed};
use linger_model::conformance::traces::{self, Trace};
use linger_model::conformance::tun::Tun;
use linger_model::reference::{FixedDelay, Naive, ShutdownClose, SoLinger};
use linger_model::{Bound, CloseModel, Handover, Linger, Strategy, policy};

/// The close strategies the command knows, each as the model runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Builtin {
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

/// Something to do with a strategy whose type depends on the [`Builtin`].
pub trait WithStrategy {
    /// What it gives.
    type Output;
    /// Does it with `strategy`.
    fn with<S: Strategy>(self, builtin: Builtin, strategy: S) -> Self::Output;
}

impl Builtin {
    /// Every builtin, in report order.
    pub const ALL: [Builtin; 6] = [
        Builtin::Linger,
        Builtin::Handover,
        Builtin::Naive,
        Builtin::ShutdownClose,
        Builtin::SoLinger,
        Builtin::FixedDelay,
    ];

    /// The model strategy's name, as `--strategy` spells it and [`Strategy::name`] says it.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Linger => "linger",
            Builtin::Handover => "handover",
            Builtin::Naive => "naive",
            Builtin::ShutdownClose => "shutdown-close",
            Builtin::SoLinger => "so-linger",
            Builtin::FixedDelay => "fixed-delay",
        }
    }

    /// The builtin named `name`.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL
            .into_iter()
            .find(|builtin| builtin.name() == name)
    }

    /// Calls `work` with this builtin's model strategy: the model policy for the machine,
    /// 30 model milliseconds for `SO_LINGER` and the fixed delay, as the command's defaults.
    pub fn with<W: WithStrategy>(self, work: W) -> W::Output {
        match self {
            Builtin::Linger => work.with(self, Linger { policy: policy() }),
            Builtin::Handover => work.with(self, Handover { policy: policy() }),
            Builtin::Naive => work.with(self, Naive),
            Builtin::ShutdownClose => work.with(self, ShutdownClose),
            Builtin::SoLinger => work.with(self, SoLinger { timeout: 30_000 }),
            Builtin::FixedDelay => work.with(self, FixedDelay { delay: 30_000 }),
        }
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The covering set of every builtin at each of `bounds`: for each bound, then each builtin,
/// the shortest trace through each transition it reaches. The searches run on every core.
pub fn covering_set(bounds: &[Bound]) -> Vec<Trace> {
    let jobs: Vec<(Bound, Builtin)> = bounds
        .iter()
        .flat_map(|&bound| Builtin::ALL.map(|builtin| (bound, builtin)))
        .collect();
    traces::on_every_core(&jobs, |&(bound, builtin)| builtin.with(Covering(bound)))
}

struct Covering(Bound);

impl WithStrategy for Covering {
    type Output = Vec<Trace>;

    fn with<S: Strategy>(self, _: Builtin, strategy: S) -> Vec<Trace> {
        traces::covering(&CloseModel::new(strategy, self.0), &[self.0])
    }
}

/// `count` random walks from `seed` on, spread over the builtins in turn (walk `i` runs
/// builtin `i` mod 6, from seed `seed + i`), each in a bound drawn from `bounds` by its seed.
pub fn walks(seed: u64, count: usize, bounds: &[Bound]) -> Vec<Trace> {
    (0..count as u64)
        .map(|index| {
            let builtin = Builtin::ALL[(index % Builtin::ALL.len() as u64) as usize];
            builtin.with(Walk {
                seed: seed.saturating_add(index),
                bounds,
            })
        })
        .collect()
}

struct Walk<'a> {
    seed: u64,
    bounds: &'a [Bound],
}

impl WithStrategy for Walk<'_> {
    type Output = Trace;

    fn with<S: Strategy>(self, _: Builtin, strategy: S) -> Trace {
        let model = CloseModel::new(strategy, Bound::default());
        traces::walk(&model, self.seed, self.bounds)
    }
}

/// The builtin a trace of the command's was drawn for.
fn builtin_of(trace: &Trace) -> Option<Builtin> {
    Builtin::from_name(&trace.strategy)
}

/// Replays `trace`, of one of the builtins, as `linger_model::conformance::run` asks.
pub fn replay(tun: &mut Tun, trace: &Trace, port: u16) -> Result<Replayed, Box<Divergence>> {
    match builtin_of(trace) {
        Some(builtin) => builtin.with(Replay { tun, trace, port }),
        None => Err(Box::new(Divergence::not_replayed(format!(
            "a trace of {}, which linger-check does not know",
            trace.strategy
        )))),
    }
}

struct Replay<'a> {
    tun: &'a mut Tun,
    trace: &'a Trace,
    port: u16,
}

impl WithStrategy for Replay<'_> {
    type Output = Result<Replayed, Box<Divergence>>;

    fn with<S: Strategy>(self, _: Builtin, strategy: S) -> Self::Output {
        replay::replay(self.tun, &strategy, self.trace, self.port)
    }
}

/// The transitions `trace`, of one of the builtins, exercises in the model.
pub fn transitions(trace: &Trace) -> Vec<Transition> {
    builtin_of(trace).map_or_else(Vec::new, |builtin| builtin.with(Exercised(trace)))
}

struct Exercised<'a>(&'a Trace);

impl WithStrategy for Exercised<'_> {
    type Output = Vec<Transition>;

    fn with<S: Strategy>(self, _: Builtin, strategy: S) -> Vec<Transition> {
        traces::transitions(&strategy, self.0)
    }
}
