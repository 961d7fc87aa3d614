//! The typed configuration.
//!
//! Every struct is `deny_unknown_fields` so that a typo (`gateway.prot`) is reported
//! instead of silently ignored, and `default` so that any subset of keys is a valid
//! file. Field names are camelCase on disk to match the original OpenClaw format.
//! Semantic checks that serde cannot express live in [`Config::validate`].

use std::net::IpAddr;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::secrets::SecretRef;

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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Session lifecycle (`session.reset`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionConfig>,
    /// Where session transcripts are stored (`sessions.store`): JSONL files in the state
    /// directory (the default) or a Postgres database shared by several gateways.
    /// Changing it takes a gateway process restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionsConfig>,
    /// Plugin settings the original OpenClaw writes on its own (e.g. on `config set`);
    /// kept as written so its files load unchanged. This gateway runs no plugins, so
    /// nothing reads them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<serde_json::Value>,
    /// Agents and their model chains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<crate::agents::AgentsConfig>,
    /// Model providers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<crate::agents::ModelsConfig>,
    /// Messaging channels (Telegram typed; other channels kept as free JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<crate::channels::ChannelsConfig>,
    /// Authenticated webhook endpoints (`/hooks/wake`, `/hooks/agent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<crate::channels::HooksConfig>,
    /// Agent tool policy (`profile`, `allow` / `alsoAllow` / `deny`, `sandbox.tools`),
    /// `exec` and `web.fetch` settings. Keys this gateway does not implement are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<crate::tools::ToolsConfig>,
}

/// Whether this machine runs the gateway itself or talks to one elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GatewayMode {
    /// Run the gateway on this machine.
    Local,
    /// Connect to a gateway on another host.
    Remote,
}

/// Which network interface the gateway listens on. Defaults to loopback so a fresh
/// install is never reachable from the network by accident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
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

/// Console log format (`logging.consoleStyle`); unset means `pretty` when stderr is a
/// terminal and `compact` otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleStyle {
    /// `HH:MM:SS level [subsystem] message key=value…`, coloured on a terminal (unless
    /// `NO_COLOR` is set).
    Pretty,
    /// The same without the time and never coloured, for supervisors and journals that
    /// stamp lines themselves.
    Compact,
    /// One JSON object per line, the same record as the log file, for log shippers.
    Json,
}

/// What `logging.redactSensitive` scrubs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RedactSensitive {
    /// Log field values are written as they are, even for fields named like secrets
    /// (`token`, `apiKey`, …). `logging.redactPatterns` still applies, and `config.get`,
    /// `openclaw config get` and other surfaces that show secrets stay redacted
    /// regardless.
    Off,
    /// The values of log fields whose names look secret are written as `[redacted]`.
    #[default]
    Tools,
}

/// A secret (token, password, API key): either the value itself or a [`SecretRef`]
/// saying where to fetch it.
///
/// On disk a secret field holds either a plain string (`"hunter2"`, or `"${VAR}"` which
/// the loader substitutes) or a SecretRef object such as
/// `{ source: "env", id: "OPENAI_API_KEY" }`. References exist so that a config file can
/// be shared, committed or shown without containing credentials; they are turned into
/// values by [`crate::resolve_secrets`] just before use.
///
/// `Debug` and `Display` print `[redacted]` (for both forms) so a secret cannot leak
/// through a log line or an error message by accident; call [`Secret::expose`] where the
/// real value is genuinely needed. Serialization writes back exactly the form that was
/// read (the real string, or the reference object), because the config must round-trip
/// to disk; use [`crate::redacted_json`] for anything shown to people.
/// Comparing two secrets with `==` is not constant-time; authentication code should
/// compare `expose()` bytes with a constant-time routine.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(SecretValue);

/// The two on-disk forms of a [`Secret`]. Private so the representation can grow (e.g.
/// zeroize-on-drop) without breaking callers.
#[derive(Clone, PartialEq, Eq)]
enum SecretValue {
    /// The value itself.
    Plain(String),
    /// A pointer to the value, resolved by [`crate::resolve_secrets`].
    Ref(SecretRef),
}

impl Default for Secret {
    /// The empty plain string, which never counts as "configured".
    fn default() -> Secret {
        Secret(SecretValue::Plain(String::new()))
    }
}

