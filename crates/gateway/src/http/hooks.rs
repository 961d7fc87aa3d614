//! Webhooks: `POST <hooks.path>/wake` and `POST <hooks.path>/agent`.
//!
//! Off (404, as if absent) unless `hooks.enabled` is true and `hooks.token` is set. The
//! token is a dedicated secret, not the gateway token, presented as `Authorization:
//! Bearer` or `x-openclaw-token`; a `?token=` query string is refused (400) because URLs
//! end up in proxy and shell logs. Failed attempts share the gateway's per-address rate
//! limiter. A 200 means the run was admitted (it continues in the background and can be
//! followed with `agent.wait` and the `agent`/`chat` events).
//!
//! `/wake` has no event queue to join in this gateway: it runs a turn on the target
//! agent's main session with the text as a system-event message (`mode` `now` and
//! `next-heartbeat` both run at once).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openclaw_sessions::SessionKey;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::auth::{bearer_token, client_ip};
use super::error::read_json_object;
use super::{ApiError, json_response};
use crate::agents::Turn;
use crate::state::AppState;

/// Largest hook body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::hook(status, message)
}

/// Handles `req` if it is under the hook path; otherwise hands it back.
pub async fn route(state: &Arc<AppState>, req: Request) -> Result<Response, Request> {
    let live = state.live();
    let Some(hooks) = live.resolved.hooks.as_ref() else {
        return Err(req);
    };
    let base = hooks.base_path();
    let Some(action) = req
        .uri()
        .path()
        .strip_prefix(base.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .map(str::to_owned)
    else {
        return Err(req);
    };
    Ok(handle(state, hooks, &action, req)
        .await
        .unwrap_or_else(IntoResponse::into_response))
}

/// One hook request: switch, method, token (rate-limited), body, then the action.
async fn handle(
    state: &Arc<AppState>,
    hooks: &openclaw_config::HooksConfig,
    action: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let token = hooks.token.as_ref().map(|t| t.expose()).unwrap_or("");
    if !hooks.enabled || token.is_empty() {
        return Err(ApiError::NotFound(
            "hooks are disabled; set hooks.enabled and hooks.token".into(),
        ));
    }
    if req.method() != Method::POST {
        return Err(error(StatusCode::METHOD_NOT_ALLOWED, "use POST"));
    }
    let query_has_token = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.split('=').next() == Some("token")));
    if query_has_token {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "hook tokens are not accepted in the query string; send Authorization: Bearer <token> or x-openclaw-token",
        ));
    }
    let ip = client_ip(&state.live(), req.extensions(), req.headers()).to_canonical();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let attempt = crate::auth::Attempt::hook(ip, origin);
    if let Some(wait) = state.limiter.locked(&attempt) {
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            crate::auth::rate_limited_message(wait),
        ));
    }
    if !token_matches(req.headers(), token) {
        state.limiter.record_failure(&attempt);
        state
            .shared
            .metrics
            .auth_failed(crate::metrics::Surface::Hooks);
        return Err(error(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    state.limiter.record_success(&attempt);
    crate::serve::Ticket::mark(req.extensions());
    if let Err(throttled) = state.throttle.check(
        crate::throttle::Identity::Credential(token),
        crate::throttle::Surface::Hooks,
    ) {
        return Err(ApiError::Throttled {
            throttled,
            surface: crate::throttle::Surface::Hooks,
        });
    }
    if state.is_draining() {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "gateway is shutting down",
        ));
    }
    if let Some(why) = state.shared.memory.pressure() {
        return Err(error(StatusCode::SERVICE_UNAVAILABLE, why));
    }
    let body = read_json_object(req, MAX_BODY_BYTES)
        .await
        .map_err(|e| match e {
            ApiError::TooLarge { .. } => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body larger than {MAX_BODY_BYTES} bytes"),
            ),
            _ => error(StatusCode::BAD_REQUEST, "body must be a JSON object"),
        })?;
    match action {
        "agent" => agent(state, hooks, body),
        "wake" => wake(state, hooks, body),
        other => Err(ApiError::NotFound(format!("no hook named {other:?}"))),
    }
}

