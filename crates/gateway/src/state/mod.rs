//! The one shared handle every request and connection reads: [`AppState`].
//!
//! Two lifetimes, two types. [`Shared`] lives as long as the process: sessions, runs,
//! idempotency keys, logging, the channel supervisor, reload bookkeeping. [`AppState`] is
//! one listener generation (an in-process restart builds a new one): its auth verifier,
//! connections, presence, and the current [`Activation`], which a hot reload swaps as one
//! `Arc`. Each object has exactly one home; `state.shared.sessions`, not a copy beside it.

pub mod activation;
pub mod channels;
pub mod memory;
pub mod summaries;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Instant;

use openclaw_sessions::SessionStore;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};

pub use activation::{Activation, ActivationError};
pub use channels::{ChannelControl, ChannelError, WebhookDelivery, WebhookTarget};

use crate::auth::{AuthVerifier, RateLimiter};
use crate::conns::Registry;
use crate::idempotency::IdempotencyCache;
use crate::presence::{Presence, PresenceEntry};
use crate::runs::Runs;
use crate::serve::Sockets;
use crate::settings::{RunOptions, auth_mode_name, bind_name};
use crate::sys::{hostname, now_ms};
use crate::throttle::{EdgeLimits, RequestLimiter};

/// Gateway version reported in `hello-ok`, `status` and presence.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What outlives a listener generation: an in-process restart keeps sessions, runs,
/// idempotency keys, channels and the reload bookkeeping.
pub struct Shared {
    /// When the gateway started serving (for `uptimeMs`): process start, and again at each
    /// restart an operator asked for (SIGUSR1, `openclaw gateway restart`).
    started: Mutex<Instant>,
    /// Session transcripts.
    pub sessions: SessionStore,
    /// Agent runs, running and recently finished.
    pub runs: Arc<Runs>,
    /// Idempotency keys of side-effecting requests.
    pub idempotency: IdempotencyCache,
    /// Logging control (its file is what `logs.tail` reads; the level is hot-reloadable).
    pub log: openclaw_logs::LogHandle,
    /// The command-line options, re-applied on every reload.
    pub run_options: RunOptions,
    /// Pooled HTTP client for providers.
    pub http_client: reqwest::Client,
    /// Serialises reloads.
    pub reload_lock: tokio::sync::Mutex<()>,
    /// Serialises config file writes (`config.set/patch/apply`).
    pub config_write: tokio::sync::Mutex<()>,
    /// Messaging channel accounts; they outlive listener generations.
    pub channels: Arc<dyn ChannelControl>,
    /// The `gateway.maxMemory` budget's last sample.
    pub memory: memory::MemoryGuard,
    /// Prometheus counters and histograms; process lifetime, so they survive restarts.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Exec approvals waiting for an operator.
    pub approvals: crate::approvals::PendingApprovals,
    reload_status: Mutex<ReloadStatus>,
    restart_tx: mpsc::UnboundedSender<Activation>,
    generation: watch::Sender<Weak<AppState>>,
}

/// The last reload's result, for `health` and `status`.
#[derive(Default, Clone)]
struct ReloadStatus {
    last_error: Option<String>,
    last_at: Option<u64>,
}

/// What [`Shared::new`] hands the channel constructor: the parts channels may use.
pub struct ChannelDeps {
    /// Session transcripts.
    pub sessions: SessionStore,
    /// Agent runs.
    pub runs: Arc<Runs>,
    /// The serving listener generation (empty between generations).
    pub generation: watch::Receiver<Weak<AppState>>,
    /// The process's metrics (channel reconnects are counted there).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Shared {
    /// Process-lifetime state over `sessions` (the store the config names, opened by the
    /// caller); restart requests arrive on the returned receiver.
    /// `channels` builds the channel supervisor from the parts it may use (it is a layer
    /// above state, so state only knows it as a [`ChannelControl`]).
    pub fn new(
        sessions: SessionStore,
        log: openclaw_logs::LogHandle,
        run_options: RunOptions,
        http_client: reqwest::Client,
        channels: impl FnOnce(ChannelDeps) -> Arc<dyn ChannelControl>,
    ) -> (Arc<Shared>, mpsc::UnboundedReceiver<Activation>) {
        let (restart_tx, restart_rx) = mpsc::unbounded_channel();
        let runs = Arc::new(Runs::default());
        let (generation, generation_rx) = watch::channel(Weak::new());
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let channels = channels(ChannelDeps {
            sessions: sessions.clone(),
            runs: runs.clone(),
            generation: generation_rx,
            metrics: metrics.clone(),
        });
        let shared = Arc::new(Shared {
            started: Mutex::new(Instant::now()),
            sessions,
            runs,
            idempotency: IdempotencyCache::default(),
            log,
            run_options,
            http_client,
            reload_lock: tokio::sync::Mutex::new(()),
            config_write: tokio::sync::Mutex::new(()),
            channels,
            memory: memory::MemoryGuard::default(),
            metrics,
            approvals: crate::approvals::PendingApprovals::default(),
            reload_status: Mutex::new(ReloadStatus::default()),
            restart_tx,
            generation,
        });
        (shared, restart_rx)
    }

