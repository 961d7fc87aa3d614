//! Config reload: re-read, validate, resolve secrets, classify what changed, then apply it
//! in place (hot) or by an in-process restart of the listener.
//!
//! Every path that can fail runs before anything is swapped, so a bad edit leaves the
//! running gateway exactly as it was; the reason is logged as `config reload skipped (…)`
//! and shown in `health` and `status` until the next successful reload.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openclaw_config::{Config, ReloadMode};
use serde_json::{Value, json};

use crate::metrics::ReloadOutcome;
use crate::state::{Activation, ActivationError, AppState};
use crate::sys::now_ms;

/// What caused a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The file watcher saw the config file change.
    Watcher,
    /// An RPC (`config.set/patch/apply/reload`) wrote or asked for it.
    Rpc,
    /// `secrets.reload`: same file, secrets resolved again.
    Secrets,
}

/// How a reload was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Nothing changed.
    None,
    /// Applied in place; no connection dropped.
    Hot,
    /// The listener restarts in-process to apply it.
    Restart,
    /// Only hot parts applied; restart-required changes wait for a restart (`hot` mode).
    HotPending,
}

impl Applied {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::None => "none",
            Applied::Hot => "hot",
            Applied::Restart => "restart",
            Applied::HotPending => "hot-pending-restart",
        }
    }
}

/// A successful reload.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Changed JSON paths.
    pub changed: Vec<String>,
    /// How they were applied.
    pub applied: Applied,
    /// Hash of the file now active.
    pub hash: String,
}

/// Where a path falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// No effect (`gateway.reload.*`, bookkeeping).
    Noop,
    /// Applied in place.
    Hot,
    /// Needs a new listener.
    Restart,
}

/// Paths (and everything under them) whose change has no effect on the running gateway.
pub const NOOP_PREFIXES: &[&str] = &["gateway.reload", "gateway.remote", "meta", "wizard"];

/// Paths (and everything under them) applied in place; anything else needs a restart.
pub const HOT_PREFIXES: &[&str] = &[
    "agents",
    "models",
    "tools",
    "hooks",
    "channels",
    "logging",
    "gateway.http.endpoints",
    "gateway.auth.rateLimit",
    "gateway.tools",
    "gateway.logTimings",
    "gateway.maxMemory",
    "gateway.rateLimit",
    "gateway.performance",
    "gateway.metrics",
    "session",
];

/// Classifies one changed path. Unknown paths count as restart-required, so a setting
/// nobody classified can never be silently half-applied.
pub fn classify(path: &str) -> Class {
    let under = |prefix: &&str| {
        path == *prefix
            || path.starts_with(&format!("{prefix}."))
            || path.starts_with(&format!("{prefix}["))
    };
    if NOOP_PREFIXES.iter().any(under) {
        return Class::Noop;
    }
    if HOT_PREFIXES.iter().any(under) {
        return Class::Hot;
    }
    Class::Restart
}

/// The reload rules as data, for clients that show what a change will do before it is
/// saved (the Control UI's config page): `config.schema` carries it as
/// `x-openclaw-reload`.
pub fn rules() -> serde_json::Value {
    serde_json::json!({
        "noop": NOOP_PREFIXES,
        "hot": HOT_PREFIXES,
        "otherwise": "restart",
        "match": "a path matches a prefix when it equals it or continues with '.' or '['",
    })
}

/// Reads the file and builds the next activation, off the async workers (file reads and
/// `exec` secrets block). No side effects: a failure leaves everything as it was.
pub async fn load_next(state: &AppState) -> Result<Activation, ActivationError> {
    let paths = state.live().paths.clone();
    let opts = state.shared.run_options.clone();
    let client = state.shared.http_client.clone();
    tokio::task::spawn_blocking(move || Activation::load(&paths, &opts, &client, true))
        .await
        .unwrap_or_else(|e| {
            Err(ActivationError::Settings(crate::GatewayError::Setting(
                format!("config loader failed: {e}"),
            )))
        })
}