impl Secret {
    /// Wraps a value as a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(SecretValue::Plain(value.into()))
    }

    /// A secret whose value lives elsewhere (environment, file, command); see
    /// [`SecretRef`]. Used when writing configs that must not contain the value.
    pub fn from_ref(reference: SecretRef) -> Secret {
        Secret(SecretValue::Ref(reference))
    }

    /// The real value. Named so uses are easy to audit.
    ///
    /// For a [`SecretRef`] this returns `""`: the value is not known until it is
    /// fetched, and fetching (which may run a command) must not happen behind a getter.
    /// Code that needs values must call [`crate::resolve_secrets`] once and read the
    /// returned config, where every reference has been replaced by its value.
    pub fn expose(&self) -> &str {
        match &self.0 {
            SecretValue::Plain(s) => s,
            SecretValue::Ref(_) => "",
        }
    }

    /// True if the secret is the empty string, which never counts as "configured".
    ///
    /// A [`SecretRef`] is never empty: it states that a value is configured (fetching it
    /// may still fail, which [`crate::resolve_secrets`] reports), so e.g.
    /// [`AuthConfig::effective_mode`] treats a referenced password as set.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            SecretValue::Plain(s) => s.is_empty(),
            SecretValue::Ref(_) => false,
        }
    }

    /// The reference, if this secret is a [`SecretRef`] rather than a value. Lets
    /// `openclaw secrets list` and the resolver tell the two forms apart without ever
    /// touching a value.
    pub fn as_ref_source(&self) -> Option<&SecretRef> {
        match &self.0 {
            SecretValue::Plain(_) => None,
            SecretValue::Ref(r) => Some(r),
        }
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl From<SecretRef> for Secret {
    fn from(reference: SecretRef) -> Secret {
        Secret::from_ref(reference)
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

impl Serialize for Secret {
    /// Writes the form that was read: the string, or the reference object.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            SecretValue::Plain(s) => serializer.serialize_str(s),
            SecretValue::Ref(r) => r.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Accepts a string or a SecretRef object. Hand-written rather than
    /// `#[serde(untagged)]` so that a bad reference reports the real problem at its own
    /// path (e.g. `gateway.auth.token.source: unknown variant`) instead of "did not match
    /// any variant".
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// Visitor behind [`Secret`]'s `Deserialize`.
struct SecretVisitor;

impl<'de> serde::de::Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "a string or a SecretRef object like { source: \"env\", id: \"MY_TOKEN\" } (source is env, file or exec)",
        )
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Secret, A::Error> {
        SecretRef::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            .map(Secret::from_ref)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        "openclaw_config::Secret".into()
    }

    /// `string | SecretRef`, mirroring what `Deserialize` accepts.
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let reference = generator.subschema_for::<SecretRef>();
        schemars::json_schema!({
            "description": "A secret: the value itself (a string, may use ${VAR}) or a SecretRef object saying where to fetch it.",
            "anyOf": [{ "type": "string" }, reference]
        })
    }
}

/// The `gateway` section: how the server listens and who may use it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Log a `timing` line for each HTTP request and each agent turn (phases in ms).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub log_timings: bool,
    /// Resident memory the gateway should stay under (`"512m"`, `"1g"` or bytes): past it
    /// new agent runs are refused (retryable) and `/readyz` fails until it drops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<serde_json::Value>,
    /// TLS on the gateway port.
    pub tls: crate::edge::TlsConfig,
    /// Request budget per client (runbook spelling `gateway.rate_limit`).
    pub rate_limit: crate::edge::RequestRateLimitConfig,
    /// Connection cap and timeouts of the port.
    pub performance: crate::edge::PerformanceConfig,
    /// `GET /metrics`.
    pub metrics: crate::edge::MetricsConfig,
    /// The remote gateway clients use in `remote` mode (client-side only).
    pub remote: crate::edge::RemoteConfig,
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Failures allowed within `windowMs` before lockout.
    pub max_attempts: u32,
    /// Sliding window over which failures are counted, in milliseconds.
    pub window_ms: u64,
    /// How long a locked-out client is refused, in milliseconds.
    pub lockout_ms: u64,
    /// Whether loopback clients are exempt (local tools should not lock themselves out):
    /// from lockout (never a request with an `Origin`), and from the per-address cap on
    /// unauthenticated connections (a local reverse proxy puts every client on loopback).
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Individually switchable HTTP endpoints.
    pub endpoints: HttpEndpoints,
}

