//! Where outcomes go: the application's hook, running counts by ending, and (feature
//! `tracing`) one `tracing` event per close.

use linger::{Ending, Guard, Outcome, Release};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// One close that ended, as the hook of a [`Lingerer`](crate::Lingerer) receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseReport {
    /// The peer, where it is known (streams from [`LingerListener`] or
    /// [`Lingerer::accept`](crate::Lingerer::accept)).
    ///
    /// [`LingerListener`]: crate::LingerListener
    pub peer: Option<SocketAddr>,
    /// How the close ended.
    pub outcome: Outcome,
    /// It was ended early to make room (a lingerer at its capacity, descriptors running
    /// short, `accept` out of them): the outcome is what a spent budget gave.
    pub reclaimed: bool,
    /// The guard that ended the connection before the application closed it, if one did.
    pub ended_by: Option<Guard>,
}

/// The application's hook, called once per close.
pub(crate) type Hook = Box<dyn Fn(&CloseReport) + Send + Sync>;

/// Closes in flight and closes ended so far by ending, from
/// [`Lingerer::counts`](crate::Lingerer::counts): what a metrics exporter reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Closes waiting in the background now.
    pub in_flight: usize,
    /// Ended [`Clean`](Ending::Clean): every byte acknowledged, the peer closed.
    pub clean: u64,
    /// Ended [`AckedPeerOpen`](Ending::AckedPeerOpen): every byte acknowledged.
    pub acked_peer_open: u64,
    /// Ended [`DataAcked`](Ending::DataAcked): every byte acknowledged, our FIN not seen
    /// acknowledged (macOS, once the connection ended).
    pub data_acked: u64,
    /// Ended [`TimedOut`](Ending::TimedOut) with bytes unacknowledged.
    pub timed_out: u64,
    /// Ended [`ResetByPeer`](Ending::ResetByPeer).
    pub reset_by_peer: u64,
    /// Ended [`Aborted`](Ending::Aborted) by the application or the lingerer.
    pub aborted: u64,
    /// Ended [`Failed`](Ending::Failed).
    pub failed: u64,
    /// Ended [`Unknown`](Ending::Unknown): the platform cannot observe acks.
    pub unknown: u64,
    /// Released with a reset (`SO_LINGER {1, 0}`), whatever the ending.
    pub released_by_reset: u64,
    /// Ended early to make room, whatever the ending: a lingerer at its capacity,
    /// descriptors running short, `accept` out of them. Live connections that gave way too.
    pub reclaimed: u64,
    /// Live connections a guard ended: nothing sent within the first-byte timeout.
    pub first_byte_timeouts: u64,
    /// Live connections a guard ended: a request arriving below the minimum pace.
    pub slow_requests: u64,
    /// Live connections a guard ended: idle past the keep-alive timeout.
    pub keep_alive_timeouts: u64,
    /// Live connections a guard ended: a write held back past the send timeout.
    pub send_timeouts: u64,
}

impl Counts {
    /// Closes that ended as `ending` did: its kind, whatever its figures.
    pub fn of(&self, ending: Ending) -> u64 {
        match ending {
            Ending::Clean => self.clean,
            Ending::AckedPeerOpen => self.acked_peer_open,
            Ending::DataAcked { .. } => self.data_acked,
            Ending::TimedOut { .. } => self.timed_out,
            Ending::ResetByPeer { .. } => self.reset_by_peer,
            Ending::Aborted { .. } => self.aborted,
            Ending::Unknown { .. } => self.unknown,
            // `Failed`, and any ending a later core adds, as `Counters::count` counts them.
            _ => self.failed,
        }
    }

    /// Live connections a guard ended, whatever the guard.
    pub fn guarded(&self) -> u64 {
        self.first_byte_timeouts
            + self.slow_requests
            + self.keep_alive_timeouts
            + self.send_timeouts
    }

    /// Closes that have ended, whatever the ending.
    pub fn ended(&self) -> u64 {
        self.clean
            + self.acked_peer_open
            + self.data_acked
            + self.timed_out
            + self.reset_by_peer
            + self.aborted
            + self.failed
            + self.unknown
    }
}

/// The running counts behind [`Counts`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    clean: AtomicU64,
    acked_peer_open: AtomicU64,
    data_acked: AtomicU64,
    timed_out: AtomicU64,
    reset_by_peer: AtomicU64,
    aborted: AtomicU64,
    failed: AtomicU64,
    unknown: AtomicU64,
    released_by_reset: AtomicU64,
    reclaimed: AtomicU64,
    first_byte_timeouts: AtomicU64,
    slow_requests: AtomicU64,
    keep_alive_timeouts: AtomicU64,
    send_timeouts: AtomicU64,
}

