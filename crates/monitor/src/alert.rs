//! Alerts in Suricata EVE style, one JSON object per line (DESIGN.md, "Alerts").
//!
//! ```json
//! {"timestamp":"2026-11-26T10:00:01.250000+0000","event_type":"anomaly","pcap_cnt":42,
//!  "src_ip":"10.77.0.2","src_port":40112,"dest_ip":"10.77.0.11","dest_port":502,"proto":"TCP",
//!  "anomaly":{"score":0.8,"causes":["not_standard_command"],"payload_offsets":[7],
//!             "detail":"...","violations":[{"offset":7,"name":"function code","expected":"{3}","seen":"0x2b"}]}}
//! ```
//! Fields beyond DESIGN.md (`ether`, `vlan`, `host`, `link`, `violations`) are additions a
//! Suricata EVE reader ignores.

use serde::{Deserialize, Serialize};

/// Kind of alert, also the name of the object holding its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// Traffic that differs from the learned model, the work plan or the standard commands.
    Anomaly,
    /// A change of the inventory: new or gone device, new link or service, address change.
    ConfigChange,
}

/// Estimated cause of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A MAC or IP address never seen before.
    NewDevice,
    /// A client-server link (or L2 channel, or service) never seen before.
    NewLink,
    /// A message that is none of the device's standard commands (unknown message type, or a
    /// command byte such as a function code or unit id outside the learned set).
    NotStandardCommand,
    /// A command that the work plan governs, sent outside its window or outside its ranges.
    NotInWorkPlan,
    /// A known message type with a value outside what was learned (address, set point, length).
    UnusualValue,
    /// Period, jitter or silence differs from what was learned.
    Timing,
    /// Packet or byte rate differs from what was learned.
    Volume,
    /// An IP address answered from another MAC, or a MAC took another IP (ARP spoofing, swap).
    AddressChange,
    /// A known device stopped sending for much longer than ever learned.
    DeviceGone,
}

impl Cause {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::NewDevice => "new_device",
            Cause::NewLink => "new_link",
            Cause::NotStandardCommand => "not_standard_command",
            Cause::NotInWorkPlan => "not_in_work_plan",
            Cause::UnusualValue => "unusual_value",
            Cause::Timing => "timing",
            Cause::Volume => "volume",
            Cause::AddressChange => "address_change",
            Cause::DeviceGone => "device_gone",
        }
    }
}

/// One payload byte that broke the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Byte offset in the L4 payload.
    pub offset: u32,
    /// Operator name of the offset from the dictionary (e.g. "function code"), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the model allows there (`0x03`, `{0x03,0x10}`, `0x00..=0x64`, ...).
    pub expected: String,
    /// What the packet carried.
    pub seen: String,
}

/// The object named after the event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertInfo {
    /// Anomaly score in [0, 1]; higher is more anomalous.
    pub score: f64,
    /// Estimated causes, most specific first.
    pub causes: Vec<Cause>,
    /// Byte offsets in the L4 payload that caused the alert (empty for inventory and timing).
    pub payload_offsets: Vec<u32>,
    /// Human-readable explanation.
    pub detail: String,
    /// The link the alert belongs to, as text (`10.0.0.1 -> 10.0.0.2 tcp/502`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link: String,
    /// Per-offset expected versus seen values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
}

/// Ethernet addresses of the frame that raised the alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ether {
    /// Source MAC, `aa:bb:cc:dd:ee:ff`.
    pub src_mac: String,
    /// Destination MAC.
    pub dest_mac: String,
    /// EtherType as `0x88b8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ether_type: Option<String>,
}

/// How many payload bytes an alert carries in `payload` (the modelled prefix).
pub const ALERT_PAYLOAD_BYTES: usize = 256;

/// One alert line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Capture time, `YYYY-MM-DDTHH:MM:SS.ffffff+0000`.
    pub timestamp: String,
    /// `anomaly` or `config_change`.
    pub event_type: EventType,
    /// 1-based frame number when reading a capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcap_cnt: Option<u64>,
    /// Source IP of the frame, if IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    /// Source port, if TCP/UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Destination IP, if IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_ip: Option<String>,
    /// Destination port, if TCP/UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    /// `TCP`, `UDP`, `ICMP`, `IP-<n>`, `ARP` or `ETH` (L2-only frames).
    pub proto: String,
    /// Ethernet addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ether: Option<Ether>,
    /// VLAN id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Sensor name (set by `shinrai monitor sensor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The L4 payload (its first [`ALERT_PAYLOAD_BYTES`] bytes), base64, as Suricata's EVE
    /// `payload`: present when the alert names payload offsets, so a reader can see the bytes
    /// that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Details when `event_type` is `anomaly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AlertInfo>,
    /// Details when `event_type` is `config_change`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_change: Option<AlertInfo>,
}

impl Alert {
    /// The details object, whichever the event type.
    pub fn info(&self) -> Option<&AlertInfo> {
        self.anomaly.as_ref().or(self.config_change.as_ref())
    }

    /// One JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Formats microseconds since the epoch as Suricata does: `2026-11-26T10:00:01.250000+0000`.
pub fn format_timestamp(ts_us: i64) -> String {
    let secs = ts_us.div_euclid(1_000_000);
    let micros = ts_us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+0000",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Parses RFC 3339 (`2026-11-26T10:00:00Z`, optional fraction and `+hh:mm`/`+hhmm` offset) or a
/// plain number of seconds since the epoch, into microseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Some((secs * 1e6) as i64);
    }
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut micros = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        let digits = &frac[..n];
        let mut v: i64 = 0;
        for (i, c) in digits.bytes().take(6).enumerate() {
            v += i64::from(c - b'0') * 10i64.pow(5 - i as u32);
        }
        micros = v;
        rest = &frac[n..];
    }
    let offset_s = match rest {
        "Z" | "z" | "" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            if digits.len() != 4 {
                return None;
            }
            let oh: i64 = digits[..2].parse().ok()?;
            let om: i64 = digits[2..].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(y, mo, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset_s) * 1_000_000 + micros)
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_text() {
        let t = 1_795_000_000_123_456;
        let s = format_timestamp(t);
        assert_eq!(parse_timestamp(&s), Some(t));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000000+0000");
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
