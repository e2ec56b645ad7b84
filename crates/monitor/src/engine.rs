//! The monitor: inventory, links, message and timing models, cause estimation, alerts.
//!
//! [`Monitor::process`] takes one frame and returns the alerts it raised. A monitor starts either
//! empty ([`Monitor::learning`]: everything is learned, nothing alerts until links switch to
//! protection) or from a saved [`Model`] ([`Monitor::from_model`]: inventory changes alert at
//! once, learned links are protected, new links learn and switch by themselves after enough clean
//! messages).

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;

use foldhash::HashMap;
use serde::{Deserialize, Serialize};

use crate::alert::{
    Alert, AlertInfo, Cause, Ether, EventType, Violation, format_mac, format_timestamp,
};
use crate::capture::Frame;
use crate::decode::{DecodeStats, Mac, Net, Packet, TCP_ACK, TCP_SYN, Transport, decode};
use crate::error::{MonitorError, Result};
use crate::msgmodel::{DirLearner, DirModel, merge_learners};
use crate::plan::{PlanVerdict, StandardCommands, WorkPlan, offset_name};
use crate::timing::{FEATURE_NAMES, LinkTiming, TimingLearner, TimingModel, feature_is_timing};

/// Model file format name.
pub const MODEL_FORMAT: &str = "shinrai-monitor-model";
/// Model file format version.
pub const MODEL_VERSION: u32 = 1;
/// Default command zone: payload offsets below this with a fixed value are command bytes.
pub const COMMAND_ZONE: usize = 8;

/// A link: client and server with protocol and server port, or an L2 channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LinkKey {
    /// IP traffic.
    Ip {
        /// Client address.
        client: IpAddr,
        /// Server address.
        server: IpAddr,
        /// IP protocol number (6 TCP, 17 UDP, ...).
        proto: u8,
        /// Server port (0 for protocols without ports).
        port: u16,
    },
    /// An L2-only channel (GOOSE, PROFINET, LLDP, STP...).
    L2 {
        /// Source MAC.
        src: Mac,
        /// Destination MAC.
        dst: Mac,
        /// EtherType (0 for 802.3/LLC).
        ethertype: u16,
    },
}

impl fmt::Display for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkKey::Ip {
                client,
                server,
                proto,
                port,
            } => {
                write!(
                    f,
                    "{client} -> {server} {}/{port}",
                    proto_name(*proto).to_lowercase()
                )
            }
            LinkKey::L2 {
                src,
                dst,
                ethertype,
            } => {
                write!(
                    f,
                    "{} -> {} ethertype 0x{ethertype:04x}",
                    format_mac(src),
                    format_mac(dst)
                )
            }
        }
    }
}

fn proto_name(p: u8) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        58 => "IPv6-ICMP".into(),
        n => format!("IP-{n}"),
    }
}

/// Per-link mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Building the model; only inventory, work plan and device-level command checks alert.
    Learning,
    /// Checking against the model.
    Protecting,
}

/// Tuning of a [`Monitor`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Switch a learning link to protection by itself (otherwise only by hand / at save).
    pub auto_protect: bool,
    /// Messages per direction before a link may switch.
    pub auto_protect_messages: u64,
    /// Consecutive messages that taught nothing new before a link may switch.
    pub auto_protect_stable: u64,
    /// For a monitor started empty: inventory changes alert after this long (µs). `None`: never.
    pub inventory_learning_us: Option<i64>,
    /// Identical alerts (same link, causes and offsets) within this window are suppressed (µs).
    pub dedup_us: i64,
    /// New-link alerts per client within 10 s before further ones are suppressed (scans).
    pub new_link_burst: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            auto_protect: true,
            auto_protect_messages: 1000,
            auto_protect_stable: 300,
            inventory_learning_us: Some(3_600_000_000),
            dedup_us: 10_000_000,
            new_link_burst: 5,
        }
    }
}

/// A learned IP asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRecord {
    /// IP address.
    pub ip: IpAddr,
    /// MACs it sent from (usually one).
    pub macs: Vec<String>,
    /// First seen (µs).
    pub first_us: i64,
    /// Last seen (µs).
    pub last_us: i64,
    /// Longest silence, including up to the end of learning (µs).
    pub max_gap_us: i64,
}

/// A learned MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacRecord {
    /// MAC address.
    pub mac: String,
    /// IPs it sent from (up to 8).
    pub ips: Vec<IpAddr>,
    /// Number of IPs (more than 1: a router or a multi-homed host).
    pub n_ips: u32,
}

/// A learned link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// The link.
    pub key: LinkKey,
    /// Mode to resume in.
    pub mode: Mode,
    /// First packet of the link during learning (µs).
    #[serde(default)]
    pub first_us: i64,
    /// Packets learned.
    pub packets: u64,
    /// Bytes learned.
    pub bytes: u64,
    /// Message model client to server (or source to destination for L2).
    pub to_server: Option<DirModel>,
    /// Message model server to client.
    pub to_client: Option<DirModel>,
    /// Timing model.
    pub timing: Option<TimingModel>,
}

