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

// Where rustdoc links this crate's items from docs built without them (`cargo doc
// --no-deps`): docs.rs, at this version (.ci/doc-links checks it).
#![doc(html_root_url = "https://docs.rs/linger-std/0.1.0")]

mod connection;

pub use connection::Connection;
pub use linger::{
    Ending, Error, NagleMode, OnBudgetSpent, Outcome, Policy, PolicyBuilder, PolicyError, Release,
    State, Stats,
};

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

/// Runs `machine`, already closing, to its release.
fn linger(stream: TcpStream, mut machine: CloseMachine, clock: Clock) -> Outcome {
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
