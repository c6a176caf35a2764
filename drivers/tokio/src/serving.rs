//! What the framework adapters share: the lingerer as a server's listener or acceptor holds
//! it, shortening every close once the server lets go.

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

    /// Accepts from `listener` until a connection comes, reclaiming lingering closes when
    /// descriptors run out and pausing after other errors
    /// ([`Lingerer::after_accept_error`]).
    #[cfg(any(feature = "axum", feature = "salvo"))]
    pub(crate) async fn accept(
        &self,
        listener: &tokio::net::TcpListener,
    ) -> (LingerStream, SocketAddr) {
        loop {
            match self.lingerer.accept(listener).await {
                Ok(accepted) => return accepted,
                Err(error) => self.lingerer.after_accept_error(&error).await,
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

#[cfg(test)]
mod tests {
    use super::ServerLingerer;
    use crate::lingerer::Request;
    use crate::{Lingerer, Policy, SHORT_LINGER};

    #[test]
    fn letting_go_of_a_servers_lingerer_shortens_every_close_in_flight_and_to_come() {
        let lingerer = Lingerer::new(Policy::default());
        let early = lingerer.enter(linger_io::pressure::Standing::Delivering);
        drop(ServerLingerer::new(lingerer.clone()));
        let late = lingerer.enter(linger_io::pressure::Standing::Delivering);
        for ticket in [early, late] {
            assert_eq!(ticket.control.take(), Some(Request::Shorten(SHORT_LINGER)));
        }
    }
}
