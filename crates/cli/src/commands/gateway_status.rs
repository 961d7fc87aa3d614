//! `openclaw gateway status`: what this machine says about its gateway (config, paths,
//! service manager and unit), plus a connectivity probe.
//!
//! # `--json` shape
//!
//! Stable; fields are only ever added. `null` means "unknown" or "not applicable".
//!
//! ```text
//! {
//!   "profile":  string | null,            // active profile (null: default instance)
//!   "stateDir": path,                     // the CLI's state dir
//!   "logFile":  path,                     // the CLI's resolved gateway log file
//!   "config":   { "path": path, "exists": bool, "valid": bool, "error": string | null },
//!   "gateway":  {
//!     "bind": "loopback" | "lan" | "custom" | "auto",
//!     "port": number,                     // port the CLI expects the gateway on
//!     "probeUrl": string,
//!     "listening": [string] | null,       // "host:port" from the status RPC when reachable
//!     "version": string | null,           // from hello-ok when reachable
//!     "tls": { "enabled": bool, ... }     // the status RPC's tls object when reachable,
//!                                         // else enabled/source/certPath/keyPath from config
//!   },
//!   "service":  {
//!     "manager": "systemd" | "launchd" | null,   // null: no service manager here
//!     "scope": "user" | "system" | null,
//!     "unit": string | null,              // unit name or launchd label
//!     "path": path | null,                // unit file / plist (present or not)
//!     "installed": bool,
//!     "enabled": bool | null,             // systemd enabled / launchd loaded
//!     "active": bool | null,              // systemd active / launchd running
//!     "error": string | null,             // why the manager could not be asked
//!     "upToDate": bool | null,            // the user unit equals what `install --port <its
//!                                         // port>` would write now (binary, profile, env)
//!     "config": null | {                  // what the installed unit runs with
//!       "path": path, "stateDir": path, "profile": string | null,
//!       "port": number | null, "matchesCli": bool
//!     }
//!   },
//!   "runtime":  { "status": "running" | "stopped" | "unknown", "pid"?: number },
//!   "probe":    null | {                  // null with --no-probe
//!     "ok": bool, "url": string, "durationMs": number,
//!     "rpc": bool,                        // the status RPC succeeded
//!     "error"?: string,
//!     "scopes": [string] | null,          // granted at hello-ok (admin scopes requested)
//!     "capability": "read" | "write" | "admin" | null
//!   },
//!   "status":   "running" | "stopped" | "unknown",   // = runtime.status (runbook scripts)
//!   "uptime":   string | null,            // e.g. "3h 12m 5s", from the status RPC
//!   "uptimeMs": number | null,
//!   "version":  string | null,            // the gateway's version when reachable
//!   "deep":     object | null,            // the gateway's status payload, with --deep
//!   "tls":       object,                  // = gateway.tls (the gateway's, else the config's)
//!   "rateLimit": object | null,           // gateway.rateLimit in force, clients, limitedTotal
//!   "limits":    object | null,           // gateway.performance in force, open connections
//!   "traffic":   object | null            // requests / errors / rate-limited, last 60 s
//! }
//! ```

use std::process::ExitCode;
use std::time::Instant;

use openclaw_config::BindMode;
use openclaw_gateway::lock::{pid_alive, read_pid};
use openclaw_gateway::settings::bind_name;
use openclaw_protocol::scopes;
use serde_json::{Value, json};

use super::service;
use super::{Global, print_json};
use crate::client::Client;
use crate::opts::ClientOpts;
use crate::target::Local;

/// Scopes the probe asks for, so the granted set shows the caller's full capability.
const PROBE_SCOPES: &[&str] = &[scopes::READ, scopes::WRITE, scopes::ADMIN];

/// Which parts of the check to run.
pub struct Mode {
    /// Probe the gateway over WebSocket.
    pub probe: bool,
    /// Require an authenticated read RPC to succeed (exit 1 otherwise).
    pub require_rpc: bool,
    /// Include the gateway's own `status` payload.
    pub deep: bool,
}

/// The strongest operator capability among granted scopes.
pub fn capability(granted: &[String]) -> Option<&'static str> {
    let has = |s: &str| granted.iter().any(|g| g == s);
    if has(scopes::ADMIN) {
        Some("admin")
    } else if has(scopes::WRITE) {
        Some("write")
    } else if has(scopes::READ) {
        Some("read")
    } else {
        None
    }
}

/// `host:port` strings from a status payload's `gateway.hosts` and `gateway.port`.
fn listening(status: &Value) -> Option<Vec<String>> {
    let gw = status.get("gateway")?;
    let port = gw.get("port")?.as_u64()?;
    let hosts = gw.get("hosts")?.as_array()?;
    Some(
        hosts
            .iter()
            .filter_map(Value::as_str)
            .map(|h| {
                if h.contains(':') {
                    format!("[{h}]:{port}")
                } else {
                    format!("{h}:{port}")
                }
            })
            .collect(),
    )
}

