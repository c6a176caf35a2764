//! The cost of one timer operation of a `Lingerer` as the closes it holds grow from 100 to
//! 100,000: `cargo bench -p linger-mio --bench timers`.
//!
//! Sockets play no part (the closes held by a real lingerer are limited by file descriptors;
//! see `close_many` for 10,000 real ones): each close is a slot with one current deadline,
//! spread over the 30 s budget, as the lingerer keeps them.
//!
//! - `move_deadline`: a close made progress and its deadline moved later. The old entry goes
//!   stale and the heap is compacted once stale entries outnumber live ones (amortised here).
//! - `fire_and_rearm`: the earliest deadline fires and its close arms the next one (a
//!   send-queue poll interval later).

use divan::{Bencher, black_box};
use linger::Instant;
use linger_mio::timers::{Key, Timers};

fn main() {
    divan::main();
}

const HELD: [usize; 4] = [100, 1_000, 10_000, 100_000];

/// Closes held, each with its current generation and deadline.
struct Held {
    timers: Timers,
    generations: Vec<u64>,
    deadlines: Vec<Instant>,
}

impl Held {
    /// `count` closes with deadlines spread evenly over 30 s.
    fn new(count: usize) -> Held {
        let mut held = Held {
            timers: Timers::default(),
            generations: vec![0; count],
            deadlines: (0..count)
                .map(|slot| Instant::from_micros(30_000_000 * slot as u64 / count as u64))
                .collect(),
        };
        for slot in 0..count {
            held.timers.schedule(
                Key {
                    slot,
                    generation: 0,
                },
                held.deadlines[slot],
            );
        }
        held
    }

    /// Moves the deadline of `slot` to `at`, as the lingerer does after a close's progress.
    fn reschedule(&mut self, slot: usize, at: Instant) {
        self.generations[slot] += 1;
        self.deadlines[slot] = at;
        let key = Key {
            slot,
            generation: self.generations[slot],
        };
        self.timers.schedule(key, at);
        let generations = &self.generations;
        self.timers.compact(generations.len(), |key, _| {
            generations[key.slot] == key.generation
        });
    }

    /// The earliest current deadline.
    fn next(&mut self) -> Option<Instant> {
        let generations = &self.generations;
        self.timers
            .next(|key, _| generations[key.slot] == key.generation)
    }
}

#[divan::bench(args = HELD)]
fn move_deadline(bencher: Bencher<'_, '_>, held: usize) {
    let mut closes = Held::new(held);
    // Visits the slots in a scattered order (a prime stride), as readiness would.
    let mut slot = 0;
    bencher.bench_local(|| {
        slot = (slot + 7_919) % held;
        let later = closes.deadlines[slot] + core::time::Duration::from_millis(5);
        closes.reschedule(slot, later);
        black_box(closes.next())
    });
}

#[divan::bench(args = HELD)]
fn fire_and_rearm(bencher: Bencher<'_, '_>, held: usize) {
    let mut closes = Held::new(held);
    bencher.bench_local(|| {
        let now = closes.next()?;
        let generations = &closes.generations;
        let fired = closes
            .timers
            .pop_due(now, |key, _| generations[key.slot] == key.generation)?;
        closes.reschedule(fired.slot, now + core::time::Duration::from_millis(200));
        black_box(Some(fired))
    });
}
