//! OT anomaly detection for Shinrai (MISSION.md part C2).
//!
//! Pipeline: [`capture`] (pcap/pcapng files, live AF_PACKET) -> [`decode`](mod@decode) (Ethernet, VLAN, ARP,
//! IP, TCP/UDP, L2-only frames) -> [`engine::Monitor`], which keeps an asset and link inventory,
//! a protocol-independent message model per link and direction ([`msgmodel`]), timing and volume
//! statistics ([`timing`]), and estimates causes with the standard commands and the work plan
//! ([`plan`]). Output: EVE-style [`alert::Alert`] lines. [`mss`] groups alerts of many sensors
//! into incidents; `nats` carries them over JetStream; `signing` wraps models in SCU-signed DSSE
//! envelopes; [`kitsune`] is the damped-statistics baseline of the benchmark.
#![forbid(unsafe_code)]
#![doc = ""]
#![doc = include_str!("../README.md")]

pub mod alert;
pub mod capture;
pub mod decode;
pub mod engine;
pub mod error;
pub mod kitsune;
#[cfg(feature = "live")]
pub mod live;
pub mod msgmodel;
pub mod mss;
#[cfg(feature = "nats")]
pub mod nats;
pub mod plan;
pub mod run;
#[cfg(feature = "scu")]
pub mod signing;
pub mod synth;
pub mod timing;

pub use alert::{Alert, AlertInfo, Cause, EventType};
pub use capture::{CaptureFile, Frame, Frames};
pub use decode::{Packet, decode};
pub use engine::{LinkKey, Mode, Model, Monitor, Options, Summary};
pub use error::{MonitorError, Result};
