//! stub
pub mod ids;
pub mod model;
pub mod time;
pub mod wire;
