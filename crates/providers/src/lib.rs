//! HTTP clients for the model-provider wire formats the OpenClaw gateway speaks.
//!
//! The agent runner should not care whether a model sits behind OpenAI Chat Completions,
//! the OpenAI Responses API or Anthropic Messages. This crate gives all three one request
//! type ([`ChatRequest`]) and one streaming output type ([`ChatEvent`] items of a
//! [`ChatStream`]), so the runner can call any provider the same way, fall back between
//! providers on retryable [`ProviderError`]s, and forward deltas to WebSocket events or SSE
//! as they arrive.
//!
//! Invariants of every [`ChatStream`]:
//! * [`Provider::chat`] only returns once the upstream answered with 2xx headers, so
//!   connection failures, header timeouts and HTTP error statuses surface before any delta.
//! * A successful stream ends with at most one [`ChatEvent::Usage`] followed by exactly one
//!   [`ChatEvent::Finish`] (the latter may be absent only if an OpenAI-compatible server sent
//!   `[DONE]` without any `finish_reason`), then ends.
//! * A failed stream yields one `Err` as its last item.
//! * Dropping the stream closes the upstream connection, which aborts generation.

mod anthropic;
mod error;
mod openai_chat;
mod openai_responses;
mod provider;
#[cfg(test)]
mod replay;
pub mod sse;
mod stream;

use std::collections::BTreeMap;
use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

pub use error::ProviderError;
pub use provider::{Provider, ProviderConfig, http_client};

/// Which wire format a provider speaks. Serialized as the config strings
/// `"openai-completions"`, `"openai-responses"` and `"anthropic-messages"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// OpenAI Chat Completions (`POST {base}/chat/completions`); also what most
    /// OpenAI-compatible servers (vLLM, Ollama, LM Studio, OpenRouter…) implement.
    OpenaiCompletions,
    /// OpenAI Responses (`POST {base}/responses`).
    OpenaiResponses,
    /// Anthropic Messages (`POST {base}/v1/messages`).
    AnthropicMessages,
}

/// A stream of chat events from one upstream call; see the crate docs for its invariants.
/// Boxed and `Send` so the runner can move it into a task and hold streams of different
/// APIs in one variable.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, ProviderError>> + Send>>;

/// One provider-neutral chat request. Each API module maps it onto its own wire format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The provider's model id (without any `provider/` prefix the gateway uses for routing).
    pub model: String,
    /// System prompt, sent the way each API expects it (first `system` message,
    /// `instructions`, or Anthropic's top-level `system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Conversation history, oldest first.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Output token limit. Anthropic requires one, so 4096 is sent there when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature; omitted when `None` so the provider default applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling; omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Stop sequences (`stop` / `stop_sequences`; not supported by the Responses API and
    /// silently not sent there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDef>,
    /// How the model should use `tools`; ignored when `tools` is empty (the APIs reject a
    /// tool choice without tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// End-user identifier for upstream abuse monitoring (`user`, or Anthropic's
    /// `metadata.user_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Who authored a [`Message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions inside the history. Anthropic has no such role, so these are appended to
    /// its top-level `system` prompt there.
    System,
    /// The human (or channel) side.
    User,
    /// The model's earlier turns, possibly with tool calls.
    Assistant,
    /// A tool's result, answering the assistant tool call named by `tool_call_id`.
    Tool,
}

/// One history entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Text content (the tool output for [`Role::Tool`]); may be empty for an assistant turn
    /// that only calls tools.
    #[serde(default)]
    pub content: String,
    /// Tool calls the assistant made in this turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For [`Role::Tool`]: which call this result answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A plain message with the given role, saving callers the empty tool fields.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message without tool calls.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A tool result answering the call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    /// Function name the model uses to call it.
    pub name: String,
    /// What the tool does; the model relies on it to decide when to call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// A complete tool call made by the assistant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Provider-assigned call id; tool results refer back to it.
    pub id: String,
    /// Called tool's name.
    pub name: String,
    /// Arguments as JSON text, exactly as the model produced them (it may be invalid JSON;
    /// validating it is the tool runner's job).
    pub arguments: String,
}

/// How the model should use the offered tools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls (Anthropic: the tools are not sent at all).
    None,
    /// At least one tool call.
    Required,
    /// Exactly this tool.
    Function(String),
}

/// One item of a [`ChatStream`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEvent {
    /// More assistant text.
    TextDelta(String),
    /// A piece of a tool call. `index` is the tool call's ordinal within this answer (0, 1,
    /// …); `id` and `name` arrive in the first delta of a call, `arguments` is JSON text to
    /// append. [`collect`] shows how to assemble them.
    ToolCallDelta {
        /// Ordinal of the tool call in this answer.
        index: usize,
        /// Call id, usually only in the first delta of the call.
        id: Option<String>,
        /// Tool name, usually only in the first delta of the call.
        name: Option<String>,
        /// Argument JSON text fragment (may be empty).
        arguments: String,
    },
    /// Token accounting for the whole call; sent once, just before [`ChatEvent::Finish`].
    Usage(Usage),
    /// Why generation stopped; the last event of a successful stream.
    Finish(FinishReason),
}

/// Token counts of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, including cached ones (Anthropic's cache read/creation counts are added
    /// in so the number means the same for every API).
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// Why the model stopped, normalized across APIs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// Natural end of turn or a stop sequence.
    Stop,
    /// The output token limit was hit; the answer is truncated.
    Length,
    /// The model wants tool results before continuing.
    ToolCalls,
    /// The provider withheld or cut output (content filter / refusal).
    ContentFilter,
    /// Anything else, with the provider's raw reason.
    Other(String),
}

