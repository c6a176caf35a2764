//! axum: [`LingerListener`] as an `axum::serve::Listener`, and [`MakeHoldRequests`], which
//! has each connection say which requests it holds.

use crate::{Answering, HoldRequests, LingerListener, LingerStream, Requests};
use axum::body::Body;
use axum::serve::{IncomingStream, Listener, ListenerExt, TapIo};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tower_service::Service;

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

/// What `axum::serve` makes each connection's service with, that service wrapped in
/// [`HoldRequests`]: each request held from the call until its answer's body ends, a `101`
/// taking the connection over, and the server saying it holds every request it works on
/// ([`Requests::holds_requests`](crate::Requests::holds_requests)). Where the bytes alone
/// cannot tell a request being worked on from one that stopped short, or an answer streamed
/// with long pauses from one that is out, the connection's guards then know. Any listener
/// whose connections are [`LingerStream`]s: a [`LingerListener`], and one tapped for
/// `ConnectInfo`.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use linger_tokio::{LingerListener, MakeHoldRequests, Policy};
///
/// # async fn serve() -> std::io::Result<()> {
/// let app = Router::new().route("/", get(|| async { "hello" }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let listener = LingerListener::new(listener, Policy::default());
/// axum::serve(listener, MakeHoldRequests::new(app)).await
/// # }
/// ```
///
/// `ConnectInfo` as well: `MakeHoldRequests::new(app.into_make_service_with_connect_info::<SocketAddr>())`
/// on `listener.with_connect_info()`.
#[derive(Clone, Debug)]
pub struct MakeHoldRequests<M> {
    make: M,
}

impl<M> MakeHoldRequests<M> {
    /// `make` (a `Router`, or what `into_make_service_with_connect_info` returns), each
    /// service it makes wrapped in [`HoldRequests`].
    pub fn new(make: M) -> MakeHoldRequests<M> {
        MakeHoldRequests { make }
    }
}

impl<'a, L, M, S> Service<IncomingStream<'a, L>> for MakeHoldRequests<M>
where
    L: Listener<Io = LingerStream>,
    M: Service<IncomingStream<'a, L>, Response = S, Error = Infallible>,
{
    type Response = AxumHoldRequests<S>;
    type Error = Infallible;
    type Future = MakingHoldRequests<M::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.make.poll_ready(cx)
    }

    fn call(&mut self, incoming: IncomingStream<'a, L>) -> Self::Future {
        let requests = Some(incoming.io().requests());
        MakingHoldRequests {
            made: self.make.call(incoming),
            requests,
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection's service being made, to be wrapped in [`HoldRequests`].
    #[derive(Debug)]
    pub struct MakingHoldRequests<F> {
        #[pin]
        made: F,
        requests: Option<Requests>,
    }
}

impl<F, S> Future for MakingHoldRequests<F>
where
    F: Future<Output = Result<S, Infallible>>,
{
    type Output = Result<AxumHoldRequests<S>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(service) = std::task::ready!(this.made.poll(cx));
        // Made once: a future polled after it is ready is the caller's bug; it then tells
        // nothing.
        let requests = this.requests.take().unwrap_or_default();
        Poll::Ready(Ok(AxumHoldRequests {
            held: HoldRequests::new(service, requests),
        }))
    }
}

/// A connection's service under `axum::serve`, wrapped in [`HoldRequests`] by
/// [`MakeHoldRequests`]; its answers' bodies are axum's `Body` again.
#[derive(Clone, Debug)]
pub struct AxumHoldRequests<S> {
    held: HoldRequests<S>,
}

impl<S, R, B> Service<http::Request<R>> for AxumHoldRequests<S>
where
    S: Service<http::Request<R>, Response = http::Response<B>>,
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = AxumAnswering<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.held.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<R>) -> AxumAnswering<S::Future> {
        AxumAnswering {
            answering: self.held.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of a request held under `axum::serve`, its body axum's.
    #[derive(Debug)]
    pub struct AxumAnswering<F> {
        #[pin]
        answering: Answering<F>,
    }
}

impl<F, B, E> Future for AxumAnswering<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answer = std::task::ready!(self.project().answering.poll(cx));
        Poll::Ready(answer.map(|response| response.map(Body::new)))
    }
}
