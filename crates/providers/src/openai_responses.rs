//! OpenAI Responses API (`POST {base}/responses`), streaming.
//!
//! The Responses API streams typed events (`response.output_text.delta`, …) rather than
//! chunk objects. Tool calls are output *items*; their argument deltas refer back to the
//! item by `item_id`/`output_index`, which the decoder maps onto tool-call ordinals.

use std::collections::VecDeque;

use serde_json::{Map, Value, json};

use crate::error::status_for_error_kind;
use crate::sse::SseEvent;
use crate::stream::{DecodeError, Decoder};
use crate::{ChatEvent, ChatRequest, FinishReason, Role, ToolChoice, Usage, f32_json};

/// Builds the JSON request body.
pub(crate) fn build_body(req: &ChatRequest) -> Value {
    let mut input = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        match m.role {
            Role::System => input.push(json!({
                "role": "system",
                "content": [{"type": "input_text", "text": m.content}],
            })),
            Role::User => input.push(json!({
                "role": "user",
                "content": [{"type": "input_text", "text": m.content}],
            })),
            Role::Assistant => {
                if !m.content.is_empty() {
                    input.push(json!({
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": m.content}],
                    }));
                }
                for c in &m.tool_calls {
                    input.push(json!({
                        "type": "function_call",
                        "call_id": c.id,
                        "name": c.name,
                        "arguments": c.arguments,
                    }));
                }
            }
            Role::Tool => input.push(json!({
                "type": "function_call_output",
                "call_id": m.tool_call_id.as_deref().unwrap_or_default(),
                "output": m.content,
            })),
        }
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("stream".into(), json!(true));
    if let Some(system) = &req.system {
        body.insert("instructions".into(), json!(system));
    }
    body.insert("input".into(), Value::Array(input));
    if let Some(n) = req.max_tokens {
        body.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature.and_then(f32_json) {
        body.insert("temperature".into(), t);
    }
    if let Some(p) = req.top_p.and_then(f32_json) {
        body.insert("top_p".into(), p);
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut f = Map::new();
                f.insert("type".into(), json!("function"));
                f.insert("name".into(), json!(t.name));
                if let Some(d) = &t.description {
                    f.insert("description".into(), json!(d));
                }
                f.insert("parameters".into(), t.parameters.clone());
                Value::Object(f)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &req.tool_choice {
            let v = match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Function(name) => json!({"type": "function", "name": name}),
            };
            body.insert("tool_choice".into(), v);
        }
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), json!(u));
    }
    Value::Object(body)
}

/// One function-call output item seen in the stream.
struct ToolSlot {
    item_id: Option<String>,
    output_index: Option<u64>,
    /// Whether argument text was already emitted (so `output_item.done` must not repeat it).
    args_emitted: bool,
}

/// Stream decoder state.
#[derive(Default)]
pub(crate) struct ResponsesDecoder {
    tools: Vec<ToolSlot>,
}

