//! Signed sensor readings from shop devices, and their aggregation into hourly windows.
//!
//! A device (CO2, temperature, humidity sensor with an SCU key, ECDSA P-256) publishes a
//! [`ReadingBatch`] (one reading or many) as a DSSE envelope with payload type
//! [`READINGS_PAYLOAD_TYPE`]. The receiver checks it with [`DeviceRegistry::verify`]: envelope
//! read from the bytes received (at most [`MAX_MESSAGE_BYTES`]), signer looked up by the
//! signature's keyid in the registry, DSSE signature verified over the received payload, then
//! the payload read and checked against the registry (device id and shop must be the
//! registered ones). Only [`VerifiedBatch`] reaches the [`HourlyAggregator`], which keeps min,
//! max, mean and count per shop, hour, device and quantity, drops duplicates (QoS 1 delivers at
//! least once) by `(device, seq)`, and closes an hour once the shop's readings have moved past
//! it by the allowed lateness.
//!
//! No IO: bytes in, values out.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use shinrai_envelope::Signer;
use shinrai_envelope::dsse::Envelope;
use shinrai_envelope::keys::SslibKey;

use crate::epcis::MeasurementType;
use crate::{Error, Result};

/// DSSE payload type of a device's reading batch.
pub const READINGS_PAYLOAD_TYPE: &str = "application/vnd.shinrai.sensor-readings.v1+json";
/// Largest message (envelope bytes) accepted.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Most readings in one message.
pub const MAX_READINGS_PER_MESSAGE: usize = 1000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// Readings older than 2000-01-01 or later than 2100-01-01 are refused.
const TIME_RANGE_MS: (i64, i64) = (946_684_800_000, 4_102_444_800_000);
/// Duplicate detection remembers this many sequence numbers per device.
const SEQ_WINDOW: usize = 8192;

/// What a reading measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantity {
    /// CO2 volume fraction in ppm.
    Co2,
    /// Air temperature in degrees Celsius.
    Temperature,
    /// Relative humidity in percent.
    Humidity,
}

impl Quantity {
    /// Every quantity, in output order.
    pub const ALL: [Quantity; 3] = [Quantity::Co2, Quantity::Temperature, Quantity::Humidity];

    /// The wire name (`co2`, `temperature`, `humidity`).
    pub fn as_str(self) -> &'static str {
        match self {
            Quantity::Co2 => "co2",
            Quantity::Temperature => "temperature",
            Quantity::Humidity => "humidity",
        }
    }

    /// The GS1 measurement type of the quantity.
    pub fn measurement_type(self) -> MeasurementType {
        match self {
            Quantity::Co2 => MeasurementType::VolumeFraction,
            Quantity::Temperature => MeasurementType::Temperature,
            Quantity::Humidity => MeasurementType::RelativeHumidity,
        }
    }

    /// The plausible range of a reading; values outside are refused as malformed.
    pub fn range(self) -> (f64, f64) {
        match self {
            Quantity::Co2 => (0.0, 100_000.0),
            Quantity::Temperature => (-60.0, 150.0),
            Quantity::Humidity => (0.0, 100.0),
        }
    }
}

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// When it was taken, Unix milliseconds.
    pub t: i64,
    /// What was measured.
    #[serde(rename = "type")]
    pub kind: Quantity,
    /// The value (ppm, degrees Celsius, percent).
    pub value: f64,
}

/// The payload a device signs: its readings since the previous message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingBatch {
    /// The device id, e.g. `urn:shinrai:device:roma-co2-1`.
    pub device: String,
    /// The shop the device is installed in (its registered shop).
    pub shop: String,
    /// Message sequence number of the device (duplicates are dropped by it).
    pub seq: u64,
    /// The readings, at least one, at most [`MAX_READINGS_PER_MESSAGE`].
    pub readings: Vec<Reading>,
}

