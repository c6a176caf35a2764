//! One test per transition, grouped by the state it starts from.

use super::helpers::*;
use crate::{
    Action, CloseMachine, Ending, Error, Event, Instant, Intent, NagleMode, OnBudgetSpent, Outcome,
    Policy, Release, State,
};
use core::time::Duration;
use std::vec;

/// Asserts the state and the actions queued after an input.
macro_rules! assert_step {
    ($machine:expr, $state:expr, [$($action:expr),* $(,)?]) => {{
        let machine: &mut CloseMachine = &mut $machine;
        assert_eq!(machine.state(), $state);
        assert_eq!(drain(machine), vec![$($action),*] as std::vec::Vec<Action>);
    }};
}

fn outcome(machine: &CloseMachine) -> Outcome {
    machine.outcome().expect("closed")
}

// ---- construction --------------------------------------------------------------------------

#[test]
fn new_machine_is_open_and_asks_nothing() {
    let mut machine = CloseMachine::new(Policy::default());
    assert_step!(machine, State::Open, []);
    assert_eq!(machine.poll_timeout(), None);
}

#[test]
fn nodelay_policy_sets_nodelay_at_start() {
    let mut machine = CloseMachine::new(policy_with(NagleMode::NoDelay));
    assert_step!(machine, State::Open, [Action::SetNodelay(true)]);
}

#[test]
fn cork_while_assembling_policy_starts_corked() {
    let mut machine = CloseMachine::new(policy_with(NagleMode::CorkWhileAssembling));
    assert_step!(machine, State::Corked, [Action::SetCork(true)]);
}

#[test]
fn machine_keeps_the_policy_it_was_given() {
    let policy = Policy::builder()
        .discard_cap(7)
        .build()
        .expect("valid policy");
    assert_eq!(CloseMachine::new(policy).policy(), &policy);
}

#[test]
fn close_machine_fits_in_200_bytes() {
    let size = core::mem::size_of::<CloseMachine>();
    std::println!("size_of::<CloseMachine>() = {size} bytes");
    assert!(size <= 200, "CloseMachine grew to {size} bytes");
}

// ---- Open ----------------------------------------------------------------------------------

#[test]
fn open_counts_written_bytes() {
    let mut machine = open();
    feed(&mut machine, Event::Wrote(24), ms(0));
    assert_eq!(machine.stats().bytes_written, Some(WRITTEN + 24));
    assert_step!(machine, State::Open, []);
}

#[test]
fn open_leaves_reads_to_the_application() {
    let mut machine = open();
    feed(&mut machine, Event::Readable, ms(0));
    feed(&mut machine, Event::Read(4096), ms(0));
    feed(&mut machine, Event::ReadBlocked, ms(0));
    assert_step!(machine, State::Open, []);
    assert_eq!(machine.stats().bytes_discarded, 0);
    assert_eq!(machine.poll_timeout(), None);
}

#[test]
fn open_cork_sets_cork() {
    let mut machine = open();
    machine.cork().expect("cork");
    assert_step!(machine, State::Corked, [Action::SetCork(true)]);
}

#[test]
fn open_cork_with_nodelay_clears_nodelay_first() {
    let mut machine = open_with(policy_with(NagleMode::NoDelay));
    machine.cork().expect("cork");
    assert_step!(
        machine,
        State::Corked,
        [Action::SetNodelay(false), Action::SetCork(true)]
    );
}

#[test]
fn open_uncork_is_refused() {
    let mut machine = open();
    let error = Error::NotAllowed {
        intent: Intent::Uncork,
        state: State::Open,
    };
    assert_eq!(machine.uncork(), Err(error));
}

#[test]
fn open_flush_toggles_nodelay_to_push_the_tail() {
    let mut machine = open();
    machine.flush().expect("flush");
    assert_step!(
        machine,
        State::Open,
        [Action::SetNodelay(true), Action::SetNodelay(false)]
    );
}

#[test]
fn open_flush_with_nodelay_has_nothing_to_push() {
    let mut machine = open_with(policy_with(NagleMode::NoDelay));
    machine.flush().expect("flush");
    assert_step!(machine, State::Open, []);
}

#[test]
fn open_close_shuts_write_then_queries_then_discards() {
    let mut machine = open();
    machine.close(ms(0)).expect("close");
    assert_step!(
        machine,
        State::WriteShut,
        [
            Action::ShutdownWrite,
            Action::QuerySendQueue,
            Action::Discard { max_bytes: ROUND }
        ]
    );
    assert!(machine.is_lingering());
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(5_000)),
        "idle timeout first"
    );
}

