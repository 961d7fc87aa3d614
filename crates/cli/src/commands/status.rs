//! `openclaw status`.

use std::process::ExitCode;

use serde_json::Value;

use super::{Global, READ_SCOPES, human_ms, print_json};
use crate::opts::ClientOpts;
use crate::target::Local;

/// Prints the running gateway's status.
pub async fn run(global: &Global, opts: &ClientOpts) -> anyhow::Result<ExitCode> {
    let local = Local::load(global)?;
    let target = local.target(opts);
    let status = local.call(&target, READ_SCOPES, "status", None).await?;
    if opts.json {
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

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
