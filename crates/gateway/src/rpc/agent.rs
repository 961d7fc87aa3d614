//! Agent methods over WebSocket: `agent`, `agent.wait`, `chat.send`, `chat.history`,
//! `chat.abort`, `agents.list`.
//!
//! Runs started here belong to their session, not to the socket: a client that disconnects
//! does not stop them (it can reconnect and `agent.wait`); `chat.abort` does.

use std::sync::Arc;
use std::time::Duration;

use openclaw_protocol::{ErrorCode, ErrorShape, Frame, ResponseFrame};
use openclaw_sessions::SessionKey;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CallContext, parse_params};
use crate::agents::{Turn, spawn_run};
use crate::runs::RunEntry;
use crate::state::AppState;
use crate::sys::now_ms;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AgentParams {
    message: String,
    agent_id: Option<String>,
    session_key: Option<String>,
    model: Option<String>,
    idempotency_key: Option<String>,
    channel: Option<String>,
}

/// `agent`: answers `accepted` at once; the final response follows on the same request id.
pub async fn agent(
    state: &Arc<AppState>,
    ctx: &CallContext,
    req_id: &str,
    params: &Value,
) -> Result<(), ErrorShape> {
    let p: AgentParams = parse_params("agent", params)?;
    let key = require_idempotency("agent", p.idempotency_key.as_deref())?;
    let (turn, session) = build_turn(
        state,
        p.agent_id.as_deref(),
        p.session_key.as_deref(),
        p.model.as_deref(),
        p.message,
        p.channel,
    )?;
    let accepted_at = now_ms();
    if let Some(existing) = state
        .shared
        .idempotency
        .check_or_insert("agent", key, &turn.run_id)
    {
        // A retry: same run; its final answer also goes to this request id.
        reply(
            ctx,
            req_id,
            json!({"runId": existing, "status": "accepted", "acceptedAt": accepted_at, "duplicate": true}),
        );
        if let Some(entry) = state.shared.runs.get(&existing) {
            spawn_final_reply(ctx, req_id, entry);
        }
        return Ok(());
    }
    let run_id = turn.run_id.clone();
    let entry = state.shared.runs.start(&run_id, &session);
    reply(
        ctx,
        req_id,
        json!({"runId": run_id, "status": "accepted", "acceptedAt": accepted_at}),
    );
    spawn_run(state, turn, entry.clone());
    spawn_final_reply(ctx, req_id, entry);
    Ok(())
}

fn reply(ctx: &CallContext, req_id: &str, payload: Value) {
    let frame = Frame::Res(ResponseFrame::ok(req_id, payload));
    ctx.conn
        .send_response(serde_json::to_string(&frame).unwrap_or_default());
}

