//! What a server says of its requests, for what the bytes alone cannot tell: that it holds
//! a request until its answer ends (an answer streamed with long pauses, an HTTP/2 stream in
//! flight after an answer on another), and that it took a connection over (an upgrade).
//! [`Requests`] is a connection's tally; the service wrapper `HoldRequests` (feature `tower`)
//! keeps it: `LingerAcceptor` wraps axum-server's service in it by itself; a hyper server
//! wraps its own (feature `hyper`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The requests a connection's server holds, shared between the service that answers them
/// and the [`LingerStream`](crate::LingerStream) that carries them, which takes the tally
/// into account at its next read or write (see [`CloseMachine::hold`](linger::CloseMachine::hold)).
/// From [`LingerStream::requests`](crate::LingerStream::requests).
#[derive(Clone, Debug, Default)]
pub struct Requests {
    shared: Arc<Tally>,
}

#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Requests held now.
    held: AtomicU32,
    /// The connection was taken over for another protocol.
    upgraded: AtomicBool,
    /// The server holds every request it works on.
    holds_requests: AtomicBool,
}

impl Requests {
    /// A request is held until the returned [`Held`] is dropped: hold it for as long as the
    /// answer is being produced and written (a streamed body included).
    pub fn hold(&self) -> Held {
        self.shared.held.fetch_add(1, Ordering::AcqRel);
        Held {
            shared: Some(Arc::clone(&self.shared)),
        }
    }

    /// The connection was taken over for another protocol (an HTTP upgrade, a WebSocket):
    /// from now on only the send timeout guards it.
    pub fn upgraded(&self) {
        self.shared.upgraded.store(true, Ordering::Release);
    }

    /// The server holds every request it works on, from the moment it has it, as
    /// [`HoldRequests`](crate::HoldRequests) does (it says so when it is made): a request not
    /// held is then one still arriving, which the pace guard ends once its credit runs out,
    /// however quiet its peer ([`CloseMachine::holds_requests`](linger::CloseMachine::holds_requests)).
    /// Say it before the connection's first read.
    pub fn holds_requests(&self) {
        self.shared.holds_requests.store(true, Ordering::Release);
    }

    /// Whether the server said it holds every request it works on.
    pub(crate) fn said_it_holds_requests(&self) -> bool {
        self.shared.holds_requests.load(Ordering::Acquire)
    }

    /// Requests held now.
    pub(crate) fn held(&self) -> u32 {
        self.shared.held.load(Ordering::Acquire)
    }

    /// Whether the connection was taken over.
    pub(crate) fn is_upgraded(&self) -> bool {
        self.shared.upgraded.load(Ordering::Acquire)
    }
}

/// One request held, until dropped; from [`Requests::hold`].
#[derive(Debug)]
pub struct Held {
    /// `None` once let go.
    shared: Option<Arc<Tally>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.held.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(feature = "tower")]
pub use service::{Answering, HeldBody, HoldRequests};

#[cfg(feature = "tower")]
mod service {
    use super::{Held, Requests};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A service wrapper that tells a connection's [`Requests`] each request it answers: held
    /// from the call until the answer's body has ended, and the connection taken over when the
    /// answer is `101 Switching Protocols`. A `tower` service (axum-server's); with the feature
    /// `hyper`, a hyper service too:
    ///
    /// ```no_run
    /// # #[cfg(feature = "hyper")]
    /// # async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    /// use http_body_util::Full;
    /// use hyper::body::{Bytes, Incoming};
    /// use hyper::{Request, Response, server::conn::http1, service::service_fn};
    /// use hyper_util::rt::TokioIo;
    /// use linger_tokio::{HoldRequests, Lingerer, Policy};
    ///
    /// async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    ///     Ok(Response::new(Full::new(Bytes::from("hello"))))
    /// }
    ///
    /// let lingerer = Lingerer::new(Policy::default());
    /// loop {
    ///     let (stream, _peer) = lingerer.accept(&listener).await?;
    ///     let service = HoldRequests::new(service_fn(hello), stream.requests());
    ///     let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    ///     tokio::spawn(connection.with_upgrades());
    /// }
    /// # }
    /// ```
    #[derive(Clone, Debug)]
    pub struct HoldRequests<S> {
        inner: S,
        requests: Requests,
    }

    impl<S> HoldRequests<S> {
        /// `inner`, its requests told to `requests`, which from now on says the server
        /// holds every request it works on ([`Requests::holds_requests`]).
        pub fn new(inner: S, requests: Requests) -> HoldRequests<S> {
            requests.holds_requests();
            HoldRequests { inner, requests }
        }

