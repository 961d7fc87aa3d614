//! Start-up and shutdown of the gateway process.
//!
//! Order matters: everything an operator can get wrong (config, mode, bind without auth,
//! lock) is checked before the port is touched, so a misconfigured gateway exits 78
//! without ever disturbing a running one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use openclaw_protocol::{close, methods};
use serde_json::json;

use crate::agents::TurnHost;
use crate::channels::Supervisor;
use crate::error::GatewayError;
use crate::listener;
use crate::lock::StateLock;
use crate::settings::{RunOptions, Settings};
use crate::state::{Activation, AppState, Shared};
use crate::sys::now_ms;
use openclaw_sessions::SessionStore;

/// How long shutdown waits for clients to take their close frames and go.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// One listener generation: its state and server tasks.
struct Generation {
    state: Arc<AppState>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    /// The port its settings asked for (0 = any), before a restart pinned it to the one
    /// actually bound: what the next restart compares the new settings with.
    requested_port: u16,
}

/// Binds and starts serving one generation.
async fn start_generation(
    shared: &Arc<Shared>,
    live: Arc<Activation>,
) -> Result<Generation, GatewayError> {
    let port_setting = live.settings.port;
    // The certificate pair is checked (or generated) before the port is touched: a
    // missing or mismatched file stops the start (or the restart) with the file named.
    let tls = {
        let cfg = live.resolved.gateway.tls.clone();
        let state_dir = live.paths.state_dir.clone();
        tokio::task::spawn_blocking(move || crate::tls::Tls::load(&cfg, &state_dir))
            .await
            .map_err(|e| GatewayError::io("the TLS set-up task failed", std::io::Error::other(e)))?
            .map_err(GatewayError::Tls)?
    };
    let listeners = listener::bind_all(&live.settings.hosts, port_setting).await?;
    let port = listeners[0]
        .local_addr()
        .map_err(|e| GatewayError::io("cannot read the bound address", e))?
        .port();
    // Logging follows the generation's `logging.*` (levels, console style, redaction): a
    // change applied by a restart, or a fallback to the previous config, takes effect too.
    if let Err(e) = shared
        .log
        .reconfigure(&live.log_options(shared.run_options.verbose))
    {
        tracing::warn!(target: "gateway", error = %e, "cannot apply the logging settings");
    }
    let state = AppState::new(shared.clone(), live);
    state.bound_port.store(u64::from(port), Ordering::Relaxed);
    if let Some(tls) = tls {
        tls.watch();
        let _ = state.tls.set(tls);
    }
    if !state.auth.requires_secret() {
        tracing::warn!(target: "gateway", "gateway.auth.mode is \"none\": no authentication, any local process and any allowed browser origin can connect; remove it to use a token");
    }
    if let Some(stored) = &state.live().settings.stored_token {
        if stored.generated {
            tracing::warn!(target: "gateway", path = %stored.path.display(), "no gateway token was configured: generated one and stored it owner-only; local openclaw commands use it automatically, remote clients need it (--token)");
        } else {
            tracing::info!(target: "gateway", path = %stored.path.display(), "using the gateway token stored in the state dir");
        }
    }
    // One socket table for all of the generation's listeners: the unauthenticated caps and
    // the fd reserve are per process, not per address family.
    let sockets = {
        let st = state.clone();
        crate::serve::Sockets::new(
            state.live().settings.limits.clone(),
            state.edge_limits.clone(),
            move || st.live().resolved.gateway.auth.rate_limit.exempt_loopback,
        )
    };
    state.set_sockets(&sockets);
    sockets.record_into(shared.metrics.clone());
    let mut servers = Vec::new();
    for l in listeners {
        let app = crate::http::router(state.clone());
        let st = state.clone();
        let sockets = sockets.clone();
        let acceptor = state.tls.get().map(|t| t.acceptor());
        servers.push(tokio::spawn(async move {
            let stop = async move { st.shutdown_signal().await };
            crate::serve::serve_listener(l, app, sockets, acceptor, stop).await;
        }));
    }
    tokio::spawn(tick_task(state.clone()));
    tokio::spawn(presence_task(state.clone()));
    tokio::spawn(memory_task(state.clone()));
    tokio::spawn(throttle_sweep_task(state.clone()));
    // Channels belong to the process; a new generation only re-points them (accounts
    // whose config did not change keep running).
    shared.set_current(&state);
    shared.channels.apply(&state.live().resolved);
    state.mark_started();
    tracing::info!(target: "gateway", "listening on {}://127.0.0.1:{port} (PID {})", state.ws_scheme(), std::process::id());
    Ok(Generation {
        state,
        servers,
        requested_port: port_setting,
    })
}

