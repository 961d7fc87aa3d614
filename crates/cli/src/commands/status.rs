//! `openclaw status`.
//!
//! `--json` prints the gateway's `status` payload (whose `providers` says how many model
//! providers can be called, by the same rule as `models.list`) with two summaries added
//! for runbook scripts: `runtime` (`status`, `pid`, `uptimeMs`, `uptime`) and
//! `channels.active` / `channels.configured` (accounts connected / configured, beside the
//! per-channel entries).

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{Global, READ_SCOPES, human_ms, print_json};
use crate::opts::ClientOpts;
use crate::target::Local;

/// Prints the running gateway's status.
pub async fn run(global: &Global, opts: &ClientOpts) -> anyhow::Result<ExitCode> {
    let local = Local::load(global)?;
    let target = local.target(opts);
    let mut status = local.call(&target, READ_SCOPES, "status", None).await?;
    if opts.json {
        summarize(&mut status);
        print_json(&status);
        return Ok(ExitCode::SUCCESS);
    }
    let s = |v: &Value, k: &str| v.get(k).map(display).unwrap_or_else(|| "?".into());
    let gw = status.get("gateway").cloned().unwrap_or(Value::Null);
    println!("Gateway:     {} (pid {})", target.url, s(&status, "pid"));
    println!("Version:     {}", s(&status, "version"));
    println!(
        "Uptime:      {}",
        human_ms(status.get("uptimeMs").and_then(Value::as_u64).unwrap_or(0))
    );
    println!("Bind:        {} port {}", s(&gw, "bind"), s(&gw, "port"));
    println!("Auth:        {}", s(&gw, "authMode"));
    println!("Config:      {}", s(&status, "configPath"));
    println!("State dir:   {}", s(&status, "stateDir"));
    println!("Log file:    {}", s(&status, "logFile"));
    let conns = status.get("connections").cloned().unwrap_or(Value::Null);
    println!("Connections: {}", s(&conns, "count"));
    Ok(ExitCode::SUCCESS)
}

/// Adds the `runtime` and `channels.active`/`configured` summaries.
fn summarize(status: &mut Value) {
    let uptime = status.get("uptimeMs").and_then(Value::as_u64);
    status["runtime"] = json!({
        "status": "running",
        "pid": status.get("pid").cloned().unwrap_or(Value::Null),
        "uptimeMs": uptime,
        "uptime": uptime.map(human_ms),
    });
    let (mut active, mut configured) = (0u64, 0u64);
    if let Some(channels) = status.get("channels").and_then(Value::as_object) {
        for ch in channels.values() {
            for a in ch
                .get("accounts")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values())
            {
                configured += 1;
                if a.get("connected").and_then(Value::as_bool) == Some(true) {
                    active += 1;
                }
            }
        }
    }
    if !status.get("channels").is_some_and(Value::is_object) {
        status["channels"] = json!({});
    }
    status["channels"]["active"] = json!(active);
    status["channels"]["configured"] = json!(configured);
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