impl Counters {
    pub(crate) fn count(&self, report: &CloseReport) {
        let outcome = &report.outcome;
        let counter = match outcome.ending {
            Ending::Clean => &self.clean,
            Ending::AckedPeerOpen => &self.acked_peer_open,
            Ending::DataAcked { .. } => &self.data_acked,
            Ending::TimedOut { .. } => &self.timed_out,
            Ending::ResetByPeer { .. } => &self.reset_by_peer,
            Ending::Aborted { .. } => &self.aborted,
            Ending::Unknown { .. } => &self.unknown,
            // `Failed`, and any ending a later core adds.
            _ => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if outcome.release == Release::Abort {
            self.released_by_reset.fetch_add(1, Ordering::Relaxed);
        }
        if report.reclaimed {
            self.reclaimed.fetch_add(1, Ordering::Relaxed);
        }
        let guard = match report.ended_by {
            Some(Guard::FirstByte) => &self.first_byte_timeouts,
            Some(Guard::Pace) => &self.slow_requests,
            Some(Guard::KeepAlive) => &self.keep_alive_timeouts,
            Some(Guard::Send) => &self.send_timeouts,
            // None, or a guard a later core adds.
            _ => return,
        };
        guard.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn read(&self, in_flight: usize) -> Counts {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Counts {
            in_flight,
            clean: read(&self.clean),
            acked_peer_open: read(&self.acked_peer_open),
            data_acked: read(&self.data_acked),
            timed_out: read(&self.timed_out),
            reset_by_peer: read(&self.reset_by_peer),
            aborted: read(&self.aborted),
            failed: read(&self.failed),
            unknown: read(&self.unknown),
            released_by_reset: read(&self.released_by_reset),
            reclaimed: read(&self.reclaimed),
            first_byte_timeouts: read(&self.first_byte_timeouts),
            slow_requests: read(&self.slow_requests),
            keep_alive_timeouts: read(&self.keep_alive_timeouts),
            send_timeouts: read(&self.send_timeouts),
        }
    }
}

/// With the `tracing` feature: one event per close, target `linger`, at `DEBUG` when the
/// outcome claims delivery and `INFO` when it does not.
#[cfg(feature = "tracing")]
pub(crate) fn trace(report: &CloseReport) {
    let CloseReport {
        peer,
        outcome,
        reclaimed,
        ended_by,
    } = report;
    macro_rules! close_event {
        ($level:expr) => {
            tracing::event!(
                target: "linger",
                $level,
                peer = ?peer,
                ending = %outcome.ending,
                release = ?outcome.release,
                bytes_written = ?outcome.bytes_written,
                bytes_discarded = outcome.bytes_discarded,
                elapsed_us = outcome.elapsed.as_micros() as u64,
                reclaimed,
                ended_by = ?ended_by,
                "lingering close ended"
            )
        };
    }
    if outcome.claims_delivery() {
        close_event!(tracing::Level::DEBUG);
    } else {
        close_event!(tracing::Level::INFO);
    }
}

/// Without the `tracing` feature there is nothing to emit.
#[cfg(not(feature = "tracing"))]
pub(crate) fn trace(_report: &CloseReport) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(ending: Ending, release: Release) -> CloseReport {
        let outcome = Outcome {
            ending,
            release,
            bytes_written: Some(10),
            bytes_discarded: 0,
            elapsed: Duration::ZERO,
        };
        CloseReport {
            peer: None,
            outcome,
            reclaimed: false,
            ended_by: None,
        }
    }

    #[test]
    fn counts_each_ending_once_and_resets_apart() {
        let counters = Counters::default();
        counters.count(&outcome(Ending::Clean, Release::Close));
        counters.count(&outcome(Ending::AckedPeerOpen, Release::Abort));
        let data_acked = Ending::DataAcked { peer_eof: true };
        counters.count(&outcome(data_acked, Release::Close));
        let timed_out = Ending::TimedOut { unacked: Some(3) };
        counters.count(&outcome(timed_out, Release::Close));
        let reset = Ending::ResetByPeer { unacked: None };
        counters.count(&outcome(reset, Release::Close));
        let aborted = Ending::Aborted { unacked: None };
        counters.count(&outcome(aborted, Release::Abort));
        counters.count(&outcome(Ending::Failed { unacked: None }, Release::Close));
        let unknown = Ending::Unknown { peer_eof: true };
        counters.count(&outcome(unknown, Release::Close));
        let reclaimed = CloseReport {
            reclaimed: true,
            ..outcome(timed_out, Release::Close)
        };
        counters.count(&reclaimed);
        for guard in [Guard::FirstByte, Guard::Pace, Guard::KeepAlive, Guard::Send] {
            let guarded = CloseReport {
                ended_by: Some(guard),
                ..outcome(Ending::Clean, Release::Close)
            };
            counters.count(&guarded);
        }
        let counts = counters.read(2);
        assert_eq!(counts.in_flight, 2);
        assert_eq!(
            [
                counts.clean - 4,
                counts.acked_peer_open,
                counts.data_acked,
                counts.timed_out - 1,
                counts.reset_by_peer,
                counts.aborted,
                counts.failed,
                counts.unknown
            ],
            [1; 8]
        );
        assert_eq!(counts.ended(), 13);
        assert_eq!((counts.released_by_reset, counts.reclaimed), (2, 1));
        assert_eq!(
            [
                counts.first_byte_timeouts,
                counts.slow_requests,
                counts.keep_alive_timeouts,
                counts.send_timeouts
            ],
            [1; 4]
        );
        assert_eq!(counts.guarded(), 4);
    }

    #[test]
    fn counts_of_an_ending_are_those_of_its_kind() {
        let counters = Counters::default();
        let endings = [
            Ending::Clean,
            Ending::AckedPeerOpen,
            Ending::DataAcked { peer_eof: false },
            Ending::TimedOut { unacked: None },
            Ending::ResetByPeer { unacked: Some(4) },
            Ending::Aborted { unacked: None },
            Ending::Failed { unacked: Some(1) },
            Ending::Unknown { peer_eof: false },
        ];
        for (times, ending) in (1..).zip(endings) {
            for _ in 0..times {
                counters.count(&outcome(ending, Release::Close));
            }
        }
        let counts = counters.read(0);
        for (times, ending) in (1..).zip(endings) {
            let same_kind = match ending {
                Ending::Unknown { .. } => Ending::Unknown { peer_eof: true },
                other => other,
            };
            assert_eq!(counts.of(same_kind), times, "{ending}");
        }
    }
}
