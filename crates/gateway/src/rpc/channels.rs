//! Channel methods: `channels.status {probe?}` (read) and `send {to, message, channel?,
//! accountId?, idempotencyKey}` (write).

use std::sync::Arc;

use openclaw_protocol::{ErrorCode, ErrorShape};
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_params;
use crate::state::AppState;
use crate::state::ChannelError;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StatusParams {
    probe: Option<bool>,
}

/// `channels.status`: every account's state; with `probe`, a live credential check each.
pub async fn status(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: StatusParams = parse_params("channels.status", params)?;
    Ok(state.shared.channels.status(p.probe.unwrap_or(false)).await)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SendParams {
    to: String,
    message: String,
    channel: Option<String>,
    account_id: Option<String>,
    idempotency_key: Option<String>,
}

/// `send`: delivers a message through a channel account. A repeated idempotency key
/// returns the first call's result instead of sending again.
pub async fn send(state: &Arc<AppState>, params: &Value) -> Result<Value, ErrorShape> {
    let p: SendParams = parse_params("send", params)?;
    let key = super::agent::require_idempotency("send", p.idempotency_key.as_deref())?;
    if p.to.trim().is_empty() {
        return Err(ErrorShape::invalid(
            "invalid params for send: to is required",
        ));
    }
    if p.message.trim().is_empty() {
        return Err(ErrorShape::invalid(
            "invalid params for send: message must not be empty",
        ));
    }
    let channel = p.channel.as_deref().unwrap_or("telegram");
    let marker = uuid::Uuid::new_v4().to_string();
    if let Some(existing) = state
        .shared
        .idempotency
        .check_or_insert("send", key, &marker)
    {
        return Ok(json!({"ok": true, "duplicate": true, "sendId": existing, "channel": channel}));
    }
    match state
        .shared
        .channels
        .send(channel, p.account_id.as_deref(), p.to.trim(), &p.message)
        .await
    {
        Ok(mut v) => {
            v["ok"] = json!(true);
            v["sendId"] = json!(marker);
            Ok(v)
        }
        // The key stays used: the message may have been partly delivered, so a retry
        // must be a deliberate new request with a new key.
        Err(e) => Err(match e {
            ChannelError::NotFound(m) | ChannelError::Config(m) => ErrorShape::invalid(m),
            other => ErrorShape::new(
                ErrorCode::Unavailable,
                format!("send failed: {other}; retry with a new idempotencyKey"),
            ),
        }),
    }
}
