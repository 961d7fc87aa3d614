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
        Some(Value::Array(items)) => Value::Array(
            items
                .iter()
                .filter_map(|it| match it.get("type").and_then(Value::as_str) {
                    None | Some("message") => Some(it.clone()),
                    Some("function_call_output") => Some(json!({
                        "role": "tool", "tool_call_id": it.get("call_id"), "content": it.get("output"),
                    })),
                    Some("function_call") => Some(json!({
                        "role": "assistant", "content": "",
                        "tool_calls": [{"id": it.get("call_id"), "type": "function",
                                        "function": {"name": it.get("name"), "arguments": it.get("arguments")}}],
                    })),
                    Some(_) => None,
                })
                .collect(),
        ),
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
    let mut seq = 0u64;
    let mut text = String::new();
    let mut opened = false;
    let frames = start_streaming_run(&state, turn, move |item| {
        let mut ev = |kind: &str, mut payload: Value| {
            seq += 1;
            payload["type"] = json!(kind);
            payload["sequence_number"] = json!(seq);
            SseFrame::event(kind, payload.to_string())
        };
        let mut frames = Vec::new();
        let open = |frames: &mut Vec<SseFrame>, ev: &mut dyn FnMut(&str, Value) -> SseFrame| {
            frames.push(ev("response.output_item.added", json!({"output_index": 0,
                "item": {"type": "message", "id": msg_id, "status": "in_progress", "role": "assistant", "content": []}})));
            frames.push(ev(
                "response.content_part.added",
                json!({"item_id": msg_id, "output_index": 0, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []}}),
            ));
        };
        match item {
            StreamItem::Event(RunEvent::Model { .. }) => {
                let base = response_object(&resp_id, &msg_id, created, &model, "in_progress", None);
                frames.push(ev("response.created", json!({"response": base})));
                frames.push(ev("response.in_progress", json!({"response": base})));
            }
            StreamItem::Event(RunEvent::Delta(d)) => {
                if !opened {
                    opened = true;
                    open(&mut frames, &mut ev);
                }
                text.push_str(&d);
                frames.push(ev(
                    "response.output_text.delta",
                    json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "delta": d}),
                ));
            }
            StreamItem::Event(_) => {}
            StreamItem::Done(Ok(out)) => {
                if !opened {
                    open(&mut frames, &mut ev);
                }
                frames.push(ev(
                    "response.output_text.done",
                    json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "text": text}),
                ));
                frames.push(ev(
                    "response.content_part.done",
                    json!({"item_id": msg_id, "output_index": 0, "content_index": 0,
                    "part": {"type": "output_text", "text": text, "annotations": []}}),
                ));
                let full =
                    response_object(&resp_id, &msg_id, created, &model, "completed", Some(&out));
                frames.push(ev(
                    "response.output_item.done",
                    json!({"output_index": 0, "item": full["output"][0]}),
                ));
                frames.push(ev("response.completed", json!({"response": full})));
            }
            StreamItem::Done(Err(e)) => {
                let mut failed =
                    response_object(&resp_id, &msg_id, created, &model, "failed", None);
                failed["error"] = json!({"code": "server_error", "message": e.to_string()});
                frames.push(ev("response.failed", json!({"response": failed})));
            }
        }
        frames
    });
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
                "name": c.name, "arguments": c.arguments, "status": "completed"}),
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
