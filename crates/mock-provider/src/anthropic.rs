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
    let (stop_reason, block) = match &reply {
        Reply::Text(text) => ("end_turn", json!({"type": "text", "text": text})),
        Reply::Tool { name, arguments } => {
            let input: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
            (
                "tool_use",
                json!({"type": "tool_use", "id": new_id("toolu_"), "name": name, "input": input}),
            )
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
            json!([block]),
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
    let start_block = match block {
        Value::Object(mut o) if o.get("type") == Some(&json!("tool_use")) => {
            o.insert("input".to_owned(), json!({}));
            Value::Object(o)
        }
        _ => json!({"type": "text", "text": ""}),
    };
    emit(
        &mut s,
        false,
        "content_block_start",
        json!({"index": 0, "content_block": start_block}),
    );
    emit(&mut s, false, "ping", json!({}));
    for piece in chunks(reply.streamed()) {
        let delta = match &reply {
            Reply::Text(_) => json!({"type": "text_delta", "text": piece}),
            Reply::Tool { .. } => json!({"type": "input_json_delta", "partial_json": piece}),
        };
        emit(
            &mut s,
            true,
            "content_block_delta",
            json!({"index": 0, "delta": delta}),
        );
    }
    emit(&mut s, false, "content_block_stop", json!({"index": 0}));
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
