//! `openclaw secrets …`: where the config's secrets come from, and re-resolving them in
//! the running gateway.
//!
//! Listing works on the local config file and never prints a secret's value, only where
//! it comes from (inline, an environment variable, a file, a command) and whether it is set.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;

use super::config::{paths, read_doc_or_empty, validate_lenient};
use super::{Global, print_json};
use crate::opts::ClientOpts;

/// `openclaw secrets list`: one line per secret field: path, kind, id, set/missing.
pub fn list(global: &Global, opts: &ClientOpts) -> Result<ExitCode> {
    let paths = paths(global)?;
    let file = &paths.config_path;
    let doc = read_doc_or_empty(file)?;
    let (config, missing) = validate_lenient(&doc).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; fix the config (see `openclaw config validate`) to list its secrets",
            file.display()
        )
    })?;
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|v| format!("${{{v}}}")).collect();
        eprintln!(
            "warning: {} not set in this shell; values referring to {} are listed as if set",
            names.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        );
    }
    let sources = serde_json::to_value(openclaw_config::secret_sources(&config))?;
    let rows = sources.as_array().cloned().unwrap_or_default();
    if opts.json {
        print_json(&Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No secret fields in {}", file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let text = |v: &Value, k: &str| match v.get(k) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(Value::String(_)) => "-".to_owned(),
        Some(other) => other.to_string(),
    };
    let table: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            let set = if r.get("set").and_then(Value::as_bool).unwrap_or(false) {
                "set"
            } else {
                "missing"
            };
            [
                text(r, "path"),
                text(r, "kind"),
                text(r, "id"),
                set.to_owned(),
            ]
        })
        .collect();
    let width = |i: usize| {
        table
            .iter()
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    for [path, kind, id, set] in &table {
        println!("{path:<w0$}  {kind:<w1$}  {id:<w2$}  {set}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `openclaw secrets reload`: asks the running gateway to resolve its secrets again.
pub async fn reload(global: &Global, opts: &ClientOpts) -> Result<ExitCode> {
    let note = "; the gateway keeps the values it had";
    let Some(res) = super::reload_call(global, opts, "secrets.reload", "secrets", note).await?
    else {
        return Ok(ExitCode::FAILURE);
    };
    if !opts.json {
        let n = res.get("resolved").and_then(Value::as_u64).unwrap_or(0);
        println!("Secrets reloaded ({n} resolved)");
    }
    Ok(ExitCode::SUCCESS)
}
