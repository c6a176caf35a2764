//! Checks for linger beyond each crate's unit tests.
//!
//! - [`sockets`]: real-socket scenarios on loopback (and across a rate-limited link between
//!   network namespaces), run against every driver and against the plain closes they replace;
//! - [`model`]: exhaustive model checking of close strategies (P1-P5 over every
//!   interleaving of a bounded model of two kernels and an adversarial peer);
//! - [`life`]: exhaustive model checking of the life before the close (the guards of
//!   `CloseMachine::accepted` against every way a peer and an application can behave);
//! - [`fuzz`]: the checks the fuzz targets in `fuzz/` run, also replayed over the committed
//!   corpus by `cargo test`;
//! - [`skip`]: how a test that lacks a program or root says it skips;
//! - [`text`]: wrapping the reports to a terminal's width.

pub mod conformance;
pub mod fuzz;
pub mod life;
pub mod model;
pub mod skip;
pub mod sockets;
pub mod text;

/// The READMEs' examples (the repository's and each published crate's, shown on crates.io),
/// compiled and, where they can, run as doctests. Here, where every driver is a dependency,
/// rather than in each crate; `tests/readme.rs` checks that none is `ignore`d and that each
/// README with Rust in it is listed here (or, needing TLS, in linger-stacks, as `docs/`'s
/// are).
#[cfg(doctest)]
mod readmes {
    #[doc = include_str!("../../README.md")]
    struct Repository;
    #[doc = include_str!("../../core/README.md")]
    struct Linger;
    #[doc = include_str!("../../drivers/io/README.md")]
    struct LingerIo;
    #[doc = include_str!("../../drivers/std/README.md")]
    struct LingerStd;
    #[doc = include_str!("../../drivers/mio/README.md")]
    struct LingerMio;
    #[doc = include_str!("../../drivers/tokio/README.md")]
    struct LingerTokio;
}
