//! [`LingerStream`]: an accepted stream that a framework (hyper, axum) reads, writes, shuts
//! down and drops, and that closes with a lingering close when it is dropped.

use crate::lingerer::{Alive, Lingerer};
use crate::lingering::Lingering;
use linger::{Clock, CloseMachine, Ending, Event, Outcome, Policy, State, Stats};
use std::borrow::Borrow;
use std::future::Future;
use std::io::{self, ErrorKind, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::runtime::Handle;

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
}

impl LingerStream {
    /// Wraps `stream`, fresh from `accept` or `connect`: when dropped, it closes under
    /// `policy`, counted and bounded with the closes of [`Lingerer::global`], and its outcome
    /// goes to `tracing` (feature `tracing`). Prefer [`Lingerer::stream`] on a server, whose
    /// lingerer has the server's hook and whose accept loop reclaims when descriptors run
    /// out.
    pub fn new(stream: TcpStream, policy: impl Borrow<Policy>) -> LingerStream {
        let machine = CloseMachine::new(*policy.borrow());
        let owner = Some(Lingerer::global().clone());
        LingerStream::wrap(stream, machine, owner, None)
    }

    pub(crate) fn managed(
        stream: TcpStream,
        owner: Lingerer,
        peer: Option<SocketAddr>,
    ) -> LingerStream {
        let machine = CloseMachine::new(*owner.policy());
        let alive = owner.alive();
        let mut managed = LingerStream::wrap(stream, machine, Some(owner), peer);
        managed._alive = Some(alive);
        managed
    }

    fn wrap(
        stream: TcpStream,
        machine: CloseMachine,
        owner: Option<Lingerer>,
        peer: Option<SocketAddr>,
    ) -> LingerStream {
        let mut wrapped = LingerStream {
            stream: Some(stream),
            machine,
            clock: Clock::new(),
            owner,
            peer,
            runtime: Handle::try_current().ok(),
            _alive: None,
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
    fn take_close(&mut self) -> Option<Lingering> {
        let stream = self.stream.take()?;
        Some(Lingering::begin(
            stream,
            self.machine.clone(),
            self.clock,
            self.owner.take(),
            self.peer,
        ))
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

    fn observe(&mut self, event: Option<Event>) {
        if let Some(event) = event {
            // Refused only once the machine has ended, which the next call reports.
            let _ = self.machine.handle(event, self.clock.now());
        }
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

    /// A write through `write`, refused once the write side is shut, its bytes counted.
    fn write_counted(
        &mut self,
        write: impl FnOnce(Pin<&mut TcpStream>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if !self.machine.state().may_write() {
            return Poll::Ready(Err(self.refusal()));
        }
        let result = ready!(write(self.stream_pin()?));
        self.observe(linger_io::write_event(result.as_ref().copied()));
        Poll::Ready(result)
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
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (filled, asked) = (buf.filled().len(), buf.remaining());
        let result = ready!(self.stream_pin()?.poll_read(cx, buf));
        let read = result.as_ref().map(|()| buf.filled().len() - filled);
        self.observe(linger_io::read_event(read, asked));
        Poll::Ready(result)
    }
}

impl AsyncWrite for LingerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_counted(|stream| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_counted(|stream| stream.poll_write_vectored(cx, bufs))
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
        self.stream_pin()?.poll_flush(cx)
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
