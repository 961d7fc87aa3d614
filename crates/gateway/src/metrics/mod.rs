//! Prometheus metrics: the process-lifetime registry ([`Metrics`], owned by
//! [`crate::state::Shared`] so counters survive in-process restarts) and its text
//! rendering for `GET /metrics` and `GET /api/diagnostics/prometheus`.
//!
//! No metrics library: every series with a bounded label set (HTTP route families,
//! methods and status codes, RPC methods and error codes, run outcomes, surfaces) is a
//! fixed table of atomics laid out at start, and histograms have fixed buckets
//! ([`hist`]). Labels that come from configuration (provider and model, channel and
//! account) live in a capped map ([`dynamic`]). Recording is atomic adds and, for the
//! dynamic families, a read-locked lookup by `&str`: nothing on a request's path
//! allocates. Rendering (the scrape) builds one `String` in one pass ([`render`]).
//!
//! Names follow OpenClaw's Prometheus exporter where it has the series
//! (`openclaw_run_completed_total`, `openclaw_model_call_total`, …) and the same style
//! for the gateway's own (`openclaw_http_requests_total`, …); docs/METRICS.md lists them.

pub mod dynamic;
pub mod hist;
pub mod recent;
pub mod render;

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openclaw_protocol::ErrorCode;

pub use dynamic::SERIES_CAP;
pub use recent::{RecentCounts, WINDOW_SECS};

use dynamic::{Budget, Family};
use hist::{Histogram, LATENCY_BOUNDS, RUN_BOUNDS};

/// HTTP route families: the router's routes grouped so the label set stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Route {
    /// Anything else (unknown paths: 404s).
    Other = 0,
    /// `/health`, `/healthz`.
    Health,
    /// `/ready`, `/readyz`.
    Ready,
    /// `/startup`, `/startupz`.
    Startup,
    /// `/v1/models`, `/v1/models/{id}`.
    Models,
    /// `/v1/embeddings`.
    Embeddings,
    /// `/v1/chat/completions`.
    ChatCompletions,
    /// `/v1/responses`.
    Responses,
    /// `/tools/invoke`.
    ToolsInvoke,
    /// `hooks.path` (`/hooks/*`).
    Hooks,
    /// A channel account's webhook path.
    ChannelWebhook,
    /// `/metrics`, `/api/diagnostics/prometheus`.
    Metrics,
    /// A WebSocket upgrade.
    WebSocket,
    /// The Control UI's page and assets (`gateway.controlUi`).
    ControlUi,
}

impl Route {
    /// Every family, in label order.
    pub const ALL: [Route; 14] = [
        Route::Other,
        Route::Health,
        Route::Ready,
        Route::Startup,
        Route::Models,
        Route::Embeddings,
        Route::ChatCompletions,
        Route::Responses,
        Route::ToolsInvoke,
        Route::Hooks,
        Route::ChannelWebhook,
        Route::Metrics,
        Route::WebSocket,
        Route::ControlUi,
    ];

    /// The `route` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Other => "other",
            Route::Health => "health",
            Route::Ready => "ready",
            Route::Startup => "startup",
            Route::Models => "models",
            Route::Embeddings => "embeddings",
            Route::ChatCompletions => "chat_completions",
            Route::Responses => "responses",
            Route::ToolsInvoke => "tools_invoke",
            Route::Hooks => "hooks",
            Route::ChannelWebhook => "channel_webhook",
            Route::Metrics => "metrics",
            Route::WebSocket => "websocket",
            Route::ControlUi => "control_ui",
        }
    }

    /// The family of a fixed route by its path (the router's table); hooks, channel
    /// webhooks and upgrades are told by their handlers or the `101` answer.
    pub fn of_path(path: &str) -> Route {
        match path {
            "/health" | "/healthz" => Route::Health,
            "/ready" | "/readyz" => Route::Ready,
            "/startup" | "/startupz" => Route::Startup,
            "/v1/models" => Route::Models,
            "/v1/embeddings" => Route::Embeddings,
            "/v1/chat/completions" => Route::ChatCompletions,
            "/v1/responses" => Route::Responses,
            "/tools/invoke" => Route::ToolsInvoke,
            "/metrics" | "/api/diagnostics/prometheus" => Route::Metrics,
            p if p.starts_with("/v1/models/") => Route::Models,
            _ => Route::Other,
        }
    }

    /// The inverse of `self as u8` (unknown values are [`Route::Other`]).
    pub fn from_u8(v: u8) -> Route {
        Route::ALL
            .get(usize::from(v))
            .copied()
            .unwrap_or(Route::Other)
    }
}

