//! Many lingering closes on one `mio::Poll`.

use crate::Connection;
use crate::close_handle::{Arc, CloseHandle, Mailbox, Request, Requests, ShutdownHandle};
use crate::timers::Timers;
use linger::{Clock, CloseMachine, Event, Instant, Outcome, Policy};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};
use std::borrow::Borrow;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read};
use std::time::Duration;

/// The token of the waker through which close and shutdown handles wake the lingerer.
const WAKER: Token = Token(usize::MAX);

/// Apache's short linger (`SECONDS_TO_LINGER`), given to the oldest closes under pressure.
pub const SHORT_LINGER: Duration = Policy::SHORT_LINGER;

/// Closes sockets in the background: hand one over with [`adopt`](Self::adopt) when done
/// with it, and call [`poll`](Self::poll) from the event loop to drive every close and
/// collect the outcomes.
///
/// The `Lingerer` owns a `mio::Poll`. To wait on it from another poll on unix, register its
/// file descriptor (`AsRawFd`) with `mio::unix::SourceFd` (mio's `os-ext` feature) for
/// readable events, bound that wait by [`next_timeout`](Self::next_timeout), and call
/// `poll(Some(Duration::ZERO))` when either fires. On Windows a `mio::Poll` cannot be
/// watched by another: call `poll` with a short timeout from the loop (or a thread of its
/// own).
///
/// # Pressure
///
/// It holds at most `capacity` sockets. Past three quarters of that, every adoption gives
/// the oldest close at most [`SHORT_LINGER`] more, as Apache httpd does under load; at the
/// cap, the oldest close is aborted to make room (its outcome says `Aborted`), as nginx
/// reclaims lingering connections first. A socket handed over is never refused: refusing
/// would leave the caller with nothing but a plain close, the very loss this avoids.
///
/// # From other threads
///
/// [`close_handle`](Self::close_handle) gives a [`CloseHandle`] on one close and
/// [`shutdown_handle`](Self::shutdown_handle) a [`ShutdownHandle`] on all of them, present and
/// future; both wake the lingerer's poll. Asking a close held here to *close* gives it at most
/// [`SHORT_LINGER`] more (it is closing already; the server wants it done); asking it to
/// *abort* resets it at the next poll, even after a close was asked for.
#[derive(Debug)]
pub struct Lingerer {
    poll: Poll,
    events: Events,
    clock: Clock,
    slots: Vec<Option<Lingering>>,
    free: Vec<usize>,
    held: usize,
    capacity: usize,
    /// Closes not yet shortened, oldest first; entries of closes that ended are skipped.
    order: VecDeque<Adoption>,
    /// Closes already shortened, oldest first (older than any in `order`).
    shortened: VecDeque<Adoption>,
    /// Each held close's deadline, by slot.
    timers: Timers,
    adoptions: u64,
    /// Slots the last poll reported ready (kept to reuse its allocation).
    ready: Vec<usize>,
    finished: Vec<(Token, Outcome)>,
    requests: Requests,
}

/// An entry of the pressure queues: the close adopted `number`th, in `slot` if still held.
#[derive(Clone, Copy, Debug)]
struct Adoption {
    slot: usize,
    number: u64,
}

/// One socket being closed.
#[derive(Debug)]
struct Lingering {
    stream: TcpStream,
    machine: CloseMachine,
    /// Which adoption this is: tells this close from earlier ones in the same slot.
    adopted: u64,
    /// What other threads asked of this close.
    mailbox: Arc<Mailbox>,
    /// Registered with the poller (only once the close has to wait).
    registered: bool,
}

impl Lingerer {
    /// A lingerer holding at most `capacity` sockets at once (at least one).
    pub fn new(capacity: usize) -> io::Result<Lingerer> {
        let poll = Poll::new()?;
        let requests = Requests::new(mio::Waker::new(poll.registry(), WAKER)?);
        Ok(Lingerer {
            poll,
            events: Events::with_capacity(1024),
            clock: Clock::new(),
            slots: Vec::new(),
            free: Vec::new(),
            held: 0,
            capacity: capacity.max(1),
            order: VecDeque::new(),
            shortened: VecDeque::new(),
            timers: Timers::default(),
            adoptions: 0,
            ready: Vec::new(),
            finished: Vec::new(),
            requests,
        })
    }

    /// A handle with which any thread can ask for the close `token` names to be cut short
    /// or aborted; `None` if no close is held under `token`. A handle outliving its close
    /// does nothing, even once the token is reused.
    pub fn close_handle(&self, token: Token) -> Option<CloseHandle> {
        let lingering = self.slots.get(token.0).and_then(Option::as_ref)?;
        Some(CloseHandle::new(&lingering.mailbox))
    }

