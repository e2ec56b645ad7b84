//! Operator knowledge: the work plan, the engineer's standard commands, and offset names.
//!
//! Both files are JSON and protocol-independent: commands are identified by byte offsets and
//! values in the L4 payload (for Modbus/TCP: offset 7 = function code, 8-9 = address, 10-11 =
//! value). The format is documented in `docs/design/monitor.md`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::alert::parse_timestamp;
use crate::error::{MonitorError, Result};

/// Selects commands: the byte at `offset` is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandMatch {
    /// Payload offset of the command byte (Modbus/TCP function code: 7).
    pub offset: u32,
    /// Accepted values.
    pub values: Vec<u8>,
}

/// An unsigned integer field and its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRange {
    /// Payload offset of the first byte.
    pub offset: u32,
    /// Width in bytes: 1, 2 or 4 (default 2).
    #[serde(default = "two")]
    pub len: u8,
    /// Byte order: big-endian unless true.
    #[serde(default)]
    pub little_endian: bool,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
}

fn two() -> u8 {
    2
}

impl FieldRange {
    /// Reads the field from a payload.
    pub fn read(&self, p: &[u8]) -> Option<u64> {
        let o = self.offset as usize;
        let b = p.get(o..o + self.len as usize)?;
        let mut v = 0u64;
        for i in 0..b.len() {
            let byte = if self.little_endian {
                b[b.len() - 1 - i]
            } else {
                b[i]
            };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    }

    fn offsets(&self) -> impl Iterator<Item = u32> + '_ {
        (0..u32::from(self.len)).map(|k| self.offset + k)
    }
}

/// One planned activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkPlanEntry {
    /// Free text, shown in alerts.
    #[serde(default)]
    pub name: String,
    /// Target device IP.
    pub device: IpAddr,
    /// Target port (e.g. 502); any when absent.
    #[serde(default)]
    pub port: Option<u16>,
    /// Start, RFC 3339 or seconds since the epoch.
    pub from: String,
    /// End (inclusive), RFC 3339 or seconds since the epoch.
    pub to: String,
    /// Which commands this entry allows.
    pub command: CommandMatch,
    /// Allowed address range, if any.
    #[serde(default)]
    pub address: Option<FieldRange>,
    /// Allowed value range, if any.
    #[serde(default)]
    pub value: Option<FieldRange>,
}

/// The work plan file: `{"version": 1, "entries": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkPlan {
    /// Format version, 1.
    pub version: u32,
    /// Planned activities.
    pub entries: Vec<WorkPlanEntry>,
    #[serde(skip)]
    windows: Vec<(i64, i64)>,
}

/// Outcome of checking a message against the work plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanVerdict {
    /// The plan does not govern this command.
    NotGoverned,
    /// An entry allows it.
    Allowed,
    /// Governed but no entry allows it: offsets to blame and why.
    Violation {
        /// Payload offsets (command byte, and address/value bytes when out of range).
        offsets: Vec<u32>,
        /// Explanation.
        detail: String,
    },
}

impl WorkPlan {
    /// Parses and validates a work plan.
    pub fn from_json(text: &str) -> Result<Self> {
        let bad = |reason: String| MonitorError::InvalidConfig {
            what: "work plan",
            reason,
        };
        let mut plan: WorkPlan = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if plan.version != 1 {
            return Err(bad(format!("version {} (expected 1)", plan.version)));
        }
        for (i, e) in plan.entries.iter().enumerate() {
            let from = parse_timestamp(&e.from)
                .ok_or_else(|| bad(format!("entries[{i}].from: not a time")))?;
            let to = parse_timestamp(&e.to)
                .ok_or_else(|| bad(format!("entries[{i}].to: not a time")))?;
            if to < from {
                return Err(bad(format!("entries[{i}]: `to` is before `from`")));
            }
            for f in [&e.address, &e.value].into_iter().flatten() {
                if ![1, 2, 4].contains(&f.len) {
                    return Err(bad(format!("entries[{i}]: field len must be 1, 2 or 4")));
                }
            }
            plan.windows.push((from, to));
        }
        Ok(plan)
    }

