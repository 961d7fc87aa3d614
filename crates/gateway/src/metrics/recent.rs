//! The last minute of HTTP traffic for `status` (`traffic`): a ring of per-second
//! buckets of atomics, so recording stays a couple of atomic operations.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Seconds covered by [`Recent::counts`].
pub const WINDOW_SECS: u64 = 60;

#[derive(Default)]
struct Bucket {
    /// Which second (since the ring's epoch, plus one; 0 = never used) the counts are of.
    second: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    rate_limited: AtomicU64,
}

/// What [`Recent::counts`] sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecentCounts {
    /// HTTP requests answered.
    pub requests: u64,
    /// Of those, answered 5xx.
    pub errors: u64,
    /// Requests refused by the request rate limiter (every surface).
    pub rate_limited: u64,
}

/// A ring of [`WINDOW_SECS`] one-second buckets. A bucket found holding an older second
/// is cleared by whoever first writes to it in the new second; a count that races with
/// that clear may be lost, which is acceptable for an operator's "last minute" view.
pub struct Recent {
    epoch: Instant,
    ring: [Bucket; WINDOW_SECS as usize],
}

#[derive(Clone, Copy)]
enum Kind {
    Requests,
    Errors,
    RateLimited,
}

impl Default for Recent {
    fn default() -> Recent {
        Recent {
            epoch: Instant::now(),
            ring: std::array::from_fn(|_| Bucket::default()),
        }
    }
}

impl Recent {
    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_secs() + 1
    }

    fn now(&self) -> u64 {
        self.second(Instant::now())
    }

    fn bucket(&self, at: Instant) -> &Bucket {
        let now = self.second(at);
        let b = &self.ring[(now % WINDOW_SECS) as usize];
        let seen = b.second.load(Ordering::Acquire);
        if seen != now
            && b.second
                .compare_exchange(seen, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            b.requests.store(0, Ordering::Relaxed);
            b.errors.store(0, Ordering::Relaxed);
            b.rate_limited.store(0, Ordering::Relaxed);
        }
        b
    }

    fn add(&self, kind: Kind, at: Instant) {
        let b = self.bucket(at);
        let c = match kind {
            Kind::Requests => &b.requests,
            Kind::Errors => &b.errors,
            Kind::RateLimited => &b.rate_limited,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP response answered at `at` (the caller has just read the clock for
    /// its latency, so the window does not read it again); `server_error` for a 5xx.
    pub fn request(&self, server_error: bool, at: Instant) {
        self.add(Kind::Requests, at);
        if server_error {
            self.add(Kind::Errors, at);
        }
    }

    /// Counts one rate-limited request.
    pub fn rate_limited(&self) {
        self.add(Kind::RateLimited, Instant::now());
    }

    /// Sums over the last [`WINDOW_SECS`] seconds (the current one included).
    pub fn counts(&self) -> RecentCounts {
        let now = self.now();
        let mut out = RecentCounts::default();
        for b in &self.ring {
            let s = b.second.load(Ordering::Acquire);
            if s != 0 && s + WINDOW_SECS > now {
                out.requests += b.requests.load(Ordering::Relaxed);
                out.errors += b.errors.load(Ordering::Relaxed);
                out.rate_limited += b.rate_limited.load(Ordering::Relaxed);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_was_recorded_in_the_window() {
        let r = Recent::default();
        r.request(false, Instant::now());
        r.request(true, Instant::now());
        r.rate_limited();
        assert_eq!(
            r.counts(),
            RecentCounts {
                requests: 2,
                errors: 1,
                rate_limited: 1
            }
        );
    }

    #[test]
    fn old_buckets_fall_out() {
        let mut r = Recent::default();
        r.epoch -= std::time::Duration::from_secs(120);
        // A bucket stamped two minutes ago is outside the window.
        let b = &r.ring[0];
        b.second.store(1, Ordering::Release);
        b.requests.store(5, Ordering::Relaxed);
        assert_eq!(r.counts().requests, 0);
        r.request(false, Instant::now());
        assert_eq!(r.counts().requests, 1);
    }
}
