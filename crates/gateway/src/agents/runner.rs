//! One agent turn: history in, model chain with fallbacks, deltas out, transcript written.
//!
//! The same function serves the WebSocket `agent`/`chat.send` methods and the HTTP
//! OpenAI-compatible endpoints; only the consumer of [`RunEvent`]s differs.
//!
//! Durability: the user's message is appended (and synced) before any provider is called,
//! and the assistant's reply is appended (and synced) before the run reports success, so a
//! turn acknowledged as final survives a `kill -9`.

use std::time::Duration;

use openclaw_providers::{
    ChatEvent, ChatRequest, FinishReason, Message, ProviderError, Role, ToolCall, ToolChoice,
    ToolDef, Usage,
};
use openclaw_sessions::{Entry, SessionError, SessionKey, SessionStore};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::catalog::{Agent, ModelTarget};
use crate::metrics::{Metrics, Outcome as MetricOutcome};
use crate::runs::Cancel;
use crate::tools::toolbox::{ToolBox, ToolOutput};

/// A `Retry-After` at most this long is waited out on the same model before falling back.
pub const MAX_RETRY_AFTER_WAIT: Duration = Duration::from_secs(2);

/// Sampling and tool parameters passed through to the provider.
#[derive(Clone, Debug, Default)]
pub struct GenParams {
    /// Output token cap.
    pub max_tokens: Option<u32>,
    /// Temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Client-supplied function tools.
    pub tools: Vec<ToolDef>,
    /// Tool choice.
    pub tool_choice: Option<ToolChoice>,
}

/// Everything one turn needs.
pub struct Turn {
    /// Run id.
    pub run_id: String,
    /// The agent answering.
    pub agent: Agent,
    /// The session.
    pub session: SessionKey,
    /// Whether the session has a transcript (stateless HTTP calls have none).
    pub persist: bool,
    /// Messages the client supplied before its new message (OpenAI-style clients resend
    /// the conversation); used instead of the transcript when present.
    pub prior: Vec<Message>,
    /// System text from the client, appended to the agent's system prompt.
    pub system_extra: Option<String>,
    /// The new user message (may be empty when the turn ends in tool results).
    pub user_text: String,
    /// Tool results that continue a tool-call loop.
    pub tool_results: Vec<Message>,
    /// A `provider/model` replacing the agent's chain.
    pub model_override: Option<ModelTarget>,
    /// Generation parameters.
    pub params: GenParams,
    /// Channel the message came from, recorded in the transcript.
    pub channel: Option<String>,
    /// The gateway's own tools for this turn; `None` runs no tool (the model's calls go
    /// back to the client, as for a client that brings its own tools).
    pub tools: Option<std::sync::Arc<ToolBox>>,
}

impl Turn {
    /// A turn of `agent` on `session` answering `user_text`, with a fresh run id, a
    /// durable transcript, the agent's own model chain and default parameters; the
    /// `with_*` methods change one of those.
    pub fn new(agent: Agent, session: SessionKey, user_text: impl Into<String>) -> Turn {
        Turn {
            run_id: uuid::Uuid::new_v4().to_string(),
            agent,
            session,
            persist: true,
            prior: vec![],
            system_extra: None,
            user_text: user_text.into(),
            tool_results: vec![],
            model_override: None,
            params: GenParams::default(),
            channel: None,
            tools: None,
        }
    }

    /// Runs the gateway's tools (under the tool policy) when the model calls them.
    pub fn with_tools(mut self, tools: Option<std::sync::Arc<ToolBox>>) -> Turn {
        self.tools = tools;
        self
    }

    /// Uses `run_id` instead of a fresh one.
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Turn {
        self.run_id = run_id.into();
        self
    }

    /// Records `channel` as the message's origin in the transcript.
    pub fn with_channel(mut self, channel: Option<String>) -> Turn {
        self.channel = channel;
        self
    }

    /// Answers with this `provider/model` instead of the agent's chain.
    pub fn with_model_override(mut self, target: Option<ModelTarget>) -> Turn {
        self.model_override = target;
        self
    }

