//! Decoding Ethernet frames into the few fields the monitor needs, borrowing the payload.
//!
//! Ethernet II, 802.1Q/802.1ad VLAN tags, ARP, IPv4, IPv6, TCP and UDP are decoded with
//! `etherparse` in lax mode; any other EtherType (GOOSE, PROFINET, LLDP, 802.3/LLC frames without
//! an EtherType) is kept as an L2 frame with its EtherType and payload. Nothing here allocates.

use std::net::{IpAddr, Ipv4Addr};

use etherparse::{LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

/// A MAC address.
pub type Mac = [u8; 6];

/// EtherType used for 802.3 frames whose type field is a length (LLC/SNAP, e.g. STP).
pub const ETHERTYPE_LLC: u16 = 0x0000;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// Transport header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP with ports and flags (bit 0 FIN, 1 SYN, 2 RST, 3 PSH, 4 ACK).
    Tcp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Flag bits (FIN=1, SYN=2, RST=4, PSH=8, ACK=16).
        flags: u8,
    },
    /// UDP ports.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// Any other IP protocol (ICMP, ...), by number.
    Other(u8),
}

/// TCP SYN flag bit in [`Transport::Tcp`] `flags`.
pub const TCP_SYN: u8 = 2;
/// TCP ACK flag bit in [`Transport::Tcp`] `flags`.
pub const TCP_ACK: u8 = 16;

/// Network layer of a decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// IPv4 or IPv6 with its transport.
    Ip {
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
        /// Transport.
        transport: Transport,
    },
    /// ARP for IPv4 over Ethernet.
    Arp {
        /// 1 request, 2 reply.
        op: u16,
        /// Sender hardware address (claimed).
        sender_mac: Mac,
        /// Sender protocol address (claimed).
        sender_ip: Ipv4Addr,
        /// Target protocol address.
        target_ip: Ipv4Addr,
    },
    /// Any other EtherType: an L2-only frame.
    L2,
}

/// A decoded frame; `payload` borrows from the capture buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Source MAC.
    pub src_mac: Mac,
    /// Destination MAC.
    pub dst_mac: Mac,
    /// Innermost VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// EtherType after any VLAN tags ([`ETHERTYPE_LLC`] for 802.3 length frames).
    pub ethertype: u16,
    /// Network layer.
    pub net: Net,
    /// Application payload: L4 payload for TCP/UDP, IP payload for other IP protocols, the
    /// EtherType payload for L2 frames. Ethernet padding is removed where a length says so.
    pub payload: &'a [u8],
    /// True when the capture cut the frame short (snap length); the payload is then partial.
    pub truncated: bool,
}

/// Why a frame could not be decoded (counted, never fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeIssue {
    /// Shorter than an Ethernet header.
    TooShort,
    /// A header (VLAN, IP, TCP, UDP, ARP) is cut off or inconsistent.
    Corrupt,
}

/// Counters kept while decoding.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecodeStats {
    /// Frames decoded.
    pub decoded: u64,
    /// Frames shorter than an Ethernet header.
    pub too_short: u64,
    /// Frames with a damaged header (skipped).
    pub corrupt: u64,
    /// Frames cut by the snap length (kept for inventory, payload not modelled).
    pub truncated: u64,
}

impl DecodeStats {
    /// Counts the outcome of one [`decode`] call.
    pub fn count(&mut self, r: &Result<Packet<'_>, DecodeIssue>) {
        match r {
            Ok(p) => {
                self.decoded += 1;
                if p.truncated {
                    self.truncated += 1;
                }
            }
            Err(DecodeIssue::TooShort) => self.too_short += 1,
            Err(DecodeIssue::Corrupt) => self.corrupt += 1,
        }
    }
}

fn mac(b: &[u8]) -> Mac {
    let mut m = [0u8; 6];
    if b.len() >= 6 {
        m.copy_from_slice(&b[..6]);
    }
    m
}

