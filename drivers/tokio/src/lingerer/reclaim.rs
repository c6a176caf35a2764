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

impl Lingerer {
    /// Accepts a connection from `listener` and wraps it, as [`stream`](Self::stream): the
    /// accept loop of a hyper server. It goes on through what a flood brings, as
    /// [`after_accept_error`](Self::after_accept_error) says: a connection lost before it was
    /// accepted is skipped; when `accept` fails for want of descriptors, it reclaims a batch of
    /// closes and retries at once, or, with nothing to reclaim, after a pause of a second. So
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

    /// After `accept` failed with `error`: if for want of descriptors or socket memory,
    /// reclaims a batch of closes and returns how many; 0 otherwise.
    async fn reclaim_if_exhausted(&self, error: &io::Error) -> usize {
        if linger_io::accept_failure(error) != AcceptFailure::Exhausted {
            return 0;
        }
        let batch = linger_io::pressure::reclaim_batch(self.budget().held());
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

    /// `accept`'s error when the process is out of descriptors: `EMFILE` (24 on every unix)
    /// or Winsock's `WSAEMFILE`.
    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(if cfg!(windows) { 10024 } else { 24 })
    }
}