/// `gateway.tls` as the config gives it, for when the gateway cannot be asked.
fn config_tls(local: &Local) -> Value {
    use openclaw_gateway::tls::{Files, Source};
    match Files::from_config(&local.config.gateway.tls, &local.paths.state_dir) {
        None => json!({"enabled": false}),
        Some(f) => json!({
            "enabled": true,
            "source": if f.source == Source::Files { "files" } else { "autoGenerate" },
            "certPath": f.cert,
            "keyPath": f.key,
        }),
    }
}

/// Prints the report.
pub async fn run(global: &Global, opts: &ClientOpts, mode: Mode) -> anyhow::Result<ExitCode> {
    let local = Local::load(global)?;
    let target = local.target(opts);
    let bind = local.config.gateway.effective_bind();
    let log_file = local.log_file();

    let lock_pid = read_pid(&local.paths.lock_path());
    let lock_alive = lock_pid.filter(|p| pid_alive(*p));

    let service = service::service_status(local.paths.profile.as_deref());
    let mut service_json = service.to_json(&local.paths.config_path);
    // Compared at the port the unit was installed with, so `install --port N` is not drift.
    let installed_port = service
        .installed_service
        .as_ref()
        .and_then(service::InstalledService::port);
    service_json["upToDate"] = match (&service.location, service.installed) {
        (Some(loc), true) => service::expected_unit_with_port(global, installed_port)
            .filter(|(path, _)| *path == loc.path)
            .and_then(|(path, text)| {
                std::fs::read_to_string(path)
                    .ok()
                    .map(|installed| installed == text)
            })
            .map_or(Value::Null, Value::Bool),
        _ => Value::Null,
    };

    let mut probe = Value::Null;
    let mut deep = Value::Null;
    let mut probe_ok = false;
    let mut rpc_ok = false;
    let mut hosts: Option<Vec<String>> = None;
    let mut version = Value::Null;
    let mut uptime_ms: Option<u64> = None;
    // The public edge as the gateway reports it: rate limit, connection limits and the
    // last minute's traffic (`null` when the status RPC is not reachable); TLS as the
    // running gateway reports it, else as the config says.
    let mut edge = json!({"rateLimit": null, "limits": null, "traffic": null});
    let mut tls = config_tls(&local);
    if mode.probe {
        let started = Instant::now();
        match Client::connect(&target, PROBE_SCOPES).await {
            Ok(mut client) => {
                let granted: Vec<String> = client.hello["auth"]["scopes"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                version = client.hello["server"]["version"].clone();
                let rpc = client.call("status", None, false).await;
                client.close().await;
                probe = json!({
                    "ok": true,
                    "url": target.url,
                    "rpc": false,
                    "scopes": granted,
                    "capability": capability(&granted),
                });
                match rpc {
                    Ok(status) => {
                        rpc_ok = true;
                        probe["rpc"] = json!(true);
                        hosts = listening(&status);
                        uptime_ms = status.get("uptimeMs").and_then(Value::as_u64);
                        for key in ["rateLimit", "limits", "traffic"] {
                            if let Some(v) = status.get(key) {
                                edge[key] = v.clone();
                            }
                        }
                        if status["tls"].is_object() {
                            tls = status["tls"].clone();
                        }
                        if mode.deep {
                            deep = status;
                        }
                    }
                    Err(e) => {
                        probe["error"] = json!(e.to_string());
                        // Connected, but a read RPC failed: only fatal when RPC was required.
                        if mode.require_rpc || mode.deep {
                            probe["ok"] = json!(false);
                        }
                    }
                }
                probe_ok = probe["ok"] == json!(true);
            }
            Err(e) => {
                probe = json!({
                    "ok": false,
                    "url": target.url,
                    "rpc": false,
                    "error": e.to_string(),
                    "scopes": null,
                    "capability": null,
                });
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
        "logFile": log_file,
        "profile": local.paths.profile,
        "gateway": {
            "bind": bind_name(bind),
            "port": local.port,
            "probeUrl": target.url,
            "listening": hosts,
            "version": version,
            "tls": tls.clone(),
        },
        "service": service_json,
        "status": runtime["status"],
        "uptime": uptime_ms.map(super::human_ms),
        "uptimeMs": uptime_ms,
        "version": version,
        "runtime": runtime,
        "probe": probe,
        "deep": deep,
        "tls": tls,
        "rateLimit": edge["rateLimit"],
        "limits": edge["limits"],
        "traffic": edge["traffic"],
    });

    if opts.json {
        print_json(&report);
    } else {
        print_text(&local, bind, &report, &service, &mode, probe_ok, rpc_ok);
    }
    if mode.require_rpc && !(probe_ok && rpc_ok) {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(
    local: &Local,
    bind: BindMode,
    report: &Value,
    service: &service::ServiceStatus,
    mode: &Mode,
    probe_ok: bool,
    rpc_ok: bool,
) {
    let s = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    if let Some(p) = &local.paths.profile {
        println!("Profile: {p}");
    }
    println!("Service: {}", service.summary());
    if let Some(e) = &service.error {
        println!("Service check: {e}");
    }
    if report["service"]["upToDate"] == json!(false) {
        println!(
            "Service unit: differs from what `openclaw gateway install` would write now (binary, profile or environment changed); review with `openclaw gateway install --print{port}`, apply with `--force`",
            port = report["service"]["config"]["port"]
                .as_u64()
                .map(|p| format!(" --port {p}"))
                .unwrap_or_default()
        );
    }
    let cfg_note = match (&local.config_error, local.paths.config_path.exists()) {
        (Some(e), _) => format!(" (invalid: {e})"),
        (None, false) => " (missing; defaults)".into(),
        (None, true) => String::new(),
    };
    println!(
        "Config (cli): {}{cfg_note}",
        local.paths.config_path.display()
    );
    let svc_cfg = &report["service"]["config"];
    if !svc_cfg.is_null() {
        let note = if svc_cfg["matchesCli"] == json!(true) {
            ""
        } else {
            " (differs from the CLI's: check --profile, OPENCLAW_STATE_DIR, OPENCLAW_CONFIG_PATH)"
        };
        println!("Config (service): {}{note}", s(&svc_cfg["path"]));
        if let Some(port) = svc_cfg["port"].as_u64()
            && port != u64::from(local.port)
        {
            println!(
                "Service port: {port} (the CLI expects {}; set gateway.port or reinstall with --port)",
                local.port
            );
        }
    }
    println!("State dir: {}", local.paths.state_dir.display());
    println!("Log file: {}", s(&report["logFile"]));
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
    println!("Probe target: {}", s(&report["gateway"]["probeUrl"]));
    let tls = &report["gateway"]["tls"];
    if tls["enabled"] == json!(true) {
        let mut line = format!("TLS: on ({}, {})", s(&tls["source"]), s(&tls["certPath"]));
        if let Some(fp) = tls["fingerprintSha256"].as_str() {
            line.push_str(&format!(", sha256 {fp}"));
        }
        if let Some(t) = tls["notAfter"]
            .as_i64()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        {
            line.push_str(&format!(", expires {t}"));
        }
        println!("{line}");
        if let Some(e) = tls["lastError"].as_str() {
            println!("TLS renewal refused: {e}");
        }
    }
    let runtime = &report["runtime"];
    match runtime.get("pid").and_then(Value::as_u64) {
        Some(pid) => println!("Runtime: running (pid {pid})"),
        None => println!(
            "Runtime: {}",
            runtime["status"].as_str().unwrap_or("unknown")
        ),
    }
    let probe = &report["probe"];
    if !mode.probe {
        println!("Connectivity probe: skipped (--no-probe)");
    } else if probe_ok {
        let what = if rpc_ok { "rpc" } else { "connect" };
        println!("Connectivity probe: ok ({what})");
        if let Some(c) = probe["capability"].as_str() {
            println!("Capability: {c}");
        }
        if let Some(list) = report["gateway"]["listening"].as_array() {
            let addrs: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            println!("Listening: {}", addrs.join(", "));
        }
    } else {
        println!(
            "Connectivity probe: failed ({})",
            probe["error"].as_str().unwrap_or("unknown error")
        );
    }
    if mode.deep && !report["deep"].is_null() {
        println!("Gateway status:");
        print_json(&report["deep"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_is_the_strongest_scope() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(capability(&v(&[scopes::READ])), Some("read"));
        assert_eq!(
            capability(&v(&[scopes::READ, scopes::WRITE])),
            Some("write")
        );
        assert_eq!(capability(&v(&[scopes::ADMIN])), Some("admin"));
        assert_eq!(capability(&v(&[])), None);
    }

    #[test]
    fn listening_formats_v4_and_v6() {
        let st = json!({"gateway": {"port": 5, "hosts": ["127.0.0.1", "::1"]}});
        assert_eq!(
            listening(&st),
            Some(vec!["127.0.0.1:5".to_owned(), "[::1]:5".to_owned()])
        );
        assert_eq!(listening(&json!({})), None);
    }
}
