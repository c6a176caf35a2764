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
//! next request after the server's close. Every figure in the tables is measured in this run;
//! the output defines its columns and fits 80 columns (pinned by the tests below).

use linger_check::sockets::netns::{SlowLink, early_reply_across};
use linger_check::sockets::{self, Closer, Received, Run};
use linger_model::text::{WIDTH, wrap};
use std::process::ExitCode;
use std::time::Duration;

const SO_LINGER: &str = "SO_LINGER 5 s";

const STRATEGIES: [(&str, Closer); 7] = [
    ("plain close", Closer::Plain),
    ("shutdown + close", Closer::ShutdownThenClose),
    (SO_LINGER, Closer::SoLinger(Duration::from_secs(5))),
    (
        "Go's 500 ms delay",
        Closer::FixedDelay(Duration::from_millis(500)),
    ),
    ("linger-std", Closer::Std),
    ("linger-mio", Closer::Mio),
    ("linger-tokio", Closer::Tokio),
];

/// What the demo shows, and what a lingering close is, before the tables.
const INTRO: &str = "A server sends a 1 MiB response on loopback to a client reading through a \
    64 KiB buffer, then closes: plainly, after shutdown, with SO_LINGER, as Go does (shut down \
    writing, wait 500 ms, close) and with linger's lingering close through each of its \
    drivers (shut down writing, discard what the peer still sends until it has acknowledged \
    every byte and closed its side, within a time budget, then close). Measured in this run:";

/// Each column of the tables, defined.
const LEGEND: &str = "peer read, lost: bytes of the response the peer read, and never got; \
    read ended: EOF (clean) or ECONNRESET (reset, the rest destroyed); fd held: until the \
    socket was released; outcome: linger's report (clean: all acknowledged, EOF read).";

/// A scenario on loopback: a peer, and the server closing with a `Closer`.
type Scenario = fn(Closer) -> Run;

/// The peers of the loopback table, each with the scenario it runs.
const PEERS: [(&str, Scenario); 2] = [
    (
        "The peer uploaded 64 KiB first, which the server never reads (an early 413):",
        sockets::early_reply,
    ),
    (
        "The peer sends its next request after the server's close:",
        sockets::late_sender,
    ),
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

    println!("{}\n\n{}", wrap("", INTRO, WIDTH), wrap("", LEGEND, WIDTH));
    let mut rows = Vec::new();
    for (peer, scenario) in PEERS {
        let first = rows.len();
        for (name, closer) in STRATEGIES {
            let run = scenario(closer);
            rows.push(Row {
                table: "loopback",
                peer: peer.into(),
                strategy: name,
                written: run.sent,
                received: run.received,
                released_after: run.close_took,
                limit: None,
                outcome: run.outcome,
            });
        }
        println!("\n{peer}\n{}", table(&rows[first..]));
    }
    println!("\n{}", summary(&rows));
    all_rows.extend(rows);

    if slow_link {
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
                limit: Some(limit),
                outcome: run.outcome,
            });
        }
        println!(
            "\n{}\n{}",
            wrap("", &slow_link_intro(), WIDTH),
            table(&rows)
        );
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

/// The table in a sentence, wrapped: which strategies delivered every byte (and how long they
/// held the fd), which lost data. linger's drivers count as one.
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
    wrap(
        "summary: ",
        &format!("every byte delivered by {delivered}; data lost by {lost}."),
        WIDTH,
    )
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
    let note = format!(
        "Why {SO_LINGER} released the fd after {times} although it may block close() for \
         5 s: SO_LINGER makes close() wait (even on a non-blocking socket) only while Linux \
         still has data to deliver gracefully. With received data unread (the upload), \
         close() does not deliver: it resets the connection (TCPAbortOnClose) and returns at \
         once, so there is nothing to wait for. Against the late sender close() waited until \
         the peer's next request arrived, which Linux answers with a reset too \
         (TCPAbortOnData). Either way the peer loses what was still queued."
    );
    Some(wrap("", &note, WIDTH))
}

/// What the slow-link table shows, and its `limit` column.
fn slow_link_intro() -> String {
    format!(
        "Across a veth pair limited to {LINK_MBIT} Mbit/s by tbf: a {}-byte answer after a \
         64 KiB upload the server never reads. limit: how long the bytes still queued at \
         close take through the link, the least a close that delivers them must hold the fd.",
        grouped(LINK_ANSWER)
    )
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
    /// The physical limit of a close that delivers everything, on the slow link.
    limit: Option<Duration>,
    outcome: Option<linger::Outcome>,
}

impl Row {
    /// The peer read every byte written, then a clean EOF.
    fn delivered(&self) -> bool {
        self.received.bytes == self.written && self.received.eof
    }
}

/// `rows` as a table whose columns are as wide as their widest cell, figures aligned right;
/// a `limit` column when the rows have one. The `LEGEND` defines each column.
fn table(rows: &[Row]) -> String {
    let with_limit = rows.iter().any(|row| row.limit.is_some());
    let columns = columns(with_limit);
    let mut lines: Vec<Vec<String>> =
        vec![columns.iter().map(|(name, _)| name.to_string()).collect()];
    for row in rows {
        let mut cells = vec![
            row.strategy.to_string(),
            grouped(row.received.bytes),
            grouped(row.written.saturating_sub(row.received.bytes)),
            saw(row.received).to_string(),
            millis(row.released_after),
        ];
        if with_limit {
            cells.push(row.limit.map_or_else(|| "-".into(), millis));
        }
        cells.push(
            row.outcome
                .map_or_else(|| "-".into(), |outcome| outcome.ending.to_string()),
        );
        lines.push(cells);
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|column| {
            let widths = lines.iter().map(|cells| cells[column].chars().count());
            widths.max().unwrap_or(0)
        })
        .collect();
    let lines: Vec<String> = lines
        .iter()
        .map(|cells| aligned(cells, &widths, &columns))
        .collect();
    lines.join("\n")
}

