//! The one shared handle every request and connection reads: [`AppState`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use openclaw_config::{Loaded, Paths};
use openclaw_sessions::SessionStore;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use crate::agents::AgentTable;
use crate::agents::idempotency::IdempotencyCache;
use crate::agents::runs::Runs;
use crate::auth::{AuthVerifier, RateLimiter};
use crate::presence::{Presence, PresenceEntry};
use crate::settings::{Settings, auth_mode_name, bind_name};
use crate::ws::registry::Registry;

/// Gateway version reported in `hello-ok`, `status` and presence.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything derived from one activation of the config; replaced as a whole, so a
/// request that took a snapshot sees one consistent config from start to end.
pub struct Live {
    /// The config file as loaded.
    pub loaded: Loaded,
    /// Agents, providers and model chains built from it.
    pub agents: AgentTable,
}

/// Shared server state, behind an `Arc`.
pub struct AppState {
    /// When the process started serving (for `uptimeMs`).
    pub started: Instant,
    /// Resolved paths of this instance (profile, state dir, config file).
    pub paths: Paths,
    /// Listener settings (port, bind, auth secret).
    pub settings: Settings,
    live: RwLock<Arc<Live>>,
    /// Session transcripts.
    pub sessions: SessionStore,
    /// Agent runs, running and recently finished.
    pub runs: Runs,
    /// Idempotency keys of side-effecting requests.
    pub idempotency: IdempotencyCache,
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
    /// Builds the state from resolved settings and the loaded config.
    pub fn new(paths: Paths, settings: Settings, live: Live, log_file: PathBuf) -> Arc<Self> {
        let auth = AuthVerifier::new(settings.auth_mode, settings.secret.clone());
        let limiter = RateLimiter::new(live.loaded.config.gateway.auth.rate_limit.clone());
        let sessions = SessionStore::new(paths.state_dir.clone());
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
            started: Instant::now(),
            paths,
            bound_port: AtomicU64::new(u64::from(settings.port)),
            settings,
            live: RwLock::new(Arc::new(live)),
            sessions,
            runs: Runs::default(),
            idempotency: IdempotencyCache::default(),
            auth,
            limiter,
            conns: Registry::default(),
            presence: Presence::new(self_entry),
            presence_dirty: AtomicBool::new(false),
            presence_notify: Notify::new(),
            health_version: AtomicU64::new(1),
            log_file,
            draining: AtomicBool::new(false),
            started_up: AtomicBool::new(false),
            shutdown_tx,
        })
    }

    /// The current config snapshot.
    pub fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
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
            "channels": {},
            "channelOrder": [],
            "channelLabels": {},
            "defaultAgentId": live.agents.default_id(),
            "agents": agents["agents"],
            "connections": self.conns.len(),
            "runs": self.runs.running(),
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
            "stateDir": self.paths.state_dir,
            "profile": self.paths.profile,
            "logFile": self.log_file,
            "agents": self.live().agents.listing(),
            "channels": {},
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
