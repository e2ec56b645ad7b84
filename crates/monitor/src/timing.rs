//! Timing and volume per link: damped incremental statistics (Kitsune-style) and learned bands.
//!
//! Each link keeps damped packet and byte counts over a 5 s and a 60 s half-life, and an
//! exponentially weighted mean of the period between requests (client-to-server messages with a
//! payload). During learning every feature value is recorded (min, max and a reservoir for the
//! median and MAD); in protection a value outside `[min - 3s, max + 3s]` (s = robust scale) is an
//! anomaly, scored by how far it lies outside.

use serde::{Deserialize, Serialize};

/// Number of timing features per link.
pub const FEATURES: usize = 4;
/// Feature names, in order.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "packet rate (5 s)",
    "byte rate (5 s)",
    "packet rate (60 s)",
    "request period",
];
const HALF_LIVES_S: [f64; 3] = [5.0, 5.0, 60.0];
const WARMUP_US: [i64; FEATURES] = [10_000_000, 10_000_000, 120_000_000, 0];
const PERIOD_WARMUP: u64 = 10;
const RESERVOIR: usize = 512;

/// A damped sum: each unit added decays with the given half-life.
#[derive(Debug, Clone, Copy, Default)]
pub struct Damped {
    w: f64,
    t_us: i64,
}

impl Damped {
    /// Decays to `t_us` and adds `x`.
    #[inline]
    pub fn add(&mut self, t_us: i64, x: f64, half_life_s: f64) {
        let dt = (t_us - self.t_us).max(0) as f64 * 1e-6;
        if dt > 0.0 {
            self.w *= (-dt / half_life_s).exp2();
            self.t_us = t_us;
        }
        self.w += x;
    }

    /// Rate per second (sum divided by the effective window, half-life / ln 2).
    #[inline]
    pub fn rate(&self, half_life_s: f64) -> f64 {
        self.w * std::f64::consts::LN_2 / half_life_s
    }
}

/// Runtime timing state of one link.
#[derive(Debug, Clone, Default)]
pub struct LinkTiming {
    first_us: Option<i64>,
    damped: [Damped; 3],
    last_req_us: Option<i64>,
    period_s: f64,
    requests: u64,
}

impl LinkTiming {
    /// Updates with one packet; returns the features that are warmed up (`None` otherwise).
    #[inline]
    pub fn update(&mut self, t_us: i64, bytes: usize, request: bool) -> [Option<f64>; FEATURES] {
        let first = *self.first_us.get_or_insert(t_us);
        self.damped[0].add(t_us, 1.0, HALF_LIVES_S[0]);
        self.damped[1].add(t_us, bytes as f64, HALF_LIVES_S[1]);
        self.damped[2].add(t_us, 1.0, HALF_LIVES_S[2]);
        if request {
            if let Some(prev) = self.last_req_us {
                let iat = (t_us - prev).max(0) as f64 * 1e-6;
                self.period_s = if self.requests <= 1 {
                    iat
                } else {
                    0.9 * self.period_s + 0.1 * iat
                };
            }
            self.last_req_us = Some(t_us);
            self.requests += 1;
        }
        let age = t_us - first;
        let mut out = [None; FEATURES];
        for i in 0..3 {
            if age >= WARMUP_US[i] {
                out[i] = Some(self.damped[i].rate(HALF_LIVES_S[i]));
            }
        }
        if request && self.requests > PERIOD_WARMUP {
            out[3] = Some(self.period_s);
        }
        out
    }
}

/// Learned band of one feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Smallest value learned.
    pub min: f64,
    /// Largest value learned.
    pub max: f64,
    /// Median.
    pub median: f64,
    /// Robust scale (1.4826 MAD, floored at 10 % of the median).
    pub scale: f64,
    /// Values learned.
    pub n: u64,
}

