//! The model meets the kernel: the covering set of the model's Linux rules and a fixed set of
//! seeded walks replayed on this machine's kernel through a scripted peer (docs/model.md, "The
//! model meets the kernel"). Needs root and /dev/net/tun; without them the replay is skipped
//! with the reason, except under `CI=true`, where it fails.
#![cfg(target_os = "linux")]

use linger_check::builtin::{self, Builtin};
use linger_io::acks::TcpState;
use linger_model::conformance::coverage::Transition;
use linger_model::conformance::peer::{Line, Peer, SEGMENT, Sent};
use linger_model::conformance::replay::{Entry, Made};
use linger_model::conformance::socket::{Ours, linux_state};
use linger_model::conformance::traces::{self, Grid, Origin, Trace};
use linger_model::conformance::tun::{Network, Tun};
use linger_model::conformance::{self, packetdrill};
use linger_model::{Bound, Flavour, Segment, Step};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Walks replayed by `cargo test`, from seed 1: with the covering set of the CI grid, about
/// half a minute here.
const WALKS: usize = 60;

fn covering_set() -> &'static [Trace] {
    static SET: OnceLock<Vec<Trace>> = OnceLock::new();
    SET.get_or_init(|| builtin::covering_set(&Grid::Ci.bounds()))
}

/// Whether the replay can run here; `false` skips it with the reason, shown in `cargo test`'s
/// output (`linger_check::skip`), except under CI, where it fails.
fn can_replay() -> bool {
    let available = conformance::available().map_err(|error| error.to_string());
    linger_check::skip::unless(available).is_some()
}

#[test]
fn the_ci_grid_covers_every_transition_the_model_reaches_and_none_argued_unreachable() {
    let covered: BTreeSet<Transition> = covering_set()
        .iter()
        .flat_map(builtin::transitions)
        .collect();
    let missing: Vec<_> = Transition::ALL
        .iter()
        .copied()
        .filter(|transition| transition.unreached().is_none() && !covered.contains(transition))
        .collect();
    assert!(
        missing.is_empty(),
        "no trace of the model reaches {missing:?}"
    );
    let against: Vec<_> = covered
        .iter()
        .filter(|transition| transition.unreached().is_some())
        .collect();
    assert!(
        against.is_empty(),
        "argued unreachable, reached: {against:?}"
    );
    for builtin in Builtin::ALL {
        for bound in Grid::Ci.bounds() {
            assert!(
                covering_set()
                    .iter()
                    .any(|trace| trace.strategy == builtin.name() && trace.bound == bound),
                "{builtin} has no covering trace at {}",
                bound.short_name()
            );
        }
    }
}

#[test]
fn the_grid_holds_every_value_of_each_bound_up_to_its_largest_and_ci_a_part_of_it() {
    let full = Grid::Full.bounds();
    let values = |of: fn(&Bound) -> u8| -> BTreeSet<u8> { full.iter().map(of).collect() };
    let every = |low: u8, high: u8| (low..=high).collect::<BTreeSet<u8>>();
    assert_eq!(values(|bound| bound.segments), every(1, 4));
    assert_eq!(values(|bound| bound.peer_window), every(1, 5));
    assert_eq!(values(|bound| bound.our_window), every(1, 3));
    assert_eq!(values(|bound| bound.peer_sends), every(0, 3));
    assert_eq!(values(|bound| bound.peer_moves), every(0, 5));
    let ci = Grid::Ci.bounds();
    assert!(ci.iter().all(|bound| full.contains(bound)));
    assert!(ci.len() < full.len());
    assert!(ci.contains(&Bound {
        segments: 1,
        peer_window: 1,
        our_window: 2,
        peer_sends: 2,
        peer_moves: 3,
        kernel: Flavour::Linux,
    }));
}

#[test]
fn a_seed_gives_the_same_walks_every_time_and_each_closer_and_bound_its_share() {
    let bounds = Grid::Full.bounds();
    let walks = builtin::walks(7, 120, &bounds);
    assert_eq!(walks, builtin::walks(7, 120, &bounds));
    assert_ne!(walks, builtin::walks(8, 120, &bounds));
    for builtin in Builtin::ALL {
        assert_eq!(
            walks
                .iter()
                .filter(|walk| walk.strategy == builtin.name())
                .count(),
            20
        );
    }
    let drawn: BTreeSet<String> = walks.iter().map(|walk| walk.bound.short_name()).collect();
    assert!(drawn.len() > bounds.len() / 2, "{drawn:?}");
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
            "--grid",
            "ci",
            "--seed",
            "1",
            "--jobs",
            "8",
            "--fail-fast",
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
    let unreachable = Transition::ALL
        .iter()
        .filter(|transition| transition.unreached().is_some())
        .count();
    assert!(
        stdout.contains(&format!(
            "covered:  {} of {transitions} transitions of the Linux kernel rules, {unreachable} \
             argued unreachable",
            transitions - unreachable
        )),
        "{stdout}"
    );
    assert!(stdout.contains("diverged: 0 traces"), "{stdout}");
    assert_eq!(written, total, "one script per trace");
}

