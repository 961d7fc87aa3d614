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
use crate::tools::toolbox::ToolBox;

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
    // `gateway.tools` is this endpoint's own gate, on top of the agents' tool policy;
    // a tool either refuses is answered as missing, so the policy cannot be probed.
    let known = crate::tools::registry::find(tool);
    if known.is_none() || !allowed(&live.resolved.gateway.tools, tool) {
        return Err(not_found(tool));
    }
    let agent_id = body
        .get("agentId")
        .and_then(Value::as_str)
        .or_else(|| args.get("agentId").and_then(Value::as_str))
        .unwrap_or(live.agents.default_id())
        .to_owned();
    if live.agents.get(&agent_id).is_none() {
        return Err(invalid(format!(
            "unknown agentId {agent_id:?}; see agents_list"
        )));
    }
    let session = match body.get("sessionKey").and_then(Value::as_str) {
        Some(k) => crate::agents::session_key_for(k).map_err(|e| invalid(e.to_string()))?,
        None => SessionKey::main(&agent_id),
    };
    drop(live);
    let tools = ToolBox::for_turn(&state, &agent_id, &session);
    if let Err(why) = tools.check(tool) {
        tracing::info!(target: "tools", tool, %why, "/tools/invoke refused by the tool policy");
        return Err(not_found(tool));
    }
    match tools.invoke(tool, args).await {
        Ok(text) => {
            // Structured results stay structured; text results are returned as text.
            let result = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            Ok(json_response(
                StatusCode::OK,
                json!({"ok": true, "result": result}),
            ))
        }
        Err(msg) => Err(ApiError::tool(
            StatusCode::INTERNAL_SERVER_ERROR,
            "tool_error",
            msg,
        )),
    }
}

fn not_found(tool: &str) -> ApiError {
    ApiError::tool(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("Tool not available: {tool}"),
    )
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
