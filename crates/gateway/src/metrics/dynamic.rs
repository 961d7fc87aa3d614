//! Series whose labels come from configuration (provider and model, channel and account):
//! a two-level map behind a read-write lock, capped across all families together.
//!
//! A known series is found under the read lock with `&str` keys (no allocation); only a
//! series seen for the first time takes the write lock and allocates its key. Past
//! [`SERIES_CAP`] series, a new one is not created: the observation is dropped and
//! `openclaw_prometheus_series_dropped_total` counts it (OpenClaw's cap and counter).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// Most dynamic series kept, across every family.
pub const SERIES_CAP: usize = 2048;

/// The shared budget of dynamic series and the count of those refused.
#[derive(Default)]
pub struct Budget {
    used: AtomicUsize,
    dropped: AtomicU64,
}

impl Budget {
    /// Takes one series from the budget; false (and one more dropped) when it is spent.
    fn take(&self) -> bool {
        let ok = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < SERIES_CAP).then_some(n + 1)
            })
            .is_ok();
        if !ok {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Observations dropped because the cap was reached.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Dynamic series held.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// The second label's map: value to series.
type Inner<T> = BTreeMap<Box<str>, Arc<T>>;

/// A family of series labelled by two strings, each entry a `T` of atomics.
pub struct Family<T> {
    map: RwLock<BTreeMap<Box<str>, Inner<T>>>,
}

impl<T> Default for Family<T> {
    fn default() -> Family<T> {
        Family {
            map: RwLock::new(BTreeMap::new()),
        }
    }
}

impl<T: Default> Family<T> {
    /// The series for `(a, b)`, created if the budget allows; `None` when it is spent.
    pub fn get(&self, budget: &Budget, a: &str, b: &str) -> Option<Arc<T>> {
        {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = map.get(a).and_then(|m| m.get(b)) {
                return Some(s.clone());
            }
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get(a).and_then(|m| m.get(b)) {
            return Some(s.clone());
        }
        if !budget.take() {
            return None;
        }
        let s = Arc::new(T::default());
        map.entry(a.into()).or_default().insert(b.into(), s.clone());
        Some(s)
    }

    /// Calls `f` on every series, ordered by labels.
    pub fn each(&self, mut f: impl FnMut(&str, &str, &T)) {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        for (a, inner) in map.iter() {
            for (b, s) in inner.iter() {
                f(a, b, s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_drops_and_counts_new_series_only() {
        let budget = Budget::default();
        let fam: Family<AtomicU64> = Family::default();
        for i in 0..SERIES_CAP {
            assert!(fam.get(&budget, "p", &i.to_string()).is_some());
        }
        assert!(fam.get(&budget, "p", "one-too-many").is_none());
        assert!(fam.get(&budget, "q", "another").is_none());
        assert_eq!(budget.dropped(), 2);
        // Known series keep working past the cap.
        assert!(fam.get(&budget, "p", "0").is_some());
        assert_eq!(budget.dropped(), 2);
        assert_eq!(budget.used(), SERIES_CAP);
    }
}
