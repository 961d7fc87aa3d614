//! The typed configuration.
//!
//! Every struct is `deny_unknown_fields` so that a typo (`gateway.prot`) is reported
//! instead of silently ignored, and `default` so that any subset of keys is a valid
//! file. Field names are camelCase on disk to match the original OpenClaw format.
//! Semantic checks that serde cannot express live in [`Config::validate`].

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The port the gateway listens on when `gateway.port` is not set.
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;

/// Smallest accepted `logging.maxFileBytes`; anything smaller would rotate on nearly
/// every line.
pub const MIN_LOG_FILE_BYTES: u64 = 1024;

/// Largest accepted `gateway.reload.debounceMs`; a longer delay would make config edits
/// look ignored.
pub const MAX_RELOAD_DEBOUNCE_MS: u64 = 60_000;

/// The whole configuration file.
///
/// `gateway`, `logging`, `models` and `agents` are typed. The other sections are accepted
/// as free JSON so existing OpenClaw files load; **they are not validated yet** and will be
/// given real types as the features that read them are implemented.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// Gateway server settings (listener, auth, reload, HTTP endpoints, UI).
    pub gateway: GatewayConfig,
    /// Log level, file and redaction settings.
    pub logging: LoggingConfig,
    /// Bookkeeping written by tools (e.g. last-touched version); free JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
    /// State of the onboarding wizard; free JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wizard: Option<serde_json::Value>,
    /// Agents and their model chains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<crate::agents::AgentsConfig>,
    /// Model providers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<crate::agents::ModelsConfig>,
    /// Messaging channel settings; free JSON, not validated yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<serde_json::Value>,
    /// Webhook/hook settings; free JSON, not validated yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<serde_json::Value>,
    /// Agent tool settings; free JSON, not validated yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<serde_json::Value>,
}

/// Whether this machine runs the gateway itself or talks to one elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayMode {
    /// Run the gateway on this machine.
    Local,
    /// Connect to a gateway on another host.
    Remote,
}

/// Which network interface the gateway listens on. Defaults to loopback so a fresh
/// install is never reachable from the network by accident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindMode {
    /// 127.0.0.1 only.
    Loopback,
    /// All interfaces (0.0.0.0).
    Lan,
    /// The address in `gateway.customBindHost`.
    Custom,
    /// Let the gateway choose (loopback unless something else is needed).
    Auto,
    /// The Tailscale interface address.
    Tailnet,
}

/// How clients prove they may connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// A shared bearer token (`gateway.auth.token`).
    Token,
    /// A shared password (`gateway.auth.password`).
    Password,
    /// No authentication; only sensible on loopback.
    None,
    /// Identity asserted by a reverse proxy listed in `gateway.trustedProxies`.
    TrustedProxy,
}

/// What the gateway does when the config file changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReloadMode {
    /// Ignore changes until the next manual restart.
    Off,
    /// Apply changes in place; changes that need a restart are ignored.
    Hot,
    /// Restart the gateway on any change.
    Restart,
    /// Apply what can be applied in place, restart for the rest.
    #[default]
    Hybrid,
}

/// Log verbosity, from nothing (`silent`) to everything (`trace`). The derived order
/// follows verbosity so `level >= LogLevel::Debug` means "at least as chatty as debug".
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Log nothing.
    Silent,
    /// Only unrecoverable errors.
    Fatal,
    /// Errors.
    Error,
    /// Warnings and errors.
    Warn,
    /// Normal operational messages.
    #[default]
    Info,
    /// Diagnostic detail.
    Debug,
    /// Everything, including per-frame tracing.
    Trace,
}

