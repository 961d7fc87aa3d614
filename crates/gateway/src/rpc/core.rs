//! Core read methods: `health`, `status`, `system-presence`, `logs.tail`, `config.get`.

use std::sync::Arc;

use openclaw_protocol::{ErrorShape, methods};
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_params;
use crate::state::{AppState, summaries};

/// `health {probe?}`: the health snapshot with each agent's session counts. `probe` is
/// accepted; live channel checks are `channels.status {probe}`.
pub async fn health(state: &AppState, _params: &Value) -> Value {
    let mut v = summaries::with_sessions(state, state.health_snapshot()).await;
    v["tls"] = state.tls_status();
    v
}

/// `status`: our status payload plus the original's heartbeat, channel summary and
/// sessions by agent.
pub async fn status(state: &AppState) -> Value {
    let mut v = state.status();
    summaries::status_extras(state, &mut v).await;
    v["providers"] = super::models::provider_summary(&state.live().agents);
    v["traffic"] = state.shared.metrics.traffic_json();
    v["tls"] = state.tls_status();
    v["policy"] = crate::tools::policy_summary(state);
    v
}

/// `system-presence`: the presence list, gateway first.
pub fn system_presence(state: &AppState) -> Value {
    json!(state.presence.list())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TailParams {
    cursor: Option<u64>,
    limit: Option<usize>,
    max_bytes: Option<usize>,
}

/// `logs.tail {cursor?, limit?, maxBytes?}` over the gateway's log file, redacted.
pub async fn logs_tail(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: TailParams = parse_params(methods::LOGS_TAIL, params)?;
    if let Some(limit) = p.limit
        && !(1..=openclaw_logs::MAX_TAIL_LIMIT).contains(&limit)
    {
        return Err(ErrorShape::invalid(format!(
            "invalid params for logs.tail: limit must be 1..={}, got {limit}",
            openclaw_logs::MAX_TAIL_LIMIT
        )));
    }
    let req = openclaw_logs::TailRequest {
        cursor: p.cursor,
        limit: p.limit.unwrap_or(openclaw_logs::DEFAULT_TAIL_LIMIT),
        max_bytes: p.max_bytes.unwrap_or(openclaw_logs::DEFAULT_TAIL_MAX_BYTES),
    };
    // Through the handle: lines are scrubbed with the redaction in force now, so lines
    // written before a `logging.redactPatterns` entry was added do not leak either.
    let log = state.shared.log.clone();
    let result = tokio::task::spawn_blocking(move || log.tail(&req))
        .await
        .map_err(|e| ErrorShape::unavailable(format!("log reader failed: {e}")))?
        .map_err(|e| ErrorShape::unavailable(format!("cannot read the log file: {e}")))?;
    serde_json::to_value(result).map_err(|e| ErrorShape::unavailable(e.to_string()))
}

/// `config.get`: the active config, secrets redacted, with the file's hash for
/// optimistic concurrency on later writes.
pub fn config_get(state: &AppState) -> Value {
    let live = state.live();
    let loaded = &live.loaded;
    json!({
        "path": loaded.path,
        "exists": loaded.exists,
        "hash": loaded.hash,
        "config": openclaw_config::redacted_json(&loaded.config),
    })
}
