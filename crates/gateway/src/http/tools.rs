//! `POST /tools/invoke`: call one gateway tool directly over HTTP.
//!
//! Tools pass a policy first: a built-in deny list of dangerous tools, adjusted by
//! `gateway.tools.allow` (removes entries) and `gateway.tools.deny` (adds entries). A denied
//! tool answers exactly like a missing one, so the policy cannot be probed.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use openclaw_config::ToolsPolicy;
use openclaw_sessions::SessionKey;
use serde_json::{Value, json};

use super::{ApiError, JsonObject, json_response};
use crate::state::AppState;

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Tools denied unless `gateway.tools.allow` names them.
pub const DEFAULT_DENY: &[&str] = &[
    "exec",
    "spawn",
    "shell",
    "fs_write",
    "fs_delete",
    "fs_move",
    "apply_patch",
    "sessions_spawn",
    "sessions_send",
    "cron",
    "gateway",
    "nodes",
];

/// Tools this gateway implements.
pub const TOOLS: &[&str] = &[
    "sessions_list",
    "session_status",
    "agents_list",
    "models_list",
];

/// Whether the policy lets `tool` run.
pub fn allowed(policy: &ToolsPolicy, tool: &str) -> bool {
    let listed = |list: &[String]| list.iter().any(|t| t == tool || t == "*");
    if listed(&policy.deny) {
        return false;
    }
    !DEFAULT_DENY.contains(&tool) || listed(&policy.allow)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::tool(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// The handler.
pub async fn invoke(
    _: super::auth::Authorized,
    State(state): State<Arc<AppState>>,
    body: Result<JsonObject<MAX_BODY_BYTES>, ApiError>,
) -> Result<Response, ApiError> {
    let JsonObject(body) = body.map_err(|e| match e {
        ApiError::TooLarge { .. } => ApiError::tool(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body exceeds 2 MB",
        ),
        ApiError::Busy => ApiError::tool(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
        _ => invalid("body must be a JSON object {tool, action?, args?, sessionKey?, agentId?}"),
    })?;
    let tool = body
        .get("tool")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("`tool` (a non-empty string) is required"))?;
    let args = body.get("args").cloned().unwrap_or(json!({}));
    if !args.is_object() {
        return Err(invalid("`args` must be an object"));
    }
    let live = state.live();
    if !TOOLS.contains(&tool) || !allowed(&live.resolved.gateway.tools, tool) {
        return Err(ApiError::tool(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("Tool not available: {tool}"),
        ));
    }
    let agent_id = body
        .get("agentId")
        .and_then(Value::as_str)
        .or_else(|| args.get("agentId").and_then(Value::as_str));
    let result = match tool {
        "agents_list" => Ok(live.agents.listing()),
        "models_list" => Ok(json!({"models": live.agents.models()})),
        "sessions_list" => {
            let limit = args
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(50)
                .clamp(1, 1000) as usize;
            state
                .shared
                .sessions
                .list(agent_id, limit)
                .await
                .map(|s| json!({"count": s.len(), "sessions": s}))
                .map_err(|e| e.to_string())
        }
        "session_status" => {
            let raw = body
                .get("sessionKey")
                .and_then(Value::as_str)
                .or_else(|| args.get("sessionKey").and_then(Value::as_str));
            let key = match raw {
                Some(k) => SessionKey::parse(k),
                None => Ok(SessionKey::main(
                    agent_id.unwrap_or(live.agents.default_id()),
                )),
            }
            .map_err(|e| invalid(e.to_string()))?;
            session_status(&state, &key).await
        }
        _ => Err(format!("Tool not available: {tool}")),
    };
    match result {
        Ok(v) => Ok(json_response(
            StatusCode::OK,
            json!({"ok": true, "result": v}),
        )),
        Err(msg) => Err(ApiError::tool(
            StatusCode::INTERNAL_SERVER_ERROR,
            "tool_error",
            msg,
        )),
    }
}

async fn session_status(state: &AppState, key: &SessionKey) -> Result<Value, String> {
    let t = state
        .shared
        .sessions
        .load(key)
        .await
        .map_err(|e| e.to_string())?;
    let last = t.entries.last();
    Ok(json!({
        "sessionKey": key.to_string(),
        "exists": !t.entries.is_empty(),
        "messages": t.entries.len(),
        "lastRole": last.map(|e| e.role.clone()),
        "updatedAt": last.map(|e| e.ts),
        "running": state.shared.runs.running_in(&key.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        let mut p = ToolsPolicy::default();
        assert!(allowed(&p, "sessions_list"));
        assert!(!allowed(&p, "exec"));
        p.allow = vec!["exec".into()];
        assert!(allowed(&p, "exec"));
        p.deny = vec!["sessions_list".into()];
        assert!(!allowed(&p, "sessions_list"));
        p.deny = vec!["*".into()];
        assert!(!allowed(&p, "agents_list"));
    }
}
