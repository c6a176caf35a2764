//! The states a connection passes on its way to closed.

use core::fmt;

/// Where a [`CloseMachine`](crate::CloseMachine) is, in the order a connection passes them.
///
/// The [transition table](https://github.com/linger-rs/linger/blob/main/docs/transitions.md)
/// lists every input in every state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Writes go out according to the Nagle policy.
    Open,
    /// `TCP_CORK` is on: partial segments wait for `uncork`, `flush` or `close`.
    Corked,
    /// `shutdown(SHUT_WR)` issued (our FIN is queued); waiting until the send queue, data and
    /// FIN, is acknowledged.
    WriteShut,
    /// Everything we sent is acknowledged; waiting, for a bounded time, for the peer's EOF.
    Draining,
    /// The socket is released; [`CloseMachine::outcome`](crate::CloseMachine::outcome) says how.
    Closed,
}

impl State {
    /// Every state, in order.
    pub const ALL: [State; 5] = [
        State::Open,
        State::Corked,
        State::WriteShut,
        State::Draining,
        State::Closed,
    ];

    /// The application may still write.
    pub const fn may_write(self) -> bool {
        matches!(self, State::Open | State::Corked)
    }

    /// The socket may still receive data (the peer has not been cut off by us).
    pub const fn may_receive(self) -> bool {
        !matches!(self, State::Closed)
    }

    /// Our write side is shut and the machine is waiting for acknowledgements or the peer.
    pub const fn is_closing(self) -> bool {
        matches!(self, State::WriteShut | State::Draining)
    }

    /// The socket has been released.
    pub const fn is_closed(self) -> bool {
        matches!(self, State::Closed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Open => "Open",
            State::Corked => "Corked",
            State::WriteShut => "WriteShut",
            State::Draining => "Draining",
            State::Closed => "Closed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::State::{self, *};

    #[test]
    fn each_state_says_what_it_allows() {
        let table: [(State, [bool; 4]); 5] = [
            // may_write, may_receive, is_closing, is_closed
            (Open, [true, true, false, false]),
            (Corked, [true, true, false, false]),
            (WriteShut, [false, true, true, false]),
            (Draining, [false, true, true, false]),
            (Closed, [false, false, false, true]),
        ];
        for (state, expected) in table {
            let said = [
                state.may_write(),
                state.may_receive(),
                state.is_closing(),
                state.is_closed(),
            ];
            assert_eq!(said, expected, "{state}");
        }
    }
}
