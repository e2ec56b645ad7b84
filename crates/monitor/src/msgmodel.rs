//! Protocol-independent message model, learned per link and direction from payload bytes alone.
//!
//! Learning keeps a bounded reservoir of payloads (first [`PROFILE_BYTES`] bytes) plus a few
//! online statistics (counter candidates, length fields). [`DirLearner::build`] then:
//! 1. groups messages by exact length when a direction uses few distinct lengths;
//! 2. picks one *discriminator* offset among the first 16 bytes: the small value set whose split
//!    best reduces the variety of the other offsets per bit of split entropy (a function code, a
//!    PDU type);
//! 3. profiles every offset of every message type: constant, small set (<= 16 values that repeat,
//!    kept as a 256-bit set), range (min..max with tolerance), counter (skipped), length field
//!    (checked against the payload length). Header bytes (< 16) are strict, later bytes tolerant.
//!
//! Checking a message names the offsets that break the profile, expected versus seen.

use serde::{Deserialize, Serialize};

/// Offsets profiled per message (bytes beyond are not modelled).
pub const PROFILE_BYTES: usize = 256;
/// Offsets where discriminators and length fields are searched, and where constant and
/// small-set bytes are strict.
pub const HEADER_BYTES: usize = 16;
/// Offsets where counters are searched.
pub const COUNTER_BYTES: usize = 64;
/// At most this many distinct values make a "set"; more make a "range".
pub const SET_MAX: u32 = 16;
/// Reservoir size per direction.
pub const SAMPLE_CAP: usize = 4096;
/// Above this many distinct lengths a direction is modelled without length in the type key.
const EXACT_LEN_MAX: usize = 48;

/// What is normal at one payload offset of one message type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetProfile {
    /// Set of values seen (bit `v` of word `v / 64`).
    pub bits: [u64; 4],
    /// Smallest value seen.
    pub min: u8,
    /// Largest value seen.
    pub max: u8,
    /// Number of messages that had this offset.
    pub n: u32,
}

/// The class of an offset profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetKind {
    /// Never seen (variable-length types).
    Absent,
    /// Always the same value.
    Constant,
    /// A small set of values.
    Set,
    /// Many values: checked against min..max with a tolerance.
    Range,
}

impl OffsetProfile {
    /// Adds one observed value.
    pub fn add(&mut self, v: u8) {
        if self.n == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.bits[(v >> 6) as usize] |= 1u64 << (v & 63);
        self.n = self.n.saturating_add(1);
    }

    /// True if `v` was seen.
    #[inline]
    pub fn contains(&self, v: u8) -> bool {
        self.bits[(v >> 6) as usize] & (1u64 << (v & 63)) != 0
    }

    /// Number of distinct values seen.
    pub fn distinct(&self) -> u32 {
        self.bits.iter().map(|w| w.count_ones()).sum()
    }

    /// Class of this offset.
    pub fn kind(&self) -> OffsetKind {
        // A small set needs evidence: its values must repeat (n >= 4 per distinct value);
        // otherwise a few samples of a continuous value would look like a set.
        match (self.n, self.distinct()) {
            (0, _) => OffsetKind::Absent,
            (_, 1) => OffsetKind::Constant,
            (n, d) if d <= SET_MAX && n >= 4 * d => OffsetKind::Set,
            _ => OffsetKind::Range,
        }
    }

    /// True if `v` is normal here (strict for constants and small sets).
    #[inline]
    pub fn accepts(&self, v: u8) -> bool {
        if self.n == 0 || self.contains(v) {
            return true;
        }
        if self.is_fixed() {
            return false;
        }
        self.within_range(v)
    }

    /// True if `v` lies in min..=max widened by an eighth of the span plus one.
    #[inline]
    pub fn within_range(&self, v: u8) -> bool {
        let tol = (u16::from(self.max - self.min) / 8 + 1) as i32;
        let v = i32::from(v);
        v >= i32::from(self.min) - tol && v <= i32::from(self.max) + tol
    }

    /// True for a constant or a small set (values outside are anomalies, no tolerance).
    #[inline]
    pub fn is_fixed(&self) -> bool {
        matches!(self.kind(), OffsetKind::Constant | OffsetKind::Set)
    }

