//! `exec.approval.list` and `exec.approval.resolve`: operators answering exec approval
//! requests (scope `operator.approvals`). The waiting tool call and the events live in
//! the tool box; the open requests in [`crate::approvals`].

use std::sync::Arc;

use openclaw_protocol::{ErrorCode, ErrorShape};
use serde_json::{Value, json};

use crate::approvals::Resolution;
use crate::state::AppState;

/// `exec.approval.list`: the open requests, oldest first.
pub fn list(state: &AppState) -> Value {
    json!({"approvals": state.shared.approvals.list()})
}

/// `exec.approval.resolve {id, decision}`.
pub fn resolve(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let id = params
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ErrorShape::invalid(
                "invalid params for exec.approval.resolve: `id` (the approval's id) is required",
            )
        })?;
    let raw = params
        .get("decision")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let decision = Resolution::parse(raw).ok_or_else(|| {
        ErrorShape::invalid(format!(
            "invalid params for exec.approval.resolve: decision {raw:?} is not one of allow-once, allow-always, deny"
        ))
    })?;
    let record = state
        .shared
        .approvals
        .resolve(id, decision)
        .map_err(|e| ErrorShape::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let resolved = json!({"id": id, "decision": decision.as_str(), "ts": crate::sys::now_ms()});
    let text: Arc<str> = Arc::from(resolved.to_string());
    state.conns.broadcast_to(
        openclaw_protocol::methods::events::EXEC_APPROVAL_RESOLVED,
        text,
        false,
        |c| openclaw_protocol::MethodAccess::Approvals.allows(&c.scopes),
    );
    Ok(json!({"ok": true, "id": id, "decision": decision.as_str(), "request": record["request"]}))
}
