//! One module per top-level command.

pub mod bench;
pub mod demo;
pub mod key;
pub mod sign;
pub mod verify;
