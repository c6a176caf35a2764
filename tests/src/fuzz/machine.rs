//! The `machine` fuzz target's check: an arbitrary policy and sequence of intents,
//! observations and time steps fed to one [`CloseMachine`] (made by `new`, or by `accepted`
//! with its guards on the life before the close), with its contract checked after every step.
//!
//! The same [`check`] runs under libFuzzer (`fuzz/fuzz_targets/machine.rs`) and replays the
//! committed corpus in `cargo test` (`tests/tests/fuzz_corpus.rs`).

use arbitrary::{Arbitrary, Unstructured};
use core::fmt;
use core::time::Duration;
use linger::{Action, Activity, CloseMachine, Event, Instant, Intent, Policy, State};

/// One thing that can happen to a machine.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Step {
    /// The application states an intent.
    Intent(Intent),
    /// The driver reports an observation, true or not.
    Event(Event),
    /// Time passes; the driver calls `handle_timeout` (early, late or on time).
    Advance {
        /// How far the clock moves.
        millis: u16,
    },
    /// The driver sleeps until the announced deadline and fires it.
    FireDeadline,
    /// The driver polls and "performs" every queued action.
    PollActions,
}

/// A broken promise of the machine's contract, with the step that broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Index of the step in the sequence.
    pub step: usize,
    /// What was promised.
    pub rule: &'static str,
    /// What happened instead.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}: {}: {}", self.step, self.rule, self.detail)
    }
}

impl std::error::Error for Violation {}

/// Decodes a policy and steps from fuzzer bytes and runs them; bytes that do not decode are
/// not a violation.
pub fn check(data: &[u8]) -> Result<(), Violation> {
    match decode(data) {
        Some((policy, accepted, steps)) => run(policy, accepted, &steps),
        None => Ok(()),
    }
}

/// A policy, whether the machine is made by `accepted` (its life guarded) or by `new`, then
/// steps until the bytes run out. (`arbitrary`'s own collection decoding stops at the first
/// "no more" flag, which leaves most random inputs a step or two long.)
pub fn decode(data: &[u8]) -> Option<(Policy, bool, Vec<Step>)> {
    let mut bytes = Unstructured::new(data);
    let policy = Policy::arbitrary(&mut bytes).ok()?;
    let accepted = bool::arbitrary(&mut bytes).ok()?;
    let mut steps = Vec::new();
    while !bytes.is_empty() {
        steps.push(Step::arbitrary(&mut bytes).ok()?);
    }
    Some((policy, accepted, steps))
}

/// Runs `steps` on a fresh machine with `policy` (made by `accepted` at 0 or by `new`),
/// checking the contract after each.
pub fn run(policy: Policy, accepted: bool, steps: &[Step]) -> Result<(), Violation> {
    let mut driver = Driver::new(policy, accepted);
    for (index, step) in steps.iter().enumerate() {
        driver.step(*step).map_err(|(rule, detail)| Violation {
            step: index,
            rule,
            detail,
        })?;
    }
    Ok(())
}

