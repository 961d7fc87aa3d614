//! The typed edge of the HTTP API: [`ApiError`] (every failure a handler can answer with,
//! rendered in the wire shape its endpoint's clients parse) and [`JsonObject`] (the request
//! body extractor with its size cap).
//!
//! Handlers return `Result<Response, ApiError>` and use `?`; the status code, the error
//! `type` and the body shape are decided here once, not at each return site.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::agents::RunError;

/// A failed HTTP request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request_error`: the request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// 400 `invalid_request_error` about one field (`param`), with a machine `code`.
    #[error("{message}")]
    BadParam {
        /// What is wrong.
        message: String,
        /// The offending field.
        param: &'static str,
        /// Machine-readable code.
        code: &'static str,
    },
    /// 401: missing or wrong credentials.
    #[error("Unauthorized")]
    Unauthorized,
    /// 429 with `Retry-After`: too many failed authentications from this address.
    #[error("Too many failed authentication attempts; retry in {retry_after_secs}s")]
    RateLimited {
        /// Seconds until the lockout ends.
        retry_after_secs: u64,
    },
    /// 413: the body is larger than `limit` bytes.
    #[error("Request body too large: the limit is {} MB", limit / (1024 * 1024))]
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// 404 `not_found`: no such route, or a route that is switched off.
    #[error("Not Found: {0}")]
    NotFound(String),
    /// 404 `model_not_found`.
    #[error("The model '{0}' does not exist")]
    ModelNotFound(String),
    /// 503 `unavailable`: the gateway is shutting down.
    #[error("{0}")]
    Unavailable(String),
    /// The upstream call failed; the status says how (502, 504, 429, …).
    #[error("{0}")]
    Upstream(UpstreamError),
    /// A refusal before the route is reached (403 foreign origin, 415 not JSON), in the
    /// `{error: {message, type}}` shape.
    #[error("{message}")]
    Refused {
        /// Status code.
        status: StatusCode,
        /// Error type.
        kind: &'static str,
        /// What went wrong and what to do.
        message: String,
    },
    /// A `/tools/invoke` failure, in that endpoint's `{ok: false, error: {type, message}}`.
    #[error("{message}")]
    Tool {
        /// Status code.
        status: StatusCode,
        /// Error type.
        kind: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A webhook failure, in the hooks' `{ok: false, error: message}`.
    #[error("{message}")]
    Hook {
        /// Status code.
        status: StatusCode,
        /// What went wrong.
        message: String,
    },
}

/// A failed model call, with the status and type OpenAI clients branch on.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    /// Status code.
    pub status: StatusCode,
    /// Error type.
    pub kind: &'static str,
    /// What went wrong (names the provider, never its key).
    pub message: String,
}

impl ApiError {
    /// `400 invalid_request_error` with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }

    /// A `/tools/invoke` error.
    pub fn tool(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Tool {
            status,
            kind,
            message: message.into(),
        }
    }

    /// A webhook error.
    pub fn hook(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::Hook {
            status,
            message: message.into(),
        }
    }