impl LogLevel {
    /// The on-disk spelling, for passing to logging backends and for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Silent => "silent",
            LogLevel::Fatal => "fatal",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// Console log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleStyle {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// A secret string (token, password).
///
/// `Debug` and `Display` print `[redacted]` so a secret cannot leak through a log line
/// or an error message by accident; call [`Secret::expose`] where the real value is
/// genuinely needed. Serialization is transparent (the real value), because the config
/// must round-trip to disk; use [`crate::redacted_json`] for anything shown to people.
/// Comparing two secrets with `==` is not constant-time; authentication code should
/// compare `expose()` bytes with a constant-time routine.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value as a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The real value. Named so uses are easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True if the secret is the empty string, which never counts as "configured".
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The `gateway` section: how the server listens and who may use it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Local or remote gateway; unset means local.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<GatewayMode>,
    /// Listening port; unset means [`DEFAULT_GATEWAY_PORT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Interface selection; unset means loopback (see [`GatewayConfig::effective_bind`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindMode>,
    /// IP address to bind when `bind` is `custom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_bind_host: Option<String>,
    /// Client authentication.
    pub auth: AuthConfig,
    /// Config hot-reload behaviour.
    pub reload: ReloadConfig,
    /// Optional OpenAI-compatible HTTP endpoints.
    pub http: HttpConfig,
    /// Allow/deny lists for tools invoked through the gateway.
    pub tools: ToolsPolicy,
    /// The browser control UI.
    pub control_ui: ControlUiConfig,
    /// Reverse proxies whose forwarded headers are trusted (IPs or CIDRs).
    pub trusted_proxies: Vec<String>,
}

impl GatewayConfig {
    /// The bind mode to use: the configured one, else loopback (safe by default).
    pub fn effective_bind(&self) -> BindMode {
        self.bind.unwrap_or(BindMode::Loopback)
    }

    /// The port to use: the configured one, else [`DEFAULT_GATEWAY_PORT`].
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_GATEWAY_PORT)
    }
}

/// The `gateway.auth` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Explicit auth mode; see [`AuthConfig::effective_mode`] for the fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<AuthMode>,
    /// Shared token for `token` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Shared password for `password` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Brute-force protection for failed auth attempts.
    pub rate_limit: RateLimitConfig,
    /// Whether Tailscale identity headers are accepted as authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_tailscale: Option<bool>,
}

impl AuthConfig {
    /// The auth mode in force: the explicit `mode`, else `password` when only a
    /// (non-empty) password is configured, else `token`. Token is the fallback so an
    /// unconfigured gateway still demands credentials rather than none.
    pub fn effective_mode(&self) -> AuthMode {
        if let Some(mode) = self.mode {
            return mode;
        }
        let has = |s: &Option<Secret>| s.as_ref().is_some_and(|s| !s.is_empty());
        if has(&self.password) && !has(&self.token) {
            AuthMode::Password
        } else {
            AuthMode::Token
        }
    }
}

/// The `gateway.auth.rateLimit` section: lock out a client after repeated failures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Failures allowed within `windowMs` before lockout.
    pub max_attempts: u32,
    /// Sliding window over which failures are counted, in milliseconds.
    pub window_ms: u64,
    /// How long a locked-out client is refused, in milliseconds.
    pub lockout_ms: u64,
    /// Whether loopback clients are exempt (local tools should not lock themselves out).
    pub exempt_loopback: bool,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            max_attempts: 10,
            window_ms: 60_000,
            lockout_ms: 300_000,
            exempt_loopback: true,
        }
    }
}

/// The `gateway.reload` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ReloadConfig {
    /// What to do on change.
    pub mode: ReloadMode,
    /// Quiet period after the last file event before reloading, so an editor's
    /// multi-step save triggers one reload.
    pub debounce_ms: u64,
}

impl Default for ReloadConfig {
    fn default() -> ReloadConfig {
        ReloadConfig {
            mode: ReloadMode::Hybrid,
            debounce_ms: 300,
        }
    }
}

/// The `gateway.http` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Individually switchable HTTP endpoints.
    pub endpoints: HttpEndpoints,
}

/// The `gateway.http.endpoints` section. All endpoints are off by default because each
/// widens the attack surface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HttpEndpoints {
    /// `POST /v1/chat/completions`.
    pub chat_completions: EndpointToggle,
    /// `POST /v1/responses`.
    pub responses: EndpointToggle,
}

/// An on/off switch for one endpoint; an object (not a bare bool) so per-endpoint
/// options can be added later without a format change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EndpointToggle {
    /// Whether the endpoint is served.
    pub enabled: bool,
}

/// The `gateway.tools` section: which tools remote callers may invoke.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ToolsPolicy {
    /// Tool names explicitly allowed.
    pub allow: Vec<String>,
    /// Tool names explicitly denied (deny wins over allow).
    pub deny: Vec<String>,
}

