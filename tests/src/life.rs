//! Exhaustive model checking of the life before the close: the guards of
//! `CloseMachine::accepted` against every way a peer can send, pause and read, and every way
//! an application (one that keeps a read pending while it works, as hyper does, or one that
//! does not; one that says which requests it holds, or one that does not) reads, works and
//! answers, over a bounded stretch of time.
//!
//! The world is small: one connection, the peer's bytes (one at a time), the application's
//! requests of a few bytes each and answers of a few chunks through a peer window of one,
//! and a clock in milliseconds that moves one at a time, firing the machine's deadlines on
//! the way. The properties say, apart from how the machine decides, what its guards promise:
//!
//! - **L1** a peer that keeps the minimum pace is never cut for its pace: every byte it
//!   sends since our last write comes within the grace and what the bytes before it bought;
//! - **L2** no guard cuts a connection whose request the application is working on, or one it
//!   writes to at a pace (a write at least every keep-alive timeout) while the peer reads,
//!   unless the peer is cut for its own pace (L1 says when not). The bytes cannot tell an
//!   answer streamed slower than that (a quiet WebSocket, events further apart) from one that
//!   is out and idle: such a connection counts as idle, unless the application says it holds
//!   the request (`CloseMachine::hold`), which spares any pause;
//! - **L3** a silent connection is ended within its deadline: nothing sent within the first
//!   byte timeout of the accept, nothing after our answer within the keep-alive timeout, our
//!   write held back for the send timeout;
//! - **L4** where the application says it holds every request it works on
//!   (`CloseMachine::holds_requests`), a request that stops short is ended once its credit
//!   runs out (the grace and what its bytes bought), however quiet its peer; L1 then counts
//!   that silence as the peer's, a byte it never sent in time.
//!
//! And each guard ends some path (so that a model that explores nothing cannot pass), and
//! some honest exchange is answered whole. docs/model.md has the figures.
//!
//! ```
//! use linger_check::life::{Bound, check, policy};
//!
//! let report = check(policy(), Bound::default());
//! assert!(report.holds(), "{report}");
//! // Too little room: nothing fails that must not, but no path shows an idle connection ended.
//! let cramped = check(policy(), Bound { peer_bytes: 3, horizon_ms: 12, ..Bound::default() });
//! assert!(!cramped.verdict("an idle connection is ended").expect("a property").holds);
//! assert!(cramped.verdicts.iter().filter(|v| !v.sometimes).all(|v| v.holds));
//! ```

use core::fmt;
use core::time::Duration;
use linger::{Activity, CloseMachine, Event, Guard, Instant, MinRate, Policy};
use linger_model::Verdict;
use linger_model::text::{WIDTH, wrap};
use std::collections::{HashMap, HashSet, VecDeque};

/// The model's policy: the default guards scaled to the model's milliseconds and bytes (a
/// minimum pace of one byte a millisecond after a grace of three).
pub fn policy() -> Policy {
    Policy::builder()
        .first_byte_timeout(Some(ms(4)))
        .min_receive_rate(Some(MinRate {
            bytes_per_second: 1000,
            grace: ms(3),
        }))
        .keep_alive_timeout(Some(ms(5)))
        .send_timeout(Some(ms(4)))
        .build()
        .expect("the model policy is valid")
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// How much of the world the checker explores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// Bytes in each request.
    pub request: u8,
    /// Bytes the peer may send in all.
    pub peer_bytes: u8,
    /// Chunks in each answer; the peer's window holds one.
    pub answer_chunks: u8,
    /// How long the application may work on a request, in milliseconds: it takes either
    /// none or this long.
    pub work_ms: u8,
    /// The clock stops here.
    pub horizon_ms: u8,
}

impl Default for Bound {
    /// Requests of two bytes, five bytes in all (two requests and a byte more, sent at any
    /// moment: in bursts, trickled, pipelined while the application works), answers of two
    /// chunks through a window of one, a handler that takes no time or eight milliseconds
    /// (more than every guard), and 16 milliseconds: past every deadline the policy sets.
    fn default() -> Bound {
        Bound {
            request: 2,
            peer_bytes: 5,
            answer_chunks: 2,
            work_ms: 8,
            horizon_ms: 16,
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "requests of {} bytes, {} bytes from the peer in all, answers of {} chunks through \
             a peer window of one, a handler of 0 or {} ms, {} ms of time",
            self.request, self.peer_bytes, self.answer_chunks, self.work_ms, self.horizon_ms
        )
    }
}

