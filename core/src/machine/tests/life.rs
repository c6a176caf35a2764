//! The life before the close: what the application's reads and writes say a connection is
//! doing, and the guards that end one that never finishes a request.

use super::helpers::*;
use crate::{
    Action, Activity, CloseMachine, Error, Event, Guard, Instant, MinRate, Policy, Release, State,
};
use core::time::Duration;
use std::vec;

fn activity(machine: &CloseMachine) -> Option<Activity> {
    machine.life().map(|life| life.activity)
}

/// Fires every deadline up to `until`, in order; the instants they fired at.
fn run_until(machine: &mut CloseMachine, until: Instant) -> std::vec::Vec<Instant> {
    let mut fired = vec![];
    while let Some(at) = machine.poll_timeout().filter(|&at| at <= until) {
        machine.handle_timeout(at);
        fired.push(at);
    }
    fired
}

fn rate() -> MinRate {
    Policy::DEFAULT_MIN_RECEIVE_RATE
}

/// A guard's close: the lingering close's first actions, from `Open`.
const GUARDS_CLOSE: [Action; 3] = [
    Action::ShutdownWrite,
    Action::QuerySendQueue,
    Action::Discard { max_bytes: ROUND },
];

#[test]
fn a_machine_made_by_new_has_no_life_and_no_guard() {
    let mut machine = open();
    assert_eq!(machine.life(), None);
    feed(&mut machine, Event::ReadPending, ms(0));
    assert_eq!(machine.poll_timeout(), None);
}

#[test]
fn a_connection_that_sends_nothing_is_ended_at_the_first_byte_timeout() {
    let mut machine = accepted();
    assert_eq!(activity(&machine), Some(Activity::AwaitingFirstByte));
    let deadline = ms(0) + Policy::DEFAULT_FIRST_BYTE_TIMEOUT;
    assert_eq!(machine.poll_timeout(), Some(deadline));
    machine.handle_timeout(deadline);
    assert_eq!(machine.ended_by(), Some(Guard::FirstByte));
    assert_eq!(machine.state(), State::WriteShut);
    assert!(machine.is_lingering());
    assert_eq!(machine.life(), None, "its close has begun");
    assert_eq!(drain(&mut machine), GUARDS_CLOSE);
}

#[test]
fn the_first_byte_starts_a_request_and_disarms_the_first_byte_guard() {
    let mut machine = receiving();
    let life = machine.life().expect("live");
    assert_eq!((life.activity, life.received), (Activity::Receiving, 100));
    assert_eq!(machine.poll_timeout(), Some(ms(0) + rate().grace));
    assert_eq!(drain(&mut machine), []);
}

#[test]
fn a_request_at_the_minimum_pace_is_never_cut() {
    let mut machine = receiving();
    // 500 bytes a second, for ten times the grace: each second's bytes buy the next.
    let mut now = ms(0);
    for _ in 0..200 {
        now = now + Duration::from_secs(1);
        feed(&mut machine, Event::Read(rate().bytes_per_second), now);
        feed(&mut machine, Event::ReadPending, now);
        assert_eq!(activity(&machine), Some(Activity::Receiving));
    }
    assert_eq!(machine.ended_by(), None);
}

#[test]
fn a_request_slower_than_the_minimum_pace_is_ended_when_its_next_bytes_arrive_past_its_credit() {
    let mut machine = receiving();
    // One byte every 5 s (a slowloris): within the grace, nothing is judged.
    let mut now = ms(0);
    while now + Duration::from_secs(5) <= ms(0) + rate().grace {
        now = now + Duration::from_secs(5);
        feed(&mut machine, Event::Read(1), now);
        feed(&mut machine, Event::ReadPending, now);
        assert_eq!(activity(&machine), Some(Activity::Receiving), "at {now}");
    }
    // The next byte arrives past the grace and what 104 bytes buy at 500 B/s: too slow.
    now = now + Duration::from_secs(5);
    feed(&mut machine, Event::Read(1), now);
    assert_eq!(machine.ended_by(), Some(Guard::Pace));
    assert_eq!(drain(&mut machine), GUARDS_CLOSE);
    assert_eq!(
        machine.stats().bytes_discarded,
        0,
        "the application read what came"
    );
}