/// Device-level standard commands: messages to one service from every client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// Server address.
    pub server: IpAddr,
    /// IP protocol.
    pub proto: u8,
    /// Port.
    pub port: u16,
    /// Model of client-to-server messages over all clients.
    pub commands: Option<DirModel>,
}

/// A saved model (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// [`MODEL_VERSION`].
    pub version: u32,
    /// First packet learned (µs).
    pub start_us: i64,
    /// Last packet learned (µs).
    pub end_us: i64,
    /// IP assets.
    pub assets: Vec<AssetRecord>,
    /// MACs.
    pub macs: Vec<MacRecord>,
    /// Links.
    pub links: Vec<LinkRecord>,
    /// Services with their standard commands.
    pub services: Vec<ServiceRecord>,
}

impl Model {
    /// Parses a model file.
    pub fn from_json(text: &str) -> Result<Self> {
        let m: Model = serde_json::from_str(text).map_err(|e| MonitorError::InvalidConfig {
            what: "model",
            reason: e.to_string(),
        })?;
        if m.format != MODEL_FORMAT {
            return Err(MonitorError::InvalidConfig {
                what: "model",
                reason: format!("format `{}`", m.format),
            });
        }
        if m.version != MODEL_VERSION {
            return Err(MonitorError::ModelVersion {
                found: m.version,
                expected: MODEL_VERSION,
            });
        }
        Ok(m)
    }

    /// Serialises to JSON.
    pub fn to_json(&self) -> String {
        // Plain data: serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn parse_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

#[derive(Debug, Clone)]
struct Asset {
    macs: Vec<Mac>,
    first_us: i64,
    last_us: i64,
    max_gap_us: i64,
    learned: bool,
    gone: bool,
}

#[derive(Debug, Clone, Default)]
struct MacAsset {
    ips: Vec<IpAddr>,
    n_ips: u32,
}

#[derive(Debug, Clone)]
struct Link {
    key: LinkKey,
    mode: Mode,
    first_us: i64,
    last_us: i64,
    packets: u64,
    bytes: u64,
    max_gap_us: i64,
    silent: bool,
    learners: [Option<Box<DirLearner>>; 2],
    models: [Option<DirModel>; 2],
    timing: LinkTiming,
    tlearn: Option<Box<TimingLearner>>,
    tmodel: Option<TimingModel>,
}

impl Link {
    fn new(key: LinkKey, ts: i64) -> Self {
        Self {
            key,
            mode: Mode::Learning,
            first_us: ts,
            last_us: ts,
            packets: 0,
            bytes: 0,
            max_gap_us: 0,
            silent: false,
            learners: [Some(Box::default()), Some(Box::default())],
            models: [None, None],
            timing: LinkTiming::default(),
            tlearn: Some(Box::default()),
            tmodel: None,
        }
    }

    fn finalize(&mut self, end_us: i64) {
        let gap = self.max_gap_us.max(end_us - self.last_us);
        for d in 0..2 {
            if let Some(l) = &self.learners[d]
                && l.seen() > 0
            {
                self.models[d] = Some(l.build());
            }
        }
        if let Some(t) = &self.tlearn {
            self.tmodel = Some(t.build(gap));
        }
        self.max_gap_us = gap;
        self.mode = Mode::Protecting;
    }
}

/// Counters reported at the end of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Frames processed.
    pub frames: u64,
    /// Decoding counters.
    pub decode: DecodeStats,
    /// IP assets known.
    pub assets: usize,
    /// Links known.
    pub links: usize,
    /// Links in protection.
    pub protected_links: usize,
    /// Alerts raised.
    pub alerts: u64,
    /// Alerts suppressed as duplicates or scan bursts.
    pub suppressed: u64,
    /// Alerts per cause.
    pub by_cause: std::collections::BTreeMap<String, u64>,
    /// Anomaly score over time: (minute start, µs; highest score in that minute).
    pub score_per_minute: Vec<(i64, f64)>,
}

/// The monitor.
pub struct Monitor {
    opts: Options,
    links: Vec<Link>,
    index: HashMap<LinkKey, u32>,
    services: HashMap<(IpAddr, u8, u16), Option<DirModel>>,
    ips: HashMap<IpAddr, Asset>,
    macs: HashMap<Mac, MacAsset>,
    inventory_protect: bool,
    inventory_protect_at: Option<i64>,
    plan: Option<WorkPlan>,
    std_cmds: Option<StandardCommands>,
    alerts: Vec<Alert>,
    dedup: HashMap<u64, i64>,
    bursts: HashMap<IpAddr, (i64, u32)>,
    start_us: Option<i64>,
    now_us: i64,
    last_sweep_us: i64,
    summary: Summary,
    refine: bool,
    model_start_us: Option<i64>,
}

const SILENCE_MIN_US: i64 = 30_000_000;
const GONE_MIN_US: i64 = 60_000_000;

impl Monitor {
    /// An empty monitor that learns everything. With `opts.auto_protect`, links switch to
    /// protection by themselves; inventory alerts start after `opts.inventory_learning_us`.
    pub fn learning(opts: Options) -> Self {
        Self {
            opts,
            links: Vec::new(),
            index: HashMap::default(),
            services: HashMap::default(),
            ips: HashMap::default(),
            macs: HashMap::default(),
            inventory_protect: false,
            inventory_protect_at: None,
            plan: None,
            std_cmds: None,
            alerts: Vec::new(),
            dedup: HashMap::default(),
            bursts: HashMap::default(),
            start_us: None,
            now_us: i64::MIN,
            last_sweep_us: i64::MIN,
            summary: Summary::default(),
            refine: false,
            model_start_us: None,
        }
    }