/// What the application is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum App {
    /// Reading a request: it has `read` of its bytes.
    Reading {
        /// Bytes of the request read so far.
        read: u8,
    },
    /// Working on a whole request until the clock reads `until`.
    Working {
        /// When its answer is ready.
        until: u8,
    },
    /// Writing its answer: `left` chunks to go; `blocked` while the peer's window is full.
    Writing {
        /// Chunks not yet written.
        left: u8,
        /// Its last write waits for room.
        blocked: bool,
    },
}

/// One move of the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The peer sends a byte.
    PeerSends,
    /// The peer reads the chunk of our answer in its window.
    PeerReads,
    /// The application reads what has arrived (it reads whenever it waits and bytes are
    /// there, before the clock moves: a pending read completes as they arrive).
    AppReads,
    /// The application writes a chunk of its answer.
    AppWrites,
    /// A millisecond passes; the machine's deadlines within it fire.
    Tick,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::PeerSends => "the peer sends a byte",
            Step::PeerReads => "the peer reads a chunk of our answer",
            Step::AppReads => "the application reads",
            Step::AppWrites => "the application writes a chunk",
            Step::Tick => "a millisecond passes",
        })
    }
}

/// The whole state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    /// The machine under test.
    pub machine: CloseMachine,
    /// The clock, in milliseconds.
    pub now: u8,
    /// Whether the application keeps a read pending while it works and writes (hyper).
    pub reads_while_working: bool,
    /// Whether the application says what it holds: that it holds every request it works on
    /// (`holds_requests`, at the accept), `hold` when it has a whole request, `answered` when
    /// its answer is out (as linger-tokio's service wrapper does).
    pub says: bool,
    /// What the application does (its read and whether it says what it holds are the world's).
    pub app: App,
    /// Bytes the peer has sent.
    pub sent: u8,
    /// Bytes arrived and not read by the application.
    pub unread: u8,
    /// Chunks of our answer in the peer's window, unread.
    pub in_window: u8,
    /// Answers the peer has read whole.
    pub answered: u8,
    /// The peer's bytes since our last write: when the first came, how many, and whether
    /// each came within the grace and what those before it bought (L1's pace).
    pub span: Option<Span>,
    /// When the application read the first bytes of the request it is reading, while it has
    /// not read all of it: the start of that request's credit.
    pub partial_since: Option<u8>,
    /// When our last write was (the answer out), or `None` before any.
    pub wrote_at: Option<u8>,
    /// When the application's write began to wait for room, if it waits.
    pub blocked_at: Option<u8>,
    /// The guard that ended the connection, with what the world was doing then.
    pub cut: Option<Cut>,
    /// The minimum pace L1 promises (the machine's own, unless a check says otherwise).
    pub promised_pace: Option<MinRate>,
}

/// The peer's bytes since our last write, as L1 judges them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// When its first byte came.
    pub first: u8,
    /// Bytes in it.
    pub bytes: u8,
    /// Every byte came within the grace and what those before it bought.
    pub at_pace: bool,
}

/// A guard's cut, and the world when it fell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cut {
    /// Which guard.
    pub guard: Guard,
    /// The application then.
    pub app: App,
    /// The peer's bytes since our last write were at pace.
    pub at_pace: bool,
    /// When.
    pub at: u8,
}

impl World {
    /// A connection accepted at 0 under `policy`, whose peer is held to `promised`'s pace;
    /// the application waits for its first request.
    pub fn start(
        policy: Policy,
        promised: &Policy,
        reads_while_working: bool,
        says: bool,
    ) -> World {
        let mut machine = CloseMachine::accepted(policy, Instant::ZERO);
        if says {
            // Refused only once closed; it was just accepted.
            let _ = machine.holds_requests(Instant::ZERO);
        }
        while machine.poll_action().is_some() {}
        let mut world = World {
            machine,
            now: 0,
            reads_while_working,
            says,
            app: App::Reading { read: 0 },
            sent: 0,
            unread: 0,
            in_window: 0,
            answered: 0,
            span: None,
            partial_since: None,
            wrote_at: None,
            blocked_at: None,
            cut: None,
            promised_pace: promised.min_receive_rate(),
        };
        world.feed(Event::ReadPending);
        world
    }

    fn instant(&self) -> Instant {
        Instant::from_millis(self.now.into())
    }

