//! The monitoring centre's bookkeeping (no IO): alerts from many sensors are de-duplicated and
//! grouped into incidents, and a score history per sensor and minute is kept.
//!
//! Two alerts are the same when timestamp, endpoints, event type, causes and payload offsets
//! agree (two sensors on the same mirror port see the same packet). An incident groups alerts
//! with the same first cause between the same two endpoints; it closes when no alert joined it
//! for `gap` of capture time, or when the collection ends. A closed incident is handed out once,
//! whole.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, Cause, parse_timestamp};

/// One incident: de-duplicated alerts about one problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Sequential id, `INC-000001`.
    pub id: String,
    /// First alert time.
    pub first: String,
    /// Last alert time.
    pub last: String,
    /// Sensors that reported it.
    pub sensors: Vec<String>,
    /// Endpoints (`a <-> b`).
    pub endpoints: String,
    /// Union of causes.
    pub causes: Vec<Cause>,
    /// Highest score.
    pub max_score: f64,
    /// Alerts (de-duplicated), in arrival order.
    pub alerts: Vec<Alert>,
}

/// Score history entry: one sensor, one minute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScorePoint {
    /// Highest score in the minute.
    pub max_score: f64,
    /// Alerts in the minute.
    pub alerts: u64,
}

#[derive(Debug)]
struct Open {
    key: (String, Option<Cause>),
    first_us: i64,
    last_us: i64,
    inc: Incident,
}

/// Incident bookkeeping.
#[derive(Debug)]
pub struct IncidentBook {
    gap_us: i64,
    open: Vec<Open>,
    seen: std::collections::HashSet<u64>,
    next_id: u64,
    clocks: BTreeMap<String, (i64, bool)>,
    expect: usize,
    history: BTreeMap<String, BTreeMap<i64, ScorePoint>>,
    duplicates: u64,
}

impl IncidentBook {
    /// A book closing incidents after `gap_us` of quiet (capture time).
    pub fn new(gap_us: i64) -> Self {
        Self {
            gap_us,
            open: Vec::new(),
            seen: Default::default(),
            next_id: 1,
            clocks: BTreeMap::new(),
            expect: 0,
            history: BTreeMap::new(),
            duplicates: 0,
        }
    }

    /// Adds an alert from `sensor`; returns incidents that closed because time moved on.
    pub fn add(&mut self, sensor: &str, alert: Alert) -> Vec<Incident> {
        let ts = parse_timestamp(&alert.timestamp).unwrap_or(0);
        let info = alert.info().cloned();
        let score = info.as_ref().map_or(0.0, |i| i.score);
        let p = self
            .history
            .entry(sensor.to_string())
            .or_default()
            .entry(ts.div_euclid(60_000_000) * 60)
            .or_insert(ScorePoint {
                max_score: 0.0,
                alerts: 0,
            });
        p.max_score = p.max_score.max(score);
        p.alerts += 1;
        let fp = fingerprint(&alert);
        let dup = !self.seen.insert(fp);
        let ends = endpoints(&alert);
        let cause = info.as_ref().and_then(|i| i.causes.first().copied());
        let key = (ends.clone(), cause);
        let c = self
            .clocks
            .entry(sensor.to_string())
            .or_insert((i64::MIN, false));
        c.0 = c.0.max(ts);
        let gap = self.gap_us;
        if let Some(o) = self
            .open
            .iter_mut()
            .find(|o| o.key == key && ts <= o.last_us + gap)
        {
            if !o.inc.sensors.iter().any(|s| s == sensor) {
                o.inc.sensors.push(sensor.to_string());
            }
            if dup {
                self.duplicates += 1;
            } else {
                o.first_us = o.first_us.min(ts);
                if ts > o.last_us {
                    o.last_us = ts;
                    o.inc.last = alert.timestamp.clone();
                }
                for c in info.iter().flat_map(|i| i.causes.iter()) {
                    if !o.inc.causes.contains(c) {
                        o.inc.causes.push(*c);
                    }
                }
                o.inc.max_score = o.inc.max_score.max(score);
                o.inc.alerts.push(alert);
            }
        } else if dup {
            self.duplicates += 1;
        } else {
            let id = format!("INC-{:06}", self.next_id);
            self.next_id += 1;
            self.open.push(Open {
                key,
                first_us: ts,
                last_us: ts,
                inc: Incident {
                    id,
                    first: alert.timestamp.clone(),
                    last: alert.timestamp.clone(),
                    sensors: vec![sensor.to_string()],
                    endpoints: ends,
                    causes: info.map(|i| i.causes).unwrap_or_default(),
                    max_score: score,
                    alerts: vec![alert],
                },
            });
        }
        self.close_older(self.cutoff())
    }

