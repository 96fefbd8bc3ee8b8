//! automerge panics on some crafted input: automerge 0.12 unwraps an actor lookup while
//! applying a change (`op_set2/change/batch.rs`; the `record` fuzzer found it, the input is
//! kept in `fuzz/regressions/record/`). Whatever applies a peer's bytes runs inside
//! [`untrusted`], so such input is refused instead of taking the engine down: a client applies
//! to a copy it drops, a server applies in place and rebuilds the document from its earlier
//! changes (`Hub::take_back`).

use std::panic::{AssertUnwindSafe, catch_unwind};

/// automerge panicked on the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("automerge could not apply the input (it panicked)")]
pub struct Panicked;

/// Runs `f`, which applies a peer's bytes, turning a panic into [`Panicked`]; the caller
/// drops or rebuilds what `f` was applying to, so nothing half-applied is kept. (Builds with
/// `panic = "abort"`, the browser app, never serve peers.)
pub fn untrusted<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| Panicked)
}
