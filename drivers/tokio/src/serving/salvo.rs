//! salvo: [`LingerListener`] as a salvo `Listener` over salvo's `TcpListener`, and the
//! [`LingerAcceptor`] it makes, beneath salvo's TLS listeners or alone.

use crate::{LingerAcceptor, LingerListener, LingerStream};
use salvo_core::conn::tcp::{TcpAcceptor, TcpCoupler};
use salvo_core::conn::{Accepted, Acceptor, ConnCtrl, Holding, Listener, StraightStream};
use salvo_core::fuse::{ArcFusePolicy, FuseAction, FuseInfo, TransProto};
use salvo_core::http::uri::Scheme;
use std::io;

/// The stream salvo serves: a [`LingerStream`] under salvo's own timeouts.
type Stream = StraightStream<LingerStream>;

impl<L> Listener for LingerListener<L>
where
    L: Listener<Acceptor = TcpAcceptor> + Send + 'static,
{
    type Acceptor = LingerAcceptor<TcpAcceptor>;

    async fn try_bind(self) -> salvo_core::Result<LingerAcceptor<TcpAcceptor>> {
        let tcp = self.inner.try_bind().await?;
        Ok(LingerAcceptor::wrap(tcp, self.server))
    }
}

/// salvo's TCP acceptor, its connections [`LingerStream`]s admitted by salvo's fuse policy as
/// salvo's own. No accept error is handed to salvo: the acceptor goes on as
/// [`Lingerer::after_accept_error`](crate::Lingerer::after_accept_error) says.
impl Acceptor for LingerAcceptor<TcpAcceptor> {
    type Coupler = TcpCoupler<Stream>;
    type Stream = Stream;

    fn holdings(&self) -> &[Holding] {
        self.inner.holdings()
    }

    async fn accept(
        &mut self,
        fuse_policy: Option<ArcFusePolicy>,
    ) -> io::Result<Accepted<TcpCoupler<Stream>, Stream>> {
        let local_addr: salvo_core::conn::SocketAddr = self.inner.local_addr()?.into();
        loop {
            let peer = match &self.pending {
                Some((_, peer)) => *peer,
                None => {
                    let (stream, peer) = self.server.accept(self.inner.inner()).await;
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
    use crate::{LingerListener, Policy};
    use salvo_core::conn::{Acceptor, Listener, TcpListener};
    use salvo_core::fuse::{ArcFusePolicy, FuseAction, FuseConfig, FuseInfo};
    use std::io::Read;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_connection_the_fuse_policy_rejects_is_closed_and_the_next_one_admitted() {
        let listener = LingerListener::new(TcpListener::new("127.0.0.1:0"), Policy::default());
        let lingerer = listener.lingerer().clone();
        let mut acceptor = listener.try_bind().await.expect("bind");
        let address = acceptor.inner.local_addr().expect("address");
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