    /// The expected values as text: `0x03`, `{0x03,0x10}` or `0x00..=0x64`.
    pub fn describe(&self) -> String {
        match self.kind() {
            OffsetKind::Absent => "absent".into(),
            OffsetKind::Constant => format!("0x{:02x}", self.min),
            OffsetKind::Set => {
                let vals: Vec<String> = (0..=255u8)
                    .filter(|v| self.contains(*v))
                    .map(|v| format!("0x{v:02x}"))
                    .collect();
                format!("{{{}}}", vals.join(","))
            }
            OffsetKind::Range => format!("0x{:02x}..=0x{:02x}", self.min, self.max),
        }
    }
}

/// A length field: `value == payload_len + adjust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LengthField {
    /// Offset of the first byte.
    pub offset: u16,
    /// 1 or 2 bytes (2 = big-endian).
    pub width: u8,
    /// Constant difference between the field and the payload length.
    pub adjust: i32,
}

impl LengthField {
    fn read(&self, p: &[u8]) -> Option<i64> {
        let o = self.offset as usize;
        match self.width {
            1 => p.get(o).map(|b| i64::from(*b)),
            _ => Some(i64::from(u16::from_be_bytes([*p.get(o)?, *p.get(o + 1)?]))),
        }
    }
}

/// One message type of a direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgType {
    /// Exact payload length, when the direction is keyed by length.
    pub len: Option<u32>,
    /// Values at the direction's discriminator offsets (256 = offset absent).
    pub disc: Vec<u16>,
    /// Shortest payload seen.
    pub min_len: u32,
    /// Longest payload seen.
    pub max_len: u32,
    /// Messages learned.
    pub count: u64,
    /// Profile per offset (up to [`PROFILE_BYTES`]).
    pub offsets: Vec<OffsetProfile>,
}

/// The learned model of one link direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirModel {
    /// Whether the type key includes the exact payload length.
    pub exact_len: bool,
    /// Discriminator offsets (part of the type key).
    pub disc: Vec<u16>,
    /// Offsets holding counters (not checked).
    pub counters: Vec<u16>,
    /// Length fields (checked against the payload length).
    pub length_fields: Vec<LengthField>,
    /// Message types.
    pub types: Vec<MsgType>,
    /// Union profile of the header bytes over all types (names offsets of unknown messages).
    pub header: Vec<OffsetProfile>,
    /// Messages learned.
    pub messages: u64,
}

/// One offset that broke the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetViolation {
    /// Payload offset.
    pub offset: u32,
    /// Expected, as text.
    pub expected: String,
    /// Seen, as text.
    pub seen: String,
    /// True if the offset is a command offset (discriminator, or a fixed header byte).
    pub command: bool,
}

/// Result of checking a message that is not normal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// False when no learned type matches (length and discriminators).
    pub known_type: bool,
    /// True when the message is not one of the learned commands (unknown type with new
    /// command bytes, or a fixed command byte changed); false for an unusual value.
    pub new_command: bool,
    /// Offending offsets.
    pub violations: Vec<OffsetViolation>,
    /// Short explanation.
    pub summary: String,
}

impl DirModel {
    fn key_of(&self, p: &[u8]) -> (Option<u32>, [u16; 2]) {
        let mut d = [256u16; 2];
        for (i, o) in self.disc.iter().enumerate().take(2) {
            d[i] = p.get(*o as usize).map_or(256, |b| u16::from(*b));
        }
        (
            if self.exact_len {
                Some(p.len() as u32)
            } else {
                None
            },
            d,
        )
    }

    fn find(&self, p: &[u8]) -> Option<&MsgType> {
        let (len, d) = self.key_of(p);
        self.types
            .iter()
            .find(|t| t.len == len && t.disc.iter().zip(d.iter()).all(|(a, b)| a == b))
    }

