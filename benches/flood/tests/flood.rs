//! Floods larger than the server's descriptor limit. Each server runs in a process of its
//! own (`flood-server`) whose soft descriptor limit is lowered to 256; 512 hostile clients,
//! each starting over when its connection dies, live in this process: uploaders that send
//! the head of a 1 GB upload, trickle 1 KiB every 2 s and never read (the flood of the
//! lingering closes), or a mix of connectors that send nothing, slowloris heads, slow bodies
//! and keep-alive idlers (the flood of live connections), against servers whose guards are
//! brisk. One flood at a time. Through the flood the server keeps accepting, answers every
//! well-behaved request (but one in twenty of the mix over TLS, whose handshakes take both
//! cores), delivers every early reply whole and, through the mix, serves every honest slow
//! client whole (an upload at 40 KB/s, a handler slower than every guard, a streamed answer,
//! an upgraded connection quiet for a while); once it stops every descriptor is released;
//! and every close that claimed delivery matches what its client's kernel received.
//!
//! `cargo test -p linger-flood --test flood -- --nocapture` prints each run's figures.

use linger_flood::clients::{self, Endpoint, Flood, FloodCounts, Hostile, Served};
use linger_flood::{ServerProcess, Status, TlsFiles};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The server's soft descriptor limit.
const LIMIT: u64 = 256;
/// Hostile connections: twice the limit.
const HOSTILE: usize = 512;
/// Well-behaved requests made during the flood, one every 20 ms.
const PROBES: usize = 40;
/// Well-behaved uploads during the flood, whose early answer must arrive whole.
const UPLOADS: usize = 3;
/// Bytes each well-behaved upload sends.
const UPLOAD: usize = 1 << 20;

/// Guards far briefer than the defaults, so that the mix churns within the test: nothing
/// sent 1 s after the accept, a request below 500 B/s past 1 s, idle 3 s after an answer,
/// a write held back 3 s. The slowloris heads and slow bodies send a byte every 5 s, past
/// their credit at the second byte.
const BRISK_GUARDS: [&str; 8] = [
    "--first-byte-timeout",
    "1000",
    "--min-receive-rate",
    "500/1000",
    "--keep-alive-timeout",
    "3000",
    "--send-timeout",
    "3000",
];
/// The honest upload: 120 KB at 40 KB/s, 3 s, eighty times the minimum pace.
const HONEST_UPLOAD: (usize, usize) = (120_000, 40_000);
/// The honest slow handler: 4 s, longer than any guard.
const HONEST_HANDLER: &str = "/slow/4000";
/// The honest stream: 8 lines 400 ms apart, 2.8 s.
const HONEST_STREAM: (u64, u64) = (8, 400);
/// How long the honest upgraded connection stays quiet: past the first-byte timeout and the
/// pace's grace, within the keep-alive timeout.
const HONEST_QUIET: Duration = Duration::from_secs(2);

/// Held by the flood running.
static FLOODING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts `kind` under the lowered limit, with `extra` arguments, reporting every close.
fn start(kind: &str, extra: &[&str]) -> ServerProcess {
    let mut args: Vec<String> = ["--server", kind, "--report-closes", "--nofile"]
        .iter()
        .map(ToString::to_string)
        .collect();
    args.push(LIMIT.to_string());
    args.extend(extra.iter().map(ToString::to_string));
    let binary = Path::new(env!("CARGO_BIN_EXE_flood-server"));
    ServerProcess::start(binary, &args).expect("flood-server starts")
}