    /// Whether the session has a transcript (stateless HTTP calls have none).
    pub fn with_persist(mut self, persist: bool) -> Turn {
        self.persist = persist;
        self
    }

    /// Client-supplied conversation: earlier messages, extra system text and the tool
    /// results that continue a tool-call loop.
    pub fn with_client_history(
        mut self,
        prior: Vec<Message>,
        system_extra: Option<String>,
        tool_results: Vec<Message>,
    ) -> Turn {
        self.prior = prior;
        self.system_extra = system_extra;
        self.tool_results = tool_results;
        self
    }

    /// Sampling and tool parameters.
    pub fn with_params(mut self, params: GenParams) -> Turn {
        self.params = params;
        self
    }
}

/// What a run reports while it runs.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// A model started answering.
    Model {
        /// Provider id.
        provider: String,
        /// Model id.
        model: String,
    },
    /// A model failed before answering; the next one is tried.
    Fallback {
        /// `provider/model` that failed.
        from: String,
        /// Why.
        error: String,
    },
    /// Text.
    Delta(String),
    /// A gateway tool is about to run (its call is already in the transcript).
    ToolStart {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments as the model wrote them (JSON text).
        arguments: String,
    },
    /// A gateway tool finished (its result is already in the transcript).
    ToolResult {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// What goes back to the model.
        content: String,
        /// Whether the tool failed (or was refused).
        is_error: bool,
    },
    /// A piece of a tool call the client runs (gateway tools' calls are not streamed).
    ToolCall {
        /// Tool call ordinal.
        index: usize,
        /// Call id (first piece).
        id: Option<String>,
        /// Function name (first piece).
        name: Option<String>,
        /// Argument text fragment.
        arguments: String,
    },
}

/// A finished turn.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The reply text.
    pub text: String,
    /// Tool calls the model made.
    pub tool_calls: Vec<ToolCall>,
    /// Token usage, if reported.
    pub usage: Option<Usage>,
    /// Why generation stopped.
    pub finish: Option<FinishReason>,
    /// Provider that answered.
    pub provider: String,
    /// Model that answered.
    pub model: String,
}

/// Why a turn failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The agent has no model chain.
    #[error(
        "agent {agent:?} has no model configured; set agents.defaults.model (e.g. \"openai/gpt-4o\") or pass a model override"
    )]
    NoModel {
        /// Agent id.
        agent: String,
    },
    /// Every model in the chain failed before answering.
    #[error("all models failed: {}", .attempts.join("; "))]
    AllFailed {
        /// `provider/model: error` per attempt.
        attempts: Vec<String>,
        /// The last error, for its status.
        last: ProviderError,
    },
    /// A model failed after it had started answering.
    #[error("{0}")]
    MidStream(ProviderError),
    /// Aborted.
    #[error("run aborted")]
    Aborted,
    /// The model's answer passed `agents.defaults.maxAnswerBytes`.
    #[error(
        "the model's answer passed {limit} bytes (agents.defaults.maxAnswerBytes); the turn was stopped and the first {} bytes of text were kept; raise the limit if answers this long are expected",
        .kept.len()
    )]
    AnswerTooLarge {
        /// The limit.
        limit: usize,
        /// The text received up to the limit.
        kept: String,
    },
    /// The model kept calling tools past the round limit.
    #[error(
        "the model called tools for {0} rounds without a final answer; the turn was stopped (agents.defaults.maxToolRounds raises the limit)"
    )]
    ToolRounds(usize),
    /// Exceeded the agent's time limit.
    #[error("run exceeded the agent time limit of {0:?}; raise agents.defaults.timeoutSeconds")]
    Timeout(Duration),
    /// The transcript could not be read or written.
    #[error("session transcript: {0}")]
    Transcript(#[from] SessionError),
}

impl RunError {
    /// Whether sending the same turn again may succeed: the model failed for a transient
    /// reason (connection, header timeout, 408/409/429/5xx). Configuration problems, aborts,
    /// size and time limits are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            RunError::AllFailed { last, .. } | RunError::MidStream(last) => last.is_retryable(),
            _ => false,
        }
    }

    /// How long the upstream asked to wait before retrying, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RunError::AllFailed { last, .. } | RunError::MidStream(last) if self.is_retryable() => {
                last.retry_after()
            }
            _ => None,
        }
    }
}

