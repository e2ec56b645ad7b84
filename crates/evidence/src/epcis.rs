//! GS1 EPCIS 2.0 events in their JSON-LD form, with sensor readings.
//!
//! One [`Event`] struct carries the four event types this crate supports (ObjectEvent,
//! AggregationEvent, TransformationEvent, AssociationEvent); [`Event::validate`] enforces which
//! fields each type may carry. Serialization follows the GS1 JSON form field by field (camelCase
//! names, bare CBV words such as `"assembling"`, `type` before `bizTransaction`), and reading
//! refuses unknown members: an extension this crate does not model would change the CBV 2.0
//! event hash, so it is rejected rather than silently mis-hashed.
//!
//! Identifiers (EPCs, locations, classes) must be GS1 Digital Link URIs (`https://id.gs1.org/...`)
//! or other URIs; EPC URNs (`urn:epc:id:...`) are refused by the hash (the reference converts
//! them to Digital Link first).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};

use crate::{Error, Result};

/// The EPCIS 2.0 JSON-LD context URL written in `@context`.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// Largest event JSON [`Event::from_json`] accepts (a log entry is at most 64 KiB).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// CBV 2.0 business steps (bare words allowed in `bizStep`).
pub const BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
    "sensor_reporting",
    "sampling",
];

/// CBV 2.0 dispositions (bare words allowed in `disposition`).
pub const DISPOSITIONS: &[&str] = &[
    "active",
    "container_closed",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "no_pedigree_match",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unknown",
    "available",
    "completeness_verified",
    "completeness_inferred",
    "conformant",
    "container_open",
    "mismatch_instance",
    "mismatch_class",
    "mismatch_quantity",
    "needs_replacement",
    "non_conformant",
    "unavailable",
];

/// CBV 2.0 business transaction types (bare words allowed in a `bizTransaction`'s `type`).
pub const BIZ_TRANSACTION_TYPES: &[&str] = &[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
];

/// The event types this crate models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// Something observed about objects (e.g. a bolt tightened, readings taken).
    ObjectEvent,
    /// Children packed into (ADD) or out of (DELETE) a parent.
    AggregationEvent,
    /// Inputs consumed to make outputs (e.g. steel to a part).
    TransformationEvent,
    /// Components associated with an assembly (e.g. a sensor fitted to a body).
    AssociationEvent,
}

impl EventType {
    /// The GS1 name (`"ObjectEvent"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ObjectEvent => "ObjectEvent",
            EventType::AggregationEvent => "AggregationEvent",
            EventType::TransformationEvent => "TransformationEvent",
            EventType::AssociationEvent => "AssociationEvent",
        }
    }
}

/// The `action` of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    /// The objects were observed, neither created nor destroyed.
    Observe,
    /// The objects (or association) came into being.
    Add,
    /// The objects (or association) ended.
    Delete,
}

impl Action {
    /// The GS1 name (`"OBSERVE"`, `"ADD"`, `"DELETE"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Observe => "OBSERVE",
            Action::Add => "ADD",
            Action::Delete => "DELETE",
        }
    }
}

