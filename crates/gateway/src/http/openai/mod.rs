//! The OpenAI-compatible HTTP API: `/v1/models`, `/v1/chat/completions`, `/v1/responses`,
//! `/v1/embeddings`.
//!
//! The `model` field names an *agent* (`openclaw`, `openclaw/default`, `openclaw/<agentId>`),
//! not a provider model; `x-openclaw-model` overrides the backend model. A request with
//! neither `user` nor `x-openclaw-session-key` is stateless: it runs on a throw-away session
//! that is not written to disk.

use std::sync::Arc;
use std::time::Duration;

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use openclaw_providers::{FinishReason, Message, Role, ToolChoice, ToolDef, Usage};
use openclaw_sessions::SessionKey;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::sse::{CancelOnDrop, SseFrame, sse_response};
use super::{ApiError, JsonObject, json_response};
use crate::agents::{GenParams, Outcome, RunError, RunEvent, Turn, run_turn};
use crate::catalog::{Agent, ModelTarget};
use crate::runs::Cancel;
use crate::state::{Activation as Live, AppState};

mod chat;
mod embeddings;
mod responses;

pub use chat::chat_completions;
pub use embeddings::embeddings;
pub use responses::responses;

/// Largest request body on `/v1/*`.
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// Which endpoint switch a route answers to: `gateway.http.endpoints.<name>.enabled`.
pub trait Endpoint: Send + Sync + 'static {
    /// Whether the switches in `live` let this route answer.
    fn enabled(live: &Live) -> bool;
}

/// `/v1/chat/completions`.
pub struct Chat;
/// `/v1/responses`.
pub struct Responses;
/// `/v1/models`, `/v1/embeddings`: on when either of the others is.
pub struct Shared;

impl Endpoint for Chat {
    fn enabled(live: &Live) -> bool {
        live.resolved
            .gateway
            .http
            .endpoints
            .chat_completions
            .enabled
    }
}

impl Endpoint for Responses {
    fn enabled(live: &Live) -> bool {
        live.resolved.gateway.http.endpoints.responses.enabled
    }
}

impl Endpoint for Shared {
    fn enabled(live: &Live) -> bool {
        Chat::enabled(live) || Responses::enabled(live)
    }
}

/// Extractor in front of every `/v1/*` handler (its first argument): the endpoint is
/// enabled (else 404, as if the route did not exist), then bearer auth. It carries the
/// config snapshot it checked, so one request sees one config; and since the body is
/// extracted last, nothing of a refused request is read.
pub struct Admitted<E> {
    /// The config the request was admitted under.
    pub live: Arc<Live>,
    _endpoint: PhantomData<fn() -> E>,
}

impl<E: Endpoint> FromRequestParts<Arc<AppState>> for Admitted<E> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let live = state.live();
        if !E::enabled(&live) {
            return Err(ApiError::NotFound(
                "this endpoint is disabled; enable it with gateway.http.endpoints.chatCompletions.enabled or .responses.enabled".into(),
            ));
        }
        super::auth::Authorized::from_request_parts(parts, state).await?;
        Ok(Admitted {
            live,
            _endpoint: PhantomData,
        })
    }
}

/// `GET /v1/models`.
pub async fn list_models(
    Admitted { live, .. }: Admitted<Shared>,
    State(state): State<Arc<AppState>>,
) -> Response {
    let created = state.started_at_secs();
    let ids = model_ids(&live);
    let data: Vec<ModelObject<'_>> = ids.iter().map(|id| ModelObject::new(id, created)).collect();
    json_response(
        StatusCode::OK,
        ModelList {
            object: "list",
            data,
        },
    )
}

/// `GET /v1/models/{id}` (the id may contain `/`, raw or as `%2F`).
pub async fn get_model(
    Admitted { live, .. }: Admitted<Shared>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !model_ids(&live).contains(&id) {
        return Err(ApiError::ModelNotFound(id));
    }
    Ok(json_response(
        StatusCode::OK,
        ModelObject::new(&id, state.started_at_secs()),
    ))
}

/// One entry of the OpenAI model list. A typed body (rather than a `json!` tree) because
/// `/v1/models` is what clients poll: it serializes without building a map per request.
#[derive(serde::Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

impl<'a> ModelObject<'a> {
    fn new(id: &'a str, created: u64) -> Self {
        Self {
            id,
            object: "model",
            created,
            owned_by: "openclaw",
        }
    }
}

