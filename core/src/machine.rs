//! [`CloseMachine`]: its fields, and its API in four groups (getters, inputs, intents,
//! outputs). Every state change lives in [`transitions`].

#[cfg(test)]
mod tests;
mod transitions;

use crate::action::{ActionQueue, Queued};
use crate::life::Live;
use crate::timer::TimerTable;
use crate::{Action, Error, Event, Instant, Intent, NagleMode, Outcome, Policy, State, Stats};
use crate::{Ending, Guard, Life, Release};
use core::time::Duration;
/// A sans-IO lingering close of one TCP connection.
///
/// The machine never touches a socket or a clock. The application tells it what it wants
/// (*intents*), the driver tells it what the socket did (*events*) and what time it is, and
/// the machine answers with [`Action`]s to perform and the next deadline.
///
/// # The loop
///
/// After **every** input (an intent, [`handle`](Self::handle) or
/// [`handle_timeout`](Self::handle_timeout)):
///
/// 1. call [`poll_action`](Self::poll_action) until it returns `None`, performing each action
///    and feeding its result back with [`handle`](Self::handle) before polling the next;
/// 2. call [`poll_timeout`](Self::poll_timeout) and arrange to call
///    [`handle_timeout`](Self::handle_timeout) at that instant (earlier or extra calls are
///    harmless);
/// 3. when the poller reports the socket readable, [`handle`](Self::handle)
///    [`Event::Readable`].
///
/// Once [`state`](Self::state) is [`State::Closed`] and the last action is polled,
/// [`outcome`](Self::outcome) says how the close ended.
///
/// # Methods
///
/// - getters: [`state`](Self::state), [`policy`](Self::policy), [`stats`](Self::stats),
///   [`outcome`](Self::outcome), [`is_lingering`](Self::is_lingering),
///   [`wants_read`](Self::wants_read), [`life`](Self::life), [`ended_by`](Self::ended_by);
/// - inputs: [`handle`](Self::handle), [`handle_timeout`](Self::handle_timeout);
/// - intents: [`cork`](Self::cork), [`uncork`](Self::uncork), [`flush`](Self::flush),
///   [`shutdown_write`](Self::shutdown_write), [`close`](Self::close), [`abort`](Self::abort),
///   [`shorten_budget`](Self::shorten_budget), and before the close [`hold`](Self::hold),
///   [`answered`](Self::answered), [`upgrade`](Self::upgrade);
/// - outputs: [`poll_action`](Self::poll_action), [`poll_timeout`](Self::poll_timeout).
///
/// An input that makes no sense, or contradicts what the machine knows, returns an
/// [`Error`] and leaves the machine exactly as it was.
///
/// # Example: a whole close, by hand
///
/// ```
/// use linger::{Action, CloseMachine, Ending, Event, Instant, Policy, State};
///
/// let mut machine = CloseMachine::new(Policy::default());
/// let t0 = Instant::from_millis(0);
/// machine.handle(Event::Wrote(1000), t0)?;
///
/// machine.close(t0)?;
/// assert_eq!(machine.poll_action(), Some(Action::ShutdownWrite));
/// assert_eq!(machine.poll_action(), Some(Action::QuerySendQueue));
/// machine.handle(Event::SendQueue { unacked: 1001 }, t0)?; // 1000 bytes + FIN in flight
/// assert_eq!(machine.poll_action(), Some(Action::Discard { max_bytes: 65536 }));
/// machine.handle(Event::Read(120), t0)?; // the peer was still sending: thrown away
/// machine.handle(Event::ReadBlocked, t0)?;
/// assert_eq!(machine.poll_action(), None);
///
/// // The machine asks again when its adaptive poll timer fires.
/// let t1 = machine.poll_timeout().expect("waiting for acks");
/// machine.handle_timeout(t1);
/// assert_eq!(machine.poll_action(), Some(Action::QuerySendQueue));
/// machine.handle(Event::SendQueue { unacked: 0 }, t1)?; // data and FIN acknowledged
/// assert_eq!(machine.state(), State::Draining);
///
/// // The peer closes its side: nothing is lost, nothing is reset.
/// let t2 = Instant::from_millis(3);
/// machine.handle(Event::Readable, t2)?;
/// assert_eq!(machine.poll_action(), Some(Action::Discard { max_bytes: 65536 }));
/// machine.handle(Event::PeerEof, t2)?;
/// assert_eq!(machine.poll_action(), Some(Action::Close));
/// assert_eq!(machine.poll_action(), None);
///
/// let outcome = machine.outcome().expect("closed");
/// assert_eq!(outcome.ending, Ending::Clean);
/// assert!(outcome.claims_delivery());
/// assert_eq!((outcome.bytes_written, outcome.bytes_discarded), (Some(1000), 120));
/// # Ok::<(), linger::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseMachine {
    policy: Policy,
    state: State,
    phase: Phase,
    /// The peer's EOF arrived.
    peer_eof: bool,
    /// The socket was reported readable and has not been drained since: closing now would
    /// make the kernel send RST.
    rx_pending: bool,
    /// A `QuerySendQueue` was issued and not yet answered.
    query_outstanding: bool,
    /// Every write since the connection opened was reported to this machine, so
    /// `bytes_written + 1` bounds the send queue.
    history_known: bool,
    acks: Acks,
    /// Bytes the current `Discard` round may still read; zero when no round is under way.
    discard_allowance: u32,
    /// The current send-queue polling interval, in microseconds.
    poll_interval_us: u32,
    /// `bytes_written` counts every byte written on the connection (false: the socket was
    /// written before the machine saw it, by an amount nobody could tell).
    writes_counted: bool,
    bytes_written: u64,
    /// At most the discard cap, a `u32`.
    bytes_discarded: u32,
    last_query: Instant,
    /// Before the close, on a machine made by [`accepted`](CloseMachine::accepted): what the
    /// live connection is doing. `None` otherwise.
    live: Option<Live>,
    /// The guard that ended the live connection, if one did.
    ended_by: Option<Guard>,
    timers: TimerTable,
    queue: ActionQueue,
}