fn token_matches(headers: &HeaderMap, token: &str) -> bool {
    let bearer = bearer_token(headers);
    let custom = headers
        .get("x-openclaw-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    [bearer, custom]
        .into_iter()
        .flatten()
        .any(|given| bool::from(given.as_bytes().ct_eq(token.as_bytes())))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentBody {
    message: String,
    agent_id: Option<String>,
    session_key: Option<String>,
    name: Option<String>,
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WakeBody {
    text: String,
    mode: Option<String>,
    agent_id: Option<String>,
}

/// Resolves the target agent under `allowedAgentIds`.
fn target_agent(
    state: &AppState,
    hooks: &openclaw_config::HooksConfig,
    requested: Option<&str>,
) -> Result<crate::catalog::Agent, ApiError> {
    let live = state.live();
    let id = requested.unwrap_or(live.agents.default_id()).to_owned();
    let Some(agent) = live.agents.get(&id).cloned() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("unknown agent {id:?}; see agents.list"),
        ));
    };
    let allowed = &hooks.allowed_agent_ids;
    if !allowed.is_empty() && !allowed.iter().any(|a| a == "*" || *a == agent.id) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("agent {:?} is not in hooks.allowedAgentIds", agent.id),
        ));
    }
    Ok(agent)
}

fn admit(state: &Arc<AppState>, turn: Turn, session: &str) -> Response {
    let run_id = turn.run_id.clone();
    let entry = state.shared.runs.start(&run_id, session);
    crate::agents::spawn_run(state, turn, entry);
    json_response(
        StatusCode::OK,
        json!({"ok": true, "runId": run_id, "sessionKey": session}),
    )
}

fn new_turn(agent: crate::catalog::Agent, session: SessionKey, text: String) -> Turn {
    Turn::new(agent, session, text).with_channel(Some("hook".into()))
}

fn agent(
    state: &Arc<AppState>,
    hooks: &openclaw_config::HooksConfig,
    body: Value,
) -> Result<Response, ApiError> {
    let b: AgentBody = match serde_json::from_value(body) {
        Ok(b) => b,
        Err(e) => return Err(error(StatusCode::BAD_REQUEST, format!("invalid body: {e}"))),
    };
    if b.message.trim().is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "message must not be empty"));
    }
    let agent = target_agent(state, hooks, b.agent_id.as_deref())?;
    let session = match b.session_key.as_deref() {
        Some(raw) => {
            if !hooks.allow_request_session_key {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "sessionKey is not allowed; set hooks.allowRequestSessionKey to let callers choose sessions",
                ));
            }
            let prefixes = &hooks.allowed_session_key_prefixes;
            if !prefixes.is_empty() && !prefixes.iter().any(|p| raw.starts_with(p.as_str())) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "sessionKey does not match hooks.allowedSessionKeyPrefixes",
                ));
            }
            let parsed = if raw.starts_with("agent:") {
                SessionKey::parse(raw)
            } else {
                SessionKey::new(&agent.id, raw)
            };
            match parsed {
                Ok(k) if k.agent_id == agent.id => k,
                Ok(_) => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "sessionKey belongs to another agent",
                    ));
                }
                Err(e) => return Err(error(StatusCode::BAD_REQUEST, e.to_string())),
            }
        }
        // Isolated by default: each hook delivery gets its own session.
        None => match SessionKey::new(&agent.id, &format!("hook:{}", uuid::Uuid::new_v4())) {
            Ok(k) => k,
            Err(e) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        },
    };
    let text = match &b.name {
        Some(n) if !n.trim().is_empty() => format!("[{}] {}", n.trim(), b.message),
        _ => b.message,
    };
    let turn = new_turn(agent, session.clone(), text);
    if let Some(key) = b.idempotency_key.as_deref().filter(|k| !k.is_empty()) {
        if key.len() > 256 {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "idempotencyKey is longer than 256",
            ));
        }
        if let Some(existing) =
            state
                .shared
                .idempotency
                .check_or_insert("hooks.agent", key, &turn.run_id)
        {
            return Ok(json_response(
                StatusCode::CONFLICT,
                json!({"ok": false, "error": "duplicate idempotencyKey", "runId": existing}),
            ));
        }
    }
    Ok(admit(state, turn, &session.to_string()))
}

fn wake(
    state: &Arc<AppState>,
    hooks: &openclaw_config::HooksConfig,
    body: Value,
) -> Result<Response, ApiError> {
    let b: WakeBody = match serde_json::from_value(body) {
        Ok(b) => b,
        Err(e) => return Err(error(StatusCode::BAD_REQUEST, format!("invalid body: {e}"))),
    };
    if b.text.trim().is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "text must not be empty"));
    }
    match b.mode.as_deref() {
        None | Some("now") | Some("next-heartbeat") => {}
        Some(m) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("mode {m:?} is not supported; use \"now\" or \"next-heartbeat\""),
            ));
        }
    }
    let agent = target_agent(state, hooks, b.agent_id.as_deref())?;
    let session = SessionKey::main(&agent.id);
    let turn = new_turn(
        agent,
        session.clone(),
        format!("System event: {}", b.text.trim()),
    );
    Ok(admit(state, turn, &session.to_string()))
}