#[derive(serde::Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<ModelObject<'a>>,
}

fn model_ids(live: &Live) -> Vec<String> {
    let mut ids = vec!["openclaw".to_owned(), "openclaw/default".to_owned()];
    ids.extend(
        live.agents
            .agents()
            .iter()
            .map(|a| format!("openclaw/{}", a.id)),
    );
    ids
}

/// Resolves the `model` field and `x-openclaw-agent-id` to an agent.
fn resolve_agent(live: &Live, model: Option<&str>, headers: &HeaderMap) -> Result<Agent, ApiError> {
    const INVALID: &str = "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`.";
    let from_model = match model {
        Some("openclaw") | Some("openclaw/default") => live.agents.default_id().to_owned(),
        Some(m) => m
            .strip_prefix("openclaw/")
            .or_else(|| m.strip_prefix("openclaw:"))
            .or_else(|| m.strip_prefix("agent:"))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| bad_request(INVALID))?
            .to_owned(),
        None => return Err(bad_request(INVALID)),
    };
    let id = header_str(headers, "x-openclaw-agent-id").unwrap_or(&from_model);
    live.agents
        .get(id)
        .cloned()
        .ok_or_else(|| bad_request(format!("Unknown agent `{id}`. {INVALID}")))
}

fn model_override(live: &Live, headers: &HeaderMap) -> Result<Option<ModelTarget>, ApiError> {
    match header_str(headers, "x-openclaw-model") {
        None => Ok(None),
        Some(raw) => live.agents.target(raw).map(Some).ok_or_else(|| {
            bad_request(format!(
                "Invalid `x-openclaw-model` {raw:?}: use \"<provider>/<model>\" with a configured provider"
            ))
        }),
    }
}