/// Result of [`Provider::embed`].
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    /// One vector per input, in input order.
    pub vectors: Vec<Vec<f32>>,
    /// Token usage, if the provider reported it (`output_tokens` is always 0).
    pub usage: Option<Usage>,
    /// The model that produced the vectors, as reported by the provider (or as requested).
    pub model: String,
}

/// A whole answer assembled from a [`ChatStream`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatOutput {
    /// Concatenated text deltas.
    pub text: String,
    /// Tool calls in ordinal order, assembled from their deltas.
    pub tool_calls: Vec<ToolCall>,
    /// Usage, if reported.
    pub usage: Option<Usage>,
    /// Finish reason, if reported.
    pub finish: Option<FinishReason>,
}

/// Converts a sampling parameter to JSON via its shortest decimal form, so `0.9f32` is sent
/// as `0.9` rather than `0.8999999761581421`. Non-finite values yield `None` (not sent),
/// since they are never meaningful and the APIs reject them.
pub(crate) fn f32_json(x: f32) -> Option<serde_json::Value> {
    if !x.is_finite() {
        return None;
    }
    let shortest: f64 = x.to_string().parse().unwrap_or(f64::from(x));
    serde_json::Number::from_f64(shortest).map(serde_json::Value::Number)
}

#[derive(Default)]
struct PartialCall {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
}

/// Collects a stream into a whole answer: text concatenated, tool calls assembled from
/// their deltas (first id/name seen wins, arguments appended; a call without id gets
/// `call_<index>`, empty arguments become `{}`), the last usage and finish reason.
/// For callers that do not stream, such as summarization or tests. Stops at the first error.
pub async fn collect(mut stream: ChatStream) -> Result<ChatOutput, ProviderError> {
    let mut output = ChatOutput::default();
    let mut calls: BTreeMap<usize, PartialCall> = BTreeMap::new();
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::TextDelta(text) => output.text.push_str(&text),
            ChatEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                let call = calls.entry(index).or_default();
                if call.id.is_none() {
                    call.id = id.filter(|s| !s.is_empty());
                }
                if call.name.is_none() {
                    call.name = name.filter(|s| !s.is_empty());
                }
                call.arguments.push_str(&arguments);
            }
            ChatEvent::Usage(usage) => output.usage = Some(usage),
            ChatEvent::Finish(reason) => output.finish = Some(reason),
        }
    }
    output.tool_calls = calls
        .into_iter()
        .map(|(index, call)| ToolCall {
            id: call.id.unwrap_or_else(|| format!("call_{index}")),
            name: call.name.unwrap_or_default(),
            arguments: if call.arguments.trim().is_empty() {
                "{}".to_string()
            } else {
                call.arguments
            },
        })
        .collect();
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_config_strings() {
        for (api, s) in [
            (Api::OpenaiCompletions, "\"openai-completions\""),
            (Api::OpenaiResponses, "\"openai-responses\""),
            (Api::AnthropicMessages, "\"anthropic-messages\""),
        ] {
            assert_eq!(serde_json::to_string(&api).unwrap(), s);
            assert_eq!(serde_json::from_str::<Api>(s).unwrap(), api);
        }
    }

    #[tokio::test]
    async fn collect_assembles_tool_calls() {
        let events = vec![
            Ok(ChatEvent::TextDelta("Hel".into())),
            Ok(ChatEvent::TextDelta("lo".into())),
            Ok(ChatEvent::ToolCallDelta {
                index: 1,
                id: Some("b".into()),
                name: Some("second".into()),
                arguments: String::new(),
            }),
            Ok(ChatEvent::ToolCallDelta {
                index: 0,
                id: Some("a".into()),
                name: Some("first".into()),
                arguments: "{\"x\":".into(),
            }),
            Ok(ChatEvent::ToolCallDelta {
                index: 0,
                id: None,
                name: Some("first".into()),
                arguments: "1}".into(),
            }),
            Ok(ChatEvent::Usage(Usage {
                input_tokens: 3,
                output_tokens: 4,
            })),
            Ok(ChatEvent::Finish(FinishReason::ToolCalls)),
        ];
        let stream: ChatStream = Box::pin(futures_util::stream::iter(events));
        let out = collect(stream).await.unwrap();
        assert_eq!(out.text, "Hello");
        assert_eq!(
            out.tool_calls,
            vec![
                ToolCall {
                    id: "a".into(),
                    name: "first".into(),
                    arguments: "{\"x\":1}".into()
                },
                ToolCall {
                    id: "b".into(),
                    name: "second".into(),
                    arguments: "{}".into()
                },
            ]
        );
        assert_eq!(
            out.usage,
            Some(Usage {
                input_tokens: 3,
                output_tokens: 4
            })
        );
        assert_eq!(out.finish, Some(FinishReason::ToolCalls));
    }

    #[tokio::test]
    async fn collect_stops_at_error() {
        let events = vec![
            Ok(ChatEvent::TextDelta("x".into())),
            Err(ProviderError::Protocol {
                provider: "p".into(),
                message: "boom".into(),
            }),
        ];
        let stream: ChatStream = Box::pin(futures_util::stream::iter(events));
        assert!(matches!(
            collect(stream).await,
            Err(ProviderError::Protocol { .. })
        ));
    }
}