/// Re-expresses a whole Responses answer (`object: response`) as the events its stream
/// would carry for the decoder: text parts as `response.output_text.delta`, function calls
/// as `response.output_item.done`, then `response.completed`, `.incomplete` or `.failed`
/// by status; an `{error}` document becomes an `error` event. `None` for anything else.
pub(crate) fn json_as_sse(body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut out = Vec::with_capacity(body.len() + 256);
    let push = |out: &mut Vec<u8>, name: &str, mut data: Value| {
        data["type"] = json!(name);
        crate::stream::push_sse(out, Some(name), &data);
    };
    if v.get("object").and_then(Value::as_str) != Some("response") {
        if v.get("error").is_some_and(Value::is_object) {
            push(&mut out, "error", json!({"error": v["error"]}));
            return Some(out);
        }
        return None;
    }
    let items = v.get("output").and_then(Value::as_array);
    for (i, item) in items.into_iter().flatten().enumerate() {
        match str_field(item, "type") {
            Some("message") => {
                let parts = item.get("content").and_then(Value::as_array);
                for part in parts.into_iter().flatten() {
                    if let Some(t) = str_field(part, "text")
                        .filter(|_| str_field(part, "type") == Some("output_text"))
                    {
                        push(
                            &mut out,
                            "response.output_text.delta",
                            json!({"output_index": i, "delta": t}),
                        );
                    }
                }
            }
            Some("function_call") => push(
                &mut out,
                "response.output_item.done",
                json!({"output_index": i, "item": item}),
            ),
            _ => {}
        }
    }
    let kind = match str_field(&v, "status") {
        Some("incomplete") => "response.incomplete",
        Some("failed") => "response.failed",
        _ => "response.completed",
    };
    push(&mut out, kind, json!({"response": v}));
    Some(out)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

impl ResponsesDecoder {
    /// Finds the ordinal of the tool call an event refers to, registering it if unknown (so
    /// a server that skips `output_item.added` still produces a usable call).
    fn slot(&mut self, item_id: Option<&str>, output_index: Option<u64>) -> (usize, bool) {
        let found = self.tools.iter().position(|s| match (item_id, &s.item_id) {
            (Some(a), Some(b)) => a == b,
            _ => output_index.is_some() && s.output_index == output_index,
        });
        match found {
            Some(i) => (i, false),
            None => {
                self.tools.push(ToolSlot {
                    item_id: item_id.map(str::to_string),
                    output_index,
                    args_emitted: false,
                });
                (self.tools.len() - 1, true)
            }
        }
    }

    fn function_item(&mut self, data: &Value, out: &mut VecDeque<ChatEvent>, done: bool) {
        let Some(item) = data.get("item") else { return };
        if str_field(item, "type") != Some("function_call") {
            return;
        }
        let output_index = data.get("output_index").and_then(Value::as_u64);
        let (index, new) = self.slot(str_field(item, "id"), output_index);
        let arguments = str_field(item, "arguments").unwrap_or_default();
        let slot = &mut self.tools[index];
        // On `added`, announce the call; on `done`, only fill in what was never streamed.
        let emit_args = !arguments.is_empty() && !slot.args_emitted;
        if !(new || !done || emit_args) {
            return;
        }
        slot.args_emitted |= emit_args;
        out.push_back(ChatEvent::ToolCallDelta {
            index,
            id: if new || !done {
                str_field(item, "call_id").map(str::to_string)
            } else {
                None
            },
            name: if new || !done {
                str_field(item, "name").map(str::to_string)
            } else {
                None
            },
            arguments: if emit_args {
                arguments.to_string()
            } else {
                String::new()
            },
        });
    }

    fn finish(&self, response: Option<&Value>, incomplete_event: bool) -> FinishReason {
        let status = response.and_then(|r| str_field(r, "status"));
        if incomplete_event || status == Some("incomplete") {
            let reason = response
                .and_then(|r| r.get("incomplete_details"))
                .and_then(|d| str_field(d, "reason"));
            return match reason {
                Some("content_filter") => FinishReason::ContentFilter,
                _ => FinishReason::Length,
            };
        }
        let output_has_call = response
            .and_then(|r| r.get("output"))
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items
                    .iter()
                    .any(|i| str_field(i, "type") == Some("function_call"))
            });
        if !self.tools.is_empty() || output_has_call {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        }
    }
}

fn upstream_error(error: Option<&Value>, fallback: &str) -> DecodeError {
    let message = error
        .and_then(|e| str_field(e, "message"))
        .filter(|m| !m.is_empty())
        .unwrap_or(fallback)
        .to_string();
    let status = error.and_then(|e| {
        ["code", "type"]
            .iter()
            .find_map(|k| str_field(e, k).and_then(status_for_error_kind))
    });
    DecodeError::Upstream { status, message }
}

