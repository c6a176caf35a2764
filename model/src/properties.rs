//! P1-P5 (docs/design.md) as stateright properties over [`World`]; two promises of a
//! lingering policy (progress is never cut off before the budget, nothing is discarded past
//! the cap); and `sometimes` properties that fail if the model explores nothing interesting,
//! or if the strategy never does its job (a clean ending). The names read after stateright's
//! own word for each: the explorer shows "Always P1 no silent loss", "Sometimes a clean
//! ending".

use super::kernel::Dead;
use super::strategy::Strategy;
use super::world::World;
use crate::CloseModel;
use linger::{Ending, Release};
use stateright::Property;

/// Each `sometimes` property's name, and what a path must do to reach it (the report says it
/// when no path does).
pub const SOMETIMES: [(&str, &str); 3] = [
    (
        "every byte delivered",
        "the socket released after the peer received every byte",
    ),
    (
        "a clean ending",
        "a plain close with everything acknowledged, the peer's FIN in, neither side reset \
         and, from a strategy that reports how it ended, Clean",
    ),
    ("a connection reset", "a reset of either side"),
];

/// Every property, in report order.
pub fn all<S: Strategy>() -> Vec<Property<CloseModel<S>>> {
    let [delivered, clean, reset] = SOMETIMES.map(|(name, _)| name);
    vec![
        Property::always("P1 no silent loss", no_silent_loss),
        Property::always("P2 no self-inflicted reset", no_self_inflicted_reset),
        Property::always("P3 closed within the bound", bounded),
        Property::always("P4 no misuse, fd closed once", no_misuse),
        Property::always("P5 outcome matches what happened", honest_outcome),
        Property::always("progress is never cut off before the budget", patient),
        Property::always("nothing discarded past the cap", within_discard_cap),
        Property::sometimes(delivered, all_delivered),
        Property::sometimes(clean, a_clean_ending),
        Property::sometimes(reset, a_reset),
    ]
}

/// P1: a strategy that believes its data delivered has lost none of it.
fn no_silent_loss<S: Strategy>(model: &CloseModel<S>, world: &World<S::App>) -> bool {
    !(model.strategy.claims_delivery(&world.app) && world.lost() > 0)
}

/// P2: never a plain `close` over received data nobody read.
fn no_self_inflicted_reset<S: Strategy>(_: &CloseModel<S>, world: &World<S::App>) -> bool {
    !world.facts.closed_on_unread
}

/// P3: released within the strategy's bound of the decision to close; until then a deadline
/// inside the bound is armed, so a silent peer cannot hold the socket.
fn bounded<S: Strategy>(model: &CloseModel<S>, world: &World<S::App>) -> bool {
    let Some(asked) = world.facts.close_asked_at else {
        return true;
    };
    let limit = asked.saturating_add(model.strategy.time_bound());
    match world.facts.released_at {
        Some(released) => released <= limit,
        None => model
            .strategy
            .deadline(&world.app)
            .is_some_and(|deadline| deadline <= limit),
    }
}

/// P4: no socket call after release, no write or cork after shutdown, one close of the fd.
fn no_misuse<S: Strategy>(_: &CloseModel<S>, world: &World<S::App>) -> bool {
    world.facts.misuse.is_none() && (!world.released() || world.facts.fd_closes == 1)
}

