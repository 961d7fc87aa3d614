//! The typed edge of the HTTP API: [`ApiError`] (every failure a handler can answer with,
//! rendered in the wire shape its endpoint's clients parse) and [`JsonObject`] (the request
//! body extractor with its size cap).
//!
//! Request bodies are bounded three ways: a body that declares more than its endpoint's cap
//! (`Content-Length`) is refused with 413 before any of it is read; one without a declared
//! length is refused as soon as what arrived passes the cap; and bodies over
//! [`LARGE_BODY_BYTES`] are read at most [`MAX_LARGE_BODIES`] at a time in the whole process
//! (one more is answered 503 with `Retry-After`), so parallel uploads cannot multiply the
//! cap. A body that breaks its framing (bad chunked encoding) is a 400, not a 413.
//!
//! Handlers return `Result<Response, ApiError>` and use `?`; the status code, the error
//! `type` and the body shape are decided here once, not at each return site.

use axum::body::{Body, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::agents::RunError;
use crate::throttle::{Surface, Throttled};

/// Bodies larger than this (declared, or once this much of an undeclared-length body has
/// arrived) are read only with one of the [`MAX_LARGE_BODIES`] permits.
pub const LARGE_BODY_BYTES: usize = 1024 * 1024;

/// Bodies over [`LARGE_BODY_BYTES`] read at once in this process; one more is answered
/// 503 with `Retry-After` ([`ApiError::Busy`]) instead of waiting, so a client learns at
/// once and no refused body is held.
pub const MAX_LARGE_BODIES: usize = 4;

/// Seconds a client is told to wait after [`ApiError::Busy`].
const BUSY_RETRY_AFTER_SECS: u64 = 1;

static LARGE_BODIES: Semaphore = Semaphore::const_new(MAX_LARGE_BODIES);

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
    /// 429 with `Retry-After`: the client is over `gateway.rateLimit`. The body takes the
    /// shape of the surface it came in on (OpenAI's `rate_limit_exceeded` on `/v1/*`).
    #[error("{}", .throttled.message())]
    Throttled {
        /// The budget and the wait.
        throttled: Throttled,
        /// Where the request came in.
        surface: Surface,
    },
    /// 413: the body is larger than `limit` bytes.
    #[error("Request body too large: the limit is {} MB", limit / (1024 * 1024))]
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// 503 `unavailable` with `Retry-After`: [`MAX_LARGE_BODIES`] large bodies are already
    /// being read.
    #[error(
        "Too many large request bodies are being received (at most {MAX_LARGE_BODIES} over 1 MB at once); retry shortly"
    )]
    Busy,
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
    /// Seconds for a `Retry-After` header, when the upstream gave one.
    pub retry_after_secs: Option<u64>,
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
            retry_after_secs: None,
        })
    }

    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::BadParam { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } | ApiError::Throttled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) | ApiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
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
            // OpenAI's own `type` for a request-count limit (its `code` is
            // `rate_limit_exceeded`).
            ApiError::Throttled { .. } => "requests",
            ApiError::TooLarge { .. } => "invalid_request_error",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unavailable(_) | ApiError::Busy => "unavailable",
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
            ApiError::Throttled {
                surface: Surface::Hooks,
                ..
            } => json!({"ok": false, "error": message}),
            // `/tools/invoke` clients read `ok` and `error.type`; OpenAI-style clients read
            // `error.code`: this body answers both.
            ApiError::Throttled {
                surface: Surface::Tools,
                ..
            } => {
                json!({"ok": false, "error": {"message": message, "type": "rate_limit_exceeded", "param": null, "code": "rate_limit_exceeded"}})
            }
            ApiError::Throttled { .. } => {
                json!({"error": {"message": message, "type": self.kind(), "param": null, "code": "rate_limit_exceeded"}})
            }
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
            | ApiError::Refused { .. }
            | ApiError::Busy => {
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
        let retry_after = match self {
            ApiError::RateLimited { retry_after_secs } => Some(retry_after_secs),
            ApiError::Throttled { throttled, .. } => Some(throttled.retry_after_secs()),
            ApiError::Busy => Some(BUSY_RETRY_AFTER_SECS),
            ApiError::Upstream(u) => u.retry_after_secs,
            _ => None,
        };
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
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
            // Overload (Anthropic's 529, a 503 from anyone) is as transient as a rate limit:
            // clients must see a status their SDKs retry, not a 502 that reads as broken.
            RunError::AllFailed { last, .. } if matches!(last_status(last), Some(503 | 529)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "overloaded_error")
            }
            RunError::AllFailed { .. }
            | RunError::MidStream(_)
            | RunError::AnswerTooLarge { .. }
            | RunError::ToolRounds(_) => (StatusCode::BAD_GATEWAY, "api_error"),
            RunError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            RunError::Aborted => (StatusCode::SERVICE_UNAVAILABLE, "aborted"),
            RunError::Transcript(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let mut err = ApiError::upstream(status, kind, e.to_string());
        if let (ApiError::Upstream(u), RunError::AllFailed { last, .. }) = (&mut err, e)
            && matches!(status.as_u16(), 429 | 503)
        {
            // Whole seconds, rounded up, so a client never retries before the upstream
            // said it may.
            u.retry_after_secs = last
                .retry_after()
                .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        }
        err
    }
}

