//! Shop trust evidence: shop profiles, hourly sensor evidence, hygiene records, and the inputs
//! of a certification (see `docs/design/shop.md`, the contract with the public shop page).
//!
//! Every statement about a shop has the subject [`shop_subject`]
//! (`urn:shinrai:shop:<id>`, digest = SHA-256 of that name), so a search by subject finds all of
//! it. No IO: values in, statements and CEL variables out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shinrai_envelope::statement::{Predicate, Statement, Subject};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::epcis::{
    Event, EventType, Location, SensorElement, SensorMetadata, SensorReport, Timestamp,
};
use crate::sensor::{HOUR_MS, HourWindow, Quantity, round3, valid_shop_id};
use crate::step::{EVENT_PREDICATE_TYPE, EventEvidence};
use crate::{Error, Result};

/// Predicate type of a shop profile.
pub const PROFILE_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/shop/v1";
/// Predicate type of a hygiene record.
pub const HYGIENE_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/hygiene-record/v1";
/// Predicate type of a revocation.
pub const REVOCATION_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/revocation/v1";
/// The step name written in hourly sensor evidence (`EventEvidence::step`).
pub const SENSOR_STEP: &str = "ventilation";
/// The step name of hygiene records in a certifier's specification.
pub const HYGIENE_STEP: &str = "hygiene";
/// `dataProcessingMethod` of an hourly aggregate sensor element.
pub const HOURLY_METHOD: &str = "https://shinrai.dev/method/hourly-aggregate";
/// Most raw readings kept in one hourly evidence statement (keeps entries under 64 KiB).
pub const MAX_RAW_READINGS: usize = 400;
/// Most checks in one hygiene record.
pub const MAX_CHECKS: usize = 100;

/// The subject name of shop `id`: `urn:shinrai:shop:<id>`.
pub fn shop_urn(id: &str) -> String {
    format!("urn:shinrai:shop:{id}")
}

/// The subject of every statement about shop `id`: name `urn:shinrai:shop:<id>`, digest the
/// SHA-256 of that name.
pub fn shop_subject(id: &str) -> Subject {
    let urn = shop_urn(id);
    Subject::for_content(&urn, urn.as_bytes())
}

fn check_shop(id: &str) -> Result<()> {
    if valid_shop_id(id) {
        Ok(())
    } else {
        Err(Error::InvalidStatement(format!(
            "shop id {id:?} is not [a-z0-9-]{{1,64}}"
        )))
    }
}

/// RFC 3339 UTC text of Unix milliseconds (`2026-11-26T10:00:00Z`, milliseconds when not 0).
pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Unix milliseconds of an RFC 3339 time.
pub fn parse_rfc3339_ms(s: &str) -> Result<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|e| Error::InvalidStatement(format!("time {s:?} is not RFC 3339: {e}")))
}

/// A shop's public profile, signed by the shop's organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShopProfile {
    /// Shop id (`[a-z0-9-]{1,64}`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Postal address.
    #[serde(default)]
    pub address: String,
    /// Whether raw readings are published (shown on the page) or only hourly aggregates.
    #[serde(default)]
    pub publish_readings: bool,
}

impl Predicate for ShopProfile {
    const PREDICATE_TYPE: &'static str = PROFILE_PREDICATE_TYPE;
}

impl ShopProfile {
    /// The statement about the shop.
    pub fn to_statement(&self) -> Result<Statement> {
        check_shop(&self.id)?;
        Ok(Statement::with_predicate(
            vec![shop_subject(&self.id)],
            self,
        )?)
    }
}

/// One item of a daily hygiene checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HygieneCheck {
    /// What was checked, e.g. `fridge-temperatures`.
    pub item: String,
    /// Whether it was done (and passed).
    pub done: bool,
    /// Who did it: a staff pseudonym or role (never a person's name: the log keeps no
    /// personal data).
    #[serde(default)]
    pub by: String,
    /// When, RFC 3339.
    #[serde(default)]
    pub at: String,
}

