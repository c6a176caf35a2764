//! A real browser: headless Chromium loads a page whose script `fetch()`es a 20 MB POST to
//! the early-`413` route several times and reports the status and body length of each.
//! Served on a plain `TcpListener`, the browser sees network errors or short bodies; on a
//! `LingerListener`, the `413` and the whole body every time.
//!
//! Takes about 3 s (two browser starts, 2 × 6 uploads of 20 MB on loopback). Skipped, with a
//! `SKIPPED` line in the output, where Chromium is not installed (Debian: `chromium`); under
//! CI, whose `.ci/run` installs it, a missing browser fails the test.

use linger_check::sockets::axum::{EARLY_BODY, FETCH_PAGE, FETCHES, Listening, Server};
use linger_check::sockets::clients;

/// What the page reported, one line per fetch; `None` if it did not report within 60 s.
fn browse(listening: Listening) -> Option<Vec<String>> {
    let server = Server::start(listening, FETCH_PAGE);
    let report = clients::browse(&server.url("/page"), &[], || server.reports());
    let counts = server.stop();
    println!("{listening:?}: {report:?}; lingering closes {counts:?}");
    report
}

#[test]
fn chromium_gets_every_early_answer_only_through_linger() {
    if !clients::chromium_available() {
        return;
    }
    let whole = format!("413 {EARLY_BODY}");
    let plain = browse(Listening::Plain).expect("the page on the plain server never reported");
    assert_eq!(plain.len(), FETCHES);
    assert!(
        plain.iter().any(|result| *result != whole),
        "hyper's close never lost the answer: the scenario is not reproduced: {plain:?}"
    );
    let linger = browse(Listening::Linger).expect("the page on the linger server never reported");
    assert_eq!(linger, vec![whole; FETCHES]);
}