    /// Checks one payload. `None` means normal. `command_zone`: offsets below it with a fixed
    /// value (constant or small set) count as command bytes.
    pub fn check(&self, p: &[u8], command_zone: usize) -> Option<Finding> {
        let mut violations = Vec::new();
        let Some(t) = self.find(p) else {
            // Unknown type: name discriminators and header bytes never seen anywhere.
            for (i, o) in self.disc.iter().enumerate() {
                let seen = p.get(*o as usize).map_or(256, |b| u16::from(*b));
                if !self.types.iter().any(|t| t.disc.get(i) == Some(&seen)) {
                    let expected =
                        describe_u16(self.types.iter().filter_map(|t| t.disc.get(i).copied()));
                    violations.push(OffsetViolation {
                        offset: u32::from(*o),
                        expected,
                        seen: fmt_opt(p.get(*o as usize)),
                        command: true,
                    });
                }
            }
            for (o, prof) in self.header.iter().enumerate().take(p.len()) {
                if self.disc.contains(&(o as u16)) || self.counters.contains(&(o as u16)) {
                    continue;
                }
                if prof.is_fixed() && !prof.contains(p[o]) && !self.is_length_offset(o) {
                    violations.push(OffsetViolation {
                        offset: o as u32,
                        expected: prof.describe(),
                        seen: format!("0x{:02x}", p[o]),
                        command: true,
                    });
                }
            }
            let lens = describe_lengths(self.types.iter().map(|t| (t.min_len, t.max_len)));
            let key = self.key_of(p).1;
            let same: Vec<&MsgType> = self
                .types
                .iter()
                .filter(|t| t.disc.iter().zip(key.iter()).all(|(a, b)| a == b))
                .collect();
            let same_cmd = !same.is_empty();
            let (lo, hi) = same.iter().fold((u32::MAX, 0), |(a, b), t| {
                (a.min(t.min_len), b.max(t.max_len))
            });
            let len = p.len() as u32;
            if violations.is_empty() && same_cmd && same.len() >= 2 && len >= lo && len <= hi {
                // A known command whose length lies between learned lengths (a quantity the
                // learning did not happen to see): normal.
                return None;
            }
            if violations.is_empty() && same_cmd {
                // A known command with an unusual length: a value (quantity, size), not a command.
                for lf in &self.length_fields {
                    for k in 0..lf.width {
                        violations.push(OffsetViolation {
                            offset: u32::from(lf.offset) + u32::from(k),
                            expected: format!("length in {lens}"),
                            seen: format!("length {}", p.len()),
                            command: false,
                        });
                    }
                }
                return Some(Finding {
                    known_type: false,
                    new_command: false,
                    violations,
                    summary: format!(
                        "known command with unusual payload length {} (learned {lens})",
                        p.len()
                    ),
                });
            }
            return Some(Finding {
                known_type: false,
                new_command: true,
                violations,
                summary: format!("unknown message type: length {} (learned {lens})", p.len()),
            });
        };
        let n = p.len().min(t.offsets.len());
        for (o, (prof, &v)) in t.offsets.iter().zip(p.iter()).enumerate().take(n) {
            // Header bytes (and discriminators) are strict; content bytes beyond the header are
            // process data: a value next to the learned ones is normal.
            let ok = if o < HEADER_BYTES {
                prof.accepts(v)
            } else {
                prof.contains(v) || prof.within_range(v)
            };
            if ok || self.counters.contains(&(o as u16)) {
                continue;
            }
            let fixed = prof.is_fixed();
            violations.push(OffsetViolation {
                offset: o as u32,
                expected: prof.describe(),
                seen: format!("0x{v:02x}"),
                command: fixed && o < command_zone && !self.is_length_offset(o)
                    || self.disc.contains(&(o as u16)),
            });
        }
        for lf in &self.length_fields {
            if let Some(v) = lf.read(p)
                && v != p.len() as i64 + i64::from(lf.adjust)
            {
                for k in 0..lf.width {
                    let o = u32::from(lf.offset) + u32::from(k);
                    if !violations.iter().any(|x| x.offset == o) {
                        violations.push(OffsetViolation {
                            offset: o,
                            expected: format!(
                                "length field = {}",
                                p.len() as i64 + i64::from(lf.adjust)
                            ),
                            seen: format!("{v}"),
                            command: false,
                        });
                    }
                }
            }
        }
        if violations.is_empty() {
            return None;
        }
        violations.sort_by_key(|v| v.offset);
        let new_command = violations.iter().any(|v| v.command);
        Some(Finding {
            known_type: true,
            new_command,
            violations,
            summary: "value outside the learned profile".into(),
        })
    }