    /// Checks a client-to-server payload sent to `device:port` at `ts_us`.
    pub fn check(&self, device: IpAddr, port: u16, p: &[u8], ts_us: i64) -> PlanVerdict {
        let mut governed = false;
        let mut best: Option<(Vec<u32>, String)> = None;
        for (e, (from, to)) in self.entries.iter().zip(&self.windows) {
            if e.device != device || e.port.is_some_and(|x| x != port) {
                continue;
            }
            let Some(b) = p.get(e.command.offset as usize) else {
                continue;
            };
            if !e.command.values.contains(b) {
                continue;
            }
            governed = true;
            let mut offsets = Vec::new();
            let mut why = Vec::new();
            if ts_us < *from || ts_us > *to {
                offsets.push(e.command.offset);
                why.push(format!("outside window {} .. {}", e.from, e.to));
            }
            for (label, f) in [("address", &e.address), ("value", &e.value)] {
                if let Some(f) = f {
                    match f.read(p) {
                        Some(v) if v >= f.min && v <= f.max => {}
                        Some(v) => {
                            offsets.extend(f.offsets());
                            why.push(format!("{label} {v} outside {}..={}", f.min, f.max));
                        }
                        None => {
                            offsets.extend(f.offsets());
                            why.push(format!("{label} missing"));
                        }
                    }
                }
            }
            if offsets.is_empty() {
                return PlanVerdict::Allowed;
            }
            let detail = format!(
                "command 0x{b:02x} at offset {} governed by work plan entry '{}': {}",
                e.command.offset,
                e.name,
                why.join(", ")
            );
            if best.as_ref().is_none_or(|(o, _)| offsets.len() < o.len()) {
                best = Some((offsets, detail));
            }
        }
        match (governed, best) {
            (false, _) | (true, None) => PlanVerdict::NotGoverned,
            (true, Some((mut offsets, detail))) => {
                offsets.sort_unstable();
                offsets.dedup();
                PlanVerdict::Violation { offsets, detail }
            }
        }
    }
}

/// Standard commands an engineer adds for one device (and port).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCommands {
    /// Device IP.
    pub device: IpAddr,
    /// Port; any when absent.
    #[serde(default)]
    pub port: Option<u16>,
    /// Offsets that identify a command (override of the learned command zone, e.g. `[6, 7]`).
    #[serde(default)]
    pub command_offsets: Vec<u32>,
    /// Extra commands accepted as standard: each a map offset -> value that must all match.
    #[serde(default)]
    pub commands: Vec<StandardCommand>,
}

/// One standard command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardCommand {
    /// Name for the operator.
    #[serde(default)]
    pub name: String,
    /// Offset -> value bytes that identify the command.
    #[serde(rename = "match")]
    pub matches: std::collections::BTreeMap<u32, u8>,
}

/// The standard-commands file: `{"version": 1, "devices": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardCommands {
    /// Format version, 1.
    pub version: u32,
    /// Per-device additions.
    pub devices: Vec<DeviceCommands>,
}

impl StandardCommands {
    /// Parses a standard-commands file.
    pub fn from_json(text: &str) -> Result<Self> {
        let bad = |reason: String| MonitorError::InvalidConfig {
            what: "standard commands",
            reason,
        };
        let s: StandardCommands = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if s.version != 1 {
            return Err(bad(format!("version {} (expected 1)", s.version)));
        }
        Ok(s)
    }

    /// The entry for `device:port`, if any.
    pub fn device(&self, device: IpAddr, port: u16) -> Option<&DeviceCommands> {
        self.devices
            .iter()
            .find(|d| d.device == device && d.port.is_none_or(|p| p == port))
    }

