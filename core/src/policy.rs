//! How a connection lingers (timeouts, caps, polling, Nagle control) and how its life before
//! the close is guarded (the first byte, the pace of a request, keep-alive idling, a blocked
//! write).
//!
//! Every default names its source; `docs/design.md` explains each choice.

use core::time::Duration;

/// How writes are pushed onto the wire while the connection is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum NagleMode {
    /// Leave Nagle's algorithm as the kernel set it (on).
    #[default]
    KernelDefault,
    /// `TCP_NODELAY`: every write goes out at once.
    NoDelay,
    /// Start corked (`TCP_CORK`): partial segments wait until `flush`, `uncork` or `close`.
    CorkWhileAssembling,
}

/// What to do with the socket when the linger budget or the idle timeout runs out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum OnBudgetSpent {
    /// A plain `close()`: the kernel keeps retransmitting what is left on its own.
    #[default]
    Close,
    /// `SO_LINGER {1, 0}` + `close()`: send RST and free the kernel's buffers now
    /// (nginx `reset_timedout_connection on`).
    Abort,
}

/// A knob of [`Policy`], named in [`PolicyError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Knob {
    /// [`PolicyBuilder::idle_timeout`]
    IdleTimeout,
    /// [`PolicyBuilder::linger_budget`]
    LingerBudget,
    /// [`PolicyBuilder::poll_interval`] (the minimum)
    PollMin,
    /// [`PolicyBuilder::poll_interval`] (the maximum)
    PollMax,
    /// [`PolicyBuilder::reads_per_wakeup`]
    ReadsPerWakeup,
    /// [`PolicyBuilder::first_byte_timeout`]
    FirstByteTimeout,
    /// [`PolicyBuilder::min_receive_rate`] (the bytes per second)
    ReceiveRate,
    /// [`PolicyBuilder::min_receive_rate`] (the grace)
    ReceiveGrace,
    /// [`PolicyBuilder::keep_alive_timeout`]
    KeepAliveTimeout,
    /// [`PolicyBuilder::send_timeout`]
    SendTimeout,
}

/// The slowest pace a peer may send a request at: Apache `mod_reqtimeout`'s `MinRate`. A
/// request (the bytes the peer sends between two of our answers) may take `grace`, and each
/// byte received buys `1 / bytes_per_second` more; a byte that arrives after that is proof
/// of a peer sending slower than the minimum, and ends the connection
/// ([`Guard::Pace`](crate::Guard::Pace)). A peer quiet for `grace` has said what it meant to
/// (the application works on it), and its next bytes start a new request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MinRate {
    /// The slowest pace allowed, in bytes per second.
    pub bytes_per_second: u32,
    /// The time a request may take before its pace counts.
    pub grace: Duration,
}

/// Why a [`PolicyBuilder`] refused to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A duration does not fit the policy's compact representation.
    #[error("{knob:?} is {given:?}, longer than the supported {max:?}")]
    TooLong {
        /// The knob that was set.
        knob: Knob,
        /// The value given.
        given: Duration,
        /// The longest value supported.
        max: Duration,
    },
    /// A value that must be positive was zero.
    #[error("{knob:?} must not be zero")]
    Zero {
        /// The knob that was set.
        knob: Knob,
    },
    /// The minimum polling interval exceeds the maximum.
    #[error("poll interval minimum {min:?} exceeds its maximum {max:?}")]
    PollRange {
        /// The minimum given.
        min: Duration,
        /// The maximum given.
        max: Duration,
    },
}

/// How a [`CloseMachine`](crate::CloseMachine) lingers, and how it guards a connection's life
/// before the close. `Copy`, 48 bytes.
///
/// Build one with [`Policy::builder`]; [`Policy::default`] is nginx's lingering close, with
/// guards from nginx and Apache httpd (see the `DEFAULT_*` constants). The guards act only
/// on a machine made with [`CloseMachine::accepted`](crate::CloseMachine::accepted), whose
/// driver reports the application's every read and write.
///
/// ```
/// use core::time::Duration;
/// use linger::{OnBudgetSpent, Policy};
///
/// let policy = Policy::builder()
///     .linger_budget(Duration::from_secs(10))
///     .on_budget_spent(OnBudgetSpent::Abort)
///     .build()?;
/// assert_eq!(policy.idle_timeout(), Duration::from_secs(5));
/// # Ok::<(), linger::PolicyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    idle_timeout_ms: u32,
    linger_budget_ms: u32,
    poll_min_us: u32,
    poll_max_us: u32,
    discard_cap: u32,
    reads_per_wakeup: u32,
    on_budget_spent: OnBudgetSpent,
    wait_for_peer_eof: bool,
    nagle: NagleMode,
    /// 0: no guard.
    first_byte_ms: u32,
    /// 0: no guard.
    receive_rate: u32,
    receive_grace_ms: u32,
    /// 0: no guard.
    keep_alive_ms: u32,
    /// 0: no guard.
    send_ms: u32,
}

