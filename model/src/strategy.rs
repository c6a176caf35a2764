//! The application's side of the model: a close strategy, and the socket calls it may make.
//!
//! A [`Strategy`] decides what our application does when it wants to close: which syscalls,
//! when, and what it then believes about the data it sent. [`Linger`](super::Linger) runs
//! [`CloseMachine`](linger::CloseMachine); [`reference`](super::reference) holds the closes it
//! is compared with. Every socket call goes through [`Io`], which records what the properties
//! need to know (a close over unread data, a call after the fd was released), and, when asked
//! to, logs each call with what our kernel answered ([`Logged`]): what the conformance replay
//! performs on a real socket.

use super::kernel::{Kernel, NotConnected, Read, Segment, SoError, Wire};
use core::fmt::Debug;
use core::hash::Hash;
use linger_io::acks::TcpState;

/// A way of closing a connection, run inside the model: what the application does when it
/// wants to close, which socket calls and when, and what it then believes about the data it
/// sent.
///
/// The model calls [`start`](Strategy::start) once (the application writes its response),
/// then, in whatever order the adversary picks: [`close`](Strategy::close) when the
/// application decides to close, [`on_delivered`](Strategy::on_delivered) after each segment
/// reaches our kernel (the event loop reacts before anything else happens), and
/// [`on_time`](Strategy::on_time) when the clock reaches [`deadline`](Strategy::deadline).
/// Each acts on the socket through [`Io`] and keeps what it remembers in
/// [`App`](Strategy::App), which must be small and hashable: the checker stores every state
/// it reaches. Time is the model's, in microseconds, and moves only to the deadlines the
/// strategy asks for: a strategy waits for something by asking for a deadline, never by
/// looping.
///
/// The crate's documentation has a whole strategy; [`Linger`](crate::Linger) and the closes
/// of [`reference`](crate::reference) are others.
pub trait Strategy: Clone + Debug + Send + Sync + 'static {
    /// The application's state: everything the strategy remembers between calls.
    type App: Clone + Debug + Describe + Hash + Eq + Send + Sync;

    /// For reports: `linger`, `naive`, ...
    fn name(&self) -> String;

    /// The application writes its `response` (in segments) and is ready to close.
    fn start(&self, response: u8, io: &mut Io<'_>) -> Self::App;

    /// The application decides to close.
    fn close(&self, app: &mut Self::App, io: &mut Io<'_>);

    /// A segment reached our kernel (data, FIN, ACK or RST), or our kernel gave up: the poller
    /// woke the event loop.
    fn on_delivered(&self, app: &mut Self::App, io: &mut Io<'_>);

    /// When the strategy next wants [`on_time`](Strategy::on_time), in model microseconds
    /// (compare [`Io::now`]); `None` while it waits for nothing.
    fn deadline(&self, app: &Self::App) -> Option<u64>;

    /// The clock reached [`deadline`](Strategy::deadline).
    fn on_time(&self, app: &mut Self::App, io: &mut Io<'_>);

    /// The application has its socket (and its thread) back: nothing more will be done.
    fn released(&self, app: &Self::App) -> bool;

    /// What the application now believes: that every byte reached the peer (P1 holds it to
    /// that).
    fn claims_delivery(&self, app: &Self::App) -> bool;

    /// The outcome the strategy reports, for strategies that report one (P5 holds it to what
    /// happened).
    fn outcome(&self, _app: &Self::App) -> Option<linger::Outcome> {
        None
    }

    /// The longest a close may take, in model microseconds, from `close` to release (P3).
    fn time_bound(&self) -> u64;

    /// The lingering policy the strategy follows, if it has one: its idle timeout, budget
    /// and discard cap are promises the properties hold it to.
    fn policy(&self) -> Option<linger::Policy> {
        None
    }
}

/// Our application's state in words, for counterexample traces and the explorer.
pub trait Describe {
    /// A few words: how far the close got and what the application believes.
    fn describe(&self) -> String;

    /// Everything else, for someone looking closely at one state in the explorer.
    fn details(&self) -> Option<String> {
        None
    }
}

/// A use of the socket that the properties forbid (P4), or an input the machine refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Misuse {
    /// A socket call after the fd was closed.
    CallAfterRelease,
    /// The fd was closed (or aborted) a second time.
    ClosedTwice,
    /// A write after the write side was shut down.
    WriteAfterShutdown,
    /// The cork was set after the write side was shut down.
    CorkAfterShutdown,
    /// `CloseMachine` refused a true observation or a sensible intent.
    Rejected(linger::Error),
    /// `CloseMachine` asked for an action this model does not know.
    UnknownAction,
}

/// What the model records about our application's socket calls, for the properties.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Facts {
    /// When the application decided to close.
    pub close_asked_at: Option<u64>,
    /// When the strategy released the socket and returned to the application.
    pub released_at: Option<u64>,
    /// `SIOCOUTQ` at that moment: bytes (FIN included) really not acknowledged.
    pub unacked_at_release: Option<u32>,
    /// `close` and abort calls on the fd.
    pub fd_closes: u8,
    /// A plain `close` while received data was unread: a self-inflicted reset (P2).
    pub closed_on_unread: bool,
    /// Segments read after the application decided to close.
    pub read_after_close: u8,
    /// `shutdown(SHUT_WR)` was called.
    pub write_shut: bool,
    /// The last send-queue figure the strategy was told ([`Io::told_unacked`]).
    pub last_unacked: Option<u32>,
    /// When the strategy last saw the close make progress: a segment or the peer's EOF read
    /// after the close was asked for, or a send queue shorter than the figure before.
    pub last_progress: Option<u64>,
    /// Progress was seen in the step under way (reset after every step).
    pub progressed: bool,
    /// The socket was released when time passed (a `Tick`), with no progress in that step:
    /// the strategy let go on a timer or by its policy, not because something happened.
    pub released_by_time: bool,
    /// The first misuse, if any (P4).
    pub misuse: Option<Misuse>,
}

/// A socket call our application made, with what the model's kernel answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `write` of this many segments.
    Write(u8),
    /// `setsockopt(TCP_CORK)`.
    SetCork(bool),
    /// `read` of one segment.
    Read(Read),
    /// `shutdown(SHUT_WR)`.
    ShutdownWrite(Result<(), NotConnected>),
    /// `close`.
    Close,
    /// `SO_LINGER {1, t}` + `close` on a blocking socket: a close that blocks the thread
    /// until everything is acknowledged or the time is up.
    LingeringClose,
    /// `SO_LINGER {1, 0}` + `close`.
    Abort,
    /// The send-queue figure (`SIOCOUTQ` on Linux), in segments and the FIN.
    SendQueue(u32),
    /// The TCP state, where the flavour reports it.
    TcpInfo(Option<TcpState>),
    /// The send-queue figure kept after the end, where the flavour keeps one.
    SendQueueAfterTheEnd(Option<u32>),
    /// `getsockopt(SO_ERROR)`.
    TakeError(Option<SoError>),
    /// The poller asked whether the socket is readable.
    Readable(bool),
}

