//! The strategies under test: [`CloseMachine`] with a policy, driven the way `linger-mio`
//! drives it, each action performed on the model's kernel and what the kernel reported turned
//! into an event by `linger-io`'s own decisions ([`linger_io::acks`], [`linger_io::errors`])
//! for our kernel's flavour.
//!
//! - [`Linger`]: the application writes its response and closes through the machine;
//! - [`Handover`]: the application shuts down writing itself, as a framework does, and hands
//!   the socket over when it closes (`linger_io::adopt`): the machine's own `shutdown` then
//!   meets a connection that may be over;
//! - [`TrustingFigures`]: as [`Linger`], driven as `linger-io` drove it before it knew the
//!   BSDs' figures leave out the FIN and FreeBSD's drops them at the end: each figure taken
//!   at face value. Kept to show what the checker finds.

use super::kernel::{Flavour, Read, SoError};
use super::strategy::{Describe, Io, Misuse, Strategy};
use super::trace::Time;
use linger::{Action, CloseMachine, Event, Instant, Outcome, Policy, State};
use linger_io::acks::{self, Verdict};
use linger_io::errors::{event_for, shutdown_refused};

/// A lingering close by [`CloseMachine`] under `policy`, driven as `linger-mio` drives it.
///
/// ```
/// use linger_model::{Bound, Check, Linger, policy};
///
/// let small = Bound { segments: 1, peer_sends: 1, peer_moves: 1, ..Bound::default() };
/// let report = Check::new(Linger { policy: policy() }).bound(small)?.run();
/// assert!(report.holds(), "{report}");
/// # Ok::<(), linger_model::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Linger {
    /// The policy under test.
    pub policy: Policy,
}

/// A lingering close of a socket the application already shut down for writing, handed over
/// to an adopted [`CloseMachine`] under `policy` when the application closes.
#[derive(Clone, Copy, Debug)]
pub struct Handover {
    /// The policy under test.
    pub policy: Policy,
}

/// A lingering close whose driver takes every send-queue figure at face value, as
/// `linger-io` did before it read the BSDs' TCP state and pending errors.
#[derive(Clone, Copy, Debug)]
pub struct TrustingFigures {
    /// The policy under test.
    pub policy: Policy,
}

/// How the driver reads the kernel's answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    /// `linger_io::sys`'s per-platform decisions.
    Checked,
    /// The figure as the kernel gives it.
    Trusted,
}

