//! OpenAI Chat Completions (`POST {base}/chat/completions`), streaming.
//!
//! This is also the dialect of most OpenAI-compatible servers, so the decoder is lenient
//! where they commonly deviate: a missing `[DONE]` after a `finish_reason`, tool-call deltas
//! without `index`, and error objects sent as stream chunks.

use std::collections::VecDeque;

use serde_json::{Map, Value, json};

use crate::error::{error_message_from_json, status_for_error_kind};
use crate::sse::SseEvent;
use crate::stream::{DecodeError, Decoder};
use crate::{ChatEvent, ChatRequest, FinishReason, Role, ToolChoice, Usage, f32_json};

/// Builds the JSON request body.
pub(crate) fn build_body(req: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = &req.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &req.messages {
        let msg = match m.role {
            Role::System => json!({"role": "system", "content": m.content}),
            Role::User => json!({"role": "user", "content": m.content}),
            Role::Tool => json!({
                "role": "tool",
                "tool_call_id": m.tool_call_id.as_deref().unwrap_or_default(),
                "content": m.content,
            }),
            Role::Assistant => {
                let mut obj = Map::new();
                obj.insert("role".into(), json!("assistant"));
                // OpenAI wants `null` content (not "") on a pure tool-call turn.
                let content = if m.content.is_empty() && !m.tool_calls.is_empty() {
                    Value::Null
                } else {
                    json!(m.content)
                };
                obj.insert("content".into(), content);
                if !m.tool_calls.is_empty() {
                    let calls: Vec<Value> = m
                        .tool_calls
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments},
                            })
                        })
                        .collect();
                    obj.insert("tool_calls".into(), Value::Array(calls));
                }
                Value::Object(obj)
            }
        };
        messages.push(msg);
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if let Some(n) = req.max_tokens {
        body.insert("max_completion_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature.and_then(f32_json) {
        body.insert("temperature".into(), t);
    }
    if let Some(p) = req.top_p.and_then(f32_json) {
        body.insert("top_p".into(), p);
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut f = Map::new();
                f.insert("name".into(), json!(t.name));
                if let Some(d) = &t.description {
                    f.insert("description".into(), json!(d));
                }
                f.insert("parameters".into(), t.parameters.clone());
                json!({"type": "function", "function": f})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &req.tool_choice {
            let v = match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Function(name) => {
                    json!({"type": "function", "function": {"name": name}})
                }
            };
            body.insert("tool_choice".into(), v);
        }
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), json!(u));
    }
    Value::Object(body)
}

/// Maps a Chat Completions `finish_reason`.
fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// Re-expresses a whole chat completion (what a server that ignores `stream: true` sends)
/// as the chunk stream it stands for: one chunk whose choices carry their `message` as the
/// `delta` (tool calls given their `index`), then `[DONE]`. An error document passes
/// through as a chunk, which the decoder reports as an upstream error. `None` when the
/// body is not a chat completion or an error at all.
pub(crate) fn json_as_sse(body: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let o = v.as_object_mut()?;
    if o.get("error").is_none_or(Value::is_null) {
        let choices = o.get_mut("choices")?.as_array_mut()?;
        for choice in choices {
            let c = choice.as_object_mut()?;
            let mut delta = c.remove("message").unwrap_or_else(|| json!({}));
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for (i, call) in calls.iter_mut().enumerate() {
                    if let Some(call) = call.as_object_mut() {
                        call.entry("index").or_insert(json!(i));
                    }
                }
            }
            c.insert("delta".into(), delta);
        }
    }
    let mut out = Vec::with_capacity(body.len() + 32);
    crate::stream::push_sse(&mut out, None, &v);
    out.extend_from_slice(b"data: [DONE]\n\n");
    Some(out)
}

/// Stream decoder state.
#[derive(Default)]
pub(crate) struct ChatDecoder {
    /// Held back until `[DONE]`/EOF so that the trailing usage chunk comes before Finish.
    finish: Option<FinishReason>,
    /// Tool call indices seen so far, to give index-less deltas a stable ordinal.
    tool_indices: Vec<u64>,
}

