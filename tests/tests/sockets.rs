//! The plain closes' losses reproduced on loopback, and every driver against every kind of peer.
//! `cargo test -p linger-check --test sockets -- --nocapture` prints the figures.

use linger::{Ending, Release};
use linger_check::sockets::{self, Closer, Run};
use linger_io::profile::Profile;
use std::time::Duration;

fn report(scenario: &str, closer: Closer, run: &Run) {
    let outcome = run
        .outcome
        .map_or("no outcome".to_owned(), |outcome| outcome.to_string());
    println!(
        "{scenario} / {closer:?}: client got {} of {} bytes (eof {}, reset {}); close took {:?}; {outcome}",
        run.received.bytes, run.sent, run.received.eof, run.received.reset, run.close_took
    );
}

fn profile() -> Profile {
    Profile::detect().expect("loopback")
}

fn ending(run: &Run) -> Ending {
    run.outcome
        .expect("linger's drivers report an outcome")
        .ending
}

#[test]
fn plain_close_loses_the_answer_when_the_request_was_not_read() {
    let run = sockets::until(
        5,
        || sockets::early_reply(Closer::Plain),
        |run| !run.delivered(),
    )
    .expect("plain close delivered everything in five tries: the scenario is not real");
    report("early reply", Closer::Plain, &run);
    assert!(run.received.reset, "the loss comes with ECONNRESET");
}

#[test]
fn shutdown_then_close_loses_the_answer_the_same_way() {
    let closer = Closer::ShutdownThenClose;
    let run = sockets::until(5, || sockets::early_reply(closer), |run| !run.delivered())
        .expect("shutdown-then-close delivered everything in five tries");
    report("early reply", closer, &run);
    assert!(run.received.reset, "the loss comes with ECONNRESET");
}

#[test]
fn every_driver_delivers_the_answer_when_the_request_was_not_read() {
    for closer in Closer::DRIVERS {
        for _ in 0..3 {
            let run = sockets::early_reply(closer);
            report("early reply", closer, &run);
            assert!(run.delivered(), "{closer:?} lost data: {run:?}");
            let outcome = run.outcome.expect("outcome");
            assert_eq!(outcome.ending, profile().ending(Ending::Clean));
            assert_eq!(
                outcome.bytes_discarded,
                64 << 10,
                "the unread upload was drained"
            );
        }
    }
}

#[test]
fn every_driver_delivers_to_a_slow_reader() {
    for closer in Closer::DRIVERS {
        let run = sockets::slow_reader(closer);
        report("slow reader", closer, &run);
        assert!(run.delivered(), "{closer:?} lost data: {run:?}");
        assert_eq!(ending(&run), profile().ending(Ending::Clean));
    }
}

#[test]
fn every_driver_releases_a_silent_peer_at_the_budget_with_everything_acked() {
    let budget = Duration::from_millis(400);
    for closer in Closer::DRIVERS {
        let run = sockets::silent_peer(closer, budget);
        report("silent peer", closer, &run);
        assert_eq!(run.received.bytes, run.sent);
        assert_eq!(ending(&run), profile().ending(Ending::AckedPeerOpen));
        assert!(
            run.close_took >= budget,
            "released early: {:?}",
            run.close_took
        );
        assert!(
            run.close_took < budget + Duration::from_secs(2),
            "{:?}",
            run.close_took
        );
    }
}

#[test]
fn every_driver_keeps_a_slow_peer_that_makes_progress_past_the_idle_timeout() {
    let idle = Duration::from_millis(200);
    let profile = profile();
    for closer in Closer::DRIVERS {
        let run = sockets::slow_peer(closer, idle);
        report("slow peer", closer, &run);
        assert!(
            run.delivered(),
            "{closer:?} cut off a peer making progress: {run:?}"
        );
        if profile.observes_acks() {
            assert_eq!(ending(&run), Ending::Clean);
            assert!(
                run.close_took > idle * 3,
                "the drain took only {:?}: it does not outlast the idle timeout",
                run.close_took
            );
        } else {
            // The progress is in what the peer acknowledges: unseen, the close ends at the
            // idle timeout, plainly, and the kernel still delivers the rest.
            assert_eq!(ending(&run), Ending::Unknown { peer_eof: false });
            assert!(run.close_took >= idle, "{:?}", run.close_took);
        }
    }
}

