//! The connection flags every client command takes.

use clap::Args;

/// Flags every client command takes.
#[derive(Args, Clone)]
pub struct ClientOpts {
    /// Gateway WebSocket URL (default: ws://127.0.0.1:<configured port>).
    #[arg(long)]
    pub url: Option<String>,
    /// Gateway token (default: OPENCLAW_GATEWAY_TOKEN, then gateway.auth.token).
    #[arg(long)]
    pub token: Option<String>,
    /// Gateway password (default: OPENCLAW_GATEWAY_PASSWORD, then gateway.auth.password).
    #[arg(long)]
    pub password: Option<String>,
    /// Timeout in milliseconds for connecting and for each call.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout: u64,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}