impl ReadingBatch {
    /// Checks the batch: ids present, 1..=[`MAX_READINGS_PER_MESSAGE`] readings, finite values
    /// within the quantity's plausible range, times between 2000 and 2100.
    pub fn validate(&self) -> Result<()> {
        let bad = |r: String| {
            Err(Error::Malformed {
                what: "sensor reading batch",
                reason: r,
            })
        };
        if self.device.is_empty() || self.device.len() > 256 {
            return bad("device id must be 1..=256 bytes".into());
        }
        if !valid_shop_id(&self.shop) {
            return bad(format!("shop id {:?} is not [a-z0-9-]{{1,64}}", self.shop));
        }
        if self.readings.is_empty() {
            return bad("no readings".into());
        }
        if self.readings.len() > MAX_READINGS_PER_MESSAGE {
            return bad(format!(
                "{} readings, more than {MAX_READINGS_PER_MESSAGE}",
                self.readings.len()
            ));
        }
        for (i, r) in self.readings.iter().enumerate() {
            let (lo, hi) = r.kind.range();
            if !r.value.is_finite() || r.value < lo || r.value > hi {
                return bad(format!(
                    "reading {i}: {} value {} outside {lo}..={hi}",
                    r.kind.as_str(),
                    r.value
                ));
            }
            if r.t < TIME_RANGE_MS.0 || r.t >= TIME_RANGE_MS.1 {
                return bad(format!("reading {i}: time {} ms is not plausible", r.t));
            }
        }
        Ok(())
    }

    /// Signs the batch as a DSSE envelope (the device's key) and returns the message bytes.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Vec<u8>> {
        self.validate()?;
        let payload = serde_json::to_vec(self).map_err(|e| Error::Malformed {
            what: "sensor reading batch",
            reason: e.to_string(),
        })?;
        Ok(Envelope::sign(READINGS_PAYLOAD_TYPE, &payload, &[signer])?.to_json_bytes())
    }
}

/// Whether `id` is a shop id: `[a-z0-9-]{1,64}`.
pub fn valid_shop_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A shop as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryShop {
    /// Shop id (`[a-z0-9-]{1,64}`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Postal address.
    #[serde(default)]
    pub address: String,
    /// Whether the shop publishes its raw readings (they go into the hourly evidence).
    #[serde(default)]
    pub publish_readings: bool,
}

/// A device as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryDevice {
    /// Device id (as in [`ReadingBatch::device`]).
    pub id: String,
    /// The shop it is installed in.
    pub shop: String,
    /// Its public key (securesystemslib form; ECDSA P-256 for SCU device keys).
    pub key: SslibKey,
}

/// The registry file: shops and their devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryFile {
    /// The shops.
    #[serde(default)]
    pub shops: Vec<RegistryShop>,
    /// The devices.
    #[serde(default)]
    pub devices: Vec<RegistryDevice>,
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Not a readable envelope or payload, or a payload that breaks the rules.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes is larger than {MAX_MESSAGE_BYTES}")]
    Oversized(usize),
    /// No signature names a registered device key.
    #[error("unknown device: {0}")]
    UnknownDevice(String),
    /// The signature does not verify with the registered key.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The payload names another device or shop than the registered one.
    #[error("device mismatch: {0}")]
    Mismatch(String),
}

/// The registry of shops and devices, indexed by key id.
#[derive(Debug, Clone, Default)]
pub struct DeviceRegistry {
    shops: BTreeMap<String, RegistryShop>,
    by_keyid: HashMap<String, RegistryDevice>,
}

/// A batch whose signature verified against the registered key of its device.
/// Only [`DeviceRegistry::verify`] builds it.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedBatch {
    batch: ReadingBatch,
}

impl VerifiedBatch {
    /// The verified batch.
    pub fn batch(&self) -> &ReadingBatch {
        &self.batch
    }
}

impl DeviceRegistry {
    /// Builds the registry; refuses duplicate shops, devices or keys, devices of unknown shops
    /// and non-P-256/Ed25519 keys.
    pub fn new(file: RegistryFile) -> Result<Self> {
        let bad = |r: String| {
            Err(Error::Malformed {
                what: "device registry",
                reason: r,
            })
        };
        let mut shops = BTreeMap::new();
        for s in file.shops {
            if !valid_shop_id(&s.id) {
                return bad(format!("shop id {:?} is not [a-z0-9-]{{1,64}}", s.id));
            }
            if shops.insert(s.id.clone(), s.clone()).is_some() {
                return bad(format!("shop {:?} listed twice", s.id));
            }
        }
        let mut by_keyid = HashMap::new();
        let mut ids = HashSet::new();
        for d in file.devices {
            if !shops.contains_key(&d.shop) {
                return bad(format!("device {:?} names unknown shop {:?}", d.id, d.shop));
            }
            d.key.to_public_key()?;
            if !ids.insert(d.id.clone()) {
                return bad(format!("device {:?} listed twice", d.id));
            }
            if by_keyid.insert(d.key.keyid(), d.clone()).is_some() {
                return bad(format!(
                    "device {:?} shares its key with another device",
                    d.id
                ));
            }
        }
        Ok(DeviceRegistry { shops, by_keyid })
    }