    /// Reports `event` now; a guard that cuts is recorded.
    fn feed(&mut self, event: Event) {
        let before = self.machine.ended_by();
        // Refused only if the connection ended, which ends the world too.
        let _ = self.machine.handle(event, self.instant());
        self.note_cut(before);
    }

    /// Tells the machine what the application holds now.
    fn tell(&mut self, say: fn(&mut CloseMachine, Instant) -> Result<(), linger::Error>) {
        let before = self.machine.ended_by();
        let now = self.instant();
        // Refused only if the connection ended, which ends the world too.
        let _ = say(&mut self.machine, now);
        self.note_cut(before);
    }

    fn note_cut(&mut self, before: Option<Guard>) {
        if let (None, Some(guard)) = (before, self.machine.ended_by()) {
            let overdue = self
                .promised_pace
                .is_some_and(|rate| self.stopped_short(rate));
            self.cut = Some(Cut {
                guard,
                app: self.app,
                at_pace: self.span.is_none_or(|span| span.at_pace) && !overdue,
                at: self.now,
            });
        }
    }

    /// Where the application says it holds every request it works on: the request it is
    /// reading stopped short, its peer quiet past the request's credit at `rate` (a byte
    /// sent now would come late).
    pub fn stopped_short(&self, rate: MinRate) -> bool {
        match (self.says, self.app, self.partial_since) {
            (true, App::Reading { read }, Some(since)) => {
                ms(u64::from(self.now - since)) > rate.grace + rate.allows(read.into())
            }
            _ => false,
        }
    }

    /// Whether the life is over: a guard ended it (the close that follows is the close
    /// model's to check), or the clock stopped.
    pub fn over(&self, bound: &Bound) -> bool {
        self.machine.is_lingering() || self.now >= bound.horizon_ms
    }

    /// The application waits for the peer's bytes now.
    fn app_waits(&self) -> bool {
        match self.app {
            App::Reading { .. } => true,
            App::Working { .. } | App::Writing { .. } => self.reads_while_working,
        }
    }

    /// The moves possible now.
    pub fn steps(&self, bound: &Bound, steps: &mut Vec<Step>) {
        if self.over(bound) {
            return;
        }
        // A pending read completes as soon as bytes are there: nothing else happens first.
        if self.unread > 0 && self.app_waits() {
            steps.push(Step::AppReads);
            return;
        }
        if self.sent < bound.peer_bytes {
            steps.push(Step::PeerSends);
        }
        if self.in_window > 0 {
            steps.push(Step::PeerReads);
        }
        if let App::Writing { blocked: false, .. } = self.app {
            steps.push(Step::AppWrites);
        }
        steps.push(Step::Tick);
    }

    /// The world after `step`.
    pub fn after(&self, bound: &Bound, step: Step) -> World {
        let mut next = self.clone();
        match step {
            Step::PeerSends => next.peer_sends(),
            Step::PeerReads => next.peer_reads(),
            Step::AppReads => next.app_reads(bound),
            Step::AppWrites => next.app_writes(),
            Step::Tick => next.tick(bound),
        }
        next
    }

    fn peer_sends(&mut self) {
        let now = self.now;
        let span = match self.span {
            None => Span {
                first: now,
                bytes: 0,
                at_pace: true,
            },
            Some(span) => span,
        };
        // L1's pace, by the peer's own clock; without a minimum pace, any pace is kept.
        let late = self.promised_pace.is_some_and(|rate| {
            ms(u64::from(now - span.first)) > rate.grace + rate.allows(span.bytes.into())
        });
        self.span = Some(Span {
            bytes: span.bytes + 1,
            at_pace: span.at_pace && !late,
            ..span
        });
        self.sent += 1;
        self.unread += 1;
    }

    fn peer_reads(&mut self) {
        self.in_window = 0;
        if let App::Writing {
            left,
            blocked: true,
        } = self.app
        {
            // Room again: the held-back write goes through.
            self.app = App::Writing {
                left,
                blocked: false,
            };
            self.blocked_at = None;
            self.app_writes();
        } else if let App::Reading { read: 0 } = self.app
            && self.wrote_at.is_some()
        {
            self.answered += 1;
        }
    }

