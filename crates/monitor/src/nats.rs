//! Sensor -> MSS transport over NATS JetStream (blocking API; a private Tokio runtime inside).
//!
//! Sensors publish each alert as one JSON message on `<prefix>.<sensor>` with a `Nats-Msg-Id`
//! header (`<sensor>-<seq>`), so JetStream drops re-sent duplicates; at the end a sensor
//! publishes an empty message with header `Shinrai-End: 1`. The MSS reads the stream through a
//! durable pull consumer, acknowledges each message and feeds an [`IncidentBook`].

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;

use crate::alert::Alert;
use crate::error::{MonitorError, Result};
use crate::mss::{Incident, IncidentBook};

/// Where alerts travel.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// Server URL.
    pub url: String,
    /// JetStream stream name.
    pub stream: String,
    /// Subject prefix; the stream holds `<prefix>.>`.
    pub subject_prefix: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            stream: "SHINRAI_ALERTS".into(),
            subject_prefix: "shinrai.alerts".into(),
        }
    }
}

fn nerr(e: impl std::fmt::Display) -> MonitorError {
    MonitorError::Nats(e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(nerr)
}

async fn context(cfg: &NatsConfig) -> Result<(jetstream::Context, stream::Stream)> {
    let client = async_nats::connect(cfg.url.as_str()).await.map_err(nerr)?;
    let js = jetstream::new(client);
    let st = js
        .get_or_create_stream(stream::Config {
            name: cfg.stream.clone(),
            subjects: vec![format!("{}.>", cfg.subject_prefix)],
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(nerr)?;
    Ok((js, st))
}

/// Publishes a sensor's alerts.
pub struct SensorPublisher {
    rt: tokio::runtime::Runtime,
    js: jetstream::Context,
    subject: String,
    sensor: String,
    seq: u64,
}

impl SensorPublisher {
    /// Connects and makes sure the stream exists.
    pub fn connect(cfg: &NatsConfig, sensor: &str) -> Result<Self> {
        if sensor.is_empty() || sensor.contains(['.', '*', '>', ' ']) {
            return Err(MonitorError::InvalidConfig {
                what: "sensor name",
                reason: format!("`{sensor}`: use letters, digits, '-' or '_'"),
            });
        }
        let rt = runtime()?;
        let (js, _) = rt.block_on(context(cfg))?;
        Ok(Self {
            rt,
            js,
            subject: format!("{}.{sensor}", cfg.subject_prefix),
            sensor: sensor.into(),
            seq: 0,
        })
    }

    /// Publishes one alert (with `host` set to the sensor name) and waits for the ack.
    pub fn publish(&mut self, alert: &Alert) -> Result<()> {
        let mut a = alert.clone();
        a.host = Some(self.sensor.clone());
        self.seq += 1;
        let mut h = HeaderMap::new();
        h.insert(
            "Nats-Msg-Id",
            format!("{}-{}", self.sensor, self.seq).as_str(),
        );
        let body = a.to_json_line();
        let js = self.js.clone();
        let subject = self.subject.clone();
        self.rt.block_on(async move {
            js.publish_with_headers(subject, h, body.into())
                .await
                .map_err(nerr)?
                .await
                .map_err(nerr)?;
            Ok(())
        })
    }

    /// Tells the MSS this sensor has finished.
    pub fn end(&mut self) -> Result<()> {
        let mut h = HeaderMap::new();
        h.insert("Shinrai-End", "1");
        h.insert(
            "Nats-Msg-Id",
            format!("{}-end-{}", self.sensor, self.seq).as_str(),
        );
        let js = self.js.clone();
        let subject = self.subject.clone();
        self.rt.block_on(async move {
            js.publish_with_headers(subject, h, Vec::new().into())
                .await
                .map_err(nerr)?
                .await
                .map_err(nerr)?;
            Ok(())
        })
    }
}

/// What an MSS run collected.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MssReport {
    /// Messages read.
    pub messages: u64,
    /// Alerts dropped as duplicates (same packet from two sensors).
    pub duplicates: u64,
    /// Incidents emitted.
    pub incidents: u64,
    /// Sensors that said they finished.
    pub finished_sensors: Vec<String>,
    /// Score history per sensor and minute.
    pub history:
        std::collections::BTreeMap<String, std::collections::BTreeMap<i64, crate::mss::ScorePoint>>,
}

/// Collects alerts until `expect_sensors` sensors have finished, or nothing arrived for `idle`.
/// Every incident is handed to `on_incident` once, whole.
pub fn run_mss(
    cfg: &NatsConfig,
    consumer_name: &str,
    expect_sensors: Option<usize>,
    idle: Duration,
    gap_us: i64,
    on_incident: &mut dyn FnMut(&Incident),
) -> Result<MssReport> {
    let rt = runtime()?;
    rt.block_on(async {
        let (_js, st) = context(cfg).await?;
        let consumer: pull::Stream = st
            .get_or_create_consumer(
                consumer_name,
                pull::Config {
                    durable_name: Some(consumer_name.to_string()),
                    ..Default::default()
                },
            )
            .await
            .map_err(nerr)?
            .messages()
            .await
            .map_err(nerr)?;
        let mut messages = consumer;
        let mut book = IncidentBook::new(gap_us);
        if let Some(n) = expect_sensors {
            book.expect_sensors(n);
        }
        let mut report = MssReport::default();
        loop {
            if expect_sensors.is_some_and(|n| report.finished_sensors.len() >= n) {
                break;
            }
            let next = match tokio::time::timeout(idle, messages.next()).await {
                Err(_) | Ok(None) => break,
                Ok(Some(m)) => m.map_err(nerr)?,
            };
            next.ack().await.map_err(nerr)?;
            report.messages += 1;
            let sensor = next
                .subject
                .as_str()
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_string();
            if next
                .headers
                .as_ref()
                .is_some_and(|h| h.get("Shinrai-End").is_some())
            {
                for inc in book.finish(&sensor) {
                    report.incidents += 1;
                    on_incident(&inc);
                }
                if !report.finished_sensors.contains(&sensor) {
                    report.finished_sensors.push(sensor);
                }
                continue;
            }
            let Ok(alert) = serde_json::from_slice::<Alert>(&next.payload) else {
                continue;
            };
            for inc in book.add(&sensor, alert) {
                report.incidents += 1;
                on_incident(&inc);
            }
        }
        for inc in book.flush() {
            report.incidents += 1;
            on_incident(&inc);
        }
        report.duplicates = book.duplicates();
        report.history = book.history().clone();
        Ok(report)
    })
}

/// Deletes a stream (tests, resets).
pub fn delete_stream(cfg: &NatsConfig) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = async_nats::connect(cfg.url.as_str()).await.map_err(nerr)?;
        let js = jetstream::new(client);
        js.delete_stream(&cfg.stream).await.map_err(nerr)?;
        Ok(())
    })
}
