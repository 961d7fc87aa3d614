//! `openclaw cache clear`: makes the running gateway forget its caches (`cache.clear`) and
//! prints what was cleared. The caches live only in the gateway's memory, so with no
//! gateway running for this instance there is nothing to clear, and the command says so.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};

use super::config::ADMIN_SCOPES;
use super::{Global, print_json};
use crate::client::{ClientError, call_once};
use crate::opts::ClientOpts;
use crate::target::Local;

/// Runs `cache clear`.
pub async fn clear(global: &Global, opts: &ClientOpts) -> Result<ExitCode> {
    let local = Local::load(global)?;
    let target = local.target(opts);
    let res = match call_once(&target, ADMIN_SCOPES, "cache.clear", Some(json!({})), false).await {
        Ok(r) => r,
        // The local instance, and nothing holds its lock: no process, so no caches.
        Err(ClientError::Unreachable { .. })
            if opts.url.is_none()
                && openclaw_gateway::lock::holder(&local.paths.lock_path())
                    .is_ok_and(|h| h.is_none()) =>
        {
            if opts.json {
                print_json(&json!({"ok": true, "running": false, "cleared": {}, "total": 0}));
            } else {
                println!(
                    "No gateway is running for {}: its caches live in its memory and went with it; nothing to clear.",
                    local.paths.state_dir.display()
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(ClientError::Rpc(e)) if opts.json => {
            print_json(&json!({ "ok": false, "error": e }));
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            local.warn_config();
            return Err(e.into());
        }
    };
    if opts.json {
        let mut v = res;
        v["running"] = json!(true);
        print_json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let parts: Vec<String> = res
        .get("cleared")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, n)| format!("{k}: {}", n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "Cleared {} cached entries ({}).",
        res.get("total").and_then(Value::as_u64).unwrap_or(0),
        parts.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
