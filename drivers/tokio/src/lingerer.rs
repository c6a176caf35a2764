//! [`Lingerer`]: what the closes of one server share. How many are in flight, the pressure
//! rules, reclaiming when `accept` runs out of descriptors, graceful shutdown, and where the
//! outcomes go.

use crate::lingering::Lingering;
use crate::report::{CloseReport, Counters, Counts, Hook};
use crate::{LingerStream, SHORT_LINGER};
use linger::{Clock, Policy};
use linger_io::AcceptFailure;
use linger_io::pressure::{GiveWay, Relief, Standing};
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
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
/// As linger-mio's `Lingerer`: at most `capacity` closes wait at once, by default half the
/// process's soft descriptor limit when the lingerer is built (see
/// [`capacity`](LingererBuilder::capacity)). Past three quarters of that, every new waiting
/// close gives the close that gives way first, among those not yet shortened, at most
/// [`SHORT_LINGER`] more (Apache's short linger); at the capacity, it *reclaims* the close
/// that gives way first: ends it at once as if its budget had run out, as the policy says
/// for a spent budget (nginx reclaims lingering connections first). A close is never
/// refused: refusing would leave nothing but the plain close that loses data.
///
/// Closes give way in this order: those with everything acknowledged (only the peer's EOF
/// awaited), then those whose peer has acknowledged nothing since the close began (it reads
/// nothing), then those still delivering to a peer that reads; the oldest first within each.
/// A flood's uploaders that never read go first; a slow but honest client's answer last.
///
/// # Out of descriptors
///
/// When `accept` fails for want of descriptors (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`),
/// [`accept`](Self::accept) and [`LingerListener`](crate::LingerListener) reclaim a batch of
/// closes, as nginx's `ngx_drain_connections` does, and retry at once; an accept loop of
/// another framework calls [`after_accept_error`](Self::after_accept_error), or
/// [`reclaim`](Self::reclaim) itself. Each reclaimed close is counted
/// ([`Counts::reclaimed`]), flagged in its [`CloseReport`] and (feature `tracing`) traced.
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
    /// `None`: derived from the descriptor limit when built.
    capacity: Option<usize>,
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
    /// When exhaustion was last traced: at most once a second, as nginx logs it.
    #[cfg(feature = "tracing")]
    warned: Mutex<Option<std::time::Instant>>,
}

/// The closes waiting in the background.
#[derive(Default)]
struct Registry {
    next_id: u64,
    /// In the order they give way; the reclaimed ones left it.
    order: GiveWay<Arc<Control>>,
    /// Asked to end now, not ended yet.
    reclaimed: BTreeMap<u64, Arc<Control>>,
    /// What `close_all`/`abort_all` asked; applies to every later close too.
    shutdown: Option<Request>,
}

impl Registry {
    /// Asks the `max` closes that give way first to end now; their ids.
    fn reclaim(&mut self, max: usize) -> Vec<u64> {
        let mut reclaimed = Vec::new();
        while reclaimed.len() < max {
            let Some((id, control)) = self.order.pop_next() else {
                break;
            };
            control.ask(Request::Reclaim);
            self.reclaimed.insert(id, control);
            reclaimed.push(id);
        }
        reclaimed
    }
}

/// What the server asks of one close that is waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// End within this much more time.
    Shorten(Duration),
    /// End now, as if the budget had run out, to make room.
    Reclaim,
    /// Reset now.
    Abort,
}