/// An instant with its UTC offset, kept at millisecond precision (what the CBV 2.0 hash keeps).
///
/// Written as RFC 3339 with three fraction digits: `2026-03-01T10:15:00.123+01:00` (`Z` for
/// UTC). Reading rounds sub-millisecond digits half to even, as the reference hash does.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The instant `unix_millis` milliseconds after the epoch, written with a UTC offset of
    /// `offset_minutes` (e.g. 60 for `+01:00`).
    pub fn from_unix_millis(unix_millis: i64, offset_minutes: i16) -> Result<Self> {
        let bad = |e: &dyn fmt::Display| Error::InvalidEvent(format!("timestamp: {e}"));
        let offset =
            UtcOffset::from_whole_seconds(i32::from(offset_minutes) * 60).map_err(|e| bad(&e))?;
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_millis) * 1_000_000)
            .map_err(|e| bad(&e))?;
        Ok(Timestamp(t.to_offset(offset)))
    }

    /// Reads an RFC 3339 timestamp with an explicit offset (`Z` or `±HH:MM`).
    pub fn parse(s: &str) -> Result<Self> {
        let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(
            |e| Error::InvalidEvent(format!("timestamp {s:?} is not RFC 3339 with offset: {e}")),
        )?;
        // dateutil keeps microseconds; the hash rounds them half to even to milliseconds.
        let micros = i64::from(t.microsecond());
        let (ms, rem) = (micros / 1000, micros % 1000);
        let ms = if rem > 500 || (rem == 500 && ms % 2 == 1) {
            ms + 1
        } else {
            ms
        };
        let base = t
            .replace_nanosecond(0)
            .map_err(|e| Error::InvalidEvent(format!("timestamp {s:?}: {e}")))?;
        base.checked_add(time::Duration::milliseconds(ms))
            .map(Timestamp)
            .ok_or_else(|| Error::InvalidEvent(format!("timestamp {s:?} is out of range")))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        // Years are within ±9999, so milliseconds fit an i64.
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// The UTC offset as EPCIS writes `eventTimeZoneOffset`: `+01:00`, `-05:30`, `+00:00`.
    pub fn offset_string(&self) -> String {
        let secs = self.0.offset().whole_seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let m = secs.unsigned_abs() / 60;
        format!("{sign}{:02}:{:02}", m / 60, m % 60)
    }

    /// The instant in UTC at millisecond precision, as the CBV 2.0 hash writes it:
    /// `2026-03-01T09:15:00.123Z`.
    pub fn utc_millis_string(&self) -> String {
        format_ms(self.0.to_offset(UtcOffset::UTC), "Z")
    }
}

fn format_ms(t: OffsetDateTime, suffix: &str) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{suffix}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = if self.0.offset().is_utc() {
            "Z".to_owned()
        } else {
            self.offset_string()
        };
        f.write_str(&format_ms(self.0, &suffix))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A quantity of a class of objects (`quantityList` and friends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuantityElement {
    /// The class, e.g. a GTIN plus lot as Digital Link `https://id.gs1.org/01/<gtin>/10/<lot>`.
    pub epc_class: String,
    /// How many (absent: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    /// UN/ECE Rec. 20 unit code (`KGM`, `MTR`); absent for a count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}

/// A place (`readPoint`, `bizLocation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// The place's URI, e.g. a GLN as `https://id.gs1.org/414/<gln>/254/<ext>`.
    pub id: String,
}

/// A business transaction the event belongs to (e.g. the purchase order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BizTransaction {
    /// CBV type (`po`, `prodorder`, ...) or a URI. Required here: the reference hash needs it.
    #[serde(rename = "type")]
    pub kind: String,
    /// The transaction's URI, e.g. `urn:shinrai:po:4711`.
    #[serde(rename = "bizTransaction")]
    pub id: String,
}

/// CBV 2.0 source/destination types (bare words allowed in `type`).
pub const SOURCE_DEST_TYPES: &[&str] = &["owning_party", "possessing_party", "location"];

/// Where goods came from (`sourceList` entry): e.g. the owning party before a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// CBV type (`owning_party`, `possessing_party`, `location`) or a URI. Required here.
    #[serde(rename = "type")]
    pub kind: String,
    /// The party or place, e.g. a GLN as `https://id.gs1.org/417/<gln>`.
    pub source: String,
}

/// Where goods went (`destinationList` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// CBV type (`owning_party`, `possessing_party`, `location`) or a URI. Required here.
    #[serde(rename = "type")]
    pub kind: String,
    /// The party or place.
    pub destination: String,
}

/// Who measured, when and how (`sensorMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SensorMetadata {
    /// When the readings were taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// Start of the measured interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// End of the measured interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// The measuring device's URI.
    #[serde(default, rename = "deviceID", skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Where the device's metadata is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_metadata: Option<String>,
    /// Where the raw data is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<String>,
    /// How the data was processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_processing_method: Option<String>,
    /// Business rules that applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_rules: Option<String>,
}

/// Common GS1 measurement types and the unit this crate writes for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MeasurementType {
    /// Torque, in newton metres (`NU`).
    Torque,
    /// Temperature, in degrees Celsius (`CEL`).
    Temperature,
    /// Volume fraction, e.g. CO2 in parts per million (`59`).
    VolumeFraction,
    /// Pressure, in pascal (`PAL`).
    Pressure,
    /// Relative humidity, in percent (`P1`).
    RelativeHumidity,
    /// Force, in newtons (`NEW`).
    Force,
    /// Length, in millimetres (`MMT`).
    Length,
    /// Mass, in kilograms (`KGM`).
    Mass,
}

