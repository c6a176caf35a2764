//! The replay of one trace: the model's world steps forward with the model's own functions
//! (`World::after_logged`, which runs `Kernel` and the strategy), and each step's inputs are
//! made real — our application's calls on a real socket, the peer's segments through the TUN
//! device, our kernel giving up through `TCP_USER_TIMEOUT` — and what the real kernel
//! answers and sends is compared with what the model's kernel answered and sent.
//!
//! What is compared, after every step, after every call, and after a segment reaches our
//! kernel before our application reacts to it:
//!
//! - every answer of every call: `write`, `read`, `shutdown`, `SIOCOUTQ`, `SO_ERROR`, the
//!   poller's readability;
//! - what our kernel has sent so far ([`Sent`]): data, FIN, RST and the acknowledgement of
//!   the peer's bytes equal to what the model's kernel put on the wire, the offered window at
//!   least the model's;
//! - while our application holds the socket, what it shows without changing it ([`View`]):
//!   `SIOCOUTQ` (against the model's own `send_queue`), `SIOCOUTQNSD`, `SIOCINQ`, `TCP_INFO`'s state, readable, error pending;
//! - for `SO_LINGER`, whether the blocking close has returned.
//!
//! The model abstracts timing: a difference is waited out (up to [`PATIENCE`]) before it
//! counts, so a delayed segment or ACK is matched; retransmissions and zero-window probes
//! repeat what was sent and change nothing compared. Our kernel's persist timer, which the
//! model makes a step of its own (`OurKernelProbes`), fires when the kernel chooses: the
//! replay takes the model's step where the kernel fired it, wherever the trace has it.

use super::coverage::Transition;
use super::peer::{Line, Peer, SEGMENT, Sent};
use super::socket::{Ours, View, linux_state};
use super::traces::Trace;
use super::tun::Tun;
use crate::kernel::{Fin, Kernel, NotConnected, Read, Segment, SoError};
use crate::strategy::{Call, Describe, Input, Logged};
use crate::{Step, Strategy, World};
use core::fmt;
use std::time::{Duration, Instant};

/// How long a difference may last before it is one: what a loaded machine needs to deliver a
/// segment or wake a thread.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// How long our kernel's persist timer may take to send the segment it holds for the window
/// (the model's `OurKernelProbes`): the retransmission timeout, backed off by what the trace
/// went through (13 s, seen after a 2 s `SO_LINGER` wait).
const PERSIST: Duration = Duration::from_secs(30);

/// How long our kernel may take to give up once `TCP_USER_TIMEOUT` is set: its next
/// retransmission or probe, after the backoff of a long trace.
const GIVING_UP: Duration = Duration::from_secs(15);

/// How long the replay waits, once our kernel has given up, before its application goes on:
/// the kernel gives up at a timer tick after its retransmission, one jiffy (10 ms at HZ=100)
/// later on one run than on another, and a packetdrill script, which makes the application's
/// next call at the time measured here, must find it given up too.
const GIVEN_UP: Duration = Duration::from_millis(50);

/// The `SO_LINGER` time of a lingering close, in seconds (its unit): the model's 30 ms
/// timeout, long enough that the replay's own pace cannot run it out early.
const LINGER_SECONDS: u64 = 2;

/// How long, after the last step, our kernel must stay as the model left it.
const QUIET: Duration = Duration::from_millis(20);

/// A trace replayed without a difference.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The transitions it exercised.
    pub transitions: Vec<Transition>,
    /// The exchange, for a packetdrill script.
    pub script: Vec<Entry>,
}

/// The first difference between the model and the kernel in a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The step (0 for the start, `n` for the trace's `n`th step).
    pub step: usize,
    /// What the step was.
    pub what: String,
    /// The model's state before it.
    pub state: String,
    /// The input whose answer differed, or "after the step".
    pub input: String,
    /// What differed, the model's expectation and the kernel's answer.
    pub differences: Vec<Difference>,
    /// The exchange up to the difference.
    pub exchange: Vec<Entry>,
}

/// One quantity the model and the kernel disagree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// What (`SIOCOUTQ`, `sent FIN`, `read`...).
    pub what: String,
    /// The model's value.
    pub expected: String,
    /// The kernel's.
    pub observed: String,
}

/// One line of the exchange: a segment either way, or a call and what it returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A segment.
    Segment(Line),
    /// A system call, as packetdrill writes it.
    Call(Made),
}