/// Decodes one Ethernet frame. Never panics, whatever the bytes.
pub fn decode(data: &[u8]) -> Result<Packet<'_>, DecodeIssue> {
    if data.len() < 14 {
        return Err(DecodeIssue::TooShort);
    }
    let src_mac = mac(&data[6..12]);
    let dst_mac = mac(&data[0..6]);
    let raw_type = u16::from_be_bytes([data[12], data[13]]);
    if raw_type < 0x0600 {
        // 802.3 frame: the field is a length, the payload is LLC.
        let end = (14 + raw_type as usize).min(data.len());
        return Ok(Packet {
            src_mac,
            dst_mac,
            vlan: None,
            ethertype: ETHERTYPE_LLC,
            net: Net::L2,
            payload: &data[14..end],
            truncated: 14 + (raw_type as usize) > data.len(),
        });
    }
    let sliced = LaxSlicedPacket::from_ethernet(data).map_err(|_| DecodeIssue::TooShort)?;
    let vlan = sliced.vlan_ids().last().map(|v| v.value());
    let Some(ether) = sliced.ether_payload() else {
        return Err(DecodeIssue::Corrupt);
    };
    let ethertype = ether.ether_type.0;
    if let Some(LinkSlice::Ethernet2(_)) = sliced.link {
    } else {
        return Err(DecodeIssue::Corrupt);
    }
    let mut truncated = ether.incomplete;
    let base = Packet {
        src_mac,
        dst_mac,
        vlan,
        ethertype,
        net: Net::L2,
        payload: ether.payload,
        truncated,
    };
    match &sliced.net {
        None => {
            if matches!(ethertype, 0x0800 | 0x86dd | ETHERTYPE_ARP) || sliced.stop_err.is_some() {
                return Err(DecodeIssue::Corrupt);
            }
            Ok(base)
        }
        Some(LaxNetSlice::Arp(arp)) => {
            if arp.hw_addr_size() != 6 || arp.proto_addr_size() != 4 {
                return Ok(base);
            }
            let ip4 = |b: &[u8]| match b {
                [a, b, c, d] => Ipv4Addr::new(*a, *b, *c, *d),
                _ => Ipv4Addr::UNSPECIFIED,
            };
            Ok(Packet {
                net: Net::Arp {
                    op: arp.operation().0,
                    sender_mac: mac(arp.sender_hw_addr()),
                    sender_ip: ip4(arp.sender_protocol_addr()),
                    target_ip: ip4(arp.target_protocol_addr()),
                },
                payload: &[],
                ..base
            })
        }
        Some(net) => {
            let (src, dst, ip_payload) = match net {
                LaxNetSlice::Ipv4(v4) => {
                    let h = v4.header();
                    (
                        IpAddr::V4(h.source_addr()),
                        IpAddr::V4(h.destination_addr()),
                        v4.payload(),
                    )
                }
                LaxNetSlice::Ipv6(v6) => {
                    let h = v6.header();
                    (
                        IpAddr::V6(h.source_addr()),
                        IpAddr::V6(h.destination_addr()),
                        v6.payload(),
                    )
                }
                LaxNetSlice::Arp(_) => return Ok(base),
            };
            truncated |= ip_payload.incomplete;
            let proto = ip_payload.ip_number.0;
            let (transport, payload) = match &sliced.transport {
                Some(TransportSlice::Tcp(t)) => {
                    let b = t.header_slice();
                    let flags = b.get(13).copied().unwrap_or(0) & 0x1f;
                    (
                        Transport::Tcp {
                            sport: t.source_port(),
                            dport: t.destination_port(),
                            flags,
                        },
                        t.payload(),
                    )
                }
                Some(TransportSlice::Udp(u)) => (
                    Transport::Udp {
                        sport: u.source_port(),
                        dport: u.destination_port(),
                    },
                    u.payload(),
                ),
                _ => {
                    if (proto == PROTO_TCP || proto == PROTO_UDP) && !ip_payload.fragmented {
                        // The TCP/UDP header itself is damaged or cut off.
                        return Err(DecodeIssue::Corrupt);
                    }
                    (Transport::Other(proto), ip_payload.payload)
                }
            };
            Ok(Packet {
                net: Net::Ip {
                    src,
                    dst,
                    transport,
                },
                payload,
                truncated,
                ..base
            })
        }
    }
}
