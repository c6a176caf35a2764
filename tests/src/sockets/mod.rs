//! Real-socket scenarios: a server answers and closes with a [`Closer`] while a client
//! behaves as a real peer does (uploads, reads slowly, never closes, floods, resets). Every
//! scenario is bounded in time and cleans up after itself.

pub mod axum;
pub mod clients;
pub mod http;
pub mod netns;

use linger::{Outcome, Policy};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// How the server closes: the two plain closes that lose data, the two usual workarounds, and
/// linger's drivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    /// `close()` at once.
    Plain,
    /// `shutdown(SHUT_WR)`, then `close()` at once.
    ShutdownThenClose,
    /// `SO_LINGER {1, timeout}`, then a `close()` that blocks the thread until the send
    /// queue is acknowledged or the timeout runs out.
    SoLinger(Duration),
    /// Go's `closeWriteAndWait`: `shutdown(SHUT_WR)`, sleep without reading, `close()`.
    FixedDelay(Duration),
    /// `linger_std::close`.
    Std,
    /// A `linger_mio::Lingerer`.
    Mio,
    /// `linger_tokio::close`, on a current-thread runtime.
    Tokio,
}

impl Closer {
    /// linger's drivers.
    pub const DRIVERS: [Closer; 3] = [Closer::Std, Closer::Mio, Closer::Tokio];

    /// Closes `stream`; linger's drivers report how it ended.
    pub fn close(self, stream: TcpStream, policy: &Policy) -> Option<Outcome> {
        match self {
            Closer::Plain => {
                drop(stream);
                None
            }
            Closer::ShutdownThenClose => {
                let _ = stream.shutdown(Shutdown::Write);
                drop(stream);
                None
            }
            Closer::SoLinger(timeout) => {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(timeout));
                drop(stream);
                None
            }
            Closer::FixedDelay(delay) => {
                let _ = stream.shutdown(Shutdown::Write);
                thread::sleep(delay);
                drop(stream);
                None
            }
            Closer::Std => Some(linger_std::close(stream, policy)),
            Closer::Mio => Some(close_with_lingerer(stream, policy)),
            Closer::Tokio => Some(close_with_tokio(stream, policy)),
        }
    }
}

/// Closes `stream` with `linger_tokio::close` on a runtime of its own.
fn close_with_tokio(stream: TcpStream, policy: &Policy) -> Outcome {
    let runtime = current_thread_runtime();
    runtime.block_on(async { linger_tokio::close(into_tokio(stream), policy).await })
}

/// A single-threaded tokio runtime with I/O and timers.
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A runtime with two workers, as a small server has, and a loopback listener on it: the
/// listener, and its address.
pub fn server_runtime() -> (tokio::runtime::Runtime, tokio::net::TcpListener, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let address = listener.local_addr().expect("address");
    (runtime, listener, address)
}

/// `stream` as a tokio stream, registered with the reactor of the runtime this is called in.
pub fn into_tokio(stream: TcpStream) -> tokio::net::TcpStream {
    stream.set_nonblocking(true).expect("non-blocking");
    tokio::net::TcpStream::from_std(stream).expect("register with tokio")
}

/// Hands `stream` to a fresh `Lingerer` and polls it until the close ends.
fn close_with_lingerer(stream: TcpStream, policy: &Policy) -> Outcome {
    let mut lingerer = linger_mio::Lingerer::new(16).expect("a mio poll");
    stream.set_nonblocking(true).expect("non-blocking");
    let token = lingerer
        .adopt(mio::net::TcpStream::from_std(stream), *policy)
        .expect("adopt");
    // The close ends within its budget; the margin only catches a hang.
    let deadline = Instant::now() + policy.linger_budget() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let finished = lingerer
            .poll(Some(Duration::from_millis(100)))
            .expect("poll");
        if let Some((_, outcome)) = finished.into_iter().find(|(done, _)| *done == token) {
            return outcome;
        }
    }
    panic!("the lingerer did not end the close within its budget");
}

/// A connected pair on loopback: `(client, server)`. `client_rcvbuf` shrinks the client's
/// receive buffer before connecting, which bounds its window.
pub fn pair(client_rcvbuf: Option<usize>) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    accepted_pair(&listener, client_rcvbuf)
}

