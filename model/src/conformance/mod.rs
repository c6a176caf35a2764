//! The model meets the kernel: a strategy's traces replayed on a real Linux socket through a
//! scripted TCP peer, so the rules of the model's `Kernel` are checked against the kernel they
//! abstract, not only by hand-written tests; and, for the strategy, that what the model says
//! it does to a socket is what the socket does. Linux only; it needs root and
//! `/dev/net/tun` (each replaying thread works in a network namespace of its own).
//!
//! [`Check::replay`](crate::Check::replay) replays a strategy's covering set and random walks
//! over a grid of bounds and reports what differed:
//!
//! ```no_run
//! use linger_model::conformance::{Grid, Replay};
//! use linger_model::{Check, Linger, policy};
//!
//! let replay = Replay { grid: Grid::Ci, walks: 20, ..Replay::default() };
//! let report = Check::new(Linger { policy: policy() }).replay(&replay)?;
//! println!("{report}");
//! assert!(report.holds());
//! # Ok::<(), linger_model::conformance::Error>(())
//! ```
//!
//! - [`tun`]: a network namespace of the thread's own with a TUN device, the wire the peer
//!   plays on;
//! - [`peer`]: the scripted peer, which writes the model's peer's segments as raw IPv4/TCP
//!   and reads back what our kernel sends;
//! - [`socket`]: our real socket, its calls and what it shows of its kernel;
//! - [`traces`]: the traces, from the model: the covering set at each bound of a grid, and
//!   seeded random walks;
//! - [`coverage`]: the transitions of the Linux rules a trace exercises;
//! - [`replay`](mod@replay): one trace, step by step, the model's expectation against the
//!   kernel's answers; [`report`]: what a run found; [`packetdrill`]: each trace as a script.
//!
//! The repository's docs/model.md ("The model meets the kernel") says what is compared and
//! what is abstracted.

pub mod coverage;
pub mod packetdrill;
pub mod peer;
pub mod replay;
pub mod report;
pub mod socket;
pub mod traces;
pub mod tun;

pub use report::Report;
pub use traces::Grid;

use crate::{Check, Strategy};
use replay::{Divergence, Replayed};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
use traces::Trace;
use tun::{Network, Tun};

/// Why a replay could not run, or not to the end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// This machine cannot replay: not root, no TUN device, no `ip`.
    #[error("cannot replay on this machine: {0}")]
    Unavailable(String),
    /// A replaying thread panicked.
    #[error("a replaying thread panicked")]
    Panicked,
    /// A packetdrill script could not be written.
    #[error("cannot write {path}: {error}")]
    Script {
        /// The script's path.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// Whether this machine can replay (root, a TUN device, `ip`): `Err` says why not. Creates a
/// namespace on a thread of its own, which is gone when it returns.
pub fn available() -> Result<(), Error> {
    std::thread::spawn(|| Network::create().map(drop))
        .join()
        .unwrap_or_else(|_| Err("the probe thread panicked".into()))
        .map_err(Error::Unavailable)
}

/// What [`Check::replay`] replays, and how.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The bounds whose covering sets are replayed.
    pub grid: Grid,
    /// How many random walks, drawn over the grid's bounds, are replayed after them.
    pub walks: usize,
    /// The first walk's seed (walk `i` has seed `seed + i`).
    pub seed: u64,
    /// Replays at once, each on a thread in a network namespace of its own.
    pub jobs: usize,
    /// Begin no trace once one has diverged.
    pub fail_fast: bool,
    /// Where to write each trace replayed without a difference as a packetdrill script.
    pub scripts: Option<PathBuf>,
}

impl Default for Replay {
    /// The CI grid's covering set and 60 walks from seed 1, 4 at once, no scripts.
    fn default() -> Replay {
        Replay {
            grid: Grid::Ci,
            walks: 60,
            seed: 1,
            jobs: 4,
            fail_fast: false,
            scripts: None,
        }
    }
}

impl<S: Strategy> Check<S> {
    /// Replays this check's strategy on this machine's Linux kernel: the covering set at each
    /// bound of `replay.grid` (the shortest trace through each transition of the Linux rules
    /// the strategy reaches, the peer restricted as this check says) and `replay.walks` random
    /// walks over the grid, each step's calls made on a real socket and the peer's segments
    /// written by a scripted peer, every answer and segment compared with the model's
    /// (Linux's kernel, whatever this check's). A report that holds says the model's kernel
    /// did what the real one did on every trace; a divergence says where they part. A
    /// strategy that reaches few transitions leaves the rest uncovered: the report says so,
    /// and [`Report::holds`] asks for them all.
    pub fn replay(&self, replay: &Replay) -> Result<Report, Error> {
        available()?;
        let bounds = replay.grid.bounds();
        let model = self.model();
        let mut traces = traces::covering(model, &bounds);
        traces.extend(
            (0..replay.walks as u64)
                .map(|index| traces::walk(model, replay.seed.saturating_add(index), &bounds)),
        );
        let strategy = &model.strategy;
        let scripts = Scripts::new(replay.scripts.clone())?;
        let report = run(
            &traces,
            replay.jobs,
            replay.fail_fast,
            &|tun, trace, port| replay::replay(tun, strategy, trace, port),
            &|trace, replayed| scripts.write(trace, replayed),
        )?;
        scripts.finish()?;
        Ok(report)
    }
}