    /// Adds a message to the profiles after the types were chosen (second learning pass over a
    /// capture, so that every learned message is covered, not only the reservoir's).
    pub fn absorb(&mut self, p: &[u8]) {
        let (len, d) = self.key_of(p);
        let dv: Vec<u16> = d.iter().take(self.disc.len()).copied().collect();
        let idx = match self.types.iter().position(|t| t.len == len && t.disc == dv) {
            Some(i) => i,
            None => {
                let l = p.len() as u32;
                self.types.push(MsgType {
                    len,
                    disc: dv,
                    min_len: l,
                    max_len: l,
                    count: 0,
                    offsets: Vec::new(),
                });
                self.types.len() - 1
            }
        };
        let t = &mut self.types[idx];
        t.count += 1;
        t.min_len = t.min_len.min(p.len() as u32);
        t.max_len = t.max_len.max(p.len() as u32);
        let n = p.len().min(PROFILE_BYTES);
        if self.header.len() < HEADER_BYTES {
            self.header.resize(HEADER_BYTES, OffsetProfile::default());
        }
        if t.offsets.len() < n {
            t.offsets.resize(n, OffsetProfile::default());
        }
        for (o, b) in p.iter().enumerate().take(n) {
            t.offsets[o].add(*b);
            if o < HEADER_BYTES {
                self.header[o].add(*b);
            }
        }
        self.length_fields.retain(|lf| {
            lf.read(p)
                .is_none_or(|v| v == p.len() as i64 + i64::from(lf.adjust))
        });
    }

    fn is_length_offset(&self, o: usize) -> bool {
        self.length_fields
            .iter()
            .any(|l| o >= l.offset as usize && o < l.offset as usize + l.width as usize)
    }
}

fn fmt_opt(b: Option<&u8>) -> String {
    b.map_or_else(|| "absent".into(), |v| format!("0x{v:02x}"))
}

fn describe_u16(vals: impl Iterator<Item = u16>) -> String {
    let mut v: Vec<u16> = vals.collect();
    v.sort_unstable();
    v.dedup();
    let s: Vec<String> = v
        .iter()
        .map(|x| {
            if *x > 255 {
                "absent".into()
            } else {
                format!("0x{x:02x}")
            }
        })
        .collect();
    format!("{{{}}}", s.join(","))
}

fn describe_lengths(r: impl Iterator<Item = (u32, u32)>) -> String {
    let mut v: Vec<(u32, u32)> = r.collect();
    v.sort_unstable();
    v.dedup();
    let s: Vec<String> = v
        .iter()
        .take(12)
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}..{b}")
            }
        })
        .collect();
    let more = if v.len() > 12 { ",..." } else { "" };
    format!("{{{}{more}}}", s.join(","))
}

/// Learns a [`DirModel`] from a stream of payloads.
#[derive(Debug, Clone, Default)]
pub struct DirLearner {
    samples: Vec<(u32, Box<[u8]>)>,
    seen: u64,
    rng: u64,
    prev: Vec<u8>,
    prev_len: usize,
    inc: Vec<u32>,
    changes: Vec<u32>,
    pairs: u32,
    len_hits: Vec<(u16, u8, i32, u32)>,
    len_pairs: u32,
    novelty: Vec<(u32, [[u64; 4]; HEADER_BYTES])>,
    stable_run: u64,
}

impl DirLearner {
    /// Adds one payload; returns true if it taught the model something new (new length or a new
    /// value at a header offset that so far had few values).
    pub fn add(&mut self, p: &[u8]) -> bool {
        self.seen += 1;
        let keep: Box<[u8]> = p[..p.len().min(PROFILE_BYTES)].into();
        if self.samples.len() < SAMPLE_CAP {
            self.samples.push((p.len() as u32, keep));
        } else {
            // Reservoir sampling with a small xorshift generator (deterministic).
            self.rng = self
                .rng
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let j = (self.rng >> 33) % self.seen;
            if (j as usize) < SAMPLE_CAP {
                self.samples[j as usize] = (p.len() as u32, keep);
            }
        }
        // Counter candidates: byte incremented by 1..=3 since the previous message.
        if self.inc.is_empty() {
            self.prev = vec![0; COUNTER_BYTES];
            self.inc = vec![0; COUNTER_BYTES];
            self.changes = vec![0; COUNTER_BYTES];
        }
        let h = p.len().min(COUNTER_BYTES);
        if self.prev_len > 0 {
            self.pairs += 1;
            let m = h.min(self.prev_len);
            for (((cur, prev), inc), ch) in p[..m]
                .iter()
                .zip(&self.prev[..m])
                .zip(&mut self.inc[..m])
                .zip(&mut self.changes[..m])
            {
                let d = cur.wrapping_sub(*prev);
                if d != 0 {
                    *ch += 1;
                }
                if (1..=3).contains(&d) {
                    *inc += 1;
                }
            }
        }
        self.prev[..h].copy_from_slice(&p[..h]);
        self.prev_len = h;
        // Length field candidates.
        self.len_pairs += 1;
        let h = h.min(HEADER_BYTES);
        for o in 0..h {
            let one = (o as u16, 1u8, i32::from(p[o]) - p.len() as i32);
            self.hit_len(one);
            if o + 1 < h {
                let v = i32::from(u16::from_be_bytes([p[o], p[o + 1]]));
                self.hit_len((o as u16, 2, v - p.len() as i32));
            }
        }
        let novel = self.novel(p);
        if novel {
            self.stable_run = 0;
        } else {
            self.stable_run += 1;
        }
        novel
    }