type Broken = (&'static str, String);

/// A driver that obeys nothing but the machine's output, and watches what it promised.
struct Driver {
    machine: CloseMachine,
    now: Instant,
    /// When the close began: `close` accepted, or a guard's.
    close_started: Option<Instant>,
    /// A `Close` or `Abort` action was polled.
    released: bool,
    /// A `ShutdownWrite` action was polled.
    write_shut: bool,
}

impl Driver {
    fn new(policy: Policy, accepted: bool) -> Driver {
        let machine = match accepted {
            true => CloseMachine::accepted(policy, Instant::ZERO),
            false => CloseMachine::new(policy),
        };
        Driver {
            machine,
            now: Instant::ZERO,
            close_started: None,
            released: false,
            write_shut: false,
        }
    }

    fn step(&mut self, step: Step) -> Result<(), Broken> {
        let before = self.machine.clone();
        match step {
            Step::Intent(intent) => {
                let result = self.apply(intent);
                refused_changes_nothing(&before, &self.machine, result)?;
            }
            Step::Event(event) => {
                let result = self.machine.handle(event, self.now);
                refused_changes_nothing(&before, &self.machine, result)?;
            }
            Step::Advance { millis } => {
                self.now = self.now + Duration::from_millis(millis.into());
                self.fire_checked()?;
            }
            Step::FireDeadline => {
                if let Some(deadline) = self.machine.poll_timeout() {
                    self.now = self.now.max(deadline);
                    self.fire_checked()?;
                }
            }
            Step::PollActions => self.poll_actions()?,
        }
        if self.close_started.is_none() && self.machine.is_lingering() {
            self.close_started = Some(self.now);
        }
        monotone(&before, &self.machine)?;
        guards_spare_the_work(&before, &self.machine, step)?;
        within_discard_cap(&self.machine)?;
        self.deadlines_within_budget()?;
        outcome_matches_stats(&self.machine)
    }

    fn apply(&mut self, intent: Intent) -> Result<(), linger::Error> {
        let now = self.now;
        match intent {
            Intent::Cork => self.machine.cork(),
            Intent::Uncork => self.machine.uncork(),
            Intent::Flush => self.machine.flush(),
            Intent::ShutdownWrite => self.machine.shutdown_write(now),
            Intent::Close => self.machine.close(now),
            Intent::Abort => self.machine.abort(now),
            Intent::ShortenBudget(budget) => self.machine.shorten_budget(now, budget),
            Intent::Hold => self.machine.hold(now),
            Intent::Answered => self.machine.answered(now),
            Intent::Upgrade => self.machine.upgrade(now),
            Intent::HoldsRequests => self.machine.holds_requests(now),
        }
    }

    /// `handle_timeout(now)`: does nothing before the announced deadline, and something at
    /// or after it.
    fn fire_checked(&mut self) -> Result<(), Broken> {
        let before = self.machine.clone();
        let deadline = before.poll_timeout();
        self.machine.handle_timeout(self.now);
        match deadline {
            Some(deadline) if deadline <= self.now && self.machine == before => Err((
                "a deadline announced by poll_timeout has work",
                format!("nothing happened at {} (deadline {deadline})", self.now),
            )),
            Some(deadline) if deadline > self.now && self.machine != before => Err((
                "handle_timeout before the deadline does nothing",
                format!("the machine changed at {} before {deadline}", self.now),
            )),
            None if self.machine != before => Err((
                "handle_timeout without a deadline does nothing",
                format!("the machine changed at {}", self.now),
            )),
            _ => Ok(()),
        }
    }

    fn poll_actions(&mut self) -> Result<(), Broken> {
        while let Some(action) = self.machine.poll_action() {
            if self.released {
                return Err(("no action after the release", format!("{action} after it")));
            }
            match action {
                Action::Close | Action::Abort => {
                    if self.machine.state() != State::Closed {
                        let state = self.machine.state();
                        return Err(("release only from Closed", format!("{action} in {state}")));
                    }
                    self.released = true;
                }
                Action::ShutdownWrite => self.write_shut = true,
                Action::SetCork(true) if self.write_shut => {
                    return Err(("no cork after WriteShut", format!("{action}")));
                }
                Action::Discard { max_bytes: 0 } => {
                    return Err(("a discard round reads something", format!("{action}")));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// P3 on the machine alone: once `close` was accepted, a deadline is always armed and
    /// never later than the budget.
    fn deadlines_within_budget(&self) -> Result<(), Broken> {
        let (Some(started), true) = (self.close_started, self.machine.is_lingering()) else {
            return Ok(());
        };
        let limit = started + self.machine.policy().linger_budget();
        match self.machine.poll_timeout() {
            Some(deadline) if deadline <= limit => Ok(()),
            other => Err((
                "a lingering close always has a deadline within its budget",
                format!("deadline {other:?}, budget ends {limit}"),
            )),
        }
    }
}

fn refused_changes_nothing(
    before: &CloseMachine,
    after: &CloseMachine,
    result: Result<(), linger::Error>,
) -> Result<(), Broken> {
    match result {
        Err(error) if after != before => Err((
            "a refused input changes nothing",
            format!("{error} changed the machine"),
        )),
        _ => Ok(()),
    }
}

/// Counters never go down; the state never goes back (but for `Corked` → `Open`).
fn monotone(before: &CloseMachine, after: &CloseMachine) -> Result<(), Broken> {
    let (was, is) = (before.stats(), after.stats());
    if is.bytes_written < was.bytes_written || is.bytes_discarded < was.bytes_discarded {
        return Err(("counters never go down", format!("{was:?} then {is:?}")));
    }
    if was.peer_eof && !is.peer_eof {
        return Err((
            "the peer's EOF is never forgotten",
            format!("{was:?} then {is:?}"),
        ));
    }
    let rank = |state: State| match state {
        State::Open | State::Corked => 0,
        State::WriteShut => 1,
        State::Draining => 2,
        State::Closed => 3,
    };
    if rank(after.state()) < rank(before.state()) {
        let detail = format!("{} then {}", before.state(), after.state());
        return Err(("the state never goes back", detail));
    }
    Ok(())
}

/// A guard ends a live connection only for what its guard watches: never one the application
/// is working on or writing to at its own pace, and a request's pace only when its bytes
/// arrive (or its credit runs out, for a request still arriving); its life ends with its
/// close.
fn guards_spare_the_work(
    before: &CloseMachine,
    after: &CloseMachine,
    step: Step,
) -> Result<(), Broken> {
    if after.is_lingering() && after.life().is_some() {
        return Err(("a close ends the life", format!("{:?}", after.life())));
    }
    if before.ended_by().is_some() || after.ended_by().is_none() {
        return Ok(());
    }
    let Some(life) = before.life() else {
        return Err((
            "a guard ends only a live connection",
            format!("{:?} ended {}", after.ended_by(), before.state()),
        ));
    };
    let watched = match life.activity {
        Activity::AwaitingFirstByte | Activity::Idle => true,
        // A request's pace is judged as its bytes arrive, or, for a request the application
        // says is still arriving, when its credit runs out.
        Activity::Receiving => {
            matches!(step, Step::Event(Event::Read(_)))
                || life.arriving && matches!(step, Step::Advance { .. } | Step::FireDeadline)
        }
        Activity::Responding | Activity::Upgraded => life.write_blocked,
        Activity::Working => false,
    };
    if watched {
        Ok(())
    } else {
        Err((
            "no guard cuts a connection the application works on or writes to",
            format!("{:?} ended one {}", after.ended_by(), life.activity),
        ))
    }
}

/// Never more discarded than the policy's cap, whatever the reads reported.
fn within_discard_cap(machine: &CloseMachine) -> Result<(), Broken> {
    let discarded = machine.stats().bytes_discarded;
    let cap = machine.policy().discard_cap();
    if discarded > u64::from(cap) {
        let detail = format!("{discarded} discarded, the cap is {cap}");
        return Err(("nothing is discarded past the cap", detail));
    }
    Ok(())
}

/// Closed ⇔ an outcome; its figures are the machine's; delivery is claimed only when the
/// last send-queue figure was zero.
fn outcome_matches_stats(machine: &CloseMachine) -> Result<(), Broken> {
    let stats = machine.stats();
    match (machine.state(), machine.outcome()) {
        (State::Closed, None) => Err(("Closed has an outcome", String::new())),
        (State::Closed, Some(outcome)) => {
            if (outcome.bytes_written, outcome.bytes_discarded)
                != (stats.bytes_written, stats.bytes_discarded)
            {
                return Err((
                    "the outcome's figures are the machine's",
                    format!("{outcome:?}"),
                ));
            }
            if outcome.claims_delivery() && stats.unacked != Some(0) {
                let detail = format!("{outcome:?} with unacked {:?}", stats.unacked);
                return Err(("delivery is claimed only when everything was acked", detail));
            }
            Ok(())
        }
        (state, Some(outcome)) => Err((
            "only Closed has an outcome",
            format!("{outcome:?} in {state}"),
        )),
        (_, None) => Ok(()),
    }
}
