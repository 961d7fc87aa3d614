//! Start-up and shutdown of the gateway process.
//!
//! Order matters: everything an operator can get wrong (config, mode, bind without auth,
//! lock) is checked before the port is touched, so a misconfigured gateway exits 78
//! without ever disturbing a running one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::serve::ListenerExt;
use openclaw_config::{GatewayMode, Loaded, Paths};
use openclaw_protocol::{close, methods};
use serde_json::json;

use crate::agents::AgentTable;
use crate::error::GatewayError;
use crate::listener;
use crate::lock::StateLock;
use crate::settings::{RunOptions, Settings};
use crate::state::{AppState, Live, now_ms};

/// Connect timeout for model providers.
const PROVIDER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for clients to take their close frames and go.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything decided before the port is touched; building it performs every check that
/// exits 78.
pub struct Prepared {
    /// Instance paths.
    pub paths: Paths,
    /// The config file as loaded.
    pub loaded: Loaded,
    /// Listener settings.
    pub settings: Settings,
    /// Agents and providers built from the config.
    pub agents: AgentTable,
}

/// Loads and validates the config and resolves settings, without side effects.
pub fn prepare(paths: Paths, opts: &RunOptions) -> Result<Prepared, GatewayError> {
    let env = |k: &str| std::env::var(k).ok();
    let loaded = openclaw_config::load_file(&paths.config_path, &env).map_err(|source| {
        GatewayError::ConfigFile {
            path: paths.config_path.clone(),
            source,
        }
    })?;
    let mode_ok = match loaded.config.gateway.mode {
        Some(GatewayMode::Local) => true,
        None => opts.allow_unconfigured || opts.dev || paths.dev,
        Some(GatewayMode::Remote) => false,
    };
    if !mode_ok {
        let current = match loaded.config.gateway.mode {
            Some(GatewayMode::Remote) => "remote".to_owned(),
            _ if !loaded.exists => "unset; the config file does not exist".to_owned(),
            _ => "unset".to_owned(),
        };
        return Err(GatewayError::ModeBlocked {
            path: paths.config_path.clone(),
            current,
        });
    }
    let settings = Settings::resolve(opts, &loaded.config, &paths, &env)?;
    let client = openclaw_providers::http_client(PROVIDER_CONNECT_TIMEOUT);
    let agents = AgentTable::build(&loaded.config, &env, &client).map_err(|e| {
        GatewayError::Setting(format!(
            "{}: invalid agent setup at {e}",
            paths.config_path.display()
        ))
    })?;
    Ok(Prepared {
        paths,
        loaded,
        settings,
        agents,
    })
}

/// Runs the gateway until SIGTERM or SIGINT. `log_file` is where logging was set up to
/// write (so `logs.tail` reads the same file).
pub async fn run(
    prepared: Prepared,
    opts: &RunOptions,
    log_file: std::path::PathBuf,
) -> Result<(), GatewayError> {
    let Prepared {
        paths,
        loaded,
        settings,
        agents,
    } = prepared;
    let lock = if settings.allow_multi {
        None
    } else {
        Some(StateLock::acquire(&paths.lock_path())?)
    };

    listener::raise_nofile_limit();
    if opts.force && settings.port != 0 {
        listener::free_port(settings.port).await;
    }
    let listeners = listener::bind_all(&settings.hosts, settings.port).await?;
    let port = listeners[0]
        .local_addr()
        .map_err(|e| GatewayError::io("cannot read the bound address", e))?
        .port();

    let state = AppState::new(paths, settings, Live { loaded, agents }, log_file);
    state.bound_port.store(u64::from(port), Ordering::Relaxed);
    if !state.live().loaded.exists {
        tracing::info!(target: "gateway", path = %state.paths.config_path.display(), "no config file; using defaults");
    }
    if !state.auth.requires_secret() {
        tracing::warn!(target: "gateway", "no gateway token or password configured: any local process can connect; set gateway.auth.token");
    }

    let mut servers = Vec::new();
    for l in listeners {
        let addr = l.local_addr().ok();
        let app =
            crate::http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let st = state.clone();
        servers.push(tokio::spawn(async move {
            // Small frames (challenge, hello-ok, deltas) must not wait for Nagle + delayed ACK.
            let l = l.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let r = axum::serve(l, app)
                .with_graceful_shutdown(async move { st.shutdown_signal().await })
                .await;
            if let Err(e) = r {
                tracing::error!(target: "gateway", addr = ?addr, error = %e, "listener failed");
            }
        }));
    }
    tokio::spawn(tick_task(state.clone()));
    tokio::spawn(presence_task(state.clone()));
    state.mark_started();
    tracing::info!(target: "gateway", "listening on ws://127.0.0.1:{port} (PID {})", std::process::id());

    wait_for_signal().await;
    tracing::info!(target: "gateway", "signal received; shutting down");
    shutdown(&state).await;
    for s in servers {
        let _ = tokio::time::timeout(Duration::from_secs(2), s).await;
    }
    drop(lock);
    tracing::info!(target: "gateway", "gateway stopped");
    Ok(())
}

/// Tells every client, closes every socket with 1012, lets running turns finish within the
/// grace period (then aborts them), and waits briefly for sockets to go.
async fn shutdown(state: &Arc<AppState>) {
    let payload = json!({ "reason": "gateway stopping", "ts": now_ms() }).to_string();
    state
        .conns
        .broadcast(methods::events::SHUTDOWN, Arc::from(payload), false);
    state
        .conns
        .close_all(close::SERVICE_RESTART, "service restart");
    state.begin_shutdown();
    let grace = tokio::time::Instant::now() + state.settings.shutdown_grace;
    while state.runs.running() > 0 && tokio::time::Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if state.runs.running() > 0 {
        tracing::warn!(target: "gateway", runs = state.runs.running(), "grace period over; aborting running turns");
        state.runs.abort_all();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while state.runs.running() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while !state.conns.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(target: "gateway", error = %e, "cannot install SIGTERM handler");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn tick_task(state: Arc<AppState>) {
    let period = state.settings.tick_interval;
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = state.shutdown_signal() => return,
        }
        let payload = json!({ "ts": now_ms() }).to_string();
        state
            .conns
            .broadcast(methods::events::TICK, Arc::from(payload), true);
    }
}

/// Broadcasts presence at most every 200 ms, however many clients come and go.
async fn presence_task(state: Arc<AppState>) {
    loop {
        tokio::select! {
            _ = state.next_presence_change() => {}
            _ = state.shutdown_signal() => return,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let payload = json!({
            "presence": state.presence.list(),
            "stateVersion": state.state_version(),
        })
        .to_string();
        let payload: Arc<str> = Arc::from(payload);
        state
            .conns
            .broadcast_to(methods::events::PRESENCE, payload, true, |c| {
                c.scopes.iter().any(|s| s.starts_with("operator."))
            });
    }
}
