//! What the check of Apache's lingering close finds, pinned: exhaustively, the loss behind a
//! read that timed out; and, beyond the bound by proptest's walks, our property holding.

use apache_close::{ApacheClose, LET_GO, let_go_within_a_read_timeout};
use linger_model::fuzz::walks;
use linger_model::{Bound, Check, Flavour, Peer};
use proptest::prelude::*;

#[test]
fn apache_loses_data_to_a_peer_whose_data_arrives_after_a_read_timed_out() {
    let report = Check::new(ApacheClose::default())
        .peer(Peer::default().never_resets().path_never_fails())
        .run();
    let p1 = report.verdict("P1 no silent loss").expect("P1 is checked");
    let trace = p1.counterexample.as_deref().unwrap_or_default();
    assert!(!p1.holds, "{report}");
    assert!(
        trace.contains("time passes to our next deadline"),
        "{trace}"
    );
    assert!(
        trace.contains("sent RST: data arrived after close"),
        "{trace}"
    );
    assert!(
        report
            .verdict("P3 closed within the bound")
            .is_some_and(|v| v.holds)
    );
}

#[test]
fn apache_never_holds_a_socket_past_a_read_timeout_on_any_kernel() {
    for kernel in Flavour::ALL {
        let report = Check::new(ApacheClose::default())
            .kernel(kernel)
            .always(LET_GO, let_go_within_a_read_timeout)
            .only(&[LET_GO])
            .expect("our property is there to keep")
            .run();
        assert!(report.holds(), "{report}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Beyond the bound exhaustive search takes: up to 8 segments through windows of 4, a
    /// peer of 12 sends and 16 moves.
    #[test]
    fn apache_never_holds_a_socket_past_a_read_timeout_beyond_the_bound(
        walk in walks(Bound {
            segments: 8,
            peer_window: 4,
            our_window: 4,
            peer_sends: 12,
            peer_moves: 16,
            kernel: Flavour::Linux,
        })
    ) {
        let check = Check::new(ApacheClose::default())
            .always(LET_GO, let_go_within_a_read_timeout)
            .only(&[LET_GO, "P3 closed within the bound", "P4 no misuse, fd closed once"])
            .expect("the properties are there to keep");
        let walked = check.walk(&walk);
        prop_assert!(walked.is_ok(), "{}", walked.err().map(|failure| failure.to_string()).unwrap_or_default());
    }
}
