//! Counterexamples as numbered, human-readable traces: who did what, what each kernel held,
//! what was in flight, and which data was lost.

use super::kernel::{Dead, Fin, Kernel, Segment, SoError, Wire};
use super::strategy::{Describe, Misuse, Strategy};
use super::world::{Step, World};
use core::fmt::{self, Write};

/// Model time, printed in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Time(pub u64);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (millis, micros) = (self.0 / 1000, self.0 % 1000);
        if micros == 0 {
            write!(f, "{millis}ms")
        } else {
            write!(f, "{millis}.{micros:03}ms")
        }
    }
}

/// The path from the initial world through each step, ending with what was lost.
pub fn render<S: Strategy>(strategy: &S, path: &[(World<S::App>, Option<Step>)]) -> String {
    let mut text = String::new();
    for (number, (world, step)) in path.iter().enumerate() {
        let what = match (number, path.get(number.wrapping_sub(1))) {
            (0, _) => format!("start: our app wrote {} segments", world.ours.written),
            (_, Some((_, Some(step)))) => step.to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            text,
            "{number:>3}. t={:<9} {what}",
            Time(world.now).to_string()
        );
        let _ = writeln!(text, "       app:  {}", world.app.describe());
        let _ = writeln!(text, "       us:   {}", kernel(&world.ours));
        let _ = writeln!(text, "       peer: {}", kernel(&world.peer));
        let _ = writeln!(
            text,
            "       wire: us -> peer [{}], peer -> us [{}]",
            wire(&world.to_peer),
            wire(&world.to_us)
        );
        if step.is_none() {
            let _ = writeln!(text, "{}", verdict(strategy, world));
        }
    }
    text
}

/// One state in words, as the explorer shows it: the clock, our application, both kernels,
/// the wires, what the peer may still do, and what the properties watch.
impl<A: Describe> fmt::Debug for World<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let close = match (self.facts.close_asked_at, self.facts.released_at) {
            (None, _) => "our app has not decided to close".into(),
            (Some(asked), None) => format!("our app decided to close at {}", Time(asked)),
            (Some(asked), Some(released)) => format!(
                "our app decided to close at {}, released the socket at {}",
                Time(asked),
                Time(released)
            ),
        };
        writeln!(f, "t={}: {close}", Time(self.now))?;
        writeln!(f, "app:  {}", self.app.describe())?;
        writeln!(f, "us:   {}", kernel(&self.ours))?;
        writeln!(f, "peer: {}", kernel(&self.peer))?;
        writeln!(
            f,
            "wire: us -> peer [{}], peer -> us [{}]",
            wire(&self.to_peer),
            wire(&self.to_us)
        )?;
        writeln!(
            f,
            "the peer may still make {} moves, {} of them sends",
            self.peer_moves_left,
            self.peer_sends_left.min(self.peer_moves_left)
        )?;
        let facts = &self.facts;
        let misuse = facts.misuse.map_or_else(|| "none".into(), misused);
        writeln!(
            f,
            "facts: fd closes {}, segments read after close {}, plain close over unread data: \
             {}, misuse: {misuse}",
            facts.fd_closes,
            facts.read_after_close,
            if facts.closed_on_unread { "yes" } else { "no" },
        )?;
        if let Some(unacked) = facts.unacked_at_release {
            writeln!(f, "at release SIOCOUTQ was {unacked}")?;
        }
        match self.app.details() {
            Some(details) => write!(f, "details: {details}"),
            None => Ok(()),
        }
    }
}

/// The last line: what was lost and why, or that nothing was.
fn verdict<S: Strategy>(strategy: &S, world: &World<S::App>) -> String {
    let claims = if strategy.claims_delivery(&world.app) {
        "our app believes every byte delivered"
    } else {
        "our app does not claim delivery"
    };
    let mut causes = Vec::new();
    if world.ours.discarded > 0 {
        causes.push(format!(
            "{} never sent: our kernel {}",
            world.ours.discarded,
            death(world.ours.dead)
        ));
    }
    if world.peer.dropped > 0 {
        causes.push(format!(
            "{} arrived after the peer's kernel {}",
            world.peer.dropped,
            death(world.peer.dead)
        ));
    }
    if causes.is_empty() {
        format!("     => nothing lost; {claims}")
    } else {
        format!(
            "     => LOST {} of our {} segments ({}); {claims}",
            world.lost(),
            world.ours.written,
            causes.join("; ")
        )
    }
}

fn misused(misuse: Misuse) -> String {
    match misuse {
        Misuse::CallAfterRelease => "a socket call after the fd was closed".into(),
        Misuse::ClosedTwice => "the fd closed twice".into(),
        Misuse::WriteAfterShutdown => "a write after shutdown".into(),
        Misuse::CorkAfterShutdown => "cork set after shutdown".into(),
        Misuse::Rejected(error) => format!("the machine refused an input: {error}"),
        Misuse::UnknownAction => "an action the model does not know".into(),
    }
}

fn death(dead: Option<Dead>) -> &'static str {
    match dead {
        Some(Dead::ClosedOnUnread) => "sent RST: closed with unread data",
        Some(Dead::DataAfterClose) => "sent RST: data arrived after close",
        Some(Dead::Aborted) => "sent RST: aborted",
        Some(Dead::AbortedQuietly) => "aborted with everything sent: dropped without a RST",
        Some(Dead::ResetByPeer) => "was reset by the other side",
        Some(Dead::TimedOut) => "gave up retransmitting",
        None => "died",
    }
}

fn kernel(kernel: &Kernel) -> String {
    let fin = match kernel.fin {
        Fin::None => "",
        Fin::Queued => ", FIN queued",
        Fin::Sent => ", FIN sent",
        Fin::Acked => ", FIN acked",
    };
    let mut text = format!(
        "wrote {} sent {} acked {}{fin}; received {} unread {}{}; fd {}",
        kernel.written,
        kernel.sent,
        kernel.acked,
        kernel.received,
        kernel.unread(),
        if kernel.peer_fin { ", EOF" } else { "" },
        if kernel.fd_open { "open" } else { "closed" },
    );
    if kernel.dead.is_some() {
        let _ = write!(text, "; {}", death(kernel.dead));
    }
    match kernel.error {
        Some(SoError::Reset) => text.push_str("; ECONNRESET pending"),
        Some(SoError::TimedOut) => text.push_str("; ETIMEDOUT pending"),
        None => {}
    }
    text
}

fn wire(wire: &Wire) -> String {
    let segments: Vec<String> = wire
        .iter()
        .map(|segment| match *segment {
            Segment::Data => "data".into(),
            Segment::Fin => "FIN".into(),
            Segment::Ack {
                received,
                fin,
                window_end,
            } => format!(
                "ack {received}{} win {window_end}",
                if fin { "+FIN" } else { "" }
            ),
            Segment::Rst => "RST".into(),
        })
        .collect();
    segments.join(", ")
}
