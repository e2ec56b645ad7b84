//! The public shop page (`/shops/{id}`): what the trust store holds about a shop, read per the
//! data contract in `docs/design/shop.md`, rendered server-side; the page's script then checks
//! the certificate's signature and receipt in the browser (`/ui/assets/shop.js`).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use shinrai_store::Store;
use shinrai_store::storage::{SearchQuery, StoredEntry};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::html::esc;

/// Predicate type of a shop profile.
pub const SHOP_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/shop/v1";
/// Predicate type of hourly sensor evidence (EPCIS 2.0 event).
pub const EVENT_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/epcis-event/v1";
/// Predicate type of a hygiene record.
pub const HYGIENE_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/hygiene-record/v1";
/// Predicate type of a certificate (SLSA VSA v1).
pub const VSA_PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// Predicate type of a revocation.
pub const REVOCATION_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/revocation/v1";

/// Most statements read for one page (newest kept): bounds the work of one request.
const MAX_STATEMENTS: usize = 5_000;
/// Most hours drawn in the chart (the newest).
const MAX_HOURS: usize = 24 * 62;

/// Whether `id` is a shop id: `[a-z0-9-]{1,64}`.
pub fn valid_shop_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The subject name of a shop: `urn:shinrai:shop:<id>`.
pub fn shop_subject(id: &str) -> String {
    format!("urn:shinrai:shop:{id}")
}

/// A registered statement: the stored entry and its parsed in-toto statement.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// The entry with its log metadata.
    pub entry: StoredEntry,
    /// The in-toto statement (DSSE payload), `Null` if it did not parse.
    pub statement: Value,
}

impl Stmt {
    fn predicate(&self) -> &Value {
        &self.statement["predicate"]
    }
}

/// Parses the in-toto statement out of DSSE envelope bytes (no signature check: display only;
/// the browser verifies what it shows as verified).
pub fn statement_of(bytes: &[u8]) -> Value {
    let env: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return Value::Null,
    };
    env["payload"]
        .as_str()
        .and_then(|p| B64.decode(p).ok())
        .and_then(|p| serde_json::from_slice(&p).ok())
        .unwrap_or(Value::Null)
}

/// Every statement registered about `subject_name` (by exact subject name), oldest first, at
/// most [`MAX_STATEMENTS`] (the newest).
pub fn statements_about(store: &Store, subject_name: &str) -> shinrai_store::Result<Vec<Stmt>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.search(SearchQuery {
            subject_name: Some(subject_name.to_owned()),
            after,
            limit: 1000,
            ..SearchQuery::default()
        })?;
        for e in page.entries {
            // Search results carry no bytes: read each entry (by index) for its statement.
            let e = if e.bytes.is_empty() {
                store.entry(e.index)?
            } else {
                e
            };
            let statement = statement_of(&e.bytes);
            out.push(Stmt {
                entry: e,
                statement,
            });
        }
        if out.len() > MAX_STATEMENTS {
            out.drain(..out.len() - MAX_STATEMENTS);
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(out)
}

/// The shop's own description.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Display name.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Whether the shop publishes its raw (per-device, per-hour) readings.
    pub publish_readings: bool,
    /// Organisation that signed the profile.
    pub org: String,
}

/// What the store says about the certificate (before the browser's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// A PASSED certificate inside its validity period, not revoked.
    Valid,
    /// The newest PASSED certificate's validity has ended.
    Expired,
    /// The newest PASSED certificate's validity has not started.
    NotYetValid,
    /// The newest PASSED certificate was revoked by its certifier.
    Revoked(String),
    /// No PASSED certificate; the newest FAILED verdict's reasons, if any.
    None(Vec<String>),
}

impl Status {
    /// The status word shown on the page.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Expired => "expired",
            Status::NotYetValid => "not yet valid",
            Status::Revoked(_) => "revoked",
            Status::None(_) => "none",
        }
    }
}

