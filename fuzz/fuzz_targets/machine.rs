//! An arbitrary policy and sequence of intents, observations and time steps fed to one
//! `CloseMachine`; its contract is checked after every step (`linger_check::fuzz::machine`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = linger_check::fuzz::machine::check(data) {
        panic!("{violation}");
    }
});
