//! The CBV 2.0 event hash: `ni:///sha-256;<hex>?ver=CBV2.0`.
//!
//! CBV 2.0 (section 8.9) names an event by the SHA-256 of a canonical *pre-hash string*: the
//! event type, then the event's fields in a fixed order, each written `name=value` with values
//! canonicalised (timestamps in UTC at millisecond precision, numbers without trailing zeros,
//! CBV words as web vocabulary URIs), the entries of each list sorted, and what the fixed order
//! does not cover (`bizTransactionList`, `sourceList`, `destinationList`) appended generically. This module builds that
//! string from an [`Event`] the way the reference implementation (PyPI
//! `epcis-event-hash-generator` 1.9) does for the fields this crate models; the interop test
//! `tests/interop/epcis_check.py` checks equality on events with sensor readings.
//!
//! Known limits (refused with [`Error::Unsupported`] rather than hashed differently): EPC URNs
//! (`urn:epc:id:...`, which the reference first rewrites as GS1 Digital Link URIs) and infinite
//! numbers. Digital Link URIs must be in canonical form (`https://id.gs1.org/...`, no query).

use std::collections::BTreeSet;

use aws_lc_rs::digest;

use crate::epcis::{Event, Location, QuantityElement, SensorElement, SensorReport, Timestamp};
use crate::{Error, Result};

const CBV: &str = "https://ref.gs1.org/cbv/";
const VOC: &str = "https://gs1.org/voc/";

/// The event's id by the CBV 2.0 hash over SHA-256.
pub fn event_hash(event: &Event) -> Result<String> {
    let pre = pre_hash_string(event)?;
    Ok(format!(
        "ni:///sha-256;{}?ver=CBV2.0",
        hex::encode(digest::digest(&digest::SHA256, pre.as_bytes()))
    ))
}