/// A certificate or a FAILED verdict (a VSA about the shop).
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Entry id (hex SHA-256 of the envelope bytes).
    pub entry_id: String,
    /// Log index.
    pub index: u64,
    /// Certifier organisation (the store's issuer).
    pub issuer_org: String,
    /// Certifier key id.
    pub issuer_keyid: String,
    /// Whether the verdict is PASSED.
    pub passed: bool,
    /// `verifier.id`.
    pub verifier: String,
    /// `timeVerified`.
    pub time_verified: String,
    /// `validity.notBefore` / `notAfter`.
    pub validity: (String, String),
    /// `period.start` / `end`.
    pub period: (String, String),
    /// `policyName`: the specification's name (the guideline shown).
    pub policy_name: String,
    /// `policy.uri`.
    pub policy_uri: String,
    /// `policy.digest.sha256`: the specification envelope's digest (its entry id).
    pub policy_sha256: String,
    /// Reasons of a FAILED verdict (`failures[].reason`).
    pub reasons: Vec<String>,
}

/// One hour of ventilation evidence (CO2, over all devices of the shop).
#[derive(Debug, Clone, PartialEq)]
pub struct Hour {
    /// `eventTime` (end of the hour).
    pub time: String,
    /// Highest hourly maximum over the devices, ppm.
    pub max: f64,
    /// Mean of the devices' hourly means, ppm.
    pub mean: f64,
}

/// One raw per-device, per-hour reading summary (shown only if the shop publishes them).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// `eventTime`.
    pub time: String,
    /// Device id.
    pub device: String,
    /// Measurement type.
    pub kind: String,
    /// Minimum, maximum, mean.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
    /// Number of readings aggregated.
    pub count: Option<u64>,
}

/// Everything the shop page shows.
#[derive(Debug, Clone)]
pub struct ShopView {
    /// The shop id.
    pub id: String,
    /// The newest profile, if any.
    pub profile: Option<Profile>,
    /// Certificate status per the store's index (the browser adds "not verified").
    pub status: Status,
    /// The verdict the status rests on (the newest PASSED certificate, else the newest FAILED).
    pub verdict: Option<Verdict>,
    /// Hourly CO2 evidence, oldest first.
    pub hours: Vec<Hour>,
    /// Raw readings (empty unless the profile sets `publishReadings`).
    pub readings: Vec<Reading>,
    /// Number of hygiene records.
    pub hygiene_records: usize,
    /// Number of statements about the shop.
    pub statements: usize,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn parse_time(t: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(t, &Rfc3339).ok()
}

fn verdict_of(st: &Stmt) -> Verdict {
    let p = st.predicate();
    let reasons = p["failures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    let r = s(&f["reason"]);
                    let v = s(&f["value"]);
                    if v.is_empty() {
                        r
                    } else {
                        format!("{r} ({v})")
                    }
                })
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Verdict {
        entry_id: st.entry.id.clone(),
        index: st.entry.index,
        issuer_org: st.entry.issuer_org.clone(),
        issuer_keyid: st.entry.issuer_keyid.clone(),
        passed: p["verificationResult"] == "PASSED",
        verifier: s(&p["verifier"]["id"]),
        time_verified: s(&p["timeVerified"]),
        validity: (
            s(&p["validity"]["notBefore"]),
            s(&p["validity"]["notAfter"]),
        ),
        period: (s(&p["period"]["start"]), s(&p["period"]["end"])),
        policy_name: s(&p["policyName"]),
        policy_uri: s(&p["policy"]["uri"]),
        policy_sha256: s(&p["policy"]["digest"]["sha256"]),
        reasons,
    }
}

