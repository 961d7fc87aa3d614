//! `POST /v1/embeddings`, through the agent's (or `x-openclaw-model`'s) embedding model.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::*;

/// `POST /v1/embeddings`.
pub async fn embeddings(
    Admitted { live, .. }: Admitted<Shared>,
    headers: HeaderMap,
    JsonObject(body): JsonObject<MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let agent = resolve_agent(&live, body.get("model").and_then(Value::as_str), &headers)?;
    let model_field = body.get("model").and_then(Value::as_str);
    let input: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => {
            return Err(bad_request(
                "`input` must be a string or a non-empty array of strings",
            ));
        }
    };
    let target = match model_override(&live, &headers)? {
        Some(t) => t,
        None => agent.embeddings.clone().ok_or_else(|| {
            bad_request(format!(
                "Agent `{}` has no embedding model; set agents.defaults.embeddings.model or send x-openclaw-model",
                agent.id
            ))
        })?,
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
            Ok(json_response(
                StatusCode::OK,
                json!({"object": "list", "data": data, "model": model_field.unwrap_or("openclaw"),
                       "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
            ))
        }
        Err(e) => Err(ApiError::upstream(
            if e.is_retryable() {
                StatusCode::BAD_GATEWAY
            } else {
                StatusCode::BAD_REQUEST
            },
            "api_error",
            e.to_string(),
        )),
    }
}
