//! A test that skips for want of a prerequisite says so in `cargo test`'s normal output, not
//! only with `--nocapture`, and fails under CI (`linger_check::skip`). Pinned by running this
//! binary's `skips_on_purpose` as `cargo test` runs a test: output captured by libtest.

use std::process::{Command, Output};

const REASON: &str = "a prerequisite this test made up is missing";

#[test]
#[ignore = "skips on purpose: run by the tests below"]
fn skips_on_purpose() {
    linger_check::skip::because(REASON);
}

/// Runs `skips_on_purpose` alone, with `CI=true` or without `CI`.
fn skipping_test(ci: bool) -> Output {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.args(["skips_on_purpose", "--exact", "--ignored"]);
    if ci {
        command.env("CI", "true");
    } else {
        command.env_remove("CI");
    }
    command.output().expect("the test binary runs")
}

#[test]
fn a_skip_names_the_test_and_its_reason_in_the_normal_output() {
    let output = skipping_test(false);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("SKIPPED skips_on_purpose: {REASON}\n")),
        "the skip is not shown:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[test]
fn a_skip_fails_under_ci() {
    let output = skipping_test(true);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("skips_on_purpose cannot run under CI"),
        "{stdout}"
    );
}