/// A HACCP-style daily hygiene checklist, signed by the shop's organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HygieneRecord {
    /// The shop id.
    pub shop: String,
    /// The day, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The checks.
    pub checks: Vec<HygieneCheck>,
}

impl Predicate for HygieneRecord {
    const PREDICATE_TYPE: &'static str = HYGIENE_PREDICATE_TYPE;
}

/// Reads a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Result<Date> {
    let bad = |why: &str| Error::InvalidStatement(format!("date {s:?} is not YYYY-MM-DD: {why}"));
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad("wrong shape"));
    }
    let num = |r: std::ops::Range<usize>| -> Result<u16> {
        let part = &s[r];
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("not digits"));
        }
        part.parse().map_err(|_| bad("not a number"))
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let month = time::Month::try_from(m as u8).map_err(|e| bad(&e.to_string()))?;
    Date::from_calendar_date(i32::from(y), month, d as u8).map_err(|e| bad(&e.to_string()))
}

/// Writes a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl HygieneRecord {
    /// Checks the record: shop id, date, 1..=[`MAX_CHECKS`] checks with non-empty unique items.
    pub fn validate(&self) -> Result<()> {
        check_shop(&self.shop)?;
        parse_date(&self.date)?;
        if self.checks.is_empty() || self.checks.len() > MAX_CHECKS {
            return Err(Error::InvalidStatement(format!(
                "a hygiene record needs 1..={MAX_CHECKS} checks, not {}",
                self.checks.len()
            )));
        }
        let mut items = BTreeSet::new();
        for c in &self.checks {
            if c.item.is_empty() || c.item.len() > 128 || !items.insert(c.item.as_str()) {
                return Err(Error::InvalidStatement(format!(
                    "hygiene check item {:?} is empty, too long or repeated",
                    c.item
                )));
            }
        }
        Ok(())
    }

    /// The statement about the shop.
    pub fn to_statement(&self) -> Result<Statement> {
        self.validate()?;
        Ok(Statement::with_predicate(
            vec![shop_subject(&self.shop)],
            self,
        )?)
    }

    /// Reads a record from a (verified) statement and checks it is about its shop.
    pub fn from_statement(st: &Statement) -> Result<Self> {
        let r: HygieneRecord = st
            .predicate_as()
            .map_err(|e| Error::InvalidStatement(e.to_string()))?;
        r.validate()?;
        let want = shop_subject(&r.shop);
        if !st.subject.iter().any(|s| s == &want) {
            return Err(Error::InvalidStatement(format!(
                "hygiene record of shop {} does not have the shop as subject",
                r.shop
            )));
        }
        Ok(r)
    }
}

/// The aggregate of one device's readings of one quantity in one hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    /// Device id.
    pub device: String,
    /// Quantity.
    #[serde(rename = "type")]
    pub kind: Quantity,
    /// UN/ECE unit code (`59` ppm, `CEL`, `P1`).
    pub uom: String,
    /// Smallest reading.
    pub min: f64,
    /// Largest reading.
    pub max: f64,
    /// Mean, rounded to 3 decimals.
    pub mean: f64,
    /// Number of readings.
    pub count: u64,
}

/// A raw reading published with the hourly evidence (shops with `publishReadings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedReading {
    /// Device id.
    pub device: String,
    /// Unix ms.
    pub t: i64,
    /// Quantity.
    #[serde(rename = "type")]
    pub kind: Quantity,
    /// Value.
    pub value: f64,
}

/// A time interval, RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    /// Start (inclusive).
    pub start: String,
    /// End (exclusive).
    pub end: String,
}

/// Hourly sensor evidence of a shop: an EPCIS ObjectEvent (one sensor element per device and
/// quantity with min/max/mean) plus the same figures with counts, signed by the ingesting
/// organisation. Predicate type [`EVENT_PREDICATE_TYPE`]; it reads as an
/// [`EventEvidence`] of step [`SENSOR_STEP`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HourlyEvidence {
    /// Always [`SENSOR_STEP`].
    pub step: String,
    /// The EPCIS event (eventTime = end of the hour, eventID = CBV 2.0 hash).
    pub event: Event,
    /// The shop id.
    pub shop: String,
    /// The hour.
    pub period: Interval,
    /// Min/max/mean/count per device and quantity (EPCIS has no count field).
    pub series: Vec<SeriesSummary>,
    /// Raw readings, only when the shop publishes them (at most [`MAX_RAW_READINGS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readings: Vec<PublishedReading>,
    /// Whether raw readings were cut at [`MAX_RAW_READINGS`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readings_truncated: bool,
}