/// Runs one turn. Events go to `events` (a closed receiver is ignored: the run still
/// finishes and is recorded). The run and each model call are counted in `metrics`.
pub async fn run_turn(
    store: &SessionStore,
    metrics: &Metrics,
    turn: Turn,
    events: &mpsc::Sender<RunEvent>,
    cancel: &Cancel,
) -> Result<Outcome, RunError> {
    let started = Instant::now();
    let result = run_turn_inner(store, metrics, turn, events, cancel).await;
    let outcome = match &result {
        Ok(_) => MetricOutcome::Ok,
        Err(RunError::Aborted) => MetricOutcome::Aborted,
        Err(RunError::Timeout(_)) => MetricOutcome::Timeout,
        Err(_) => MetricOutcome::Error,
    };
    metrics.run_completed(outcome, started.elapsed());
    result
}

async fn run_turn_inner(
    store: &SessionStore,
    metrics: &Metrics,
    turn: Turn,
    events: &mpsc::Sender<RunEvent>,
    cancel: &Cancel,
) -> Result<Outcome, RunError> {
    let _guard = if turn.persist {
        Some(store.lock(&turn.session).await)
    } else {
        None
    };
    let started = Instant::now();
    let deadline = started + turn.agent.timeout;

    let mut messages = Vec::new();
    if turn.persist && turn.prior.is_empty() {
        let mut history = store
            .history(&turn.session, turn.agent.history_limit)
            .await?;
        // A new message into an idle session starts it over.
        if !turn.user_text.is_empty()
            && reset_if_idle(store, &turn.session, history.last(), turn.agent.idle_reset).await?
        {
            history.clear();
        }
        // Calls a crash left without a result are answered "interrupted" (and recorded)
        // before the model sees the history again; they are never re-run.
        let interrupted = interrupted_results(&history, Some(&turn.run_id));
        if !interrupted.is_empty() {
            store.append(&turn.session, &interrupted).await?;
            history.extend(interrupted);
        }
        messages.extend(history.iter().filter_map(entry_to_message));
    }
    let history_ms = started.elapsed().as_millis() as u64;
    messages.extend(turn.prior.iter().cloned());
    messages.extend(turn.tool_results.iter().cloned());
    let mut new_entries = Vec::new();
    if !turn.user_text.is_empty() {
        messages.push(Message {
            role: Role::User,
            content: turn.user_text.clone(),
            tool_calls: vec![],
            tool_call_id: None,
        });
        let mut e = Entry::user(turn.user_text.clone());
        e.run_id = Some(turn.run_id.clone());
        e.channel = turn.channel.clone();
        new_entries.push(e);
    }
    for t in &turn.tool_results {
        let mut e = Entry::user(t.content.clone());
        e.role = "tool".into();
        e.tool_call_id = t.tool_call_id.clone();
        e.run_id = Some(turn.run_id.clone());
        new_entries.push(e);
    }
    if turn.persist && !new_entries.is_empty() {
        store.append(&turn.session, &new_entries).await?;
    }

    let system = match (&turn.agent.system_prompt, &turn.system_extra) {
        (Some(a), Some(b)) => Some(format!("{a}\n\n{b}")),
        (Some(a), None) => Some(a.clone()),
        (None, Some(b)) => Some(b.clone()),
        (None, None) => None,
    };
    let chain: Vec<ModelTarget> = match &turn.model_override {
        Some(t) => vec![t.clone()],
        None => turn.agent.chain.clone(),
    };
    if chain.is_empty() {
        let err = RunError::NoModel {
            agent: turn.agent.id.clone(),
        };
        record_failure(store, &turn, &err).await;
        return Err(err);
    }

    let model_started = Instant::now();
    // Names the client declared are the client's to run, even where the gateway has a
    // tool of the same name.
    let client_tools: Vec<&str> = turn.params.tools.iter().map(|t| t.name.as_str()).collect();
    let offered = turn
        .tools
        .as_ref()
        .map(|tb| tb.defs(&client_tools))
        .unwrap_or_default();
    let mut rounds = 0usize;
    let mut usage: Option<Usage> = None;
    let result = loop {
        let round = try_chain(
            &turn,
            &chain,
            system.clone(),
            messages.clone(),
            &offered,
            (events, metrics),
            cancel,
            deadline,
        )
        .await;
        let mut outcome = match round {
            Ok(o) => o,
            Err(e) => break Err(e),
        };
        usage = add_usage(usage, outcome.usage);
        outcome.usage = usage;
        let runs_here = turn.tools.as_ref().filter(|_| {
            !outcome.tool_calls.is_empty()
                && outcome
                    .tool_calls
                    .iter()
                    .all(|c| !client_tools.contains(&c.name.as_str()))
        });
        let Some(tools) = runs_here else {
            if turn.tools.is_some()
                && outcome
                    .tool_calls
                    .iter()
                    .any(|c| client_tools.contains(&c.name.as_str()))
            {
                // A mixed answer goes back to the client, which can run only its own
                // tools: the gateway's calls in it are dropped (they were never streamed
                // either), and the model can ask again in the next turn.
                let before = outcome.tool_calls.len();
                outcome
                    .tool_calls
                    .retain(|c| client_tools.contains(&c.name.as_str()));
                if outcome.tool_calls.len() < before {
                    tracing::warn!(target: "agents", run = %turn.run_id, dropped = before - outcome.tool_calls.len(), "the model called gateway tools and the client's tools in one answer; the answer goes to the client with its own calls only");
                }
            }
            break Ok(outcome);
        };
        if rounds >= turn.agent.max_tool_rounds {
            break Err(RunError::ToolRounds(rounds));
        }
        rounds += 1;
        // The calls are recorded before any runs: after a crash the transcript shows
        // what was started, and a call without a result is marked interrupted.
        if turn.persist {
            store
                .append(&turn.session, &[assistant_entry(&turn, &outcome)])
                .await?;
        }
        messages.push(Message {
            role: Role::Assistant,
            content: outcome.text.clone(),
            tool_calls: outcome.tool_calls.clone(),
            tool_call_id: None,
        });
        let results = run_tools(
            store,
            &turn,
            tools,
            &outcome.tool_calls,
            events,
            cancel,
            (deadline, turn.agent.timeout),
        )
        .await;
        match results {
            Ok(results) => messages.extend(results),
            Err(e) => break Err(e),
        }
    };
    let model_ms = model_started.elapsed().as_millis() as u64;
    let timing = |ok: bool| {
        if turn.agent.log_timings {
            tracing::info!(
                target: "timing",
                run = %turn.run_id,
                agent = %turn.agent.id,
                session = %turn.session,
                ok,
                history_ms,
                model_ms,
                tool_rounds = rounds,
                total_ms = started.elapsed().as_millis() as u64,
                "timing agent turn"
            );
        }
    };
    match result {
        Ok(outcome) => {
            if turn.persist {
                store
                    .append(&turn.session, &[assistant_entry(&turn, &outcome)])
                    .await?;
            }
            timing(true);
            Ok(outcome)
        }
        Err(err) => {
            record_failure(store, &turn, &err).await;
            timing(false);
            Err(err)
        }
    }
}

