//! Fuzz target: `shared::fuzzing::issue_fold`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::fuzzing::issue_fold(data));
