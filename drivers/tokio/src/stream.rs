//! [`LingerStream`]: an accepted stream that a framework (hyper, axum) reads, writes, shuts
//! down and drops, whose life its machine guards, and that closes with a lingering close when
//! it is dropped or a guard ends it.

use crate::Requests;
use crate::budget::Member;
use crate::lingerer::{Alive, Lingerer};
use crate::lingering::Lingering;
use linger::{
    Clock, CloseMachine, Ending, Event, Guard, Instant, Life, Outcome, Policy, State, Stats,
};
use std::borrow::Borrow;
use std::future::Future;
use std::io::{self, ErrorKind, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::time::Sleep;

/// A `tokio::net::TcpStream` whose every write and the peer's EOF are reported to a
/// [`CloseMachine`] from accept on, and which, when dropped, closes with a lingering close
/// in the background instead of resetting a peer that is still sending.
///
/// Hand it to a framework in place of the `TcpStream` (axum: [`LingerListener`]; hyper:
/// `TokioIo::new(stream)`). What the framework does maps onto the machine:
///
/// - reads and writes go straight to the socket and are observed: the outcome's
///   `bytes_written` is the real figure;
/// - `poll_shutdown` is the machine's half-close: our FIN goes out once, and a second
///   shutdown (the close's own) is never issued;
/// - `poll_flush` pushes the segments `TCP_CORK` holds, under
///   [`NagleMode::CorkWhileAssembling`](linger::NagleMode::CorkWhileAssembling);
/// - dropping it closes it: what needs no waiting happens at once (when the peer closed
///   first and everything is acknowledged, that is the whole close, one `ioctl` more than a
///   plain `close()`), the rest in a task on the runtime the stream was made in, counted by
///   its [`Lingerer`]. Without a runtime, or while that runtime shuts down, the close ends
///   at once as if its budget ran out (never a plain close over data known to be unread),
///   and the outcome says so. Nothing blocks, nothing panics.
///
/// [`close`](Self::close) awaits the close and returns its [`Outcome`] instead.
///
/// # The life before the close
///
/// The machine follows what the connection is doing from the reads and writes the framework
/// makes ([`life`](Self::life)), and the policy's guards end one that never finishes a
/// request: nothing sent within [`Policy::first_byte_timeout`] of the accept, a request
/// arriving slower than [`Policy::min_receive_rate`], an answer out and nothing more for
/// [`Policy::keep_alive_timeout`], a write the peer holds back for
/// [`Policy::send_timeout`]. When descriptors run short, the process's live connections
/// that cost least give way first (see [`Lingerer`]). Either way the connection's socket
/// leaves the framework for a lingering close of its own, and the framework reads the end of
/// the stream and fails its next write; [`ended_by`](Self::ended_by) says which guard ended
/// it, and its report too. Neither ever ends a connection whose whole request the
/// application is working on, or one it writes to at a pace. The guards need tokio's time
/// driver, as every close does.
///
/// [`LingerListener`]: crate::LingerListener
#[derive(Debug)]
pub struct LingerStream {
    /// `None` once the close took it.
    stream: Option<TcpStream>,
    machine: CloseMachine,
    clock: Clock,
    owner: Option<Lingerer>,
    peer: Option<SocketAddr>,
    /// Where a dropped stream's close goes on: the runtime the stream was made in.
    runtime: Option<Handle>,
    /// Counted by the owner until dropped, after the drop has started the close.
    _alive: Option<Alive>,
    /// While the connection is live: its place among the process's connections.
    member: Option<Member>,
    /// Wakes the task that reads or writes at the guard's deadline: set no later than it,
    /// re-armed when it fires early.
    guard: Option<Pin<Box<Sleep>>>,
    /// What the server says of its requests ([`requests`](Self::requests)), and how much of
    /// it the machine was told.
    requests: Requests,
    told_held: u32,
    told_upgraded: bool,
    told_holds_requests: bool,
    /// A wait to read was reported, and no read since.
    reported_waiting: bool,
    /// A wait to write was reported, and no write since.
    reported_blocked: bool,
}

impl LingerStream {
    /// Wraps `stream`, fresh from `accept` or `connect`: when dropped, it closes under
    /// `policy`, counted and bounded with the closes of [`Lingerer::global`], and its outcome
    /// goes to `tracing` (feature `tracing`). Prefer [`Lingerer::stream`] on a server, whose
    /// lingerer has the server's hook and whose accept loop reclaims when descriptors run
    /// out.
    ///
    /// Its life is guarded as `policy` says (see the type's docs); a client connection, which
    /// speaks first and may wait long for its answer, takes `policy.unguarded()`.
    pub fn new(stream: TcpStream, policy: impl Borrow<Policy>) -> LingerStream {
        let owner = Lingerer::global().clone();
        LingerStream::wrap(stream, *policy.borrow(), owner, None)
    }

    pub(crate) fn managed(
        stream: TcpStream,
        owner: Lingerer,
        peer: Option<SocketAddr>,
    ) -> LingerStream {
        let alive = owner.alive();
        let mut managed = LingerStream::wrap(stream, *owner.policy(), owner, peer);
        managed._alive = Some(alive);
        managed
    }

    fn wrap(
        stream: TcpStream,
        policy: Policy,
        owner: Lingerer,
        peer: Option<SocketAddr>,
    ) -> LingerStream {
        let clock = Clock::new();
        let member = owner
            .budget()
            .join(linger_io::limits::in_use_at_accept(&stream));
        let mut wrapped = LingerStream {
            stream: Some(stream),
            machine: CloseMachine::accepted(policy, clock.now()),
            clock,
            owner: Some(owner),
            peer,
            runtime: Handle::try_current().ok(),
            _alive: None,
            member: Some(member),
            guard: None,
            requests: Requests::default(),
            told_held: 0,
            told_upgraded: false,
            told_holds_requests: false,
            reported_waiting: false,
            reported_blocked: false,
        };
        // The policy's Nagle mode: socket options only.
        wrapped.perform();
        wrapped
    }

    /// Closes gracefully and yields how it ended: shuts down writing (unless the framework
    /// did), discards what the peer sends, waits until everything is acknowledged and for
    /// the peer's EOF, within the policy's budget. Dropping the future ends the close at
    /// once, as a dropped stream's would on a runtime shutting down.
    pub fn close(mut self) -> impl Future<Output = Outcome> + Send + 'static {
        let mut lingering = self.take_close();
        if let Some(lingering) = &mut lingering {
            lingering.wait_in_background();
        }
        // A live stream always has its socket; were it gone, the machine says how it ended.
        let ended = linger_io::released_outcome(&self.machine);
        async move {
            match lingering {
                Some(lingering) => lingering.run().await,
                None => ended,
            }
        }
    }

    /// Resets the connection now (`SO_LINGER {1, 0}`, `close()`), and says how it ended; the
    /// outcome goes to the lingerer's hook and counts as every other.
    pub fn abort(mut self) -> Outcome {
        let _refused_only_when_closed = self.machine.abort(self.clock.now());
        match self.take_close() {
            Some(mut lingering) => lingering.finish(),
            None => linger_io::released_outcome(&self.machine),
        }
    }

    /// Holds partial segments (`TCP_CORK`) until [`uncork`](Self::uncork), a flush or the
    /// close.
    pub fn cork(&mut self) -> Result<(), linger::Error> {
        self.machine.cork()?;
        self.perform();
        Ok(())
    }

    /// Releases held segments and returns to the policy's Nagle mode.
    pub fn uncork(&mut self) -> Result<(), linger::Error> {
        self.machine.uncork()?;
        self.perform();
        Ok(())
    }

    /// Where the close machine is.
    pub fn state(&self) -> State {
        self.machine.state()
    }

    /// Bytes written so far, and the peer's EOF.
    pub fn stats(&self) -> Stats {
        self.machine.stats()
    }

    /// The tally through which the server says which requests it holds on this connection
    /// and whether it took the connection over: for what the bytes alone cannot tell (see
    /// the type's docs). `LingerAcceptor` keeps it by itself for axum-server; a hyper server
    /// wraps its service in `HoldRequests` with it (features `tower`, `hyper`).
    pub fn requests(&self) -> Requests {
        self.requests.clone()
    }

    /// What the connection is doing, until its close begins (see the type's docs).
    pub fn life(&self) -> Option<Life> {
        self.machine.life()
    }

    /// The guard that ended the connection, if one did.
    pub fn ended_by(&self) -> Option<Guard> {
        self.machine.ended_by()
    }

    /// The peer's address (kept from `accept` where the stream came from
    /// [`LingerListener`](crate::LingerListener) or [`Lingerer::accept`]).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match (self.peer, &self.stream) {
            (Some(peer), _) => Ok(peer),
            (None, Some(stream)) => stream.peer_addr(),
            (None, None) => Err(io::Error::from(ErrorKind::NotConnected)),
        }
    }

    /// Our own address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.stream {
            Some(stream) => stream.local_addr(),
            None => Err(io::Error::from(ErrorKind::NotConnected)),
        }
    }

    /// The close this stream starts when it is done with, or `None` if it started already.
    /// The connection leaves the live ones.
    fn take_close(&mut self) -> Option<Lingering> {
        let stream = self.stream.take()?;
        let lingering = Lingering::begin(
            stream,
            self.machine.clone(),
            self.clock,
            self.owner.take(),
            self.peer,
        );
        self.member = None;
        Some(lingering)
    }

    /// Ends the live connection now, under the framework: its socket goes to a lingering
    /// close of its own, the framework reads the end of the stream. `make_room`: it was asked
    /// to give way, and releases its descriptor at once, as for a spent budget.
    fn end_now(&mut self, make_room: bool) {
        let Some(mut lingering) = self.take_close() else {
            return;
        };
        if make_room {
            lingering.give_way(self.clock.now());
        }
        let runtime = self.runtime.take().or_else(|| Handle::try_current().ok());
        lingering.hand_off(runtime);
    }

    /// Before the framework's read or write: give way if asked to, and act on a guard due.
    fn keep_watch(&mut self, now: Instant) {
        if self.member.is_none() {
            return;
        }
        self.hear_the_server(now);
        let asked = self
            .member
            .as_ref()
            .is_some_and(|member| member.slot.take_asked());
        if asked {
            // A request held since the connection was ranked, or one that arrived and waits
            // unread: it no longer gives way.
            let standing = self
                .stream
                .as_ref()
                .and_then(|stream| linger_io::pressure::unless_unread(self.standing(now), stream));
            if standing.is_some() {
                self.end_now(true);
                return;
            }
            if let Some(member) = &self.member {
                member.decline();
            }
        }
        if self.machine.poll_timeout().is_some_and(|at| at <= now) {
            self.machine.handle_timeout(now);
            if self.machine.is_lingering() {
                self.end_now(false);
            }
        }
    }

    /// An HTTP/1 server in the clear (`axum::serve`) that answers `101 Switching Protocols`
    /// takes the connection over (a WebSocket): its own words, read off the head it writes.
    /// Beneath TLS the bytes are ciphertext and never match; there `HoldRequests` says it.
    fn notice_an_upgrade(&mut self, written: &[u8]) {
        if written.starts_with(b"HTTP/1.1 101 ") && self.machine.life().is_some() {
            self.requests.upgraded();
        }
    }

    /// Tells the machine what the server said of its requests since it last heard.
    fn hear_the_server(&mut self, now: Instant) {
        if !self.told_holds_requests && self.requests.said_it_holds_requests() {
            self.told_holds_requests = true;
            // Refused only once closed, which the next call sees.
            let _ = self.machine.holds_requests(now);
        }
        if !self.told_upgraded && self.requests.is_upgraded() {
            self.told_upgraded = true;
            // Refused only once closed, which the next call sees.
            let _ = self.machine.upgrade(now);
        }
        let held = self.requests.held();
        while self.told_held < held {
            self.told_held += 1;
            let _ = self.machine.hold(now);
        }
        while self.told_held > held {
            self.told_held -= 1;
            let _ = self.machine.answered(now);
        }
    }

    /// Where the live connection stands among the process's, if it may give way at all.
    fn standing(&self, now: Instant) -> Option<linger_io::pressure::LiveStanding> {
        let life = self.machine.life()?;
        linger_io::pressure::live_standing(&life, self.machine.policy(), now)
    }

    /// After the framework's read or write: end the connection if a guard did (a request's
    /// bytes past its credit); otherwise publish where it stands and, when the framework
    /// waits (`Pending`), arrange to be woken when it is asked to give way or a guard is due.
    fn after_io(&mut self, cx: &mut Context<'_>, pending: bool, now: Instant) {
        if self.machine.is_lingering() {
            self.end_now(false);
            return;
        }
        let Some(member) = &self.member else {
            return;
        };
        member.stand(self.standing(now));
        if pending {
            member.slot.wake_on_ask(cx.waker());
            self.arm_guard(cx);
        }
    }

    /// Sets the guard's sleep no later than the machine's deadline and registers the task
    /// with it; a sleep set earlier is left to fire and be re-armed then.
    fn arm_guard(&mut self, cx: &mut Context<'_>) {
        let Some(at) = self
            .machine
            .poll_timeout()
            .and_then(|deadline| self.clock.to_std(deadline))
        else {
            return;
        };
        let at = tokio::time::Instant::from_std(at);
        let sleep = match &mut self.guard {
            Some(sleep) if !sleep.is_elapsed() && sleep.deadline() <= at => sleep,
            Some(sleep) => {
                sleep.as_mut().reset(at);
                sleep
            }
            None => self.guard.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        if sleep.as_mut().poll(cx).is_ready() {
            // Due already: the framework's next read or write acts on it.
            cx.waker().wake_by_ref();
        }
    }

    /// Performs what the machine asked outside a close: socket options and a shutdown,
    /// nothing that reads or releases (a release waits for the drop).
    fn perform(&mut self) {
        let Some(stream) = &self.stream else {
            return;
        };
        let no_reads = |_: &mut [u8]| Err(io::Error::from(ErrorKind::WouldBlock));
        let _ = linger_io::drive(stream, &mut self.machine, self.clock.now(), no_reads);
    }

    /// Reports `event` to the machine. A wait to read or to write is reported once, until a
    /// read or a write ends it: the machine counts the wait from its first report.
    fn observe(&mut self, event: Option<Event>, now: Instant) {
        let Some(event) = event else {
            return;
        };
        let (waiting, blocked) = (self.reported_waiting, self.reported_blocked);
        match event {
            Event::ReadPending if waiting => return,
            Event::WritePending if blocked => return,
            Event::ReadPending => self.reported_waiting = true,
            Event::WritePending => self.reported_blocked = true,
            Event::Read(_) | Event::PeerEof => self.reported_waiting = false,
            Event::Wrote(_) => self.reported_blocked = false,
            _ => {}
        }
        // Refused only once the machine has ended, which the next call reports.
        let _ = self.machine.handle(event, now);
    }

    /// The error for a call the connection no longer allows.
    fn refusal(&self) -> io::Error {
        let kind = match self.machine.outcome().map(|outcome| outcome.ending) {
            Some(Ending::ResetByPeer { .. }) => ErrorKind::ConnectionReset,
            Some(_) => ErrorKind::NotConnected,
            None => ErrorKind::BrokenPipe,
        };
        io::Error::new(kind, "the write side of this connection is closed")
    }

    fn stream_pin(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match &mut self.stream {
            Some(stream) => Ok(Pin::new(stream)),
            None => Err(io::Error::from(ErrorKind::NotConnected)),
        }
    }
}