    /// Reads a registry file (JSON, see [`RegistryFile`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let f: RegistryFile = serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
            what: "device registry",
            reason: e.to_string(),
        })?;
        Self::new(f)
    }

    /// The shop `id`.
    pub fn shop(&self, id: &str) -> Option<&RegistryShop> {
        self.shops.get(id)
    }

    /// All shops, by id.
    pub fn shops(&self) -> impl Iterator<Item = &RegistryShop> {
        self.shops.values()
    }

    /// Number of registered devices.
    pub fn device_count(&self) -> usize {
        self.by_keyid.len()
    }

    /// Verifies a message over the bytes received (see the module documentation).
    pub fn verify(&self, message: &[u8]) -> std::result::Result<VerifiedBatch, Refusal> {
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(Refusal::Oversized(message.len()));
        }
        let env = Envelope::parse_with_limit(message, MAX_MESSAGE_BYTES)
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        if env.payload_type != READINGS_PAYLOAD_TYPE {
            return Err(Refusal::Malformed(format!(
                "payload type {:?}, expected {READINGS_PAYLOAD_TYPE}",
                env.payload_type
            )));
        }
        let device = env
            .signatures
            .iter()
            .filter_map(|s| s.keyid.as_deref())
            .find_map(|k| self.by_keyid.get(k))
            .ok_or_else(|| {
                let ids: Vec<&str> = env
                    .signatures
                    .iter()
                    .map(|s| s.keyid.as_deref().unwrap_or("(no keyid)"))
                    .collect();
                Refusal::UnknownDevice(format!("no registered device has key {}", ids.join(", ")))
            })?;
        env.verify(std::slice::from_ref(&device.key), 1)
            .map_err(|e| Refusal::BadSignature(format!("device {}: {e}", device.id)))?;
        let batch: ReadingBatch = serde_json::from_slice(&env.payload)
            .map_err(|e| Refusal::Malformed(format!("payload: {e}")))?;
        batch
            .validate()
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        if batch.device != device.id || batch.shop != device.shop {
            return Err(Refusal::Mismatch(format!(
                "key of device {} (shop {}) signed readings claiming device {} in shop {}",
                device.id, device.shop, batch.device, batch.shop
            )));
        }
        Ok(VerifiedBatch { batch })
    }
}

/// Min, max, mean and count of one series (a device's readings of one quantity in one hour).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Smallest reading.
    pub min: f64,
    /// Largest reading.
    pub max: f64,
    /// Sum of the readings (for the mean).
    #[serde(skip)]
    pub sum: f64,
    /// Number of readings.
    pub count: u64,
}

impl Stats {
    fn new(v: f64) -> Self {
        Stats {
            min: v,
            max: v,
            sum: v,
            count: 1,
        }
    }

    fn add(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.count += 1;
    }

    /// The mean, rounded to 3 decimals (what the evidence records).
    pub fn mean(&self) -> f64 {
        round3(self.sum / self.count as f64)
    }
}

/// Rounds to 3 decimal places.
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A closed hour of one shop: the statistics per device and quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct HourWindow {
    /// The shop.
    pub shop: String,
    /// Start of the hour, Unix ms (a multiple of [`HOUR_MS`]).
    pub start_ms: i64,
    /// Statistics by (device, quantity).
    pub series: BTreeMap<(String, Quantity), Stats>,
    /// The raw readings `(device, reading)` in arrival order, kept only for shops that
    /// publish them.
    pub readings: Vec<(String, Reading)>,
}

impl HourWindow {
    /// End of the hour, Unix ms.
    pub fn end_ms(&self) -> i64 {
        self.start_ms + HOUR_MS
    }

    /// Total readings in the window.
    pub fn reading_count(&self) -> u64 {
        self.series.values().map(|s| s.count).sum()
    }
}

/// What [`HourlyAggregator::push`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Readings added to open windows.
    pub accepted: u64,
    /// Readings of hours already closed (refused, never registered).
    pub late: u64,
    /// Whether the whole batch was a duplicate (same device and seq seen before).
    pub duplicate: bool,
}

#[derive(Debug, Default)]
struct ShopState {
    /// Largest reading time seen, ms.
    watermark: i64,
    /// Hours starting before this are closed.
    closed_before: i64,
    /// Open hours.
    open: BTreeMap<i64, HourWindow>,
}

