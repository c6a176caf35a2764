//! The `model` fuzz target's check: an arbitrary policy, then a walk through the model
//! (`linger_model::Walk`: a bound larger than the model checker explores, and at each step
//! which of the enabled steps happens next) with `CloseMachine` under that policy as our
//! application, every `always` property (P1-P5) checked after every step.

use arbitrary::{Arbitrary, Unstructured};
use linger::Policy;
use linger_model::{Check, Failure, Linger, Walk};

/// Decodes a policy and a walk from fuzzer bytes and follows it; bytes that do not decode
/// are not a failure.
pub fn check(data: &[u8]) -> Result<(), Failure> {
    let mut bytes = Unstructured::new(data);
    let Ok(policy) = Policy::arbitrary(&mut bytes) else {
        return Ok(());
    };
    let Ok(walk) = Walk::arbitrary_take_rest(bytes) else {
        return Ok(());
    };
    Check::new(Linger { policy }).walk(&walk)
}
