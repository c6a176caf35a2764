//! The clients of a flood: hostile ones that hold connections open (uploaders that trickle
//! and never read, connectors that send nothing, readers with a zero window, slowloris heads,
//! slow bodies, keep-alive idlers, or a mix), well-behaved ones that measure what the server
//! still answers, and honest slow ones that a server must serve whole (an upload at a pace, a
//! slow handler, a streamed answer, an upgraded connection quiet for a while). Each speaks
//! TLS to a server that does ([`Endpoint`]), but the connectors that send nothing.

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

/// The head of a 1 GB upload to the early-reply route: what the uploaders send first.
const UPLOAD_HEAD: &str = "POST / HTTP/1.1\r\nhost: flood\r\ncontent-length: 1073741824\r\n\
                           content-type: application/octet-stream\r\n\r\n";
/// What an uploader sends at once and then at each trickle.
const TRICKLE: usize = 1 << 10;
/// Between two trickles.
const TRICKLE_EVERY: Duration = Duration::from_secs(2);
/// How long a zero-window reader holds its connection before it starts another.
const ZERO_WINDOW_HOLD: Duration = Duration::from_secs(10);
/// A zero-window reader's receive buffer (Linux doubles it, and allows no less than 2,304).
const ZERO_WINDOW_RCVBUF: u32 = 2 << 10;
/// What a slowloris sends first; then a header byte at a time.
const SLOWLORIS_HEAD: &[u8] = b"GET / HTTP/1.1\r\n";
/// What a slow body sends first, the head of a 1 MB upload to a route that reads its body;
/// then a byte of it at a time.
const SLOW_BODY_HEAD: &[u8] =
    b"POST /echo HTTP/1.1\r\nhost: flood\r\ncontent-length: 1000000\r\n\r\n";
/// The one request of a keep-alive idler.
const KEEP_ALIVE_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: flood\r\n\r\n";
/// Between two bytes of a slowloris or a slow body.
const SLOW_EVERY: Duration = Duration::from_secs(5);
/// How often a hostile client that waits looks whether the server dropped its connection.
const CHECK_EVERY: Duration = Duration::from_millis(100);
/// How long after it noticed the drop a silent connector, a slowloris, a slow body or a
/// keep-alive idler connects again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// How long a connection, its TLS handshake included, may take to establish.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);

/// How the hostile clients of a flood behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hostile {
    /// Sends the head of a 1 GB upload and 1 KiB, then 1 KiB every 2 s; never reads. Starts
    /// over when a write fails.
    Uploader,
    /// Connects and sends nothing; connects again a second after the server closes.
    Idle,
    /// Sends the head of an upload and 1 KiB through a 2 KiB receive buffer, reads nothing,
    /// and starts over every 10 s (or when the connection fails).
    ZeroWindow,
    /// Sends `GET / HTTP/1.1\r\n`, then one header byte every 5 s.
    Slowloris,
    /// Sends the head of a 1 MB `POST /echo` (a route that reads its body), then one byte
    /// of it every 5 s.
    SlowBody,
    /// Makes one keep-alive `GET /`, reads the answer, then stays silent.
    KeepAlive,
    /// The silent connectors, the slowloris heads, the slow bodies and the keep-alive idlers,
    /// in turn by client.
    Mix,
}

impl Hostile {
    /// Every kind.
    pub const ALL: [Hostile; 7] = [
        Hostile::Uploader,
        Hostile::Idle,
        Hostile::ZeroWindow,
        Hostile::Slowloris,
        Hostile::SlowBody,
        Hostile::KeepAlive,
        Hostile::Mix,
    ];

    /// The kinds of a [`Mix`](Hostile::Mix), client by client.
    pub const MIXED: [Hostile; 4] = [
        Hostile::Idle,
        Hostile::Slowloris,
        Hostile::SlowBody,
        Hostile::KeepAlive,
    ];