    /// A monitor protecting with a saved model: inventory changes alert at once.
    pub fn from_model(model: &Model, opts: Options) -> Result<Self> {
        let mut m = Self::learning(opts);
        m.inventory_protect = true;
        m.model_start_us = Some(model.start_us);
        for a in &model.assets {
            let macs = a
                .macs
                .iter()
                .map(|s| {
                    parse_mac(s).ok_or_else(|| MonitorError::InvalidConfig {
                        what: "model",
                        reason: format!("MAC `{s}`"),
                    })
                })
                .collect::<Result<Vec<Mac>>>()?;
            m.ips.insert(
                a.ip,
                Asset {
                    macs,
                    first_us: a.first_us,
                    last_us: a.last_us,
                    max_gap_us: a.max_gap_us,
                    learned: true,
                    gone: false,
                },
            );
        }
        for r in &model.macs {
            let mac = parse_mac(&r.mac).ok_or_else(|| MonitorError::InvalidConfig {
                what: "model",
                reason: format!("MAC `{}`", r.mac),
            })?;
            m.macs.insert(
                mac,
                MacAsset {
                    ips: r.ips.clone(),
                    n_ips: r.n_ips,
                },
            );
        }
        for s in &model.services {
            m.services
                .insert((s.server, s.proto, s.port), s.commands.clone());
        }
        for r in &model.links {
            let mut l = Link::new(r.key, model.end_us);
            l.first_us = r.first_us;
            l.mode = r.mode;
            if r.mode == Mode::Protecting {
                l.learners = [None, None];
                l.tlearn = None;
            }
            l.models = [r.to_server.clone(), r.to_client.clone()];
            l.tmodel = r.timing.clone();
            l.max_gap_us = r.timing.as_ref().map_or(0, |t| t.max_gap_us);
            l.packets = 0;
            m.index.insert(r.key, m.links.len() as u32);
            m.links.push(l);
        }
        Ok(m)
    }

    /// Adds a work plan: governed commands outside it alert as `not_in_work_plan`.
    pub fn set_work_plan(&mut self, plan: WorkPlan) {
        self.plan = Some(plan);
    }

    /// Adds the engineer's standard commands.
    pub fn set_standard_commands(&mut self, s: StandardCommands) {
        self.std_cmds = Some(s);
    }

    /// Switches every learning link to protection now (by hand), and the inventory too.
    pub fn protect_all(&mut self) {
        let end = self.now_us;
        for l in &mut self.links {
            if l.mode == Mode::Learning {
                l.finalize(end);
            }
        }
        self.build_services();
        self.inventory_protect = true;
    }

    /// Ends the first learning pass over a capture: builds every model, then accept
    /// [`Monitor::refine`] calls (second pass) before [`Monitor::to_model`].
    pub fn finish_learning_pass(&mut self) {
        let end = self.now_us;
        for l in &mut self.links {
            l.finalize(end);
        }
        for a in self.ips.values_mut() {
            a.max_gap_us = a.max_gap_us.max(end - a.last_us);
        }
        self.build_services();
        self.refine = true;
    }

    fn build_services(&mut self) {
        let mut by_service: HashMap<(IpAddr, u8, u16), Vec<usize>> = HashMap::default();
        for (i, l) in self.links.iter().enumerate() {
            if let LinkKey::Ip {
                server,
                proto,
                port,
                ..
            } = l.key
            {
                by_service.entry((server, proto, port)).or_default().push(i);
            }
        }
        for (k, idx) in by_service {
            let learners: Vec<&DirLearner> = idx
                .iter()
                .filter_map(|i| self.links[*i].learners[0].as_deref())
                .filter(|l| l.seen() > 0)
                .collect();
            if learners.is_empty() {
                self.services.entry(k).or_insert(None);
                continue;
            }
            self.services
                .insert(k, Some(merge_learners(learners.into_iter())));
        }
    }

    /// Second learning pass: adds every message to the chosen message types' profiles.
    pub fn refine(&mut self, frame: &Frame<'_>) {
        let Ok(pkt) = decode(frame.data) else { return };
        if pkt.payload.is_empty() || pkt.truncated {
            return;
        }
        let Some((key, dir)) = self.link_key(&pkt) else {
            return;
        };
        let Some(&i) = self.index.get(&key) else {
            return;
        };
        let l = &mut self.links[i as usize];
        if let Some(m) = &mut l.models[dir] {
            m.absorb(pkt.payload);
        }
        if dir == 0
            && let LinkKey::Ip {
                server,
                proto,
                port,
                ..
            } = key
            && let Some(Some(m)) = self.services.get_mut(&(server, proto, port))
        {
            m.absorb(pkt.payload);
        }
    }