impl MeasurementType {
    /// The GS1 name written in `sensorReport.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasurementType::Torque => "Torque",
            MeasurementType::Temperature => "Temperature",
            MeasurementType::VolumeFraction => "VolumeFraction",
            MeasurementType::Pressure => "Pressure",
            MeasurementType::RelativeHumidity => "RelativeHumidity",
            MeasurementType::Force => "Force",
            MeasurementType::Length => "Length",
            MeasurementType::Mass => "Mass",
        }
    }

    /// The UN/ECE Rec. 20 unit code this crate writes for the type.
    pub fn default_uom(self) -> &'static str {
        match self {
            MeasurementType::Torque => "NU",
            MeasurementType::Temperature => "CEL",
            MeasurementType::VolumeFraction => "59",
            MeasurementType::Pressure => "PAL",
            MeasurementType::RelativeHumidity => "P1",
            MeasurementType::Force => "NEW",
            MeasurementType::Length => "MMT",
            MeasurementType::Mass => "KGM",
        }
    }
}

/// One reading (`sensorReport`), in the GS1 JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SensorReport {
    /// The measurement type: a GS1 name (`Torque`) or a URI.
    #[serde(rename = "type")]
    pub kind: String,
    /// The measuring device, when it differs from the metadata's.
    #[serde(default, rename = "deviceID", skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Where the device's metadata is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_metadata: Option<String>,
    /// Where the raw data is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<String>,
    /// How the data was processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_processing_method: Option<String>,
    /// When this reading was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// The microorganism measured (URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microorganism: Option<String>,
    /// The chemical substance measured (URI), e.g. CO2 by InChIKey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chemical_substance: Option<String>,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// A text value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// A boolean value (e.g. an inspection gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boolean_value: Option<bool>,
    /// A binary value in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex_binary_value: Option<String>,
    /// A URI value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_value: Option<String>,
    /// Minimum over the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    /// Maximum over the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// Mean over the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_value: Option<f64>,
    /// Standard deviation over the interval.
    #[serde(default, rename = "sDev", skip_serializing_if = "Option::is_none")]
    pub s_dev: Option<f64>,
    /// Percentile rank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perc_rank: Option<f64>,
    /// Value at that percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perc_value: Option<f64>,
    /// UN/ECE Rec. 20 unit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
    /// Coordinate reference system (URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinate_reference_system: Option<String>,
}

impl SensorReport {
    /// A report of type `kind` with nothing else set.
    pub fn new(kind: &str) -> Self {
        SensorReport {
            kind: kind.to_owned(),
            device_id: None,
            device_metadata: None,
            raw_data: None,
            data_processing_method: None,
            time: None,
            microorganism: None,
            chemical_substance: None,
            value: None,
            string_value: None,
            boolean_value: None,
            hex_binary_value: None,
            uri_value: None,
            min_value: None,
            max_value: None,
            mean_value: None,
            s_dev: None,
            perc_rank: None,
            perc_value: None,
            uom: None,
            coordinate_reference_system: None,
        }
    }

    /// A reading `value` of `kind` in the type's default unit.
    pub fn measurement(kind: MeasurementType, value: f64) -> Self {
        let mut r = SensorReport::new(kind.as_str());
        r.value = Some(value);
        r.uom = Some(kind.default_uom().to_owned());
        r
    }

    /// A torque reading in newton metres.
    pub fn torque_nm(value: f64) -> Self {
        Self::measurement(MeasurementType::Torque, value)
    }

    /// A temperature reading in degrees Celsius.
    pub fn temperature_celsius(value: f64) -> Self {
        Self::measurement(MeasurementType::Temperature, value)
    }

    /// A CO2 volume fraction in parts per million.
    pub fn co2_ppm(value: f64) -> Self {
        let mut r = Self::measurement(MeasurementType::VolumeFraction, value);
        r.chemical_substance =
            Some("https://identifiers.org/inchikey:CURLTUGMZLYLDI-UHFFFAOYSA-N".to_owned());
        r
    }

