//! [`Lingerer`]: what the closes of one server share. How many are in flight, the pressure
//! rules, graceful shutdown, and where the outcomes go.

use crate::lingering::Lingering;
use crate::report::{CloseReport, Counters, Counts, Hook};
use crate::{LingerStream, SHORT_LINGER};
use linger::{Clock, Policy};
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};

/// The closes of one server: hand each accepted stream to it ([`stream`](Self::stream),
/// [`accept`](Self::accept)) and every close that has to wait goes on in a task of its own,
/// counted, bounded under pressure, reported through a hook, and ended at shutdown.
///
/// `Lingerer` is a cheap handle (`Clone + Send + Sync`): keep one to read [`counts`] or to
/// shut down while the server owns another.
///
/// # Pressure
///
/// As linger-mio's `Lingerer`: at most `capacity` closes wait at once. Past three quarters
/// of that, every new waiting close gives the oldest one not yet shortened at most
/// [`SHORT_LINGER`] more (Apache's short linger); at the capacity, the oldest close is
/// aborted to make room (nginx reclaims lingering connections first). A close is never
/// refused: refusing would leave nothing but the plain close that loses data.
///
/// # Shutdown
///
/// [`close_all`](Self::close_all) gives every close in flight, and every later one, at most
/// a given time; [`finished`](Self::finished) resolves when every stream of the lingerer has
/// been dropped and the last close has ended; [`shutdown`](Self::shutdown) does both. Await
/// it before the runtime goes away: a close still waiting when its runtime shuts down is
/// ended at once (a plain close, or a reset if data is unread), and its outcome says so.
///
/// [`counts`]: Self::counts
#[derive(Clone)]
pub struct Lingerer {
    shared: Arc<Shared>,
}

/// Builds a [`Lingerer`]; from [`Lingerer::builder`].
#[must_use]
pub struct LingererBuilder {
    policy: Policy,
    capacity: usize,
    hook: Option<Hook>,
}

struct Shared {
    policy: Policy,
    capacity: usize,
    registry: Mutex<Registry>,
    /// Closes in flight; `finished` waits for zero.
    in_flight: watch::Sender<usize>,
    /// Streams not dropped yet, whose closes are still to come; `finished` waits for zero.
    streams: watch::Sender<usize>,
    counters: Counters,
    hook: Option<Hook>,
}

/// The closes waiting in the background, oldest first, by when they started waiting.
#[derive(Default)]
struct Registry {
    next_id: u64,
    /// Not shortened yet: what pressure shortens first.
    lingering: BTreeMap<u64, Arc<Control>>,
    /// Shortened already: what pressure aborts first.
    shortened: BTreeMap<u64, Arc<Control>>,
    /// What `close_all`/`abort_all` asked; applies to every later close too.
    shutdown: Option<Request>,
}

/// What the server asks of one close that is waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// End within this much more time.
    Shorten(Duration),
    /// Reset now.
    Abort,
}

impl Request {
    /// The stronger of two requests: an abort, or the shorter time.
    fn merge(self, other: Request) -> Request {
        match (self, other) {
            (Request::Shorten(a), Request::Shorten(b)) => Request::Shorten(a.min(b)),
            _ => Request::Abort,
        }
    }
}

/// The mailbox of one waiting close: a request, and the wake-up of its task.
#[derive(Default)]
pub(crate) struct Control {
    request: Mutex<Option<Request>>,
    wake: Notify,
}

impl Control {
    fn ask(&self, request: Request) {
        let mut slot = lock(&self.request);
        *slot = Some(slot.map_or(request, |held| held.merge(request)));
        drop(slot);
        // Stores a permit if the task is not waiting yet, so no request is missed.
        self.wake.notify_one();
    }

    /// The request not yet acted on, if any.
    pub(crate) fn take(&self) -> Option<Request> {
        lock(&self.request).take()
    }

    /// Resolves when a request arrives.
    pub(crate) async fn asked(&self) {
        self.wake.notified().await;
    }
}

/// A stream's membership of its [`Lingerer`] until it is dropped, after its close has
/// started: [`finished`](Lingerer::finished) waits for it.
pub(crate) struct Alive {
    shared: Arc<Shared>,
}

impl fmt::Debug for Alive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Alive")
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.shared.streams.send_modify(|streams| *streams -= 1);
    }
}

/// A close's membership of a [`Lingerer`] while it waits in the background.
pub(crate) struct Ticket {
    id: u64,
    pub(crate) control: Arc<Control>,
}