    /// A handle with which any thread can cut short ([`close_all`](ShutdownHandle::close_all))
    /// or abort ([`abort_all`](ShutdownHandle::abort_all)) every close held, and every one
    /// adopted afterwards: for server shutdown.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.requests.shutdown_handle()
    }

    /// Takes over `stream` and starts its lingering close under `policy`. Returns the token
    /// its outcome will come back with from [`poll`](Self::poll); no other close gets that
    /// token until the outcome has been reported. The outcome's `bytes_written` is the
    /// kernel's count of the writes made before (Linux), or `None` where the platform cannot
    /// tell (hand over a [`Connection`] to count them everywhere).
    ///
    /// The close starts at once, and most end right here (the peer had already closed):
    /// the socket is registered with the poller only if its close has to wait. Fails only if
    /// that registration fails; the stream comes back inside the error, its write side
    /// possibly shut down already, so the caller can finish the close some other way
    /// (`linger_std::close`, say).
    pub fn adopt(
        &mut self,
        stream: TcpStream,
        policy: impl Borrow<Policy>,
    ) -> Result<Token, AdoptError> {
        let machine = linger_io::adopt(&stream, *policy.borrow());
        self.take_over(stream, machine)
    }

    /// Takes over `connection`, deregistering it from the application's `registry`, and
    /// closes it (or goes on closing it) here, its figures intact.
    pub fn adopt_connection(
        &mut self,
        connection: Connection,
        registry: &Registry,
    ) -> Result<Token, AdoptError> {
        let Some((mut stream, machine)) = connection.into_parts() else {
            let error = io::Error::new(ErrorKind::NotConnected, "the connection was released");
            return Err(AdoptError {
                stream: None,
                error,
            });
        };
        // It may never have been registered there; nothing to undo then.
        let _ = registry.deregister(&mut stream);
        self.take_over(stream, machine)
    }

    fn take_over(&mut self, stream: TcpStream, machine: CloseMachine) -> Result<Token, AdoptError> {
        let now = self.clock.now();
        self.relieve_pressure(now);
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let mut machine = machine;
        // Refused only if it is closing already, which is as good.
        let _ = machine.close(now);
        self.adoptions += 1;
        let adopted = self.adoptions;
        let lingering = Lingering {
            stream,
            machine,
            adopted,
            mailbox: self.requests.mailbox(slot),
            registered: false,
        };
        if slot == self.slots.len() {
            self.slots.push(Some(lingering));
        } else {
            self.slots[slot] = Some(lingering);
        }
        self.held += 1;
        self.order.push_back(Adoption {
            slot,
            number: adopted,
        });
        // A server shutdown asked for before this adoption applies to it too.
        self.answer_request(slot, now);
        self.run(slot, now);
        self.register(slot)?;
        Ok(Token(slot))
    }

    /// Registers the close in `slot` for readiness if it is still held: one that ended while
    /// being adopted costs the poller nothing. On failure the close is forgotten, its stream
    /// handed back.
    fn register(&mut self, slot: usize) -> Result<(), AdoptError> {
        let Some(lingering) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(());
        };
        let registry = self.poll.registry();
        let Err(error) = registry.register(&mut lingering.stream, Token(slot), Interest::READABLE)
        else {
            lingering.registered = true;
            return Ok(());
        };
        let stream = self.slots[slot].take().map(|lingering| lingering.stream);
        self.timers.set(slot, None);
        self.held -= 1;
        self.free.push(slot);
        Err(AdoptError { stream, error })
    }

    /// Waits at most `timeout` (or until the next deadline) for readiness, drives every
    /// close it concerns and every expired deadline, and returns the closes that ended, with
    /// the tokens [`adopt`](Self::adopt) gave them. `Some(Duration::ZERO)` never blocks, and
    /// neither does a poll with closes already ended (say, during `adopt`) to report.
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
    ) -> io::Result<impl Iterator<Item = (Token, Outcome)> + '_> {
        let now = self.clock.now();
        let until_deadline = self
            .next_deadline()
            .map(|at| at.saturating_duration_since(now));
        let timeout = match (timeout, until_deadline) {
            // Closes that ended during `adopt` are reported without waiting.
            _ if !self.finished.is_empty() => Some(Duration::ZERO),
            (Some(given), Some(deadline)) => Some(given.min(deadline)),
            (given, deadline) => given.or(deadline),
        };
        match self.poll.poll(&mut self.events, timeout) {
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            result => result?,
        }
        let now = self.clock.now();
        let mut ready = std::mem::take(&mut self.ready);
        let mut woken = false;
        for event in self.events.iter() {
            match event.token() {
                WAKER => woken = true,
                Token(slot) => ready.push(slot),
            }
        }
        if woken {
            self.answer_requests(now);
        }
        for slot in ready.drain(..) {
            if let Some(lingering) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                let _ = lingering.machine.handle(Event::Readable, now);
                self.run(slot, now);
            }
        }
        self.ready = ready;
        while let Some(slot) = self.timers.pop_due(now) {
            if let Some(lingering) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                lingering.machine.handle_timeout(now);
                self.run(slot, now);
            }
        }
        // A token is reused only once its outcome was reported, so no report is ambiguous.
        self.free
            .extend(self.finished.iter().map(|(Token(slot), _)| *slot));
        Ok(self.finished.drain(..))
    }

    /// How long until the earliest deadline of any close held, for an outer poll's timeout.
    pub fn next_timeout(&mut self) -> Option<Duration> {
        let now = self.clock.now();
        self.next_deadline()
            .map(|at| at.saturating_duration_since(now))
    }

    /// Sockets held.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether no socket is held.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// After a wake-up: acts on what other threads asked.
    fn answer_requests(&mut self, now: Instant) {
        let raised = self.requests.drain();
        if raised.everyone {
            for slot in 0..self.slots.len() {
                self.answer_request(slot, now);
            }
        } else {
            for slot in raised.tokens {
                self.answer_request(slot, now);
            }
        }
    }

    /// Acts on a new request for the close in `slot`, if there is one.
    fn answer_request(&mut self, slot: usize, now: Instant) {
        let Some(lingering) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        // Refused only once the close has ended, when there is nothing left to do.
        let _ = match lingering.mailbox.take() {
            Some(Request::Close) => lingering.machine.shorten_budget(now, SHORT_LINGER),
            Some(Request::Abort) => lingering.machine.abort(now),
            None => return,
        };
        self.run(slot, now);
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        self.timers.earliest()
    }

    /// Past three quarters of the capacity, shortens the oldest close not yet shortened; at
    /// the capacity, aborts the oldest close.
    fn relieve_pressure(&mut self, now: Instant) {
        if self.held >= self.capacity {
            if let Some(oldest) = self.oldest(true) {
                if let Some(lingering) = self.live(oldest) {
                    let _ = lingering.machine.abort(now);
                }
                self.run(oldest.slot, now);
            }
        } else if self.held >= self.capacity - self.capacity / 4 {
            if let Some(oldest) = self.oldest(false) {
                if let Some(lingering) = self.live(oldest) {
                    let _ = lingering.machine.shorten_budget(now, SHORT_LINGER);
                }
                self.shortened.push_back(oldest);
                self.run(oldest.slot, now);
            }
        }
    }

    /// Takes the oldest close still held: among all (`any`), or among those not shortened.
    fn oldest(&mut self, any: bool) -> Option<Adoption> {
        let shortened = any
            .then(|| pop_held(&mut self.shortened, &self.slots))
            .flatten();
        shortened.or_else(|| pop_held(&mut self.order, &self.slots))
    }

    /// The close `adoption` names, if it is still held.
    fn live(&mut self, adoption: Adoption) -> Option<&mut Lingering> {
        self.slots
            .get_mut(adoption.slot)
            .and_then(Option::as_mut)
            .filter(|lingering| lingering.adopted == adoption.number)
    }

    /// Performs what the close in `slot` asks for; releases it, or reschedules its deadline.
    fn run(&mut self, slot: usize, now: Instant) {
        let Some(lingering) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if drive(lingering, now) {
            self.release(slot);
            return;
        }
        self.timers.set(slot, lingering.machine.poll_timeout());
    }

    /// Closes the socket in `slot` (deregistered first, if it was registered) and records its
    /// outcome.
    fn release(&mut self, slot: usize) {
        let Some(Lingering {
            mut stream,
            machine,
            registered,
            ..
        }) = self.slots.get_mut(slot).and_then(Option::take)
        else {
            return;
        };
        if registered {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        drop(stream);
        self.timers.set(slot, None);
        self.held -= 1;
        match machine.outcome() {
            // The slot is freed once `poll` reports the outcome.
            Some(outcome) => self.finished.push((Token(slot), outcome)),
            None => self.free.push(slot),
        }
    }
}

