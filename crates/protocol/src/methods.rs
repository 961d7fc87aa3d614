//! Method and event names.
//!
//! Names are constants rather than an enum so that an unknown method from a newer client can
//! be reported by name ("unknown method: X") instead of failing to deserialize.

/// The handshake method; valid only as the first frame.
pub const CONNECT: &str = "connect";
/// Health snapshot; needs no scope.
pub const HEALTH: &str = "health";
/// Gateway status summary.
pub const STATUS: &str = "status";
/// Connected clients.
pub const SYSTEM_PRESENCE: &str = "system-presence";
/// Tail of the gateway log file.
pub const LOGS_TAIL: &str = "logs.tail";
/// The active config with secrets redacted.
pub const CONFIG_GET: &str = "config.get";

/// Capability names a gateway advertises in `connect.challenge` and
/// `hello-ok.features.capabilities`, spelled as the original gateway spells them (its
/// clients check for these exact strings).
pub mod capabilities {
    /// `models.list` reads a published catalog and takes the `view`, `provider`,
    /// `includeDetails` and `preparedOnly` controls; the original CLI's `models list`
    /// requires it.
    pub const PUBLISHED_MODEL_CATALOG: &str = "published-model-catalog";
}

/// Events the gateway may send.
pub mod events {
    /// Sent on socket open, before `connect`.
    pub const CONNECT_CHALLENGE: &str = "connect.challenge";
    /// Keep-alive, every `tickIntervalMs`.
    pub const TICK: &str = "tick";
    /// Health snapshot changed (also sent right after `hello-ok`).
    pub const HEALTH: &str = "health";
    /// A client connected or disconnected.
    pub const PRESENCE: &str = "presence";
    /// The gateway is stopping or restarting.
    pub const SHUTDOWN: &str = "shutdown";
    /// A host command waits for an operator's approval (sent to `operator.approvals`).
    pub const EXEC_APPROVAL_REQUESTED: &str = "exec.approval.requested";
    /// An approval request was answered or timed out.
    pub const EXEC_APPROVAL_RESOLVED: &str = "exec.approval.resolved";
}
