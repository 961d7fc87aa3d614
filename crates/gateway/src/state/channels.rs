//! What the rest of the gateway may ask of the messaging channels: [`ChannelControl`].
//!
//! The channel supervisor is a transport (it sits above agents and RPC), yet `health`,
//! `/readyz`, `channels.status` and `send` need to reach it. Rather than have state and
//! RPC import the transport, state owns this narrow interface and the supervisor
//! implements it; the process wires the two together at start-up.

use futures_util::future::BoxFuture;
use openclaw_config::{Config, Secret};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// One update a channel's webhook received, handed from the HTTP transport to the
/// account that registered the path. `ack` answers once the update is recorded (or could
/// not be), which is when the HTTP request may be answered.
#[derive(Debug)]
pub struct WebhookDelivery {
    /// The request body, a JSON object.
    pub body: Value,
    /// Recorded durably, or why not.
    pub ack: oneshot::Sender<Result<(), ChannelError>>,
}

/// Where a webhook path leads: the account listening there and the secret its deliveries
/// must carry.
#[derive(Clone, Debug)]
pub struct WebhookTarget {
    /// Channel name (`telegram`).
    pub channel: &'static str,
    /// Account id.
    pub account: String,
    /// The shared secret (compared in constant time by the transport).
    pub secret: Secret,
    /// The account's intake.
    pub tx: mpsc::Sender<WebhookDelivery>,
}

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
    /// The account receiving webhooks on `path`, if one is listening there now.
    fn webhook(&self, path: &str) -> Option<WebhookTarget>;
    /// Sends `text` to `to` through a channel account (the `send` RPC).
    fn send<'a>(
        &'a self,
        channel: &'a str,
        account: Option<&'a str>,
        to: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Value, ChannelError>>;
}
