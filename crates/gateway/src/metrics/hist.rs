//! Fixed-bucket histograms: one atomic count per bucket plus the sum, so an observation
//! is a handful of relaxed atomic adds and never allocates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) for request latencies: 5 ms to 2 min, dense where HTTP and
/// RPC answers usually are, with 10 s exact so the `high_latency` alert's threshold is a
/// bucket edge.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Upper bounds (seconds) for agent runs and model calls, which take seconds to minutes.
pub const RUN_BOUNDS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// A histogram over `bounds` (seconds, ascending); the last bucket is `+Inf`.
pub struct Histogram {
    bounds: &'static [f64],
    /// Nanosecond form of `bounds`, compared on the hot path without float math.
    bounds_ns: Box<[u64]>,
    /// Per-bucket (not cumulative) counts; one more than `bounds` for `+Inf`.
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            bounds_ns: bounds.iter().map(|b| (b * 1e9) as u64).collect(),
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = self.bounds_ns.partition_point(|&b| b < ns);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// A consistent-enough copy for rendering: cumulative counts per bound (then `+Inf`)
    /// and the sum in seconds.
    pub fn snapshot(&self) -> HistSnapshot<'_> {
        let mut acc = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                acc += b.load(Ordering::Relaxed);
                acc
            })
            .collect();
        HistSnapshot {
            bounds: self.bounds,
            cumulative,
            sum: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// What [`Histogram::snapshot`] returns.
pub struct HistSnapshot<'a> {
    /// The bucket bounds (seconds).
    pub bounds: &'a [f64],
    /// Cumulative counts, one per bound and a last one for `+Inf` (= the count).
    pub cumulative: Vec<u64>,
    /// Sum of observations, seconds.
    pub sum: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_upper_inclusive_and_cumulative() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(Duration::from_millis(100));
        h.observe(Duration::from_millis(500));
        h.observe(Duration::from_secs(5));
        let s = h.snapshot();
        assert_eq!(s.cumulative, vec![1, 2, 3]);
        assert!((s.sum - 5.6).abs() < 1e-9);
        assert_eq!(h.count(), 3);
    }
}