fn add_usage(a: Option<Usage>, b: Option<Usage>) -> Option<Usage> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Usage {
            input_tokens: a.input_tokens + b.input_tokens,
            output_tokens: a.output_tokens + b.output_tokens,
        }),
        (a, b) => a.or(b),
    }
}

/// The transcript entry of a model answer (with the tool calls it made, if any).
fn assistant_entry(turn: &Turn, outcome: &Outcome) -> Entry {
    let mut e = Entry::assistant(outcome.text.clone());
    e.run_id = Some(turn.run_id.clone());
    e.provider = Some(outcome.provider.clone());
    e.model = Some(outcome.model.clone());
    e.usage = outcome
        .usage
        .as_ref()
        .map(|u| json!({"input": u.input_tokens, "output": u.output_tokens}));
    e.tool_calls = outcome
        .tool_calls
        .iter()
        .map(|c| json!({"id": c.id, "name": c.name, "arguments": c.arguments}))
        .collect();
    e.channel = turn.channel.clone();
    e
}

/// The transcript entry of a tool's result.
fn tool_entry(turn: &Turn, call: &ToolCall, out: &ToolOutput) -> Entry {
    let mut e = Entry::new("tool", out.content.clone());
    e.tool_call_id = Some(call.id.clone());
    e.tool_name = Some(call.name.clone());
    e.is_error = out.is_error;
    e.run_id = Some(turn.run_id.clone());
    e
}