/// Runs the gateway until SIGTERM or SIGINT, replacing the listener in-process when a
/// reload needs it or on SIGUSR1 (an operator's restart: config re-read, listeners
/// rebound, same process). `log` is the logging set up by the caller (its file is what
/// `logs.tail` reads; its level follows `logging.level` on reload).
pub async fn run(
    activation: Activation,
    opts: &RunOptions,
    log: openclaw_logs::LogHandle,
) -> Result<(), GatewayError> {
    // Installed before anything else, so a signal during start-up still ends cleanly.
    let Signals { mut term, mut int } = Signals::install()?;
    let restart = restart_signal()?;
    let stop = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!(target: "gateway", "signal received");
    };
    serve_inner(activation, opts, log, None, stop, Some(restart)).await
}

/// [`run`] for embedders and in-process tests: serves until `stop` completes instead of
/// until a signal, and reports the bound address on `bound` once the first generation
/// listens (so a caller that asked for port 0 learns where it went without reading logs).
/// Shutdown is the same drain as on SIGTERM, and the state-dir lock is released on return.
pub async fn serve(
    activation: Activation,
    opts: &RunOptions,
    log: openclaw_logs::LogHandle,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), GatewayError> {
    serve_inner(activation, opts, log, bound, stop, None).await
}

/// [`serve`], plus in-process restarts whenever `restart_on` delivers (SIGUSR1 for the
/// daemon; embedders have no such signal).
async fn serve_inner(
    activation: Activation,
    opts: &RunOptions,
    log: openclaw_logs::LogHandle,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    stop: impl std::future::Future<Output = ()>,
    mut restart_on: Option<tokio::signal::unix::Signal>,
) -> Result<(), GatewayError> {
    tokio::pin!(stop);
    let mut lock = if activation.settings.allow_multi {
        None
    } else {
        // Creating the state dir and writing the pid are file I/O: off the async workers.
        let path = activation.paths.lock_path();
        let lock = tokio::task::spawn_blocking(move || StateLock::acquire(&path))
            .await
            .map_err(|e| GatewayError::io("the lock task failed", std::io::Error::other(e)))??;
        Some(lock)
    };
    remove_stale_config_temps(&activation.paths.config_path).await;
    listener::raise_nofile_limit();
    if opts.force && activation.settings.port != 0 {
        listener::free_port(activation.settings.port).await;
    }
    if !activation.loaded.exists {
        tracing::info!(target: "gateway", path = %activation.paths.config_path.display(), "no config file; using defaults");
    }
    let sessions = open_sessions(&activation).await?;
    tracing::info!(target: "gateway", store = %sessions.location(), "session store ready");
    let (shared, mut restarts) = shared_state_with(&activation, sessions, opts, log);
    // Before any run can start in this process: no tool call is running yet, so one
    // without a result was cut off by the previous process.
    tokio::spawn(crate::agents::recover_interrupted(shared.sessions.clone()));
    // Watch before listening: an edit made as soon as "listening" is logged must not be
    // missed (the watcher reloads whichever generation is current when it fires).
    crate::reload::spawn_watcher(shared.subscribe(), activation.paths.config_path.clone()).await;
    let mut generation = start_generation(&shared, Arc::new(activation)).await?;
    record_listener(lock.as_mut(), &generation);
    if let Some(tx) = bound {
        let port = generation.state.bound_port.load(Ordering::Relaxed) as u16;
        let _ = tx.send(SocketAddr::from(([127, 0, 0, 1], port)));
    }

    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(next) = restarts.recv() => {
                // Let the request that caused the restart (config.set, secrets.reload) queue
                // its response before every socket is closed.
                tokio::time::sleep(Duration::from_millis(100)).await;
                generation = restart(generation, &shared, next).await.0;
            }
            Some(()) = next_signal(restart_on.as_mut()) => {
                generation = restart_requested(generation, &shared).await;
            }
        }
        record_listener(lock.as_mut(), &generation);
    }
    tracing::info!(target: "gateway", "shutting down");
    shared.channels.stop_all();
    shutdown(&generation.state, None).await;
    for s in generation.servers {
        let _ = tokio::time::timeout(Duration::from_secs(2), s).await;
    }
    drop(lock);
    tracing::info!(target: "gateway", "gateway stopped");
    Ok(())
}

