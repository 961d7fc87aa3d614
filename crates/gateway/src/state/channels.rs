//! What the rest of the gateway may ask of the messaging channels: [`ChannelControl`].
//!
//! The channel supervisor is a transport (it sits above agents and RPC), yet `health`,
//! `/readyz`, `channels.status` and `send` need to reach it. Rather than have state and
//! RPC import the transport, state owns this narrow interface and the supervisor
//! implements it; the process wires the two together at start-up.

use futures_util::future::BoxFuture;
use openclaw_config::Config;
use serde_json::Value;

/// Why a channel operation failed. Messages never contain credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChannelError {
    /// The service could not be reached or the connection broke.
    #[error("network error: {0}")]
    Network(String),
    /// The service answered with an error.
    #[error("API error {code}: {description}")]
    Api {
        /// HTTP or API error code.
        code: u16,
        /// The service's description.
        description: String,
        /// Seconds to wait before retrying (429).
        retry_after: Option<u64>,
    },
    /// The account cannot run as configured.
    #[error("not configured: {0}")]
    Config(String),
    /// Local state (offset file, transcript) could not be read or written.
    #[error("local state: {0}")]
    Storage(String),
    /// The gateway is not serving (between generations or shutting down).
    #[error("gateway unavailable")]
    Unavailable,
    /// No such channel or account.
    #[error("{0}")]
    NotFound(String),
}

/// The channel supervisor as seen from state, RPC and HTTP.
pub trait ChannelControl: Send + Sync + 'static {
    /// Brings the running accounts in line with `config` (start-up, reload, restart).
    fn apply(&self, config: &Config);
    /// Stops every account (process shutdown).
    fn stop_all(&self);
    /// `{<channel>: {accounts: {<id>: status}}}` for `health` and `status`.
    fn snapshot(&self) -> Value;
    /// Channels that have at least one account, in display order.
    fn order(&self) -> Vec<&'static str>;
    /// `channel:<channel>:<account>` for each required account that is down (`/readyz`).
    fn failing_required(&self) -> Vec<String>;
    /// `channels.status`: every account, with a live credential check when `probe`.
    fn status(&self, probe: bool) -> BoxFuture<'_, Value>;
    /// Sends `text` to `to` through a channel account (the `send` RPC).
    fn send<'a>(
        &'a self,
        channel: &'a str,
        account: Option<&'a str>,
        to: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Value, ChannelError>>;
}
