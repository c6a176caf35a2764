//! An axum server that answers uploads early, run on a plain `TcpListener` (hyper resets the
//! client) or on a `LingerListener` (the client gets the whole answer): the Rust HTTP
//! stack's case of the seed's loss. The server runs on a runtime and thread of its own, so
//! that blocking clients (curl, Python, a browser) can be driven from the test.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use linger::Policy;
use linger_tokio::{Counts, LingerListener, Lingerer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::Notify;

/// Bytes of the early `413`'s body.
pub const EARLY_BODY: usize = 1 << 20;
/// The request body `/limited` accepts; axum answers `413` above it.
pub const BODY_LIMIT: usize = 64 << 10;
/// How long graceful shutdown leaves the closes still lingering.
pub const SHUTDOWN_LINGER: Duration = linger_tokio::SHORT_LINGER;

/// How many uploads [`FETCH_PAGE`] makes.
pub const FETCHES: usize = 6;

/// A page whose script `fetch()`es a 20 MB `POST` to `/early` [`FETCHES`] times, then
/// `POST`s to `/report` one line per fetch: the status and the body's length, or the error.
pub const FETCH_PAGE: &str = r#"<!doctype html>
<title>early reply</title>
<script>
(async () => {
  const upload = new Uint8Array(20 * 1024 * 1024);
  const results = [];
  for (let run = 0; run < 6; run++) {
    try {
      const reply = await fetch('/early', { method: 'POST', body: upload });
      const body = await reply.arrayBuffer();
      results.push(reply.status + ' ' + body.byteLength);
    } catch (error) {
      results.push('error ' + error.name);
    }
  }
  await fetch('/report', { method: 'POST', body: results.join('\n') });
})();
</script>
"#;

/// Which listener the server accepts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listening {
    /// axum's own `tokio::net::TcpListener`: hyper's close.
    Plain,
    /// `linger_tokio::LingerListener` with `Policy::default()`: the lingering close.
    Linger,
}

impl Listening {
    /// Both, plain first.
    pub const BOTH: [Listening; 2] = [Listening::Plain, Listening::Linger];
}

/// The routes:
/// - `GET /`: `hello`;
/// - `POST /early`: once the upload has begun, `413` with [`EARLY_BODY`] bytes, the rest of
///   the upload unread (answered after the first bytes so the client is surely sending);
/// - `POST /early-stopping`: as `/early`, and the answer begins the server's graceful
///   shutdown (HTTP/2: the `GOAWAY` during an upload);
/// - `POST /limited`: behind `DefaultBodyLimit::max(BODY_LIMIT)`, axum's own `413`;
/// - `GET /peer`: the client's address from `ConnectInfo<SocketAddr>`;
/// - `GET /slow/{millis}`: `done`, that long after the request;
/// - `GET /page`: an HTML page whose script is given by the test;
/// - `POST /report`: what that script reports, kept for [`Server::reports`].
pub fn app(page: &'static str, reports: Reports, shutdown: Shutdown) -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/early", post(early_reply))
        .route(
            "/early-stopping",
            post(move |body: Body| async move {
                shutdown.begin();
                early_reply(body).await
            }),
        )
        .route(
            "/limited",
            post(|body: Bytes| async move { format!("{} bytes", body.len()) })
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow/{millis}",
            get(|Path(millis): Path<u64>| async move {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                "done"
            }),
        )
        .route(
            "/page",
            get(move || async move { ([("content-type", "text/html")], page) }),
        )
        .route(
            "/report",
            post(move |report: String| async move {
                lock(&reports).push(report);
                "thanks"
            }),
        )
}

/// What pages reported to `/report`.
pub type Reports = Arc<Mutex<Vec<String>>>;

/// Begins a server's graceful shutdown: from the test, or from the app.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(Arc<Notify>);

impl Shutdown {
    /// Asks for the graceful shutdown (again: harmless).
    pub fn begin(&self) {
        self.0.notify_one();
    }

    /// Resolves once the shutdown was asked for.
    pub async fn begun(&self) {
        self.0.notified().await;
    }
}