/// The scripted peer of one connection, on its namespace's TUN device.
struct Scripted<'a> {
    tun: &'a mut Tun,
    peer: Peer,
}

impl Scripted<'_> {
    /// Writes `segment` to our kernel.
    fn send(&mut self, segment: Segment) {
        self.peer
            .send(self.tun, segment)
            .expect("the TUN device takes it");
    }

    /// What our kernel has sent so far, after waiting `millis` for more.
    fn sent(&mut self, millis: u64) -> Sent {
        self.peer
            .take_in(self.tun, Duration::from_millis(millis))
            .expect("the TUN device reads")
    }
}

/// The peer's cumulative ACK of `received` of our segments (the peer's FIN not counted), its
/// window reaching to segment `window_end`.
fn ack(received: u8, window_end: u8) -> Segment {
    Segment::Ack {
        received,
        fin: false,
        window_end,
    }
}

/// The peer's ACK of our FIN, no data of ours received, its window reaching to `window_end`.
fn ack_of_our_fin(window_end: u8) -> Segment {
    Segment::Ack {
        received: 0,
        fin: true,
        window_end,
    }
}

/// Runs `check` on a thread in a namespace of its own, with our socket connected to the
/// scripted peer, whose window is `window` segments; skips where the replay cannot run.
fn on_the_scripted_peer(window: u8, check: impl FnOnce(&mut Scripted<'_>, &mut Ours) + Send) {
    if !can_replay() {
        return;
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut network = Network::create().expect("namespace");
                let tun = network.tun();
                let started = Instant::now();
                let mut ours = Ours::connect(7000).expect("connect");
                let peer =
                    Peer::accept(tun, 7000, window, started, Duration::from_secs(2)).expect("SYN");
                while !ours.established() {
                    assert!(started.elapsed() < Duration::from_secs(2), "no handshake");
                    std::thread::sleep(Duration::from_millis(1));
                }
                check(&mut Scripted { tun, peer }, &mut ours);
            })
            .join()
            .expect("the test's thread");
    });
}

/// Linux's rule the replay found (docs/model.md, "Linux's rules"), on the scripted peer: with
/// the data all sent and the peer's window full, `shutdown` queues the FIN and sends nothing;
/// one byte more of window lets it out.
#[test]
fn the_fin_waits_for_room_in_the_peers_window() {
    on_the_scripted_peer(1, |peer, ours| {
        assert!(ours.write(1).expect("write"));
        // Acknowledged, and the window ends where the data does.
        peer.send(ack(1, 1));
        ours.shutdown_write().expect("shutdown");
        let sent = peer.sent(200);
        assert_eq!((sent.data, sent.fin), (SEGMENT, false), "the FIN waits");
        assert_eq!(
            ours.view().expect("view").unsent,
            1,
            "SIOCOUTQNSD counts it"
        );
        peer.send(ack(1, 2));
        assert!(peer.sent(200).fin, "room for the FIN lets it out");
    });
}

/// Found by the replay at wider windows: a FIN queued behind unsent data rides on the last
/// segment, which then needs room for the FIN too; it waits, data and all, until nothing else
/// is in flight and the persist timer's probe sends the data alone.
#[test]
fn the_last_segment_waits_with_the_fin_on_it_until_the_persist_probe_sends_it_alone() {
    on_the_scripted_peer(1, |peer, ours| {
        assert!(ours.write(2).expect("write"));
        ours.shutdown_write()
            .expect("shutdown: the FIN rides on the second segment");
        let sent = peer.sent(50);
        assert_eq!((sent.data, sent.fin), (SEGMENT, false));
        // Room for the second segment, not for the FIN riding on it: both wait.
        peer.send(ack(1, 2));
        let sent = peer.sent(50);
        assert_eq!((sent.data, sent.fin), (SEGMENT, false), "data and FIN held");
        assert_eq!(ours.view().expect("view").unsent, SEGMENT + 1);
        // Nothing in flight: the probe (about an RTO later) sends the data without the FIN.
        let deadline = Instant::now() + Duration::from_secs(5);
        while peer.sent(20).data < 2 * SEGMENT && Instant::now() < deadline {}
        let sent = peer.sent(0);
        assert_eq!((sent.data, sent.fin), (2 * SEGMENT, false), "the probe");
        peer.send(ack(2, 3));
        assert!(peer.sent(200).fin, "room for the FIN");
    });
}