fn last_status(e: &openclaw_providers::ProviderError) -> Option<u16> {
    match e {
        openclaw_providers::ProviderError::Status { status, .. } => Some(*status),
        _ => None,
    }
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: impl serde::Serialize) -> Response {
    // Serializing a typed body straight to bytes skips building a `Value` tree first;
    // neither a `Value` nor our derived types can fail to serialize.
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut res = Response::new(Body::from(bytes));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

/// A request body that must be a JSON object of at most `LIMIT` bytes: 413 past the cap
/// (a declared length past it is refused before anything is read), 400 for anything that
/// is not a JSON object or a body that breaks its framing, 503 when too many large bodies
/// are in flight (see the module documentation).
pub struct JsonObject<const LIMIT: usize>(pub Value);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for JsonObject<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        read_json_object(req, LIMIT).await.map(JsonObject)
    }
}

/// Reads the body of `req` as a JSON object of at most `limit` bytes (what [`JsonObject`]
/// does, for routes that must check something before the body is read). The cap is also
/// given to the accept loop, so a chunked body that declares more is refused on its size
/// line ([`crate::serve::Ticket::limit_body`]).
pub async fn read_json_object(req: Request, limit: usize) -> Result<Value, ApiError> {
    crate::serve::Ticket::limit_body(req.extensions(), limit);
    let (bytes, _permit) = read_body(req.into_body(), limit).await?;
    // The permit, if any, is held while parsing too: that is when a large body costs most.
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "Invalid JSON body: expected an object",
        ));
    }
    Ok(v)
}

/// Reads a whole body of at most `limit` bytes, with the large-body permit it needed.
///
/// The declared length (hyper reports `Content-Length` as the body's exact size) is checked
/// before the first byte is read. Reading stops at the first frame that would pass the cap.
/// A read error is the client's framing or connection failing, answered 400. What is left
/// of a refused body is discarded in the background (see [`DRAIN_REFUSED_FOR`]).
async fn read_body(
    body: Body,
    limit: usize,
) -> Result<(Vec<u8>, Option<SemaphorePermit<'static>>), ApiError> {
    let declared = body.size_hint().lower();
    let mut frames = body.into_data_stream();
    if declared > limit as u64 {
        discard(frames);
        return Err(ApiError::TooLarge { limit });
    }
    let declared = declared as usize;
    let mut permit = None;
    if declared > LARGE_BODY_BYTES {
        match large_body_permit() {
            Ok(p) => permit = Some(p),
            Err(e) => {
                discard(frames);
                return Err(e);
            }
        }
    }
    let mut out = Vec::with_capacity(declared);
    while let Some(frame) = frames.next().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                let e = e.into_inner();
                if e.is::<crate::serve::DeclaredTooLarge>() {
                    // Nothing of it is worth reading: the connection closes after the 413.
                    return Err(ApiError::TooLarge { limit });
                }
                return Err(ApiError::bad_request(format!("Invalid request body: {e}")));
            }
        };
        let len = out.len() + frame.len();
        if len > limit {
            discard(frames);
            return Err(ApiError::TooLarge { limit });
        }
        if len > LARGE_BODY_BYTES && permit.is_none() {
            match large_body_permit() {
                Ok(p) => permit = Some(p),
                Err(e) => {
                    discard(frames);
                    return Err(e);
                }
            }
        }
        out.extend_from_slice(&frame);
    }
    Ok((out, permit))
}