        /// The service it wraps.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// Starts holding a request whose answer `answer` will produce.
        fn held<F>(&self, answer: F) -> Answering<F> {
            Answering {
                answer,
                held: Some(self.requests.hold()),
                requests: self.requests.clone(),
            }
        }
    }

    impl<S, R, B> tower_service::Service<http::Request<R>> for HoldRequests<S>
    where
        S: tower_service::Service<http::Request<R>, Response = http::Response<B>>,
    {
        type Response = http::Response<HeldBody<B>>;
        type Error = S::Error;
        type Future = Answering<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: http::Request<R>) -> Answering<S::Future> {
            let answer = self.inner.call(request);
            self.held(answer)
        }
    }

    #[cfg(feature = "hyper")]
    impl<S, R, B> hyper::service::Service<http::Request<R>> for HoldRequests<S>
    where
        S: hyper::service::Service<http::Request<R>, Response = http::Response<B>>,
    {
        type Response = http::Response<HeldBody<B>>;
        type Error = S::Error;
        type Future = Answering<S::Future>;

        fn call(&self, request: http::Request<R>) -> Answering<S::Future> {
            self.held(self.inner.call(request))
        }
    }

    pin_project_lite::pin_project! {
        /// The answer of a request held: its head, then its body holds the request until it
        /// ends.
        #[derive(Debug)]
        pub struct Answering<F> {
            #[pin]
            answer: F,
            held: Option<Held>,
            requests: Requests,
        }
    }

    impl<F, B, E> Future for Answering<F>
    where
        F: Future<Output = Result<http::Response<B>, E>>,
    {
        type Output = Result<http::Response<HeldBody<B>>, E>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let answer = std::task::ready!(this.answer.poll(cx));
            let held = this.held.take();
            Poll::Ready(answer.map(|response| {
                if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
                    this.requests.upgraded();
                }
                response.map(|body| HeldBody { body, held })
            }))
        }
    }

    pin_project_lite::pin_project! {
        /// An answer's body, holding its request until it ends (or is dropped).
        #[derive(Debug)]
        pub struct HeldBody<B> {
            #[pin]
            body: B,
            held: Option<Held>,
        }
    }

    impl<B: http_body::Body> http_body::Body for HeldBody<B> {
        type Data = B::Data;
        type Error = B::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
            let this = self.project();
            let frame = std::task::ready!(this.body.poll_frame(cx));
            if frame.is_none() {
                // The body ended: the answer is out.
                *this.held = None;
            }
            Poll::Ready(frame)
        }

        fn is_end_stream(&self) -> bool {
            self.body.is_end_stream()
        }

        fn size_hint(&self) -> http_body::SizeHint {
            self.body.size_hint()
        }
    }
}

#[cfg(all(test, feature = "tower"))]
mod tests {
    use super::{HoldRequests, Requests};
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use std::convert::Infallible;
    use std::future::{Ready, ready};
    use std::task::{Context, Poll};
    use tower_service::Service;

    /// Answers every request with `status` and a body of "ok".
    #[derive(Clone)]
    struct Answer(http::StatusCode);

    impl Service<http::Request<()>> for Answer {
        type Response = http::Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = Ready<Result<http::Response<Full<Bytes>>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            let mut answer = http::Response::new(Full::new(Bytes::from("ok")));
            *answer.status_mut() = self.0;
            ready(Ok(answer))
        }
    }

    #[tokio::test]
    async fn a_request_is_held_from_the_call_until_its_answers_body_ends() {
        let requests = Requests::default();
        let mut service = HoldRequests::new(Answer(http::StatusCode::OK), requests.clone());
        let answering = service.call(http::Request::new(()));
        assert_eq!(requests.held(), 1, "held from the call");
        let answer = answering.await.expect("an answer");
        assert_eq!(requests.held(), 1, "and while its body is written");
        let body = answer.into_body().collect().await.expect("the body");
        assert_eq!(body.to_bytes(), "ok");
        assert_eq!(requests.held(), 0, "answered once the body ended");
        assert!(!requests.is_upgraded());
    }

    #[tokio::test]
    async fn an_answer_dropped_unfinished_lets_its_request_go_and_a_101_takes_the_connection_over()
    {
        let requests = Requests::default();
        let mut service = HoldRequests::new(Answer(http::StatusCode::OK), requests.clone());
        drop(service.call(http::Request::new(())));
        assert_eq!(requests.held(), 0);
        let mut switching = HoldRequests::new(
            Answer(http::StatusCode::SWITCHING_PROTOCOLS),
            requests.clone(),
        );
        drop(switching.call(http::Request::new(())).await);
        assert!(requests.is_upgraded());
    }
}
