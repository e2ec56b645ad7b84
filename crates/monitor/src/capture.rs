//! Reading capture files (classic pcap and pcapng) without copying frames, and writing classic pcap.
//!
//! A capture is read into memory once; every [`Frame`] borrows its bytes from that buffer. Damaged
//! records are counted in [`CaptureStats`] and skipped; the iterator never panics on bad input.

use std::io::Write;

use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le};

use crate::error::{MonitorError, Result};

/// Link type number of Ethernet (the only one decoded).
pub const LINKTYPE_ETHERNET: i32 = 1;
/// Largest record accepted; a bigger `caplen` means the file is corrupt.
const MAX_RECORD: usize = 256 * 1024;

/// One captured frame, borrowed from the capture buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number in the capture (Suricata's `pcap_cnt`).
    pub number: u64,
    /// Capture time, microseconds since the Unix epoch.
    pub ts_us: i64,
    /// The captured bytes, starting at the Ethernet header.
    pub data: &'a [u8],
    /// Length of the frame on the wire (larger than `data.len()` when the snap length cut it).
    pub orig_len: u32,
}

/// Counters about the capture container itself (not about packet contents).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureStats {
    /// Records that carried a frame.
    pub frames: u64,
    /// Records skipped because the container was damaged or the link type is not Ethernet.
    pub skipped_records: u64,
    /// True when the file ends in the middle of a record (the partial record is dropped).
    pub truncated_tail: bool,
}

/// Container format of a capture, told by its magic number (not by the file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap format (either byte order, micro or nanosecond timestamps).
    Pcap,
    /// pcapng.
    PcapNg,
}

/// A whole capture file held in memory.
#[derive(Debug, Clone)]
pub struct CaptureFile {
    bytes: Vec<u8>,
}

impl CaptureFile {
    /// Reads a capture file into memory.
    pub fn open(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| MonitorError::CaptureIo {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self { bytes })
    }

    /// Wraps capture bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// Size of the capture in bytes (for progress bars).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for an empty buffer.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The container format, from the magic number.
    pub fn format(&self) -> Result<CaptureFormat> {
        detect_format(&self.bytes)
    }

    /// Iterates over the frames.
    pub fn frames(&self) -> Result<Frames<'_>> {
        Frames::new(&self.bytes)
    }
}

/// Tells the container format from the first four bytes.
pub fn detect_format(bytes: &[u8]) -> Result<CaptureFormat> {
    match bytes.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0xc3, 0xd4])
        | Some([0x4d, 0x3c, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0x3c, 0x4d]) => Ok(CaptureFormat::Pcap),
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => Ok(CaptureFormat::PcapNg),
        Some(m) => Err(MonitorError::CaptureFormat(format!(
            "magic {}",
            hex::encode(m)
        ))),
        None => Err(MonitorError::CaptureFormat(
            "file shorter than 4 bytes".into(),
        )),
    }
}

enum Inner<'a> {
    Pcap {
        rem: &'a [u8],
        big_endian: bool,
        nanos: bool,
    },
    Ng {
        rem: &'a [u8],
        big_endian: bool,
        ifaces: Vec<NgIface>,
    },
    Done,
}

#[derive(Clone, Copy)]
struct NgIface {
    ethernet: bool,
    resolution: u64,
    offset: i64,
}

/// Iterator over the frames of a capture; see [`CaptureFile::frames`].
pub struct Frames<'a> {
    inner: Inner<'a>,
    total: usize,
    number: u64,
    stats: CaptureStats,
}

impl<'a> Frames<'a> {
    /// Starts reading capture bytes (classic pcap or pcapng).
    pub fn new(bytes: &'a [u8]) -> Result<Self> {
        let inner = match detect_format(bytes)? {
            CaptureFormat::Pcap => {
                let (_, header) = pcap_parser::parse_pcap_header(bytes)
                    .map_err(|e| MonitorError::CaptureFormat(format!("pcap header: {e:?}")))?;
                if header.network.0 != LINKTYPE_ETHERNET {
                    return Err(MonitorError::UnsupportedLinkType(header.network.0));
                }
                Inner::Pcap {
                    rem: bytes.get(24..).unwrap_or_default(),
                    big_endian: header.is_bigendian(),
                    nanos: header.is_nanosecond_precision(),
                }
            }
            CaptureFormat::PcapNg => {
                if bytes.len() < 28 {
                    return Err(MonitorError::CaptureFormat(
                        "pcapng section header cut off".into(),
                    ));
                }
                Inner::Ng {
                    rem: bytes,
                    big_endian: false,
                    ifaces: Vec::new(),
                }
            }
        };
        Ok(Self {
            inner,
            total: bytes.len(),
            number: 0,
            stats: CaptureStats::default(),
        })
    }

    /// Container counters so far.
    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// Bytes not yet consumed (classic pcap only; 0 when unknown). For progress bars.
    pub fn remaining_bytes(&self) -> usize {
        match &self.inner {
            Inner::Pcap { rem, .. } => rem.len(),
            _ => 0,
        }
    }

    /// Total size of the capture in bytes.
    pub fn total_bytes(&self) -> usize {
        self.total
    }