#[test]
fn a_handler_reading_a_body_at_its_own_pace_is_not_taken_for_a_slow_peer() {
    let mut machine = accepted();
    feed(&mut machine, Event::Read(1000), ms(0));
    // The body is there; the application takes a byte now and then, never waiting for one.
    for second in 1..=120 {
        feed(&mut machine, Event::Read(1), ms(second * 1000));
    }
    assert_eq!(activity(&machine), Some(Activity::Receiving));
    assert_eq!(machine.ended_by(), None);
    let life = machine.life().expect("live");
    assert_eq!(
        life.peer_time,
        Duration::ZERO,
        "the peer was never waited for"
    );
    assert!(!life.below(rate()));
}

#[test]
fn a_peer_quiet_for_the_grace_has_said_its_request_and_no_guard_cuts_the_work_on_it() {
    let mut machine = working();
    let life = machine.life().expect("live");
    assert_eq!(life.activity, Activity::Working);
    assert_eq!(life.since, ms(0) + rate().grace);
    // A handler may take any time: nothing is armed.
    assert_eq!(machine.poll_timeout(), None);
    assert_eq!(machine.ended_by(), None);
    // Its answer, an hour later, is written as any other; the application's read stays
    // pending, so the answer out, it waits for the next request.
    feed(&mut machine, Event::Wrote(10), ms(3_600_000));
    assert_eq!(activity(&machine), Some(Activity::Idle));
}

#[test]
fn an_answer_written_while_the_read_stays_pending_is_idle_at_once() {
    let mut machine = receiving();
    feed(&mut machine, Event::Wrote(WRITTEN), ms(4));
    let life = machine.life().expect("live");
    assert_eq!((life.activity, life.since), (Activity::Idle, ms(4)));
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(4) + Policy::DEFAULT_KEEP_ALIVE_TIMEOUT)
    );
}

#[test]
fn bytes_after_a_quiet_grace_start_a_new_request_that_no_guard_ends_but_pressure_ranks_slow() {
    let mut machine = working();
    let later = ms(60_000);
    feed(&mut machine, Event::Read(30), later);
    let life = machine.life().expect("live");
    assert_eq!((life.activity, life.since), (Activity::Receiving, later));
    assert_eq!(machine.ended_by(), None, "a new request, its own grace");
    // Unanswered since the accept: 130 bytes over the 60 s the peer took.
    assert_eq!(
        (life.received, life.peer_time),
        (130, Duration::from_secs(60))
    );
    assert!(life.below(rate()));
    assert_eq!(life.pace(), Some(2));
}

#[test]
fn our_answer_settles_what_the_peer_sent() {
    let mut machine = receiving();
    feed(&mut machine, Event::Read(1), ms(5_000));
    feed(&mut machine, Event::Wrote(10), ms(5_000));
    let life = machine.life().expect("live");
    assert_eq!((life.received, life.peer_time), (0, Duration::ZERO));
    assert!(!life.below(rate()));
}

#[test]
fn the_peers_eof_ends_a_request_and_leaves_the_application_to_decide() {
    let mut machine = receiving();
    feed(&mut machine, Event::PeerEof, ms(5));
    assert_eq!(activity(&machine), Some(Activity::Working));
    assert_eq!(machine.poll_timeout(), None);
}

#[test]
fn an_answer_then_a_wait_to_read_is_idle_until_the_keep_alive_timeout() {
    let mut machine = responding();
    assert_eq!(activity(&machine), Some(Activity::Responding));
    assert_eq!(machine.poll_timeout(), None, "writing at its own pace");
    feed(&mut machine, Event::ReadPending, ms(2));
    assert_eq!(activity(&machine), Some(Activity::Idle));
    let deadline = ms(2) + Policy::DEFAULT_KEEP_ALIVE_TIMEOUT;
    assert_eq!(run_until(&mut machine, deadline), [deadline]);
    assert_eq!(machine.ended_by(), Some(Guard::KeepAlive));
    assert_eq!(drain(&mut machine), GUARDS_CLOSE);
}

#[test]
fn a_streamed_answer_a_line_every_few_seconds_is_never_cut() {
    let mut machine = idle();
    for second in (5..600).step_by(5) {
        let now = ms(second * 1000);
        assert_eq!(run_until(&mut machine, now), []);
        feed(&mut machine, Event::Wrote(40), now);
        feed(&mut machine, Event::ReadPending, now);
    }
    assert_eq!(machine.ended_by(), None);
}

