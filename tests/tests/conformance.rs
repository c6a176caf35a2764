//! The model meets the kernel: the covering set of the model's Linux rules and a fixed set of
//! seeded walks replayed on this machine's kernel through a scripted peer (docs/model.md, "The
//! model meets the kernel"). Needs root and /dev/net/tun; without them the replay is skipped
//! with the reason, except under `CI=true`, where it fails.
#![cfg(target_os = "linux")]

use linger_check::conformance::coverage::Transition;
use linger_check::conformance::peer::{Line, Peer, SEGMENT};
use linger_check::conformance::replay::Entry;
use linger_check::conformance::socket::Ours;
use linger_check::conformance::traces::{self, Closer, Origin, Trace};
use linger_check::conformance::tun::Network;
use linger_check::conformance::{self, packetdrill};
use linger_check::model::kernel::Segment;
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Walks replayed by `cargo test`, from seed 1: with the covering set, about a minute here.
const WALKS: usize = 60;

fn covering_set() -> &'static [Trace] {
    static SET: OnceLock<Vec<Trace>> = OnceLock::new();
    SET.get_or_init(traces::covering_set)
}

/// Whether the replay can run here; `false` (after saying why) skips it, except under CI.
fn can_replay() -> bool {
    match conformance::available() {
        Ok(()) => true,
        Err(reason) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI must replay the model's traces, but: {reason}")
        }
        Err(reason) => {
            eprintln!("skipped: cannot replay on this machine: {reason}");
            false
        }
    }
}

#[test]
fn every_transition_of_the_linux_rules_has_a_covering_trace() {
    let covered: BTreeSet<Transition> = covering_set()
        .iter()
        .filter_map(|trace| match trace.origin {
            Origin::Covering(transition) => Some(transition),
            Origin::Walk(_) => None,
        })
        .collect();
    let missing: Vec<_> = Transition::ALL
        .iter()
        .copied()
        .filter(|transition| !covered.contains(transition))
        .collect();
    assert!(
        missing.is_empty(),
        "no trace of the model reaches {missing:?}"
    );
    for closer in Closer::ALL {
        assert!(
            covering_set().iter().any(|trace| trace.closer == closer),
            "{closer} has no covering trace"
        );
    }
}

#[test]
fn a_seed_gives_the_same_walks_every_time_and_each_closer_its_share() {
    let walks = traces::walks(7, 12);
    assert_eq!(walks, traces::walks(7, 12));
    assert_ne!(walks, traces::walks(8, 12));
    for closer in Closer::ALL {
        assert_eq!(walks.iter().filter(|walk| walk.closer == closer).count(), 2);
    }
    assert!(walks.iter().all(|walk| !walk.steps.is_empty()));
}