/// Who owns the reads, and the clock of the close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Phase {
    /// `close` not called yet: reads belong to the application; no linger timers.
    Active,
    /// `close` was called at `since`: the machine discards reads; the linger timers run.
    Lingering { since: Instant },
    /// Closed. The unacked figure and the peer's EOF are frozen in the machine's fields.
    Ended {
        end: End,
        release: Release,
        elapsed_us: u64,
    },
}

/// How the machine reached `Closed`; [`CloseMachine::outcome`] adds the frozen figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum End {
    Clean,
    AckedPeerOpen,
    TimedOut,
    ResetByPeer,
    Aborted,
    Failed,
    Unknown,
}

/// What the machine knows about acknowledgements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Acks {
    /// No send-queue figure yet.
    Unqueried,
    /// The last figure: bytes (FIN included) not yet acknowledged.
    Unacked(u32),
    /// Every data byte acknowledged; whether our FIN was, the platform cannot tell.
    DataAcked,
    /// The platform cannot tell.
    Unobservable,
}

impl Acks {
    const fn figure(self) -> Option<u32> {
        match self {
            Acks::Unacked(unacked) => Some(unacked),
            Acks::Unqueried | Acks::DataAcked | Acks::Unobservable => None,
        }
    }

    /// Nothing more to learn: everything acknowledged, or all the platform can tell of it.
    const fn settled(self) -> bool {
        matches!(self, Acks::Unacked(0) | Acks::DataAcked)
    }
}

impl CloseMachine {
    /// A machine for a connection that has just been established: every later write must be
    /// reported with [`Event::Wrote`]. Queues the socket options the policy's
    /// [`NagleMode`] asks for.
    pub fn new(policy: Policy) -> CloseMachine {
        let mut machine = CloseMachine {
            policy,
            state: State::Open,
            phase: Phase::Active,
            peer_eof: false,
            rx_pending: false,
            query_outstanding: false,
            history_known: true,
            acks: Acks::Unqueried,
            discard_allowance: 0,
            poll_interval_us: 0,
            writes_counted: true,
            bytes_written: 0,
            bytes_discarded: 0,
            last_query: Instant::ZERO,
            live: None,
            ended_by: None,
            timers: TimerTable::new(),
            queue: ActionQueue::new(),
        };
        match policy.nagle() {
            NagleMode::KernelDefault => {}
            NagleMode::NoDelay => machine.queue = ActionQueue::only(Queued::NodelayOn),
            NagleMode::CorkWhileAssembling => {
                machine.state = State::Corked;
                machine.queue = ActionQueue::only(Queued::CorkOn);
            }
        }
        machine
    }