impl Request {
    /// The stronger of two requests: an abort, a reclaim, or the shorter time.
    fn merge(self, other: Request) -> Request {
        use Request::{Abort, Reclaim, Shorten};
        match (self, other) {
            (Shorten(a), Shorten(b)) => Shorten(a.min(b)),
            (Abort, _) | (_, Abort) => Abort,
            _ => Reclaim,
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
    /// Where it stands in the order closes give way, as last told.
    standing: Standing,
    pub(crate) control: Arc<Control>,
}

/// How long [`Lingerer::reclaim`] waits for the closes it reclaimed to release their
/// descriptors: each does so the next time its task runs, within microseconds on a runtime
/// that is not starved; past this, the accept is retried anyway.
const RECLAIM_WAIT: Duration = Duration::from_millis(100);

impl Lingerer {
    /// A lingerer closing under `policy`, with the default capacity and no hook.
    pub fn new(policy: impl Borrow<Policy>) -> Lingerer {
        Lingerer::builder(policy).build()
    }

    /// A builder for a lingerer closing under `policy`.
    pub fn builder(policy: impl Borrow<Policy>) -> LingererBuilder {
        LingererBuilder {
            policy: *policy.borrow(),
            capacity: None,
            hook: None,
        }
    }

    /// The lingerer of the closes no lingerer of the application's owns: [`close`](crate::close),
    /// [`spawn_close`](crate::spawn_close), [`LingerStream::new`]. Built with the default
    /// capacity on first use, each close under its own policy; its counts and
    /// [`reclaim`](Self::reclaim) are the application's to use. A server is better served by
    /// a lingerer of its own, whose accept loop reclaims when descriptors run out.
    pub fn global() -> &'static Lingerer {
        static GLOBAL: OnceLock<Lingerer> = OnceLock::new();
        GLOBAL.get_or_init(|| Lingerer::new(Policy::default()))
    }

    /// The policy every stream of this lingerer closes under.
    pub fn policy(&self) -> &Policy {
        &self.shared.policy
    }

    /// Most closes waiting at once; see [`LingererBuilder::capacity`].
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Wraps an accepted `stream`: its writes are counted and, once it is dropped (or
    /// [`closed`](LingerStream::close)), it closes under this lingerer.
    pub fn stream(&self, stream: TcpStream) -> LingerStream {
        LingerStream::managed(stream, self.clone(), None)
    }

    /// Accepts a connection from `listener` and wraps it, as [`stream`](Self::stream): the
    /// accept loop of a hyper server. When `accept` fails for want of descriptors, reclaims a
    /// batch of closes and retries at once; fails only when there was nothing to reclaim, or
    /// with another error (see [`after_accept_error`](Self::after_accept_error) for what to
    /// do then).
    pub async fn accept(&self, listener: &TcpListener) -> io::Result<(LingerStream, SocketAddr)> {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => return Ok((self.managed(stream, peer), peer)),
                Err(error) if self.reclaim_if_exhausted(&error).await == 0 => return Err(error),
                Err(_) => {}
            }
        }
    }

    /// `stream`, accepted from `peer`, wrapped as [`stream`](Self::stream) does.
    pub(crate) fn managed(&self, stream: TcpStream, peer: SocketAddr) -> LingerStream {
        LingerStream::managed(stream, self.clone(), Some(peer))
    }