    fn numbers(&self) -> [(&'static str, Option<f64>); 8] {
        [
            ("value", self.value),
            ("minValue", self.min_value),
            ("maxValue", self.max_value),
            ("meanValue", self.mean_value),
            ("sDev", self.s_dev),
            ("percRank", self.perc_rank),
            ("percValue", self.perc_value),
            ("", None),
        ]
    }
}

/// Readings from one device or one interval (`sensorElement`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SensorElement {
    /// Who measured, when and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_metadata: Option<SensorMetadata>,
    /// The readings (at least one).
    pub sensor_report: Vec<SensorReport>,
}

impl SensorElement {
    /// Readings `reports` taken by `device_id` at `time`.
    pub fn new(device_id: &str, time: Timestamp, reports: Vec<SensorReport>) -> Self {
        SensorElement {
            sensor_metadata: Some(SensorMetadata {
                time: Some(time),
                device_id: Some(device_id.to_owned()),
                ..SensorMetadata::default()
            }),
            sensor_report: reports,
        }
    }
}

/// An EPCIS 2.0 event (ObjectEvent, AggregationEvent, TransformationEvent or AssociationEvent).
///
/// Build with [`Event::new`] and set the public fields, then [`Event::assign_id`] to fill
/// `eventID` with the CBV 2.0 hash. Fields a type does not allow must stay empty
/// ([`Event::validate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Event {
    /// JSON-LD context: required on a standalone event, absent inside an EPCIS document.
    #[serde(default, rename = "@context", skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The event id, `ni:///sha-256;<hex>?ver=CBV2.0` (see [`crate::hash`]).
    #[serde(default, rename = "eventID", skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// When the event happened.
    pub event_time: Timestamp,
    /// The local UTC offset at the event, `±HH:MM`.
    pub event_time_zone_offset: String,
    /// The parent (container, assembly): Aggregation and Association events.
    #[serde(default, rename = "parentID", skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The objects: ObjectEvent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epc_list: Vec<String>,
    /// The children: Aggregation and Association events.
    #[serde(default, rename = "childEPCs", skip_serializing_if = "Vec::is_empty")]
    pub child_epcs: Vec<String>,
    /// Objects consumed: TransformationEvent.
    #[serde(
        default,
        rename = "inputEPCList",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub input_epc_list: Vec<String>,
    /// Quantities consumed: TransformationEvent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_quantity_list: Vec<QuantityElement>,
    /// Objects made: TransformationEvent.
    #[serde(
        default,
        rename = "outputEPCList",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub output_epc_list: Vec<String>,
    /// Quantities made: TransformationEvent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_quantity_list: Vec<QuantityElement>,
    /// Quantities: ObjectEvent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantity_list: Vec<QuantityElement>,
    /// Child quantities: Aggregation and Association events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_quantity_list: Vec<QuantityElement>,
    /// Required for Object, Aggregation and Association events; absent for Transformation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Links transformations that belong together: TransformationEvent.
    #[serde(
        default,
        rename = "transformationID",
        skip_serializing_if = "Option::is_none"
    )]
    pub transformation_id: Option<String>,
    /// CBV business step (bare word such as `assembling`) or a URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_step: Option<String>,
    /// CBV disposition (bare word such as `conformant`) or a URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// Where the event was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_point: Option<Location>,
    /// Where the objects are afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_location: Option<Location>,
    /// Business transactions (purchase order, production order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biz_transaction_list: Vec<BizTransaction>,
    /// Where the goods came from (transfers between organisations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_list: Vec<Source>,
    /// Where the goods went.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_list: Vec<Destination>,
    /// Sensor readings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensor_element_list: Vec<SensorElement>,
}

