//! The OpenAI routes: Chat Completions, Responses, Embeddings and the model list.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::errors::{Api, ApiError};
use crate::prompt::{Prompt, Reply, ToolCall, chunks, words};
use crate::stream::{Script, event_frame, push_json_str};
use crate::{Plan, Shared};

/// Seconds since the Unix epoch, for `created` fields.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh id with the API's prefix (`chatcmpl-`, `resp_`, `msg_`, …).
pub(crate) fn new_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + 32);
    id.push_str(prefix);
    id.push_str(
        uuid::Uuid::new_v4()
            .simple()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    );
    id
}

// ---------------------------------------------------------------------------------------
// Chat Completions
// ---------------------------------------------------------------------------------------

/// `usage` of a chat completion, with the detail objects the real API sends.
fn chat_usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0
        }
    })
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req = s.admit(Api::OpenAi, &headers, &body)?;
    let p = Prompt::chat(&req);
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.record(req);
    if let Some(msg) = p.invalid {
        return Err(ApiError::new(Api::OpenAi, 400, msg));
    }
    let mut plan = s.plan(Api::OpenAi, &p.model, &headers).await?;
    let reply = Reply::new(&s.opts, &plan.dir, &p);
    if p.stream {
        return Ok(chat_stream(&p, &reply, plan, include_usage));
    }
    let (message, finish) = match &reply {
        Reply::Text(text) => (
            json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
            "stop",
        ),
        Reply::Tools(calls) => {
            let calls: Vec<Value> = calls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id("call_"), "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments}
                    })
                })
                .collect();
            (
                json!({
                    "role": "assistant", "content": null, "refusal": null, "annotations": [],
                    "tool_calls": calls
                }),
                "tool_calls",
            )
        }
    };
    let body = json!({
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": now_secs(),
        "model": p.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": chat_usage(p.input_words, reply.output_words()),
        "service_tier": "default",
        "system_fingerprint": null
    });
    plan.track.complete();
    Ok(Json(body).into_response())
}

/// Writes chat completion chunks. The envelope (id, model, …) is the same for every chunk
/// of a response, so it is serialised once and copied, which keeps the streaming hot path
/// (the one the benchmarks drive) down to a few buffer appends per chunk.
struct ChatChunks {
    /// `data: {"id":…,"choices":[`
    head: Vec<u8>,
    /// Whether every chunk carries `"usage":null` (as the real API does with
    /// `include_usage`).
    usage_null: bool,
}

