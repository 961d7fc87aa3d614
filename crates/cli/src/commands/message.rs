//! `openclaw message send`: delivers a message through a channel of the running gateway
//! (the `send` RPC), so the bot token stays in the gateway; or, when `--to` names one of
//! the gateway's agents and no `--channel` is given, to that agent's main session as a
//! turn (the `agent` RPC), printing the reply.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use openclaw_protocol::scopes;
use serde_json::{Value, json};

use super::{Global, print_json};
use crate::client::Client;
use crate::opts::ClientOpts;
use crate::target::Local;

/// `openclaw message …`.
#[derive(Args)]
pub struct MessageCmd {
    #[command(subcommand)]
    sub: MessageSub,
}

#[derive(Subcommand)]
enum MessageSub {
    /// Send a text message to a chat.
    Send(SendArgs),
}

#[derive(Args)]
struct SendArgs {
    /// Channel to send through (default: telegram, unless --to names an agent).
    #[arg(long)]
    channel: Option<String>,
    /// Recipient: a chat id (e.g. a Telegram user or group id), or an agent id (then the
    /// text is a turn in that agent's main session and the reply is printed).
    #[arg(
        long,
        short = 't',
        visible_alias = "target",
        allow_hyphen_values = true
    )]
    to: String,
    /// The text to send.
    #[arg(
        long,
        visible_alias = "message",
        short = 'm',
        allow_hyphen_values = true
    )]
    text: String,
    /// Account of the channel (default: its default account).
    #[arg(long)]
    account: Option<String>,
    /// Idempotency key (default: a new random one); reuse it to retry without resending.
    #[arg(long)]
    idempotency_key: Option<String>,
    #[command(flatten)]
    client: ClientOpts,
}

/// The channel used when `--channel` is not given and `--to` is no agent.
const DEFAULT_CHANNEL: &str = "telegram";

/// Runs a `message` subcommand.
pub async fn run(global: &Global, cmd: MessageCmd) -> Result<ExitCode> {
    let MessageSub::Send(a) = cmd.sub;
    let local = Local::load(global)?;
    let target = local.target(&a.client);
    // One connection for the agent lookup and the send.
    let mut client = match Client::connect(&target, &[scopes::READ, scopes::WRITE]).await {
        Ok(c) => c,
        Err(e) => {
            local.warn_config();
            return Err(e.into());
        }
    };
    if a.channel.is_none() {
        let agents = client.call("agents.list", None, false).await?;
        let is_agent = agents["agents"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["id"].as_str() == Some(a.to.as_str())));
        if is_agent {
            let out = to_agent(&mut client, &a).await;
            client.close().await;
            return out;
        }
    }
    let channel = a.channel.clone().unwrap_or_else(|| DEFAULT_CHANNEL.into());
    let mut params = json!({
        "to": a.to,
        "message": a.text,
        "channel": channel,
        "idempotencyKey": a.idempotency_key.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    });
    if let Some(acct) = &a.account {
        params["accountId"] = json!(acct);
    }
    let sent = client.call("send", Some(params), false).await;
    client.close().await;
    let res = match sent {
        Ok(r) => r,
        Err(e) => {
            local.warn_config();
            return Err(e.into());
        }
    };
    if a.client.json {
        print_json(&res);
    } else {
        let id = res
            .get("messageId")
            .map(Value::to_string)
            .unwrap_or_else(|| "?".into());
        println!("Sent via {channel} (message id {id})");
    }
    Ok(ExitCode::SUCCESS)
}

/// The text as a turn of agent `--to` in its main session; prints the reply (`--json`:
/// the run's final result). A run that ends in an error exits 1 with its reason.
async fn to_agent(client: &mut Client, a: &SendArgs) -> Result<ExitCode> {
    let params = json!({
        "message": a.text,
        "agentId": a.to,
        "idempotencyKey": a.idempotency_key.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    });
    let res = client.call("agent", Some(params), true).await?;
    if a.client.json {
        print_json(&res);
    }
    match res.get("status").and_then(Value::as_str) {
        Some("ok") => {
            if !a.client.json {
                println!("{}", res["summary"].as_str().unwrap_or_default());
            }
            Ok(ExitCode::SUCCESS)
        }
        status => {
            if !a.client.json {
                let why = res["error"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| res["error"].to_string());
                eprintln!(
                    "Error: agent {} did not answer ({}): {why}",
                    a.to,
                    status.unwrap_or("no status")
                );
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
