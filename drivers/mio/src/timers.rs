//! Deadlines of many connections: a binary heap with lazy invalidation.
//!
//! Each connection has at most one current deadline, identified by a [`Key`] whose
//! generation changes whenever the deadline moves. Moving it pushes a new entry and leaves
//! the old one behind, recognised as stale when it surfaces; the heap is rebuilt once stale
//! entries outnumber live ones. Each operation costs O(log n) in the connections held.
//!
//! Public only for the `timers` benchmark (`cargo bench -p linger-mio`); not part of the API.

use linger::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One deadline of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// The connection's slot.
    pub slot: usize,
    /// Which of that slot's deadlines: it changes whenever the deadline moves.
    pub generation: u64,
}

/// Every connection's current deadline, and stale ones not yet dropped.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Key)>>,
}

impl Timers {
    /// Sets `key`'s deadline to `at`; an earlier deadline of the same slot goes stale.
    pub fn schedule(&mut self, key: Key, at: Instant) {
        self.heap.push(Reverse((at, key)));
    }

    /// The earliest deadline that `is_current` accepts, dropping stale ones on the way.
    pub fn next(&mut self, is_current: impl Fn(Key, Instant) -> bool) -> Option<Instant> {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if is_current(key, at) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns a current deadline due at or before `now`.
    pub fn pop_due(
        &mut self,
        now: Instant,
        is_current: impl Fn(Key, Instant) -> bool,
    ) -> Option<Key> {
        if self.next(&is_current)? > now {
            return None;
        }
        self.heap.pop().map(|Reverse((_, key))| key)
    }

    /// Rebuilds the heap without stale entries once they outnumber the `live` ones.
    pub fn compact(&mut self, live: usize, is_current: impl Fn(Key, Instant) -> bool) {
        if self.heap.len() > 2 * live + 64 {
            self.heap.retain(|Reverse((at, key))| is_current(*key, *at));
        }
    }

    /// Entries held, stale ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(slot: usize, generation: u64) -> Key {
        Key { slot, generation }
    }

    #[test]
    fn moved_deadline_leaves_a_stale_entry_that_is_skipped() {
        let mut timers = Timers::default();
        let current = |k: Key, _| k.generation == 2;
        timers.schedule(key(0, 1), Instant::from_millis(5));
        timers.schedule(key(0, 2), Instant::from_millis(9));
        assert_eq!(timers.next(current), Some(Instant::from_millis(9)));
        assert_eq!(timers.pop_due(Instant::from_millis(8), current), None);
        assert_eq!(
            timers.pop_due(Instant::from_millis(9), current),
            Some(key(0, 2))
        );
        assert_eq!(timers.next(current), None);
    }

    #[test]
    fn stale_entries_are_compacted_away() {
        let mut timers = Timers::default();
        for generation in 0..200 {
            timers.schedule(key(1, generation), Instant::from_millis(generation));
        }
        timers.compact(1, |k, _| k.generation == 199);
        assert_eq!(timers.len(), 1);
    }
}