fn is_co2(report: &Value) -> bool {
    let kind = report["type"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let chem = report["chemicalSubstance"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    // CO2 by name, or by its InChIKey (CURLTUGMZLYLDI-UHFFFAOYSA-N).
    kind.contains("CO2") || chem.contains("CURLTUGMZLYLDI") || chem.contains("CO2")
}

fn count_of(report: &Value) -> Option<u64> {
    let o = report.as_object()?;
    o.iter()
        .find(|(k, _)| k.as_str() == "count" || k.ends_with(":count"))
        .and_then(|(_, v)| v.as_u64())
}

/// Builds the view of shop `id` at `now`; `None` when the store holds nothing about it.
pub fn shop_view(
    store: &Store,
    id: &str,
    now: OffsetDateTime,
) -> shinrai_store::Result<Option<ShopView>> {
    let subject = shop_subject(id);
    let stmts = statements_about(store, &subject)?;
    if stmts.is_empty() {
        return Ok(None);
    }
    let mut profile = None;
    let mut vsas = Vec::new();
    let mut revocations = Vec::new();
    let mut events = Vec::new();
    let mut hygiene_records = 0;
    for st in &stmts {
        match st.entry.predicate_type.as_str() {
            SHOP_PREDICATE_TYPE => {
                let p = st.predicate();
                profile = Some(Profile {
                    name: s(&p["name"]),
                    address: s(&p["address"]),
                    publish_readings: p["publishReadings"].as_bool().unwrap_or(false),
                    org: st.entry.issuer_org.clone(),
                });
            }
            VSA_PREDICATE_TYPE if st.predicate()["resourceUri"] == subject.as_str() => {
                vsas.push(verdict_of(st))
            }
            REVOCATION_PREDICATE_TYPE => revocations.push(st),
            EVENT_PREDICATE_TYPE => events.push(st),
            HYGIENE_PREDICATE_TYPE => hygiene_records += 1,
            _ => {}
        }
    }
    let newest_passed = vsas.iter().rev().find(|v| v.passed).cloned();
    let (status, verdict) = match newest_passed {
        Some(v) => {
            let revoked = revocations.iter().find(|r| {
                r.predicate()["revokes"] == v.entry_id.as_str()
                    && r.entry.issuer_org == v.issuer_org
            });
            let status = if let Some(r) = revoked {
                Status::Revoked(s(&r.predicate()["reason"]))
            } else {
                match (parse_time(&v.validity.0), parse_time(&v.validity.1)) {
                    (Some(nb), Some(na)) if now < nb => {
                        let _ = na;
                        Status::NotYetValid
                    }
                    // notAfter is exclusive: "not valid at or after".
                    (Some(_), Some(na)) if now >= na => Status::Expired,
                    (Some(_), Some(_)) => Status::Valid,
                    // A certificate without a readable validity period is not valid.
                    _ => Status::None(vec![
                        "the newest certificate has no readable validity period".into(),
                    ]),
                }
            };
            (status, Some(v))
        }
        None => {
            let failed = vsas.iter().rev().find(|v| !v.passed).cloned();
            let reasons = failed
                .as_ref()
                .map(|f| {
                    if f.reasons.is_empty() {
                        vec!["the certifier's verdict was FAILED".to_owned()]
                    } else {
                        f.reasons.clone()
                    }
                })
                .unwrap_or_default();
            (Status::None(reasons), failed)
        }
    };
    let publish = profile.as_ref().is_some_and(|p| p.publish_readings);
    let mut hours = Vec::new();
    let mut readings = Vec::new();
    for st in events {
        let p = st.predicate();
        if p["series"].is_array() {
            // The ingestion's hourly evidence (`shinrai_evidence::shop::HourlyEvidence`):
            // `series` of per-device min/max/mean/count, raw `readings` only when published.
            if let Some(h) = hour_of_series(p) {
                hours.push(h);
            }
            if publish {
                readings.extend(raw_readings(p));
            }
            continue;
        }
        // A bare EPCIS event as predicate: CO2 sensor reports.
        let ev = p;
        let time = s(&ev["eventTime"]);
        let mut max: Option<f64> = None;
        let (mut mean_sum, mut mean_n) = (0.0, 0u32);
        for el in ev["sensorElementList"].as_array().into_iter().flatten() {
            let device = s(&el["sensorMetadata"]["deviceID"]);
            for r in el["sensorReport"].as_array().into_iter().flatten() {
                if is_co2(r) {
                    if let Some(m) = r["maxValue"].as_f64().or(r["value"].as_f64()) {
                        max = Some(max.map_or(m, |x| x.max(m)));
                    }
                    if let Some(m) = r["meanValue"].as_f64().or(r["value"].as_f64()) {
                        mean_sum += m;
                        mean_n += 1;
                    }
                }
                if publish {
                    let dev = r["deviceID"].as_str().map(str::to_owned);
                    readings.push(Reading {
                        time: time.clone(),
                        device: dev.unwrap_or_else(|| device.clone()),
                        kind: s(&r["type"]),
                        min: r["minValue"].as_f64(),
                        max: r["maxValue"].as_f64().or(r["value"].as_f64()),
                        mean: r["meanValue"].as_f64(),
                        count: count_of(r),
                    });
                }
            }
        }
        if let Some(max) = max {
            let mean = if mean_n > 0 {
                mean_sum / f64::from(mean_n)
            } else {
                max
            };
            hours.push(Hour { time, max, mean });
        }
    }
    hours.sort_by(|a, b| a.time.cmp(&b.time));
    if hours.len() > MAX_HOURS {
        hours.drain(..hours.len() - MAX_HOURS);
    }
    readings.sort_by(|a, b| a.time.cmp(&b.time).then(a.device.cmp(&b.device)));
    Ok(Some(ShopView {
        id: id.to_owned(),
        profile,
        status,
        verdict,
        hours,
        readings,
        hygiene_records,
        statements: stmts.len(),
    }))
}

/// One hour from an `HourlyEvidence` predicate: the CO2 series' highest max and mean of means.
fn hour_of_series(p: &Value) -> Option<Hour> {
    let co2: Vec<&Value> = p["series"]
        .as_array()?
        .iter()
        .filter(|x| x["type"] == "co2")
        .collect();
    let max = co2
        .iter()
        .filter_map(|x| x["max"].as_f64())
        .reduce(f64::max)?;
    let means: Vec<f64> = co2.iter().filter_map(|x| x["mean"].as_f64()).collect();
    let mean = if means.is_empty() {
        max
    } else {
        means.iter().sum::<f64>() / means.len() as f64
    };
    let time = p["period"]["end"]
        .as_str()
        .or(p["event"]["eventTime"].as_str())
        .unwrap_or_default()
        .to_owned();
    Some(Hour { time, max, mean })
}

/// The rows of an `HourlyEvidence` predicate: its raw readings when present, else its series.
fn raw_readings(p: &Value) -> Vec<Reading> {
    let hour = s(&p["period"]["end"]);
    if let Some(raw) = p["readings"].as_array().filter(|r| !r.is_empty()) {
        return raw
            .iter()
            .map(|r| Reading {
                time: r["t"]
                    .as_i64()
                    .and_then(|ms| {
                        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
                    })
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_else(|| hour.clone()),
                device: s(&r["device"]),
                kind: s(&r["type"]),
                min: None,
                max: r["value"].as_f64(),
                mean: None,
                count: None,
            })
            .collect();
    }
    p["series"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| Reading {
            time: hour.clone(),
            device: s(&x["device"]),
            kind: s(&x["type"]),
            min: x["min"].as_f64(),
            max: x["max"].as_f64(),
            mean: x["mean"].as_f64(),
            count: x["count"].as_u64(),
        })
        .collect()
}

/// The ventilation chart: hourly CO2 maximum and mean as an SVG line chart.
pub fn chart_svg(hours: &[Hour]) -> String {
    if hours.is_empty() {
        return "<p class=\"muted\">No ventilation evidence registered.</p>".into();
    }
    let (w, h, l, r, t, b) = (900.0, 260.0, 56.0, 12.0, 12.0, 36.0);
    let top = hours.iter().map(|x| x.max).fold(0.0_f64, f64::max).max(1.0);
    // Round the scale up to a multiple of 250 ppm.
    let top = (top / 250.0).ceil() * 250.0;
    let n = hours.len();
    let x = |i: usize| {
        if n == 1 {
            l + (w - l - r) / 2.0
        } else {
            l + (w - l - r) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| t + (h - t - b) * (1.0 - v / top);
    let mut svg = String::with_capacity(256 + n * 40);
    let _ = write!(
        svg,
        "<svg id=\"chart\" class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
aria-label=\"Hourly CO2 maximum and mean, ppm\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for k in 0..=4 {
        let v = top * f64::from(k) / 4.0;
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{l}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
<text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>",
            w - r,
            l - 6.0,
            y(v) + 4.0,
            y = y(v)
        );
    }
    for (cls, f) in [("max", 0usize), ("mean", 1)] {
        let mut pts = String::with_capacity(n * 14);
        for (i, hr) in hours.iter().enumerate() {
            let v = if f == 0 { hr.max } else { hr.mean };
            let _ = write!(pts, "{:.1},{:.1} ", x(i), y(v));
        }
        let _ = write!(
            svg,
            "<polyline class=\"line {cls}\" fill=\"none\" points=\"{}\"/>",
            pts.trim_end()
        );
    }
    let first = &hours[0].time;
    let last = &hours[n - 1].time;
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{l}\" y=\"{}\">{}</text>\
<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
<text class=\"axis\" x=\"4\" y=\"{t}\" dominant-baseline=\"hanging\">ppm</text></svg>",
        h - 10.0,
        esc(first),
        w - r,
        h - 10.0,
        esc(last)
    );
    let peak = hours.iter().map(|x| x.max).fold(f64::MIN, f64::max);
    let _ = write!(
        svg,
        "<p class=\"legend\"><span class=\"key max\"></span> hourly maximum \
<span class=\"key mean\"></span> hourly mean — {n} hours, peak {peak:.0} ppm</p>"
    );
    svg
}

/// A QR code for `text` as an inline SVG (one path of dark modules, 4-module quiet zone).
pub fn qr_svg(text: &str) -> String {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) else {
        return String::new();
    };
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 8;
    let mut d = String::with_capacity(width * width * 4);
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let _ = write!(d, "M{} {}h1v1h-1z", i % width + 4, i / width + 4);
        }
    }
    format!(
        "<svg class=\"qr\" id=\"qr\" viewBox=\"0 0 {size} {size}\" width=\"{}\" height=\"{}\" \
xmlns=\"http://www.w3.org/2000/svg\" shape-rendering=\"crispEdges\" role=\"img\" \
aria-label=\"QR code: {}\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
<path d=\"{d}\" fill=\"#000\"/></svg>",
        size * 4,
        size * 4,
        esc(text)
    )
}

