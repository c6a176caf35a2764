//! Each HTTPS stack serving the early-`413` app on loopback, on a runtime and thread of its
//! own, with its own close or through linger; stopped gracefully.

use super::Identity;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use linger_check::sockets::axum::{EARLY_BODY, Listening, Reports, Running, Shutdown, app};
use linger_tokio::{Counts, LingerAcceptor, Lingerer, Policy, SHORT_LINGER};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpListener;

/// How long a graceful shutdown lets connections finish.
const GRACE: Duration = Duration::from_secs(5);

/// An HTTPS server stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// axum-server, `RustlsAcceptor::new(config).acceptor(LingerAcceptor::new(policy))`.
    AxumServerRustls,
    /// axum-server, `OpenSSLAcceptor::new(config).acceptor(LingerAcceptor::new(policy))`.
    AxumServerOpenssl,
    /// tokio-rustls's `TlsAcceptor` over the stream a `Lingerer` accepts, in a hyper-util
    /// loop.
    HyperRustls,
    /// poem, `LingerListener::new(TcpListener::bind(addr), policy).rustls(config)`.
    Poem,
    /// salvo, `RustlsListener::new(config, LingerListener::new(TcpListener::new(addr), policy))`.
    Salvo,
}

impl Stack {
    /// Every stack.
    pub const ALL: [Stack; 5] = [
        Stack::AxumServerRustls,
        Stack::AxumServerOpenssl,
        Stack::HyperRustls,
        Stack::Poem,
        Stack::Salvo,
    ];
}

/// A server's future, until it has stopped.
type Serving = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running HTTPS server; stopped gracefully by [`stop`](Self::stop) or when dropped.
pub struct Https {
    /// Where it listens, on loopback.
    pub address: SocketAddr,
    certificate: String,
    running: Running,
}

impl Https {
    /// Starts `stack` on `listening`, with `page` as `/page`'s HTML (axum-server and hyper
    /// serve the whole app of `linger_check::sockets::axum`; poem `POST /early` and
    /// `GET /peer`, salvo `POST /early`).
    pub fn start(stack: Stack, listening: Listening, page: &'static str) -> Https {
        Https::start_with(stack, listening, Lingerer::new(Policy::default()), page)
    }

    /// As [`start`](Self::start), the closes managed by `lingerer` (for `Linger`).
    pub fn start_with(
        stack: Stack,
        listening: Listening,
        lingerer: Lingerer,
        page: &'static str,
    ) -> Https {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let lingering = listening == Listening::Linger;
        let linger = lingering.then(|| lingerer.clone());
        let identity = Identity::generate();
        let reports = Reports::default();
        let shutdown = Shutdown::default();
        let begun = shutdown.clone();
        let stopped = async move { begun.begun().await };
        let app = app(page, Arc::clone(&reports), shutdown.clone());
        let (address, serving) = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            match stack {
                Stack::AxumServerRustls | Stack::AxumServerOpenssl => {
                    axum_server(stack, listener, linger, &identity, app, stopped).await
                }
                Stack::HyperRustls => hyper(listener, linger, &identity, app, stopped),
                Stack::Poem => poem(linger, &identity, stopped).await,
                Stack::Salvo => salvo(linger, &identity, stopped).await,
            }
        });
        let running = Running::spawn(runtime, serving, lingerer, lingering, reports, shutdown);
        Https {
            address,
            certificate: identity.cert,
            running,
        }
    }

    /// `https://address/path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    /// Its certificate, in PEM: self-signed, for `localhost` and `127.0.0.1`.
    pub fn certificate(&self) -> &str {
        &self.certificate
    }

    /// What pages reported to `/report` so far.
    pub fn reports(&self) -> Vec<String> {
        self.running.reports()
    }

    /// The lingerer's counts (`None` for the stack's own close).
    pub fn counts(&self) -> Option<Counts> {
        self.running.counts()
    }

    /// Graceful shutdown, as `Running::stop`: stops accepting, lets the connections finish,
    /// waits for the last lingering close.
    pub fn stop(self) -> Option<Counts> {
        self.running.stop()
    }
}