#[test]
fn open_shutdown_write_only_shuts_down() {
    let mut machine = open();
    machine.shutdown_write(ms(0)).expect("shutdown_write");
    assert_step!(machine, State::WriteShut, [Action::ShutdownWrite]);
    assert!(!machine.is_lingering());
    assert_eq!(
        machine.poll_timeout(),
        None,
        "no timers while the application reads"
    );
}

#[test]
fn open_abort_resets_at_once() {
    let mut machine = open();
    machine.abort(ms(7)).expect("abort");
    assert_step!(machine, State::Closed, [Action::Abort]);
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::Aborted { unacked: None });
    assert_eq!(outcome.release, Release::Abort);
    assert_eq!(outcome.elapsed, Duration::ZERO, "no close was under way");
}

#[test]
fn open_reset_by_peer_releases_with_unacked_unknown() {
    let mut machine = open();
    feed(&mut machine, Event::Reset, ms(3));
    assert_step!(machine, State::Closed, [Action::Close]);
    assert_eq!(
        outcome(&machine).ending,
        Ending::ResetByPeer { unacked: None }
    );
}

#[test]
fn open_failure_releases_the_socket() {
    let mut machine = open();
    feed(&mut machine, Event::Failed, ms(3));
    assert_step!(machine, State::Closed, [Action::Close]);
    assert_eq!(outcome(&machine).ending, Ending::Failed { unacked: None });
    assert!(!outcome(&machine).claims_delivery());
}

#[test]
fn open_send_queue_without_a_query_is_refused() {
    let mut machine = open();
    let refused = machine.handle(Event::SendQueue { unacked: 3 }, ms(0));
    assert_eq!(refused, Err(Error::UnsolicitedSendQueue));
    let refused = machine.handle(Event::AcksUnobservable, ms(0));
    assert_eq!(refused, Err(Error::UnsolicitedSendQueue));
}

#[test]
fn open_peer_eof_is_remembered_for_the_close() {
    let mut machine = open();
    feed(&mut machine, Event::PeerEof, ms(0));
    machine.close(ms(1)).expect("close");
    assert_step!(
        machine,
        State::WriteShut,
        [Action::ShutdownWrite, Action::QuerySendQueue]
    );
    feed(&mut machine, Event::SendQueue { unacked: 0 }, ms(2));
    assert_step!(machine, State::Closed, [Action::Close]);
    assert_eq!(outcome(&machine).ending, Ending::Clean);
}

// ---- Corked --------------------------------------------------------------------------------

#[test]
fn corked_uncork_clears_cork() {
    let mut machine = corked();
    machine.uncork().expect("uncork");
    assert_step!(machine, State::Open, [Action::SetCork(false)]);
}

#[test]
fn corked_uncork_with_nodelay_restores_nodelay() {
    let mut machine = corked_with(policy_with(NagleMode::NoDelay));
    machine.uncork().expect("uncork");
    assert_step!(
        machine,
        State::Open,
        [Action::SetCork(false), Action::SetNodelay(true)]
    );
}

#[test]
fn corked_cork_is_refused() {
    let mut machine = corked();
    let error = Error::NotAllowed {
        intent: Intent::Cork,
        state: State::Corked,
    };
    assert_eq!(machine.cork(), Err(error));
}

#[test]
fn corked_flush_uncorks_and_recorks() {
    let mut machine = corked();
    machine.flush().expect("flush");
    assert_step!(
        machine,
        State::Corked,
        [Action::SetCork(false), Action::SetCork(true)]
    );
}

#[test]
fn corked_close_uncorks_before_shutdown() {
    let mut machine = corked();
    machine.close(ms(0)).expect("close");
    assert_step!(
        machine,
        State::WriteShut,
        [
            Action::SetCork(false),
            Action::ShutdownWrite,
            Action::QuerySendQueue,
            Action::Discard { max_bytes: ROUND },
        ]
    );
}

#[test]
fn corked_shutdown_write_uncorks_first() {
    let mut machine = corked();
    machine.shutdown_write(ms(0)).expect("shutdown_write");
    assert_step!(
        machine,
        State::WriteShut,
        [Action::SetCork(false), Action::ShutdownWrite]
    );
}

