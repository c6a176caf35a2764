//! The machine's deadlines: a fixed table indexed by [`Timer`], no heap.

use crate::Instant;
use core::fmt;

/// The machine's timers, in the order they are handled when several expire at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// `close` + the linger budget: release whatever happens. Never moved.
    Linger,
    /// Last progress + the idle timeout: release when nothing moves.
    Idle,
    /// Re-query the send queue (adaptive interval).
    Poll,
    /// Resume discarding after a round used up its per-wake-up allowance.
    Resume,
    /// Before the close: the guard of what the live connection is doing.
    Guard,
}

impl Timer {
    pub(crate) const ALL: [Timer; 5] = [
        Timer::Linger,
        Timer::Idle,
        Timer::Poll,
        Timer::Resume,
        Timer::Guard,
    ];
}

/// One deadline per [`Timer`]; `u64::MAX` micros marks an unarmed timer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TimerTable {
    deadlines: [u64; Timer::ALL.len()],
}

impl TimerTable {
    const UNARMED: u64 = u64::MAX;

    pub(crate) const fn new() -> TimerTable {
        TimerTable {
            deadlines: [TimerTable::UNARMED; Timer::ALL.len()],
        }
    }

    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        // `Instant::MAX` is the end of time: a deadline there is never reached.
        self.deadlines[timer as usize] = at.as_micros();
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = TimerTable::UNARMED;
    }

    pub(crate) fn stop_all(&mut self) {
        *self = TimerTable::new();
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        match self.deadlines[timer as usize] {
            TimerTable::UNARMED => None,
            micros => Some(Instant::from_micros(micros)),
        }
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines
            .iter()
            .copied()
            .filter(|&micros| micros != TimerTable::UNARMED)
            .min()
            .map(Instant::from_micros)
    }
}

/// Each timer by name, `off` or its deadline: what a person debugging a machine (or the
/// model checker's explorer) wants to read, not the `u64::MAX` that marks an unarmed timer.
impl fmt::Debug for TimerTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Deadline(Option<Instant>);
        impl fmt::Debug for Deadline {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Some(at) => fmt::Display::fmt(&at, f),
                    None => f.write_str("off"),
                }
            }
        }
        let mut timers = f.debug_struct("TimerTable");
        for timer in Timer::ALL {
            let name = match timer {
                Timer::Linger => "linger",
                Timer::Idle => "idle",
                Timer::Poll => "poll",
                Timer::Resume => "resume",
                Timer::Guard => "guard",
            };
            timers.field(name, &Deadline(self.get(timer)));
        }
        timers.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_each_timer_and_shows_unarmed_ones_as_off() {
        let mut table = TimerTable::new();
        table.set(Timer::Idle, Instant::from_millis(5));
        assert_eq!(
            std::format!("{table:?}"),
            "TimerTable { linger: off, idle: 0.005s, poll: off, resume: off, guard: off }"
        );
    }
}
