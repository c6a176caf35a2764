//! The life of a connection before its close: what it is doing, read off the bytes that go
//! each way, and the guards that end it when it never finishes a request.
//!
//! What a live connection is doing is [`Activity`]'s to say; the guards are [`Guard`].

use crate::{Instant, MinRate, Policy};
use core::fmt;
use core::time::Duration;

/// What a live connection is doing, as [`CloseMachine::life`](crate::CloseMachine::life)
/// reads it from the bytes going each way.
///
/// A driver that reports the application's every read and write (and when the application
/// waits to read or to write) lets the machine tell, without parsing the protocol, and so
/// beneath TLS as well:
///
/// | activity | what the bytes say |
/// |---|---|
/// | [`AwaitingFirstByte`](Activity::AwaitingFirstByte) | accepted, nothing read or written |
/// | [`Receiving`](Activity::Receiving) | the peer is sending: bytes arrived since our last write, the last within the grace |
/// | [`Working`](Activity::Working) | the peer has said what it meant to (it went quiet for the grace, or shut its side) and the application has not answered: it works on the request |
/// | [`Responding`](Activity::Responding) | the application wrote since the peer last sent, and does not wait to read, or its write waits for room |
/// | [`Idle`](Activity::Idle) | the application wrote and waits to read: its answer is out, the next request awaited |
/// | [`Upgraded`](Activity::Upgraded) | the application took the connection over for another protocol |
///
/// An application that says more than its bytes do
/// ([`hold`](crate::CloseMachine::hold) a request until its answer ends,
/// [`upgrade`](crate::CloseMachine::upgrade)) is taken at its word: a connection with a request
/// held is `Working`, or `Responding` while it writes, never `Idle`; and one that holds every
/// request it works on ([`holds_requests`](crate::CloseMachine::holds_requests)) answers none
/// before it has held one, so what it writes before (a TLS handshake's flight, a greeting)
/// leaves the first request awaited, or arriving, not `Idle`.
///
/// A read the application left pending stays pending while it writes: hyper polls a read
/// once, keeps it registered, and writes its answer without polling it again. So an answer
/// written while the application waits to read leaves the connection idle at once.
///
/// One thing the bytes cannot tell: a peer that sent part of a request and went quiet looks
/// like one whose whole request the application is working on, since an HTTP server keeps a
/// read pending while its handler runs (hyper does, to notice a client that hangs up). The
/// machine takes it for [`Working`](Activity::Working), which no guard ends, so an honest
/// slow handler is never cut; unless the application says it holds every request it works
/// on ([`holds_requests`](crate::CloseMachine::holds_requests)), and then a request it does
/// not hold is still arriving, and the pace guard ends it when its credit runs out.
/// docs/design.md says what that leaves to an application that does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Activity {
    /// Accepted, nothing read or written: waiting for the first byte of a request.
    AwaitingFirstByte,
    /// The peer is sending a request: bytes arrived since our last write, the last of them
    /// within the [grace](MinRate::grace).
    Receiving,
    /// The peer has said what it meant to and the application has not answered yet.
    Working,
    /// The application wrote since the peer last sent and does not wait to read, or its
    /// write waits for room.
    Responding,
    /// The application's answer is out and it waits for the peer's next request.
    Idle,
    /// The application took the connection over for another protocol
    /// ([`CloseMachine::upgrade`](crate::CloseMachine::upgrade)).
    Upgraded,
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activity::AwaitingFirstByte => "awaiting its first byte",
            Activity::Receiving => "receiving",
            Activity::Working => "working",
            Activity::Responding => "responding",
            Activity::Idle => "idle",
            Activity::Upgraded => "upgraded",
        })
    }
}

/// The guard that ended a live connection, from
/// [`CloseMachine::ended_by`](crate::CloseMachine::ended_by). Its close is a lingering close
/// like any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Guard {
    /// Nothing arrived within [`Policy::first_byte_timeout`] of the accept.
    FirstByte,
    /// A request arrived slower than [`Policy::min_receive_rate`].
    Pace,
    /// The answer was out and nothing more arrived within [`Policy::keep_alive_timeout`].
    KeepAlive,
    /// A write was held back without progress for [`Policy::send_timeout`].
    Send,
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Guard::FirstByte => "no first byte",
            Guard::Pace => "request below the minimum pace",
            Guard::KeepAlive => "idle past the keep-alive timeout",
            Guard::Send => "write held back past the send timeout",
        })
    }
}

