//! The transition table: every situation × every input → next state and actions. Rendered
//! as Markdown, pinned by an insta snapshot and kept in `docs/transitions.md`.

use super::helpers::*;
use crate::{CloseMachine, Event};
use core::fmt::Write;
use std::string::String;

/// The situations a machine can be in that answer inputs differently.
fn situations() -> [(&'static str, &'static str, CloseMachine); 17] {
    [
        (
            "Open, awaiting its first byte",
            "`CloseMachine::accepted` at 0 s, nothing read or written",
            accepted(),
        ),
        (
            "Open, receiving",
            "accepted; a request's first 100 bytes read at 0 s, the application waits for more",
            receiving(),
        ),
        (
            "Open, working",
            "accepted; 100 bytes read at 0 s, the peer quiet since, for the 20 s grace",
            working(),
        ),
        (
            "Open, responding",
            "accepted; 100 bytes read, then 1000 written, at 0 s, the application not reading",
            responding(),
        ),
        (
            "Open, responding, write blocked",
            "as responding, then the application's next write waits for room",
            write_blocked(),
        ),
        (
            "Open, idle",
            "accepted; 100 bytes read, the application's read left pending, 1000 written, at 0 s",
            idle(),
        ),
        (
            "Open, receiving, a request held",
            "as receiving, the application holding the request (`hold`) at 0 s",
            held(),
        ),
        (
            "Open, receiving, a request arriving",
            "accepted, the application holding every request it works on (`holds_requests`); \
             a request's first 100 bytes read at 0 s, none held, the application waits for more",
            arriving(),
        ),
        (
            "Open, upgraded",
            "as idle, then taken over for another protocol (`upgrade`) at 0 s",
            upgraded(),
        ),
        ("Open", "1000 bytes written", open()),
        ("Corked", "1000 bytes written", corked()),
        (
            "WriteShut, half-closed",
            "after `shutdown_write`; the application reads",
            half_closed(),
        ),
        (
            "WriteShut, closing",
            "right after `close` at 0 s, nothing answered",
            closing(),
        ),
        (
            "WriteShut, awaiting acks",
            "1001 bytes unacked, reads drained",
            awaiting_acks(),
        ),
        (
            "WriteShut, half-closed after EOF",
            "the application read the peer's EOF, then shut its side",
            half_closed_after_eof(),
        ),
        (
            "Draining, closing",
            "acked, reads drained, waiting for EOF",
            draining(),
        ),
        ("Closed", "closed cleanly", closed()),
    ]
}

/// Every input, applied at 0 s; `timeout` fires the earliest deadline.
const INPUTS: [&str; 25] = [
    "cork",
    "uncork",
    "flush",
    "shutdown_write",
    "close",
    "abort",
    "shorten_budget(2s)",
    "hold",
    "answered",
    "upgrade",
    "holds_requests",
    "Wrote(100)",
    "Readable",
    "Read(100)",
    "ReadBlocked",
    "PeerEof",
    "ReadPending",
    "WritePending",
    "SendQueue(0)",
    "SendQueue(501)",
    "DataAcked",
    "AcksUnobservable",
    "Reset",
    "Failed",
    "timeout",
];