#[test]
fn unpolled_actions_are_refused_not_dropped() {
    let mut machine = corked();
    for _ in 0..3 {
        machine.flush().expect("flush");
    }
    let before = machine.clone();
    assert_eq!(machine.flush(), Err(Error::ActionsNotPolled));
    assert_eq!(machine, before);
    assert_eq!(drain(&mut machine).len(), 6);
    machine.flush().expect("flush after polling");
}

// ---- WriteShut, closing --------------------------------------------------------------------

#[test]
fn write_shut_waits_for_fin_ack() {
    let mut machine = closing();
    feed(&mut machine, Event::SendQueue { unacked: 1 }, ms(0));
    assert_step!(machine, State::WriteShut, []);
    assert_eq!(
        machine.stats().unacked,
        Some(1),
        "the FIN alone is in flight"
    );
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(1)),
        "re-query after the minimum interval"
    );
}

#[test]
fn write_shut_moves_to_draining_when_everything_is_acked() {
    let mut machine = awaiting_acks();
    machine.handle_timeout(ms(1));
    assert_step!(machine, State::WriteShut, [Action::QuerySendQueue]);
    feed(&mut machine, Event::SendQueue { unacked: 0 }, ms(1));
    assert_step!(machine, State::Draining, []);
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(5_001)),
        "only the idle timeout is left"
    );
}

#[test]
fn write_shut_refuses_writes() {
    let mut machine = closing();
    assert_eq!(
        machine.handle(Event::Wrote(1), ms(0)),
        Err(Error::WriteAfterShutdown)
    );
}

#[test]
fn write_shut_refuses_every_intent_but_abort() {
    let mut machine = closing();
    let state = State::WriteShut;
    for (intent, result) in [
        (Intent::Cork, machine.cork()),
        (Intent::Uncork, machine.uncork()),
        (Intent::Flush, machine.flush()),
        (Intent::ShutdownWrite, machine.shutdown_write(ms(0))),
        (Intent::Close, machine.close(ms(0))),
    ] {
        assert_eq!(result, Err(Error::NotAllowed { intent, state }));
    }
}

#[test]
fn write_shut_readable_requeries_and_discards() {
    let mut machine = awaiting_acks();
    feed(&mut machine, Event::Readable, ms(0));
    assert_step!(
        machine,
        State::WriteShut,
        [Action::QuerySendQueue, Action::Discard { max_bytes: ROUND }]
    );
}

#[test]
fn write_shut_readable_during_a_round_adds_nothing() {
    let mut machine = closing();
    feed(&mut machine, Event::Readable, ms(0));
    assert_step!(machine, State::WriteShut, []);
}

#[test]
fn write_shut_discarded_bytes_are_counted_and_restart_the_idle_timer() {
    let mut machine = closing();
    feed(&mut machine, Event::Read(700), ms(1_000));
    feed(&mut machine, Event::ReadBlocked, ms(1_000));
    assert_eq!(machine.stats().bytes_discarded, 700);
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(6_000)),
        "idle restarted at 1 s"
    );
}

#[test]
fn write_shut_round_ended_before_it_was_polled_asks_for_nothing() {
    let mut machine = open();
    machine.close(ms(0)).expect("close from Open");
    feed(&mut machine, Event::ReadBlocked, ms(0));
    assert_step!(
        machine,
        State::WriteShut,
        [Action::ShutdownWrite, Action::QuerySendQueue]
    );
}

#[test]
fn write_shut_round_restarted_before_it_was_polled_is_queued_once() {
    let mut machine = open();
    machine.close(ms(0)).expect("close from Open");
    for _ in 0..3 {
        feed(&mut machine, Event::ReadBlocked, ms(0));
        feed(&mut machine, Event::Readable, ms(0));
    }
    assert_step!(
        machine,
        State::WriteShut,
        [
            Action::ShutdownWrite,
            Action::QuerySendQueue,
            Action::Discard { max_bytes: ROUND }
        ]
    );
}

#[test]
fn write_shut_read_beyond_the_allowance_is_refused() {
    let mut machine = closing();
    let refused = machine.handle(Event::Read(ROUND + 1), ms(0));
    assert_eq!(
        refused,
        Err(Error::ReadNotRequested {
            bytes: ROUND + 1,
            allowed: ROUND
        })
    );
}