fn as_value(c: &Config) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}

/// Runs one reload against the current generation.
pub async fn reload(state: &Arc<AppState>, trigger: Trigger) -> Result<Outcome, ActivationError> {
    let _guard = state.shared.reload_lock.lock().await;
    // A renewed certificate whose file event was missed is picked up by any reload.
    if let Some(tls) = state.tls.get().cloned() {
        let _ = tokio::task::spawn_blocking(move || tls.reload()).await;
    }
    let result = match load_next(state).await {
        Ok(next) => Ok(apply(state, trigger, next)),
        Err(e) => Err(e),
    };
    match &result {
        Ok(o) => {
            state.shared.record_reload(None);
            state.shared.metrics.reload(match o.applied {
                Applied::None => ReloadOutcome::Unchanged,
                Applied::Hot => ReloadOutcome::Hot,
                Applied::Restart => ReloadOutcome::Restart,
                Applied::HotPending => ReloadOutcome::HotPendingRestart,
            });
            if o.applied != Applied::None {
                tracing::info!(target: "gateway/reload", applied = o.applied.as_str(), changed = ?o.changed, "config reloaded");
                let payload = json!({"changed": o.changed, "applied": o.applied.as_str(), "hash": o.hash, "ts": now_ms()});
                state.conns.broadcast_to(
                    "config.changed",
                    Arc::from(payload.to_string()),
                    false,
                    |c| {
                        c.scopes
                            .iter()
                            .any(|s| s == openclaw_protocol::scopes::ADMIN)
                    },
                );
            }
        }
        Err(e) => {
            tracing::warn!(target: "gateway/reload", "config reload skipped ({e})");
            state.shared.record_reload(Some(e.to_string()));
            state.shared.metrics.reload(ReloadOutcome::Error);
        }
    }
    result
}

/// Classifies what changed from the running activation to `next` and applies it.
fn apply(state: &Arc<AppState>, trigger: Trigger, mut next: Activation) -> Outcome {
    let current = state.live();
    let changed =
        openclaw_config::diff_paths(&as_value(&current.resolved), &as_value(&next.resolved));
    let hash = next.loaded.hash.clone();
    if changed.is_empty() {
        // Same meaning (comments, formatting): adopt the new file hash quietly.
        if next.loaded.hash != current.loaded.hash {
            next.settings = current.settings.clone();
            state.swap_live(Arc::new(next));
        }
        return Outcome {
            changed,
            applied: Applied::None,
            hash,
        };
    }
    let restart_needed = changed.iter().any(|p| classify(p) == Class::Restart);
    let mode = current.resolved.gateway.reload.mode;
    let mode = if mode == ReloadMode::Off && trigger != Trigger::Watcher {
        ReloadMode::Hybrid
    } else {
        mode
    };
    let applied = match (mode, restart_needed) {
        (ReloadMode::Restart, _) | (ReloadMode::Hybrid, true) => Applied::Restart,
        (ReloadMode::Hot, true) => Applied::HotPending,
        _ => Applied::Hot,
    };
    // Logging lives in the process, not in a listener generation, so it is applied here
    // whichever way the rest goes: levels, console style and redaction (patterns already
    // compiled once when the file was validated).
    if changed
        .iter()
        .any(|p| p == "logging" || p.starts_with("logging."))
        && let Err(e) = state
            .shared
            .log
            .reconfigure(&next.log_options(state.shared.run_options.verbose))
    {
        tracing::warn!(target: "gateway/reload", error = %e, "cannot apply the logging settings");
    }
    // The session store is opened once per process (the listener restart does not
    // reopen it), so say plainly that a change waits for the next process start.
    if changed
        .iter()
        .any(|p| p == "sessions" || p.starts_with("sessions."))
    {
        tracing::warn!(target: "gateway/reload", "sessions.store takes effect when the gateway process restarts (stop and start it); transcripts are still read and written where they were");
    }
    if applied == Applied::Restart {
        state.shared.request_restart(next);
    } else {
        if applied == Applied::HotPending {
            let pending: Vec<&String> = changed
                .iter()
                .filter(|p| classify(p) == Class::Restart)
                .collect();
            tracing::warn!(target: "gateway/reload", paths = ?pending, "these changes need a restart (gateway.reload.mode is hot)");
        }
        state
            .limiter
            .set_config(next.resolved.gateway.auth.rate_limit.clone());
        if changed
            .iter()
            .any(|p| p.starts_with("logging.file") || p.starts_with("logging.maxFileBytes"))
        {
            tracing::warn!(target: "gateway/reload", "logging.file and logging.maxFileBytes take effect when the gateway process restarts");
        }
        // Listener settings change only through a restart: the running ones stay.
        next.settings = current.settings.clone();
        let next = Arc::new(next);
        state.swap_live(next.clone());
        if changed
            .iter()
            .any(|p| p == "channels" || p.starts_with("channels."))
        {
            state.shared.channels.apply(&next.resolved);
        }
    }
    Outcome {
        changed,
        applied,
        hash,
    }
}

