//! A slow link: 2 MB across a veth pair rate-limited to 8 Mbit/s with `tbf`, between two
//! network namespaces the test creates. The client uploads first, the server answers and
//! closes. Needs root, `ip` and `tc`; skipped where they are missing, with a `SKIPPED` line in
//! the output (a failure under CI).
//! `cargo test -p linger-check --test sockets_slow_link -- --nocapture` prints the figures.

use linger::Ending;
use linger_check::skip;
use linger_check::sockets::Closer;
use linger_check::sockets::netns::{SlowLink, early_reply_across};

const ANSWER: usize = 2_000_000;

#[test]
fn linger_waits_for_the_slow_link_to_drain_while_plain_close_loses_data() {
    let Some(link) = skip::unless(SlowLink::create(8)) else {
        return;
    };
    for closer in std::iter::once(Closer::Plain).chain(Closer::DRIVERS) {
        let run = early_reply_across(&link, closer, ANSWER);
        let limit = run.limit(&link);
        let outcome = run
            .outcome
            .map_or("no outcome".into(), |outcome| outcome.to_string());
        println!(
            "slow link / {closer:?}: client got {} of {ANSWER} bytes (reset {}); {} bytes queued \
             at close, physical limit {limit:?}, close took {:?} ({:.2}x); {outcome}",
            run.received.bytes,
            run.received.reset,
            run.queued_at_close,
            run.close_took,
            run.close_took.as_secs_f64() / limit.as_secs_f64().max(1e-9),
        );
        if closer == Closer::Plain {
            assert!(
                run.received.bytes < ANSWER && run.received.reset,
                "no loss: {closer:?}"
            );
        } else {
            assert_eq!(
                (run.received.bytes, run.received.eof),
                (ANSWER, true),
                "{closer:?}"
            );
            assert_eq!(
                run.outcome.map(|outcome| outcome.ending),
                Some(Ending::Clean)
            );
        }
    }
}