/// A system call the replay made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Made {
    /// When it was made, since the connection began.
    pub at: Duration,
    /// When it returned, for a call that blocked (packetdrill runs it on a thread of its own
    /// and checks when it returns); `None` for one that returned at once.
    pub returned: Option<Duration>,
    /// The call and what it returned, as packetdrill writes it.
    pub text: String,
}

impl Entry {
    /// When it happened, since the connection began.
    pub fn at(&self) -> Duration {
        match self {
            Entry::Segment(line) => line.at,
            Entry::Call(made) => made.at,
        }
    }
}

impl Divergence {
    /// A trace that could not be replayed at all, for `why` (the connection could not be set
    /// up, the strategy is unknown to the caller): a difference at step 0.
    pub fn not_replayed(why: String) -> Divergence {
        let failed = Difference {
            what: "connection".into(),
            expected: "established".into(),
            observed: why,
        };
        *Divergence::at(
            0,
            "setting up the connection".into(),
            String::new(),
            String::new(),
            vec![failed],
        )
    }

    /// A divergence at step `step`, its exchange filled in when the replay ends.
    fn at(
        step: usize,
        what: String,
        state: String,
        input: String,
        differences: Vec<Difference>,
    ) -> Box<Divergence> {
        Box::new(Divergence {
            step,
            what,
            state,
            input,
            differences,
            exchange: Vec::new(),
        })
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "step {}: {}", self.step, self.what)?;
        writeln!(f, "  model state: {}", self.state)?;
        writeln!(f, "  input:       {}", self.input)?;
        for difference in &self.differences {
            writeln!(
                f,
                "  {}: model {}, kernel {}",
                difference.what, difference.expected, difference.observed
            )?;
        }
        Ok(())
    }
}

/// Replays `trace` of `strategy` in `tun`'s namespace (the calling thread must be in it), the
/// peer on `port`: the transitions it exercised and its exchange, or the first difference (or
/// the reason it could not be set up, as a divergence at step 0).
pub fn replay<S: Strategy>(
    tun: &mut Tun,
    strategy: &S,
    trace: &Trace,
    port: u16,
) -> Result<Replayed, Box<Divergence>> {
    Replay { tun, trace, port }.with(strategy)
}

struct Replay<'a> {
    tun: &'a mut Tun,
    trace: &'a Trace,
    port: u16,
}

impl Replay<'_> {
    fn with<S: Strategy>(self, strategy: &S) -> Result<Replayed, Box<Divergence>> {
        let started = Instant::now();
        let setup = |error: String| Box::new(Divergence::not_replayed(error));
        let ours = Ours::connect(self.port).map_err(|error| setup(error.to_string()))?;
        let peer = Peer::accept(
            self.tun,
            self.port,
            self.trace.bound.peer_window,
            started,
            PATIENCE,
        )
        .map_err(|error| setup(error.to_string()))?;
        let deadline = Instant::now() + PATIENCE;
        while !ours.established() {
            if Instant::now() > deadline {
                return Err(setup("the handshake did not complete".into()));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let mut peer = peer;
        // The handshake's last ACK, so the exchange shows it before the first call.
        peer.take_in(self.tun, Duration::from_millis(10))
            .map_err(|error| setup(error.to_string()))?;
        let mut run = Run {
            strategy,
            tun: self.tun,
            ours,
            peer,
            rst: false,
            calls: Vec::new(),
            lingering: None,
            transitions: Vec::new(),
            started,
            probed_early: false,
        };
        let result = run.all(self.trace);
        if result.is_ok() {
            run.await_lingering();
        }
        let script = run.script();
        run.end();
        match result {
            Ok(()) => Ok(Replayed {
                transitions: run.transitions,
                script,
            }),
            Err(mut divergence) => {
                divergence.exchange = script;
                Err(divergence)
            }
        }
    }
}

/// One replay under way.
struct Run<'a, S: Strategy> {
    strategy: &'a S,
    tun: &'a mut Tun,
    ours: Ours,
    peer: Peer,
    /// The model's kernel has put a RST on the wire.
    rst: bool,
    /// The calls made, for the script.
    calls: Vec<Made>,
    /// Which of them is the `SO_LINGER` close that blocks, once made.
    lingering: Option<usize>,
    transitions: Vec<Transition>,
    started: Instant,
    /// Our kernel's persist timer fired before the trace's `OurKernelProbes`.
    probed_early: bool,
}

