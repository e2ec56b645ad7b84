//! The restaurant sensor simulator: shops with one air-quality device each (CO2, temperature,
//! humidity), realistic daily occupancy, and shops whose ventilation fails for some hours.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde::{Deserialize, Serialize};
use shinrai_envelope::Signer;
use shinrai_evidence::sensor::{
    HOUR_MS, Quantity, Reading, ReadingBatch, RegistryDevice, RegistryFile, RegistryShop,
};
use shinrai_scu::Algorithm;

use super::client::MemKey;
use super::ingest::split_broker;

/// The demo's shops: (id, name, address, publishes raw readings).
pub const DEMO_SHOPS: &[(&str, &str, &str, bool)] = &[
    (
        "trattoria-roma",
        "Trattoria Roma",
        "Via Appia 12, Roma",
        true,
    ),
    ("sushi-kyoto", "Sushi Kyoto", "Shijo-dori 5, Kyoto", false),
    (
        "cafe-lisboa",
        "Café Lisboa",
        "Rua Augusta 80, Lisboa",
        false,
    ),
    ("bistro-paris", "Bistro Paris", "Rue Cler 3, Paris", false),
];
/// The demo shop whose ventilation fails.
pub const FAILING_SHOP: &str = "bistro-paris";

/// A simulated device with its key.
pub struct SimDevice {
    /// Device id.
    pub id: String,
    /// Shop id.
    pub shop: String,
    /// Its key (P-256, as an SCU device key).
    pub key: MemKey,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    devices: Vec<KeyFileEntry>,
}

#[derive(Serialize, Deserialize)]
struct KeyFileEntry {
    id: String,
    shop: String,
    pkcs8: String,
}

/// Creates devices for `shops` (one per shop) and the registry file listing them.
pub fn make_devices(
    shops: &[(String, String, String, bool)],
) -> Result<(Vec<SimDevice>, RegistryFile)> {
    let mut devices = Vec::new();
    let mut reg = RegistryFile::default();
    for (id, name, address, publish) in shops {
        reg.shops.push(RegistryShop {
            id: id.clone(),
            name: name.clone(),
            address: address.clone(),
            publish_readings: *publish,
        });
        let key = MemKey::generate(Algorithm::EcdsaP256)?;
        let dev = format!("urn:shinrai:device:{id}-air-1");
        reg.devices.push(RegistryDevice {
            id: dev.clone(),
            shop: id.clone(),
            key: key.sslib_key()?,
        });
        devices.push(SimDevice {
            id: dev,
            shop: id.clone(),
            key,
        });
    }
    Ok((devices, reg))
}

/// The demo shops as tuples.
pub fn demo_shops(n: usize) -> Vec<(String, String, String, bool)> {
    (0..n)
        .map(|i| match DEMO_SHOPS.get(i) {
            Some((id, name, addr, p)) => ((*id).into(), (*name).into(), (*addr).into(), *p),
            None => (
                format!("shop-{i:05}"),
                format!("Shop {i}"),
                String::new(),
                false,
            ),
        })
        .collect()
}

