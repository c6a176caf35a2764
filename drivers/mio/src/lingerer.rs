//! Many lingering closes on one `mio::Poll`.

use crate::Connection;
use crate::close_handle::{Arc, CloseHandle, Mailbox, Request, Requests, ShutdownHandle};
use crate::timers::Timers;
use linger::{Clock, CloseMachine, Event, Instant, Outcome, Policy};
use linger_io::AcceptFailure;
use linger_io::pressure::{GiveWay, Progress, Relief, Standing};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};
use std::borrow::Borrow;
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
/// It holds at most `capacity` sockets ([`default_capacity`](Self::default_capacity): half
/// the process's descriptor limit). Past three quarters of that, every adoption gives the
/// close that gives way first, among those not yet shortened, at most [`SHORT_LINGER`]
/// more, as Apache httpd does under load; at the cap, it *reclaims* the close that gives
/// way first: ends it at once as its policy says for a spent budget, as nginx reclaims
/// lingering connections first. A socket handed over is never refused: refusing would leave
/// the caller with nothing but a plain close, the very loss this avoids.
///
/// Closes give way in this order: those with everything acknowledged (only the peer's EOF
/// awaited), then those whose peer has acknowledged nothing since the close began (it reads
/// nothing), then those still delivering to a peer that reads; the oldest first within each.
///
/// # Out of descriptors
///
/// When the loop's `accept` fails, it asks [`after_accept_error`](Self::after_accept_error)
/// whether to accept again at once: after a connection lost before it was accepted, yes; for
/// want of descriptors (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`), it reclaims a batch of
/// closes, their descriptors released before it returns, and says yes if it could;
/// [`reclaim`](Self::reclaim) reclaims a given number. Reclaimed closes are counted
/// ([`reclaimed`](Self::reclaimed)) and their outcomes come from `poll` with the rest.
///
/// ```no_run
/// # fn serve(listener: mio::net::TcpListener, lingerer: &mut linger_mio::Lingerer) {
/// loop {
///     match listener.accept() {
///         Ok((stream, _peer)) => { /* serve it, then adopt it */ }
///         Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
///         // A connection lost before it was accepted, or out of descriptors and closes
///         // reclaimed: accept again at once.
///         Err(error) if lingerer.after_accept_error(&error) => continue,
///         // Nothing to reclaim, or another error: retry on a timer, not at once.
///         Err(error) => break,
///     }
/// }
/// # }
/// ```
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
    /// The slots of the closes held, in the order they give way.
    order: GiveWay<usize>,
    /// Closes reclaimed so far.
    reclaimed: u64,
    /// Each held close's deadline, by slot.
    timers: Timers,
    adoptions: u64,
    /// Slots the last poll reported ready (kept to reuse its allocation).
    ready: Vec<usize>,
    finished: Vec<(Token, Outcome)>,
    requests: Requests,
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
    /// What the peer has shown since the close began, and where that puts the close in the
    /// order closes give way (as `order` holds it, once it does).
    progress: Progress,
    standing: Standing,
}