impl Decoder for ResponsesDecoder {
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<bool, DecodeError> {
        if event.data.trim().is_empty() || event.data.trim() == "[DONE]" {
            return Ok(false);
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|e| {
            DecodeError::Protocol(format!("invalid JSON in responses stream event: {e}"))
        })?;
        let kind = str_field(&data, "type")
            .or(event.event.as_deref())
            .unwrap_or_default();
        match kind {
            "response.output_text.delta" => {
                if let Some(delta) = str_field(&data, "delta").filter(|d| !d.is_empty()) {
                    out.push_back(ChatEvent::TextDelta(delta.to_string()));
                }
            }
            "response.output_item.added" => self.function_item(&data, out, false),
            "response.output_item.done" => self.function_item(&data, out, true),
            "response.function_call_arguments.delta" => {
                let delta = str_field(&data, "delta").unwrap_or_default();
                let output_index = data.get("output_index").and_then(Value::as_u64);
                let (index, _) = self.slot(str_field(&data, "item_id"), output_index);
                if !delta.is_empty() {
                    self.tools[index].args_emitted = true;
                    out.push_back(ChatEvent::ToolCallDelta {
                        index,
                        id: None,
                        name: None,
                        arguments: delta.to_string(),
                    });
                }
            }
            "response.completed" | "response.incomplete" => {
                let response = data.get("response");
                if let Some(usage) = response
                    .and_then(|r| r.get("usage"))
                    .filter(|u| u.is_object())
                {
                    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
                    out.push_back(ChatEvent::Usage(Usage {
                        input_tokens: n("input_tokens"),
                        output_tokens: n("output_tokens"),
                    }));
                }
                let reason = self.finish(response, kind == "response.incomplete");
                out.push_back(ChatEvent::Finish(reason));
                return Ok(true);
            }
            "response.failed" => {
                let error = data.get("response").and_then(|r| r.get("error"));
                return Err(upstream_error(error, "response failed"));
            }
            "error" => {
                let error = data.get("error").filter(|e| e.is_object()).unwrap_or(&data);
                return Err(upstream_error(Some(error), "unknown error"));
            }
            _ => {}
        }
        Ok(false)
    }

    fn on_eof(&mut self, _out: &mut VecDeque<ChatEvent>) -> Result<(), DecodeError> {
        Err(DecodeError::Protocol(
            "stream ended early (no response.completed event)".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::testutil::{assert_chunking_invariant, run_split};
    use crate::{Message, ToolCall, ToolDef};

    fn sample_request() -> ChatRequest {
        ChatRequest {
            model: "gpt-5".into(),
            system: Some("Be brief.".into()),
            messages: vec![
                Message::user("Weather?"),
                Message {
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: "{\"city\":\"Paris\"}".into(),
                    }],
                    ..Message::assistant("Checking.")
                },
                Message::tool_result("call_1", "sunny"),
                Message::assistant("Sunny."),
                Message::new(Role::System, "Now be verbose."),
                Message::user("More?"),
            ],
            max_tokens: Some(100),
            temperature: None,
            top_p: Some(0.9),
            stop: vec!["never-sent".into()],
            tools: vec![ToolDef {
                name: "get_weather".into(),
                description: None,
                parameters: json!({"type": "object"}),
            }],
            tool_choice: Some(ToolChoice::Auto),
            user: None,
        }
    }

    #[test]
    fn request_mapping() {
        let want = json!({
            "model": "gpt-5",
            "stream": true,
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                 "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                {"role": "assistant", "content": [{"type": "output_text", "text": "Sunny."}]},
                {"role": "system", "content": [{"type": "input_text", "text": "Now be verbose."}]},
                {"role": "user", "content": [{"type": "input_text", "text": "More?"}]}
            ],
            "max_output_tokens": 100,
            "top_p": 0.9,
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            "tool_choice": "auto"
        });
        assert_eq!(build_body(&sample_request()), want);
    }