    /// The serving listener generation, if any.
    pub fn current(&self) -> Option<Arc<AppState>> {
        self.generation.borrow().upgrade()
    }

    /// Follows the serving generation (the config watcher reloads against it).
    pub fn subscribe(&self) -> watch::Receiver<Weak<AppState>> {
        self.generation.subscribe()
    }

    /// Makes `state` the serving generation.
    pub fn set_current(&self, state: &Arc<AppState>) {
        self.generation.send_replace(Arc::downgrade(state));
    }

    /// Milliseconds since start (or since the last operator-requested restart).
    pub fn uptime_ms(&self) -> u64 {
        self.started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            .as_millis() as u64
    }

    /// Starts the uptime again: an operator-requested restart counts as a new start, as
    /// for a gateway its service manager restarted, so `uptimeMs` shows that it happened.
    pub fn reset_uptime(&self) {
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Records the last reload's result (`None` = success).
    pub fn record_reload(&self, error: Option<String>) {
        let mut s = self.reload_status.lock().unwrap_or_else(|e| e.into_inner());
        s.last_error = error;
        s.last_at = Some(now_ms());
    }

    /// `{lastError, lastReloadAt}` for health and status.
    pub fn reload_status(&self) -> Value {
        let s = self
            .reload_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        json!({"lastError": s.last_error, "lastReloadAt": s.last_at})
    }

    /// Asks the run loop to replace the serving generation with one built from `next`.
    pub fn request_restart(&self, next: Activation) {
        let _ = self.restart_tx.send(next);
    }
}

/// One listener generation's state, behind an `Arc`.
pub struct AppState {
    /// Process-lifetime parts.
    pub shared: Arc<Shared>,
    live: RwLock<Arc<Activation>>,
    /// Checks credentials.
    pub auth: AuthVerifier,
    /// Counts failed authentications per address.
    pub limiter: RateLimiter,
    /// `gateway.rateLimit`: the request budget per client (reconfigured by [`AppState::swap_live`]).
    pub throttle: RequestLimiter,
    /// `gateway.performance`: the connection cap and timeouts the accept loop reads
    /// (reconfigured by [`AppState::swap_live`]).
    pub edge_limits: Arc<EdgeLimits>,
    /// The accept loop's socket table, for the counts in `status` (weak: the table's
    /// callbacks hold this state).
    sockets: OnceLock<Weak<Sockets>>,
    /// Authenticated WebSocket connections.
    pub conns: Arc<Registry>,
    /// Who is connected.
    pub presence: Presence,
    presence_dirty: AtomicBool,
    presence_notify: Notify,
    health_version: AtomicU64,
    /// The port actually bound (differs from `settings.port` when that was 0).
    pub bound_port: AtomicU64,
    /// TLS of this generation's listeners (`gateway.tls`), set before they accept; unset
    /// when TLS is off.
    pub tls: std::sync::OnceLock<Arc<crate::tls::Tls>>,
    draining: AtomicBool,
    drain_retry_after_ms: AtomicU64,
    started_up: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
}

impl AppState {
    /// Builds one listener generation's state around `live`.
    pub fn new(shared: Arc<Shared>, live: Arc<Activation>) -> Arc<Self> {
        let auth = AuthVerifier::new(live.settings.auth_mode, live.settings.secret.clone());
        let limiter = RateLimiter::new(live.resolved.gateway.auth.rate_limit.clone());
        let throttle = RequestLimiter::new(
            &live.resolved.gateway.rate_limit,
            Some(shared.metrics.clone()),
        );
        let edge_limits = Arc::new(EdgeLimits::new(
            &live.resolved.gateway.performance,
            live.settings.limits.idle_timeout,
        ));
        let self_entry = PresenceEntry {
            ts: now_ms(),
            host: hostname(),
            ip: None,
            version: VERSION.to_owned(),
            platform: std::env::consts::OS.to_owned(),
            device_family: None,
            mode: "gateway".into(),
            reason: "self".into(),
            roles: vec![],
            scopes: vec![],
            instance_id: None,
            conn_id: None,
        };
        let (shutdown_tx, _) = watch::channel(false);
        Arc::new(AppState {
            shared,
            bound_port: AtomicU64::new(u64::from(live.settings.port)),
            tls: std::sync::OnceLock::new(),
            live: RwLock::new(live),
            auth,
            limiter,
            throttle,
            edge_limits,
            sockets: OnceLock::new(),
            conns: Arc::new(Registry::default()),
            presence: Presence::new(self_entry),
            presence_dirty: AtomicBool::new(false),
            presence_notify: Notify::new(),
            health_version: AtomicU64::new(1),
            draining: AtomicBool::new(false),
            drain_retry_after_ms: AtomicU64::new(0),
            started_up: AtomicBool::new(false),
            shutdown_tx,
        })
    }

