//! stub
pub mod aggregate;
pub mod ids;
pub mod model;
pub mod sim;
pub mod sync;
pub mod time;
pub mod wire;
