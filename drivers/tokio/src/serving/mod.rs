//! The framework adapters: one [`LingerListener`] for every framework that takes a listener
//! (axum, poem, salvo) and one [`LingerAcceptor`] for every framework that takes an acceptor
//! (axum-server, and the acceptors poem and salvo make from their listeners). What they
//! share lives here; each framework's traits are implemented in a module of its own.

#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "axum-server")]
mod axum_server;
#[cfg(feature = "poem")]
mod poem;
#[cfg(feature = "salvo")]
mod salvo;

use crate::{LingerStream, Lingerer, SHORT_LINGER};
#[cfg(any(feature = "axum", feature = "poem", feature = "salvo"))]
use linger::Policy;
#[cfg(any(feature = "axum", feature = "poem", feature = "salvo"))]
use std::borrow::Borrow;
use std::net::SocketAddr;
#[cfg(any(feature = "axum-server", feature = "poem", feature = "salvo"))]
use std::sync::Arc;

/// A listener whose connections are [`LingerStream`]s: when the framework is done with a
/// connection, it closes with a lingering close instead of resetting a client that is still
/// sending (an early `413`, a body-limit rejection). One type for every framework that
/// serves a listener; wrap the framework's TCP listener, and put its TLS, where it has one,
/// on top:
///
/// | framework | the one change | feature |
/// |---|---|---|
/// | `axum::serve` | `LingerListener::new(tokio_listener, policy)` | `axum` |
/// | poem | `LingerListener::new(poem::listener::TcpListener::bind(addr), policy)`, then `.rustls(config)` (`poem::listener::Listener` in scope, poem's feature `rustls`) | `poem` |
/// | salvo | `LingerListener::new(salvo::conn::TcpListener::new(addr), policy)`, inside `salvo::conn::rustls::RustlsListener::new(config, ...)` (salvo's feature `rustls`) | `salvo` |
///
/// ```no_run
/// # #[cfg(feature = "axum")]
/// # async fn serve(app: axum::Router) -> std::io::Result<()> {
/// use linger_tokio::{LingerListener, Policy};
///
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
/// axum::serve(LingerListener::new(listener, Policy::default()), app).await
/// # }
/// ```
///
/// # Graceful shutdown
///
/// The framework lets go of the listener (axum, when graceful shutdown begins) or of the
/// acceptor made from it (poem, when the shutdown signal fires; salvo, once `serve` returns).
/// Then every close of the [`Lingerer`] still waiting, and every one that starts while the
/// framework finishes its connections, gets at most [`SHORT_LINGER`] more. Keep a clone of
/// the [`lingerer`](Self::lingerer) and await [`finished`](Lingerer::finished) (or
/// [`shutdown`](Lingerer::shutdown)) after the server returns, before the runtime goes
/// away: a close still waiting when its runtime shuts down is ended at once.
///
/// # Accept errors
///
/// The listener goes on through what a flood brings, as
/// [`Lingerer::after_accept_error`] says: a connection lost before it was accepted is
/// skipped; out of descriptors, it reclaims a batch of lingering closes and accepts again
/// at once; it pauses a second, as axum's own listener does, only when there was nothing to
/// reclaim or the listener itself failed. No accept error reaches the framework.
#[cfg(any(feature = "axum", feature = "poem", feature = "salvo"))]
#[derive(Debug)]
pub struct LingerListener<L = tokio::net::TcpListener> {
    inner: L,
    server: ServerLingerer,
}

#[cfg(any(feature = "axum", feature = "poem", feature = "salvo"))]
impl<L> LingerListener<L> {
    /// Wraps `inner`; its connections close under `policy`, managed by a [`Lingerer`] of
    /// their own (default capacity, no hook).
    pub fn new(inner: L, policy: impl Borrow<Policy>) -> LingerListener<L> {
        LingerListener::with_lingerer(inner, Lingerer::new(policy))
    }

    /// Wraps `inner`; its connections close under `lingerer`, with its policy, capacity and
    /// hook.
    pub fn with_lingerer(inner: L, lingerer: Lingerer) -> LingerListener<L> {
        LingerListener {
            inner,
            server: ServerLingerer::new(lingerer),
        }
    }

    /// The lingerer of this listener's closes: clone it to read its counts or to await the
    /// last close at shutdown.
    pub fn lingerer(&self) -> &Lingerer {
        self.server.lingerer()
    }
}

