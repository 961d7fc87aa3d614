//! Anthropic Messages API (`POST {base}/v1/messages`), streaming.
//!
//! Anthropic differs from OpenAI in ways that need real mapping work: the system prompt is a
//! top-level field, roles must alternate (so consecutive same-role turns are merged), tool
//! results are `tool_result` blocks inside a *user* turn, tool-call arguments are a parsed
//! JSON object, and usage arrives in two halves (input at `message_start`, output at
//! `message_delta`).

use std::collections::VecDeque;

use serde_json::{Map, Value, json};

use crate::error::status_for_error_kind;
use crate::sse::SseEvent;
use crate::stream::{DecodeError, Decoder};
use crate::{ChatEvent, ChatRequest, FinishReason, Role, ToolChoice, Usage, f32_json};

/// The `max_tokens` sent when the request leaves it open; Anthropic rejects requests
/// without one.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Parses assistant tool-call arguments into the object Anthropic's `tool_use.input`
/// requires. Arguments that are empty, invalid or not an object become `{}`: the history
/// must stay sendable even if a model once produced broken JSON.
fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            if !arguments.trim().is_empty() {
                tracing::debug!("tool call arguments are not a JSON object; sending {{}}");
            }
            Value::Object(Map::new())
        }
    }
}

/// Builds the JSON request body.
pub(crate) fn build_body(req: &ChatRequest) -> Value {
    let mut system_parts: Vec<&str> = Vec::new();
    if let Some(s) = req.system.as_deref().filter(|s| !s.is_empty()) {
        system_parts.push(s);
    }
    // (role, content blocks), with consecutive same-role turns merged.
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in &req.messages {
        let (role, blocks): (&'static str, Vec<Value>) = match m.role {
            Role::System => {
                if !m.content.is_empty() {
                    system_parts.push(&m.content);
                }
                continue;
            }
            Role::User => (
                "user",
                if m.content.is_empty() {
                    Vec::new()
                } else {
                    vec![json!({"type": "text", "text": m.content})]
                },
            ),
            Role::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.as_deref().unwrap_or_default(),
                    "content": m.content,
                })],
            ),
            Role::Assistant => {
                let mut blocks = Vec::with_capacity(1 + m.tool_calls.len());
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for c in &m.tool_calls {
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": c.id,
                        "name": c.name,
                        "input": tool_input(&c.arguments),
                    }));
                }
                ("assistant", blocks)
            }
        };
        if blocks.is_empty() {
            // Anthropic rejects empty content; an empty turn carries nothing anyway.
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, mut blocks)| {
            if role == "user" {
                // Anthropic wants tool results before any text in a user turn.
                let is_result = |b: &Value| b.get("type") == Some(&json!("tool_result"));
                let (mut ordered, rest): (Vec<Value>, Vec<Value>) =
                    blocks.into_iter().partition(is_result);
                ordered.extend(rest);
                blocks = ordered;
            }
            json!({"role": role, "content": blocks})
        })
        .collect();

    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert(
        "max_tokens".into(),
        json!(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if !system_parts.is_empty() {
        body.insert("system".into(), json!(system_parts.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(true));
    if let Some(t) = req.temperature.and_then(f32_json) {
        body.insert("temperature".into(), t);
    }
    if let Some(p) = req.top_p.and_then(f32_json) {
        body.insert("top_p".into(), p);
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    // `tool_choice: none` is expressed by not offering the tools at all.
    if !req.tools.is_empty() && req.tool_choice != Some(ToolChoice::None) {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut o = Map::new();
                o.insert("name".into(), json!(t.name));
                if let Some(d) = &t.description {
                    o.insert("description".into(), json!(d));
                }
                o.insert("input_schema".into(), t.parameters.clone());
                Value::Object(o)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        let choice = match &req.tool_choice {
            Some(ToolChoice::Auto) => Some(json!({"type": "auto"})),
            Some(ToolChoice::Required) => Some(json!({"type": "any"})),
            Some(ToolChoice::Function(name)) => Some(json!({"type": "tool", "name": name})),
            Some(ToolChoice::None) | None => None,
        };
        if let Some(c) = choice {
            body.insert("tool_choice".into(), c);
        }
    }
    if let Some(u) = &req.user {
        body.insert("metadata".into(), json!({"user_id": u}));
    }
    Value::Object(body)
}

/// Maps an Anthropic `stop_reason`.
fn finish_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// Re-expresses a whole Messages answer (`type: message`) as the event stream it stands
/// for: `message_start` with its usage, each content block as start (tool input whole, as
/// compatible proxies send it) and stop, `message_delta` with the stop reason, and
/// `message_stop`; a `type: error` document becomes an `error` event. `None` for anything
/// else.
pub(crate) fn json_as_sse(body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut out = Vec::with_capacity(body.len() + 256);
    let push = |out: &mut Vec<u8>, name: &str, data: Value| {
        crate::stream::push_sse(out, Some(name), &data);
    };
    match v.get("type").and_then(Value::as_str) {
        Some("error") => push(&mut out, "error", v),
        Some("message") => {
            let usage = v.get("usage").cloned().unwrap_or_else(|| json!({}));
            push(
                &mut out,
                "message_start",
                json!({"type": "message_start", "message": {"usage": usage}}),
            );
            let blocks = v.get("content").and_then(Value::as_array);
            for (i, block) in blocks.into_iter().flatten().enumerate() {
                push(
                    &mut out,
                    "content_block_start",
                    json!({"type": "content_block_start", "index": i, "content_block": block}),
                );
                push(
                    &mut out,
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": i}),
                );
            }
            push(
                &mut out,
                "message_delta",
                json!({"type": "message_delta",
                       "delta": {"stop_reason": v.get("stop_reason")},
                       "usage": {"output_tokens": v.pointer("/usage/output_tokens")}}),
            );
            push(&mut out, "message_stop", json!({"type": "message_stop"}));
        }
        _ => return None,
    }
    Some(out)
}

/// Stream decoder state.
#[derive(Default)]
pub(crate) struct AnthropicDecoder {
    /// (content block index, tool ordinal, any argument text emitted yet) for every
    /// tool_use block.
    tool_blocks: Vec<(u64, usize, bool)>,
    input_tokens: u64,
    output_tokens: u64,
    stop_reason: Option<FinishReason>,
}

fn u64_field(v: Option<&Value>, key: &str) -> Option<u64> {
    v.and_then(|v| v.get(key)).and_then(Value::as_u64)
}

/// Total prompt tokens: Anthropic's `input_tokens` excludes cache reads and writes.
fn input_total(usage: Option<&Value>) -> Option<u64> {
    let base = u64_field(usage, "input_tokens")?;
    let cached = ["cache_creation_input_tokens", "cache_read_input_tokens"]
        .iter()
        .filter_map(|k| u64_field(usage, k))
        .fold(0u64, u64::saturating_add);
    Some(base.saturating_add(cached))
}

impl AnthropicDecoder {
    fn ordinal(&mut self, block: u64) -> usize {
        match self.tool_blocks.iter().find(|(b, _, _)| *b == block) {
            Some((_, ord, _)) => *ord,
            None => {
                let ord = self.tool_blocks.len();
                self.tool_blocks.push((block, ord, false));
                ord
            }
        }
    }

    /// Records that argument text was emitted for the tool call with this ordinal.
    fn mark_arguments(&mut self, ord: usize) {
        if let Some(t) = self.tool_blocks.iter_mut().find(|(_, o, _)| *o == ord) {
            t.2 = true;
        }
    }

    /// A tool_use block without input arrives as `input: {}` plus, at most, an empty
    /// `partial_json`; its arguments must still be the JSON text `{}` (OpenAI clients parse
    /// them, and `""` is not JSON). Emits `{}` for the block(s) that ended with none, all of
    /// them when `block` is `None`.
    fn close_empty(&mut self, block: Option<u64>, out: &mut VecDeque<ChatEvent>) {
        for (b, ord, has_args) in &mut self.tool_blocks {
            if !*has_args && block.is_none_or(|x| x == *b) {
                *has_args = true;
                out.push_back(ChatEvent::ToolCallDelta {
                    index: *ord,
                    id: None,
                    name: None,
                    arguments: "{}".to_string(),
                });
            }
        }
    }
}

impl Decoder for AnthropicDecoder {
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<bool, DecodeError> {
        if event.data.trim().is_empty() {
            return Ok(false);
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|e| {
            DecodeError::Protocol(format!("invalid JSON in messages stream event: {e}"))
        })?;
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        match kind {
            "message_start" => {
                let usage = data.get("message").and_then(|m| m.get("usage"));
                if let Some(n) = input_total(usage) {
                    self.input_tokens = n;
                }
                if let Some(n) = u64_field(usage, "output_tokens") {
                    self.output_tokens = n;
                }
            }
            "content_block_start" => {
                let block = data.get("content_block");
                let block_type = block.and_then(|b| b.get("type")).and_then(Value::as_str);
                match block_type {
                    Some("tool_use") => {
                        let index = self.ordinal(u64_field(Some(&data), "index").unwrap_or(0));
                        let field = |k: &str| {
                            block
                                .and_then(|b| b.get(k))
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        };
                        // Real Anthropic sends `input: {}` and streams the JSON; compatible
                        // proxies may put the whole input here instead.
                        let arguments = match block.and_then(|b| b.get("input")) {
                            Some(Value::Object(o)) if !o.is_empty() => {
                                Value::Object(o.clone()).to_string()
                            }
                            _ => String::new(),
                        };
                        if !arguments.is_empty() {
                            self.mark_arguments(index);
                        }
                        out.push_back(ChatEvent::ToolCallDelta {
                            index,
                            id: field("id"),
                            name: field("name"),
                            arguments,
                        });
                    }
                    Some("text") => {
                        if let Some(t) = block
                            .and_then(|b| b.get("text"))
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            out.push_back(ChatEvent::TextDelta(t.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = data.get("delta");
                let field = |k: &str| delta.and_then(|d| d.get(k)).and_then(Value::as_str);
                match field("type") {
                    Some("text_delta") => {
                        if let Some(t) = field("text").filter(|t| !t.is_empty()) {
                            out.push_back(ChatEvent::TextDelta(t.to_string()));
                        }
                    }
                    Some("input_json_delta") => {
                        let partial = field("partial_json").unwrap_or_default();
                        let index = self.ordinal(u64_field(Some(&data), "index").unwrap_or(0));
                        if !partial.is_empty() {
                            self.mark_arguments(index);
                            out.push_back(ChatEvent::ToolCallDelta {
                                index,
                                id: None,
                                name: None,
                                arguments: partial.to_string(),
                            });
                        }
                    }
                    // thinking_delta, signature_delta, citations_delta: not surfaced.
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = data
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.stop_reason = Some(finish_reason(reason));
                }
                let usage = data.get("usage");
                if let Some(n) = u64_field(usage, "output_tokens") {
                    self.output_tokens = n;
                }
                if let Some(n) = input_total(usage).filter(|n| *n > 0) {
                    self.input_tokens = n;
                }
            }
            "content_block_stop" => {
                if let Some(block) = u64_field(Some(&data), "index") {
                    self.close_empty(Some(block), out);
                }
            }
            "message_stop" => {
                self.close_empty(None, out);
                out.push_back(ChatEvent::Usage(Usage {
                    input_tokens: self.input_tokens,
                    output_tokens: self.output_tokens,
                }));
                let reason = self.stop_reason.take().unwrap_or(FinishReason::Stop);
                out.push_back(ChatEvent::Finish(reason));
                return Ok(true);
            }
            "error" => {
                let error = data.get("error");
                let field = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
                let message = field("message")
                    .filter(|m| !m.is_empty())
                    .unwrap_or("unknown error")
                    .to_string();
                let status = field("type").and_then(status_for_error_kind);
                return Err(DecodeError::Upstream { status, message });
            }
            // ping and future event types.
            _ => {}
        }
        Ok(false)
    }

    fn on_eof(&mut self, _out: &mut VecDeque<ChatEvent>) -> Result<(), DecodeError> {
        Err(DecodeError::Protocol(
            "stream ended early (no message_stop event)".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::testutil::{assert_chunking_invariant, run_split};
    use crate::{Message, ToolCall, ToolDef};

    #[test]
    fn request_mapping() {
        let req = ChatRequest {
            model: "claude-sonnet-4-5".into(),
            system: Some("Be kind.".into()),
            messages: vec![
                Message::user("Weather in Paris and Oslo?"),
                Message::user("Quickly please."),
                Message {
                    tool_calls: vec![
                        ToolCall {
                            id: "toolu_1".into(),
                            name: "get_weather".into(),
                            arguments: "{\"city\":\"Paris\"}".into(),
                        },
                        ToolCall {
                            id: "toolu_2".into(),
                            name: "get_weather".into(),
                            arguments: "not json".into(),
                        },
                    ],
                    ..Message::assistant("Let me check.")
                },
                Message::tool_result("toolu_1", "sunny"),
                Message::tool_result("toolu_2", "rainy"),
                Message::user("And tomorrow?"),
                Message::new(Role::System, "Answer in French."),
                Message::assistant(""),
            ],
            max_tokens: None,
            temperature: Some(0.7),
            top_p: None,
            stop: vec!["\n\nHuman:".into()],
            tools: vec![ToolDef {
                name: "get_weather".into(),
                description: Some("Weather by city".into()),
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            }],
            tool_choice: Some(ToolChoice::Required),
            user: Some("user-42".into()),
        };
        let want = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "system": "Be kind.\n\nAnswer in French.",
            "stream": true,
            "temperature": 0.7,
            "stop_sequences": ["\n\nHuman:"],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather in Paris and Oslo?"},
                    {"type": "text", "text": "Quickly please."}
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "rainy"},
                    {"type": "text", "text": "And tomorrow?"}
                ]}
            ],
            "tools": [{"name": "get_weather", "description": "Weather by city",
                       "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "any"},
            "metadata": {"user_id": "user-42"}
        });
        assert_eq!(build_body(&req), want);
    }

    #[test]
    fn tool_choice_variants() {
        let mut req = ChatRequest {
            model: "m".into(),
            max_tokens: Some(10),
            messages: vec![Message::user("x")],
            tools: vec![ToolDef {
                name: "t".into(),
                description: None,
                parameters: json!({"type": "object"}),
            }],
            ..Default::default()
        };
        req.tool_choice = Some(ToolChoice::None);
        let body = build_body(&req);
        assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
        assert_eq!(body["max_tokens"], json!(10));
        req.tool_choice = Some(ToolChoice::Function("t".into()));
        assert_eq!(
            build_body(&req)["tool_choice"],
            json!({"type": "tool", "name": "t"})
        );
        req.tool_choice = Some(ToolChoice::Auto);
        assert_eq!(build_body(&req)["tool_choice"], json!({"type": "auto"}));
        req.tool_choice = None;
        let body = build_body(&req);
        assert!(body.get("tools").is_some() && body.get("tool_choice").is_none());
    }

    const TEXT_STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Grüß\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" Gott 👋\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn text_stream_any_chunking() {
        let (events, err) = assert_chunking_invariant(
            || Box::new(AnthropicDecoder::default()),
            TEXT_STREAM.as_bytes(),
        );
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![
                ChatEvent::TextDelta("Grüß".into()),
                ChatEvent::TextDelta(" Gott 👋".into()),
                ChatEvent::Usage(Usage {
                    input_tokens: 30,
                    output_tokens: 15
                }),
                ChatEvent::Finish(FinishReason::Stop),
            ]
        );
    }

    const TOOL_STREAM: &str = concat!(
        "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":100,\"output_tokens\":1}}}\r\n\r\n",
        "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n",
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Checking.\"}}\r\n\r\n",
        "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n",
        "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\r\n\r\n",
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\r\n\r\n",
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Ber\"}}\r\n\r\n",
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"lin\\\"}\"}}\r\n\r\n",
        "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":1}\r\n\r\n",
        "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"noop\",\"input\":{}}}\r\n\r\n",
        "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":2}\r\n\r\n",
        "event: message_delta\r\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":40}}\r\n\r\n",
        "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n",
    );

    #[test]
    fn tool_stream_any_chunking() {
        let (events, err) = assert_chunking_invariant(
            || Box::new(AnthropicDecoder::default()),
            TOOL_STREAM.as_bytes(),
        );
        assert_eq!(err, None);
        let td =
            |index, id: Option<&str>, name: Option<&str>, args: &str| ChatEvent::ToolCallDelta {
                index,
                id: id.map(Into::into),
                name: name.map(Into::into),
                arguments: args.into(),
            };
        assert_eq!(
            events,
            vec![
                ChatEvent::TextDelta("Checking.".into()),
                td(0, Some("toolu_01"), Some("get_weather"), ""),
                td(0, None, None, "{\"city\": \"Ber"),
                td(0, None, None, "lin\"}"),
                td(1, Some("toolu_02"), Some("noop"), ""),
                td(1, None, None, "{}"),
                ChatEvent::Usage(Usage {
                    input_tokens: 100,
                    output_tokens: 40
                }),
                ChatEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn errors_and_early_end() {
        let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let (_, err) = run_split(
            Box::new(AnthropicDecoder::default()),
            overloaded.as_bytes(),
            &[],
        );
        assert_eq!(
            err,
            Some(DecodeError::Upstream {
                status: Some(529),
                message: "Overloaded".into()
            })
        );
        // Everything up to (not including) message_stop: must be an error, not a silent end.
        let cut = TEXT_STREAM.find("event: message_stop").unwrap();
        let (events, err) = run_split(
            Box::new(AnthropicDecoder::default()),
            &TEXT_STREAM.as_bytes()[..cut],
            &[],
        );
        assert_eq!(events.len(), 2);
        assert!(matches!(err, Some(DecodeError::Protocol(m)) if m.contains("message_stop")));
        let (_, err) = run_split(Box::new(AnthropicDecoder::default()), b"data: {{{\n\n", &[]);
        assert!(matches!(err, Some(DecodeError::Protocol(_))));
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(finish_reason("stop_sequence"), FinishReason::Stop);
        assert_eq!(finish_reason("max_tokens"), FinishReason::Length);
        assert_eq!(finish_reason("refusal"), FinishReason::ContentFilter);
        assert_eq!(
            finish_reason("pause_turn"),
            FinishReason::Other("pause_turn".into())
        );
    }
}