impl Lingerer {
    /// A lingerer holding at most `capacity` sockets at once (at least one):
    /// [`default_capacity`](Self::default_capacity) unless you know better.
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
            order: GiveWay::default(),
            reclaimed: 0,
            timers: Timers::default(),
            adoptions: 0,
            ready: Vec::new(),
            finished: Vec::new(),
            requests,
        })
    }

    /// The capacity a server's lingerer should have, as the process stands now: half its
    /// soft descriptor limit (`RLIMIT_NOFILE`). At most half for the closes of past
    /// connections leaves the live ones, the server's files and its upstream connections at
    /// least as many (nginx's rule of thumb is twice as many descriptors as connections):
    /// 512 under the usual soft limit of 1,024; call
    /// [`raise_descriptor_limit`](crate::raise_descriptor_limit) first in `main` to size it
    /// from the hard limit. Where there is no such limit (Windows) or it is unlimited, 10,000
    /// ([`linger_io::limits::FALLBACK_CAPACITY`]), which bounds memory rather than
    /// descriptors.
    pub fn default_capacity() -> usize {
        linger_io::limits::default_capacity()
    }

    /// Most sockets held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Closes reclaimed so far, at the capacity or by [`reclaim`](Self::reclaim), and live
    /// connections that gave way to [`make_room`](Self::make_room): ended early to make room,
    /// whatever their outcome.
    pub fn reclaimed(&self) -> u64 {
        self.reclaimed
    }

    /// After the loop's `accept` failed with `error`, whether to accept again at once: yes
    /// when one connection was lost before it was accepted (or the call was interrupted;
    /// [`linger_io::accept_failure`] has every such error), and when it was for want of
    /// descriptors or socket memory and a batch of closes (nginx's: an eighth of those held,
    /// 1 to 32) was reclaimed, their descriptors free again. No after `WouldBlock` (none
    /// waiting), with nothing to reclaim, or after an error of the listener's own: the loop
    /// should retry later (the listen queue keeps the connection), not spin.
    pub fn after_accept_error(&mut self, error: &io::Error) -> bool {
        match linger_io::accept_failure(error) {
            AcceptFailure::Transient => true,
            AcceptFailure::Exhausted => {
                self.reclaim(linger_io::pressure::reclaim_batch(self.held)) > 0
            }
            AcceptFailure::Other => false,
        }
    }

    /// Reclaims the `max` closes that give way first (see the type's docs): each ends now as
    /// its policy says for a spent budget (a plain close, or a reset over data still unread
    /// or when the policy says abort), after one last round of discarding what the peer
    /// sent, and releases its socket before this returns; its outcome comes from the next
    /// [`poll`](Self::poll). Returns how many released their sockets: 0 when none was held.
    /// One that the last round ended by itself (the peer's EOF was waiting) released its
    /// socket too, but is not counted [`reclaimed`](Self::reclaimed): it was not cut short.
    pub fn reclaim(&mut self, max: usize) -> usize {
        let now = self.clock.now();
        let mut released = 0;
        while released < max {
            let Some((_, slot)) = self.order.pop_next() else {
                break;
            };
            if let Some(lingering) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                if spend_budget(lingering, now) {
                    self.reclaimed += 1;
                }
                self.run(slot, now);
                released += 1;
            }
        }
        released
    }

    /// Makes room for `max` connections when descriptors run short: first the live
    /// connections the loop offers, each with its token, that give way (nothing sent yet, the
    /// oldest first; idle after their answer, the oldest first; a request
    /// arriving below the minimum pace, the slowest first; a write the peer has stalled:
    /// `linger_io::pressure::LiveStanding`), never one being worked on or written to at a
    /// pace; then the lingering closes held here, as [`reclaim`](Self::reclaim) does. Each
    /// ends at once as for a spent budget and releases its socket before this returns.
    /// Returns the live connections that gave way, with their outcomes, for the loop to
    /// forget; the closes' outcomes come from [`poll`](Self::poll).
    ///
    /// The loop calls it when `accept` fails for want of descriptors, and after an accept
    /// that finds them running short ([`running_short`](crate::running_short)), with a batch
    /// of [`batch`](Self::batch):
    ///
    /// ```no_run
    /// # use linger_mio::{Connection, Lingerer, Policy};
    /// # use std::collections::HashMap;
    /// # fn accept(listener: &mio::net::TcpListener, poll: &mio::Poll, lingerer: &mut Lingerer,
    /// #     connections: &mut HashMap<mio::Token, Connection>) {
    /// let registry = poll.registry();
    /// match listener.accept() {
    ///     Ok((stream, _peer)) => {
    ///         let in_use = linger_mio::in_use_at_accept(&stream).unwrap_or(0);
    ///         if linger_mio::running_short(in_use) {
    ///             let batch = lingerer.batch(connections.len());
    ///             let live = connections.iter_mut().map(|(token, live)| (*token, live));
    ///             for (token, _outcome) in lingerer.make_room(batch, live, registry) {
    ///                 connections.remove(&token);
    ///             }
    ///         }
    ///         let connection = Connection::accepted(stream, Policy::default());
    ///         // ... register it and keep it in `connections`
    ///     }
    ///     Err(error) if linger_mio::accept_failure(&error) == linger_mio::AcceptFailure::Exhausted => {
    ///         let batch = lingerer.batch(connections.len());
    ///         let live = connections.iter_mut().map(|(token, live)| (*token, live));
    ///         for (token, _outcome) in lingerer.make_room(batch, live, registry) {
    ///             connections.remove(&token);
    ///         }
    ///     }
    ///     Err(_) => {}
    /// }
    /// # }
    /// ```
    pub fn make_room<'a>(
        &mut self,
        max: usize,
        live: impl IntoIterator<Item = (Token, &'a mut Connection)>,
        registry: &Registry,
    ) -> Vec<(Token, Outcome)> {
        let now = linger_io::pressure::since_start(std::time::Instant::now());
        let mut ranked: Vec<(u64, Token, &mut Connection)> = live
            .into_iter()
            .map(|(token, connection)| (connection.rank(), token, connection))
            .filter(|&(rank, ..)| linger_io::pressure::may_give_way(rank, now))
            .collect();
        ranked.sort_unstable_by_key(|&(rank, ..)| rank);
        let gave_way: Vec<(Token, Outcome)> = ranked
            .into_iter()
            .take(max)
            .map(|(_, token, connection)| (token, connection.give_way(registry)))
            .collect();
        self.reclaimed += gave_way.len() as u64;
        self.reclaim(max - gave_way.len());
        gave_way
    }

    /// How many connections to make room for at once, when the loop holds `live` connections
    /// besides the closes held here: nginx's batch, an eighth of them all, 1 to 32.
    pub fn batch(&self, live: usize) -> usize {
        linger_io::pressure::reclaim_batch(live + self.held)
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
            progress: Progress::default(),
            standing: Standing::Delivering,
        };
        if slot == self.slots.len() {
            self.slots.push(Some(lingering));
        } else {
            self.slots[slot] = Some(lingering);
        }
        self.held += 1;
        // A server shutdown asked for before this adoption applies to it too.
        self.answer_request(slot, now);
        self.run(slot, now);
        // `run` judged where it stands, if it is still held.
        if let Some(lingering) = &self.slots[slot] {
            self.order.insert(adopted, lingering.standing, slot);
        }
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
        let taken = self.slots[slot].take();
        if let Some(lingering) = &taken {
            self.order.remove(lingering.adopted, lingering.standing);
        }
        self.timers.set(slot, None);
        self.held -= 1;
        self.free.push(slot);
        Err(AdoptError {
            stream: taken.map(|lingering| lingering.stream),
            error,
        })
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

    /// Past three quarters of the capacity, shortens the close that gives way first among
    /// those not yet shortened; at the capacity, reclaims the close that gives way first.
    fn relieve_pressure(&mut self, now: Instant) {
        match linger_io::pressure::relief(self.order.len(), self.capacity) {
            Some(Relief::Reclaim) => {
                self.reclaim(1);
            }
            Some(Relief::Shorten) => {
                let Some(&slot) = self.order.shorten_next() else {
                    return;
                };
                if let Some(lingering) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                    let _ = lingering.machine.shorten_budget(now, SHORT_LINGER);
                }
                self.run(slot, now);
            }
            None => {}
        }
    }

    /// Performs what the close in `slot` asks for; releases it, or reschedules its deadline
    /// and moves it to where it now stands in the order closes give way.
    fn run(&mut self, slot: usize, now: Instant) {
        let Some(lingering) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if drive(lingering, now) {
            self.release(slot);
            return;
        }
        self.timers.set(slot, lingering.machine.poll_timeout());
        let standing = lingering.progress.standing(&lingering.machine, now);
        self.order
            .restand(lingering.adopted, lingering.standing, standing);
        lingering.standing = standing;
    }

    /// Closes the socket in `slot` (deregistered first, if it was registered) and records its
    /// outcome.
    fn release(&mut self, slot: usize) {
        let Some(Lingering {
            mut stream,
            machine,
            registered,
            adopted,
            standing,
            ..
        }) = self.slots.get_mut(slot).and_then(Option::take)
        else {
            return;
        };
        self.order.remove(adopted, standing);
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

/// Ends a close now as its policy says for a spent budget, after one last discard round:
/// what the peer sent since the last one would make a plain close a reset the outcome does
/// not mention. False if that round ended it by itself (the peer's EOF was waiting): it was
/// not cut short.
fn spend_budget(lingering: &mut Lingering, now: Instant) -> bool {
    let _ = lingering.machine.handle(Event::Readable, now);
    if drive(lingering, now) {
        return false;
    }
    linger_io::pressure::spend_budget(&mut lingering.machine, now);
    true
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