/// Found by the replay at wider windows: a run of two segments or more, the FIN riding on the
/// last, goes whole when the window reaches the data's end, the FIN one past the window's edge
/// (the window is tested on the run's first segment, `tcp_snd_wnd_test`).
#[test]
fn a_run_the_window_takes_whole_takes_the_fin_past_the_windows_edge() {
    on_the_scripted_peer(1, |peer, ours| {
        assert!(ours.write(3).expect("write"));
        ours.shutdown_write()
            .expect("shutdown: the FIN rides on the run of two left");
        let sent = peer.sent(50);
        assert_eq!((sent.data, sent.fin), (SEGMENT, false));
        // Room for the two segments left, exactly: both go, and the FIN with them.
        peer.send(ack(1, 3));
        let sent = peer.sent(200);
        assert_eq!((sent.data, sent.fin), (3 * SEGMENT, true));
    });
}

/// Found by the replay's finer coverage: once both sides have closed (here CLOSED after
/// LAST_ACK), `close()` over unread data sends no RST (`__tcp_close` kills a socket in CLOSE
/// as it is), where the same close on a connection still open resets it.
#[test]
fn close_over_unread_data_once_both_sides_closed_sends_nothing() {
    on_the_scripted_peer(1, |peer, ours| {
        peer.send(Segment::Data);
        peer.send(Segment::Fin);
        ours.shutdown_write().expect("our FIN, second");
        assert!(peer.sent(200).fin);
        peer.send(ack_of_our_fin(1));
        std::thread::sleep(Duration::from_millis(50));
        let view = ours.view().expect("view");
        let closed = linux_state(TcpState::Closed);
        assert_eq!(
            (view.unread, view.state),
            (SEGMENT, closed),
            "CLOSE, data unread"
        );
        ours.close();
        assert!(!peer.sent(200).rst, "no RST");
    });
}

/// Found by the replay's finer coverage: an abort (`SO_LINGER {1, 0}` + `close`) in LAST_ACK
/// with everything sent drops the connection without a RST (`tcp_disconnect`); what the peer
/// sends next finds no socket and is answered with one.
#[test]
fn an_abort_in_last_ack_with_everything_sent_sends_no_rst_and_what_follows_is_answered_with_one() {
    on_the_scripted_peer(1, |peer, ours| {
        peer.send(Segment::Fin);
        ours.shutdown_write().expect("our FIN, second: LAST_ACK");
        let sent = peer.sent(200);
        assert!(sent.fin && !sent.rst);
        ours.abort().expect("abort");
        assert!(
            !peer.sent(200).rst,
            "no RST for an abort with everything sent"
        );
        peer.send(ack(0, 1));
        assert!(peer.sent(200).rst, "a late ACK answered");
    });
}

/// Found by the replay at wider windows: a connection closed second, its FIN acknowledged, is
/// CLOSED, and its socket no longer takes segments: the peer's next one (a window update as
/// it reads) is answered with RST.
#[test]
fn a_segment_after_our_fin_was_acknowledged_in_last_ack_is_answered_with_rst() {
    on_the_scripted_peer(1, |peer, ours| {
        peer.send(Segment::Fin);
        ours.shutdown_write().expect("our FIN, second: LAST_ACK");
        assert!(peer.sent(200).fin);
        peer.send(ack_of_our_fin(1));
        assert!(!peer.sent(50).rst, "CLOSED");
        peer.send(ack_of_our_fin(2));
        assert!(peer.sent(200).rst, "a window update answered");
    });
}

#[test]
fn a_script_reads_as_packetdrill_writes_calls_segments_and_a_blocking_close() {
    let trace = Trace {
        strategy: Builtin::SoLinger.name().into(),
        bound: traces::bound(),
        steps: vec![Step::AppCloses],
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
    let call = |at, returned: Option<u64>, text: &str| {
        Entry::Call(Made {
            at: Duration::from_millis(at),
            returned: returned.map(Duration::from_millis),
            text: text.into(),
        })
    };
    let exchange = [
        segment(0, false, "S", 0, 0, None),
        segment(0, true, "S.", 0, 0, Some(1)),
        segment(1, false, ".", 1, 0, Some(1)),
        call(1, None, "write(3, ..., 300) = 300"),
        segment(1, false, "P.", 1, 200, Some(1)),
        call(2, None, "ioctl(3, SIOCOUTQ, [300]) = 0"),
        call(2, None, "read(3, ..., 100) = -1 EAGAIN"),
        call(212, Some(2215), "close(3) = 0"),
        segment(600, true, ".", 1, 0, Some(201)),
    ];
    let script = packetdrill::script(&trace, &exchange);
    for line in [
        "// linger-check conformance trace: so-linger (covering CloseQueuesFin)",
        "//    1. our app closes",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
        "+0.000 > S 0:0(0) <...>",
        "+0.000 < S. 0:0(0) ack 1 win 100 <mss 100>",
        "+0.001 > . 1:1(0) ack 1",
        "+0.000 write(3, ..., 300) = 300",
        "+0.000 > P. 1:201(200) ack 1",
        "+0.001 ioctl(3, 21521 /* SIOCOUTQ */, [300]) = 0",
        "+0.000 read(3, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)",
        "+0.210...2.213 close(3) = 0",
        "+0.388 < . 1:1(0) ack 201 win 100",
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
        &["--conformance", "3", "--grid", "all"],
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