#[test]
fn write_shut_read_without_a_round_is_refused() {
    let mut machine = awaiting_acks();
    let refused = machine.handle(Event::Read(1), ms(0));
    assert_eq!(
        refused,
        Err(Error::ReadNotRequested {
            bytes: 1,
            allowed: 0
        })
    );
}

#[test]
fn write_shut_spent_allowance_yields_then_resumes() {
    let mut machine = closing();
    feed(&mut machine, Event::Read(ROUND), ms(4));
    assert_step!(machine, State::WriteShut, []);
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(4)),
        "resume at once, after other sockets"
    );
    machine.handle_timeout(ms(4));
    assert_step!(
        machine,
        State::WriteShut,
        [Action::Discard { max_bytes: ROUND }]
    );
}

#[test]
fn write_shut_poll_backs_off_without_progress() {
    let mut machine = awaiting_acks();
    let mut deadlines = vec![];
    let mut now = ms(0);
    for _ in 0..10 {
        now = machine.poll_timeout().expect("poll armed");
        deadlines.push(now.as_micros() / 1_000);
        machine.handle_timeout(now);
        assert_step!(machine, State::WriteShut, [Action::QuerySendQueue]);
        feed(
            &mut machine,
            Event::SendQueue {
                unacked: ALL_UNACKED,
            },
            now,
        );
    }
    assert_eq!(
        deadlines,
        [1, 3, 7, 15, 31, 63, 127, 255, 455, 655],
        "doubling to 200 ms"
    );
    assert!(now < ms(5_000), "the idle timer was not yet due");
}

#[test]
fn write_shut_poll_predicts_the_drain_from_progress() {
    let mut machine = awaiting_acks();
    machine.handle_timeout(ms(1));
    drain(&mut machine);
    // 1001 → 601 in 1 ms: 400 bytes/ms, so the remaining 601 need about 1.5 ms.
    feed(&mut machine, Event::SendQueue { unacked: 601 }, ms(1));
    assert_eq!(machine.poll_timeout(), Some(Instant::from_micros(2_502)));
}

#[test]
fn write_shut_progress_restarts_idle_but_never_the_budget() {
    let policy = Policy::builder()
        .idle_timeout(Duration::from_secs(5))
        .linger_budget(Duration::from_secs(8))
        .build()
        .expect("valid policy");
    let mut machine = awaiting_acks_with(policy, ALL_UNACKED);
    for (second, unacked) in [(4, 900), (7, 500)] {
        let now = ms(second * 1_000);
        feed(&mut machine, Event::Readable, now);
        assert_step!(
            machine,
            State::WriteShut,
            [Action::QuerySendQueue, Action::Discard { max_bytes: ROUND }]
        );
        feed(&mut machine, Event::SendQueue { unacked }, now);
        feed(&mut machine, Event::ReadBlocked, now);
    }
    machine.handle_timeout(ms(7_999));
    drain(&mut machine);
    assert_eq!(machine.state(), State::WriteShut);
    machine.handle_timeout(ms(8_000));
    assert_step!(machine, State::Closed, [Action::Close]);
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::TimedOut { unacked: Some(500) });
    assert_eq!(outcome.elapsed, Duration::from_secs(8));
}

#[test]
fn write_shut_idle_timeout_gives_up_with_unacked_reported() {
    let mut machine = awaiting_acks();
    machine.handle_timeout(ms(5_000));
    assert_step!(machine, State::Closed, [Action::Close]);
    let outcome = outcome(&machine);
    assert_eq!(
        outcome.ending,
        Ending::TimedOut {
            unacked: Some(ALL_UNACKED)
        }
    );
    assert_eq!(outcome.release, Release::Close);
    assert!(!outcome.claims_delivery());
}

#[test]
fn write_shut_spent_budget_aborts_when_the_policy_says_so() {
    let policy = Policy::builder()
        .on_budget_spent(OnBudgetSpent::Abort)
        .build()
        .expect("valid policy");
    let mut machine = awaiting_acks_with(policy, 40);
    machine.handle_timeout(ms(5_000));
    assert_step!(machine, State::Closed, [Action::Abort]);
    assert_eq!(outcome(&machine).release, Release::Abort);
}

#[test]
fn write_shut_spent_budget_with_unread_data_aborts_openly() {
    let mut machine = closing();
    feed(&mut machine, Event::SendQueue { unacked: 9 }, ms(0));
    machine.handle_timeout(ms(5_000));
    assert_step!(machine, State::Closed, [Action::Abort]);
    assert_eq!(
        outcome(&machine).ending,
        Ending::TimedOut { unacked: Some(9) }
    );
}

