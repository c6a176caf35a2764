//! `CloseMachine` against its documented contract, by proptest:
//!
//! - arbitrary policies and arbitrary (often contradictory) sequences of intents, events and
//!   time never panic, every refusal is a typed error that changes nothing, and the
//!   invariants hold after every step (the same checks as the `machine` fuzz target);
//! - `proptest-state-machine` runs the machine beside [`Contract`], a reference model written
//!   from the documentation alone, and shrinks any disagreement to a minimal sequence;
//! - a truthful driver runs every discard round against a peer that queued more or less than
//!   the cap: the machine reads all it may, and never past the cap.

use core::time::Duration;
use linger::{
    Action, CloseMachine, Ending, Error, Event, Instant, Intent, MinRate, NagleMode, OnBudgetSpent,
    Policy, Release, State,
};
use linger_check::fuzz::machine::{Step, run};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

fn policies() -> impl Strategy<Value = Policy> {
    (
        (0u64..100, 0u64..200, 1u64..50_000, 0u64..100_000),
        (
            0u32..100_000,
            1u32..100_000,
            any::<bool>(),
            any::<bool>(),
            0u8..3,
        ),
    )
        .prop_flat_map(|knobs| (Just(knobs), guards()))
        .prop_map(|(((idle, budget, poll_min, poll_extra), rest), guards)| {
            let (discard_cap, reads, abort, wait, nagle) = rest;
            let (first_byte, rate, keep_alive, send) = guards;
            Policy::builder()
                .idle_timeout(Duration::from_millis(idle))
                .linger_budget(Duration::from_millis(budget))
                .poll_interval(
                    Duration::from_micros(poll_min),
                    Duration::from_micros(poll_min + poll_extra),
                )
                .discard_cap(discard_cap)
                .reads_per_wakeup(reads)
                .on_budget_spent(if abort {
                    OnBudgetSpent::Abort
                } else {
                    OnBudgetSpent::Close
                })
                .wait_for_peer_eof(wait)
                .nagle(nagle_mode(nagle))
                .first_byte_timeout(first_byte)
                .min_receive_rate(rate)
                .keep_alive_timeout(keep_alive)
                .send_timeout(send)
                .build()
                .expect("every generated knob is in range")
        })
}

/// The guards of the life before the close: each off, or a few milliseconds to a few
/// seconds, so that arbitrary time steps reach them.
fn guards() -> impl Strategy<Value = GuardKnobs> {
    let timeout = || prop::option::of((1u64..5_000).prop_map(Duration::from_millis));
    let rate = prop::option::of(
        (1u32..10_000, 1u64..5_000).prop_map(|(bytes, grace)| MinRate {
            bytes_per_second: bytes,
            grace: Duration::from_millis(grace),
        }),
    );
    (timeout(), rate, timeout(), timeout())
}

type GuardKnobs = (
    Option<Duration>,
    Option<MinRate>,
    Option<Duration>,
    Option<Duration>,
);

fn nagle_mode(choice: u8) -> NagleMode {
    match choice {
        0 => NagleMode::KernelDefault,
        1 => NagleMode::NoDelay,
        _ => NagleMode::CorkWhileAssembling,
    }
}

fn intents() -> impl Strategy<Value = Intent> {
    prop_oneof![
        Just(Intent::Cork),
        Just(Intent::Uncork),
        Just(Intent::Flush),
        Just(Intent::ShutdownWrite),
        Just(Intent::Close),
        Just(Intent::Abort),
        (0u64..100).prop_map(|ms| Intent::ShortenBudget(Duration::from_millis(ms))),
        Just(Intent::Hold),
        Just(Intent::Answered),
        Just(Intent::Upgrade),
        Just(Intent::HoldsRequests),
    ]
}

fn events() -> impl Strategy<Value = Event> {
    prop_oneof![
        any::<u64>().prop_map(Event::Wrote),
        Just(Event::Readable),
        any::<u32>().prop_map(Event::Read),
        (0u32..4).prop_map(Event::Read),
        Just(Event::ReadBlocked),
        Just(Event::PeerEof),
        Just(Event::ReadPending),
        Just(Event::WritePending),
        any::<u32>().prop_map(|unacked| Event::SendQueue { unacked }),
        (0u32..4).prop_map(|unacked| Event::SendQueue { unacked }),
        Just(Event::DataAcked),
        Just(Event::AcksUnobservable),
        Just(Event::Reset),
        Just(Event::Failed),
    ]
}

