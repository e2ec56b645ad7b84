//! One module per top-level command.

pub mod bench;
pub mod chain;
pub mod client;
pub mod demo;
pub mod device;
pub mod key;
pub mod loadgen;
pub mod manufacturing;
pub mod monitor;
pub mod shop;
pub mod sign;
pub mod store;
pub mod tpm;
pub mod verify;