/// The `gateway.http.endpoints` section. All endpoints are off by default because each
/// widens the attack surface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HttpEndpoints {
    /// `POST /v1/chat/completions`.
    pub chat_completions: EndpointToggle,
    /// `POST /v1/responses`.
    pub responses: EndpointToggle,
}

/// An on/off switch for one endpoint; an object (not a bare bool) so per-endpoint
/// options can be added later without a format change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EndpointToggle {
    /// Whether the endpoint is served.
    pub enabled: bool,
}

/// The `gateway.tools` section: which tools remote callers may invoke.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ToolsPolicy {
    /// Tool names explicitly allowed.
    pub allow: Vec<String>,
    /// Tool names explicitly denied (deny wins over allow).
    pub deny: Vec<String>,
}

/// The `gateway.controlUi` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ControlUiConfig {
    /// Whether the browser UI is served.
    pub enabled: bool,
    /// URL prefix to serve it under (for reverse proxies); unset means `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    /// Browser origins (`https://host[:port]`) allowed besides the gateway's own; `"*"`
    /// allows any origin (an explicit allow-all, flagged by `security audit`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
}

impl Default for ControlUiConfig {
    fn default() -> ControlUiConfig {
        ControlUiConfig {
            enabled: true,
            base_path: None,
            allowed_origins: Vec::new(),
        }
    }
}

/// The `session` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SessionConfig {
    /// When a session starts over with a fresh transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset: Option<SessionReset>,
}

/// The `sessions` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// The transcript store backend.
    pub store: SessionStoreConfig,
}

/// `sessions.store`: which backend holds the transcripts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SessionStoreConfig {
    /// `"files"` (default): one JSONL file per session under
    /// `<stateDir>/agents/<agentId>/sessions/`. `"postgres"`: rows in the database at
    /// `url`, which several gateways may share.
    pub backend: SessionBackend,
    /// For `backend: "postgres"`: `postgres://user:password@host:port/database` (may
    /// use `${VAR}` or be a SecretRef). Connected without TLS, so `sslmode=require` is
    /// refused; meant for loopback or a private network. Not allowed with `"files"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
}

/// The value of `sessions.store.backend`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionBackend {
    /// JSONL files in the state directory.
    #[default]
    Files,
    /// A Postgres database (`sessions.store.url`).
    Postgres,
}

/// `session.reset`: only the idle policy is implemented here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionReset {
    /// `"idle"`: a session untouched for `idleMinutes` starts over on its next message.
    pub mode: String,
    /// Minutes of inactivity before the reset (fractions allowed).
    pub idle_minutes: f64,
}

/// The `logging` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// File log level.
    pub level: LogLevel,
    /// Log file; unset means [`crate::Paths::default_log_file`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Size at which the log file is rotated (0: never).
    pub max_file_bytes: u64,
    /// Rotated files kept beside the active one (`<file>.1` …), 1 to 100.
    pub max_files: u32,
    /// Console level; unset means `info` (`--verbose` raises it to `debug`). Independent
    /// of `level`, which only governs the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_level: Option<LogLevel>,
    /// Console format; unset means pretty on a terminal, compact otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_style: Option<ConsoleStyle>,
    /// Which log content to scrub of sensitive data by field name; unset means `tools`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redact_sensitive: Option<RedactSensitive>,
    /// Regular expressions whose matches are replaced by `[redacted]` in the message and
    /// every field value of each log record (file, console and `logs.tail`). A plain
    /// string is case-insensitive; `/pattern/flags` picks the flags. With capture groups
    /// only the last group that matched is replaced. Checked when the config is loaded.
    pub redact_patterns: Vec<String>,
}

impl Default for LoggingConfig {
    fn default() -> LoggingConfig {
        LoggingConfig {
            level: LogLevel::Info,
            file: None,
            max_file_bytes: 104_857_600,
            max_files: 5,
            console_level: None,
            console_style: None,
            redact_sensitive: None,
            redact_patterns: Vec::new(),
        }
    }
}

/// Smallest `gateway.maxMemory` accepted.
pub const MIN_MAX_MEMORY: u64 = 1 << 20;

impl Config {
    /// The `gateway.maxMemory` budget in bytes, if set (validated at load).
    pub fn max_memory_bytes(&self) -> Option<u64> {
        self.gateway
            .max_memory
            .as_ref()
            .and_then(|m| crate::aliases::parse_size(m).ok())
    }

