//! `config.set`, `config.patch`, `config.apply`, `config.reload`, `config.schema`,
//! `secrets.reload`.
//!
//! Writes are optimistic: the caller names the hash of the file its edit is based on, and a
//! write based on anything else is refused (`CONFIG_STALE`) so concurrent editors never
//! overwrite each other. Every write is validated first, written atomically (temp file +
//! rename, previous file kept as `openclaw.json.bak`), then applied through the same reload
//! path as an edit on disk.

use std::path::Path;
use std::sync::Arc;

use openclaw_config::{AtomicWrite, Expect};
use openclaw_protocol::ErrorShape;
use serde_json::{Value, json};

use crate::reload::{Trigger, reload};
use crate::state::ActivationError;
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
    let path = state.live().paths.config_path.clone();
    let _guard = state.shared.config_write.lock().await;
    // Reading, validating, resolving secrets (an `exec` secret may run for seconds) and
    // writing all block: they run off the async workers.
    let raw = raw.clone();
    let file = path.clone();
    let new_text = tokio::task::spawn_blocking(move || validated_write(&file, &base, &raw, kind))
        .await
        .map_err(|e| ErrorShape::unavailable(format!("config writer failed: {e}")))??;
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

/// Checks `base` against the file, builds the new text, validates it (secrets included)
/// and writes it atomically; returns the text written. Blocking.
fn validated_write(
    path: &Path,
    base: &str,
    raw: &Value,
    kind: WriteKind,
) -> Result<String, ErrorShape> {
    let method = if kind == WriteKind::Patch {
        "config.patch"
    } else {
        "config.set"
    };
    let current = match std::fs::read_to_string(path) {
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
        return Err(stale(&current_hash));
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
    let expect = if current.is_empty() && !path.exists() {
        Expect::Missing
    } else {
        Expect::Contents(current.as_bytes())
    };
    let opts = AtomicWrite {
        expect,
        ..AtomicWrite::config()
    };
    match openclaw_config::write_atomic(path, new_text.as_bytes(), &opts) {
        Ok(()) => Ok(new_text),
        // Someone edited the file by hand between our read and the rename.
        Err(e) if e.is_conflict() => {
            let now = std::fs::read_to_string(path).unwrap_or_default();
            Err(stale(&openclaw_config::content_hash(&now)))
        }
        Err(e) => Err(ErrorShape::unavailable(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
    }
}

fn stale(current_hash: &str) -> ErrorShape {
    ErrorShape::invalid(
        "config changed since baseHash was read; call config.get again and retry with its hash",
    )
    .with_details(json!({"code": "CONFIG_STALE", "currentHash": current_hash}))
}

fn invalid_config(message: &str, path: &str) -> ErrorShape {
    ErrorShape::invalid(format!("config not written: {message}"))
        .with_details(json!({"code": "CONFIG_INVALID", "path": path}))
}

fn reload_error(e: ActivationError) -> ErrorShape {
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

/// `config.schema`: the config's JSON schema, with the rules a config editor needs from
/// their one home: `x-openclaw-reload` (which paths apply in place and which need a
/// restart, from `reload.rs`) and `x-openclaw-secrets` (which keys `config.get` redacts
/// and the marker it puts in their place, from the config crate's `redact`).
pub fn schema() -> Value {
    use openclaw_config::redact;
    let mut schema = openclaw_config::json_schema();
    if let Some(o) = schema.as_object_mut() {
        o.insert("x-openclaw-reload".into(), crate::reload::rules());
        o.insert(
            "x-openclaw-secrets".into(),
            json!({
                "redacted": redact::REDACTED,
                "keys": redact::SECRET_KEYS,
                "suffixes": redact::SECRET_SUFFIXES,
            }),
        );
    }
    schema
}
