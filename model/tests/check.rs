//! The public API a designer uses, each promise of its documentation held to: the bound
//! refused outside what the model explores, properties of one's own and `only`, the peer's
//! restrictions, walks beyond the bound, the explorer's address.

use linger_model::reference::{Naive, Phase};
use linger_model::{
    Bound, Check, CloseModel, Error, Flavour, LARGEST_COUNT, Linger, Peer, Step, Walk, World,
    policy,
};

/// A bound small enough for tests to explore in milliseconds.
fn small() -> Bound {
    Bound {
        segments: 1,
        peer_sends: 1,
        peer_moves: 2,
        ..Bound::default()
    }
}

#[test]
fn a_bound_outside_what_the_model_explores_is_refused_with_the_field_named() {
    let empty = Bound {
        segments: 0,
        ..Bound::default()
    };
    let refused = Check::new(Naive).bound(empty).err();
    assert_eq!(
        refused,
        Some(Error::Bound {
            field: "segments",
            value: 0,
            min: 1,
            max: LARGEST_COUNT
        })
    );
    let huge = Bound {
        peer_moves: LARGEST_COUNT + 1,
        ..Bound::default()
    };
    let message = Check::new(Naive)
        .bound(huge)
        .err()
        .map(|error| error.to_string());
    assert!(message.is_some_and(|message| message.starts_with("peer_moves is 17")));
    assert!(Check::new(Naive).bound(small()).is_ok());
}

/// Our data never all reaches the peer's application: a property that fails, with a path.
fn the_peer_never_reads(_: &CloseModel<Naive>, world: &World<Phase>) -> bool {
    world.peer.read == 0
}

#[test]
fn a_property_of_ones_own_is_checked_and_fails_with_its_shortest_counterexample() {
    let report = Check::new(Naive)
        .bound(small())
        .expect("a small bound")
        .always("the peer never reads", the_peer_never_reads)
        .run();
    let verdict = report.verdict("the peer never reads").expect("checked");
    assert!(!verdict.holds && !verdict.sometimes);
    let trace = verdict.counterexample.as_deref().unwrap_or_default();
    assert!(trace.contains("peer app reads a segment"), "{trace}");
    assert_eq!(
        trace.matches(" t=").count(),
        3,
        "the start, the delivery, the read:\n{trace}"
    );
    assert!(report.to_string().contains("FAILS  the peer never reads"));
}

#[test]
fn only_keeps_the_properties_named_and_refuses_a_name_it_does_not_know() {
    let report = Check::new(Naive)
        .bound(small())
        .expect("a small bound")
        .only(&["P3 closed within the bound"])
        .expect("a built-in property")
        .run();
    assert_eq!(report.verdicts.len(), 1);
    assert!(report.holds(), "naive closes at once: {report}");
    let unknown = Check::new(Naive).only(&["P9"]).err();
    assert_eq!(unknown, Some(Error::UnknownProperty("P9".into())));
}

#[test]
fn a_restricted_peer_takes_none_of_the_moves_taken_away() {
    fn sends_only_before_reading(
        peer: &linger_model::Kernel,
        _: &linger_model::Kernel,
        step: Step,
    ) -> bool {
        step != Step::PeerSends || peer.read == 0
    }
    let peer = Peer::default()
        .never_resets()
        .never_half_closes()
        .never_closes()
        .path_never_fails()
        .reads_at_most(1)
        .only(sends_only_before_reading);
    let model = Check::new(Naive)
        .bound(small())
        .expect("a small bound")
        .peer(peer)
        .model()
        .clone();
    let mut world = World::start(&model.strategy, &model.bound);
    let mut steps = Vec::new();
    for step in [Step::AppCloses, Step::DeliverToPeer, Step::PeerReads] {
        steps.clear();
        world.steps(&model.strategy, &model.peer, &mut steps);
        for forbidden in [Step::PeerResets, Step::PeerHalfCloses, Step::PeerCloses] {
            assert!(!steps.contains(&forbidden), "{forbidden:?} in {steps:?}");
        }
        world = world.after(&model.strategy, step);
    }
    steps.clear();
    world.steps(&model.strategy, &model.peer, &mut steps);
    assert!(
        !steps.contains(&Step::PeerSends),
        "the rule: no send after a read"
    );
    assert!(Peer::default().allows(&world.peer, &world.ours, Step::PeerSends));
    let report = Check::new(Naive)
        .bound(small())
        .expect("small")
        .peer(peer)
        .run();
    assert!(
        report
            .to_string()
            .contains("never resets, never half-closes")
    );
}

#[test]
fn a_walk_follows_its_choices_and_reports_the_first_property_it_breaks() {
    // Naive closes at once; the peer sends; its segment reaches our closed socket: a RST over
    // our unsent data. Each choice picks among the steps then enabled, in the model's order,
    // where more than one is.
    let loss = Walk {
        bound: Bound {
            segments: 2,
            ..small()
        },
        choices: vec![0, 1, 1],
    };
    let failure = Check::new(Naive).walk(&loss).expect_err("a loss");
    assert_eq!(failure.property, "P1 no silent loss");
    assert_eq!(
        failure.steps,
        [Step::AppCloses, Step::PeerSends, Step::DeliverToUs]
    );
    assert!(
        failure.to_string().contains("LOST 1 of our 2 segments"),
        "{failure}"
    );
    let quiet = Walk {
        bound: small(),
        choices: Vec::new(),
    };
    assert_eq!(Check::new(Naive).walk(&quiet), Ok(()));
}

#[test]
fn walks_decode_from_any_bytes_within_the_bounds_the_fuzzer_explores() {
    for seed in 0..64u8 {
        let bytes: Vec<u8> = (0..40)
            .map(|at| seed.wrapping_mul(31).wrapping_add(at))
            .collect();
        let Ok(walk) = Walk::from_bytes(&bytes) else {
            continue;
        };
        assert!((1..=8).contains(&walk.bound.segments), "{walk:?}");
        assert!(
            walk.bound.peer_window <= 4 && walk.bound.peer_moves <= 10,
            "{walk:?}"
        );
        let checked = Check::new(Linger { policy: policy() }).walk(&walk);
        assert!(
            checked.is_ok(),
            "{}",
            checked.err().map(|f| f.to_string()).unwrap_or_default()
        );
    }
}

#[test]
fn the_explorer_refuses_an_address_it_cannot_bind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = taken.local_addr().expect("its address").to_string();
    let check = Check::new(Naive).kernel(Flavour::MacOs);
    assert!(check.explore(&address).is_err());
    assert!(check.explore("not an address").is_err());
}
