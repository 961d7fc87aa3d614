//! Error bodies in each API's own shape.
//!
//! The gateway's provider clients classify failures (retry, fall back, surface) from the
//! status, headers and error JSON, so these must look like the real thing.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which provider API a route imitates; decides error shape and auth header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// OpenAI: `{"error":{...}}`, `Authorization: Bearer`.
    OpenAi,
    /// Anthropic: `{"type":"error","error":{...}}`, `x-api-key`.
    Anthropic,
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// OpenAI's error `type` for a status.
fn openai_type(status: u16) -> &'static str {
    match status {
        401 | 403 => "authentication_error",
        429 => "rate_limit_error",
        500.. => "server_error",
        _ => "invalid_request_error",
    }
}

/// Anthropic's error `type` for a status, as documented for its API.
fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500.. => "api_error",
        _ => "invalid_request_error",
    }
}

/// An error answer in one API's shape. Handlers return it (rather than a finished
/// `Response`) so that `?` works and the error path stays small to move around.
#[derive(Debug)]
pub(crate) struct ApiError {
    api: Api,
    status: u16,
    message: Cow<'static, str>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `message` in `api`'s shape.
    pub(crate) fn new(api: Api, status: u16, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError {
            api,
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A simulated provider failure (from `fail-*` directives or `fail_status`). 429s carry
    /// `Retry-After` (`retry_after`, default 1) so retry logic can be tested; 503 and 529
    /// carry it only when `retry_after` is given, as real overloaded upstreams sometimes do.
    pub(crate) fn failure(api: Api, status: u16, retry_after: Option<u64>) -> ApiError {
        let message = match status {
            429 => "Rate limit reached (simulated by the mock provider).",
            529 => "Overloaded (simulated by the mock provider).",
            500.. => {
                "The server had an error while processing your request (simulated by the mock provider)."
            }
            _ => "Request rejected (simulated by the mock provider).",
        };
        ApiError {
            retry_after: match status {
                429 => Some(retry_after.unwrap_or(1)),
                503 | 529 => retry_after,
                _ => None,
            },
            ..ApiError::new(api, status, message)
        }
    }
}

impl ApiError {
    /// The same error with every request header, values included, appended to its message
    /// (`… request headers: authorization: Bearer sk-…; x-proxy-auth: …`), as an upstream
    /// that echoes what it was sent would answer.
    pub(crate) fn echoing(mut self, headers: &HeaderMap) -> ApiError {
        let listed: Vec<String> = headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
            .collect();
        self.message = format!("{} request headers: {}", self.message, listed.join("; ")).into();
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = (self.status, self.message.as_ref());
        let body = match self.api {
            Api::OpenAi => json!({
                "error": {"message": message, "type": openai_type(status), "param": null, "code": null}
            }),
            Api::Anthropic => json!({
                "type": "error",
                "error": {"type": anthropic_type(status), "message": message}
            }),
        };
        let mut res = (status_code(status), Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}