    /// The kind named `name` (`uploader`, `idle`, `zero-window`, `slowloris`, `slow-body`,
    /// `keep-alive`, `mix`).
    pub fn named(name: &str) -> Option<Hostile> {
        Hostile::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Its name on a command line.
    pub fn name(self) -> &'static str {
        match self {
            Hostile::Uploader => "uploader",
            Hostile::Idle => "idle",
            Hostile::ZeroWindow => "zero-window",
            Hostile::Slowloris => "slowloris",
            Hostile::SlowBody => "slow-body",
            Hostile::KeepAlive => "keep-alive",
            Hostile::Mix => "mix",
        }
    }

    /// What the client in `slot` of a flood of this kind does.
    pub fn in_slot(self, slot: usize) -> Hostile {
        match self {
            Hostile::Mix => Hostile::MIXED[slot % Hostile::MIXED.len()],
            kind => kind,
        }
    }

    /// Whether it waits [`RECONNECT_AFTER`] before connecting again.
    fn waits_to_reconnect(self) -> bool {
        Hostile::MIXED.contains(&self)
    }
}

/// A server the clients speak to: where it listens and, if it speaks TLS, how to trust it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Where it listens.
    pub address: SocketAddr,
    /// The TLS client configuration, for a server that speaks TLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Endpoint {
    /// A server speaking plain HTTP.
    pub fn plain(address: SocketAddr) -> Endpoint {
        Endpoint { address, tls: None }
    }

    /// A server speaking TLS with the certificate `cert` (PEM, for `localhost`).
    pub fn tls(address: SocketAddr, cert: &str) -> io::Result<Endpoint> {
        let config = linger_stacks::tls_client::config(cert)?;
        Ok(Endpoint {
            address,
            tls: Some(config),
        })
    }

    /// A connection to it, in TLS if it speaks TLS.
    async fn connect(&self) -> io::Result<Conn> {
        self.open(self.socket()?, true).await
    }

    fn socket(&self) -> io::Result<TcpSocket> {
        match self.address {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
    }

    /// A connection through `socket`, in TLS if it speaks TLS and `tls` says so, within
    /// [`CONNECT_WITHIN`].
    async fn open(&self, socket: TcpSocket, tls: bool) -> io::Result<Conn> {
        let opening = async {
            let stream = socket.connect(self.address).await?;
            // As curl and browsers do: a TLS client's request waits on Nagle otherwise, 40 ms
            // here, for the acknowledgement of its handshake's last flight.
            stream.set_nodelay(true)?;
            let counted = Counted { stream, read: 0 };
            match (&self.tls, tls) {
                (Some(config), true) => {
                    let tls = linger_stacks::tls_client::handshake(config, counted).await?;
                    Ok(Conn::Tls(Box::new(tls)))
                }
                _ => Ok(Conn::Plain(counted)),
            }
        };
        tokio::time::timeout(CONNECT_WITHIN, opening)
            .await
            .map_err(|_| io::Error::from(ErrorKind::TimedOut))?
    }
}

/// A TCP stream that counts the bytes read from it.
#[derive(Debug)]
struct Counted {
    stream: TcpStream,
    read: u64,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.read += (buf.filled().len() - before) as u64;
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A client's connection, in TLS or not.
#[derive(Debug)]
enum Conn {
    /// Plain TCP.
    Plain(Counted),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<Counted>>),
}

impl Conn {
    fn counted(&self) -> &Counted {
        match self {
            Conn::Plain(counted) => counted,
            Conn::Tls(tls) => tls.get_ref().0,
        }
    }

    /// The TCP stream beneath.
    fn tcp(&self) -> &TcpStream {
        &self.counted().stream
    }

    /// Every byte its kernel received from the server: what was read, and what is left
    /// unread (read now, without waiting).
    fn received(&self) -> u64 {
        self.counted().read + drain(self.tcp())
    }