/// One line of a table: each cell padded to its column's width, to the right for a figure.
fn aligned(cells: &[String], widths: &[usize], columns: &[(&str, bool)]) -> String {
    let cells = cells
        .iter()
        .zip(widths)
        .zip(columns)
        .map(|((cell, &width), &(_, figure))| {
            if figure {
                format!("{cell:>width$}")
            } else {
                format!("{cell:<width$}")
            }
        });
    cells.collect::<Vec<_>>().join("  ").trim_end().to_string()
}

/// The table's columns, each defined in the `LEGEND` (`limit` before the slow-link table),
/// and whether it holds a figure, aligned right.
fn columns(with_limit: bool) -> Vec<(&'static str, bool)> {
    let mut columns = vec![
        ("strategy", false),
        ("peer read", true),
        ("lost", true),
        ("read ended", false),
        ("fd held", true),
    ];
    if with_limit {
        columns.push(("limit", true));
    }
    columns.push(("outcome", false));
    columns
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// `count` with its thousands separated by commas: 1,048,576.
fn grouped(count: usize) -> String {
    let digits = count.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use linger::{Ending, Outcome, Release};
    use linger_model::text::widest_line;

    /// A row with made-up figures: `lost` of the `written` bytes lost to a reset, or none,
    /// the fd held for `held`.
    fn row(strategy: &'static str, written: usize, lost: usize, held: Duration) -> Row {
        Row {
            table: "made up",
            peer: "made up".into(),
            strategy,
            written,
            received: Received {
                bytes: written - lost,
                reset: lost > 0,
                eof: lost == 0,
            },
            released_after: held,
            limit: None,
            outcome: None,
        }
    }

    /// One row per strategy with the widest figures each has in the demo: the plain closes
    /// lose less than 1 MB (the peer reads 127,574 bytes of a loopback reply, more than 1 MB
    /// of the slow link's), SO_LINGER holds the fd its 5 s at most, linger's drivers end with
    /// `ending` in less than a second; on the slow link, each with a limit under a second.
    fn rows(written: usize, ending: Ending, slow_link: bool) -> Vec<Row> {
        let second = Duration::from_millis(999);
        let mut rows: Vec<Row> = STRATEGIES
            .iter()
            .map(|&(name, closer)| match closer {
                Closer::Std | Closer::Mio | Closer::Tokio => Row {
                    outcome: Some(Outcome {
                        ending,
                        release: Release::Close,
                        bytes_written: Some(written as u64),
                        bytes_discarded: 65536,
                        elapsed: second,
                    }),
                    ..row(name, written, 0, second)
                },
                Closer::FixedDelay(delay) => row(name, written, 0, delay),
                Closer::SoLinger(timeout) => row(name, written, 999_999, timeout),
                _ => row(name, written, 999_999, Duration::ZERO),
            })
            .collect();
        if slow_link {
            for row in &mut rows {
                row.limit = Some(second);
            }
        }
        rows
    }

    /// Everything the demo prints but the figures' headings, for `rows`.
    fn printed(rows: &[Row]) -> String {
        let so_linger = so_linger_note(rows).unwrap_or_default();
        [
            wrap("", INTRO, WIDTH),
            wrap("", LEGEND, WIDTH),
            PEERS.map(|(peer, _)| peer).join("\n"),
            wrap("", &slow_link_intro(), WIDTH),
            table(rows),
            summary(rows),
            so_linger,
        ]
        .join("\n")
    }

    #[test]
    fn every_line_fits_80_columns() {
        for slow_link in [false, true] {
            let printed = printed(&rows(LINK_ANSWER, Ending::Clean, slow_link));
            assert!(widest_line(&printed) <= WIDTH, "{printed}");
        }
    }

    #[test]
    fn the_legend_defines_every_column_clean_and_the_intro_a_lingering_close() {
        // The strategies are named in the intro.
        for (column, _) in columns(false).into_iter().skip(1) {
            assert!(LEGEND.contains(column), "{column} undefined");
        }
        assert!(LEGEND.contains("(clean: "));
        assert!(slow_link_intro().contains(" limit: "));
        assert!(INTRO.contains("lingering close through each of its drivers (shut down writing"));
    }

    #[test]
    fn the_bytes_lost_stand_under_lost_and_the_outcome_under_outcome() {
        let table = table(&rows(1 << 20, Ending::Clean, false));
        let lines: Vec<&str> = table.lines().collect();
        let end_of = |line: &str, text: &str| line.find(text).map(|at| at + text.len());
        assert_eq!(
            end_of(lines[0], "lost"),
            end_of(lines[1], "999,999"),
            "{table}"
        );
        let outcome = lines[0].find("outcome");
        assert_eq!(outcome, lines[5].find("clean"), "{table}");
    }

    #[test]
    fn the_summary_wraps_under_its_label() {
        let summary = summary(&rows(1 << 20, Ending::Clean, false));
        assert!(
            summary.starts_with("summary: every byte delivered by "),
            "{summary}"
        );
        assert!(summary.lines().count() > 1, "{summary}");
        for line in summary.lines().skip(1) {
            assert!(line.starts_with("         ") && !line.starts_with("          "));
        }
    }

    #[test]
    fn figures_are_grouped_by_thousands() {
        for (count, grouped_count) in [(0, "0"), (999, "999"), (127_574, "127,574")] {
            assert_eq!(grouped(count), grouped_count);
        }
        assert_eq!(grouped(1_048_576), "1,048,576");
    }

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
