//! Which lingering close gives way first when a lingerer runs short: the rules the lingerers
//! of linger-mio and linger-tokio share.
//!
//! A lingerer holds at most its capacity. Past three quarters of it, each new close shortens
//! the close that gives way first to the short linger (Apache's); at the capacity, each new
//! close *reclaims* it: ends it at once, as if its budget had run out ([`relief`]). When
//! `accept` fails for want of descriptors, the accept loop reclaims a batch the same way, as
//! nginx's `ngx_drain_connections` does ([`reclaim_batch`]), and retries.
//!
//! The order ([`GiveWay`]): first the closes with nothing left to deliver, then those whose
//! peer reads nothing, then those still delivering to a peer that reads; the oldest first
//! within each ([`Standing`]). docs/design.md has the measurement behind it.
//!
//! Live connections (a machine made by [`CloseMachine::accepted`]) give way before any
//! lingering close, and only those that cost nothing or are hostile ([`LiveStanding`]):
//! waiting for their first byte (the oldest first), idle after their answer (the oldest
//! first), sending below the minimum pace since our last write (the slowest
//! first), a write the peer has held back; never one the application works on or writes to
//! at a pace, nor a peer that sent its request at a pace and waits for the answer.
//! [`rank`] orders them across every lingerer of a process.

use linger::{Activity, CloseMachine, Instant, Life, Policy, State};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a lingering close still has to deliver, in the order closes give way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    /// Every byte and our FIN acknowledged: only the peer's EOF is awaited. Ending it now
    /// takes nothing from the peer's kernel (a flood's uploader that never reads, once our
    /// short answer is in its receive buffer, stands here).
    Delivered,
    /// Bytes unacknowledged, and none acknowledged for [`STALLED_AFTER`]: the peer reads
    /// nothing (a zero window), so waiting longer delivers nothing either.
    Unread,
    /// Bytes unacknowledged and the peer acknowledging them, or no figure to tell: an honest
    /// peer still reading, whose answer is lost if the close ends now. It gives way last.
    Delivering,
}

/// How long a send queue must stand still before its peer counts as reading nothing: five
/// times the longest interval between two queries (200 ms, Linux's `TCP_RTO_MIN`), so a
/// peer that acknowledges anything once per round trip on any real path never looks
/// stalled, while the kernel's first filling of a zero-window peer's buffer is long over.
pub const STALLED_AFTER: Duration = Duration::from_secs(1);

/// What a lingering close has shown of its peer, to judge its [`Standing`]: the last
/// send-queue figure, and when it last moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    last_unacked: Option<u32>,
    moved_at: Option<Instant>,
}

impl Progress {
    /// The close's standing at `now`, from its `machine`. A close whose figure is new, or
    /// moved less than [`STALLED_AFTER`] ago, is taken for delivering.
    pub fn standing(&mut self, machine: &CloseMachine, now: Instant) -> Standing {
        if matches!(machine.state(), State::Draining | State::Closed) {
            return Standing::Delivered;
        }
        let Some(unacked) = machine.stats().unacked else {
            return Standing::Delivering;
        };
        if unacked == 0 {
            return Standing::Delivered;
        }
        if self.last_unacked != Some(unacked) {
            self.last_unacked = Some(unacked);
            self.moved_at = Some(now);
        }
        let still_for = self
            .moved_at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        if still_for >= STALLED_AFTER {
            Standing::Unread
        } else {
            Standing::Delivering
        }
    }
}

