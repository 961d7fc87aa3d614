//! `cache.clear`: forgets what the gateway remembers only to save work or to deduplicate,
//! and says what that was, with counts. Sessions, config and channel state are not caches
//! and are kept.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::state::AppState;

/// `cache.clear`: idempotency keys (a retried request then starts anew) and the results
/// of finished runs (kept for `agent.wait`). Returns `{ok, cleared: {name: count}, total}`.
pub fn clear(state: &Arc<AppState>) -> Value {
    let shared = &state.shared;
    let cleared: [(&str, usize); 2] = [
        ("idempotencyKeys", shared.idempotency.clear()),
        ("finishedRuns", shared.runs.clear_finished()),
    ];
    let total: usize = cleared.iter().map(|(_, n)| n).sum();
    tracing::info!(target: "gateway", ?cleared, "caches cleared");
    let cleared: Map<String, Value> = cleared
        .into_iter()
        .map(|(k, n)| (k.to_owned(), json!(n)))
        .collect();
    json!({"ok": true, "cleared": cleared, "total": total})
}
