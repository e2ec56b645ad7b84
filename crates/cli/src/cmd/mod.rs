//! One module per top-level command.

pub mod bench;
pub mod demo;
pub mod device;
pub mod key;
pub mod monitor;
pub mod sign;
pub mod store;
pub mod verify;