/// Where a live connection stands in the order connections give way, before every lingering
/// close; a live connection with no standing never gives way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LiveStanding {
    /// Nothing read or written since it was accepted: it costs nothing to end (nginx's
    /// reusable connections). The oldest first.
    AwaitingFirstByte,
    /// Its answer is out and it waits for the peer's next request, which an HTTP client
    /// sends again on a new connection (nginx reclaims keep-alive connections too). The
    /// oldest first, as nginx drains its reusable connections: a connection that went idle
    /// mid-handshake (TLS waits for the client's last flight) or between a new client's first
    /// two requests must not pay for a flood's idlers. A connection taken over for another
    /// protocol ([`Activity::Upgraded`]) never stands here, nor does a streamed answer the
    /// server holds ([`CloseMachine::hold`]).
    Idle,
    /// Sending, since our last write, slower than the policy's minimum pace, its quiet
    /// spells included (a peer that trickles bytes further apart than the grace, which no
    /// guard ends, stands here): the slowest first.
    Slow {
        /// The pace its request has arrived at so far.
        bytes_per_second: u64,
    },
    /// The application's write waits for room and the peer has read nothing for
    /// [`STALLED_AFTER`]: answering it holds a descriptor for nothing. The oldest first.
    Stalled,
}

/// Where the live connection whose machine says `life` stands at `now` under `policy`;
/// `None` when it must not give way: the application works on it, or it sends or reads at a
/// pace. A request the application says is still arriving ([`Life::arriving`]) gives way
/// with the slow whatever its pace, where the policy has one.
pub fn live_standing(life: &Life, policy: &Policy, now: Instant) -> Option<LiveStanding> {
    match life.activity {
        Activity::AwaitingFirstByte => Some(LiveStanding::AwaitingFirstByte),
        Activity::Idle => Some(LiveStanding::Idle),
        // A request still arriving, by the application's word: it costs the peer a resend
        // of a request not yet worked on. The slowest first, by its pace since its first
        // byte, the wait for the next included: one that came in a burst a moment ago (a
        // TLS ClientHello, a head in one segment) is fast, one that came in a burst and
        // stopped short slows down with every second.
        Activity::Receiving if life.arriving => {
            policy.min_receive_rate()?;
            let micros = (now - life.since).as_micros().max(1);
            let pace = u128::from(life.received) * 1_000_000 / micros;
            Some(LiveStanding::Slow {
                bytes_per_second: u64::try_from(pace).unwrap_or(u64::MAX),
            })
        }
        // Sending since our last write slower than the minimum pace, quiet spells and all: a
        // peer that trickles bytes further apart than the grace, which no guard ends, gives
        // way here.
        Activity::Receiving | Activity::Working => {
            let rate = policy.min_receive_rate()?;
            life.below(rate).then(|| LiveStanding::Slow {
                bytes_per_second: life.pace().unwrap_or(0),
            })
        }
        Activity::Responding | Activity::Upgraded if life.write_blocked => {
            (now.saturating_duration_since(life.since) >= STALLED_AFTER)
                .then_some(LiveStanding::Stalled)
        }
        Activity::Responding | Activity::Upgraded => None,
    }
}

/// `standing`, unless the connection awaits its first byte and bytes (or the peer's EOF)
/// wait in `socket`'s receive queue already: that is no silent connection, only one the
/// application has not read yet (under load its task may not have run since the accept), and
/// it must not give way before its request is even read. One `poll` with no wait, and only
/// for a connection awaiting its first byte: drivers ask it of the connection about to give
/// way, not of every one.
pub fn unless_unread(
    standing: Option<LiveStanding>,
    socket: &impl crate::AsSocket,
) -> Option<LiveStanding> {
    match standing {
        Some(LiveStanding::AwaitingFirstByte)
            if crate::sys::wait_readable(socket, Duration::ZERO) =>
        {
            None
        }
        other => other,
    }
}

/// How long a connection just accepted is spared while it awaits its first byte: its request
/// may still be on its way. A client writes it right after the handshake, but a loaded
/// client, or a loaded server's read, takes its time, and ending the connection then loses a
/// request a well-behaved client has sent.
pub const REQUEST_EN_ROUTE: Duration = Duration::from_millis(250);

/// Whether a live connection of `rank` may give way at `now` (microseconds on the clock of
/// [`since_start`]): any with a standing, but one awaiting its first byte only once it was
/// accepted [`REQUEST_EN_ROUTE`] ago.
pub fn may_give_way(rank: u64, now: u64) -> bool {
    rank != u64::MAX && gives_way_from(rank) <= now
}

