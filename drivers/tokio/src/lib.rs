//! Lingering TCP close for tokio.
//!
//! ```no_run
//! use linger::Policy;
//! use linger_tokio::LingerClose;
//! use tokio::io::AsyncWriteExt;
//!
//! # async fn serve() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (mut stream, _) = listener.accept().await?;
//! stream.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n").await?;
//! // Not `drop(stream)`: that resets the connection if the client is still uploading.
//! let outcome = stream.linger_close(&Policy::default()).await;
//! println!("{outcome}");
//! # Ok(())
//! # }
//! ```
//!
//! Three ways in:
//!
//! - [`close`] (or [`LingerClose::linger_close`]): await the close and get its [`Outcome`];
//! - [`spawn_close`]: hand the stream to a task of its own and go on; the [`JoinHandle`]
//!   yields the outcome for whoever wants it;
//! - both wait with tokio's readiness and timers, never blocking a worker thread and never
//!   using `SO_LINGER` with a timeout.
//!
//! # Cancellation
//!
//! The close starts when [`close`] is called, and the returned future drives it. Dropping
//! the future (a `select!` that took another branch, a `timeout`, a task aborted at
//! shutdown) ends the close at once as if its budget had run out: a plain close if nothing
//! unread is pending and the policy's [`OnBudgetSpent`](linger::OnBudgetSpent) is `Close`,
//! otherwise a reset. It never leaves the socket open, and never closes plainly over data it
//! knows to be unread.
#![cfg(unix)]

use core::future::Future;
use linger::{Clock, CloseMachine, Event, Outcome, Policy, State};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Closes `stream` gracefully: shuts down writing, discards what the peer sends, waits until
/// the kernel reports every byte and the FIN acknowledged and (per policy) for the peer's
/// EOF, then closes; at most the policy's budget. The future yields how it ended.
///
/// The close starts now; the future must be polled to drive it (see the crate docs on
/// cancellation). It is `Send + 'static`, so it can be spawned. Bytes written before the call
/// are not counted in the outcome's `bytes_written`.
pub fn close(stream: TcpStream, policy: &Policy) -> impl Future<Output = Outcome> + Send + 'static {
    Lingering::start(stream, *policy).run()
}

/// Hands `stream` to a task of its own that closes it gracefully; the handle yields the
/// outcome. Must be called within a tokio runtime.
pub fn spawn_close(stream: TcpStream, policy: &Policy) -> JoinHandle<Outcome> {
    tokio::spawn(close(stream, policy))
}

/// `stream.linger_close(&policy).await`: [`close`] as a method.
pub trait LingerClose {
    /// See [`close`].
    fn linger_close(self, policy: &Policy) -> impl Future<Output = Outcome> + Send + 'static;
}

impl LingerClose for TcpStream {
    fn linger_close(self, policy: &Policy) -> impl Future<Output = Outcome> + Send + 'static {
        close(self, policy)
    }
}

/// A close under way. Dropping it before the end ends the close at once.
struct Lingering {
    /// `None` once released.
    stream: Option<TcpStream>,
    machine: CloseMachine,
    clock: Clock,
}

impl Lingering {
    fn start(stream: TcpStream, policy: Policy) -> Lingering {
        let clock = Clock::new();
        let mut machine = CloseMachine::adopt(policy);
        let _refused_only_when_closed = machine.close(clock.now());
        Lingering {
            stream: Some(stream),
            machine,
            clock,
        }
    }

    async fn run(mut self) -> Outcome {
        while !self.perform() {
            let now = self.clock.now();
            let Some(stream) = &self.stream else {
                break;
            };
            let Some(deadline) = self.machine.poll_timeout() else {
                // A lingering machine always has a deadline; without one, nothing would end it.
                let _ = self.machine.abort(now);
                continue;
            };
            let sleep = match self.clock.to_std(deadline) {
                Some(at) => tokio::time::sleep_until(at.into()),
                None => tokio::time::sleep(Duration::from_secs(u32::MAX.into())),
            };
            if self.machine.wants_read() {
                tokio::select! {
                    ready = stream.readable() => {
                        let event = if ready.is_ok() { Event::Readable } else { Event::Failed };
                        let _ = self.machine.handle(event, self.clock.now());
                    }
                    () = sleep => {}
                }
            } else {
                sleep.await;
            }
            self.machine.handle_timeout(self.clock.now());
        }
        linger_io::released_outcome(&self.machine)
    }

    /// Performs every action; true once the socket was released (and dropped).
    fn perform(&mut self) -> bool {
        let Some(stream) = &self.stream else {
            return true;
        };
        let now = self.clock.now();
        loop {
            match linger_io::drive(stream, &mut self.machine, now, |buf| stream.try_read(buf)) {
                Ok(Some(_release)) => {
                    // For an abort, `SO_LINGER {1, 0}` is set: this close sends RST.
                    self.stream = None;
                    return true;
                }
                Ok(None) => return false,
                // The kernel reported what the machine cannot believe: stop trusting it.
                Err(_) => {
                    let _ = self.machine.abort(now);
                }
            }
        }
    }
}

impl Drop for Lingering {
    /// The future was dropped mid-close: end it as if the budget ran out.
    fn drop(&mut self) {
        if self.stream.is_none() {
            return;
        }
        let now = self.clock.now();
        if self.machine.state() != State::Closed {
            let _ = self.machine.shorten_budget(now, Duration::ZERO);
            self.machine.handle_timeout(now);
        }
        if self.machine.state() != State::Closed {
            let _ = self.machine.abort(now);
        }
        self.perform();
    }
}
