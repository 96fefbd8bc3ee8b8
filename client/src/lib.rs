//! The gridvisit field PWA. Issue 4 builds the app; for now it only links the shared core.

pub use shared;
