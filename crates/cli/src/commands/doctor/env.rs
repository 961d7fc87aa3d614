//! `doctor --check-env` and `doctor --provider`: the focused doctor runs.
//!
//! `--check-env` lists every environment variable this instance depends on: those the
//! config file references (`${VAR}` in a string value, `env` SecretRefs, the key variable
//! of a built-in provider an agent uses) and those the gateway itself reads
//! ([`GATEWAY_ENV`]). It says set or not set, never the value. A referenced variable that
//! is unset fails, because the gateway will refuse to start (or the provider to answer).
//!
//! `--provider P [--model M]` runs [`crate::commands::providers::probe`] as doctor checks.

use std::time::Duration;

use anyhow::Result;
use openclaw_config::{CONFIG_PATH_ENV, PROFILE_ENV, STATE_DIR_ENV};

use super::{Check, Status};
use crate::commands::Global;
use crate::commands::config::{paths, read_doc_or_empty, validate_lenient};
use crate::commands::providers::{Credential, ProviderSet, probe};

/// Time allowed for a `--provider` probe (connection and each wait for data).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Every environment variable the gateway (and the client commands that find it) reads,
/// with what it does. The single list of them: `doctor --check-env` shows it, and a unit
/// test below fails when the sources read an `OPENCLAW_*` variable missing here.
pub const GATEWAY_ENV: &[(&str, &str)] = &[
    (
        "OPENCLAW_GATEWAY_TOKEN",
        "shared token; overrides gateway.auth.token",
    ),
    (
        "OPENCLAW_GATEWAY_PASSWORD",
        "shared password; overrides gateway.auth.password",
    ),
    (
        "OPENCLAW_GATEWAY_PORT",
        "port clients connect to; overrides gateway.port for client commands",
    ),
    (STATE_DIR_ENV, "state directory (default ~/.openclaw)"),
    (
        CONFIG_PATH_ENV,
        "config file (default <state dir>/openclaw.json)",
    ),
    (PROFILE_ENV, "profile name, like --profile"),
    (
        "OPENCLAW_ALLOW_MULTI_GATEWAY",
        "1 allows a second gateway on the same state dir",
    ),
    (
        "OPENCLAW_HANDSHAKE_TIMEOUT_MS",
        "WebSocket connect handshake limit",
    ),
    ("OPENCLAW_TICK_INTERVAL_MS", "tick event interval"),
    (
        "OPENCLAW_SSE_KEEPALIVE_MS",
        "SSE keep-alive comment interval",
    ),
    (
        "OPENCLAW_SHUTDOWN_GRACE_MS",
        "how long shutdown waits for running turns",
    ),
    (
        "OPENCLAW_HTTP_HEADER_TIMEOUT_MS",
        "limit for a request's headers",
    ),
    (
        "OPENCLAW_HTTP_IDLE_TIMEOUT_MS",
        "idle keep-alive connection limit",
    ),
    ("OPENCLAW_HTTP_BODY_TIMEOUT_MS", "limit for a request body"),
    (
        "OPENCLAW_PREAUTH_PER_IP",
        "unauthenticated connections per client IP",
    ),
    (
        "OPENCLAW_PREAUTH_MAX",
        "unauthenticated connections in total",
    ),
    (
        openclaw_gateway::channels::BACKOFF_ENV,
        "first retry delay of a failing channel",
    ),
    (
        crate::commands::service::MANAGER_ENV,
        "service manager to use (systemd, launchd, none)",
    ),
];

fn is_set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty())
}

