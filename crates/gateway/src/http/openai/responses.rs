//! `POST /v1/responses` (OpenResponses): JSON or the SSE event sequence.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::*;

/// `POST /v1/responses` (OpenResponses).
pub async fn responses(
    Admitted { live, .. }: Admitted<Responses>,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonObject(body): JsonObject<MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    if let Some(why) = state.shared.memory.pressure() {
        return Err(ApiError::Unavailable(why));
    }
    let agent = resolve_agent(&live, body.get("model").and_then(Value::as_str), &headers)?;
    let model_field = body.get("model").and_then(Value::as_str);
    let messages = match body.get("input") {
        Some(Value::String(s)) => json!([{"role": "user", "content": s}]),
        Some(Value::Array(items)) => Value::Array(input_messages(items)),
        _ => {
            return Err(bad_request(
                "Missing `input`: give a string or an array of input items.",
            ));
        }
    };
    let mut input = parse_messages(&messages)?;
    if let Some(instr) = body.get("instructions").and_then(Value::as_str) {
        input.system = Some(match input.system {
            Some(s) => format!("{instr}\n\n{s}"),
            None => instr.to_owned(),
        });
    }
    let params = parse_params(&body)?;
    let model_override = model_override(&live, &headers)?;
    let (session, persist) =
        resolve_session(&agent, &headers, body.get("user").and_then(Value::as_str))?;
    let turn = Turn::new(agent, session, input.user_text)
        .with_run_id(uuid::Uuid::new_v4().simple().to_string())
        .with_persist(persist)
        .with_client_history(input.prior, input.system, input.tool_results)
        .with_model_override(model_override)
        .with_params(params)
        .with_channel(Some("openresponses-http".into()));
    let resp_id = format!("resp_{}", turn.run_id);
    let msg_id = format!("msg_{}", turn.run_id);
    let model = model_field.unwrap_or("openclaw").to_owned();
    let created = crate::sys::now_ms() / 1000;
    if !body.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let (tx, _) = mpsc::channel(1);
        let result = run_turn(
            &state.shared.sessions,
            &state.shared.metrics,
            crate::agents::with_gateway_tools(&state, turn),
            &tx,
            &Cancel::default(),
        )
        .await;
        let out = result.map_err(|e| ApiError::from(&e))?;
        return Ok(json_response(
            StatusCode::OK,
            response_object(&resp_id, &msg_id, created, &model, "completed", Some(&out)),
        ));
    }
    let mut enc = ResponsesEncoder {
        resp_id,
        msg_id,
        created,
        model,
        seq: 0,
        started: false,
        next_output: 0,
        message: None,
        text: String::new(),
        calls: Vec::new(),
    };
    let frames = start_streaming_run(&state, turn, move |item| enc.encode(item));
    Ok(sse_or_error(&state, frames).await)
}