/// What the model expects the real side to show.
#[derive(Clone, Copy, Debug)]
struct Expected {
    sent: Sent,
    /// Whether to compare the RST: not while a segment is being taken in, since the RST a
    /// step sends shows on the model's wire only after the whole step.
    rst: bool,
    view: Option<View>,
    /// For `SO_LINGER`: whether the blocking close has returned.
    returned: Option<bool>,
}

impl<S: Strategy> Run<'_, S> {
    fn all(&mut self, trace: &Trace) -> Result<(), Box<Divergence>> {
        let mut log = Vec::new();
        let mut world = World::start_logged(self.strategy, &trace.bound, Some(&mut log));
        let start = |input: String, differences| {
            let what = format!("start: our app writes {} segments", trace.bound.segments);
            Divergence::at(0, what, String::new(), input, differences)
        };
        self.perform(&log)
            .map_err(|(input, differences)| start(input, differences))?;
        self.transitions.extend(log.iter().flat_map(Transition::of));
        if let Some(probed) = self
            .settle(&world, PATIENCE)
            .map_err(|differences| start("after the step".into(), differences))?
        {
            world = probed;
        }
        let mut enabled = Vec::new();
        for (index, &step) in trace.steps.iter().enumerate() {
            let number = index + 1;
            let diverged = |world: &World<S::App>, input: String, differences| {
                Divergence::at(number, step.to_string(), state(world), input, differences)
            };
            match self.settle(&world, Duration::ZERO) {
                Ok(Some(probed)) => world = probed,
                Ok(None) => {}
                Err(differences) => {
                    let what = "before the step: our kernel changed on its own".into();
                    return Err(diverged(&world, what, differences));
                }
            }
            enabled.clear();
            world.steps(self.strategy, &crate::Peer::default(), &mut enabled);
            if step == Step::OurKernelProbes && !enabled.contains(&step) && self.probed_early {
                // Our kernel's timer fired before the trace had it fire: taken then.
                continue;
            }
            if !enabled.contains(&step) {
                let not_a_path = Difference {
                    what: "step".into(),
                    expected: format!("one of {enabled:?}"),
                    observed: format!("{step:?}"),
                };
                return Err(diverged(&world, "the trace".into(), vec![not_a_path]));
            }
            log.clear();
            let next = world.after_logged(self.strategy, step, Some(&mut log));
            let calls = match step {
                Step::DeliverToUs => {
                    let Some(&segment) = world.to_us.iter().next() else {
                        return Err(diverged(&world, "the trace".into(), Vec::new()));
                    };
                    self.peer.send(self.tun, segment).map_err(|error| {
                        diverged(&world, format!("{segment:?}"), vec![io_failure(&error)])
                    })?;
                    let arrived = &log[0];
                    self.taken_in(arrived).map_err(|differences| {
                        let input = format!("the peer's {}", segment_name(segment));
                        diverged(&world, input, differences)
                    })?;
                    &log[1..]
                }
                Step::OurKernelGivesUp => {
                    self.give_up().map_err(|difference| {
                        diverged(&world, "TCP_USER_TIMEOUT".into(), vec![difference])
                    })?;
                    &log[1..]
                }
                _ => &log[..],
            };
            self.perform(calls)
                .map_err(|(input, differences)| diverged(&world, input, differences))?;
            self.rst |= next.to_peer.iter().any(|&segment| segment == Segment::Rst);
            let patience = match step {
                Step::Tick if self.lingering.is_some() => {
                    Duration::from_secs(LINGER_SECONDS) + PATIENCE
                }
                Step::OurKernelProbes => PERSIST,
                _ => PATIENCE,
            };
            self.transitions.extend(log.iter().flat_map(Transition::of));
            world = match self.settle(&next, patience) {
                Ok(probed) => probed.unwrap_or(next),
                Err(differences) => {
                    return Err(diverged(&world, "after the step".into(), differences));
                }
            };
        }
        std::thread::sleep(QUIET);
        self.settle(&world, Duration::ZERO)
            .map(drop)
            .map_err(|differences| {
                let input = "a quiet moment after the last step".into();
                let end = "the end of the trace".into();
                Divergence::at(trace.steps.len(), end, state(&world), input, differences)
            })
    }

    /// Waits (at most `patience`) until the real side shows what the model's `world` does;
    /// or, where our kernel's persist timer is due in `world` and the kernel has fired it
    /// already (a timer of its own, whose moment the trace cannot set), what the world after
    /// the model's `OurKernelProbes` does, and returns that world.
    fn settle(
        &mut self,
        world: &World<S::App>,
        patience: Duration,
    ) -> Result<Option<World<S::App>>, Vec<Difference>> {
        let mut log = Vec::new();
        let probed = world
            .ours
            .probe_due()
            .then(|| world.after_logged(self.strategy, Step::OurKernelProbes, Some(&mut log)));
        let mut expected = vec![self.expected(world)];
        expected.extend(probed.iter().map(|probed| self.expected(probed)));
        if self.until_matches(&expected, patience)? == 0 {
            return Ok(None);
        }
        self.probed_early = true;
        self.transitions.extend(log.iter().flat_map(Transition::of));
        Ok(probed)
    }

    /// What the real side must show for the model's `world`.
    fn expected(&self, world: &World<S::App>) -> Expected {
        Expected {
            sent: sent(&world.ours, self.rst),
            rst: true,
            view: world.ours.fd_open.then(|| view(&world.ours)),
            returned: self.lingering.map(|_| self.strategy.released(&world.app)),
        }
    }

    /// Waits until our kernel shows it has taken in the segment `arrived` logs (before our
    /// application reacts to it); the wire's RST is compared after the step.
    fn taken_in(&mut self, arrived: &Logged) -> Result<(), Vec<Difference>> {
        let kernel = &arrived.after;
        let expected = Expected {
            sent: sent(kernel, self.rst),
            rst: false,
            view: kernel.fd_open.then(|| view(kernel)),
            returned: None,
        };
        self.until_matches(&[expected], PATIENCE).map(drop)
    }

    /// Waits (at most `patience`) until the real side shows one of `expected`: its index, or
    /// what differs from the first.
    fn until_matches(
        &mut self,
        expected: &[Expected],
        patience: Duration,
    ) -> Result<usize, Vec<Difference>> {
        let started = Instant::now();
        let mut wait = Duration::ZERO;
        loop {
            let real = match self.peer.take_in(self.tun, wait) {
                Ok(real) => real,
                Err(error) => return Err(vec![io_failure(&error)]),
            };
            let mut first = None;
            for (index, &expected) in expected.iter().enumerate() {
                let differences = self.compare(expected, real);
                if differences.is_empty() {
                    return Ok(index);
                }
                first.get_or_insert(differences);
            }
            if started.elapsed() >= patience {
                return Err(first.unwrap_or_default());
            }
            wait = Duration::from_millis(2);
        }
    }

    /// What differs between `expected` and the real side: what our kernel sent (`real`) and
    /// what its socket shows now.
    fn compare(&self, expected: Expected, real: Sent) -> Vec<Difference> {
        let mut differences = Vec::new();
        let model = expected.sent;
        let mut differ = |what: &str, expected: String, observed: String| {
            if expected != observed {
                differences.push(Difference {
                    what: what.into(),
                    expected,
                    observed,
                });
            }
        };
        differ(
            "sent data bytes",
            model.data.to_string(),
            real.data.to_string(),
        );
        differ("sent FIN", model.fin.to_string(), real.fin.to_string());
        if expected.rst {
            differ("sent RST", model.rst.to_string(), real.rst.to_string());
        }
        differ(
            "acknowledged of the peer's bytes",
            model.ack.to_string(),
            real.ack.to_string(),
        );
        if real.window_end < model.window_end {
            differ(
                "offered window's right edge, at least",
                model.window_end.to_string(),
                real.window_end.to_string(),
            );
        }
        match (expected.view, self.ours.open()) {
            (Some(model), true) => match self.ours.view() {
                Ok(real) => {
                    differ(
                        "SIOCOUTQ, in segments and FIN",
                        model.unacked.to_string(),
                        in_segments(real.unacked),
                    );
                    differ(
                        "SIOCOUTQNSD",
                        model.unsent.to_string(),
                        real.unsent.to_string(),
                    );
                    differ("SIOCINQ", model.unread.to_string(), real.unread.to_string());
                    differ("TCP state", state_name(model.state), state_name(real.state));
                    differ(
                        "readable",
                        model.readable.to_string(),
                        real.readable.to_string(),
                    );
                    differ(
                        "error pending",
                        model.error_pending.to_string(),
                        real.error_pending.to_string(),
                    );
                }
                Err(error) => differ("the replay's own I/O", "success".into(), error.to_string()),
            },
            (model, real) => differ("socket held", model.is_some().to_string(), real.to_string()),
        }
        if let Some(model) = expected.returned {
            let real = self.ours.lingering_returned().unwrap_or(true);
            differ(
                "lingering close returned",
                model.to_string(),
                real.to_string(),
            );
        }
        differences
    }

    /// Makes our kernel give up: `TCP_USER_TIMEOUT` of 1 ms, then waits for its next
    /// retransmission or probe, when it drops the connection.
    fn give_up(&mut self) -> Result<(), Difference> {
        self.call("setsockopt(3, SOL_TCP, TCP_USER_TIMEOUT, [1], 4) = 0");
        self.ours
            .set_user_timeout(Duration::from_millis(1))
            .map_err(|error| io_failure(&error))?;
        let deadline = Instant::now() + GIVING_UP;
        loop {
            match self.ours.view() {
                Ok(view) if view.state == linux_state(linger_io::acks::TcpState::Closed) => {
                    let _ = self.peer.take_in(self.tun, GIVEN_UP);
                    return Ok(());
                }
                Ok(_) if Instant::now() < deadline => {
                    let _ = self.peer.take_in(self.tun, Duration::from_millis(5));
                }
                Ok(view) => {
                    return Err(Difference {
                        what: "TCP state".into(),
                        expected: "CLOSE, given up".into(),
                        observed: state_name(view.state),
                    });
                }
                Err(error) => return Err(io_failure(&error)),
            }
        }
    }

    /// Makes each call our application made in the model on the real socket, comparing its
    /// answer with the model's kernel's.
    /// After each call, the socket and what our kernel sent must be as the model's kernel
    /// after it: a call that changed the kernel wrongly is caught even when the next call
    /// hides it (a `close` right after the `read` that took an error).
    fn perform(&mut self, log: &[Logged]) -> Result<(), (String, Vec<Difference>)> {
        for logged in log {
            let Input::Call(call) = logged.input else {
                continue;
            };
            let kernel = &logged.after;
            // The call as the script writes it, the model's answer, the kernel's, and, where the
            // script must show the errno the kernel gave rather than the model's name for it,
            // what the call returned.
            let (text, model, real, returned) = match call {
                Call::Write(segments) => {
                    let bytes = u32::from(segments) * SEGMENT;
                    let real = match self.ours.write(segments) {
                        Ok(true) => format!("{bytes}"),
                        Ok(false) => "a short write".into(),
                        Err(error) => errno(&error),
                    };
                    (
                        format!("write(3, ..., {bytes})"),
                        bytes.to_string(),
                        real,
                        None,
                    )
                }
                Call::SetCork(on) => {
                    let real = self
                        .ours
                        .set_cork(on)
                        .map_or_else(|e| errno(&e), |()| "0".into());
                    let text = format!("setsockopt(3, SOL_TCP, TCP_CORK, [{}], 4)", u8::from(on));
                    (text, "0".into(), real, None)
                }
                Call::Read(read) => {
                    let (real, errno) = match self.ours.read() {
                        Ok((read, errno)) => (read_text(read), errno),
                        Err(other) => (other, None),
                    };
                    let returned = errno.map(|name| format!("-1 {name}"));
                    let text = format!("read(3, ..., {SEGMENT})");
                    (text, read_text(read), real, returned)
                }
                Call::ShutdownWrite(result) => {
                    let model = match result {
                        Ok(()) => "0".into(),
                        Err(NotConnected) => "-1 ENOTCONN".into(),
                    };
                    let real = self
                        .ours
                        .shutdown_write()
                        .map_or_else(|e| errno(&e), |()| "0".into());
                    ("shutdown(3, SHUT_WR)".into(), model, real, None)
                }
                Call::LingeringClose => {
                    let linger = format!(
                        "setsockopt(3, SOL_SOCKET, SO_LINGER, {{onoff=1, linger={LINGER_SECONDS}}}, 8) = 0"
                    );
                    self.call(&linger);
                    self.call("fcntl(3, F_SETFL, O_RDWR) = 0");
                    self.lingering = Some(self.calls.len());
                    let real = self
                        .ours
                        .lingering_close(LINGER_SECONDS)
                        .map_or_else(|e| errno(&e), |()| "0".into());
                    ("close(3)".into(), "0".into(), real, None)
                }
                Call::Close => {
                    self.ours.close();
                    ("close(3)".into(), "0".into(), "0".into(), None)
                }
                Call::Abort => {
                    self.call("setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0");
                    let real = self
                        .ours
                        .abort()
                        .map_or_else(|e| errno(&e), |()| "0".into());
                    ("close(3)".into(), "0".into(), real, None)
                }
                Call::SendQueue(figure) | Call::SendQueueAfterTheEnd(Some(figure)) => {
                    let bytes = self.ours.view().map(|view| view.unacked);
                    let real = bytes
                        .as_ref()
                        .map_or_else(errno, |&bytes| in_segments(bytes));
                    let shown = bytes.map_or_else(|e| errno(&e), |bytes| bytes.to_string());
                    let text = format!("ioctl(3, SIOCOUTQ, [{shown}])");
                    (text, figure.to_string(), real, None)
                }
                Call::SendQueueAfterTheEnd(None) | Call::TcpInfo(_) => continue,
                Call::TakeError(error) => {
                    let model = error_text(error);
                    let (real, shown) = match self.ours.take_error() {
                        Ok(Some((error, name))) => (error_text(Some(error)), name.to_string()),
                        Ok(None) => (error_text(None), error_text(None)),
                        Err(other) => (other.clone(), other),
                    };
                    let text = format!("getsockopt(3, SOL_SOCKET, SO_ERROR, [{shown}], [4])");
                    (text, model, real, None)
                }
                Call::Readable(readable) => {
                    let real = self
                        .ours
                        .view()
                        .map_or_else(|e| errno(&e), |view| view.readable.to_string());
                    let revents = self.ours.poll_events().unwrap_or_else(|e| errno(&e));
                    let text = format!(
                        "poll([{{fd=3, events=POLLIN|POLLRDHUP, revents={revents}}}], 1, 0)"
                    );
                    (text, readable.to_string(), real, None)
                }
            };
            let returned = returned.unwrap_or_else(|| packetdrill_return(&text, &real));
            self.call(&format!("{text} = {returned}"));
            if model != real {
                let answer = Difference {
                    what: "answer".into(),
                    expected: model,
                    observed: real,
                };
                return Err((text, vec![answer]));
            }
            let after = Expected {
                sent: sent(kernel, self.rst),
                rst: false,
                view: kernel.fd_open.then(|| view(kernel)),
                returned: None,
            };
            self.until_matches(&[after], PATIENCE)
                .map_err(|differences| (format!("after {text}"), differences))?;
        }
        Ok(())
    }

    fn call(&mut self, text: &str) {
        self.calls.push(Made {
            at: self.started.elapsed(),
            returned: None,
            text: text.into(),
        });
    }

    /// Waits for a lingering close still blocking at the trace's end to return on its own, as
    /// it does at its linger time when nothing more happens, taking in what our kernel sends
    /// meanwhile (its retransmissions): the exchange then holds the whole call, which a
    /// packetdrill script must see return.
    fn await_lingering(&mut self) {
        let deadline = Instant::now() + PATIENCE + Duration::from_secs(LINGER_SECONDS);
        while self.ours.lingering_returned() == Some(false) && Instant::now() < deadline {
            let _ = self.peer.take_in(self.tun, Duration::from_millis(5));
        }
    }

    /// Ends the connection whatever is left of it (a RST from the peer), and waits for a
    /// lingering close to return.
    fn end(&mut self) {
        let _ = self.peer.reset(self.tun);
        if self.ours.open() {
            let _ = self.ours.abort();
        }
        self.ours
            .join_lingering(PATIENCE + Duration::from_secs(LINGER_SECONDS));
    }

    /// The exchange in time order: segments and calls, the lingering close with the time it
    /// returned, if it has.
    fn script(&mut self) -> Vec<Entry> {
        let mut calls = self.calls.clone();
        if let (Some(index), Some(returned)) = (self.lingering, self.ours.lingering_returned_at())
            && let Some(close) = calls.get_mut(index)
        {
            close.returned = Some(returned.saturating_duration_since(self.started));
        }
        let mut entries: Vec<Entry> = self
            .peer
            .lines()
            .iter()
            .cloned()
            .map(Entry::Segment)
            .chain(calls.into_iter().map(Entry::Call))
            .collect();
        entries.sort_by_key(Entry::at);
        entries
    }
}