/// Runs one answer's tool calls, at most [`ToolBox::PARALLEL`] at once, recording each
/// result as it arrives; returns the results in call order as messages for the model.
/// Abort and the turn's deadline stop every call still running (their processes die
/// with their futures).
async fn run_tools(
    store: &SessionStore,
    turn: &Turn,
    tools: &std::sync::Arc<ToolBox>,
    calls: &[ToolCall],
    events: &mpsc::Sender<RunEvent>,
    cancel: &Cancel,
    (deadline, limit): (Instant, Duration),
) -> Result<Vec<Message>, RunError> {
    use futures_util::StreamExt;
    for c in calls {
        let _ = events
            .send(RunEvent::ToolStart {
                id: c.id.clone(),
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            })
            .await;
    }
    // Owned futures (the box's `Arc` and a copy of each call): a future borrowing from
    // this frame would not be `Send` for every lifetime the spawned run needs.
    let run_one = |i: usize| {
        let tb = tools.clone();
        let call = calls[i].clone();
        async move { (i, tb.run(&call).await) }
    };
    let mut pending = futures_util::stream::FuturesUnordered::new();
    let mut queued = 0..calls.len();
    for i in queued.by_ref().take(ToolBox::PARALLEL) {
        pending.push(run_one(i));
    }
    let mut results: Vec<Option<ToolOutput>> = vec![None; calls.len()];
    loop {
        let next = tokio::select! {
            n = pending.next() => n,
            _ = cancel.cancelled() => return Err(RunError::Aborted),
            _ = tokio::time::sleep_until(deadline) => return Err(RunError::Timeout(limit)),
        };
        let Some((i, out)) = next else { break };
        if let Some(j) = queued.next() {
            pending.push(run_one(j));
        }
        let call = &calls[i];
        if turn.persist {
            store
                .append(&turn.session, &[tool_entry(turn, call, &out)])
                .await?;
        }
        let _ = events
            .send(RunEvent::ToolResult {
                id: call.id.clone(),
                name: call.name.clone(),
                content: out.content.clone(),
                is_error: out.is_error,
            })
            .await;
        results[i] = Some(out);
    }
    Ok(calls
        .iter()
        .zip(results)
        .map(|(c, r)| Message::tool_result(c.id.clone(), r.map(|r| r.content).unwrap_or_default()))
        .collect())
}

/// Once per process start: answers "interrupted" for every tool call a crash (or kill)
/// left without a result, so the transcript says what happened before anyone asks.
/// Each session is fixed under its lock, so a turn starting meanwhile sees the same
/// record (and adds nothing twice). Only sessions whose last entry is an assistant's or
/// a tool's can have one; the others are not read.
pub async fn recover_interrupted(store: SessionStore) {
    let sessions = match store.list(None, usize::MAX).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(target: "agents", error = %e, "cannot list sessions to look for interrupted tool calls");
            return;
        }
    };
    let mut marked = 0usize;
    for s in sessions {
        if !matches!(s.last_role.as_deref(), Some("assistant" | "tool")) {
            continue;
        }
        let Ok(key) = SessionKey::parse(&s.key) else {
            continue;
        };
        let _guard = store.lock(&key).await;
        let Ok(history) = store.history(&key, 64).await else {
            continue;
        };
        let fixes = interrupted_results(&history, None);
        if fixes.is_empty() {
            continue;
        }
        match store.append(&key, &fixes).await {
            Ok(()) => {
                marked += fixes.len();
                tracing::warn!(target: "agents", session = %key, calls = fixes.len(), "tool calls were running when the gateway stopped; marked interrupted (not re-run)");
            }
            Err(e) => {
                tracing::error!(target: "agents", session = %key, error = %e, "cannot mark interrupted tool calls");
            }
        }
    }
    if marked > 0 {
        tracing::info!(target: "agents", marked, "interrupted tool calls recorded");
    }
}