/// Writes where the generation listens into the lock file, for `openclaw gateway
/// stop|restart`; a failure only costs them the port (they still find the pid), so it is
/// logged.
fn record_listener(lock: Option<&mut StateLock>, generation: &Generation) {
    let Some(lock) = lock else { return };
    let live = generation.state.live();
    let host = live
        .settings
        .hosts
        .first()
        .copied()
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let port = generation.state.bound_port.load(Ordering::Relaxed) as u16;
    if let Err(e) = lock.record_listener(host, port) {
        tracing::warn!(target: "gateway", path = %lock.path().display(), error = %e, "cannot record the listening port in the lock file");
    }
}

/// The next delivery of `signal`; never, when there is none.
async fn next_signal(signal: Option<&mut tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// An operator's restart (SIGUSR1): the config file is read again as at start-up and a
/// new listener generation replaces the current one in this process (same pid; sessions,
/// runs and channels kept; clients told `gateway restarting` and closed with 1012). A
/// config that cannot be used leaves the gateway running as it was, and says why in the
/// log and in `health`/`status` (`reload.lastError`).
async fn restart_requested(current: Generation, shared: &Arc<Shared>) -> Generation {
    tracing::info!(target: "gateway", "SIGUSR1 received: restarting in-process (config re-read, listeners rebound)");
    // One reload or restart at a time.
    let _guard = shared.reload_lock.lock().await;
    let paths = current.state.live().paths.clone();
    let opts = shared.run_options.clone();
    let client = shared.http_client.clone();
    let loaded =
        tokio::task::spawn_blocking(move || Activation::load(&paths, &opts, &client, false)).await;
    let next = match loaded {
        Ok(Ok(next)) => next,
        Ok(Err(e)) => {
            tracing::error!(target: "gateway", error = %e, "restart skipped: the gateway keeps running with its current config; fix the config and signal again");
            shared.record_reload(Some(format!("restart skipped: {e}")));
            return current;
        }
        Err(e) => {
            tracing::error!(target: "gateway", error = %e, "restart skipped: the config loader failed");
            return current;
        }
    };
    shared.record_reload(None);
    let (next, restarted) = restart(current, shared, next).await;
    // Counted from when the new listener serves, as for a fresh start; a restart that
    // fell back to the old listener did not happen, and the uptime says so.
    if restarted {
        shared.reset_uptime();
    }
    next
}

/// Removes the config temp files a killed writer left (each a full copy of the config,
/// secrets included); see [`openclaw_config::remove_stale_temp_files`]. Runs once the
/// state lock is held, off the async workers. A failure only costs the clean-up, so it is
/// logged and start-up goes on.
async fn remove_stale_config_temps(config_path: &std::path::Path) {
    let path = config_path.to_path_buf();
    match tokio::task::spawn_blocking(move || openclaw_config::remove_stale_temp_files(&path)).await
    {
        Ok(Ok(removed)) => {
            for p in removed {
                tracing::info!(target: "gateway", path = %p.display(), "removed a temp file left by an interrupted config write");
            }
        }
        Ok(Err(e)) => {
            let name = config_path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy();
            tracing::warn!(target: "gateway", path = %config_path.display(), error = %e, "could not clean up temp files of interrupted config writes; remove leftover .{name}.tmp.* files beside the config by hand");
        }
        Err(e) => tracing::warn!(target: "gateway", error = %e, "the temp clean-up task failed"),
    }
}

/// Opens the session store `sessions.store` names: the JSONL files in the state
/// directory, or the Postgres database (connected and migrated now, so a wrong URL or a
/// server that is down stops start-up with a message naming the URL, password removed).
pub async fn open_sessions(activation: &Activation) -> Result<SessionStore, GatewayError> {
    let state_dir = activation.paths.state_dir.clone();
    let store = activation
        .resolved
        .sessions
        .as_ref()
        .map(|s| &s.store)
        .filter(|s| s.backend == openclaw_config::SessionBackend::Postgres);
    match store {
        None => Ok(SessionStore::new(state_dir)),
        Some(store) => {
            let url = store.url.as_ref().map(|u| u.expose()).unwrap_or_default();
            SessionStore::postgres(state_dir, url)
                .await
                .map_err(GatewayError::SessionStore)
        }
    }
}

/// The process-lifetime state for `activation`, wired the way [`serve`] wires it (the
/// channel supervisor included), over the files session store in the state directory
/// whatever `sessions.store` says (use [`shared_state_with`] and [`open_sessions`] for
/// that); restart requests arrive on the receiver. Public so `router(state).oneshot(...)`
/// tests build their state like the server does.
pub fn shared_state(
    activation: &Activation,
    opts: &RunOptions,
    log: openclaw_logs::LogHandle,
) -> (
    Arc<Shared>,
    tokio::sync::mpsc::UnboundedReceiver<Activation>,
) {
    let sessions = SessionStore::new(activation.paths.state_dir.clone());
    shared_state_with(activation, sessions, opts, log)
}

/// [`shared_state`] over the given session store.
pub fn shared_state_with(
    activation: &Activation,
    sessions: SessionStore,
    opts: &RunOptions,
    log: openclaw_logs::LogHandle,
) -> (
    Arc<Shared>,
    tokio::sync::mpsc::UnboundedReceiver<Activation>,
) {
    let client = activation.http_client.clone();
    let state_dir = activation.paths.state_dir.clone();
    Shared::new(sessions, log, opts.clone(), client, |deps| {
        Arc::new(Supervisor::new(state_dir, TurnHost::new(deps)))
    })
}

/// Replaces a generation: clients are told a restart is coming and closed with 1012, the
/// old listener stops, the new one starts. If the new one cannot bind, the old settings
/// are brought back up so the gateway never ends up listening nowhere.
/// Replaces `old` by a generation on `next`; falls back to the previous activation when
/// `next` cannot listen. Returns the serving generation and whether `next` is what serves.
async fn restart(
    old: Generation,
    shared: &Arc<Shared>,
    mut next: Activation,
) -> (Generation, bool) {
    tracing::info!(target: "gateway", "restarting the listener to apply config changes");
    // An unchanged port setting keeps the port actually bound (it was 0 = "any"), however
    // many restarts ago it was asked for.
    let bound = old.state.bound_port.load(Ordering::Relaxed) as u16;
    let previous = old.state.live();
    let requested = next.settings.port;
    let kept_requested = old.requested_port;
    if requested == kept_requested {
        next.settings.port = bound;
    }
    // A certificate pair the new config cannot use must not cost the running listener:
    // checked (and generated, for autoGenerate) before anything is shut down.
    let tls_check = {
        let cfg = next.resolved.gateway.tls.clone();
        let state_dir = next.paths.state_dir.clone();
        tokio::task::spawn_blocking(move || crate::tls::Tls::load(&cfg, &state_dir).map(|_| ()))
            .await
    };
    if let Ok(Err(e)) = tls_check {
        tracing::error!(target: "gateway", error = %e, "restart skipped: the gateway keeps serving with its current listener and certificate; fix gateway.tls and reload again");
        shared.record_reload(Some(format!("restart skipped: {e}")));
        return (old, false);
    }
    shutdown(&old.state, Some(RESTART_EXPECTED_MS)).await;
    for s in old.servers {
        let _ = tokio::time::timeout(Duration::from_secs(2), s).await;
    }
    match start_generation(shared, Arc::new(next)).await {
        Ok(g) => (
            Generation {
                requested_port: requested,
                ..g
            },
            true,
        ),
        Err(e) => {
            tracing::error!(target: "gateway", error = %e, "restart failed; restoring the previous listener");
            shared.record_reload(Some(format!("restart failed: {e}")));
            // The previous activation as it was, on the port it had actually bound (a copy
            // only when that port was "any").
            let fallback = if previous.settings.port == bound {
                previous
            } else {
                Arc::new(Activation {
                    paths: previous.paths.clone(),
                    loaded: previous.loaded.clone(),
                    resolved: previous.resolved.clone(),
                    settings: Settings {
                        port: bound,
                        ..previous.settings.clone()
                    },
                    agents: previous.agents.clone(),
                    http_client: previous.http_client.clone(),
                    trusted_proxies: previous.trusted_proxies.clone(),
                })
            };
            (
                Generation {
                    requested_port: kept_requested,
                    ..start_or_die(shared, fallback).await
                },
                false,
            )
        }
    }
}

async fn start_or_die(shared: &Arc<Shared>, live: Arc<Activation>) -> Generation {
    match start_generation(shared, live).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(target: "gateway", error = %e, "cannot listen any more; exiting so the supervisor restarts the gateway");
            std::process::exit(1);
        }
    }
}

