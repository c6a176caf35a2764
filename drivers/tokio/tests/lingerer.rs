//! A `Lingerer` managing real closes: pressure, graceful shutdown, the hook and the counts.

use linger_tokio::{CloseReport, Ending, Lingerer, Policy, Release, SHORT_LINGER};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

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
async fn at_capacity_the_oldest_close_is_aborted_and_none_is_refused() {
    let (lingerer, reports) = recording(Lingerer::builder(Policy::default()).capacity(4));
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(silent_client_close(&lingerer).await);
    }
    // The fifth close arrived at capacity: the oldest was aborted to make room.
    let deadline = Instant::now() + Duration::from_secs(2);
    while lingerer.counts().aborted == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let counts = lingerer.counts();
    assert_eq!((counts.aborted, counts.in_flight), (1, 4), "{counts:?}");
    let aborted = reports.lock().expect("reports")[0];
    assert_eq!(aborted.peer, clients[0].local_addr().ok(), "not the oldest");
    assert_eq!(aborted.outcome.release, Release::Abort);
    // The rest end at shutdown, each reported once.
    let started = Instant::now();
    let counts = lingerer.shutdown(Duration::from_millis(100)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown overran its bound"
    );
    assert_eq!((counts.ended(), counts.in_flight), (5, 0), "{counts:?}");
    assert_eq!(reports.lock().expect("reports").len(), 5);
}

#[tokio::test]
async fn past_three_quarters_the_oldest_close_gets_the_short_linger() {
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
    let lingerer = Lingerer::new(Policy::default());
    tokio::time::timeout(Duration::from_millis(100), lingerer.finished())
        .await
        .expect("finished waited for nothing");
}

#[tokio::test]
async fn finished_waits_for_a_stream_not_yet_dropped_then_for_its_close() {
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
    assert_eq!(report.outcome.ending, Ending::Clean, "{}", report.outcome);
}

#[tokio::test]
async fn a_plain_stream_handed_over_is_counted_with_the_rest() {
    let (lingerer, reports) = recording(Lingerer::builder(Policy::default()));
    let (listener, address) = listener().await;
    let client = std::net::TcpStream::connect(address).expect("connect");
    let (mut stream, _) = listener.accept().await.expect("accept");
    stream.write_all(&[b'x'; 3000]).await.expect("write");
    lingerer.close(stream);
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
    assert_eq!(report.outcome.ending, Ending::Clean, "{}", report.outcome);
    // The kernel counted what was written before the handover.
    assert_eq!(
        report.outcome.bytes_written,
        Some(3000),
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
