//! `GET /metrics` and OpenClaw's `GET /api/diagnostics/prometheus`: the registry in
//! Prometheus text format.
//!
//! Both read the live config on each request (`gateway.metrics` is hot-reloadable):
//! `enabled: false` answers 404 naming the key; otherwise the gateway's bearer check
//! applies (the token or password, as for `/v1/*`), except that with `public: true` a
//! loopback client (a Prometheus on the same host) needs none. The client address is the
//! one the rest of the gateway uses, so a trusted reverse proxy on loopback does not make
//! the remote clients it forwards count as local.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::ApiError;
use super::auth::{client_ip, require_bearer};
use crate::metrics::render::{CONTENT_TYPE, ChannelState, Extras};
use crate::state::AppState;

/// The scrape handler.
pub async fn scrape(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let live = state.live();
    let cfg = &live.resolved.gateway.metrics;
    if !cfg.enabled {
        return ApiError::NotFound(
            "metrics are disabled (gateway.metrics.enabled is false); set gateway.metrics.enabled to true to serve them"
                .into(),
        )
        .into_response();
    }
    let ip = client_ip(&live, req.extensions(), req.headers());
    let public = cfg.public && ip.to_canonical().is_loopback();
    if !public {
        if let Err(e) = require_bearer(&state, req.headers(), ip) {
            return e.into_response();
        }
        crate::serve::Ticket::mark(req.extensions());
    }
    drop(live);
    let mut extras = tokio::task::spawn_blocking(|| Extras {
        channels: Vec::new(),
        rss_bytes: crate::state::memory::resident_bytes(),
        open_fds: crate::serve::open_fds(),
    })
    .await
    .unwrap_or_default();
    extras.channels = channel_states(&state.shared.channels.snapshot());
    let body = state.shared.metrics.render(&extras);
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    res
}

/// The accounts the supervisor runs (enabled and with a credential) from its
/// `{<channel>: {accounts: {<id>: status}}}`: an account that cannot connect by design is
/// not reported as disconnected.
fn channel_states(snapshot: &Value) -> Vec<ChannelState> {
    let mut out = Vec::new();
    let Some(channels) = snapshot.as_object() else {
        return out;
    };
    for (channel, v) in channels {
        let Some(accounts) = v["accounts"].as_object() else {
            continue;
        };
        for (account, s) in accounts {
            if s["enabled"] == true && s["configured"] == true {
                out.push(ChannelState {
                    channel: channel.clone(),
                    account: account.clone(),
                    connected: s["connected"].as_bool() == Some(true),
                });
            }
        }
    }
    out
}