/// Aggregates verified batches into hourly windows per shop.
#[derive(Debug)]
pub struct HourlyAggregator {
    lateness_ms: i64,
    keep_raw: HashSet<String>,
    shops: HashMap<String, ShopState>,
    seqs: HashMap<String, (HashSet<u64>, VecDeque<u64>)>,
}

impl HourlyAggregator {
    /// An aggregator that closes an hour once a shop's newest reading is `lateness_ms` past its
    /// end, keeping raw readings for the shops in `keep_raw`.
    pub fn new(lateness_ms: i64, keep_raw: impl IntoIterator<Item = String>) -> Self {
        HourlyAggregator {
            lateness_ms: lateness_ms.max(0),
            keep_raw: keep_raw.into_iter().collect(),
            shops: HashMap::new(),
            seqs: HashMap::new(),
        }
    }

    /// Adds a verified batch.
    pub fn push(&mut self, v: &VerifiedBatch) -> PushOutcome {
        let b = &v.batch;
        let (seen, order) = self.seqs.entry(b.device.clone()).or_default();
        if !seen.insert(b.seq) {
            return PushOutcome {
                duplicate: true,
                ..PushOutcome::default()
            };
        }
        order.push_back(b.seq);
        if order.len() > SEQ_WINDOW
            && let Some(old) = order.pop_front()
        {
            seen.remove(&old);
        }
        let keep_raw = self.keep_raw.contains(&b.shop);
        let st = self
            .shops
            .entry(b.shop.clone())
            .or_insert_with(|| ShopState {
                watermark: i64::MIN,
                closed_before: i64::MIN,
                open: BTreeMap::new(),
            });
        let mut out = PushOutcome::default();
        for r in &b.readings {
            let start = r.t.div_euclid(HOUR_MS) * HOUR_MS;
            if start < st.closed_before {
                out.late += 1;
                continue;
            }
            st.watermark = st.watermark.max(r.t);
            let w = st.open.entry(start).or_insert_with(|| HourWindow {
                shop: b.shop.clone(),
                start_ms: start,
                series: BTreeMap::new(),
                readings: Vec::new(),
            });
            match w.series.get_mut(&(b.device.clone(), r.kind)) {
                Some(s) => s.add(r.value),
                None => {
                    w.series
                        .insert((b.device.clone(), r.kind), Stats::new(r.value));
                }
            }
            if keep_raw {
                w.readings.push((b.device.clone(), *r));
            }
            out.accepted += 1;
        }
        out
    }

    /// Closes and returns every hour whose end is at least the lateness before its shop's
    /// newest reading.
    pub fn drain_closed(&mut self) -> Vec<HourWindow> {
        let mut out = Vec::new();
        for st in self.shops.values_mut() {
            if st.watermark == i64::MIN {
                continue;
            }
            let limit = st.watermark.saturating_sub(self.lateness_ms);
            while let Some((&start, _)) = st.open.first_key_value() {
                if start + HOUR_MS > limit {
                    break;
                }
                if let Some((_, w)) = st.open.pop_first() {
                    st.closed_before = st.closed_before.max(w.end_ms());
                    out.push(w);
                }
            }
        }
        out.sort_by(|a, b| (a.start_ms, &a.shop).cmp(&(b.start_ms, &b.shop)));
        out
    }

    /// Closes and returns every open hour (at shutdown).
    pub fn drain_all(&mut self) -> Vec<HourWindow> {
        let mut out = Vec::new();
        for st in self.shops.values_mut() {
            while let Some((_, w)) = st.open.pop_first() {
                st.closed_before = st.closed_before.max(w.end_ms());
                out.push(w);
            }
        }
        out.sort_by(|a, b| (a.start_ms, &a.shop).cmp(&(b.start_ms, &b.shop)));
        out
    }

