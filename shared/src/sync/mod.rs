//! The sans-I/O sync engine: automerge-repo's protocol plus gridvisit's O(changed) extension.
//!
//! A [`Hub`] is one peer. The driver (the server, the browser app, the in-memory network of the
//! tests) feeds it [`Input`]s with the current time and performs the [`Effects`] it returns,
//! through [`driver::run`]: first make `persist` durable, then send frames. That order is the
//! durability invariant: no peer ever hears of a change this peer could still lose.
//!
//! ```
//! use shared::ids::PeerId;
//! use shared::sync::{ConnId, Direction, Hub, HubConfig, Input, TrustServer};
//! use shared::time::Millis;
//!
//! let config = HubConfig::new(PeerId::new("tab-1").unwrap(), None, automerge::ActorId::from(&[1u8; 16][..]));
//! let mut hub = Hub::new(config, Box::new(TrustServer));
//! let fx = hub.handle(Millis(0), Input::Connected { conn: ConnId(1), direction: Direction::Outbound, principal: None });
//! // The first thing a client sends is automerge-repo's `join`.
//! let join = shared::wire::Message::decode(&fx.send[0].1, 1 << 20).unwrap();
//! assert_eq!(join.kind(), "join");
//! ```
//!
//! - `effects.rs`: inputs, effects and events.
//! - [`driver`]: the effect contract, stated once, and the loop every driver runs.
//! - `hub/`: the engine, split by job (handshake, documents, client side, server side).
//! - [`policy`]: who may read and write what.
//! - [`shard`]: which of a server's hubs (one per engine thread) handles a message.
//! - [`feed`]: heads digests, buckets and feed queries; `memstore.rs` (feature `sim`): an
//!   in-memory store that answers them.

pub mod driver;
mod effects;
mod events;
pub mod feed;
mod guard;
pub mod holding;
mod hub;
#[cfg(not(target_arch = "wasm32"))]
pub mod inflate;
#[cfg(feature = "sim")]
mod memstore;
pub mod policy;
mod principal;
mod refusal;
pub mod shard;

pub use driver::{Batch, Driver, Durable};
pub use effects::{ConnId, Direction, Effects, Event, Input, Persist, Quarantine};
pub use events::FUTURE_SLACK;
pub use feed::{BUCKETS, FeedAnswer, FeedQuery, heads_digest};
pub use guard::{Panicked, untrusted};
pub use holding::{DEFAULT_WINDOW_DAYS, Holding, Keeps, Standing};
pub use hub::{EditError, Hub, HubConfig, HubLimits};
#[cfg(feature = "sim")]
pub use memstore::{MemStore, StoredDoc};
pub use policy::{
    AccessPolicy, Principal, REVIEW_GRACE, Refusal, Role, ScopePolicy, TrustServer, Write,
};
