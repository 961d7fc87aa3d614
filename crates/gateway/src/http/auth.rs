//! Bearer authentication for the HTTP API, sharing the WebSocket verifier and rate limiter.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::json_response;
use crate::auth::Presented;
use crate::state::AppState;

/// Checks `Authorization: Bearer <token|password>`. On failure returns the response to
/// send: 401 with the OpenAI-style error, or 429 with `Retry-After` while locked out.
#[allow(clippy::result_large_err)]
pub fn require_bearer(state: &AppState, headers: &HeaderMap, ip: IpAddr) -> Result<(), Response> {
    let ip = ip.to_canonical();
    if let Some(wait) = state.limiter.locked(ip) {
        let secs = wait.as_secs().max(1);
        let mut res = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": {"message": format!("Too many failed authentication attempts; retry in {secs}s"), "type": "rate_limited"}}),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(res);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let presented = Presented {
        token: bearer,
        password: bearer,
    };
    match state.auth.verify(&presented) {
        Ok(()) => {
            state.limiter.record_success(ip);
            Ok(())
        }
        Err(_) => {
            state.limiter.record_failure(ip);
            Err(unauthorized())
        }
    }
}

/// The 401 body OpenAI clients expect.
pub fn unauthorized() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        json!({"error": {"message": "Unauthorized", "type": "unauthorized"}}),
    )
}