/// The `method` label of HTTP requests: the two the API uses, and the rest together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// `GET` (and `HEAD`).
    Get = 0,
    /// `POST`.
    Post,
    /// Anything else.
    Other,
}

impl HttpMethod {
    const ALL: [HttpMethod; 3] = [HttpMethod::Get, HttpMethod::Post, HttpMethod::Other];

    /// The label for `m`.
    pub fn of(m: &axum::http::Method) -> HttpMethod {
        if m == axum::http::Method::GET || m == axum::http::Method::HEAD {
            HttpMethod::Get
        } else if m == axum::http::Method::POST {
            HttpMethod::Post
        } else {
            HttpMethod::Other
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Other => "OTHER",
        }
    }
}

/// Status codes kept per series: 100..=599 (anything outside is counted as 599).
const CODES: usize = 500;

/// Where a request was refused by the request rate limiter, or a credential failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// The HTTP API (`/v1/*`, `/metrics`).
    Http = 0,
    /// WebSocket RPC (handshake and requests).
    Ws,
    /// `hooks.path` (`/hooks/*`).
    Hooks,
    /// `/tools/invoke`.
    Tools,
    /// A channel account's webhook.
    Webhook,
}

impl Surface {
    const ALL: [Surface; 5] = [
        Surface::Http,
        Surface::Ws,
        Surface::Hooks,
        Surface::Tools,
        Surface::Webhook,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Surface::Http => "http",
            Surface::Ws => "ws",
            Surface::Hooks => "hooks",
            Surface::Tools => "tools",
            Surface::Webhook => "webhook",
        }
    }
}

/// How an agent run or a model call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered.
    Ok = 0,
    /// Failed (provider error, configuration, transcript).
    Error,
    /// Hit the agent's time limit.
    Timeout,
    /// Aborted by a client (`chat.abort`, a closed stream).
    Aborted,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::Aborted,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Aborted => "aborted",
        }
    }
}

/// What a config reload did (`openclaw_config_reloads_total{outcome}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The file had no effective change.
    Unchanged = 0,
    /// Applied in place.
    Hot,
    /// Applied by an in-process restart.
    Restart,
    /// Hot parts applied; the rest waits for a restart.
    HotPendingRestart,
    /// Refused (invalid config, unreadable file); the old config stays.
    Error,
}

impl ReloadOutcome {
    const ALL: [ReloadOutcome; 5] = [
        ReloadOutcome::Unchanged,
        ReloadOutcome::Hot,
        ReloadOutcome::Restart,
        ReloadOutcome::HotPendingRestart,
        ReloadOutcome::Error,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Hot => "hot",
            ReloadOutcome::Restart => "restart",
            ReloadOutcome::HotPendingRestart => "hot_pending_restart",
            ReloadOutcome::Error => "error",
        }
    }
}

/// RPC method slots: the method table's entries by index, plus one for unknown names.
pub const RPC_SLOTS: usize = 64;
/// `outcome` values of RPC calls: `ok`, then each [`ErrorCode`].
const RPC_OUTCOMES: usize = 9;

fn rpc_outcome(r: Result<(), ErrorCode>) -> usize {
    match r {
        Ok(()) => 0,
        Err(ErrorCode::NotLinked) => 1,
        Err(ErrorCode::NotPaired) => 2,
        Err(ErrorCode::AgentTimeout) => 3,
        Err(ErrorCode::AgentResultNotFound) => 4,
        Err(ErrorCode::InvalidRequest) => 5,
        Err(ErrorCode::Forbidden) => 6,
        Err(ErrorCode::ApprovalNotFound) => 7,
        Err(ErrorCode::Unavailable) => 8,
    }
}

const RPC_OUTCOME_NAMES: [&str; RPC_OUTCOMES] = [
    "ok",
    "NOT_LINKED",
    "NOT_PAIRED",
    "AGENT_TIMEOUT",
    "AGENT_RESULT_NOT_FOUND",
    "INVALID_REQUEST",
    "FORBIDDEN",
    "APPROVAL_NOT_FOUND",
    "UNAVAILABLE",
];

