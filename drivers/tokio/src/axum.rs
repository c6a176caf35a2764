//! axum: [`LingerListener`], whose connections close with a lingering close.

use crate::serving::ServerLingerer;
use crate::{LingerStream, Lingerer};
use axum::serve::{Listener, ListenerExt, TapIo};
use linger::Policy;
use std::borrow::Borrow;
use std::io;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// An [`axum::serve::Listener`] whose connections are [`LingerStream`]s: when hyper is done
/// with a connection, it closes with a lingering close instead of resetting a client that
/// is still sending (an early `413`, a `DefaultBodyLimit` rejection).
///
/// ```no_run
/// use axum::Router;
/// use axum::routing::post;
/// use linger_tokio::{LingerListener, Policy};
///
/// # async fn serve() -> std::io::Result<()> {
/// let app = Router::new().route("/upload", post(|| async { "too large" }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(LingerListener::new(listener, Policy::default()), app).await
/// # }
/// ```
///
/// # `ConnectInfo<SocketAddr>`
///
/// axum implements `Connected` for the address of its own `TcpListener` and of any listener
/// wrapped by its [`ListenerExt::tap_io`], not for other listeners. Wrap this one with
/// [`with_connect_info`](Self::with_connect_info) (a tap that does nothing) and
/// `into_make_service_with_connect_info::<SocketAddr>()` works as before.
///
/// # Graceful shutdown
///
/// axum drops the listener when graceful shutdown begins (`with_graceful_shutdown`) or the
/// server stops. Dropping it gives every close of its [`Lingerer`] still waiting, and every
/// one that starts while hyper finishes its connections, at most [`SHORT_LINGER`] more.
/// Keep a clone of the [`lingerer`](Self::lingerer) and await
/// [`finished`](Lingerer::finished) (or [`shutdown`](Lingerer::shutdown)) after `serve`
/// returns, before the runtime goes away: a close still waiting when its runtime shuts down
/// is ended at once.
///
/// # Under a flood
///
/// The lingerer's capacity is half the process's descriptor limit by default, so lingering
/// closes alone never take every descriptor. When `accept` fails for want of descriptors
/// all the same (`EMFILE`: the live connections took the rest), the listener reclaims a
/// batch of lingering closes, the ones that give way first, and accepts again at once; it
/// pauses a second, as axum's own listener does, only when there was nothing to reclaim
/// ([`Lingerer::after_accept_error`]).
///
/// [`SHORT_LINGER`]: crate::SHORT_LINGER
/// [`axum::serve::Listener`]: https://docs.rs/axum/0.8/axum/serve/trait.Listener.html
/// [`ListenerExt::tap_io`]: https://docs.rs/axum/0.8/axum/serve/trait.ListenerExt.html#method.tap_io
#[derive(Debug)]
pub struct LingerListener {
    listener: TcpListener,
    lingerer: ServerLingerer,
}

impl LingerListener {
    /// Wraps `listener`; its connections close under `policy`, managed by a [`Lingerer`] of
    /// their own (default capacity, no hook).
    pub fn new(listener: TcpListener, policy: impl Borrow<Policy>) -> LingerListener {
        LingerListener::with_lingerer(listener, Lingerer::new(policy))
    }

    /// Wraps `listener`; its connections close under `lingerer`, with its policy, capacity
    /// and hook.
    pub fn with_lingerer(listener: TcpListener, lingerer: Lingerer) -> LingerListener {
        LingerListener {
            listener,
            lingerer: ServerLingerer::new(lingerer),
        }
    }

    /// The lingerer of this listener's closes: clone it to read its counts or to await the
    /// last close at shutdown.
    pub fn lingerer(&self) -> &Lingerer {
        self.lingerer.lingerer()
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// This listener, tapped with a function that does nothing, so that axum's
    /// `ConnectInfo<SocketAddr>` works (see the type's docs).
    pub fn with_connect_info(self) -> TapIo<LingerListener, fn(&mut LingerStream)> {
        let untouched: fn(&mut LingerStream) = |_| {};
        self.tap_io(untouched)
    }
}

impl Listener for LingerListener {
    type Io = LingerStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LingerStream, SocketAddr) {
        self.lingerer.accept(&self.listener).await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}