impl Policy {
    /// nginx `lingering_timeout`: give up after 5 s without progress.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
    /// nginx `lingering_time` and Apache httpd's `MAX_SECS_TO_LINGER`: 30 s in all.
    pub const DEFAULT_LINGER_BUDGET: Duration = Duration::from_secs(30);
    /// Discard at most 1 GiB. An HTTP client that uploads its whole body before it reads
    /// the early answer (Python `requests`) must have every byte discarded, or the close
    /// resets it; nginx and Apache bound a lingering close by time alone. The cap bounds
    /// what one flooding peer can cost within the budget (about 0.3 s of CPU per GiB here,
    /// docs/performance.md).
    pub const DEFAULT_DISCARD_CAP: u32 = 1 << 30;
    /// Read at most 64 KiB per wake-up (16 of nginx's 4 KiB lingering reads), so one
    /// flooding peer cannot starve the event loop.
    pub const DEFAULT_READS_PER_WAKEUP: u32 = 64 << 10;
    /// First send-queue re-query 1 ms after the last one: below any real round trip.
    pub const DEFAULT_POLL_MIN: Duration = Duration::from_millis(1);
    /// Back off to at most 200 ms, Linux's minimum retransmission timeout (`TCP_RTO_MIN`):
    /// a queue that has not moved for that long waits for a retransmission anyway.
    pub const DEFAULT_POLL_MAX: Duration = Duration::from_millis(200);

