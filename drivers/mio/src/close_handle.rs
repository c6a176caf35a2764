//! Asking, from another thread, for a connection to be closed or aborted.
//!
//! A [`CloseHandle`] is a clonable, `Send + Sync` reference to one connection's *mailbox*.
//! Any thread may raise the mailbox's request (nothing → close → abort; it never goes down)
//! and the event loop acts on each new level once. A [`ShutdownHandle`] raises the level of
//! every connection of one loop at once, present and future, for server shutdown.
//!
//! [`Lingerer`](crate::Lingerer) has both built in ([`Lingerer::close_handle`](crate::Lingerer::close_handle),
//! [`Lingerer::shutdown_handle`](crate::Lingerer::shutdown_handle)). A loop of your own makes
//! a [`Requests`] hub with a [`mio::Waker`], a [`Mailbox`] per connection, and, when the
//! waker's token fires, [`drain`](Requests::drain)s the hub and
//! [`take`](Mailbox::take)s from each mailbox it names:
//!
//! ```no_run
//! use linger_mio::close_handle::{CloseHandle, Request, Requests};
//! use mio::{Poll, Token, Waker};
//!
//! const WAKER: Token = Token(usize::MAX);
//! let poll = Poll::new()?;
//! let mut requests = Requests::new(Waker::new(poll.registry(), WAKER)?);
//! let mailbox = requests.mailbox(7); // the connection registered under Token(7)
//! let handle = CloseHandle::new(&mailbox);
//! std::thread::spawn(move || handle.abort());
//!
//! // In the loop, when an event carries WAKER:
//! let raised = requests.drain();
//! if raised.everyone || raised.tokens.contains(&7) {
//!     match mailbox.take() {
//!         Some(Request::Close) => { /* connection.close(poll.registry()) */ }
//!         Some(Request::Abort) => { /* connection.abort() */ }
//!         None => {}
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The rules that make this safe:
//!
//! - a request is never lost: whoever raises a mailbox records its token in the shared
//!   `raised` list and *then* wakes the loop, so a wake-up always finds the token;
//! - the connection is closed once: the loop acts on a level only if it is higher than the
//!   last one it acted on, so repeated or concurrent requests collapse into one action;
//! - an abort after a graceful close still wins: abort is the higher level;
//! - the loop is always woken when a mailbox rises; a request that changes nothing (the
//!   level was already as high) skips the wake-up, because its predecessor woke the loop.
//!
//! The same holds for the server-wide level ([`ShutdownHandle`]). `tests/loom.rs` checks
//! these rules over every interleaving with `loom`:
//! `RUSTFLAGS="--cfg loom" cargo test -p linger-mio --release --test loom`.
//!
//! [`mio::Waker`]: https://docs.rs/mio/1/mio/struct.Waker.html

use std::io;

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
use loom::sync::{
    Mutex,
    atomic::{AtomicU8, Ordering},
};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
use std::sync::{
    Mutex,
    atomic::{AtomicU8, Ordering},
};

/// What another thread asked for, weakest first: a stronger request replaces a weaker one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Request {
    /// Close gracefully (a lingering close).
    Close = 1,
    /// Reset now.
    Abort = 2,
}

impl Request {
    const NONE: u8 = 0;

    fn from_level(level: u8) -> Option<Request> {
        match level {
            1 => Some(Request::Close),
            2 => Some(Request::Abort),
            _ => None,
        }
    }
}

/// Wakes the event loop; [`mio::Waker`] in production.
///
/// [`mio::Waker`]: https://docs.rs/mio/1/mio/struct.Waker.html
pub trait Wake: Send + Sync {
    /// Makes the loop's next (or current) poll return.
    fn wake(&self) -> io::Result<()>;
}

impl Wake for mio::Waker {
    fn wake(&self) -> io::Result<()> {
        mio::Waker::wake(self)
    }
}

