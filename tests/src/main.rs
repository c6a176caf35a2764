//! `linger-check`: exhaustively checks a close strategy against P1-P5 over a bounded model,
//! and prints the figures and, per property, "holds" or the shortest counterexample; or, with
//! `--conformance N`, replays the model's traces on this machine's Linux kernel.
//!
//! Exit status: 0 when every property holds (every trace replays), 1 when one fails (a
//! divergence, a transition not covered), 2 on bad arguments, 3 when this machine cannot
//! replay (not root, no TUN device).

use core::time::Duration;
use linger::{OnBudgetSpent, Policy};
use linger_check::builtin;
use linger_model::conformance::{self, Grid, Scripts};
use linger_model::reference::{FixedDelay, Naive, ShutdownClose, SoLinger};
use linger_model::{
    self as model, Bound, Check, Flavour, Handover, Linger, Strategy, Verdict, diagram,
};
use std::process::ExitCode;

const USAGE: &str = "\
usage: linger-check --strategy linger|handover|naive|shutdown-close|so-linger|fixed-delay [options]
       linger-check --conformance N [--grid full|ci] [--seed S] [--jobs J] [--scripts DIR]

strategies: linger closes through CloseMachine; handover shuts down writing itself and hands
the socket to an adopted machine at close (as linger_std::close after a framework's shutdown);
the others are the closes linger replaces.

policy (linger, handover; model milliseconds, defaults scaled down from the real default):
  --idle-ms N            idle timeout (5)
  --budget-ms N          linger budget (30)
  --poll-min-us N        shortest send-queue poll interval (1000)
  --poll-max-us N        longest send-queue poll interval (8000)
  --discard-cap N        segments discarded at most (2)
  --reads-per-wakeup N   segments read per wake-up (1)
  --on-budget-spent close|abort
  --wait-for-peer-eof true|false
other strategies:
  --linger-ms N          so-linger: the SO_LINGER timeout (30)
  --delay-ms N           fixed-delay: the sleep before close (30)
bound:
  --segments N           data segments in our response (3)
  --peer-window N        the peer's receive buffer, in segments (1)
  --our-window N         our receive buffer, in segments (2)
  --peer-sends N         segments the peer may send (3)
  --peer-moves N         sends, half-closes, closes and resets the peer may make, and
                         retransmission timeouts of our kernel (4)
  --kernel linux|freebsd|macos
                         whose rules our kernel follows (linux; the peer's is Linux's)
  --grid full|ci         check at every bound of the replay's grid instead (a table), on
                         every kernel unless --kernel names one
conformance (root and /dev/net/tun; docs/model.md, \"The model meets the kernel\"):
  --conformance N        replay the covering set at every bound of the grid and N seeded
                         random walks over it (Linux's rules) on this machine's kernel
  --grid full|ci         the whole bound grid (full), or the bounds CI replays (ci)
  --seed S               the first walk's seed (1)
  --jobs J               replays at once, each in a network namespace of its own (4)
  --scripts DIR          write each trace replayed without a difference as a packetdrill
                         script into DIR
  --fail-fast            begin no trace once one has diverged
output:
  --explore [ADDR]       serve stateright's explorer (default 127.0.0.1:3000) instead
  --diagram              print CloseMachine's state diagram (Mermaid) from the model
  -h, --help             print this and exit
";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments
        .iter()
        .any(|argument| argument == "--help" || argument == "-h")
    {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match Command::parse(&arguments) {
        Ok(command) => command.run(),
        Err(message) => {
            eprintln!("linger-check: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// What the arguments ask for.
struct Command {
    strategy: String,
    policy: Policy,
    linger: Duration,
    delay: Duration,
    bound: Bound,
    explore: Option<String>,
    diagram: bool,
    conformance: Option<Conformance>,
    /// `--grid` without `--conformance`: check at every bound of the grid.
    grid: Option<Grid>,
    /// `--kernel` was given: check on that kernel alone.
    kernel_given: bool,
}

/// What `--conformance` asks for.
struct Conformance {
    walks: usize,
    grid: Grid,
    seed: u64,
    jobs: usize,
    scripts: Option<std::path::PathBuf>,
    fail_fast: bool,
}

impl Command {
    fn parse(arguments: &[String]) -> Result<Command, String> {
        let defaults = model::policy();
        let mut policy = Policy::builder()
            .idle_timeout(defaults.idle_timeout())
            .linger_budget(defaults.linger_budget())
            .poll_interval(defaults.poll_interval().0, defaults.poll_interval().1)
            .discard_cap(defaults.discard_cap())
            .reads_per_wakeup(defaults.reads_per_wakeup());
        let (mut poll_min, mut poll_max) = defaults.poll_interval();
        let mut command = Command {
            strategy: String::new(),
            policy: defaults,
            linger: Duration::from_millis(30),
            delay: Duration::from_millis(30),
            bound: Bound::default(),
            explore: None,
            diagram: false,
            conformance: None,
            grid: None,
            kernel_given: false,
        };
        let mut conformance = Conformance {
            walks: 0,
            grid: Grid::Full,
            seed: 1,
            jobs: 4,
            scripts: None,
            fail_fast: false,
        };
        let mut replay = false;
        let mut arguments = arguments.iter().peekable();
        while let Some(flag) = arguments.next() {
            if flag == "--diagram" {
                command.diagram = true;
                continue;
            }
            if flag == "--fail-fast" {
                conformance.fail_fast = true;
                continue;
            }
            if flag == "--explore" {
                let address = arguments.next_if(|next| !next.starts_with('-'));
                command.explore = Some(address.map_or("127.0.0.1:3000".into(), Clone::clone));
                continue;
            }
            let mut value = || {
                arguments
                    .next()
                    .map(String::as_str)
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--strategy" => command.strategy = value()?.into(),
                "--idle-ms" => policy = policy.idle_timeout(millis(flag, value()?)?),
                "--budget-ms" => policy = policy.linger_budget(millis(flag, value()?)?),
                "--poll-min-us" => poll_min = micros(flag, value()?)?,
                "--poll-max-us" => poll_max = micros(flag, value()?)?,
                "--discard-cap" => {
                    policy = policy.discard_cap(number(flag, value()?, 0, 64)? as u32);
                }
                "--reads-per-wakeup" => {
                    policy = policy.reads_per_wakeup(number(flag, value()?, 1, 64)? as u32);
                }
                "--on-budget-spent" => {
                    policy = policy.on_budget_spent(match value()? {
                        "close" => OnBudgetSpent::Close,
                        "abort" => OnBudgetSpent::Abort,
                        other => return Err(format!("{flag} takes close or abort, not {other:?}")),
                    });
                }
                "--wait-for-peer-eof" => {
                    policy = policy.wait_for_peer_eof(match value()? {
                        "true" => true,
                        "false" => false,
                        other => return Err(format!("{flag} takes true or false, not {other:?}")),
                    });
                }
                "--conformance" => {
                    replay = true;
                    conformance.walks = number(flag, value()?, 0, 1_000_000)? as usize;
                }
                "--grid" => {
                    let name = value()?;
                    command.grid = Some(
                        Grid::from_name(name)
                            .ok_or_else(|| format!("{flag} takes full or ci, not {name:?}"))?,
                    );
                }
                "--seed" => conformance.seed = number(flag, value()?, 0, u64::MAX / 2)?,
                "--jobs" => conformance.jobs = number(flag, value()?, 1, 64)? as usize,
                "--scripts" => conformance.scripts = Some(value()?.into()),
                "--linger-ms" => command.linger = millis(flag, value()?)?,
                "--delay-ms" => command.delay = millis(flag, value()?)?,
                "--segments" => command.bound.segments = small(flag, value()?, 1)?,
                "--peer-window" => command.bound.peer_window = small(flag, value()?, 1)?,
                "--our-window" => command.bound.our_window = small(flag, value()?, 1)?,
                "--peer-sends" => command.bound.peer_sends = small(flag, value()?, 0)?,
                "--peer-moves" => command.bound.peer_moves = small(flag, value()?, 0)?,
                "--kernel" => {
                    command.kernel_given = true;
                    let name = value()?;
                    command.bound.kernel = Flavour::from_name(name).ok_or_else(|| {
                        format!("{flag} takes linux, freebsd or macos, not {name:?}")
                    })?;
                }
                option if option.starts_with('-') => {
                    return Err(format!("unknown option {option}"));
                }
                stray => return Err(format!("unexpected argument {stray:?}")),
            }
        }
        command.policy = policy
            .poll_interval(poll_min, poll_max)
            .build()
            .map_err(|error| format!("invalid policy: {error}"))?;
        if replay {
            conformance.grid = command.grid.take().unwrap_or(Grid::Full);
            command.conformance = Some(conformance);
            return Ok(command);
        }
        if command.diagram {
            return Ok(command);
        }
        match command.strategy.as_str() {
            "linger" | "handover" | "naive" | "shutdown-close" | "so-linger" | "fixed-delay" => {
                Ok(command)
            }
            "" => Err("--strategy is required".into()),
            other => Err(format!("unknown strategy {other:?}")),
        }
    }

    fn run(self) -> ExitCode {
        if let Some(conformance) = &self.conformance {
            return conformance.run();
        }
        if self.diagram {
            print!("{}", diagram::mermaid(&diagram::policies(), self.bound));
            return ExitCode::SUCCESS;
        }
        let model_micros = |duration: Duration| duration.as_micros() as u64;
        match self.strategy.as_str() {
            "linger" => self.go(Linger {
                policy: self.policy,
            }),
            "handover" => self.go(Handover {
                policy: self.policy,
            }),
            "naive" => self.go(Naive),
            "shutdown-close" => self.go(ShutdownClose),
            "so-linger" => self.go(SoLinger {
                timeout: model_micros(self.linger),
            }),
            _ => self.go(FixedDelay {
                delay: model_micros(self.delay),
            }),
        }
    }

    fn go<S: Strategy>(&self, strategy: S) -> ExitCode {
        if let Some(grid) = self.grid {
            return self.over(grid, strategy);
        }
        let check = match Check::new(strategy).bound(self.bound) {
            Ok(check) => check,
            Err(error) => {
                eprintln!("linger-check: {error}");
                return ExitCode::from(2);
            }
        };
        if let Some(address) = &self.explore {
            // Bind first, so that the line below is not printed for an address taken or bad.
            if let Err(error) = std::net::TcpListener::bind(address.as_str()) {
                eprintln!("linger-check: cannot serve on {address}: {error}");
                return ExitCode::from(2);
            }
            println!(
                "serving the explorer for {} on http://{address}",
                check.model().strategy.name()
            );
            if let Err(error) = check.explore(address) {
                eprintln!("linger-check: cannot serve on {address}: {error}");
                return ExitCode::from(2);
            }
            return ExitCode::SUCCESS;
        }
        let report = check.run();
        print!("{report}");
        if report.holds() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

impl Command {
    /// Checks `strategy` at every bound of `grid`, on every kernel (or the one `--kernel`
    /// names): a Markdown table, a row per bound, a column per kernel (states, distinct,
    /// time), and which properties fail, as docs/model.md shows it. Where the peer makes no
    /// move, no close can end (neither the peer's FIN nor a reset nor a timeout comes): the
    /// `sometimes` properties have no example there, and the row says so without failing.
    fn over<S: Strategy>(&self, grid: Grid, strategy: S) -> ExitCode {
        let kernels = if self.kernel_given {
            vec![self.bound.kernel]
        } else {
            Flavour::ALL.to_vec()
        };
        println!("strategy {} over the {} grid", strategy.name(), grid.name());
        let columns: Vec<String> = kernels
            .iter()
            .map(|kernel| format!(" {kernel}: states (distinct), time |"))
            .collect();
        println!("| bound |{} properties |", columns.concat());
        println!("|---|{}---|", "---|".repeat(kernels.len()));
        let mut holds = true;
        for bound in grid.bounds() {
            let mut row = format!("| {} |", bound.short_name());
            let mut failing: Vec<String> = Vec::new();
            let mut unended: Vec<&str> = Vec::new();
            for &kernel in &kernels {
                let report = match Check::new(strategy.clone()).bound(Bound { kernel, ..bound }) {
                    Ok(check) => check.run(),
                    Err(error) => {
                        eprintln!("linger-check: {error}");
                        return ExitCode::from(2);
                    }
                };
                sort_failures(&bound, kernel, &report.verdicts, &mut failing, &mut unended);
                row.push_str(&format!(
                    " {} ({}), {:.1?} |",
                    report.states, report.unique_states, report.elapsed
                ));
            }
            holds &= failing.is_empty();
            let properties = match (failing.is_empty(), unended.is_empty()) {
                (true, true) => "all hold".to_string(),
                (true, false) => format!(
                    "always hold; no example of {} (the peer makes no move)",
                    unended.join(", ")
                ),
                (false, _) => format!("FAIL: {}", failing.join(", ")),
            };
            println!("{row} {properties} |");
        }
        if holds {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// Sorts the properties that do not hold at `bound` on `kernel`: into `failing` (named with
/// the kernel), or into `unended` for a `sometimes` property where the peer makes no move, so
/// that no close can end (named once for all kernels).
fn sort_failures(
    bound: &Bound,
    kernel: Flavour,
    verdicts: &[Verdict],
    failing: &mut Vec<String>,
    unended: &mut Vec<&'static str>,
) {
    for verdict in verdicts.iter().filter(|verdict| !verdict.holds) {
        if verdict.sometimes && bound.peer_moves == 0 {
            if !unended.contains(&verdict.property) {
                unended.push(verdict.property);
            }
        } else {
            failing.push(format!("{} ({kernel})", verdict.property));
        }
    }
}

impl Conformance {
    /// Replays the covering set and the walks, prints the report, writes the scripts.
    fn run(&self) -> ExitCode {
        if let Err(error) = conformance::available() {
            eprintln!("linger-check: {error}");
            return ExitCode::from(3);
        }
        let scripts = match Scripts::new(self.scripts.clone()) {
            Ok(scripts) => scripts,
            Err(error) => {
                eprintln!("linger-check: {error}");
                return ExitCode::from(2);
            }
        };
        let bounds = self.grid.bounds();
        let searched = std::time::Instant::now();
        let mut all = builtin::covering_set(&bounds);
        let covering = all.len();
        all.extend(builtin::walks(self.seed, self.walks, &bounds));
        println!(
            "traces:   {covering} covering at {} bounds ({} grid), {} random walks from seed {}, \
             found in {:.1?}",
            bounds.len(),
            self.grid.name(),
            self.walks,
            self.seed,
            searched.elapsed()
        );
        let report = conformance::run(
            &all,
            self.jobs,
            self.fail_fast,
            &builtin::replay,
            &|trace, replayed| scripts.write(trace, replayed),
        );
        let report = match report {
            Ok(report) => report,
            Err(error) => {
                eprintln!("linger-check: {error}");
                return ExitCode::from(3);
            }
        };
        print!("{report}");
        let written = scripts.finish();
        if let Err(error) = &written {
            eprintln!("linger-check: {error}");
        }
        if report.holds() && written.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// Milliseconds, as far as a policy can hold them.
fn millis(flag: &str, value: &str) -> Result<Duration, String> {
    number(flag, value, 0, u64::from(u32::MAX)).map(Duration::from_millis)
}

/// Microseconds, at least one (a poll interval).
fn micros(flag: &str, value: &str) -> Result<Duration, String> {
    number(flag, value, 1, u64::from(u32::MAX)).map(Duration::from_micros)
}

/// A bound in segments or moves: small, because the state space grows exponentially in it.
fn small(flag: &str, value: &str, min: u64) -> Result<u8, String> {
    number(flag, value, min, 16).map(|n| n as u8)
}

fn number(flag: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|number| (min..=max).contains(number))
        .ok_or_else(|| format!("{flag} takes a whole number from {min} to {max}, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(property: &'static str, sometimes: bool, holds: bool) -> Verdict {
        Verdict {
            property,
            sometimes,
            holds,
            counterexample: None,
        }
    }

    #[test]
    fn a_grid_row_fails_on_a_missing_example_only_where_the_peer_moves() {
        let verdicts = [
            verdict("P1", false, true),
            verdict("a clean ending", true, false),
        ];
        let still = Bound {
            peer_moves: 0,
            ..Bound::default()
        };
        let (mut failing, mut unended) = (Vec::new(), Vec::new());
        for kernel in Flavour::ALL {
            sort_failures(&still, kernel, &verdicts, &mut failing, &mut unended);
        }
        assert!(failing.is_empty(), "{failing:?}");
        assert_eq!(unended, ["a clean ending"]);

        let (mut failing, mut unended) = (Vec::new(), Vec::new());
        sort_failures(
            &Bound::default(),
            Flavour::MacOs,
            &verdicts,
            &mut failing,
            &mut unended,
        );
        assert_eq!(failing, ["a clean ending (macos)"]);
        assert!(unended.is_empty());
    }

    #[test]
    fn a_broken_always_property_fails_a_grid_row_even_where_the_peer_makes_no_move() {
        let still = Bound {
            peer_moves: 0,
            ..Bound::default()
        };
        let (mut failing, mut unended) = (Vec::new(), Vec::new());
        sort_failures(
            &still,
            Flavour::Linux,
            &[verdict("P2", false, false)],
            &mut failing,
            &mut unended,
        );
        assert_eq!(failing, ["P2 (linux)"]);
        assert!(unended.is_empty());
    }
}