/// How long the rest of a refused body is still read and thrown away. A client that sends
/// its whole body before reading the answer (most do, without `Expect: 100-continue`) would
/// otherwise meet a closed connection mid-upload and never see the 413 or 503. Nothing of
/// it is kept; a client still sending after this gets the connection closed.
pub const DRAIN_REFUSED_FOR: std::time::Duration = std::time::Duration::from_secs(10);

fn discard(mut frames: axum::body::BodyDataStream) {
    tokio::spawn(async move {
        let drain = async { while let Some(Ok(_)) = frames.next().await {} };
        let _ = tokio::time::timeout(DRAIN_REFUSED_FOR, drain).await;
    });
}

fn large_body_permit() -> Result<SemaphorePermit<'static>, ApiError> {
    LARGE_BODIES.try_acquire().map_err(|_| {
        tracing::warn!(target: "gateway/http", limit = MAX_LARGE_BODIES, "large request body refused: too many in flight");
        ApiError::Busy
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(body: Body, limit: usize) -> Result<Value, ApiError> {
        read_json_object(Request::new(body), limit).await
    }

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
        let ok = read(Body::from(r#"{"a":1}"#), 64).await.unwrap();
        assert_eq!(ok, json!({"a": 1}));
        let big = read(Body::from(vec![b' '; 65]), 64).await;
        assert!(matches!(big, Err(ApiError::TooLarge { limit: 64 })));
        let arr = read(Body::from("[1]"), 64).await.unwrap_err();
        assert_eq!(arr.to_string(), "Invalid JSON body: expected an object");
        let bad = read(Body::from("{"), 64).await.unwrap_err();
        assert!(bad.to_string().starts_with("Invalid JSON body:"), "{bad}");
    }

    fn streamed(parts: Vec<Result<&'static str, std::io::Error>>) -> Body {
        Body::from_stream(futures_util::stream::iter(parts))
    }

    #[tokio::test]
    async fn undeclared_bodies_stop_at_the_cap_and_broken_ones_are_bad_requests() {
        // No declared length: read until the cap is passed, then 413.
        let r = read(streamed(vec![Ok("{\"a\":"), Ok("\"xxxxxxxxxxxx\"}")]), 16).await;
        assert!(matches!(r, Err(ApiError::TooLarge { limit: 16 })), "{r:?}");
        let ok = read(streamed(vec![Ok("{\"a\":"), Ok("1}")]), 16).await;
        assert_eq!(ok.unwrap(), json!({"a": 1}));
        // A body that fails mid-way (bad chunked framing, a reset) is not "too large".
        let broken = streamed(vec![
            Ok("{"),
            Err(std::io::Error::other("invalid chunk size")),
        ]);
        let r = read(broken, 64).await.unwrap_err();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{r}");
        assert!(r.to_string().contains("Invalid request body"), "{r}");
    }

    #[tokio::test]
    async fn busy_is_a_503_with_retry_after() {
        let r = ApiError::Busy.into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        assert_eq!(body_json(r).await["error"]["type"], "unavailable");
    }
}
