//! Each replayed trace as a packetdrill script (Cardwell et al., USENIX ATC 2013): the calls
//! our application made and what they returned, the peer's segments, and the segments our
//! kernel sent, in the order and at the times they happened here. packetdrill injects the
//! peer's segments through its own TUN device and fails on any call or segment that differs.

use super::peer::Line;
use super::replay::Entry;
use super::traces::Trace;
use core::fmt::Write;
use core::time::Duration;

/// The script of `trace`, from its replay's exchange.
pub fn script(trace: &Trace, exchange: &[Entry]) -> String {
    let mut text = String::new();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(
        text,
        "// linger-check conformance trace: {} ({}), recorded on Linux {}",
        trace.strategy,
        trace.origin,
        release.trim()
    );
    let _ = writeln!(text, "// model steps:");
    for (number, step) in trace.steps.iter().enumerate() {
        let _ = writeln!(text, "//   {:>2}. {step}", number + 1);
    }
    let _ = writeln!(
        text,
        "// One model segment is 100 bytes, the peer's MSS. Our kernel acknowledges at once, as\n\
         // with delayed ACKs off on the route to the peer (`ip route ... quickack 1`).\n"
    );
    let _ = writeln!(text, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3");
    let _ = writeln!(text, "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0");
    let _ = writeln!(
        text,
        "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)"
    );
    let mut last = Duration::ZERO;
    for entry in exchange {
        let at = entry.at();
        let delta = at.saturating_sub(last);
        last = at.max(last);
        let line = match entry {
            Entry::Segment(segment) => {
                format!("+{:.3} {}", delta.as_secs_f64(), segment_line(segment))
            }
            Entry::Call(made) => match made.returned {
                None => format!("+{:.3} {}", delta.as_secs_f64(), call_line(&made.text)),
                // A blocking call: started at `+delta`, returned so long after (packetdrill
                // counts both from the same event).
                Some(returned) => format!(
                    "+{:.3}...{:.3} {}",
                    delta.as_secs_f64(),
                    (delta + returned.saturating_sub(at)).as_secs_f64(),
                    call_line(&made.text)
                ),
            },
        };
        let _ = writeln!(text, "{line}");
    }
    text
}

/// A segment as packetdrill writes it: `<` from the peer, `>` from our kernel.
fn segment_line(line: &Line) -> String {
    let direction = if line.inbound { '<' } else { '>' };
    let range = format!("{}:{}({})", line.seq, line.seq + line.len, line.len);
    let ack = line
        .ack
        .map(|ack| format!(" ack {ack}"))
        .unwrap_or_default();
    match (line.flags.as_str(), line.inbound) {
        ("S", false) => "> S 0:0(0) <...>".into(),
        (_, true) => {
            let mss = line
                .mss
                .map(|mss| format!(" <mss {mss}>"))
                .unwrap_or_default();
            format!("< {} {range}{ack} win {}{mss}", line.flags, line.window)
        }
        (flags, false) => format!("{direction} {flags} {range}{ack}"),
    }
}

/// A call as packetdrill writes it: `SIOCOUTQ` has no name there, so its number; errors with
/// their message.
fn call_line(call: &str) -> String {
    let call = call.replace("SIOCOUTQ", "21521 /* SIOCOUTQ */");
    for (errno, message) in [
        ("EAGAIN", "Resource temporarily unavailable"),
        ("ENOTCONN", "Transport endpoint is not connected"),
        ("ECONNRESET", "Connection reset by peer"),
        ("ETIMEDOUT", "Connection timed out"),
        ("EPIPE", "Broken pipe"),
    ] {
        if call.ends_with(&format!("= -1 {errno}")) {
            return format!("{call} ({message})");
        }
    }
    call
}