/// One RPC method's series.
struct RpcSeries {
    name: OnceLock<&'static str>,
    calls: [AtomicU64; RPC_OUTCOMES],
    duration: Histogram,
}

/// One `(provider, model)`'s series.
pub struct ModelSeries {
    calls: [AtomicU64; 4],
    duration: Histogram,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
}

impl Default for ModelSeries {
    fn default() -> ModelSeries {
        ModelSeries {
            calls: Default::default(),
            duration: Histogram::new(RUN_BOUNDS),
            input_tokens: AtomicU64::new(0),
            output_tokens: AtomicU64::new(0),
        }
    }
}

/// One `(channel, account)`'s series.
#[derive(Default)]
pub struct ChannelSeries {
    reconnects: AtomicU64,
}

/// The registry. One per process (in [`crate::state::Shared`]).
pub struct Metrics {
    started: Instant,
    http_requests: Box<[AtomicU64]>,
    http_ttfb: Box<[Histogram]>,
    http_total: Box<[Histogram]>,
    ws_open: AtomicI64,
    ws_total: AtomicU64,
    rpc: Box<[RpcSeries]>,
    runs: [AtomicU64; 4],
    run_duration: [Histogram; 4],
    reloads: [AtomicU64; 5],
    rate_limited: [AtomicU64; 5],
    auth_failures: [AtomicU64; 5],
    budget: Budget,
    models: Family<ModelSeries>,
    channels: Family<ChannelSeries>,
    recent: recent::Recent,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let per_route = || {
            Route::ALL
                .iter()
                .map(|_| Histogram::new(LATENCY_BOUNDS))
                .collect()
        };
        Metrics {
            started: Instant::now(),
            http_requests: (0..Route::ALL.len() * HttpMethod::ALL.len() * CODES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            http_ttfb: per_route(),
            http_total: per_route(),
            ws_open: AtomicI64::new(0),
            ws_total: AtomicU64::new(0),
            rpc: (0..=RPC_SLOTS)
                .map(|_| RpcSeries {
                    name: OnceLock::new(),
                    calls: Default::default(),
                    duration: Histogram::new(LATENCY_BOUNDS),
                })
                .collect(),
            runs: Default::default(),
            run_duration: std::array::from_fn(|_| Histogram::new(RUN_BOUNDS)),
            reloads: Default::default(),
            rate_limited: Default::default(),
            auth_failures: Default::default(),
            budget: Budget::default(),
            models: Family::default(),
            channels: Family::default(),
            recent: recent::Recent::default(),
        }
    }
}

fn http_index(route: Route, method: HttpMethod, code: u16) -> usize {
    let code = usize::from(code.clamp(100, 599)) - 100;
    ((route as usize) * HttpMethod::ALL.len() + method as usize) * CODES + code
}

impl Metrics {
    /// An HTTP response head went out for a request that began at `started`: counts it
    /// (by route, method and code), observes the time to first byte, and feeds the
    /// last-minute window. One clock read serves both.
    pub fn http_head(&self, route: Route, method: HttpMethod, code: u16, started: Instant) {
        let now = Instant::now();
        self.http_requests[http_index(route, method, code)].fetch_add(1, Ordering::Relaxed);
        self.http_ttfb[route as usize].observe(now.saturating_duration_since(started));
        self.recent.request(code >= 500, now);
    }

    /// An HTTP response body ended (or was abandoned): observes the total time.
    pub fn http_done(&self, route: Route, total: Duration) {
        self.http_total[route as usize].observe(total);
    }

    /// A WebSocket connection was upgraded; it counts as open until the guard drops.
    pub fn ws_connected(self: &Arc<Self>) -> WsOpen {
        self.ws_total.fetch_add(1, Ordering::Relaxed);
        self.ws_open.fetch_add(1, Ordering::Relaxed);
        WsOpen(self.clone())
    }

    /// An RPC call to the method at `slot` of the method table (`None`: an unknown
    /// name) named `name` ended with `result` after `took`.
    pub fn rpc(
        &self,
        slot: Option<usize>,
        name: &'static str,
        result: Result<(), ErrorCode>,
        took: Duration,
    ) {
        let s = match slot {
            Some(i) if i < RPC_SLOTS => {
                let s = &self.rpc[i];
                s.name.get_or_init(|| name);
                s
            }
            _ => {
                let s = &self.rpc[RPC_SLOTS];
                s.name.get_or_init(|| "unknown");
                s
            }
        };
        s.calls[rpc_outcome(result)].fetch_add(1, Ordering::Relaxed);
        s.duration.observe(took);
    }