    /// Number of open hours over all shops.
    pub fn open_windows(&self) -> usize {
        self.shops.values().map(|s| s.open.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::MemSigner;
    use shinrai_scu::Algorithm;

    fn registry(dev: &MemSigner) -> DeviceRegistry {
        DeviceRegistry::new(RegistryFile {
            shops: vec![RegistryShop {
                id: "roma".into(),
                name: "Roma".into(),
                address: String::new(),
                publish_readings: false,
            }],
            devices: vec![RegistryDevice {
                id: "urn:shinrai:device:roma-1".into(),
                shop: "roma".into(),
                key: dev.sslib_key().expect("key"),
            }],
        })
        .expect("registry")
    }

    fn batch(seq: u64, readings: Vec<Reading>) -> ReadingBatch {
        ReadingBatch {
            device: "urn:shinrai:device:roma-1".into(),
            shop: "roma".into(),
            seq,
            readings,
        }
    }

    const T0: i64 = 1_795_000_000_000 - 1_795_000_000_000 % HOUR_MS;

    fn co2(t: i64, v: f64) -> Reading {
        Reading {
            t,
            kind: Quantity::Co2,
            value: v,
        }
    }

    #[test]
    fn verifies_a_signed_batch_and_aggregates_min_max_mean_count() {
        let dev = MemSigner::new(Algorithm::EcdsaP256);
        let reg = registry(&dev);
        let msg = batch(
            1,
            vec![
                co2(T0, 400.0),
                co2(T0 + 60_000, 600.0),
                co2(T0 + HOUR_MS, 500.0),
            ],
        )
        .sign(&dev)
        .expect("sign");
        let v = reg.verify(&msg).expect("verifies");
        let mut agg = HourlyAggregator::new(0, []);
        assert_eq!(agg.push(&v).accepted, 3);
        assert!(agg.push(&v).duplicate, "the same seq again is a duplicate");
        let closed = agg.drain_closed();
        assert_eq!(closed.len(), 1, "the first hour closed, the second is open");
        let s = closed[0].series[&("urn:shinrai:device:roma-1".to_owned(), Quantity::Co2)];
        assert_eq!((s.min, s.max, s.mean(), s.count), (400.0, 600.0, 500.0, 2));
        let late = batch(2, vec![co2(T0 + 5, 900.0)]).sign(&dev).expect("sign");
        let out = agg.push(&reg.verify(&late).expect("ok"));
        assert_eq!((out.accepted, out.late), (0, 1));
        assert_eq!(agg.drain_all().len(), 1);
    }

    #[test]
    fn refuses_forged_unknown_mismatched_malformed_and_oversized_messages() {
        let dev = MemSigner::new(Algorithm::EcdsaP256);
        let reg = registry(&dev);
        let msg = batch(1, vec![co2(T0, 400.0)]).sign(&dev).expect("sign");
        // Forged: change the payload, keep the signature.
        let mut env = Envelope::parse(&msg).expect("env");
        env.payload = String::from_utf8(env.payload)
            .expect("utf8")
            .replace("400", "401")
            .into_bytes();
        assert!(matches!(
            reg.verify(&env.to_json_bytes()),
            Err(Refusal::BadSignature(_))
        ));
        let stranger = MemSigner::new(Algorithm::EcdsaP256);
        let unknown = batch(1, vec![co2(T0, 400.0)])
            .sign(&stranger)
            .expect("sign");
        assert!(matches!(
            reg.verify(&unknown),
            Err(Refusal::UnknownDevice(_))
        ));
        let mut other = batch(1, vec![co2(T0, 400.0)]);
        other.device = "urn:shinrai:device:other".into();
        let mismatch = other.sign(&dev).expect("sign");
        assert!(matches!(reg.verify(&mismatch), Err(Refusal::Mismatch(_))));
        assert!(matches!(
            reg.verify(b"{not json"),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            reg.verify(&vec![b' '; MAX_MESSAGE_BYTES + 1]),
            Err(Refusal::Oversized(_))
        ));
        // A signed payload with an implausible value.
        let payload = br#"{"device":"urn:shinrai:device:roma-1","shop":"roma","seq":1,"readings":[{"t":1795000000000,"type":"co2","value":-5}]}"#;
        let bad = Envelope::sign(READINGS_PAYLOAD_TYPE, payload, &[&dev])
            .expect("sign")
            .to_json_bytes();
        assert!(matches!(reg.verify(&bad), Err(Refusal::Malformed(_))));
        assert!(batch(1, vec![]).sign(&dev).is_err());
    }

    #[test]
    fn registry_refuses_devices_of_unknown_shops() {
        let dev = MemSigner::new(Algorithm::EcdsaP256);
        let f = RegistryFile {
            shops: vec![],
            devices: vec![RegistryDevice {
                id: "d".into(),
                shop: "nowhere".into(),
                key: dev.sslib_key().expect("key"),
            }],
        };
        assert!(DeviceRegistry::new(f).is_err());
        assert!(DeviceRegistry::from_json(b"[1,2]").is_err());
    }
}