/// Tool calls in `history` (the tail of a transcript) that have no result: the gateway
/// stopped while they ran. Each gets an error result saying so, so neither the model nor
/// a reader takes them for done, and none is run again.
pub fn interrupted_results(history: &[Entry], run_id: Option<&str>) -> Vec<Entry> {
    let answered: std::collections::HashSet<&str> = history
        .iter()
        .filter(|e| e.role == "tool")
        .filter_map(|e| e.tool_call_id.as_deref())
        .collect();
    let Some(last_calls) = history
        .iter()
        .rposition(|e| e.role == "assistant" && !e.tool_calls.is_empty() && e.error.is_none())
    else {
        return vec![];
    };
    let call = &history[last_calls];
    call.tool_calls
        .iter()
        .filter_map(|c| {
            let id = c.get("id")?.as_str()?;
            if answered.contains(id) {
                return None;
            }
            let mut e = Entry::new(
                "tool",
                "interrupted: the gateway stopped while this tool call was running; it was not run again and its outcome is unknown",
            );
            e.tool_call_id = Some(id.to_owned());
            e.tool_name = c.get("name").and_then(|n| n.as_str()).map(str::to_owned);
            e.is_error = true;
            e.run_id = run_id.map(str::to_owned).or_else(|| call.run_id.clone());
            Some(e)
        })
        .collect()
}

/// Starts `session` over (its transcript archived, see [`SessionStore::reset`]) when
/// `last`, its newest entry as the caller already read it, is older than `idle`
/// (`session.reset`, `gateway.sessionTimeout`). Called before a new message is recorded;
/// returns whether it reset (the caller's copy of the history is then stale).
pub async fn reset_if_idle(
    store: &SessionStore,
    session: &SessionKey,
    last: Option<&Entry>,
    idle: Option<Duration>,
) -> Result<bool, SessionError> {
    let (Some(idle), Some(last)) = (idle, last) else {
        return Ok(false);
    };
    let idle_ms = crate::sys::now_ms().saturating_sub(last.ts);
    if u128::from(idle_ms) < idle.as_millis() {
        return Ok(false);
    }
    let reset = store.reset(session).await?;
    if reset {
        tracing::info!(target: "sessions", session = %session, idle_ms, "session idle past session.reset.idleMinutes; starting a fresh session");
    }
    Ok(reset)
}

#[allow(clippy::too_many_arguments)]
async fn try_chain(
    turn: &Turn,
    chain: &[ModelTarget],
    system: Option<String>,
    messages: Vec<Message>,
    offered: &[ToolDef],
    (events, metrics): (&mpsc::Sender<RunEvent>, &Metrics),
    cancel: &Cancel,
    deadline: Instant,
) -> Result<Outcome, RunError> {
    let mut attempts = Vec::new();
    let mut last_err = None;
    for target in chain {
        let req = ChatRequest {
            model: target.model.clone(),
            system: system.clone(),
            messages: messages.clone(),
            max_tokens: turn.params.max_tokens.or(target.max_tokens),
            temperature: turn.params.temperature,
            top_p: turn.params.top_p,
            stop: turn.params.stop.clone(),
            tools: turn.params.tools.iter().chain(offered).cloned().collect(),
            tool_choice: turn.params.tool_choice.clone(),
            user: None,
        };
        let mut retried = false;
        loop {
            // With gateway tools, only the client's own tools' calls are streamed out.
            let streamed = turn.tools.as_ref().map(|_| {
                turn.params
                    .tools
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
            });
            match attempt(
                target,
                &req,
                streamed.as_deref(),
                (events, metrics),
                cancel,
                (deadline, turn.agent.timeout),
                turn.agent.max_answer_bytes,
            )
            .await
            {
                Ok(outcome) => return Ok(outcome),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retryable(e)) => {
                    if !retried
                        && let Some(wait) = e.retry_after()
                        && wait <= MAX_RETRY_AFTER_WAIT
                        && Instant::now() + wait < deadline
                    {
                        retried = true;
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => continue,
                            _ = cancel.cancelled() => return Err(RunError::Aborted),
                        }
                    }
                    tracing::warn!(target: "agents", run = %turn.run_id, model = %target.label(), error = %e, "model failed; trying the next one");
                    let _ = events
                        .send(RunEvent::Fallback {
                            from: target.label(),
                            error: e.to_string(),
                        })
                        .await;
                    attempts.push(format!("{}: {e}", target.label()));
                    last_err = Some(e);
                    break;
                }
            }
        }
    }
    Err(RunError::AllFailed {
        attempts,
        last: last_err.unwrap_or_else(|| ProviderError::Protocol {
            provider: "none".into(),
            message: "no model was tried".into(),
        }),
    })
}