impl Lingerer {
    /// Most closes waiting at once by default; see [`LingererBuilder::capacity`].
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A lingerer closing under `policy`, with the default capacity and no hook.
    pub fn new(policy: impl Borrow<Policy>) -> Lingerer {
        Lingerer::builder(policy).build()
    }

    /// A builder for a lingerer closing under `policy`.
    pub fn builder(policy: impl Borrow<Policy>) -> LingererBuilder {
        LingererBuilder {
            policy: *policy.borrow(),
            capacity: Lingerer::DEFAULT_CAPACITY,
            hook: None,
        }
    }

    /// The policy every stream of this lingerer closes under.
    pub fn policy(&self) -> &Policy {
        &self.shared.policy
    }

    /// Wraps an accepted `stream`: its writes are counted and, once it is dropped (or
    /// [`closed`](LingerStream::close)), it closes under this lingerer.
    pub fn stream(&self, stream: TcpStream) -> LingerStream {
        LingerStream::managed(stream, self.clone(), None)
    }

    /// Accepts a connection from `listener` and wraps it, as [`stream`](Self::stream): the
    /// accept loop of a hyper server.
    pub async fn accept(
        &self,
        listener: &TcpListener,
    ) -> std::io::Result<(LingerStream, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        Ok((
            LingerStream::managed(stream, self.clone(), Some(peer)),
            peer,
        ))
    }

    /// Closes a stream the application is done with, in the background; its outcome goes
    /// where every other does. Bytes written before are taken from the kernel's count where
    /// the platform keeps one (see [`close`](crate::close)).
    pub fn close(&self, stream: TcpStream) {
        let machine = linger_io::adopt(&stream, self.shared.policy);
        let owner = Some(self.clone());
        Lingering::begin(stream, machine, Clock::new(), owner, None)
            .hand_off(Handle::try_current().ok());
    }

    /// Closes in flight, and the running count of closes by ending.
    pub fn counts(&self) -> Counts {
        self.shared.counters.read(*self.shared.in_flight.borrow())
    }

    /// Gives every close in flight, and every one started later, at most `within` more:
    /// for graceful shutdown. Never extends a close.
    pub fn close_all(&self, within: Duration) {
        self.raise(Request::Shorten(within));
    }

    /// Resets every close in flight, and every one started later, at once.
    pub fn abort_all(&self) {
        self.raise(Request::Abort);
    }

    /// Resolves once every stream of this lingerer has been dropped and no close is in
    /// flight (at once if none is). A server's framework may drop a connection's stream just
    /// after it reports the connection finished (axum's `serve` can return first): its close
    /// is waited for all the same, not left to be cut short with the runtime.
    pub async fn finished(&self) {
        // A stream's close is counted in flight before the stream stops counting, so once
        // no stream is left, every close is counted. Each wait fails only if its sender is
        // gone, which `self` prevents.
        let _ = self
            .shared
            .streams
            .subscribe()
            .wait_for(|&streams| streams == 0)
            .await;
        let mut in_flight = self.shared.in_flight.subscribe();
        let _ = in_flight.wait_for(|&closes| closes == 0).await;
    }

    /// Graceful shutdown: [`close_all`](Self::close_all) within `within`, then
    /// [`finished`](Self::finished); returns the counts once the last close has ended.
    pub async fn shutdown(&self, within: Duration) -> Counts {
        self.close_all(within);
        self.finished().await;
        self.counts()
    }

    /// A stream of this lingerer is made: counted until it is dropped.
    pub(crate) fn alive(&self) -> Alive {
        self.shared.streams.send_modify(|streams| *streams += 1);
        Alive {
            shared: Arc::clone(&self.shared),
        }
    }

    fn raise(&self, request: Request) {
        let mut registry = lock(&self.shared.registry);
        let raised = registry
            .shutdown
            .map_or(request, |held| held.merge(request));
        registry.shutdown = Some(raised);
        let Registry {
            lingering,
            shortened,
            ..
        } = &mut *registry;
        for control in lingering.values().chain(shortened.values()) {
            control.ask(raised);
        }
        shortened.append(lingering);
    }