/// Sends the second `res` of a two-stage `agent` call when the run finishes.
fn spawn_final_reply(ctx: &CallContext, req_id: &str, entry: Arc<RunEntry>) {
    let conn = ctx.conn.clone();
    let req_id = req_id.to_owned();
    tokio::spawn(async move {
        let result = entry.finished().await;
        let frame = Frame::Res(ResponseFrame::ok(req_id, result.payload));
        conn.send_response(serde_json::to_string(&frame).unwrap_or_default());
    });
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WaitParams {
    run_id: String,
    timeout_ms: Option<u64>,
}

/// `agent.wait {runId, timeoutMs?}`.
pub async fn agent_wait(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: WaitParams = parse_params("agent.wait", params)?;
    let Some(entry) = state.shared.runs.get(&p.run_id) else {
        return Err(ErrorShape::new(
            ErrorCode::AgentResultNotFound,
            format!(
                "no run {:?}: it never existed or finished more than 10 minutes ago",
                p.run_id
            ),
        ));
    };
    let timeout = Duration::from_millis(p.timeout_ms.unwrap_or(30_000).min(600_000));
    match entry.wait(timeout).await {
        Some(r) => Ok(r.payload),
        None => Ok(json!({"runId": p.run_id, "status": "timeout"})),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ChatSendParams {
    session_key: String,
    message: String,
    idempotency_key: Option<String>,
}

/// `chat.send`: acknowledges with `started`; `chat` events carry the reply.
pub async fn chat_send(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: ChatSendParams = parse_params("chat.send", params)?;
    let key = require_idempotency("chat.send", p.idempotency_key.as_deref())?;
    let (turn, session) = build_turn(state, None, Some(&p.session_key), None, p.message, None)?;
    if let Some(existing) = state
        .shared
        .idempotency
        .check_or_insert("chat.send", key, &turn.run_id)
    {
        let status = match state.shared.runs.get(&existing).and_then(|e| e.result()) {
            Some(r) => r.status.as_str(),
            None => "in_flight",
        };
        return Ok(json!({"runId": existing, "status": status, "duplicate": true}));
    }
    let run_id = turn.run_id.clone();
    let entry = state.shared.runs.start(&run_id, &session);
    spawn_run(state, turn, entry);
    Ok(json!({"runId": run_id, "status": "started"}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HistoryParams {
    session_key: String,
    limit: Option<usize>,
}

/// `chat.history {sessionKey, limit?}`.
pub async fn chat_history(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: HistoryParams = parse_params("chat.history", params)?;
    let key = session_key(&p.session_key)?;
    let limit = p.limit.unwrap_or(200).clamp(1, 1000);
    let entries = state
        .shared
        .sessions
        .history(&key, limit)
        .await
        .map_err(|e| ErrorShape::unavailable(e.to_string()))?;
    let (messages, has_more) = fit_history(entries, HISTORY_ENTRY_BYTES, HISTORY_REPLY_BYTES);
    Ok(json!({"sessionKey": key.to_string(), "messages": messages, "hasMore": has_more}))
}

/// Longest `content` `chat.history` returns for one entry; a longer one (a transcript
/// written before answers were capped) is cut at a character boundary and marked
/// `truncated` with its full `contentBytes`.
const HISTORY_ENTRY_BYTES: usize = crate::catalog::DEFAULT_MAX_ANSWER_BYTES;

/// Budget for all returned entries together: half of `maxPayload`, so a reply always fits
/// a client's frame limit with room for the envelope.
const HISTORY_REPLY_BYTES: usize = openclaw_protocol::MAX_PAYLOAD_BYTES / 2;

/// The newest entries that fit `budget` (oldest first, as stored), each cut to
/// `entry_cap`; whether older entries were left out.
fn fit_history(
    entries: Vec<openclaw_sessions::Entry>,
    entry_cap: usize,
    budget: usize,
) -> (Vec<Value>, bool) {
    let mut out = Vec::new();
    let mut used = 0usize;
    let total = entries.len();
    for entry in entries.into_iter().rev() {
        let full = entry.content.len();
        let mut v = serde_json::to_value(&entry).unwrap_or(Value::Null);
        if full > entry_cap {
            let mut cut = entry_cap;
            while !entry.content.is_char_boundary(cut) {
                cut -= 1;
            }
            v["content"] = json!(&entry.content[..cut]);
            v["truncated"] = json!(true);
            v["contentBytes"] = json!(full);
        }
        let size = v.to_string().len();
        if used + size > budget && !out.is_empty() {
            break;
        }
        used += size;
        out.push(v);
    }
    let has_more = out.len() < total;
    out.reverse();
    (out, has_more)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AbortParams {
    session_key: String,
    run_id: Option<String>,
}

/// `chat.abort {sessionKey, runId?}`.
pub async fn chat_abort(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: AbortParams = parse_params("chat.abort", params)?;
    let key = session_key(&p.session_key)?;
    let ids = state
        .shared
        .runs
        .abort(&key.to_string(), p.run_id.as_deref());
    Ok(json!({"ok": true, "aborted": !ids.is_empty(), "runIds": ids}))
}

/// `agents.list`.
pub fn agents_list(state: &AppState) -> Value {
    state.live().agents.listing()
}

/// The `idempotencyKey` every side-effecting method requires, checked the same way
/// everywhere.
pub(crate) fn require_idempotency<'a>(
    method: &str,
    key: Option<&'a str>,
) -> Result<&'a str, ErrorShape> {
    match key {
        Some(k) if !k.is_empty() && k.len() <= 256 => Ok(k),
        _ => Err(ErrorShape::invalid(format!(
            "invalid params for {method}: idempotencyKey is required (a unique string per logical request, at most 256 chars)"
        ))),
    }
}

fn session_key(raw: &str) -> Result<SessionKey, ErrorShape> {
    crate::agents::session_key(raw).map_err(|e| ErrorShape::invalid(e.to_string()))
}

/// Resolves agent, session and model for a WebSocket-initiated turn.
fn build_turn(
    state: &AppState,
    agent_id: Option<&str>,
    session_key: Option<&str>,
    model: Option<&str>,
    message: String,
    channel: Option<String>,
) -> Result<(Turn, String), ErrorShape> {
    if message.trim().is_empty() {
        return Err(ErrorShape::invalid("message must not be empty"));
    }
    if let Some(why) = state.shared.memory.pressure() {
        return Err(ErrorShape::unavailable(why).retry_after(5_000));
    }
    let live = state.live();
    let session = match session_key {
        Some(raw) => session_key_for(raw)?,
        None => SessionKey::main(agent_id.unwrap_or(live.agents.default_id())),
    };
    let agent_name = agent_id.unwrap_or(&session.agent_id);
    let agent = live.agents.get(agent_name).cloned().ok_or_else(|| {
        ErrorShape::invalid(format!(
            "unknown agent {agent_name:?}; see agents.list for the configured agents"
        ))
    })?;
    let model_override = match model {
        Some(m) => Some(live.agents.target(m).ok_or_else(|| {
            ErrorShape::invalid(format!(
                "unknown model {m:?}; use \"<provider>/<model>\" with a configured provider"
            ))
        })?),
        None => None,
    };
    let key_text = session.to_string();
    let turn = Turn::new(agent, session, message)
        .with_model_override(model_override)
        .with_channel(channel);
    Ok((turn, key_text))
}

fn session_key_for(raw: &str) -> Result<SessionKey, ErrorShape> {
    crate::agents::session_key_for(raw).map_err(|e| ErrorShape::invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> openclaw_sessions::Entry {
        openclaw_sessions::Entry::assistant(text.to_owned())
    }

    #[test]
    fn history_fits_its_budget_newest_first() {
        let entries = vec![
            entry(&"a".repeat(100)),
            entry("é".repeat(40).as_str()),
            entry("last"),
        ];
        // Cap 11 bytes per entry: the 80-byte "é" run is cut on a char boundary (10 bytes).
        let (out, more) = fit_history(entries.clone(), 11, usize::MAX);
        assert!(!more);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0]["content"].as_str().unwrap().len(), 11);
        assert_eq!(out[1]["content"], "é".repeat(5));
        assert_eq!(out[1]["truncated"], true);
        assert_eq!(out[1]["contentBytes"], 80);
        assert_eq!(out[2]["content"], "last");
        assert!(out[2].get("truncated").is_none());
        // A budget for about one entry keeps the newest and says more exist.
        let one = serde_json::to_value(entry("last"))
            .unwrap()
            .to_string()
            .len();
        let (out, more) = fit_history(entries, 1000, one + 10);
        assert!(more);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["content"], "last");
    }
}