    /// Writes `bytes` and pushes them out (TLS holds them until flushed).
    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes).await?;
        self.flush().await
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(plain) => Pin::new(plain).poll_read(cx, buf),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(plain) => Pin::new(plain).poll_write(cx, buf),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(plain) => Pin::new(plain).poll_flush(cx),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(plain) => Pin::new(plain).poll_shutdown(cx),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What a hostile client saw of one connection when it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// Bytes of the server's answer its kernel had received, read or not, TLS included.
    pub received: u64,
    /// What the client was.
    pub kind: Hostile,
}

/// A flood under way: `connections` hostile clients, each starting over when its connection
/// ends, until [`stop`](Self::stop).
pub struct Flood {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
    counts: Arc<FloodCounts>,
}

/// What a flood did.
#[derive(Debug, Default)]
pub struct FloodCounts {
    /// Connections established.
    pub connected: AtomicU64,
    /// Connections that failed to establish (the server's listen queue full, or a TLS
    /// handshake that did not finish, say).
    pub refused: AtomicU64,
    /// What each connection's client received, by its local address (the last connection
    /// to use an address wins; an address seen twice is marked `None`).
    pub ended: Mutex<HashMap<SocketAddr, Option<Ended>>>,
    /// By kind: connections made and those the server ended, with how long they had lived.
    pub kinds: Mutex<HashMap<Hostile, Lives>>,
}

/// The connections of one hostile kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lives {
    /// Connections established.
    pub connected: u64,
    /// Of those, how many the server ended (EOF or an error), not the client.
    pub dropped: u64,
    /// How long the dropped ones had lived, in all.
    pub dropped_after: Duration,
}

impl Lives {
    /// How long a dropped connection lived, on average.
    pub fn mean_life(&self) -> Option<Duration> {
        (self.dropped > 0).then(|| self.dropped_after / self.dropped as u32)
    }
}

impl FloodCounts {
    fn record(&self, local: SocketAddr, ended: Ended) {
        let mut all = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(local)
            .and_modify(|seen| *seen = None)
            .or_insert(Some(ended));
    }

    fn lived(&self, kind: Hostile, dropped_after: Option<Duration>) {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let lives = kinds.entry(kind).or_default();
        lives.connected += 1;
        if let Some(lived) = dropped_after {
            lives.dropped += 1;
            lives.dropped_after += lived;
        }
    }

    /// Each kind's connections, by kind.
    pub fn by_kind(&self) -> Vec<(Hostile, Lives)> {
        let kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = kinds.iter().map(|(&kind, &lives)| (kind, lives)).collect();
        all.sort_by_key(|&(kind, _)| kind);
        all
    }
}

impl Flood {
    /// Starts `connections` hostile clients of kind `kind` against `server`, on the current
    /// tokio runtime, spread over the loopback source addresses 127.0.0.2 to 127.0.0.9 so
    /// that tens of thousands of connections find local ports.
    pub fn start(server: &Endpoint, kind: Hostile, connections: usize) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(FloodCounts::default());
        let mut tasks = JoinSet::new();
        for slot in 0..connections {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (slot % 8) as u8));
            let (stop, counts) = (Arc::clone(&stop), Arc::clone(&counts));
            let (server, kind) = (server.clone(), kind.in_slot(slot));
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(conn) = connect(source, &server, kind).await else {
                        counts.refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    counts.connected.fetch_add(1, Ordering::Relaxed);
                    let local = conn.tcp().local_addr();
                    let started = Instant::now();
                    let (ended, dropped) = hold(conn, kind, &stop).await;
                    counts.lived(kind, dropped.then(|| started.elapsed()));
                    if let Ok(local) = local {
                        counts.record(local, ended);
                    }
                    if dropped && kind.waits_to_reconnect() {
                        tokio::time::sleep(RECONNECT_AFTER).await;
                    }
                }
            });
        }
        Flood {
            stop,
            tasks,
            counts,
        }
    }

    /// What the flood did so far.
    pub fn counts(&self) -> &FloodCounts {
        &self.counts
    }

    /// Ends every hostile connection (each reading what it received, then closing) and
    /// waits, at most 10 s, for the clients to finish; returns what they did.
    pub async fn stop(mut self) -> Arc<FloodCounts> {
        self.stop.store(true, Ordering::Relaxed);
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), all_done)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
        self.counts
    }
}