    /// The model learned so far (learning links are saved as such and restart learning).
    pub fn to_model(&self) -> Model {
        let mut assets: Vec<AssetRecord> = self
            .ips
            .iter()
            .map(|(ip, a)| AssetRecord {
                ip: *ip,
                macs: a.macs.iter().map(format_mac).collect(),
                first_us: a.first_us,
                last_us: a.last_us,
                max_gap_us: a.max_gap_us,
            })
            .collect();
        assets.sort_by_key(|a| a.ip);
        let mut macs: Vec<MacRecord> = self
            .macs
            .iter()
            .map(|(m, a)| MacRecord {
                mac: format_mac(m),
                ips: a.ips.clone(),
                n_ips: a.n_ips,
            })
            .collect();
        macs.sort_by(|a, b| a.mac.cmp(&b.mac));
        let links = self
            .links
            .iter()
            .map(|l| LinkRecord {
                key: l.key,
                mode: l.mode,
                first_us: l.first_us,
                packets: l.packets,
                bytes: l.bytes,
                to_server: l.models[0].clone(),
                to_client: l.models[1].clone(),
                timing: l.tmodel.clone(),
            })
            .collect();
        let mut services: Vec<ServiceRecord> = self
            .services
            .iter()
            .map(|((server, proto, port), m)| ServiceRecord {
                server: *server,
                proto: *proto,
                port: *port,
                commands: m.clone(),
            })
            .collect();
        services.sort_by_key(|s| (s.server, s.proto, s.port));
        Model {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            start_us: self.start_us.unwrap_or(0),
            end_us: self.now_us.max(self.start_us.unwrap_or(0)),
            assets,
            macs,
            links,
            services,
        }
    }

    /// Counters and the score series.
    pub fn summary(&self) -> Summary {
        let mut s = self.summary.clone();
        s.assets = self.ips.len();
        s.links = self.links.len();
        s.protected_links = self
            .links
            .iter()
            .filter(|l| l.mode == Mode::Protecting)
            .count();
        s
    }

    /// Decides link and direction (0 client->server, 1 server->client).
    fn link_key(&self, pkt: &Packet<'_>) -> Option<(LinkKey, usize)> {
        match pkt.net {
            Net::Arp { .. } => None,
            Net::L2 => Some((
                LinkKey::L2 {
                    src: pkt.src_mac,
                    dst: pkt.dst_mac,
                    ethertype: pkt.ethertype,
                },
                0,
            )),
            Net::Ip {
                src,
                dst,
                transport,
            } => {
                let (proto, sport, dport, flags) = match transport {
                    Transport::Tcp {
                        sport,
                        dport,
                        flags,
                    } => (6u8, sport, dport, Some(flags)),
                    Transport::Udp { sport, dport } => (17u8, sport, dport, None),
                    Transport::Other(p) => (p, 0, 0, None),
                };
                let to_dst = if let Some(f) = flags.filter(|f| f & TCP_SYN != 0) {
                    f & TCP_ACK == 0
                } else if self.services.contains_key(&(dst, proto, dport)) {
                    true
                } else if self.services.contains_key(&(src, proto, sport)) {
                    false
                } else if sport == dport {
                    true
                } else {
                    dport < sport
                };
                Some(if to_dst {
                    (
                        LinkKey::Ip {
                            client: src,
                            server: dst,
                            proto,
                            port: dport,
                        },
                        0,
                    )
                } else {
                    (
                        LinkKey::Ip {
                            client: dst,
                            server: src,
                            proto,
                            port: sport,
                        },
                        1,
                    )
                })
            }
        }
    }

    /// Processes one frame; returns the alerts it raised (valid until the next call).
    pub fn process(&mut self, frame: &Frame<'_>) -> &[Alert] {
        self.alerts.clear();
        self.summary.frames += 1;
        let ts = frame.ts_us;
        if self.start_us.is_none() {
            self.start_us = Some(ts);
            // Silence and absence count from the start of monitoring, not from the end of
            // learning (a model is often loaded hours later): each asset and link is expected
            // as long after the start as it first appeared after the start of learning.
            if let Some(m0) = self.model_start_us {
                for a in self.ips.values_mut() {
                    a.last_us = ts.saturating_add((a.first_us - m0).max(0));
                }
                for l in &mut self.links {
                    l.last_us = ts.saturating_add((l.first_us - m0).max(0));
                }
            }
            if let Some(d) = self.opts.inventory_learning_us
                && !self.inventory_protect
            {
                self.inventory_protect_at = Some(ts.saturating_add(d));
            }
        }
        if ts > self.now_us {
            self.now_us = ts;
        }
        if let Some(at) = self.inventory_protect_at
            && self.now_us >= at
        {
            self.inventory_protect = true;
            self.inventory_protect_at = None;
        }
        let r = decode(frame.data);
        self.summary.decode.count(&r);
        let Ok(pkt) = r else { return &self.alerts };
        if self.now_us.saturating_sub(self.last_sweep_us) >= 1_000_000 {
            self.last_sweep_us = self.now_us;
            self.sweep(frame, &pkt);
        }
        self.inventory(frame, &pkt);
        if let Some((key, dir)) = self.link_key(&pkt) {
            self.link_packet(frame, &pkt, key, dir);
        }
        &self.alerts
    }

