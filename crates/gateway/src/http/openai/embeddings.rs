//! `POST /v1/embeddings`, through the agent's (or `x-openclaw-model`'s) embedding model.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::*;

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (live, body, agent) = match admit(&state, Family::Shared, &headers, peer.ip(), body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let model_field = body.get("model").and_then(Value::as_str);
    let input: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => return bad_request("`input` must be a string or a non-empty array of strings"),
    };
    let target = match model_override(&live, &headers) {
        Ok(Some(t)) => t,
        Ok(None) => match agent.embeddings.clone() {
            Some(t) => t,
            None => {
                return bad_request(format!(
                    "Agent `{}` has no embedding model; set agents.defaults.embeddings.model or send x-openclaw-model",
                    agent.id
                ));
            }
        },
        Err(r) => return r,
    };
    match target.provider.embed(&target.model, &input).await {
        Ok(emb) => {
            let data: Vec<Value> = emb
                .vectors
                .iter()
                .enumerate()
                .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
                .collect();
            let tokens = emb.usage.as_ref().map_or(0, |u| u.input_tokens);
            json_response(
                StatusCode::OK,
                json!({"object": "list", "data": data, "model": model_field.unwrap_or("openclaw"),
                       "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
            )
        }
        Err(e) => error(
            if e.is_retryable() {
                StatusCode::BAD_GATEWAY
            } else {
                StatusCode::BAD_REQUEST
            },
            "api_error",
            e.to_string(),
        ),
    }
}
