//! The bound every blocking close of the process shares: a close waits on the thread that
//! called it, and no other thread can ask it to end early, so pressure falls on the newest.

use linger::{CloseMachine, Instant, Policy};
use linger_io::pressure::Relief;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Blocking closes under way in this process, on every thread.
pub fn closes_in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Relaxed)
}

/// Most blocking closes that linger at once in this process: half the soft descriptor limit
/// when the first close began (`linger_io::limits::default_capacity`; 10,000 where there is
/// no such limit). Past three quarters of it, a new close gets the short linger (2 s); at
/// it, a new close ends at once as its policy says for a spent budget.
pub fn capacity() -> usize {
    static CAPACITY: OnceLock<usize> = OnceLock::new();
    *CAPACITY.get_or_init(linger_io::limits::default_capacity)
}

/// A close counted in flight until dropped.
pub(crate) struct Counted(());

impl Counted {
    /// Counts a close that began at `now` and applies the pressure rules to it.
    pub(crate) fn enter(machine: &mut CloseMachine, now: Instant) -> Counted {
        let held = IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        // Refused only once the close has ended, when there is nothing left to shorten.
        let _ = match linger_io::pressure::relief(held, capacity()) {
            Some(Relief::Reclaim) => machine.shorten_budget(now, Duration::ZERO),
            Some(Relief::Shorten) => machine.shorten_budget(now, Policy::SHORT_LINGER),
            None => Ok(()),
        };
        Counted(())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}
