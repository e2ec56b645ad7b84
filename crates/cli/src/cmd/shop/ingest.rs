//! `shinrai ingest mqtt`: MQTT subscription -> device signature check -> hourly windows ->
//! signed EPCIS evidence registered in the trust store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde::Serialize;
use shinrai_envelope::Signer;
use shinrai_envelope::statement::sign_statement;
use shinrai_evidence::sensor::{DeviceRegistry, HourWindow, HourlyAggregator, Refusal};
use shinrai_evidence::shop::HourlyEvidence;
use tokio::task::JoinSet;

use super::client::StoreClient;

/// Largest MQTT packet the client reads; bigger messages than the evidence limit are still
/// read (and refused as oversized) so a persistent session cannot get stuck on one.
const MQTT_MAX_PACKET: usize = 8 * 1024 * 1024;
/// Concurrent registrations in flight.
const REGISTER_CONCURRENCY: usize = 32;

/// Counts of what the ingester did (printed as JSON at the end).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct IngestStats {
    /// MQTT messages received.
    pub messages: u64,
    /// Messages whose signature verified.
    pub messages_accepted: u64,
    /// Readings added to hourly windows.
    pub readings_accepted: u64,
    /// Refused: not a readable envelope/payload, or values out of range.
    pub refused_malformed: u64,
    /// Refused: larger than the message limit.
    pub refused_oversized: u64,
    /// Refused: signed by no registered device.
    pub refused_unknown_device: u64,
    /// Refused: the signature does not verify with the device's registered key.
    pub refused_bad_signature: u64,
    /// Refused: the payload or topic names another device or shop than the registered one.
    pub refused_mismatch: u64,
    /// Messages dropped as duplicates (same device and sequence number; QoS 1 redelivery).
    pub duplicate_messages: u64,
    /// Readings of hours already registered (refused).
    pub late_readings: u64,
    /// Hourly evidence entries registered.
    pub events_registered: u64,
    /// Readings covered by the registered evidence.
    pub readings_registered: u64,
    /// Hourly evidence entries that could not be built or registered.
    pub registration_errors: u64,
}

impl IngestStats {
    /// Messages refused for any reason.
    pub fn refused(&self) -> u64 {
        self.refused_malformed
            + self.refused_oversized
            + self.refused_unknown_device
            + self.refused_bad_signature
            + self.refused_mismatch
    }
}

/// When the ingester stops (it always stops on SIGINT/SIGTERM too).
#[derive(Debug, Clone, Default)]
pub struct StopWhen {
    /// After this many messages (accepted, refused or duplicate).
    pub messages: Option<u64>,
    /// After this many accepted readings.
    pub readings: Option<u64>,
    /// After this long without a message (once subscribed).
    pub idle: Option<Duration>,
    /// Set from outside to stop.
    pub flag: Option<Arc<AtomicBool>>,
}

/// Where and how to subscribe.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker `host:port`.
    pub broker: String,
    /// Topic filter, e.g. `shinrai/shops/+/sensors`.
    pub topic: String,
    /// MQTT client id (fixed: the broker keeps the session under it).
    pub client_id: String,
    /// Hours close once a shop's newest reading is this far past their end.
    pub lateness_ms: i64,
}

/// Splits `host:port`.
pub fn split_broker(broker: &str) -> Result<(String, u16)> {
    let b = broker
        .strip_prefix("mqtt://")
        .or_else(|| broker.strip_prefix("tcp://"))
        .unwrap_or(broker);
    let (h, p) = b
        .rsplit_once(':')
        .with_context(|| format!("broker {broker:?} is not HOST:PORT"))?;
    Ok((
        h.to_owned(),
        p.parse().with_context(|| format!("port of {broker:?}"))?,
    ))
}

/// The shop a topic names (`.../shops/<id>/...`), if any.
fn topic_shop(topic: &str) -> Option<&str> {
    let mut parts = topic.split('/');
    while let Some(p) = parts.next() {
        if p == "shops" {
            return parts.next();
        }
    }
    None
}

/// Builds, signs and registers the evidence of closed windows (signing here, registration
/// in the background, at most [`REGISTER_CONCURRENCY`] at once).
async fn register_windows(
    windows: Vec<HourWindow>,
    signer: &dyn Signer,
    store: &StoreClient,
    tasks: &mut JoinSet<(u64, Result<String>)>,
    stats: &mut IngestStats,
) {
    for w in windows {
        let n = w.reading_count();
        let built = HourlyEvidence::from_window(&w)
            .map_err(anyhow::Error::from)
            .and_then(|h| Ok(h.to_statement()?))
            .and_then(|st| Ok(sign_statement(&st, &[signer])?));
        let env = match built {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(shop = %w.shop, start = w.start_ms, "building hourly evidence: {e:#}");
                stats.registration_errors += 1;
                continue;
            }
        };
        while tasks.len() >= REGISTER_CONCURRENCY {
            if let Some(done) = tasks.join_next().await {
                account(done, stats);
            }
        }
        let store = store.clone();
        let bytes = env.to_json_bytes();
        tasks.spawn(async move { (n, store.register(bytes).await) });
    }
}

fn account(done: Result<(u64, Result<String>), tokio::task::JoinError>, stats: &mut IngestStats) {
    match done {
        Ok((n, Ok(id))) => {
            tracing::info!(entry = %id, readings = n, "registered hourly evidence");
            stats.events_registered += 1;
            stats.readings_registered += n;
        }
        Ok((_, Err(e))) => {
            tracing::error!("registering hourly evidence: {e:#}");
            stats.registration_errors += 1;
        }
        Err(e) => {
            tracing::error!("registration task: {e}");
            stats.registration_errors += 1;
        }
    }
}