/// A client connected to `listener`, and the server side it accepted: `(client, server)`.
fn accepted_pair(listener: &TcpListener, client_rcvbuf: Option<usize>) -> (TcpStream, TcpStream) {
    let client = connect(listener.local_addr().expect("address"), client_rcvbuf);
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// A loopback listener with room for `backlog` connections waiting to be accepted (std's
/// default of 128 drops SYNs when a thousand clients connect at once).
pub fn listener(backlog: i32) -> TcpListener {
    listener_with(backlog, None)
}

/// As [`listener`], its connections' receive buffers set to `rcvbuf` before they connect.
fn listener_with(backlog: i32, rcvbuf: Option<usize>) -> TcpListener {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    let address: SocketAddr = ([127, 0, 0, 1], 0).into();
    socket.bind(&address.into()).expect("bind loopback");
    socket.listen(backlog).expect("listen");
    socket.into()
}

/// Connects to `address`, first shrinking the receive buffer to `rcvbuf` if given.
pub fn connect(address: SocketAddr, rcvbuf: Option<usize>) -> TcpStream {
    let domain = socket2::Domain::for_address(address);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None).expect("socket");
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    socket.connect(&address.into()).expect("connect");
    socket.into()
}

/// What a client saw of the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes read.
    pub bytes: usize,
    /// The read ended with `ECONNRESET`.
    pub reset: bool,
    /// The read ended with EOF.
    pub eof: bool,
}

/// Reads until EOF or an error, `chunk` bytes at a time with `pause` between reads, for at
/// most `limit`.
pub fn read_all(mut client: TcpStream, chunk: usize, pause: Duration, limit: Duration) -> Received {
    client.set_read_timeout(Some(limit)).expect("read timeout");
    let deadline = Instant::now() + limit;
    let mut buf = vec![0; chunk];
    let mut received = Received {
        bytes: 0,
        reset: false,
        eof: false,
    };
    while Instant::now() < deadline {
        match client.read(&mut buf) {
            Ok(0) => {
                received.eof = true;
                break;
            }
            Ok(read) => received.bytes += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => {
                received.reset = error.kind() == ErrorKind::ConnectionReset;
                break;
            }
        }
        thread::sleep(pause);
    }
    received
}

/// What happened in one run of a scenario.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Bytes the server wrote.
    pub sent: usize,
    /// What the client received.
    pub received: Received,
    /// How linger said the close ended (`None` for the plain closes).
    pub outcome: Option<Outcome>,
    /// Wall-clock time of the server's close call (for `Mio`, until the outcome).
    pub close_took: Duration,
}

impl Run {
    /// The client got every byte and a clean EOF.
    pub fn delivered(&self) -> bool {
        self.received.bytes == self.sent && self.received.eof
    }
}

/// What the server writes before it closes.
#[derive(Clone, Copy, Debug)]
enum Response {
    /// This many bytes, blocking until the kernel took them all.
    Bytes(usize),
    /// As much as the kernel takes without blocking: for peers that never read.
    FillBuffers,
}

impl Response {
    fn write(self, server: &mut TcpStream) -> usize {
        match self {
            Response::Bytes(bytes) => {
                server.write_all(&vec![b'r'; bytes]).expect("response");
                bytes
            }
            Response::FillBuffers => {
                server.set_nonblocking(true).expect("non-blocking");
                let block = vec![b'r'; 64 << 10];
                let mut sent = 0;
                while let Ok(written) = server.write(&block) {
                    sent += written;
                }
                server.set_nonblocking(false).expect("blocking");
                sent
            }
        }
    }
}

/// Runs a server that writes `response` and closes with `closer`, against a client prepared
/// by `client_setup` and read by `client_read`.
fn serve(
    closer: Closer,
    policy: Policy,
    response: Response,
    client_rcvbuf: Option<usize>,
    client_setup: impl FnOnce(&TcpStream),
    client_read: impl FnOnce(TcpStream) -> Received + Send + 'static,
) -> Run {
    let (client, server) = pair(client_rcvbuf);
    client_setup(&client);
    answer_and_close(closer, &policy, server, response, client, client_read)
}

/// Writes `response` on `server` while `client_read` reads `client` on a thread of its own,
/// closes `server` with `closer`, and reports what each side saw.
fn answer_and_close(
    closer: Closer,
    policy: &Policy,
    mut server: TcpStream,
    response: Response,
    client: TcpStream,
    client_read: impl FnOnce(TcpStream) -> Received + Send + 'static,
) -> Run {
    let reader = thread::spawn(move || client_read(client));
    let sent = response.write(&mut server);
    let (outcome, close_took) = timed_close(closer, policy, server);
    let received = reader.join().expect("client thread");
    Run {
        sent,
        received,
        outcome,
        close_took,
    }
}

/// Closes `server` with `closer`: how it ended, and how long the close took.
fn timed_close(closer: Closer, policy: &Policy, server: TcpStream) -> (Option<Outcome>, Duration) {
    let started = Instant::now();
    let outcome = closer.close(server, policy);
    (outcome, started.elapsed())
}