    /// What an accept loop awaits after `accept` failed with `error`, before it tries again:
    /// nothing for a connection lost before it was accepted; for want of descriptors, a batch
    /// of closes reclaimed (nginx's: an eighth of those in flight, 1 to 32) and their
    /// descriptors released; otherwise, or with nothing to reclaim, a pause of a second (as
    /// axum's own listener, so the loop does not spin). [`LingerListener`] does exactly this;
    /// the accept loop of any other server on this lingerer should too.
    ///
    /// ```no_run
    /// # async fn serve(listener: tokio::net::TcpListener, lingerer: linger_tokio::Lingerer) {
    /// loop {
    ///     match listener.accept().await {
    ///         Ok((stream, _peer)) => drop(lingerer.stream(stream)), // serve it
    ///         Err(error) => lingerer.after_accept_error(&error).await,
    ///     }
    /// }
    /// # }
    /// ```
    ///
    /// [`LingerListener`]: crate::LingerListener
    pub async fn after_accept_error(&self, error: &io::Error) {
        if linger_io::accept_failure(error) == AcceptFailure::Transient
            || self.reclaim_if_exhausted(error).await > 0
        {
            return;
        }
        #[cfg(feature = "tracing")]
        tracing::error!(target: "linger", "accept error: {error}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    /// Reclaims the `max` closes that give way first (see the type's docs): each ends at
    /// once as its policy says for a spent budget (a plain close, or a reset over data still
    /// unread or when the policy says abort), after one last round of discarding what the
    /// peer sent, and its outcome and report say so. Resolves once they have released their
    /// descriptors (or after 100 ms, should a task not run), with how many were reclaimed: 0
    /// when none was waiting.
    pub async fn reclaim(&self, max: usize) -> usize {
        let mut ended = self.shared.in_flight.subscribe();
        let ids = lock(&self.shared.registry).reclaim(max);
        let all_released = async {
            while self.any_reclaimed(&ids) {
                if ended.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(RECLAIM_WAIT, all_released).await;
        ids.len()
    }

    /// Whether any of the closes `ids` was reclaimed and has not ended yet.
    fn any_reclaimed(&self, ids: &[u64]) -> bool {
        let registry = lock(&self.shared.registry);
        ids.iter().any(|id| registry.reclaimed.contains_key(id))
    }

    /// After `accept` failed with `error`: if for want of descriptors or socket memory,
    /// reclaims a batch of closes and returns how many; 0 otherwise.
    async fn reclaim_if_exhausted(&self, error: &io::Error) -> usize {
        if linger_io::accept_failure(error) != AcceptFailure::Exhausted {
            return 0;
        }
        let batch = linger_io::pressure::reclaim_batch(self.counts().in_flight);
        let reclaimed = self.reclaim(batch).await;
        #[cfg(feature = "tracing")]
        self.warn_exhausted(error, reclaimed);
        reclaimed
    }

    /// Traces that `accept` ran out of descriptors, at most once a second.
    #[cfg(feature = "tracing")]
    fn warn_exhausted(&self, error: &io::Error, reclaimed: usize) {
        let now = std::time::Instant::now();
        let mut warned = lock(&self.shared.warned);
        if warned.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
            return;
        }
        *warned = Some(now);
        tracing::warn!(
            target: "linger",
            reclaimed,
            capacity = self.shared.capacity,
            "accept failed ({error}): out of descriptors, reclaimed {reclaimed} lingering closes"
        );
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
            order, reclaimed, ..
        } = &mut *registry;
        for control in order.shorten_all().chain(reclaimed.values()) {
            control.ask(raised);
        }
    }

    /// A close starts waiting in the background, standing `standing`: apply the pressure
    /// rules, then any shutdown already asked, and count it in flight.
    pub(crate) fn enter(&self, standing: Standing) -> Ticket {
        let mut registry = lock(&self.shared.registry);
        // The closes reclaimed already are on their way out: they do not count.
        match linger_io::pressure::relief(registry.order.len(), self.shared.capacity) {
            Some(Relief::Reclaim) => {
                registry.reclaim(1);
            }
            Some(Relief::Shorten) => {
                if let Some(control) = registry.order.shorten_next() {
                    control.ask(Request::Shorten(SHORT_LINGER));
                }
            }
            None => {}
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let control = Arc::new(Control::default());
        let waiting = Arc::clone(&control);
        match registry.shutdown {
            Some(request) => {
                control.ask(request);
                registry.order.insert_shortened(id, standing, waiting);
            }
            None => registry.order.insert(id, standing, waiting),
        }
        self.shared.in_flight.send_modify(|closes| *closes += 1);
        Ticket {
            id,
            standing,
            control,
        }
    }

    /// A close waiting in the background now stands `standing`.
    pub(crate) fn restand(&self, ticket: &mut Ticket, standing: Standing) {
        if ticket.standing != standing {
            let mut registry = lock(&self.shared.registry);
            registry.order.restand(ticket.id, ticket.standing, standing);
            ticket.standing = standing;
        }
    }

    /// A close ended: count it, report it, then leave the registry if it waited, so that
    /// once [`finished`](Self::finished) resolves every hook call has returned.
    pub(crate) fn report(&self, ticket: Option<Ticket>, report: &CloseReport) {
        self.shared.counters.count(report);
        if let Some(hook) = &self.shared.hook {
            hook(report);
        }
        if let Some(Ticket { id, standing, .. }) = ticket {
            let mut registry = lock(&self.shared.registry);
            registry.order.remove(id, standing);
            registry.reclaimed.remove(&id);
            self.shared.in_flight.send_modify(|closes| *closes -= 1);
        }
    }
}

impl LingererBuilder {
    /// Most closes waiting at once (at least one); see [`Lingerer`] on pressure.
    ///
    /// By default, half the process's soft descriptor limit (`RLIMIT_NOFILE`) when the
    /// lingerer is built: at most half for the closes of past connections leaves the live
    /// ones, the application's files and its upstream connections at least as many (nginx's
    /// rule of thumb is twice as many descriptors as connections). 512 under the usual soft
    /// limit of 1,024; call [`raise_descriptor_limit`](crate::raise_descriptor_limit) first
    /// in `main` to size it from the hard limit. Where there is no such limit (Windows) or it
    /// is unlimited, 10,000 ([`linger_io::limits::FALLBACK_CAPACITY`]), which bounds memory
    /// rather than descriptors. A capacity given here wins.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity.max(1));
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
                capacity: self
                    .capacity
                    .unwrap_or_else(linger_io::limits::default_capacity),
                registry: Mutex::default(),
                in_flight: watch::Sender::new(0),
                streams: watch::Sender::new(0),
                counters: Counters::default(),
                hook: self.hook,
                #[cfg(feature = "tracing")]
                warned: Mutex::default(),
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
        let capacity = match self.capacity {
            Some(capacity) => format!("{capacity}"),
            None => "half the descriptor limit".into(),
        };
        f.debug_struct("LingererBuilder")
            .field("policy", &self.policy)
            .field("capacity", &format_args!("{capacity}"))
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
    use Standing::{Delivered, Delivering, Unread};

    fn taken(control: &Control) -> Option<Request> {
        control.take()
    }

    fn entered(lingerer: &Lingerer, standings: &[Standing]) -> Vec<Ticket> {
        standings.iter().map(|&at| lingerer.enter(at)).collect()
    }

    #[test]
    fn requests_merge_to_the_stronger() {
        let short = Request::Shorten(Duration::from_secs(1));
        let long = Request::Shorten(Duration::from_secs(5));
        assert_eq!(short.merge(long), short);
        assert_eq!(long.merge(short), short);
        assert_eq!(long.merge(Request::Reclaim), Request::Reclaim);
        assert_eq!(Request::Reclaim.merge(short), Request::Reclaim);
        assert_eq!(long.merge(Request::Abort), Request::Abort);
        assert_eq!(Request::Abort.merge(Request::Reclaim), Request::Abort);
    }

    #[test]
    fn pressure_shortens_past_three_quarters_then_reclaims_at_capacity_never_refusing() {
        let lingerer = Lingerer::builder(Policy::default()).capacity(4).build();
        let tickets = entered(&lingerer, &[Delivering; 3]);
        assert!(
            tickets
                .iter()
                .all(|ticket| taken(&ticket.control).is_none())
        );
        // The fourth arrives with three in flight: three quarters of four.
        let fourth = lingerer.enter(Delivering);
        assert_eq!(
            taken(&tickets[0].control),
            Some(Request::Shorten(SHORT_LINGER))
        );
        assert!(taken(&tickets[1].control).is_none());
        // The fifth arrives at capacity: the oldest, shortened already, is reclaimed.
        let _fifth = lingerer.enter(Delivering);
        assert_eq!(taken(&tickets[0].control), Some(Request::Reclaim));
        assert!(taken(&fourth.control).is_none());
        // Each close that arrives at capacity reclaims one: the next oldest.
        let _sixth = lingerer.enter(Delivering);
        assert_eq!(taken(&tickets[1].control), Some(Request::Reclaim));
        assert!(taken(&tickets[2].control).is_none());
        assert_eq!(lingerer.counts().in_flight, 6, "never refused");
    }

    #[test]
    fn the_delivered_give_way_before_the_unread_and_those_before_the_delivering() {
        let lingerer = Lingerer::builder(Policy::default()).capacity(4).build();
        let mut tickets = entered(&lingerer, &[Delivering, Unread, Delivering]);
        // Past three quarters: the first in the order is shortened, the unread one.
        tickets.push(lingerer.enter(Delivering));
        assert_eq!(
            taken(&tickets[1].control),
            Some(Request::Shorten(SHORT_LINGER))
        );
        // The oldest acknowledges everything: it now gives way first.
        lingerer.restand(&mut tickets[0], Delivered);
        let _fourth = lingerer.enter(Delivering);
        assert_eq!(taken(&tickets[0].control), Some(Request::Reclaim));
        let _fifth = lingerer.enter(Delivering);
        assert_eq!(taken(&tickets[1].control), Some(Request::Reclaim));
        assert!(taken(&tickets[2].control).is_none(), "delivering goes last");
    }

    #[tokio::test(start_paused = true)]
    async fn reclaim_asks_the_first_in_order_and_says_how_many() {
        let lingerer = Lingerer::new(Policy::default());
        let tickets = entered(&lingerer, &[Delivering, Delivered, Unread]);
        // No task runs these closes: reclaim waits its bound for their release.
        assert_eq!(lingerer.reclaim(2).await, 2);
        assert_eq!(taken(&tickets[1].control), Some(Request::Reclaim));
        assert_eq!(taken(&tickets[2].control), Some(Request::Reclaim));
        assert!(taken(&tickets[0].control).is_none());
        assert_eq!(
            lingerer.reclaim(5).await,
            1,
            "reclaimed ones are not asked twice"
        );
        assert_eq!(lingerer.reclaim(5).await, 0);
    }

    #[test]
    fn close_all_reaches_closes_in_flight_reclaimed_and_later_ones() {
        let lingerer = Lingerer::new(Policy::default());
        let early = lingerer.enter(Delivering);
        let reclaimed = lingerer.enter(Delivered);
        lock(&lingerer.shared.registry).reclaim(1);
        assert_eq!(taken(&reclaimed.control), Some(Request::Reclaim));
        lingerer.close_all(Duration::from_millis(300));
        let late = lingerer.enter(Delivering);
        let asked = Some(Request::Shorten(Duration::from_millis(300)));
        assert_eq!(taken(&early.control), asked);
        assert_eq!(taken(&late.control), asked);
        lingerer.abort_all();
        assert_eq!(taken(&early.control), Some(Request::Abort));
        assert_eq!(taken(&reclaimed.control), Some(Request::Abort));
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_lost_connection_the_accept_loop_goes_on_at_once() {
        let started = tokio::time::Instant::now();
        let lost = io::Error::from(io::ErrorKind::ConnectionAborted);
        Lingerer::new(Policy::default())
            .after_accept_error(&lost)
            .await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_descriptors_the_accept_loop_reclaims_and_goes_on() {
        let lingerer = Lingerer::new(Policy::default());
        let waiting = lingerer.enter(Delivered);
        let started = tokio::time::Instant::now();
        lingerer.after_accept_error(&emfile()).await;
        assert_eq!(taken(&waiting.control), Some(Request::Reclaim));
        // No task ends this close: the wait for its release is bounded, with no pause after.
        assert_eq!(started.elapsed(), RECLAIM_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_to_reclaim_or_another_error_the_accept_loop_pauses_a_second() {
        let lingerer = Lingerer::new(Policy::default());
        for error in [emfile(), io::Error::other("listener gone")] {
            let started = tokio::time::Instant::now();
            lingerer.after_accept_error(&error).await;
            assert_eq!(started.elapsed(), Duration::from_secs(1), "{error}");
        }
    }

    /// `accept`'s error when the process is out of descriptors: `EMFILE` (24 on every unix)
    /// or Winsock's `WSAEMFILE`.
    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(if cfg!(windows) { 10024 } else { 24 })
    }

    #[test]
    fn the_default_capacity_is_half_the_descriptor_limit_and_an_explicit_one_wins() {
        let limit = linger_io::limits::descriptor_limit().map(|limit| limit.soft);
        let derived = linger_io::limits::capacity_for(limit);
        assert_eq!(Lingerer::new(Policy::default()).capacity(), derived);
        let explicit = Lingerer::builder(Policy::default()).capacity(7).build();
        assert_eq!(explicit.capacity(), 7);
    }
}
