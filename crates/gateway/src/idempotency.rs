//! Idempotency keys: a retried request with the same key gets the first request's run
//! instead of starting a second one. Keys live 5 minutes; at most 1000 are kept (oldest
//! dropped first), so a client that never repeats keys cannot grow memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a key is remembered.
pub const TTL: Duration = Duration::from_secs(300);
/// Most keys remembered.
pub const MAX_KEYS: usize = 1000;

/// Maps `(scope, key)` to the run id it started.
#[derive(Default)]
pub struct IdempotencyCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, (String, Instant)>,
    order: VecDeque<(String, Instant)>,
}

impl IdempotencyCache {
    /// Returns the run id already recorded for `key`, or records `run_id` and returns None.
    /// `scope` separates methods (an `agent` key never collides with a `send` key).
    pub fn check_or_insert(&self, scope: &str, key: &str, run_id: &str) -> Option<String> {
        let full = format!("{scope}\u{0}{key}");
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((k, at)) = inner.order.front().cloned() {
            if now.duration_since(at) < TTL && inner.map.len() < MAX_KEYS {
                break;
            }
            inner.order.pop_front();
            if inner.map.get(&k).is_some_and(|(_, t)| *t == at) {
                inner.map.remove(&k);
            }
        }
        if let Some((existing, at)) = inner.map.get(&full)
            && now.duration_since(*at) < TTL
        {
            return Some(existing.clone());
        }
        inner.map.insert(full.clone(), (run_id.to_owned(), now));
        inner.order.push_back((full, now));
        None
    }

    /// Forgets every key (`cache.clear`, memory pressure); returns how many were remembered. A retry after
    /// this starts a new run instead of joining the old one.
    pub fn clear(&self) -> usize {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let n = inner.map.len();
        inner.map.clear();
        inner.order.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_and_bounds() {
        let c = IdempotencyCache::default();
        assert_eq!(c.check_or_insert("agent", "k", "r1"), None);
        assert_eq!(c.check_or_insert("agent", "k", "r2").as_deref(), Some("r1"));
        assert_eq!(c.check_or_insert("send", "k", "r3"), None);
        for i in 0..(MAX_KEYS + 10) {
            c.check_or_insert("agent", &format!("x{i}"), "r");
        }
        assert!(c.inner.lock().unwrap().map.len() <= MAX_KEYS);
        assert!(c.clear() > 0);
        assert_eq!(c.clear(), 0);
        assert_eq!(c.check_or_insert("agent", "k", "r4"), None);
    }
}
