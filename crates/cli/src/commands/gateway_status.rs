//! `openclaw gateway status`: what this machine says about its gateway, plus a probe.

use std::process::ExitCode;
use std::time::Instant;

use openclaw_config::BindMode;
use openclaw_gateway::lock::{pid_alive, read_pid};
use openclaw_gateway::settings::bind_name;
use serde_json::{Value, json};

use super::{Global, READ_SCOPES, print_json};
use crate::ClientOpts;
use crate::client::Client;
use crate::target::Local;

/// Which parts of the check to run.
pub struct Mode {
    /// Probe the gateway over WebSocket.
    pub probe: bool,
    /// Require an authenticated read RPC to succeed (exit 1 otherwise).
    pub require_rpc: bool,
    /// Include the gateway's own `status` payload.
    pub deep: bool,
}

/// Prints the report.
pub async fn run(global: &Global, opts: &ClientOpts, mode: Mode) -> anyhow::Result<ExitCode> {
    let local = Local::load(global)?;
    let target = local.target(opts);
    let bind = local.config.gateway.effective_bind();

    let lock_pid = read_pid(&local.paths.lock_path());
    let lock_alive = lock_pid.filter(|p| pid_alive(*p));

    let mut probe = Value::Null;
    let mut deep = Value::Null;
    let mut probe_ok = false;
    if mode.probe {
        let started = Instant::now();
        match Client::connect(&target, READ_SCOPES).await {
            Ok(mut client) => {
                let rpc = if mode.require_rpc || mode.deep {
                    Some(client.call("status", None, false).await)
                } else {
                    None
                };
                client.close().await;
                match rpc {
                    Some(Err(e)) => {
                        probe = json!({ "ok": false, "url": target.url, "error": e.to_string(), "rpc": true });
                    }
                    Some(Ok(status)) => {
                        probe_ok = true;
                        deep = status;
                        probe = json!({ "ok": true, "url": target.url, "rpc": true });
                    }
                    None => {
                        probe_ok = true;
                        probe = json!({ "ok": true, "url": target.url, "rpc": false });
                    }
                }
            }
            Err(e) => {
                probe = json!({ "ok": false, "url": target.url, "error": e.to_string() });
            }
        }
        probe["durationMs"] = json!(started.elapsed().as_millis() as u64);
    }

    let runtime = match (lock_alive, mode.probe, probe_ok) {
        (Some(pid), _, _) => json!({ "status": "running", "pid": pid }),
        (None, true, true) => json!({ "status": "running" }),
        (None, true, false) if opts.url.is_none() => json!({ "status": "stopped" }),
        _ => json!({ "status": "unknown" }),
    };
    let report = json!({
        "config": {
            "path": local.paths.config_path,
            "exists": local.paths.config_path.exists(),
            "valid": local.config_error.is_none(),
            "error": local.config_error,
        },
        "stateDir": local.paths.state_dir,
        "profile": local.paths.profile,
        "gateway": {
            "bind": bind_name(bind),
            "port": local.port,
            "probeUrl": target.url,
        },
        "runtime": runtime,
        "probe": probe,
        "status": deep,
    });

    if opts.json {
        print_json(&report);
    } else {
        let cfg_note = match (&local.config_error, local.paths.config_path.exists()) {
            (Some(e), _) => format!(" (invalid: {e})"),
            (None, false) => " (missing; defaults)".into(),
            (None, true) => String::new(),
        };
        println!("Config: {}{cfg_note}", local.paths.config_path.display());
        let host = match bind {
            BindMode::Loopback | BindMode::Auto => "127.0.0.1".to_owned(),
            BindMode::Lan => "0.0.0.0".to_owned(),
            _ => local
                .config
                .gateway
                .custom_bind_host
                .clone()
                .unwrap_or_else(|| "?".into()),
        };
        println!(
            "Gateway: bind={} ({host}), port={}",
            bind_name(bind),
            local.port
        );
        println!("Probe target: {}", target.url);
        match runtime.get("pid").and_then(Value::as_u64) {
            Some(pid) => println!("Runtime: running (pid {pid})"),
            None => println!(
                "Runtime: {}",
                runtime["status"].as_str().unwrap_or("unknown")
            ),
        }
        if mode.probe {
            if probe_ok {
                let what = if probe["rpc"] == json!(true) {
                    "rpc"
                } else {
                    "connect"
                };
                println!("Connectivity probe: ok ({what})");
            } else {
                println!(
                    "Connectivity probe: failed ({})",
                    probe["error"].as_str().unwrap_or("unknown error")
                );
            }
        } else {
            println!("Connectivity probe: skipped (--no-probe)");
        }
        if mode.deep && !deep.is_null() {
            println!("Gateway status:");
            print_json(&deep);
        }
    }
    if mode.require_rpc && !probe_ok {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