    /// A machine for a connection accepted at `now` whose driver reports the application's
    /// every read ([`Event::Read`], [`Event::PeerEof`], [`Event::ReadPending`]) and write
    /// ([`Event::Wrote`], [`Event::WritePending`]): besides the close, it follows the
    /// connection's life ([`life`](Self::life)) and guards it as the policy says. A
    /// connection that never finishes a request (silent, trickling, idle past the keep-alive
    /// timeout, never reading our answer) is ended with a lingering close, as if the
    /// application had called [`close`](Self::close); [`ended_by`](Self::ended_by) says
    /// which guard ended it, and the driver stops giving the application reads and writes.
    ///
    /// ```
    /// use linger::{Action, Activity, CloseMachine, Guard, Instant, Policy, State};
    ///
    /// let accepted = Instant::from_millis(0);
    /// let mut machine = CloseMachine::accepted(Policy::default(), accepted);
    /// assert_eq!(machine.life().map(|life| life.activity), Some(Activity::AwaitingFirstByte));
    /// // The peer sends nothing: at the first-byte timeout, the guard closes.
    /// let deadline = machine.poll_timeout().expect("the first-byte guard");
    /// assert_eq!(deadline, accepted + Policy::DEFAULT_FIRST_BYTE_TIMEOUT);
    /// machine.handle_timeout(deadline);
    /// assert_eq!(machine.ended_by(), Some(Guard::FirstByte));
    /// assert_eq!(machine.state(), State::WriteShut);
    /// assert_eq!(machine.poll_action(), Some(Action::ShutdownWrite));
    /// ```
    pub fn accepted(policy: Policy, now: Instant) -> CloseMachine {
        let mut machine = CloseMachine::new(policy);
        machine.live = Some(Live::accepted(now));
        machine.arm_guard();
        machine
    }

    /// A machine for a socket that was written to before the machine saw it, such as one
    /// handed over just to be closed. Send-queue figures can then only be checked for
    /// shrinking, and the outcome's [`bytes_written`](Outcome::bytes_written) is `None`:
    /// nobody counted the earlier writes. Prefer [`adopt_written`](Self::adopt_written)
    /// where the kernel can tell.
    pub fn adopt(policy: Policy) -> CloseMachine {
        CloseMachine {
            history_known: false,
            writes_counted: false,
            ..CloseMachine::new(policy)
        }
    }

    /// As [`adopt`](Self::adopt), for a socket on which the kernel reports that
    /// `bytes_written` bytes were written before the handover (Linux: `tcp_info`'s bytes
    /// sent, less retransmissions, plus those not sent yet). Later writes add to it.
    ///
    /// ```
    /// use linger::{CloseMachine, Instant, Policy};
    ///
    /// let mut machine = CloseMachine::adopt_written(Policy::default(), 3 << 20);
    /// machine.abort(Instant::ZERO)?;
    /// assert_eq!(machine.outcome().and_then(|o| o.bytes_written), Some(3 << 20));
    /// # Ok::<(), linger::Error>(())
    /// ```
    pub fn adopt_written(policy: Policy, bytes_written: u64) -> CloseMachine {
        CloseMachine {
            writes_counted: true,
            bytes_written,
            ..CloseMachine::adopt(policy)
        }
    }

    // ---- getters --------------------------------------------------------------------------

    /// Where the machine is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The policy it follows.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether [`close`](Self::close) was called and the socket is not released yet: the
    /// machine owns the reads and the linger timers run.
    pub fn is_lingering(&self) -> bool {
        matches!(self.phase, Phase::Lingering { .. })
    }