#[test]
fn write_shut_timeout_without_any_figure_reports_unacked_unknown() {
    let mut machine = closing();
    feed(&mut machine, Event::ReadBlocked, ms(0));
    machine.handle_timeout(ms(5_000));
    assert_eq!(outcome(&machine).ending, Ending::TimedOut { unacked: None });
}

#[test]
fn write_shut_reset_reports_the_last_unacked_figure() {
    let mut machine = awaiting_acks_with(Policy::default(), 300);
    feed(&mut machine, Event::Reset, ms(20));
    assert_step!(machine, State::Closed, [Action::Close]);
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::ResetByPeer { unacked: Some(300) });
    assert_eq!(outcome.elapsed, Duration::from_millis(20));
}

#[test]
fn write_shut_unacked_above_written_plus_fin_is_refused() {
    let mut machine = closing();
    let refused = machine.handle(
        Event::SendQueue {
            unacked: ALL_UNACKED + 1,
        },
        ms(0),
    );
    let error = Error::UnackedExceedsWritten {
        unacked: ALL_UNACKED + 1,
        limit: WRITTEN + 1,
    };
    assert_eq!(refused, Err(error));
}

#[test]
fn adopted_machine_checks_only_that_the_queue_shrinks() {
    let mut machine = CloseMachine::adopt(Policy::default());
    machine.close(ms(0)).expect("close");
    drain(&mut machine);
    feed(&mut machine, Event::SendQueue { unacked: 70_000 }, ms(0));
    assert_eq!(machine.stats().unacked, Some(70_000));
}

#[test]
fn adopted_machine_does_not_claim_to_know_earlier_writes() {
    let mut machine = CloseMachine::adopt(Policy::default());
    feed(&mut machine, Event::Wrote(10), ms(0));
    machine.abort(ms(0)).expect("abort");
    assert_eq!(machine.stats().bytes_written, None);
    assert_eq!(outcome(&machine).bytes_written, None);
    assert!(
        std::format!("{}", outcome(&machine)).contains("not counted"),
        "{}",
        outcome(&machine)
    );
}

#[test]
fn adopted_machine_with_the_kernels_figure_counts_on_from_it() {
    let mut machine = CloseMachine::adopt_written(Policy::default(), 3 << 20);
    feed(&mut machine, Event::Wrote(10), ms(0));
    machine.close(ms(0)).expect("close");
    drain(&mut machine);
    // The kernel's figure is an observation, not the machine's own count: no bound check.
    feed(&mut machine, Event::SendQueue { unacked: 4 << 20 }, ms(0));
    machine.abort(ms(1)).expect("abort");
    assert_eq!(outcome(&machine).bytes_written, Some((3 << 20) + 10));
}

#[test]
fn write_shut_growing_send_queue_is_refused() {
    let mut machine = awaiting_acks_with(Policy::default(), 10);
    machine.handle_timeout(ms(1));
    drain(&mut machine);
    let refused = machine.handle(Event::SendQueue { unacked: 11 }, ms(1));
    assert_eq!(
        refused,
        Err(Error::UnackedGrew {
            previous: 10,
            unacked: 11
        })
    );
}

#[test]
fn write_shut_peer_eof_still_waits_for_acks() {
    let mut machine = awaiting_acks();
    feed(&mut machine, Event::Readable, ms(1));
    drain(&mut machine);
    feed(&mut machine, Event::PeerEof, ms(1));
    assert_step!(machine, State::WriteShut, []);
    feed(&mut machine, Event::SendQueue { unacked: 0 }, ms(2));
    assert_step!(machine, State::Closed, [Action::Close]);
    assert_eq!(outcome(&machine).ending, Ending::Clean);
}

#[test]
fn write_shut_without_ack_visibility_closes_on_peer_eof_as_unknown() {
    let mut machine = closing();
    feed(&mut machine, Event::AcksUnobservable, ms(0));
    feed(&mut machine, Event::PeerEof, ms(9));
    assert_step!(machine, State::Closed, [Action::Close]);
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::Unknown { peer_eof: true });
    assert!(!outcome.claims_delivery(), "unknown is never delivered");
}