/// From when a live connection of `rank` may give way, on the clock of [`since_start`]: at
/// once (0), [`REQUEST_EN_ROUTE`] after its accept while it awaits its first byte, never
/// (`u64::MAX`) without a standing. What an accept that found none to reclaim waits for, at
/// most.
pub fn gives_way_from(rank: u64) -> u64 {
    let en_route = u64::try_from(REQUEST_EN_ROUTE.as_micros()).unwrap_or(u64::MAX);
    match rank {
        u64::MAX => u64::MAX,
        // Class 0 (awaiting its first byte), keyed by its accept time.
        accepted if accepted < CLASS => accepted.saturating_add(en_route),
        _ => 0,
    }
}

/// `at` in microseconds on one clock for the whole process (from the first call), the
/// accept time [`rank`] wants.
pub fn since_start(at: std::time::Instant) -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| at);
    u64::try_from(at.saturating_duration_since(start).as_micros()).unwrap_or(u64::MAX)
}

/// The first rank of the second class: a rank's class is its top bits, its key the rest.
const CLASS: u64 = 1 << 61;

/// A number that orders live connections across a process: lower gives way first, and
/// `u64::MAX` (no standing) never does. `accepted` is when the connection was accepted, in
/// microseconds on one clock shared by every connection ranked together.
pub fn rank(standing: Option<LiveStanding>, accepted: u64) -> u64 {
    const KEY: u64 = CLASS - 1;
    let (class, key) = match standing {
        None => return u64::MAX,
        Some(LiveStanding::AwaitingFirstByte) => (0, accepted),
        Some(LiveStanding::Idle) => (1, accepted),
        Some(LiveStanding::Slow { bytes_per_second }) => (2, bytes_per_second),
        Some(LiveStanding::Stalled) => (3, accepted),
    };
    class * CLASS + key.min(KEY)
}

/// What a lingerer holding `held` closes of `capacity` does before it takes one more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relief {
    /// Past three quarters: give the close that gives way first the short linger.
    Shorten,
    /// At the capacity: end the close that gives way first now, to make room.
    Reclaim,
}

/// The pressure rule: [`Relief::Reclaim`] at `capacity`, [`Relief::Shorten`] past three
/// quarters of it, nothing below.
pub fn relief(held: usize, capacity: usize) -> Option<Relief> {
    if held >= capacity {
        Some(Relief::Reclaim)
    } else if held >= capacity - capacity / 4 {
        Some(Relief::Shorten)
    } else {
        None
    }
}

/// How many closes to reclaim when `accept` failed for want of descriptors, of `held`:
/// nginx's batch (`ngx_drain_connections`), an eighth of them, at least one, at most 32.
/// Each reclaimed close frees one descriptor, so one batch lets that many accepts through.
pub fn reclaim_batch(held: usize) -> usize {
    (held / 8).clamp(1, 32)
}

/// Ends `machine`'s close now as its policy says for a spent budget: a plain close, or a
/// reset over data still unread or when the policy says abort; a reset if even that cannot
/// end it. What a lingerer does to a close it reclaims, or to one it can no longer wait for
/// (a future dropped, a runtime shutting down), after one last round of discarding what
/// the peer sent since the last one.
pub fn spend_budget(machine: &mut CloseMachine, now: Instant) {
    if machine.state() != State::Closed {
        let _ = machine.shorten_budget(now, Duration::ZERO);
        machine.handle_timeout(now);
    }
    if machine.state() != State::Closed {
        let _ = machine.abort(now);
    }
}

/// The closes of one lingerer in the order they give way: by [`Standing`], then by age.
/// Each close is named by a number that grows with its age (when the lingerer took it).
#[derive(Debug)]
pub struct GiveWay<T> {
    /// Not shortened yet: what pressure shortens next.
    full: BTreeMap<(Standing, u64), T>,
    /// Given the short linger already.
    shortened: BTreeMap<(Standing, u64), T>,
}

impl<T> Default for GiveWay<T> {
    fn default() -> Self {
        GiveWay {
            full: BTreeMap::new(),
            shortened: BTreeMap::new(),
        }
    }
}

