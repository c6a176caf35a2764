//! `CloseMachine`'s state diagram, read off the explored state space: every change of the
//! machine's state that some step of the model causes, labelled with the cause (or, into
//! `Closed`, with the ending reported). `docs/state-diagram.mmd` is this output; a test
//! fails when the two drift apart.

use crate::{Bound, Linger, Peer, Step, World};
use linger::{CloseMachine, Ending, NagleMode, Policy, Release, State};
use std::collections::{BTreeSet, HashSet, VecDeque};

/// The Mermaid state diagram of every transition the model reaches under `policies`.
pub fn mermaid(policies: &[Policy], bound: Bound) -> String {
    let mut starts = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for &policy in policies {
        let strategy = Linger { policy };
        let start = World::start(&strategy, &bound);
        starts.insert(start.app.state());
        let mut seen = HashSet::from([start.clone()]);
        let mut queue = VecDeque::from([start]);
        let mut steps = Vec::new();
        while let Some(world) = queue.pop_front() {
            steps.clear();
            world.steps(&strategy, &Peer::default(), &mut steps);
            for &step in &steps {
                let next = world.after(&strategy, step);
                let (from, to) = (world.app.state(), next.app.state());
                if from != to {
                    edges.insert((from, to, label(step, &next.app)));
                }
                if seen.insert(next.clone()) {
                    queue.push_back(next);
                }
            }
        }
    }
    let mut text = String::from("stateDiagram-v2\n");
    for start in starts {
        text.push_str(&format!("    [*] --> {start}\n"));
    }
    for (from, to, label) in edges {
        text.push_str(&format!("    {from} --> {to}: {label}\n"));
    }
    text.push_str("    Closed --> [*]\n");
    text
}

/// The policies the committed diagram is drawn from: the model's policy, and the same with
/// the cork held while assembling (so `Corked` appears).
pub fn policies() -> [Policy; 2] {
    let policy = super::policy();
    let corked = Policy::builder()
        .idle_timeout(policy.idle_timeout())
        .linger_budget(policy.linger_budget())
        .poll_interval(policy.poll_interval().0, policy.poll_interval().1)
        .discard_cap(policy.discard_cap())
        .reads_per_wakeup(policy.reads_per_wakeup())
        .nagle(NagleMode::CorkWhileAssembling)
        .build()
        .expect("the model policy with a cork is valid");
    [policy, corked]
}

/// What made the machine change state: into `Closed`, the ending it reports; otherwise the
/// model step.
fn label(step: Step, machine: &CloseMachine) -> String {
    if let Some(outcome) = machine.outcome() {
        let ending = match outcome.ending {
            Ending::Clean => "Clean",
            Ending::AckedPeerOpen => "AckedPeerOpen",
            Ending::DataAcked { .. } => "DataAcked",
            Ending::TimedOut { .. } => "TimedOut",
            Ending::ResetByPeer { .. } => "ResetByPeer",
            Ending::Aborted { .. } => "Aborted",
            Ending::Failed { .. } => "Failed",
            Ending::Unknown { .. } => "Unknown",
            _ => "other",
        };
        let release = match outcome.release {
            Release::Close => "close",
            Release::Abort => "abort",
        };
        return format!("{ending} ({release}) after {}", cause(step));
    }
    match machine.state() {
        State::Draining => format!("all acked, after {}", cause(step)),
        _ => cause(step).into(),
    }
}

fn cause(step: Step) -> &'static str {
    match step {
        Step::AppCloses => "close",
        Step::DeliverToUs => "a segment arrives",
        Step::Tick => "a timer",
        Step::DeliverToPeer
        | Step::PeerReads
        | Step::PeerSends
        | Step::PeerHalfCloses
        | Step::PeerCloses
        | Step::PeerResets => "a peer step",
        Step::OurKernelGivesUp => "a retransmission timeout",
        Step::OurKernelProbes | Step::PeerKernelProbes => "a persist timer",
    }
}