/// What happened to our kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Our application called it.
    Call(Call),
    /// A segment from the peer arrived.
    Receive(Segment),
    /// It gave up retransmitting.
    GiveUp,
    /// Its persist timer sent the segment it held for the window.
    Probe,
}

/// One input to our kernel, with the kernel before and after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// What happened.
    pub input: Input,
    /// Our kernel before.
    pub before: Kernel,
    /// Our kernel after.
    pub after: Kernel,
}

/// Our application's socket: the calls a strategy can make on our kernel, each acting on the
/// model's kernel as the real call would on the flavour's, and recorded for the properties (a
/// plain close over unread data for P2, a call after the release or a write after `shutdown`
/// for P4). A strategy gets one in each of its calls from the model:
///
/// ```
/// use linger_model::{Io, Read};
///
/// /// Reads until the socket has nothing more, then says whether the peer's EOF came.
/// fn drain(io: &mut Io<'_>) -> bool {
///     loop {
///         match io.read() {
///             Read::Data => continue,
///             Read::Eof => return true,
///             Read::WouldBlock | Read::Error(_) => return false,
///         }
///     }
/// }
/// ```
pub struct Io<'a> {
    pub(super) kernel: &'a mut Kernel,
    pub(super) wire: &'a mut Wire,
    pub(super) facts: &'a mut Facts,
    pub(super) now: u64,
    /// Where to log each call, when the caller wants them.
    pub(super) log: Option<&'a mut Vec<Logged>>,
}