/// What one flood showed.
struct Run {
    baseline: Status,
    during: Status,
    after: Status,
    probes: clients::Probes,
    whole_replies: usize,
    /// What each honest slow client got, by name (none for a flood of uploaders).
    honest: Vec<(&'static str, Served)>,
    flood: std::sync::Arc<FloodCounts>,
    /// Closes that claimed delivery and were checked against their client, and those among
    /// them whose client had received less than was written.
    claims_checked: usize,
    claims_false: Vec<String>,
}

/// Floods `server`, reached at `endpoint`, with `HOSTILE` clients of kind `hostile`,
/// measures it (with the honest slow clients beside, through a mix), stops the flood and
/// waits for its descriptors to come back.
fn flood(mut server: ServerProcess, endpoint: &Endpoint, hostile: Hostile) -> Run {
    // One flood at a time: two at once on a machine of two cores measure the machine.
    let _alone = FLOODING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let baseline = server.status().expect("status");
    let runtime = linger_check::sockets::server_runtime().0;
    let flood = runtime.block_on(async { Flood::start(endpoint, hostile, HOSTILE) });
    // Within seconds, more connections accepted than the server may open descriptors, and
    // uploaders starting over once the server let their connections go: the flood in its
    // steady state. A server that stopped accepting never gets there (the lingering closes
    // of the first uploaders would hold every descriptor for their 30 s).
    let steady = Instant::now() + Duration::from_secs(10);
    while flood.counts().connected.load(Ordering::Relaxed) <= HOSTILE as u64
        && Instant::now() < steady
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let during = server
        .status_when(steady.saturating_duration_since(Instant::now()), |status| {
            status.get("accepted") > LIMIT + 64
        })
        .expect("status");
    let honest =
        (hostile == Hostile::Mix).then(|| runtime.spawn(honest_slow_clients(endpoint.clone())));
    let deadline = Instant::now() + Duration::from_secs(10);
    let probes = runtime.block_on(clients::probe(
        endpoint,
        Duration::from_millis(20),
        Duration::from_secs(5),
        PROBES,
        deadline,
    ));
    let whole_replies = runtime.block_on(async {
        let uploads = (0..UPLOADS).map(|_| {
            tokio::spawn(clients::early_reply(
                endpoint.clone(),
                UPLOAD,
                Duration::from_secs(10),
            ))
        });
        let mut whole = 0;
        for upload in uploads.collect::<Vec<_>>() {
            whole += usize::from(upload.await.is_ok_and(|reply| reply.whole()));
        }
        whole
    });
    let honest = honest.map_or_else(Vec::new, |honest| {
        runtime.block_on(honest).expect("the honest slow clients")
    });
    let during = server.status().unwrap_or(during);
    let flood = runtime.block_on(flood.stop());
    let after = server
        .status_when(Duration::from_secs(20), |status| {
            status.get("in_flight") == 0 && status.get("fds") <= baseline.get("fds")
        })
        .expect("status");
    let (claims_checked, claims_false) = check_claims(&server, &flood);
    println!(
        "before {:?}\nduring {:?}\nafter {:?}\nflood: {} connected, {} refused\n\
         probes: {} of {} answered, p99 {:?}; early replies whole: {whole_replies} of {UPLOADS}\n\
         honest slow clients: {honest:?}\n\
         by kind: {:?}\n\
         claims of delivery checked against the client: {claims_checked}",
        baseline.0,
        during.0,
        after.0,
        flood.connected.load(Ordering::Relaxed),
        flood.refused.load(Ordering::Relaxed),
        probes.answered.len(),
        probes.attempts(),
        probes.percentile(99.0),
        flood.by_kind(),
    );
    drop(server.stop());
    Run {
        baseline,
        during,
        after,
        probes,
        whole_replies,
        honest,
        flood,
        claims_checked,
        claims_false,
    }
}

/// Every close the server said delivered, whose client is known without doubt (one
/// connection from its address), against what that client's kernel received: the count
/// checked, and the claims found false.
fn check_claims(server: &ServerProcess, flood: &FloodCounts) -> (usize, Vec<String>) {
    let ended = flood
        .ended
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let closes = server.closes();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for close in closes.iter().filter(|close| close.claims) {
        let (Some(Some(client)), Some(written)) = (ended.get(&close.peer), close.written) else {
            continue;
        };
        checked += 1;
        if client.received != written {
            wrong.push(format!(
                "{}: {}, the client received {}",
                close.peer, close.outcome, client.received
            ));
        }
    }
    (checked, wrong)
}

/// The honest slow clients, side by side: an upload at a pace, a handler slower than every
/// guard, a streamed answer, an upgraded connection quiet for a while; what each got.
async fn honest_slow_clients(server: Endpoint) -> Vec<(&'static str, Served)> {
    let (bytes, pace) = HONEST_UPLOAD;
    let (lines, apart) = HONEST_STREAM;
    let stream = format!("/stream/{lines}/{apart}");
    let every_line: Vec<String> = (0..lines).map(|line| format!("line {line}\n")).collect();
    let done = ["done".to_string()];
    let (upload, handler, streamed, upgraded) = tokio::join!(
        clients::upload_at_pace(&server, bytes, pace),
        clients::get_to_the_end(&server, HONEST_HANDLER, &done),
        clients::get_to_the_end(&server, &stream, &every_line),
        clients::upgraded_quiet_then_used(&server, HONEST_QUIET),
    );
    vec![
        ("an upload at 40 KB/s", upload),
        ("a handler of 4 s", handler),
        ("a streamed answer", streamed),
        ("an upgraded connection quiet for 2 s", upgraded),
    ]
}

/// What every flood must show, `lost` well-behaved requests at most going unanswered.
fn assert_survived(run: &Run, lost: usize) {
    assert!(
        run.during.get("accepted") > LIMIT,
        "accepted no more than the limit"
    );
    assert!(
        run.probes.answered.len() + lost >= PROBES,
        "well-behaved requests unanswered: {:?}",
        run.probes.failures
    );
    assert_eq!(run.whole_replies, UPLOADS, "early replies cut short");
    let connected = run.flood.connected.load(Ordering::Relaxed);
    assert!(
        connected > HOSTILE as u64,
        "the hostile clients never started over"
    );
    assert_eq!(run.after.get("in_flight"), 0, "closes still lingering");
    assert!(
        run.after.get("fds") <= run.baseline.get("fds"),
        "descriptors leaked: {} before the flood, {} after",
        run.baseline.get("fds"),
        run.after.get("fds")
    );
    assert!(
        run.claims_false.is_empty(),
        "false claims: {:?}",
        run.claims_false
    );
    assert!(
        run.claims_checked > 0,
        "no claim of delivery could be checked"
    );
}

/// Floods `server` with uploaders that never read.
fn flood_with_uploaders(server: ServerProcess) -> Run {
    let endpoint = Endpoint::plain(server.address);
    flood(server, &endpoint, Hostile::Uploader)
}

/// Floods `kind` with its lingerer's default capacity, half the limit: it survives, holds at
/// most that many closes (plus `slack`: closes a runtime counts before pressure has run), and
/// makes room by reclaiming.
fn survives_within_its_default_capacity(kind: &str, slack: u64) {
    let run = flood_with_uploaders(start(kind, &[]));
    assert_survived(&run, 0);
    assert_eq!(run.baseline.get("capacity"), LIMIT / 2);
    assert!(
        run.during.get("in_flight") <= LIMIT / 2 + slack,
        "{:?}",
        run.during
    );
    assert!(run.during.get("reclaimed") > 0, "{:?}", run.during);
}

/// Floods `kind` with a capacity past its descriptors, so that pressure never engages: only
/// accept's `EMFILE` can make room, and it does.
fn survives_reclaiming_on_emfile(kind: &str) {
    let run = flood_with_uploaders(start(kind, &["--capacity", "100000"]));
    assert_survived(&run, 0);
    assert!(run.during.get("reclaimed") > 0, "{:?}", run.during);
}

#[test]
fn axum_on_a_linger_listener_keeps_answering_through_a_flood_past_its_descriptor_limit() {
    survives_within_its_default_capacity("axum-linger", 32);
}

#[test]
fn a_linger_listener_whose_capacity_exceeds_the_descriptors_reclaims_when_accept_fails() {
    survives_reclaiming_on_emfile("axum-linger");
}

#[test]
fn hyper_accepting_through_a_lingerer_keeps_answering_through_a_flood_past_its_descriptor_limit() {
    survives_within_its_default_capacity("hyper-linger", 32);
}

#[test]
fn hyper_accepting_through_a_lingerer_of_more_capacity_than_descriptors_reclaims_on_emfile() {
    survives_reclaiming_on_emfile("hyper-linger");
}

#[test]
fn a_mio_loop_keeps_answering_through_a_flood_past_its_descriptor_limit() {
    survives_within_its_default_capacity("mio", 0);
}

#[test]
fn a_mio_loop_whose_capacity_exceeds_the_descriptors_reclaims_when_accept_fails() {
    survives_reclaiming_on_emfile("mio");
}

#[test]
fn threads_closing_with_linger_std_stay_within_their_shared_bound_through_a_flood() {
    let run = flood_with_uploaders(start("std", &[]));
    assert_survived(&run, 0);
    assert_eq!(run.baseline.get("capacity"), LIMIT / 2);
    assert!(
        run.during.get("in_flight") <= LIMIT / 2 + 8,
        "{:?}",
        run.during
    );
}

/// Floods `kind`, its guards brisk, with a mix of connectors that send nothing, slowloris
/// heads, slow bodies and keep-alive idlers, over TLS with `tls`: it survives as every flood
/// must, serves each honest slow client whole, and ends more hostile connections than it has
/// descriptors.
fn serves_honest_slow_clients_through_a_mixed_flood(kind: &str, tls: Option<TlsFiles>) {
    let mut args = BRISK_GUARDS.to_vec();
    let tls_args = tls.as_ref().map(TlsFiles::args).unwrap_or_default();
    args.extend(tls_args.iter().map(String::as_str));
    let server = start(kind, &args);
    let endpoint = match &tls {
        Some(tls) => tls.endpoint(server.address).expect("a TLS client"),
        None => Endpoint::plain(server.address),
    };
    let run = flood(server, &endpoint, Hostile::Mix);
    // One well-behaved request in twenty at most: over TLS, the flood's handshakes take both
    // cores, and a well-behaved client's, its server flight written and the client's last
    // one not yet read, stands idle (docs/http.md, "Under attack").
    assert_survived(&run, PROBES / 20);
    for (client, served) in &run.honest {
        assert!(
            served.whole,
            "{client} was not served whole: {:?}",
            served.seen
        );
    }
    assert_eq!(run.honest.len(), 4);
    // Twice as many as the descriptors: reclaims end them, mostly before a guard is due (the
    // guards are tested on their own in linger-tokio's life tests), and a slow body answered
    // early lingers last of all, behind every live connection that may give way.
    let dropped: u64 = run
        .flood
        .by_kind()
        .iter()
        .map(|(_, lives)| lives.dropped)
        .sum();
    assert!(dropped > HOSTILE as u64, "{:?}", run.flood.by_kind());
    assert!(run.during.get("reclaimed") > 0, "{:?}", run.during);
}

#[test]
fn axum_on_a_linger_listener_serves_honest_slow_clients_through_a_mixed_flood() {
    serves_honest_slow_clients_through_a_mixed_flood("axum-linger", None);
}

#[test]
fn hyper_accepting_through_a_lingerer_serves_honest_slow_clients_through_a_mixed_flood() {
    serves_honest_slow_clients_through_a_mixed_flood("hyper-linger", None);
}

#[test]
fn axum_server_over_tls_serves_honest_slow_clients_through_a_mixed_flood() {
    let tls = TlsFiles::create(&std::env::temp_dir()).expect("a certificate");
    serves_honest_slow_clients_through_a_mixed_flood("axum-server-tls", Some(tls));
}