/// Connects from `source` to `server`, the receive buffer shrunk for a zero-window reader; in
/// TLS if the server speaks it, but for a silent connector, which sends nothing at all.
async fn connect(source: IpAddr, server: &Endpoint, kind: Hostile) -> io::Result<Conn> {
    let socket = server.socket()?;
    if kind == Hostile::ZeroWindow {
        socket.set_recv_buffer_size(ZERO_WINDOW_RCVBUF)?;
    }
    socket.bind(SocketAddr::new(source, 0))?;
    server.open(socket, kind != Hostile::Idle).await
}

/// Holds `conn` as a hostile client of kind `kind` until it fails, its time is up or the
/// flood stops; then reads what its kernel received and closes. Whether the server ended it.
async fn hold(mut conn: Conn, kind: Hostile, stop: &AtomicBool) -> (Ended, bool) {
    let dropped = match kind {
        Hostile::Uploader | Hostile::ZeroWindow => upload(&mut conn, kind, stop).await,
        _ => linger_on(&mut conn, kind, stop).await,
    };
    let ended = Ended {
        received: conn.received(),
        kind,
    };
    (ended, dropped)
}

/// An uploader or a zero-window reader: whether the server ended the connection.
async fn upload(conn: &mut Conn, kind: Hostile, stop: &AtomicBool) -> bool {
    let started = Instant::now();
    let mut head = UPLOAD_HEAD.as_bytes().to_vec();
    head.extend_from_slice(&[b'u'; TRICKLE]);
    if conn.send(&head).await.is_err() {
        return true;
    }
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if kind == Hostile::ZeroWindow {
            if matches!(conn.tcp().take_error(), Ok(Some(_)) | Err(_)) {
                return true;
            }
            if started.elapsed() >= ZERO_WINDOW_HOLD {
                return false;
            }
        } else if last.elapsed() >= TRICKLE_EVERY {
            last = Instant::now();
            if conn.send(&[b'u'; TRICKLE]).await.is_err() {
                return true;
            }
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
    false
}

/// A silent connector, a slowloris, a slow body or a keep-alive idler: sends what it sends
/// first, then a byte every [`SLOW_EVERY`] (slowloris and slow body), reading whatever the
/// server answers and looking every [`CHECK_EVERY`] whether it ended the connection, which
/// it returns.
async fn linger_on(conn: &mut Conn, kind: Hostile, stop: &AtomicBool) -> bool {
    let first: &[u8] = match kind {
        Hostile::Slowloris => SLOWLORIS_HEAD,
        Hostile::SlowBody => SLOW_BODY_HEAD,
        Hostile::KeepAlive => KEEP_ALIVE_REQUEST,
        _ => b"",
    };
    if !first.is_empty() && conn.send(first).await.is_err() {
        return true;
    }
    let trickles = matches!(kind, Hostile::Slowloris | Hostile::SlowBody);
    let mut next = Instant::now() + SLOW_EVERY;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        // An answer, or an error page, is read on, to the end.
        let read = tokio::time::timeout(CHECK_EVERY, conn.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return true;
        }
        if trickles && Instant::now() >= next {
            next += SLOW_EVERY;
            if conn.send(b"x").await.is_err() {
                return true;
            }
        }
    }
    false
}

/// Reads, without waiting, everything the kernel holds for `stream`: what it received.
fn drain(stream: &TcpStream) -> u64 {
    let mut buf = vec![0u8; 64 << 10];
    let mut received = 0;
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => return received,
            Ok(read) => received += read as u64,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return received,
        }
    }
}

/// What the well-behaved client measured: each attempt's latency if it was answered.
#[derive(Clone, Debug, Default)]
pub struct Probes {
    /// Latencies of the answered requests.
    pub answered: Vec<Duration>,
    /// Requests that got no answer, or a wrong one, within the timeout.
    pub failed: usize,
    /// Why each failed: the client's error, a wrong answer, or the timeout.
    pub failures: Vec<String>,
}