/// Packetdrill scripts of the traces replayed without a difference, written to a folder if
/// one is given; the first failure to write is kept.
#[derive(Debug)]
pub struct Scripts {
    directory: Option<PathBuf>,
    failed: Mutex<Option<Error>>,
}

impl Scripts {
    /// Scripts written to `directory`, which is created; none if `None`.
    pub fn new(directory: Option<PathBuf>) -> Result<Scripts, Error> {
        if let Some(directory) = &directory {
            std::fs::create_dir_all(directory).map_err(|error| Error::Script {
                path: directory.clone(),
                error,
            })?;
        }
        Ok(Scripts {
            directory,
            failed: Mutex::new(None),
        })
    }

    /// Writes `trace`'s script, from its replay, as `STRATEGY-BOUND-ORIGIN.pkt`.
    pub fn write(&self, trace: &Trace, replayed: &Replayed) {
        let Some(directory) = &self.directory else {
            return;
        };
        let name = format!(
            "{}-{}-{}.pkt",
            trace.strategy,
            trace.bound.short_name(),
            trace.origin
        )
        .replace([' ', ','], "-");
        let path = directory.join(name);
        let text = packetdrill::script(trace, &replayed.script);
        if let (Err(error), Ok(mut failed)) = (std::fs::write(&path, text), self.failed.lock()) {
            failed.get_or_insert(Error::Script { path, error });
        }
    }

    /// The first failure to write a script, if any.
    pub fn finish(self) -> Result<(), Error> {
        match self.failed.into_inner() {
            Ok(Some(error)) => Err(error),
            Ok(None) => Ok(()),
            Err(_) => Err(Error::Panicked),
        }
    }
}

/// How [`run`] replays one trace: in the namespace's TUN device, the peer on the port given,
/// as [`replay::replay`] does with the trace's strategy.
pub type ReplayOne<'a> =
    dyn Fn(&mut Tun, &Trace, u16) -> Result<Replayed, Box<Divergence>> + Sync + 'a;

/// Replays `traces` on `jobs` threads, each in a namespace of its own, each trace by
/// `replay_one` (given the namespace's TUN device and a port of its own for the peer:
/// [`replay::replay`] with the trace's strategy); `done` is given each trace replayed
/// without a difference, with its exchange, for a script. With `fail_fast`, no trace is begun
/// once one has diverged.
pub fn run(
    traces: &[Trace],
    jobs: usize,
    fail_fast: bool,
    replay_one: &ReplayOne<'_>,
    done: &(dyn Fn(&Trace, &Replayed) + Sync),
) -> Result<Report, Error> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let diverged = AtomicBool::new(false);
    let total = Mutex::new(Report {
        jobs: jobs.max(1),
        ..Report::default()
    });
    let results: Vec<Result<(), Error>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut network = Network::create().map_err(Error::Unavailable)?;
                    // Ports from 10000 on, one per trace: a later trace never meets what is
                    // left of an earlier one.
                    let mut port = 10_000u16;
                    let mut report = Report::default();
                    while !(fail_fast && diverged.load(Ordering::Relaxed)) {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(trace) = traces.get(index) else {
                            break;
                        };
                        port = port.checked_add(1).unwrap_or(10_001);
                        report.count(trace);
                        match replay_one(network.tun(), trace, port) {
                            Ok(replayed) => {
                                for transition in &replayed.transitions {
                                    *report.covered.entry(*transition).or_default() += 1;
                                }
                                done(trace, &replayed);
                            }
                            Err(divergence) => {
                                diverged.store(true, Ordering::Relaxed);
                                report.divergences.push((trace.clone(), *divergence));
                            }
                        }
                    }
                    total.lock().map_err(|_| Error::Panicked)?.merge(report);
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or(Err(Error::Panicked)))
            .collect()
    });
    for result in results {
        result?;
    }
    let mut report = total.into_inner().map_err(|_| Error::Panicked)?;
    report.divergences.sort_by(|(one, _), (other, _)| {
        (&one.strategy, one.steps.len()).cmp(&(&other.strategy, other.steps.len()))
    });
    report.elapsed = started.elapsed();
    Ok(report)
}
