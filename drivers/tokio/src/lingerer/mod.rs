//! [`Lingerer`]: what the closes of one server share. How many are in flight, the pressure
//! rules, reclaiming when `accept` runs out of descriptors, graceful shutdown, and where the
//! outcomes go. The registry of its closes and the pressure rules are in `registry`, accepting
//! and reclaiming in `reclaim`.

mod builder;
mod reclaim;
mod registry;

pub use builder::LingererBuilder;
pub(crate) use registry::{Request, Ticket};

use crate::LingerStream;
use crate::budget::Budget;
use crate::lingering::Lingering;
use crate::report::{Counters, Counts, Hook};
use linger::{Clock, Policy};
use registry::Registry;
use std::borrow::Borrow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::watch;

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
/// [`SHORT_LINGER`](crate::SHORT_LINGER) more (Apache's short linger); at the capacity, it
/// *reclaims* the close that gives way first: ends it at once as if its budget had run out,
/// as the policy says for a spent budget (nginx reclaims lingering connections first). A
/// close is never refused: refusing would leave nothing but the plain close that loses data.
///
/// Closes give way in this order: those with everything acknowledged (only the peer's EOF
/// awaited), then those whose peer has acknowledged nothing since the close began (it reads
/// nothing), then those still delivering to a peer that reads; the oldest first within each.
/// A flood's uploaders that never read go first; a slow but honest client's answer last.
/// Where acknowledgements cannot be observed (`linger_io::profile`), every close counts as
/// still delivering, and they give way oldest first, an honest slow reader's among them.
///
/// # Out of descriptors
///
/// When `accept` fails for want of descriptors (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`),
/// [`accept`](Self::accept) and [`LingerListener`](crate::LingerListener) reclaim a batch of
/// closes, as nginx's `ngx_drain_connections` does, and retry at once; an accept loop of
/// another framework calls [`after_accept_error`](Self::after_accept_error), or
/// [`reclaim`](Self::reclaim) itself. Each reclaimed close is counted
/// ([`Counts::reclaimed`]), flagged in its [`CloseReport`](crate::CloseReport) and (feature
/// `tracing`) traced.
///
/// # Shutdown
///
/// [`shorten_all`](Self::shorten_all) gives every close in flight, and every later one, at most
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

struct Shared {
    policy: Policy,
    capacity: usize,
    /// The process's descriptors, which every lingerer shares.
    budget: &'static Budget,
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

impl Lingerer {
    /// A lingerer closing under `policy`, with the default capacity and no hook.
    pub fn new(policy: impl Borrow<Policy>) -> Lingerer {
        Lingerer::builder(policy).build()
    }

    /// A builder for a lingerer closing under `policy`.
    pub fn builder(policy: impl Borrow<Policy>) -> LingererBuilder {
        LingererBuilder::new(*policy.borrow())
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

    /// `stream`, accepted from `peer`, wrapped as [`stream`](Self::stream) does.
    pub(crate) fn managed(&self, stream: TcpStream, peer: SocketAddr) -> LingerStream {
        LingerStream::managed(stream, self.clone(), Some(peer))
    }

    /// Takes over a stream the application is done with and closes it in the background;
    /// its outcome goes where every other does. Bytes written before are taken from the
    /// kernel's count where the platform keeps one (see [`close`](crate::close)).
    pub fn adopt(&self, stream: TcpStream) {
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
    pub fn shorten_all(&self, within: Duration) {
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

    /// Graceful shutdown: [`shorten_all`](Self::shorten_all) within `within`, then
    /// [`finished`](Self::finished); returns the counts once the last close has ended.
    pub async fn shutdown(&self, within: Duration) -> Counts {
        self.shorten_all(within);
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
}

/// A [`Lingerer`] that the process's [`Budget`] knows of without keeping it alive.
pub(crate) struct WeakLingerer(Weak<Shared>);

impl WeakLingerer {
    pub(crate) fn upgrade(&self) -> Option<Lingerer> {
        self.0.upgrade().map(|shared| Lingerer { shared })
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl Lingerer {
    /// The budget this lingerer's connections draw on.
    pub(crate) fn budget(&self) -> &'static Budget {
        self.shared.budget
    }

    /// Closes in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        *self.shared.in_flight.borrow()
    }

    /// Asks the `max` closes of this lingerer that give way first to end now; their ids.
    pub(crate) fn reclaim_closes(&self, max: usize) -> Vec<u64> {
        lock(&self.shared.registry).reclaim(max)
    }

    /// Whether any of the closes `ids` was reclaimed and has not ended yet.
    pub(crate) fn any_reclaimed(&self, ids: &[u64]) -> bool {
        lock(&self.shared.registry).any_reclaimed(ids)
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

/// Locks `mutex`, whose data stays consistent even if a holder panicked (every critical
/// section here is a few map operations).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
