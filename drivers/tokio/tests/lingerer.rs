//! A `Lingerer` managing real closes: pressure and reclaiming, graceful shutdown, the hook
//! and the counts.

use linger_io::profile::Profile;
use linger_tokio::{CloseReport, Ending, LingerStream, Lingerer, Policy, Release, SHORT_LINGER};
use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// The connections of every lingerer of a process give way together when one reclaims: the
/// tests of this file, which reclaim or watch their closes end, run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A listener and its address.
async fn listener() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    (listener, address)
}

/// Accepts one connection through `lingerer`, answers and drops the stream while the
/// client stays silent: a close that waits for the client's EOF. Returns the client.
async fn silent_client_close(lingerer: &Lingerer) -> std::net::TcpStream {
    let (listener, address) = listener().await;
    let client = std::net::TcpStream::connect(address).expect("connect");
    let (mut stream, peer) = lingerer.accept(&listener).await.expect("accept");
    assert_eq!(stream.peer_addr().expect("peer"), peer);
    stream.write_all(b"answer").await.expect("write");
    drop(stream);
    client
}

fn recording(builder: linger_tokio::LingererBuilder) -> (Lingerer, Arc<Mutex<Vec<CloseReport>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let lingerer = builder
        .on_outcome(move |report| sink.lock().expect("reports").push(*report))
        .build();
    (lingerer, reports)
}

#[tokio::test]
async fn at_capacity_the_oldest_close_is_reclaimed_and_none_is_refused() {
    let _serial = SERIAL.lock().await;
    let profile = Profile::detect().expect("loopback");
    let (lingerer, reports) = recording(Lingerer::builder(Policy::default()).capacity(4));
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(silent_client_close(&lingerer).await);
    }
    // The fifth close arrived at capacity: the oldest of the closes that stand alike
    // (everything acknowledged, the peer silent) was ended to make room.
    let deadline = Instant::now() + Duration::from_secs(2);
    while lingerer.counts().reclaimed == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let counts = lingerer.counts();
    assert_eq!((counts.reclaimed, counts.in_flight), (1, 4), "{counts:?}");
    let reclaimed = reports.lock().expect("reports")[0];
    assert_eq!(
        reclaimed.peer,
        clients[0].local_addr().ok(),
        "not the oldest"
    );
    assert!(reclaimed.reclaimed);
    // As a spent budget ends it, nothing unread: a plain close, acknowledged but perhaps for
    // our FIN at the last query, and said so.
    let acked = [
        Ending::AckedPeerOpen,
        Ending::TimedOut { unacked: Some(0) },
        Ending::TimedOut { unacked: Some(1) },
    ]
    .map(|ending| profile.ending(ending));
    assert!(
        acked.contains(&reclaimed.outcome.ending),
        "{}",
        reclaimed.outcome
    );
    assert_eq!(reclaimed.outcome.release, Release::Close);
    // The rest end at shutdown, each reported once.
    let started = Instant::now();
    let counts = lingerer.shutdown(Duration::from_millis(100)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown overran its bound"
    );
    assert_eq!((counts.ended(), counts.in_flight), (5, 0), "{counts:?}");
    assert_eq!(counts.reclaimed, 1, "shutdown is no reclaim");
    assert_eq!(reports.lock().expect("reports").len(), 5);
}

#[tokio::test]
async fn a_close_that_its_last_discard_round_ends_is_not_counted_reclaimed() {
    let _serial = SERIAL.lock().await;
    let (lingerer, reports) = recording(Lingerer::builder(Policy::default()));
    let client = silent_client_close(&lingerer).await;
    // The runtime has one thread and the close's task has not run since the drop: the
    // client's EOF waits unread in our socket when the close is reclaimed.
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("the client's EOF");
    assert_eq!(lingerer.reclaim(1).await, 1, "its descriptor is free");
    lingerer.finished().await;
    let report = reports.lock().expect("reports")[0];
    assert!(!report.reclaimed, "it ended by itself: {}", report.outcome);
    assert!(
        matches!(
            report.outcome.ending,
            Ending::Clean | Ending::Unknown { peer_eof: true }
        ),
        "{}",
        report.outcome
    );
    assert_eq!(lingerer.counts().reclaimed, 0);
}

/// A client whose receive buffer is too small for a large answer.
fn small_window_client(address: SocketAddr) -> std::net::TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&address.into()).expect("connect");
    socket.into()
}

/// A listener whose connections have room in the kernel for the whole of an answer of
/// `bytes` (accepted sockets take the listener's send buffer), and its address.
fn roomy_listener(bytes: usize) -> (tokio::net::TcpListener, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_send_buffer_size(bytes as u32)
        .expect("SO_SNDBUF");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let listener = socket.listen(16).expect("listen");
    let address = listener.local_addr().expect("address");
    (listener, address)
}