/// What the model's kernel has put on the wire, in bytes.
fn sent(kernel: &Kernel, rst: bool) -> Sent {
    Sent {
        data: u32::from(kernel.sent) * SEGMENT,
        fin: matches!(kernel.fin, Fin::Sent | Fin::Acked),
        rst,
        ack: u32::from(kernel.received) * SEGMENT + u32::from(kernel.peer_fin),
        window_end: (u32::from(kernel.read) + u32::from(kernel.capacity)) * SEGMENT,
    }
}

/// A send-queue figure in bytes as the model counts it, each [`SEGMENT`] bytes one and a
/// byte left over (the FIN) one; a figure the model cannot count as it is, in bytes.
fn in_segments(bytes: u32) -> String {
    match (bytes / SEGMENT, bytes % SEGMENT) {
        (segments, rest @ (0 | 1)) => (segments + rest).to_string(),
        _ => format!("{bytes} bytes"),
    }
}

/// What the model's kernel shows of itself, as a socket would: the send-queue figure as the
/// model's `send_queue` gives it, the rest in bytes.
fn view(kernel: &Kernel) -> View {
    View {
        unacked: kernel.send_queue(),
        unsent: u32::from(kernel.written - kernel.sent) * SEGMENT
            + u32::from(kernel.fin == Fin::Queued),
        unread: u32::from(kernel.unread()) * SEGMENT,
        state: linux_state(kernel.tcp_state()),
        readable: kernel.readable(),
        error_pending: kernel.error.is_some(),
    }
}

