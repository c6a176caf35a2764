//! Performs the machine's actions on a socket and reports what happened, the same way for
//! every driver. The driver keeps what differs: how it waits, and how it closes.

use crate::errors::{event_for, shutdown_refused};
use crate::sys;
use linger::{Action, CloseMachine, Error, Event, Instant, Release};
use std::io::{self, ErrorKind};
use std::os::fd::AsFd;

#[cfg(test)]
mod tests;

/// Bytes read per `read` while discarding: nginx reads 4 KiB at a time; four times that
/// takes a 64 KiB round in four calls.
pub const DISCARD_CHUNK: usize = 16 << 10;

/// Polls `machine` and performs each action on `socket`, feeding every result back at `now`
/// before polling the next, until no action is left.
///
/// `read` reads without blocking (a non-blocking `read`, [`sys::read_nonblocking`], or
/// tokio's `try_read`). Returns `Some(release)` when the machine released the socket: close
/// it now and do nothing else with it (for [`Release::Abort`], `SO_LINGER {1, 0}` is already
/// set, so the close sends RST). An `Err` means the machine refused what the socket reported,
/// which a correct kernel never causes; the driver should abort.
pub fn drive(
    socket: &impl AsFd,
    machine: &mut CloseMachine,
    now: Instant,
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Result<Option<Release>, Error> {
    while let Some(action) = machine.poll_action() {
        if let Some(release) = perform(socket, action, machine, now, &mut read)? {
            return Ok(Some(release));
        }
    }
    Ok(None)
}

/// Performs one action; see [`drive`].
pub fn perform(
    socket: &impl AsFd,
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
                let pending = socket_ref.take_error().ok().flatten();
                let unacked = sys::unacked(socket).ok().flatten();
                if let Some(event) = shutdown_refused(pending.as_ref(), unacked) {
                    machine.handle(event, now)?;
                }
                Ok(())
            }
            result => result,
        },
        Action::QuerySendQueue => {
            let event = match sys::unacked(socket) {
                Ok(Some(unacked)) => Event::SendQueue { unacked },
                Ok(None) => Event::AcksUnobservable,
                Err(error) => event_for(&error),
            };
            machine.handle(event, now)?;
            Ok(())
        }
        Action::Discard { max_bytes } => {
            discard(machine, now, max_bytes, &mut read)?;
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

/// Reads and throws away up to `max_bytes`, reporting each read, until the socket would
/// block, reports EOF or an error, or the allowance is spent.
fn discard(
    machine: &mut CloseMachine,
    now: Instant,
    max_bytes: u32,
    read: &mut impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Result<(), Error> {
    let mut chunk = [0u8; DISCARD_CHUNK];
    let mut left = max_bytes as usize;
    while left > 0 {
        let want = left.min(DISCARD_CHUNK);
        let event = match read(&mut chunk[..want]) {
            Ok(0) => Event::PeerEof,
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