    const TEXT_STREAM: &str = concat!(
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n",
        "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[]}}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Bonjour\"}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\" à tous\"}\n\n",
        "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"item_id\":\"msg_1\",\"text\":\"Bonjour à tous\"}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"output\":[{\"type\":\"message\"}],\"usage\":{\"input_tokens\":12,\"output_tokens\":4,\"total_tokens\":16}}}\n\n",
    );

    #[test]
    fn text_stream_any_chunking() {
        let (events, err) = assert_chunking_invariant(
            || Box::new(ResponsesDecoder::default()),
            TEXT_STREAM.as_bytes(),
        );
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![
                ChatEvent::TextDelta("Bonjour".into()),
                ChatEvent::TextDelta(" à tous".into()),
                ChatEvent::Usage(Usage {
                    input_tokens: 12,
                    output_tokens: 4
                }),
                ChatEvent::Finish(FinishReason::Stop),
            ]
        );
    }

    const TOOL_STREAM: &str = concat!(
        "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\",\"status\":\"in_progress\",\"arguments\":\"\",\"call_id\":\"call_x\",\"name\":\"get_weather\"}}\n\n",
        "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc_1\",\"output_index\":0,\"delta\":\"{\\\"city\\\":\"}\n\n",
        "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc_1\",\"output_index\":0,\"delta\":\"\\\"Oslo\\\"}\"}\n\n",
        "event: response.function_call_arguments.done\ndata: {\"type\":\"response.function_call_arguments.done\",\"item_id\":\"fc_1\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}\n\n",
        "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\",\"status\":\"completed\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\",\"call_id\":\"call_x\",\"name\":\"get_weather\"}}\n\n",
        "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":1,\"item\":{\"id\":\"fc_2\",\"type\":\"function_call\",\"arguments\":\"{}\",\"call_id\":\"call_y\",\"name\":\"noop\"}}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"usage\":{\"input_tokens\":5,\"output_tokens\":7}}}\n\n",
    );

    #[test]
    fn tool_stream_any_chunking() {
        let (events, err) = assert_chunking_invariant(
            || Box::new(ResponsesDecoder::default()),
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
                td(0, Some("call_x"), Some("get_weather"), ""),
                td(0, None, None, "{\"city\":"),
                td(0, None, None, "\"Oslo\"}"),
                // A call only announced by `output_item.done` (no deltas) is still complete.
                td(1, Some("call_y"), Some("noop"), "{}"),
                ChatEvent::Usage(Usage {
                    input_tokens: 5,
                    output_tokens: 7
                }),
                ChatEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn incomplete_and_errors() {
        let inc = "data: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n";
        let (events, err) = run_split(Box::new(ResponsesDecoder::default()), inc.as_bytes(), &[]);
        assert_eq!(err, None);
        assert_eq!(events, vec![ChatEvent::Finish(FinishReason::Length)]);

        let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"The model crashed\"}}}\n\n";
        let (_, err) = run_split(
            Box::new(ResponsesDecoder::default()),
            failed.as_bytes(),
            &[],
        );
        assert_eq!(
            err,
            Some(DecodeError::Upstream {
                status: Some(500),
                message: "The model crashed".into()
            })
        );

        let error = "event: error\ndata: {\"type\":\"error\",\"code\":\"weird\",\"message\":\"Bad thing\",\"param\":null}\n\n";
        let (_, err) = run_split(Box::new(ResponsesDecoder::default()), error.as_bytes(), &[]);
        assert_eq!(
            err,
            Some(DecodeError::Upstream {
                status: None,
                message: "Bad thing".into()
            })
        );

        let early = "data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n";
        let (events, err) = run_split(Box::new(ResponsesDecoder::default()), early.as_bytes(), &[]);
        assert_eq!(events, vec![ChatEvent::TextDelta("x".into())]);
        assert!(matches!(err, Some(DecodeError::Protocol(m)) if m.contains("ended early")));

        let (_, err) = run_split(
            Box::new(ResponsesDecoder::default()),
            b"data: nope\n\n",
            &[],
        );
        assert!(matches!(err, Some(DecodeError::Protocol(_))));
    }
}
