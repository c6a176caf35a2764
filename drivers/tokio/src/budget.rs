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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a reclaim waits for what it asked to end to release its descriptors: each does
/// so the next time its task runs, within microseconds on a runtime that is not starved.
pub(crate) const RECLAIM_WAIT: Duration = Duration::from_millis(100);

/// The budget of this process.
pub(crate) fn budget() -> &'static Budget {
    static BUDGET: OnceLock<Budget> = OnceLock::new();
    BUDGET.get_or_init(Budget::default)
}

/// A budget apart from the process's, for unit tests whose lingerers run side by side in one
/// process and must not reclaim one another's connections. It reclaims as if an hour had
/// passed since each connection was accepted: what awaits its first byte gives way (see
/// [`apart_now`]).
#[cfg(test)]
pub(crate) fn apart() -> &'static Budget {
    Box::leak(Box::new(Budget {
        reclaim_clock: an_hour_on,
        ..Budget::default()
    }))
}

/// A budget apart that reclaims on the process's clock.
#[cfg(test)]
pub(crate) fn apart_now() -> &'static Budget {
    Box::leak(Box::default())
}

/// A budget apart whose descriptors always run short, as if the process were near its limit;
/// it reclaims an hour on, as [`apart`] does.
#[cfg(test)]
pub(crate) fn apart_running_short() -> &'static Budget {
    Box::leak(Box::new(Budget {
        running_short: |_| true,
        reclaim_clock: an_hour_on,
        ..Budget::default()
    }))
}

#[cfg(test)]
fn an_hour_on() -> u64 {
    process_clock() + 3_600_000_000
}

/// Now, on [`linger_io::pressure::since_start`]'s clock.
fn process_clock() -> u64 {
    linger_io::pressure::since_start(Instant::now())
}

/// Every live connection and every lingerer of the process.
pub(crate) struct Budget {
    live: Mutex<BTreeMap<u64, Arc<LiveSlot>>>,
    lingerers: Mutex<Vec<WeakLingerer>>,
    next_id: AtomicU64,
    /// How many more the last reclaim asked for than it found: live connections that come
    /// to stand where they may give way are asked to at once, until a connection accepted
    /// with descriptors to spare clears it. Accept loops linger does not own (axum-server's)
    /// never tell it they ran out; this is how their connections still give way.
    owed: AtomicUsize,
    /// The descriptors in use, as the last accept saw them, less those released since: what
    /// says whether descriptors still run short when a connection could pay what is owed.
    in_use: AtomicU64,
    /// Whether that many descriptors in use leave too few free:
    /// [`linger_io::limits::running_short`], but in unit tests.
    running_short: fn(u64) -> bool,
    /// Now, as a reclaim reads it to tell how long a connection has awaited its first byte:
    /// [`process_clock`], but in unit tests.
    reclaim_clock: fn() -> u64,
    /// When the first connection the last reclaim passed over, just accepted, may give way
    /// ([`linger_io::pressure::gives_way_from`]); `u64::MAX` if it passed over none.
    ripens: AtomicU64,
    /// A task waits for that moment to ask again what is owed.
    ripening: AtomicBool,
    /// Counts what may let an accept that ran out of descriptors go on: a descriptor
    /// released, a live connection come to stand where it may give way.
    changes: AtomicU64,
    /// Accept loops waiting for the next change, and the way to wake them.
    waiting: AtomicUsize,
    changed: Notify,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            live: Mutex::default(),
            lingerers: Mutex::default(),
            next_id: AtomicU64::new(0),
            owed: AtomicUsize::new(0),
            in_use: AtomicU64::new(0),
            running_short: linger_io::limits::running_short,
            reclaim_clock: process_clock,
            ripens: AtomicU64::new(u64::MAX),
            ripening: AtomicBool::new(false),
            changes: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            changed: Notify::new(),
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
    /// Asked, it found it no longer gives way (a request held, or arrived unread since it
    /// was ranked): what it was asked stays unreleased, and nobody waits for it.
    declined: AtomicBool,
    /// The task that reads or writes the connection, woken when it is asked.
    waker: Mutex<Option<Waker>>,
}