/// The model's state in one line: our application, our kernel, the wires.
fn state<A: Describe>(world: &World<A>) -> String {
    let kernel = &world.ours;
    format!(
        "{}; us: wrote {} sent {} acked {}, FIN {:?}, received {} read {}{}{}{}, fd {}; in flight to the peer {:?}, to us {:?}",
        world.app.describe(),
        kernel.written,
        kernel.sent,
        kernel.acked,
        kernel.fin,
        kernel.received,
        kernel.read,
        if kernel.peer_fin { ", EOF" } else { "" },
        kernel
            .dead
            .map_or(String::new(), |dead| format!(", dead: {dead:?}")),
        kernel
            .error
            .map_or(String::new(), |error| format!(", {error:?} pending")),
        if kernel.fd_open { "open" } else { "closed" },
        world.to_peer.iter().collect::<Vec<_>>(),
        world.to_us.iter().collect::<Vec<_>>(),
    )
}

fn segment_name(segment: Segment) -> &'static str {
    match segment {
        Segment::Data => "data",
        Segment::Fin => "FIN",
        Segment::Ack { .. } => "ACK",
        Segment::Rst => "RST",
    }
}

fn read_text(read: Read) -> String {
    match read {
        Read::Data => SEGMENT.to_string(),
        Read::WouldBlock => "-1 EAGAIN".into(),
        Read::Eof => "0".into(),
        Read::Error(SoError::Reset) => "-1 ECONNRESET".into(),
        Read::Error(SoError::TimedOut) => "-1 ETIMEDOUT".into(),
    }
}

