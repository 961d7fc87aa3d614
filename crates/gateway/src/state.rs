//! The one shared handle every request and connection reads: [`AppState`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use openclaw_config::{Config, Loaded, Paths};
use openclaw_sessions::SessionStore;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};

use crate::agents::AgentTable;
use crate::agents::idempotency::IdempotencyCache;
use crate::agents::runs::Runs;
use crate::auth::{AuthVerifier, RateLimiter};
use crate::presence::{Presence, PresenceEntry};
use crate::run::Prepared;
use crate::settings::{RunOptions, Settings, auth_mode_name, bind_name};
use crate::ws::registry::Registry;

/// Gateway version reported in `hello-ok`, `status` and presence.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything derived from one activation of the config; replaced as a whole, so a
/// request that took a snapshot sees one consistent config from start to end.
pub struct Live {
    /// The config file as loaded (SecretRefs as written; what `config.get` shows).
    pub loaded: Loaded,
    /// The same config with every SecretRef resolved: what the gateway runs on.
    pub resolved: Config,
    /// Agents, providers and model chains built from it.
    pub agents: AgentTable,
}

/// What outlives a listener generation: an in-process restart keeps sessions, runs,
/// idempotency keys and the reload bookkeeping.
pub struct Shared {
    /// When the process started serving (for `uptimeMs`).
    pub started: Instant,
    /// Session transcripts.
    pub sessions: SessionStore,
    /// Agent runs, running and recently finished.
    pub runs: Arc<Runs>,
    /// Idempotency keys of side-effecting requests.
    pub idempotency: Arc<IdempotencyCache>,
    /// The log file `logs.tail` reads.
    pub log_file: PathBuf,
    /// Logging control (the file level is hot-reloadable).
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
    pub channels: Arc<crate::channels::Supervisor>,
    reload_status: Mutex<ReloadStatus>,
    restart_tx: mpsc::UnboundedSender<Prepared>,
}

/// The last reload's result, for `health` and `status`.
#[derive(Default, Clone)]
struct ReloadStatus {
    last_error: Option<String>,
    last_at: Option<u64>,
}

impl Shared {
    /// Process-lifetime state; restart requests arrive on the returned receiver.
    pub fn new(
        paths: &Paths,
        log: openclaw_logs::LogHandle,
        run_options: RunOptions,
        http_client: reqwest::Client,
    ) -> (Arc<Shared>, mpsc::UnboundedReceiver<Prepared>) {
        let (restart_tx, restart_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            started: Instant::now(),
            sessions: SessionStore::new(paths.state_dir.clone()),
            runs: Arc::new(Runs::default()),
            idempotency: Arc::new(IdempotencyCache::default()),
            log_file: log.file().to_path_buf(),
            log,
            run_options,
            http_client,
            reload_lock: tokio::sync::Mutex::new(()),
            config_write: tokio::sync::Mutex::new(()),
            channels: Arc::new(crate::channels::Supervisor::new(paths.state_dir.clone())),
            reload_status: Mutex::new(ReloadStatus::default()),
            restart_tx,
        });
        (shared, restart_rx)
    }
}

/// Shared server state, behind an `Arc`.
pub struct AppState {
    /// When the process started serving (for `uptimeMs`).
    pub started: Instant,
    /// Process-lifetime parts.
    pub shared: Arc<Shared>,
    /// Resolved paths of this instance (profile, state dir, config file).
    pub paths: Paths,
    /// Listener settings (port, bind, auth secret).
    pub settings: Settings,
    live: RwLock<Arc<Live>>,
    /// Session transcripts.
    pub sessions: SessionStore,
    /// Agent runs, running and recently finished.
    pub runs: Arc<Runs>,
    /// Idempotency keys of side-effecting requests.
    pub idempotency: Arc<IdempotencyCache>,
    /// Command-line options (re-applied on reload).
    pub run_options: RunOptions,
    /// Pooled HTTP client for providers.
    pub http_client: reqwest::Client,
    /// Checks credentials.
    pub auth: AuthVerifier,
    /// Counts failed authentications per address.
    pub limiter: RateLimiter,
    /// Authenticated WebSocket connections.
    pub conns: Registry,
    /// Who is connected.
    pub presence: Presence,
    presence_dirty: AtomicBool,
    presence_notify: Notify,
    health_version: AtomicU64,
    /// The log file `logs.tail` reads.
    pub log_file: PathBuf,
    /// The port actually bound (differs from `settings.port` when that was 0).
    pub bound_port: AtomicU64,
    draining: AtomicBool,
    started_up: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
}

