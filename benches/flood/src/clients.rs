//! The clients of a flood: hostile ones that hold connections open (uploaders that trickle
//! and never read, connectors that send nothing, readers with a zero window), and
//! well-behaved ones that measure what the server still answers.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// How the hostile clients of a flood behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hostile {
    /// Sends the head of a 1 GB upload and 1 KiB, then 1 KiB every 2 s; never reads. Starts
    /// over when a write fails.
    Uploader,
    /// Connects and sends nothing; starts over when the server closes.
    Idle,
    /// Sends the head of an upload and 1 KiB through a 2 KiB receive buffer, reads nothing,
    /// and starts over every 10 s (or when the connection fails).
    ZeroWindow,
}

impl Hostile {
    /// Every kind, in the order the benchmark runs them.
    pub const ALL: [Hostile; 3] = [Hostile::Uploader, Hostile::Idle, Hostile::ZeroWindow];

    /// The kind named `name` (`uploader`, `idle`, `zero-window`).
    pub fn named(name: &str) -> Option<Hostile> {
        Hostile::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Its name on a command line.
    pub fn name(self) -> &'static str {
        match self {
            Hostile::Uploader => "uploader",
            Hostile::Idle => "idle",
            Hostile::ZeroWindow => "zero-window",
        }
    }
}

/// What a hostile client saw of one connection when it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// Bytes of the server's answer its kernel had received (read only now, at the end).
    pub received: u64,
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
    /// Connections that failed to establish (the server's listen queue full, say).
    pub refused: AtomicU64,
    /// What each connection's client received, by its local address (the last connection
    /// to use an address wins; an address seen twice is marked `None`).
    pub ended: Mutex<HashMap<SocketAddr, Option<Ended>>>,
}

impl FloodCounts {
    fn record(&self, local: SocketAddr, ended: Ended) {
        let mut all = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(local)
            .and_modify(|seen| *seen = None)
            .or_insert(Some(ended));
    }
}

impl Flood {
    /// Starts `connections` hostile clients of kind `kind` against `server`, on the current
    /// tokio runtime, spread over the loopback source addresses 127.0.0.2 to 127.0.0.9 so
    /// that tens of thousands of connections find local ports.
    pub fn start(server: SocketAddr, kind: Hostile, connections: usize) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(FloodCounts::default());
        let mut tasks = JoinSet::new();
        for slot in 0..connections {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (slot % 8) as u8));
            let (stop, counts) = (Arc::clone(&stop), Arc::clone(&counts));
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match connect(source, server, kind).await {
                        Ok(stream) => {
                            counts.connected.fetch_add(1, Ordering::Relaxed);
                            let local = stream.local_addr();
                            let ended = hold(stream, kind, &stop).await;
                            if let Ok(local) = local {
                                counts.record(local, ended);
                            }
                        }
                        Err(_) => {
                            counts.refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
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

/// Connects from `source` to `server`, the receive buffer shrunk for a zero-window reader.
async fn connect(source: IpAddr, server: SocketAddr, kind: Hostile) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if kind == Hostile::ZeroWindow {
        socket.set_recv_buffer_size(ZERO_WINDOW_RCVBUF)?;
    }
    socket.bind(SocketAddr::new(source, 0))?;
    let connecting = socket.connect(server);
    tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| std::io::Error::from(ErrorKind::TimedOut))?
}

/// Holds `stream` as a hostile client of kind `kind` until it fails, its time is up or the
/// flood stops; then reads what its kernel received and closes.
async fn hold(mut stream: TcpStream, kind: Hostile, stop: &AtomicBool) -> Ended {
    let started = Instant::now();
    let tick = Duration::from_millis(100);
    match kind {
        Hostile::Uploader | Hostile::ZeroWindow => {
            let mut head = UPLOAD_HEAD.as_bytes().to_vec();
            head.extend_from_slice(&[b'u'; TRICKLE]);
            if stream.write_all(&head).await.is_ok() {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if kind == Hostile::ZeroWindow {
                        let failed = matches!(stream.take_error(), Ok(Some(_)) | Err(_));
                        if failed || started.elapsed() >= ZERO_WINDOW_HOLD {
                            break;
                        }
                    } else if last.elapsed() >= TRICKLE_EVERY {
                        last = Instant::now();
                        if stream.write_all(&[b'u'; TRICKLE]).await.is_err() {
                            break;
                        }
                    }
                    tokio::time::sleep(tick).await;
                }
            }
        }
        Hostile::Idle => {
            let mut buf = [0u8; 1];
            while !stop.load(Ordering::Relaxed) {
                let read = tokio::time::timeout(tick, stream.read(&mut buf)).await;
                if let Ok(Ok(0) | Err(_)) = read {
                    break;
                }
            }
        }
    }
    Ended {
        received: drain(&stream),
    }
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
    server: SocketAddr,
    every: Duration,
    timeout: Duration,
    count: usize,
    until: Instant,
) -> Probes {
    let mut probes = Probes::default();
    while probes.attempts() < count && Instant::now() < until {
        let started = Instant::now();
        match tokio::time::timeout(timeout, get_hello(server)).await {
            Ok(Ok(true)) => probes.answered.push(started.elapsed()),
            _ => probes.failed += 1,
        }
        tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
    }
    probes
}

/// `GET /` with `connection: close`; whether the answer was `200` with `hello`.
async fn get_hello(server: SocketAddr) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(server).await?;
    let request = "GET / HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer.starts_with(b"HTTP/1.1 200") && answer.ends_with(b"hello"))
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
    /// The answer ended with EOF, not a reset.
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
pub async fn early_reply(server: SocketAddr, upload: usize, timeout: Duration) -> EarlyReply {
    let mut reply = EarlyReply {
        status: None,
        body: 0,
        announced: None,
        eof: false,
    };
    let Ok(Ok(stream)) = tokio::time::timeout(timeout, TcpStream::connect(server)).await else {
        return reply;
    };
    let (mut reader, mut writer) = stream.into_split();
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
        Ok::<_, std::io::Error>(writer)
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
