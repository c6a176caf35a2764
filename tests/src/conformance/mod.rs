//! The model meets the kernel: the model's traces replayed on a real Linux socket through a
//! scripted TCP peer, so the rules of the model's `Kernel` are checked against the kernel they
//! abstract, not only by hand-written tests.
//!
//! - [`tun`]: a network namespace of the thread's own with a TUN device, the wire the peer
//!   plays on;
//! - [`peer`]: the scripted peer, which writes the model's peer's segments as raw IPv4/TCP
//!   and reads back what our kernel sends;
//! - [`socket`]: our real socket, its calls and what it shows of its kernel;
//! - [`traces`]: the traces, from the model: the covering set and seeded random walks of each
//!   close strategy;
//! - [`coverage`]: the transitions of the Linux rules a trace exercises;
//! - [`replay`]: one trace, step by step, the model's expectation against the kernel's
//!   answers; [`report`]: what a run found; [`packetdrill`]: each trace as a script.
//!
//! docs/model.md ("The model meets the kernel") says what is compared and what is abstracted.

pub mod coverage;
pub mod packetdrill;
pub mod peer;
pub mod replay;
pub mod report;
pub mod socket;
pub mod traces;
pub mod tun;

use report::Report;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
use traces::Trace;
use tun::Network;

/// Whether this machine can replay (root, a TUN device, `ip`): `Err` says why not. Creates a
/// namespace on a thread of its own, which is gone when it returns.
pub fn available() -> Result<(), String> {
    std::thread::spawn(|| Network::create().map(drop))
        .join()
        .unwrap_or_else(|_| Err("the probe thread panicked".into()))
}

/// Replays `traces` on `jobs` threads, each in a namespace of its own; `done` is told of each
/// trace replayed (its index and whether it held) and, for each that held, given its
/// exchange for a script. With `fail_fast`, no trace is begun once one has diverged.
pub fn run(
    traces: &[Trace],
    jobs: usize,
    fail_fast: bool,
    done: &(dyn Fn(usize, &Trace, Option<&replay::Replayed>) + Sync),
) -> Result<Report, String> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let diverged = AtomicBool::new(false);
    let total = Mutex::new(Report {
        jobs: jobs.max(1),
        ..Report::default()
    });
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut network = Network::create()?;
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
                        match replay::replay(network.tun(), trace, port) {
                            Ok(replayed) => {
                                for transition in &replayed.transitions {
                                    *report.covered.entry(*transition).or_default() += 1;
                                }
                                done(index, trace, Some(&replayed));
                            }
                            Err(divergence) => {
                                diverged.store(true, Ordering::Relaxed);
                                done(index, trace, None);
                                report.divergences.push((trace.clone(), *divergence));
                            }
                        }
                    }
                    total
                        .lock()
                        .map_err(|_| "a worker panicked".to_string())?
                        .merge(report);
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err("a worker panicked".into()))
            })
            .collect()
    });
    for result in results {
        result?;
    }
    let mut report = total
        .into_inner()
        .map_err(|_| "a worker panicked".to_string())?;
    report
        .divergences
        .sort_by_key(|(trace, _)| (trace.closer, trace.steps.len()));
    report.elapsed = started.elapsed();
    Ok(report)
}
