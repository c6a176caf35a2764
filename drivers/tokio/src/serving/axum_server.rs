//! axum-server: [`LingerAcceptor`] as an `axum_server::accept::Accept`, beneath axum-server's
//! TLS acceptors or alone.

use super::ServerLingerer;
use crate::{HoldRequests, LingerAcceptor, LingerStream, Lingerer};
use axum_server::accept::Accept;
use linger::Policy;
use std::borrow::Borrow;
use std::future::{Ready, ready};
use std::io;
use std::sync::Arc;
use tokio::net::TcpStream;

impl LingerAcceptor {
    /// An acceptor for axum-server whose connections close under `policy`, managed by a
    /// [`Lingerer`] of their own (default capacity, no hook).
    pub fn new(policy: impl Borrow<Policy>) -> LingerAcceptor {
        LingerAcceptor::with_lingerer(Lingerer::new(policy))
    }

    /// An acceptor for axum-server whose connections close under `lingerer`, with its
    /// policy, capacity and hook.
    pub fn with_lingerer(lingerer: Lingerer) -> LingerAcceptor {
        LingerAcceptor {
            inner: (),
            server: Arc::new(ServerLingerer::new(lingerer)),
            #[cfg(feature = "salvo")]
            pending: None,
        }
    }
}

/// Each connection's service is wrapped in [`HoldRequests`], so that the connection knows the
/// requests it carries: a request held until its answer's body ends (an event stream with
/// long pauses, an HTTP/2 stream in flight) is never taken for idle, and a `101` answer (a
/// WebSocket) takes the connection over, which then counts as active however quiet.
impl<S> Accept<TcpStream, S> for LingerAcceptor {
    type Stream = LingerStream;
    type Service = HoldRequests<S>;
    type Future = Ready<io::Result<(LingerStream, HoldRequests<S>)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // axum-server hands over the stream without its peer: ask the socket, for the report.
        let peer = stream.peer_addr().ok();
        let stream = self.server.stream(stream, peer);
        let service = HoldRequests::new(service, stream.requests());
        ready(Ok((stream, service)))
    }
}

#[cfg(test)]
mod tests {
    use crate::lingerer::Request;
    use crate::{LingerAcceptor, Policy, SHORT_LINGER};
    use axum_server::accept::Accept;

    #[test]
    fn only_letting_go_of_the_last_clone_shortens_the_closes() {
        let acceptor = LingerAcceptor::new(Policy::default());
        let ticket = acceptor
            .lingerer()
            .enter(linger_io::pressure::Standing::Delivering);
        let clone = acceptor.clone();
        drop(acceptor);
        assert_eq!(ticket.control.take(), None, "a clone is still serving");
        drop(clone);
        let shortened = Some(Request::Shorten(SHORT_LINGER));
        assert_eq!(ticket.control.take(), shortened);
    }

    #[tokio::test]
    async fn accept_gives_a_lingering_stream_that_knows_its_peer_and_the_service() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let (tcp, _) = listener.accept().await.expect("accept");
        let acceptor = LingerAcceptor::new(Policy::default());
        let (stream, service) = acceptor.accept(tcp, "service").await.expect("accepted");
        assert_eq!(*service.get_ref(), "service");
        assert_eq!(
            stream.peer_addr().expect("peer"),
            client.local_addr().expect("client")
        );
        drop(stream);
        drop(client);
        acceptor.lingerer().finished().await;
        assert_eq!(acceptor.lingerer().counts().ended(), 1);
    }
}
