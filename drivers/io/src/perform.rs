//! Performs the machine's actions on a socket and reports what happened, the same way for
//! every driver. The driver keeps what differs: how it waits, and how it closes.

use crate::AsSocket;
use crate::errors::event_for;
use crate::sys;
use linger::{Action, CloseMachine, Error, Event, Instant, Release};
use std::cell::Cell;
use std::io::{self, ErrorKind};

#[cfg(test)]
mod tests;

/// Bytes read per `read` while discarding: a whole default round (`reads_per_wakeup`,
/// 64 KiB) in one call. nginx reads 4 KiB at a time; with 16 KiB an axum server lingering
/// over a 20 MB upload made 151 reads per close, with 64 KiB 26 (`benches/http_syscalls.sh`).
/// Each thread reads into one buffer of its own.
pub const DISCARD_CHUNK: usize = 64 << 10;

/// Polls `machine` and performs each action on `socket`, feeding every result back at `now`
/// before polling the next, until no action is left.
///
/// `read` reads without blocking (a non-blocking `read`, [`sys::read_nonblocking`], or
/// tokio's `try_read`). Returns `Some(release)` when the machine has released the socket:
/// close it now and do nothing else with it (for [`Release::Abort`], `SO_LINGER {1, 0}` is
/// already set, so the close sends RST). A machine that is closed says so on every call, so
/// a driver that ignored one answer (say, while only setting socket options) never keeps a
/// released socket open. An `Err` means the machine refused what the socket reported, which
/// a correct kernel never causes; the driver should abort.
pub fn drive(
    socket: &impl AsSocket,
    machine: &mut CloseMachine,
    now: Instant,
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Result<Option<Release>, Error> {
    while let Some(action) = machine.poll_action() {
        if let Some(release) = perform(socket, action, machine, now, &mut read)? {
            return Ok(Some(release));
        }
    }
    Ok(machine.outcome().map(|outcome| outcome.release))
}

/// Performs one action; see [`drive`].
pub fn perform(
    socket: &impl AsSocket,
    action: Action,
    machine: &mut CloseMachine,
    now: Instant,
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Result<Option<Release>, Error> {
    let socket_ref = socket2::SockRef::from(socket);
    let result = match action {
        Action::SetCork(cork) => sys::set_cork(socket, cork),
        Action::SetNodelay(nodelay) => socket_ref.set_tcp_nodelay(nodelay),
        Action::ShutdownWrite => match socket_ref.shutdown(std::net::Shutdown::Write) {
            Err(error) if error.kind() == ErrorKind::NotConnected => {
                if let Some(event) = sys::connection_over(socket) {
                    machine.handle(event, now)?;
                }
                Ok(())
            }
            result => result,
        },
        Action::QuerySendQueue => {
            let event = sys::query_send_queue(socket, &machine.stats());
            machine.handle(event, now)?;
            Ok(())
        }
        Action::Discard { max_bytes } => {
            discard(socket, machine, now, max_bytes, &mut read)?;
            Ok(())
        }
        Action::Close => return Ok(Some(Release::Close)),
        Action::Abort => {
            // If this fails the close below is a plain one; the socket is released either way.
            let _ = socket_ref.set_linger(Some(std::time::Duration::ZERO));
            return Ok(Some(Release::Abort));
        }
        // An action this driver does not know yet asks for nothing it can do.
        _ => Ok(()),
    };
    if let Err(error) = result {
        machine.handle(event_for(&error), now)?;
    }
    Ok(None)
}

thread_local! {
    /// What discard rounds read into: allocated and zeroed once per thread, not on every
    /// round (a 64 KiB `memset` per round was 2.7 % of an HTTP server's CPU time under load).
    static DISCARD_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Reads and throws away up to `max_bytes`, reporting each read, until the socket would
/// block, reports EOF or an error, or the allowance is spent.
fn discard(
    socket: &impl AsSocket,
    machine: &mut CloseMachine,
    now: Instant,
    max_bytes: u32,
    read: &mut impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Result<(), Error> {
    // Borrowed for the round and given back; a thread tearing down its locals (a stream
    // dropped from another thread-local) reads into a buffer of its own.
    let mut chunk = DISCARD_BUFFER.try_with(Cell::take).unwrap_or_default();
    if chunk.len() < DISCARD_CHUNK {
        chunk = vec![0; DISCARD_CHUNK];
    }
    let result = discard_into(socket, &mut chunk, machine, now, max_bytes, read);
    let _ = DISCARD_BUFFER.try_with(|buffer| buffer.set(chunk));
    result
}

fn discard_into(
    socket: &impl AsSocket,
    chunk: &mut [u8],
    machine: &mut CloseMachine,
    now: Instant,
    max_bytes: u32,
    read: &mut impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Result<(), Error> {
    let mut left = max_bytes as usize;
    while left > 0 {
        let want = left.min(DISCARD_CHUNK);
        let event = match read(&mut chunk[..want]) {
            Ok(0) => sys::end_of_stream(socket),
            Ok(bytes) => {
                left = left.saturating_sub(bytes);
                machine.handle(Event::Read(u32::try_from(bytes).unwrap_or(u32::MAX)), now)?;
                continue;
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == ErrorKind::WouldBlock => Event::ReadBlocked,
            Err(error) => event_for(&error),
        };
        return machine.handle(event, now);
    }
    Ok(())
}
