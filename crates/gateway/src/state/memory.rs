//! `gateway.maxMemory`: a resident-memory budget the gateway holds itself to.
//!
//! A sampler (one per listener generation, every [`SAMPLE_EVERY`]) reads the process's
//! resident set from `/proc/self/statm` and compares it with the live config's budget.
//! While over it, new agent runs are refused with a retryable error that says why (the
//! runs in flight finish), `/readyz` reports `memory`, and the idempotency cache is
//! cleared once (the one cache that grows with traffic). Crossing the line either way is
//! logged once. Where `/proc` is not available the budget cannot be measured: that is
//! logged at start and nothing is refused.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How often the resident set is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The last sample and whether it was over the budget.
#[derive(Debug, Default)]
pub struct MemoryGuard {
    rss: AtomicU64,
    limit: AtomicU64,
    over: AtomicBool,
}

impl MemoryGuard {
    /// Records a sample against `limit` (`None`: no budget). Returns `Some(true)` when
    /// this sample crossed over the budget, `Some(false)` when it came back under.
    pub fn observe(&self, rss: u64, limit: Option<u64>) -> Option<bool> {
        self.rss.store(rss, Ordering::Relaxed);
        self.limit.store(limit.unwrap_or(0), Ordering::Relaxed);
        let over = limit.is_some_and(|l| rss > l);
        (self.over.swap(over, Ordering::AcqRel) != over).then_some(over)
    }

    /// Why new runs are refused now, if they are.
    pub fn pressure(&self) -> Option<String> {
        if !self.over.load(Ordering::Acquire) {
            return None;
        }
        let mb = |b: u64| b / (1024 * 1024);
        Some(format!(
            "the gateway is over gateway.maxMemory (resident {} MiB of {} MiB); new agent runs are refused until it drops; retry shortly, or raise gateway.maxMemory",
            mb(self.rss.load(Ordering::Relaxed)),
            mb(self.limit.load(Ordering::Relaxed))
        ))
    }
}

/// The process's resident set in bytes, from `/proc/self/statm`.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}