impl Event {
    /// An event of `event_type` at `event_time` (its offset becomes `eventTimeZoneOffset`), with
    /// the JSON-LD context set and every other field empty. Object, Aggregation and
    /// Association events get `action` `OBSERVE`, `ADD` and `ADD`.
    pub fn new(event_type: EventType, event_time: Timestamp) -> Self {
        let action = match event_type {
            EventType::ObjectEvent => Some(Action::Observe),
            EventType::AggregationEvent | EventType::AssociationEvent => Some(Action::Add),
            EventType::TransformationEvent => None,
        };
        Event {
            context: Some(Value::Array(vec![Value::String(EPCIS_CONTEXT.to_owned())])),
            event_type,
            event_id: None,
            event_time,
            event_time_zone_offset: event_time.offset_string(),
            parent_id: None,
            epc_list: Vec::new(),
            child_epcs: Vec::new(),
            input_epc_list: Vec::new(),
            input_quantity_list: Vec::new(),
            output_epc_list: Vec::new(),
            output_quantity_list: Vec::new(),
            quantity_list: Vec::new(),
            child_quantity_list: Vec::new(),
            action,
            transformation_id: None,
            biz_step: None,
            disposition: None,
            read_point: None,
            biz_location: None,
            biz_transaction_list: Vec::new(),
            source_list: Vec::new(),
            destination_list: Vec::new(),
            sensor_element_list: Vec::new(),
        }
    }

    /// Reads and validates one standalone event (at most [`MAX_EVENT_BYTES`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "EPCIS event";
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(Error::Malformed {
                what: WHAT,
                reason: format!("{} bytes, more than {MAX_EVENT_BYTES}", bytes.len()),
            });
        }
        let e: Event = serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
            what: WHAT,
            reason: e.to_string(),
        })?;
        e.validate()?;
        Ok(e)
    }

    /// The event as compact JSON in the GS1 form.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Strings, finite numbers and derived structs always serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Computes the CBV 2.0 event hash and stores it in `event_id`; returns it.
    pub fn assign_id(&mut self) -> Result<String> {
        self.validate()?;
        let id = crate::hash::event_hash(self)?;
        self.event_id = Some(id.clone());
        Ok(id)
    }

    /// All sensor reports of the event, with the element's metadata.
    pub fn readings(&self) -> impl Iterator<Item = (Option<&SensorMetadata>, &SensorReport)> {
        self.sensor_element_list.iter().flat_map(|e| {
            e.sensor_report
                .iter()
                .map(move |r| (e.sensor_metadata.as_ref(), r))
        })
    }

    /// The purchase order number: the id of the first `po` business transaction.
    pub fn purchase_order(&self) -> Option<&str> {
        self.biz_transaction_list
            .iter()
            .find(|t| t.kind == "po" || t.kind.ends_with("BTT-po"))
            .map(|t| t.id.as_str())
    }

    /// Checks the EPCIS 2.0 rules this crate enforces: which fields the type allows, `action`
    /// presence, the offset pattern, unit codes, CBV words, finite numbers, non-empty lists.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidEvent(m));
        let t = self.event_type.as_str();
        let forbid = |name: &str, present: bool| -> Result<()> {
            if present {
                Err(Error::InvalidEvent(format!("{t} must not carry {name}")))
            } else {
                Ok(())
            }
        };
        let has_transformation = !self.input_epc_list.is_empty()
            || !self.input_quantity_list.is_empty()
            || !self.output_epc_list.is_empty()
            || !self.output_quantity_list.is_empty()
            || self.transformation_id.is_some();
        match self.event_type {
            EventType::ObjectEvent => {
                forbid("parentID", self.parent_id.is_some())?;
                forbid(
                    "childEPCs/childQuantityList",
                    !self.child_epcs.is_empty() || !self.child_quantity_list.is_empty(),
                )?;
                forbid("transformation fields", has_transformation)?;
            }
            EventType::AggregationEvent | EventType::AssociationEvent => {
                forbid(
                    "epcList/quantityList",
                    !self.epc_list.is_empty() || !self.quantity_list.is_empty(),
                )?;
                forbid("transformation fields", has_transformation)?;
                if self.event_type == EventType::AssociationEvent && self.parent_id.is_none() {
                    return bad("AssociationEvent needs parentID".into());
                }
            }
            EventType::TransformationEvent => {
                forbid("parentID", self.parent_id.is_some())?;
                forbid("action", self.action.is_some())?;
                forbid(
                    "epcList/quantityList/childEPCs/childQuantityList",
                    !self.epc_list.is_empty()
                        || !self.quantity_list.is_empty()
                        || !self.child_epcs.is_empty()
                        || !self.child_quantity_list.is_empty(),
                )?;
            }
        }
        if self.event_type != EventType::TransformationEvent && self.action.is_none() {
            return bad(format!("{t} needs action"));
        }
        if !valid_offset(&self.event_time_zone_offset) {
            return bad(format!(
                "eventTimeZoneOffset {:?} is not ±HH:MM between -13:59 and +14:00",
                self.event_time_zone_offset
            ));
        }
        if let Some(s) = &self.biz_step {
            check_vocab("bizStep", s, BIZ_STEPS)?;
        }
        if let Some(s) = &self.disposition {
            check_vocab("disposition", s, DISPOSITIONS)?;
        }
        for b in &self.biz_transaction_list {
            check_vocab("bizTransaction type", &b.kind, BIZ_TRANSACTION_TYPES)?;
            if !b.id.contains(':') {
                return bad(format!("bizTransaction {:?} is not a URI", b.id));
            }
        }
        let ends = self.source_list.iter().map(|x| (&x.kind, &x.source)).chain(
            self.destination_list
                .iter()
                .map(|x| (&x.kind, &x.destination)),
        );
        for (kind, id) in ends {
            check_vocab("source/destination type", kind, SOURCE_DEST_TYPES)?;
            if !id.contains(':') {
                return bad(format!("source/destination {id:?} is not a URI"));
            }
        }
        let quantities = self
            .quantity_list
            .iter()
            .chain(&self.child_quantity_list)
            .chain(&self.input_quantity_list)
            .chain(&self.output_quantity_list);
        for q in quantities {
            check_number("quantity", q.quantity)?;
            if let Some(u) = &q.uom {
                check_uom(u)?;
            }
        }
        for e in &self.sensor_element_list {
            if e.sensor_report.is_empty() {
                return bad("a sensorElement needs at least one sensorReport".into());
            }
            for r in &e.sensor_report {
                if r.kind.is_empty()
                    || !(r.kind.contains(':') || r.kind.bytes().all(|b| b.is_ascii_alphabetic()))
                {
                    return bad(format!(
                        "sensorReport type {:?} is neither a GS1 name nor a URI",
                        r.kind
                    ));
                }
                for (name, v) in r.numbers() {
                    check_number(name, v)?;
                }
                if let Some(u) = &r.uom {
                    check_uom(u)?;
                }
            }
        }
        Ok(())
    }
}

