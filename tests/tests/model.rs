//! Exhaustive model checking: `linger` holds P1-P5 under the model policy and a table of
//! others; the closes it replaces lose data, and their shortest counterexamples are pinned as
//! snapshots; a deliberately broken strategy is caught.

use core::time::Duration;
use linger::{NagleMode, OnBudgetSpent, Policy};
use linger_model::reference::{EagerClose, FixedDelay, Naive, ShutdownClose, SoLinger};
use linger_model::stateright::Model;
use linger_model::{
    Bound, Check, CloseModel, Flavour, Handover, Linger, Report, Step, Strategy, TrustingFigures,
    World, diagram, policy,
};

const P1: &str = "P1 no silent loss";
const P2: &str = "P2 no self-inflicted reset";
const P5: &str = "P5 outcome matches what happened";
const CLEAN: &str = "a clean ending";

/// Checks `strategy` within `bound`.
fn check<S: Strategy>(strategy: S, bound: Bound) -> Report {
    Check::new(strategy)
        .bound(bound)
        .expect("a bound the model takes")
        .run()
}

/// The bound of the policy table: smaller than the default so the table stays quick.
fn table_bound() -> Bound {
    Bound {
        peer_sends: 3,
        peer_moves: 3,
        ..Bound::default()
    }
}

fn fails(report: &Report, property: &str) -> bool {
    report
        .verdict(property)
        .is_some_and(|verdict| !verdict.holds && verdict.counterexample.is_some())
}

/// Every property holds but `property`, which fails.
fn holds_all_but(report: &Report, property: &str) -> bool {
    report
        .verdicts
        .iter()
        .all(|verdict| verdict.holds == (verdict.property != property))
}

fn counterexample(report: &Report, property: &str) -> String {
    report
        .verdict(property)
        .and_then(|verdict| verdict.counterexample.clone())
        .unwrap_or_else(|| panic!("{property} has no counterexample:\n{report}"))
}

#[test]
fn linger_holds_every_property_under_the_model_policy() {
    let report = check(Linger { policy: policy() }, Bound::default());
    assert!(report.holds(), "{report}");
    assert!(
        report.unique_states > 100_000,
        "explored too little:\n{report}"
    );
}

#[test]
fn linger_and_a_handed_over_close_hold_every_property_on_every_kernel() {
    for kernel in Flavour::ALL {
        let bound = Bound {
            kernel,
            ..table_bound()
        };
        let linger = check(Linger { policy: policy() }, bound);
        assert!(linger.holds(), "{linger}");
        let handover = check(Handover { policy: policy() }, bound);
        assert!(handover.holds(), "{handover}");
    }
}

#[test]
fn linger_holds_every_property_under_a_table_of_policies() {
    let model = policy();
    let (poll_min, poll_max) = model.poll_interval();
    let base = || {
        Policy::builder()
            .idle_timeout(model.idle_timeout())
            .linger_budget(model.linger_budget())
            .poll_interval(poll_min, poll_max)
            .discard_cap(model.discard_cap())
            .reads_per_wakeup(model.reads_per_wakeup())
    };
    let ms = Duration::from_millis;
    let table = [
        ("never discards", base().discard_cap(0)),
        (
            "discards more than the peer sends",
            base().discard_cap(8).reads_per_wakeup(3),
        ),
        (
            "aborts when the budget is spent",
            base().on_budget_spent(OnBudgetSpent::Abort),
        ),
        (
            "does not wait for the peer's EOF",
            base().wait_for_peer_eof(false),
        ),
        (
            "idle timeout longer than the budget",
            base().idle_timeout(ms(40)),
        ),
        (
            "budget shorter than one poll",
            base().linger_budget(ms(1)).idle_timeout(ms(1)),
        ),
        ("fixed poll interval", base().poll_interval(ms(8), ms(8))),
        (
            "fine, widely adaptive polling",
            base().poll_interval(Duration::from_micros(500), ms(16)),
        ),
        (
            "corked while assembling",
            base().nagle(NagleMode::CorkWhileAssembling),
        ),
        ("no delay", base().nagle(NagleMode::NoDelay)),
    ];
    for (name, builder) in table {
        let policy = builder.build().expect("the table's policies are valid");
        let report = check(Linger { policy }, table_bound());
        if policy.discard_cap() == 0 {
            // Never reading, the machine never sees the peer's EOF: no close ends clean.
            assert!(
                holds_all_but(&report, CLEAN),
                "policy that {name}:\n{report}"
            );
        } else {
            assert!(report.holds(), "policy that {name}:\n{report}");
        }
    }
}