    fn hit_len(&mut self, (o, w, adj): (u16, u8, i32)) {
        if !(-64..=64).contains(&adj) {
            return;
        }
        if let Some(e) = self
            .len_hits
            .iter_mut()
            .find(|e| e.0 == o && e.1 == w && e.2 == adj)
        {
            e.3 += 1;
        } else if self.len_hits.len() < 512 {
            self.len_hits.push((o, w, adj, 1));
        }
    }

    fn novel(&mut self, p: &[u8]) -> bool {
        let len = p.len() as u32;
        let idx = match self.novelty.iter().position(|e| e.0 == len) {
            Some(i) => i,
            None => {
                if self.novelty.len() >= EXACT_LEN_MAX {
                    return false;
                }
                self.novelty.push((len, [[0u64; 4]; HEADER_BYTES]));
                let i = self.novelty.len() - 1;
                for (o, b) in p.iter().enumerate().take(HEADER_BYTES) {
                    self.novelty[i].1[o][(b >> 6) as usize] |= 1u64 << (b & 63);
                }
                return true;
            }
        };
        let mut novel = false;
        for (o, b) in p.iter().enumerate().take(HEADER_BYTES) {
            let set = &mut self.novelty[idx].1[o];
            let bit = 1u64 << (b & 63);
            if set[(b >> 6) as usize] & bit == 0 {
                set[(b >> 6) as usize] |= bit;
                let d: u32 = set.iter().map(|w| w.count_ones()).sum();
                if d <= SET_MAX {
                    novel = true;
                }
            }
        }
        novel
    }

    /// Messages seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Consecutive messages that taught nothing new.
    pub fn stable_run(&self) -> u64 {
        self.stable_run
    }

    /// Kept samples (payload length, first bytes), e.g. to build a per-device model.
    pub fn samples(&self) -> impl Iterator<Item = (u32, &[u8])> {
        self.samples.iter().map(|(l, b)| (*l, &b[..]))
    }

    /// Builds the model from what was learned.
    pub fn build(&self) -> DirModel {
        let counters = self.counters();
        let mut m = build_from_samples(self.samples(), &counters, self.seen);
        // Length fields: hold for (nearly) every message and the length varies.
        let mut lens: Vec<u32> = self.samples.iter().map(|s| s.0).collect();
        lens.sort_unstable();
        lens.dedup();
        if lens.len() > 1 && self.len_pairs > 0 {
            let mut fields: Vec<LengthField> = self
                .len_hits
                .iter()
                .filter(|e| e.3 == self.len_pairs)
                .map(|e| LengthField {
                    offset: e.0,
                    width: e.1,
                    adjust: e.2,
                })
                .collect();
            // Prefer the 2-byte form when the low byte alone also matches.
            let snapshot = fields.clone();
            fields.retain(|f| {
                !(f.width == 1
                    && snapshot
                        .iter()
                        .any(|g| g.width == 2 && g.offset + 1 == f.offset && g.adjust == f.adjust))
            });
            m.length_fields = fields;
        }
        m
    }

    fn counters(&self) -> Vec<u16> {
        let mut c = Vec::new();
        if self.pairs < 16 {
            return c;
        }
        for o in 0..self.inc.len() {
            // Fast counters step on most messages; slow ones (a PDU reference) step rarely but
            // almost always upwards by 1..=3.
            let fast =
                self.inc[o] * 10 >= self.pairs * 6 && self.inc[o] * 10 >= self.changes[o] * 8;
            let slow = self.changes[o] >= 4 && self.inc[o] * 100 >= self.changes[o] * 95;
            if fast || slow {
                c.push(o as u16);
                if o > 0 && !c.contains(&(o as u16 - 1)) {
                    c.push(o as u16 - 1);
                }
            }
        }
        c.sort_unstable();
        c.dedup();
        c
    }
}