impl LiveSlot {
    /// Whether the connection was asked to give way; the request is taken.
    pub(crate) fn take_asked(&self) -> bool {
        // A load first: asking is rare, and every read and write comes here.
        self.asked.load(Ordering::Acquire) && self.asked.swap(false, Ordering::AcqRel)
    }

    /// The task to wake when the connection is asked to give way; woken at once if it was.
    pub(crate) fn wake_on_ask(&self, waker: &Waker) {
        {
            let mut slot = lock(&self.waker);
            if !slot.as_ref().is_some_and(|held| held.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        }
        // Asked before the waker was there to take (by this very task, or another thread).
        if self.asked.load(Ordering::Acquire) {
            waker.wake_by_ref();
        }
    }

    fn ask(&self) {
        self.declined.store(false, Ordering::Relaxed);
        self.asked.store(true, Ordering::Release);
        if let Some(waker) = lock(&self.waker).take() {
            waker.wake();
        }
    }
}

/// A live connection's membership of the budget, until its descriptor is released.
pub(crate) struct Member {
    id: u64,
    /// When it was accepted, on the budget's clock, in microseconds.
    accepted: u64,
    pub(crate) slot: Arc<LiveSlot>,
    budget: &'static Budget,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("id", &self.id)
            .field("accepted", &self.accepted)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl Member {
    /// Publishes where the connection now stands.
    pub(crate) fn stand(&self, standing: Option<LiveStanding>) {
        let rank = linger_io::pressure::rank(standing, self.accepted);
        let before = self.slot.rank.swap(rank, Ordering::Relaxed);
        if before == u64::MAX && rank != u64::MAX {
            self.budget.may_give_way(&self.slot);
        }
    }

    /// Asked to give way, the connection does not: it stands nowhere until its next read
    /// or write says where, and the reclaim that asked stops waiting for it.
    pub(crate) fn decline(&self) {
        self.slot.rank.store(u64::MAX, Ordering::Relaxed);
        self.slot.declined.store(true, Ordering::Release);
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        lock(&self.budget.live).remove(&self.id);
        self.slot.released.store(true, Ordering::Release);
        self.budget.released();
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
        self.live.iter().all(|slot| {
            slot.released.load(Ordering::Acquire) || slot.declined.load(Ordering::Acquire)
        }) && self
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
    /// short, the connections that give way first are asked to (nginx's batch), the new one
    /// not among them: it has a descriptor, and the next accept would find nothing newer.
    pub(crate) fn join(&'static self, in_use: Option<u64>) -> Member {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let accepted = process_clock();
        let slot = Arc::new(LiveSlot::default());
        let member = Member {
            id,
            accepted,
            slot: Arc::clone(&slot),
            budget: self,
        };
        member.stand(Some(LiveStanding::AwaitingFirstByte));
        let held = self.held() + 1;
        let in_use = in_use.unwrap_or(0).max(held as u64);
        self.in_use.store(in_use, Ordering::Relaxed);
        if (self.running_short)(in_use) {
            drop(self.reclaim(linger_io::pressure::reclaim_batch(held)));
            self.reclaim_when_ripe();
        } else if self.owed.load(Ordering::Relaxed) != 0 {
            self.owed.store(0, Ordering::Relaxed);
        }
        lock(&self.live).insert(id, slot);
        member
    }

    /// What a reclaim at an accept could not find, it asks again once the first connection
    /// it passed over, just accepted, may give way: nothing else would say so (a silent
    /// connection's standing never changes), and an accept loop linger does not own
    /// (axum-server's), failing for want of descriptors, never reaches linger. One task at a
    /// time, on the runtime of the accept.
    fn reclaim_when_ripe(&'static self) {
        let Some(ripe) = self.until_ripe() else {
            return;
        };
        if self.owed.load(Ordering::Relaxed) == 0 || self.ripening.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.ripening.store(false, Ordering::Release);
            return;
        };
        runtime.spawn(async move {
            tokio::time::sleep(ripe).await;
            self.ripening.store(false, Ordering::Release);
            let owed = self.owed.load(Ordering::Relaxed);
            if owed != 0 && (self.running_short)(self.in_use.load(Ordering::Relaxed)) {
                drop(self.reclaim(owed));
                self.reclaim_when_ripe();
            }
        });
    }

    /// A live connection that could not give way may now: if the last reclaim found fewer
    /// than it asked for and descriptors still run short, it is asked to, at once; an accept
    /// loop waiting for a change is told.
    fn may_give_way(&self, slot: &LiveSlot) {
        if self.owed.load(Ordering::Relaxed) != 0 {
            if (self.running_short)(self.in_use.load(Ordering::Relaxed)) {
                let owed = self
                    .owed
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |owed| {
                        owed.checked_sub(1)
                    });
                if owed.is_ok() {
                    slot.ask();
                }
            } else {
                self.owed.store(0, Ordering::Relaxed);
            }
        }
        self.changed();
    }