    /// Call at the end of a capture: last silence checks. Returns the alerts raised.
    pub fn finish(&mut self) -> &[Alert] {
        self.alerts.clear();
        &self.alerts
    }

    fn note_score(&mut self, ts: i64, score: f64) {
        let minute = ts.div_euclid(60_000_000) * 60_000_000;
        match self.summary.score_per_minute.last_mut() {
            Some((m, s)) if *m == minute => *s = s.max(score),
            _ => {
                if self.summary.score_per_minute.len() < 100_000 {
                    self.summary.score_per_minute.push((minute, score));
                }
            }
        }
    }

    fn inventory(&mut self, frame: &Frame<'_>, pkt: &Packet<'_>) {
        let ts = frame.ts_us;
        let (ip, mac) = match pkt.net {
            Net::Arp {
                sender_mac,
                sender_ip,
                ..
            } => (Some(IpAddr::V4(sender_ip)), sender_mac),
            Net::Ip { src, .. } => (Some(src), pkt.src_mac),
            Net::L2 => (None, pkt.src_mac),
        };
        if mac[0] & 1 != 0 || mac == [0; 6] {
            return;
        }
        let ip = ip.filter(|ip| {
            !ip.is_unspecified()
                && !ip.is_multicast()
                && ip != &IpAddr::V4(std::net::Ipv4Addr::BROADCAST)
        });
        let mac_known = self.macs.contains_key(&mac);
        let protect = self.inventory_protect;
        let mut raised = false;
        if let Some(ip) = ip {
            match self.ips.get_mut(&ip) {
                Some(a) => {
                    let gap = ts - a.last_us;
                    if !self.refine && gap > a.max_gap_us && !protect {
                        a.max_gap_us = gap;
                    }
                    a.last_us = a.last_us.max(ts);
                    a.gone = false;
                    if !a.macs.contains(&mac) {
                        let old = a.macs.first().copied().unwrap_or_default();
                        let router = self.macs.get(&old).is_some_and(|m| m.n_ips > 2);
                        if protect && !router {
                            let mut causes = vec![Cause::AddressChange];
                            if !mac_known {
                                causes.push(Cause::NewDevice);
                            }
                            let detail = format!(
                                "IP {ip} now sent from MAC {} (learned MAC {}){}",
                                format_mac(&mac),
                                format_mac(&old),
                                if matches!(pkt.net, Net::Arp { .. }) {
                                    ": ARP claim, possible ARP spoofing"
                                } else {
                                    ""
                                }
                            );
                            self.emit(
                                EventType::ConfigChange,
                                frame,
                                pkt,
                                None,
                                0.95,
                                causes,
                                vec![],
                                detail,
                                vec![],
                                hash_of(&(1u8, ip, mac)),
                            );
                            raised = true;
                        } else if !protect && a.macs.len() < 8 {
                            a.macs.push(mac);
                        }
                    }
                }
                None => {
                    self.ips.insert(
                        ip,
                        Asset {
                            macs: vec![mac],
                            first_us: ts,
                            last_us: ts,
                            max_gap_us: 0,
                            learned: !protect,
                            gone: false,
                        },
                    );
                    if protect {
                        let mut causes = vec![Cause::NewDevice];
                        let mut detail = format!("new device {ip} (MAC {})", format_mac(&mac));
                        if let Some(m) = self.macs.get(&mac)
                            && m.n_ips == 1
                        {
                            causes.push(Cause::AddressChange);
                            detail.push_str(&format!(
                                "; this MAC was {}",
                                m.ips.first().map(|i| i.to_string()).unwrap_or_default()
                            ));
                        }
                        self.emit(
                            EventType::ConfigChange,
                            frame,
                            pkt,
                            None,
                            0.9,
                            causes,
                            vec![],
                            detail,
                            vec![],
                            hash_of(&(2u8, ip)),
                        );
                        raised = true;
                    }
                }
            }
        }
        let m = self.macs.entry(mac).or_default();
        if let Some(ip) = ip
            && !m.ips.contains(&ip)
        {
            m.n_ips += 1;
            if m.ips.len() < 8 {
                m.ips.push(ip);
            }
        }
        if !mac_known && protect && !raised {
            let detail = format!("new device with MAC {}", format_mac(&mac));
            self.emit(
                EventType::ConfigChange,
                frame,
                pkt,
                None,
                0.9,
                vec![Cause::NewDevice],
                vec![],
                detail,
                vec![],
                hash_of(&(3u8, mac)),
            );
        }
    }

