//! The `connect` request parameters and the `hello-ok` payload.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Parameters of the first request on every connection. Unknown fields are accepted and
/// ignored so that newer clients keep working.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectParams {
    /// Lowest protocol version the client speaks.
    pub min_protocol: u32,
    /// Highest protocol version the client speaks.
    pub max_protocol: u32,
    /// Who is connecting.
    #[serde(default)]
    pub client: ClientInfo,
    /// Optional client capabilities (e.g. `tool-events`).
    #[serde(default)]
    pub caps: Vec<String>,
    /// Shared-secret credentials.
    #[serde(default)]
    pub auth: Option<ConnectAuth>,
    /// `operator` (default) or `node`.
    #[serde(default)]
    pub role: Option<String>,
    /// Scopes the client asks for.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Device identity (accepted, not verified by this gateway).
    #[serde(default)]
    pub device: Option<Value>,
    /// Commands a node offers.
    #[serde(default)]
    pub commands: Option<Value>,
    /// Permission toggles a node declares.
    #[serde(default)]
    pub permissions: Option<Value>,
    /// Client locale.
    #[serde(default)]
    pub locale: Option<String>,
    /// Client user agent.
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// `connect.params.client`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    /// Client kind, e.g. `cli`, `webchat`.
    #[serde(default)]
    pub id: String,
    /// Client version.
    #[serde(default)]
    pub version: String,
    /// OS platform.
    #[serde(default)]
    pub platform: String,
    /// Device family, e.g. `Linux`.
    #[serde(default)]
    pub device_family: Option<String>,
    /// `cli`, `operator`, `node`, `backend`, …
    #[serde(default)]
    pub mode: String,
    /// Stable per-process instance id.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `connect.params.auth`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectAuth {
    /// Shared gateway token.
    #[serde(default)]
    pub token: Option<String>,
    /// Shared gateway password.
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for ConnectAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectAuth")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The payload of a successful `connect` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloOk {
    /// Always `hello-ok`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The negotiated protocol version.
    pub protocol: u32,
    /// Server identity.
    pub server: HelloServer,
    /// What this gateway serves.
    pub features: HelloFeatures,
    /// Presence, health and session defaults at connect time.
    pub snapshot: Value,
    /// Negotiated role and scopes.
    pub auth: HelloAuth,
    /// Limits the client must respect.
    pub policy: HelloPolicy,
}

/// `hello-ok.server`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloServer {
    /// Gateway version.
    pub version: String,
    /// Id of this connection, also seen in `system-presence`.
    pub conn_id: String,
}

/// `hello-ok.features`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HelloFeatures {
    /// Every method this gateway serves.
    pub methods: Vec<String>,
    /// Every event this gateway may send.
    pub events: Vec<String>,
    /// The contracts this gateway implements, by the original's capability names
    /// (`methods::capabilities`); absent from older gateways.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// `hello-ok.auth`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HelloAuth {
    /// `operator` or `node`.
    pub role: String,
    /// Effective scopes of this connection.
    pub scopes: Vec<String>,
}

/// `hello-ok.policy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloPolicy {
    /// Largest accepted frame in bytes.
    pub max_payload: usize,
    /// Outbound buffer limit before a slow client is disconnected.
    pub max_buffered_bytes: usize,
    /// Interval of `tick` events.
    pub tick_interval_ms: u64,
}

impl Default for HelloPolicy {
    fn default() -> Self {
        Self {
            max_payload: crate::MAX_PAYLOAD_BYTES,
            max_buffered_bytes: crate::MAX_BUFFERED_BYTES,
            tick_interval_ms: crate::TICK_INTERVAL_MS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame the real `openclaw` 2026.9.6 CLI sends.
    #[test]
    fn parses_real_cli_connect() {
        let raw = r#"{"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","mode":"cli","instanceId":"6c1f"},"caps":[],"auth":{"token":"t"},"role":"operator","scopes":["operator.read"],"futureField":1}"#;
        let p: ConnectParams = serde_json::from_str(raw).unwrap();
        assert_eq!(p.client.id, "cli");
        assert_eq!(p.scopes.unwrap(), vec!["operator.read"]);
        assert_eq!(p.auth.clone().unwrap().token.as_deref(), Some("t"));
        assert!(format!("{:?}", p.auth.unwrap()).contains("[redacted]"));
    }
}