impl ChatChunks {
    fn new(id: &str, created: u64, model: &str, usage_null: bool) -> ChatChunks {
        let mut head = Vec::with_capacity(160 + model.len());
        head.extend_from_slice(br#"data: {"id":"#);
        push_json_str(&mut head, id);
        head.extend_from_slice(br#","object":"chat.completion.chunk","created":"#);
        head.extend_from_slice(created.to_string().as_bytes());
        head.extend_from_slice(br#","model":"#);
        push_json_str(&mut head, model);
        head.extend_from_slice(
            br#","service_tier":"default","system_fingerprint":null,"choices":["#,
        );
        ChatChunks { head, usage_null }
    }

    /// One chunk whose single choice has the delta written by `delta`.
    fn choice(&self, out: &mut Vec<u8>, delta: impl FnOnce(&mut Vec<u8>), finish: Option<&str>) {
        out.extend_from_slice(&self.head);
        out.extend_from_slice(br#"{"index":0,"delta":"#);
        delta(out);
        out.extend_from_slice(br#","logprobs":null,"finish_reason":"#);
        match finish {
            Some(f) => push_json_str(out, f),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}]");
        if self.usage_null {
            out.extend_from_slice(br#","usage":null"#);
        }
        out.extend_from_slice(b"}\n\n");
    }

    /// The trailing usage chunk: no choices, just `usage`.
    fn usage(&self, out: &mut Vec<u8>, usage: &Value) {
        out.extend_from_slice(&self.head);
        out.extend_from_slice(br#"],"usage":"#);
        serde_json::to_writer(&mut *out, usage).expect("writing JSON to a Vec cannot fail");
        out.extend_from_slice(b"}\n\n");
    }
}

/// The streamed form of a chat completion.
fn chat_stream(p: &Prompt, reply: &Reply, plan: Plan, include_usage: bool) -> Response {
    let c = ChatChunks::new(&new_id("chatcmpl-"), now_secs(), &p.model, include_usage);
    let mut s = Script::new(plan.chunk_delay, plan.disconnect_after);
    s.frame(|b| {
        c.choice(
            b,
            |b| b.extend_from_slice(br#"{"role":"assistant","content":""}"#),
            None,
        )
    });
    let finish = match reply {
        Reply::Text(text) => {
            for piece in chunks(text) {
                s.content(|b| {
                    c.choice(
                        b,
                        |b| {
                            b.extend_from_slice(br#"{"content":"#);
                            push_json_str(b, piece);
                            b.push(b'}');
                        },
                        None,
                    )
                });
            }
            "stop"
        }
        Reply::Tools(calls) => {
            for (index, call) in calls.iter().enumerate() {
                let call_id = call.id("call_");
                s.frame(|b| {
                    c.choice(
                        b,
                        |b| {
                            b.extend_from_slice(br#"{"tool_calls":[{"index":"#);
                            b.extend_from_slice(index.to_string().as_bytes());
                            b.extend_from_slice(br#","id":"#);
                            push_json_str(b, &call_id);
                            b.extend_from_slice(br#","type":"function","function":{"name":"#);
                            push_json_str(b, &call.name);
                            b.extend_from_slice(br#","arguments":""}}]}"#);
                        },
                        None,
                    )
                });
                for piece in call.argument_pieces() {
                    s.content(|b| {
                        c.choice(
                            b,
                            |b| {
                                b.extend_from_slice(br#"{"tool_calls":[{"index":"#);
                                b.extend_from_slice(index.to_string().as_bytes());
                                b.extend_from_slice(br#","function":{"arguments":"#);
                                push_json_str(b, piece);
                                b.extend_from_slice(b"}}]}");
                            },
                            None,
                        )
                    });
                }
            }
            "tool_calls"
        }
    };
    s.frame(|b| c.choice(b, |b| b.extend_from_slice(b"{}"), Some(finish)));
    if include_usage {
        let usage = chat_usage(p.input_words, reply.output_words());
        s.frame(|b| c.usage(b, &usage));
    }
    s.frame(|b| b.extend_from_slice(b"data: [DONE]\n\n"));
    s.into_response(plan.track)
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

/// Request fields the real Responses API echoes back in its `response` object, with the
/// values it reports when they were not sent.
fn echoed_fields(req: &Value) -> Map<String, Value> {
    let defaults = [
        ("instructions", Value::Null),
        ("max_output_tokens", Value::Null),
        ("metadata", json!({})),
        ("parallel_tool_calls", json!(true)),
        ("previous_response_id", Value::Null),
        ("store", json!(true)),
        ("temperature", json!(1.0)),
        ("tool_choice", json!("auto")),
        ("tools", json!([])),
        ("top_p", json!(1.0)),
        ("user", Value::Null),
    ];
    defaults
        .into_iter()
        .map(|(k, d)| {
            let v = req.get(k).filter(|v| !v.is_null()).cloned().unwrap_or(d);
            (k.to_owned(), v)
        })
        .collect()
}

/// Identity of one Responses API response.
struct ResponseMeta {
    id: String,
    created_at: u64,
    model: String,
    echoed: Map<String, Value>,
}

impl ResponseMeta {
    /// The `response` object in a given state.
    fn object(&self, status: &str, output: Value, usage: Value) -> Value {
        let mut o = self.echoed.clone();
        for (k, v) in [
            ("id", json!(self.id)),
            ("object", json!("response")),
            ("created_at", json!(self.created_at)),
            ("status", json!(status)),
            ("background", json!(false)),
            ("error", Value::Null),
            ("incomplete_details", Value::Null),
            ("model", json!(self.model)),
            ("output", output),
            ("reasoning", json!({"effort": null, "summary": null})),
            ("text", json!({"format": {"type": "text"}})),
            ("truncation", json!("disabled")),
            ("usage", usage),
        ] {
            o.insert(k.to_owned(), v);
        }
        Value::Object(o)
    }
}

/// `usage` of a Responses API response.
fn responses_usage(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + output
    })
}

/// `POST /v1/responses`.
pub(crate) async fn responses(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req = s.admit(Api::OpenAi, &headers, &body)?;
    let p = Prompt::responses(&req);
    let echoed = echoed_fields(&req);
    s.record(req);
    if let Some(msg) = p.invalid {
        return Err(ApiError::new(Api::OpenAi, 400, msg));
    }
    let mut plan = s.plan(Api::OpenAi, &p.model, &headers).await?;
    let reply = Reply::new(&s.opts, &plan.dir, &p);
    let meta = ResponseMeta {
        id: new_id("resp_"),
        created_at: now_secs(),
        model: p.model.clone(),
        echoed,
    };
    let msg_id = new_id("msg_");
    let message = |status: &str, text: &str| {
        json!({
            "type": "message", "id": msg_id, "status": status, "role": "assistant",
            "content": if status == "completed" {
                json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}])
            } else {
                json!([])
            }
        })
    };
    let call_item = |c: &ToolCall, status: &str, arguments: &str| {
        json!({
            "type": "function_call", "id": c.id("fc_"), "call_id": c.id("call_"),
            "name": c.name, "arguments": arguments, "status": status
        })
    };
    let usage = responses_usage(p.input_words, reply.output_words());
    let done_items: Vec<Value> = match &reply {
        Reply::Text(text) => vec![message("completed", text)],
        Reply::Tools(calls) => calls
            .iter()
            .map(|c| call_item(c, "completed", &c.arguments))
            .collect(),
    };
    if !p.stream {
        let body = meta.object("completed", Value::Array(done_items), usage);
        plan.track.complete();
        return Ok(Json(body).into_response());
    }

    let mut s = Script::new(plan.chunk_delay, plan.disconnect_after);
    let mut seq = 0u64;
    // Adds `type` and the running `sequence_number` to an event and appends it.
    let mut emit = |s: &mut Script, content: bool, kind: &str, mut ev: Value| {
        ev["type"] = json!(kind);
        ev["sequence_number"] = json!(seq);
        seq += 1;
        let write = |b: &mut Vec<u8>| event_frame(b, kind, &ev);
        if content {
            s.content(write)
        } else {
            s.frame(write)
        }
    };
    let pending = meta.object("in_progress", json!([]), Value::Null);
    emit(
        &mut s,
        false,
        "response.created",
        json!({"response": pending}),
    );
    emit(
        &mut s,
        false,
        "response.in_progress",
        json!({"response": pending}),
    );
    match &reply {
        Reply::Text(full) => {
            emit(
                &mut s,
                false,
                "response.output_item.added",
                json!({"output_index": 0, "item": message("in_progress", "")}),
            );
            let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
            let at = |mut ev: Value| {
                ev["item_id"] = json!(msg_id);
                ev["output_index"] = json!(0);
                ev["content_index"] = json!(0);
                ev
            };
            emit(
                &mut s,
                false,
                "response.content_part.added",
                at(json!({"part": part("")})),
            );
            for piece in chunks(full) {
                emit(
                    &mut s,
                    true,
                    "response.output_text.delta",
                    at(json!({"delta": piece, "logprobs": []})),
                );
            }
            emit(
                &mut s,
                false,
                "response.output_text.done",
                at(json!({"text": full, "logprobs": []})),
            );
            emit(
                &mut s,
                false,
                "response.content_part.done",
                at(json!({"part": part(full)})),
            );
            emit(
                &mut s,
                false,
                "response.output_item.done",
                json!({"output_index": 0, "item": done_items[0]}),
            );
        }
        Reply::Tools(calls) => {
            for (index, (c, done)) in calls.iter().zip(&done_items).enumerate() {
                let item_id = c.id("fc_");
                emit(
                    &mut s,
                    false,
                    "response.output_item.added",
                    json!({"output_index": index, "item": call_item(c, "in_progress", "")}),
                );
                for piece in c.argument_pieces() {
                    emit(
                        &mut s,
                        true,
                        "response.function_call_arguments.delta",
                        json!({"item_id": item_id, "output_index": index, "delta": piece}),
                    );
                }
                emit(
                    &mut s,
                    false,
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": index, "name": c.name, "arguments": c.arguments}),
                );
                emit(
                    &mut s,
                    false,
                    "response.output_item.done",
                    json!({"output_index": index, "item": done}),
                );
            }
        }
    }
    let completed = meta.object("completed", Value::Array(done_items), usage);
    emit(
        &mut s,
        false,
        "response.completed",
        json!({"response": completed}),
    );
    Ok(s.into_response(plan.track))
}

// ---------------------------------------------------------------------------------------
// Embeddings
// ---------------------------------------------------------------------------------------

/// Default embedding length: small, but enough for distinct inputs to differ.
const EMBEDDING_DIMS: usize = 8;

/// A deterministic unit vector for `text`: FNV-1a of the text seeds a SplitMix64 sequence
/// of components in [-1, 1], then the vector is normalised. Same text, same vector, across
/// runs and machines, so tests can compare results.
fn embedding(text: &str, dims: usize) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            ((z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else if let Some(first) = v.first_mut() {
        *first = 1.0;
    }
    v
}

/// Standard base64 with padding, for `encoding_format: "base64"` (little-endian f32s, as
/// the real API encodes them).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req = s.admit(Api::OpenAi, &headers, &body)?;
    let mut invalid = None;
    let model = match req.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => {
            invalid = Some("you must provide a model parameter");
            String::new()
        }
    };
    // Token-id inputs are hashed through their JSON text; the mock has no tokenizer.
    let texts: Vec<std::borrow::Cow<'_, str>> = match req.get("input") {
        Some(Value::String(t)) => vec![t.into()],
        Some(Value::Array(a)) if a.iter().all(Value::is_number) && !a.is_empty() => {
            vec![Value::Array(a.clone()).to_string().into()]
        }
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| match v {
                Value::String(t) => t.into(),
                other => other.to_string().into(),
            })
            .collect(),
        _ => {
            invalid.get_or_insert("Missing required parameter: 'input'.");
            Vec::new()
        }
    };
    let dims = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(EMBEDDING_DIMS, |d| d.clamp(1, 4096) as usize);
    let base64_out = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = embedding(t, dims);
            let embedding = if base64_out {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64(&bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens = texts.iter().map(|t| words(t)).sum::<u64>().max(1);
    drop(texts);
    s.record(req);
    if let Some(msg) = invalid {
        return Err(ApiError::new(Api::OpenAi, 400, msg));
    }
    let mut plan = s.plan(Api::OpenAi, &model, &headers).await?;
    plan.track.complete();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------

/// Model ids listed by `GET /v1/models`.
const MODELS: [&str; 2] = ["mock-model", "mock-embed"];

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "openclaw-mock"})
}

/// Credentials and the server-wide failure switch also apply to the model list, so a
/// gateway's provider probe sees the same outage as its chat calls.
fn models_gate(s: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    s.check_auth(Api::OpenAi, headers)?;
    match s.opts.fail_status {
        Some(status) => Err(ApiError::failure(Api::OpenAi, status, None)),
        None => Ok(()),
    }
}

/// `GET /v1/models`.
pub(crate) async fn models(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    models_gate(&s, &headers)?;
    let data: Vec<Value> = MODELS.iter().map(|m| model_object(m)).collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// `GET /v1/models/{id}`: any id exists, since any model name is served.
pub(crate) async fn model(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    models_gate(&s, &headers)?;
    Ok(Json(model_object(&id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding("alpha", 8);
        assert_eq!(a, embedding("alpha", 8));
        assert_ne!(a, embedding("beta", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
