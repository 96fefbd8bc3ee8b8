//! Fuzz target: `shared::fuzzing::hub`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::fuzzing::hub(data));