fn steps() -> impl Strategy<Value = Step> {
    prop_oneof![
        intents().prop_map(Step::Intent),
        events().prop_map(Step::Event),
        any::<u16>().prop_map(|millis| Step::Advance { millis }),
        Just(Step::FireDeadline),
        Just(Step::PollActions),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_inputs_never_break_the_contract(
        policy in policies(),
        accepted in any::<bool>(),
        steps in prop::collection::vec(steps(), 0..60),
    ) {
        if let Err(violation) = run(policy, accepted, &steps) {
            return Err(TestCaseError::fail(violation.to_string()));
        }
    }
}

/// A close under `policy` whose peer queued `queued` bytes and acknowledged everything,
/// driven truthfully (each round reads what is there, up to its allowance; every deadline
/// fired in turn) to its end, checking after every step that nothing is discarded past the
/// cap. Returns the bytes discarded.
fn discard_everything_allowed(policy: Policy, queued: u32) -> Result<u64, TestCaseError> {
    let cap = u64::from(policy.discard_cap());
    let mut machine = CloseMachine::new(policy);
    let mut now = Instant::ZERO;
    let mut left = queued;
    machine.close(now).expect("close from Open");
    for _ in 0..10_000 {
        while let Some(action) = machine.poll_action() {
            let answers = match action {
                Action::QuerySendQueue => vec![Event::SendQueue { unacked: 0 }],
                Action::Discard { max_bytes } => {
                    let read = left.min(max_bytes);
                    left -= read;
                    let mut answers = vec![];
                    if read > 0 {
                        answers.push(Event::Read(read));
                    }
                    if read < max_bytes {
                        answers.push(Event::ReadBlocked);
                    }
                    answers
                }
                _ => vec![],
            };
            for answer in answers {
                prop_assert_eq!(machine.handle(answer, now), Ok(()), "{}", answer);
                let discarded = machine.stats().bytes_discarded;
                prop_assert!(discarded <= cap, "{} discarded, cap {}", discarded, cap);
            }
        }
        let Some(deadline) = machine.poll_timeout() else {
            return Ok(machine.stats().bytes_discarded);
        };
        now = now.max(deadline);
        machine.handle_timeout(now);
    }
    Err(TestCaseError::fail("the close never ended"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn every_round_reads_what_is_left_of_the_cap_and_no_more(
        cap in 0u32..2_000,
        reads_per_wakeup in 1u32..500,
        queued in 0u32..4_000,
    ) {
        let policy = Policy::builder()
            .discard_cap(cap)
            .reads_per_wakeup(reads_per_wakeup)
            .build()
            .expect("valid policy");
        let discarded = discard_everything_allowed(policy, queued)?;
        prop_assert_eq!(discarded, u64::from(cap.min(queued)));
    }
}

/// How a close ended, without the figures the reference does not track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Clean,
    AckedPeerOpen,
    TimedOut,
    ResetByPeer,
    Aborted,
    Failed,
}

/// What the harness does to the machine: the application's intents, writes, and the things a
/// truthful driver reports (acks arriving, the peer's EOF, errors, time passing).
#[derive(Clone, Copy, Debug)]
enum Input {
    Intent(Intent),
    Wrote(u64),
    /// Everything written so far (and the FIN, once sent) is acknowledged; the socket
    /// becomes readable (an ACK carrying a window update).
    AcksArrive,
    PeerEof,
    Reset,
    Failed,
    /// The driver fires every deadline until none is left.
    TimePasses,
}

/// The documented contract of `CloseMachine`, as a reference model: the state table of
/// `docs/transitions.md`, the refusals of [`Error`], and the endings of [`Ending`].
#[derive(Clone, Debug)]
struct Contract {
    policy: Policy,
    state: State,
    /// `close` was accepted: the machine owns the reads and its timers run.
    lingering: bool,
    written: u64,
    /// The harness reports an empty send queue.
    acked: bool,
    peer_eof: bool,
    end: Option<(End, Release)>,
    /// What the last input should have returned.
    expected: Result<(), Error>,
}

impl Contract {
    fn not_allowed(&mut self, intent: Intent) {
        self.expected = Err(Error::NotAllowed {
            intent,
            state: self.state,
        });
    }

    fn finish(&mut self, end: End, release: Release) {
        self.state = State::Closed;
        self.end = Some((end, release));
    }

    /// What follows from what the machine knows: lingering and all acked → `Draining`;
    /// lingering in `Draining` → closed once the peer closed, or at once if the policy does
    /// not wait.
    fn settle(&mut self) {
        // The harness answers every query at once, and a lingering machine queries on
        // `close` and on readability, so it then knows what the harness knows. A half-closed
        // machine does not ask before `close`.
        if self.state == State::WriteShut && self.acked && self.lingering {
            self.state = State::Draining;
        }
        if self.state == State::Draining && self.lingering {
            if self.peer_eof {
                self.finish(End::Clean, Release::Close);
            } else if !self.policy.wait_for_peer_eof() {
                self.finish(End::AckedPeerOpen, Release::Close);
            }
        }
    }
}

impl ReferenceStateMachine for Contract {
    type State = Contract;
    type Transition = Input;

    fn init_state() -> BoxedStrategy<Contract> {
        policies()
            .prop_map(|policy| Contract {
                policy,
                state: if policy.nagle() == NagleMode::CorkWhileAssembling {
                    State::Corked
                } else {
                    State::Open
                },
                lingering: false,
                written: 0,
                acked: false,
                peer_eof: false,
                end: None,
                expected: Ok(()),
            })
            .boxed()
    }

    fn transitions(_: &Contract) -> BoxedStrategy<Input> {
        prop_oneof![
            3 => intents().prop_map(Input::Intent),
            2 => (1u64..100_000).prop_map(Input::Wrote),
            2 => Just(Input::AcksArrive),
            1 => Just(Input::PeerEof),
            1 => Just(Input::Reset),
            1 => Just(Input::Failed),
            2 => Just(Input::TimePasses),
        ]
        .boxed()
    }

    fn apply(mut contract: Contract, input: &Input) -> Contract {
        use State::*;
        contract.expected = Ok(());
        if let Input::Wrote(_) = input {
            contract.acked = false;
        }
        if let Input::AcksArrive = input {
            contract.acked = true;
        }
        if contract.state == Closed {
            if !matches!(input, Input::TimePasses) {
                contract.expected = Err(Error::Closed);
            }
            return contract;
        }
        match *input {
            Input::Intent(intent) => match (contract.state, intent) {
                (_, Intent::Abort) => contract.finish(End::Aborted, Release::Abort),
                (Open, Intent::Cork) => contract.state = Corked,
                (Corked, Intent::Uncork) => contract.state = Open,
                (Open | Corked, Intent::Flush) => {}
                (Open | Corked, Intent::ShutdownWrite) => contract.state = WriteShut,
                (Open | Corked, Intent::Close) => {
                    contract.state = WriteShut;
                    contract.lingering = true;
                }
                (WriteShut | Draining, Intent::Close) if !contract.lingering => {
                    contract.lingering = true;
                }
                (WriteShut | Draining, Intent::ShortenBudget(_)) if contract.lingering => {}
                // A machine made by `new` follows no life: the application's word on it
                // changes nothing.
                (_, Intent::Hold | Intent::Answered | Intent::Upgrade | Intent::HoldsRequests) => {}
                _ => contract.not_allowed(intent),
            },
            Input::Wrote(bytes) => match contract.state {
                Open | Corked => contract.written += bytes,
                _ => contract.expected = Err(Error::WriteAfterShutdown),
            },
            Input::AcksArrive => {}
            Input::PeerEof => contract.peer_eof = true,
            Input::Reset => contract.finish(End::ResetByPeer, Release::Close),
            Input::Failed => contract.finish(End::Failed, Release::Close),
            Input::TimePasses => {
                if contract.lingering {
                    let end = if contract.state == Draining {
                        End::AckedPeerOpen
                    } else {
                        End::TimedOut
                    };
                    let release = match contract.policy.on_budget_spent() {
                        OnBudgetSpent::Abort => Release::Abort,
                        _ => Release::Close,
                    };
                    contract.finish(end, release);
                }
            }
        }
        if contract.state != Closed {
            contract.settle();
        }
        contract
    }
}

/// The machine under test, driven truthfully: every action polled and answered at once.
struct Harness {
    machine: CloseMachine,
    now: Instant,
}

impl Harness {
    fn answer_actions(&mut self, contract: &Contract) {
        while let Some(action) = self.machine.poll_action() {
            let event = match action {
                Action::QuerySendQueue => Event::SendQueue {
                    unacked: if contract.acked {
                        0
                    } else {
                        u32::try_from(contract.written + 1).unwrap_or(u32::MAX)
                    },
                },
                Action::Discard { .. } if contract.peer_eof => Event::PeerEof,
                Action::Discard { .. } => Event::ReadBlocked,
                _ => continue,
            };
            let answer = self.machine.handle(event, self.now);
            assert_eq!(answer, Ok(()), "a truthful answer to {action} was refused");
        }
    }
}

impl StateMachineTest for Harness {
    type SystemUnderTest = Harness;
    type Reference = Contract;

    fn init_test(contract: &Contract) -> Harness {
        let mut harness = Harness {
            machine: CloseMachine::new(contract.policy),
            now: Instant::ZERO,
        };
        harness.answer_actions(contract);
        harness
    }

    fn apply(mut harness: Harness, contract: &Contract, input: Input) -> Harness {
        let now = harness.now;
        let machine = &mut harness.machine;
        let result = match input {
            Input::Intent(Intent::Cork) => machine.cork(),
            Input::Intent(Intent::Uncork) => machine.uncork(),
            Input::Intent(Intent::Flush) => machine.flush(),
            Input::Intent(Intent::ShutdownWrite) => machine.shutdown_write(now),
            Input::Intent(Intent::Close) => machine.close(now),
            Input::Intent(Intent::Abort) => machine.abort(now),
            Input::Intent(Intent::ShortenBudget(budget)) => machine.shorten_budget(now, budget),
            Input::Intent(Intent::Hold) => machine.hold(now),
            Input::Intent(Intent::Answered) => machine.answered(now),
            Input::Intent(Intent::Upgrade) => machine.upgrade(now),
            Input::Intent(Intent::HoldsRequests) => machine.holds_requests(now),
            Input::Wrote(bytes) => machine.handle(Event::Wrote(bytes), now),
            Input::AcksArrive => machine.handle(Event::Readable, now),
            Input::PeerEof => machine.handle(Event::PeerEof, now),
            Input::Reset => machine.handle(Event::Reset, now),
            Input::Failed => machine.handle(Event::Failed, now),
            Input::TimePasses => Ok(()),
        };
        assert_eq!(result, contract.expected, "the machine answered {input:?}");
        harness.answer_actions(contract);
        if let Input::TimePasses = input {
            for _ in 0..10_000 {
                let Some(deadline) = harness.machine.poll_timeout() else {
                    break;
                };
                harness.now = harness.now.max(deadline);
                harness.machine.handle_timeout(harness.now);
                harness.answer_actions(contract);
            }
        }
        harness
    }

    fn check_invariants(harness: &Harness, contract: &Contract) {
        let machine = &harness.machine;
        assert_eq!(machine.state(), contract.state, "state");
        assert_eq!(
            machine.stats().bytes_written,
            Some(contract.written),
            "bytes written"
        );
        assert_eq!(
            machine.is_lingering(),
            contract.lingering && contract.state != State::Closed
        );
        let end = machine.outcome().map(|outcome| {
            let end = match outcome.ending {
                Ending::Clean => End::Clean,
                Ending::AckedPeerOpen => End::AckedPeerOpen,
                Ending::TimedOut { .. } => End::TimedOut,
                Ending::ResetByPeer { .. } => End::ResetByPeer,
                Ending::Aborted { .. } => End::Aborted,
                _ => End::Failed,
            };
            (end, outcome.release)
        });
        assert_eq!(end, contract.end, "ending");
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn the_machine_follows_its_documented_contract(sequential 1..40 => Harness);
}