fn valid_offset(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 6 || !(b[0] == b'+' || b[0] == b'-') || b[3] != b':' {
        return false;
    }
    let digits = |i: usize| b[i].is_ascii_digit();
    if !(digits(1) && digits(2) && digits(4) && digits(5)) {
        return false;
    }
    let h = (b[1] - b'0') * 10 + (b[2] - b'0');
    let m = (b[4] - b'0') * 10 + (b[5] - b'0');
    (h <= 13 && m <= 59) || (h == 14 && m == 0)
}

fn check_vocab(field: &str, value: &str, words: &[&str]) -> Result<()> {
    // The GS1 schema refuses the old URN and ns.gs1.org forms of CBV values.
    if value.starts_with("urn:epcglobal:cbv") || value.contains("://ns.gs1.org/cbv/") {
        return Err(Error::InvalidEvent(format!(
            "{field} {value:?} uses the pre-2.0 CBV form; write the bare CBV 2.0 word or its https://ref.gs1.org/cbv/ URI"
        )));
    }
    if value.contains(':') || words.contains(&value) {
        Ok(())
    } else {
        Err(Error::InvalidEvent(format!(
            "{field} {value:?} is neither a CBV 2.0 word nor a URI"
        )))
    }
}

fn check_uom(u: &str) -> Result<()> {
    let ok = (2..=3).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidEvent(format!(
            "uom {u:?} is not a UN/ECE Rec. 20 code (2-3 of A-Z, 0-9)"
        )))
    }
}

fn check_number(name: &str, v: Option<f64>) -> Result<()> {
    match v {
        Some(x) if !x.is_finite() => Err(Error::InvalidEvent(format!("{name} is not finite"))),
        _ => Ok(()),
    }
}

