//! Fuzz target: `shared::fuzzing::hub`.
//!
//! automerge panics on some inputs; `shared::sync::untrusted` catches those panics as the hub
//! does. libfuzzer-sys's hook would abort on them even when caught, so it is replaced by a
//! silent one: a panic that nothing catches still ends the run (libfuzzer-sys aborts after its
//! own catch) and its input is saved.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| shared::fuzzing::hub(data)
);