impl AsyncRead for LingerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let now = this.clock.now();
        this.keep_watch(now);
        let Some(stream) = &mut this.stream else {
            // A guard ended the connection, or it gave way: the end of the stream.
            return Poll::Ready(Ok(()));
        };
        let (filled, asked) = (buf.filled().len(), buf.remaining());
        let polled = Pin::new(stream).poll_read(cx, buf);
        let event = match &polled {
            Poll::Ready(result) => {
                let read = result.as_ref().map(|()| buf.filled().len() - filled);
                linger_io::read_event(read, asked)
            }
            Poll::Pending => (asked > 0).then_some(Event::ReadPending),
        };
        this.observe(event, now);
        this.after_io(cx, polled.is_pending(), now);
        polled
    }
}

impl LingerStream {
    /// A write through `write`, refused once the write side is shut, its bytes counted and
    /// a wait for room reported.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        let now = self.clock.now();
        self.keep_watch(now);
        if !self.machine.state().may_write() {
            return Poll::Ready(Err(self.refusal()));
        }
        let polled = write(self.stream_pin()?, cx);
        let event = match &polled {
            Poll::Ready(result) => linger_io::write_event(result.as_ref().copied()),
            Poll::Pending => Some(Event::WritePending),
        };
        self.observe(event, now);
        self.after_io(cx, polled.is_pending(), now);
        polled
    }
}