enum Attempt {
    /// Fall back (nothing was sent to the client yet).
    Retryable(ProviderError),
    /// Stop the run.
    Fatal(RunError),
}

/// One call to one model, counted in the metrics by provider, model and outcome.
async fn attempt(
    target: &ModelTarget,
    req: &ChatRequest,
    streamed: Option<&[&str]>,
    (events, metrics): (&mpsc::Sender<RunEvent>, &Metrics),
    cancel: &Cancel,
    limits: (Instant, Duration),
    max_answer: usize,
) -> Result<Outcome, Attempt> {
    let started = Instant::now();
    let result = attempt_inner(target, req, streamed, events, cancel, limits, max_answer).await;
    let (outcome, tokens) = match &result {
        Ok(out) => (
            MetricOutcome::Ok,
            out.usage
                .as_ref()
                .map(|u| (u.input_tokens, u.output_tokens)),
        ),
        Err(Attempt::Fatal(RunError::Aborted)) => (MetricOutcome::Aborted, None),
        Err(Attempt::Fatal(RunError::Timeout(_))) => (MetricOutcome::Timeout, None),
        Err(_) => (MetricOutcome::Error, None),
    };
    metrics.model_call(
        target.provider.id(),
        &target.model,
        outcome,
        started.elapsed(),
        tokens,
    );
    result
}