/// Advertised in `shutdown.restartExpectedMs` for in-process restarts.
const RESTART_EXPECTED_MS: u64 = 1500;

/// Tells every client, closes every socket with 1012, lets running turns finish within the
/// grace period (then aborts them), and waits briefly for sockets to go. For an in-process
/// restart (`restart_expected_ms`), runs keep going: they belong to the process.
async fn shutdown(state: &Arc<AppState>, restart_expected_ms: Option<u64>) {
    // `gracePeriodMs`: how long running turns may still finish before they are aborted
    // (an in-process restart aborts none: runs belong to the process). It is also the
    // retry hint requests refused while draining carry.
    let grace = state.live().settings.shutdown_grace;
    let grace_ms = grace.as_millis() as u64;
    let mut payload =
        json!({ "reason": "gateway stopping", "ts": now_ms(), "gracePeriodMs": grace_ms });
    if let Some(ms) = restart_expected_ms {
        payload["reason"] = json!("gateway restarting");
        payload["restartExpectedMs"] = json!(ms);
        if let Some(obj) = payload.as_object_mut() {
            obj.remove("gracePeriodMs");
        }
    }
    let payload = payload.to_string();
    state
        .conns
        .broadcast(methods::events::SHUTDOWN, Arc::from(payload), false);
    state
        .conns
        .close_all(close::SERVICE_RESTART, "service restart");
    state.begin_shutdown(restart_expected_ms.unwrap_or(grace_ms));
    if restart_expected_ms.is_some() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while !state.conns.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        return;
    }
    let runs = &state.shared.runs;
    let grace = tokio::time::Instant::now() + grace;
    while runs.running() > 0 && tokio::time::Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if runs.running() > 0 {
        tracing::warn!(target: "gateway", runs = runs.running(), "grace period over; aborting running turns");
        runs.abort_all();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while runs.running() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while !state.conns.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM/SIGINT handlers, installed before anything else so a signal that arrives during
/// start-up still ends in a clean shutdown (exit 0) instead of the default action.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, GatewayError> {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate())
            .map_err(|e| GatewayError::io("cannot install the SIGTERM handler", e))?;
        let int = signal(SignalKind::interrupt())
            .map_err(|e| GatewayError::io("cannot install the SIGINT handler", e))?;
        Ok(Signals { term, int })
    }
}

