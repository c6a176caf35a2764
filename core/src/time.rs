//! Time as the machine sees it: a monotonic instant supplied by the caller.
//!
//! `no_std` has no clock, so [`Instant`] is a plain count of microseconds since an epoch the
//! driver chooses. Only differences between instants matter to the machine.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the driver's monotonic clock, in microseconds since an arbitrary epoch.
///
/// Arithmetic saturates instead of overflowing: a deadline past the end of time is simply
/// never reached.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    micros: u64,
}

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant { micros: 0 };
    /// The latest representable instant.
    pub const MAX: Instant = Instant { micros: u64::MAX };

    /// The instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant { micros }
    }

    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant::from_micros(millis.saturating_mul(1_000))
    }

    /// The instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Instant {
        Instant::from_micros(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.micros
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.micros.saturating_sub(earlier.micros))
    }

    /// `self + duration`, or [`Instant::MAX`] if that is past the end of time.
    pub const fn saturating_add(self, duration: Duration) -> Instant {
        let micros = duration.as_micros();
        let micros = if micros > u64::MAX as u128 {
            u64::MAX
        } else {
            micros as u64
        };
        Instant::from_micros(self.micros.saturating_add(micros))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, duration: Duration) -> Instant {
        self.saturating_add(duration)
    }
}

impl Sub for Instant {
    type Output = Duration;

    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Seconds with millisecond precision, e.g. `5.003s`.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.micros / 1_000;
        write!(f, "{}.{:03}s", millis / 1_000, millis % 1_000)
    }
}

/// Maps [`std::time::Instant`] onto [`Instant`], counting from the moment it was created.
///
/// ```
/// let clock = linger::Clock::new();
/// let now = clock.now();
/// assert!(clock.to_std(now).is_some_and(|then| then <= std::time::Instant::now()));
/// ```
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: std::time::Instant,
}

#[cfg(feature = "std")]
impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Clock {
        Clock {
            epoch: std::time::Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.from_std(std::time::Instant::now())
    }

    /// `instant` on this clock; instants before the epoch map to the epoch.
    pub fn from_std(&self, instant: std::time::Instant) -> Instant {
        Instant::ZERO.saturating_add(instant.saturating_duration_since(self.epoch))
    }

    /// The `std` instant that `instant` stands for, or `None` if `std` cannot represent it
    /// (on some platforms, [`Instant::MAX`]).
    pub fn to_std(&self, instant: Instant) -> Option<std::time::Instant> {
        self.epoch
            .checked_add(Duration::from_micros(instant.as_micros()))
    }
}

#[cfg(feature = "std")]
impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Instant;
    use core::time::Duration;

    #[test]
    fn adding_past_the_end_of_time_stops_there() {
        assert_eq!(Instant::from_secs(1) + Duration::MAX, Instant::MAX);
        // 2^45 s is past u64::MAX µs, and not by a multiple of 2^64 µs: it cannot wrap to MAX.
        assert_eq!(Instant::ZERO + Duration::from_secs(1 << 45), Instant::MAX);
        assert_eq!(
            Instant::from_millis(1) + Duration::from_millis(2),
            Instant::from_millis(3)
        );
    }

    #[test]
    fn subtracting_gives_the_time_between_or_zero() {
        let (early, late) = (Instant::from_millis(5), Instant::from_millis(12));
        assert_eq!(late - early, Duration::from_millis(7));
        assert_eq!(early - late, Duration::ZERO);
    }

    #[test]
    fn instants_show_seconds_to_the_millisecond() {
        let instant = Instant::from_micros(5_003_900);
        assert_eq!(format!("{instant}"), "5.003s");
        assert_eq!(format!("{instant:?}"), "5.003s");
    }

    #[cfg(feature = "std")]
    #[test]
    fn the_clock_maps_std_instants_both_ways() {
        let clock = super::Clock::new();
        let later = std::time::Instant::now() + Duration::from_secs(3);
        let mapped = clock.from_std(later);
        assert!(mapped >= Instant::from_secs(3), "{mapped}");
        assert_eq!(clock.to_std(mapped).map(|back| back <= later), Some(true));
        std::thread::sleep(Duration::from_millis(2));
        assert!(clock.now() >= Instant::from_millis(2));
    }
}