async fn attempt_inner(
    target: &ModelTarget,
    req: &ChatRequest,
    streamed: Option<&[&str]>,
    events: &mpsc::Sender<RunEvent>,
    cancel: &Cancel,
    (deadline, limit): (Instant, Duration),
    max_answer: usize,
) -> Result<Outcome, Attempt> {
    let timeout = || Attempt::Fatal(RunError::Timeout(limit));
    let started = tokio::select! {
        r = target.provider.chat(req) => r,
        _ = cancel.cancelled() => return Err(Attempt::Fatal(RunError::Aborted)),
        _ = tokio::time::sleep_until(deadline) => return Err(timeout()),
    };
    let mut stream = match started {
        Ok(s) => s,
        Err(e) if e.is_retryable() => return Err(Attempt::Retryable(e)),
        Err(e) => {
            return Err(Attempt::Fatal(RunError::AllFailed {
                attempts: vec![format!("{}: {e}", target.label())],
                last: e,
            }));
        }
    };
    let _ = events
        .send(RunEvent::Model {
            provider: target.provider.id().to_owned(),
            model: target.model.clone(),
        })
        .await;
    let mut out = Outcome {
        text: String::new(),
        tool_calls: Vec::new(),
        usage: None,
        finish: None,
        provider: target.provider.id().to_owned(),
        model: target.model.clone(),
    };
    let mut emitted = false;
    // Per tool call: whether its deltas go out (`None` until its name is known; the
    // deltas wait meanwhile).
    let mut forward: Vec<(Option<bool>, Vec<RunEvent>)> = Vec::new();
    // Bytes of text and tool-call arguments streamed so far, against the agent's cap.
    let mut answered = 0usize;
    loop {
        use futures_util::StreamExt;
        let next = tokio::select! {
            n = stream.next() => n,
            _ = cancel.cancelled() => return Err(Attempt::Fatal(RunError::Aborted)),
            _ = tokio::time::sleep_until(deadline) => return Err(timeout()),
        };
        match next {
            None => break,
            Some(Ok(ChatEvent::TextDelta(t))) => {
                emitted = true;
                if answered + t.len() > max_answer {
                    let mut room = max_answer.saturating_sub(answered).min(t.len());
                    while !t.is_char_boundary(room) {
                        room -= 1;
                    }
                    out.text.push_str(&t[..room]);
                    return Err(Attempt::Fatal(RunError::AnswerTooLarge {
                        limit: max_answer,
                        kept: out.text,
                    }));
                }
                answered += t.len();
                out.text.push_str(&t);
                let _ = events.send(RunEvent::Delta(t)).await;
            }
            Some(Ok(ChatEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            })) => {
                emitted = true;
                answered += arguments.len();
                if answered > max_answer {
                    return Err(Attempt::Fatal(RunError::AnswerTooLarge {
                        limit: max_answer,
                        kept: out.text,
                    }));
                }
                while out.tool_calls.len() <= index {
                    out.tool_calls.push(ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                let call = &mut out.tool_calls[index];
                if let Some(id) = &id {
                    call.id.clone_from(id);
                }
                if let Some(name) = &name {
                    call.name.clone_from(name);
                }
                call.arguments.push_str(&arguments);
                let ev = RunEvent::ToolCall {
                    index,
                    id,
                    name,
                    arguments,
                };
                let Some(client) = streamed else {
                    let _ = events.send(ev).await;
                    continue;
                };
                while forward.len() <= index {
                    forward.push((None, Vec::new()));
                }
                let slot = &mut forward[index];
                if slot.0.is_none() && !call.name.is_empty() {
                    slot.0 = Some(client.contains(&call.name.as_str()));
                }
                match slot.0 {
                    Some(true) => {
                        for held in std::mem::take(&mut slot.1) {
                            let _ = events.send(held).await;
                        }
                        let _ = events.send(ev).await;
                    }
                    Some(false) => slot.1.clear(),
                    None => slot.1.push(ev),
                }
            }
            Some(Ok(ChatEvent::Usage(u))) => out.usage = Some(u),
            Some(Ok(ChatEvent::Finish(f))) => out.finish = Some(f),
            Some(Err(e)) if !emitted && e.is_retryable() => return Err(Attempt::Retryable(e)),
            Some(Err(e)) => return Err(Attempt::Fatal(RunError::MidStream(e))),
        }
    }
    Ok(out)
}

/// Records a failed turn so the transcript shows what happened to the user's message.
async fn record_failure(store: &SessionStore, turn: &Turn, err: &RunError) {
    if !turn.persist {
        return;
    }
    // What an over-long answer said up to the cap is kept; other failures have no text.
    let kept = match err {
        RunError::AnswerTooLarge { kept, .. } => kept.clone(),
        _ => String::new(),
    };
    let mut e = Entry::assistant(kept);
    e.run_id = Some(turn.run_id.clone());
    e.error = Some(err.to_string());
    if let Err(w) = store.append(&turn.session, &[e]).await {
        tracing::error!(target: "agents", run = %turn.run_id, error = %w, "cannot record the failed turn");
    }
}

/// Transcript entry to provider message; failed turns and empty entries are not history.
fn entry_to_message(e: &Entry) -> Option<Message> {
    if e.error.is_some() {
        return None;
    }
    let role = match e.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        "system" => Role::System,
        _ => return None,
    };
    let tool_calls: Vec<ToolCall> = e
        .tool_calls
        .iter()
        .filter_map(|c| {
            Some(ToolCall {
                id: c.get("id")?.as_str()?.to_owned(),
                name: c.get("name")?.as_str()?.to_owned(),
                arguments: c.get("arguments")?.as_str()?.to_owned(),
            })
        })
        .collect();
    if e.content.is_empty() && tool_calls.is_empty() {
        return None;
    }
    Some(Message {
        role,
        content: e.content.clone(),
        tool_calls,
        tool_call_id: e.tool_call_id.clone(),
    })
}