/// An EPCIS 2.0 document (`EPCISDocument`) holding `events`, as JSON bytes in the GS1 form.
/// Events are written without their own `@context` (the document carries it).
pub fn document_json(events: &[Event], creation_date: Timestamp) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "eventList")]
        event_list: Vec<Event>,
        #[serde(skip)]
        _p: std::marker::PhantomData<&'a ()>,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        #[serde(rename = "@context")]
        context: [&'a str; 1],
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(rename = "schemaVersion")]
        schema_version: &'a str,
        #[serde(rename = "creationDate")]
        creation_date: Timestamp,
        #[serde(rename = "epcisBody")]
        body: Body<'a>,
    }
    let event_list = events
        .iter()
        .map(|e| Event {
            context: None,
            ..e.clone()
        })
        .collect();
    let doc = Doc {
        context: [EPCIS_CONTEXT],
        kind: "EPCISDocument",
        schema_version: "2.0",
        creation_date,
        body: Body {
            event_list,
            _p: std::marker::PhantomData,
        },
    };
    // Derived structs of strings and finite numbers always serialize.
    serde_json::to_vec(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("timestamp")
    }

    #[test]
    fn timestamps_keep_offset_and_round_to_milliseconds_half_even() {
        assert_eq!(
            t("2026-03-01T10:15:00.1235+01:00").to_string(),
            "2026-03-01T10:15:00.124+01:00"
        );
        assert_eq!(
            t("2026-03-01T10:15:00.1225+01:00").to_string(),
            "2026-03-01T10:15:00.122+01:00"
        );
        assert_eq!(
            t("2026-03-01T10:15:00.1225+01:00").utc_millis_string(),
            "2026-03-01T09:15:00.122Z"
        );
        assert_eq!(
            t("2026-03-01T10:15:00Z").to_string(),
            "2026-03-01T10:15:00.000Z"
        );
        assert_eq!(t("2026-03-01T10:15:00-05:30").offset_string(), "-05:30");
        assert!(Timestamp::parse("2026-03-01T10:15:00").is_err());
        // Rounding past the last representable instant is an error, not a panic.
        assert!(Timestamp::parse("9999-12-31T23:59:59.9999Z").is_err());
    }

    #[test]
    fn event_roundtrips_through_json() {
        let mut e = Event::new(EventType::ObjectEvent, t("2026-03-01T10:15:00.500+01:00"));
        e.epc_list
            .push("https://id.gs1.org/01/04012345000009/21/1".into());
        e.sensor_element_list.push(SensorElement::new(
            "urn:shinrai:device:wrench-7",
            t("2026-03-01T10:15:00Z"),
            vec![SensorReport::torque_nm(22.5), SensorReport::co2_ppm(410.0)],
        ));
        e.assign_id().expect("id");
        let back = Event::from_json(&e.to_json_bytes()).expect("parse");
        assert_eq!(back, e);
    }

    #[test]
    fn rejects_fields_the_event_type_does_not_allow_and_unknown_members() {
        let mut e = Event::new(EventType::TransformationEvent, t("2026-03-01T10:15:00Z"));
        e.epc_list
            .push("https://id.gs1.org/01/04012345000009/21/1".into());
        assert!(matches!(e.validate(), Err(Error::InvalidEvent(_))));
        let mut o = Event::new(EventType::ObjectEvent, t("2026-03-01T10:15:00Z"));
        o.action = None;
        assert!(o.validate().is_err());
        let mut old = Event::new(EventType::ObjectEvent, t("2026-03-01T10:15:00Z"));
        old.biz_step = Some("urn:epcglobal:cbv:bizstep:assembling".into());
        assert!(matches!(old.validate(), Err(Error::InvalidEvent(_))));
        old.biz_step = Some("assembly".into());
        assert!(old.validate().is_err(), "not a CBV word");
        let json = br#"{"type":"ObjectEvent","eventTime":"2026-03-01T10:15:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","ext:x":1}"#;
        assert!(matches!(
            Event::from_json(json),
            Err(Error::Malformed { .. })
        ));
        let bad_uom = br#"{"type":"ObjectEvent","eventTime":"2026-03-01T10:15:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","sensorElementList":[{"sensorReport":[{"type":"Torque","value":1,"uom":"nm"}]}]}"#;
        assert!(matches!(
            Event::from_json(bad_uom),
            Err(Error::InvalidEvent(_))
        ));
    }
}