fn row(out: &mut String, k: &str, v: &str) {
    let _ = write!(out, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
}

fn opt_num(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_default()
}

/// The body of the shop page for `view`, whose public address is `url`.
pub fn render_shop(view: &ShopView, url: &str) -> String {
    let mut b = String::with_capacity(8192);
    let name = view
        .profile
        .as_ref()
        .map(|p| p.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| view.id.clone());
    let _ = write!(
        b,
        "<header class=\"shop\"><div><h1 id=\"shop-name\">{}</h1>",
        esc(&name)
    );
    match &view.profile {
        Some(p) => {
            let _ = write!(
                b,
                "<p class=\"address\">{}</p><p class=\"muted\">Shop <code>{}</code>, \
profile signed by <b>{}</b></p>",
                esc(&p.address),
                esc(&view.id),
                esc(&p.org)
            );
        }
        None => {
            let _ = write!(
                b,
                "<p class=\"muted\">Shop <code>{}</code> (no profile registered)</p>",
                esc(&view.id)
            );
        }
    }
    let _ = write!(
        b,
        "</div><figure class=\"qrbox\">{}<figcaption><a href=\"{}\">{}</a></figcaption></figure></header>",
        qr_svg(url),
        esc(url),
        esc(url)
    );

    // The certificate box. The browser's script checks the entry named by data-entry and
    // settles the final status ("not verified" if a check fails).
    let status = view.status.word();
    let entry = view
        .verdict
        .as_ref()
        .map(|v| v.entry_id.as_str())
        .unwrap_or("");
    let _ = write!(
        b,
        "<section id=\"certificate\" class=\"card\" data-entry=\"{}\" data-status=\"{}\" \
data-passed=\"{}\"><h2>Hygiene &amp; ventilation certificate</h2>\
<p class=\"status-line\">Status: <span id=\"status\" class=\"status st-{}\">{}</span></p>",
        esc(entry),
        esc(status),
        view.verdict.as_ref().is_some_and(|v| v.passed),
        status.replace(' ', "-"),
        esc(status)
    );
    match &view.status {
        Status::Revoked(reason) => {
            let _ = write!(
                b,
                "<p id=\"status-reason\">Revoked by the certifier: {}</p>",
                esc(reason)
            );
        }
        Status::None(reasons) if !reasons.is_empty() => {
            b.push_str("<div id=\"status-reason\"><p>No certificate. The certifier found:</p><ul>");
            for r in reasons {
                let _ = write!(b, "<li>{}</li>", esc(r));
            }
            b.push_str("</ul></div>");
        }
        Status::None(_) => {
            b.push_str("<p id=\"status-reason\">No certificate has been issued for this shop.</p>")
        }
        _ => {}
    }
    if let Some(v) = &view.verdict {
        b.push_str("<table class=\"kv\">");
        row(
            &mut b,
            "Verdict",
            if v.passed { "PASSED" } else { "FAILED" },
        );
        row(
            &mut b,
            "Certifier",
            &format!(
                "{} <span class=\"muted\">({})</span>",
                esc(&v.issuer_org),
                esc(&v.verifier)
            ),
        );
        row(&mut b, "Checked on", &esc(&v.time_verified));
        row(
            &mut b,
            "Evidence period",
            &format!("{} — {}", esc(&v.period.0), esc(&v.period.1)),
        );
        if v.passed {
            row(
                &mut b,
                "Valid",
                &format!("{} — {}", esc(&v.validity.0), esc(&v.validity.1)),
            );
        }
        let guideline = if v.policy_name.is_empty() {
            &v.policy_uri
        } else {
            &v.policy_name
        };
        let spec = if v.policy_sha256.len() == 64 {
            format!(
                "{} <a href=\"/ui/entry/{}\">specification <code>{}…</code></a>",
                esc(guideline),
                esc(&v.policy_sha256),
                esc(&v.policy_sha256[..12])
            )
        } else {
            esc(guideline)
        };
        row(&mut b, "Guideline", &spec);
        row(
            &mut b,
            "Certificate entry",
            &format!(
                "<a href=\"/ui/entry/{}\">#{} <code>{}…</code></a>",
                esc(&v.entry_id),
                v.index,
                esc(&v.entry_id[..12.min(v.entry_id.len())])
            ),
        );
        b.push_str("</table>");
        b.push_str(
            "<p id=\"verify\" class=\"verify pending\">Not verified yet: this page checks the \
certificate's signature and receipt in your browser (JavaScript and WebCrypto needed).</p>\
<details id=\"verify-steps\"><summary>How this was checked</summary><ol id=\"verify-log\"></ol></details>",
        );
    }
    b.push_str("</section>");

    let _ = write!(
        b,
        "<section class=\"card\"><h2>Ventilation evidence (CO<sub>2</sub>)</h2>{}</section>",
        chart_svg(&view.hours)
    );

    b.push_str("<section class=\"card\" id=\"readings\"><h2>Readings</h2>");
    if view.profile.as_ref().is_some_and(|p| p.publish_readings) {
        if view.readings.is_empty() {
            b.push_str("<p class=\"muted\">No readings registered.</p>");
        } else {
            b.push_str(
                "<table class=\"grid\"><thead><tr><th>time</th><th>device</th><th>type</th>\
<th>min</th><th>max / value</th><th>mean</th><th>count</th></tr></thead><tbody>",
            );
            for r in view.readings.iter().rev().take(500) {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&r.time),
                    esc(&r.device),
                    esc(&r.kind),
                    opt_num(r.min),
                    opt_num(r.max),
                    opt_num(r.mean),
                    r.count.map(|c| c.to_string()).unwrap_or_default()
                );
            }
            b.push_str("</tbody></table>");
        }
    } else {
        b.push_str(
            "<p id=\"readings-private\" class=\"muted\">This shop does not publish its raw \
readings; the chart shows the hourly summaries the certifier checked.</p>",
        );
    }
    let _ = write!(
        b,
        "</section><p class=\"muted\">{} statements about this shop in the trust store \
({} hygiene records). <a href=\"/ui/?subject_name={}\">Browse them</a>.</p>",
        view.statements,
        view.hygiene_records,
        esc(&shop_subject(&view.id))
    );
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_ids_are_slugs() {
        assert!(valid_shop_id("trattoria-7"));
        assert!(!valid_shop_id(""));
        assert!(!valid_shop_id("Trattoria"));
        assert!(!valid_shop_id("a/b"));
        assert!(!valid_shop_id(&"a".repeat(65)));
    }

    #[test]
    fn qr_code_is_an_svg_path() {
        let svg = qr_svg("http://127.0.0.1:8080/shops/x");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<path d=\"M"));
    }

    #[test]
    fn chart_draws_two_lines_and_says_when_empty() {
        let hours = vec![
            Hour {
                time: "2026-11-01T01:00:00Z".into(),
                max: 800.0,
                mean: 600.0,
            },
            Hour {
                time: "2026-11-01T02:00:00Z".into(),
                max: 1400.0,
                mean: 900.0,
            },
        ];
        let svg = chart_svg(&hours);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("peak 1400 ppm"));
        assert!(chart_svg(&[]).contains("No ventilation evidence"));
    }

    #[test]
    fn statement_of_garbage_is_null() {
        assert_eq!(statement_of(b"not json"), Value::Null);
        assert_eq!(statement_of(b"{\"payload\":\"!!\"}"), Value::Null);
    }
}