fn error_text(error: Option<SoError>) -> String {
    match error {
        None => "0".into(),
        Some(SoError::Reset) => "ECONNRESET".into(),
        Some(SoError::TimedOut) => "ETIMEDOUT".into(),
    }
}

/// What `call` returned, as packetdrill writes it, from the answer compared (`value`): a
/// count, 0, or `-1 ERRNO`; `poll` the number of ready descriptors; the socket options and
/// `ioctl` 0, their value being in the brackets.
fn packetdrill_return(call: &str, value: &str) -> String {
    if value.starts_with("-1") {
        return value.into();
    }
    if call.starts_with("poll") {
        return if value == "true" { "1" } else { "0" }.into();
    }
    let option = ["ioctl", "getsockopt", "setsockopt"]
        .iter()
        .any(|name| call.starts_with(name));
    if option || value.parse::<i64>().is_err() {
        return "0".into();
    }
    value.into()
}

fn errno(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::ENOTCONN) => "-1 ENOTCONN".into(),
        Some(libc::EPIPE) => "-1 EPIPE".into(),
        Some(libc::ECONNRESET) => "-1 ECONNRESET".into(),
        _ => format!("-1 ({error})"),
    }
}

fn io_failure(error: &std::io::Error) -> Difference {
    Difference {
        what: "the replay's own I/O".into(),
        expected: "success".into(),
        observed: error.to_string(),
    }
}

fn state_name(state: u8) -> String {
    super::socket::model_state(state)
        .map_or_else(|| format!("state {state}"), |state| format!("{state:?}"))
}
