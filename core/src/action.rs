//! What comes out of the machine: the syscalls the driver must perform, in order.

use core::fmt;

/// What the driver must do next, from [`CloseMachine::poll_action`](crate::CloseMachine::poll_action).
///
/// Perform each action before polling the next one, and report its result as an
/// [`Event`](crate::Event) (see there). After [`Action::Close`] or [`Action::Abort`] there is
/// nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Set `TCP_CORK` (Linux; `TCP_NOPUSH` on the BSDs) on or off.
    SetCork(bool),
    /// Set `TCP_NODELAY` on or off.
    SetNodelay(bool),
    /// `shutdown(SHUT_WR)`: queue our FIN behind the data.
    ShutdownWrite,
    /// Ask the kernel how many bytes are not yet acknowledged (`SIOCOUTQ` on Linux) and report
    /// [`Event::SendQueue`](crate::Event::SendQueue), [`Event::DataAcked`](crate::Event::DataAcked)
    /// where only the data's acknowledgement can be seen, or
    /// [`Event::AcksUnobservable`](crate::Event::AcksUnobservable) where nothing can be.
    QuerySendQueue,
    /// Read and discard up to `max_bytes`, stopping early at `EWOULDBLOCK`, EOF or an error.
    Discard {
        /// The most this round may read; the machine schedules the next round itself.
        max_bytes: u32,
    },
    /// `close()` the socket.
    Close,
    /// Reset: `SO_LINGER {1, 0}`, then `close()`.
    Abort,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetCork(on) => write!(f, "SetCork({on})"),
            Action::SetNodelay(on) => write!(f, "SetNodelay({on})"),
            Action::ShutdownWrite => f.write_str("ShutdownWrite"),
            Action::QuerySendQueue => f.write_str("QuerySendQueue"),
            Action::Discard { max_bytes } => write!(f, "Discard({max_bytes})"),
            Action::Close => f.write_str("Close"),
            Action::Abort => f.write_str("Abort"),
        }
    }
}

/// An action as queued: one byte. [`Discard`](Action::Discard)'s allowance is filled in when
/// it is polled, from the machine's current round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Queued {
    CorkOn,
    CorkOff,
    NodelayOn,
    NodelayOff,
    ShutdownWrite,
    QuerySendQueue,
    Discard,
    Close,
    Abort,
}

/// A short FIFO of actions. Six slots hold the longest run of intents a driver can make
/// without polling that still makes sense (say, `flush` three times while corked); past that
/// an input is refused with [`Error::ActionsNotPolled`](crate::Error::ActionsNotPolled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ActionQueue {
    slots: [Option<Queued>; ActionQueue::CAPACITY],
}

/// The queue had no free slot.
#[derive(Debug)]
pub(crate) struct QueueFull;

impl ActionQueue {
    const CAPACITY: usize = 6;

    pub(crate) const fn new() -> ActionQueue {
        ActionQueue {
            slots: [None; ActionQueue::CAPACITY],
        }
    }

    /// A queue holding only `action`.
    pub(crate) const fn only(action: Queued) -> ActionQueue {
        let mut queue = ActionQueue::new();
        queue.slots[0] = Some(action);
        queue
    }

    pub(crate) fn push(&mut self, action: Queued) -> Result<(), QueueFull> {
        let slot = self
            .slots
            .iter_mut()
            .find(|slot| slot.is_none())
            .ok_or(QueueFull)?;
        *slot = Some(action);
        Ok(())
    }

    pub(crate) fn pop(&mut self) -> Option<Queued> {
        let first = self.slots[0]?;
        self.slots.copy_within(1.., 0);
        self.slots[ActionQueue::CAPACITY - 1] = None;
        Some(first)
    }

    pub(crate) fn contains(&self, action: Queued) -> bool {
        self.slots.contains(&Some(action))
    }
}
