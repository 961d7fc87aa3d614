//! Channel webhooks on the gateway port: `POST <webhookPath>` for each Telegram account in
//! webhook mode (`channels.telegram.webhookUrl`).
//!
//! The path is live only while its account listens (it registers when it starts and
//! unregisters when it stops); otherwise the request falls through to the 404. A delivery
//! must carry the account's secret in `X-Telegram-Bot-Api-Secret-Token` (compared in
//! constant time; failures count against the address in the auth rate limiter, like
//! hook tokens) and a JSON object body of at most [`MAX_BODY_BYTES`]. The answer is an
//! empty `200` with `x-openclaw-delivery-accepted: durable` only after the account has
//! recorded the update (transcript and offset file); anything else is an error status, so
//! Telegram delivers the update again.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::auth::client_ip;
use super::error::read_json_object;
use super::{ApiError, json_response};
use crate::state::{AppState, WebhookDelivery, WebhookTarget};

/// Largest webhook body (Telegram updates are a few KiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The header Telegram sends the secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Header on a `200` that means "recorded durably".
pub const ACCEPTED_HEADER: &str = "x-openclaw-delivery-accepted";
/// How long a delivery may wait for the account to record it before it is refused (and
/// redelivered by Telegram).
const RECORD_WITHIN: Duration = Duration::from_secs(10);

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(
        status,
        serde_json::json!({"ok": false, "error": message.into()}),
    )
}

/// Handles `req` when its path is a registered channel webhook; otherwise hands it back.
pub async fn route(state: &Arc<AppState>, req: Request) -> Result<Response, Request> {
    match state.shared.channels.webhook(req.uri().path()) {
        Some(target) => Ok(handle(state, target, req).await),
        None => Err(req),
    }
}

async fn handle(state: &Arc<AppState>, target: WebhookTarget, req: Request) -> Response {
    if req.method() != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use POST");
    }
    let ip = client_ip(&state.live(), req.extensions(), req.headers()).to_canonical();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let attempt = crate::auth::Attempt::channel_webhook(ip, origin);
    if let Some(wait) = state.limiter.locked(&attempt) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            crate::auth::rate_limited_message(wait),
        );
    }
    let given = req
        .headers()
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(target.secret.expose().as_bytes())) {
        state.limiter.record_failure(&attempt);
        state
            .shared
            .metrics
            .auth_failed(crate::metrics::Surface::Webhook);
        tracing::warn!(target: "channels", channel = target.channel, account = %target.account, %ip, "webhook delivery refused: wrong or missing secret token");
        return error(
            StatusCode::UNAUTHORIZED,
            "wrong or missing X-Telegram-Bot-Api-Secret-Token",
        );
    }
    state.limiter.record_success(&attempt);
    crate::serve::Ticket::mark(req.extensions());
    if state.is_draining() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "gateway is shutting down");
    }
    let body = match read_json_object(req, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e @ ApiError::TooLarge { .. }) => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, e.to_string());
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let (ack, recorded) = tokio::sync::oneshot::channel();
    let queued =
        tokio::time::timeout(RECORD_WITHIN, target.tx.send(WebhookDelivery { body, ack })).await;
    if !matches!(queued, Ok(Ok(()))) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the account is not taking deliveries now; Telegram will retry",
        );
    }
    match tokio::time::timeout(RECORD_WITHIN, recorded).await {
        Ok(Ok(Ok(()))) => {
            let mut res = Body::empty().into_response();
            res.headers_mut()
                .insert(ACCEPTED_HEADER, HeaderValue::from_static("durable"));
            res
        }
        Ok(Ok(Err(e))) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("update not recorded ({e}); Telegram will retry"),
        ),
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "update not recorded in time; Telegram will retry",
        ),
    }
}