impl Predicate for HourlyEvidence {
    const PREDICATE_TYPE: &'static str = EVENT_PREDICATE_TYPE;
}

impl HourlyEvidence {
    /// Builds the evidence of a closed hour (raw readings included when the window kept them).
    pub fn from_window(w: &HourWindow) -> Result<Self> {
        check_shop(&w.shop)?;
        let start = Timestamp::from_unix_millis(w.start_ms, 0)?;
        let end = Timestamp::from_unix_millis(w.end_ms(), 0)?;
        let mut e = Event::new(EventType::ObjectEvent, end);
        e.biz_step = Some("sensor_reporting".into());
        e.read_point = Some(Location {
            id: shop_urn(&w.shop),
        });
        let mut series = Vec::with_capacity(w.series.len());
        for ((device, q), s) in &w.series {
            let mt = q.measurement_type();
            let mut r = match q {
                Quantity::Co2 => SensorReport::co2_ppm(0.0),
                _ => SensorReport::measurement(mt, 0.0),
            };
            r.value = None;
            r.min_value = Some(s.min);
            r.max_value = Some(s.max);
            r.mean_value = Some(s.mean());
            e.sensor_element_list.push(SensorElement {
                sensor_metadata: Some(SensorMetadata {
                    start_time: Some(start),
                    end_time: Some(end),
                    device_id: Some(device.clone()),
                    data_processing_method: Some(HOURLY_METHOD.into()),
                    ..SensorMetadata::default()
                }),
                sensor_report: vec![r],
            });
            series.push(SeriesSummary {
                device: device.clone(),
                kind: *q,
                uom: mt.default_uom().to_owned(),
                min: s.min,
                max: s.max,
                mean: s.mean(),
                count: s.count,
            });
        }
        let ev = EventEvidence::new(SENSOR_STEP, e)?;
        let readings: Vec<PublishedReading> = w
            .readings
            .iter()
            .take(MAX_RAW_READINGS)
            .map(|(d, r)| PublishedReading {
                device: d.clone(),
                t: r.t,
                kind: r.kind,
                value: r.value,
            })
            .collect();
        Ok(HourlyEvidence {
            step: SENSOR_STEP.into(),
            event: ev.event,
            shop: w.shop.clone(),
            period: Interval {
                start: rfc3339_ms(w.start_ms),
                end: rfc3339_ms(w.end_ms()),
            },
            series,
            readings_truncated: w.readings.len() > MAX_RAW_READINGS,
            readings,
        })
    }

    /// The statement: subjects = the shop and the event (name = event id, digest = the CBV
    /// hash's SHA-256).
    pub fn to_statement(&self) -> Result<Statement> {
        let id = crate::hash::event_hash(&self.event)?;
        let sha = crate::hash::event_id_sha256(&id).unwrap_or_default();
        let subjects = vec![shop_subject(&self.shop), Subject::new(&id, sha)?];
        Ok(Statement::with_predicate(subjects, self)?)
    }