/// axum-server with rustls or OpenSSL, its `LingerAcceptor` beneath the TLS acceptor.
async fn axum_server(
    stack: Stack,
    listener: TcpListener,
    linger: Option<Lingerer>,
    identity: &Identity,
    app: Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> (SocketAddr, Serving) {
    use axum_server::tls_openssl::{OpenSSLAcceptor, OpenSSLConfig};
    use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
    let address = listener.local_addr().expect("address");
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        stopped.await;
        stopping.graceful_shutdown(Some(GRACE));
    });
    let server = axum_server::Server::from_listener(listener).handle(handle);
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let (cert, key) = (identity.cert.as_bytes(), identity.key.as_bytes());
    let openssl = || OpenSSLAcceptor::new(OpenSSLConfig::from_pem(cert, key).expect("openssl"));
    let rustls = RustlsConfig::from_pem(cert.to_vec(), key.to_vec());
    let rustls = RustlsAcceptor::new(rustls.await.expect("rustls"));
    let serving: Serving = match (stack, linger.map(LingerAcceptor::with_lingerer)) {
        (Stack::AxumServerOpenssl, Some(linger)) => Box::pin(ended(
            server.acceptor(openssl().acceptor(linger)).serve(service),
        )),
        (Stack::AxumServerOpenssl, None) => {
            Box::pin(ended(server.acceptor(openssl()).serve(service)))
        }
        (_, Some(linger)) => Box::pin(ended(
            server.acceptor(rustls.acceptor(linger)).serve(service),
        )),
        (_, None) => Box::pin(ended(server.acceptor(rustls).serve(service))),
    };
    (address, serving)
}

/// Awaits a server, printing how it failed if it did.
async fn ended<E: std::fmt::Display>(served: impl Future<Output = Result<(), E>>) {
    if let Err(error) = served.await {
        eprintln!("the server failed: {error}");
    }
}

