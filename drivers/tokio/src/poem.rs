//! poem: [`LingerListener`] and [`LingerAcceptor`], whose connections close with a lingering
//! close, beneath poem's TLS listeners and acceptors or alone.

use crate::serving::ServerLingerer;
use crate::{LingerStream, Lingerer};
use linger::Policy;
use poem::http::uri::Scheme;
use poem::listener::{Acceptor, Listener};
use poem::web::{LocalAddr, RemoteAddr};
use std::borrow::Borrow;
use std::io;
use tokio::net::TcpStream;

/// A poem [`Listener`](https://docs.rs/poem/3/poem/listener/trait.Listener.html) over one whose connections are `TcpStream`s (poem's
/// [`TcpListener`](https://docs.rs/poem/3/poem/listener/struct.TcpListener.html)), giving [`LingerStream`]s instead: when
/// hyper is done with a connection, it closes with a lingering close. Wrap the TCP listener
/// and put poem's TLS on top, so that TLS runs over the lingering stream:
///
/// ```ignore
/// let listener = LingerListener::new(TcpListener::bind("0.0.0.0:443"), Policy::default())
///     .rustls(config);
/// ```
///
/// or serve plain HTTP:
///
/// ```no_run
/// use linger_tokio::{Policy, poem::LingerListener};
/// use poem::listener::TcpListener;
///
/// # async fn serve(app: poem::Route) -> std::io::Result<()> {
/// let listener = LingerListener::new(TcpListener::bind("0.0.0.0:3000"), Policy::default());
/// poem::Server::new(listener).run(app).await
/// # }
/// ```
///
/// # Graceful shutdown
///
/// poem drops its acceptor when `run_with_graceful_shutdown`'s signal fires: every close of
/// the [`Lingerer`] still waiting, and every one that starts while poem finishes its
/// connections, then gets at most [`SHORT_LINGER`](crate::SHORT_LINGER) more. Keep a clone
/// of the [`lingerer`](Self::lingerer) and await [`finished`](Lingerer::finished) after the
/// server returns.
#[derive(Debug)]
pub struct LingerListener<L> {
    inner: L,
    lingerer: Lingerer,
}

impl<L> LingerListener<L> {
    /// Wraps `inner`; its connections close under `policy`, managed by a [`Lingerer`] of
    /// their own (default capacity, no hook).
    pub fn new(inner: L, policy: impl Borrow<Policy>) -> LingerListener<L> {
        LingerListener::with_lingerer(inner, Lingerer::new(policy))
    }

    /// Wraps `inner`; its connections close under `lingerer`, with its policy, capacity and
    /// hook.
    pub fn with_lingerer(inner: L, lingerer: Lingerer) -> LingerListener<L> {
        LingerListener { inner, lingerer }
    }

    /// The lingerer of this listener's closes: clone it to read its counts or to await the
    /// last close at shutdown.
    pub fn lingerer(&self) -> &Lingerer {
        &self.lingerer
    }
}

impl<L> Listener for LingerListener<L>
where
    L: Listener,
    L::Acceptor: Acceptor<Io = TcpStream>,
{
    type Acceptor = LingerAcceptor<L::Acceptor>;

    async fn into_acceptor(self) -> io::Result<LingerAcceptor<L::Acceptor>> {
        let inner = self.inner.into_acceptor().await?;
        Ok(LingerAcceptor::with_lingerer(inner, self.lingerer))
    }
}

/// A poem [`Acceptor`](https://docs.rs/poem/3/poem/listener/trait.Acceptor.html) over one whose connections are `TcpStream`s (poem's
/// [`TcpAcceptor`](https://docs.rs/poem/3/poem/listener/struct.TcpAcceptor.html)), giving [`LingerStream`]s instead: for
/// `Server::new_with_acceptor`, beneath `AcceptorExt::rustls`. Made by [`LingerListener`],
/// or directly.
///
/// An accept error is not handed to poem, which would try again at once: a connection lost
/// before it was accepted is skipped, and anything else (`EMFILE`) waits a second, as axum
/// does. Dropping the acceptor shortens every close, as [`LingerListener`] says.
#[derive(Debug)]
pub struct LingerAcceptor<A> {
    inner: A,
    server: ServerLingerer,
}

impl<A> LingerAcceptor<A> {
    /// Wraps `inner`; its connections close under `policy`, managed by a [`Lingerer`] of
    /// their own.
    pub fn new(inner: A, policy: impl Borrow<Policy>) -> LingerAcceptor<A> {
        LingerAcceptor::with_lingerer(inner, Lingerer::new(policy))
    }

    /// Wraps `inner`; its connections close under `lingerer`.
    pub fn with_lingerer(inner: A, lingerer: Lingerer) -> LingerAcceptor<A> {
        LingerAcceptor {
            inner,
            server: ServerLingerer::new(lingerer),
        }
    }

    /// The lingerer of this acceptor's closes.
    pub fn lingerer(&self) -> &Lingerer {
        self.server.lingerer()
    }
}

impl<A: Acceptor<Io = TcpStream>> Acceptor for LingerAcceptor<A> {
    type Io = LingerStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(LingerStream, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            match self.inner.accept().await {
                Ok((stream, local, remote, scheme)) => {
                    let peer = remote.as_socket_addr().copied();
                    return Ok((self.server.stream(stream, peer), local, remote, scheme));
                }
                Err(error) => self.server.lingerer().after_accept_error(&error).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LingerListener;
    use crate::Policy;
    use poem::listener::{Acceptor, Listener, TcpListener};

    #[tokio::test]
    async fn the_acceptor_gives_lingering_streams_with_poems_addresses() {
        let listener = LingerListener::new(TcpListener::bind("127.0.0.1:0"), Policy::default());
        let lingerer = listener.lingerer().clone();
        let mut acceptor = listener.into_acceptor().await.expect("bind");
        let local = acceptor.local_addr()[0].clone();
        let address = *local.as_socket_addr().expect("a socket address");
        let client = std::net::TcpStream::connect(address).expect("connect");
        let (stream, accepted_on, remote, scheme) = acceptor.accept().await.expect("accept");
        let peer = client.local_addr().expect("client");
        assert_eq!(accepted_on, local);
        assert_eq!(remote.as_socket_addr(), Some(&peer));
        assert_eq!(scheme, poem::http::uri::Scheme::HTTP);
        assert_eq!(stream.peer_addr().expect("peer"), peer);
        drop((stream, client));
        lingerer.finished().await;
        assert_eq!(lingerer.counts().ended(), 1);
    }
}
