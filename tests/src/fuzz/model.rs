//! The `model` fuzz target's check: an arbitrary policy, bound, peer behaviour and network
//! interleaving run through the [`model`](crate::model) with `CloseMachine` as our
//! application, every `always` property (P1-P5) checked after every step.
//!
//! Where the model checker explores every path of a small bound, this follows one path at a
//! time through larger ones: the bytes choose the policy, the bound, and at each step which
//! of the enabled steps happens next.

use crate::model::{Bound, CloseModel, Flavour, Linger, Step, properties};
use arbitrary::{Arbitrary, Unstructured};
use linger::Policy;
use stateright::{Expectation, Model};

/// The longest path followed for one input.
const MAX_STEPS: usize = 400;

/// A property that failed, with the path that led there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The property.
    pub property: &'static str,
    /// The steps taken, in order.
    pub path: Vec<Step>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} fails after {:?}", self.property, self.path)
    }
}

impl std::error::Error for Failure {}

/// Decodes a policy, a bound and a path from fuzzer bytes and follows it; bytes that do not
/// decode are not a failure.
pub fn check(data: &[u8]) -> Result<(), Failure> {
    let mut bytes = Unstructured::new(data);
    let Ok((policy, bound)) = decode(&mut bytes) else {
        return Ok(());
    };
    let model = CloseModel {
        strategy: Linger { policy },
        bound,
    };
    let always: Vec<_> = properties::all::<Linger>()
        .into_iter()
        .filter(|property| property.expectation == Expectation::Always)
        .collect();
    let Some(mut world) = model.init_states().into_iter().next() else {
        return Ok(());
    };
    let mut path = Vec::new();
    let mut steps = Vec::new();
    loop {
        if let Some(property) = always
            .iter()
            .find(|property| !(property.condition)(&model, &world))
        {
            return Err(Failure {
                property: property.name,
                path,
            });
        }
        steps.clear();
        model.actions(&world, &mut steps);
        if steps.is_empty() || path.len() == MAX_STEPS {
            return Ok(());
        }
        let Ok(choice) = bytes.choose_index(steps.len()) else {
            return Ok(());
        };
        let step = steps[choice];
        path.push(step);
        world = world.after(&model.strategy, step);
    }
}

/// Any valid policy; a bound a little larger than the model checker's, within what the
/// model's `u8` counters hold; any flavour of our kernel.
fn decode(bytes: &mut Unstructured<'_>) -> arbitrary::Result<(Policy, Bound)> {
    let policy = Policy::arbitrary(bytes)?;
    let bound = Bound {
        segments: bytes.int_in_range(1..=8)?,
        peer_window: bytes.int_in_range(1..=4)?,
        our_window: bytes.int_in_range(1..=4)?,
        peer_sends: bytes.int_in_range(0..=8)?,
        peer_moves: bytes.int_in_range(0..=10)?,
        kernel: *bytes.choose(&Flavour::ALL)?,
    };
    Ok((policy, bound))
}
