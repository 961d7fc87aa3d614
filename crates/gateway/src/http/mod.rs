//! HTTP on the gateway port: probes, the OpenAI-compatible API, `/tools/invoke`, security
//! headers, the WebSocket upgrade and the Control UI (`control_ui`).
//!
//! The WebSocket plane answers on any path that is not an HTTP route, so clients may
//! connect to `ws://host:port` or `ws://host:port/anything`.

pub mod auth;
pub mod control_ui;
pub mod error;
pub mod hooks;
pub mod metrics;
pub mod openai;
pub mod origin;
pub mod sse;
pub mod tools;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub use error::{ApiError, JsonObject, json_response};

use crate::metrics::Route;

use crate::state::AppState;

/// Builds the router for one listener.
///
/// The `/v1/*` and `/tools/invoke` handlers take their admission check as their first
/// extractor (`openai::Admitted`, `auth::Authorized`: endpoint switch, then bearer auth),
/// so a handler's body extractor only ever runs for an admitted request.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(live))
        .route("/healthz", get(live))
        .route("/ready", get(ready))
        .route("/readyz", get(ready))
        .route("/startup", get(startup))
        .route("/startupz", get(startup))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/models/{*id}", get(openai::get_model))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/responses", post(openai::responses))
        .route("/tools/invoke", post(tools::invoke))
        .route("/metrics", get(metrics::scrape))
        .route("/api/diagnostics/prometheus", get(metrics::scrape))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

/// In front of every route, in one layer: the browser-origin and content-type checks
/// (`origin.rs`), then the security headers on whatever the answer is.
async fn edge(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    // `gateway.logTimings`: one `timing` line per request, until the response head.
    let timing = state.log_timings().then(|| {
        (
            std::time::Instant::now(),
            req.method().clone(),
            req.uri().path().to_owned(),
        )
    });
    let mut res = match origin::check(&state, &req) {
        Some(refused) => refused,
        None => next.run(req).await,
    };
    if let Some((started, method, path)) = timing {
        tracing::info!(
            target: "timing",
            method = %method,
            path = %path,
            status = res.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "timing http request"
        );
    }
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// `/health`, `/healthz`: the process answers.
async fn live() -> Response {
    json_response(StatusCode::OK, json!({ "ok": true, "status": "live" }))
}

/// `/ready`, `/readyz`: started and not draining.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let mut failing = Vec::new();
    if !state.is_started() {
        failing.push("startup");
    }
    if state.is_draining() {
        failing.push("draining");
    }
    if state.shared.memory.pressure().is_some() {
        failing.push("memory");
    }
    let channels = state.shared.channels.failing_required();
    let mut failing: Vec<String> = failing.into_iter().map(str::to_owned).collect();
    failing.extend(channels);
    let ok = failing.is_empty();
    json_response(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        json!({ "ready": ok, "failing": failing, "uptimeMs": state.uptime_ms() }),
    )
}

/// `/startup`, `/startupz`: start-up complete and not draining.
async fn startup(State(state): State<Arc<AppState>>) -> Response {
    let (code, status) = if state.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if !state.is_started() {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    } else {
        (StatusCode::OK, "started")
    };
    json_response(
        code,
        json!({ "ok": code == StatusCode::OK, "status": status }),
    )
}

async fn fallback(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if crate::ws::is_upgrade_request(&req) {
        if state.is_draining() {
            return ApiError::Unavailable("gateway is shutting down".into()).into_response();
        }
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        // Behind a trusted proxy, the client is the address it forwarded.
        let ip = auth::forwarded_client(&state.live().trusted_proxies, peer.ip(), req.headers());
        let peer = SocketAddr::new(ip, peer.port());
        return crate::ws::upgrade(state, req, peer);
    }
    // For the metrics' route label: these paths are configured, not in the table.
    let ticket = req.extensions().get::<crate::serve::Ticket>().cloned();
    let tag = |route| {
        if let Some(t) = &ticket {
            t.route(route);
        }
    };
    let req = match webhook::route(&state, req).await {
        Ok(res) => {
            tag(Route::ChannelWebhook);
            return res;
        }
        Err(req) => req,
    };
    let req = match hooks::route(&state, req).await {
        Ok(res) => {
            tag(Route::Hooks);
            return res;
        }
        Err(req) => req,
    };
    if let Some(res) = control_ui::serve(&state.live().resolved.gateway.control_ui, &req) {
        tag(Route::ControlUi);
        return res;
    }
    ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
    .into_response()
}