/// What the loop and every handle share.
struct Shared {
    /// Tokens of the mailboxes raised since the loop last drained them.
    raised: Mutex<Vec<usize>>,
    /// The request for every connection at once.
    everyone: AtomicU8,
    waker: Box<dyn Wake>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("everyone", &self.everyone)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn raise(&self, level: &AtomicU8, request: Request, token: Option<usize>) -> io::Result<()> {
        let previous = level.fetch_max(request as u8, Ordering::AcqRel);
        if previous >= request as u8 {
            // Whoever raised it this high has recorded it and woken the loop.
            return Ok(());
        }
        if let Some(token) = token {
            self.raised
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .push(token);
        }
        self.waker.wake()
    }
}

/// One connection's requests, shared by its handles and the loop.
#[derive(Debug)]
pub struct Mailbox {
    token: usize,
    requested: AtomicU8,
    /// The highest level the loop acted on; written by the loop only.
    acted: AtomicU8,
    shared: Arc<Shared>,
}

impl Mailbox {
    /// The request the loop has not acted on yet, if any; marks it acted on.
    pub fn take(&self) -> Option<Request> {
        let requested = self.requested.load(Ordering::Acquire);
        let everyone = self.shared.everyone.load(Ordering::Acquire);
        let level = requested.max(everyone);
        if level <= self.acted.load(Ordering::Relaxed) {
            return None;
        }
        self.acted.store(level, Ordering::Relaxed);
        Request::from_level(level)
    }
}

/// Asks, from any thread, for one connection to be closed or aborted.
#[derive(Clone, Debug)]
pub struct CloseHandle {
    mailbox: Arc<Mailbox>,
}

impl CloseHandle {
    /// A handle on `mailbox`, for other threads.
    pub fn new(mailbox: &Arc<Mailbox>) -> CloseHandle {
        CloseHandle {
            mailbox: Arc::clone(mailbox),
        }
    }

    /// Asks for a graceful close; does nothing if a close or an abort was already asked for.
    pub fn close(&self) -> io::Result<()> {
        self.raise(Request::Close)
    }

    /// Asks for an abort, even after a graceful close was asked for or begun.
    pub fn abort(&self) -> io::Result<()> {
        self.raise(Request::Abort)
    }

    fn raise(&self, request: Request) -> io::Result<()> {
        let mailbox = &self.mailbox;
        mailbox
            .shared
            .raise(&mailbox.requested, request, Some(mailbox.token))
    }
}

/// Asks, from any thread, for every connection of one loop to be closed or aborted.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Asks for every connection, present and future, to close gracefully.
    pub fn close_all(&self) -> io::Result<()> {
        self.shared
            .raise(&self.shared.everyone, Request::Close, None)
    }

    /// Asks for every connection, present and future, to be aborted.
    pub fn abort_all(&self) -> io::Result<()> {
        self.shared
            .raise(&self.shared.everyone, Request::Abort, None)
    }
}

/// The loop's side: makes mailboxes, and tells it which to look at after a wake-up.
#[derive(Debug)]
pub struct Requests {
    shared: Arc<Shared>,
    everyone_seen: u8,
}

/// What a wake-up asks the loop to look at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Raised {
    /// Tokens whose mailbox rose.
    pub tokens: Vec<usize>,
    /// The server-wide level rose: look at every mailbox.
    pub everyone: bool,
}

impl Requests {
    /// The loop's request hub, waking it with `waker`.
    pub fn new(waker: impl Wake + 'static) -> Requests {
        let shared = Shared {
            raised: Mutex::new(Vec::new()),
            everyone: AtomicU8::new(Request::NONE),
            waker: Box::new(waker),
        };
        Requests {
            shared: Arc::new(shared),
            everyone_seen: Request::NONE,
        }
    }

    /// A mailbox for the connection registered under `token`.
    pub fn mailbox(&self, token: usize) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            token,
            requested: AtomicU8::new(Request::NONE),
            acted: AtomicU8::new(Request::NONE),
            shared: Arc::clone(&self.shared),
        })
    }

    /// A handle that reaches every connection of this loop.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// After a wake-up: which mailboxes to [`take`](Mailbox::take) from.
    pub fn drain(&mut self) -> Raised {
        let tokens = std::mem::take(
            &mut *self
                .shared
                .raised
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        );
        let everyone = self.shared.everyone.load(Ordering::Acquire);
        let raised_everyone = everyone > self.everyone_seen;
        self.everyone_seen = everyone;
        Raised {
            tokens,
            everyone: raised_everyone,
        }
    }
}
