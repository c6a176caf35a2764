//! Skipping a test whose prerequisite is missing (a program, root), so that the skip shows.
//!
//! libtest captures what a passing test prints with `print!` and `eprint!` and shows it only
//! when the test fails: a skip reported that way hides behind the test's `ok`. It does not
//! capture what is written to the standard error handle itself, so [`because`] writes there:
//! its `SKIPPED` line stands in `cargo test`'s normal output, above the test's `ok`. Under CI
//! (`CI=true`), whose `.ci/run` installs every prerequisite, a skip fails the test instead.
//! `tests/tests/skips.rs` pins both.

use std::io::Write;

/// Reports that the running test skips for `reason`: a line on stderr that `cargo test`
/// shows, naming the test (libtest names each test's thread after it). Under CI, panics.
pub fn because(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().filter(|name| *name != "main");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} cannot run under CI: {reason}; .ci/run installs what the tests need",
        test.unwrap_or("this")
    );
    let line = match test {
        Some(test) => format!("SKIPPED {test}: {reason}\n"),
        None => format!("skipped: {reason}\n"),
    };
    // One write, so that the line is not interleaved with another test's.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// What a test needs, or `None` once the test has reported its skip (see [`because`]).
pub fn unless<T>(prerequisite: Result<T, String>) -> Option<T> {
    prerequisite.map_err(|reason| because(&reason)).ok()
}
