//! What the real-socket suites of linger-mio share.

use std::net::{TcpListener, TcpStream};

/// A server-side stream whose client stays open and silent; the client is returned too.
pub(crate) fn silent_pair(listener: &TcpListener) -> (mio::net::TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("non-blocking");
    (mio::net::TcpStream::from_std(server), client)
}
