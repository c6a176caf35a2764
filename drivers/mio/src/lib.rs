//! Lingering TCP close for mio event loops.
//!
//! Two ways in:
//!
//! - [`Lingerer`]: "I am done with this socket, close it properly." Hand it over with
//!   [`Lingerer::adopt`] (or [`Lingerer::adopt_connection`]) and poll the lingerer from your
//!   loop; thousands of closes share one `mio::Poll` and a timer heap.
//! - [`Connection`]: a stream of your own loop whose writes, Nagle control (`TCP_CORK`,
//!   `TCP_NODELAY`) and close go through a [`CloseMachine`](linger::CloseMachine); made by
//!   [`Connection::accepted`], its life before the close is guarded too (a connection that
//!   never finishes a request is ended), and [`Lingerer::make_room`] lets the live
//!   connections that cost least give way when descriptors run short.
//!
//! - [`CloseHandle`] and [`ShutdownHandle`]: ask, from any thread, for one connection or all
//!   of them to be closed or aborted; the loop is woken through a `mio::Waker`.
//!
//! Every function that takes a policy takes `Policy` or `&Policy`; the types of the core
//! crate a caller needs (`Policy`, `Outcome`, ...) are re-exported here.
//!
//! The machine and its policy come from [`linger`], the sans-IO core. The
//! syscalls themselves (`shutdown`, `SIOCOUTQ`, reads into a fixed buffer, `SO_LINGER {1, 0}`
//! for an abort) live in `linger-io`, shared with the other drivers (`linger-std` for blocking
//! code, `linger-tokio`); [docs/drivers.md] says how each maps onto the platform.
//!
//! [docs/drivers.md]: https://github.com/linger-rs/linger/blob/main/docs/drivers.md
//!
//! # A server loop
//!
//! Every request gets an immediate `413` and its connection is handed to the lingerer, whose
//! poller is registered in the server's own so both wake the same loop (on unix; on Windows,
//! where one `mio::Poll` cannot watch another, bound the server's wait by a few milliseconds
//! and poll the lingerer each time round, as the `early_reply` example does). The lingerer
//! holds at most half the process's descriptors; when `accept` runs out all the same, the
//! loop reclaims lingering closes and accepts again:
//!
//! ```no_run
//! # #[cfg(unix)]
//! # fn main() -> std::io::Result<()> {
//! use linger_mio::{Connection, Lingerer, Policy};
//! use mio::net::TcpListener;
//! use mio::unix::SourceFd;
//! use mio::{Events, Interest, Poll, Token};
//! use std::io::Write;
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//!
//! const LISTENER: Token = Token(0);
//! const LINGERER: Token = Token(1);
//!
//! let mut poll = Poll::new()?;
//! let mut events = Events::with_capacity(256);
//! let mut listener = TcpListener::bind("127.0.0.1:8080".parse().expect("address"))?;
//! poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
//! // Where the administrator allows more descriptors than the soft limit, use them.
//! let _ = linger_mio::raise_descriptor_limit();
//! let mut lingerer = Lingerer::new(Lingerer::default_capacity())?;
//! let lingerer_fd = lingerer.as_raw_fd();
//! poll.registry().register(&mut SourceFd(&lingerer_fd), LINGERER, Interest::READABLE)?;
//!
//! loop {
//!     poll.poll(&mut events, lingerer.next_timeout())?;
//!     for event in events.iter() {
//!         if event.token() == LISTENER {
//!             loop {
//!                 let stream = match listener.accept() {
//!                     Ok((stream, _)) => stream,
//!                     // One connection lost, or lingering closes reclaimed: accept again.
//!                     Err(error) if lingerer.after_accept_error(&error) => continue,
//!                     // None waiting, or nothing to reclaim (a real server retries on a timer).
//!                     Err(_) => break,
//!                 };
//!                 let mut connection = Connection::accepted(stream, Policy::default());
//!                 connection.write_all(b"HTTP/1.1 413 Payload Too Large\r\n")?;
//!                 connection.write_all(b"connection: close\r\ncontent-length: 0\r\n\r\n")?;
//!                 // Not `drop`: the client may still be uploading; dropping would reset.
//!                 if let Err(refused) = lingerer.adopt_connection(connection, poll.registry()) {
//!                     eprintln!("{refused}");
//!                 }
//!             }
//!         }
//!     }
//!     // Drives the lingering closes that are ready or due; never blocks.
//!     for (token, outcome) in lingerer.poll(Some(Duration::ZERO))? {
//!         println!("{token:?}: {outcome}");
//!     }
//! }
//! # }
//! # #[cfg(not(unix))]
//! # fn main() {}
//! ```

// Where rustdoc links this crate's items from docs built without them (`cargo doc
// --no-deps`): docs.rs, at this version (.ci/doc-links checks it).
#![doc(html_root_url = "https://docs.rs/linger-mio/0.1.0")]

pub mod close_handle;
mod connection;
mod lingerer;
#[doc(hidden)]
pub mod timers;

pub use close_handle::{CloseHandle, ShutdownHandle};
pub use connection::Connection;
pub use linger::{
    Activity, Ending, Error, Guard, Life, MinRate, NagleMode, OnBudgetSpent, Outcome, Policy,
    PolicyBuilder, PolicyError, Release, State, Stats,
};
pub use linger_io::limits::{
    DescriptorLimit, LimitError, in_use_at_accept, raise_descriptor_limit, running_short,
};
pub use linger_io::{AcceptFailure, accept_failure};
pub use lingerer::{AdoptError, Lingerer, SHORT_LINGER};