    /// Apache httpd `mod_reqtimeout`'s `header=20`: a connection that has sent nothing 20 s
    /// after it was accepted is ended (nginx `client_header_timeout` 60 s, hyper's
    /// `header_read_timeout` 30 s).
    pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(20);
    /// Apache httpd `mod_reqtimeout`'s `MinRate=500` with its 20 s (`header=20`, `body=20`):
    /// a request that arrives slower than 500 bytes a second, once its 20 s are over, is ended.
    pub const DEFAULT_MIN_RECEIVE_RATE: MinRate = MinRate {
        bytes_per_second: 500,
        grace: Duration::from_secs(20),
    };
    /// nginx `keepalive_timeout` 75 s: a connection whose answer is out and whose peer sends
    /// nothing more for 75 s is ended.
    pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(75);
    /// nginx `send_timeout` 60 s: a write that the peer's window holds back for 60 s without
    /// any progress ends the connection.
    pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);

    /// Apache httpd's short linger (`SECONDS_TO_LINGER`, 2 s): what a driver under overload
    /// or stopping gives a close, with [`Policy::short`] or
    /// [`CloseMachine::shorten_budget`](crate::CloseMachine::shorten_budget).
    pub const SHORT_LINGER: Duration = Duration::from_secs(2);

    /// Apache httpd's short linger ([`Policy::SHORT_LINGER`]), used under overload or while
    /// stopping: everything else as [`Policy::default`].
    pub const fn short() -> Policy {
        let mut policy = Policy::DEFAULT;
        policy.idle_timeout_ms = Policy::SHORT_LINGER.as_millis() as u32;
        policy.linger_budget_ms = Policy::SHORT_LINGER.as_millis() as u32;
        policy
    }

    const DEFAULT: Policy = Policy {
        idle_timeout_ms: Policy::DEFAULT_IDLE_TIMEOUT.as_millis() as u32,
        linger_budget_ms: Policy::DEFAULT_LINGER_BUDGET.as_millis() as u32,
        poll_min_us: Policy::DEFAULT_POLL_MIN.as_micros() as u32,
        poll_max_us: Policy::DEFAULT_POLL_MAX.as_micros() as u32,
        discard_cap: Policy::DEFAULT_DISCARD_CAP,
        reads_per_wakeup: Policy::DEFAULT_READS_PER_WAKEUP,
        on_budget_spent: OnBudgetSpent::Close,
        wait_for_peer_eof: true,
        nagle: NagleMode::KernelDefault,
        first_byte_ms: Policy::DEFAULT_FIRST_BYTE_TIMEOUT.as_millis() as u32,
        receive_rate: Policy::DEFAULT_MIN_RECEIVE_RATE.bytes_per_second,
        receive_grace_ms: Policy::DEFAULT_MIN_RECEIVE_RATE.grace.as_millis() as u32,
        keep_alive_ms: Policy::DEFAULT_KEEP_ALIVE_TIMEOUT.as_millis() as u32,
        send_ms: Policy::DEFAULT_SEND_TIMEOUT.as_millis() as u32,
    };

    /// A builder starting from [`Policy::default`].
    pub const fn builder() -> PolicyBuilder {
        PolicyBuilder {
            policy: Policy::DEFAULT,
            error: None,
        }
    }

    /// Give up after this long without progress (no byte read, no byte acknowledged).
    pub const fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms as u64)
    }

    /// Give up this long after `close`, whatever happens; incoming data does not extend it.
    pub const fn linger_budget(&self) -> Duration {
        Duration::from_millis(self.linger_budget_ms as u64)
    }

    /// The shortest and longest wait between two send-queue queries.
    pub const fn poll_interval(&self) -> (Duration, Duration) {
        (
            Duration::from_micros(self.poll_min_us as u64),
            Duration::from_micros(self.poll_max_us as u64),
        )
    }

    /// Stop reading after discarding this many bytes.
    pub const fn discard_cap(&self) -> u32 {
        self.discard_cap
    }

    /// Read at most this many bytes per wake-up before yielding to the event loop.
    pub const fn reads_per_wakeup(&self) -> u32 {
        self.reads_per_wakeup
    }

    /// What to do when the budget or the idle timeout runs out.
    pub const fn on_budget_spent(&self) -> OnBudgetSpent {
        self.on_budget_spent
    }

    /// Whether to keep waiting for the peer's EOF once everything is acknowledged.
    pub const fn wait_for_peer_eof(&self) -> bool {
        self.wait_for_peer_eof
    }

    /// How writes are pushed while the connection is open.
    pub const fn nagle(&self) -> NagleMode {
        self.nagle
    }

    /// End a connection that has sent nothing this long after it was accepted; `None`: never.
    pub const fn first_byte_timeout(&self) -> Option<Duration> {
        millis_or_off(self.first_byte_ms)
    }

    /// The slowest pace a peer may send a request at; `None`: any.
    pub const fn min_receive_rate(&self) -> Option<MinRate> {
        match self.receive_rate {
            0 => None,
            bytes_per_second => Some(MinRate {
                bytes_per_second,
                grace: Duration::from_millis(self.receive_grace_ms as u64),
            }),
        }
    }

    /// End a connection this long after its answer went out, if the application waits for
    /// the peer and the peer sends nothing more; `None`: never.
    pub const fn keep_alive_timeout(&self) -> Option<Duration> {
        millis_or_off(self.keep_alive_ms)
    }

    /// End a connection whose write the peer's window has held back this long without any
    /// progress; `None`: never.
    pub const fn send_timeout(&self) -> Option<Duration> {
        millis_or_off(self.send_ms)
    }

    /// This policy without any guard on the life before the close: only the close itself.
    pub const fn unguarded(mut self) -> Policy {
        self.first_byte_ms = 0;
        self.receive_rate = 0;
        self.keep_alive_ms = 0;
        self.send_ms = 0;
        self
    }
}

/// A duration in milliseconds, 0 standing for "no guard".
const fn millis_or_off(millis: u32) -> Option<Duration> {
    match millis {
        0 => None,
        millis => Some(Duration::from_millis(millis as u64)),
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::DEFAULT
    }
}

/// Builds a [`Policy`]; [`build`](PolicyBuilder::build) reports the first invalid setting.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct PolicyBuilder {
    policy: Policy,
    error: Option<PolicyError>,
}

