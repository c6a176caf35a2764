//! Counterexamples as numbered, human-readable traces: who did what, what each kernel held,
//! what was in flight, and which data was lost.

use super::kernel::{Dead, Fin, Kernel, Segment, Wire};
use super::strategy::Strategy;
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
        let _ = writeln!(text, "       app:  {}", strategy.describe(&world.app));
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

fn death(dead: Option<Dead>) -> &'static str {
    match dead {
        Some(Dead::ClosedOnUnread) => "sent RST: closed with unread data",
        Some(Dead::DataAfterClose) => "sent RST: data arrived after close",
        Some(Dead::Aborted) => "sent RST: aborted",
        Some(Dead::ResetByPeer) => "was reset by the other side",
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
