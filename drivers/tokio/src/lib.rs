//! Lingering TCP close for tokio, and for the axum and hyper servers built on it.
//!
//! A server that answers early (a `413` to an upload it will not read) and closes resets a
//! client that is still sending, and the reset destroys the answer. hyper does exactly that:
//! it shuts down writing and drops the socket 0.1 ms later, over the unread upload. This
//! crate closes instead: shut down writing, discard what the peer sends, wait until the
//! kernel reports every byte and the FIN acknowledged and for the peer's EOF, within a
//! bounded time, then release, and report how it ended.
//!
//! # axum (feature `axum`)
//!
//! One change: the listener.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn serve(app: axum::Router) -> std::io::Result<()> {
//! use linger_tokio::{LingerListener, Policy};
//!
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! axum::serve(LingerListener::new(listener, Policy::default()), app).await
//! # }
//! ```
//!
//! [`LingerListener`] documents `ConnectInfo<SocketAddr>` and graceful shutdown.
//!
//! # axum-server, poem, salvo (features `axum-server`, `poem`, `salvo`)
//!
//! The same one change beneath each framework's TLS, where the TCP stream is:
//!
//! - axum-server: [`LingerAcceptor`] beneath `axum_server::tls_rustls::RustlsAcceptor`
//!   (axum-server's feature `tls-rustls`),
//!   `RustlsAcceptor::new(config).acceptor(LingerAcceptor::new(policy))`, and the same with
//!   `OpenSSLAcceptor` (`tls-openssl`);
//! - poem: [`LingerListener`] over `poem::listener::TcpListener` (poem's feature `rustls`,
//!   and `poem::listener::Listener` in scope for `rustls`),
//!   `LingerListener::new(TcpListener::bind(addr), policy).rustls(config)`;
//! - salvo: [`LingerListener`] over `salvo::conn::TcpListener` (salvo's feature `rustls`),
//!   `salvo::conn::rustls::RustlsListener::new(config, LingerListener::new(tcp, policy))`.
//!
//! None of these features pulls in a TLS library: the application enables its framework's
//! TLS as it always has. The `salvo` feature needs Rust 1.95, as salvo 1 does. axum-server's
//! `ConnectInfo` and poem's `RemoteAddr` give the client's address as without linger.
//! [docs/http.md](https://github.com/linger-rs/linger/blob/main/docs/http.md#every-stack-the-one-change-each-needs)
//! has each as a whole server, with graceful shutdown. Check one with `curl --http1.1`:
//! over TLS curl negotiates HTTP/2 with all of them, where an early answer loses nothing
//! with or without linger.
//!
//! # hyper
//!
//! Accept through a [`Lingerer`] and serve the [`LingerStream`] it gives:
//!
//! ```no_run
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response, server::conn::http1, service::service_fn};
//! use hyper_util::rt::TokioIo;
//! use linger_tokio::{Lingerer, Policy};
//! use tokio::net::TcpListener;
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
//!     Ok(Response::new(Full::new(Bytes::from("hello"))))
//! }
//!
//! async fn serve(listener: TcpListener) -> std::io::Result<()> {
//!     let lingerer = Lingerer::new(Policy::default());
//!     loop {
//!         let (stream, _peer) = lingerer.accept(&listener).await?;
//!         let service = service_fn(hello);
//!         tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
//!     }
//! }
//! ```
//!
//! (`examples/hyper_early_reply.rs` is the whole server.) Over TLS, run tokio-rustls's
//! `TlsAcceptor::accept` over the `LingerStream`: hyper's shutdown then sends `close_notify`
//! before the stream's half-close sends our FIN.
//!
//! # A plain `TcpStream`
//!
//! - [`close`] (or [`LingerClose::linger_close`]): await the close and get its [`Outcome`];
//! - [`spawn_close`]: hand the stream to a task of its own; the
//!   [`JoinHandle`] yields the outcome;
//! - [`Lingerer::adopt`]: hand it to a server's lingerer, which reports it with the rest.
//!
//! [`JoinHandle`]: https://docs.rs/tokio/1/tokio/task/struct.JoinHandle.html
//!
//! ```no_run
//! use linger_tokio::{LingerClose, Policy};
//! use tokio::io::AsyncWriteExt;
//!
//! # async fn serve() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (mut stream, _) = listener.accept().await?;
//! stream.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n").await?;
//! // Not `drop(stream)`: that resets the connection if the client is still uploading.
//! let outcome = stream.linger_close(Policy::default()).await;
//! println!("{outcome}");
//! # Ok(())
//! # }
//! ```
//!
//! Every close waits with tokio's readiness and timers, never blocking a worker thread and
//! never using `SO_LINGER` with a timeout. Every function that takes a policy takes
//! `Policy` or `&Policy`; the core's types a caller needs are re-exported here.
//!
//! # The life before the close
//!
//! Every [`LingerStream`] (and so every stack above) is guarded from its accept, as its
//! [`Policy`] says: a connection that sends nothing within
//! [`first_byte_timeout`](Policy::first_byte_timeout) (20 s), trickles a request below
//! [`min_receive_rate`](Policy::min_receive_rate) (500 B/s after 20 s), idles past
//! [`keep_alive_timeout`](Policy::keep_alive_timeout) (75 s) after its answer, or never reads
//! it for [`send_timeout`](Policy::send_timeout) (60 s) is ended with a lingering close, and
//! the framework reads the end of its stream. A request being worked on, however long its
//! handler takes, and an answer written at a pace are never cut. When descriptors run short,
//! the live connections that cost least give way before any lingering close, across every
//! lingerer of the process. [`LingerStream`] says what counts as activity;
//! [`Policy::unguarded`] turns the guards off.
//!
//! # Managing a server's closes
//!
//! A [`Lingerer`] is shared by all streams of a server: it counts the closes in flight,
//! bounds them under pressure (its capacity is half the process's descriptor limit by
//! default; the short linger past three quarters of it, and at it the close that gives way
//! first reclaimed, never a refusal), reclaims a batch when `accept` runs out of
//! descriptors, shortens them all at shutdown and lets the server await the last one, and
//! reports every outcome to a hook of the application's choosing, to running [`Counts`] by
//! ending, and (feature `tracing`) as a `tracing` event with target `linger`. Closes no
//! lingerer of the application's owns ([`close`], [`spawn_close`], [`LingerStream::new`])
//! count with [`Lingerer::global`].
//!
//! # The descriptor limit
//!
//! A lingering close holds its descriptor for up to the policy's budget. Where the
//! administrator allows more descriptors than the soft limit (systemd: 1,024 soft, 524,288
//! hard), raise it first thing in `main`, as Go does at start; linger never does by itself:
//!
//! ```no_run
//! if let Err(error) = linger_tokio::raise_descriptor_limit() {
//!     eprintln!("keeping the descriptor limit: {error}");
//! }
//! ```
//!
//! # Cancellation
//!
//! A close that must wait runs in a future. Dropping it (a `select!` that took another
//! branch, a `timeout`, a task aborted, a runtime shutting down) ends the close at once as
//! if its budget had run out: a plain close if nothing unread is pending and the policy's
//! [`OnBudgetSpent`] is `Close`, otherwise a reset. It never leaves the socket open, never
//! closes plainly over data it knows to be unread, and its outcome says what happened.

