//! The closes a [`Lingerer`] holds: each waiting close's mailbox, the order they give way in,
//! and the rules that apply as one enters (pressure, a shutdown already asked) and leaves.

use super::{Lingerer, lock};
use crate::SHORT_LINGER;
use crate::report::CloseReport;
use linger_io::pressure::{GiveWay, Relief, Standing};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The closes waiting in the background.
#[derive(Default)]
pub(super) struct Registry {
    next_id: u64,
    /// In the order they give way; the reclaimed ones left it.
    order: GiveWay<Arc<Control>>,
    /// Asked to end now, not ended yet.
    reclaimed: BTreeMap<u64, Arc<Control>>,
    /// What `shorten_all`/`abort_all` asked; applies to every later close too.
    shutdown: Option<Request>,
}

impl Registry {
    /// Asks the `max` closes that give way first to end now; their ids.
    pub(super) fn reclaim(&mut self, max: usize) -> Vec<u64> {
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

    /// Whether any of the closes `ids` was reclaimed and has not ended yet.
    pub(super) fn any_reclaimed(&self, ids: &[u64]) -> bool {
        ids.iter().any(|id| self.reclaimed.contains_key(id))
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

/// A close's membership of a [`Lingerer`] while it waits in the background.
pub(crate) struct Ticket {
    id: u64,
    /// Where it stands in the order closes give way, as last told.
    standing: Standing,
    pub(crate) control: Arc<Control>,
}

impl Lingerer {
    /// Asks `request` of every close in flight, reclaimed ones included, and of every later
    /// one: the shutdown requests.
    pub(super) fn raise(&self, request: Request) {
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

    /// A close ended, its descriptor released: count it, report it, then leave the registry
    /// if it waited, so that once [`finished`](Self::finished) resolves every hook call has
    /// returned, and tell the budget.
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
        self.budget().released();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use Standing::{Delivered, Delivering, Unread};
    use linger::Policy;

    /// A ticket for each of `standings`, entered in that order.
    pub(in crate::lingerer) fn entered(lingerer: &Lingerer, standings: &[Standing]) -> Vec<Ticket> {
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
        let lingerer = Lingerer::builder(Policy::default())
            .capacity(4)
            .budget(crate::budget::apart())
            .build();
        let tickets = entered(&lingerer, &[Delivering; 3]);
        assert!(tickets.iter().all(|ticket| ticket.control.take().is_none()));
        // The fourth arrives with three in flight: three quarters of four.
        let fourth = lingerer.enter(Delivering);
        assert_eq!(
            tickets[0].control.take(),
            Some(Request::Shorten(SHORT_LINGER))
        );
        assert!(tickets[1].control.take().is_none());
        // The fifth arrives at capacity: the oldest, shortened already, is reclaimed.
        let _fifth = lingerer.enter(Delivering);
        assert_eq!(tickets[0].control.take(), Some(Request::Reclaim));
        assert!(fourth.control.take().is_none());
        // Each close that arrives at capacity reclaims one: the next oldest.
        let _sixth = lingerer.enter(Delivering);
        assert_eq!(tickets[1].control.take(), Some(Request::Reclaim));
        assert!(tickets[2].control.take().is_none());
        assert_eq!(lingerer.counts().in_flight, 6, "never refused");
    }

    #[test]
    fn the_delivered_give_way_before_the_unread_and_those_before_the_delivering() {
        let lingerer = Lingerer::builder(Policy::default())
            .capacity(4)
            .budget(crate::budget::apart())
            .build();
        let mut tickets = entered(&lingerer, &[Delivering, Unread, Delivering]);
        // Past three quarters: the first in the order is shortened, the unread one.
        tickets.push(lingerer.enter(Delivering));
        assert_eq!(
            tickets[1].control.take(),
            Some(Request::Shorten(SHORT_LINGER))
        );
        // The oldest acknowledges everything: it now gives way first.
        lingerer.restand(&mut tickets[0], Delivered);
        let _fourth = lingerer.enter(Delivering);
        assert_eq!(tickets[0].control.take(), Some(Request::Reclaim));
        let _fifth = lingerer.enter(Delivering);
        assert_eq!(tickets[1].control.take(), Some(Request::Reclaim));
        assert!(tickets[2].control.take().is_none(), "delivering goes last");
    }

    #[test]
    fn shorten_all_reaches_closes_in_flight_reclaimed_and_later_ones() {
        let lingerer = Lingerer::builder(Policy::default())
            .budget(crate::budget::apart())
            .build();
        let early = lingerer.enter(Delivering);
        let reclaimed = lingerer.enter(Delivered);
        lock(&lingerer.shared.registry).reclaim(1);
        assert_eq!(reclaimed.control.take(), Some(Request::Reclaim));
        lingerer.shorten_all(Duration::from_millis(300));
        let late = lingerer.enter(Delivering);
        let asked = Some(Request::Shorten(Duration::from_millis(300)));
        assert_eq!(early.control.take(), asked);
        assert_eq!(late.control.take(), asked);
        lingerer.abort_all();
        assert_eq!(early.control.take(), Some(Request::Abort));
        assert_eq!(reclaimed.control.take(), Some(Request::Abort));
    }
}