impl<T> GiveWay<T> {
    /// Closes held.
    pub fn len(&self) -> usize {
        self.full.len() + self.shortened.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the close numbered `number`, standing `standing`, not shortened.
    pub fn insert(&mut self, number: u64, standing: Standing, close: T) {
        self.full.insert((standing, number), close);
    }

    /// Takes the close numbered `number` as shortened already (a shutdown asked for it).
    pub fn insert_shortened(&mut self, number: u64, standing: Standing, close: T) {
        self.shortened.insert((standing, number), close);
    }

    /// The close `number` now stands `to` instead of `from`; nothing if it is not held.
    pub fn restand(&mut self, number: u64, from: Standing, to: Standing) {
        if from == to {
            return;
        }
        for queue in [&mut self.full, &mut self.shortened] {
            if let Some(close) = queue.remove(&(from, number)) {
                queue.insert((to, number), close);
                return;
            }
        }
    }

    /// Lets go of the close `number`, standing `standing` (it ended).
    pub fn remove(&mut self, number: u64, standing: Standing) -> Option<T> {
        let key = (standing, number);
        self.full
            .remove(&key)
            .or_else(|| self.shortened.remove(&key))
    }

    /// The close pressure shortens next, the first not shortened yet, now counted as
    /// shortened; `None` if every close is.
    pub fn shorten_next(&mut self) -> Option<&T> {
        let (key, close) = self.full.pop_first()?;
        Some(self.shortened.entry(key).or_insert(close))
    }

    /// Takes the close that gives way first, shortened or not, with its number: the one to
    /// reclaim.
    pub fn pop_next(&mut self) -> Option<(u64, T)> {
        let first_full = self.full.first_key_value().map(|(key, _)| *key);
        let first_shortened = self.shortened.first_key_value().map(|(key, _)| *key);
        let queue = match (first_full, first_shortened) {
            (Some(full), Some(shortened)) if shortened < full => &mut self.shortened,
            (Some(_), _) => &mut self.full,
            (None, _) => &mut self.shortened,
        };
        queue
            .pop_first()
            .map(|((_, number), close)| (number, close))
    }

    /// Counts every close as shortened (a shutdown asked them all) and visits each.
    pub fn shorten_all(&mut self) -> impl Iterator<Item = &T> {
        self.shortened.append(&mut self.full);
        self.shortened.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linger::{Action, Event, Instant, Policy};

    /// A machine closing at 0 after `written` bytes, its first actions not yet performed.
    fn closing(written: u64) -> CloseMachine {
        let mut machine = CloseMachine::new(Policy::default());
        let start = Instant::from_millis(0);
        machine.handle(Event::Wrote(written), start).expect("wrote");
        machine.close(start).expect("close");
        machine
    }

    /// Performs the queued actions at `now`, the send queue reading `unacked`.
    fn answer(machine: &mut CloseMachine, unacked: u32, now: Instant) {
        while let Some(action) = machine.poll_action() {
            let event = match action {
                Action::QuerySendQueue => Event::SendQueue { unacked },
                Action::Discard { .. } => Event::ReadBlocked,
                _ => continue,
            };
            machine.handle(event, now).expect("a consistent report");
        }
    }

    /// Lets time run to the next deadline, the next query of the send queue.
    fn next_query(machine: &mut CloseMachine) -> Instant {
        let at = machine
            .poll_timeout()
            .expect("a lingering close has a deadline");
        machine.handle_timeout(at);
        at
    }

    #[test]
    fn a_send_queue_still_for_a_second_reads_nothing_and_one_that_moves_is_delivering() {
        let mut machine = closing(1000);
        let mut progress = Progress::default();
        let start = Instant::from_millis(0);
        answer(&mut machine, 1001, start);
        assert_eq!(progress.standing(&machine, start), Standing::Delivering);
        let mut now = start;
        while now < start + STALLED_AFTER {
            assert_eq!(progress.standing(&machine, now), Standing::Delivering);
            now = next_query(&mut machine);
            answer(&mut machine, 1001, now);
        }
        assert_eq!(progress.standing(&machine, now), Standing::Unread);
        // The peer reads again: the figure moves.
        let now = next_query(&mut machine);
        answer(&mut machine, 400, now);
        assert_eq!(progress.standing(&machine, now), Standing::Delivering);
        let now = next_query(&mut machine);
        answer(&mut machine, 0, now);
        assert_eq!(machine.state(), State::Draining);
        assert_eq!(progress.standing(&machine, now), Standing::Delivered);
    }

    #[test]
    fn a_spent_budget_closes_plainly_when_nothing_is_unread_and_resets_over_unread_data() {
        let now = Instant::from_millis(10);
        let mut drained = closing(1000);
        answer(&mut drained, 1001, Instant::from_millis(0));
        spend_budget(&mut drained, now);
        let ending = drained.outcome().expect("ended");
        assert_eq!(
            ending.ending,
            linger::Ending::TimedOut {
                unacked: Some(1001)
            }
        );
        assert_eq!(ending.release, linger::Release::Close);
        let mut unread = closing(1000);
        spend_budget(&mut unread, now);
        let reset = unread.outcome().expect("ended");
        assert_eq!(
            reset.release,
            linger::Release::Abort,
            "its first discard round never ran"
        );
        let mut open = CloseMachine::new(Policy::default());
        spend_budget(&mut open, now);
        assert_eq!(
            open.outcome().map(|o| o.release),
            Some(linger::Release::Abort)
        );
    }

    /// An accepted machine at 0 after `events`, each at its instant, the deadlines before
    /// each fired.
    fn live(events: &[(linger::Event, u64)]) -> CloseMachine {
        let mut machine = CloseMachine::accepted(Policy::default(), Instant::ZERO);
        for &(event, at) in events {
            let at = Instant::from_millis(at);
            machine.handle_timeout(at);
            machine.handle(event, at).expect("a live event");
        }
        machine
    }

    fn standing_at(machine: &CloseMachine, at: u64) -> Option<LiveStanding> {
        let life = machine.life().expect("live");
        live_standing(&life, machine.policy(), Instant::from_millis(at))
    }

    #[test]
    fn a_live_connection_gives_way_only_if_it_costs_nothing_or_is_hostile() {
        use linger::Event::{Read, ReadPending, WritePending, Wrote};
        let silent = live(&[]);
        assert_eq!(
            standing_at(&silent, 10),
            Some(LiveStanding::AwaitingFirstByte)
        );
        let request = live(&[(Read(300), 0), (ReadPending, 0)]);
        assert_eq!(
            standing_at(&request, 10_000),
            None,
            "a whole request, being worked on"
        );
        let slowloris = live(&[(Read(16), 0), (ReadPending, 0), (Read(1), 5_000)]);
        assert_eq!(
            standing_at(&slowloris, 5_000),
            Some(LiveStanding::Slow {
                bytes_per_second: 3
            })
        );
        let upload = live(&[(Read(20_000), 0), (ReadPending, 0), (Read(20_000), 1_000)]);
        // A byte every 25 s, further apart than the grace: no guard ends it, pressure does.
        let patient = live(&[(Read(16), 0), (ReadPending, 0), (Read(1), 25_000)]);
        assert_eq!(
            standing_at(&patient, 25_000),
            Some(LiveStanding::Slow {
                bytes_per_second: 0
            })
        );
        assert_eq!(standing_at(&upload, 1_000), None, "20 KB/s is a pace");
        let answering = live(&[(Read(300), 0), (Wrote(1_000), 1)]);
        assert_eq!(standing_at(&answering, 10_000), None);
        let idle = live(&[(Read(300), 0), (Wrote(1_000), 1), (ReadPending, 1)]);
        assert_eq!(standing_at(&idle, 10), Some(LiveStanding::Idle));
        let blocked = live(&[(Read(300), 0), (Wrote(1_000), 1), (WritePending, 1)]);
        assert_eq!(standing_at(&blocked, 500), None, "held back a moment only");
        assert_eq!(standing_at(&blocked, 1_001), Some(LiveStanding::Stalled));
    }

    #[test]
    fn a_request_the_application_says_is_still_arriving_gives_way_with_the_slow() {
        use linger::Event::{Read, ReadPending};
        let mut head = CloseMachine::accepted(Policy::default(), Instant::ZERO);
        head.holds_requests(Instant::ZERO).expect("holds requests");
        for event in [Read(16), ReadPending] {
            head.handle(event, Instant::ZERO).expect("a live event");
        }
        assert_eq!(
            standing_at(&head, 1),
            Some(LiveStanding::Slow {
                bytes_per_second: 16_000
            }),
            "a head in one burst a moment ago"
        );
        assert_eq!(
            standing_at(&head, 2),
            Some(LiveStanding::Slow {
                bytes_per_second: 8_000
            }),
            "a head that stopped short slows down as it waits"
        );
        head.hold(Instant::from_millis(3)).expect("hold");
        assert_eq!(standing_at(&head, 4), None, "held: worked on");
        let mut unguarded = CloseMachine::accepted(Policy::default().unguarded(), Instant::ZERO);
        unguarded
            .holds_requests(Instant::ZERO)
            .expect("holds requests");
        unguarded.handle(Read(16), Instant::ZERO).expect("read");
        assert_eq!(standing_at(&unguarded, 1), None, "no pace to fall short of");
    }

    #[test]
    fn live_connections_rank_silent_then_idle_oldest_first_then_slowest_then_stalled() {
        let ranked = [
            rank(Some(LiveStanding::AwaitingFirstByte), 5),
            rank(Some(LiveStanding::AwaitingFirstByte), 9),
            rank(Some(LiveStanding::Idle), 5),
            rank(Some(LiveStanding::Idle), 9),
            rank(
                Some(LiveStanding::Slow {
                    bytes_per_second: 2,
                }),
                1,
            ),
            rank(
                Some(LiveStanding::Slow {
                    bytes_per_second: 400,
                }),
                1,
            ),
            rank(Some(LiveStanding::Stalled), 1),
            rank(None, 0),
        ];
        assert!(
            ranked.windows(2).all(|pair| pair[0] < pair[1]),
            "{ranked:?}"
        );
        assert_eq!(rank(None, 0), u64::MAX);
        // The keys never reach into the next class, at either end of the clock.
        let edges = [
            rank(Some(LiveStanding::AwaitingFirstByte), u64::MAX),
            rank(Some(LiveStanding::Idle), 0),
            rank(Some(LiveStanding::Idle), u64::MAX),
            rank(
                Some(LiveStanding::Slow {
                    bytes_per_second: 0,
                }),
                0,
            ),
        ];
        assert!(edges.windows(2).all(|pair| pair[0] < pair[1]), "{edges:?}");
    }

    #[test]
    fn a_connection_awaiting_its_first_byte_gives_way_only_once_it_could_have_come() {
        let en_route = u64::try_from(REQUEST_EN_ROUTE.as_micros()).expect("micros");
        let accepted = 1_000_000;
        let silent = rank(Some(LiveStanding::AwaitingFirstByte), accepted);
        assert!(!may_give_way(silent, accepted));
        assert!(!may_give_way(silent, accepted + en_route - 1));
        assert!(may_give_way(silent, accepted + en_route));
        let idle = rank(Some(LiveStanding::Idle), accepted);
        assert!(
            may_give_way(idle, accepted),
            "only the first byte is en route"
        );
        let first_idle = rank(Some(LiveStanding::Idle), 0);
        assert!(may_give_way(first_idle, 0), "the first rank of its class");
        assert_eq!(gives_way_from(silent), accepted + en_route);
        assert_eq!(gives_way_from(idle), 0);
        assert_eq!(gives_way_from(rank(None, 0)), u64::MAX);
        let slow = rank(
            Some(LiveStanding::Slow {
                bytes_per_second: 1,
            }),
            accepted,
        );
        assert!(
            may_give_way(slow, accepted),
            "the slow are slow from the first"
        );
        assert!(!may_give_way(rank(None, 0), u64::MAX));
    }

    #[test]
    fn accept_times_read_on_one_clock_in_microseconds() {
        let first = std::time::Instant::now();
        let later = first + Duration::from_millis(3);
        let first = since_start(first);
        assert_eq!(since_start(later) - first, 3_000);
    }

    #[test]
    fn without_a_figure_a_close_is_taken_for_delivering() {
        let machine = closing(1000);
        let later = Instant::from_millis(0) + STALLED_AFTER * 10;
        assert_eq!(
            Progress::default().standing(&machine, later),
            Standing::Delivering
        );
    }

    #[test]
    fn closes_give_way_by_standing_then_age() {
        let mut order = GiveWay::default();
        order.insert(1, Standing::Delivering, "slow reader");
        order.insert(2, Standing::Unread, "zero window");
        order.insert(3, Standing::Delivered, "uploader");
        order.insert(4, Standing::Delivered, "later uploader");
        order.restand(1, Standing::Delivering, Standing::Delivered);
        let popped: Vec<_> = std::iter::from_fn(|| order.pop_next()).collect();
        assert_eq!(
            popped,
            [
                (1, "slow reader"),
                (3, "uploader"),
                (4, "later uploader"),
                (2, "zero window")
            ]
        );
    }

    #[test]
    fn shortening_takes_each_close_once_and_reclaiming_takes_shortened_ones_in_order() {
        let mut order = GiveWay::default();
        order.insert(1, Standing::Delivering, 1);
        order.insert(2, Standing::Delivered, 2);
        assert_eq!(order.shorten_next(), Some(&2));
        assert_eq!(order.shorten_next(), Some(&1));
        assert_eq!(order.shorten_next(), None);
        order.insert(3, Standing::Unread, 3);
        assert_eq!(order.len(), 3);
        assert_eq!(order.pop_next(), Some((2, 2)));
        assert_eq!(order.pop_next(), Some((3, 3)), "unread before delivering");
        assert_eq!(order.remove(1, Standing::Delivering), Some(1));
        assert!(order.is_empty());
    }

    #[test]
    fn a_shutdown_shortens_every_close() {
        let mut order = GiveWay::default();
        order.insert(1, Standing::Delivering, 1);
        order.insert_shortened(2, Standing::Unread, 2);
        let asked: Vec<_> = order.shorten_all().copied().collect();
        assert_eq!(asked, [2, 1]);
        assert_eq!(order.shorten_next(), None);
    }

    #[test]
    fn pressure_shortens_past_three_quarters_and_reclaims_at_the_capacity() {
        assert_eq!(relief(2, 4), None);
        assert_eq!(relief(3, 4), Some(Relief::Shorten));
        assert_eq!(relief(4, 4), Some(Relief::Reclaim));
        assert_eq!(relief(383, 512), None);
        assert_eq!(relief(384, 512), Some(Relief::Shorten));
        assert_eq!((relief(0, 1), relief(1, 1)), (None, Some(Relief::Reclaim)));
    }

    #[test]
    fn the_reclaim_batch_is_an_eighth_within_one_and_32() {
        assert_eq!(reclaim_batch(0), 1);
        assert_eq!(reclaim_batch(7), 1);
        assert_eq!(reclaim_batch(80), 10);
        assert_eq!(reclaim_batch(256), 32);
        assert_eq!(reclaim_batch(10_000), 32);
    }

    #[test]
    fn a_connection_whose_first_bytes_wait_unread_does_not_stand_as_silent() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let mut client =
            std::net::TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        let silent = Some(LiveStanding::AwaitingFirstByte);
        assert_eq!(unless_unread(silent, &accepted), silent, "nothing sent yet");
        client.write_all(b"GET / HTTP/1.1\r\n").expect("write");
        assert!(crate::sys::wait_readable(&accepted, Duration::from_secs(5)));
        assert_eq!(unless_unread(silent, &accepted), None, "its request waits");
        let idle = Some(LiveStanding::Idle);
        assert_eq!(
            unless_unread(idle, &accepted),
            idle,
            "only the first byte's wait"
        );
    }
}