/// What the three strategies share: the machine is the application's state, and every
/// delivery, deadline and release is the machine's.
macro_rules! machine_strategy {
    ($name:literal, $reading:expr) => {
        type App = CloseMachine;

        fn name(&self) -> String {
            $name.into()
        }

        fn close(&self, machine: &mut CloseMachine, io: &mut Io<'_>) {
            input(machine, io, $reading, |machine, now| machine.close(now));
        }

        fn on_delivered(&self, machine: &mut CloseMachine, io: &mut Io<'_>) {
            // The poller reports readability (or hang-up, or an error); acknowledgements are
            // polled for.
            if machine.state() != State::Closed && io.readable() {
                input(machine, io, $reading, |machine, now| {
                    machine.handle(Event::Readable, now)
                });
            }
        }

        fn deadline(&self, machine: &CloseMachine) -> Option<u64> {
            machine.poll_timeout().map(Instant::as_micros)
        }

        fn on_time(&self, machine: &mut CloseMachine, io: &mut Io<'_>) {
            input(machine, io, $reading, |machine, now| {
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

        fn time_bound(&self) -> u64 {
            let (_, poll_max) = self.policy.poll_interval();
            (self.policy.linger_budget().saturating_add(poll_max)).as_micros() as u64
        }

        fn policy(&self) -> Option<Policy> {
            Some(self.policy)
        }
    };
}

impl Strategy for Linger {
    machine_strategy!("linger", Reading::Checked);

    fn start(&self, response: u8, io: &mut Io<'_>) -> CloseMachine {
        write_response(self.policy, response, io, Reading::Checked)
    }
}

impl Strategy for TrustingFigures {
    machine_strategy!("linger, figures trusted", Reading::Trusted);

    fn start(&self, response: u8, io: &mut Io<'_>) -> CloseMachine {
        write_response(self.policy, response, io, Reading::Trusted)
    }
}

impl Strategy for Handover {
    machine_strategy!("handover", Reading::Checked);

    /// The application writes and shuts down writing itself; the machine it will hand the
    /// socket to knows the count, as `linger_io::adopt` learns it from the kernel.
    fn start(&self, response: u8, io: &mut Io<'_>) -> CloseMachine {
        io.write(response);
        let _ = io.shutdown_write();
        CloseMachine::adopt_written(self.policy, response.into())
    }
}

/// The application writes its response through a new machine under `policy`.
fn write_response(policy: Policy, response: u8, io: &mut Io<'_>, reading: Reading) -> CloseMachine {
    let mut machine = CloseMachine::new(policy);
    io.write(response);
    input(&mut machine, io, reading, |machine, now| {
        machine.handle(Event::Wrote(response.into()), now)
    });
    machine
}

/// The machine's state and figures; its timers by name in the details.
impl Describe for CloseMachine {
    fn describe(&self) -> String {
        if let Some(outcome) = self.outcome() {
            return format!("machine Closed: {outcome}");
        }
        let mut text = format!("machine {}", self.state());
        if let Some(unacked) = self.stats().unacked {
            text.push_str(&format!(", {unacked} unacked"));
        }
        if let Some(deadline) = self.poll_timeout() {
            text.push_str(&format!(", next deadline {}", Time(deadline.as_micros())));
        }
        text
    }

    fn details(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
}

/// Gives the machine one input at the model's current time, then performs every action it
/// asks for. A refused input is a misuse: the model only reports what really happened.
fn input(
    machine: &mut CloseMachine,
    io: &mut Io<'_>,
    reading: Reading,
    step: impl FnOnce(&mut CloseMachine, Instant) -> Result<(), linger::Error>,
) {
    let now = Instant::from_micros(io.now());
    if let Err(error) = step(machine, now).and_then(|()| perform(machine, io, reading, now)) {
        io.misuse(Misuse::Rejected(error));
    }
}

/// The driver's loop: each action, then its result fed back.
fn perform(
    machine: &mut CloseMachine,
    io: &mut Io<'_>,
    reading: Reading,
    now: Instant,
) -> Result<(), linger::Error> {
    while let Some(action) = machine.poll_action() {
        match action {
            Action::SetCork(on) => io.set_cork(on),
            Action::SetNodelay(_) => {}
            Action::ShutdownWrite => {
                if io.shutdown_write().is_err()
                    && let Some(event) = connection_over(io, reading)
                {
                    machine.handle(event, now)?;
                }
            }
            Action::QuerySendQueue => {
                let event = query_send_queue(machine, io, reading);
                if let Event::SendQueue { unacked } = event {
                    io.told_unacked(unacked);
                }
                machine.handle(event, now)?;
            }
            Action::Discard { max_bytes } => discard(machine, io, max_bytes, now)?,
            Action::Close => io.close(),
            Action::Abort => io.abort(),
            _ => io.misuse(Misuse::UnknownAction),
        }
    }
    Ok(())
}

/// `linger_io::sys::query_send_queue` on the model's kernel: what our kernel's flavour
/// reports, decided by `linger_io::acks`, the pending error read only when that depends on
/// it.
fn query_send_queue(machine: &CloseMachine, io: &mut Io<'_>, reading: Reading) -> Event {
    let figure = io.send_queue();
    if reading == Reading::Trusted {
        return Event::SendQueue { unacked: figure };
    }
    let verdict: Verdict = match io.kernel().flavour {
        Flavour::Linux => acks::linux(figure),
        Flavour::FreeBsd => {
            let state = io.tcp_info();
            acks::freebsd(figure, state, machine.stats().unacked.is_some())
        }
        Flavour::MacOs => {
            let state = io.tcp_info();
            acks::macos(figure, state)
        }
    };
    verdict.resolve(|| Ok(io.take_error().map(SoError::io_error)))
}

/// `linger_io::sys::connection_over`: after `ENOTCONN` from `shutdown`, the pending error and
/// the figure the kernel keeps after the end (every figure, when trusted).
fn connection_over(io: &mut Io<'_>, reading: Reading) -> Option<Event> {
    let pending = io.take_error().map(SoError::io_error);
    let unacked = match reading {
        Reading::Checked => io.send_queue_after_the_end(),
        Reading::Trusted => Some(io.send_queue()),
    };
    shutdown_refused(pending.as_ref(), unacked)
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
            Read::Error(error) => event_for(&error.io_error()),
        };
        machine.handle(event, now)?;
        if event != Event::Read(1) {
            break;
        }
    }
    Ok(())
}