#[test]
fn the_covering_set_and_seeded_walks_replay_without_a_divergence_and_are_written_as_scripts() {
    if !can_replay() {
        return;
    }
    let scripts = std::env::temp_dir().join(format!("linger-conformance-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_linger-check"))
        .args([
            "--conformance",
            &WALKS.to_string(),
            "--seed",
            "1",
            "--jobs",
            "4",
        ])
        .arg("--scripts")
        .arg(&scripts)
        .output()
        .expect("linger-check runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let written = std::fs::read_dir(&scripts).map_or(0, |entries| entries.count());
    let _ = std::fs::remove_dir_all(&scripts);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let total = covering_set().len() + WALKS;
    assert!(
        stdout.contains(&format!("replayed: {total} traces")),
        "{stdout}"
    );
    let transitions = Transition::ALL.len();
    assert!(
        stdout.contains(&format!(
            "covered:  {transitions} of {transitions} transitions"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("diverged: 0 traces"), "{stdout}");
    assert_eq!(written, total, "one script per trace");
}

/// Linux's rule the replay found (docs/model.md, "Linux's rules"), on the scripted peer: with
/// the data all sent and the peer's window full, `shutdown` queues the FIN and sends nothing;
/// one byte more of window lets it out.
#[test]
fn the_fin_waits_for_room_in_the_peers_window() {
    if !can_replay() {
        return;
    }
    std::thread::spawn(|| {
        let mut network = Network::create().expect("namespace");
        let tun = network.tun();
        let started = Instant::now();
        let ours = Ours::connect(7000).expect("connect");
        let mut peer = Peer::accept(tun, 7000, 1, started, Duration::from_secs(2)).expect("SYN");
        while !ours.established() {
            assert!(started.elapsed() < Duration::from_secs(2), "no handshake");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(ours.write(1).expect("write"));
        // Acknowledged, and the window ends where the data does.
        peer.send(
            tun,
            Segment::Ack {
                received: 1,
                fin: false,
                window_end: 1,
            },
        )
        .expect("ACK");
        ours.shutdown_write().expect("shutdown");
        let sent = peer.take_in(tun, Duration::from_millis(200)).expect("TUN");
        assert_eq!((sent.data, sent.fin), (SEGMENT, false), "the FIN waits");
        assert_eq!(
            ours.view().expect("view").unsent,
            1,
            "SIOCOUTQNSD counts it"
        );
        peer.send(
            tun,
            Segment::Ack {
                received: 1,
                fin: false,
                window_end: 2,
            },
        )
        .expect("window update");
        let sent = peer.take_in(tun, Duration::from_millis(200)).expect("TUN");
        assert!(sent.fin, "room for the FIN lets it out");
    })
    .join()
    .expect("the test's thread");
}

#[test]
fn a_script_reads_as_packetdrill_writes_calls_and_segments() {
    let trace = Trace {
        closer: Closer::Naive,
        bound: traces::bound(),
        steps: vec![linger_check::model::Step::AppCloses],
        origin: Origin::Covering(Transition::CloseQueuesFin),
    };
    let segment = |at, inbound, flags: &str, seq, len, ack| {
        Entry::Segment(Line {
            at: Duration::from_millis(at),
            inbound,
            flags: flags.into(),
            seq,
            len,
            ack,
            window: 100,
            mss: (flags == "S.").then_some(100),
        })
    };
    let exchange = [
        segment(0, false, "S", 0, 0, None),
        segment(0, true, "S.", 0, 0, Some(1)),
        segment(1, false, ".", 1, 0, Some(1)),
        Entry::Call(Duration::from_millis(1), "write(3, ..., 300) = 300".into()),
        segment(1, false, "P.", 1, 100, Some(1)),
        Entry::Call(
            Duration::from_millis(2),
            "ioctl(3, SIOCOUTQ, [300]) = 0".into(),
        ),
        Entry::Call(
            Duration::from_millis(2),
            "read(3, ..., 100) = -1 EAGAIN".into(),
        ),
        Entry::Call(Duration::from_millis(212), "close(3) = 0".into()),
    ];
    let script = packetdrill::script(&trace, &exchange);
    for line in [
        "// linger-check conformance trace: naive (covering CloseQueuesFin)",
        "//    1. our app closes",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
        "+0.000 > S 0:0(0) <...>",
        "+0.000 < S. 0:0(0) ack 1 win 100 <mss 100>",
        "+0.001 > . 1:1(0) ack 1",
        "+0.000 write(3, ..., 300) = 300",
        "+0.000 > P. 1:101(100) ack 1",
        "+0.001 ioctl(3, 21521 /* SIOCOUTQ */, [300]) = 0",
        "+0.000 read(3, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)",
        "+0.210 close(3) = 0",
    ] {
        assert!(
            script.lines().any(|written| written.starts_with(line)),
            "{line:?} not in\n{script}"
        );
    }
}

#[test]
fn the_command_refuses_bad_conformance_arguments() {
    for bad in [
        &["--conformance"][..],
        &["--conformance", "many"],
        &["--conformance", "3", "--jobs", "0"],
        &["--conformance", "3", "--seed", "-1"],
        &["--conformance", "3", "--scripts"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_linger-check"))
            .args(bad)
            .output()
            .expect("linger-check runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.starts_with("linger-check: "), "{bad:?}: {stderr}");
    }
}
