//! The servers a flood is aimed at, each run in a process of its own (the `flood-server`
//! binary) under a descriptor limit of its own: axum on its own listener, axum on a
//! `LingerListener`, hyper in an accept loop of `Lingerer::accept`, axum-server over TLS on a
//! `LingerAcceptor`, a mio event loop with a `linger_mio::Lingerer`, and a thread per
//! connection closing with `linger_std::close`. Every one answers `GET /` with `hello` and an
//! upload to `POST /` early, with `413` and a body, without reading the upload; the axum and
//! hyper ones serve the routes of the honest slow clients too (`crate::app`), and guard
//! their connections' life with the policy of [`Options`].
//!
//! The process talks on its standard streams: it prints `listening on ADDR`, then, for each
//! line `status` read, a [`Status`] line; with `--report-closes`, one line per close that
//! ended (`close PEER claims=0|1 written=N by=WHAT OUTCOME`, `WHAT` the guard that ended it,
//! `reclaimed`, or `-`); on `stop` or the end of its input it stops, prints a last status
//! line and exits.

use crate::{app, mio_server};
use axum::Router;
use axum::body::Bytes;
use axum::serve::ListenerExt;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use linger::{Guard, Outcome, Policy};
use linger_tokio::{
    CloseReport, HoldRequests, LingerAcceptor, LingerListener, Lingerer, MakeHoldRequests,
};
use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// axum on its own `TcpListener`: hyper's close.
    AxumPlain,
    /// axum on a `LingerListener`, each connection's service in `HoldRequests`
    /// (`MakeHoldRequests`, as the tokio README's production server has it).
    AxumLinger,
    /// axum's router served by hyper, in an accept loop of `lingerer.accept(&listener).await?`
    /// (README's hyper server), each connection's service in `HoldRequests`.
    HyperLinger,
    /// axum-server over TLS, `RustlsAcceptor::new(config).acceptor(LingerAcceptor::new(policy))`.
    AxumServerTls,
    /// A mio event loop closing through a `linger_mio::Lingerer`.
    Mio,
    /// A thread per connection closing with `linger_std::close`.
    Std,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::AxumPlain,
        Kind::AxumLinger,
        Kind::HyperLinger,
        Kind::AxumServerTls,
        Kind::Mio,
        Kind::Std,
    ];

    /// The kind named `name` on the command line.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::AxumPlain => "axum-plain",
            Kind::AxumLinger => "axum-linger",
            Kind::HyperLinger => "hyper-linger",
            Kind::AxumServerTls => "axum-server-tls",
            Kind::Mio => "mio",
            Kind::Std => "std",
        }
    }
}

/// How to run a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Which server.
    pub kind: Kind,
    /// Where it listens.
    pub listen: SocketAddr,
    /// The soft descriptor limit to set first.
    pub nofile: Option<u64>,
    /// The lingerer's capacity; its default (half the descriptor limit) if `None`.
    pub capacity: Option<usize>,
    /// Bytes of the early `413`'s body.
    pub body_bytes: usize,
    /// Print a line per close that ended.
    pub report_closes: bool,
    /// The axum servers answer `GET /` by reading a file.
    pub page_from_file: bool,
    /// The policy of the tokio servers' lingerer, guards included.
    pub policy: Policy,
    /// The certificate and its key (PEM files), for the TLS server.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// What the server did so far, as a status line says it.
#[derive(Debug, Default)]
pub struct Status {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Lingering closes under way.
    pub in_flight: AtomicUsize,
    /// Lingering closes that ended.
    pub ended: AtomicU64,
    /// Of those, how many were reclaimed to make room.
    pub reclaimed: AtomicU64,
    /// Of those, how many claimed delivery.
    pub claimed: AtomicU64,
    /// Live connections ended by each guard: no first byte, a request below the minimum
    /// pace, idle past the keep-alive timeout, a write held back past the send timeout.
    pub guarded: [AtomicU64; 4],
    /// The lingerer's capacity (0 for the plain server).
    pub capacity: AtomicUsize,
    stop: AtomicBool,
    report_closes: bool,
}

impl Status {
    /// Whether the server was asked to stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A close that ended: counted, and printed if asked.
    pub fn ended(&self, peer: Option<SocketAddr>, outcome: &Outcome) {
        self.record(peer, outcome, "-");
    }

