//! The loss and the cure, side by side, measured on this machine:
//!
//! ```sh
//! cargo run --release --example demo                # loopback, about 2 s
//! cargo run --release --example demo -- --slow-link # also across a tbf-limited veth (root)
//! cargo run --release --example demo -- --csv demo.csv   # also the rows as CSV, for plots
//! ```
//!
//! A server writes a response and closes it with each strategy while its peer behaves as
//! real clients do: one uploaded data the server never read (an early `413`), one sends its
//! next request after the server's close. Every figure in the table is measured in this run.

use linger_check::sockets::netns::{SlowLink, early_reply_across};
use linger_check::sockets::{self, Closer, Received, Run};
use std::process::ExitCode;
use std::time::Duration;

const SO_LINGER: &str = "SO_LINGER 5 s";

const STRATEGIES: [(&str, Closer); 7] = [
    ("plain close", Closer::Plain),
    ("shutdown + close", Closer::ShutdownThenClose),
    (SO_LINGER, Closer::SoLinger(Duration::from_secs(5))),
    (
        "fixed 500 ms delay",
        Closer::FixedDelay(Duration::from_millis(500)),
    ),
    ("linger (linger-std)", Closer::Std),
    ("linger (linger-mio)", Closer::Mio),
    ("linger (linger-tokio)", Closer::Tokio),
];

/// The slow link's rate, and the answer sent across it.
const LINK_MBIT: u32 = 8;
const LINK_ANSWER: usize = 2_000_000;

const USAGE: &str = "usage: demo [--slow-link] [--csv FILE]   (--slow-link needs root, ip, tc)";

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    slow_link: bool,
    csv: Option<String>,
}