// Where rustdoc links this crate's items from docs built without them (`cargo doc
// --no-deps`): docs.rs, at this version (.ci/doc-links checks it).
#![doc(html_root_url = "https://docs.rs/linger-tokio/0.1.0")]

mod budget;
mod close;
mod lingerer;
mod lingering;
mod report;
#[cfg(any(
    feature = "axum",
    feature = "axum-server",
    feature = "poem",
    feature = "salvo"
))]
mod serving;
mod stream;

#[cfg(any(feature = "axum-server", feature = "poem", feature = "salvo"))]
pub use crate::serving::LingerAcceptor;
#[cfg(any(feature = "axum", feature = "poem", feature = "salvo"))]
pub use crate::serving::LingerListener;
pub use close::{LingerClose, close, spawn_close};
pub use linger::{
    Activity, Ending, Error, Guard, Life, MinRate, NagleMode, OnBudgetSpent, Outcome, Policy,
    PolicyBuilder, PolicyError, Release, State, Stats,
};
pub use linger_io::limits::{DescriptorLimit, LimitError, raise_descriptor_limit};
pub use lingerer::{Lingerer, LingererBuilder};
pub use report::{CloseReport, Counts};
pub use stream::LingerStream;

use std::time::Duration;

/// Apache's short linger (`SECONDS_TO_LINGER`): what pressure and shutdown leave a close.
pub const SHORT_LINGER: Duration = Policy::SHORT_LINGER;
