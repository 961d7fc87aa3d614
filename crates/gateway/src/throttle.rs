//! The request budget of `gateway.rateLimit` ([`RequestLimiter`]) and the live-tunable
//! connection limits of `gateway.performance` ([`EdgeLimits`]).
//!
//! Both are read on every request and replaced by a hot reload, so each is built for a
//! cheap read: the limiter is one GCRA cell per client in a concurrent map (`governor`),
//! checked only when the limit is on; the connection limits are atomics the accept loop
//! reads without a lock.
//!
//! A client is who it authenticated as: the credential it presented (hashed with a key
//! drawn at start, so the table holds no secret), else its address. Every client of one
//! shared gateway token therefore shares one budget, which is what the operator's "stop
//! the bleeding" step wants: the limit caps what the gateway takes, whoever sends it.

use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use openclaw_config::edge::{PerformanceConfig, RequestRateLimitConfig};

use crate::metrics::Metrics;
pub use crate::metrics::Surface;

/// Whom a request is counted against.
#[derive(Clone, Copy, Debug)]
pub enum Identity<'a> {
    /// The token or password it authenticated with.
    Credential(&'a str),
    /// Its address, when it presented no credential (auth mode `none`, trusted proxy).
    Address(IpAddr),
}

/// A client's key in the limiter: a keyed hash of its [`Identity`], never the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientKey(u64);

/// A request over the budget: how long until the next one would be admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// Wait before retrying.
    pub retry_after: Duration,
    /// The sustained limit in force.
    pub requests_per_minute: u32,
    /// The burst in force.
    pub burst: u32,
}

impl Throttled {
    /// Whole seconds for `Retry-After` (at least 1: `0` would invite an immediate retry).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_millis().div_ceil(1000).max(1) as u64
    }

    /// Milliseconds for the WebSocket `retryAfterMs` (at least 1).
    pub fn retry_after_ms(&self) -> u64 {
        (self.retry_after.as_micros().div_ceil(1000) as u64).max(1)
    }

    /// The message every surface answers with: the limit, the wait, the key to change.
    pub fn message(&self) -> String {
        format!(
            "Rate limit reached: {} requests per minute (burst {}) for this client; retry in {} s. \
             The limit is gateway.rateLimit.requestsPerMinute / burst.",
            self.requests_per_minute,
            self.burst,
            self.retry_after_secs()
        )
    }
}

/// The cell map's hasher. A [`ClientKey`] is already a keyed hash, uniform over 64 bits,
/// so hashing it again (the map's default is SipHash) would only spend time: the key
/// itself is the hash.
#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys reach this map; anything else still hashes, just not as fast.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Cells = RateLimiter<u64, DashMapStateStore<u64, BuildHasherDefault<KeyIsHash>>, DefaultClock>;

/// One configuration of the limit with its cells; replaced whole when the config changes.
struct Budget {
    config: RequestRateLimitConfig,
    cells: Cells,
}

/// `gateway.rateLimit`: a GCRA budget per client on `/v1/*`, `/tools/invoke`, `/hooks/*`
/// and WebSocket RPC requests.
pub struct RequestLimiter {
    /// Fast path: whether any check is needed.
    enabled: AtomicBool,
    budget: RwLock<Option<Arc<Budget>>>,
    /// Keys [`ClientKey`]s with a seed drawn at start. foldhash, not SipHash: the key
    /// is taken on every metered request, and with a per-process seed nobody outside
    /// can aim two clients at one budget.
    hasher: foldhash::fast::RandomState,
    clock: DefaultClock,
    limited: AtomicU64,
    /// Where refusals are counted (by surface, and in `status.traffic`).
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for RequestLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLimiter")
            .field("config", &self.config())
            .finish()
    }
}

impl RequestLimiter {
    /// A limiter applying `config`, counting refusals in `metrics` (if given).
    pub fn new(config: &RequestRateLimitConfig, metrics: Option<Arc<Metrics>>) -> RequestLimiter {
        let limiter = RequestLimiter {
            enabled: AtomicBool::new(false),
            budget: RwLock::new(None),
            hasher: foldhash::fast::RandomState::default(),
            clock: DefaultClock::default(),
            limited: AtomicU64::new(0),
            metrics,
        };
        limiter.configure(config);
        limiter
    }