impl Probes {
    /// Attempts made.
    pub fn attempts(&self) -> usize {
        self.answered.len() + self.failed
    }

    /// The `percent` percentile of the answered requests' latencies (nearest rank).
    pub fn percentile(&self, percent: f64) -> Option<Duration> {
        let mut sorted = self.answered.clone();
        sorted.sort();
        let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
    }
}

/// A well-behaved client: `GET /` on a fresh connection every `every` (or as soon as the
/// last one ended, if later), each given `timeout`, `count` times or until `until`.
pub async fn probe(
    server: &Endpoint,
    every: Duration,
    timeout: Duration,
    count: usize,
    until: Instant,
) -> Probes {
    let mut probes = Probes::default();
    while probes.attempts() < count && Instant::now() < until {
        let started = Instant::now();
        let failure = match tokio::time::timeout(timeout, get_hello(server)).await {
            Ok(Ok(true)) => {
                probes.answered.push(started.elapsed());
                None
            }
            Ok(Ok(false)) => Some("a wrong answer".to_string()),
            Ok(Err(error)) => Some(format!("{:?}: {error}", error.kind())),
            Err(_) => Some(format!("no answer within {timeout:?}")),
        };
        if let Some(failure) = failure {
            probes.failed += 1;
            probes.failures.push(failure);
        }
        tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
    }
    probes
}

/// `GET /` with `connection: close`; whether the answer was `200` with `hello`.
async fn get_hello(server: &Endpoint) -> io::Result<bool> {
    let (status, body) = exchange(
        server,
        b"GET / HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n",
    )
    .await?;
    Ok(status == Some(200) && body.ends_with(b"hello"))
}

/// Sends `request` on a fresh connection to `server` and reads the answer to the end of the
/// connection: its status and body (as sent: chunked answers keep their framing).
async fn exchange(server: &Endpoint, request: &[u8]) -> io::Result<(Option<u16>, Vec<u8>)> {
    let mut conn = server.connect().await?;
    conn.send(request).await?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await?;
    Ok(split_answer(&answer))
}

/// An answer's status code, if its head arrived, and its body.
fn split_answer(answer: &[u8]) -> (Option<u16>, Vec<u8>) {
    let Some(end) = answer.windows(4).position(|window| window == b"\r\n\r\n") else {
        return (None, Vec::new());
    };
    let status = String::from_utf8_lossy(answer.get(9..12).unwrap_or_default())
        .parse()
        .ok();
    (status, answer[end + 4..].to_vec())
}

/// What a well-behaved uploader got of the early answer to its upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlyReply {
    /// The status code, if a head arrived.
    pub status: Option<u16>,
    /// Body bytes received.
    pub body: usize,
    /// Body bytes the head announced (`content-length`).
    pub announced: Option<usize>,
    /// The answer ended with EOF (after TLS's `close_notify`, over TLS), not a reset.
    pub eof: bool,
}

impl EarlyReply {
    /// The whole answer arrived, then EOF.
    pub fn whole(&self) -> bool {
        self.status.is_some() && self.announced == Some(self.body) && self.eof
    }
}

/// A well-behaved uploader: `POST /` of `upload` bytes, reading while it sends, as curl
/// does; what arrived of the early answer, within `timeout`.
pub async fn early_reply(server: Endpoint, upload: usize, timeout: Duration) -> EarlyReply {
    let mut reply = EarlyReply {
        status: None,
        body: 0,
        announced: None,
        eof: false,
    };
    let Ok(Ok(conn)) = tokio::time::timeout(timeout, server.connect()).await else {
        return reply;
    };
    let (mut reader, mut writer) = tokio::io::split(conn);
    let sending = tokio::spawn(async move {
        let head = format!("POST / HTTP/1.1\r\nhost: probe\r\ncontent-length: {upload}\r\n\r\n");
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'p'; 16 << 10];
        let mut sent = 0;
        while sent < upload {
            let part = chunk.len().min(upload - sent);
            writer.write_all(&chunk[..part]).await?;
            sent += part;
        }
        writer.flush().await?;
        Ok::<_, io::Error>(writer)
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(timeout, reader.read_to_end(&mut answer)).await;
    reply.eof = matches!(read, Ok(Ok(_)));
    sending.abort();
    if let Some(end) = answer.windows(4).position(|window| window == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        reply.status = head.get(9..12).and_then(|code| code.parse().ok());
        reply.announced = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|length| length.trim().parse().ok());
        reply.body = answer.len() - end - 4;
    }
    reply
}