/// Writes the registry (public) and the device keys (secret, mode 0600).
pub fn save(devices: &[SimDevice], reg: &RegistryFile, registry: &Path, keys: &Path) -> Result<()> {
    std::fs::write(registry, serde_json::to_vec_pretty(reg)?)
        .with_context(|| format!("writing {}", registry.display()))?;
    let kf = KeyFile {
        devices: devices
            .iter()
            .map(|d| KeyFileEntry {
                id: d.id.clone(),
                shop: d.shop.clone(),
                pkcs8: B64.encode(d.key.pkcs8()),
            })
            .collect(),
    };
    shinrai_store::write_atomic(keys, &serde_json::to_vec_pretty(&kf)?)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(keys, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Reads device keys written by [`save`].
pub fn load(keys: &Path) -> Result<Vec<SimDevice>> {
    let kf: KeyFile = serde_json::from_slice(
        &std::fs::read(keys).with_context(|| format!("reading {}", keys.display()))?,
    )
    .with_context(|| format!("reading {}", keys.display()))?;
    kf.devices
        .into_iter()
        .map(|e| {
            Ok(SimDevice {
                key: MemKey::from_pkcs8(Algorithm::EcdsaP256, &B64.decode(e.pkcs8)?)?,
                id: e.id,
                shop: e.shop,
            })
        })
        .collect()
}

/// Small deterministic generator (xorshift64*), so runs are reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Rng(h | 1)
    }

    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (v as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// Guests present (0..1) at a UTC hour of day: lunch and dinner peaks.
fn occupancy(hour_of_day: f64) -> f64 {
    let peak = |c: f64, w: f64| (-((hour_of_day - c) / w).powi(2)).exp();
    (0.8 * peak(12.5, 1.2) + 1.0 * peak(19.5, 1.5)).min(1.0)
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimPlan {
    /// First reading time, Unix ms (rounded down to the hour).
    pub start_ms: i64,
    /// Simulated hours.
    pub hours: i64,
    /// Seconds between samples.
    pub interval_s: i64,
    /// Readings per message (a sample is 3 readings: CO2, temperature, humidity).
    pub batch: usize,
    /// Shops whose ventilation fails, and in which simulated hours (from the start).
    pub failing: Vec<(String, std::ops::Range<i64>)>,
}

/// The signed messages of one device, in order.
pub fn device_messages(dev: &SimDevice, plan: &SimPlan) -> Result<Vec<Vec<u8>>> {
    let start = plan.start_ms.div_euclid(HOUR_MS) * HOUR_MS;
    let mut rng = Rng::new(&dev.id);
    let mut readings = Vec::new();
    let mut co2: f64 = 430.0;
    let step_ms = plan.interval_s.max(1) * 1000;
    let end = start + plan.hours * HOUR_MS;
    let mut t = start;
    while t < end {
        let hour_index = (t - start) / HOUR_MS;
        let hod = ((t.rem_euclid(86_400_000)) as f64) / HOUR_MS as f64;
        let occ = occupancy(hod);
        let failing = plan
            .failing
            .iter()
            .any(|(s, r)| s == &dev.shop && r.contains(&hour_index));
        // CO2 relaxes towards a target set by occupancy and ventilation.
        let target = if failing {
            1500.0 + 700.0 * occ
        } else {
            440.0 + 430.0 * occ
        };
        let rate = if failing { 0.02 } else { 0.08 };
        co2 += (target - co2) * rate * (plan.interval_s as f64 / 60.0).min(10.0) + 8.0 * rng.next();
        co2 = co2.clamp(380.0, 5000.0);
        let temp = 21.0 + 1.5 * occ + 0.3 * rng.next() + if failing { 1.5 } else { 0.0 };
        let hum = 45.0 + 10.0 * occ + 2.0 * rng.next() + if failing { 8.0 } else { 0.0 };
        for (kind, value) in [
            (Quantity::Co2, (co2 * 10.0).round() / 10.0),
            (Quantity::Temperature, (temp * 100.0).round() / 100.0),
            (
                Quantity::Humidity,
                (hum.clamp(0.0, 100.0) * 10.0).round() / 10.0,
            ),
        ] {
            readings.push(Reading { t, kind, value });
        }
        t += step_ms;
    }
    let batch = plan
        .batch
        .clamp(1, shinrai_evidence::sensor::MAX_READINGS_PER_MESSAGE);
    readings
        .chunks(batch)
        .enumerate()
        .map(|(i, chunk)| {
            Ok(ReadingBatch {
                device: dev.id.clone(),
                shop: dev.shop.clone(),
                seq: i as u64 + 1,
                readings: chunk.to_vec(),
            }
            .sign(&dev.key)?)
        })
        .collect()
}

/// Publishes `messages` (topic, bytes) at QoS 1 with a persistent session under `client_id`,
/// waiting for every PUBACK; survives broker restarts (rumqttc resends unacknowledged
/// publishes after reconnecting). `pause_every` inserts a pause after that many messages.
pub async fn publish_all(
    broker: &str,
    client_id: &str,
    messages: Vec<(String, Vec<u8>)>,
    pause: Option<(usize, Duration)>,
) -> Result<u64> {
    let (host, port) = split_broker(broker)?;
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_clean_session(false)
        .set_keep_alive(Duration::from_secs(15))
        .set_max_packet_size(8 * 1024 * 1024, 8 * 1024 * 1024)
        .set_inflight(100);
    let (client, mut events) = AsyncClient::new(opts, 200);
    let total = messages.len() as u64;
    let sender = {
        let client = client.clone();
        tokio::spawn(async move {
            for (i, (topic, bytes)) in messages.into_iter().enumerate() {
                client
                    .publish(topic, QoS::AtLeastOnce, false, bytes)
                    .await?;
                if let Some((n, d)) = pause
                    && n > 0
                    && (i + 1) % n == 0
                {
                    tokio::time::sleep(d).await;
                }
            }
            Ok::<_, rumqttc::ClientError>(())
        })
    };
    let mut acked = 0u64;
    let mut errors = 0u32;
    while acked < total {
        match events.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                errors = 0;
            }
            Ok(Event::Incoming(Packet::ConnAck(_))) => errors = 0,
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                if errors > 600 {
                    bail!("MQTT broker {broker} unreachable: {e}");
                }
                if errors == 1 {
                    tracing::warn!("MQTT publisher: {e}; reconnecting");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    sender.await??;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match events.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                _ => {}
            }
        }
    })
    .await;
    Ok(acked)
}