    fn app_reads(&mut self, bound: &Bound) {
        let bytes = self.unread;
        self.unread = 0;
        self.feed(Event::Read(bytes.into()));
        if let App::Reading { read } = self.app {
            if read == 0 && bytes > 0 {
                self.partial_since = Some(self.now);
            }
            let read = read + bytes;
            if read >= bound.request {
                self.partial_since = None;
                // A whole request (and any pipelined bytes, kept for later).
                self.unread = read - bound.request;
                let until = if bound.work_ms == 0 {
                    self.now
                } else {
                    self.now + bound.work_ms
                };
                self.app = App::Working { until };
                if self.says && !self.machine.is_lingering() {
                    self.tell(CloseMachine::hold);
                }
            } else {
                self.app = App::Reading { read };
            }
        }
        if self.app_waits() && !self.machine.is_lingering() {
            self.feed(Event::ReadPending);
        }
    }

    fn app_writes(&mut self) {
        let App::Writing { left, .. } = self.app else {
            return;
        };
        if self.in_window > 0 {
            self.app = App::Writing {
                left,
                blocked: true,
            };
            self.blocked_at = Some(self.now);
            self.feed(Event::WritePending);
            return;
        }
        self.in_window = 1;
        self.span = None;
        self.wrote_at = Some(self.now);
        self.feed(Event::Wrote(1));
        if left > 1 {
            self.app = App::Writing {
                left: left - 1,
                blocked: false,
            };
        } else {
            // The answer is out: the next request is awaited.
            self.app = App::Reading { read: 0 };
            if self.says && !self.machine.is_lingering() {
                self.tell(CloseMachine::answered);
            }
            if !self.machine.is_lingering() {
                self.feed(Event::ReadPending);
            }
        }
    }

    fn tick(&mut self, bound: &Bound) {
        // The model's deadlines fall on whole milliseconds: each fires at the clock's next.
        self.now += 1;
        let end = self.instant();
        while let Some(deadline) = self.machine.poll_timeout().filter(|&at| at <= end) {
            let before = self.machine.ended_by();
            self.machine.handle_timeout(deadline);
            self.note_cut(before);
            if self.machine.is_lingering() {
                break;
            }
        }
        if let App::Working { until } = self.app
            && self.now >= until
            && !self.machine.is_lingering()
        {
            self.app = App::Writing {
                left: bound.answer_chunks,
                blocked: false,
            };
        }
        // Pipelined bytes wait in the buffer until the application reads for them.
        if let App::Reading { read: 0 } = self.app
            && self.unread > 0
            && !self.app_waits()
        {
            self.app = App::Reading { read: 0 };
        }
    }
}

/// A property of every world the checker reaches.
pub struct Property {
    /// Its name in the report.
    pub name: &'static str,
    /// `always` (no world may break it) or `sometimes` (some world must have it).
    pub sometimes: bool,
    /// Whether `world` has it, under `policy` and `bound`.
    pub holds: fn(&World, &Policy, &Bound) -> bool,
}

/// Every property, in report order.
pub fn properties() -> Vec<Property> {
    let always = |name, holds| Property {
        name,
        sometimes: false,
        holds,
    };
    let sometimes = |name, holds| Property {
        name,
        sometimes: true,
        holds,
    };
    vec![
        always(
            "L1 a peer at the minimum pace is never cut for it",
            never_cut_at_pace,
        ),
        always(
            "L2 no guard cuts work, or an answer written at a pace",
            spares_the_work,
        ),
        always(
            "L3 a silent connection ends within its deadline",
            silence_ends,
        ),
        always(
            "L4 a request that stops short ends once its credit runs out",
            short_requests_end,
        ),
        always("a guard ends only a live connection", only_live),
        sometimes("a silent connection is ended", |world, _, _| {
            cut_by(world, Guard::FirstByte)
        }),
        sometimes("a slow request is ended", |world, _, _| {
            cut_by(world, Guard::Pace)
        }),
        sometimes("a request that stops short is ended", |world, _, _| {
            cut_by(world, Guard::Pace) && world.says && world.span.is_some_and(|s| s.at_pace)
        }),
        sometimes("an idle connection is ended", |world, _, _| {
            cut_by(world, Guard::KeepAlive)
        }),
        sometimes("a write held back is ended", |world, _, _| {
            cut_by(world, Guard::Send)
        }),
        sometimes("a request is answered whole", |world, _, _| {
            world.answered > 0
        }),
        sometimes(
            "a handler slower than every guard answers",
            |world, _, bound| world.answered > 0 && bound.work_ms > 0 && world.cut.is_none(),
        ),
    ]
}

