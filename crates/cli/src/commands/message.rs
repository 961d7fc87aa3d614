//! `openclaw message send`: delivers a message through a channel of the running gateway
//! (the `send` RPC), so the bot token stays in the gateway.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use openclaw_protocol::scopes;
use serde_json::{Value, json};

use super::{Global, print_json};
use crate::client::call_once;
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
    /// Channel to send through.
    #[arg(long, default_value = "telegram")]
    channel: String,
    /// Recipient: a chat id (e.g. a Telegram user or group id).
    #[arg(long, allow_hyphen_values = true)]
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

/// Runs a `message` subcommand.
pub async fn run(global: &Global, cmd: MessageCmd) -> Result<ExitCode> {
    let MessageSub::Send(a) = cmd.sub;
    let local = Local::load(global)?;
    let target = local.target(&a.client);
    let mut params = json!({
        "to": a.to,
        "message": a.text,
        "channel": a.channel,
        "idempotencyKey": a.idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    });
    if let Some(acct) = a.account {
        params["accountId"] = json!(acct);
    }
    let res = match call_once(&target, &[scopes::WRITE], "send", Some(params), false).await {
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
        println!("Sent via {} (message id {id})", a.channel);
    }
    Ok(ExitCode::SUCCESS)
}
