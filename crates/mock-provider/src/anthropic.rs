//! The Anthropic Messages route, `POST /v1/messages`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Shared;
use crate::errors::{Api, ApiError};
use crate::openai::new_id;
use crate::prompt::{Prompt, Reply, chunks};
use crate::stream::{Script, event_frame};

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req = s.admit(Api::Anthropic, &headers, &body)?;
    let p = Prompt::anthropic(&req);
    s.record(req);
    if let Some(msg) = p.invalid {
        return Err(ApiError::new(Api::Anthropic, 400, msg));
    }
    let mut plan = s.plan(Api::Anthropic, &p.model, &headers).await?;
    let reply = Reply::new(&s.opts, &plan.dir, &p);
    let id = new_id("msg_");
    let output = reply.output_words();
    let (stop_reason, blocks) = match &reply {
        Reply::Text(text) => ("end_turn", vec![json!({"type": "text", "text": text})]),
        Reply::Tools(calls) => {
            let mut blocks = Vec::with_capacity(calls.len());
            for c in calls {
                // Streaming passes the argument text through as `partial_json`; a whole
                // message needs a JSON value, so a directive with broken JSON is refused
                // here rather than silently replaced.
                let input: Value = serde_json::from_str(&c.arguments).map_err(|e| {
                    plan.track.settle();
                    ApiError::new(
                        Api::Anthropic,
                        400,
                        format!(
                            "mock: the arguments of tool directive {:?} are not JSON ({e}); \
                             a non-streaming Anthropic reply needs a JSON object as `input`",
                            c.name
                        ),
                    )
                })?;
                blocks.push(
                    json!({"type": "tool_use", "id": c.id("toolu_"), "name": c.name, "input": input}),
                );
            }
            ("tool_use", blocks)
        }
    };
    let usage = |input: u64, output: u64| {
        json!({
            "input_tokens": input,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output
        })
    };
    let message = |content: Value, stop: Value, usage: Value| {
        json!({
            "id": id, "type": "message", "role": "assistant", "model": p.model,
            "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage
        })
    };
    if !p.stream {
        let body = message(
            Value::Array(blocks),
            json!(stop_reason),
            usage(p.input_words, output),
        );
        plan.track.complete();
        return Ok(Json(body).into_response());
    }

    let mut s = Script::new(plan.chunk_delay, plan.disconnect_after);
    let emit = |s: &mut Script, content: bool, kind: &str, mut ev: Value| {
        ev["type"] = json!(kind);
        let write = |b: &mut Vec<u8>| event_frame(b, kind, &ev);
        if content {
            s.content(write)
        } else {
            s.frame(write)
        }
    };
    emit(
        &mut s,
        false,
        "message_start",
        json!({"message": message(json!([]), Value::Null, usage(p.input_words, 1))}),
    );
    match &reply {
        Reply::Text(text) => {
            emit(
                &mut s,
                false,
                "content_block_start",
                json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
            );
            emit(&mut s, false, "ping", json!({}));
            for piece in chunks(text) {
                emit(
                    &mut s,
                    true,
                    "content_block_delta",
                    json!({"index": 0, "delta": {"type": "text_delta", "text": piece}}),
                );
            }
            emit(&mut s, false, "content_block_stop", json!({"index": 0}));
        }
        Reply::Tools(calls) => {
            for (index, c) in calls.iter().enumerate() {
                emit(
                    &mut s,
                    false,
                    "content_block_start",
                    json!({"index": index, "content_block": {
                        "type": "tool_use", "id": c.id("toolu_"), "name": c.name, "input": {}
                    }}),
                );
                if index == 0 {
                    emit(&mut s, false, "ping", json!({}));
                }
                for piece in c.argument_pieces() {
                    emit(
                        &mut s,
                        true,
                        "content_block_delta",
                        json!({"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}),
                    );
                }
                emit(&mut s, false, "content_block_stop", json!({"index": index}));
            }
        }
    }
    emit(
        &mut s,
        false,
        "message_delta",
        json!({
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output}
        }),
    );
    emit(&mut s, false, "message_stop", json!({}));
    Ok(s.into_response(plan.track))
}