/// The `gateway.controlUi` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ControlUiConfig {
    /// Whether the browser UI is served.
    pub enabled: bool,
    /// URL prefix to serve it under (for reverse proxies); unset means `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
}

impl Default for ControlUiConfig {
    fn default() -> ControlUiConfig {
        ControlUiConfig {
            enabled: true,
            base_path: None,
        }
    }
}

/// The `logging` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// File log level.
    pub level: LogLevel,
    /// Log file; unset means [`crate::Paths::default_log_file`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Size at which the log file is rotated.
    pub max_file_bytes: u64,
    /// Console level; unset means the same as `level`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_level: Option<LogLevel>,
    /// Console format; unset means pretty on a terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_style: Option<ConsoleStyle>,
    /// Which log content to scrub of sensitive data (e.g. `"tools"` or `"off"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redact_sensitive: Option<String>,
    /// Extra regular expressions whose matches are scrubbed from logs.
    pub redact_patterns: Vec<String>,
}

impl Default for LoggingConfig {
    fn default() -> LoggingConfig {
        LoggingConfig {
            level: LogLevel::Info,
            file: None,
            max_file_bytes: 104_857_600,
            console_level: None,
            console_style: None,
            redact_sensitive: None,
            redact_patterns: Vec::new(),
        }
    }
}

