//! axum-server: [`LingerAcceptor`], whose connections close with a lingering close, beneath
//! axum-server's TLS acceptors or alone.

use crate::serving::ServerLingerer;
use crate::{LingerStream, Lingerer};
use axum_server::accept::Accept;
use linger::Policy;
use std::borrow::Borrow;
use std::future::{Ready, ready};
use std::io;
use std::sync::Arc;
use tokio::net::TcpStream;

/// An [`axum_server::accept::Accept`](https://docs.rs/axum-server/0.9/axum_server/accept/trait.Accept.html) whose streams are [`LingerStream`]s: when hyper is
/// done with a connection, it closes with a lingering close instead of resetting a client
/// that is still sending. Put it beneath axum-server's TLS acceptor, where the TCP stream
/// is, so that TLS runs over the lingering stream; the one change:
///
/// ```ignore
/// let acceptor = RustlsAcceptor::new(config).acceptor(LingerAcceptor::new(Policy::default()));
/// axum_server::bind(address).acceptor(acceptor).serve(app.into_make_service()).await?;
/// ```
///
/// The same with `OpenSSLAcceptor::new(config).acceptor(...)`, or alone, for plain HTTP:
///
/// ```no_run
/// use linger_tokio::{LingerAcceptor, Policy};
///
/// # async fn serve(app: axum::Router) -> std::io::Result<()> {
/// let address = std::net::SocketAddr::from(([0, 0, 0, 0], 3000));
/// axum_server::bind(address)
///     .acceptor(LingerAcceptor::new(Policy::default()))
///     .serve(app.into_make_service())
///     .await
/// # }
/// ```
///
/// At the end of a TLS connection, hyper's shutdown sends TLS's `close_notify`, then the
/// lingering stream's half-close sends our FIN, and the close drains what the client still
/// sends.
///
/// # Graceful shutdown
///
/// axum-server's [`Handle`](https://docs.rs/axum-server/0.9/axum_server/struct.Handle.html) tells an acceptor nothing when graceful
/// shutdown begins; the server lets go of its acceptor (every clone of this one) once it has
/// ended, when its last connection has finished or the handle's timeout has passed. Then
/// every close of the [`Lingerer`] still waiting, and every later one, gets at most
/// [`SHORT_LINGER`](crate::SHORT_LINGER) more, as when axum drops a
/// [`LingerListener`](crate::LingerListener). To shorten them from the first moment, ask the
/// lingerer beside the handle, and await it after `serve` returns:
///
/// ```ignore
/// let lingerer = acceptor.lingerer().clone();
/// // ... on the signal:
/// lingerer.close_all(linger_tokio::SHORT_LINGER);
/// handle.graceful_shutdown(Some(Duration::from_secs(10)));
/// // ... after serve returns:
/// lingerer.finished().await;
/// ```
///
/// Keep a clone of the lingerer, not of the acceptor: a clone of the acceptor kept alive
/// keeps the server from letting go of it.
#[derive(Clone, Debug)]
pub struct LingerAcceptor {
    server: Arc<ServerLingerer>,
}

impl LingerAcceptor {
    /// An acceptor whose connections close under `policy`, managed by a [`Lingerer`] of
    /// their own (default capacity, no hook).
    pub fn new(policy: impl Borrow<Policy>) -> LingerAcceptor {
        LingerAcceptor::with_lingerer(Lingerer::new(policy))
    }

    /// An acceptor whose connections close under `lingerer`, with its policy, capacity and
    /// hook.
    pub fn with_lingerer(lingerer: Lingerer) -> LingerAcceptor {
        LingerAcceptor {
            server: Arc::new(ServerLingerer::new(lingerer)),
        }
    }

    /// The lingerer of this acceptor's closes: clone it to read its counts or to await the
    /// last close at shutdown.
    pub fn lingerer(&self) -> &Lingerer {
        self.server.lingerer()
    }
}

impl<S> Accept<TcpStream, S> for LingerAcceptor {
    type Stream = LingerStream;
    type Service = S;
    type Future = Ready<io::Result<(LingerStream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // axum-server hands over the stream without its peer: ask the socket, for the report.
        let peer = stream.peer_addr().ok();
        ready(Ok((self.server.stream(stream, peer), service)))
    }
}

#[cfg(test)]
mod tests {
    use super::LingerAcceptor;
    use crate::lingerer::Request;
    use crate::{Policy, SHORT_LINGER};
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
        assert_eq!(service, "service");
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
