//! axum: [`LingerListener`] as an `axum::serve::Listener`.

use crate::{LingerListener, LingerStream};
use axum::serve::{Listener, ListenerExt, TapIo};
use std::io;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// axum's own listener, wrapped. axum implements `Connected` for the address of its own
/// `TcpListener` and of any listener wrapped by its `ListenerExt::tap_io`, not for other
/// listeners: [`with_connect_info`](Self::with_connect_info) is that wrapping.
impl LingerListener<TcpListener> {
    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// This listener, tapped with a function that does nothing, so that axum's
    /// `ConnectInfo<SocketAddr>` works:
    /// `axum::serve(listener.with_connect_info(), app.into_make_service_with_connect_info::<SocketAddr>())`.
    pub fn with_connect_info(self) -> TapIo<LingerListener, fn(&mut LingerStream)> {
        let untouched: fn(&mut LingerStream) = |_| {};
        self.tap_io(untouched)
    }
}

impl Listener for LingerListener<TcpListener> {
    type Io = LingerStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LingerStream, SocketAddr) {
        self.server.accept(&self.inner).await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