    /// A close a lingerer reported: counted with what ended it, and printed if asked.
    fn reported(&self, report: &CloseReport) {
        self.closed(
            report.peer,
            &report.outcome,
            report.ended_by,
            report.reclaimed,
        );
    }

    /// A close that ended, ended by `guard` if one ended its connection, `reclaimed` if it
    /// gave way: counted, and printed if asked.
    pub fn closed(
        &self,
        peer: Option<SocketAddr>,
        outcome: &Outcome,
        guard: Option<Guard>,
        reclaimed: bool,
    ) {
        let by = match guard {
            Some(guard) => {
                self.guarded[GUARDS.iter().position(|&each| each == guard).unwrap_or(0)]
                    .fetch_add(1, Ordering::Relaxed);
                guard_name(guard)
            }
            None if reclaimed => "reclaimed",
            None => "-",
        };
        if reclaimed {
            self.reclaimed.fetch_add(1, Ordering::Relaxed);
        }
        self.record(peer, outcome, by);
    }

    fn record(&self, peer: Option<SocketAddr>, outcome: &Outcome, by: &str) {
        self.ended.fetch_add(1, Ordering::Relaxed);
        if outcome.claims_delivery() {
            self.claimed.fetch_add(1, Ordering::Relaxed);
        }
        if self.report_closes {
            let peer = peer.map_or_else(|| "?".into(), |peer| peer.to_string());
            let written = outcome
                .bytes_written
                .map_or_else(|| "?".into(), |bytes| bytes.to_string());
            let claims = u8::from(outcome.claims_delivery());
            println!("close {peer} claims={claims} written={written} by={by} {outcome}");
        }
    }

    /// The status line: `status fds=N accepted=N in_flight=N ended=N reclaimed=N claimed=N
    /// capacity=N first-byte=N pace=N keep-alive=N send=N` (the last four: live connections
    /// each guard ended).
    pub fn line(&self) -> String {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let guarded = GUARDS
            .iter()
            .zip(&self.guarded)
            .map(|(&guard, count)| format!(" {}={}", guard_name(guard), read(count)))
            .collect::<String>();
        format!(
            "status fds={} accepted={} in_flight={} ended={} reclaimed={} claimed={} capacity={}{guarded}",
            linger_check::sockets::open_fds(),
            read(&self.accepted),
            self.in_flight.load(Ordering::Relaxed),
            read(&self.ended),
            read(&self.reclaimed),
            read(&self.claimed),
            self.capacity.load(Ordering::Relaxed),
        )
    }
}

/// The guards, in the order of [`Status::guarded`].
const GUARDS: [Guard; 4] = [Guard::FirstByte, Guard::Pace, Guard::KeepAlive, Guard::Send];

/// A guard's name in a status or close line.
pub fn guard_name(guard: Guard) -> &'static str {
    match guard {
        Guard::FirstByte => "first-byte",
        Guard::Pace => "pace",
        Guard::KeepAlive => "keep-alive",
        Guard::Send => "send",
        // A guard a later core adds.
        _ => "guard",
    }
}

/// Runs the server `options` asks for until told to stop.
pub fn run(options: &Options) -> std::io::Result<()> {
    if let Some(soft) = options.nofile {
        set_descriptor_limit(soft).map_err(std::io::Error::other)?;
    }
    let status = Arc::new(Status {
        report_closes: options.report_closes,
        ..Status::default()
    });
    let listener = listen(options.listen)?;
    let address = listener.local_addr()?;
    let commands = Arc::clone(&status);
    std::thread::spawn(move || answer_commands(&commands));
    match options.kind {
        Kind::AxumPlain | Kind::AxumLinger | Kind::HyperLinger | Kind::AxumServerTls => {
            serve_axum(options, listener, &status)?;
        }
        Kind::Mio => mio_server::serve(options, listener, &status)?,
        Kind::Std => {
            status
                .capacity
                .store(linger_std::capacity(), Ordering::Relaxed);
            announce(address);
            serve_threads(options, listener, &status);
        }
    }
    println!("{}", status.line());
    println!("stopped");
    Ok(())
}

/// Prints a status line for each `status` read; on `stop` or the end of the input, asks
/// the server to stop.
fn answer_commands(status: &Status) {
    for line in std::io::stdin().lock().lines() {
        match line.as_deref() {
            Ok("status") => println!("{}", status.line()),
            Ok("stop") | Err(_) => break,
            Ok(_) => {}
        }
    }
    status.stop.store(true, Ordering::Relaxed);
}