impl Io<'_> {
    /// The model's clock, in microseconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Our kernel, to look at.
    pub fn kernel(&self) -> &Kernel {
        self.kernel
    }

    /// The send-queue figure our kernel reports (`SIOCOUTQ`, `FIONWRITE` or `SO_NWRITE`, per
    /// its [`Flavour`](super::kernel::Flavour)).
    pub fn send_queue(&mut self) -> u32 {
        self.check_open();
        let figure = self.kernel.send_queue();
        self.log(None, Call::SendQueue(figure));
        figure
    }

    /// The strategy was told `unacked` bytes are not acknowledged, from what the kernel
    /// reported: a smaller figure than the last is progress. (The figure the strategy is
    /// told, not the kernel's: on the BSDs the FIN's acknowledgement shows in the state, not
    /// in the figure.)
    pub fn told_unacked(&mut self, unacked: u32) {
        if self.facts.last_unacked.is_some_and(|last| unacked < last) {
            self.progress();
        }
        self.facts.last_unacked = Some(unacked);
    }

    /// The connection's state, where the kernel reports it (`TCP_INFO`,
    /// `TCP_CONNECTION_INFO`).
    pub fn tcp_info(&mut self) -> Option<TcpState> {
        self.check_open();
        let state = self.kernel.tcp_info();
        self.log(None, Call::TcpInfo(state));
        state
    }

    /// The send-queue figure the kernel keeps once the connection is over, if it keeps one.
    pub fn send_queue_after_the_end(&mut self) -> Option<u32> {
        self.check_open();
        let figure = self.kernel.send_queue_after_the_end();
        self.log(None, Call::SendQueueAfterTheEnd(figure));
        figure
    }

    /// `getsockopt(SO_ERROR)`: takes the pending error.
    pub fn take_error(&mut self) -> Option<SoError> {
        self.check_open();
        let before = self.before();
        let error = self.kernel.take_error();
        self.log(before, Call::TakeError(error));
        error
    }

    /// Whether the poller reports the socket readable (data, EOF, an error).
    pub fn readable(&mut self) -> bool {
        let readable = self.kernel.readable();
        self.log(None, Call::Readable(readable));
        readable
    }

    /// `write`: `segments` more data.
    pub fn write(&mut self, segments: u8) {
        self.check_open();
        if self.facts.write_shut {
            self.misuse(Misuse::WriteAfterShutdown);
            return;
        }
        let before = self.before();
        self.kernel.write(segments, self.wire);
        self.log(before, Call::Write(segments));
    }

    /// `setsockopt(TCP_CORK)`. Corking is not modelled (one segment is one byte); only its
    /// order relative to `shutdown` is checked.
    pub fn set_cork(&mut self, on: bool) {
        self.check_open();
        if on && self.facts.write_shut {
            self.misuse(Misuse::CorkAfterShutdown);
        }
        self.log(None, Call::SetCork(on));
    }

    /// `read`: one segment, or why not.
    pub fn read(&mut self) -> Read {
        self.check_open();
        let before = self.before();
        let read = self.kernel.app_read(self.wire);
        self.log(before, Call::Read(read));
        if self.facts.close_asked_at.is_some() {
            match read {
                Read::Data => {
                    self.facts.read_after_close = self.facts.read_after_close.saturating_add(1);
                    self.progress();
                }
                Read::Eof => self.progress(),
                Read::WouldBlock | Read::Error(_) => {}
            }
        }
        read
    }

    /// `shutdown(SHUT_WR)`; on a connection that is over (reset, timed out, or closed both
    /// ways), `ENOTCONN`.
    pub fn shutdown_write(&mut self) -> Result<(), NotConnected> {
        self.check_open();
        self.facts.write_shut = true;
        let before = self.before();
        let result = self.kernel.shutdown_write(self.wire);
        self.log(before, Call::ShutdownWrite(result));
        result
    }

    /// `close`: with unread data, on a connection not over, the kernel resets.
    pub fn close(&mut self) {
        self.close_as(Call::Close);
    }

    fn close_as(&mut self, call: Call) {
        self.count_close();
        if self.kernel.resets_on_close() {
            self.facts.closed_on_unread = true;
        }
        let before = self.before();
        self.kernel.close(self.wire);
        self.log(before, call);
    }

    /// `SO_LINGER {1, t}` + `close` on a blocking socket: to the kernel a `close` like any
    /// other (with unread data, it resets), which returns to the application only once
    /// everything is acknowledged or `t` has passed; the strategy says when, by what it
    /// reports as [`released`](Strategy::released). The conformance replay makes it a real
    /// blocking close on a thread of its own.
    pub fn lingering_close(&mut self) {
        self.close_as(Call::LingeringClose);
    }

    /// `SO_LINGER {1, 0}` + `close`: reset on purpose.
    pub fn abort(&mut self) {
        self.count_close();
        let before = self.before();
        self.kernel.abort(self.wire);
        self.log(before, Call::Abort);
    }

    /// Our kernel as it is, if calls are logged: what a call that changes it logs as before.
    fn before(&self) -> Option<Kernel> {
        self.log.as_ref().map(|_| self.kernel.clone())
    }

    /// Logs `call`, with our kernel `before` it (`None`: a call that changes nothing).
    fn log(&mut self, before: Option<Kernel>, call: Call) {
        if let Some(log) = self.log.as_deref_mut() {
            let after = self.kernel.clone();
            log.push(Logged {
                input: Input::Call(call),
                before: before.unwrap_or_else(|| after.clone()),
                after,
            });
        }
    }

    /// Records a misuse; the first one is kept.
    pub fn misuse(&mut self, misuse: Misuse) {
        self.facts.misuse.get_or_insert(misuse);
    }

    fn progress(&mut self) {
        self.facts.last_progress = Some(self.now);
        self.facts.progressed = true;
    }

    fn check_open(&mut self) {
        if !self.kernel.fd_open {
            self.misuse(Misuse::CallAfterRelease);
        }
    }

    fn count_close(&mut self) {
        self.facts.fd_closes = self.facts.fd_closes.saturating_add(1);
        if self.facts.fd_closes > 1 {
            self.misuse(Misuse::ClosedTwice);
        }
    }
}