/// The options, `None` when `--help` or `-h` asks for the usage, or what is wrong with them.
fn parse(words: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let words: Vec<String> = words.into_iter().collect();
    if words.iter().any(|word| word == "--help" || word == "-h") {
        return Ok(None);
    }
    let mut options = Options::default();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--slow-link" => options.slow_link = true,
            "--csv" => options.csv = Some(words.next().ok_or("--csv needs a file name")?),
            option if option.starts_with('-') => return Err(format!("unknown option {option}")),
            stray => return Err(format!("unexpected argument {stray:?}")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let Options { slow_link, csv } = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("demo: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut all_rows = Vec::new();

    println!("Loopback, 1 MiB response to a client reading through a 64 KiB buffer.\n");
    let mut rows = Vec::new();
    for (peer, scenario) in [
        (
            "uploaded 64 KiB first",
            sockets::early_reply as fn(Closer) -> Run,
        ),
        ("sends after our close", sockets::late_sender),
    ] {
        for (name, closer) in STRATEGIES {
            let run = scenario(closer);
            rows.push(Row {
                table: "loopback",
                peer: peer.into(),
                strategy: name,
                written: run.sent,
                received: run.received,
                released_after: run.close_took,
                outcome: run.outcome,
            });
        }
    }
    print_table(&rows);
    println!("\n{}", summary(&rows));
    all_rows.extend(rows);

    if slow_link {
        println!(
            "\nAcross a veth pair limited to {LINK_MBIT} Mbit/s by tbf, {LINK_ANSWER} byte \
             answer after a 64 KiB upload; the physical limit is the bytes queued at close \
             through the link's rate.\n"
        );
        let link = match SlowLink::create(LINK_MBIT) {
            Ok(link) => link,
            Err(reason) => {
                eprintln!("demo: cannot build the slow link: {reason}");
                return ExitCode::FAILURE;
            }
        };
        let mut rows = Vec::new();
        for (name, closer) in STRATEGIES {
            let run = early_reply_across(&link, closer, LINK_ANSWER);
            let limit = run.limit(&link);
            rows.push(Row {
                table: "slow link",
                peer: format!("{} B queued, limit {}", run.queued_at_close, millis(limit)),
                strategy: name,
                written: LINK_ANSWER,
                received: run.received,
                released_after: run.close_took,
                outcome: run.outcome,
            });
        }
        print_table(&rows);
        println!("\n{}", summary(&rows));
        all_rows.extend(rows);
    }
    if let Some(note) = so_linger_note(&all_rows) {
        println!("\n{note}");
    }
    if let Some(path) = csv
        && let Err(error) = std::fs::write(&path, to_csv(&all_rows))
    {
        eprintln!("demo: cannot write {path}: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn to_csv(rows: &[Row]) -> String {
    let mut csv =
        String::from("table,peer,strategy,written,received,peer_saw,released_ms,outcome\n");
    for row in rows {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{:.3},{}\n",
            row.table,
            row.peer.replace(',', ";"),
            row.strategy,
            row.written,
            row.received.bytes,
            saw(row.received),
            row.released_after.as_secs_f64() * 1000.0,
            row.outcome
                .map_or_else(|| "-".into(), |outcome| outcome.ending.to_string())
                .replace(',', ";"),
        ));
    }
    csv
}

/// The table in one line: which strategies delivered every byte (and how long they held the
/// fd), which lost data. linger's drivers count as one.
fn summary(rows: &[Row]) -> String {
    let mut groups: Vec<(&str, Vec<&Row>)> = Vec::new();
    for row in rows {
        let name = if row.outcome.is_some() {
            "linger"
        } else {
            row.strategy
        };
        match groups.iter_mut().find(|(group, _)| *group == name) {
            Some((_, members)) => members.push(row),
            None => groups.push((name, vec![row])),
        }
    }
    let (mut delivered, mut lost) = (Vec::new(), Vec::new());
    for (name, members) in groups {
        let whole = members.iter().filter(|row| row.delivered()).count();
        if whole < members.len() {
            lost.push(format!(
                "{name} {} of {}",
                members.len() - whole,
                members.len()
            ));
            continue;
        }
        let held = members.iter().map(|row| row.released_after);
        let (fastest, slowest) = (held.clone().min(), held.max());
        let range = match (fastest.map(millis), slowest.map(millis)) {
            (Some(fastest), Some(slowest)) if fastest != slowest => {
                format!("{fastest} to {slowest}")
            }
            (Some(only), _) => only,
            _ => String::new(),
        };
        delivered.push(format!("{name} {whole} of {whole} (fd held {range})"));
    }
    let delivered = if delivered.is_empty() {
        "none".into()
    } else {
        delivered.join(", ")
    };
    let lost = if lost.is_empty() {
        "none".into()
    } else {
        lost.join(", ")
    };
    format!("summary: every byte delivered by {delivered}; data lost by {lost}.")
}

/// Why the `SO_LINGER` rows released the fd at once although `SO_LINGER` blocks `close()`,
/// with the times measured in this run. `benches/so_linger.py` shows each case alone, with
/// the kernel's reset counters; docs/performance.md has its figures and the `strace` of this
/// demo.
fn so_linger_note(rows: &[Row]) -> Option<String> {
    let times: Vec<String> = rows
        .iter()
        .filter(|row| row.strategy == SO_LINGER)
        .map(|row| millis(row.released_after))
        .collect();
    let (last, others) = times.split_last()?;
    let times = if others.is_empty() {
        last.clone()
    } else {
        format!("{} and {last}", others.join(", "))
    };
    Some(format!(
        "Why {SO_LINGER} released the fd after {times} although it may block close() for 5 s:\n\
         SO_LINGER makes close() wait (even on a non-blocking socket) only while Linux still has\n\
         data to deliver gracefully. With received data unread (the upload), close() does not\n\
         deliver: it resets the connection (TCPAbortOnClose) and returns at once, so there is\n\
         nothing to wait for. Against the late sender close() waited until the peer's next\n\
         request arrived, which Linux answers with a reset too (TCPAbortOnData). Either way the\n\
         peer loses what was still queued.",
    ))
}

fn saw(received: Received) -> &'static str {
    match (received.eof, received.reset) {
        (true, _) => "EOF",
        (_, true) => "ECONNRESET",
        _ => "no end",
    }
}

/// One strategy against one peer.
struct Row {
    table: &'static str,
    peer: String,
    strategy: &'static str,
    written: usize,
    received: Received,
    released_after: Duration,
    outcome: Option<linger::Outcome>,
}

impl Row {
    /// The peer read every byte written, then a clean EOF.
    fn delivered(&self) -> bool {
        self.received.bytes == self.written && self.received.eof
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<32} {:<22} {:>9} {:>18} {:<11} {:>11}  linger's outcome",
        "peer", "strategy", "written", "peer received", "peer saw", "fd released"
    );
    for row in rows {
        let saw = saw(row.received);
        let lost = row.written.saturating_sub(row.received.bytes);
        let received = if lost == 0 {
            format!("{}", row.received.bytes)
        } else {
            format!("{} (-{lost})", row.received.bytes)
        };
        let outcome = row
            .outcome
            .map_or_else(|| "-".into(), |outcome| outcome.ending.to_string());
        println!(
            "{:<32} {:<22} {:>9} {:>18} {:<11} {:>11}  {outcome}",
            row.peer,
            row.strategy,
            row.written,
            received,
            saw,
            millis(row.released_after),
        );
    }
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Option<Options>, String> {
        parse(words.iter().map(|word| word.to_string()))
    }

    #[test]
    fn help_asks_for_the_usage() {
        assert_eq!(parse_words(&["--help"]), Ok(None));
        assert_eq!(parse_words(&["--slow-link", "-h"]), Ok(None));
    }

    #[test]
    fn both_options_parse() {
        let expected = Options {
            slow_link: true,
            csv: Some("demo.csv".into()),
        };
        assert_eq!(
            parse_words(&["--csv", "demo.csv", "--slow-link"]),
            Ok(Some(expected))
        );
    }

    #[test]
    fn unknown_options_stray_words_and_missing_values_are_named() {
        for (words, message) in [
            (&["--bogus-flag"][..], "unknown option --bogus-flag"),
            (&["extra"], "unexpected argument \"extra\""),
            (&["--csv"], "--csv needs a file name"),
        ] {
            assert_eq!(parse_words(words), Err(message.into()), "{words:?}");
        }
    }
}
