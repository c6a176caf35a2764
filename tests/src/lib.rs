//! Checks for linger beyond each crate's unit tests.
//!
//! - [`sockets`]: real-socket scenarios on loopback (and across a rate-limited link between
//!   network namespaces), run against every driver and against the plain closes they replace;
//! - [`model`]: exhaustive model checking of close strategies (P1-P5 over every
//!   interleaving of a bounded model of two kernels and an adversarial peer);
//! - [`fuzz`]: the checks the fuzz targets in `fuzz/` run, also replayed over the committed
//!   corpus by `cargo test`.

pub mod fuzz;
pub mod model;
pub mod sockets;

/// The README's examples, compiled (and where they can, run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