/// Handles one message: verify, aggregate, count.
pub fn handle_message(
    registry: &DeviceRegistry,
    agg: &mut HourlyAggregator,
    topic: &str,
    payload: &[u8],
    stats: &mut IngestStats,
) {
    stats.messages += 1;
    let verified = registry
        .verify(payload)
        .and_then(|v| match topic_shop(topic) {
            Some(s) if s != v.batch().shop => Err(Refusal::Mismatch(format!(
                "topic {topic} names shop {s}, the readings shop {}",
                v.batch().shop
            ))),
            _ => Ok(v),
        });
    match verified {
        Ok(v) => {
            let out = agg.push(&v);
            if out.duplicate {
                stats.duplicate_messages += 1;
            } else {
                stats.messages_accepted += 1;
            }
            stats.readings_accepted += out.accepted;
            stats.late_readings += out.late;
        }
        Err(r) => {
            tracing::warn!(topic, "refused: {r}");
            match r {
                Refusal::Malformed(_) => stats.refused_malformed += 1,
                Refusal::Oversized(_) => stats.refused_oversized += 1,
                Refusal::UnknownDevice(_) => stats.refused_unknown_device += 1,
                Refusal::BadSignature(_) => stats.refused_bad_signature += 1,
                Refusal::Mismatch(_) => stats.refused_mismatch += 1,
                _ => stats.refused_malformed += 1,
            }
        }
    }
}

/// Runs the ingester until `stop`; `on_subscribed` runs once the first subscription is
/// acknowledged. Returns the counts after every open window was registered.
pub async fn run(
    cfg: &MqttConfig,
    registry: &DeviceRegistry,
    signer: &dyn Signer,
    store: &StoreClient,
    stop: &StopWhen,
    on_subscribed: impl FnOnce(),
) -> Result<IngestStats> {
    let (host, port) = split_broker(&cfg.broker)?;
    let mut opts = MqttOptions::new(cfg.client_id.clone(), host, port);
    opts.set_clean_session(false)
        .set_keep_alive(Duration::from_secs(15))
        .set_max_packet_size(MQTT_MAX_PACKET, MQTT_MAX_PACKET)
        .set_inflight(200);
    let (client, mut events) = AsyncClient::new(opts, 1000);
    let keep_raw = registry
        .shops()
        .filter(|s| s.publish_readings)
        .map(|s| s.id.clone());
    let mut agg = HourlyAggregator::new(cfg.lateness_ms, keep_raw);
    let mut stats = IngestStats::default();
    let mut tasks: JoinSet<(u64, Result<String>)> = JoinSet::new();
    let mut on_subscribed = Some(on_subscribed);
    let mut subscribed = false;
    let mut last_message = Instant::now();
    let mut last_progress = Instant::now();
    let mut failures_in_a_row = 0u32;
    let stop_flag = stop.flag.clone();
    let stopped = || {
        stop_flag
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        if stopped()
            || stop.messages.is_some_and(|n| stats.messages >= n)
            || stop.readings.is_some_and(|n| stats.readings_accepted >= n)
            || (subscribed && stop.idle.is_some_and(|d| last_message.elapsed() >= d))
        {
            break;
        }
        let polled = tokio::select! {
            e = events.poll() => Some(e),
            _ = tokio::time::sleep(Duration::from_millis(200)) => None,
            _ = tokio::signal::ctrl_c() => break,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => break,
        };
        let Some(polled) = polled else { continue };
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                failures_in_a_row = 0;
                tracing::info!(
                    session_present = ack.session_present,
                    "connected to {}",
                    cfg.broker
                );
                if !ack.session_present || !subscribed {
                    client
                        .subscribe(cfg.topic.clone(), QoS::AtLeastOnce)
                        .await
                        .context("subscribing")?;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                {
                    bail!("the broker refused the subscription to {}", cfg.topic);
                }
                subscribed = true;
                last_message = Instant::now();
                if let Some(f) = on_subscribed.take() {
                    f();
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                last_message = Instant::now();
                handle_message(registry, &mut agg, &p.topic, &p.payload, &mut stats);
                let closed = agg.drain_closed();
                if !closed.is_empty() {
                    register_windows(closed, signer, store, &mut tasks, &mut stats).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                failures_in_a_row += 1;
                if failures_in_a_row == 1 || failures_in_a_row.is_multiple_of(50) {
                    tracing::warn!("MQTT connection to {}: {e}; reconnecting", cfg.broker);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        while let Some(done) = tasks.try_join_next() {
            account(done, &mut stats);
        }
        if last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            tracing::info!(?stats, open_windows = agg.open_windows(), "progress");
        }
    }
    // Acknowledge what was received before leaving (the session keeps the rest).
    let _ = client.disconnect().await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Ok(polled) = tokio::time::timeout_at(deadline.into(), events.poll()).await {
        match polled {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                handle_message(registry, &mut agg, &p.topic, &p.payload, &mut stats);
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let rest = agg.drain_all();
    register_windows(rest, signer, store, &mut tasks, &mut stats).await;
    while let Some(done) = tasks.join_next().await {
        account(done, &mut stats);
    }
    Ok(stats)
}