#[test]
fn every_driver_releases_a_peer_that_queued_many_rounds_then_fell_silent_at_the_budget() {
    let budget = Duration::from_secs(1);
    for closer in Closer::DRIVERS {
        let run = sockets::queue_then_silent_peer(closer, budget);
        report("queue then silent", closer, &run);
        let outcome = run.outcome.expect("outcome");
        assert_eq!(outcome.ending, profile().ending(Ending::AckedPeerOpen));
        assert_eq!(outcome.release, Release::Close, "everything was read");
        assert_eq!(outcome.bytes_discarded, sockets::QUEUED_UPLOAD as u64);
        assert!(
            run.close_took >= budget && run.close_took < budget + Duration::from_secs(1),
            "{:?}",
            run.close_took
        );
        assert!(run.delivered(), "{closer:?} lost data: {run:?}");
    }
}

#[test]
fn every_driver_times_out_a_stalled_peer_and_counts_what_it_never_acked() {
    let budget = Duration::from_millis(400);
    let profile = profile();
    for closer in Closer::DRIVERS {
        let run = sockets::stalled_peer(closer, budget);
        report("stalled peer", closer, &run);
        let unacked = ending(&run).unacked();
        let timed_out = profile.ending(Ending::TimedOut { unacked });
        assert_eq!(ending(&run), timed_out, "{closer:?}");
        assert!(
            unacked.is_some_and(|unacked| unacked > 0 && unacked as usize <= run.sent + 1)
                || !profile.observes_acks(),
            "{closer:?}: {unacked:?} of {} unacknowledged",
            run.sent
        );
        assert!(
            run.close_took < budget + Duration::from_secs(2),
            "{:?}",
            run.close_took
        );
    }
}

#[test]
fn every_driver_bounds_a_flooding_peer_by_the_discard_cap_and_the_budget() {
    // Not a multiple of the 64 KiB round: the last round may read only what is left.
    let cap = (1 << 20) + 1000;
    for closer in Closer::DRIVERS {
        let run = sockets::flooding_peer(closer, cap);
        report("flooding peer", closer, &run);
        let outcome = run.outcome.expect("outcome");
        assert!(outcome.bytes_discarded <= u64::from(cap));
        assert!(
            run.close_took < Duration::from_secs(3),
            "{:?}",
            run.close_took
        );
        // Our answer was acknowledged before the reset, so a Linux peer still reads it.
        assert_eq!(outcome.ending, profile().ending(Ending::AckedPeerOpen));
        assert_eq!(
            outcome.release,
            Release::Abort,
            "unread data makes any close a reset"
        );
        assert_eq!(run.received.bytes, run.sent);
    }
}

#[test]
fn every_driver_reports_a_resetting_peer_with_what_it_never_acked() {
    let profile = profile();
    for closer in Closer::DRIVERS {
        let run = sockets::resetting_peer(closer);
        report("resetting peer", closer, &run);
        let unacked = ending(&run).unacked();
        let reset = profile.ending(Ending::ResetByPeer { unacked });
        assert_eq!(ending(&run), reset, "{closer:?}");
        assert!(
            unacked.is_some_and(|unacked| unacked > 0) || !profile.observes_acks(),
            "{closer:?}: {unacked:?} unacknowledged"
        );
    }
}

#[test]
fn every_driver_closes_cleanly_after_the_peer_half_closed_first() {
    for closer in Closer::DRIVERS {
        let run = sockets::half_closing_peer(closer);
        report("half-closing peer", closer, &run);
        assert!(run.delivered(), "{closer:?} lost data: {run:?}");
        assert_eq!(ending(&run), profile().ending(Ending::Clean));
    }
}
