//! The life before the close, model-checked (`linger_check::life`): the guards of
//! `CloseMachine::accepted` keep L1-L3 over every interleaving of the bounded model and each
//! ends some path; and when a guard is missing or stricter than promised, the checker finds
//! it and shows the path.

use core::time::Duration;
use linger::{MinRate, Policy, PolicyBuilder};
use linger_check::life::{Bound, Report, check, check_promising, policy};

#[test]
fn the_guards_keep_l1_to_l3_on_every_path_and_each_ends_some() {
    let report = check(policy(), Bound::default());
    println!("{report}");
    assert!(report.holds(), "{report}");
    assert!(report.states > 10_000, "{report}");
}

#[test]
fn a_machine_without_its_first_byte_guard_leaves_a_silent_connection_past_its_deadline() {
    let report = against(|builder| builder.first_byte_timeout(None));
    let trace = counterexample(&report, "L3 a silent connection ends within its deadline");
    assert!(
        trace.contains("  4 ms"),
        "silent up to the deadline:\n{trace}"
    );
    let silent = report.verdict("a silent connection is ended").expect("L3");
    assert!(!silent.holds, "no path ends a silent connection");
}

#[test]
fn a_machine_stricter_than_its_pace_cuts_an_honest_peer() {
    let report = against(|builder| {
        builder.min_receive_rate(Some(MinRate {
            bytes_per_second: 2000,
            grace: Duration::from_millis(3),
        }))
    });
    let trace = counterexample(&report, "L1 a peer at the minimum pace is never cut for it");
    assert!(
        trace.contains("ended by request below the minimum pace"),
        "{trace}"
    );
}

#[test]
fn a_machine_quicker_than_its_keep_alive_timeout_cuts_an_answer_streamed_at_a_pace() {
    let report = against(|builder| builder.keep_alive_timeout(Some(Duration::from_millis(2))));
    let trace = counterexample(
        &report,
        "L2 no guard cuts work, or an answer written at a pace",
    );
    assert!(trace.contains("Writing"), "{trace}");
}

/// The model with the machine's policy changed by `change` and the properties holding it to
/// the model policy's promises.
fn against(change: impl FnOnce(PolicyBuilder) -> PolicyBuilder) -> Report {
    let model = policy();
    let builder = Policy::builder()
        .first_byte_timeout(model.first_byte_timeout())
        .min_receive_rate(model.min_receive_rate())
        .keep_alive_timeout(model.keep_alive_timeout())
        .send_timeout(model.send_timeout());
    let changed = change(builder).build().expect("a valid policy");
    check_promising(changed, model, Bound::default())
}

/// The counterexample to `property`, which must fail.
fn counterexample<'a>(report: &'a Report, property: &str) -> &'a str {
    let verdict = report.verdict(property).expect("a property of the model");
    assert!(!verdict.holds, "{report}");
    verdict
        .counterexample
        .as_deref()
        .expect("a failing always property has a counterexample")
}
