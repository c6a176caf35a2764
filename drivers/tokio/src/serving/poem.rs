//! poem: [`LingerListener`] as a poem `Listener` and [`LingerAcceptor`] as a poem `Acceptor`,
//! beneath poem's TLS listeners and acceptors or alone.

use crate::{LingerAcceptor, LingerListener, LingerStream};
use poem::http::uri::Scheme;
use poem::listener::{Acceptor, Listener};
use poem::web::{LocalAddr, RemoteAddr};
use std::io;
use tokio::net::TcpStream;

impl<L> Listener for LingerListener<L>
where
    L: Listener,
    L::Acceptor: Acceptor<Io = TcpStream>,
{
    type Acceptor = LingerAcceptor<L::Acceptor>;

    async fn into_acceptor(self) -> io::Result<LingerAcceptor<L::Acceptor>> {
        let inner = self.inner.into_acceptor().await?;
        Ok(LingerAcceptor::wrap(inner, self.server))
    }
}

/// No accept error is handed to poem, which would try again at once: the acceptor goes on as
/// [`Lingerer::after_accept_error`](crate::Lingerer::after_accept_error) says.
impl<A: Acceptor<Io = TcpStream>> Acceptor for LingerAcceptor<A> {
    type Io = LingerStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(LingerStream, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            if let Some((stream, local, remote, scheme)) =
                self.server.admit(self.inner.accept().await).await
            {
                let peer = remote.as_socket_addr().copied();
                return Ok((self.server.stream(stream, peer), local, remote, scheme));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{LingerListener, Policy};
    use poem::http::uri::Scheme;
    use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
    use poem::web::{LocalAddr, RemoteAddr};
    use std::io;
    use tokio::net::TcpStream;

    /// poem's TCP acceptor, failing first with each of `errors`.
    struct Failing {
        errors: Vec<io::Error>,
        tcp: TcpAcceptor,
    }

    impl Acceptor for Failing {
        type Io = TcpStream;

        fn local_addr(&self) -> Vec<LocalAddr> {
            self.tcp.local_addr()
        }

        async fn accept(&mut self) -> io::Result<(TcpStream, LocalAddr, RemoteAddr, Scheme)> {
            match self.errors.pop() {
                Some(error) => Err(error),
                None => self.tcp.accept().await,
            }
        }
    }

    impl Listener for Failing {
        type Acceptor = Failing;

        async fn into_acceptor(self) -> io::Result<Failing> {
            Ok(self)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_error_of_one_lost_connection_reaches_poem_nor_holds_the_next_one() {
        let tcp = TcpListener::bind("127.0.0.1:0").into_acceptor().await;
        let tcp = tcp.expect("bind");
        let errors = linger_io::errors::NEW_CONNECTION_ERRORS
            .into_iter()
            .map(io::Error::from_raw_os_error)
            .chain([io::Error::from(io::ErrorKind::ConnectionAborted)])
            .collect();
        let listener = LingerListener::new(Failing { errors, tcp }, Policy::default());
        let mut acceptor = listener.into_acceptor().await.expect("acceptor");
        let local = acceptor.local_addr()[0].clone();
        let address = *local.as_socket_addr().expect("a socket address");
        let _client = std::net::TcpStream::connect(address).expect("connect");
        let started = tokio::time::Instant::now();
        let (stream, ..) = acceptor.accept().await.expect("the next connection");
        assert_eq!(started.elapsed(), std::time::Duration::ZERO, "no pause");
        drop(stream);
    }

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
