//! What this platform lets a close observe, found at run time: the profile a real-socket test
//! suite asserts against, so that the same scenarios run wherever linger runs. linger's own
//! suites (every driver's, and `linger-check`'s) run on Linux, under Wine, and on Linux with
//! linger-io built to hide acknowledgements (`LINGER_ACKS_UNOBSERVABLE=1`, which sets
//! `cfg(linger_acks_unobservable)`); a driver for another event loop can do the same.
//!
//! | platform | acknowledgements | a peer's reset, to the socket calls | bytes written before a handover |
//! |---|---|---|---|
//! | Linux | observed: an ending claims delivery when they prove it | an error (`ECONNRESET`) | counted (`tcp_info`) |
//! | Linux, `cfg(linger_acks_unobservable)` | unobservable: no ending claims delivery | an error | counted |
//! | FreeBSD, macOS, Windows 10 1703 and later (by their kernels' sources and documentation) | observed | an error | not counted |
//! | other unix, older Windows | unobservable | an error | not counted |
//! | Wine 8.0 | unobservable: no `SIO_TCP_INFO` | none: reads return 0 as after a FIN, `shutdown` and `SO_ERROR` succeed; only a write fails with it | not counted |
//!
//! Without acknowledgements a close still drains what the peer sends, still ends within its
//! budget, and still reports the peer's EOF and resets where the socket calls show them: it
//! waits for the peer's EOF instead of the acknowledgements, and ends
//! [`Unknown`](Ending::Unknown) where a close that saw them claims delivery
//! ([`Profile::ending`]).

use linger::{Ending, Event, Stats};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// What a close can observe on this platform; see the [module](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Profile {
    acks_observable: bool,
    resets_reported: bool,
    writes_counted: bool,
}

/// How long [`Profile::detect`] waits for the reset it staged on loopback.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

impl Profile {
    /// Probes this platform on two loopback connections: on one it asks what a close asks
    /// (`QuerySendQueue`: does it answer anything but `AcksUnobservable`? and how many bytes
    /// were written?); the other is reset by its client (`SO_LINGER {1, 0}`, then close) while
    /// its server reads (an error, or 0 bytes?). Fails only where loopback does, or if the
    /// reset never arrives.
    pub fn detect() -> io::Result<Profile> {
        let (_client, server) = loopback_pair()?;
        let acks_observable =
            crate::sys::query_send_queue(&server, &Stats::default()) != Event::AcksUnobservable;
        let writes_counted = crate::sys::bytes_written(&server)?.is_some();
        let (client, mut server) = loopback_pair()?;
        socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO))?;
        drop(client);
        server.set_read_timeout(Some(PROBE_TIMEOUT))?;
        let resets_reported = match server.read(&mut [0; 16]) {
            Ok(0) => false,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => true,
            Ok(_) => return Err(io::Error::other("data arrived where a reset was staged")),
            Err(error) => return Err(error),
        };
        Ok(Profile {
            acks_observable,
            resets_reported,
            writes_counted,
        })
    }

    /// Whether the send-queue query proves what the peer acknowledged.
    pub fn observes_acks(self) -> bool {
        self.acks_observable
    }

    /// Whether the socket calls on a connection its peer reset fail with the reset: reads,
    /// `shutdown`, `SO_ERROR`. Under Wine they do not (its server took the error: see
    /// [`sys::end_of_stream`](crate::sys::end_of_stream)); a read returns 0, as after a FIN.
    pub fn reports_resets(self) -> bool {
        self.resets_reported
    }

    /// What a close of a socket handed over after `written` bytes reports as
    /// [`Outcome::bytes_written`](linger::Outcome::bytes_written): the kernel's count where
    /// it keeps one ([`sys::bytes_written`](crate::sys::bytes_written), Linux), else `None`.
    pub fn written_before_handover(self, written: u64) -> Option<u64> {
        self.writes_counted.then_some(written)
    }

    /// The ending a close reports here where a platform that observes acknowledgements reports
    /// `observed`: `observed` itself where acks are observed; otherwise the same end without
    /// what only acknowledgements show. `Clean` becomes `Unknown { peer_eof: true }` (the peer
    /// closed); `AckedPeerOpen` and `TimedOut`, a close that stopped waiting for a peer that
    /// had not closed, `Unknown { peer_eof: false }`; `DataAcked` `Unknown` with its
    /// `peer_eof`; a reset, an abort or a failure stays one, with its figure unknown.
    ///
    /// Where the course of the close, not only its report, rests on acknowledgements (a slow
    /// peer kept past the idle timeout by what it acknowledges), ask
    /// [`observes_acks`](Self::observes_acks) instead.
    pub fn ending(self, observed: Ending) -> Ending {
        if self.acks_observable {
            return observed;
        }
        match observed {
            Ending::Clean => Ending::Unknown { peer_eof: true },
            Ending::AckedPeerOpen | Ending::TimedOut { .. } => Ending::Unknown { peer_eof: false },
            Ending::DataAcked { peer_eof } => Ending::Unknown { peer_eof },
            Ending::ResetByPeer { .. } => Ending::ResetByPeer { unacked: None },
            Ending::Aborted { .. } => Ending::Aborted { unacked: None },
            Ending::Failed { .. } => Ending::Failed { unacked: None },
            unknown => unknown,
        }
    }

    /// Whether the read that ended a peer's stream (`end`: 0 bytes, or an error) shows that
    /// the connection was reset: the read's own `ECONNRESET` where reads report resets; where
    /// they do not (Wine), a read of 0 bytes and then a write to `peer` that fails with the
    /// reset, which a FIN never causes.
    pub fn saw_reset(self, end: &io::Result<usize>, mut peer: &TcpStream) -> bool {
        match end {
            Err(error) => error.kind() == ErrorKind::ConnectionReset,
            Ok(0) if !self.resets_reported => peer
                .write(b"?")
                .is_err_and(|error| error.kind() == ErrorKind::ConnectionReset),
            Ok(_) => false,
        }
    }
}