    fn next_pcap(&mut self) -> Option<Frame<'a>> {
        let Inner::Pcap {
            rem,
            big_endian,
            nanos,
        } = &mut self.inner
        else {
            return None;
        };
        if rem.is_empty() {
            self.inner = Inner::Done;
            return None;
        }
        let Some(hdr) = rem.get(..16) else {
            self.stats.truncated_tail = true;
            self.inner = Inner::Done;
            return None;
        };
        let field = |i: usize| {
            let b = [hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]];
            if *big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (sec, frac, caplen, orig) = (field(0), field(4), field(8) as usize, field(12));
        if caplen > MAX_RECORD {
            // No way to resynchronise inside a classic pcap: stop here.
            self.stats.skipped_records += 1;
            self.inner = Inner::Done;
            return None;
        }
        let Some(data) = rem.get(16..16 + caplen) else {
            self.stats.truncated_tail = true;
            self.inner = Inner::Done;
            return None;
        };
        let micros = if *nanos {
            i64::from(frac) / 1000
        } else {
            i64::from(frac)
        };
        *rem = &rem[16 + caplen..];
        self.number += 1;
        self.stats.frames += 1;
        Some(Frame {
            number: self.number,
            ts_us: i64::from(sec) * 1_000_000 + micros,
            data,
            orig_len: orig,
        })
    }

    fn next_ng(&mut self) -> Option<Frame<'a>> {
        loop {
            let Inner::Ng {
                rem,
                big_endian,
                ifaces,
            } = &mut self.inner
            else {
                return None;
            };
            if rem.is_empty() {
                self.inner = Inner::Done;
                return None;
            }
            // Walk the blocks here and hand pcap-parser exactly one block whose length was
            // checked (>= 12, a multiple of 4, inside the file): its own length arithmetic is
            // not safe on crafted lengths.
            if rem.len() < 12 {
                self.stats.truncated_tail = true;
                self.inner = Inner::Done;
                return None;
            }
            let raw = |i: usize| [rem[i], rem[i + 1], rem[i + 2], rem[i + 3]];
            if raw(0) == [0x0a, 0x0d, 0x0d, 0x0a] {
                match raw(8) {
                    [0x4d, 0x3c, 0x2b, 0x1a] => *big_endian = false,
                    [0x1a, 0x2b, 0x3c, 0x4d] => *big_endian = true,
                    _ => {
                        self.stats.skipped_records += 1;
                        self.inner = Inner::Done;
                        return None;
                    }
                }
            }
            let len = if *big_endian {
                u32::from_be_bytes(raw(4))
            } else {
                u32::from_le_bytes(raw(4))
            } as usize;
            if len < 12 || !len.is_multiple_of(4) {
                self.stats.skipped_records += 1;
                self.inner = Inner::Done;
                return None;
            }
            if len > rem.len() {
                self.stats.truncated_tail = true;
                self.inner = Inner::Done;
                return None;
            }
            let (one, rest) = rem.split_at(len);
            *rem = rest;
            let parsed = if *big_endian {
                parse_block_be(one)
            } else {
                parse_block_le(one)
            };
            let Ok((_, block)) = parsed else {
                self.stats.skipped_records += 1;
                continue;
            };
            match block {
                Block::SectionHeader(_) => ifaces.clear(),
                Block::InterfaceDescription(idb) => ifaces.push(NgIface {
                    ethernet: idb.linktype.0 == LINKTYPE_ETHERNET,
                    resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset: idb.ts_offset(),
                }),
                Block::EnhancedPacket(epb) => {
                    let iface = ifaces.get(epb.if_id as usize).copied();
                    let Some(iface) = iface.filter(|i| i.ethernet) else {
                        self.stats.skipped_records += 1;
                        continue;
                    };
                    let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let secs = (ts / iface.resolution) as i64;
                    let frac =
                        (ts % iface.resolution) as i128 * 1_000_000 / iface.resolution as i128;
                    let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
                    self.number += 1;
                    self.stats.frames += 1;
                    return Some(Frame {
                        number: self.number,
                        ts_us: (secs.saturating_add(iface.offset))
                            .saturating_mul(1_000_000)
                            .saturating_add(frac as i64),
                        data,
                        orig_len: epb.origlen,
                    });
                }
                Block::SimplePacket(spb) => {
                    let Some(iface) = ifaces.first().copied().filter(|i| i.ethernet) else {
                        self.stats.skipped_records += 1;
                        continue;
                    };
                    let _ = iface;
                    self.number += 1;
                    self.stats.frames += 1;
                    return Some(Frame {
                        number: self.number,
                        ts_us: 0,
                        data: spb.data,
                        orig_len: spb.origlen,
                    });
                }
                _ => {}
            }
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        match self.inner {
            Inner::Pcap { .. } => self.next_pcap(),
            Inner::Ng { .. } => self.next_ng(),
            Inner::Done => None,
        }
    }
}

/// Writes classic little-endian microsecond pcap files (Ethernet link type).
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header and returns the writer.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&(LINKTYPE_ETHERNET as u32).to_le_bytes());
        out.write_all(&h)?;
        Ok(Self { out })
    }

    /// Appends one frame captured at `ts_us` (microseconds since the epoch).
    pub fn write_frame(&mut self, ts_us: i64, data: &[u8]) -> std::io::Result<()> {
        let sec = ts_us.div_euclid(1_000_000) as u32;
        let usec = ts_us.rem_euclid(1_000_000) as u32;
        let len = u32::try_from(data.len()).map_err(std::io::Error::other)?;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&sec.to_le_bytes());
        h[4..8].copy_from_slice(&usec.to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Builds a classic pcap in memory from `(timestamp µs, frame bytes)` pairs (tests, benchmarks).
pub fn pcap_bytes<'f>(frames: impl IntoIterator<Item = (i64, &'f [u8])>) -> Vec<u8> {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    if let Ok(mut w) = PcapWriter::new(&mut buf) {
        for (ts, data) in frames {
            let _ = w.write_frame(ts, data);
        }
    }
    buf
}
