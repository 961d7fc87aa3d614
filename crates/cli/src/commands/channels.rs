//! `openclaw channels status|enable|disable`.
//!
//! Status comes from the gateway's `channels.status`; enabling and disabling are config
//! edits (`channels.<name>.enabled` through `config.patch`), so they survive restarts and
//! the gateway applies them with a hot reload.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::config::ADMIN_SCOPES;
use super::{Global, READ_SCOPES, print_json};
use crate::client::Client;
use crate::opts::ClientOpts;
use crate::target::Local;

/// Channels this gateway can run.
const KNOWN: &[&str] = &["telegram"];

/// `openclaw channels …`.
#[derive(Args)]
pub struct ChannelsCmd {
    #[command(subcommand)]
    sub: ChannelsSub,
}

#[derive(Subcommand)]
enum ChannelsSub {
    /// Show every channel account: connected, last error, last traffic.
    Status(StatusArgs),
    /// Enable a channel (sets channels.<name>.enabled = true).
    Enable(ToggleArgs),
    /// Disable a channel (sets channels.<name>.enabled = false).
    Disable(ToggleArgs),
}

#[derive(Args)]
struct StatusArgs {
    /// Also check each account's credentials against the service now.
    #[arg(long)]
    probe: bool,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Args)]
struct ToggleArgs {
    /// Channel name, e.g. telegram.
    name: String,
    #[command(flatten)]
    client: ClientOpts,
}

/// Runs a `channels` subcommand.
pub async fn run(global: &Global, cmd: ChannelsCmd) -> Result<ExitCode> {
    match cmd.sub {
        ChannelsSub::Status(a) => status(global, &a.client, a.probe).await,
        ChannelsSub::Enable(a) => toggle(global, &a.client, &a.name, true).await,
        ChannelsSub::Disable(a) => toggle(global, &a.client, &a.name, false).await,
    }
}

async fn status(global: &Global, opts: &ClientOpts, probe: bool) -> Result<ExitCode> {
    let local = Local::load(global)?;
    let target = local.target(opts);
    let res = local
        .call(
            &target,
            READ_SCOPES,
            "channels.status",
            Some(json!({"probe": probe})),
        )
        .await?;
    if opts.json {
        print_json(&Value::Array(entries(&res)));
        return Ok(ExitCode::SUCCESS);
    }
    let channels = res.get("channels").and_then(Value::as_object);
    let Some(channels) = channels.filter(|c| !c.is_empty()) else {
        println!("No channels configured.");
        return Ok(ExitCode::SUCCESS);
    };
    for (name, ch) in channels {
        let Some(accounts) = ch.get("accounts").and_then(Value::as_object) else {
            continue;
        };
        for (id, a) in accounts {
            let state = account_state(a);
            let mut line = format!("{name} {id}: {state}");
            if let Some(user) = a.pointer("/identity/username").and_then(Value::as_str) {
                line.push_str(&format!(" ({user})"));
            }
            if let Some(err) = a.get("lastError").and_then(Value::as_str) {
                line.push_str(&format!("; last error: {err}"));
            }
            if let Some(p) = a.get("probe") {
                if p.get("ok").and_then(Value::as_bool) == Some(true) {
                    line.push_str("; probe ok");
                    if let Some(w) = p.pointer("/bot/webhook") {
                        line.push_str(&webhook_summary(w));
                    }
                } else {
                    let why = p.get("error").and_then(Value::as_str).unwrap_or("failed");
                    line.push_str(&format!("; probe failed: {why}"));
                }
            }
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One word for an account's state: `connected`, `disconnected` (running, reconnecting),
/// `stopped`, `disabled` or `not configured`.
fn account_state(a: &Value) -> &'static str {
    let flag = |k: &str| a.get(k).and_then(Value::as_bool).unwrap_or(false);
    if !flag("configured") {
        "not configured"
    } else if !flag("enabled") {
        "disabled"
    } else if flag("connected") {
        "connected"
    } else if flag("running") {
        "disconnected"
    } else {
        "stopped"
    }
}

/// `channels status --json`: one entry per account, in channel order: `name` (`telegram`,
/// or `telegram:<account>` beside the default account), `channel`, `account`, `status`
/// (see [`account_state`]), `latency_ms` (the live probe's round trip with `--probe`,
/// else null), then every field of the account's status as the gateway reports it.
fn entries(res: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(channels) = res.get("channels").and_then(Value::as_object) else {
        return out;
    };
    let order: Vec<&str> = res
        .get("channelOrder")
        .and_then(Value::as_array)
        .map(|o| o.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<&String> = channels.keys().collect();
    names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
    for name in names {
        let Some(accounts) = channels[name].get("accounts").and_then(Value::as_object) else {
            continue;
        };
        for (id, a) in accounts {
            let mut e = json!({
                "name": if id == openclaw_config::DEFAULT_ACCOUNT_ID { name.clone() } else { format!("{name}:{id}") },
                "channel": name,
                "account": id,
                "status": account_state(a),
                "latency_ms": a.pointer("/probe/elapsedMs").cloned().unwrap_or(Value::Null),
            });
            if let (Some(e), Some(a)) = (e.as_object_mut(), a.as_object()) {
                for (k, v) in a {
                    e.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            out.push(e);
        }
    }
    out
}

/// `; webhook registered (URL, N pending)` and the like, from the probe's webhook state.
fn webhook_summary(w: &Value) -> String {
    let text = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or("");
    let pending = w
        .get("pendingUpdateCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut out = match text("state") {
        "not configured" => "; long polling (webhook not configured)".to_owned(),
        "conflict" => format!("; long polling, but a webhook is set: {}", text("url")),
        "registered" => format!("; webhook registered ({}, {pending} pending)", text("url")),
        "not registered" => format!("; webhook not registered (wants {})", text("configuredUrl")),
        "mismatch" => format!(
            "; webhook mismatch (Telegram has {}, config wants {})",
            text("url"),
            text("configuredUrl")
        ),
        other => format!("; webhook state {other}: {}", text("error")),
    };
    if !text("lastErrorMessage").is_empty() {
        out.push_str(&format!(
            "; Telegram's last webhook error: {}",
            text("lastErrorMessage")
        ));
    }
    out
}

async fn toggle(global: &Global, opts: &ClientOpts, name: &str, enabled: bool) -> Result<ExitCode> {
    if !KNOWN.contains(&name) {
        bail!(
            "unknown channel {name:?}; this gateway runs: {}",
            KNOWN.join(", ")
        );
    }
    let local = Local::load(global)?;
    let target = local.target(opts);
    let mut client = match Client::connect(&target, ADMIN_SCOPES).await {
        Ok(c) => c,
        Err(e) => {
            local.warn_config();
            return Err(e.into());
        }
    };
    let result = async {
        let current = client.call("config.get", Some(json!({})), false).await?;
        let hash = current.get("hash").cloned().unwrap_or(Value::Null);
        let patch = json!({"channels": {name: {"enabled": enabled}}});
        client
            .call(
                "config.patch",
                Some(json!({"raw": patch, "baseHash": hash})),
                false,
            )
            .await
    }
    .await;
    client.close().await;
    let res = result?;
    if opts.json {
        print_json(&res);
    } else {
        println!(
            "Channel {name} {}",
            if enabled { "enabled" } else { "disabled" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