impl PolicyBuilder {
    /// See [`Policy::idle_timeout`]. At most `u32::MAX` ms (49 days).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.policy.idle_timeout_ms = self.millis(Knob::IdleTimeout, timeout);
        self
    }

    /// See [`Policy::linger_budget`]. At most `u32::MAX` ms (49 days).
    pub fn linger_budget(mut self, budget: Duration) -> Self {
        self.policy.linger_budget_ms = self.millis(Knob::LingerBudget, budget);
        self
    }

    /// See [`Policy::poll_interval`]. Both positive, `min <= max`, at most `u32::MAX` µs
    /// (71 minutes).
    pub fn poll_interval(mut self, min: Duration, max: Duration) -> Self {
        self.policy.poll_min_us = self.micros(Knob::PollMin, min);
        self.policy.poll_max_us = self.micros(Knob::PollMax, max);
        if min.is_zero() {
            self.fail(PolicyError::Zero {
                knob: Knob::PollMin,
            });
        }
        if min > max {
            self.fail(PolicyError::PollRange { min, max });
        }
        self
    }

    /// See [`Policy::discard_cap`]. Zero means "never read": a peer that sends anything
    /// after our close is then aborted once our data is acknowledged.
    pub fn discard_cap(mut self, bytes: u32) -> Self {
        self.policy.discard_cap = bytes;
        self
    }

    /// See [`Policy::reads_per_wakeup`]. Must be positive.
    pub fn reads_per_wakeup(mut self, bytes: u32) -> Self {
        if bytes == 0 {
            self.fail(PolicyError::Zero {
                knob: Knob::ReadsPerWakeup,
            });
        }
        self.policy.reads_per_wakeup = bytes;
        self
    }

    /// See [`Policy::on_budget_spent`].
    pub fn on_budget_spent(mut self, action: OnBudgetSpent) -> Self {
        self.policy.on_budget_spent = action;
        self
    }

    /// See [`Policy::wait_for_peer_eof`].
    pub fn wait_for_peer_eof(mut self, wait: bool) -> Self {
        self.policy.wait_for_peer_eof = wait;
        self
    }

    /// See [`Policy::nagle`].
    pub fn nagle(mut self, mode: NagleMode) -> Self {
        self.policy.nagle = mode;
        self
    }

    /// See [`Policy::first_byte_timeout`]; `None` turns the guard off. Positive, at most
    /// `u32::MAX` ms.
    pub fn first_byte_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.policy.first_byte_ms = self.guard(Knob::FirstByteTimeout, timeout);
        self
    }

    /// See [`Policy::min_receive_rate`]; `None` turns the guard off. Both figures positive,
    /// the grace at most `u32::MAX` ms.
    pub fn min_receive_rate(mut self, rate: Option<MinRate>) -> Self {
        match rate {
            None => self.policy.receive_rate = 0,
            Some(MinRate {
                bytes_per_second,
                grace,
            }) => {
                if bytes_per_second == 0 {
                    self.fail(PolicyError::Zero {
                        knob: Knob::ReceiveRate,
                    });
                }
                self.policy.receive_rate = bytes_per_second;
                self.policy.receive_grace_ms = self.guard(Knob::ReceiveGrace, Some(grace));
            }
        }
        self
    }

    /// See [`Policy::keep_alive_timeout`]; `None` turns the guard off. Positive, at most
    /// `u32::MAX` ms.
    pub fn keep_alive_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.policy.keep_alive_ms = self.guard(Knob::KeepAliveTimeout, timeout);
        self
    }

    /// See [`Policy::send_timeout`]; `None` turns the guard off. Positive, at most
    /// `u32::MAX` ms.
    pub fn send_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.policy.send_ms = self.guard(Knob::SendTimeout, timeout);
        self
    }

    /// Turns every guard of the life before the close off: [`Policy::unguarded`].
    pub fn unguarded(mut self) -> Self {
        self.policy = self.policy.unguarded();
        self
    }

    /// The policy, or the first invalid setting.
    pub fn build(self) -> Result<Policy, PolicyError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.policy),
        }
    }

    fn fail(&mut self, error: PolicyError) {
        self.error.get_or_insert(error);
    }

    fn millis(&mut self, knob: Knob, given: Duration) -> u32 {
        u32::try_from(given.as_millis()).unwrap_or_else(|_| {
            let max = Duration::from_millis(u32::MAX.into());
            self.fail(PolicyError::TooLong { knob, given, max });
            u32::MAX
        })
    }

    /// A guard's duration in milliseconds, 0 for `None`; zero is refused (it would end every
    /// connection at once).
    fn guard(&mut self, knob: Knob, given: Option<Duration>) -> u32 {
        let Some(given) = given else {
            return 0;
        };
        if given < Duration::from_millis(1) {
            self.fail(PolicyError::Zero { knob });
            return 0;
        }
        self.millis(knob, given)
    }

    fn micros(&mut self, knob: Knob, given: Duration) -> u32 {
        u32::try_from(given.as_micros()).unwrap_or_else(|_| {
            let max = Duration::from_micros(u32::MAX.into());
            self.fail(PolicyError::TooLong { knob, given, max });
            u32::MAX
        })
    }
}

