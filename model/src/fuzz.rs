//! Random paths through the model, beyond the bounds exhaustive search takes.
//!
//! Where [`Check::run`] explores every path of a small bound, [`Check::walk`] follows one
//! path through a larger one and checks every `always` property of the check (P1-P5, the
//! policy's promises, your own) after every step. A [`Walk`] is the bound and, at each step,
//! which of the enabled steps comes next: a fuzzer decodes one from its bytes (`Walk` is
//! [`Arbitrary`](https://docs.rs/arbitrary/1/arbitrary/trait.Arbitrary.html)), proptest
//! generates them ([`walks`], feature `proptest`), and a failure comes back as the path in the
//! words of the checker's counterexamples.
//!
//! A cargo-fuzz target for your strategy is three lines:
//!
//! ```no_run
//! # use linger_model::{Check, Linger, Walk, policy};
//! # let data: &[u8] = &[];
//! // fuzz_target!(|data: &[u8]| { ... })
//! let check = Check::new(Linger { policy: policy() });
//! if let Ok(walk) = Walk::from_bytes(data) {
//!     check.walk(&walk).unwrap_or_else(|failure| panic!("{failure}"));
//! }
//! ```

use crate::{Bound, Check, Flavour, Step, Strategy, trace};
use arbitrary::{Arbitrary, Unstructured};
use core::fmt;
use stateright::{Expectation, Model};

/// The longest path a walk follows.
pub const LONGEST_WALK: usize = 400;

/// One path through the model: the bound it runs in and, at each step where more than one
/// step is enabled, which comes next (the next choice, modulo their number; once the choices
/// run out, the first). It ends where no step is enabled, or after [`LONGEST_WALK`] steps: a
/// short walk still goes on to an ending, where the properties about endings are judged.
///
/// From bytes, a choice is taken as `arbitrary`'s `choose_index` takes one (a byte, modulo),
/// so the committed corpus of the `model` fuzz target keeps its paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    /// The bound: our kernel's flavour, the peer's budget, the sizes.
    pub bound: Bound,
    /// One choice per step that has a choice to make.
    pub choices: Vec<u8>,
}

impl Walk {
    /// Decodes a walk from a fuzzer's bytes, as
    /// [`Arbitrary`](https://docs.rs/arbitrary/1/arbitrary/trait.Arbitrary.html) does.
    pub fn from_bytes(data: &[u8]) -> arbitrary::Result<Walk> {
        Walk::arbitrary_take_rest(Unstructured::new(data))
    }
}

impl<'a> Arbitrary<'a> for Walk {
    /// A bound a little larger than exhaustive search takes, within what the model's counters
    /// hold (up to 8 segments, windows of 4, 8 peer sends, 10 moves; any kernel), then the
    /// bytes left, a choice each.
    fn arbitrary(bytes: &mut Unstructured<'a>) -> arbitrary::Result<Walk> {
        let bound = Bound {
            segments: bytes.int_in_range(1..=8)?,
            peer_window: bytes.int_in_range(1..=4)?,
            our_window: bytes.int_in_range(1..=4)?,
            peer_sends: bytes.int_in_range(0..=8)?,
            peer_moves: bytes.int_in_range(0..=10)?,
            kernel: *bytes.choose(&Flavour::ALL)?,
        };
        let choices = bytes.bytes(bytes.len())?.to_vec();
        Ok(Walk { bound, choices })
    }
}

/// An `always` property a walk found broken, with the path that led there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The property.
    pub property: &'static str,
    /// The bound of the walk.
    pub bound: Bound,
    /// The steps taken, in order.
    pub steps: Vec<Step>,
    /// The path in words, as the checker prints a counterexample.
    pub trace: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} fails after {} steps, in bound {}:",
            self.property,
            self.steps.len(),
            self.bound.short_name()
        )?;
        write!(f, "{}", self.trace)
    }
}

impl std::error::Error for Failure {}

impl<S: Strategy> Check<S> {
    /// Follows `walk` through the model (this check's strategy, peer and properties, in the
    /// walk's bound), checking every `always` property after every step: the first that
    /// breaks, with its path. `sometimes` properties are for exhaustive checks: one path
    /// proves nothing about them.
    pub fn walk(&self, walk: &Walk) -> Result<(), Failure> {
        let model = self.model().in_bound(walk.bound);
        let always: Vec<_> = model
            .properties()
            .into_iter()
            .filter(|property| property.expectation == Expectation::Always)
            .collect();
        let Some(start) = model.init_states().into_iter().next() else {
            return Ok(());
        };
        let mut path = vec![(start, None)];
        let mut enabled = Vec::new();
        let mut choices = walk.choices.iter();
        loop {
            let Some((world, _)) = path.last() else {
                return Ok(());
            };
            if let Some(property) = always
                .iter()
                .find(|property| !(property.condition)(&model, world))
            {
                return Err(Failure {
                    property: property.name,
                    bound: walk.bound,
                    steps: path.iter().filter_map(|(_, step)| *step).collect(),
                    trace: trace::render(&model.strategy, &path),
                });
            }
            enabled.clear();
            model.actions(world, &mut enabled);
            if enabled.is_empty() || path.len() > LONGEST_WALK {
                return Ok(());
            }
            let choice = match enabled.len() {
                1 => 0,
                _ => choices.next().copied().unwrap_or(0),
            };
            let step = enabled[usize::from(choice) % enabled.len()];
            let next = world.after(&model.strategy, step);
            if let Some(last) = path.last_mut() {
                last.1 = Some(step);
            }
            path.push((next, None));
        }
    }
}

/// Walks for proptest: a bound no larger than `largest` in any count (each at least what the
/// model needs: a segment, a one-segment window), `largest`'s kernel, and up to
/// [`LONGEST_WALK`] choices. proptest shrinks a failing walk towards a smaller bound and
/// fewer, smaller choices.
///
/// ```
/// use linger_model::{Bound, Check, Linger, fuzz::walks, policy};
/// use proptest::prelude::*;
///
/// let check = Check::new(Linger { policy: policy() });
/// let largest = Bound { segments: 6, peer_window: 3, peer_sends: 6, peer_moves: 8, ..Bound::default() };
/// proptest!(ProptestConfig::with_cases(32), |(walk in walks(largest))| {
///     prop_assert!(check.walk(&walk).is_ok());
/// });
/// ```
#[cfg(feature = "proptest")]
pub fn walks(largest: Bound) -> impl proptest::strategy::Strategy<Value = Walk> {
    use proptest::collection::vec;
    use proptest::prelude::any;
    use proptest::strategy::Strategy as _;
    let at_least = |count: u8, least: u8| least..=count.max(least);
    (
        at_least(largest.segments, 1),
        at_least(largest.peer_window, 1),
        at_least(largest.our_window, 1),
        0..=largest.peer_sends,
        0..=largest.peer_moves,
        vec(any::<u8>(), 0..=LONGEST_WALK),
    )
        .prop_map(
            move |(segments, peer_window, our_window, peer_sends, peer_moves, choices)| Walk {
                bound: Bound {
                    segments,
                    peer_window,
                    our_window,
                    peer_sends,
                    peer_moves,
                    kernel: largest.kernel,
                },
                choices,
            },
        )
}