fn cut_by(world: &World, guard: Guard) -> bool {
    world.cut.is_some_and(|cut| cut.guard == guard)
}

/// L1.
fn never_cut_at_pace(world: &World, _: &Policy, _: &Bound) -> bool {
    !world
        .cut
        .is_some_and(|cut| cut.guard == Guard::Pace && cut.at_pace)
}

/// L2.
fn spares_the_work(world: &World, policy: &Policy, _: &Bound) -> bool {
    let Some(cut) = world.cut else {
        return true;
    };
    let keep_alive = policy.keep_alive_timeout().unwrap_or(Duration::MAX);
    let writing_at_a_pace = world
        .wrote_at
        .is_some_and(|at| ms(u64::from(cut.at - at)) < keep_alive);
    // An application that says what it holds is spared its pauses between writes too.
    let working = match cut.app {
        App::Working { .. } => true,
        App::Writing { blocked: false, .. } => writing_at_a_pace || world.says,
        App::Reading { .. } | App::Writing { blocked: true, .. } => false,
    };
    !working || cut.guard == Guard::Pace && !cut.at_pace
}

/// L3: past each deadline with nothing from the peer to stop it, the connection is ended.
fn silence_ends(world: &World, policy: &Policy, _: &Bound) -> bool {
    let past = |since: u8, timeout: Option<Duration>| {
        timeout.is_some_and(|timeout| ms(u64::from(world.now - since)) >= timeout)
    };
    let silent_since_accept = world.sent == 0 && past(0, policy.first_byte_timeout());
    let idle_since_answer = matches!(world.app, App::Reading { read: 0 })
        && world.span.is_none()
        && world.unread == 0
        && world
            .wrote_at
            .is_some_and(|at| past(at, policy.keep_alive_timeout()));
    let held_back = world
        .blocked_at
        .is_some_and(|at| past(at, policy.send_timeout()));
    let due = silent_since_accept || idle_since_answer || held_back;
    !due || world.machine.is_lingering()
}

/// L4.
fn short_requests_end(world: &World, policy: &Policy, _: &Bound) -> bool {
    let stopped_short = policy
        .min_receive_rate()
        .is_some_and(|rate| world.stopped_short(rate));
    !stopped_short || world.machine.is_lingering()
}

/// A guard's cut comes only while the connection is live, and the machine's life follows.
fn only_live(world: &World, _: &Policy, _: &Bound) -> bool {
    match world.cut {
        Some(_) => world.machine.life().is_none(),
        None => world.machine.life().is_some_and(|life| match world.app {
            App::Writing { blocked: true, .. } => life.activity == Activity::Responding,
            _ => true,
        }),
    }
}

/// What one exhaustive check found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The policy the machine ran under.
    pub policy: Policy,
    /// The policy whose promises the properties hold it to.
    pub promised: Policy,
    /// The bound explored.
    pub bound: Bound,
    /// Distinct worlds reached.
    pub states: usize,
    /// Steps on the longest shortest path.
    pub max_depth: usize,
    /// Wall-clock time of the check.
    pub elapsed: Duration,
    /// One per property.
    pub verdicts: Vec<Verdict>,
}

impl Report {
    /// Every property holds.
    pub fn holds(&self) -> bool {
        self.verdicts.iter().all(|verdict| verdict.holds)
    }

    /// The verdict on `property`.
    pub fn verdict(&self, property: &str) -> Option<&Verdict> {
        self.verdicts
            .iter()
            .find(|verdict| verdict.property == property)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model: the life before the close (CloseMachine::accepted)"
        )?;
        writeln!(f, "{}", wrap("bound:    ", &self.bound.to_string(), WIDTH))?;
        let policy = &self.policy;
        let off = |guard: Option<Duration>| guard.map_or("off".into(), |at| format!("{at:?}"));
        let pace = policy.min_receive_rate().map_or("off".into(), |rate| {
            format!("{} B/s after {:?}", rate.bytes_per_second, rate.grace)
        });
        let described = format!(
            "first byte within {}, a minimum pace of {pace}, keep-alive {}, send {}: {}",
            off(policy.first_byte_timeout()),
            off(policy.keep_alive_timeout()),
            off(policy.send_timeout()),
            if *policy == self::policy() {
                "the real defaults scaled down to the model's milliseconds and bytes"
            } else {
                "not the model's policy"
            }
        );
        if self.promised != self.policy {
            writeln!(f, "promised: another policy's deadlines and pace")?;
        }
        writeln!(f, "{}", wrap("policy:   ", &described, WIDTH))?;
        writeln!(
            f,
            "explored: {} states (depth {}) in {:.2?}",
            self.states, self.max_depth, self.elapsed
        )?;
        for (sometimes, heading) in [
            (false, "always: no state on any path may break it"),
            (true, "sometimes: at least one path must reach it"),
        ] {
            writeln!(f, "{heading}")?;
            for verdict in self.verdicts.iter().filter(|v| v.sometimes == sometimes) {
                let status = if verdict.holds { "holds" } else { "FAILS" };
                writeln!(f, "  {status:5}  {}", verdict.property)?;
            }
        }
        for verdict in &self.verdicts {
            if let Some(trace) = &verdict.counterexample {
                writeln!(
                    f,
                    "\nshortest counterexample to {}:\n{trace}",
                    verdict.property
                )?;
            }
        }
        Ok(())
    }
}

