//! The closes `linger` replaces, as model strategies, each a short example of a
//! [`Strategy`]:
//!
//! ```
//! use linger_model::reference::{Naive, SoLinger};
//! use linger_model::{Bound, Check};
//!
//! let small = Bound { segments: 2, peer_sends: 1, peer_moves: 2, ..Bound::default() };
//! let naive = Check::new(Naive).bound(small)?.run();
//! let so_linger = Check::new(SoLinger { timeout: 30_000 }).bound(small)?.run();
//! for report in [naive, so_linger] {
//!     let p1 = report.verdict("P1 no silent loss").expect("P1 is checked");
//!     assert!(!p1.holds, "{report}");
//! }
//! # Ok::<(), linger_model::Error>(())
//! ```
//!
//! They are the two that lose data ([`Naive`], [`ShutdownClose`]), the two common workarounds
//! ([`SoLinger`], [`FixedDelay`]), and a deliberately broken lingering close ([`EagerClose`])
//! that shows the checker can fail. None reports an outcome; each believes its data delivered
//! once it returns.

use super::kernel::{Fin, Read};
use super::strategy::{Describe, Io, Strategy};

/// Where a reference application is in its close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Not closing yet.
    Open,
    /// Closing; gives up (or goes on) at `until`.
    Waiting {
        /// Model microseconds.
        until: u64,
    },
    /// The socket is released; the application believes the data delivered.
    Released,
}

impl Describe for Phase {
    fn describe(&self) -> String {
        match *self {
            Phase::Open => "app open".into(),
            Phase::Waiting { until } => format!("app waiting until {}", super::trace::Time(until)),
            Phase::Released => "app released the socket, believes it delivered".into(),
        }
    }
}

/// Plain `close()` right after the last write.
#[derive(Clone, Copy, Debug)]
pub struct Naive;

/// `shutdown(SHUT_WR)`, then `close()` at once.
#[derive(Clone, Copy, Debug)]
pub struct ShutdownClose;

/// `SO_LINGER {1, timeout}` on a blocking socket: `close()` blocks the thread until the
/// send queue is acknowledged or the timeout runs out, then returns 0 either way.
#[derive(Clone, Copy, Debug)]
pub struct SoLinger {
    /// The linger timeout, in model microseconds.
    pub timeout: u64,
}

/// Go's `closeWriteAndWait`: `shutdown(SHUT_WR)`, sleep a fixed time without reading, `close()`.
#[derive(Clone, Copy, Debug)]
pub struct FixedDelay {
    /// The sleep, in model microseconds.
    pub delay: u64,
}

/// Deliberately broken: a lingering close that drains reads but stops waiting as soon as its
/// FIN is on the wire, as if "sent" meant "delivered". The checker must catch it.
#[derive(Clone, Copy, Debug)]
pub struct EagerClose {
    /// The longest it waits for the FIN to go out, in model microseconds.
    pub budget: u64,
}

/// The parts every reference strategy shares: it writes its response, then believes what
/// `close` returned.
macro_rules! reference_basics {
    ($name:literal) => {
        type App = Phase;

        fn name(&self) -> String {
            $name.into()
        }

        fn start(&self, response: u8, io: &mut Io<'_>) -> Phase {
            io.write(response);
            Phase::Open
        }

        fn deadline(&self, phase: &Phase) -> Option<u64> {
            match *phase {
                Phase::Waiting { until } => Some(until),
                Phase::Open | Phase::Released => None,
            }
        }

        fn released(&self, phase: &Phase) -> bool {
            *phase == Phase::Released
        }

        fn claims_delivery(&self, phase: &Phase) -> bool {
            *phase == Phase::Released
        }
    };
}

impl Strategy for Naive {
    reference_basics!("naive");

    fn close(&self, phase: &mut Phase, io: &mut Io<'_>) {
        io.close();
        *phase = Phase::Released;
    }

    fn on_delivered(&self, _: &mut Phase, _: &mut Io<'_>) {}

    fn on_time(&self, _: &mut Phase, _: &mut Io<'_>) {}

    fn time_bound(&self) -> u64 {
        0
    }
}

impl Strategy for ShutdownClose {
    reference_basics!("shutdown-close");

    fn close(&self, phase: &mut Phase, io: &mut Io<'_>) {
        let _ = io.shutdown_write();
        io.close();
        *phase = Phase::Released;
    }

    fn on_delivered(&self, _: &mut Phase, _: &mut Io<'_>) {}

    fn on_time(&self, _: &mut Phase, _: &mut Io<'_>) {}

    fn time_bound(&self) -> u64 {
        0
    }
}

impl Strategy for SoLinger {
    reference_basics!("so-linger");

    fn close(&self, phase: &mut Phase, io: &mut Io<'_>) {
        io.lingering_close();
        *phase = Phase::Waiting {
            until: io.now().saturating_add(self.timeout),
        };
        self.on_delivered(phase, io);
    }

    /// The kernel wakes the blocked `close` once the send queue is acknowledged or the
    /// connection died.
    fn on_delivered(&self, phase: &mut Phase, io: &mut Io<'_>) {
        let kernel = io.kernel();
        if matches!(phase, Phase::Waiting { .. })
            && (kernel.siocoutq() == 0 || kernel.dead.is_some())
        {
            *phase = Phase::Released;
        }
    }

    fn on_time(&self, phase: &mut Phase, _: &mut Io<'_>) {
        *phase = Phase::Released;
    }

    fn time_bound(&self) -> u64 {
        self.timeout
    }
}

impl Strategy for FixedDelay {
    reference_basics!("fixed-delay");

    fn close(&self, phase: &mut Phase, io: &mut Io<'_>) {
        let _ = io.shutdown_write();
        *phase = Phase::Waiting {
            until: io.now().saturating_add(self.delay),
        };
    }

    fn on_delivered(&self, _: &mut Phase, _: &mut Io<'_>) {}

    fn on_time(&self, phase: &mut Phase, io: &mut Io<'_>) {
        io.close();
        *phase = Phase::Released;
    }

    fn time_bound(&self) -> u64 {
        self.delay
    }
}

impl Strategy for EagerClose {
    reference_basics!("eager-close");

    fn close(&self, phase: &mut Phase, io: &mut Io<'_>) {
        let _ = io.shutdown_write();
        *phase = Phase::Waiting {
            until: io.now().saturating_add(self.budget),
        };
        self.on_delivered(phase, io);
    }

    fn on_delivered(&self, phase: &mut Phase, io: &mut Io<'_>) {
        if !matches!(phase, Phase::Waiting { .. }) {
            return;
        }
        while io.read() == Read::Data {}
        if matches!(io.kernel().fin, Fin::Sent | Fin::Acked) {
            io.close();
            *phase = Phase::Released;
        }
    }

    fn on_time(&self, phase: &mut Phase, io: &mut Io<'_>) {
        while io.read() == Read::Data {}
        io.close();
        *phase = Phase::Released;
    }

    fn time_bound(&self) -> u64 {
        self.budget
    }
}