/// What a live connection is doing and since when, from
/// [`CloseMachine::life`](crate::CloseMachine::life): what a lingerer ranks live connections
/// by when descriptors run short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Life {
    /// What it is doing.
    pub activity: Activity,
    /// When that began: the accept, the first byte of the request being received, the moment
    /// the application's write was held back (while responding), its last write (idle).
    pub since: Instant,
    /// Bytes the peer has sent since our last write (or the accept): what we have not
    /// answered, quiet spells and all.
    pub received: u32,
    /// The time the peer has taken to send them after the first: the time the application
    /// waited for its bytes; the time the application spent elsewhere (a handler reading the
    /// body at its own pace) is its own, not the peer's.
    pub peer_time: Duration,
    /// The application's write waits for room in the send buffer (the peer reads nothing).
    pub write_blocked: bool,
    /// While receiving, by the application's word
    /// ([`holds_requests`](crate::CloseMachine::holds_requests)), the peer's bytes are a
    /// request still arriving: the application holds none.
    pub arriving: bool,
}

impl Life {
    /// Whether what the peer has sent since our last write arrived slower than `rate`: it
    /// took longer to send its bytes than they buy at that rate, whatever quiet spells came
    /// between them. A request that came in one burst, however long ago, has not (its peer
    /// may just be waiting for the answer).
    pub fn below(&self, rate: MinRate) -> bool {
        self.peer_time > rate.allows(self.received)
    }

    /// The pace the peer's bytes since our last write arrived at, in bytes per second of
    /// its time; `None` for bytes that came in one burst.
    pub fn pace(&self) -> Option<u64> {
        let micros = u64::try_from(self.peer_time.as_micros()).unwrap_or(u64::MAX);
        (micros > 0).then(|| u64::from(self.received).saturating_mul(1_000_000) / micros)
    }
}

impl MinRate {
    /// How long `bytes` may take to arrive at this rate, the grace not included.
    pub fn allows(self, bytes: u32) -> Duration {
        let micros =
            u64::from(bytes).saturating_mul(1_000_000) / u64::from(self.bytes_per_second.max(1));
        Duration::from_micros(micros)
    }
}

/// Bytes from the peer, and the time it took to send them after the first (the time the
/// application waited for them), in microseconds; it stops counting at 71 minutes, which no
/// grace is near.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Tally {
    pub(crate) bytes: u32,
    pub(crate) peer_time_us: u32,
}

impl Tally {
    /// `bytes` more, after `waited` of the peer's time (not counted for the first bytes:
    /// before them the peer had nothing to send).
    pub(crate) fn add(&mut self, bytes: u32, waited: u32) {
        if self.bytes > 0 {
            self.peer_time_us = self.peer_time_us.saturating_add(waited);
        }
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

/// The machine's record of a live connection (see [`Life`]), and what it is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Live {
    pub(crate) activity: Activity,
    pub(crate) since: Instant,
    /// While receiving: the request, as its guard judges it; a quiet spell of the grace ends
    /// it.
    pub(crate) request: Tally,
    /// Everything the peer sent since our last write, as pressure ranks it.
    pub(crate) unanswered: Tally,
    /// Since when the application waits for the peer's bytes (`ReadPending`, no read
    /// since), in microseconds; `NOT_WAITING` if it does not. Its read stays pending while it
    /// writes.
    waiting_since_us: u64,
    /// The application's write waits for room (`WritePending`, no write since).
    pub(crate) write_blocked: bool,
    /// Requests the application holds ([`CloseMachine::hold`](crate::CloseMachine::hold)).
    pub(crate) held: u16,
    /// The application holds every request it works on
    /// ([`CloseMachine::holds_requests`](crate::CloseMachine::holds_requests)).
    pub(crate) holds_requests: bool,
    /// It has held a request. Before it has, while it holds every request it works on, its
    /// writes answer none: they are a TLS handshake's flight, or a greeting.
    pub(crate) held_one: bool,
}

impl Live {
    const NOT_WAITING: u64 = u64::MAX;

    /// A connection accepted at `now`.
    pub(crate) const fn accepted(now: Instant) -> Live {
        Live {
            activity: Activity::AwaitingFirstByte,
            since: now,
            request: Tally {
                bytes: 0,
                peer_time_us: 0,
            },
            unanswered: Tally {
                bytes: 0,
                peer_time_us: 0,
            },
            waiting_since_us: Live::NOT_WAITING,
            write_blocked: false,
            held: 0,
            holds_requests: false,
            held_one: false,
        }
    }

