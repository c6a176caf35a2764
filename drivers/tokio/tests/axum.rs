//! `axum::serve` on a `LingerListener` with `MakeHoldRequests`: each connection says which
//! requests it holds, so that a head that stops short is ended for its pace and an answer
//! streamed with pauses longer than the keep-alive timeout goes on, where the bytes alone
//! could tell neither; `ConnectInfo` still works.
#![cfg(feature = "axum")]

// The blocking clients; the hyper server there is not used here.
#[allow(dead_code)]
mod common;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::routing;
use common::{brisk, client, get, read_until};
use http_body_util::channel::Channel;
use hyper::body::Frame;
use linger_tokio::{CloseReport, Guard, LingerListener, Lingerer, MakeHoldRequests};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `GET /`: "ok"; `GET /stream`: three lines a second apart; `GET /peer`: the client's
/// address, where the service was made with `ConnectInfo`.
fn app() -> Router {
    Router::new()
        .route("/", routing::get(|| async { "ok" }))
        .route("/stream", routing::get(stream))
}

async fn stream() -> Body {
    let (mut sender, body) = Channel::<Bytes, Infallible>::new(1);
    tokio::spawn(async move {
        for line in 0..3 {
            if line > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let frame = Frame::data(Bytes::from(format!("line {line}\n")));
            if sender.send(frame).await.is_err() {
                return;
            }
        }
    });
    Body::new(body)
}

/// A `LingerListener` on loopback under the brisk policy whose reports are kept.
async fn listener() -> (LingerListener, Lingerer, Arc<Mutex<Vec<CloseReport>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let lingerer = Lingerer::builder(brisk())
        .on_outcome(move |report| sink.lock().expect("reports").push(*report))
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    (
        LingerListener::with_lingerer(listener, lingerer.clone()),
        lingerer,
        reports,
    )
}

async fn blocking<T: Send + 'static>(client: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(client).await.expect("client")
}

/// The first `count` reports, waiting up to 5 s for them.
async fn reported(reports: &Mutex<Vec<CloseReport>>, count: usize) -> Vec<CloseReport> {
    let started = Instant::now();
    while reports.lock().expect("reports").len() < count && started.elapsed() < secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    reports.lock().expect("reports").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_stops_short_is_ended_for_its_pace_and_a_request_is_answered() {
    let (listener, lingerer, reports) = listener().await;
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, MakeHoldRequests::new(app())).await });
    let answer = blocking(move || {
        let mut client = client(address, secs(5));
        get(&mut client, "/");
        read_until(&mut client, "ok").0
    })
    .await;
    assert!(answer.ends_with("ok"), "{answer:?}");
    let (waited, ended) = blocking(move || {
        let mut partial = client(address, secs(5));
        partial.write_all(b"GET / HTTP/1.1\r\n").expect("head");
        let started = Instant::now();
        let (_, ended) = read_until(&mut partial, "");
        (started.elapsed(), ended)
    })
    .await;
    assert!(ended, "the connection ended");
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    let reports = reported(&reports, 2).await;
    let guards: Vec<_> = reports.iter().map(|report| report.ended_by).collect();
    assert!(guards.contains(&Some(Guard::Pace)), "{reports:?}");
    assert_eq!(lingerer.counts().slow_requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_streamed_with_pauses_past_the_keep_alive_timeout_is_read_whole() {
    let (listener, lingerer, _) = listener().await;
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, MakeHoldRequests::new(app())).await });
    let answer = blocking(move || {
        let mut client = client(address, secs(5));
        get(&mut client, "/stream");
        read_until(&mut client, "line 2").0
    })
    .await;
    assert!(answer.contains("line 2"), "{answer:?}");
    assert_eq!(lingerer.counts().guarded(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_info_reaches_the_handler_through_make_hold_requests() {
    let (listener, _, _) = listener().await;
    let address = listener.local_addr().expect("address");
    let app = Router::new().route(
        "/peer",
        routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    );
    let make = MakeHoldRequests::new(app.into_make_service_with_connect_info::<SocketAddr>());
    tokio::spawn(async move { axum::serve(listener.with_connect_info(), make).await });
    let (answer, local) = blocking(move || {
        let mut client = client(address, secs(5));
        let local = client.local_addr().expect("address");
        get(&mut client, "/peer");
        (read_until(&mut client, &local.to_string()).0, local)
    })
    .await;
    assert!(answer.ends_with(&local.to_string()), "{answer:?}");
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}