    /// An upstream (provider) failure.
    pub fn upstream(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError::Upstream(UpstreamError {
            status,
            kind,
            message: message.into(),
        })
    }

    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::BadParam { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) | ApiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(u) => u.status,
            ApiError::Tool { status, .. }
            | ApiError::Hook { status, .. }
            | ApiError::Refused { status, .. } => *status,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) | ApiError::BadParam { .. } => "invalid_request_error",
            ApiError::ModelNotFound(_) => "invalid_request_error",
            ApiError::Unauthorized => "unauthorized",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooLarge { .. } => "invalid_request_error",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Upstream(u) => u.kind,
            ApiError::Tool { kind, .. } | ApiError::Refused { kind, .. } => kind,
            ApiError::Hook { .. } => "hook_error",
        }
    }

    /// The response body.
    fn body(&self) -> Value {
        let message = self.to_string();
        match self {
            ApiError::Tool { kind, .. } => {
                json!({"ok": false, "error": {"type": kind, "message": message}})
            }
            ApiError::Hook { .. } => json!({"ok": false, "error": message}),
            ApiError::BadParam { param, code, .. } => {
                json!({"error": {"message": message, "type": self.kind(), "param": param, "code": code}})
            }
            ApiError::ModelNotFound(_) => {
                json!({"error": {"message": message, "type": self.kind(), "param": "model", "code": "model_not_found"}})
            }
            // Auth, routing and availability errors carry only message and type, as the
            // original gateway sends them.
            ApiError::Unauthorized
            | ApiError::RateLimited { .. }
            | ApiError::NotFound(_)
            | ApiError::Unavailable(_)
            | ApiError::Refused { .. } => {
                json!({"error": {"message": message, "type": self.kind()}})
            }
            ApiError::BadRequest(_) | ApiError::TooLarge { .. } | ApiError::Upstream(_) => {
                json!({"error": {"message": message, "type": self.kind(), "param": null, "code": null}})
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = json_response(self.status(), self.body());
        if let ApiError::RateLimited { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

impl From<&RunError> for ApiError {
    /// Maps a run failure to the status OpenAI clients expect.
    fn from(e: &RunError) -> ApiError {
        let (status, kind) = match e {
            RunError::NoModel { .. } => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            RunError::AllFailed { last, .. } if last_status(last) == Some(429) => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error")
            }
            RunError::AllFailed { .. }
            | RunError::MidStream(_)
            | RunError::AnswerTooLarge { .. } => (StatusCode::BAD_GATEWAY, "api_error"),
            RunError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            RunError::Aborted => (StatusCode::SERVICE_UNAVAILABLE, "aborted"),
            RunError::Transcript(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        ApiError::upstream(status, kind, e.to_string())
    }
}

fn last_status(e: &openclaw_providers::ProviderError) -> Option<u16> {
    match e {
        openclaw_providers::ProviderError::Status { status, .. } => Some(*status),
        _ => None,
    }
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    let mut res = Response::new(Body::from(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

/// A request body that must be a JSON object of at most `LIMIT` bytes: 413 past the cap
/// (nothing beyond it is read), 400 for anything that is not a JSON object.
pub struct JsonObject<const LIMIT: usize>(pub Value);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for JsonObject<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        read_json_object(req.into_body(), LIMIT)
            .await
            .map(JsonObject)
    }
}

/// Reads `body` as a JSON object of at most `limit` bytes (what [`JsonObject`] does, for
/// routes that must check something before the body is read).
pub async fn read_json_object(body: Body, limit: usize) -> Result<Value, ApiError> {
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::TooLarge { limit })?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "Invalid JSON body: expected an object",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(res: Response) -> Value {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn each_shape_and_status() {
        let r = ApiError::bad_request("bad `x`").into_response();
        assert_eq!(r.status(), 400);
        let v = body_json(r).await;
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["message"], "bad `x`");
        assert!(v["error"]["param"].is_null() && v["error"]["code"].is_null());

        let r = ApiError::RateLimited {
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        assert_eq!(
            body_json(r).await,
            json!({"error": {"message": "Too many failed authentication attempts; retry in 7s", "type": "rate_limited"}})
        );
        let v = body_json(ApiError::Unauthorized.into_response()).await;
        assert_eq!(
            v,
            json!({"error": {"message": "Unauthorized", "type": "unauthorized"}})
        );

        let v = body_json(ApiError::ModelNotFound("m".into()).into_response()).await;
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");

        let r = ApiError::tool(StatusCode::NOT_FOUND, "not_found", "Tool not available: x")
            .into_response();
        assert_eq!(r.status(), 404);
        let v = body_json(r).await;
        assert_eq!(
            v,
            json!({"ok": false, "error": {"type": "not_found", "message": "Tool not available: x"}})
        );

        let r = ApiError::hook(StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
        assert_eq!(r.status(), 401);
        assert_eq!(
            body_json(r).await,
            json!({"ok": false, "error": "Unauthorized"})
        );

        let r = ApiError::TooLarge { limit: 20 << 20 }.into_response();
        assert_eq!(r.status(), 413);
        assert_eq!(
            body_json(r).await["error"]["message"],
            "Request body too large: the limit is 20 MB"
        );
    }

    #[tokio::test]
    async fn json_object_extractor_caps_and_checks() {
        let ok = read_json_object(Body::from(r#"{"a":1}"#), 64)
            .await
            .unwrap();
        assert_eq!(ok, json!({"a": 1}));
        let big = read_json_object(Body::from(vec![b' '; 65]), 64).await;
        assert!(matches!(big, Err(ApiError::TooLarge { limit: 64 })));
        let arr = read_json_object(Body::from("[1]"), 64).await.unwrap_err();
        assert_eq!(arr.to_string(), "Invalid JSON body: expected an object");
        let bad = read_json_object(Body::from("{"), 64).await.unwrap_err();
        assert!(bad.to_string().starts_with("Invalid JSON body:"), "{bad}");
    }
}