    /// Applies a (reloaded) config. An unchanged config keeps every client's state; a
    /// changed rate or burst starts every client afresh under the new budget, at once.
    pub fn configure(&self, config: &RequestRateLimitConfig) {
        let mut budget = self.budget.write().unwrap_or_else(|e| e.into_inner());
        if !config.enabled {
            *budget = None;
            self.enabled.store(false, Ordering::Release);
            return;
        }
        if budget.as_ref().is_some_and(|b| b.config == *config) {
            return;
        }
        *budget = Some(Arc::new(Budget {
            config: config.clone(),
            cells: RateLimiter::dashmap_with_hasher(quota(config), BuildHasherDefault::default()),
        }));
        self.enabled.store(true, Ordering::Release);
    }

    /// The config in force (`None` when the limit is off).
    pub fn config(&self) -> Option<RequestRateLimitConfig> {
        self.current().map(|b| b.config.clone())
    }

    fn current(&self) -> Option<Arc<Budget>> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        self.budget
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts one request of `who` on `surface`; `Err` when it is over the budget.
    pub fn check(&self, who: Identity<'_>, surface: Surface) -> Result<(), Throttled> {
        if !self.enabled.load(Ordering::Acquire) {
            return Ok(());
        }
        self.check_key(self.key(who), surface)
    }

    /// [`RequestLimiter::check`] for a client whose key was taken once (a WebSocket
    /// connection keeps the key of the credential it connected with, not the secret).
    pub fn check_key(&self, key: ClientKey, surface: Surface) -> Result<(), Throttled> {
        if !self.enabled.load(Ordering::Acquire) {
            return Ok(());
        }
        // The read guard, not a clone of the `Arc`: no shared reference count to bump on
        // every request.
        let guard = self.budget.read().unwrap_or_else(|e| e.into_inner());
        let Some(budget) = guard.as_ref() else {
            return Ok(());
        };
        match budget.cells.check_key(&key.0) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                self.limited.fetch_add(1, Ordering::Relaxed);
                if let Some(m) = &self.metrics {
                    m.rate_limited(surface);
                }
                Err(Throttled {
                    retry_after: not_until.wait_time_from(self.clock.now()),
                    requests_per_minute: budget.config.requests_per_minute,
                    burst: budget.config.burst,
                })
            }
        }
    }

    /// Requests refused since start.
    pub fn limited_total(&self) -> u64 {
        self.limited.load(Ordering::Relaxed)
    }

    /// Clients with a cell (for `status`).
    pub fn clients(&self) -> usize {
        self.current().map_or(0, |b| b.cells.len())
    }

    /// Forgets clients whose budget is full again (they would start afresh anyway), so
    /// the table holds only recent clients. Run periodically.
    pub fn sweep(&self) {
        if let Some(b) = self.current() {
            b.cells.retain_recent();
            b.cells.shrink_to_fit();
        }
    }

    /// The key `who` is counted under (stable for this limiter's lifetime).
    pub fn key(&self, who: Identity<'_>) -> ClientKey {
        let mut h = self.hasher.build_hasher();
        match who {
            Identity::Credential(c) => {
                0u8.hash(&mut h);
                c.hash(&mut h);
            }
            Identity::Address(ip) => {
                1u8.hash(&mut h);
                ip.to_canonical().hash(&mut h);
            }
        }
        ClientKey(h.finish())
    }
}