/// The lowercase hex SHA-256 inside an event id `ni:///sha-256;<hex>?ver=CBV2.0`, if it is one.
pub fn event_id_sha256(event_id: &str) -> Option<&str> {
    let hex = event_id
        .strip_prefix("ni:///sha-256;")?
        .strip_suffix("?ver=CBV2.0")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

/// The canonical pre-hash string of `event` (what [`event_hash`] hashes), for debugging and
/// comparison with the reference's `-j` output.
pub fn pre_hash_string(event: &Event) -> Result<String> {
    let c = Canon::new(event);
    let mut out = String::from("eventType=");
    out.push_str(event.event_type.as_str());

    out.push_str(&format!(
        "eventTime={}",
        event.event_time.utc_millis_string()
    ));
    c.field(
        &mut out,
        "eventTimeZoneOffset",
        Some(&event.event_time_zone_offset),
    )?;
    c.field(&mut out, "parentID", event.parent_id.as_deref())?;
    c.epcs(&mut out, "epcList", &event.epc_list)?;
    c.epcs(&mut out, "inputEPCList", &event.input_epc_list)?;
    c.epcs(&mut out, "childEPCs", &event.child_epcs)?;
    c.quantities(&mut out, "quantityList", &event.quantity_list)?;
    c.quantities(&mut out, "childQuantityList", &event.child_quantity_list)?;
    c.quantities(&mut out, "inputQuantityList", &event.input_quantity_list)?;
    c.epcs(&mut out, "outputEPCList", &event.output_epc_list)?;
    c.quantities(&mut out, "outputQuantityList", &event.output_quantity_list)?;
    c.field(&mut out, "action", event.action.map(|a| a.as_str()))?;
    c.field(
        &mut out,
        "transformationID",
        event.transformation_id.as_deref(),
    )?;
    c.field(&mut out, "bizStep", event.biz_step.as_deref())?;
    c.field(&mut out, "disposition", event.disposition.as_deref())?;
    c.location(&mut out, "readPoint", event.read_point.as_ref())?;
    c.location(&mut out, "bizLocation", event.biz_location.as_ref())?;
    c.sensors(&mut out, &event.sensor_element_list)?;

    // Not consumed by the fixed order: appended generically, each list's entries sorted with
    // `type` first, and the lists sorted among themselves.
    let mut rest = Vec::new();
    let pairs = |list: &str,
                 entries: &mut dyn Iterator<Item = (&str, &str, &str)>|
     -> Result<Option<String>> {
        let mut items = Vec::new();
        for (kind, name, value) in entries {
            let mut s = String::new();
            c.generic(&mut s, "type", kind)?;
            c.generic(&mut s, name, value)?;
            items.push(s);
        }
        if items.is_empty() {
            return Ok(None);
        }
        items.sort();
        Ok(Some(format!("{list}{}", items.concat())))
    };
    rest.extend(pairs(
        "bizTransactionList",
        &mut event
            .biz_transaction_list
            .iter()
            .map(|b| (b.kind.as_str(), "bizTransaction", b.id.as_str())),
    )?);
    rest.extend(pairs(
        "sourceList",
        &mut event
            .source_list
            .iter()
            .map(|x| (x.kind.as_str(), "source", x.source.as_str())),
    )?);
    rest.extend(pairs(
        "destinationList",
        &mut event
            .destination_list
            .iter()
            .map(|x| (x.kind.as_str(), "destination", x.destination.as_str())),
    )?);
    rest.sort();
    out.push_str(&rest.concat());
    Ok(out)
}

/// Value canonicalisation with the event's expanded vocabulary (for the reference's heuristic
/// that replaces a bare string by the one expanded vocabulary URI ending in `-it` or `/it`).
struct Canon {
    expanded: BTreeSet<String>,
}

fn expand(prefix: &str, word: &str) -> String {
    if word.contains(':') {
        word.to_owned()
    } else {
        format!("{prefix}{word}")
    }
}

fn is_vocab(s: &str) -> bool {
    s.starts_with(CBV) || s.starts_with("https://gs1.org/voc")
}

impl Canon {
    fn new(e: &Event) -> Self {
        let mut expanded = BTreeSet::new();
        if let Some(s) = &e.biz_step {
            expanded.insert(expand(&format!("{CBV}BizStep-"), s));
        }
        if let Some(s) = &e.disposition {
            expanded.insert(expand(&format!("{CBV}Disp-"), s));
        }
        for b in &e.biz_transaction_list {
            expanded.insert(expand(&format!("{CBV}BTT-"), &b.kind));
        }
        for k in e
            .source_list
            .iter()
            .map(|x| &x.kind)
            .chain(e.destination_list.iter().map(|x| &x.kind))
        {
            expanded.insert(expand(&format!("{CBV}SDT-"), k));
        }
        for el in &e.sensor_element_list {
            for r in &el.sensor_report {
                expanded.insert(expand(VOC, &r.kind));
            }
        }
        // Any other string value that already is a vocabulary URI is in the expanded document too.
        let mut others: Vec<&str> = Vec::new();
        others.extend(e.parent_id.as_deref());
        others.extend(e.transformation_id.as_deref());
        for l in [
            &e.epc_list,
            &e.child_epcs,
            &e.input_epc_list,
            &e.output_epc_list,
        ] {
            others.extend(l.iter().map(String::as_str));
        }
        for q in e
            .quantity_list
            .iter()
            .chain(&e.child_quantity_list)
            .chain(&e.input_quantity_list)
            .chain(&e.output_quantity_list)
        {
            others.push(&q.epc_class);
            others.extend(q.uom.as_deref());
        }
        others.extend(e.read_point.as_ref().map(|l| l.id.as_str()));
        others.extend(e.biz_location.as_ref().map(|l| l.id.as_str()));
        others.extend(e.biz_transaction_list.iter().map(|b| b.id.as_str()));
        others.extend(e.source_list.iter().map(|x| x.source.as_str()));
        others.extend(e.destination_list.iter().map(|x| x.destination.as_str()));
        for el in &e.sensor_element_list {
            if let Some(m) = &el.sensor_metadata {
                others.extend(
                    [
                        &m.device_id,
                        &m.device_metadata,
                        &m.raw_data,
                        &m.data_processing_method,
                        &m.biz_rules,
                    ]
                    .into_iter()
                    .filter_map(|o| o.as_deref()),
                );
            }
            for r in &el.sensor_report {
                others.extend(report_strings(r).into_iter().filter_map(|(_, v)| v));
            }
        }
        expanded.extend(
            others
                .into_iter()
                .filter(|s| is_vocab(s))
                .map(str::to_owned),
        );
        Canon { expanded }
    }

    /// The reference's bare-string replacement, then trimming, then value canonicalisation.
    fn value(&self, raw: &str) -> Result<String> {
        let mut matches = self.expanded.iter().filter(|x| {
            x.len() > raw.len() && x.ends_with(raw) && {
                let before = x.as_bytes()[x.len() - raw.len() - 1];
                before == b'-' || before == b'/'
            }
        });
        let replaced = match (matches.next(), matches.next()) {
            (Some(one), None) => one.as_str(),
            _ => raw,
        };
        canonize(replaced.trim())
    }

    /// `name=value` (nothing when the value is absent or blank).
    fn field(&self, out: &mut String, name: &str, v: Option<&str>) -> Result<()> {
        if let Some(v) = v {
            let c = self.value(v)?;
            if !c.is_empty() {
                out.push_str(name);
                out.push('=');
                out.push_str(&c);
            }
        }
        Ok(())
    }

    /// As [`Canon::field`], but a generic element's name is written even when its value is blank.
    fn generic(&self, out: &mut String, name: &str, v: &str) -> Result<()> {
        out.push_str(name);
        let c = self.value(v)?;
        if !c.is_empty() {
            out.push('=');
            out.push_str(&c);
        }
        Ok(())
    }

    fn epcs(&self, out: &mut String, list: &str, epcs: &[String]) -> Result<()> {
        let mut items = Vec::with_capacity(epcs.len());
        for e in epcs {
            let mut s = String::new();
            self.field(&mut s, "epc", Some(e))?;
            if !s.is_empty() {
                items.push(s);
            }
        }
        push_group(out, list, items);
        Ok(())
    }

    fn quantities(&self, out: &mut String, list: &str, qs: &[QuantityElement]) -> Result<()> {
        let mut items = Vec::with_capacity(qs.len());
        for q in qs {
            let mut s = String::new();
            self.field(&mut s, "epcClass", Some(&q.epc_class))?;
            if let Some(n) = q.quantity {
                s.push_str("quantity=");
                s.push_str(&number(n)?);
            }
            self.field(&mut s, "uom", q.uom.as_deref())?;
            if !s.is_empty() {
                items.push(format!("quantityElement{s}"));
            }
        }
        push_group(out, list, items);
        Ok(())
    }

    fn location(&self, out: &mut String, name: &str, l: Option<&Location>) -> Result<()> {
        if let Some(l) = l {
            let mut s = String::new();
            self.field(&mut s, "id", Some(&l.id))?;
            if !s.is_empty() {
                out.push_str(name);
                out.push_str(&s);
            }
        }
        Ok(())
    }

    fn sensors(&self, out: &mut String, elements: &[SensorElement]) -> Result<()> {
        let mut items = Vec::with_capacity(elements.len());
        for el in elements {
            let mut s = String::new();
            if let Some(m) = &el.sensor_metadata {
                let mut md = String::new();
                time(&mut md, "time", m.time.as_ref());
                time(&mut md, "startTime", m.start_time.as_ref());
                time(&mut md, "endTime", m.end_time.as_ref());
                self.field(&mut md, "deviceID", m.device_id.as_deref())?;
                self.field(&mut md, "deviceMetadata", m.device_metadata.as_deref())?;
                self.field(&mut md, "rawData", m.raw_data.as_deref())?;
                self.field(
                    &mut md,
                    "dataProcessingMethod",
                    m.data_processing_method.as_deref(),
                )?;
                self.field(&mut md, "bizRules", m.biz_rules.as_deref())?;
                if !md.is_empty() {
                    s.push_str("sensorMetadata");
                    s.push_str(&md);
                }
            }
            let mut reports = Vec::with_capacity(el.sensor_report.len());
            for r in &el.sensor_report {
                let rs = self.report(r)?;
                if !rs.is_empty() {
                    reports.push(format!("sensorReport{rs}"));
                }
            }
            reports.sort();
            s.push_str(&reports.concat());
            if !s.is_empty() {
                items.push(format!("sensorElement{s}"));
            }
        }
        push_group(out, "sensorElementList", items);
        Ok(())
    }

    fn report(&self, r: &SensorReport) -> Result<String> {
        let mut s = String::new();
        let num = |s: &mut String, name: &str, v: Option<f64>| -> Result<()> {
            if let Some(v) = v {
                s.push_str(name);
                s.push('=');
                s.push_str(&number(v)?);
            }
            Ok(())
        };
        // The order of the CBV 2.0 standard for sensorReport.
        self.field(&mut s, "type", Some(&r.kind))?;
        self.field(&mut s, "deviceID", r.device_id.as_deref())?;
        self.field(&mut s, "deviceMetadata", r.device_metadata.as_deref())?;
        self.field(&mut s, "rawData", r.raw_data.as_deref())?;
        self.field(
            &mut s,
            "dataProcessingMethod",
            r.data_processing_method.as_deref(),
        )?;
        time(&mut s, "time", r.time.as_ref());
        self.field(&mut s, "microorganism", r.microorganism.as_deref())?;
        self.field(&mut s, "chemicalSubstance", r.chemical_substance.as_deref())?;
        num(&mut s, "value", r.value)?;
        self.field(&mut s, "stringValue", r.string_value.as_deref())?;
        if let Some(b) = r.boolean_value {
            // The reference writes Python's str(bool).
            s.push_str(if b {
                "booleanValue=True"
            } else {
                "booleanValue=False"
            });
        }
        self.field(&mut s, "hexBinaryValue", r.hex_binary_value.as_deref())?;
        self.field(&mut s, "uriValue", r.uri_value.as_deref())?;
        num(&mut s, "minValue", r.min_value)?;
        num(&mut s, "maxValue", r.max_value)?;
        num(&mut s, "meanValue", r.mean_value)?;
        num(&mut s, "sDev", r.s_dev)?;
        num(&mut s, "percRank", r.perc_rank)?;
        num(&mut s, "percValue", r.perc_value)?;
        self.field(&mut s, "uom", r.uom.as_deref())?;
        self.field(
            &mut s,
            "coordinateReferenceSystem",
            r.coordinate_reference_system.as_deref(),
        )?;
        Ok(s)
    }
}

fn report_strings(r: &SensorReport) -> [(&'static str, Option<&str>); 10] {
    [
        ("deviceID", r.device_id.as_deref()),
        ("deviceMetadata", r.device_metadata.as_deref()),
        ("rawData", r.raw_data.as_deref()),
        ("dataProcessingMethod", r.data_processing_method.as_deref()),
        ("microorganism", r.microorganism.as_deref()),
        ("chemicalSubstance", r.chemical_substance.as_deref()),
        ("stringValue", r.string_value.as_deref()),
        ("hexBinaryValue", r.hex_binary_value.as_deref()),
        ("uriValue", r.uri_value.as_deref()),
        (
            "coordinateReferenceSystem",
            r.coordinate_reference_system.as_deref(),
        ),
    ]
}

fn time(out: &mut String, name: &str, t: Option<&Timestamp>) {
    if let Some(t) = t {
        out.push_str(name);
        out.push('=');
        out.push_str(&t.utc_millis_string());
    }
}

/// `list` followed by its entries sorted, when any entry is non-empty.
fn push_group(out: &mut String, list: &str, mut items: Vec<String>) {
    if items.is_empty() {
        return;
    }
    items.sort();
    out.push_str(list);
    out.push_str(&items.concat());
}

/// The reference's value canonicalisation: old CBV URNs to web vocabulary, numeric strings to
/// their shortest form, then GS1 key URIs to Digital Link (refused here for EPC URNs).
fn canonize(text: &str) -> Result<String> {
    let t = text
        .replace(
            "urn:epcglobal:cbv:bizstep:",
            "https://ref.gs1.org/cbv/BizStep-",
        )
        .replace("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
        .replace("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-")
        .replace("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-")
        .replace("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-");
    let t = match t.parse::<f64>() {
        Ok(x) if x.is_nan() => t,
        Ok(x) => number(x)?,
        Err(_) => t,
    };
    if t.starts_with("urn:epc:") {
        return Err(Error::Unsupported(format!(
            "EPC URN {t:?}: write the identifier as a GS1 Digital Link URI (https://id.gs1.org/...)"
        )));
    }
    Ok(t)
}

/// A number as the reference writes it: integral values as integers, others as Python's
/// `repr(float)` (shortest round-trip digits, exponent form below 1e-4).
pub(crate) fn number(x: f64) -> Result<String> {
    if !x.is_finite() {
        return Err(Error::Unsupported(format!("number {x} is not finite")));
    }
    if x == 0.0 {
        return Ok("0".into());
    }
    if x.fract() == 0.0 {
        return Ok(format!("{x:.0}"));
    }
    let exp = format!("{x:e}");
    let (mantissa, e) = exp.split_once('e').unwrap_or((&exp, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    if e < -4 {
        let sign = if e < 0 { '-' } else { '+' };
        Ok(format!("{mantissa}e{sign}{:02}", e.unsigned_abs()))
    } else {
        Ok(format!("{x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_python_writes_them() {
        let cases = [
            (22.5, "22.5"),
            (21.0, "21"),
            (-0.0, "0"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (1e22, "10000000000000000000000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-3.25, "-3.25"),
        ];
        for (x, want) in cases {
            assert_eq!(number(x).expect("finite"), want, "{x}");
        }
        assert!(number(f64::INFINITY).is_err());
    }

    #[test]
    fn numeric_strings_and_old_cbv_urns_are_canonicalised() {
        assert_eq!(canonize("007").expect("ok"), "7");
        assert_eq!(canonize("2.50").expect("ok"), "2.5");
        assert_eq!(
            canonize("urn:epcglobal:cbv:bizstep:assembling").expect("ok"),
            "https://ref.gs1.org/cbv/BizStep-assembling"
        );
        assert_eq!(canonize("nan").expect("ok"), "nan");
        assert!(matches!(
            canonize("urn:epc:id:sgtin:4012345.011111.9876"),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn event_id_sha256_extracts_only_well_formed_ids() {
        let hex = "a".repeat(64);
        assert_eq!(
            event_id_sha256(&format!("ni:///sha-256;{hex}?ver=CBV2.0")),
            Some(hex.as_str())
        );
        assert_eq!(event_id_sha256("ni:///sha-256;abc?ver=CBV2.0"), None);
        assert_eq!(event_id_sha256("urn:uuid:1"), None);
    }
}