    /// Holds incidents open until `n` sensors have finished (when the number of sensors is
    /// known, e.g. replays that run one after the other).
    pub fn expect_sensors(&mut self, n: usize) {
        self.expect = n;
    }

    /// Incidents close when every running sensor's capture clock has passed their last alert by
    /// `gap`, so a slower sensor can still add its view of the same incident.
    fn cutoff(&self) -> i64 {
        let running = self.clocks.values().filter(|c| !c.1).map(|c| c.0).min();
        let finished = self.clocks.values().filter(|c| c.1).count();
        if self.clocks.len() < self.expect || (running.is_none() && finished < self.expect) {
            return i64::MIN;
        }
        let all = self.clocks.values().map(|c| c.0).max().unwrap_or(i64::MIN);
        running.unwrap_or(all).saturating_sub(self.gap_us)
    }

    /// A sensor said it finished; returns incidents that can close now.
    pub fn finish(&mut self, sensor: &str) -> Vec<Incident> {
        self.clocks
            .entry(sensor.to_string())
            .or_insert((i64::MIN, false))
            .1 = true;
        self.close_older(self.cutoff())
    }

    fn close_older(&mut self, cutoff: i64) -> Vec<Incident> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.open.len() {
            if self.open[i].last_us < cutoff {
                out.push(self.open.remove(i).inc);
            } else {
                i += 1;
            }
        }
        out
    }

    /// Closes every open incident (end of collection).
    pub fn flush(&mut self) -> Vec<Incident> {
        self.close_older(i64::MAX)
    }

    /// Alerts dropped as duplicates of an alert already held.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Score history: sensor -> minute (seconds since the epoch) -> point.
    pub fn history(&self) -> &BTreeMap<String, BTreeMap<i64, ScorePoint>> {
        &self.history
    }
}

fn endpoints(a: &Alert) -> String {
    let (x, y) = match (&a.src_ip, &a.dest_ip, &a.ether) {
        (Some(s), Some(d), _) => (s.clone(), d.clone()),
        (_, _, Some(e)) => (e.src_mac.clone(), e.dest_mac.clone()),
        _ => (String::new(), String::new()),
    };
    if x <= y {
        format!("{x} <-> {y}")
    } else {
        format!("{y} <-> {x}")
    }
}

fn fingerprint(a: &Alert) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(11).build_hasher();
    a.timestamp.hash(&mut h);
    a.src_ip.hash(&mut h);
    a.src_port.hash(&mut h);
    a.dest_ip.hash(&mut h);
    a.dest_port.hash(&mut h);
    a.event_type.hash(&mut h);
    if let Some(i) = a.info() {
        i.causes.hash(&mut h);
        i.payload_offsets.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertInfo, EventType, format_timestamp};

    fn alert(ts: i64, dst: &str) -> Alert {
        Alert {
            timestamp: format_timestamp(ts),
            event_type: EventType::Anomaly,
            pcap_cnt: Some(1),
            src_ip: Some("10.0.0.1".into()),
            src_port: Some(4000),
            dest_ip: Some(dst.into()),
            dest_port: Some(502),
            proto: "TCP".into(),
            ether: None,
            vlan: None,
            host: None,
            payload: None,
            anomaly: Some(AlertInfo {
                score: 0.8,
                causes: vec![Cause::NotStandardCommand],
                payload_offsets: vec![7],
                detail: String::new(),
                link: String::new(),
                violations: vec![],
            }),
            config_change: None,
        }
    }

    #[test]
    fn sensors_replaying_one_after_the_other_share_incidents() {
        let mut book = IncidentBook::new(60_000_000);
        book.expect_sensors(2);
        let mut out = Vec::new();
        for sensor in ["a", "b"] {
            for k in 0..3 {
                out.extend(book.add(sensor, alert(k * 1_000_000, "10.0.0.2")));
            }
            out.extend(book.add(sensor, alert(600_000_000, "10.0.0.3")));
            out.extend(book.finish(sensor));
        }
        out.extend(book.flush());
        assert_eq!(out.len(), 2, "{out:?}");
        for inc in &out {
            assert_eq!(inc.sensors, vec!["a".to_string(), "b".to_string()]);
        }
        assert_eq!(out.iter().map(|i| i.alerts.len()).sum::<usize>(), 4);
        assert_eq!(book.duplicates(), 4);
    }
}