/// A cap of 3 read 2 at a time: the second round may read only 1. A peer that sends 4 is
/// needed to see a round that ignores what is left of the cap.
#[test]
fn linger_discards_no_more_than_a_cap_its_rounds_do_not_divide() {
    let policy = Policy::builder()
        .idle_timeout(Duration::from_millis(5))
        .linger_budget(Duration::from_millis(30))
        .poll_interval(Duration::from_millis(1), Duration::from_millis(8))
        .discard_cap(3)
        .reads_per_wakeup(2)
        .build()
        .expect("valid policy");
    let bound = Bound {
        segments: 1,
        peer_sends: 4,
        peer_moves: 4,
        ..Bound::default()
    };
    let report = check(Linger { policy }, bound);
    assert!(report.holds(), "{report}");
}

#[test]
fn naive_close_loses_data_and_resets() {
    let report = check(Naive, Bound::default());
    assert!(!report.holds());
    insta::assert_snapshot!("naive_loses_data", counterexample(&report, P1));
    insta::assert_snapshot!("naive_resets_over_unread_data", counterexample(&report, P2));
}

#[test]
fn shutdown_then_close_loses_data_and_resets() {
    let report = check(ShutdownClose, Bound::default());
    assert!(!report.holds());
    insta::assert_snapshot!("shutdown_close_loses_data", counterexample(&report, P1));
    insta::assert_snapshot!(
        "shutdown_close_resets_over_unread_data",
        counterexample(&report, P2)
    );
}

#[test]
fn on_freebsd_a_close_that_trusts_fionwrite_claims_data_its_kernel_dropped() {
    let freebsd = Bound {
        kernel: Flavour::FreeBsd,
        ..Bound::default()
    };
    let report = check(TrustingFigures { policy: policy() }, freebsd);
    assert!(
        fails(&report, P5),
        "Clean without the FIN acknowledged:\n{report}"
    );
    insta::assert_snapshot!(
        "freebsd_trusting_fionwrite_loses_data",
        counterexample(&report, P1)
    );
}

#[test]
fn on_macos_a_close_that_trusts_so_nwrite_reports_less_than_is_unacknowledged() {
    let macos = Bound {
        kernel: Flavour::MacOs,
        ..table_bound()
    };
    let report = check(TrustingFigures { policy: policy() }, macos);
    assert!(fails(&report, P5), "{report}");
    assert!(
        !fails(&report, P1),
        "XNU keeps the figure after a reset:\n{report}"
    );
}

#[test]
fn so_linger_and_fixed_delay_lose_data_to_a_peer_that_sends() {
    let so_linger = check(SoLinger { timeout: 30_000 }, Bound::default());
    assert!(
        fails(&so_linger, P1) && fails(&so_linger, P2),
        "{so_linger}"
    );
    let fixed_delay = check(FixedDelay { delay: 30_000 }, Bound::default());
    assert!(
        fails(&fixed_delay, P1) && fails(&fixed_delay, P2),
        "{fixed_delay}"
    );
}

#[test]
fn a_close_that_trusts_its_fin_on_the_wire_is_caught() {
    let report = check(EagerClose { budget: 30_000 }, Bound::default());
    assert!(fails(&report, P1), "{report}");
    assert!(counterexample(&report, P1).contains("LOST"));
}

#[test]
fn the_committed_state_diagram_matches_the_model() {
    let generated = diagram::mermaid(&diagram::policies(), table_bound());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/state-diagram.mmd");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/state-diagram.mmd drifted from the model; regenerate it with\n  \
         cargo run --release -p linger-check -- --diagram --peer-moves 3 > docs/state-diagram.mmd\n\
         generated:\n{generated}"
    );
}

/// Runs the `linger-check` command with `arguments`.
fn linger_check(arguments: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_linger-check"))
        .args(arguments)
        .output()
        .expect("linger-check runs")
}