    /// A close starts waiting in the background: apply the pressure rules, then any
    /// shutdown already asked, and count it in flight.
    pub(crate) fn enter(&self) -> Ticket {
        let mut registry = lock(&self.shared.registry);
        let in_flight = *self.shared.in_flight.borrow();
        let capacity = self.shared.capacity;
        if in_flight >= capacity {
            let oldest = registry.shortened.pop_first();
            if let Some((_, control)) = oldest.or_else(|| registry.lingering.pop_first()) {
                control.ask(Request::Abort);
            }
        } else if in_flight >= capacity - capacity / 4 {
            if let Some((id, control)) = registry.lingering.pop_first() {
                control.ask(Request::Shorten(SHORT_LINGER));
                registry.shortened.insert(id, control);
            }
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let control = Arc::new(Control::default());
        match registry.shutdown {
            Some(request) => {
                control.ask(request);
                registry.shortened.insert(id, Arc::clone(&control));
            }
            None => {
                registry.lingering.insert(id, Arc::clone(&control));
            }
        }
        self.shared.in_flight.send_modify(|closes| *closes += 1);
        Ticket { id, control }
    }

    /// A close ended: count it, report it, then leave the registry if it waited, so that
    /// once [`finished`](Self::finished) resolves every hook call has returned.
    pub(crate) fn report(&self, ticket: Option<Ticket>, report: &CloseReport) {
        self.shared.counters.count(&report.outcome);
        if let Some(hook) = &self.shared.hook {
            hook(report);
        }
        if let Some(Ticket { id, .. }) = ticket {
            let mut registry = lock(&self.shared.registry);
            registry.lingering.remove(&id);
            registry.shortened.remove(&id);
            self.shared.in_flight.send_modify(|closes| *closes -= 1);
        }
    }
}

impl LingererBuilder {
    /// Most closes waiting at once (at least one); see [`Lingerer`] on pressure.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Calls `hook` with every close's outcome, on the thread that ended it (a worker, or
    /// the one that dropped the stream): keep it short (log, count, send to a channel), and
    /// never let it panic, since it may run inside a drop.
    pub fn on_outcome(mut self, hook: impl Fn(&CloseReport) + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// The lingerer.
    pub fn build(self) -> Lingerer {
        Lingerer {
            shared: Arc::new(Shared {
                policy: self.policy,
                capacity: self.capacity,
                registry: Mutex::default(),
                in_flight: watch::Sender::new(0),
                streams: watch::Sender::new(0),
                counters: Counters::default(),
                hook: self.hook,
            }),
        }
    }
}

impl fmt::Debug for Lingerer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lingerer")
            .field("policy", &self.shared.policy)
            .field("capacity", &self.shared.capacity)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LingererBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LingererBuilder")
            .field("policy", &self.policy)
            .field("capacity", &self.capacity)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

/// Locks `mutex`, whose data stays consistent even if a holder panicked (every critical
/// section here is a few map operations).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(control: &Control) -> Option<Request> {
        control.take()
    }

    #[test]
    fn requests_merge_to_the_stronger() {
        let short = Request::Shorten(Duration::from_secs(1));
        let long = Request::Shorten(Duration::from_secs(5));
        assert_eq!(short.merge(long), short);
        assert_eq!(long.merge(short), short);
        assert_eq!(long.merge(Request::Abort), Request::Abort);
        assert_eq!(Request::Abort.merge(short), Request::Abort);
    }

    #[test]
    fn pressure_shortens_the_oldest_past_three_quarters_then_aborts_at_capacity() {
        let lingerer = Lingerer::builder(Policy::default()).capacity(4).build();
        let tickets: Vec<Ticket> = (0..3).map(|_| lingerer.enter()).collect();
        assert!(
            tickets
                .iter()
                .all(|ticket| taken(&ticket.control).is_none())
        );
        // The fourth arrives with three in flight: three quarters of four.
        let fourth = lingerer.enter();
        assert_eq!(
            taken(&tickets[0].control),
            Some(Request::Shorten(SHORT_LINGER))
        );
        assert!(taken(&tickets[1].control).is_none());
        // The fifth arrives at capacity: the oldest, shortened already, is aborted.
        let _fifth = lingerer.enter();
        assert_eq!(taken(&tickets[0].control), Some(Request::Abort));
        assert!(taken(&fourth.control).is_none());
        assert_eq!(lingerer.counts().in_flight, 5, "never refused");
    }

    #[test]
    fn close_all_reaches_closes_in_flight_and_later_ones() {
        let lingerer = Lingerer::new(Policy::default());
        let early = lingerer.enter();
        lingerer.close_all(Duration::from_millis(300));
        let late = lingerer.enter();
        let asked = Some(Request::Shorten(Duration::from_millis(300)));
        assert_eq!(taken(&early.control), asked);
        assert_eq!(taken(&late.control), asked);
        lingerer.abort_all();
        assert_eq!(taken(&early.control), Some(Request::Abort));
    }
}