#[test]
fn a_write_held_back_without_progress_ends_at_the_send_timeout_and_progress_restarts_it() {
    let mut machine = write_blocked();
    let life = machine.life().expect("live");
    assert!(life.write_blocked);
    // The peer reads a little at 30 s: the write moves, then waits again.
    feed(&mut machine, Event::Wrote(1000), ms(30_000));
    feed(&mut machine, Event::WritePending, ms(30_000));
    feed(&mut machine, Event::ReadPending, ms(30_000));
    assert_eq!(
        activity(&machine),
        Some(Activity::Responding),
        "not idle while blocked"
    );
    let deadline = ms(30_000) + Policy::DEFAULT_SEND_TIMEOUT;
    assert_eq!(run_until(&mut machine, deadline), [deadline]);
    assert_eq!(machine.ended_by(), Some(Guard::Send));
}

#[test]
fn the_peer_sending_while_our_write_waits_is_still_a_response() {
    let mut machine = write_blocked();
    feed(&mut machine, Event::Read(100), ms(1));
    assert_eq!(activity(&machine), Some(Activity::Responding));
}

#[test]
fn a_guard_ends_with_a_lingering_close_that_drains_before_it_releases() {
    let mut machine = accepted();
    let deadline = machine.poll_timeout().expect("first byte");
    machine.handle_timeout(deadline);
    drain(&mut machine);
    // The peer sends just then: the close discards it, never a plain close over it.
    feed(&mut machine, Event::SendQueue { unacked: 0 }, deadline);
    feed(&mut machine, Event::Read(100), deadline);
    assert_eq!(machine.state(), State::Draining);
    assert_eq!(
        drain(&mut machine),
        [],
        "no release while its read is unfinished"
    );
    feed(&mut machine, Event::ReadBlocked, deadline);
    feed(&mut machine, Event::PeerEof, deadline);
    let outcome = machine.outcome().expect("closed");
    assert_eq!(
        (outcome.release, outcome.bytes_discarded),
        (Release::Close, 100)
    );
    assert!(outcome.claims_delivery());
    assert_eq!(machine.ended_by(), Some(Guard::FirstByte));
}

#[test]
fn close_ends_the_life_and_disarms_its_guard() {
    let mut machine = idle();
    machine.close(ms(3)).expect("close");
    assert_eq!(machine.life(), None);
    assert_eq!(machine.ended_by(), None, "the application closed it");
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(3) + Policy::DEFAULT_IDLE_TIMEOUT),
        "the linger's timers, not the keep-alive guard"
    );
}

#[test]
fn an_unguarded_policy_follows_the_life_but_never_ends_it() {
    let mut machine = accepted_with(Policy::default().unguarded());
    assert_eq!(machine.poll_timeout(), None);
    feed(&mut machine, Event::Read(1), ms(0));
    feed(&mut machine, Event::Read(1), ms(3_600_000));
    assert_eq!(activity(&machine), Some(Activity::Receiving));
    feed(&mut machine, Event::Wrote(1), ms(3_600_000));
    feed(&mut machine, Event::ReadPending, ms(3_600_000));
    assert_eq!(activity(&machine), Some(Activity::Idle));
    assert_eq!(machine.poll_timeout(), None);
}

#[test]
fn a_wait_to_write_after_the_write_side_is_shut_is_refused() {
    let mut machine = idle();
    machine.shutdown_write(ms(1)).expect("half-close");
    drain(&mut machine);
    assert_eq!(
        machine.handle(Event::WritePending, ms(1)),
        Err(Error::WriteAfterShutdown)
    );
}

#[test]
fn a_request_arrives_below_a_rate_only_if_its_bytes_came_slower_than_they_buy() {
    let mut burst = receiving();
    let long_after = ms(60_000);
    feed(&mut burst, Event::ReadPending, long_after);
    let life = burst.life().expect("live");
    assert!(!life.below(rate()), "one burst, however long ago");
    assert_eq!(life.pace(), None);
    let mut trickle = receiving();
    feed(&mut trickle, Event::Read(1), ms(5_000));
    let life = trickle.life().expect("live");
    assert!(life.below(rate()));
    assert_eq!(life.pace(), Some(20), "101 bytes over 5 s");
}

