//! gridvisit's sans-I/O heart: the record model, automerge-repo's wire protocol, the sync
//! engine and the dashboard fold. It never touches sockets, files, clocks or randomness (time
//! and random bytes are passed in), and compiles for native targets and `wasm32`: the server,
//! the browser app and the tests run this same code.
//!
//! # Layout
//!
//! - [`ids`]: document IDs (automerge-repo's bs58check format), peers, users, grids, scopes.
//! - [`time`]: milliseconds and the China calendar (weeks start on Monday).
//! - [`model`]: records as typed views over Automerge documents (households, visits,
//!   issues), the issue lifecycle fold, the issue action rules and record history.
//! - [`aggregate`]: the dashboard figures as an incremental fold over records.
//! - [`wire`]: the CBOR codec and the protocol's messages.
//! - [`sync`]: the engine ([`sync::Hub`]), the effect contract ([`sync::driver`]), the access
//!   policy and the change feed.
//! - [`export`]: CSV and Excel tables, with the one CSV cell rule.
//! - [`hex`]: lowercase hex, the one encoder.
//! - [`org`]: streets, communities, grids and departments with their names.
//! - `sim` (feature `sim`): an in-memory network of hubs for tests and benchmarks.

pub mod aggregate;
pub mod export;
#[cfg(feature = "sim")]
pub mod fuzzing;
pub mod hex;
pub mod ids;
pub mod model;
pub mod month;
pub mod org;
#[cfg(feature = "sim")]
pub mod sim;
pub mod summary;
pub mod sync;
pub mod time;
pub mod trends;
pub mod wire;