impl Config {
    /// Checks the rules serde cannot express (ranges, cross-field requirements).
    ///
    /// Called by [`crate::parse_str`] after deserializing; call it again after changing
    /// a `Config` in code before using or saving it. Returns the first problem found as
    /// [`ConfigError::Invalid`] with the JSON path of the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |path: &str, message: String| {
            Err(ConfigError::Invalid {
                path: path.to_string(),
                message,
            })
        };
        let gw = &self.gateway;

        if gw.port == Some(0) {
            return invalid(
                "gateway.port",
                "port 0 is not allowed; use a TCP port between 1 and 65535".to_string(),
            );
        }

        if gw.bind == Some(BindMode::Custom) {
            match gw.custom_bind_host.as_deref() {
                None => {
                    return invalid(
                        "gateway.customBindHost",
                        "gateway.bind is \"custom\", so gateway.customBindHost must be set to an IP address such as \"192.168.1.10\" (or choose another bind mode)".to_string(),
                    );
                }
                Some(host) if host.parse::<IpAddr>().is_err() => {
                    return invalid(
                        "gateway.customBindHost",
                        format!(
                            "{host:?} is not an IP address; gateway.bind = \"custom\" needs a literal IPv4 or IPv6 address such as \"192.168.1.10\""
                        ),
                    );
                }
                Some(_) => {}
            }
        }

        let rl = &gw.auth.rate_limit;
        if rl.max_attempts == 0 {
            return invalid(
                "gateway.auth.rateLimit.maxAttempts",
                "must be greater than 0".to_string(),
            );
        }
        if rl.window_ms == 0 {
            return invalid(
                "gateway.auth.rateLimit.windowMs",
                "must be greater than 0 (milliseconds)".to_string(),
            );
        }
        if rl.lockout_ms == 0 {
            return invalid(
                "gateway.auth.rateLimit.lockoutMs",
                "must be greater than 0 (milliseconds)".to_string(),
            );
        }

        if gw.reload.debounce_ms > MAX_RELOAD_DEBOUNCE_MS {
            return invalid(
                "gateway.reload.debounceMs",
                format!(
                    "{} is too large; use at most {MAX_RELOAD_DEBOUNCE_MS} (one minute)",
                    gw.reload.debounce_ms
                ),
            );
        }

        crate::agents::validate(self.models.as_ref(), self.agents.as_ref())?;

        if self.logging.max_file_bytes < MIN_LOG_FILE_BYTES {
            return invalid(
                "logging.maxFileBytes",
                format!(
                    "{} is too small; use at least {MIN_LOG_FILE_BYTES} bytes",
                    self.logging.max_file_bytes
                ),
            );
        }

        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_documented_values() {
        let c = Config::default();
        assert_eq!(c.gateway.auth.rate_limit.max_attempts, 10);
        assert_eq!(c.gateway.auth.rate_limit.window_ms, 60_000);
        assert_eq!(c.gateway.auth.rate_limit.lockout_ms, 300_000);
        assert!(c.gateway.auth.rate_limit.exempt_loopback);
        assert_eq!(c.gateway.reload.mode, ReloadMode::Hybrid);
        assert_eq!(c.gateway.reload.debounce_ms, 300);
        assert!(!c.gateway.http.endpoints.chat_completions.enabled);
        assert!(!c.gateway.http.endpoints.responses.enabled);
        assert!(c.gateway.control_ui.enabled);
        assert_eq!(c.logging.level, LogLevel::Info);
        assert_eq!(c.logging.max_file_bytes, 104_857_600);
        assert_eq!(c.gateway.effective_bind(), BindMode::Loopback);
        assert_eq!(c.gateway.effective_port(), DEFAULT_GATEWAY_PORT);
        assert_eq!(c.gateway.auth.effective_mode(), AuthMode::Token);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn enums_use_documented_spelling() {
        assert_eq!(
            serde_json::to_value(AuthMode::TrustedProxy).unwrap(),
            "trusted-proxy"
        );
        assert_eq!(serde_json::to_value(BindMode::Tailnet).unwrap(), "tailnet");
        assert_eq!(serde_json::to_value(ReloadMode::Hybrid).unwrap(), "hybrid");
        assert_eq!(serde_json::to_value(LogLevel::Warn).unwrap(), "warn");
        assert_eq!(serde_json::to_value(ConsoleStyle::Json).unwrap(), "json");
        assert_eq!(serde_json::to_value(GatewayMode::Remote).unwrap(), "remote");
        assert_eq!(LogLevel::Debug.as_str(), "debug");
        assert!(LogLevel::Trace > LogLevel::Info);
    }

    #[test]
    fn effective_auth_mode_rules() {
        let mut a = AuthConfig {
            password: Some(Secret::new("pw")),
            ..AuthConfig::default()
        };
        assert_eq!(a.effective_mode(), AuthMode::Password);
        a.token = Some(Secret::new("t"));
        assert_eq!(a.effective_mode(), AuthMode::Token);
        a.mode = Some(AuthMode::None);
        assert_eq!(a.effective_mode(), AuthMode::None);
        let empty_pw = AuthConfig {
            password: Some(Secret::new("")),
            ..AuthConfig::default()
        };
        assert_eq!(empty_pw.effective_mode(), AuthMode::Token);
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let auth = AuthConfig {
            token: Some(s.clone()),
            ..AuthConfig::default()
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(serde_json::to_value(&s).unwrap(), "hunter2");
    }

    #[test]
    fn validate_rules() {
        let mut c = Config::default();
        c.gateway.port = Some(0);
        assert!(
            matches!(c.validate(), Err(ConfigError::Invalid { path, .. }) if path == "gateway.port")
        );

        let mut c = Config::default();
        c.gateway.bind = Some(BindMode::Custom);
        assert!(
            matches!(c.validate(), Err(ConfigError::Invalid { path, .. }) if path == "gateway.customBindHost")
        );
        c.gateway.custom_bind_host = Some("example.com".into());
        assert!(c.validate().is_err());
        c.gateway.custom_bind_host = Some("::1".into());
        assert!(c.validate().is_ok());

        let mut c = Config::default();
        c.logging.max_file_bytes = 1023;
        assert!(c.validate().is_err());
        c.logging.max_file_bytes = 1024;
        assert!(c.validate().is_ok());

        let mut c = Config::default();
        c.gateway.reload.debounce_ms = 60_001;
        assert!(c.validate().is_err());
        c.gateway.reload.debounce_ms = 60_000;
        assert!(c.validate().is_ok());

        for which in 0..3 {
            let mut c = Config::default();
            match which {
                0 => c.gateway.auth.rate_limit.max_attempts = 0,
                1 => c.gateway.auth.rate_limit.window_ms = 0,
                _ => c.gateway.auth.rate_limit.lockout_ms = 0,
            }
            assert!(c.validate().is_err());
        }
    }

    #[test]
    fn default_config_round_trips() {
        let c = Config::default();
        let v = serde_json::to_value(&c).unwrap();
        let back: Config = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
