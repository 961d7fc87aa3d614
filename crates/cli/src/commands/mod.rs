//! One module per command.

pub mod agent;
pub mod audit;
pub mod cache;
pub mod call;
pub mod channels;
pub mod completion;
pub mod config;
pub mod dashboard;
pub mod doctor;
pub mod gateway_status;
pub mod health;
pub mod logs;
pub mod message;
pub mod providers;
pub mod run;
pub mod secrets;
pub mod service;
pub mod sessions;
pub mod setup;
pub mod status;
pub mod tools;

use anyhow::bail;
use openclaw_protocol::scopes;
use serde_json::{Value, json};

use crate::client::{ClientError, call_once};
use crate::opts::ClientOpts;
use crate::target::Local;

/// Flags that apply to every command.
pub struct Global {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--dev`.
    pub dev: bool,
}

/// Scopes read-only commands ask for.
pub const READ_SCOPES: &[&str] = &[scopes::READ];

/// Prints a JSON value, pretty.
pub fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// Formats milliseconds as a short duration (`3d 4h`, `5m 2s`, `800ms`).
pub fn human_ms(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Asks the running gateway to reload something (`config.reload`, `secrets.reload`) with
/// admin scopes; `--json` prints the answer. A refusal is reported as `{ok: false, error}`
/// with `--json`, else as the error "`what` not reloaded: …`note`"; an answer with
/// `ok: false` is reported on stderr. Both give `None`: reported, exit 1.
pub async fn reload_call(
    global: &Global,
    opts: &ClientOpts,
    method: &str,
    what: &str,
    note: &str,
) -> anyhow::Result<Option<Value>> {
    let local = Local::load(global)?;
    let target = local.target(opts);
    let res = match call_once(
        &target,
        config::ADMIN_SCOPES,
        method,
        Some(json!({})),
        false,
    )
    .await
    {
        Ok(r) => r,
        Err(ClientError::Rpc(e)) if opts.json => {
            print_json(&json!({ "ok": false, "error": e }));
            return Ok(None);
        }
        Err(ClientError::Rpc(e)) => bail!("{what} not reloaded: {e}{note}"),
        Err(e) => {
            local.warn_config();
            return Err(e.into());
        }
    };
    if opts.json {
        print_json(&res);
    }
    if res.get("ok").and_then(Value::as_bool) == Some(false) {
        if !opts.json {
            let why = ["error", "reason", "message"]
                .iter()
                .find_map(|k| res.get(*k).and_then(Value::as_str))
                .unwrap_or("the gateway gave no reason");
            let mut shown = what.to_owned();
            if let Some(first) = shown.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            eprintln!("{shown} not reloaded: {why}");
        }
        return Ok(None);
    }
    Ok(Some(res))
}
