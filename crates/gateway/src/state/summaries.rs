//! The parts of `health` and `status` the original's CLI reads beyond our own fields:
//! per-agent `agentId`/`isDefault`/`heartbeat`, session counts by agent, and a one-line
//! channel summary. They sit beside the existing fields; nothing is renamed.
//!
//! Session counts read the session directories, so they are added by the `health` and
//! `status` methods only ([`with_sessions`], [`status_extras`]), not to the snapshot
//! pushed on every connect and health change.

use serde_json::{Value, json};

use super::AppState;

/// How many recent sessions a summary lists per agent (as the original: 10).
pub const RECENT_SESSIONS: usize = 10;

/// An agent's heartbeat as the original's health and status report it. This gateway
/// runs no heartbeat turns, so every agent reports `enabled: false`; a client then shows
/// "disabled" rather than the interval its own local defaults would suggest.
pub fn heartbeat() -> Value {
    json!({"enabled": false, "every": "disabled", "everyMs": null})
}

/// The `agents` entries of the health snapshot: our `{id, name, default, model}` plus the
/// original's `agentId`, `isDefault` and `heartbeat`.
pub fn health_agents(listing: &Value) -> Value {
    let mut agents = listing["agents"].clone();
    if let Some(list) = agents.as_array_mut() {
        for a in list {
            let id = a["id"].as_str().unwrap_or_default().to_owned();
            a["agentId"] = json!(id);
            a["isDefault"] = a["default"].clone();
            a["heartbeat"] = heartbeat();
        }
    }
    agents
}

/// `{path, count, recent: [{key, updatedAt, age}]}` for one agent; an unreadable store
/// reports an `error` and a count of 0 rather than failing the whole summary.
async fn sessions_of(state: &AppState, agent_id: &str) -> Value {
    let now = crate::sys::now_ms();
    match state
        .shared
        .sessions
        .census(agent_id, RECENT_SESSIONS)
        .await
    {
        Ok(c) => json!({
            "path": c.dir,
            "count": c.count,
            "recent": c.recent.iter().map(|(key, at)| json!({
                "key": key,
                "updatedAt": at,
                "age": now.saturating_sub(*at),
            })).collect::<Vec<_>>(),
        }),
        Err(e) => json!({
            "path": state.shared.sessions.state_dir().join("agents").join(agent_id).join("sessions"),
            "count": 0,
            "recent": [],
            "error": e.to_string(),
        }),
    }
}

/// The `health` method's answer: the snapshot, each agent with its `sessions`, and the
/// default agent's sessions at the top level (where the original's CLI reads them).
pub async fn with_sessions(state: &AppState, mut snapshot: Value) -> Value {
    let default_id = snapshot["defaultAgentId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut top = None;
    if let Some(list) = snapshot["agents"].as_array_mut() {
        for a in list {
            let id = a["id"].as_str().unwrap_or_default().to_owned();
            let sessions = sessions_of(state, &id).await;
            if id == default_id {
                top = Some(sessions.clone());
            }
            a["sessions"] = sessions;
        }
    }
    snapshot["sessions"] = match top {
        Some(s) => s,
        None => sessions_of(state, &default_id).await,
    };
    snapshot
}

/// Adds the original's `heartbeat`, `channelSummary` and `sessions` (by agent) to the
/// `status` payload.
pub async fn status_extras(state: &AppState, status: &mut Value) {
    let live = state.live();
    let agents = live.agents.agents();
    status["heartbeat"] = json!({
        "defaultAgentId": live.agents.default_id(),
        "agents": agents.iter().map(|a| {
            let mut h = heartbeat();
            h["agentId"] = json!(a.id);
            h["waitingForRoute"] = json!(false);
            h
        }).collect::<Vec<_>>(),
    });
    status["channelSummary"] = json!(channel_summary(&state.shared.channels.snapshot()));
    let mut by_agent = Vec::with_capacity(agents.len());
    let mut paths = Vec::with_capacity(agents.len());
    let mut count = 0;
    let mut recent: Vec<Value> = Vec::new();
    for a in agents {
        let mut s = sessions_of(state, &a.id).await;
        count += s["count"].as_u64().unwrap_or(0);
        paths.push(s["path"].clone());
        if let Some(r) = s["recent"].as_array() {
            recent.extend(r.iter().cloned());
        }
        s["agentId"] = json!(a.id);
        by_agent.push(s);
    }
    recent.sort_by_key(|r| std::cmp::Reverse(r["updatedAt"].as_u64().unwrap_or(0)));
    recent.truncate(RECENT_SESSIONS);
    let default = live.agents.default_agent();
    let context_window = default.chain.first().and_then(|t| {
        live.agents
            .models()
            .iter()
            .find(|m| m["provider"] == t.provider.id() && m["id"] == t.model.as_str())
            .and_then(|m| m["contextWindow"].as_u64())
    });
    status["sessions"] = json!({
        "paths": paths,
        "count": count,
        "defaults": {
            "model": default.chain_refs.first(),
            "contextTokens": context_window,
        },
        "recent": recent,
        "byAgent": by_agent,
    });
}

/// One line per channel account, e.g. `telegram default: connected`.
fn channel_summary(snapshot: &Value) -> Vec<String> {
    let Some(channels) = snapshot.as_object() else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for (channel, entry) in channels {
        let Some(accounts) = entry["accounts"].as_object() else {
            continue;
        };
        for (id, s) in accounts {
            let state = if s["enabled"] == false {
                "disabled".to_owned()
            } else if s["connected"] == true {
                "connected".to_owned()
            } else if let Some(err) = s["lastError"].as_str() {
                format!("not connected ({err})")
            } else if s["running"] == true {
                "starting".to_owned()
            } else {
                "not connected".to_owned()
            };
            lines.push(format!("{channel} {id}: {state}"));
        }
    }
    lines
}
