//! Lingering TCP close for blocking std code.
//!
//! ```no_run
//! use std::io::Write;
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let (mut stream, _) = listener.accept()?;
//! stream.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")?;
//! // Not `drop(stream)`: that resets the connection if the client is still uploading.
//! let outcome = linger_std::close(stream, linger_std::Policy::default());
//! println!("{outcome}");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`close`] blocks the calling thread for as long as the close lingers (at most the policy's
//! budget), waiting in `poll(2)` (`WSAPoll` on Windows); it never uses `SO_LINGER` with a
//! timeout. [`Connection`]
//! wraps a stream for code that also wants Nagle control before closing.
//!
//! Every function that takes a policy takes `Policy` or `&Policy`; the types of the core
//! crate a caller needs (`Policy`, `Outcome`, ...) are re-exported here.
//!
//! The machine and its [`Policy`] come from [`linger`], the sans-IO core; `linger-mio` and
//! `linger-tokio` are the drivers for event loops. How each action maps onto a syscall, per
//! platform: [docs/drivers.md](https://github.com/linger-rs/linger/blob/main/docs/drivers.md).
//!
//! # Under a flood
//!
//! A lingering close holds its thread and its descriptor for up to the policy's budget,
//! where a plain close frees both at once. The blocking closes of a process share one bound,
//! [`capacity`] (half the soft descriptor limit): past three quarters of it a new close gets
//! the short linger, and at it a new close ends at once as its policy says for a spent
//! budget (its outcome says so: `TimedOut`, or acknowledged but the peer still open). No
//! thread can cut short another's close, so the newest gives way, not the oldest or the most
//! hostile: a server that must stay up under a flood of slow clients should close through
//! `linger-mio`'s or `linger-tokio`'s `Lingerer`, which reclaims the closes that give way
//! first and, when `accept` runs out of descriptors, reclaims more.

// Where rustdoc links this crate's items from docs built without them (`cargo doc
// --no-deps`): docs.rs, at this version (.ci/doc-links checks it).
#![doc(html_root_url = "https://docs.rs/linger-std/0.1.0")]

mod bound;
mod connection;

pub use bound::{capacity, closes_in_flight};
pub use connection::Connection;
pub use linger::{
    Ending, Error, NagleMode, OnBudgetSpent, Outcome, Policy, PolicyBuilder, PolicyError, Release,
    State, Stats,
};
pub use linger_io::limits::{DescriptorLimit, LimitError, raise_descriptor_limit};

use linger::{Clock, CloseMachine, Event};
use std::borrow::Borrow;
use std::net::TcpStream;

/// Closes `stream` gracefully: shuts down writing, discards what the peer sends, waits until
/// the kernel reports every byte and the FIN acknowledged and (per policy) for the peer's
/// EOF, then closes. Blocks until then, at most the policy's budget; returns how it ended.
///
/// The outcome's `bytes_written` is the kernel's count of what was written before the call
/// (Linux), or `None` where the platform cannot tell.
pub fn close(stream: TcpStream, policy: impl Borrow<Policy>) -> Outcome {
    let clock = Clock::new();
    let mut machine = linger_io::adopt(&stream, *policy.borrow());
    let _refused_only_when_closed = machine.close(clock.now());
    linger(stream, machine, clock)
}

/// Runs `machine`, already closing, to its release, counted with every other blocking close.
fn linger(stream: TcpStream, mut machine: CloseMachine, clock: Clock) -> Outcome {
    let _counted = bound::Counted::enter(&mut machine, clock.now());
    loop {
        let now = clock.now();
        // The stream may be blocking; each read says not to block, saving a mode switch.
        let read = |buf: &mut [u8]| linger_io::sys::read_nonblocking(&stream, buf);
        match linger_io::drive(&stream, &mut machine, now, read) {
            Ok(Some(_release)) => break,
            Ok(None) => {}
            // The kernel reported something the machine cannot believe: stop trusting it.
            Err(_) => {
                let _ = machine.abort(now);
                continue;
            }
        }
        let Some(deadline) = machine.poll_timeout() else {
            // A lingering machine always has a deadline; without one, nothing would end this.
            let _ = machine.abort(now);
            continue;
        };
        let timeout = deadline.saturating_duration_since(now);
        let readable = if machine.wants_read() {
            linger_io::sys::wait_readable(&stream, timeout)
        } else {
            std::thread::sleep(timeout);
            false
        };
        let now = clock.now();
        if readable {
            let _ = machine.handle(Event::Readable, now);
        }
        machine.handle_timeout(now);
    }
    drop(stream);
    linger_io::released_outcome(&machine)
}