    /// Reads the evidence from a (verified) statement: the event must be valid with its CBV
    /// hash as id and subject, the shop a subject, and every series agree with the event's
    /// min/max/mean of the same device and quantity.
    pub fn from_statement(st: &Statement) -> Result<Self> {
        EventEvidence::from_statement(st)?;
        let h: HourlyEvidence = st
            .predicate_as()
            .map_err(|e| Error::InvalidStatement(e.to_string()))?;
        check_shop(&h.shop)?;
        if h.step != SENSOR_STEP {
            return Err(Error::InvalidStatement(format!(
                "sensor evidence of step {:?}, expected {SENSOR_STEP:?}",
                h.step
            )));
        }
        let want = shop_subject(&h.shop);
        if !st.subject.iter().any(|s| s == &want) {
            return Err(Error::InvalidStatement(format!(
                "sensor evidence of shop {} does not have the shop as subject",
                h.shop
            )));
        }
        let start = parse_rfc3339_ms(&h.period.start)?;
        let end = parse_rfc3339_ms(&h.period.end)?;
        if end - start != HOUR_MS || start.rem_euclid(HOUR_MS) != 0 {
            return Err(Error::InvalidStatement(format!(
                "period {} .. {} is not one whole hour",
                h.period.start, h.period.end
            )));
        }
        for s in &h.series {
            let found = h.event.readings().any(|(m, r)| {
                m.and_then(|m| m.device_id.as_deref()) == Some(s.device.as_str())
                    && r.kind == s.kind.measurement_type().as_str()
                    && r.min_value == Some(s.min)
                    && r.max_value == Some(s.max)
                    && r.mean_value == Some(s.mean)
            });
            if !found || s.count == 0 || !(s.min <= s.mean && s.mean <= s.max) {
                return Err(Error::InvalidStatement(format!(
                    "series {} {} does not match the EPCIS event",
                    s.device,
                    s.kind.as_str()
                )));
            }
        }
        Ok(h)
    }

    /// Start of the hour, Unix ms.
    pub fn start_ms(&self) -> Result<i64> {
        parse_rfc3339_ms(&self.period.start)
    }
}

/// A revocation of a certificate by its certifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The entry id of the certificate revoked.
    pub revokes: String,
    /// Why.
    pub reason: String,
}

impl Predicate for Revocation {
    const PREDICATE_TYPE: &'static str = REVOCATION_PREDICATE_TYPE;
}

impl Revocation {
    /// The statement: subjects = the shop and the certificate envelope (by its SHA-256).
    pub fn to_statement(&self, shop: &str, certificate_sha256: &str) -> Result<Statement> {
        check_shop(shop)?;
        let subjects = vec![
            shop_subject(shop),
            Subject::new(
                &format!("urn:shinrai:entry:{}", self.revokes),
                certificate_sha256,
            )?,
        ];
        Ok(Statement::with_predicate(subjects, self)?)
    }
}

/// The validity and period a shop certificate adds to the SLSA VSA v1 predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateTerms {
    /// When the certificate is valid.
    pub validity: Validity,
    /// The evidence period checked.
    pub period: Interval,
}

/// A validity period, RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Validity {
    /// Not valid before.
    pub not_before: String,
    /// Not valid at or after.
    pub not_after: String,
}

/// What a certification reads: the shop's verified evidence within a period.
#[derive(Debug, Clone)]
pub struct CertificationInput {
    /// The shop.
    pub shop: String,
    /// Period start, Unix ms (inclusive; whole hours are evaluated).
    pub start_ms: i64,
    /// Period end, Unix ms (exclusive).
    pub end_ms: i64,
    /// Hourly evidence (already verified by the caller).
    pub hours: Vec<HourlyEvidence>,
    /// Hygiene records (already verified by the caller).
    pub hygiene: Vec<HygieneRecord>,
}

/// Running (min, max, sum, count) per quantity.
type Merged = BTreeMap<Quantity, (f64, f64, f64, u64)>;

fn merge_stats(acc: &mut Merged, s: &SeriesSummary) {
    let e = acc
        .entry(s.kind)
        .or_insert((f64::INFINITY, f64::NEG_INFINITY, 0.0, 0));
    e.0 = e.0.min(s.min);
    e.1 = e.1.max(s.max);
    e.2 += s.mean * s.count as f64;
    e.3 += s.count;
}

