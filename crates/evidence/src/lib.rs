//! # shinrai-evidence: what happened, as signed evidence
//!
//! The evidence model of Shinrai (MISSION.md parts A3 and B1), with no IO (values in, values out):
//!
//! - [`epcis`]: GS1 EPCIS 2.0 JSON-LD events (ObjectEvent, AggregationEvent, TransformationEvent,
//!   AssociationEvent) with `sensorElementList` readings ([`epcis::SensorReport`]), valid against
//!   GS1's EPCIS 2.0 JSON Schema.
//! - [`hash`]: event ids by the CBV 2.0 event hash (`ni:///sha-256;<hex>?ver=CBV2.0`), equal to
//!   what the reference `epcis-event-hash-generator` computes.
//! - [`step`]: step records (in-toto link predicate: materials, products, byproducts), events as
//!   evidence of a step ([`step::EventEvidence`]) and inspection results, each an in-toto
//!   Statement v1 predicate that `shinrai-envelope` signs.
//! - [`sensor`]: signed sensor reading batches from shop devices (DSSE, device key), the device
//!   registry that verifies them, and their aggregation into hourly windows.
//! - [`shop`]: shop trust evidence: shop profiles, hourly sensor evidence (EPCIS), hygiene
//!   records, revocations and the CEL variables of a shop certification.

pub mod epcis;
mod error;
pub mod hash;
pub mod sensor;
pub mod shop;
pub mod step;
#[cfg(test)]
mod test_support;

pub use error::Error;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