/// What an honest slow client got: whether it was served whole, and what it read (or the
/// error that ended it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The whole answer came.
    pub whole: bool,
    /// What was read, as text, or the error.
    pub seen: String,
}

impl Served {
    fn from(result: io::Result<(bool, String)>) -> Served {
        match result {
            Ok((whole, seen)) => Served { whole, seen },
            Err(error) => Served {
                whole: false,
                seen: format!("failed: {error}"),
            },
        }
    }
}

/// An honest upload: `POST /echo` of `bytes` bytes at `bytes_per_second` (a part every
/// 100 ms), to a route that reads the body whole and answers its length.
pub async fn upload_at_pace(server: &Endpoint, bytes: usize, bytes_per_second: usize) -> Served {
    let uploading = async {
        let mut conn = server.connect().await?;
        let head = format!(
            "POST /echo HTTP/1.1\r\nhost: honest\r\nconnection: close\r\ncontent-length: {bytes}\r\n\r\n"
        );
        conn.send(head.as_bytes()).await?;
        let part = vec![b'h'; (bytes_per_second / 10).max(1)];
        let mut sent = 0;
        while sent < bytes {
            let now = part.len().min(bytes - sent);
            conn.send(&part[..now]).await?;
            sent += now;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await?;
        let (status, body) = split_answer(&answer);
        let whole = status == Some(200) && body == bytes.to_string().as_bytes();
        Ok((whole, String::from_utf8_lossy(&answer).into_owned()))
    };
    Served::from(uploading.await)
}

/// An honest client of a slow route: `GET path` with `connection: close`, read to the end;
/// whole when the answer is `200` and holds every one of `expected`, in order.
pub async fn get_to_the_end(server: &Endpoint, path: &str, expected: &[String]) -> Served {
    let request = format!("GET {path} HTTP/1.1\r\nhost: honest\r\nconnection: close\r\n\r\n");
    let getting = async {
        let (status, body) = exchange(server, request.as_bytes()).await?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let mut rest = body.as_str();
        let in_order = expected
            .iter()
            .all(|piece| match rest.find(piece.as_str()) {
                Some(at) => {
                    rest = &rest[at + piece.len()..];
                    true
                }
                None => false,
            });
        Ok((status == Some(200) && in_order, body))
    };
    Served::from(getting.await)
}

/// An honest upgraded connection: `GET /upgrade`, quiet for `quiet` after the switch, then
/// `ping`; whole when `ping` comes back (within 5 s).
pub async fn upgraded_quiet_then_used(server: &Endpoint, quiet: Duration) -> Served {
    let upgrading = async {
        let mut conn = server.connect().await?;
        let request =
            b"GET /upgrade HTTP/1.1\r\nhost: honest\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n";
        conn.send(request).await?;
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            if conn.read(&mut byte).await? == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Ok((false, String::from_utf8_lossy(&head).into_owned()));
        }
        tokio::time::sleep(quiet).await;
        conn.send(b"ping").await?;
        let mut echoed = [0u8; 4];
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read_exact(&mut echoed));
        read.await
            .map_err(|_| io::Error::from(ErrorKind::TimedOut))??;
        let _ = conn.shutdown().await;
        Ok((
            &echoed == b"ping",
            String::from_utf8_lossy(&echoed).into_owned(),
        ))
    };
    Served::from(upgrading.await)
}