/// tokio-rustls in a hyper-util loop: accept (through the lingerer, or not), the TLS
/// handshake over the stream, hyper-util's automatic HTTP/1 or HTTP/2.
fn hyper(
    listener: TcpListener,
    linger: Option<Lingerer>,
    identity: &Identity,
    app: Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> (SocketAddr, Serving) {
    let address = listener.local_addr().expect("address");
    let tls = tokio_rustls::TlsAcceptor::from(identity.rustls());
    let serving = async move {
        let graceful = GracefulShutdown::new();
        let (stopping, handshakes_end) = tokio::sync::watch::channel(false);
        let mut stopped = std::pin::pin!(stopped);
        let through_linger = linger.is_some();
        let lingerer = linger.unwrap_or_else(|| Lingerer::new(Policy::default()));
        loop {
            let (tls, app, watcher) = (tls.clone(), app.clone(), graceful.watcher());
            let handshakes_end = handshakes_end.clone();
            tokio::select! {
                Ok((stream, _)) = lingerer.accept(&listener), if through_linger => {
                    tokio::spawn(serve_stream(stream, tls, app, watcher, handshakes_end));
                }
                Ok((stream, _)) = listener.accept(), if !through_linger => {
                    tokio::spawn(serve_stream(stream, tls, app, watcher, handshakes_end));
                }
                () = &mut stopped => break,
            }
        }
        drop(listener);
        stopping.send_replace(true);
        lingerer.shorten_all(SHORT_LINGER);
        let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
    };
    (address, Box::pin(serving))
}

/// The TLS handshake over `stream` (given up at shutdown or after [`GRACE`]), then
/// hyper-util's automatic HTTP/1 or HTTP/2 until the connection ends or graceful shutdown has
/// finished it.
async fn serve_stream(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    tls: tokio_rustls::TlsAcceptor,
    app: Router,
    watcher: hyper_util::server::graceful::Watcher,
    mut handshakes_end: tokio::sync::watch::Receiver<bool>,
) {
    let stream = tokio::select! {
        handshake = tokio::time::timeout(GRACE, tls.accept(stream)) => match handshake {
            Ok(Ok(stream)) => stream,
            _ => return,
        },
        _ = handshakes_end.wait_for(|&ended| ended) => return,
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let _ = watcher.watch(connection).await;
}

/// poem: `POST /early` and `GET /peer`, on poem's rustls over a `LingerListener` (or poem's
/// `TcpListener`).
async fn poem(
    linger: Option<Lingerer>,
    identity: &Identity,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> (SocketAddr, Serving) {
    use poem::listener::{Acceptor, AcceptorExt, Listener, RustlsCertificate, RustlsConfig};
    let config = RustlsConfig::new().fallback(
        RustlsCertificate::new()
            .cert(identity.cert.clone())
            .key(identity.key.clone()),
    );
    let tcp = poem::listener::TcpListener::bind("127.0.0.1:0");
    let mut acceptor = match linger {
        Some(lingerer) => linger_tokio::LingerListener::with_lingerer(tcp, lingerer)
            .rustls(config)
            .into_acceptor()
            .await
            .expect("bind")
            .boxed(),
        None => tcp
            .rustls(config)
            .into_acceptor()
            .await
            .expect("bind")
            .boxed(),
    };
    // poem's RustlsAcceptor loads its configuration in its first `accept`, racing the first
    // connection: when both are ready, it may take the connection first and drop it ("no
    // valid tls config", the client's handshake ends in EOF). One poll, before any client
    // knows the address, loads it; the accept itself is cancelled unfinished.
    let _no_client_yet = tokio::time::timeout(Duration::ZERO, acceptor.accept()).await;
    let address = *acceptor.local_addr()[0]
        .as_socket_addr()
        .expect("a socket address");
    let route = poem::Route::new()
        .at("/early", poem::post(poem_early))
        .at("/peer", poem::get(poem_peer));
    let server = poem::Server::new_with_acceptor(acceptor);
    let serving = async move {
        ended(server.run_with_graceful_shutdown(route, stopped, Some(GRACE))).await;
    };
    (address, Box::pin(serving))
}

/// `413` with [`EARLY_BODY`] bytes once the upload has begun; the rest is never read.
#[poem::handler]
async fn poem_early(body: poem::Body) -> poem::Response {
    let _first_bytes = body.into_async_read().read(&mut [0; 16 << 10]).await;
    poem::Response::builder()
        .status(poem::http::StatusCode::PAYLOAD_TOO_LARGE)
        .body(vec![b'x'; EARLY_BODY])
}

/// The client's address, as poem's `RemoteAddr` gives it.
#[poem::handler]
fn poem_peer(remote: &poem::web::RemoteAddr) -> String {
    remote
        .as_socket_addr()
        .map_or_else(|| remote.to_string(), ToString::to_string)
}

/// salvo: `POST /early`, on salvo's rustls over a `LingerListener` (or salvo's
/// `TcpListener`).
async fn salvo(
    linger: Option<Lingerer>,
    identity: &Identity,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> (SocketAddr, Serving) {
    use salvo::conn::TcpListener;
    use salvo::conn::rustls::{Keycert, RustlsConfig, RustlsListener};
    let config = RustlsConfig::new(
        Keycert::new()
            .cert(identity.cert.clone())
            .key(identity.key.clone()),
    );
    let tcp = TcpListener::new("127.0.0.1:0");
    match linger {
        Some(lingerer) => {
            let tcp = linger_tokio::LingerListener::with_lingerer(tcp, lingerer);
            serve_salvo(RustlsListener::new(config, tcp), stopped).await
        }
        None => serve_salvo(RustlsListener::new(config, tcp), stopped).await,
    }
}

/// Binds `listener` and serves salvo's `POST /early` on it until `stopped`.
async fn serve_salvo<L>(
    listener: L,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> (SocketAddr, Serving)
where
    L: salvo::conn::Listener + Send + 'static,
    L::Acceptor: 'static,
{
    use salvo::conn::Acceptor;
    let acceptor = listener.try_bind().await.expect("bind");
    let address = acceptor.holdings()[0]
        .local_addr
        .clone()
        .into_std()
        .expect("a socket address");
    let early = salvo::Router::with_path("early").post(salvo_early);
    let server = salvo::Server::new(acceptor);
    let handle = server.handle();
    tokio::spawn(async move {
        stopped.await;
        handle.stop_graceful(Some(GRACE));
    });
    let serving = async move {
        server.serve(salvo::Router::new().push(early)).await;
    };
    (address, Box::pin(serving))
}

/// `413` with [`EARLY_BODY`] bytes once the upload has begun; the rest is never read.
#[salvo::handler]
async fn salvo_early(request: &mut salvo::Request, response: &mut salvo::Response) {
    use http_body_util::BodyExt;
    let _first_bytes = request.body_mut().frame().await;
    response.status_code(salvo::http::StatusCode::PAYLOAD_TOO_LARGE);
    response.body(vec![b'x'; EARLY_BODY]);
}
