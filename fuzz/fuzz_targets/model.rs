//! An arbitrary policy, bound, peer behaviour and network interleaving run through the
//! `linger-check` model with `CloseMachine` as our application; P1-P5 are checked after every
//! step (`linger_check::fuzz::model`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = linger_check::fuzz::model::check(data) {
        panic!("{failure}");
    }
});