/// `text` with its lines joined, as wrapped prose reads.
fn unwrapped(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The report's lines before the first counterexample's trace, each at most 80 columns.
fn assert_explanations_fit_80_columns(stdout: &str) {
    let explained = stdout.split("\nshortest counterexample").next();
    for line in explained.unwrap_or_default().lines() {
        assert!(line.chars().count() <= 80, "wider than 80 columns: {line}");
    }
}

#[test]
fn the_report_explains_the_bound_the_scaled_down_policy_and_what_sometimes_means() {
    let small = [
        "--strategy",
        "linger",
        "--segments",
        "1",
        "--peer-sends",
        "1",
    ];
    let holds = linger_check(&[&small[..], &["--peer-moves", "1"]].concat());
    let stdout = String::from_utf8_lossy(&holds.stdout);
    assert_eq!(holds.status.code(), Some(0), "{stdout}");
    assert_explanations_fit_80_columns(&stdout);
    let default = Policy::default();
    let scaled_down = format!(
        "the model's policy, the real default ({:?}, {:?},",
        default.idle_timeout(),
        default.linger_budget()
    );
    for explained in [
        "peer moves up to 1 (each send, half-close, close or reset of the peer, and each",
        &scaled_down,
        "always: no state on any path may break it",
        "sometimes: at least one path must reach it",
    ] {
        let prose = unwrapped(&stdout);
        assert!(
            prose.contains(explained),
            "{explained:?} missing:\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAILS"), "{stdout}");

    let budget = ["--peer-moves", "1", "--budget-ms", "20"];
    let changed = linger_check(&[&small[..], &budget].concat());
    let prose = unwrapped(&String::from_utf8_lossy(&changed.stdout));
    assert!(
        prose.contains("chosen by hand, over the real default"),
        "{prose}"
    );

    let fails = linger_check(&["--strategy", "naive"]);
    let stdout = String::from_utf8_lossy(&fails.stdout);
    assert_eq!(fails.status.code(), Some(1), "{stdout}");
    assert_explanations_fit_80_columns(&stdout);
    assert!(
        !stdout.contains("policy:"),
        "naive has no policy:\n{stdout}"
    );
    let prose = unwrapped(&stdout);
    for explained in [
        "\"a clean ending\" FAILS: no path reaches a plain close",
        "not an error of the checker",
    ] {
        assert!(
            prose.contains(explained),
            "{explained:?} missing:\n{stdout}"
        );
    }
}

#[test]
fn the_command_exits_0_when_all_hold_1_on_a_counterexample_and_2_on_bad_arguments() {
    let run = linger_check;
    let small = ["--segments", "1", "--peer-sends", "1", "--peer-moves", "1"];

    let holds = run(&[&["--strategy", "linger"][..], &small].concat());
    let stdout = String::from_utf8_lossy(&holds.stdout);
    assert_eq!(holds.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("explored:") && stdout.contains("holds  P1 no silent loss"));

    let fails = run(&["--strategy", "naive"]);
    let stdout = String::from_utf8_lossy(&fails.stdout);
    assert_eq!(fails.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("shortest counterexample to P1 no silent loss"));
    assert!(stdout.contains("LOST"));

    for bad in [
        &["--strategy", "sometimes"][..],
        &["--segments", "0", "--strategy", "linger"],
        &["--strategy", "linger", "--budget-ms"],
        &["--strategy", "linger", "--poll-min-us", "9000"],
        &["--strategy", "linger", "--on-budget-spent", "later"],
        &["--strategy", "linger", "--kernel", "windows"],
        &["--colour"],
        &["--strategy", "linger", "extra"],
    ] {
        let refused = run(bad);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.starts_with("linger-check: "), "{bad:?}: {stderr}");
    }
}

#[test]
fn the_command_prints_its_usage_on_help_and_names_what_it_does_not_understand() {
    let run = linger_check;
    for help in ["--help", "-h"] {
        let output = run(&["--strategy", "linger", help]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{help}: {stdout}");
        assert!(
            stdout.starts_with("usage: linger-check"),
            "{help}: {stdout}"
        );
        assert!(output.stderr.is_empty(), "{help}");
    }
    for (arguments, message) in [
        (
            &["--bogus-flag"][..],
            "linger-check: unknown option --bogus-flag\n",
        ),
        (
            &["--strategy", "linger", "--bogus-flag", "3"],
            "unknown option --bogus-flag\n",
        ),
        (
            &["--strategy", "linger", "extra"],
            "unexpected argument \"extra\"\n",
        ),
        (
            &["--strategy", "linger", "--budget-ms"],
            "--budget-ms needs a value\n",
        ),
    ] {
        let output = run(arguments);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.contains(message), "{arguments:?}: {stderr}");
        assert!(
            stderr.contains("\nusage: linger-check"),
            "{arguments:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{arguments:?}");
    }
}

#[test]
fn the_explorer_shows_steps_states_and_properties_in_words() {
    let model = CloseModel::new(Linger { policy: policy() }, Bound::default());
    let start = World::start(&model.strategy, &model.bound);
    let closing = start.after(&model.strategy, Step::AppCloses);
    let shown = format!("{closing:#?}");
    for words in [
        "t=0ms: our app decided to close at 0ms",
        "app:  machine WriteShut, 4 unacked, next deadline 1ms",
        "us:   wrote 3 sent 1 acked 0, FIN queued; received 0 unread 0; fd open",
        "wire: us -> peer [data], peer -> us []",
        "the peer may still make 4 moves, 3 of them sends",
        "linger: 0.030s, idle: 0.005s",
        "resume: off",
    ] {
        assert!(shown.contains(words), "{words:?} not in\n{shown}");
    }
    assert!(!shown.contains(&u64::MAX.to_string()), "{shown}");

    assert_eq!(model.format_action(&Step::AppCloses), "our app closes");
    let properties: Vec<String> = model
        .properties()
        .iter()
        .map(|property| format!("{:?} {}", property.expectation, property.name))
        .collect();
    assert_eq!(properties[0], "Always P1 no silent loss");
    assert_eq!(
        properties[5],
        "Always progress is never cut off before the budget"
    );
    assert_eq!(properties[7], "Sometimes every byte delivered");
}
