//! The cost of one timer operation of a `Lingerer` as the closes it holds grow from 100 to
//! 100,000: `cargo bench -p linger-mio --bench timers`.
//!
//! Sockets play no part (the closes held by a real lingerer are limited by file descriptors;
//! see `close_many` for 10,000 real ones): each close is a slot with one deadline, spread
//! over the 30 s budget, as the lingerer keeps them.
//!
//! - `move_deadline`: a close made progress and its deadline moved later. The old entry goes
//!   stale and the heap is compacted once stale entries outnumber live ones (amortised here).
//! - `fire_and_rearm`: the earliest deadline fires and its close arms the next one (a
//!   send-queue poll interval later).

use divan::{Bencher, black_box};
use linger::Instant;
use linger_mio::timers::Timers;

fn main() {
    divan::main();
}

const HELD: [usize; 4] = [100, 1_000, 10_000, 100_000];

/// `count` closes with deadlines spread evenly over 30 s.
fn held(count: usize) -> Timers {
    let mut timers = Timers::default();
    for slot in 0..count {
        let at = Instant::from_micros(30_000_000 * slot as u64 / count as u64);
        timers.set(slot, Some(at));
    }
    timers
}

#[divan::bench(args = HELD)]
fn move_deadline(bencher: Bencher<'_, '_>, held_count: usize) {
    let mut timers = held(held_count);
    // Visits the slots in a scattered order (a prime stride), as readiness would.
    let mut slot = 0;
    bencher.bench_local(|| {
        slot = (slot + 7_919) % held_count;
        let later =
            timers.deadline(slot).unwrap_or(Instant::ZERO) + core::time::Duration::from_millis(5);
        timers.set(slot, Some(later));
        black_box(timers.earliest())
    });
}

#[divan::bench(args = HELD)]
fn fire_and_rearm(bencher: Bencher<'_, '_>, held_count: usize) {
    let mut timers = held(held_count);
    bencher.bench_local(|| {
        let now = timers.earliest()?;
        let fired = timers.pop_due(now)?;
        timers.set(fired, Some(now + core::time::Duration::from_millis(200)));
        black_box(Some(fired))
    });
}