    fn sweep(&mut self, frame: &Frame<'_>, pkt: &Packet<'_>) {
        let now = self.now_us;
        let mut silent = Vec::new();
        for (i, l) in self.links.iter_mut().enumerate() {
            // Only links that polled periodically during learning can fall silent; a one-off
            // (an IGMP report, a single DNS query) has no rhythm to miss.
            let periodic = l.tmodel.as_ref().is_some_and(|t| t.bands[3].is_some());
            if l.mode != Mode::Protecting || l.silent || !periodic {
                continue;
            }
            let limit = (3 * l.max_gap_us).max(SILENCE_MIN_US);
            if now - l.last_us > limit {
                l.silent = true;
                silent.push((i, now - l.last_us, l.max_gap_us));
            }
        }
        for (i, gap, max_gap) in silent {
            let key = self.links[i].key;
            let detail = format!(
                "link {key} silent for {:.1} s (longest learned gap {:.1} s)",
                gap as f64 * 1e-6,
                max_gap as f64 * 1e-6
            );
            self.emit(
                EventType::Anomaly,
                frame,
                pkt,
                Some(key),
                0.7,
                vec![Cause::Timing],
                vec![],
                detail,
                vec![],
                hash_of(&(4u8, i)),
            );
        }
        if !self.inventory_protect {
            return;
        }
        let mut gone = Vec::new();
        for (ip, a) in self.ips.iter_mut() {
            if !a.learned || a.gone {
                continue;
            }
            let limit = (3 * a.max_gap_us).max(GONE_MIN_US);
            if now - a.last_us > limit {
                a.gone = true;
                gone.push((
                    *ip,
                    now - a.last_us,
                    a.macs.first().copied().unwrap_or_default(),
                ));
            }
        }
        for (ip, gap, mac) in gone {
            let detail = format!(
                "device {ip} (MAC {}) silent for {:.0} s: gone?",
                format_mac(&mac),
                gap as f64 * 1e-6
            );
            self.emit(
                EventType::ConfigChange,
                frame,
                pkt,
                None,
                0.6,
                vec![Cause::DeviceGone],
                vec![],
                detail,
                vec![],
                hash_of(&(5u8, ip)),
            );
        }
    }

    fn link_packet(&mut self, frame: &Frame<'_>, pkt: &Packet<'_>, key: LinkKey, dir: usize) {
        let ts = frame.ts_us;
        let idx = match self.index.get(&key) {
            Some(i) => *i as usize,
            None => {
                let i = self.links.len();
                self.links.push(Link::new(key, ts));
                self.index.insert(key, i as u32);
                if self.inventory_protect {
                    self.new_link_alert(frame, pkt, key);
                }
                if let LinkKey::Ip {
                    server,
                    proto,
                    port,
                    ..
                } = key
                {
                    self.services.entry((server, proto, port)).or_insert(None);
                }
                i
            }
        };
        let auto = self.opts.auto_protect;
        let (min_msgs, stable) = (
            self.opts.auto_protect_messages,
            self.opts.auto_protect_stable,
        );
        let l = &mut self.links[idx];
        if l.packets > 0 {
            let gap = ts - l.last_us;
            if l.mode == Mode::Learning && gap > l.max_gap_us {
                l.max_gap_us = gap;
            }
        }
        l.packets += 1;
        l.bytes += frame.data.len() as u64;
        l.last_us = l.last_us.max(ts);
        l.silent = false;
        let request = dir == 0 && !pkt.payload.is_empty();
        let feats = l.timing.update(ts, frame.data.len(), request);
        let mut timing_findings = [None; crate::timing::FEATURES];
        match l.mode {
            Mode::Learning => {
                if let Some(t) = &mut l.tlearn {
                    t.add(&feats);
                }
            }
            Mode::Protecting => {
                if let Some(tm) = &l.tmodel {
                    let (f, s) = tm.check(&feats);
                    timing_findings = f;
                    if s > 0.0 {
                        let minute = ts;
                        self.note_score(minute, s);
                    }
                }
            }
        }
        for f in timing_findings.into_iter().flatten() {
            let cause = if feature_is_timing(f.feature) {
                Cause::Timing
            } else {
                Cause::Volume
            };
            let detail = format!(
                "{} {:.3} outside learned {:.3}..{:.3} (median {:.3})",
                FEATURE_NAMES[f.feature], f.value, f.band.min, f.band.max, f.band.median
            );
            self.emit(
                EventType::Anomaly,
                frame,
                pkt,
                Some(key),
                f.score,
                vec![cause],
                vec![],
                detail,
                vec![],
                hash_of(&(6u8, idx, f.feature)),
            );
        }
        let zone = self.command_zone(key);
        let l = &mut self.links[idx];
        // Message model.
        if !pkt.payload.is_empty() && !pkt.truncated {
            match l.mode {
                Mode::Learning => {
                    if let Some(lr) = &mut l.learners[dir] {
                        lr.add(pkt.payload);
                    }
                    if auto && ready(l, min_msgs, stable) {
                        l.finalize(ts);
                    }
                    if dir == 0 && self.inventory_protect {
                        self.check_service_commands(frame, pkt, key);
                    }
                }
                Mode::Protecting => {
                    match l.models[dir].as_ref().map(|m| m.check(pkt.payload, zone.0)) {
                        Some(Some(f)) => self.message_alert(frame, pkt, key, dir, f, zone.1),
                        Some(None) => {}
                        None => {
                            // A direction that never carried payload during learning.
                            let detail = format!(
                                "{key}: payload of {} bytes in a direction that never carried payload",
                                pkt.payload.len()
                            );
                            let dk = hash_of(&(7u8, idx, dir));
                            self.emit(
                                EventType::Anomaly,
                                frame,
                                pkt,
                                Some(key),
                                0.8,
                                vec![Cause::NotStandardCommand],
                                vec![],
                                detail,
                                vec![],
                                dk,
                            );
                        }
                    }
                }
            }
        }
        // Work plan.
        if dir == 0
            && !pkt.payload.is_empty()
            && let (
                Some(plan),
                LinkKey::Ip {
                    server,
                    port,
                    proto,
                    ..
                },
            ) = (&self.plan, key)
            && let PlanVerdict::Violation { offsets, detail } =
                plan.check(server, port, pkt.payload, ts)
        {
            let violations = offsets
                .iter()
                .map(|o| Violation {
                    offset: *o,
                    name: offset_name(proto, port, true, *o).map(str::to_string),
                    expected: "per work plan".into(),
                    seen: pkt
                        .payload
                        .get(*o as usize)
                        .map_or("absent".into(), |b| format!("0x{b:02x}")),
                })
                .collect();
            self.emit(
                EventType::Anomaly,
                frame,
                pkt,
                Some(key),
                0.9,
                vec![Cause::NotInWorkPlan],
                offsets,
                detail,
                violations,
                hash_of(&(8u8, idx)),
            );
        }
    }

