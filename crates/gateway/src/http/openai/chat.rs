//! `POST /v1/chat/completions`: JSON or SSE chunks.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::*;

/// A prepared turn plus what the response needs to echo back.
struct Prepared {
    turn: Turn,
    model_field: String,
    stream: bool,
    include_usage: bool,
}

#[allow(clippy::result_large_err)]
fn prepare_chat(live: &Live, headers: &HeaderMap, body: &Value) -> Result<Prepared, Response> {
    let model_field = body.get("model").and_then(Value::as_str);
    let agent = resolve_agent(live, model_field, headers)?;
    let input = parse_messages(body.get("messages").unwrap_or(&Value::Null))?;
    let params = parse_params(body)?;
    let model_override = model_override(live, headers)?;
    let user = body.get("user").and_then(Value::as_str);
    let (session, persist) = resolve_session(&agent, headers, user)?;
    Ok(Prepared {
        model_field: model_field.unwrap_or("openclaw").to_owned(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        turn: Turn {
            run_id: uuid::Uuid::new_v4().simple().to_string(),
            agent,
            session,
            persist,
            prior: input.prior,
            system_extra: input.system,
            user_text: input.user_text,
            tool_results: input.tool_results,
            model_override,
            params,
            channel: header_str(headers, "x-openclaw-message-channel")
                .map(str::to_owned)
                .or(Some("openai-http".into())),
        },
    })
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let live = match gate(&state, Family::Chat, &headers, peer.ip()) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let body = match read_json(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let prepared = match prepare_chat(&live, &headers, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let created = crate::sys::now_ms() / 1000;
    let id = format!("chatcmpl-{}", prepared.turn.run_id);
    if !prepared.stream {
        // Nobody listens to the events of a non-streaming run: a closed channel makes every
        // send return at once.
        let (tx, _) = mpsc::channel(1);
        let result = run_turn(
            &state.shared.sessions,
            prepared.turn,
            &tx,
            &Cancel::default(),
        )
        .await;
        return match result {
            Ok(out) => json_response(
                StatusCode::OK,
                completion_json(&id, created, &prepared.model_field, &out),
            ),
            Err(e) => run_error_response(&e),
        };
    }

    let model = prepared.model_field.clone();
    let include_usage = prepared.include_usage;
    let frames = start_streaming_run(&state, prepared.turn, move |item| match item {
        StreamItem::Event(RunEvent::Model { .. }) => vec![chunk(
            &id,
            created,
            &model,
            json!({"role": "assistant", "content": ""}),
            None,
        )],
        StreamItem::Event(RunEvent::Delta(d)) => {
            vec![chunk(&id, created, &model, json!({"content": d}), None)]
        }
        StreamItem::Event(RunEvent::ToolCall {
            index,
            id: call_id,
            name,
            arguments,
        }) => {
            let mut call = json!({"index": index, "function": {"arguments": arguments}});
            if let Some(cid) = call_id {
                call["id"] = json!(cid);
                call["type"] = json!("function");
            }
            if let Some(n) = name {
                call["function"]["name"] = json!(n);
            }
            vec![chunk(
                &id,
                created,
                &model,
                json!({"tool_calls": [call]}),
                None,
            )]
        }
        StreamItem::Event(RunEvent::Fallback { .. }) => vec![],
        StreamItem::Done(Ok(out)) => {
            let mut frames = vec![chunk(
                &id,
                created,
                &model,
                json!({}),
                Some(finish_name(out.finish.as_ref(), !out.tool_calls.is_empty())),
            )];
            if include_usage {
                frames.push(SseFrame::data(
                    json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [], "usage": usage_json(out.usage.as_ref())})
                    .to_string(),
                ));
            }
            frames.push(SseFrame::data("[DONE]".into()));
            frames
        }
        StreamItem::Done(Err(e)) => vec![
            SseFrame::data(
                json!({"error": {"message": e.to_string(), "type": "api_error"}}).to_string(),
            ),
            SseFrame::data("[DONE]".into()),
        ],
    });
    sse_or_error(&state, frames).await
}

fn chunk(id: &str, created: u64, model: &str, delta: Value, finish: Option<&str>) -> SseFrame {
    SseFrame::data(
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        .to_string(),
    )
}

fn completion_json(id: &str, created: u64, model: &str, out: &Outcome) -> Value {
    let mut message = json!({"role": "assistant", "content": out.text});
    if !out.tool_calls.is_empty() {
        message["tool_calls"] = json!(out
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect::<Vec<_>>());
    }
    json!({
        "id": id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_name(out.finish.as_ref(), !out.tool_calls.is_empty())}],
        "usage": usage_json(out.usage.as_ref()),
    })
}