#[test]
fn write_shut_data_acked_without_the_fin_drains_then_ends_data_acked_on_peer_eof() {
    let mut machine = closing();
    feed(&mut machine, Event::DataAcked, ms(1));
    assert_step!(machine, State::Draining, []);
    assert_eq!(
        machine.stats().unacked,
        None,
        "the FIN's fate is not a figure"
    );
    feed(&mut machine, Event::PeerEof, ms(2));
    assert_step!(machine, State::Closed, [Action::Close]);
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::DataAcked { peer_eof: true });
    assert_eq!(outcome.ending.unacked(), None);
    assert!(
        !outcome.claims_delivery(),
        "the FIN was not seen acknowledged"
    );
}

#[test]
fn write_shut_data_acked_with_the_peer_still_open_times_out_data_acked() {
    let mut machine = closing();
    feed(&mut machine, Event::DataAcked, ms(0));
    feed(&mut machine, Event::ReadBlocked, ms(0));
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(5_000)),
        "nothing left to poll"
    );
    machine.handle_timeout(ms(5_000));
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::DataAcked { peer_eof: false });
    assert_eq!(outcome.release, Release::Close);
}

#[test]
fn write_shut_data_acked_is_progress_and_restarts_the_idle_timer() {
    let mut machine = closing();
    feed(&mut machine, Event::DataAcked, ms(1_000));
    feed(&mut machine, Event::ReadBlocked, ms(1_000));
    assert_eq!(machine.poll_timeout(), Some(ms(6_000)), "idle from 1 s on");
}

#[test]
fn data_acked_answers_only_a_query() {
    let mut machine = open();
    let refused = machine.handle(Event::DataAcked, ms(0));
    assert_eq!(refused, Err(Error::UnsolicitedSendQueue));
}

#[test]
fn write_shut_without_ack_visibility_times_out_as_unknown() {
    let mut machine = closing();
    feed(&mut machine, Event::AcksUnobservable, ms(0));
    feed(&mut machine, Event::ReadBlocked, ms(0));
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(5_000)),
        "no polling without acks"
    );
    machine.handle_timeout(ms(5_000));
    assert_eq!(
        outcome(&machine).ending,
        Ending::Unknown { peer_eof: false }
    );
}

#[test]
fn write_shut_discard_cap_stops_reading_then_aborts_once_acked() {
    let policy = Policy::builder()
        .discard_cap(100)
        .build()
        .expect("valid policy");
    let mut machine = closing_with(policy);
    assert_eq!(machine.poll_timeout(), Some(ms(5_000)));
    feed(&mut machine, Event::SendQueue { unacked: 50 }, ms(0));
    feed(&mut machine, Event::Read(100), ms(1));
    assert_step!(machine, State::WriteShut, []);
    feed(&mut machine, Event::Readable, ms(2));
    assert_step!(machine, State::WriteShut, [Action::QuerySendQueue]);
    feed(&mut machine, Event::SendQueue { unacked: 0 }, ms(2));
    assert_step!(machine, State::Closed, [Action::Abort]);
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::AckedPeerOpen);
    assert_eq!(outcome.release, Release::Abort);
    assert_eq!(outcome.bytes_discarded, 100);
    assert!(!outcome.claims_delivery(), "a reset followed the acks");
}

#[test]
fn write_shut_last_round_reads_only_what_is_left_of_the_cap() {
    let policy = Policy::builder()
        .discard_cap(100)
        .reads_per_wakeup(60)
        .build()
        .expect("valid policy");
    let mut machine = closing_with(policy);
    feed(&mut machine, Event::Read(60), ms(1));
    machine.handle_timeout(ms(1));
    assert_step!(
        machine,
        State::WriteShut,
        [Action::Discard { max_bytes: 40 }]
    );
    feed(&mut machine, Event::Read(40), ms(1));
    assert_eq!(machine.stats().bytes_discarded, 100);
    assert!(!machine.wants_read());
}

#[test]
fn write_shut_reaching_the_cap_leaves_no_resume_timer() {
    let policy = Policy::builder()
        .discard_cap(100)
        .build()
        .expect("valid policy");
    let mut machine = closing_with(policy);
    feed(&mut machine, Event::Read(100), ms(1));
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(5_001)),
        "nothing is left to resume: the next deadline is the idle timeout"
    );
}