/// Accepts a connection through `lingerer`, so that its close knows its peer, and writes
/// `bytes` of a large answer, as much as goes in 100 ms; the stream and the count.
async fn answer_largely(
    lingerer: &Lingerer,
    listener: &tokio::net::TcpListener,
    bytes: usize,
) -> (LingerStream, usize) {
    let (mut stream, _) = lingerer.accept(listener).await.expect("accept");
    let answer = vec![b'a'; bytes];
    let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut written = 0;
    while written < bytes {
        match tokio::time::timeout_at(deadline, stream.write(&answer[written..])).await {
            Ok(Ok(n)) if n > 0 => written += n,
            _ => break,
        }
    }
    (stream, written)
}

/// Reads 1 KiB every 10 ms to EOF, for at most 20 s: a slow but honest client.
fn read_slowly(mut client: std::net::TcpStream) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 1024];
        let mut read = 0;
        while Instant::now() < deadline {
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => read += n,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        read
    })
}

/// Where acknowledgements show, closes give way by what they stand to lose: the silent
/// client's (everything acknowledged) first, then the zero-window client's, and the honest
/// slow reader's is spared. Where they cannot be observed, every close stands `Delivering`
/// and they give way oldest first: the slow reader's first, then the zero-window client's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclaim_spares_an_honest_slow_reader_where_acks_show_and_goes_oldest_first_where_not() {
    let _serial = SERIAL.lock().await;
    let profile = Profile::detect().expect("loopback");
    let (lingerer, reports) = recording(Lingerer::builder(Policy::default()));
    let (listener, address) = roomy_listener(256 << 10);
    // Oldest: a client reading a large answer slowly (100 KB/s: 2.6 s for all of it).
    let slow = small_window_client(address);
    let slow_peer = slow.local_addr().ok();
    let (stream, slow_written) = answer_largely(&lingerer, &listener, 256 << 10).await;
    drop(stream);
    let reader = read_slowly(slow);
    // Then a client that reads nothing of a large answer: a zero window.
    let zero_window = small_window_client(address);
    let zero_window_peer = zero_window.local_addr().ok();
    drop(answer_largely(&lingerer, &listener, 256 << 10).await);
    // Youngest: a short answer, acknowledged, the client silent.
    let silent = silent_client_close(&lingerer).await;
    let silent_peer = silent.local_addr().ok();
    // A send queue still for a second reads nothing.
    tokio::time::sleep(linger_io::pressure::STALLED_AFTER + Duration::from_millis(300)).await;

    // One at a time, each reported before the next: the order they give way in.
    for reclaimed in 1..=2 {
        assert_eq!(lingerer.reclaim(1).await, 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while reports.lock().expect("reports").len() < reclaimed && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert_eq!(lingerer.counts().in_flight, 1, "{:?}", lingerer.counts());
    let ended: Vec<CloseReport> = reports.lock().expect("reports").clone();
    let peers: Vec<_> = ended.iter().map(|report| report.peer).collect();
    assert!(ended.iter().all(|report| report.reclaimed));
    assert_eq!(lingerer.counts().reclaimed, 2);
    let read = tokio::task::spawn_blocking(move || reader.join().expect("reader"));
    if !profile.observes_acks() {
        // No figure tells who reads: the oldest first, the slow reader's close among them.
        assert_eq!(peers, [slow_peer, zero_window_peer], "not the oldest first");
        assert!(ended.iter().all(|report| !report.outcome.claims_delivery()));
        // Nothing unread: a plain close, which leaves what is queued to the kernel.
        let slow_close = ended[0].outcome;
        assert_eq!(slow_close.release, Release::Close, "{slow_close}");
        let read = read.await.expect("reader");
        println!(
            "the slow reader's close, reclaimed first: {slow_close}; it read {read} of {slow_written}"
        );
        drop((zero_window, silent));
        return;
    }
    // The acknowledged close first, then the zero-window one: the slow reader's is spared.
    assert_eq!(
        peers,
        [silent_peer, zero_window_peer],
        "not in the order they give way"
    );
    assert_eq!(
        ended[0].outcome.release,
        Release::Close,
        "{}",
        ended[0].outcome
    );
    // The zero-window client got little of its answer: the outcome says so.
    assert!(
        matches!(ended[1].outcome.ending, Ending::TimedOut { unacked: Some(n) } if n > 100_000),
        "{}",
        ended[1].outcome
    );
    assert!(!ended[1].outcome.claims_delivery());

    // The slow reader was spared: it gets every byte, and its close claims delivery.
    assert_eq!(read.await.expect("reader"), slow_written);
    tokio::time::timeout(Duration::from_secs(10), lingerer.finished())
        .await
        .expect("the slow close ended");
    let last = reports.lock().expect("reports")[2];
    assert!(
        last.outcome.claims_delivery() && !last.reclaimed,
        "{}",
        last.outcome
    );
    drop(zero_window);
}

#[tokio::test]
async fn past_three_quarters_the_oldest_close_gets_the_short_linger() {
    let _serial = SERIAL.lock().await;
    let policy = Policy::builder()
        .linger_budget(Duration::from_secs(20))
        .idle_timeout(Duration::from_secs(20))
        .build()
        .expect("policy");
    let lingerer = Lingerer::builder(policy).capacity(4).build();
    let mut clients = Vec::new();
    let started = Instant::now();
    for _ in 0..4 {
        clients.push(silent_client_close(&lingerer).await);
    }
    // Three were in flight when the fourth arrived: the first has SHORT_LINGER left.
    let deadline = started + SHORT_LINGER + Duration::from_secs(2);
    while lingerer.counts().ended() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = lingerer.counts();
    assert_eq!((counts.ended(), counts.in_flight), (1, 3), "{counts:?}");
    assert!(started.elapsed() >= SHORT_LINGER - Duration::from_millis(100));
    lingerer.abort_all();
    lingerer.finished().await;
    assert_eq!(lingerer.counts().aborted, 3);
}

#[tokio::test]
async fn finished_resolves_at_once_when_nothing_waits() {
    let _serial = SERIAL.lock().await;
    let lingerer = Lingerer::new(Policy::default());
    tokio::time::timeout(Duration::from_millis(100), lingerer.finished())
        .await
        .expect("finished waited for nothing");
}

#[tokio::test]
async fn finished_waits_for_a_stream_not_yet_dropped_then_for_its_close() {
    let _serial = SERIAL.lock().await;
    let profile = Profile::detect().expect("loopback");
    let (lingerer, reports) = recording(Lingerer::builder(Policy::default()));
    let (listener, address) = listener().await;
    let client = std::net::TcpStream::connect(address).expect("connect");
    let (mut stream, _) = lingerer.accept(&listener).await.expect("accept");
    stream.write_all(b"answer").await.expect("write");
    let waiting = lingerer.clone();
    let finished = tokio::spawn(async move { waiting.finished().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !finished.is_finished(),
        "finished before the stream was dropped"
    );
    // The framework lets go of the stream: its close waits for the client's EOF.
    drop(stream);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!finished.is_finished(), "finished before the close ended");
    let reader = tokio::task::spawn_blocking(move || {
        let mut client = client;
        std::io::Read::read_to_end(&mut client, &mut Vec::new())
    });
    assert_eq!(reader.await.expect("reader").expect("read"), 6);
    tokio::time::timeout(Duration::from_secs(5), finished)
        .await
        .expect("the close did not end")
        .expect("finished");
    let report = reports.lock().expect("reports")[0];
    assert_eq!(
        report.outcome.ending,
        profile.ending(Ending::Clean),
        "{}",
        report.outcome
    );
}

#[tokio::test]
async fn a_plain_stream_handed_over_is_counted_with_the_rest() {
    let _serial = SERIAL.lock().await;
    let (lingerer, reports) = recording(Lingerer::builder(Policy::default()));
    let (listener, address) = listener().await;
    let client = std::net::TcpStream::connect(address).expect("connect");
    let (mut stream, _) = listener.accept().await.expect("accept");
    stream.write_all(&[b'x'; 3000]).await.expect("write");
    lingerer.adopt(stream);
    let reader = tokio::task::spawn_blocking(move || {
        let mut client = client;
        let mut answer = Vec::new();
        std::io::Read::read_to_end(&mut client, &mut answer).map(|_| answer.len())
    });
    assert_eq!(reader.await.expect("reader").expect("read"), 3000);
    tokio::time::timeout(Duration::from_secs(5), lingerer.finished())
        .await
        .expect("the close did not end");
    let report = reports.lock().expect("reports")[0];
    let profile = Profile::detect().expect("loopback");
    assert_eq!(
        report.outcome.ending,
        profile.ending(Ending::Clean),
        "{}",
        report.outcome
    );
    // The kernel counted what was written before the handover, where it counts.
    assert_eq!(
        report.outcome.bytes_written,
        profile.written_before_handover(3000),
        "{}",
        report.outcome
    );
}

#[cfg(feature = "tracing")]
mod tracing_events {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// Counts the events with target `linger`.
    struct CountLinger(Arc<AtomicUsize>);

    impl Subscriber for CountLinger {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            if event.metadata().target() == "linger" {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn every_close_is_one_tracing_event() {
        let seen = Arc::new(AtomicUsize::new(0));
        let subscriber = CountLinger(Arc::clone(&seen));
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let lingerer = Lingerer::new(Policy::default());
                let client = silent_client_close(&lingerer).await;
                drop(client);
                lingerer.finished().await;
            });
        });
        assert_eq!(seen.load(Ordering::Relaxed), 1);
    }
}

#[test]
fn a_lingerer_closes_under_the_policy_it_was_built_with() {
    let policy = Policy::builder()
        .linger_budget(Duration::from_secs(7))
        .build()
        .expect("valid policy");
    assert_eq!(Lingerer::new(policy).policy(), &policy);
}

#[test]
fn a_lingerer_and_its_builder_debug_as_their_settings() {
    let lingerer = Lingerer::builder(Policy::default()).capacity(4).build();
    let debug = format!("{lingerer:?}");
    for field in ["Lingerer", "policy", "capacity: 4", "counts"] {
        assert!(debug.contains(field), "{field} missing from {debug}");
    }
    let builder = format!("{:?}", Lingerer::builder(Policy::default()).capacity(4));
    for field in ["LingererBuilder", "policy", "capacity: 4", "hook: false"] {
        assert!(builder.contains(field), "{field} missing from {builder}");
    }
}