/// The early reply: the client uploads 64 KiB the server never reads, then reads the
/// 1 MiB answer slowly through a 64 KiB receive buffer, so part of the answer is still
/// unacknowledged when the server closes.
pub fn early_reply(closer: Closer) -> Run {
    serve(
        closer,
        Policy::default(),
        Response::Bytes(1 << 20),
        Some(64 << 10),
        |client| (&*client).write_all(&vec![b'u'; 64 << 10]).expect("upload"),
        |client| {
            thread::sleep(Duration::from_millis(50));
            read_all(
                client,
                16 << 10,
                Duration::from_micros(200),
                Duration::from_secs(10),
            )
        },
    )
}

/// A peer that sends after our close: it reads the 1 MiB answer slowly through a 64 KiB
/// receive buffer and, 20 ms in, sends its next (pipelined) request, which reaches a server
/// that has already called close.
pub fn late_sender(closer: Closer) -> Run {
    serve(
        closer,
        Policy::default(),
        Response::Bytes(1 << 20),
        Some(64 << 10),
        |_| {},
        |client| {
            let writer = client.try_clone().expect("clone the client");
            let late = thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                let _ = (&writer).write_all(b"GET /next HTTP/1.1\r\nhost: demo\r\n\r\n");
            });
            let received = read_all(
                client,
                16 << 10,
                Duration::from_millis(1),
                Duration::from_secs(10),
            );
            let _ = late.join();
            received
        },
    )
}

/// A slow reader: an 8 KiB receive buffer, 4 KiB every 2 ms, for a 512 KiB answer.
pub fn slow_reader(closer: Closer) -> Run {
    serve(
        closer,
        Policy::default(),
        Response::Bytes(512 << 10),
        Some(8 << 10),
        |_| {},
        |client| {
            read_all(
                client,
                4 << 10,
                Duration::from_millis(2),
                Duration::from_secs(20),
            )
        },
    )
}

/// A peer that reads everything but never closes; the budget is `budget`.
pub fn silent_peer(closer: Closer, budget: Duration) -> Run {
    let policy = Policy::builder()
        .linger_budget(budget)
        .build()
        .expect("valid policy");
    serve(
        closer,
        policy,
        Response::Bytes(64 << 10),
        None,
        |_| {},
        move |mut client| {
            let mut buf = vec![0; 64 << 10];
            let bytes = client.read_exact(&mut buf).map_or(0, |()| buf.len());
            // Hold the connection open past the budget, then leave without a word.
            thread::sleep(budget + Duration::from_millis(500));
            Received {
                bytes,
                reset: false,
                eof: false,
            }
        },
    )
}

/// A slow peer whose drain outlasts the idle timeout `idle` several times over: a 384 KiB
/// answer, queued at once in a 1 MiB send buffer, read through an 8 KiB receive buffer
/// 4 KiB every 10 ms (about a second). Each read opens the window and lets more of the answer
/// be acknowledged: progress, which restarts the idle timeout. The budget is 20 times `idle`,
/// the send queue polled at least every fifth of it.
pub fn slow_peer(closer: Closer, idle: Duration) -> Run {
    let policy = Policy::builder()
        .idle_timeout(idle)
        .linger_budget(idle * 20)
        .poll_interval(Duration::from_millis(1), idle / 5)
        .build()
        .expect("valid policy");
    let (client, server) = pair(Some(8 << 10));
    socket2::SockRef::from(&server)
        .set_send_buffer_size(1 << 20)
        .expect("SO_SNDBUF");
    answer_and_close(
        closer,
        &policy,
        server,
        Response::Bytes(384 << 10),
        client,
        |client| {
            read_all(
                client,
                4 << 10,
                Duration::from_millis(10),
                Duration::from_secs(20),
            )
        },
    )
}

/// What [`queue_then_silent_peer`] uploads before our close.
pub const QUEUED_UPLOAD: usize = 512 << 10;

/// A peer that uploads [`QUEUED_UPLOAD`] (eight discard rounds) into our 4 MiB receive
/// buffer before we close, then falls silent, without a FIN, until our close has ended; only
/// then does it read our 16 KiB answer. Every discard round after the first runs from the
/// machine's resume timer, each re-arming it at the instant it fired; nothing else will wake
/// the close. The budget is `budget`; the peer gives up waiting 6 s after it.
pub fn queue_then_silent_peer(closer: Closer, budget: Duration) -> Run {
    let policy = Policy::builder()
        .linger_budget(budget)
        .build()
        .expect("valid policy");
    let listener = listener_with(1, Some(4 << 20));
    let (client, mut server) = accepted_pair(&listener, None);
    (&client)
        .write_all(&vec![b'u'; QUEUED_UPLOAD])
        .expect("upload");
    wait_until_queued(&server, QUEUED_UPLOAD);
    let (closed, close_ended) = std::sync::mpsc::channel::<()>();
    let reader = thread::spawn(move || {
        // Ends early only if the server side panicked and dropped the sender.
        let _ = close_ended.recv_timeout(budget + Duration::from_secs(6));
        read_all(client, 64 << 10, Duration::ZERO, Duration::from_secs(2))
    });
    let sent = Response::Bytes(16 << 10).write(&mut server);
    let (outcome, close_took) = timed_close(closer, &policy, server);
    let _ = closed.send(());
    Run {
        sent,
        received: reader.join().expect("client thread"),
        outcome,
        close_took,
    }
}