#[test]
fn write_shut_peer_eof_is_progress_and_restarts_the_idle_timer() {
    let policy = Policy::builder()
        .poll_interval(Duration::from_secs(10), Duration::from_secs(10))
        .build()
        .expect("valid policy");
    let mut machine = awaiting_acks_with(policy, ALL_UNACKED);
    feed(&mut machine, Event::Readable, ms(1_000));
    drain(&mut machine);
    feed(&mut machine, Event::PeerEof, ms(1_000));
    feed(
        &mut machine,
        Event::SendQueue {
            unacked: ALL_UNACKED,
        },
        ms(1_000),
    );
    assert_eq!(machine.state(), State::WriteShut, "still waiting for acks");
    assert_eq!(machine.poll_timeout(), Some(ms(6_000)), "idle from 1 s on");
}

#[test]
fn write_shut_shortened_budget_pulls_the_deadline_in() {
    let mut machine = awaiting_acks();
    machine
        .shorten_budget(ms(1_000), Duration::from_secs(2))
        .expect("shorten");
    assert_step!(machine, State::WriteShut, []);
    machine.handle_timeout(ms(2_999));
    drain(&mut machine);
    assert_eq!(machine.state(), State::WriteShut);
    machine.handle_timeout(ms(3_000));
    assert_step!(machine, State::Closed, [Action::Close]);
    assert_eq!(
        outcome(&machine).ending,
        Ending::TimedOut {
            unacked: Some(ALL_UNACKED)
        }
    );
}

#[test]
fn shortened_budget_never_grows() {
    let mut machine = draining();
    machine
        .shorten_budget(ms(0), Duration::from_secs(60))
        .expect("shorten");
    assert_eq!(machine.poll_timeout(), Some(ms(5_000)));
}

#[test]
fn shorten_budget_before_close_is_refused() {
    let budget = Duration::from_secs(2);
    let intent = Intent::ShortenBudget(budget);
    let mut machine = open();
    assert_eq!(
        machine.shorten_budget(ms(0), budget),
        Err(Error::NotAllowed {
            intent,
            state: State::Open
        })
    );
    let mut machine = half_closed();
    assert_eq!(
        machine.shorten_budget(ms(0), budget),
        Err(Error::NotAllowed {
            intent,
            state: State::WriteShut
        })
    );
}

#[test]
fn wants_read_only_while_lingering_before_eof_and_below_the_cap() {
    assert!(!open().wants_read(), "reads belong to the application");
    assert!(
        !half_closed().wants_read(),
        "reads belong to the application"
    );
    let mut machine = awaiting_acks();
    assert!(machine.wants_read());
    feed(&mut machine, Event::Readable, ms(0));
    drain(&mut machine);
    feed(&mut machine, Event::PeerEof, ms(0));
    assert!(
        !machine.wants_read(),
        "after EOF there is nothing left to read"
    );
    let policy = Policy::builder()
        .discard_cap(10)
        .build()
        .expect("valid policy");
    let mut machine = closing_with(policy);
    feed(&mut machine, Event::Read(10), ms(0));
    assert!(!machine.wants_read(), "the discard cap is reached");
}

// ---- Draining ------------------------------------------------------------------------------

#[test]
fn draining_peer_eof_closes_cleanly() {
    let mut machine = draining();
    feed(&mut machine, Event::Readable, ms(30));
    assert_step!(
        machine,
        State::Draining,
        [Action::Discard { max_bytes: ROUND }]
    );
    feed(&mut machine, Event::PeerEof, ms(30));
    assert_step!(machine, State::Closed, [Action::Close]);
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::Clean);
    assert!(outcome.claims_delivery());
    assert_eq!(outcome.elapsed, Duration::from_millis(30));
}

#[test]
fn draining_without_waiting_for_eof_closes_once_reads_are_drained() {
    let policy = Policy::builder()
        .wait_for_peer_eof(false)
        .build()
        .expect("valid policy");
    let mut machine = closing_with(policy);
    feed(&mut machine, Event::SendQueue { unacked: 0 }, ms(1));
    assert_step!(machine, State::Draining, []);
    feed(&mut machine, Event::ReadBlocked, ms(1));
    assert_step!(machine, State::Closed, [Action::Close]);
    assert_eq!(outcome(&machine).ending, Ending::AckedPeerOpen);
    assert!(outcome(&machine).claims_delivery());
}

#[test]
fn draining_spent_budget_closes_acked_with_peer_open() {
    let mut machine = draining();
    machine.handle_timeout(ms(5_000));
    assert_step!(machine, State::Closed, [Action::Close]);
    assert_eq!(outcome(&machine).ending, Ending::AckedPeerOpen);
}