    /// Whether a readable socket would be read now. Level-triggered pollers (`poll(2)`,
    /// `select`) should watch readability only then: after the peer's EOF, or once the
    /// discard cap is reached, a socket stays readable and would wake them forever.
    pub fn wants_read(&self) -> bool {
        self.is_lingering() && self.may_discard()
    }

    /// What the live connection is doing, on a machine made by
    /// [`accepted`](Self::accepted), until its close begins; `None` otherwise.
    pub fn life(&self) -> Option<Life> {
        self.live
            .filter(|_| !self.is_lingering() && self.state != State::Closed)
            .map(Live::snapshot)
    }

    /// The guard that ended the live connection ([`accepted`](Self::accepted)), if one did.
    pub fn ended_by(&self) -> Option<Guard> {
        self.ended_by
    }

    /// The running figures.
    pub fn stats(&self) -> Stats {
        Stats {
            bytes_written: self.written(),
            bytes_discarded: self.bytes_discarded.into(),
            unacked: self.acks.figure(),
            peer_eof: self.peer_eof,
        }
    }

    /// [`Outcome::bytes_written`]: the count, if it covers every write.
    fn written(&self) -> Option<u64> {
        self.writes_counted.then_some(self.bytes_written)
    }

    /// How the close ended, once the machine is [`State::Closed`].
    pub fn outcome(&self) -> Option<Outcome> {
        let Phase::Ended {
            end,
            release,
            elapsed_us,
        } = self.phase
        else {
            return None;
        };
        let unacked = self.acks.figure();
        let fin_unseen = self.acks == Acks::DataAcked;
        let ending = match end {
            End::Clean | End::AckedPeerOpen if fin_unseen => Ending::DataAcked {
                peer_eof: self.peer_eof,
            },
            End::Clean => Ending::Clean,
            End::AckedPeerOpen => Ending::AckedPeerOpen,
            End::TimedOut => Ending::TimedOut { unacked },
            End::ResetByPeer => Ending::ResetByPeer { unacked },
            End::Aborted => Ending::Aborted { unacked },
            End::Failed => Ending::Failed { unacked },
            End::Unknown => Ending::Unknown {
                peer_eof: self.peer_eof,
            },
        };
        Some(Outcome {
            ending,
            release,
            bytes_written: self.written(),
            bytes_discarded: self.bytes_discarded.into(),
            elapsed: Duration::from_micros(elapsed_us),
        })
    }

    // ---- inputs ---------------------------------------------------------------------------

    /// Feeds what the driver observed at `now`.
    pub fn handle(&mut self, event: Event, now: Instant) -> Result<(), Error> {
        self.transaction(|machine| machine.on_event(event, now))
    }