    /// True if the payload matches one of the engineer's standard commands for the device.
    pub fn is_standard(&self, device: IpAddr, port: u16, p: &[u8]) -> Option<&str> {
        let d = self.device(device, port)?;
        d.commands
            .iter()
            .find(|c| c.matches.iter().all(|(o, v)| p.get(*o as usize) == Some(v)))
            .map(|c| c.name.as_str())
    }
}

/// Names of payload offsets for the operator (only naming; detection never depends on it).
pub fn offset_name(
    proto: u8,
    server_port: u16,
    to_server: bool,
    offset: u32,
) -> Option<&'static str> {
    match (proto, server_port) {
        (6, 502) => Some(match offset {
            0 | 1 => "Modbus transaction id",
            2 | 3 => "Modbus protocol id",
            4 | 5 => "Modbus length",
            6 => "Modbus unit id",
            7 => "Modbus function code",
            8 | 9 if to_server => "Modbus address",
            10 | 11 if to_server => "Modbus quantity/value",
            8 if !to_server => "Modbus byte count / exception",
            _ => "Modbus data",
        }),
        (6, 102) => Some(match offset {
            0..=3 => "TPKT header",
            4..=6 => "COTP header",
            7 => "S7 protocol id",
            8 => "S7 ROSCTR (PDU type)",
            11 | 12 => "S7 PDU reference",
            17 => "S7 function",
            _ => "S7 data",
        }),
        (6, 2404) => Some(match offset {
            0 => "IEC 104 start byte",
            1 => "IEC 104 APDU length",
            2..=5 => "IEC 104 control field",
            6 => "IEC 104 ASDU type id",
            8 => "IEC 104 cause of transmission",
            _ => "IEC 104 ASDU",
        }),
        (6, 20000) => Some(match offset {
            0 | 1 => "DNP3 start bytes",
            2 => "DNP3 length",
            3 => "DNP3 link control",
            4 | 5 => "DNP3 destination",
            6 | 7 => "DNP3 source",
            12 => "DNP3 application control",
            13 => "DNP3 function code",
            _ => "DNP3 data",
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"version":1,"entries":[{"name":"recipe","device":"10.77.0.11","port":502,
      "from":"1970-01-01T00:01:40Z","to":"1970-01-01T00:02:00Z",
      "command":{"offset":7,"values":[6]},"address":{"offset":8,"min":40,"max":41},
      "value":{"offset":10,"min":0,"max":500}}]}"#;

    fn write(addr: u16, val: u16) -> Vec<u8> {
        let mut v = vec![0, 1, 0, 0, 0, 6, 1, 6];
        v.extend_from_slice(&addr.to_be_bytes());
        v.extend_from_slice(&val.to_be_bytes());
        v
    }

    #[test]
    fn work_plan_allows_write_only_inside_window_and_ranges() {
        let plan = WorkPlan::from_json(PLAN).expect("valid");
        let dev: IpAddr = "10.77.0.11".parse().expect("ip");
        assert_eq!(
            plan.check(dev, 502, &write(40, 100), 110_000_000),
            PlanVerdict::Allowed
        );
        let PlanVerdict::Violation { offsets, .. } =
            plan.check(dev, 502, &write(40, 100), 300_000_000)
        else {
            panic!("replay outside window must be caught")
        };
        assert_eq!(offsets, vec![7]);
        let PlanVerdict::Violation { offsets, .. } =
            plan.check(dev, 502, &write(40, 900), 110_000_000)
        else {
            panic!("value out of range")
        };
        assert_eq!(offsets, vec![10, 11]);
        let mut read = write(0, 10);
        read[7] = 3;
        assert_eq!(
            plan.check(dev, 502, &read, 300_000_000),
            PlanVerdict::NotGoverned
        );
    }

    #[test]
    fn rejects_work_plan_with_reversed_window() {
        let bad = PLAN.replace("00:01:40", "00:09:40");
        assert!(WorkPlan::from_json(&bad).is_err());
    }
}