/// Watches the config file's directory (editors save by renaming a temp file over it)
/// and reloads after `debounce` of quiet.
pub async fn spawn_watcher(
    current: tokio::sync::watch::Receiver<std::sync::Weak<AppState>>,
    config_path: std::path::PathBuf,
) {
    use notify::Watcher;
    let Some(dir) = config_path.parent().map(Path::to_path_buf) else {
        return;
    };
    let Some(name) = config_path.file_name().map(|n| n.to_os_string()) else {
        return;
    };
    if tokio::fs::create_dir_all(&dir).await.is_err() {
        tracing::warn!(target: "gateway/reload", dir = %dir.display(), "cannot watch the config directory");
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && ev
                .paths
                .iter()
                .any(|p| p.file_name() == Some(name.as_os_str()))
        {
            let _ = tx.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(target: "gateway/reload", error = %e, "config watcher unavailable; edits need `openclaw config reload`");
            return;
        }
    };
    if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(target: "gateway/reload", error = %e, "cannot watch the config directory");
        return;
    }
    tokio::spawn(async move {
        let _keep = watcher;
        while rx.recv().await.is_some() {
            let Some(st) = current.borrow().upgrade() else {
                continue;
            };
            let debounce = Duration::from_millis(st.live().resolved.gateway.reload.debounce_ms);
            drop(st);
            // Debounce: wait until no event arrived for `debounce`.
            loop {
                match tokio::time::timeout(debounce, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            let Some(st) = current.borrow().upgrade() else {
                continue;
            };
            if st.live().resolved.gateway.reload.mode == ReloadMode::Off || st.is_draining() {
                continue;
            }
            let _ = reload(&st, Trigger::Watcher).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(
            classify("gateway.http.endpoints.chatCompletions.enabled"),
            Class::Hot
        );
        assert_eq!(classify("gateway.auth.rateLimit.maxAttempts"), Class::Hot);
        assert_eq!(classify("agents.defaults.model"), Class::Hot);
        assert_eq!(classify("models.providers.x.baseUrl"), Class::Hot);
        assert_eq!(classify("gateway.port"), Class::Restart);
        assert_eq!(classify("gateway.auth.token"), Class::Restart);
        assert_eq!(classify("gateway.bind"), Class::Restart);
        assert_eq!(classify("gateway.reload.mode"), Class::Noop);
        assert_eq!(classify("something.new"), Class::Restart);
        assert_eq!(classify("gateway.httpx"), Class::Restart);
        assert_eq!(classify("sessions.store.backend"), Class::Restart);
        assert_eq!(classify("sessions.store.url"), Class::Restart);
    }
}
