//! The deadlines of many closes: at most one per slot, the earliest found through a binary
//! heap with lazy invalidation.
//!
//! Each slot's current deadline is kept here beside the heap, named by a generation that
//! changes whenever the deadline moves. Moving it pushes a new entry and leaves the old one
//! behind, recognised as stale when it surfaces; the heap is rebuilt once it holds more than
//! twice as many entries as there are slots, plus 64. A deadline that fires is spent: the
//! slot has none until it is set again. Each operation costs O(log n) in the closes held.
//!
//! Time is a parameter, never read here: the [`Lingerer`](crate::Lingerer) passes its clock's
//! `now`, and the tests drive the same bookkeeping in virtual time.
//!
//! Public only for the `timers` benchmark (`cargo bench -p linger-mio`); not part of the API.

use linger::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod virtual_time;

/// Every slot's current deadline, and stale heap entries not yet dropped.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Key)>>,
    /// Per slot: the deadline the heap holds for it, or `None` when it has none (never set,
    /// forgotten, or fired).
    current: Vec<Option<Deadline>>,
    generations: u64,
}

/// One deadline of one slot, as the heap holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    slot: usize,
    /// Which of that slot's deadlines: it changes whenever the deadline moves.
    generation: u64,
}

/// A slot's current deadline and the generation of its heap entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Deadline {
    at: Instant,
    generation: u64,
}

impl Timers {
    /// Makes `deadline` the only deadline of `slot` (`None`: no deadline). Setting the one
    /// the slot already has costs nothing.
    pub fn set(&mut self, slot: usize, deadline: Option<Instant>) {
        if self.deadline(slot) == deadline {
            return;
        }
        let Some(at) = deadline else {
            self.forget(slot);
            return;
        };
        if self.current.len() <= slot {
            self.current.resize(slot + 1, None);
        }
        self.generations += 1;
        let generation = self.generations;
        self.current[slot] = Some(Deadline { at, generation });
        self.heap.push(Reverse((at, Key { slot, generation })));
        self.compact();
    }

    /// The deadline of `slot`, if it has one.
    pub fn deadline(&self, slot: usize) -> Option<Instant> {
        self.current.get(slot).copied().flatten().map(|due| due.at)
    }

    /// The earliest deadline of any slot, dropping stale entries on the way.
    pub fn earliest(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if self.is_current(at, key) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// A slot whose deadline is at or before `now`. That deadline is spent: the slot has none
    /// until [`set`](Self::set) gives it one, even one at the same instant.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        if self.earliest()? > now {
            return None;
        }
        let Reverse((_, key)) = self.heap.pop()?;
        self.forget(key.slot);
        Some(key.slot)
    }

    /// Entries held, stale ones included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }

    /// `slot` has no deadline any more; its heap entry goes stale.
    fn forget(&mut self, slot: usize) {
        if let Some(current) = self.current.get_mut(slot) {
            *current = None;
        }
    }

    fn is_current(&self, at: Instant, key: Key) -> bool {
        names_current(&self.current, at, key)
    }

    /// Rebuilds the heap without stale entries once they could outnumber the live ones.
    fn compact(&mut self) {
        if self.heap.len() > 2 * self.current.len() + 64 {
            let current = &self.current;
            self.heap
                .retain(|&Reverse((at, key))| names_current(current, at, key));
        }
    }
}

/// Whether the heap entry `(at, key)` is its slot's current deadline.
fn names_current(current: &[Option<Deadline>], at: Instant, key: Key) -> bool {
    let generation = key.generation;
    current.get(key.slot).copied().flatten() == Some(Deadline { at, generation })
}