/// Session from `x-openclaw-session-key` or `user`; `None` means stateless.
fn resolve_session(
    agent: &Agent,
    headers: &HeaderMap,
    user: Option<&str>,
) -> Result<(SessionKey, bool), ApiError> {
    if let Some(raw) = header_str(headers, "x-openclaw-session-key") {
        let name = raw
            .strip_prefix(&format!("agent:{}:", agent.id))
            .unwrap_or(raw);
        if ["subagent:", "cron:", "acp:"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            return Err(bad_request(format!(
                "x-openclaw-session-key {raw:?} uses a reserved namespace (subagent:, cron:, acp:)"
            )));
        }
        let key = if raw.starts_with("agent:") {
            SessionKey::parse(raw)
        } else {
            SessionKey::new(&agent.id, raw)
        }
        .map_err(|e| bad_request(format!("Invalid x-openclaw-session-key: {e}")))?;
        return Ok((key, true));
    }
    if let Some(u) = user.filter(|u| !u.is_empty()) {
        let key = SessionKey::new(&agent.id, &format!("openai-user:{u}"))
            .map_err(|e| bad_request(format!("Invalid `user`: {e}")))?;
        return Ok((key, true));
    }
    let key = SessionKey::new(&agent.id, &format!("openai:{}", uuid::Uuid::new_v4()))
        .map_err(|e| bad_request(e.to_string()))?;
    Ok((key, false))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Text of an OpenAI message `content` (string or parts).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| {
                let kind = p.get("type").and_then(Value::as_str).unwrap_or("text");
                matches!(kind, "text" | "input_text" | "output_text")
                    .then(|| p.get("text").and_then(Value::as_str))
                    .flatten()
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The parts of a chat request the runner needs.
struct ChatInput {
    system: Option<String>,
    prior: Vec<Message>,
    user_text: String,
    tool_results: Vec<Message>,
}

fn parse_messages(messages: &Value) -> Result<ChatInput, ApiError> {
    let Some(list) = messages.as_array() else {
        return Err(bad_request("Missing user message in `messages`."));
    };
    let mut system = Vec::new();
    let mut convo: Vec<Message> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let text = m.get("content").map(content_text).unwrap_or_default();
        let role = match role {
            "system" | "developer" => {
                system.push(text);
                continue;
            }
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => {
                return Err(bad_request(format!(
                    "Invalid role {other:?} in messages[{i}]; use system, developer, user, assistant or tool"
                )));
            }
        };
        let tool_calls = m
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(|calls| {
                calls
                    .iter()
                    .filter_map(|c| {
                        Some(openclaw_providers::ToolCall {
                            id: c.get("id")?.as_str()?.to_owned(),
                            name: c.pointer("/function/name")?.as_str()?.to_owned(),
                            arguments: c
                                .pointer("/function/arguments")
                                .and_then(Value::as_str)
                                .unwrap_or("{}")
                                .to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        convo.push(Message {
            role,
            content: text,
            tool_calls,
            tool_call_id: m
                .get("tool_call_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    if !convo.iter().any(|m| m.role == Role::User) {
        return Err(bad_request("Missing user message in `messages`."));
    }
    let trailing_tools = convo
        .iter()
        .rev()
        .take_while(|m| m.role == Role::Tool)
        .count();
    let (user_text, tool_results) = if trailing_tools > 0 {
        let split = convo.len() - trailing_tools;
        (String::new(), convo.split_off(split))
    } else if convo.last().is_some_and(|m| m.role == Role::User) {
        (convo.pop().map(|m| m.content).unwrap_or_default(), vec![])
    } else {
        return Err(bad_request(
            "The last message must be from the user (or tool results answering tool calls).",
        ));
    };
    Ok(ChatInput {
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        prior: convo,
        user_text,
        tool_results,
    })
}

fn parse_params(body: &Value) -> Result<GenParams, ApiError> {
    let num = |k: &str| body.get(k).filter(|v| !v.is_null());
    let range = |k: &str, lo: f64, hi: f64| -> Result<Option<f32>, ApiError> {
        match num(k) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if (lo..=hi).contains(&x) => Ok(Some(x as f32)),
                _ => Err(bad_request(format!(
                    "`{k}` must be a number from {lo} to {hi}"
                ))),
            },
        }
    };
    let tokens = |k: &str| -> Result<Option<u32>, ApiError> {
        match num(k) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 && n <= u64::from(u32::MAX) => Ok(Some(n as u32)),
                _ => Err(bad_request(format!("`{k}` must be a positive integer"))),
            },
        }
    };
    let legacy = tokens("max_tokens")?;
    let max_tokens = tokens("max_completion_tokens")?
        .or(legacy)
        .or(tokens("max_output_tokens")?);
    range("frequency_penalty", -2.0, 2.0)?;
    range("presence_penalty", -2.0, 2.0)?;
    if let Some(seed) = num("seed")
        && !(seed.is_i64() || seed.is_u64())
    {
        return Err(bad_request("`seed` must be an integer"));
    }
    let stop = match num("stop") {
        None => vec![],
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(a))
            if a.len() <= 4 && a.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty())) =>
        {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        }
        Some(_) => {
            return Err(bad_request(
                "`stop` must be a non-empty string or an array of up to 4 non-empty strings",
            ));
        }
    };
    let tools = match num("tools") {
        None => vec![],
        Some(Value::Array(list)) => list
            .iter()
            .map(|t| {
                let f = t.get("function").unwrap_or(t);
                let is_fn = t.get("type").and_then(Value::as_str) == Some("function");
                match (is_fn, f.get("name").and_then(Value::as_str)) {
                    (true, Some(name)) if !name.is_empty() => Ok(ToolDef {
                        name: name.to_owned(),
                        description: f.get("description").and_then(Value::as_str).map(str::to_owned),
                        parameters: f.get("parameters").cloned().unwrap_or(json!({"type": "object"})),
                    }),
                    _ => Err(bad_request(
                        "Each entry of `tools` must be {\"type\":\"function\",\"function\":{\"name\":…}}",
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(bad_request("`tools` must be an array")),
    };
    let tool_choice = match num("tool_choice") {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => return Err(bad_request(format!("Unsupported `tool_choice` {other:?}"))),
        }),
        Some(v) => {
            let name = v
                .pointer("/function/name")
                .or_else(|| v.get("name"))
                .and_then(Value::as_str)
                .filter(|_| v.get("type").and_then(Value::as_str) == Some("function"));
            match name {
                Some(n) if tools.iter().any(|t| t.name == n) => {
                    Some(ToolChoice::Function(n.to_owned()))
                }
                Some(n) => {
                    return Err(bad_request(format!(
                        "`tool_choice` names function {n:?}, which is not in `tools`"
                    )));
                }
                None => return Err(bad_request("Unsupported `tool_choice` variant")),
            }
        }
    };
    Ok(GenParams {
        max_tokens,
        temperature: range("temperature", 0.0, 2.0)?,
        top_p: range("top_p", 0.0, 1.0)?,
        stop,
        tools,
        tool_choice,
    })
}

fn finish_name(f: Option<&FinishReason>, has_tools: bool) -> &'static str {
    match f {
        Some(FinishReason::Length) => "length",
        Some(FinishReason::ToolCalls) => "tool_calls",
        Some(FinishReason::ContentFilter) => "content_filter",
        _ if has_tools => "tool_calls",
        _ => "stop",
    }
}

fn usage_json(u: Option<&Usage>) -> Value {
    let (i, o) = u.map_or((0, 0), |u| (u.input_tokens, u.output_tokens));
    json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o})
}

/// What the streaming encoder is given: run events, then the result.
pub enum StreamItem {
    /// A run event.
    Event(RunEvent),
    /// The run finished.
    Done(Result<Outcome, RunError>),
}

/// A streaming run: frames to send, the first one possibly a terminal error.
struct StreamingRun {
    rx: mpsc::Receiver<Result<Vec<SseFrame>, RunError>>,
    cancel: Cancel,
}

/// Spawns the run; `encode` turns each item into SSE frames. The run is cancelled when the
/// response body is dropped (client gone).
fn start_streaming_run(
    state: &Arc<AppState>,
    turn: Turn,
    mut encode: impl FnMut(StreamItem) -> Vec<SseFrame> + Send + 'static,
) -> StreamingRun {
    let turn = crate::agents::with_gateway_tools(state, turn);
    let cancel = Cancel::default();
    let (out_tx, out_rx) = mpsc::channel::<Result<Vec<SseFrame>, RunError>>(64);
    let (ev_tx, mut ev_rx) = mpsc::channel::<RunEvent>(64);
    let sessions = state.shared.sessions.clone();
    let metrics = state.shared.metrics.clone();
    let run_cancel = cancel.clone();
    tokio::spawn(async move {
        let run = run_turn(&sessions, &metrics, turn, &ev_tx, &run_cancel);
        tokio::pin!(run);
        let mut sent_any = false;
        let result = loop {
            tokio::select! {
                biased;
                Some(ev) = ev_rx.recv() => {
                    let frames = encode(StreamItem::Event(ev));
                    if frames.is_empty() {
                        continue;
                    }
                    sent_any = true;
                    if out_tx.send(Ok(frames)).await.is_err() {
                        run_cancel.cancel();
                    }
                }
                r = &mut run => break r,
            }
        };
        while let Ok(ev) = ev_rx.try_recv() {
            let frames = encode(StreamItem::Event(ev));
            if !frames.is_empty() {
                sent_any = true;
                let _ = out_tx.send(Ok(frames)).await;
            }
        }
        match result {
            Err(e) if !sent_any => {
                let _ = out_tx.send(Err(e)).await;
            }
            other => {
                let _ = out_tx.send(Ok(encode(StreamItem::Done(other)))).await;
            }
        }
    });
    StreamingRun { rx: out_rx, cancel }
}

/// Waits briefly for the first output: a run that fails at once (every provider down) gets
/// a plain JSON error with a 5xx status; otherwise the SSE stream starts, with keep-alive
/// comments while the provider is silent.
async fn sse_or_error(state: &AppState, mut run: StreamingRun) -> Response {
    let first = tokio::time::timeout(Duration::from_millis(1000), run.rx.recv()).await;
    let first_frames = match first {
        Ok(Some(Err(e))) => return ApiError::from(&e).into_response(),
        Ok(Some(Ok(frames))) => frames,
        Ok(None) => vec![],
        Err(_) => vec![],
    };
    let guard = CancelOnDrop(run.cancel.clone());
    let rest = futures_util::stream::unfold((run.rx, guard), |(mut rx, guard)| async move {
        let item = rx.recv().await?;
        let frames = match item {
            Ok(f) => f,
            Err(e) => vec![
                SseFrame::data(
                    json!({"error": {"message": e.to_string(), "type": "api_error"}}).to_string(),
                ),
                SseFrame::data("[DONE]".into()),
            ],
        };
        Some((frames, (rx, guard)))
    });
    let frames = futures_util::stream::iter(std::iter::once(first_frames))
        .chain(rest)
        .flat_map(futures_util::stream::iter);
    sse_response(frames, state.live().settings.sse_keepalive)
}