impl Band {
    /// How far `v` lies outside the band, in units of scale (0 inside). The band is widened by
    /// three scales on each side.
    #[inline]
    pub fn excess(&self, v: f64) -> f64 {
        let lo = self.min - 3.0 * self.scale;
        let hi = self.max + 3.0 * self.scale;
        if v > hi {
            (v - hi) / self.scale
        } else if v < lo {
            (lo - v) / self.scale
        } else {
            0.0
        }
    }
}

/// Learns bands from feature values.
#[derive(Debug, Clone, Default)]
pub struct BandLearner {
    min: f64,
    max: f64,
    n: u64,
    res: Vec<f64>,
    rng: u64,
}

impl BandLearner {
    /// Records one value.
    pub fn add(&mut self, v: f64) {
        if self.n == 0 {
            self.min = v;
            self.max = v;
        }
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.n += 1;
        if self.res.len() < RESERVOIR {
            self.res.push(v);
        } else {
            self.rng = self
                .rng
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let j = (self.rng >> 33) % self.n;
            if (j as usize) < RESERVOIR {
                self.res[j as usize] = v;
            }
        }
    }

    /// The band, if enough values were seen.
    pub fn build(&self) -> Option<Band> {
        if self.n < 20 {
            return None;
        }
        let mut r = self.res.clone();
        r.sort_by(f64::total_cmp);
        let median = r[r.len() / 2];
        let mut dev: Vec<f64> = r.iter().map(|x| (x - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let mad = dev[dev.len() / 2];
        let scale = (1.4826 * mad).max(0.1 * median.abs()).max(1e-6);
        Some(Band {
            min: self.min,
            max: self.max,
            median,
            scale,
            n: self.n,
        })
    }
}

/// Learned timing of a link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimingModel {
    /// Bands per feature (see [`FEATURE_NAMES`]); `None` when the feature never warmed up.
    pub bands: [Option<Band>; FEATURES],
    /// Longest silence learned, including the silence up to the end of learning (µs).
    pub max_gap_us: i64,
}

/// Learns a [`TimingModel`].
#[derive(Debug, Clone, Default)]
pub struct TimingLearner {
    bands: [BandLearner; FEATURES],
}

impl TimingLearner {
    /// Records warmed-up feature values.
    pub fn add(&mut self, f: &[Option<f64>; FEATURES]) {
        for (b, v) in self.bands.iter_mut().zip(f) {
            if let Some(v) = v {
                b.add(*v);
            }
        }
    }

    /// Builds the model.
    pub fn build(&self, max_gap_us: i64) -> TimingModel {
        TimingModel {
            bands: std::array::from_fn(|i| self.bands[i].build()),
            max_gap_us,
        }
    }
}

/// A feature outside its band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimingFinding {
    /// Feature index (see [`FEATURE_NAMES`]).
    pub feature: usize,
    /// Value seen.
    pub value: f64,
    /// The band.
    pub band: Band,
    /// Score in [0.5, 1).
    pub score: f64,
}

impl TimingModel {
    /// Features outside their band (by feature index), and a continuous score in [0, 1) for the
    /// anomaly-score-over-time series (0 when every feature is inside its band).
    #[inline]
    pub fn check(&self, f: &[Option<f64>; FEATURES]) -> ([Option<TimingFinding>; FEATURES], f64) {
        let mut out = [None; FEATURES];
        let mut worst = 0.0f64;
        for i in 0..FEATURES {
            if let (Some(v), Some(b)) = (f[i], self.bands[i]) {
                let ex = b.excess(v);
                if ex > 0.0 {
                    let score = 0.5 + 0.5 * (1.0 - (-ex / 3.0).exp());
                    worst = worst.max(score);
                    out[i] = Some(TimingFinding {
                        feature: i,
                        value: v,
                        band: b,
                        score,
                    });
                }
            }
        }
        (out, worst)
    }
}

/// Cause of a timing finding: feature 3 (request period) is `timing`, the rates are `volume`.
pub fn feature_is_timing(feature: usize) -> bool {
    feature == 3
}