#[test]
fn a_guard_whose_close_finds_no_room_resets_rather_than_waits() {
    let mut machine = accepted_with(policy_with(crate::NagleMode::CorkWhileAssembling));
    // The driver never polls: five actions wait, no room for the close's four.
    for _ in 0..2 {
        machine.flush().expect("flush while corked");
    }
    machine.uncork().expect("uncork");
    let deadline = machine.poll_timeout().expect("the first-byte guard");
    machine.handle_timeout(deadline);
    assert_eq!(machine.ended_by(), Some(Guard::FirstByte));
    assert_eq!(drain(&mut machine), [Action::Abort]);
    assert_eq!(machine.outcome().map(|o| o.release), Some(Release::Abort));
}

#[test]
fn the_wait_before_a_new_request_is_not_the_peers() {
    let mut machine = idle();
    feed(&mut machine, Event::Read(100), ms(60_000));
    let life = machine.life().expect("live");
    assert_eq!((life.received, life.peer_time), (100, Duration::ZERO));
    assert!(!life.below(rate()));
}

#[test]
fn bytes_arriving_on_the_credit_deadline_are_in_time_and_a_moment_later_are_not() {
    // 100 bytes at 0, the application waiting since: the credit ends at the grace and
    // 100 bytes at 500 B/s, 20.2 s.
    let deadline = ms(0) + rate().grace + Duration::from_millis(200);
    let mut on_time = receiving();
    feed(&mut on_time, Event::Read(1), deadline);
    assert_eq!(on_time.ended_by(), None);
    let mut late = receiving();
    feed(
        &mut late,
        Event::Read(1),
        deadline + Duration::from_micros(1),
    );
    assert_eq!(late.ended_by(), Some(Guard::Pace));
}

#[test]
fn after_the_peers_eof_an_answer_is_a_response_not_an_idle_wait() {
    let mut machine = receiving();
    feed(&mut machine, Event::PeerEof, ms(1));
    feed(&mut machine, Event::Wrote(WRITTEN), ms(2));
    assert_eq!(activity(&machine), Some(Activity::Responding));
    assert_eq!(
        machine.poll_timeout(),
        None,
        "no keep-alive guard: nothing more will come"
    );
}

#[test]
fn a_write_still_held_back_keeps_its_first_deadline() {
    let mut machine = write_blocked();
    // The application asks again, and again the buffer has no room.
    feed(&mut machine, Event::WritePending, ms(30_000));
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(0) + Policy::DEFAULT_SEND_TIMEOUT)
    );
}

#[test]
fn a_close_begun_before_the_first_byte_is_left_to_its_own_timers() {
    let patient = Policy::builder()
        .linger_budget(Duration::from_secs(60))
        .idle_timeout(Duration::from_secs(60))
        .build()
        .expect("valid policy");
    let mut machine = accepted_with(patient);
    machine.close(ms(0)).expect("close");
    drain(&mut machine);
    feed(&mut machine, Event::SendQueue { unacked: 0 }, ms(0));
    feed(&mut machine, Event::ReadBlocked, ms(0));
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(60_000)),
        "not the first-byte guard's 20 s"
    );
}

#[test]
fn a_request_held_is_never_idle_until_it_is_answered() {
    let mut machine = receiving();
    machine.hold(ms(1)).expect("hold");
    // Its answer's head, written while the application's read stays pending.
    feed(&mut machine, Event::Wrote(100), ms(2));
    assert_eq!(activity(&machine), Some(Activity::Responding));
    assert_eq!(
        machine.poll_timeout(),
        None,
        "no keep-alive guard while it is held"
    );
    machine.answered(ms(600_000)).expect("answered");
    let life = machine.life().expect("live");
    assert_eq!((life.activity, life.since), (Activity::Idle, ms(600_000)));
    assert_eq!(
        machine.poll_timeout(),
        Some(ms(600_000) + Policy::DEFAULT_KEEP_ALIVE_TIMEOUT)
    );
}