/// Expected looseness of the profile a message is checked against: per group, the sum over
/// offsets of the (capped) number of distinct values, weighted by the group's share of messages.
fn group_cost(groups: &foldhash::HashMap<Vec<u16>, (u32, Vec<[u64; 4]>)>) -> f64 {
    let total: u32 = groups.values().map(|g| g.0).sum();
    groups
        .values()
        .map(|(n, offs)| {
            let c: u32 = offs
                .iter()
                .map(|b| {
                    b.iter()
                        .map(|w| w.count_ones())
                        .sum::<u32>()
                        .min(SET_MAX + 1)
                })
                .sum();
            f64::from(c) * f64::from(*n) / f64::from(total.max(1))
        })
        .sum()
}

fn build_from_samples<'a>(
    samples: impl Iterator<Item = (u32, &'a [u8])>,
    counters: &[u16],
    seen: u64,
) -> DirModel {
    let samples: Vec<(u32, &[u8])> = samples.collect();
    let mut lens: Vec<u32> = samples.iter().map(|s| s.0).collect();
    lens.sort_unstable();
    lens.dedup();
    let exact_len = lens.len() <= EXACT_LEN_MAX;
    let base_key = |s: &(u32, &[u8])| if exact_len { s.0 as u16 } else { 0 };
    let at = |s: &(u32, &[u8]), o: u16| s.1.get(o as usize).map_or(256u16, |b| u16::from(*b));
    const COST_OFFSETS: usize = 64;
    let partition = |disc: &[u16]| {
        let mut g: foldhash::HashMap<Vec<u16>, (u32, Vec<[u64; 4]>)> = Default::default();
        for s in samples.iter().take(1024) {
            let mut k = vec![base_key(s)];
            k.extend(disc.iter().map(|o| at(s, *o)));
            let e = g
                .entry(k)
                .or_insert_with(|| (0, vec![[0u64; 4]; COST_OFFSETS]));
            e.0 += 1;
            let e = &mut e.1;
            for (o, b) in s.1.iter().enumerate().take(COST_OFFSETS) {
                if disc.contains(&(o as u16)) || counters.contains(&(o as u16)) {
                    continue;
                }
                e[o][(b >> 6) as usize] |= 1u64 << (b & 63);
            }
        }
        g
    };
    // Candidate discriminators: header offsets with a small value set.
    let mut disc: Vec<u16> = Vec::new();
    let mut cost = group_cost(&partition(&disc));
    for _round in 0..1 {
        // Best gain ratio (as in C4.5): reduction of the cost divided by the split's entropy,
        // so that a function code beats an address that splits the traffic into more groups.
        let mut best: Option<(f64, f64, u16)> = None;
        for o in 0..HEADER_BYTES as u16 {
            if disc.contains(&o) || counters.contains(&o) {
                continue;
            }
            let mut hist: foldhash::HashMap<u16, u32> = Default::default();
            for s in samples.iter().take(1024) {
                *hist.entry(at(s, o)).or_default() += 1;
            }
            if !(2..=SET_MAX as usize).contains(&hist.len()) {
                continue;
            }
            let n: u32 = hist.values().sum();
            let split: f64 = hist
                .values()
                .map(|c| {
                    let p = f64::from(*c) / f64::from(n);
                    -p * p.log2()
                })
                .sum();
            let mut trial = disc.clone();
            trial.push(o);
            let g = partition(&trial);
            if g.len() > 64 {
                continue;
            }
            let c = group_cost(&g);
            let ratio = (cost - c) / split.max(0.1);
            if best.is_none_or(|(br, _, _)| ratio > br) {
                best = Some((ratio, c, o));
            }
        }
        match best {
            Some((_, c, o)) if c < cost * 0.9 => {
                disc.push(o);
                cost = c;
            }
            _ => break,
        }
    }
    // Profiles per type.
    let mut types: Vec<MsgType> = Vec::new();
    let mut header = vec![OffsetProfile::default(); HEADER_BYTES];
    for s in &samples {
        let len = if exact_len { Some(s.0) } else { None };
        let dv: Vec<u16> = disc.iter().map(|o| at(s, *o)).collect();
        let idx = match types.iter().position(|t| t.len == len && t.disc == dv) {
            Some(i) => i,
            None => {
                types.push(MsgType {
                    len,
                    disc: dv,
                    min_len: s.0,
                    max_len: s.0,
                    count: 0,
                    offsets: Vec::new(),
                });
                types.len() - 1
            }
        };
        let t = &mut types[idx];
        t.count += 1;
        t.min_len = t.min_len.min(s.0);
        t.max_len = t.max_len.max(s.0);
        if t.offsets.len() < s.1.len() {
            t.offsets.resize(s.1.len(), OffsetProfile::default());
        }
        for (o, b) in s.1.iter().enumerate() {
            t.offsets[o].add(*b);
            if o < HEADER_BYTES {
                header[o].add(*b);
            }
        }
    }
    types.sort_by(|a, b| (a.len, &a.disc).cmp(&(b.len, &b.disc)));
    DirModel {
        exact_len,
        disc,
        counters: counters.to_vec(),
        length_fields: Vec::new(),
        types,
        header,
        messages: seen,
    }
}