/// `requestsPerMinute` sustained, `burst` at once: a GCRA quota replenishing one request
/// every `60 s / rpm`, with room for `max(burst, 1)`.
fn quota(config: &RequestRateLimitConfig) -> Quota {
    let rpm = NonZeroU32::new(config.requests_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(config.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rpm).allow_burst(burst)
}

/// `gateway.performance`, as the accept loop and the request path read it: atomics a hot
/// reload stores into, so a change applies to the next connection or request without
/// touching those already open.
#[derive(Debug)]
pub struct EdgeLimits {
    /// Open connections beyond which a new one is answered 503 (`0` = no cap but the
    /// open-file reserve).
    max_connections: AtomicUsize,
    /// Longest time to a response head, in ms (`0` = none).
    request_timeout_ms: AtomicU64,
    /// Idle keep-alive / pre-auth WebSocket timeout, in ms.
    idle_timeout_ms: AtomicU64,
    /// The idle timeout when `idleTimeout` is unset (built-in or from the environment).
    default_idle_ms: u64,
}

impl EdgeLimits {
    /// Limits from `config`, `default_idle` applying when `idleTimeout` is unset.
    pub fn new(config: &PerformanceConfig, default_idle: Duration) -> EdgeLimits {
        let limits = EdgeLimits {
            max_connections: AtomicUsize::new(0),
            request_timeout_ms: AtomicU64::new(0),
            idle_timeout_ms: AtomicU64::new(0),
            default_idle_ms: default_idle.as_millis() as u64,
        };
        limits.configure(config);
        limits
    }

    /// Applies a (reloaded) `gateway.performance`.
    pub fn configure(&self, config: &PerformanceConfig) {
        self.max_connections.store(
            config.max_connections.map_or(0, |n| n as usize),
            Ordering::Relaxed,
        );
        self.request_timeout_ms
            .store(config.request_timeout_ms.unwrap_or(0), Ordering::Relaxed);
        self.idle_timeout_ms.store(
            config.idle_timeout_ms.unwrap_or(self.default_idle_ms),
            Ordering::Relaxed,
        );
    }

    /// The connection cap, if any.
    pub fn max_connections(&self) -> Option<usize> {
        Some(self.max_connections.load(Ordering::Relaxed)).filter(|n| *n > 0)
    }

    /// The time-to-first-byte bound, if any.
    pub fn request_timeout(&self) -> Option<Duration> {
        Some(self.request_timeout_ms.load(Ordering::Relaxed))
            .filter(|n| *n > 0)
            .map(Duration::from_millis)
    }

    /// The idle timeout in force.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Surface = Surface::Http;

    fn cfg(rpm: u32, burst: u32) -> RequestRateLimitConfig {
        RequestRateLimitConfig {
            enabled: true,
            requests_per_minute: rpm,
            burst,
        }
    }

    #[test]
    fn burst_then_refusal_with_a_wait_per_client() {
        let l = RequestLimiter::new(&cfg(60, 3), None);
        let a = Identity::Credential("token-a");
        for _ in 0..3 {
            assert!(l.check(a, H).is_ok());
        }
        let t = l.check(a, H).unwrap_err();
        // One request per second sustained: the next slot is at most a second away.
        assert!(t.retry_after <= Duration::from_secs(1), "{t:?}");
        assert_eq!(t.retry_after_secs(), 1);
        assert!(t.message().contains("gateway.rateLimit.requestsPerMinute"));
        // Another client has its own budget.
        assert!(l.check(Identity::Credential("token-b"), H).is_ok());
        assert!(
            l.check(Identity::Address("10.0.0.1".parse().unwrap()), H)
                .is_ok()
        );
        assert_eq!(l.limited_total(), 1);
        assert_eq!(l.clients(), 3);
    }

    #[test]
    fn reconfigure_applies_at_once_and_off_admits_all() {
        let l = RequestLimiter::new(&cfg(60, 1), None);
        let a = Identity::Credential("t");
        assert!(l.check(a, H).is_ok());
        assert!(l.check(a, H).is_err());
        // Same config: state kept.
        l.configure(&cfg(60, 1));
        assert!(l.check(a, H).is_err());
        // Raised: a fresh budget under the new numbers.
        l.configure(&cfg(600, 5));
        for _ in 0..5 {
            assert!(l.check(a, H).is_ok());
        }
        assert!(l.check(a, H).is_err());
        l.configure(&RequestRateLimitConfig::default());
        assert!(l.config().is_none());
        for _ in 0..100 {
            assert!(l.check(a, H).is_ok());
        }
    }

    #[test]
    fn edge_limits_follow_config() {
        let mut p = PerformanceConfig::default();
        let e = EdgeLimits::new(&p, Duration::from_secs(30));
        assert_eq!(e.max_connections(), None);
        assert_eq!(e.request_timeout(), None);
        assert_eq!(e.idle_timeout(), Duration::from_secs(30));
        p.max_connections = Some(10);
        p.request_timeout_ms = Some(500);
        p.idle_timeout_ms = Some(2000);
        e.configure(&p);
        assert_eq!(e.max_connections(), Some(10));
        assert_eq!(e.request_timeout(), Some(Duration::from_millis(500)));
        assert_eq!(e.idle_timeout(), Duration::from_secs(2));
        e.configure(&PerformanceConfig::default());
        assert_eq!(e.idle_timeout(), Duration::from_secs(30));
    }
}
