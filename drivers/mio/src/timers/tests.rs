//! The deadline bookkeeping in virtual time: every instant is a number the test chooses.

use super::Timers;
use linger::Instant;

fn ms(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

/// Timers giving slot `i` the deadline `deadlines[i]` ms.
fn timers_with(deadlines: &[u64]) -> Timers {
    let mut timers = Timers::default();
    for (slot, &at) in deadlines.iter().enumerate() {
        timers.set(slot, Some(ms(at)));
    }
    timers
}

#[test]
fn slots_come_due_in_deadline_order() {
    let mut timers = timers_with(&[30, 10, 20]);
    assert_eq!(timers.earliest(), Some(ms(10)));
    assert_eq!(timers.pop_due(ms(25)), Some(1));
    assert_eq!(timers.pop_due(ms(25)), Some(2));
    assert_eq!(timers.pop_due(ms(25)), None);
    assert_eq!(timers.earliest(), Some(ms(30)));
}

#[test]
fn a_deadline_is_due_at_its_instant_and_not_before() {
    let mut timers = timers_with(&[10]);
    assert_eq!(timers.pop_due(ms(9)), None);
    assert_eq!(timers.deadline(0), Some(ms(10)));
    assert_eq!(timers.pop_due(ms(10)), Some(0));
}

#[test]
fn a_fired_deadline_is_spent() {
    let mut timers = timers_with(&[10]);
    assert_eq!(timers.pop_due(ms(10)), Some(0));
    assert_eq!(timers.deadline(0), None);
    assert_eq!(timers.earliest(), None);
    assert_eq!(timers.pop_due(ms(99)), None);
}

/// A discard round that spends its allowance re-arms the machine's timer at the very instant
/// it fired: unless the fired deadline is spent, that looks like no change, nothing is
/// scheduled, and the close loses every timer it has.
#[test]
fn a_fired_deadline_set_again_at_the_same_instant_fires_again() {
    let mut timers = timers_with(&[10]);
    assert_eq!(timers.pop_due(ms(10)), Some(0));
    timers.set(0, Some(ms(10)));
    assert_eq!(timers.pop_due(ms(10)), Some(0));
}

#[test]
fn a_moved_deadline_fires_only_at_its_new_instant() {
    let mut timers = timers_with(&[5]);
    timers.set(0, Some(ms(9)));
    assert_eq!(
        timers.earliest(),
        Some(ms(9)),
        "the stale entry at 5 ms is skipped"
    );
    assert_eq!(timers.pop_due(ms(8)), None);
    assert_eq!(timers.pop_due(ms(9)), Some(0));
    assert_eq!(timers.earliest(), None);
}

#[test]
fn a_deadline_moved_earlier_fires_at_the_earlier_instant() {
    let mut timers = timers_with(&[9]);
    timers.set(0, Some(ms(5)));
    assert_eq!(timers.pop_due(ms(5)), Some(0));
    assert_eq!(timers.pop_due(ms(9)), None, "the old deadline went stale");
}

#[test]
fn setting_the_deadline_a_slot_has_adds_no_entry() {
    let mut timers = timers_with(&[5]);
    timers.set(0, Some(ms(5)));
    assert_eq!(timers.len(), 1);
}

#[test]
fn a_slot_without_a_deadline_never_fires() {
    let mut timers = timers_with(&[5, 7]);
    timers.set(0, None);
    assert_eq!(timers.deadline(0), None);
    assert_eq!(timers.pop_due(ms(10)), Some(1));
    assert_eq!(timers.pop_due(ms(10)), None);
    assert!(timers.earliest().is_none());
}

#[test]
fn stale_entries_stay_until_they_may_outnumber_the_live_ones() {
    let slots: Vec<u64> = (0..100).collect();
    let mut timers = timers_with(&slots);
    for slot in 0..100 {
        timers.set(slot, Some(ms(1_000 + slot as u64)));
    }
    assert_eq!(timers.len(), 200, "100 live and 100 stale: no rebuild yet");
}

#[test]
fn stale_entries_are_compacted_away() {
    let slots: Vec<u64> = (0..100).collect();
    let mut timers = timers_with(&slots);
    for round in 1..=10 {
        for slot in 0..100 {
            timers.set(slot, Some(ms(1_000 * round + slot as u64)));
        }
        assert!(timers.len() <= 2 * 100 + 64, "{} entries", timers.len());
    }
    assert_eq!(timers.earliest(), Some(ms(10_000)));
}

/// A deadline moved back and forth repeats earlier instants: only the generation tells the
/// current entry from stale ones at the same instant, and a rebuild must keep just it.
#[test]
fn a_rebuild_keeps_one_entry_per_slot_whatever_instants_repeat() {
    let mut timers = timers_with(&[5]);
    let mut rebuilt = false;
    for round in 0..200 {
        let entries = timers.len();
        timers.set(0, Some(ms(if round % 2 == 0 { 9 } else { 5 })));
        if timers.len() < entries {
            assert_eq!(timers.len(), 1, "the rebuild kept stale entries");
            rebuilt = true;
        }
    }
    assert!(rebuilt, "the heap was never rebuilt");
    assert_eq!(timers.pop_due(ms(9)), Some(0));
    assert_eq!(timers.pop_due(ms(9)), None, "one deadline, fired once");
}