    /// An accept failed for want of descriptors: every one is in use.
    pub(crate) fn out_of_descriptors(&self) {
        if let Some(limit) = linger_io::limits::descriptor_limit() {
            self.in_use.store(limit.soft, Ordering::Relaxed);
        }
    }

    /// A descriptor was released, a live connection's or a close's.
    pub(crate) fn released(&self) {
        let _ = self
            .in_use
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |in_use| {
                in_use.checked_sub(1)
            });
        self.changed();
    }

    /// Something may let an accept that ran out of descriptors go on: a descriptor was
    /// released, or a live connection came to stand where it may give way. Wakes the accept
    /// loops waiting for it; costs an increment otherwise.
    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.changed.notify_waiters();
        }
    }

    /// How many changes there have been: what [`until_changed`](Self::until_changed) waits
    /// to see move.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Resolves at the first change after the count `seen` (at once if there was one
    /// already), or after `at_most`: what an accept out of descriptors, with nothing that
    /// could give way, waits for before it tries again, in place of a blind pause.
    pub(crate) async fn until_changed(&self, seen: u64, at_most: Duration) {
        let notified = self.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let _waiting = Waiting::enter(&self.waiting);
        if self.changes() != seen {
            return;
        }
        let _ = tokio::time::timeout(at_most, notified).await;
    }

    /// How long until the first connection the last reclaim passed over, just accepted,
    /// may give way; `None` if it passed over none.
    pub(crate) fn until_ripe(&self) -> Option<Duration> {
        let ripens = self.ripens.load(Ordering::Relaxed);
        (ripens != u64::MAX)
            .then(|| Duration::from_micros(ripens.saturating_sub((self.reclaim_clock)())))
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
    /// rank, then lingering closes, lingerer by lingerer, each in its own order. What it
    /// cannot find is owed: the first live connections to come where they may give way are
    /// asked then.
    pub(crate) fn reclaim(&self, max: usize) -> Reclaiming {
        let now = (self.reclaim_clock)();
        let mut ripens = u64::MAX;
        let live = {
            let live = lock(&self.live);
            let mut ranked: Vec<(u64, &Arc<LiveSlot>)> = live
                .values()
                .filter(|slot| !slot.asked.load(Ordering::Relaxed))
                .map(|slot| (slot.rank.load(Ordering::Relaxed), slot))
                .filter(|&(rank, _)| {
                    let from = linger_io::pressure::gives_way_from(rank);
                    if from > now && from != u64::MAX {
                        ripens = ripens.min(from);
                    }
                    from <= now
                })
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
        self.owed.store(left, Ordering::Relaxed);
        self.ripens.store(ripens, Ordering::Relaxed);
        Reclaiming { live, closes }
    }

    fn lingerers(&self) -> Vec<Lingerer> {
        lock(&self.lingerers)
            .iter()
            .filter_map(WeakLingerer::upgrade)
            .collect()
    }
}

/// One accept loop counted among those waiting, until it stops (or its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(waiting: &'a AtomicUsize) -> Waiting<'a> {
        waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Locks `mutex`, whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::{apart, apart_running_short};
    use linger_io::pressure::LiveStanding::{AwaitingFirstByte, Idle};
    use linger_io::pressure::REQUEST_EN_ROUTE;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};
    use std::time::Duration;

    #[test]
    fn what_a_reclaim_could_not_find_is_asked_of_the_first_to_come_where_they_may_give_way() {
        let budget = apart_running_short();
        let working = [budget.join(None), budget.join(None)];
        for member in &working {
            member.stand(None);
        }
        assert_eq!(budget.reclaim(1).len(), 0, "nothing may give way");
        working[0].stand(Some(Idle));
        assert!(working[0].slot.take_asked(), "asked as it went idle");
        working[1].stand(Some(Idle));
        assert!(
            !working[1].slot.take_asked(),
            "one was owed, and it is paid"
        );
    }

    #[test]
    fn a_connection_accepted_with_descriptors_to_spare_clears_what_is_owed() {
        let budget = apart();
        let working = budget.join(None);
        working.stand(None);
        assert_eq!(budget.reclaim(1).len(), 0);
        let _spare = budget.join(None);
        working.stand(Some(Idle));
        assert!(!working.slot.take_asked());
    }

    #[test]
    fn nothing_is_owed_once_descriptors_no_longer_run_short() {
        // Owed, but the process is far from its limit: what a raised limit or the
        // descriptors released since leave.
        let budget = apart();
        let working = [budget.join(None), budget.join(None)];
        for member in &working {
            member.stand(None);
        }
        assert_eq!(budget.reclaim(1).len(), 0);
        working[0].stand(Some(Idle));
        assert!(!working[0].slot.take_asked());
    }

    #[test]
    fn an_accept_running_short_asks_the_others_never_itself() {
        let budget = apart_running_short();
        let silent = budget.join(None);
        let newest = budget.join(None);
        assert!(silent.slot.take_asked(), "the silent one gave way");
        drop(silent);
        assert!(!newest.slot.take_asked());
        let working = budget.join(None);
        working.stand(None);
        assert!(newest.slot.take_asked(), "then the next");
    }

    #[test]
    fn only_a_connection_come_where_it_may_give_way_pays_what_is_owed() {
        let budget = apart_running_short();
        let fresh = budget.join(None);
        assert_eq!(budget.reclaim(4).len(), 1, "it may give way to the next");
        assert!(fresh.slot.take_asked());
        // Still owed: three. Standing again where it stood changes nothing.
        fresh.stand(Some(AwaitingFirstByte));
        assert!(!fresh.slot.take_asked());
    }

    #[test]
    fn a_connection_accepted_a_moment_ago_does_not_give_way_before_its_request_could_come() {
        let budget = super::apart_now();
        let fresh = budget.join(None);
        assert_eq!(budget.reclaim(1).len(), 0, "its request may be on its way");
        let ripe = budget.until_ripe().expect("passed over");
        assert!(
            ripe > Duration::ZERO && ripe <= REQUEST_EN_ROUTE,
            "{ripe:?}"
        );
        fresh.stand(Some(Idle));
        assert_eq!(budget.reclaim(1).len(), 1, "answered, it may");
    }

    #[tokio::test]
    async fn what_is_owed_is_asked_of_a_silent_connection_once_its_first_byte_could_have_come() {
        let budget: &'static super::Budget = Box::leak(Box::new(super::Budget {
            running_short: |_| true,
            ..super::Budget::default()
        }));
        let silent = budget.join(None);
        // Accepted later, on a clock of microseconds.
        std::thread::sleep(Duration::from_millis(2));
        let _newer = budget.join(None);
        assert!(!silent.slot.take_asked(), "just accepted");
        tokio::time::sleep(REQUEST_EN_ROUTE * 3).await;
        assert!(silent.slot.take_asked(), "silent since");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_declines_is_not_waited_for_nor_asked_again() {
        let budget = apart();
        let member = budget.join(None);
        let reclaiming = budget.reclaim(1);
        assert!(member.slot.take_asked());
        member.decline();
        let started = tokio::time::Instant::now();
        reclaiming.released_all().await;
        assert!(started.elapsed() < super::RECLAIM_WAIT, "not waited for");
        assert_eq!(budget.reclaim(1).len(), 0, "it stands nowhere now");
    }

    #[test]
    fn a_task_that_registers_after_it_was_asked_is_woken_at_once() {
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let budget = apart();
        let member = budget.join(None);
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&woken));
        member.slot.wake_on_ask(&waker);
        assert_eq!(woken.0.load(Ordering::Relaxed), 0, "not asked yet");
        assert_eq!(budget.reclaim(1).len(), 1);
        assert_eq!(woken.0.load(Ordering::Relaxed), 1, "woken by the ask");
        member.slot.wake_on_ask(&waker);
        assert_eq!(
            woken.0.load(Ordering::Relaxed),
            2,
            "asked and not yet acted on"
        );
    }
}
