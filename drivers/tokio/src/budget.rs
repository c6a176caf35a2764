//! The process's descriptors, which every lingerer shares: each live connection's place in
//! the order connections give way, the lingerers whose closes come after them, and the
//! reclaim that ends the first of them when descriptors run short, when the free ones fall to
//! a sixteenth of the limit (checked at each accept, as nginx checks its free connections) or
//! when `accept` fails with `EMFILE`. Two servers in one process, each on its own lingerer,
//! draw on one budget.

use crate::Lingerer;
use crate::lingerer::WeakLingerer;
use linger_io::pressure::LiveStanding;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

/// How long a reclaim waits for what it asked to end to release its descriptors: each does
/// so the next time its task runs, within microseconds on a runtime that is not starved.
pub(crate) const RECLAIM_WAIT: Duration = Duration::from_millis(100);

/// The budget of this process.
pub(crate) fn budget() -> &'static Budget {
    static BUDGET: OnceLock<Budget> = OnceLock::new();
    BUDGET.get_or_init(Budget::default)
}

/// A budget apart from the process's, for unit tests whose lingerers run side by side in one
/// process and must not reclaim one another's connections.
#[cfg(test)]
pub(crate) fn apart() -> &'static Budget {
    Box::leak(Box::default())
}

/// Every live connection and every lingerer of the process.
pub(crate) struct Budget {
    live: Mutex<BTreeMap<u64, Arc<LiveSlot>>>,
    lingerers: Mutex<Vec<WeakLingerer>>,
    next_id: AtomicU64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            live: Mutex::default(),
            lingerers: Mutex::default(),
            next_id: AtomicU64::new(0),
        }
    }
}

/// One live connection's place in the budget, and its mailbox.
#[derive(Debug, Default)]
pub(crate) struct LiveSlot {
    /// [`linger_io::pressure::rank`]: lower gives way first, `u64::MAX` never.
    rank: AtomicU64,
    /// Asked to give way, not yet acted on.
    asked: AtomicBool,
    /// Its descriptor is released.
    released: AtomicBool,
    /// The task that reads or writes the connection, woken when it is asked.
    waker: Mutex<Option<Waker>>,
}

impl LiveSlot {
    /// Whether the connection was asked to give way; the request is taken.
    pub(crate) fn take_asked(&self) -> bool {
        // A load first: asking is rare, and every read and write comes here.
        self.asked.load(Ordering::Acquire) && self.asked.swap(false, Ordering::AcqRel)
    }

    /// The task to wake when the connection is asked to give way.
    pub(crate) fn wake_on_ask(&self, waker: &Waker) {
        let mut slot = lock(&self.waker);
        if !slot.as_ref().is_some_and(|held| held.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn ask(&self) {
        self.asked.store(true, Ordering::Release);
        if let Some(waker) = lock(&self.waker).take() {
            waker.wake();
        }
    }
}

/// A live connection's membership of the budget, until its descriptor is released.
#[derive(Debug)]
pub(crate) struct Member {
    id: u64,
    /// When it was accepted, on the budget's clock, in microseconds.
    accepted: u64,
    pub(crate) slot: Arc<LiveSlot>,
}

impl Member {
    /// Publishes where the connection now stands.
    pub(crate) fn stand(&self, standing: Option<LiveStanding>) {
        let rank = linger_io::pressure::rank(standing, self.accepted);
        self.slot.rank.store(rank, Ordering::Relaxed);
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        lock(&budget().live).remove(&self.id);
        self.slot.released.store(true, Ordering::Release);
    }
}

/// What one reclaim asked to end.
pub(crate) struct Reclaiming {
    live: Vec<Arc<LiveSlot>>,
    closes: Vec<(Lingerer, Vec<u64>)>,
}

impl Reclaiming {
    /// How many were asked.
    pub(crate) fn len(&self) -> usize {
        self.live.len() + self.closes.iter().map(|(_, ids)| ids.len()).sum::<usize>()
    }

    fn released(&self) -> bool {
        self.live
            .iter()
            .all(|slot| slot.released.load(Ordering::Acquire))
            && self
                .closes
                .iter()
                .all(|(lingerer, ids)| !lingerer.any_reclaimed(ids))
    }

    /// Resolves once every connection asked has released its descriptor (checked every
    /// millisecond), or after [`RECLAIM_WAIT`], should a task not run.
    pub(crate) async fn released_all(&self) {
        let waiting = async {
            while !self.released() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        let _ = tokio::time::timeout(RECLAIM_WAIT, waiting).await;
    }
}

impl Budget {
    /// A live connection accepted now joins the budget, standing as one awaiting its first
    /// byte. `in_use` is what its accept says of the descriptors in use (unix: its descriptor
    /// number, which the kernel gives as the lowest free one); if the free ones are running
    /// short, the connections that give way first are asked to (nginx's batch).
    pub(crate) fn join(&self, in_use: Option<u64>) -> Member {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let accepted = linger_io::pressure::since_start(Instant::now());
        let slot = Arc::new(LiveSlot::default());
        let member = Member {
            id,
            accepted,
            slot: Arc::clone(&slot),
        };
        member.stand(Some(LiveStanding::AwaitingFirstByte));
        let held = {
            let mut live = lock(&self.live);
            live.insert(id, slot);
            live.len()
        };
        if linger_io::limits::running_short(in_use.unwrap_or(0).max(held as u64)) {
            let batch = linger_io::pressure::reclaim_batch(self.held());
            drop(self.reclaim(batch));
        }
        member
    }

    /// A lingerer whose closes give way after the live connections.
    pub(crate) fn enlist(&self, lingerer: WeakLingerer) {
        let mut lingerers = lock(&self.lingerers);
        lingerers.retain(WeakLingerer::is_alive);
        lingerers.push(lingerer);
    }

    /// Live connections and lingering closes held now.
    pub(crate) fn held(&self) -> usize {
        lock(&self.live).len()
            + self
                .lingerers()
                .iter()
                .map(Lingerer::in_flight)
                .sum::<usize>()
    }

    /// Asks the `max` connections that give way first to end now: live ones first, by their
    /// rank, then lingering closes, lingerer by lingerer, each in its own order.
    pub(crate) fn reclaim(&self, max: usize) -> Reclaiming {
        let live = {
            let live = lock(&self.live);
            let mut ranked: Vec<(u64, &Arc<LiveSlot>)> = live
                .values()
                .map(|slot| (slot.rank.load(Ordering::Relaxed), slot))
                .filter(|&(rank, slot)| rank != u64::MAX && !slot.asked.load(Ordering::Relaxed))
                .collect();
            if ranked.len() > max {
                ranked.select_nth_unstable_by_key(max, |&(rank, _)| rank);
                ranked.truncate(max);
            }
            ranked
                .into_iter()
                .map(|(_, slot)| Arc::clone(slot))
                .collect::<Vec<_>>()
        };
        for slot in &live {
            slot.ask();
        }
        let mut left = max - live.len();
        let mut closes = Vec::new();
        for lingerer in self.lingerers() {
            if left == 0 {
                break;
            }
            let ids = lingerer.reclaim_closes(left);
            left -= ids.len();
            if !ids.is_empty() {
                closes.push((lingerer, ids));
            }
        }
        Reclaiming { live, closes }
    }

    fn lingerers(&self) -> Vec<Lingerer> {
        lock(&self.lingerers)
            .iter()
            .filter_map(WeakLingerer::upgrade)
            .collect()
    }
}

/// Locks `mutex`, whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
