//! A Kitsune-style baseline (Mirsky et al., NDSS 2018), damped statistics only, for comparison in
//! the benchmark: per packet, damped weight, mean and standard deviation of the packet size per
//! source, per channel (source -> destination IP or MAC) and per socket, and damped inter-arrival
//! statistics per channel, each over three decay rates. The score is the RMS of the features'
//! z-scores against their training mean and variance. It has no notion of offsets or causes.

use std::hash::{BuildHasher, Hash};

use foldhash::HashMap;

use crate::decode::{Net, Packet, Transport};

const LAMBDAS: [f64; 3] = [1.0, 0.1, 0.01];
/// Features per packet.
pub const KITSUNE_FEATURES: usize = 36;

#[derive(Clone, Copy, Default)]
struct IncStat {
    w: f64,
    ls: f64,
    ss: f64,
    t: i64,
}

impl IncStat {
    #[inline]
    fn update(&mut self, x: f64, t: i64, lambda: f64) {
        let dt = (t - self.t).max(0) as f64 * 1e-6;
        if self.w > 0.0 && dt > 0.0 {
            let d = (-lambda * dt).exp2();
            self.w *= d;
            self.ls *= d;
            self.ss *= d;
        }
        self.t = t;
        self.w += 1.0;
        self.ls += x;
        self.ss += x * x;
    }

    #[inline]
    fn feats(&self) -> [f64; 3] {
        let mean = self.ls / self.w;
        let var = (self.ss / self.w - mean * mean).max(0.0);
        [self.w, mean, var.sqrt()]
    }
}

#[derive(Clone, Copy, Default)]
struct Jitter {
    last: Option<i64>,
    s: [IncStat; 3],
}

/// The baseline detector.
#[derive(Default)]
pub struct KitsuneBaseline {
    src: HashMap<u64, [IncStat; 3]>,
    chan: HashMap<u64, ([IncStat; 3], Jitter)>,
    sock: HashMap<u64, [IncStat; 3]>,
    n: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

fn h<T: Hash>(t: &T) -> u64 {
    foldhash::fast::FixedState::with_seed(3).hash_one(t)
}

impl KitsuneBaseline {
    /// A fresh baseline.
    pub fn new() -> Self {
        Self {
            mean: vec![0.0; KITSUNE_FEATURES],
            m2: vec![0.0; KITSUNE_FEATURES],
            ..Default::default()
        }
    }

    fn features(&mut self, p: &Packet<'_>, ts: i64, len: usize) -> [f64; KITSUNE_FEATURES] {
        let x = len as f64;
        let (srck, chk, sockk) = match p.net {
            Net::Ip {
                src,
                dst,
                transport,
            } => {
                let (sp, dp) = match transport {
                    Transport::Tcp { sport, dport, .. } | Transport::Udp { sport, dport } => {
                        (sport, dport)
                    }
                    Transport::Other(_) => (0, 0),
                };
                (h(&(p.src_mac, src)), h(&(src, dst)), h(&(src, sp, dst, dp)))
            }
            _ => (
                h(&p.src_mac),
                h(&(p.src_mac, p.dst_mac)),
                h(&(p.src_mac, p.dst_mac, p.ethertype)),
            ),
        };
        let mut f = [0.0; KITSUNE_FEATURES];
        let mut k = 0;
        let s = self.src.entry(srck).or_default();
        for (i, l) in LAMBDAS.iter().enumerate() {
            s[i].update(x, ts, *l);
            f[k..k + 3].copy_from_slice(&s[i].feats());
            k += 3;
        }
        let (c, j) = self.chan.entry(chk).or_default();
        let iat = j.last.map_or(0.0, |t| (ts - t).max(0) as f64 * 1e-6);
        j.last = Some(ts);
        for (i, l) in LAMBDAS.iter().enumerate() {
            c[i].update(x, ts, *l);
            f[k..k + 3].copy_from_slice(&c[i].feats());
            k += 3;
            j.s[i].update(iat, ts, *l);
            f[k..k + 3].copy_from_slice(&j.s[i].feats());
            k += 3;
        }
        let so = self.sock.entry(sockk).or_default();
        for (i, l) in LAMBDAS.iter().enumerate() {
            so[i].update(x, ts, *l);
            f[k..k + 3].copy_from_slice(&so[i].feats());
            k += 3;
        }
        f
    }

    /// Training: updates the statistics and the feature normaliser.
    pub fn train(&mut self, p: &Packet<'_>, ts: i64, len: usize) {
        let f = self.features(p, ts, len);
        self.n += 1.0;
        for ((x, mean), m2) in f.iter().zip(self.mean.iter_mut()).zip(self.m2.iter_mut()) {
            let d = x - *mean;
            *mean += d / self.n;
            *m2 += d * (x - *mean);
        }
    }

    /// Execution: updates the statistics and returns the anomaly score (RMS z-score).
    pub fn score(&mut self, p: &Packet<'_>, ts: i64, len: usize) -> f64 {
        let f = self.features(p, ts, len);
        let mut acc = 0.0;
        for ((x, mean), m2) in f.iter().zip(&self.mean).zip(&self.m2) {
            let sd = (m2 / self.n.max(1.0)).sqrt().max(1e-9);
            let z = (x - mean) / sd;
            acc += z * z;
        }
        (acc / KITSUNE_FEATURES as f64).sqrt()
    }
}