/// A connected pair on loopback: `(client, server)`.
fn loopback_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    Ok((client, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBSERVED: Profile = Profile {
        acks_observable: true,
        resets_reported: true,
        writes_counted: true,
    };

    const UNOBSERVED: Profile = Profile {
        acks_observable: false,
        ..OBSERVED
    };

    /// One ending of each kind, with figures where it has them.
    const ENDINGS: [Ending; 9] = [
        Ending::Clean,
        Ending::AckedPeerOpen,
        Ending::TimedOut { unacked: Some(7) },
        Ending::ResetByPeer { unacked: Some(5) },
        Ending::Aborted { unacked: Some(3) },
        Ending::Failed { unacked: Some(2) },
        Ending::DataAcked { peer_eof: true },
        Ending::Unknown { peer_eof: true },
        Ending::Unknown { peer_eof: false },
    ];

    #[test]
    fn where_acks_are_observed_every_ending_is_expected_as_it_is() {
        for ending in ENDINGS {
            assert_eq!(OBSERVED.ending(ending), ending);
        }
    }

    #[test]
    fn where_acks_are_unobservable_no_expected_ending_claims_delivery_or_a_figure() {
        for ending in ENDINGS {
            let expected = UNOBSERVED.ending(ending);
            assert!(!expected.claims_delivery(), "{ending} → {expected}");
            assert_eq!(expected.unacked(), None, "{ending} → {expected}");
        }
    }

    #[test]
    fn where_acks_are_unobservable_the_peers_eof_and_resets_are_still_expected() {
        let table = [
            (Ending::Clean, Ending::Unknown { peer_eof: true }),
            (Ending::AckedPeerOpen, Ending::Unknown { peer_eof: false }),
            (
                Ending::TimedOut { unacked: Some(7) },
                Ending::Unknown { peer_eof: false },
            ),
            (
                Ending::DataAcked { peer_eof: false },
                Ending::Unknown { peer_eof: false },
            ),
            (
                Ending::ResetByPeer { unacked: Some(5) },
                Ending::ResetByPeer { unacked: None },
            ),
            (
                Ending::Aborted { unacked: Some(3) },
                Ending::Aborted { unacked: None },
            ),
        ];
        for (observed, expected) in table {
            assert_eq!(UNOBSERVED.ending(observed), expected, "{observed}");
        }
    }

    #[test]
    fn detect_agrees_with_how_linger_io_was_built() {
        let profile = Profile::detect().expect("loopback");
        if cfg!(linger_acks_unobservable) {
            assert!(!profile.observes_acks(), "{profile:?}");
        }
        if cfg!(target_os = "linux") {
            assert_eq!(profile.observes_acks(), !cfg!(linger_acks_unobservable));
            assert!(profile.reports_resets(), "Linux reads ECONNRESET");
            assert_eq!(profile.written_before_handover(70), Some(70));
        }
    }

    #[test]
    fn each_profile_answers_what_it_was_found_to_be() {
        let hidden_resets = Profile {
            resets_reported: false,
            writes_counted: false,
            ..UNOBSERVED
        };
        assert!(OBSERVED.observes_acks() && OBSERVED.reports_resets());
        assert!(!hidden_resets.observes_acks() && !hidden_resets.reports_resets());
        assert_eq!(OBSERVED.written_before_handover(70), Some(70));
        assert_eq!(hidden_resets.written_before_handover(70), None);
    }

    /// A loopback connection whose server side reset it; the client is returned.
    fn reset_by_its_server() -> TcpStream {
        let (client, server) = loopback_pair().expect("loopback");
        socket2::SockRef::from(&server)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER");
        drop(server);
        client
            .set_read_timeout(Some(PROBE_TIMEOUT))
            .expect("read timeout");
        client
    }

    #[test]
    fn where_reads_report_resets_a_read_of_nothing_is_no_reset_whatever_a_write_says() {
        let client = reset_by_its_server();
        assert!(!OBSERVED.saw_reset(&Ok(0), &client));
    }

    #[test]
    fn where_reads_hide_resets_a_write_after_a_read_of_nothing_tells() {
        let hidden_resets = Profile {
            resets_reported: false,
            ..OBSERVED
        };
        let client = reset_by_its_server();
        assert!(hidden_resets.saw_reset(&Ok(0), &client));
    }

    #[test]
    fn a_peer_that_read_a_fin_saw_no_reset() {
        let profile = Profile::detect().expect("loopback");
        let (client, server) = loopback_pair().expect("loopback");
        drop(server);
        let end = (&client).read(&mut [0; 8]);
        assert!(!profile.saw_reset(&end, &client), "{end:?}");
    }

    #[test]
    fn a_peer_that_was_reset_saw_it_on_every_profile() {
        let profile = Profile::detect().expect("loopback");
        let client = reset_by_its_server();
        let end = (&client).read(&mut [0; 8]);
        assert!(profile.saw_reset(&end, &client), "{end:?}");
    }
}