#[test]
fn half_closed_refuses_writes_and_reads_after_eof() {
    let mut machine = half_closed_after_eof();
    assert_eq!(
        machine.handle(Event::Read(5), ms(0)),
        Err(Error::ReadAfterEof)
    );
    assert_eq!(
        machine.handle(Event::Wrote(5), ms(0)),
        Err(Error::WriteAfterShutdown)
    );
}

// ---- half-close ----------------------------------------------------------------------------

#[test]
fn half_closed_reads_belong_to_the_application() {
    let mut machine = half_closed();
    feed(&mut machine, Event::Read(1 << 20), ms(0));
    assert_eq!(machine.stats().bytes_discarded, 0);
    assert_step!(machine, State::WriteShut, []);
}

#[test]
fn half_closed_watches_no_acks_until_close() {
    let mut machine = half_closed();
    feed(&mut machine, Event::Readable, ms(3));
    assert_step!(machine, State::WriteShut, []);
    assert_eq!(machine.poll_timeout(), None);
    assert_eq!(
        machine.handle(Event::SendQueue { unacked: 0 }, ms(3)),
        Err(Error::UnsolicitedSendQueue)
    );
}

#[test]
fn half_closed_close_starts_lingering() {
    let mut machine = half_closed();
    machine.close(ms(10)).expect("close");
    assert_step!(
        machine,
        State::WriteShut,
        [Action::QuerySendQueue, Action::Discard { max_bytes: ROUND }]
    );
    assert!(machine.is_lingering());
    assert_eq!(machine.poll_timeout(), Some(ms(5_010)));
}

#[test]
fn half_closed_close_after_eof_costs_one_query() {
    let mut machine = half_closed_after_eof();
    machine.close(ms(6)).expect("close");
    assert_step!(machine, State::WriteShut, [Action::QuerySendQueue]);
    feed(&mut machine, Event::SendQueue { unacked: 0 }, ms(6));
    assert_step!(machine, State::Closed, [Action::Close]);
    assert_eq!(outcome(&machine).ending, Ending::Clean);
    assert_eq!(outcome(&machine).elapsed, Duration::ZERO);
}

// ---- Closed and every state ----------------------------------------------------------------

#[test]
fn closed_refuses_every_input() {
    let mut machine = closed();
    let before = machine.clone();
    assert_eq!(machine.cork(), Err(Error::Closed));
    assert_eq!(machine.close(ms(9)), Err(Error::Closed));
    assert_eq!(machine.abort(ms(9)), Err(Error::Closed));
    assert_eq!(machine.handle(Event::Readable, ms(9)), Err(Error::Closed));
    assert_eq!(machine.handle(Event::Reset, ms(9)), Err(Error::Closed));
    machine.handle_timeout(Instant::MAX);
    assert_eq!(machine, before);
    assert_eq!(machine.poll_action(), None);
    assert_eq!(machine.poll_timeout(), None);
}

#[test]
fn abort_while_lingering_reports_how_long_the_close_took() {
    let mut machine = awaiting_acks_with(Policy::default(), 77);
    machine.abort(ms(1_500)).expect("abort");
    assert_step!(machine, State::Closed, [Action::Abort]);
    let outcome = outcome(&machine);
    assert_eq!(outcome.ending, Ending::Aborted { unacked: Some(77) });
    assert_eq!(outcome.elapsed, Duration::from_millis(1_500));
}

#[test]
fn read_of_zero_bytes_is_refused_in_every_state() {
    for mut machine in [open(), corked(), half_closed(), closing(), draining()] {
        assert_eq!(machine.handle(Event::Read(0), ms(0)), Err(Error::EmptyRead));
    }
}

#[test]
fn handle_timeout_before_a_deadline_does_nothing() {
    let mut machine = awaiting_acks();
    let before = machine.clone();
    machine.handle_timeout(ms(0));
    assert_eq!(machine, before);
}

#[test]
fn every_announced_deadline_has_work() {
    for mut machine in [closing(), awaiting_acks(), draining()] {
        let before = machine.clone();
        let deadline = machine
            .poll_timeout()
            .expect("a timer runs while lingering");
        machine.handle_timeout(deadline);
        assert_ne!(machine, before, "nothing happened at {deadline}");
    }
}
