//! The checks behind the fuzz targets in `fuzz/fuzz_targets`, one module per target.

pub mod machine;
pub mod model;