/// P5: the reported outcome matches the kernels: bytes written and discarded, elapsed time,
/// and an ending that the kernel state at release supports.
fn honest_outcome<S: Strategy>(model: &CloseModel<S>, world: &World<S::App>) -> bool {
    let Some(outcome) = model.strategy.outcome(&world.app) else {
        return true;
    };
    let (Some(released), Some(unacked)) = (world.facts.released_at, world.facts.unacked_at_release)
    else {
        return false;
    };
    let asked = world.facts.close_asked_at.unwrap_or(released);
    // The model's machine sees every write, so it must report the count.
    let figures = outcome.bytes_written == Some(u64::from(world.ours.written))
        && outcome.bytes_discarded == u64::from(world.facts.read_after_close)
        && outcome.elapsed.as_micros() == u128::from(released - asked);
    let ending = match outcome.ending {
        Ending::Clean => unacked == 0 && world.ours.peer_fin,
        Ending::AckedPeerOpen => unacked == 0,
        // Every data byte acknowledged (the FIN may not be); the peer's EOF as reported.
        Ending::DataAcked { peer_eof } => {
            world.ours.acked == world.ours.written && (!peer_eof || world.ours.peer_fin)
        }
        // The figure is from the last query; the real queue can only have shrunk since.
        Ending::TimedOut { unacked: reported } | Ending::Failed { unacked: reported } => {
            reported.is_none_or(|reported| reported >= unacked)
        }
        Ending::ResetByPeer { .. } => world.ours.dead == Some(Dead::ResetByPeer),
        Ending::Aborted { .. } => outcome.release == Release::Abort,
        Ending::Unknown { peer_eof } => !peer_eof || world.ours.peer_fin,
        _ => false,
    };
    // An abort resets a connection that is not over; one closed both ways it only releases.
    let release = match outcome.release {
        Release::Abort => world.ours.disconnected(),
        Release::Close => !world.facts.closed_on_unread,
    };
    figures && ending && release
}

/// A close that lets go when time passes, before its budget and not by its policy's choice
/// (a time-out, or giving up on a peer that has not closed while the policy waits for it;
/// not a peer cut off at the discard cap), has seen no progress for a whole idle timeout: a
/// peer that keeps acknowledging, sending or closing within the idle timeout and the cap is
/// kept until the budget.
fn patient<S: Strategy>(model: &CloseModel<S>, world: &World<S::App>) -> bool {
    let (Some(policy), Some(outcome)) =
        (model.strategy.policy(), model.strategy.outcome(&world.app))
    else {
        return true;
    };
    let (Some(asked), Some(released)) = (world.facts.close_asked_at, world.facts.released_at)
    else {
        return true;
    };
    let micros = |duration: core::time::Duration| duration.as_micros() as u64;
    // A peer that sent past the discard cap is cut off by the cap's own promise.
    let within_cap = outcome.bytes_discarded < u64::from(policy.discard_cap());
    let gave_up = within_cap
        && match outcome.ending {
            Ending::TimedOut { .. } | Ending::Unknown { .. } => true,
            Ending::AckedPeerOpen => policy.wait_for_peer_eof(),
            _ => false,
        };
    let before_budget = released < asked.saturating_add(micros(policy.linger_budget()));
    let last_progress = world.facts.last_progress.unwrap_or(asked).max(asked);
    !(world.facts.released_by_time && gave_up && before_budget)
        || released >= last_progress.saturating_add(micros(policy.idle_timeout()))
}

/// A strategy with a discard cap never reads more than it after the close.
fn within_discard_cap<S: Strategy>(model: &CloseModel<S>, world: &World<S::App>) -> bool {
    model
        .strategy
        .policy()
        .is_none_or(|policy| u32::from(world.facts.read_after_close) <= policy.discard_cap())
}

/// Some path delivers every byte and releases the socket.
fn all_delivered<S: Strategy>(_: &CloseModel<S>, world: &World<S::App>) -> bool {
    world.released() && world.lost() == 0 && world.peer.received == world.ours.written
}

/// Some path ends gracefully: a plain close with everything acknowledged, the peer's FIN
/// in, neither side reset, and, from a strategy that reports how it ended, `Clean`.
fn a_clean_ending<S: Strategy>(model: &CloseModel<S>, world: &World<S::App>) -> bool {
    let reported_clean = model
        .strategy
        .outcome(&world.app)
        .is_none_or(|outcome| outcome.ending == Ending::Clean && outcome.release == Release::Close);
    world.released()
        && world.facts.unacked_at_release == Some(0)
        && world.ours.peer_fin
        && world.ours.dead.is_none()
        && world.peer.dead.is_none()
        && reported_clean
}

/// Some path ends in a reset.
fn a_reset<S: Strategy>(_: &CloseModel<S>, world: &World<S::App>) -> bool {
    world.ours.dead.is_some() || world.peer.dead.is_some()
}
