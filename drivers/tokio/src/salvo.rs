//! salvo: [`LingerListener`] and its [`LingerAcceptor`], whose connections close with a
//! lingering close, beneath salvo's TLS listeners or alone.

use crate::serving::ServerLingerer;
use crate::{LingerStream, Lingerer};
use linger::Policy;
use salvo_core::conn::tcp::{TcpAcceptor, TcpCoupler};
use salvo_core::conn::{Accepted, Acceptor, ConnCtrl, Holding, Listener, StraightStream};
use salvo_core::fuse::{ArcFusePolicy, FuseAction, FuseInfo, TransProto};
use salvo_core::http::uri::Scheme;
use std::borrow::Borrow;
use std::io;
use std::net::SocketAddr;

/// The stream salvo serves: a [`LingerStream`] under salvo's own timeouts.
pub type Stream = StraightStream<LingerStream>;

/// A salvo [`Listener`](https://docs.rs/salvo_core/1/salvo_core/conn/trait.Listener.html) over salvo's [`TcpListener`](https://docs.rs/salvo_core/1/salvo_core/conn/tcp/struct.TcpListener.html) whose
/// connections are [`LingerStream`]s: when hyper is done with a connection, it closes with a
/// lingering close. Wrap the TCP listener and put salvo's TLS on top, so that TLS runs over
/// the lingering stream:
///
/// ```ignore
/// let tcp = LingerListener::new(TcpListener::new("0.0.0.0:443"), Policy::default());
/// let acceptor = RustlsListener::new(config, tcp).bind().await;
/// ```
///
/// (`RustlsListener::new(config, tcp)` is what salvo's `TcpListener::rustls(config)` builds.)
/// Or serve plain HTTP:
///
/// ```no_run
/// use linger_tokio::{Policy, salvo::LingerListener};
/// use salvo_core::conn::{Listener, TcpListener};
///
/// # async fn serve(router: salvo_core::Router) {
/// let listener = LingerListener::new(TcpListener::new("0.0.0.0:3000"), Policy::default());
/// salvo_core::Server::new(listener.bind().await).serve(router).await;
/// # }
/// ```
///
/// # Graceful shutdown
///
/// salvo keeps its acceptor until `serve` returns, after its last connection (or at the
/// timeout of `ServerHandle::stop_graceful`). Dropping the acceptor then gives every close
/// of the [`Lingerer`] still waiting at most [`SHORT_LINGER`](crate::SHORT_LINGER) more. To
/// shorten them from the first moment, call [`close_all`](Lingerer::close_all) beside
/// `stop_graceful`; await [`finished`](Lingerer::finished) after `serve` returns.
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
    L: Listener<Acceptor = TcpAcceptor> + Send + 'static,
{
    type Acceptor = LingerAcceptor;

    async fn try_bind(self) -> salvo_core::Result<LingerAcceptor> {
        let tcp = self.inner.try_bind().await?;
        Ok(LingerAcceptor {
            tcp,
            pending: None,
            server: ServerLingerer::new(self.lingerer),
        })
    }
}

/// The [`Acceptor`](https://docs.rs/salvo_core/1/salvo_core/conn/trait.Acceptor.html) of a [`LingerListener`]: salvo's TCP acceptor, its connections
/// [`LingerStream`]s, admitted by salvo's fuse policy as salvo's own.
///
/// An accept error is not handed to salvo: a connection lost before it was accepted is
/// skipped, and anything else (`EMFILE`) waits a second, as axum does. Dropping the acceptor
/// shortens every close, as [`LingerListener`] says.
#[derive(Debug)]
pub struct LingerAcceptor {
    tcp: TcpAcceptor,
    /// Accepted, not yet admitted: kept here, not in the `accept` future, so that a future
    /// dropped during admission (a `JoinedListener` taking the other side) loses no client.
    pending: Option<(LingerStream, SocketAddr)>,
    server: ServerLingerer,
}

impl LingerAcceptor {
    /// The lingerer of this acceptor's closes.
    pub fn lingerer(&self) -> &Lingerer {
        self.server.lingerer()
    }
}

impl Acceptor for LingerAcceptor {
    type Coupler = TcpCoupler<Stream>;
    type Stream = Stream;

    fn holdings(&self) -> &[Holding] {
        self.tcp.holdings()
    }

    async fn accept(
        &mut self,
        fuse_policy: Option<ArcFusePolicy>,
    ) -> io::Result<Accepted<TcpCoupler<Stream>, Stream>> {
        let local_addr: salvo_core::conn::SocketAddr = self.tcp.local_addr()?.into();
        loop {
            let peer = match &self.pending {
                Some((_, peer)) => *peer,
                None => {
                    let (stream, peer) = self.server.accept(self.tcp.inner()).await;
                    self.pending = Some((stream, peer));
                    peer
                }
            };
            let conn_ctrl = ConnCtrl::new();
            let (fuse_config, observer) = match &fuse_policy {
                Some(policy) => {
                    let info = FuseInfo {
                        trans_proto: TransProto::Tcp,
                        remote_addr: peer.into(),
                        local_addr: local_addr.clone(),
                    };
                    match policy.decide(&info).await {
                        FuseAction::Accept(config) => {
                            (Some(config), policy.observe(&info, &conn_ctrl))
                        }
                        FuseAction::Reject => {
                            self.pending = None;
                            continue;
                        }
                    }
                }
                None => (None, None),
            };
            let Some((stream, _)) = self.pending.take() else {
                continue;
            };
            return Ok(Accepted {
                coupler: TcpCoupler::new(),
                stream: StraightStream::new(stream, fuse_config, conn_ctrl.clone(), observer),
                fuse_config,
                conn_ctrl,
                local_addr,
                remote_addr: peer.into(),
                http_scheme: Scheme::HTTP,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LingerListener;
    use crate::Policy;
    use salvo_core::conn::{Acceptor, Listener, TcpListener};
    use salvo_core::fuse::{ArcFusePolicy, FuseAction, FuseConfig, FuseInfo};
    use std::io::Read;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_connection_the_fuse_policy_rejects_is_closed_and_the_next_one_admitted() {
        let listener = LingerListener::new(TcpListener::new("127.0.0.1:0"), Policy::default());
        let lingerer = listener.lingerer().clone();
        let mut acceptor = listener.try_bind().await.expect("bind");
        let address = acceptor.tcp.local_addr().expect("address");
        let mut rejected = std::net::TcpStream::connect(address).expect("connect");
        let admitted = std::net::TcpStream::connect(address).expect("connect");
        let refuse = rejected.local_addr().expect("client");
        let policy: ArcFusePolicy = Arc::new(move |info: &FuseInfo| {
            if info.remote_addr.clone().into_std() == Some(refuse) {
                FuseAction::Reject
            } else {
                FuseAction::Accept(FuseConfig::default())
            }
        });
        let accepted = acceptor.accept(Some(policy)).await.expect("accept");
        let peer = admitted.local_addr().expect("client");
        assert_eq!(accepted.remote_addr.clone().into_std(), Some(peer));
        assert_eq!(accepted.local_addr.clone().into_std(), Some(address));
        assert!(accepted.fuse_config.is_some());
        // The rejected client reads the end of its connection: a close, not a reset.
        let read = tokio::task::spawn_blocking(move || rejected.read(&mut [0u8; 16]));
        assert_eq!(read.await.expect("reader").expect("EOF"), 0);
        drop((accepted, admitted));
        lingerer.finished().await;
        assert_eq!(lingerer.counts().ended(), 2);
    }
}
