//! Background runs: a turn started by `agent`, `chat.send`, a hook or a channel keeps
//! running whoever asked for it, and streams `agent` and `chat` events to every operator
//! with read access.
//!
//! Runs belong to their session, not to the socket that started them: a client that
//! disconnects does not stop them (it can reconnect and `agent.wait`); `chat.abort` does.

use std::sync::Arc;

use openclaw_protocol::MethodAccess;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::runner::{RunError, RunEvent, Turn, run_turn};
use crate::conns::Registry;
use crate::runs::{RunEntry, RunResult, RunStatus};
use crate::state::AppState;
use crate::sys::now_ms;

/// Event names.
pub const AGENT_EVENT: &str = "agent";
/// Event names.
pub const CHAT_EVENT: &str = "chat";

/// Runs a turn in the background, streaming `agent` and `chat` events to operators.
pub fn spawn_run(state: &Arc<AppState>, turn: Turn, entry: Arc<RunEntry>) {
    let turn = with_gateway_tools(state, turn);
    let sessions = state.shared.sessions.clone();
    let metrics = state.shared.metrics.clone();
    let runs = state.shared.runs.clone();
    let conns = state.conns.clone();
    tokio::spawn(async move {
        let run_id = turn.run_id.clone();
        let session = turn.session.to_string();
        let started_at = now_ms();
        let (tx, mut rx) = mpsc::channel::<RunEvent>(256);
        let emitter = {
            let conns = conns.clone();
            let run_id = run_id.clone();
            let session = session.clone();
            tokio::spawn(async move {
                let mut em = Emitter::new(conns, run_id, session);
                em.agent(
                    "lifecycle",
                    json!({"phase": "start", "startedAt": started_at}),
                );
                while let Some(ev) = rx.recv().await {
                    em.run_event(ev);
                }
                em.flush();
                em
            })
        };
        let result = run_turn(&sessions, &metrics, turn, &tx, &entry.cancel).await;
        drop(tx);
        let Ok(mut em) = emitter.await else {
            return;
        };
        let ended_at = now_ms();
        let (status, payload) = match result {
            Ok(out) => {
                em.agent(
                    "lifecycle",
                    json!({"phase": "end", "startedAt": started_at, "endedAt": ended_at}),
                );
                em.chat("final", true, None);
                let usage = out
                    .usage
                    .as_ref()
                    .map(|u| json!({"input": u.input_tokens, "output": u.output_tokens}));
                (
                    RunStatus::Ok,
                    json!({
                        "runId": run_id, "status": "ok", "sessionKey": session,
                        "summary": out.text,
                        "result": {
                            "payloads": [{"text": out.text}],
                            "meta": {"provider": out.provider, "model": out.model, "usage": usage,
                                     "durationMs": ended_at.saturating_sub(started_at)},
                        },
                    }),
                )
            }
            Err(RunError::Aborted) => {
                em.agent(
                    "lifecycle",
                    json!({"phase": "end", "aborted": true, "endedAt": ended_at}),
                );
                em.chat("aborted", false, None);
                (
                    RunStatus::Aborted,
                    json!({"runId": run_id, "status": "aborted", "sessionKey": session}),
                )
            }
            Err(e) => {
                let msg = e.to_string();
                em.agent(
                    "lifecycle",
                    json!({"phase": "error", "error": msg, "endedAt": ended_at}),
                );
                em.chat("error", false, Some(&msg));
                let mut payload = json!({
                    "runId": run_id, "status": "error", "sessionKey": session, "error": msg,
                    "retryable": e.is_retryable(),
                });
                if let Some(wait) = e.retry_after() {
                    payload["retryAfterMs"] = json!(wait.as_millis() as u64);
                }
                (RunStatus::Error, payload)
            }
        };
        runs.finish(&entry, RunResult { status, payload });
    });
}

/// `turn` with the gateway's tools attached (unless the caller chose its own set).
pub fn with_gateway_tools(state: &Arc<AppState>, turn: Turn) -> Turn {
    if turn.tools.is_some() {
        return turn;
    }
    let tools = crate::tools::toolbox::ToolBox::for_turn(state, &turn.agent.id, &turn.session);
    turn.with_tools(Some(tools))
}