impl ChatDecoder {
    fn end(&mut self, out: &mut VecDeque<ChatEvent>) {
        if let Some(f) = self.finish.take() {
            out.push_back(ChatEvent::Finish(f));
        }
    }

    /// Translates an upstream tool-call `index` into the ordinal we expose. OpenAI's indices
    /// already are ordinals; mapping them anyway keeps odd servers (sparse indices) sane.
    fn ordinal(&mut self, raw: u64) -> usize {
        match self.tool_indices.iter().position(|i| *i == raw) {
            Some(p) => p,
            None => {
                self.tool_indices.push(raw);
                self.tool_indices.len() - 1
            }
        }
    }
}

impl Decoder for ChatDecoder {
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<bool, DecodeError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.end(out);
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            DecodeError::Protocol(format!("invalid JSON in chat completion chunk: {e}"))
        })?;
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            let message =
                error_message_from_json(&chunk).unwrap_or_else(|| "unknown error".to_string());
            let status = err
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..=599).contains(c))
                .or_else(|| {
                    ["type", "code"].iter().find_map(|k| {
                        err.get(*k)
                            .and_then(Value::as_str)
                            .and_then(status_for_error_kind)
                    })
                });
            return Err(DecodeError::Upstream { status, message });
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        let choice = choices.and_then(|cs| {
            cs.iter()
                .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        });
        if let Some(choice) = choice {
            if let Some(delta) = choice.get("delta") {
                if let Some(text) = delta.get("content").and_then(Value::as_str)
                    && !text.is_empty()
                {
                    out.push_back(ChatEvent::TextDelta(text.to_string()));
                }
                if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                    for (pos, call) in calls.iter().enumerate() {
                        let raw = call
                            .get("index")
                            .and_then(Value::as_u64)
                            .unwrap_or(pos as u64);
                        let index = self.ordinal(raw);
                        let function = call.get("function");
                        let str_of = |v: Option<&Value>, k: &str| {
                            v.and_then(|v| v.get(k))
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        };
                        out.push_back(ChatEvent::ToolCallDelta {
                            index,
                            id: str_of(Some(call), "id").filter(|s| !s.is_empty()),
                            name: str_of(function, "name").filter(|s| !s.is_empty()),
                            arguments: str_of(function, "arguments").unwrap_or_default(),
                        });
                    }
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(finish_reason(reason));
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
            out.push_back(ChatEvent::Usage(Usage {
                input_tokens: n("prompt_tokens"),
                output_tokens: n("completion_tokens"),
            }));
        }
        Ok(false)
    }

    fn on_eof(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), DecodeError> {
        if self.finish.is_some() {
            // Complete answer from a server that does not send `[DONE]`.
            self.end(out);
            Ok(())
        } else {
            Err(DecodeError::Protocol(
                "stream ended early (no finish_reason and no [DONE])".to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::testutil::{assert_chunking_invariant, run_split};
    use crate::{Message, ToolCall, ToolDef};

    pub(crate) fn sample_request() -> ChatRequest {
        ChatRequest {
            model: "gpt-4o".into(),
            system: Some("You are helpful.".into()),
            messages: vec![
                Message::user("What's the weather in Paris?"),
                Message {
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: "{\"city\":\"Paris\"}".into(),
                    }],
                    ..Message::assistant("")
                },
                Message::tool_result("call_1", "18°C, sunny"),
                Message::assistant("It is 18°C and sunny."),
                Message::user("Thanks!"),
            ],
            max_tokens: Some(256),
            temperature: Some(0.5),
            top_p: None,
            stop: vec!["END".into()],
            tools: vec![ToolDef {
                name: "get_weather".into(),
                description: Some("Current weather".into()),
                parameters: json!({"type":"object","properties":{"city":{"type":"string"}}}),
            }],
            tool_choice: Some(ToolChoice::Function("get_weather".into())),
            user: Some("u-1".into()),
        }
    }

    #[test]
    fn request_mapping() {
        let body = build_body(&sample_request());
        let want = json!({
            "model": "gpt-4o",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "What's the weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
                {"role": "assistant", "content": "It is 18°C and sunny."},
                {"role": "user", "content": "Thanks!"}
            ],
            "max_completion_tokens": 256,
            "temperature": 0.5,
            "stop": ["END"],
            "tools": [{"type": "function", "function": {
                "name": "get_weather", "description": "Current weather",
                "parameters": {"type":"object","properties":{"city":{"type":"string"}}}
            }}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "user": "u-1"
        });
        assert_eq!(body, want);
    }

    #[test]
    fn minimal_request_omits_optional_fields() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![Message::user("hi")],
            tool_choice: Some(ToolChoice::Required),
            ..Default::default()
        };
        let body = build_body(&req);
        assert_eq!(
            body,
            json!({"model":"m","stream":true,"stream_options":{"include_usage":true},
                   "messages":[{"role":"user","content":"hi"}]})
        );
    }

    const TEXT_STREAM: &str = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo\"},\"finish_reason\":null}]}\n\n",
        ": keep-alive\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" wörld 🌍\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn text_stream_any_chunking() {
        let (events, err) =
            assert_chunking_invariant(|| Box::new(ChatDecoder::default()), TEXT_STREAM.as_bytes());
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![
                ChatEvent::TextDelta("Héllo".into()),
                ChatEvent::TextDelta(" wörld 🌍".into()),
                ChatEvent::Usage(Usage {
                    input_tokens: 9,
                    output_tokens: 3
                }),
                ChatEvent::Finish(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn text_stream_crlf() {
        let crlf = TEXT_STREAM.replace('\n', "\r\n");
        let (events, err) =
            assert_chunking_invariant(|| Box::new(ChatDecoder::default()), crlf.as_bytes());
        assert_eq!(err, None);
        assert_eq!(events.len(), 4);
    }

    const TOOL_STREAM: &str = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"noop\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn tool_stream_any_chunking() {
        let (events, err) =
            assert_chunking_invariant(|| Box::new(ChatDecoder::default()), TOOL_STREAM.as_bytes());
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
                td(0, Some("call_a"), Some("get_weather"), ""),
                td(0, None, None, "{\"city\":"),
                td(0, None, None, "\"Paris\"}"),
                td(1, Some("call_b"), Some("noop"), "{}"),
                ChatEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn eof_without_done_or_finish_is_an_error() {
        let input = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
        let (events, err) = run_split(Box::new(ChatDecoder::default()), input.as_bytes(), &[]);
        assert_eq!(events, vec![ChatEvent::TextDelta("Hi".into())]);
        assert!(matches!(err, Some(DecodeError::Protocol(m)) if m.contains("ended early")));
    }

    #[test]
    fn eof_after_finish_without_done_is_fine() {
        let input = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"length\"}]}\n\n";
        let (events, err) = run_split(Box::new(ChatDecoder::default()), input.as_bytes(), &[]);
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![
                ChatEvent::TextDelta("Hi".into()),
                ChatEvent::Finish(FinishReason::Length)
            ]
        );
    }

    #[test]
    fn garbage_and_error_chunks() {
        let (_, err) = run_split(Box::new(ChatDecoder::default()), b"data: {nope\n\n", &[]);
        assert!(matches!(err, Some(DecodeError::Protocol(_))));
        let input = b"data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n";
        let (_, err) = run_split(Box::new(ChatDecoder::default()), input, &[]);
        assert_eq!(
            err,
            Some(DecodeError::Upstream {
                status: Some(500),
                message: "overloaded".into()
            })
        );
        // Unexpected-but-valid JSON shapes are ignored, not fatal.
        let odd = b"data: []\n\ndata: {\"choices\":\"x\"}\n\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":5}]},\"finish_reason\":\"weird\"}]}\n\ndata: [DONE]\n\n";
        let (events, err) = run_split(Box::new(ChatDecoder::default()), odd, &[]);
        assert_eq!(err, None);
        assert_eq!(
            events.last(),
            Some(&ChatEvent::Finish(FinishReason::Other("weird".into())))
        );
    }
}
