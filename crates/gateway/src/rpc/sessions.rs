//! `sessions.list`, `sessions.preview`, `sessions.reset`, `sessions.delete`.

use std::sync::Arc;

use openclaw_protocol::ErrorShape;
use openclaw_sessions::SessionKey;
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_params;
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    agent_id: Option<String>,
    limit: Option<usize>,
}

/// `sessions.list {agentId?, limit?}`: newest first.
pub async fn list(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: ListParams = parse_params("sessions.list", params)?;
    let limit = p.limit.unwrap_or(100).clamp(1, 10_000);
    let sessions = state
        .shared
        .sessions
        .list(p.agent_id.as_deref(), limit)
        .await
        .map_err(|e| ErrorShape::unavailable(e.to_string()))?;
    // Each row says how many turns are running in it, so `agent status` can show work in
    // progress without a second method.
    let rows: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let mut row = serde_json::to_value(s).unwrap_or_else(|_| json!({"key": s.key}));
            row["running"] = json!(state.shared.runs.running_in(&s.key));
            row
        })
        .collect();
    Ok(json!({"count": rows.len(), "sessions": rows}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PreviewParams {
    key: Option<String>,
    keys: Option<Vec<String>>,
    limit: Option<usize>,
}

/// `sessions.preview {key | keys, limit?}`: the last messages of each session.
pub async fn preview(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: PreviewParams = parse_params("sessions.preview", params)?;
    let keys: Vec<String> = p
        .keys
        .unwrap_or_default()
        .into_iter()
        .chain(p.key)
        .collect();
    if keys.is_empty() {
        return Err(ErrorShape::invalid(
            "invalid params for sessions.preview: give key or keys",
        ));
    }
    let limit = p.limit.unwrap_or(12).clamp(1, 200);
    let mut previews = Vec::with_capacity(keys.len());
    for raw in keys.iter().take(100) {
        let key = parse_key(raw)?;
        let items = state
            .shared
            .sessions
            .history(&key, limit)
            .await
            .map_err(|e| ErrorShape::unavailable(e.to_string()))?;
        previews.push(json!({"key": key.to_string(), "items": items}));
    }
    Ok(json!({"previews": previews}))
}

#[derive(Deserialize, Default)]
struct KeyParams {
    key: String,
}

/// `sessions.reset {key}`: the next turn starts a fresh transcript.
pub async fn reset(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: KeyParams = parse_params("sessions.reset", params)?;
    let key = parse_key(&p.key)?;
    let reset = state
        .shared
        .sessions
        .reset(&key)
        .await
        .map_err(|e| ErrorShape::unavailable(e.to_string()))?;
    Ok(json!({"ok": true, "key": key.to_string(), "reset": reset}))
}

/// `sessions.delete {key}`.
pub async fn delete(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: KeyParams = parse_params("sessions.delete", params)?;
    let key = parse_key(&p.key)?;
    let deleted = state
        .shared
        .sessions
        .delete(&key)
        .await
        .map_err(|e| ErrorShape::unavailable(e.to_string()))?;
    Ok(json!({"ok": true, "key": key.to_string(), "deleted": deleted}))
}

fn parse_key(raw: &str) -> Result<SessionKey, ErrorShape> {
    SessionKey::parse(raw).map_err(|e| ErrorShape::invalid(e.to_string()))
}
