//! [`LingererBuilder`]: a [`Lingerer`]'s policy, capacity and outcome hook.

use super::{Lingerer, Shared, WeakLingerer};
use crate::budget::Budget;
use crate::report::{CloseReport, Counters, Hook};
use linger::Policy;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Builds a [`Lingerer`]; from [`Lingerer::builder`].
#[must_use]
pub struct LingererBuilder {
    policy: Policy,
    /// `None`: derived from the descriptor limit when built.
    capacity: Option<usize>,
    hook: Option<Hook>,
    budget: &'static Budget,
}

impl LingererBuilder {
    /// A builder for a lingerer closing under `policy`, with the default capacity and no
    /// hook.
    pub(super) fn new(policy: Policy) -> LingererBuilder {
        LingererBuilder {
            policy,
            capacity: None,
            hook: None,
            budget: crate::budget::budget(),
        }
    }

    /// A budget of its own instead of the process's: for unit tests, whose lingerers run
    /// side by side in one process and must not reclaim one another's connections.
    #[cfg(test)]
    pub(crate) fn budget(mut self, budget: &'static Budget) -> Self {
        self.budget = budget;
        self
    }

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

    /// The lingerer, its closes giving way after the process's live connections.
    pub fn build(self) -> Lingerer {
        let lingerer = Lingerer {
            shared: Arc::new(Shared {
                policy: self.policy,
                capacity: self
                    .capacity
                    .unwrap_or_else(linger_io::limits::default_capacity),
                budget: self.budget,
                registry: Mutex::default(),
                in_flight: watch::Sender::new(0),
                streams: watch::Sender::new(0),
                counters: Counters::default(),
                hook: self.hook,
                #[cfg(feature = "tracing")]
                warned: Mutex::default(),
            }),
        };
        let weak = WeakLingerer(Arc::downgrade(&lingerer.shared));
        lingerer.shared.budget.enlist(weak);
        lingerer
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_capacity_is_half_the_descriptor_limit_and_an_explicit_one_wins() {
        let limit = linger_io::limits::descriptor_limit().map(|limit| limit.soft);
        let derived = linger_io::limits::capacity_for(limit);
        assert_eq!(Lingerer::new(Policy::default()).capacity(), derived);
        let explicit = Lingerer::builder(Policy::default()).capacity(7).build();
        assert_eq!(explicit.capacity(), 7);
    }
}
