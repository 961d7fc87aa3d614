//! `POST /v1/chat/completions`: JSON or SSE chunks.

use std::sync::Arc;

use axum::extract::State;
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

fn prepare_chat(live: &Live, headers: &HeaderMap, body: &Value) -> Result<Prepared, ApiError> {
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
        turn: Turn::new(agent, session, input.user_text)
            .with_run_id(uuid::Uuid::new_v4().simple().to_string())
            .with_persist(persist)
            .with_client_history(input.prior, input.system, input.tool_results)
            .with_model_override(model_override)
            .with_params(params)
            .with_channel(
                header_str(headers, "x-openclaw-message-channel")
                    .map(str::to_owned)
                    .or(Some("openai-http".into())),
            ),
    })
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    Admitted { live, .. }: Admitted<Chat>,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonObject(body): JsonObject<MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    if let Some(why) = state.shared.memory.pressure() {
        return Err(ApiError::Unavailable(why));
    }
    let prepared = prepare_chat(&live, &headers, &body)?;
    let created = crate::sys::now_ms() / 1000;
    let id = format!("chatcmpl-{}", prepared.turn.run_id);
    if !prepared.stream {
        // Nobody listens to the events of a non-streaming run: a closed channel makes every
        // send return at once.
        let (tx, _) = mpsc::channel(1);
        let result = run_turn(
            &state.shared.sessions,
            &state.shared.metrics,
            crate::agents::with_gateway_tools(&state, prepared.turn),
            &tx,
            &Cancel::default(),
        )
        .await;
        let out = result.map_err(|e| ApiError::from(&e))?;
        return Ok(json_response(
            StatusCode::OK,
            completion_json(&id, created, &prepared.model_field, &out),
        ));
    }

    let model = prepared.model_field.clone();
    let include_usage = prepared.include_usage;
    // Per streamed call ordinal: whether any argument text went out (a call that ends
    // without any gets `{}` before the finish chunk, since OpenAI SDKs parse arguments).
    let mut call_args: Vec<bool> = Vec::new();
    let (open_id, open_model) = (id.clone(), model.clone());
    let mut encode = move |item| match item {
        // The opening chunk waits for the first output (below): a model that fails before
        // answering, even after its headers, leaves the client a clean error status, and a
        // fallback's second model does not open the stream twice.
        StreamItem::Event(RunEvent::Model { .. }) => vec![],
        StreamItem::Event(RunEvent::Delta(d)) => {
            vec![chunk(&id, created, &model, json!({"content": d}), None)]
        }
        StreamItem::Event(RunEvent::ToolCall {
            index,
            id: call_id,
            name,
            arguments,
        }) => {
            if call_args.len() <= index {
                call_args.resize(index + 1, false);
            }
            call_args[index] |= !arguments.is_empty();
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
        StreamItem::Event(
            RunEvent::Fallback { .. } | RunEvent::ToolStart { .. } | RunEvent::ToolResult { .. },
        ) => vec![],
        StreamItem::Done(Ok(out)) => {
            let mut frames: Vec<SseFrame> = call_args
                .iter()
                .enumerate()
                .filter(|(_, sent)| !**sent)
                .map(|(index, _)| {
                    chunk(
                        &id,
                        created,
                        &model,
                        json!({"tool_calls": [{"index": index, "function": {"arguments": "{}"}}]}),
                        None,
                    )
                })
                .collect();
            frames.push(chunk(
                &id,
                created,
                &model,
                json!({}),
                Some(finish_name(out.finish.as_ref(), !out.tool_calls.is_empty())),
            ));
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
    };
    let mut opened = false;
    let frames = start_streaming_run(&state, prepared.turn, move |item: StreamItem| {
        let output = matches!(
            item,
            StreamItem::Event(RunEvent::Delta(_) | RunEvent::ToolCall { .. })
                | StreamItem::Done(Ok(_))
        );
        let mut frames = Vec::new();
        if output && !opened {
            opened = true;
            frames.push(chunk(
                &open_id,
                created,
                &open_model,
                json!({"role": "assistant", "content": ""}),
                None,
            ));
        }
        frames.extend(encode(item));
        frames
    });
    Ok(sse_or_error(&state, frames).await)
}

fn chunk(id: &str, created: u64, model: &str, delta: Value, finish: Option<&str>) -> SseFrame {
    SseFrame::data(
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        .to_string(),
    )
}

fn completion_json(id: &str, created: u64, model: &str, out: &Outcome) -> Value {
    // OpenAI sends `content: null` when the answer is tool calls only.
    let content = if out.text.is_empty() && !out.tool_calls.is_empty() {
        Value::Null
    } else {
        json!(out.text)
    };
    let mut message = json!({"role": "assistant", "content": content});
    if !out.tool_calls.is_empty() {
        message["tool_calls"] = json!(out
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json_args(&c.arguments)}}))
            .collect::<Vec<_>>());
    }
    json!({
        "id": id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_name(out.finish.as_ref(), !out.tool_calls.is_empty())}],
        "usage": usage_json(out.usage.as_ref()),
    })
}

/// Tool-call arguments as sent to OpenAI clients: `{}` for a call the model made without
/// any argument text, because OpenAI SDKs parse `arguments` as JSON and `""` is not JSON.
pub(super) fn json_args(arguments: &str) -> &str {
    if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    }
}