    /// Fires every timer due at or before `now`. Calls before a deadline, or after
    /// `Closed`, do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in crate::timer::Timer::ALL {
            if self
                .timers
                .get(timer)
                .is_some_and(|deadline| deadline <= now)
            {
                self.on_timeout(timer, now);
            }
        }
    }

    // ---- intents --------------------------------------------------------------------------

    /// Holds partial segments (`TCP_CORK`) while a response is assembled.
    pub fn cork(&mut self) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::Cork, None))
    }

    /// Releases held segments and returns to the policy's Nagle mode.
    pub fn uncork(&mut self) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::Uncork, None))
    }

    /// Pushes out any partial segment now, staying corked (or in Nagle mode) afterwards.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::Flush, None))
    }

    /// Half-closes: uncorks and sends our FIN, while reads keep going to the application.
    /// Call [`close`](Self::close) when done reading; the acknowledgements are watched from
    /// then on, so a half-close costs the driver only the `shutdown` itself.
    pub fn shutdown_write(&mut self, now: Instant) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::ShutdownWrite, Some(now)))
    }

    /// Closes gracefully: uncork, shut down writing, discard what the peer sends, wait until
    /// everything is acknowledged and (per policy) for the peer's EOF, then release, all
    /// within the policy's budget.
    pub fn close(&mut self, now: Instant) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::Close, Some(now)))
    }

    /// Resets the connection now, from any state but `Closed`, even while lingering.
    pub fn abort(&mut self, now: Instant) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::Abort, Some(now)))
    }

    /// Under pressure (too many sockets lingering, or the server stopping), gives this close
    /// at most `budget` more from `now`, as Apache's short linger does; never extends it.
    /// Only while lingering.
    pub fn shorten_budget(&mut self, now: Instant, budget: Duration) -> Result<(), Error> {
        let intent = Intent::ShortenBudget(budget);
        self.transaction(|machine| machine.on_intent(intent, Some(now)))
    }

    /// Before the close, on a machine made by [`accepted`](Self::accepted): the application
    /// holds a request it works on, from the moment it has it until its answer ends
    /// ([`answered`](Self::answered)); one per request in flight (HTTP/2 streams). While it
    /// holds any, the connection is working: no guard ends it and it never counts as idle,
    /// whatever its bytes say, except a peer that keeps sending below the minimum pace (a
    /// body trickled) and a write the peer leaves unread past the send timeout. What the
    /// bytes alone cannot tell (an answer streamed with long pauses, an HTTP/2 stream in
    /// flight after an answer on another) a server that says it never has cut. Nothing on a
    /// machine that follows no life; refused once closed.
    pub fn hold(&mut self, now: Instant) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::Hold, Some(now)))
    }

    /// The answer to a request [held](Self::hold) is out. Refused without one held.
    pub fn answered(&mut self, now: Instant) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::Answered, Some(now)))
    }

    /// Before the close, on a machine made by [`accepted`](Self::accepted): the application
    /// took the connection over for another protocol (an HTTP upgrade, a WebSocket), which
    /// the request guards know nothing of. From now on only the send timeout guards it, and
    /// it never gives way as idle or slow; a quiet WebSocket is never cut. Nothing on a
    /// machine that follows no life; refused once closed.
    pub fn upgrade(&mut self, now: Instant) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::Upgrade, Some(now)))
    }

    /// Before the close, on a machine made by [`accepted`](Self::accepted): from now on the
    /// application [holds](Self::hold) every request it works on from the moment it has it
    /// (linger-tokio's `HoldRequests` does). A request it does not hold is then one still
    /// arriving, which tells what the bytes alone cannot: a peer that sends part of a request
    /// and goes quiet is no longer taken for one whose request is being worked on. The pace
    /// guard counts its quiet spells as the peer's and ends it once its credit runs out (the
    /// grace and what its bytes bought), and under pressure it gives way with the slow.
    /// Nothing on a machine that follows no life; refused once closed.
    pub fn holds_requests(&mut self, now: Instant) -> Result<(), Error> {
        self.transaction(|machine| machine.on_intent(Intent::HoldsRequests, Some(now)))
    }

    // ---- outputs --------------------------------------------------------------------------

    /// The next action to perform, in order; `None` when there is nothing to do until the
    /// next input.
    pub fn poll_action(&mut self) -> Option<Action> {
        loop {
            return Some(match self.queue.pop()? {
                Queued::CorkOn => Action::SetCork(true),
                Queued::CorkOff => Action::SetCork(false),
                Queued::NodelayOn => Action::SetNodelay(true),
                Queued::NodelayOff => Action::SetNodelay(false),
                Queued::ShutdownWrite => Action::ShutdownWrite,
                Queued::QuerySendQueue => Action::QuerySendQueue,
                // A round that ended before it was polled (EOF, say) needs no action.
                Queued::Discard if self.discard_allowance == 0 => continue,
                Queued::Discard => Action::Discard {
                    max_bytes: self.discard_allowance,
                },
                Queued::Close => Action::Close,
                Queued::Abort => Action::Abort,
            });
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` when no timer runs.
    /// At the instant returned, `handle_timeout` always has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Runs `step` on a copy and keeps the copy only if `step` succeeds, so a refused input
    /// changes nothing.
    fn transaction(
        &mut self,
        step: impl FnOnce(&mut CloseMachine) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut next = self.clone();
        step(&mut next)?;
        *self = next;
        Ok(())
    }
}
