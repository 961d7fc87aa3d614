//! `config.set`, `config.patch`, `config.apply`, `config.reload`, `config.schema`,
//! `secrets.reload`.
//!
//! Writes are optimistic: the caller names the hash of the file its edit is based on, and a
//! write based on anything else is refused (`CONFIG_STALE`) so concurrent editors never
//! overwrite each other. Every write is validated first, written atomically (temp file +
//! rename, previous file kept as `openclaw.json.bak`), then applied through the same reload
//! path as an edit on disk.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use openclaw_protocol::ErrorShape;
use serde_json::{Value, json};

use crate::reload::{ReloadError, Trigger, reload};
use crate::state::AppState;

/// Which write.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// Replace the file with `raw`.
    Set,
    /// Apply `raw` as a JSON merge patch.
    Patch,
}

/// `config.set` / `config.apply` / `config.patch`.
pub async fn write(
    state: &Arc<AppState>,
    params: &Value,
    kind: WriteKind,
) -> Result<Value, ErrorShape> {
    let method = if kind == WriteKind::Patch {
        "config.patch"
    } else {
        "config.set"
    };
    let base = params
        .get("baseHash")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ErrorShape::invalid(format!(
                "invalid params for {method}: baseHash is required (the hash from config.get)"
            ))
        })?
        .to_owned();
    let raw = params.get("raw").ok_or_else(|| {
        ErrorShape::invalid(format!("invalid params for {method}: raw is required"))
    })?;
    let path = state.paths.config_path.clone();
    let _guard = state.shared.config_write.lock().await;
    let current = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(ErrorShape::unavailable(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let current_hash = openclaw_config::content_hash(&current);
    if base != current_hash {
        return Err(ErrorShape::invalid(
            "config changed since baseHash was read; call config.get again and retry with its hash",
        )
        .with_details(json!({"code": "CONFIG_STALE", "currentHash": current_hash})));
    }
    let new_text = match kind {
        WriteKind::Set => raw
            .as_str()
            .ok_or_else(|| {
                ErrorShape::invalid(format!(
                    "invalid params for {method}: raw must be the file text"
                ))
            })?
            .to_owned(),
        WriteKind::Patch => {
            let patch = match raw {
                Value::String(s) => openclaw_config::read_document(s).map_err(|e| {
                    ErrorShape::invalid(format!(
                        "invalid params for config.patch: raw is not a JSON merge patch: {e}"
                    ))
                })?,
                other => other.clone(),
            };
            let mut doc = if current.trim().is_empty() {
                json!({})
            } else {
                openclaw_config::read_document(&current)
                    .map_err(|e| invalid_config(&e.to_string(), ""))?
            };
            openclaw_config::merge_patch(&mut doc, &patch);
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let parsed = openclaw_config::parse_str(&new_text, &env).map_err(|e| {
        let p = match &e {
            openclaw_config::ConfigError::Invalid { path, .. } => path.clone(),
            openclaw_config::ConfigError::MissingEnv { path, .. } => path.clone(),
            _ => String::new(),
        };
        invalid_config(&e.to_string(), &p)
    })?;
    openclaw_config::resolve_secrets(&parsed, &env)
        .map_err(|e| invalid_config(&e.to_string(), ""))?;
    write_atomic(&path, &new_text)
        .map_err(|e| ErrorShape::unavailable(format!("cannot write {}: {e}", path.display())))?;
    drop(_guard);
    let hash = openclaw_config::content_hash(&new_text);
    match reload(state, Trigger::Rpc).await {
        Ok(o) => Ok(json!({
            "ok": true, "path": path, "hash": hash,
            "changed": o.changed, "applied": o.applied.as_str(),
        })),
        Err(e) => Err(reload_error(e)),
    }
}

fn invalid_config(message: &str, path: &str) -> ErrorShape {
    ErrorShape::invalid(format!("config not written: {message}"))
        .with_details(json!({"code": "CONFIG_INVALID", "path": path}))
}

fn reload_error(e: ReloadError) -> ErrorShape {
    ErrorShape::unavailable(format!("config reload skipped ({e})"))
        .with_details(json!({"code": "CONFIG_RELOAD_SKIPPED"}))
}

/// `config.reload`: re-read the file now.
pub async fn reload_now(state: &Arc<AppState>) -> Result<Value, ErrorShape> {
    match reload(state, Trigger::Rpc).await {
        Ok(o) => Ok(
            json!({"ok": true, "hash": o.hash, "changed": o.changed, "applied": o.applied.as_str()}),
        ),
        Err(e) => Err(reload_error(e)),
    }
}

/// `secrets.reload`: resolve every SecretRef again; on failure the old values stay.
pub async fn secrets_reload(state: &Arc<AppState>) -> Result<Value, ErrorShape> {
    match reload(state, Trigger::Secrets).await {
        Ok(o) => {
            let sources = openclaw_config::secret_sources(&state.live().loaded.config);
            let resolved = sources.iter().filter(|s| s.set).count();
            Ok(
                json!({"ok": true, "resolved": resolved, "changed": o.changed, "applied": o.applied.as_str()}),
            )
        }
        Err(e) => Err(ErrorShape::unavailable(format!(
            "secrets not reloaded; the previous values stay ({e})"
        ))),
    }
}

/// `config.schema`.
pub fn schema() -> Value {
    openclaw_config::json_schema()
}

/// Writes `text` to `path` so that a crash leaves either the old or the new file, and keeps
/// the old one as `<file>.bak`.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "openclaw.json".into());
    let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    if path.exists() {
        std::fs::copy(path, dir.join(format!("{file_name}.bak")))?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
