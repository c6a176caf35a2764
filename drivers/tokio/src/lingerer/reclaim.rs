//! Accepting through a [`Lingerer`], and what it does when `accept` runs out of descriptors:
//! reclaim a batch of the process's connections that give way first, as nginx's
//! `ngx_drain_connections` does, and go on.

use super::Lingerer;
#[cfg(feature = "tracing")]
use super::lock;
use crate::LingerStream;
use linger_io::AcceptFailure;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long an accept loop pauses after an error that says nothing of descriptors, and waits
/// at most, out of them, for one to be released.
const PAUSE: Duration = Duration::from_secs(1);

impl Lingerer {
    /// Accepts a connection from `listener` and wraps it, as [`stream`](Self::stream): the
    /// accept loop of a hyper server. It goes on through what a flood brings, as
    /// [`after_accept_error`](Self::after_accept_error) says: a connection lost before it was
    /// accepted is skipped; when `accept` fails for want of descriptors, it reclaims a batch of
    /// connections and retries at once, or, with none that may give way, as soon as one may
    /// or a descriptor is released (a second at most). So
    /// `lingerer.accept(&listener).await?` fails only with another error, one that says the
    /// listener itself is in trouble, for the caller to decide on.
    pub async fn accept(&self, listener: &TcpListener) -> io::Result<(LingerStream, SocketAddr)> {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => return Ok((self.managed(stream, peer), peer)),
                Err(error) if linger_io::accept_failure(&error) == AcceptFailure::Other => {
                    return Err(error);
                }
                Err(error) => self.after_accept_error(&error).await,
            }
        }
    }

    /// What an accept loop awaits after `accept` failed with `error`, before it tries again:
    /// nothing for a connection lost before it was accepted; for want of descriptors, a batch
    /// of the process's connections reclaimed (nginx's: an eighth of those held, 1 to 32)
    /// and their descriptors released, or, with none that may give way, the first
    /// descriptor released or connection come to where it may give way (one just accepted
    /// that has waited long enough for its first byte included; a second at most);
    /// after any other error, a pause of a second (as axum's own listener, so the loop does
    /// not spin). [`LingerListener`] does exactly this;
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
        let changes = self.budget().changes();
        match linger_io::accept_failure(error) {
            AcceptFailure::Transient => {}
            AcceptFailure::Exhausted => {
                self.budget().out_of_descriptors();
                let batch = linger_io::pressure::reclaim_batch(self.budget().held());
                let reclaimed = self.reclaim(batch).await;
                #[cfg(feature = "tracing")]
                self.warn_exhausted(error, reclaimed);
                if reclaimed == 0 {
                    // Until a descriptor is released, a connection comes where it may give
                    // way, or one just accepted has waited for its first byte long enough.
                    let ripe = self.budget().until_ripe().unwrap_or(PAUSE);
                    self.budget().until_changed(changes, ripe.min(PAUSE)).await;
                }
            }
            AcceptFailure::Other => {
                #[cfg(feature = "tracing")]
                tracing::error!(target: "linger", "accept error: {error}");
                tokio::time::sleep(PAUSE).await;
            }
        }
    }

    /// Reclaims the `max` connections of the process that give way first, live ones before
    /// lingering closes (see the type's docs), across every lingerer: each ends at once as
    /// its policy says for a spent budget (a plain close, or a reset over data still unread
    /// or when the policy says abort), after one last round of discarding what the peer
    /// sent, and its outcome and report say so. Resolves once they have released their
    /// descriptors (or after 100 ms, should a task not run), with how many were reclaimed: 0
    /// when none could give way.
    pub async fn reclaim(&self, max: usize) -> usize {
        let asked = self.budget().reclaim(max);
        asked.released_all().await;
        asked.len()
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lingerer::registry::Request;
    use crate::lingerer::registry::tests::entered;
    use linger::Policy;
    use linger_io::pressure::Standing::{Delivered, Delivering, Unread};

    #[tokio::test(start_paused = true)]
    async fn reclaim_asks_the_first_in_order_and_says_how_many() {
        let lingerer = Lingerer::builder(Policy::default())
            .budget(crate::budget::apart())
            .build();
        let tickets = entered(&lingerer, &[Delivering, Delivered, Unread]);
        // No task runs these closes: reclaim waits its bound for their release.
        assert_eq!(lingerer.reclaim(2).await, 2);
        assert_eq!(tickets[1].control.take(), Some(Request::Reclaim));
        assert_eq!(tickets[2].control.take(), Some(Request::Reclaim));
        assert!(tickets[0].control.take().is_none());
        assert_eq!(
            lingerer.reclaim(5).await,
            1,
            "reclaimed ones are not asked twice"
        );
        assert_eq!(lingerer.reclaim(5).await, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_lost_connection_the_accept_loop_goes_on_at_once() {
        let lingerer = Lingerer::builder(Policy::default())
            .budget(crate::budget::apart())
            .build();
        let kinds = [
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::ConnectionReset,
        ];
        let lost = kinds.map(io::Error::from).into_iter().chain(
            linger_io::errors::NEW_CONNECTION_ERRORS
                .into_iter()
                .map(io::Error::from_raw_os_error),
        );
        for error in lost {
            let started = tokio::time::Instant::now();
            lingerer.after_accept_error(&error).await;
            assert_eq!(started.elapsed(), Duration::ZERO, "{error}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_descriptors_the_accept_loop_reclaims_and_goes_on() {
        let lingerer = Lingerer::builder(Policy::default())
            .budget(crate::budget::apart())
            .build();
        let waiting = lingerer.enter(Delivered);
        let started = tokio::time::Instant::now();
        lingerer.after_accept_error(&emfile()).await;
        assert_eq!(waiting.control.take(), Some(Request::Reclaim));
        // No task ends this close: the wait for its release is bounded, with no pause after.
        assert_eq!(started.elapsed(), crate::budget::RECLAIM_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_to_reclaim_or_another_error_the_accept_loop_pauses_a_second() {
        let lingerer = Lingerer::builder(Policy::default())
            .budget(crate::budget::apart())
            .build();
        for error in [emfile(), io::Error::other("listener gone")] {
            let started = tokio::time::Instant::now();
            lingerer.after_accept_error(&error).await;
            assert_eq!(started.elapsed(), Duration::from_secs(1), "{error}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_to_reclaim_the_accept_loop_goes_on_once_a_descriptor_is_released() {
        let budget = crate::budget::apart();
        let lingerer = Lingerer::builder(Policy::default()).budget(budget).build();
        let working = budget.join(None);
        working.stand(None);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            drop(working);
        });
        let started = tokio::time::Instant::now();
        lingerer.after_accept_error(&emfile()).await;
        assert_eq!(started.elapsed(), Duration::from_millis(30));
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_to_reclaim_the_accept_loop_goes_on_once_a_connection_may_give_way() {
        // Descriptors still short when the connection may give way, on every platform (where
        // the process has no descriptor limit to read, Windows, nothing else would say so).
        let budget = crate::budget::apart_running_short();
        let lingerer = Lingerer::builder(Policy::default()).budget(budget).build();
        let working = budget.join(None);
        working.stand(None);
        let idle = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            working.stand(Some(linger_io::pressure::LiveStanding::Idle));
            working
        });
        let started = tokio::time::Instant::now();
        lingerer.after_accept_error(&emfile()).await;
        assert_eq!(started.elapsed(), Duration::from_millis(30));
        // The reclaim found none of the one it asked for: the first to come where it may
        // give way was asked to, at once.
        let idle = idle.await.expect("the task ran");
        assert!(idle.slot.take_asked());
    }

    /// `accept`'s error when the process is out of descriptors: `EMFILE` (24 on every unix)
    /// or Winsock's `WSAEMFILE`.
    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(if cfg!(windows) { 10024 } else { 24 })
    }
}
