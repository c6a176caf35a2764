//! The strategy under test: [`CloseMachine`] with a policy, driven the way `linger-mio`
//! drives it, each action performed on the model's kernel.

use super::kernel::Read;
use super::strategy::{Io, Misuse, Strategy};
use linger::{Action, CloseMachine, Event, Instant, Outcome, Policy, State};

/// A lingering close by [`CloseMachine`] under `policy`.
#[derive(Clone, Copy, Debug)]
pub struct Linger {
    /// The policy under test.
    pub policy: Policy,
}

impl Strategy for Linger {
    type App = CloseMachine;

    fn name(&self) -> String {
        "linger".into()
    }

    fn start(&self, response: u8, io: &mut Io<'_>) -> CloseMachine {
        let mut machine = CloseMachine::new(self.policy);
        io.write(response);
        input(&mut machine, io, |machine, now| {
            machine.handle(Event::Wrote(response.into()), now)
        });
        machine
    }

    fn close(&self, machine: &mut CloseMachine, io: &mut Io<'_>) {
        input(machine, io, |machine, now| machine.close(now));
    }

    fn on_delivered(&self, machine: &mut CloseMachine, io: &mut Io<'_>) {
        // The poller reports readability (or hang-up); acknowledgements are polled for.
        if machine.state() != State::Closed && io.kernel().readable() {
            input(machine, io, |machine, now| {
                machine.handle(Event::Readable, now)
            });
        }
    }

    fn deadline(&self, machine: &CloseMachine) -> Option<u64> {
        machine.poll_timeout().map(Instant::as_micros)
    }

    fn on_time(&self, machine: &mut CloseMachine, io: &mut Io<'_>) {
        input(machine, io, |machine, now| {
            machine.handle_timeout(now);
            Ok(())
        });
    }

    fn released(&self, machine: &CloseMachine) -> bool {
        machine.state() == State::Closed
    }

    fn claims_delivery(&self, machine: &CloseMachine) -> bool {
        machine
            .outcome()
            .is_some_and(|outcome| outcome.claims_delivery())
    }

    fn outcome(&self, machine: &CloseMachine) -> Option<Outcome> {
        machine.outcome()
    }

    fn bound(&self) -> u64 {
        let (_, poll_max) = self.policy.poll_interval();
        (self.policy.linger_budget() + poll_max).as_micros() as u64
    }

    fn policy(&self) -> Option<Policy> {
        Some(self.policy)
    }

    fn describe(&self, machine: &CloseMachine) -> String {
        if let Some(outcome) = machine.outcome() {
            return format!("machine Closed: {outcome}");
        }
        match machine.stats().unacked {
            Some(unacked) => format!("machine {}, {unacked} unacked", machine.state()),
            None => format!("machine {}", machine.state()),
        }
    }
}

/// Gives the machine one input at the model's current time, then performs every action it
/// asks for. A refused input is a misuse: the model only reports what really happened.
fn input(
    machine: &mut CloseMachine,
    io: &mut Io<'_>,
    step: impl FnOnce(&mut CloseMachine, Instant) -> Result<(), linger::Error>,
) {
    let now = Instant::from_micros(io.now());
    if let Err(error) = step(machine, now).and_then(|()| perform(machine, io, now)) {
        io.misuse(Misuse::Rejected(error));
    }
}

/// The driver's loop: each action, then its result fed back.
fn perform(machine: &mut CloseMachine, io: &mut Io<'_>, now: Instant) -> Result<(), linger::Error> {
    while let Some(action) = machine.poll_action() {
        match action {
            Action::SetCork(on) => io.set_cork(on),
            Action::SetNodelay(_) => {}
            // As the drivers do: `ENOTCONN` means the peer reset the connection.
            Action::ShutdownWrite => {
                if io.shutdown_write().is_err() {
                    machine.handle(Event::Reset, now)?;
                }
            }
            Action::QuerySendQueue => {
                let unacked = io.unacked();
                machine.handle(Event::SendQueue { unacked }, now)?;
            }
            Action::Discard { max_bytes } => discard(machine, io, max_bytes, now)?,
            Action::Close => io.close(),
            Action::Abort => io.abort(),
            _ => io.misuse(Misuse::UnknownAction),
        }
    }
    Ok(())
}

/// One `Discard` round: a segment is a byte in the model.
fn discard(
    machine: &mut CloseMachine,
    io: &mut Io<'_>,
    max_bytes: u32,
    now: Instant,
) -> Result<(), linger::Error> {
    for _ in 0..max_bytes {
        let event = match io.read() {
            Read::Data => Event::Read(1),
            Read::WouldBlock => Event::ReadBlocked,
            Read::Eof => Event::PeerEof,
            Read::Reset => Event::Reset,
        };
        machine.handle(event, now)?;
        if event != Event::Read(1) {
            break;
        }
    }
    Ok(())
}