    /// By the application's word, its writes answer no request: it holds every request it
    /// works on and has held none yet, so the peer's first request is still to come, or
    /// still arriving (a TLS client's last flight and request, after the server's).
    pub(crate) fn first_request_to_come(&self) -> bool {
        self.holds_requests && !self.held_one
    }

    /// By the application's word, the peer's bytes are a request still arriving: it holds
    /// every request it works on, and none now.
    fn arriving(&self) -> bool {
        self.activity == Activity::Receiving && self.holds_requests && self.held == 0
    }

    /// Since when the application waits for the peer's bytes, if it does.
    pub(crate) fn waiting_since(&self) -> Option<Instant> {
        (self.waiting_since_us != Live::NOT_WAITING)
            .then(|| Instant::from_micros(self.waiting_since_us))
    }

    /// The application asked to read at `now` and nothing was there: it waits from then on,
    /// unless it already did.
    pub(crate) fn wait(&mut self, now: Instant) {
        if self.waiting_since_us == Live::NOT_WAITING {
            self.waiting_since_us = now.as_micros();
        }
    }

    /// The peer's EOF: nothing more to wait for.
    pub(crate) fn stop_waiting(&mut self) {
        self.waiting_since_us = Live::NOT_WAITING;
    }

    /// Now doing `activity`, since `now`.
    pub(crate) fn start(&mut self, activity: Activity, now: Instant) {
        self.activity = activity;
        self.since = now;
        self.request = Tally::default();
    }

    /// The application asked to read and got bytes at `now`: the time it waited for them is
    /// the peer's.
    pub(crate) fn take_peer_time(&mut self, now: Instant) -> u32 {
        let waited = self
            .waiting_since()
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        self.stop_waiting();
        u32::try_from(waited.as_micros()).unwrap_or(u32::MAX)
    }

    pub(crate) fn snapshot(self) -> Life {
        Life {
            activity: self.activity,
            since: self.since,
            received: self.unanswered.bytes,
            peer_time: Duration::from_micros(self.unanswered.peer_time_us.into()),
            write_blocked: self.write_blocked,
            arriving: self.arriving(),
        }
    }

    /// When the guard of the current activity acts under `policy`, and whether it ends the
    /// connection then (or only takes a request whose peer went quiet as said: `Working`).
    pub(crate) fn deadline(&self, policy: &Policy) -> Option<(Instant, Option<Guard>)> {
        match self.activity {
            Activity::AwaitingFirstByte => policy
                .first_byte_timeout()
                .map(|timeout| (self.since + timeout, Some(Guard::FirstByte))),
            // A request still arriving: its credit runs out while the application waits, and
            // a byte that came at that very instant would still have been in time.
            Activity::Receiving if self.arriving() => policy
                .min_receive_rate()
                .zip(self.waiting_since())
                .map(|(rate, waiting)| {
                    let spent = Duration::from_micros(self.request.peer_time_us.into());
                    let credit =
                        (rate.grace + rate.allows(self.request.bytes)).saturating_sub(spent);
                    (
                        waiting + credit + Duration::from_micros(1),
                        Some(Guard::Pace),
                    )
                }),
            // Quiet for the grace while the application waits for it: the peer said it all.
            Activity::Receiving => policy
                .min_receive_rate()
                .zip(self.waiting_since())
                .map(|(rate, waiting)| (waiting + rate.grace, None)),
            Activity::Working => None,
            Activity::Responding | Activity::Upgraded if self.write_blocked => policy
                .send_timeout()
                .map(|timeout| (self.since + timeout, Some(Guard::Send))),
            Activity::Responding | Activity::Upgraded => None,
            Activity::Idle => policy
                .keep_alive_timeout()
                .map(|timeout| (self.since + timeout, Some(Guard::KeepAlive))),
        }
    }

    /// Whether bytes arriving after `waited` more of the peer's time come past the
    /// request's credit: the grace, and what its bytes so far bought at the minimum rate.
    pub(crate) fn past_credit(&self, policy: &Policy, waited: u32) -> bool {
        let peer_time = self.request.peer_time_us.saturating_add(waited);
        policy.min_receive_rate().is_some_and(|rate| {
            Duration::from_micros(peer_time.into()) > rate.grace + rate.allows(self.request.bytes)
        })
    }
}