impl CertificationInput {
    /// The CEL variables of a certification (the certifier's rules read these):
    ///
    /// - `hours`: one map per hour of the period with evidence, in time order:
    ///   `{"start", "end", "co2": {"min","max","mean","count"}, "temperature": {...},
    ///   "humidity": {...}}` (a quantity without readings is absent; several devices or
    ///   evidence entries of the same hour are merged: min of mins, max of maxes, weighted mean);
    /// - `days`: one map per UTC day of the period, `{"date", "recorded": bool, "done": [items
    ///   done], "notDone": [items recorded as not done]}` (several records of a day merge);
    /// - `period`: `{"start", "end", "hours": whole hours, "days": days}`.
    ///
    /// Evidence outside the period or of another shop is ignored.
    pub fn variables(&self) -> Result<BTreeMap<String, Value>> {
        if self.end_ms <= self.start_ms {
            return Err(Error::InvalidStatement(
                "the certification period is empty".into(),
            ));
        }
        let mut by_hour: BTreeMap<i64, Merged> = BTreeMap::new();
        for h in &self.hours {
            let start = h.start_ms()?;
            if h.shop != self.shop || start < self.start_ms || start + HOUR_MS > self.end_ms {
                continue;
            }
            let acc = by_hour.entry(start).or_default();
            for s in &h.series {
                merge_stats(acc, s);
            }
        }
        let hours: Vec<Value> = by_hour
            .iter()
            .map(|(start, acc)| {
                let mut m = serde_json::Map::new();
                m.insert("start".into(), json!(rfc3339_ms(*start)));
                m.insert("end".into(), json!(rfc3339_ms(start + HOUR_MS)));
                for (q, (min, max, sum, count)) in acc {
                    let mean = if *count > 0 {
                        round3(sum / *count as f64)
                    } else {
                        0.0
                    };
                    m.insert(
                        q.as_str().into(),
                        json!({"min": min, "max": max, "mean": mean, "count": count}),
                    );
                }
                Value::Object(m)
            })
            .collect();
        let first_day = OffsetDateTime::from_unix_timestamp(self.start_ms.div_euclid(1000))
            .map_err(|e| Error::InvalidStatement(e.to_string()))?
            .date();
        let last_day = OffsetDateTime::from_unix_timestamp((self.end_ms - 1).div_euclid(1000))
            .map_err(|e| Error::InvalidStatement(e.to_string()))?
            .date();
        let mut records: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for r in &self.hygiene {
            if r.shop != self.shop {
                continue;
            }
            let e = records.entry(r.date.clone()).or_default();
            for c in &r.checks {
                if c.done {
                    e.0.insert(c.item.clone());
                } else {
                    e.1.insert(c.item.clone());
                }
            }
        }
        let mut days = Vec::new();
        let mut d = first_day;
        while d <= last_day {
            let date = format_date(d);
            let (done, not_done) = records.get(&date).cloned().unwrap_or_default();
            let not_done: Vec<&String> = not_done.iter().filter(|i| !done.contains(*i)).collect();
            days.push(json!({
                "date": date,
                "recorded": records.contains_key(&date),
                "done": done,
                "notDone": not_done,
            }));
            match d.next_day() {
                Some(n) => d = n,
                None => break,
            }
        }
        let period = json!({
            "start": rfc3339_ms(self.start_ms),
            "end": rfc3339_ms(self.end_ms),
            "hours": (self.end_ms - self.start_ms) / HOUR_MS,
            "days": days.len(),
        });
        Ok(BTreeMap::from([
            ("hours".to_owned(), Value::Array(hours)),
            ("days".to_owned(), Value::Array(days)),
            ("period".to_owned(), period),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensor::{
        DeviceRegistry, HourlyAggregator, Reading, ReadingBatch, RegistryDevice, RegistryFile,
        RegistryShop,
    };
    use crate::test_support::MemSigner;
    use shinrai_envelope::Signer as _;
    use shinrai_scu::Algorithm;

    const T0: i64 = 1_795_000_000_000 - 1_795_000_000_000 % HOUR_MS;

    fn window(publish: bool) -> HourWindow {
        let dev = MemSigner::new(Algorithm::EcdsaP256);
        let reg = DeviceRegistry::new(RegistryFile {
            shops: vec![RegistryShop {
                id: "roma".into(),
                name: "Roma".into(),
                address: String::new(),
                publish_readings: publish,
            }],
            devices: vec![RegistryDevice {
                id: "urn:shinrai:device:roma-1".into(),
                shop: "roma".into(),
                key: dev.sslib_key().expect("key"),
            }],
        })
        .expect("registry");
        let readings = (0..60)
            .flat_map(|i| {
                [
                    Reading {
                        t: T0 + i * 60_000,
                        kind: Quantity::Co2,
                        value: 500.0 + i as f64,
                    },
                    Reading {
                        t: T0 + i * 60_000,
                        kind: Quantity::Temperature,
                        value: 21.5,
                    },
                ]
            })
            .collect();
        let msg = ReadingBatch {
            device: "urn:shinrai:device:roma-1".into(),
            shop: "roma".into(),
            seq: 1,
            readings,
        }
        .sign(&dev)
        .expect("sign");
        let mut agg = HourlyAggregator::new(0, publish.then(|| "roma".to_owned()));
        agg.push(&reg.verify(&msg).expect("verify"));
        agg.drain_all().remove(0)
    }

    #[test]
    fn hourly_evidence_roundtrips_and_carries_the_figures() {
        let h = HourlyEvidence::from_window(&window(false)).expect("evidence");
        assert_eq!(h.period.start, rfc3339_ms(T0));
        let co2 = h
            .series
            .iter()
            .find(|s| s.kind == Quantity::Co2)
            .expect("co2");
        assert_eq!(
            (co2.min, co2.max, co2.mean, co2.count),
            (500.0, 559.0, 529.5, 60)
        );
        assert!(h.readings.is_empty());
        let st = h.to_statement().expect("statement");
        assert_eq!(st.subject[0], shop_subject("roma"));
        assert_eq!(HourlyEvidence::from_statement(&st).expect("back"), h);
        let mut tampered = st.clone();
        tampered.predicate["series"][0]["max"] = json!(1.0);
        assert!(HourlyEvidence::from_statement(&tampered).is_err());
        let published = HourlyEvidence::from_window(&window(true)).expect("evidence");
        assert_eq!(published.readings.len(), 120);
        assert!(
            published
                .to_statement()
                .expect("st")
                .to_json_bytes()
                .expect("json")
                .len()
                < 64 * 1024
        );
    }

    #[test]
    fn certification_variables_cover_every_day_and_merge_hours() {
        let h = HourlyEvidence::from_window(&window(false)).expect("evidence");
        let rec = HygieneRecord {
            shop: "roma".into(),
            date: format_date(
                OffsetDateTime::from_unix_timestamp(T0 / 1000)
                    .expect("t")
                    .date(),
            ),
            checks: vec![
                HygieneCheck {
                    item: "fridge-temperatures".into(),
                    done: true,
                    by: "staff-1".into(),
                    at: rfc3339_ms(T0),
                },
                HygieneCheck {
                    item: "surfaces".into(),
                    done: false,
                    by: "staff-1".into(),
                    at: rfc3339_ms(T0),
                },
            ],
        };
        let st = rec.to_statement().expect("st");
        assert_eq!(HygieneRecord::from_statement(&st).expect("back"), rec);
        let input = CertificationInput {
            shop: "roma".into(),
            start_ms: T0 - 24 * HOUR_MS,
            end_ms: T0 + 2 * HOUR_MS,
            hours: vec![h.clone(), h],
            hygiene: vec![rec],
        };
        let vars = input.variables().expect("vars");
        let hours = vars["hours"].as_array().expect("hours");
        assert_eq!(hours.len(), 1, "the same hour twice merges");
        assert_eq!(hours[0]["co2"]["max"], json!(559.0));
        assert_eq!(hours[0]["co2"]["count"], json!(120));
        let days = vars["days"].as_array().expect("days");
        assert!(days.len() >= 2);
        assert!(
            days.iter()
                .any(|d| d["recorded"] == json!(true) && d["notDone"] == json!(["surfaces"]))
        );
        assert_eq!(vars["period"]["hours"], json!(26));
        let bad = HygieneRecord {
            shop: "Roma!".into(),
            date: "2026-13-01".into(),
            checks: vec![],
        };
        assert!(bad.to_statement().is_err());
    }
}