/// The `--check-env` checks: referenced variables first (in config order), then the
/// gateway's own.
pub(super) fn check_env(global: &Global) -> Result<Vec<Check>> {
    let paths = paths(global)?;
    let doc = read_doc_or_empty(&paths.config_path)?;
    // (variable, where it is used), in first-use order.
    let mut refs: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |var: &str, used_at: String| match refs.iter_mut().find(|(v, _)| v == var) {
        Some((_, at)) => {
            if !at.contains(&used_at) {
                at.push(used_at);
            }
        }
        None => refs.push((var.to_owned(), vec![used_at])),
    };
    for (path, var) in openclaw_config::env_references(&doc) {
        add(&var, path);
    }
    let mut problems = Vec::new();
    match validate_lenient(&doc) {
        Ok((config, _)) => {
            for s in openclaw_config::secret_sources(&config) {
                if s.kind == "env"
                    && let Some(id) = &s.id
                {
                    add(id, s.path.clone());
                }
            }
        }
        Err(e) => problems.push(
            Check::new("env.config", Status::Fail, "Config")
                .detail(format!(
                    "{}: {e}; SecretRefs could not be listed",
                    paths.config_path.display()
                ))
                .fix("fix the config (see `openclaw config validate`)"),
        ),
    }
    if let Ok(set) = ProviderSet::load(global) {
        for p in &set.providers {
            if let Credential::ImplicitEnv { var, .. } = &p.credential {
                add(var, format!("built-in provider {} (agents use it)", p.id));
            }
        }
    }
    let mut checks = problems;
    for (var, used_at) in &refs {
        let id = format!("env.{var}");
        let title = format!("Env {var}");
        let where_ = used_at.join(", ");
        checks.push(if is_set(var) {
            Check::new(id, Status::Ok, title).detail(format!("set (used by {where_})"))
        } else {
            Check::new(id, Status::Fail, title)
                .detail(format!("not set, but used by {where_}"))
                .fix(if used_at.iter().all(|u| u.starts_with("built-in")) {
                    format!(
                        "export {var}=… in the gateway's environment (for a service: its unit or LaunchAgent, then `openclaw gateway restart`)"
                    )
                } else {
                    format!(
                        "export {var}=… in the gateway's environment (for a service: its unit or LaunchAgent, then `openclaw gateway restart`), or change {where_} to not use it"
                    )
                })
        });
    }
    for (var, what) in GATEWAY_ENV {
        if refs.iter().any(|(v, _)| v == var) {
            continue;
        }
        let state = if is_set(var) { "set" } else { "not set" };
        checks.push(
            Check::new(format!("env.{var}"), Status::Ok, format!("Env {var}"))
                .detail(format!("{state} (optional: {what})")),
        );
    }
    Ok(checks)
}

/// The `--provider P [--model M]` checks: one per probe.
pub(super) async fn check_provider(
    global: &Global,
    provider: &str,
    model: Option<&str>,
) -> Result<Vec<Check>> {
    let mut set = ProviderSet::load(global)?;
    let chosen = match set.select(Some(provider)) {
        Ok(c) => c,
        Err(e) => {
            return Ok(vec![
                Check::new(
                    format!("provider.{provider}.test"),
                    Status::Fail,
                    format!("Provider {provider}"),
                )
                .detail(e.to_string())
                .fix(format!(
                    "add models.providers.{provider} to the config, or pick one from `openclaw providers list`"
                )),
            ]);
        }
    };
    let mut checks = Vec::new();
    for p in chosen {
        let r = probe(p, model, PROBE_TIMEOUT).await;
        let status = if r.failure.is_none() {
            Status::Ok
        } else {
            Status::Fail
        };
        let mut c = Check::new(
            format!("provider.{}.test", r.provider),
            status,
            format!("Provider {}", r.label()),
        )
        .detail(r.detail());
        if let Some(fix) = r.fix() {
            c = c.fix(fix);
        }
        checks.push(c);
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `"OPENCLAW_…"` literal in the gateway's, config's and CLI's sources is an
    /// environment variable some code reads; each must be in [`GATEWAY_ENV`].
    #[test]
    fn gateway_env_lists_every_variable_the_sources_name() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut found = std::collections::BTreeSet::new();
        for krate in ["gateway", "config", "cli", "logs", "sessions", "protocol"] {
            scan(&root.join(krate).join("src"), &mut found);
        }
        assert!(found.contains("OPENCLAW_GATEWAY_TOKEN"), "{found:?}");
        let listed: Vec<&str> = GATEWAY_ENV.iter().map(|(v, _)| *v).collect();
        // Names the gateway writes or matches but never reads: the prefix of the
        // secrets scrubbed from `exec`'s environment, and the marker set for the
        // commands `exec` runs.
        let not_read = ["OPENCLAW_GATEWAY_", "OPENCLAW_SHELL"];
        let missing: Vec<&String> = found
            .iter()
            .filter(|v| !listed.contains(&v.as_str()) && !not_read.contains(&v.as_str()))
            .collect();
        assert!(missing.is_empty(), "add to GATEWAY_ENV: {missing:?}");
    }

    fn scan(dir: &std::path::Path, found: &mut std::collections::BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                scan(&p, found);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let mut rest = text.as_str();
                while let Some(i) = rest.find("\"OPENCLAW_") {
                    let after = &rest[i + 1..];
                    let name: String = after
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if name.len() > "OPENCLAW_".len() && after[name.len()..].starts_with('"') {
                        found.insert(name.clone());
                    }
                    rest = &after[name.len()..];
                }
            }
        }
    }
}