impl AppState {
    /// Builds one listener generation's state.
    pub fn new(
        shared: Arc<Shared>,
        paths: Paths,
        settings: Settings,
        live: Arc<Live>,
    ) -> Arc<Self> {
        let auth = AuthVerifier::new(settings.auth_mode, settings.secret.clone());
        let limiter = RateLimiter::new(live.resolved.gateway.auth.rate_limit.clone());
        let host = hostname();
        let self_entry = PresenceEntry {
            ts: now_ms(),
            host,
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
            started: shared.started,
            sessions: shared.sessions.clone(),
            runs: shared.runs.clone(),
            idempotency: shared.idempotency.clone(),
            run_options: shared.run_options.clone(),
            http_client: shared.http_client.clone(),
            log_file: shared.log_file.clone(),
            shared,
            paths,
            bound_port: AtomicU64::new(u64::from(settings.port)),
            settings,
            live: RwLock::new(live),
            auth,
            limiter,
            conns: Registry::default(),
            presence: Presence::new(self_entry),
            presence_dirty: AtomicBool::new(false),
            presence_notify: Notify::new(),
            health_version: AtomicU64::new(1),
            draining: AtomicBool::new(false),
            started_up: AtomicBool::new(false),
            shutdown_tx,
        })
    }

    /// The current config snapshot.
    pub fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the config snapshot (hot reload). Requests already running keep theirs.
    pub fn swap_live(&self, live: Arc<Live>) {
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = live;
        self.health_version.fetch_add(1, Ordering::Relaxed);
    }

    /// Serialises reloads.
    pub fn reload_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.shared.reload_lock
    }

    /// Records the last reload's result (`None` = success).
    pub fn record_reload(&self, error: Option<String>) {
        let mut s = self
            .shared
            .reload_status
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        s.last_error = error;
        s.last_at = Some(now_ms());
    }

    /// `{lastError, lastReloadAt}` for health and status.
    pub fn reload_status(&self) -> Value {
        let s = self
            .shared
            .reload_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        json!({"lastError": s.last_error, "lastReloadAt": s.last_at})
    }

    /// Asks the run loop to replace this listener generation with `next`.
    pub fn request_restart(&self, next: Prepared) {
        let _ = self.shared.restart_tx.send(next);
    }

    /// Unix seconds at start (the `created` of `/v1/models` entries).
    pub fn started_at_secs(&self) -> u64 {
        (now_ms() - self.uptime_ms()) / 1000
    }

    /// Milliseconds since start.
    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether the gateway is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
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
    pub fn begin_shutdown(&self) {
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
            "agents": agents["agents"],
            "connections": self.conns.len(),
            "runs": self.runs.running(),
            "reload": self.reload_status(),
        });
        v["durationMs"] = json!(started.elapsed().as_millis() as u64);
        v
    }

    /// The `snapshot` of `hello-ok`.
    pub fn hello_snapshot(&self) -> Value {
        let default_agent = self.live().agents.default_id().to_owned();
        json!({
            "presence": self.presence.list(),
            "health": self.health_snapshot(),
            "stateVersion": self.state_version(),
            "uptimeMs": self.uptime_ms(),
            "configPath": self.paths.config_path,
            "stateDir": self.paths.state_dir,
            "authMode": auth_mode_name(self.settings.auth_mode),
            "sessionDefaults": {
                "defaultAgentId": default_agent,
                "mainKey": "main",
                "mainSessionKey": format!("agent:{default_agent}:main"),
            },
        })
    }

    /// The `status` method's payload.
    pub fn status(&self) -> Value {
        let port = self.bound_port.load(Ordering::Relaxed);
        json!({
            "version": VERSION,
            "pid": std::process::id(),
            "uptimeMs": self.uptime_ms(),
            "gateway": {
                "mode": "local",
                "bind": bind_name(self.settings.bind),
                "hosts": self.settings.hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
                "port": port,
                "url": format!("ws://127.0.0.1:{port}"),
                "authMode": auth_mode_name(self.settings.auth_mode),
                "draining": self.is_draining(),
            },
            "configPath": self.paths.config_path,
            "configExists": self.live().loaded.exists,
            "configHash": self.live().loaded.hash,
            "reload": self.reload_status(),
            "stateDir": self.paths.state_dir,
            "profile": self.paths.profile,
            "logFile": self.log_file,
            "agents": self.live().agents.listing(),
            "channels": self.shared.channels.snapshot(),
            "connections": {
                "count": self.conns.len(),
                "presence": self.presence.list().len() - 1,
            },
        })
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// This machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
    // or truncates, and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