    fn command_zone(&self, key: LinkKey) -> (usize, Option<Vec<u32>>) {
        if let (Some(s), LinkKey::Ip { server, port, .. }) = (&self.std_cmds, key)
            && let Some(d) = s.device(server, port)
            && !d.command_offsets.is_empty()
        {
            return (0, Some(d.command_offsets.clone()));
        }
        (COMMAND_ZONE, None)
    }

    fn check_service_commands(&mut self, frame: &Frame<'_>, pkt: &Packet<'_>, key: LinkKey) {
        let LinkKey::Ip {
            server,
            proto,
            port,
            ..
        } = key
        else {
            return;
        };
        let Some(Some(m)) = self.services.get(&(server, proto, port)) else {
            return;
        };
        let zone = self.command_zone(key);
        if let Some(f) = m.check(pkt.payload, zone.0)
            && (f.new_command || zone.1.is_some())
        {
            self.message_alert(frame, pkt, key, 0, f, zone.1);
        }
    }

    fn message_alert(
        &mut self,
        frame: &Frame<'_>,
        pkt: &Packet<'_>,
        key: LinkKey,
        dir: usize,
        mut f: crate::msgmodel::Finding,
        command_offsets: Option<Vec<u32>>,
    ) {
        let (proto, port, server) = match key {
            LinkKey::Ip {
                proto,
                port,
                server,
                ..
            } => (proto, port, Some(server)),
            LinkKey::L2 { .. } => (0, 0, None),
        };
        if let Some(co) = &command_offsets {
            for v in &mut f.violations {
                v.command = co.contains(&v.offset);
            }
            f.new_command =
                f.violations.iter().any(|v| v.command) || (!f.known_type && f.new_command);
        }
        let standard = match (&self.std_cmds, server) {
            (Some(s), Some(server)) if dir == 0 => {
                s.is_standard(server, port, pkt.payload).map(str::to_string)
            }
            _ => None,
        };
        if let Some(name) = &standard {
            // The engineer declared this command standard: only value violations remain.
            f.violations.retain(|v| !v.command);
            f.new_command = false;
            if f.violations.is_empty() {
                return;
            }
            f.summary = format!("standard command '{name}' with {}", f.summary);
        }
        let cause = if f.new_command {
            Cause::NotStandardCommand
        } else {
            Cause::UnusualValue
        };
        let offsets: Vec<u32> = f.violations.iter().map(|v| v.offset).collect();
        let parts: Vec<String> = f
            .violations
            .iter()
            .take(8)
            .map(|v| {
                let name = offset_name(proto, port, dir == 0, v.offset)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                format!(
                    "offset {}{name}: expected {}, seen {}",
                    v.offset, v.expected, v.seen
                )
            })
            .collect();
        let dirname = if dir == 0 { "to server" } else { "to client" };
        let detail = if parts.is_empty() {
            format!("{} {dirname}: {}", key, f.summary)
        } else {
            format!("{} {dirname}: {}; {}", key, f.summary, parts.join("; "))
        };
        let violations = f
            .violations
            .iter()
            .map(|v| Violation {
                offset: v.offset,
                name: offset_name(proto, port, dir == 0, v.offset).map(str::to_string),
                expected: v.expected.clone(),
                seen: v.seen.clone(),
            })
            .collect();
        let score = if cause == Cause::NotStandardCommand {
            0.85
        } else {
            0.7
        };
        let idx = self.index.get(&key).copied().unwrap_or(u32::MAX);
        let seen: Vec<&str> = f.violations.iter().map(|v| v.seen.as_str()).collect();
        let dk = hash_of(&(9u8, idx, dir, cause, &offsets, seen));
        self.emit(
            EventType::Anomaly,
            frame,
            pkt,
            Some(key),
            score,
            vec![cause],
            offsets,
            detail,
            violations,
            dk,
        );
    }