/// Waits, for at most two seconds, until `bytes` wait unread in `server`'s receive queue.
fn wait_until_queued(server: &TcpStream, bytes: usize) {
    let mut peeked = vec![0; bytes];
    let deadline = Instant::now() + Duration::from_secs(2);
    server
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    while Instant::now() < deadline {
        if server.peek(&mut peeked).is_ok_and(|queued| queued >= bytes) {
            server.set_read_timeout(None).expect("read timeout");
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
    panic!("{bytes} bytes never queued at the server: is net.core.rmem_max below 4 MiB?");
}

/// A peer that never reads: its 4 KiB window closes and our data stays unacknowledged.
pub fn stalled_peer(closer: Closer, budget: Duration) -> Run {
    let policy = Policy::builder()
        .linger_budget(budget)
        .idle_timeout(budget)
        .build()
        .expect("valid policy");
    serve(
        closer,
        policy,
        Response::FillBuffers,
        Some(4 << 10),
        |_| {},
        move |client| {
            thread::sleep(budget + Duration::from_millis(500));
            drop(client);
            Received {
                bytes: 0,
                reset: false,
                eof: false,
            }
        },
    )
}

/// A peer that keeps sending during the whole close. The policy caps discarding at
/// `discard_cap` and the close at two seconds.
pub fn flooding_peer(closer: Closer, discard_cap: u32) -> Run {
    let policy = Policy::builder()
        .discard_cap(discard_cap)
        .linger_budget(Duration::from_secs(2))
        .build()
        .expect("valid policy");
    serve(
        closer,
        policy,
        Response::Bytes(16 << 10),
        None,
        |_| {},
        |client| {
            let mut flooder = client.try_clone().expect("clone");
            let deadline = Instant::now() + Duration::from_secs(4);
            let block = vec![b'f'; 64 << 10];
            while Instant::now() < deadline && flooder.write_all(&block).is_ok() {}
            read_all(client, 64 << 10, Duration::ZERO, Duration::from_secs(1))
        },
    )
}

/// A peer that never reads and resets the connection after 100 ms.
pub fn resetting_peer(closer: Closer) -> Run {
    serve(
        closer,
        Policy::default(),
        Response::FillBuffers,
        Some(4 << 10),
        |_| {},
        |client| {
            thread::sleep(Duration::from_millis(100));
            socket2::SockRef::from(&client)
                .set_linger(Some(Duration::ZERO))
                .expect("SO_LINGER");
            drop(client);
            Received {
                bytes: 0,
                reset: false,
                eof: false,
            }
        },
    )
}

/// A peer that sends its request and half-closes before our answer, then reads it all.
pub fn half_closing_peer(closer: Closer) -> Run {
    serve(
        closer,
        Policy::default(),
        Response::Bytes(256 << 10),
        None,
        |client| {
            (&*client)
                .write_all(b"GET / HTTP/1.0\r\n\r\n")
                .expect("request");
            client.shutdown(Shutdown::Write).expect("half-close");
        },
        |client| read_all(client, 64 << 10, Duration::ZERO, Duration::from_secs(10)),
    )
}

/// Raises this process's open-file limit, for tests that hold thousands of sockets: to 65,536
/// where allowed (root), else to the hard limit; returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    use linger_io::limits::{self, DescriptorLimit};
    const WANTED: u64 = 1 << 16;
    let Some(limit) = limits::descriptor_limit() else {
        return u64::MAX;
    };
    // Raising the hard limit needs root (CAP_SYS_RESOURCE); otherwise use all of it.
    let raised = DescriptorLimit {
        soft: WANTED.max(limit.soft),
        hard: WANTED.max(limit.hard),
    };
    if limits::set_descriptor_limit(raised).is_err() {
        let _ = limits::raise_descriptor_limit();
    }
    limits::descriptor_limit().map_or(limit.soft, |limit| limit.soft)
}

/// File descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// Retries `scenario` up to `tries` times until `shows` holds; the first run that shows it.
pub fn until(
    tries: usize,
    scenario: impl Fn() -> Run,
    shows: impl Fn(&Run) -> bool,
) -> Option<Run> {
    (0..tries).map(|_| scenario()).find(|run| shows(run))
}