impl AsyncWrite for LingerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.notice_an_upgrade(buf);
        this.poll_write_with(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(first) = bufs.iter().find(|buf| !buf.is_empty()) {
            this.notice_an_upgrade(first);
        }
        this.poll_write_with(cx, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream
            .as_ref()
            .is_some_and(AsyncWrite::is_write_vectored)
    }

    /// Pushes what `TCP_CORK` holds when corked; otherwise the kernel holds nothing back
    /// that a flush could push (as for a plain `TcpStream`).
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.machine.state() == State::Corked && self.machine.flush().is_ok() {
            self.perform();
        }
        match &mut self.stream {
            Some(stream) => Pin::new(stream).poll_flush(cx),
            // Ended under the framework: nothing is held to push.
            None => Poll::Ready(Ok(())),
        }
    }

    /// The half-close: our FIN goes out after the data, once. Reads go on.
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let now = self.clock.now();
        // Refused when the write side is shut already (never twice) or the connection is
        // over; what it is comes next.
        if self.machine.shutdown_write(now).is_ok() {
            self.perform();
        }
        match self.machine.state() {
            State::Closed => Poll::Ready(Err(self.refusal())),
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl Drop for LingerStream {
    /// The framework is done with the connection: close it, in the background if it has
    /// to wait.
    fn drop(&mut self) {
        if let Some(lingering) = self.take_close() {
            let runtime = self.runtime.take().or_else(|| Handle::try_current().ok());
            lingering.hand_off(runtime);
        }
    }
}
