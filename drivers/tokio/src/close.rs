//! Closing a plain `TcpStream` the application is done with: await the close, or hand it to
//! a task of its own.

use crate::lingering::Lingering;
use core::future::Future;
use linger::{Clock, Outcome, Policy};
use std::borrow::Borrow;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Closes `stream` gracefully: shuts down writing, discards what the peer sends, waits until
/// the kernel reports every byte and the FIN acknowledged and (per policy) for the peer's
/// EOF, then closes; at most the policy's budget. The future yields how it ended.
///
/// The close starts now, with what needs no waiting; the future drives the rest (see the
/// crate docs on cancellation). It is `Send + 'static`, so it can be spawned. The outcome's
/// `bytes_written` is the kernel's count of what was written before the call (Linux), or
/// `None` where the platform cannot tell; a [`LingerStream`](crate::LingerStream) counts
/// every write itself.
pub fn close(
    stream: TcpStream,
    policy: impl Borrow<Policy>,
) -> impl Future<Output = Outcome> + Send + 'static {
    let machine = linger_io::adopt(&stream, *policy.borrow());
    Lingering::begin(stream, machine, Clock::new(), None, None).run()
}

/// Hands `stream` to a task of its own that closes it gracefully; the handle yields the
/// outcome. Must be called within a tokio runtime.
pub fn spawn_close(stream: TcpStream, policy: impl Borrow<Policy>) -> JoinHandle<Outcome> {
    tokio::spawn(close(stream, policy))
}

/// `stream.linger_close(policy).await`: [`close`] as a method.
pub trait LingerClose {
    /// See [`close`].
    fn linger_close(
        self,
        policy: impl Borrow<Policy>,
    ) -> impl Future<Output = Outcome> + Send + 'static;
}

impl LingerClose for TcpStream {
    fn linger_close(
        self,
        policy: impl Borrow<Policy>,
    ) -> impl Future<Output = Outcome> + Send + 'static {
        close(self, policy)
    }
}