#[test]
fn two_requests_held_stay_working_until_both_are_answered() {
    let mut machine = idle();
    machine.hold(ms(1)).expect("the first stream");
    machine.hold(ms(1)).expect("the second stream");
    feed(&mut machine, Event::Wrote(100), ms(2));
    machine.answered(ms(3)).expect("the first answered");
    assert_eq!(activity(&machine), Some(Activity::Responding));
    machine.answered(ms(4)).expect("the second answered");
    assert_eq!(activity(&machine), Some(Activity::Idle));
}

#[test]
fn a_held_request_whose_body_trickles_is_ended_for_its_pace() {
    let mut machine = receiving();
    machine.hold(ms(0)).expect("hold");
    let mut now = ms(0);
    while machine.ended_by().is_none() && now < ms(60_000) {
        now = now + Duration::from_secs(5);
        feed(&mut machine, Event::Read(1), now);
        if machine.ended_by().is_none() {
            feed(&mut machine, Event::ReadPending, now);
        }
    }
    assert_eq!(machine.ended_by(), Some(Guard::Pace));
}

#[test]
fn an_answer_without_a_request_held_is_refused_and_changes_nothing() {
    let mut machine = idle();
    let before = machine.clone();
    assert_eq!(machine.answered(ms(1)), Err(Error::NotHeld));
    assert_eq!(machine, before);
}

#[test]
fn an_upgraded_connection_is_guarded_only_against_a_write_left_unread() {
    let mut machine = idle();
    machine.upgrade(ms(1)).expect("upgrade");
    assert_eq!(activity(&machine), Some(Activity::Upgraded));
    assert_eq!(
        machine.poll_timeout(),
        None,
        "quiet for as long as it likes"
    );
    // The peer's messages, far apart and small: another protocol's, not a trickled request.
    for second in 1..10 {
        feed(&mut machine, Event::Read(1), ms(second * 15_000));
        feed(&mut machine, Event::ReadPending, ms(second * 15_000));
    }
    assert_eq!(machine.ended_by(), None);
    feed(&mut machine, Event::WritePending, ms(200_000));
    let held_back = ms(200_000) + Policy::DEFAULT_SEND_TIMEOUT;
    assert_eq!(machine.poll_timeout(), Some(held_back));
    feed(&mut machine, Event::WritePending, ms(230_000));
    assert_eq!(
        machine.poll_timeout(),
        Some(held_back),
        "still the first wait's"
    );
    machine
        .hold(ms(200_001))
        .expect("requests mean nothing now");
    assert_eq!(activity(&machine), Some(Activity::Upgraded));
    machine.handle_timeout(held_back);
    assert_eq!(machine.ended_by(), Some(Guard::Send));
}

#[test]
fn what_the_application_says_changes_nothing_without_a_life_or_once_closing() {
    let mut unwatched = open();
    let before = unwatched.clone();
    unwatched.hold(ms(0)).expect("nothing to hold");
    unwatched.upgrade(ms(0)).expect("nothing to upgrade");
    unwatched.answered(ms(0)).expect("nothing to answer");
    unwatched
        .holds_requests(ms(0))
        .expect("nothing to hold from now on");
    assert_eq!(unwatched, before);
    let mut closing = idle();
    closing.close(ms(1)).expect("close");
    let before = closing.clone();
    closing.hold(ms(2)).expect("the close has begun");
    assert_eq!(closing, before);
    let mut closed = closed();
    assert_eq!(closed.hold(ms(3)), Err(Error::Closed));
}

#[test]
fn a_request_still_arriving_is_ended_when_its_credit_runs_out_however_quiet_its_peer() {
    let mut machine = arriving();
    let life = machine.life().expect("live");
    assert!(life.arriving, "{life:?}");
    // The grace, what its 100 bytes bought, and a microsecond: the first instant past it.
    let credit = rate().grace + rate().allows(100);
    let deadline = ms(0) + credit + Duration::from_micros(1);
    assert_eq!(machine.poll_timeout(), Some(deadline));
    assert_eq!(run_until(&mut machine, deadline), [deadline]);
    assert_eq!(machine.ended_by(), Some(Guard::Pace));
    assert_eq!(drain(&mut machine), GUARDS_CLOSE);
}