/// The SIGUSR1 handler (in-process restart), installed with the stop handlers.
fn restart_signal() -> Result<tokio::signal::unix::Signal, GatewayError> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::user_defined1())
        .map_err(|e| GatewayError::io("cannot install the SIGUSR1 handler", e))
}

/// Samples the resident set against `gateway.maxMemory` (see `state/memory.rs`).
async fn memory_task(state: Arc<AppState>) {
    use crate::state::memory::{SAMPLE_EVERY, resident_bytes};
    let mut warned_unmeasurable = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SAMPLE_EVERY) => {}
            _ = state.shutdown_signal() => return,
        }
        let limit = state.live().resolved.max_memory_bytes();
        if limit.is_none() && state.shared.memory.pressure().is_none() {
            continue;
        }
        let Ok(Some(rss)) = tokio::task::spawn_blocking(resident_bytes).await else {
            if limit.is_some() && !warned_unmeasurable {
                warned_unmeasurable = true;
                tracing::warn!(target: "gateway", "gateway.maxMemory is set but this system has no /proc/self/statm to measure memory with; it is not enforced");
            }
            continue;
        };
        match state.shared.memory.observe(rss, limit) {
            Some(true) => {
                let cleared = state.shared.idempotency.clear();
                tracing::warn!(target: "gateway", rss, limit = limit.unwrap_or(0), cleared_idempotency_keys = cleared, "over gateway.maxMemory: refusing new agent runs until memory drops");
            }
            Some(false) => {
                tracing::info!(target: "gateway", rss, "back under gateway.maxMemory: accepting agent runs again");
            }
            None => {}
        }
    }
}

/// Once a minute, forgets `gateway.rateLimit` clients whose budget has refilled, so the
/// table holds only recent clients however many have come and gone.
async fn throttle_sweep_task(state: Arc<AppState>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = state.shutdown_signal() => return,
        }
        state.throttle.sweep();
    }
}

async fn tick_task(state: Arc<AppState>) {
    let period = state.live().settings.tick_interval;
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
