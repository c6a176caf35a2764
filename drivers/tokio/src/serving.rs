//! What the framework adapters share: the lingerer as a server's listener or acceptor holds
//! it, shortening every close once the server lets go, and the wait after an accept error.

use crate::{LingerStream, Lingerer, SHORT_LINGER};
use std::net::SocketAddr;

/// A server's [`Lingerer`], held by the listener or acceptor the framework owns. When the
/// framework drops it (it stops accepting, or the server has ended), every close in flight
/// and every later one gets at most [`SHORT_LINGER`] more.
#[derive(Debug)]
pub(crate) struct ServerLingerer {
    lingerer: Lingerer,
}

impl ServerLingerer {
    pub(crate) fn new(lingerer: Lingerer) -> ServerLingerer {
        ServerLingerer { lingerer }
    }

    pub(crate) fn lingerer(&self) -> &Lingerer {
        &self.lingerer
    }

    /// `stream`, accepted from `peer`, as a stream of this lingerer.
    #[cfg(any(feature = "axum-server", feature = "poem"))]
    pub(crate) fn stream(
        &self,
        stream: tokio::net::TcpStream,
        peer: Option<SocketAddr>,
    ) -> LingerStream {
        LingerStream::managed(stream, self.lingerer.clone(), peer)
    }

    /// Accepts from `listener` until a connection comes, waiting after each error as
    /// [`wait_after_accept_error`] says.
    #[cfg(any(feature = "axum", feature = "salvo"))]
    pub(crate) async fn accept(
        &self,
        listener: &tokio::net::TcpListener,
    ) -> (LingerStream, SocketAddr) {
        loop {
            match self.lingerer.accept(listener).await {
                Ok(accepted) => return accepted,
                Err(error) => wait_after_accept_error(&error).await,
            }
        }
    }
}

impl Drop for ServerLingerer {
    /// The server stops accepting: shorten every close, present and to come.
    fn drop(&mut self) {
        self.lingerer.close_all(SHORT_LINGER);
    }
}

/// As axum's own listener: a connection that failed before it was accepted is skipped at
/// once; anything else (`EMFILE`: out of descriptors) waits a second for closes to free some.
#[cfg(any(feature = "axum", feature = "poem", feature = "salvo"))]
pub(crate) async fn wait_after_accept_error(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    #[cfg(feature = "tracing")]
    tracing::error!(target: "linger", "accept error: {error}");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::ServerLingerer;
    use crate::lingerer::Request;
    use crate::{Lingerer, Policy, SHORT_LINGER};

    #[test]
    fn letting_go_of_a_servers_lingerer_shortens_every_close_in_flight_and_to_come() {
        let lingerer = Lingerer::new(Policy::default());
        let early = lingerer.enter();
        drop(ServerLingerer::new(lingerer.clone()));
        let late = lingerer.enter();
        for ticket in [early, late] {
            assert_eq!(ticket.control.take(), Some(Request::Shorten(SHORT_LINGER)));
        }
    }
}

#[cfg(all(test, any(feature = "axum", feature = "poem", feature = "salvo")))]
mod accept_errors {
    use super::wait_after_accept_error;
    use std::io;
    use std::time::Duration;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_connection_lost_before_accept_is_skipped_at_once() {
        let started = Instant::now();
        wait_after_accept_error(&io::ErrorKind::ConnectionReset.into()).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn any_other_accept_error_waits_a_second() {
        let started = Instant::now();
        wait_after_accept_error(&io::Error::other("too many open files")).await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