/// Valid policies only, with durations short enough (at most a minute) that fuzzed
/// sequences of timeouts reach every deadline.
#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Policy {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Policy> {
        let millis = |u: &mut arbitrary::Unstructured<'a>, max: u64| {
            u.int_in_range(0..=max).map(Duration::from_millis)
        };
        // Off, or 1 ms to a minute.
        let guard = |u: &mut arbitrary::Unstructured<'a>| -> arbitrary::Result<Option<Duration>> {
            match u.int_in_range(0..=60_000u64)? {
                0 => Ok(None),
                millis => Ok(Some(Duration::from_millis(millis))),
            }
        };
        let poll_min = Duration::from_micros(u.int_in_range(1..=50_000)?);
        let poll_max = poll_min + Duration::from_micros(u.int_in_range(0..=500_000)?);
        let policy = Policy::builder()
            .idle_timeout(millis(u, 10_000)?)
            .linger_budget(millis(u, 60_000)?)
            .poll_interval(poll_min, poll_max)
            .discard_cap(u.int_in_range(0..=1 << 20)?)
            .reads_per_wakeup(u.int_in_range(1..=1 << 16)?)
            .on_budget_spent(u.arbitrary()?)
            .wait_for_peer_eof(u.arbitrary()?)
            .nagle(u.arbitrary()?)
            .first_byte_timeout(guard(u)?)
            .min_receive_rate(match guard(u)? {
                Some(grace) => Some(MinRate {
                    bytes_per_second: u.int_in_range(1..=100_000)?,
                    grace,
                }),
                None => None,
            })
            .keep_alive_timeout(guard(u)?)
            .send_timeout(guard(u)?)
            .build();
        policy.map_err(|_| arbitrary::Error::IncorrectFormat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_nginx_lingering_close() {
        let policy = Policy::default();
        assert_eq!(policy.idle_timeout(), Duration::from_secs(5));
        assert_eq!(policy.linger_budget(), Duration::from_secs(30));
        assert_eq!(policy.on_budget_spent(), OnBudgetSpent::Close);
        assert!(policy.wait_for_peer_eof());
        assert_eq!(policy.nagle(), NagleMode::KernelDefault);
    }

    #[test]
    fn default_guards_are_apaches_and_nginxs() {
        let policy = Policy::default();
        assert_eq!(policy.first_byte_timeout(), Some(Duration::from_secs(20)));
        let rate = policy.min_receive_rate().expect("guarded");
        assert_eq!(
            (rate.bytes_per_second, rate.grace),
            (500, Duration::from_secs(20))
        );
        assert_eq!(policy.keep_alive_timeout(), Some(Duration::from_secs(75)));
        assert_eq!(policy.send_timeout(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn every_guard_can_be_changed_or_turned_off() {
        let rate = MinRate {
            bytes_per_second: 100,
            grace: Duration::from_secs(3),
        };
        let policy = Policy::builder()
            .first_byte_timeout(Some(Duration::from_secs(1)))
            .min_receive_rate(Some(rate))
            .keep_alive_timeout(None)
            .send_timeout(Some(Duration::from_secs(2)))
            .build()
            .expect("valid guards");
        assert_eq!(policy.first_byte_timeout(), Some(Duration::from_secs(1)));
        assert_eq!(policy.min_receive_rate(), Some(rate));
        assert_eq!(policy.keep_alive_timeout(), None);
        assert_eq!(policy.send_timeout(), Some(Duration::from_secs(2)));
        let off = Policy::builder().unguarded().build().expect("valid");
        assert_eq!(
            (
                off.first_byte_timeout(),
                off.min_receive_rate(),
                off.keep_alive_timeout(),
                off.send_timeout()
            ),
            (None, None, None, None)
        );
        assert_eq!(
            off.linger_budget(),
            Policy::DEFAULT_LINGER_BUDGET,
            "the close unchanged"
        );
    }

    #[test]
    fn a_guard_of_a_millisecond_is_the_shortest_taken() {
        let millisecond = Some(Duration::from_millis(1));
        let policy = Policy::builder().keep_alive_timeout(millisecond).build();
        assert_eq!(policy.map(|p| p.keep_alive_timeout()), Ok(millisecond));
        let shorter = Policy::builder().keep_alive_timeout(Some(Duration::from_micros(999)));
        assert_eq!(
            shorter.build(),
            Err(PolicyError::Zero {
                knob: Knob::KeepAliveTimeout
            })
        );
    }

    #[test]
    fn a_guard_of_zero_or_no_pace_is_refused() {
        assert_eq!(
            Policy::builder()
                .first_byte_timeout(Some(Duration::ZERO))
                .build(),
            Err(PolicyError::Zero {
                knob: Knob::FirstByteTimeout
            })
        );
        let never = MinRate {
            bytes_per_second: 0,
            grace: Duration::from_secs(1),
        };
        assert_eq!(
            Policy::builder().min_receive_rate(Some(never)).build(),
            Err(PolicyError::Zero {
                knob: Knob::ReceiveRate
            })
        );
    }

    #[test]
    fn short_policy_lingers_two_seconds() {
        let policy = Policy::short();
        assert_eq!(policy.linger_budget(), Duration::from_secs(2));
        assert_eq!(policy.idle_timeout(), Duration::from_secs(2));
    }

    #[test]
    fn builder_sets_every_knob() {
        let policy = Policy::builder()
            .idle_timeout(Duration::from_millis(1500))
            .linger_budget(Duration::from_secs(9))
            .poll_interval(Duration::from_micros(500), Duration::from_secs(1))
            .discard_cap(1024)
            .reads_per_wakeup(512)
            .on_budget_spent(OnBudgetSpent::Abort)
            .wait_for_peer_eof(false)
            .nagle(NagleMode::NoDelay)
            .build();
        let policy = policy.expect("valid policy");
        assert_eq!(policy.idle_timeout(), Duration::from_millis(1500));
        assert_eq!(policy.linger_budget(), Duration::from_secs(9));
        assert_eq!(
            policy.poll_interval(),
            (Duration::from_micros(500), Duration::from_secs(1))
        );
        assert_eq!(policy.discard_cap(), 1024);
        assert_eq!(policy.reads_per_wakeup(), 512);
        assert_eq!(policy.on_budget_spent(), OnBudgetSpent::Abort);
        assert!(!policy.wait_for_peer_eof());
        assert_eq!(policy.nagle(), NagleMode::NoDelay);
    }

    #[test]
    fn builder_accepts_a_fixed_poll_interval() {
        let second = Duration::from_secs(1);
        let policy = Policy::builder().poll_interval(second, second).build();
        let policy = policy.expect("min == max is a fixed interval");
        assert_eq!(policy.poll_interval(), (second, second));
    }

    #[test]
    fn builder_rejects_inverted_poll_range() {
        let error = Policy::builder()
            .poll_interval(Duration::from_secs(2), Duration::from_secs(1))
            .build();
        assert_eq!(
            error,
            Err(PolicyError::PollRange {
                min: Duration::from_secs(2),
                max: Duration::from_secs(1)
            })
        );
    }

    #[test]
    fn builder_rejects_zero_poll_interval_and_read_budget() {
        let zero = Duration::ZERO;
        assert_eq!(
            Policy::builder().poll_interval(zero, zero).build(),
            Err(PolicyError::Zero {
                knob: Knob::PollMin
            })
        );
        assert_eq!(
            Policy::builder().reads_per_wakeup(0).build(),
            Err(PolicyError::Zero {
                knob: Knob::ReadsPerWakeup
            })
        );
    }

    #[test]
    fn builder_rejects_durations_it_cannot_store() {
        let error = Policy::builder().linger_budget(Duration::MAX).build();
        assert!(matches!(
            error,
            Err(PolicyError::TooLong {
                knob: Knob::LingerBudget,
                ..
            })
        ));
    }

    #[test]
    fn builder_reports_the_first_error() {
        let error = Policy::builder()
            .reads_per_wakeup(0)
            .idle_timeout(Duration::MAX)
            .build();
        assert_eq!(
            error,
            Err(PolicyError::Zero {
                knob: Knob::ReadsPerWakeup
            })
        );
    }
}