    /// The current config snapshot.
    pub fn live(&self) -> Arc<Activation> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `gateway.logTimings` of the live config, read without taking a snapshot (the edge
    /// layer asks on every request).
    pub fn log_timings(&self) -> bool {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .resolved
            .gateway
            .log_timings
    }

    /// Replaces the config snapshot (hot reload). Requests already running keep theirs.
    pub fn swap_live(&self, live: Arc<Activation>) {
        self.throttle.configure(&live.resolved.gateway.rate_limit);
        self.edge_limits
            .configure(&live.resolved.gateway.performance);
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = live;
        self.health_version.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the generation's socket table (once, when its listeners start).
    pub fn set_sockets(&self, sockets: &Arc<Sockets>) {
        let _ = self.sockets.set(Arc::downgrade(sockets));
    }

    /// `gateway.rateLimit` in force and what it has done, for `status`.
    pub fn rate_limit_status(&self) -> Value {
        let cfg = &self.live().resolved.gateway.rate_limit;
        json!({
            "enabled": cfg.enabled,
            "requestsPerMinute": cfg.requests_per_minute,
            "burst": cfg.burst,
            "clients": self.throttle.clients(),
            "limitedTotal": self.throttle.limited_total(),
        })
    }

    /// The connection cap and timeouts in force, with the open connections, for `status`.
    pub fn limits_status(&self) -> Value {
        let settings = &self.live().settings.limits;
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        let (open, unauthenticated) = self
            .sockets
            .get()
            .and_then(Weak::upgrade)
            .map_or((0, 0), |s| s.counts());
        json!({
            "maxConnections": self.edge_limits.max_connections(),
            "requestTimeoutMs": self.edge_limits.request_timeout().map(ms),
            "idleTimeoutMs": ms(self.edge_limits.idle_timeout()),
            "headerTimeoutMs": ms(settings.header_timeout),
            "bodyTimeoutMs": ms(settings.body_timeout),
            "openConnections": open,
            "unauthenticatedConnections": unauthenticated,
        })
    }

    /// Unix seconds at start (the `created` of `/v1/models` entries).
    pub fn started_at_secs(&self) -> u64 {
        (now_ms() - self.uptime_ms()) / 1000
    }

    /// Milliseconds since start.
    pub fn uptime_ms(&self) -> u64 {
        self.shared.uptime_ms()
    }

    /// Whether the gateway is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The retry hint for requests refused while draining (see [`AppState::begin_shutdown`]).
    pub fn drain_retry_after_ms(&self) -> u64 {
        self.drain_retry_after_ms.load(Ordering::Relaxed)
    }

    /// Whether start-up has finished.
    pub fn is_started(&self) -> bool {
        self.started_up.load(Ordering::Relaxed)
    }

    /// Marks start-up complete.
    pub fn mark_started(&self) {
        self.started_up.store(true, Ordering::Relaxed);
    }

    /// Begins shutdown: readiness fails and every waiter on [`AppState::shutdown_signal`] wakes.
    /// `retry_after_ms` is the hint side-effecting requests refused from now on carry (the
    /// restart's expected duration, or the stop's grace period).
    pub fn begin_shutdown(&self, retry_after_ms: u64) {
        self.drain_retry_after_ms
            .store(retry_after_ms, Ordering::Relaxed);
        self.draining.store(true, Ordering::Relaxed);
        self.shutdown_tx.send_replace(true);
    }

    /// Resolves once shutdown has begun.
    pub async fn shutdown_signal(&self) {
        let mut rx = self.shutdown_tx.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Notes that presence changed; the presence task broadcasts soon, coalescing bursts.
    pub fn presence_changed(&self) {
        if !self.presence_dirty.swap(true, Ordering::AcqRel) {
            self.presence_notify.notify_one();
        }
    }

    /// Waits for the next presence change and clears the flag.
    pub async fn next_presence_change(&self) {
        loop {
            if self.presence_dirty.swap(false, Ordering::AcqRel) {
                return;
            }
            self.presence_notify.notified().await;
        }
    }

    /// `stateVersion` as sent on events and in the snapshot.
    pub fn state_version(&self) -> Value {
        json!({
            "presence": self.presence.version(),
            "health": self.health_version.load(Ordering::Relaxed),
        })
    }

    /// The health snapshot returned by `health` and pushed as the `health` event.
    pub fn health_snapshot(&self) -> Value {
        let started = Instant::now();
        let live = self.live();
        let agents = live.agents.listing();
        let mut v = json!({
            "ok": true,
            "ts": now_ms(),
            "version": VERSION,
            "uptimeMs": self.uptime_ms(),
            "status": if self.is_draining() { "draining" } else { "live" },
            "channels": self.shared.channels.snapshot(),
            "channelOrder": self.shared.channels.order(),
            "channelLabels": {"telegram": "Telegram"},
            "defaultAgentId": live.agents.default_id(),
            "agents": summaries::health_agents(&agents),
            "heartbeatSeconds": 0,
            "connections": self.conns.len(),
            "runs": self.shared.runs.running(),
            "reload": self.shared.reload_status(),
        });
        v["durationMs"] = json!(started.elapsed().as_millis() as u64);
        v
    }

    /// The `snapshot` of `hello-ok`.
    pub fn hello_snapshot(&self) -> Value {
        let live = self.live();
        let default_agent = live.agents.default_id();
        json!({
            "presence": self.presence.list(),
            "health": self.health_snapshot(),
            "stateVersion": self.state_version(),
            "uptimeMs": self.uptime_ms(),
            "configPath": live.paths.config_path,
            "stateDir": live.paths.state_dir,
            "authMode": auth_mode_name(live.settings.auth_mode),
            "sessionDefaults": {
                "defaultAgentId": default_agent,
                "mainKey": "main",
                "mainSessionKey": format!("agent:{default_agent}:main"),
            },
        })
    }

    /// `wss` when this generation serves TLS, else `ws`: the scheme of every gateway URL
    /// it prints (`https`/`http` for HTTP ones, see [`AppState::http_scheme`]).
    pub fn ws_scheme(&self) -> &'static str {
        if self.tls.get().is_some() {
            "wss"
        } else {
            "ws"
        }
    }

    /// `https` when this generation serves TLS, else `http`.
    pub fn http_scheme(&self) -> &'static str {
        if self.tls.get().is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The `tls` object of `health` and `status`: the served certificate, its source and
    /// expiry, and the last renewal's outcome; `{enabled: false}` when TLS is off.
    pub fn tls_status(&self) -> Value {
        match self.tls.get() {
            Some(t) => t.status_json(),
            None => crate::tls::disabled_json(),
        }
    }

    /// The `status` method's payload.
    pub fn status(&self) -> Value {
        let port = self.bound_port.load(Ordering::Relaxed);
        let live = self.live();
        let settings = &live.settings;
        json!({
            "version": VERSION,
            "pid": std::process::id(),
            "uptimeMs": self.uptime_ms(),
            "gateway": {
                "mode": "local",
                "bind": bind_name(settings.bind),
                "hosts": settings.hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
                "port": port,
                "url": format!("{}://127.0.0.1:{port}", self.ws_scheme()),
                "authMode": auth_mode_name(settings.auth_mode),
                "draining": self.is_draining(),
            },
            "configPath": live.paths.config_path,
            "configExists": live.loaded.exists,
            "configHash": live.loaded.hash,
            "reload": self.shared.reload_status(),
            "stateDir": live.paths.state_dir,
            "profile": live.paths.profile,
            "logFile": self.shared.log.file(),
            "agents": live.agents.listing(),
            "channels": self.shared.channels.snapshot(),
            "connections": {
                "count": self.conns.len(),
                "presence": self.presence.list().len() - 1,
            },
            "rateLimit": self.rate_limit_status(),
            "limits": self.limits_status(),
        })
    }
}