/// Explores every world within `bound` under `policy`, breadth first from the four applications'
/// starts, and checks every property; the counterexample to a failing `always` property is a
/// shortest path, the same every run.
pub fn check(policy: Policy, bound: Bound) -> Report {
    check_promising(policy, policy, bound)
}

/// As [`check`], the machine running under `policy` and the properties holding it to the
/// promises of `promised` (its deadlines, its pace): how a wrong guard shows.
pub fn check_promising(policy: Policy, promised: Policy, bound: Bound) -> Report {
    let started = std::time::Instant::now();
    let properties = properties();
    let mut seen: HashMap<World, Option<(usize, Step)>> = HashMap::new();
    let mut order: Vec<World> = Vec::new();
    let mut depth: Vec<usize> = Vec::new();
    let mut queue = VecDeque::new();
    for (reads_while_working, says) in [(true, false), (false, false), (true, true), (false, true)]
    {
        let world = World::start(policy, &promised, reads_while_working, says);
        if seen.insert(world.clone(), None).is_none() {
            queue.push_back(order.len());
            order.push(world);
            depth.push(0);
        }
    }
    let mut failing: HashMap<&'static str, usize> = HashMap::new();
    let mut reached: HashSet<&'static str> = HashSet::new();
    let mut steps = Vec::new();
    while let Some(index) = queue.pop_front() {
        let world = order[index].clone();
        for property in &properties {
            let has = (property.holds)(&world, &promised, &bound);
            if property.sometimes && has {
                reached.insert(property.name);
            } else if !property.sometimes && !has {
                failing.entry(property.name).or_insert(index);
            }
        }
        steps.clear();
        world.steps(&bound, &mut steps);
        for &step in &steps {
            let next = world.after(&bound, step);
            if !seen.contains_key(&next) {
                seen.insert(next.clone(), Some((index, step)));
                queue.push_back(order.len());
                order.push(next);
                depth.push(depth[index] + 1);
            }
        }
    }
    let path_to = |index: usize| {
        let mut path = vec![(order[index].clone(), None)];
        let mut at = index;
        while let Some(Some((from, step))) = seen.get(&order[at]) {
            path.push((order[*from].clone(), Some(*step)));
            at = *from;
        }
        path.reverse();
        path
    };
    let verdicts = properties
        .iter()
        .map(|property| {
            let failed = failing.get(property.name).copied();
            Verdict {
                property: property.name,
                sometimes: property.sometimes,
                holds: if property.sometimes {
                    reached.contains(property.name)
                } else {
                    failed.is_none()
                },
                counterexample: failed.map(|index| render(&path_to(index))),
            }
        })
        .collect();
    Report {
        policy,
        promised,
        bound,
        states: order.len(),
        max_depth: depth.iter().copied().max().unwrap_or(0),
        elapsed: started.elapsed(),
        verdicts,
    }
}

/// A path for people: each step, then what the application and the machine make of it.
fn render(path: &[(World, Option<Step>)]) -> String {
    let mut out = String::new();
    for (world, step) in path {
        let activity = world
            .machine
            .life()
            .map_or("closing".into(), |life| life.activity.to_string());
        let cut = world
            .cut
            .map_or(String::new(), |cut| format!(", ended by {}", cut.guard));
        out.push_str(&format!(
            "  {:>3} ms  {:?}, the machine: {activity}{cut}\n",
            world.now, world.app
        ));
        if let Some(step) = step {
            out.push_str(&format!("          -> {step}\n"));
        }
    }
    out
}