fn apply(machine: &mut CloseMachine, input: &str) -> Result<(), crate::Error> {
    let now = ms(0);
    let event = |event| move |machine: &mut CloseMachine| machine.handle(event, now);
    match input {
        "cork" => machine.cork(),
        "uncork" => machine.uncork(),
        "flush" => machine.flush(),
        "shutdown_write" => machine.shutdown_write(now),
        "close" => machine.close(now),
        "abort" => machine.abort(now),
        "shorten_budget(2s)" => machine.shorten_budget(now, core::time::Duration::from_secs(2)),
        "hold" => machine.hold(now),
        "answered" => machine.answered(now),
        "upgrade" => machine.upgrade(now),
        "holds_requests" => machine.holds_requests(now),
        "Wrote(100)" => event(Event::Wrote(100))(machine),
        "Readable" => event(Event::Readable)(machine),
        "Read(100)" => event(Event::Read(100))(machine),
        "ReadBlocked" => event(Event::ReadBlocked)(machine),
        "PeerEof" => event(Event::PeerEof)(machine),
        "ReadPending" => event(Event::ReadPending)(machine),
        "WritePending" => event(Event::WritePending)(machine),
        "SendQueue(0)" => event(Event::SendQueue { unacked: 0 })(machine),
        "SendQueue(501)" => event(Event::SendQueue { unacked: 501 })(machine),
        "DataAcked" => event(Event::DataAcked)(machine),
        "AcksUnobservable" => event(Event::AcksUnobservable)(machine),
        "Reset" => event(Event::Reset)(machine),
        "Failed" => event(Event::Failed)(machine),
        "timeout" => {
            if let Some(deadline) = machine.poll_timeout() {
                machine.handle_timeout(deadline);
            }
            Ok(())
        }
        other => unreachable!("unknown input {other}"),
    }
}

fn render() -> String {
    let mut out = String::from(
        "# CloseMachine transition table\n\n\
         Generated by `cargo test -p linger` from the code (`core/src/machine/transitions.rs`);\n\
         a test fails when this file and the code disagree. Regenerate with\n\
         `LINGER_BLESS=1 cargo test -p linger transition_table`.\n\n\
         Each section starts from one situation (default policy, 1000 bytes written) and\n\
         applies one input at 0 s; `timeout` fires the earliest deadline. *refused* inputs\n\
         return the error shown and leave the machine unchanged. `Discard(n)` reads and\n\
         discards at most n bytes; the deadline column is `poll_timeout()` afterwards.\n\
         The first eight situations are a live connection's, on a machine made by\n\
         `CloseMachine::accepted`, whose activity follows its state (`Open, idle`); a guard\n\
         that ends it says so (`ended by no first byte`).\n",
    );
    for (name, description, machine) in situations() {
        let deadline = machine
            .poll_timeout()
            .map_or("none".into(), |at| std::format!("{at}"));
        let _ = write!(
            out,
            "\n## {name}\n\n{description}; next deadline: {deadline}.\n\n"
        );
        out.push_str("| input | next state | actions | next deadline |\n");
        out.push_str("|---|---|---|---|\n");
        for input in INPUTS {
            let mut machine = machine.clone();
            let row = match apply(&mut machine, input) {
                Err(error) => std::format!("| {input} | *refused*: {error} | | |"),
                Ok(()) => {
                    let mut state = std::format!("{}", machine.state());
                    if let Some(life) = machine.life() {
                        let _ = write!(state, ", {}", life.activity);
                    }
                    if let Some(guard) = machine.ended_by() {
                        let _ = write!(state, ", ended by {guard}");
                    }
                    let deadline = machine.poll_timeout();
                    let actions: std::vec::Vec<_> = drain(&mut machine)
                        .iter()
                        .map(|a| std::format!("{a}"))
                        .collect();
                    let actions = if actions.is_empty() {
                        "—".into()
                    } else {
                        actions.join(", ")
                    };
                    let outcome = machine.outcome().map_or(String::new(), |outcome| {
                        std::format!(" ({})", outcome.ending)
                    });
                    let deadline = deadline.map_or("—".into(), |at| std::format!("{at}"));
                    std::format!("| {input} | {state}{outcome} | {actions} | {deadline} |")
                }
            };
            out.push_str(&row);
            out.push('\n');
        }
    }
    out
}

/// `core/docs/transitions.md` links to the repository's `docs/transitions.md`; `cargo package`
/// copies the file into the crate, so this test checks the packaged table too.
#[test]
fn transition_table_matches_snapshot_and_docs() {
    let table = render();
    insta::assert_snapshot!("transition_table", table);

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/transitions.md");
    if std::env::var_os("LINGER_BLESS").is_some() {
        std::fs::write(path, &table).expect("write docs/transitions.md");
    }
    let docs = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        docs == table,
        "docs/transitions.md drifted from the code: run `LINGER_BLESS=1 cargo test -p linger \
         transition_table` and commit the result"
    );
}