/// An acceptor whose connections are [`LingerStream`]s, for the frameworks that take an
/// acceptor: axum-server's `Accept`, beneath its TLS acceptors or alone
/// ([`LingerAcceptor::new`], feature `axum-server`), and the acceptors poem and salvo make
/// from a [`LingerListener`] (`A` is then their own TCP acceptor).
///
/// ```no_run
/// # #[cfg(feature = "axum-server")]
/// # async fn serve(app: axum::Router) -> std::io::Result<()> {
/// use linger_tokio::{LingerAcceptor, Policy};
///
/// let address = std::net::SocketAddr::from(([0, 0, 0, 0], 3000));
/// axum_server::bind(address)
///     .acceptor(LingerAcceptor::new(Policy::default()))
///     .serve(app.into_make_service())
///     .await
/// # }
/// ```
///
/// Over TLS, it goes beneath the TLS acceptor, where the TCP stream is:
/// `RustlsAcceptor::new(config).acceptor(LingerAcceptor::new(policy))`, and the same with
/// `OpenSSLAcceptor`. At the end of a TLS connection, hyper's shutdown sends TLS's
/// `close_notify`, then the lingering stream's half-close sends our FIN, and the close drains
/// what the client still sends. axum-server hands the address it accepted to
/// `into_make_service_with_connect_info` whatever the acceptor, so `ConnectInfo<SocketAddr>`
/// works as without linger; poem's `RemoteAddr` passes through the acceptor unchanged.
///
/// Clones share one lingerer; when the framework has let go of the last one, every close
/// still waiting, and every later one, gets at most [`SHORT_LINGER`] more. Keep a clone of
/// the [`lingerer`](Self::lingerer), not of the acceptor, to await the last close: a clone
/// of the acceptor kept alive keeps that from happening.
#[cfg(any(feature = "axum-server", feature = "poem", feature = "salvo"))]
#[derive(Debug)]
pub struct LingerAcceptor<A = ()> {
    inner: A,
    server: Arc<ServerLingerer>,
    /// Accepted, not yet handed to salvo: kept here, not in the `accept` future, so that a
    /// future dropped while salvo's fuse policy decides (a `JoinedListener` taking the other
    /// side) loses no client.
    #[cfg(feature = "salvo")]
    pending: Option<(LingerStream, SocketAddr)>,
}

#[cfg(any(feature = "axum-server", feature = "poem", feature = "salvo"))]
impl<A> LingerAcceptor<A> {
    /// Wraps `inner`, for the listeners that make an acceptor; the lingerer is `server`'s.
    #[cfg(any(feature = "poem", feature = "salvo"))]
    fn wrap(inner: A, server: ServerLingerer) -> LingerAcceptor<A> {
        LingerAcceptor {
            inner,
            server: Arc::new(server),
            #[cfg(feature = "salvo")]
            pending: None,
        }
    }

    /// The lingerer of this acceptor's closes: clone it to read its counts or to await the
    /// last close at shutdown.
    pub fn lingerer(&self) -> &Lingerer {
        self.server.lingerer()
    }
}

#[cfg(any(feature = "axum-server", feature = "poem", feature = "salvo"))]
impl<A: Clone> Clone for LingerAcceptor<A> {
    /// A clone sharing the lingerer; nothing accepted and not yet handed over is cloned.
    fn clone(&self) -> Self {
        LingerAcceptor {
            inner: self.inner.clone(),
            server: Arc::clone(&self.server),
            #[cfg(feature = "salvo")]
            pending: None,
        }
    }
}

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

    /// What an accept loop does with what `accept` returned: the connection, or after an
    /// error `None`, once [`Lingerer::after_accept_error`] has done what the error asks
    /// (reclaim, pause), so that the loop tries again. No accept error reaches the framework.
    #[cfg(any(feature = "axum", feature = "poem", feature = "salvo"))]
    pub(crate) async fn admit<T>(&self, accepted: std::io::Result<T>) -> Option<T> {
        match accepted {
            Ok(accepted) => Some(accepted),
            Err(error) => {
                self.lingerer.after_accept_error(&error).await;
                None
            }
        }
    }

    /// Accepts from `listener` until a connection comes (see [`admit`](Self::admit)).
    #[cfg(any(feature = "axum", feature = "salvo"))]
    pub(crate) async fn accept(
        &self,
        listener: &tokio::net::TcpListener,
    ) -> (LingerStream, SocketAddr) {
        loop {
            if let Some(accepted) = self.admit(self.lingerer.accept(listener).await).await {
                return accepted;
            }
        }
    }
}

impl Drop for ServerLingerer {
    /// The server stops accepting: shorten every close, present and to come.
    fn drop(&mut self) {
        self.lingerer.shorten_all(SHORT_LINGER);
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