/// Pops `queue` until an entry names a close still held.
fn pop_held(queue: &mut VecDeque<Adoption>, slots: &[Option<Lingering>]) -> Option<Adoption> {
    while let Some(adoption) = queue.pop_front() {
        let held = slots.get(adoption.slot).and_then(Option::as_ref);
        if held.is_some_and(|lingering| lingering.adopted == adoption.number) {
            return Some(adoption);
        }
    }
    None
}

/// Performs every action of one close; true once it released its socket.
fn drive(lingering: &mut Lingering, now: Instant) -> bool {
    loop {
        let stream = &lingering.stream;
        match linger_io::drive(stream, &mut lingering.machine, now, |buf| {
            (&*stream).read(buf)
        }) {
            Ok(released) => return released.is_some(),
            // The kernel reported what the machine cannot believe: stop trusting it.
            Err(_) => {
                let _ = lingering.machine.abort(now);
            }
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Lingerer {
    /// The poller's descriptor: readable when some close has work.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.poll.as_raw_fd()
    }
}

/// A socket the [`Lingerer`] could not take, returned to the caller with the reason.
#[derive(Debug, thiserror::Error)]
#[error("the lingerer could not take the socket: {error}")]
pub struct AdoptError {
    /// The socket (`None` if the connection handed over was already released). Its write
    /// side may be shut down: adoption starts the close before it registers the socket.
    pub stream: Option<TcpStream>,
    /// Why registration failed.
    #[source]
    pub error: io::Error,
}