/// Builds one model from the samples of several learners (e.g. every link to one service).
pub fn merge_learners<'a>(learners: impl Iterator<Item = &'a DirLearner>) -> DirModel {
    let ls: Vec<&DirLearner> = learners.collect();
    let mut counters: Vec<u16> = ls.iter().flat_map(|l| l.counters()).collect();
    counters.sort_unstable();
    counters.dedup();
    let seen = ls.iter().map(|l| l.seen).sum();
    build_from_samples(ls.iter().flat_map(|l| l.samples()), &counters, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modbus_read(tid: u16, unit: u8, addr: u16) -> Vec<u8> {
        let mut v = tid.to_be_bytes().to_vec();
        v.extend_from_slice(&[0, 0, 0, 6, unit, 3]);
        v.extend_from_slice(&addr.to_be_bytes());
        v.extend_from_slice(&[0, 10]);
        v
    }

    fn modbus_write(tid: u16, addr: u16, val: u16) -> Vec<u8> {
        let mut v = tid.to_be_bytes().to_vec();
        v.extend_from_slice(&[0, 0, 0, 6, 1, 6]);
        v.extend_from_slice(&addr.to_be_bytes());
        v.extend_from_slice(&val.to_be_bytes());
        v
    }

    fn learned() -> DirModel {
        let mut l = DirLearner::default();
        for i in 0..600u16 {
            l.add(&modbus_read(i, 1, [0u16, 100][(i % 2) as usize]));
            if i % 10 == 0 {
                l.add(&modbus_write(i, 40, 100 + (i % 50)));
            }
        }
        l.build()
    }

    #[test]
    fn learns_counter_and_function_code_discriminator() {
        let m = learned();
        assert!(
            m.counters.contains(&1) && m.counters.contains(&0),
            "{:?}",
            m.counters
        );
        assert_eq!(m.disc, vec![7]);
        assert_eq!(m.types.len(), 2);
        assert!(m.check(&modbus_read(9999, 1, 100), 8).is_none());
        assert!(m.check(&modbus_write(4, 40, 120), 8).is_none());
    }

    #[test]
    fn names_function_code_offset_of_unknown_command() {
        let m = learned();
        let mut p = modbus_read(5, 1, 0);
        p[7] = 0x2b;
        let f = m.check(&p, 8).expect("anomaly");
        assert!(!f.known_type);
        assert_eq!(
            f.violations.iter().map(|v| v.offset).collect::<Vec<_>>(),
            vec![7]
        );
        assert!(f.violations[0].command);
    }

    #[test]
    fn names_value_offsets_of_out_of_range_write() {
        let m = learned();
        let f = m.check(&modbus_write(5, 40, 5000), 8).expect("anomaly");
        assert!(f.known_type);
        let offs: Vec<u32> = f.violations.iter().map(|v| v.offset).collect();
        assert!(
            offs.iter().all(|o| *o == 10 || *o == 11) && !offs.is_empty(),
            "{offs:?}"
        );
        assert!(f.violations.iter().all(|v| !v.command));
    }

    #[test]
    fn unit_id_change_is_a_command_byte() {
        let m = learned();
        let f = m.check(&modbus_read(5, 7, 0), 8).expect("anomaly");
        assert_eq!(
            f.violations.iter().map(|v| v.offset).collect::<Vec<_>>(),
            vec![6]
        );
        assert!(f.violations[0].command);
    }
}
