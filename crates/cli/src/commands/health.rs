//! `openclaw health`.

use std::process::ExitCode;

use serde_json::Value;

use super::{Global, READ_SCOPES, human_ms, print_json};
use crate::opts::ClientOpts;
use crate::target::Local;

/// Prints the health snapshot; non-zero exit when the gateway cannot be reached.
pub async fn run(global: &Global, opts: &ClientOpts) -> anyhow::Result<ExitCode> {
    let local = Local::load(global)?;
    let target = local.target(opts);
    let health = local.call(&target, READ_SCOPES, "health", None).await?;
    if opts.json {
        print_json(&health);
    } else {
        let ok = health.get("ok").and_then(Value::as_bool).unwrap_or(false);
        println!(
            "Gateway: {} ({}), version {}, up {}",
            if ok { "ok" } else { "unhealthy" },
            target.url,
            health.get("version").and_then(Value::as_str).unwrap_or("?"),
            human_ms(health.get("uptimeMs").and_then(Value::as_u64).unwrap_or(0)),
        );
        println!(
            "Connections: {}",
            health
                .get("connections")
                .and_then(Value::as_u64)
                .unwrap_or(0)
        );
        let channels = health.get("channels").and_then(Value::as_object);
        match channels {
            Some(c) if !c.is_empty() => {
                for (name, v) in c {
                    println!("Channel {name}: {v}");
                }
            }
            _ => println!("Channels: none configured"),
        }
        if !ok {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