fn lock(reports: &Reports) -> std::sync::MutexGuard<'_, Vec<String>> {
    reports
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn early_reply(body: Body) -> Response {
    let mut body = body;
    let _first_bytes = body.frame().await;
    let answer = Bytes::from(vec![b'x'; EARLY_BODY]);
    (StatusCode::PAYLOAD_TOO_LARGE, answer).into_response()
}

/// A server serving on a runtime and thread of its own until its graceful shutdown, then
/// waiting for its lingerer's last close before the runtime goes: what [`Server`] and the
/// servers of the other stacks (linger-stacks) share. Stopped by [`stop`](Self::stop) or
/// when dropped.
pub struct Running {
    reports: Reports,
    shutdown: Shutdown,
    /// `None` on the stack's own close.
    lingerer: Option<Lingerer>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Runs `serving` on `runtime`, then awaits `lingerer` (`lingering`: whether the server
    /// closes through it). `reports` and `shutdown` are those of the server's app.
    pub fn spawn(
        runtime: tokio::runtime::Runtime,
        serving: impl Future<Output = ()> + Send + 'static,
        lingerer: Lingerer,
        lingering: bool,
        reports: Reports,
        shutdown: Shutdown,
    ) -> Running {
        let waiting = lingerer.clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                serving.await;
                // The closes still lingering end within the short linger, which the
                // server's listener or acceptor gave them when the server let go of it:
                // wait for them before the runtime goes.
                waiting.finished().await;
            });
        });
        Running {
            reports,
            shutdown,
            lingerer: lingering.then_some(lingerer),
            thread: Some(thread),
        }
    }

    /// What pages reported to `/report` so far.
    pub fn reports(&self) -> Vec<String> {
        lock(&self.reports).clone()
    }

    /// The lingerer's counts (`None` on the stack's own close).
    pub fn counts(&self) -> Option<Counts> {
        self.lingerer.as_ref().map(Lingerer::counts)
    }

    /// Graceful shutdown: stops accepting, lets the connections finish, waits for the last
    /// lingering close. Returns the final counts (`None` on the stack's own close).
    pub fn stop(mut self) -> Option<Counts> {
        self.shut_down();
        self.counts()
    }

    fn shut_down(&mut self) {
        self.shutdown.begin();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// [`app`] served by `axum::serve`, on axum's own listener or a `LingerListener`.
pub struct Server {
    /// Where it listens, on loopback.
    pub address: SocketAddr,
    running: Running,
}

impl Server {
    /// Starts [`app`] on `listening`, with `page` as `/page`'s HTML.
    pub fn start(listening: Listening, page: &'static str) -> Server {
        Server::start_with(listening, Lingerer::new(Policy::default()), page)
    }

    /// As [`start`](Self::start), the closes managed by `lingerer` (for `Linger`).
    pub fn start_with(listening: Listening, lingerer: Lingerer, page: &'static str) -> Server {
        let (runtime, listener, address) = super::server_runtime();
        let shutdown = Shutdown::default();
        let reports = Reports::default();
        let service = app(page, Arc::clone(&reports), shutdown.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let begun = shutdown.clone();
        let signal = async move { begun.begun().await };
        let linger = listening == Listening::Linger;
        let serving = {
            let lingerer = lingerer.clone();
            async move {
                let served = if linger {
                    let listener = LingerListener::with_lingerer(listener, lingerer);
                    axum::serve(listener.with_connect_info(), service)
                        .with_graceful_shutdown(signal)
                        .await
                } else {
                    axum::serve(listener, service)
                        .with_graceful_shutdown(signal)
                        .await
                };
                if let Err(error) = served {
                    eprintln!("axum::serve failed: {error}");
                }
            }
        };
        let running = Running::spawn(runtime, serving, lingerer, linger, reports, shutdown);
        Server { address, running }
    }

    /// `http://address/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// What pages reported to `/report` so far.
    pub fn reports(&self) -> Vec<String> {
        self.running.reports()
    }

    /// The lingerer's counts (`None` for the plain listener).
    pub fn counts(&self) -> Option<Counts> {
        self.running.counts()
    }

    /// Graceful shutdown, as [`Running::stop`].
    pub fn stop(self) -> Option<Counts> {
        self.running.stop()
    }
}