    /// `session.reset.idleMinutes` as a duration, if an idle reset is configured.
    pub fn idle_reset(&self) -> Option<std::time::Duration> {
        let r = self.session.as_ref()?.reset.as_ref()?;
        (r.mode == "idle" && r.idle_minutes > 0.0)
            .then(|| std::time::Duration::from_secs_f64(r.idle_minutes * 60.0))
    }

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

        for (i, entry) in gw.trusted_proxies.iter().enumerate() {
            if let Err(e) = crate::net::IpRange::parse(entry) {
                return invalid(&format!("gateway.trustedProxies[{i}]"), e);
            }
        }
        if gw.auth.allow_tailscale == Some(true) {
            return invalid(
                "gateway.auth.allowTailscale",
                "Tailscale identity auth is not supported by this gateway (it cannot verify Tailscale Serve identities); remove the key or set it to false, and use the gateway token".to_string(),
            );
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

        crate::secrets::validate_refs(self)?;

        crate::agents::validate(self.models.as_ref(), self.agents.as_ref())?;
        crate::tools::validate(self.tools.as_ref(), self.agents.as_ref())?;

        crate::channels::validate(self.channels.as_ref(), self.hooks.as_ref())?;
        crate::edge::validate(&gw.tls, &gw.rate_limit, &gw.performance, &gw.remote)?;

        if let Err(e) = openclaw_logs::RedactPatterns::compile(&self.logging.redact_patterns) {
            return invalid(
                &format!("logging.redactPatterns[{}]", e.index),
                format!(
                    "{:?} is not a valid regular expression: {}",
                    e.pattern, e.message
                ),
            );
        }

        if self.logging.max_file_bytes != 0 && self.logging.max_file_bytes < MIN_LOG_FILE_BYTES {
            return invalid(
                "logging.maxFileBytes",
                format!(
                    "{} is too small; use at least {MIN_LOG_FILE_BYTES} bytes (or 0 to never rotate)",
                    self.logging.max_file_bytes
                ),
            );
        }
        if let Some(store) = self.sessions.as_ref().map(|s| &s.store) {
            let url = store.url.as_ref();
            match store.backend {
                SessionBackend::Files if url.is_some() => {
                    return invalid(
                        "sessions.store.url",
                        "a URL is only used with backend \"postgres\"; remove sessions.store.url or set sessions.store.backend to \"postgres\"".to_string(),
                    );
                }
                SessionBackend::Postgres if url.is_none_or(|u| u.is_empty()) => {
                    return invalid(
                        "sessions.store.url",
                        "backend \"postgres\" needs a URL such as \"postgres://openclaw:${PGPASSWORD}@127.0.0.1:5432/openclaw\"".to_string(),
                    );
                }
                SessionBackend::Postgres => {
                    if let Some(u) = url.filter(|u| u.as_ref_source().is_none())
                        && !(u.expose().starts_with("postgres://")
                            || u.expose().starts_with("postgresql://"))
                    {
                        return invalid(
                            "sessions.store.url",
                            "must be a URL starting with postgres:// or postgresql://".to_string(),
                        );
                    }
                }
                SessionBackend::Files => {}
            }
        }
        if let Some(r) = self.session.as_ref().and_then(|s| s.reset.as_ref()) {
            if r.mode != "idle" {
                return invalid(
                    "session.reset.mode",
                    format!(
                        "{:?} is not implemented here; use \"idle\" with idleMinutes (a session untouched that long starts over)",
                        r.mode
                    ),
                );
            }
            if !(r.idle_minutes.is_finite() && r.idle_minutes > 0.0) {
                return invalid(
                    "session.reset.idleMinutes",
                    format!("{} must be a positive number of minutes", r.idle_minutes),
                );
            }
        }
        if let Some(m) = &self.gateway.max_memory {
            match crate::aliases::parse_size(m) {
                Ok(n) if n >= MIN_MAX_MEMORY => {}
                Ok(n) => {
                    return invalid(
                        "gateway.maxMemory",
                        format!("{n} bytes is too little to run in; use at least \"1m\""),
                    );
                }
                Err(e) => return invalid("gateway.maxMemory", e),
            }
        }
        if !(1..=100).contains(&self.logging.max_files) {
            return invalid(
                "logging.maxFiles",
                format!(
                    "{} rotated files is out of range; keep 1 to 100",
                    self.logging.max_files
                ),
            );
        }

        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions_store(v: serde_json::Value) -> Result<Config, String> {
        let c: Config = serde_json::from_value(serde_json::json!({ "sessions": { "store": v } }))
            .map_err(|e| e.to_string())?;
        c.validate().map(|()| c).map_err(|e| e.to_string())
    }

    #[test]
    fn sessions_store_backend_and_url_rules() {
        let c = sessions_store(serde_json::json!({})).unwrap();
        assert_eq!(c.sessions.unwrap().store.backend, SessionBackend::Files);
        let c = sessions_store(
            serde_json::json!({ "backend": "postgres", "url": "postgres://u:p@127.0.0.1/db" }),
        )
        .unwrap();
        assert_eq!(c.sessions.unwrap().store.backend, SessionBackend::Postgres);
        sessions_store(serde_json::json!({ "backend": "postgres", "url": { "source": "env", "id": "PG_URL" } }))
            .unwrap();
        let e = sessions_store(serde_json::json!({ "backend": "postgres" })).unwrap_err();
        assert!(e.contains("sessions.store.url"), "{e}");
        let e = sessions_store(serde_json::json!({ "backend": "files", "url": "postgres://h/db" }))
            .unwrap_err();
        assert!(e.contains("only used with backend"), "{e}");
        let e = sessions_store(serde_json::json!({ "backend": "postgres", "url": "mysql://h/db" }))
            .unwrap_err();
        assert!(e.contains("postgres://"), "{e}");
        let e = sessions_store(serde_json::json!({ "backend": "redis" })).unwrap_err();
        assert!(e.contains("unknown variant"), "{e}");
        let e = sessions_store(serde_json::json!({ "backend": "files", "pool": 3 })).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn sessions_store_url_is_redacted() {
        let c = sessions_store(
            serde_json::json!({ "backend": "postgres", "url": "postgres://u:hunter2@127.0.0.1/db" }),
        )
        .unwrap();
        let shown = crate::redact::redacted_json(&c).to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
    }

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
        assert_eq!(
            serde_json::to_value(ConsoleStyle::Compact).unwrap(),
            "compact"
        );
        assert_eq!(serde_json::to_value(RedactSensitive::Off).unwrap(), "off");
        assert_eq!(RedactSensitive::default(), RedactSensitive::Tools);
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
        c.logging.redact_patterns = vec!["sk-[a-z]+".into(), "(unclosed".into()];
        match c.validate() {
            Err(ConfigError::Invalid { path, message }) => {
                assert_eq!(path, "logging.redactPatterns[1]");
                assert!(message.contains("(unclosed"), "{message}");
                assert!(
                    message.contains("not a valid regular expression"),
                    "{message}"
                );
            }
            other => panic!("expected an invalid pattern, got {other:?}"),
        }
        c.logging.redact_patterns.pop();
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
    fn logging_keys_parse_and_refuse_unknown_values() {
        let none = |_: &str| None;
        let c = crate::parse_str(
            r#"{ logging: { consoleLevel: "warn", consoleStyle: "compact", redactSensitive: "off", redactPatterns: ["/x/i"] } }"#,
            &none,
        )
        .unwrap();
        assert_eq!(c.logging.console_level, Some(LogLevel::Warn));
        assert_eq!(c.logging.console_style, Some(ConsoleStyle::Compact));
        assert_eq!(c.logging.redact_sensitive, Some(RedactSensitive::Off));
        for (raw, key, allowed) in [
            (
                r#"{ logging: { redactSensitive: "all" } }"#,
                "logging.redactSensitive",
                ["`off`", "`tools`"].as_slice(),
            ),
            (
                r#"{ logging: { consoleStyle: "fancy" } }"#,
                "logging.consoleStyle",
                ["`pretty`", "`compact`", "`json`"].as_slice(),
            ),
        ] {
            let err = crate::parse_str(raw, &none).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
            for value in allowed {
                assert!(err.contains(value), "{err}");
            }
        }
        let err = crate::parse_str(r#"{ logging: { redactPatterns: ["a(b"] } }"#, &none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("logging.redactPatterns[0]"), "{err}");
    }

    #[test]
    fn default_config_round_trips() {
        let c = Config::default();
        let v = serde_json::to_value(&c).unwrap();
        let back: Config = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