    /// An agent run ended.
    pub fn run_completed(&self, outcome: Outcome, took: Duration) {
        self.runs[outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.run_duration[outcome as usize].observe(took);
    }

    /// One call to a model ended: `tokens` is `(input, output)` when the provider
    /// reported usage.
    pub fn model_call(
        &self,
        provider: &str,
        model: &str,
        outcome: Outcome,
        took: Duration,
        tokens: Option<(u64, u64)>,
    ) {
        let Some(s) = self.models.get(&self.budget, provider, model) else {
            return;
        };
        s.calls[outcome as usize].fetch_add(1, Ordering::Relaxed);
        s.duration.observe(took);
        if let Some((input, output)) = tokens {
            s.input_tokens.fetch_add(input, Ordering::Relaxed);
            s.output_tokens.fetch_add(output, Ordering::Relaxed);
        }
    }

    /// A channel account lost its connection and is being restarted.
    pub fn channel_reconnect(&self, channel: &str, account: &str) {
        if let Some(s) = self.channels.get(&self.budget, channel, account) {
            s.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A config reload ended.
    pub fn reload(&self, outcome: ReloadOutcome) {
        self.reloads[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A request was refused by the request rate limiter on `surface` (also counted in
    /// the last-minute window `status` reports).
    pub fn rate_limited(&self, surface: Surface) {
        self.rate_limited[surface as usize].fetch_add(1, Ordering::Relaxed);
        self.recent.rate_limited();
    }

    /// A presented credential was wrong or missing on `surface`.
    pub fn auth_failed(&self, surface: Surface) {
        self.auth_failures[surface as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts of the last [`WINDOW_SECS`] seconds.
    pub fn recent(&self) -> RecentCounts {
        self.recent.counts()
    }

    /// `traffic` of the `status` payload: the last minute's requests, 5xx answers and
    /// rate-limited requests.
    pub fn traffic_json(&self) -> serde_json::Value {
        let r = self.recent();
        serde_json::json!({
            "windowSeconds": WINDOW_SECS,
            "requests": r.requests,
            "errors": r.errors,
            "rateLimited": r.rate_limited,
        })
    }

    /// Seconds since the process started (not reset by in-process restarts).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// An open WebSocket connection ([`Metrics::ws_connected`]).
pub struct WsOpen(Arc<Metrics>);

impl Drop for WsOpen {
    fn drop(&mut self) {
        self.0.ws_open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_index_is_unique_per_series() {
        let mut seen = std::collections::HashSet::new();
        for r in Route::ALL {
            for m in HttpMethod::ALL {
                for c in [100u16, 200, 404, 599] {
                    assert!(seen.insert(http_index(r, m, c)));
                }
            }
        }
        assert!(seen.iter().all(|&i| i < Route::ALL.len() * 3 * CODES));
        assert_eq!(http_index(Route::Other, HttpMethod::Get, 700), 499);
    }

    #[test]
    fn traffic_counts_requests_errors_and_rate_limited() {
        let m = Metrics::default();
        let t = Instant::now();
        m.http_head(Route::Models, HttpMethod::Get, 200, t);
        m.http_head(Route::ChatCompletions, HttpMethod::Post, 502, t);
        m.http_head(Route::Models, HttpMethod::Get, 429, t);
        m.rate_limited(Surface::Http);
        m.rate_limited(Surface::Ws);
        assert_eq!(
            m.traffic_json(),
            serde_json::json!({"windowSeconds": 60, "requests": 3, "errors": 1, "rateLimited": 2})
        );
        let text = m.render(&render::Extras::default());
        assert!(
            text.contains("openclaw_rate_limited_total{surface=\"ws\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn route_round_trips_through_u8() {
        for r in Route::ALL {
            assert_eq!(Route::from_u8(r as u8), r);
        }
        assert_eq!(Route::of_path("/v1/models/mock/m1"), Route::Models);
        assert_eq!(Route::of_path("/nope"), Route::Other);
    }
}