/// Turns run events into `agent` and `chat` events with per-run sequence numbers.
struct Emitter {
    conns: Arc<Registry>,
    run_id: String,
    session: String,
    seq: u64,
    chat_seq: u64,
    text: String,
    /// Text received since the last delta events went out.
    pending: String,
    /// When the last delta events went out.
    flushed_at: Option<std::time::Instant>,
}

/// Delta events carry the whole reply so far (as OpenClaw clients expect), so sending one
/// per provider chunk would cost the square of the answer's length in bytes. They are
/// coalesced: at most one pair per interval, plus one before the run's last event.
const DELTA_INTERVAL: std::time::Duration = std::time::Duration::from_millis(150);

impl Emitter {
    fn new(conns: Arc<Registry>, run_id: String, session: String) -> Self {
        Emitter {
            conns,
            run_id,
            session,
            seq: 0,
            chat_seq: 0,
            text: String::new(),
            pending: String::new(),
            flushed_at: None,
        }
    }

    /// Sends the coalesced delta events, if any text is pending.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let delta = std::mem::take(&mut self.pending);
        self.agent("assistant", json!({"text": self.text, "delta": delta}));
        self.chat("delta", true, None);
        self.flushed_at = Some(std::time::Instant::now());
    }

    fn run_event(&mut self, ev: RunEvent) {
        // Any other event goes out after the text that came before it.
        if !matches!(ev, RunEvent::Delta(_)) {
            self.flush();
        }
        match ev {
            RunEvent::Delta(d) => {
                self.text.push_str(&d);
                self.pending.push_str(&d);
                if self.flushed_at.is_none_or(|t| t.elapsed() >= DELTA_INTERVAL) {
                    self.flush();
                }
            }
            RunEvent::ToolCall {
                index,
                id,
                name,
                arguments,
            } => self.agent(
                "tool",
                json!({"phase": "call", "index": index, "toolCallId": id, "name": name, "argsDelta": arguments}),
            ),
            RunEvent::ToolStart {
                id,
                name,
                arguments,
            } => {
                let args = serde_json::from_str::<Value>(&arguments).unwrap_or(Value::String(arguments));
                self.agent(
                    "tool",
                    json!({"phase": "start", "toolCallId": id, "name": name, "args": args}),
                )
            }
            RunEvent::ToolResult {
                id,
                name,
                content,
                is_error,
            } => self.agent(
                "tool",
                json!({"phase": "result", "toolCallId": id, "name": name, "result": content, "isError": is_error}),
            ),
            RunEvent::Model { provider, model } => self.agent(
                "lifecycle",
                json!({"phase": "model", "provider": provider, "model": model}),
            ),
            RunEvent::Fallback { from, error } => self.agent(
                "lifecycle",
                json!({"phase": "fallback", "from": from, "error": error}),
            ),
        }
    }

    fn agent(&mut self, stream: &str, data: Value) {
        self.seq += 1;
        let payload = json!({"runId": self.run_id, "seq": self.seq, "stream": stream, "ts": now_ms(), "data": data});
        broadcast(&self.conns, AGENT_EVENT, payload);
    }

    /// A `chat` event; `with_text` attaches the reply so far (the whole reply on `final`).
    fn chat(&mut self, state: &str, with_text: bool, error: Option<&str>) {
        self.chat_seq += 1;
        let mut payload = json!({"runId": self.run_id, "sessionKey": self.session, "seq": self.chat_seq, "state": state});
        if with_text {
            payload["message"] = json!({"role": "assistant", "content": [{"type": "text", "text": self.text}], "timestamp": now_ms()});
        }
        if let Some(e) = error {
            payload["errorMessage"] = json!(e);
        }
        broadcast(&self.conns, CHAT_EVENT, payload);
    }
}

fn broadcast(conns: &Registry, name: &'static str, payload: Value) {
    let text: Arc<str> = Arc::from(payload.to_string());
    conns.broadcast_to(name, text, false, |c| MethodAccess::Read.allows(&c.scopes));
}