#[test]
fn a_byte_of_a_request_arriving_at_the_last_instant_of_its_credit_is_in_time() {
    let mut machine = arriving();
    let credit = rate().grace + rate().allows(100);
    let last = ms(0) + credit;
    feed(&mut machine, Event::Read(1), last);
    assert_eq!(machine.ended_by(), None);
    feed(&mut machine, Event::ReadPending, last);
    // What is left of the credit: what the one byte bought, counted from now.
    let bought = rate().allows(101) - rate().allows(100);
    let deadline = last + bought + Duration::from_micros(1);
    assert_eq!(machine.poll_timeout(), Some(deadline));
    assert_eq!(run_until(&mut machine, deadline), [deadline]);
    assert_eq!(machine.ended_by(), Some(Guard::Pace));
}

#[test]
fn a_request_held_is_no_longer_arriving_and_its_quiet_peer_is_not_cut() {
    let mut machine = arriving();
    machine.hold(ms(1)).expect("hold");
    assert!(!machine.life().expect("live").arriving);
    let quiet = ms(0) + rate().grace;
    assert_eq!(machine.poll_timeout(), Some(quiet), "the grace, then work");
    run_until(&mut machine, ms(3_600_000));
    assert_eq!(activity(&machine), Some(Activity::Working));
    assert_eq!(machine.ended_by(), None);
}

#[test]
fn after_its_answer_the_next_request_is_arriving_until_held() {
    let mut machine = arriving();
    machine.hold(ms(1)).expect("hold");
    feed(&mut machine, Event::Wrote(WRITTEN), ms(2));
    machine.answered(ms(2)).expect("answered");
    assert_eq!(activity(&machine), Some(Activity::Idle));
    feed(&mut machine, Event::Read(10), ms(3));
    feed(&mut machine, Event::ReadPending, ms(3));
    let life = machine.life().expect("live");
    assert_eq!(life.activity, Activity::Receiving);
    assert!(life.arriving);
    machine.hold(ms(4)).expect("hold");
    assert!(!machine.life().expect("live").arriving);
}

#[test]
fn a_handshake_written_before_the_first_request_leaves_it_arriving_not_idle() {
    // A TLS server: the client's hello read, the server's flight written, the client's last
    // flight and request awaited.
    let mut machine = arriving();
    feed(&mut machine, Event::Wrote(WRITTEN), ms(1));
    let life = machine.life().expect("live");
    assert_eq!(life.activity, Activity::Receiving);
    assert!(life.arriving, "{life:?}");
    assert_eq!(life.received, 100, "the hello still counts");
    // Its credit runs out as a request's does: a handshake that stops short is ended.
    let deadline = ms(0) + rate().grace + rate().allows(100) + Duration::from_micros(1);
    assert_eq!(machine.poll_timeout(), Some(deadline));
    assert_eq!(run_until(&mut machine, deadline), [deadline]);
    assert_eq!(machine.ended_by(), Some(Guard::Pace));
}

#[test]
fn a_greeting_written_before_the_first_byte_leaves_the_first_byte_awaited() {
    let mut machine = accepted();
    machine.holds_requests(ms(0)).expect("holds requests");
    feed(&mut machine, Event::Wrote(WRITTEN), ms(1));
    assert_eq!(activity(&machine), Some(Activity::AwaitingFirstByte));
}

#[test]
fn once_a_request_was_held_an_answer_written_while_waiting_to_read_is_idle() {
    let mut machine = arriving();
    machine.hold(ms(1)).expect("hold");
    machine.answered(ms(2)).expect("answered");
    feed(&mut machine, Event::Read(10), ms(3));
    feed(&mut machine, Event::ReadPending, ms(3));
    feed(&mut machine, Event::Wrote(WRITTEN), ms(4));
    assert_eq!(activity(&machine), Some(Activity::Idle));
}

#[test]
fn without_its_word_a_quiet_partial_request_is_taken_for_one_worked_on() {
    let mut machine = receiving();
    assert!(!machine.life().expect("live").arriving);
    run_until(&mut machine, ms(3_600_000));
    assert_eq!(activity(&machine), Some(Activity::Working));
    assert_eq!(machine.ended_by(), None);
}

#[test]
fn a_request_arriving_while_the_application_does_not_read_has_no_deadline() {
    let mut machine = accepted();
    machine.holds_requests(ms(0)).expect("holds requests");
    feed(&mut machine, Event::Read(100), ms(0));
    assert!(machine.life().expect("live").arriving);
    assert_eq!(
        machine.poll_timeout(),
        None,
        "the application is busy elsewhere"
    );
}