fn response_object(
    id: &str,
    msg_id: &str,
    created: u64,
    model: &str,
    status: &str,
    out: Option<&Outcome>,
) -> Value {
    let mut output = Vec::new();
    if let Some(out) = out {
        if !out.text.is_empty() || out.tool_calls.is_empty() {
            output.push(
                json!({"type": "message", "id": msg_id, "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": out.text, "annotations": []}]}),
            );
        }
        for c in &out.tool_calls {
            output.push(
                json!({"type": "function_call", "id": format!("fc_{}", c.id), "call_id": c.id,
                "name": c.name, "arguments": super::chat::json_args(&c.arguments), "status": "completed"}),
            );
        }
    }
    let usage = out.and_then(|o| o.usage.as_ref()).map(|u| {
        json!({
        "input_tokens": u.input_tokens, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": u.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u.input_tokens + u.output_tokens})
    });
    json!({"id": id, "object": "response", "created_at": created, "status": status, "model": model,
           "output": output, "usage": usage, "error": null})
}

/// One function call being streamed as a `function_call` output item.
struct StreamedCall {
    /// The run's ordinal for the call; `None` for a call known only from the outcome.
    index: Option<usize>,
    /// Its `output_index` in the response.
    output_index: usize,
    call_id: String,
    name: String,
    arguments: String,
    /// `response.output_item.done` was sent.
    done: bool,
}

/// Turns run events into the Responses API's SSE event sequence, as OpenAI emits it: each
/// output item (the assistant `message`, each `function_call`) is announced with
/// `response.output_item.added` at its own `output_index` before its deltas and finished
/// with `response.output_item.done` before the next item starts, and `response.completed`
/// lists exactly the items streamed. An answer that is only tool calls announces no
/// message at all.
struct ResponsesEncoder {
    resp_id: String,
    msg_id: String,
    created: u64,
    model: String,
    /// Last `sequence_number` used.
    seq: u64,
    /// `response.created` was sent (once, at the first output, even when a fallback starts
    /// a second model).
    started: bool,
    /// `output_index` the next item gets.
    next_output: usize,
    /// The message item's `output_index` and whether it is finished, once opened.
    message: Option<(usize, bool)>,
    /// Text streamed so far.
    text: String,
    /// Function calls in the order they started.
    calls: Vec<StreamedCall>,
}

impl ResponsesEncoder {
    fn ev(&mut self, kind: &str, mut payload: Value) -> SseFrame {
        self.seq += 1;
        payload["type"] = json!(kind);
        payload["sequence_number"] = json!(self.seq);
        SseFrame::event(kind, payload.to_string())
    }

    fn start(&mut self, frames: &mut Vec<SseFrame>) {
        if self.started {
            return;
        }
        self.started = true;
        let base = response_object(
            &self.resp_id,
            &self.msg_id,
            self.created,
            &self.model,
            "in_progress",
            None,
        );
        frames.push(self.ev("response.created", json!({"response": base})));
        frames.push(self.ev("response.in_progress", json!({"response": base})));
    }

    fn message_item(&self, status: &str) -> Value {
        let content = if status == "completed" {
            json!([{"type": "output_text", "text": self.text, "annotations": []}])
        } else {
            json!([])
        };
        json!({"type": "message", "id": self.msg_id, "status": status, "role": "assistant",
               "content": content})
    }

    fn open_message(&mut self, frames: &mut Vec<SseFrame>) -> usize {
        if let Some((at, _)) = self.message {
            return at;
        }
        self.close_calls(frames);
        let at = self.next_output;
        self.next_output += 1;
        self.message = Some((at, false));
        let item = self.message_item("in_progress");
        frames.push(self.ev(
            "response.output_item.added",
            json!({"output_index": at, "item": item}),
        ));
        frames.push(self.ev(
            "response.content_part.added",
            json!({"item_id": self.msg_id, "output_index": at, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        ));
        at
    }

    fn close_message(&mut self, frames: &mut Vec<SseFrame>) {
        let Some((at, false)) = self.message else {
            return;
        };
        self.message = Some((at, true));
        let text = self.text.clone();
        frames.push(self.ev(
            "response.output_text.done",
            json!({"item_id": self.msg_id, "output_index": at, "content_index": 0, "text": text}),
        ));
        frames.push(self.ev(
            "response.content_part.done",
            json!({"item_id": self.msg_id, "output_index": at, "content_index": 0,
                   "part": {"type": "output_text", "text": text, "annotations": []}}),
        ));
        let item = self.message_item("completed");
        frames.push(self.ev(
            "response.output_item.done",
            json!({"output_index": at, "item": item}),
        ));
    }

    fn call_item(c: &StreamedCall, status: &str, arguments: &str) -> Value {
        json!({"type": "function_call", "id": format!("fc_{}", c.call_id), "call_id": c.call_id,
               "name": c.name, "arguments": arguments, "status": status})
    }

    fn close_calls(&mut self, frames: &mut Vec<SseFrame>) {
        for i in 0..self.calls.len() {
            if self.calls[i].done {
                continue;
            }
            self.calls[i].done = true;
            // A call streamed without any argument text still has JSON arguments.
            if self.calls[i].arguments.is_empty() {
                self.calls[i].arguments = "{}".into();
            }
            let (at, item_id, args) = {
                let c = &self.calls[i];
                (
                    c.output_index,
                    format!("fc_{}", c.call_id),
                    c.arguments.clone(),
                )
            };
            frames.push(self.ev(
                "response.function_call_arguments.done",
                json!({"item_id": item_id, "output_index": at, "arguments": args}),
            ));
            let item = Self::call_item(&self.calls[i], "completed", &args);
            frames.push(self.ev(
                "response.output_item.done",
                json!({"output_index": at, "item": item}),
            ));
        }
    }

    fn tool_piece(
        &mut self,
        frames: &mut Vec<SseFrame>,
        index: Option<usize>,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    ) {
        let found = index.and_then(|i| self.calls.iter().position(|c| c.index == Some(i)));
        let pos = match found {
            Some(p) => p,
            None => {
                self.close_message(frames);
                self.close_calls(frames);
                let at = self.next_output;
                self.next_output += 1;
                self.calls.push(StreamedCall {
                    index,
                    output_index: at,
                    call_id: id.unwrap_or_else(|| format!("call_{}", index.unwrap_or(0))),
                    name: name.unwrap_or_default(),
                    arguments: String::new(),
                    done: false,
                });
                let c = self.calls.last().expect("just pushed");
                let item = Self::call_item(c, "in_progress", "");
                frames.push(self.ev(
                    "response.output_item.added",
                    json!({"output_index": at, "item": item}),
                ));
                self.calls.len() - 1
            }
        };
        if arguments.is_empty() || self.calls[pos].done {
            return;
        }
        self.calls[pos].arguments.push_str(&arguments);
        let (at, item_id) = (
            self.calls[pos].output_index,
            format!("fc_{}", self.calls[pos].call_id),
        );
        frames.push(self.ev(
            "response.function_call_arguments.delta",
            json!({"item_id": item_id, "output_index": at, "delta": arguments}),
        ));
    }

    fn encode(&mut self, item: StreamItem) -> Vec<SseFrame> {
        let mut frames = Vec::new();
        match item {
            // `response.created` waits for the first output, so a model that fails before
            // answering (even after its headers) leaves the client a clean error status.
            StreamItem::Event(RunEvent::Model { .. }) => {}
            StreamItem::Event(RunEvent::Delta(d)) => {
                if d.is_empty() {
                    return frames;
                }
                self.start(&mut frames);
                let at = self.open_message(&mut frames);
                self.text.push_str(&d);
                let ev = json!({"item_id": self.msg_id, "output_index": at, "content_index": 0, "delta": d});
                frames.push(self.ev("response.output_text.delta", ev));
            }
            StreamItem::Event(RunEvent::ToolCall {
                index,
                id,
                name,
                arguments,
            }) => {
                self.start(&mut frames);
                self.tool_piece(&mut frames, Some(index), id, name, arguments);
            }
            StreamItem::Event(_) => {}
            StreamItem::Done(Ok(out)) => {
                self.start(&mut frames);
                // Calls the run reported only in its outcome are streamed now, so the
                // completed response never lists an item that was not announced.
                for c in &out.tool_calls {
                    if !self.calls.iter().any(|s| s.call_id == c.id) {
                        self.tool_piece(
                            &mut frames,
                            None,
                            Some(c.id.clone()),
                            Some(c.name.clone()),
                            c.arguments.clone(),
                        );
                    }
                }
                if self.message.is_none() && self.calls.is_empty() {
                    // An empty answer is still one (empty) message.
                    self.open_message(&mut frames);
                }
                self.close_message(&mut frames);
                self.close_calls(&mut frames);
                let mut output = Vec::new();
                if self.message.is_some() {
                    output.push((
                        self.message.map_or(0, |m| m.0),
                        self.message_item("completed"),
                    ));
                }
                for c in &self.calls {
                    output.push((
                        c.output_index,
                        Self::call_item(c, "completed", &c.arguments),
                    ));
                }
                output.sort_by_key(|(at, _)| *at);
                let mut full = response_object(
                    &self.resp_id,
                    &self.msg_id,
                    self.created,
                    &self.model,
                    "completed",
                    Some(&out),
                );
                full["output"] = Value::Array(output.into_iter().map(|(_, v)| v).collect());
                frames.push(self.ev("response.completed", json!({"response": full})));
            }
            StreamItem::Done(Err(e)) => {
                self.start(&mut frames);
                let mut failed = response_object(
                    &self.resp_id,
                    &self.msg_id,
                    self.created,
                    &self.model,
                    "failed",
                    None,
                );
                failed["error"] = json!({"code": "server_error", "message": e.to_string()});
                frames.push(self.ev("response.failed", json!({"response": failed})));
            }
        }
        frames
    }
}

/// Turns Responses input items into chat messages. Consecutive `function_call` items (the
/// parallel calls of one model answer) become one assistant message carrying all of them,
/// joined to the assistant message right before them if there is one: providers require
/// every tool result to answer a call of the immediately preceding assistant turn, so one
/// message per call would make the history unsendable.
fn input_messages(items: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    let mut joinable = false;
    for it in items {
        match it.get("type").and_then(Value::as_str) {
            None | Some("message") => {
                joinable = it.get("role").and_then(Value::as_str) == Some("assistant");
                out.push(it.clone());
            }
            Some("function_call_output") => {
                joinable = false;
                out.push(json!({
                    "role": "tool", "tool_call_id": it.get("call_id"), "content": it.get("output"),
                }));
            }
            Some("function_call") => {
                let call = json!({"id": it.get("call_id"), "type": "function",
                                  "function": {"name": it.get("name"), "arguments": it.get("arguments")}});
                match out.last_mut() {
                    Some(last) if joinable => {
                        match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                            Some(calls) => calls.push(call),
                            None => last["tool_calls"] = json!([call]),
                        }
                    }
                    _ => {
                        out.push(json!({"role": "assistant", "content": "", "tool_calls": [call]}))
                    }
                }
                joinable = true;
            }
            Some(_) => {}
        }
    }
    out
}