/// Says the server at `address` is ready to serve: the first line it prints.
pub(crate) fn announce(address: SocketAddr) {
    println!("listening on {address}");
}

/// A non-blocking listener on `address` with room for 1,024 connections waiting (tokio's
/// and axum's; std's 128 would drop a flood's connections before any server saw them).
fn listen(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let domain = socket2::Domain::for_address(address);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Sets the soft `RLIMIT_NOFILE` to `soft`; the hard limit too where it is lower (which
/// takes root, as for the benchmark's 65,536 on a machine whose hard limit is 20,000).
fn set_descriptor_limit(soft: u64) -> Result<(), linger_io::limits::LimitError> {
    let hard = linger_io::limits::descriptor_limit().map_or(soft, |limit| limit.hard);
    let wanted = linger_io::limits::DescriptorLimit {
        soft,
        hard: hard.max(soft),
    };
    linger_io::limits::set_descriptor_limit(wanted)
}

/// The answer to a request whose head is `head`: `hello` to a `GET`, else the early `413`.
pub fn answer(head: &[u8], body_bytes: usize) -> Vec<u8> {
    if head.starts_with(b"GET ") {
        return b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello".to_vec();
    }
    let mut answer = format!(
        "HTTP/1.1 413 Payload Too Large\r\ncontent-length: {body_bytes}\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    answer.resize(answer.len() + body_bytes, b'x');
    answer
}

/// axum's router on its own listener, on a `LingerListener`, served by hyper in an accept
/// loop of `Lingerer::accept`, or by axum-server over TLS on a `LingerAcceptor`, on a runtime
/// of two workers.
fn serve_axum(
    options: &Options,
    listener: std::net::TcpListener,
    status: &Arc<Status>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let early = Bytes::from(vec![b'x'; options.body_bytes]);
    let page = options.page_from_file.then(HelloFile::create).transpose()?;
    let app = app::router(early, page.as_ref().map(|page| page.path.clone()));
    let tls = match (options.kind, &options.tls) {
        (Kind::AxumServerTls, Some((cert, key))) => Some(linger_stacks::Identity {
            cert: std::fs::read_to_string(cert)?,
            key: std::fs::read_to_string(key)?,
        }),
        (Kind::AxumServerTls, None) => {
            return Err(std::io::Error::other(
                "axum-server-tls needs --tls-cert and --tls-key",
            ));
        }
        _ => None,
    };
    let kind = options.kind;
    let (capacity, policy) = (options.capacity, options.policy);
    let status = Arc::clone(status);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let stopped = stop_signal(Arc::clone(&status));
        let address = listener.local_addr()?;
        if kind == Kind::AxumPlain {
            announce(address);
            return axum::serve(listener.tap_io(counting(&status)), app)
                .with_graceful_shutdown(stopped)
                .await;
        }
        let reports = Arc::clone(&status);
        let mut lingerer =
            Lingerer::builder(policy).on_outcome(move |report| reports.reported(report));
        if let Some(capacity) = capacity {
            lingerer = lingerer.capacity(capacity);
        }
        let lingerer = lingerer.build();
        status
            .capacity
            .store(lingerer.capacity(), Ordering::Relaxed);
        let watched = lingerer.clone();
        let watcher = Arc::clone(&status);
        tokio::spawn(async move {
            loop {
                let in_flight = watched.counts().in_flight;
                watcher.in_flight.store(in_flight, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        announce(address);
        let served = match (kind, tls) {
            (Kind::HyperLinger, _) => tokio::select! {
                failed = serve_hyper(&listener, &lingerer, app, &status) => failed,
                () = stopped => Ok(()),
            },
            (_, Some(identity)) => {
                serve_tls(listener, &lingerer, &identity, app, &status, stopped).await
            }
            _ => {
                let listener = LingerListener::with_lingerer(listener, lingerer.clone());
                let app = MakeHoldRequests::new(app.into_make_service());
                axum::serve(listener.tap_io(counting(&status)), app)
                    .with_graceful_shutdown(stopped)
                    .await
            }
        };
        lingerer.shutdown(linger_tokio::SHORT_LINGER).await;
        status.in_flight.store(0, Ordering::Relaxed);
        served
    })
}

/// axum-server over TLS with `identity`, as docs/http.md has it:
/// `RustlsAcceptor::new(config).acceptor(LingerAcceptor::with_lingerer(lingerer))`, until
/// `stopped` (then a graceful shutdown of 2 s).
async fn serve_tls(
    listener: tokio::net::TcpListener,
    lingerer: &Lingerer,
    identity: &linger_stacks::Identity,
    app: Router,
    status: &Arc<Status>,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
    let config = RustlsConfig::from_config(identity.rustls());
    let linger = Counting {
        inner: LingerAcceptor::with_lingerer(lingerer.clone()),
        status: Arc::clone(status),
    };
    let acceptor = RustlsAcceptor::new(config).acceptor(linger);
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        stopped.await;
        stopping.graceful_shutdown(Some(linger_tokio::SHORT_LINGER));
    });
    axum_server::Server::from_listener(listener)
        .acceptor(acceptor)
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// hyper serving `app` on each connection `lingerer` accepts, as the README's hyper server
/// does: returns only if `accept` fails, which `Lingerer::accept` does only for an error of
/// the listener's own (it goes on through a lost connection and through `EMFILE`).
async fn serve_hyper(
    listener: &tokio::net::TcpListener,
    lingerer: &Lingerer,
    app: Router,
    status: &Status,
) -> std::io::Result<()> {
    loop {
        let (stream, _peer) = lingerer.accept(listener).await?;
        status.accepted.fetch_add(1, Ordering::Relaxed);
        let requests = stream.requests();
        let service = HoldRequests::new(TowerToHyperService::new(app.clone()), requests);
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            // A connection the client cut short ends in an error: its close goes on all the
            // same, in the stream's drop.
            let _ = connection.await;
        });
    }
}

/// An axum-server acceptor that counts each connection accepted, then hands it to `inner`.
#[derive(Clone)]
struct Counting<A> {
    inner: A,
    status: Arc<Status>,
}

impl<I, S, A: axum_server::accept::Accept<I, S>> axum_server::accept::Accept<I, S> for Counting<A> {
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = A::Future;

    fn accept(&self, stream: I, service: S) -> A::Future {
        self.status.accepted.fetch_add(1, Ordering::Relaxed);
        self.inner.accept(stream, service)
    }
}

/// A tap that counts each connection accepted.
fn counting<Io>(status: &Arc<Status>) -> impl FnMut(&mut Io) + Send + 'static {
    let status = Arc::clone(status);
    move |_| {
        status.accepted.fetch_add(1, Ordering::Relaxed);
    }
}

/// The file `GET /` answers from, removed when dropped.
struct HelloFile {
    path: std::path::PathBuf,
}

impl HelloFile {
    fn create() -> std::io::Result<HelloFile> {
        let name = format!("linger-flood-server-{}.txt", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, "hello")?;
        Ok(HelloFile { path })
    }
}

impl Drop for HelloFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Resolves once the server is asked to stop.
async fn stop_signal(status: Arc<Status>) {
    while !status.stopping() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A thread per connection: reads the head, answers, closes with `linger_std::close`.
fn serve_threads(options: &Options, listener: std::net::TcpListener, status: &Arc<Status>) {
    while !status.stopping() {
        status
            .in_flight
            .store(linger_std::closes_in_flight(), Ordering::Relaxed);
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // Nothing waiting; or out of descriptors, with no lingering close a thread could
            // take back: wait, as axum does.
            Err(error) => {
                let pause = if error.kind() == ErrorKind::WouldBlock {
                    5
                } else {
                    100
                };
                std::thread::sleep(Duration::from_millis(pause));
                continue;
            }
        };
        status.accepted.fetch_add(1, Ordering::Relaxed);
        let status = Arc::clone(status);
        let body_bytes = options.body_bytes;
        std::thread::spawn(move || {
            let mut stream = stream;
            let answered = stream
                .set_nonblocking(false)
                .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(10))))
                .and_then(|()| read_head(&mut stream))
                .and_then(|head| stream.write_all(&answer(&head, body_bytes)));
            if answered.is_ok() {
                let outcome = linger_std::close(stream, Policy::default());
                status.ended(Some(peer), &outcome);
            }
        });
    }
}

/// Reads up to the blank line that ends a request's head (and no further than its first
/// 64 KiB).
fn read_head(stream: &mut std::net::TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        if stream.read(&mut byte)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(head)
}