    fn new_link_alert(&mut self, frame: &Frame<'_>, pkt: &Packet<'_>, key: LinkKey) {
        let ts = frame.ts_us;
        let client = match key {
            LinkKey::Ip { client, .. } => Some(client),
            LinkKey::L2 { .. } => None,
        };
        if let Some(c) = client {
            let e = self.bursts.entry(c).or_insert((ts, 0));
            if ts - e.0 > 10_000_000 {
                *e = (ts, 0);
            }
            e.1 += 1;
            if e.1 > self.opts.new_link_burst {
                self.summary.suppressed += 1;
                return;
            }
        }
        let mut detail = format!("new link {key}");
        if let LinkKey::Ip {
            server,
            proto,
            port,
            ..
        } = key
            && !self.services.contains_key(&(server, proto, port))
        {
            detail.push_str(&format!(
                "; new service {server} {}/{port}",
                proto_name(proto).to_lowercase()
            ));
        }
        self.emit(
            EventType::ConfigChange,
            frame,
            pkt,
            Some(key),
            0.75,
            vec![Cause::NewLink],
            vec![],
            detail,
            vec![],
            hash_of(&(10u8, key)),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        event: EventType,
        frame: &Frame<'_>,
        pkt: &Packet<'_>,
        key: Option<LinkKey>,
        score: f64,
        causes: Vec<Cause>,
        payload_offsets: Vec<u32>,
        detail: String,
        violations: Vec<Violation>,
        dedup_key: u64,
    ) {
        let ts = frame.ts_us;
        if let Some(last) = self.dedup.get(&dedup_key)
            && ts - *last < self.opts.dedup_us
            && ts >= *last
        {
            self.summary.suppressed += 1;
            return;
        }
        self.dedup.insert(dedup_key, ts);
        if self.dedup.len() > 100_000 {
            let cutoff = ts - self.opts.dedup_us;
            self.dedup.retain(|_, t| *t >= cutoff);
        }
        self.note_score(ts, score);
        self.summary.alerts += 1;
        for c in &causes {
            *self
                .summary
                .by_cause
                .entry(c.as_str().to_string())
                .or_default() += 1;
        }
        let (src_ip, dest_ip, src_port, dest_port, proto) = match pkt.net {
            Net::Ip {
                src,
                dst,
                transport,
            } => {
                let (sp, dp, pr) = match transport {
                    Transport::Tcp { sport, dport, .. } => {
                        (Some(sport), Some(dport), "TCP".to_string())
                    }
                    Transport::Udp { sport, dport } => {
                        (Some(sport), Some(dport), "UDP".to_string())
                    }
                    Transport::Other(p) => (None, None, proto_name(p)),
                };
                (Some(src.to_string()), Some(dst.to_string()), sp, dp, pr)
            }
            Net::Arp {
                sender_ip,
                target_ip,
                ..
            } => (
                Some(sender_ip.to_string()),
                Some(target_ip.to_string()),
                None,
                None,
                "ARP".to_string(),
            ),
            Net::L2 => (None, None, None, None, "ETH".to_string()),
        };
        let payload = (!payload_offsets.is_empty()).then(|| {
            use base64::Engine as _;
            let n = pkt.payload.len().min(crate::alert::ALERT_PAYLOAD_BYTES);
            base64::engine::general_purpose::STANDARD.encode(&pkt.payload[..n])
        });
        let info = AlertInfo {
            score: (score * 1000.0).round() / 1000.0,
            causes,
            payload_offsets,
            detail,
            link: key.map(|k| k.to_string()).unwrap_or_default(),
            violations,
        };
        let (anomaly, config_change) = match event {
            EventType::Anomaly => (Some(info), None),
            EventType::ConfigChange => (None, Some(info)),
        };
        self.alerts.push(Alert {
            timestamp: format_timestamp(ts),
            event_type: event,
            pcap_cnt: Some(frame.number),
            src_ip,
            src_port,
            dest_ip,
            dest_port,
            proto,
            ether: Some(Ether {
                src_mac: format_mac(&pkt.src_mac),
                dest_mac: format_mac(&pkt.dst_mac),
                ether_type: Some(format!("0x{:04x}", pkt.ethertype)),
            }),
            vlan: pkt.vlan,
            host: None,
            payload,
            anomaly,
            config_change,
        });
    }
}

fn ready(l: &Link, min_msgs: u64, stable: u64) -> bool {
    let mut any = false;
    for lr in l.learners.iter().flatten() {
        if lr.seen() == 0 {
            continue;
        }
        if lr.seen() < min_msgs || lr.stable_run() < stable {
            return false;
        }
        any = true;
    }
    any
}

fn hash_of<T: Hash>(t: &T) -> u64 {
    foldhash::fast::FixedState::with_seed(7).hash_one(t)
}
