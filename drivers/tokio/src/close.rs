//! Closing a plain `TcpStream` the application is done with: await the close, or hand it to
//! a task of its own. Either way the close counts with [`Lingerer::global`], which bounds
//! the closes no lingerer of the application's owns.

use crate::Lingerer;
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
///
/// While it waits, the close counts with [`Lingerer::global`], whose pressure rules bound
/// such closes as a server's lingerer bounds its own: under a flood they give way, each with
/// an honest outcome, rather than take every descriptor. A server should still close
/// through a lingerer of its own ([`Lingerer::stream`], `LingerListener`), whose accept
/// loop also reclaims when descriptors run out.
pub fn close(
    stream: TcpStream,
    policy: impl Borrow<Policy>,
) -> impl Future<Output = Outcome> + Send + 'static {
    let machine = linger_io::adopt(&stream, *policy.borrow());
    let owner = Some(Lingerer::global().clone());
    let mut lingering = Lingering::begin(stream, machine, Clock::new(), owner, None);
    lingering.wait_in_background();
    lingering.run()
}

/// Hands `stream` to a task of its own that closes it gracefully; the handle yields the
/// outcome. Must be called within a tokio runtime. Counted with [`Lingerer::global`], as
/// [`close`] is.
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
