//! `tools` (global tool policy, exec and web-fetch settings) and the per-agent
//! `agents.*.sandbox` / `agents.list[].tools` blocks.
//!
//! Only keys this gateway acts on are typed; every other key under `tools` (OpenClaw has
//! many: `codeMode`, `elevated`, `byProvider`, …) is refused by
//! [`unsupported_key_message`] with a message saying the gateway does not support it,
//! instead of being accepted and silently ignored.
//!
//! The names and defaults follow OpenClaw's documentation (`tools.profile`,
//! `tools.allow` / `alsoAllow` / `deny`, `tools.sandbox.tools.*`, `tools.exec.*`,
//! `tools.web.fetch.*`, `agents.defaults.sandbox.*`). Two things are this gateway's own:
//! the `bubblewrap` sandbox backend (and its `bubblewrap.network` key), which is the
//! default on Linux because it needs no daemon, and the `exec-approvals.json` file the
//! exec allowlist lives in (OpenClaw moved it into SQLite).

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Default `tools.exec.timeoutSeconds` (30 minutes, as OpenClaw).
pub const DEFAULT_EXEC_TIMEOUT_SECONDS: u64 = 1800;
/// Default `tools.exec.approvalTimeoutSeconds`.
pub const DEFAULT_APPROVAL_TIMEOUT_SECONDS: u64 = 120;
/// Default `tools.web.fetch.maxResponseBytes`.
pub const DEFAULT_FETCH_MAX_RESPONSE_BYTES: u64 = 750_000;
/// Smallest and largest effective `tools.web.fetch.maxResponseBytes` (values outside are
/// clamped, as OpenClaw does).
pub const FETCH_MAX_RESPONSE_BYTES_RANGE: (u64, u64) = (32_000, 10_000_000);
/// Default `tools.web.fetch.maxChars` and `maxCharsCap`.
pub const DEFAULT_FETCH_MAX_CHARS: u64 = 20_000;
/// Default `tools.web.fetch.timeoutSeconds`.
pub const DEFAULT_FETCH_TIMEOUT_SECONDS: u64 = 30;
/// Default `tools.web.fetch.maxRedirects`.
pub const DEFAULT_FETCH_MAX_REDIRECTS: u32 = 3;
/// Default `agents.defaults.sandbox.docker.image` (OpenClaw's sandbox image name).
pub const DEFAULT_DOCKER_IMAGE: &str = "openclaw-sandbox:bookworm-slim";

/// `tools.profile`: the base allowlist applied before `allow` / `deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolProfile {
    /// `session_status` only.
    Minimal,
    /// File, runtime, web and session tools.
    Coding,
    /// Messaging and session tools.
    Messaging,
    /// No restriction (the same as unset).
    Full,
}

impl ToolProfile {
    /// The on-disk spelling, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolProfile::Minimal => "minimal",
            ToolProfile::Coding => "coding",
            ToolProfile::Messaging => "messaging",
            ToolProfile::Full => "full",
        }
    }
}

/// Allow / alsoAllow / deny lists of one policy layer. Entries are tool names,
/// `group:*` shorthands or case-insensitive `*` globs, optionally `:`-qualified
/// (`exec:*`). Unknown names are allowed, as in OpenClaw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ToolLists {
    /// When set, only these tools (after earlier layers) remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Tools added to the profile's base set; cannot be combined with `allow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub also_allow: Option<Vec<String>>,
    /// Tools removed; deny always wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
}

impl ToolLists {
    fn is_empty(&self) -> bool {
        self.allow.is_none() && self.also_allow.is_none() && self.deny.is_none()
    }
}

/// `tools.sandbox`: policy applied only to sandboxed sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SandboxToolPolicy {
    /// `tools.sandbox.tools.{allow,alsoAllow,deny}`.
    pub tools: ToolLists,
}

/// `tools.exec.security`: what host exec may run at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExecSecurity {
    /// No exec.
    Deny,
    /// Only commands matching the allowlist (`exec-approvals.json`).
    Allowlist,
    /// Anything.
    Full,
}

/// `tools.exec.ask`: when a human is asked to approve an exec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExecAsk {
    /// Never ask.
    Off,
    /// Ask when the allowlist does not match.
    OnMiss,
    /// Ask for every command.
    Always,
}

/// `tools.exec.mode`: the shorthand OpenClaw now persists instead of `security` + `ask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExecMode {
    /// security `deny`, ask `off`.
    Deny,
    /// security `allowlist`, ask `off`.
    Allowlist,
    /// security `allowlist`, ask `on-miss`.
    Ask,
    /// security `full`, ask `off`.
    Full,
}

impl ExecMode {
    /// The `(security, ask)` pair the mode stands for.
    pub fn pair(self) -> (ExecSecurity, ExecAsk) {
        match self {
            ExecMode::Deny => (ExecSecurity::Deny, ExecAsk::Off),
            ExecMode::Allowlist => (ExecSecurity::Allowlist, ExecAsk::Off),
            ExecMode::Ask => (ExecSecurity::Allowlist, ExecAsk::OnMiss),
            ExecMode::Full => (ExecSecurity::Full, ExecAsk::Off),
        }
    }
}

/// `tools.exec` (and `agents.list[].tools.exec`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ExecToolConfig {
    /// Shorthand for `security` + `ask`; cannot be combined with them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ExecMode>,
    /// What may run; default `full` (OpenClaw's host default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<ExecSecurity>,
    /// When to ask a human; default `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ask: Option<ExecAsk>,
    /// Per-command timeout in seconds; default 1800. A call's own `timeoutSeconds`
    /// overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Directories put in front of `PATH` for exec runs (host and sandbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prepend: Option<Vec<String>>,
    /// How long a host command that needs approval waits for an operator's answer
    /// before `askFallback` decides (this gateway's key; default 120 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_timeout_seconds: Option<u64>,
}

/// The effective exec settings of one agent: per-agent keys over global ones over
/// defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecSettings {
    /// Effective `security`.
    pub security: ExecSecurity,
    /// Effective `ask`.
    pub ask: ExecAsk,
    /// Effective default timeout in seconds.
    pub timeout_seconds: u64,
    /// Effective `pathPrepend`.
    pub path_prepend: Vec<String>,
    /// Effective `approvalTimeoutSeconds`.
    pub approval_timeout_seconds: u64,
}

impl ExecToolConfig {
    /// This block's `(security, ask)` as far as it says anything: `mode` expands to both.
    fn pair(&self) -> (Option<ExecSecurity>, Option<ExecAsk>) {
        match self.mode {
            Some(m) => {
                let (s, a) = m.pair();
                (Some(s), Some(a))
            }
            None => (self.security, self.ask),
        }
    }

    /// Resolves `agent` over `global` over the defaults (`full`, `off`, 1800 s).
    pub fn resolve(
        global: Option<&ExecToolConfig>,
        agent: Option<&ExecToolConfig>,
    ) -> ExecSettings {
        let (gs, ga) = global.map(ExecToolConfig::pair).unwrap_or_default();
        let (as_, aa) = agent.map(ExecToolConfig::pair).unwrap_or_default();
        ExecSettings {
            security: as_.or(gs).unwrap_or(ExecSecurity::Full),
            ask: aa.or(ga).unwrap_or(ExecAsk::Off),
            timeout_seconds: agent
                .and_then(|a| a.timeout_seconds)
                .or(global.and_then(|g| g.timeout_seconds))
                .unwrap_or(DEFAULT_EXEC_TIMEOUT_SECONDS),
            path_prepend: agent
                .and_then(|a| a.path_prepend.clone())
                .or(global.and_then(|g| g.path_prepend.clone()))
                .unwrap_or_default(),
            approval_timeout_seconds: agent
                .and_then(|a| a.approval_timeout_seconds)
                .or(global.and_then(|g| g.approval_timeout_seconds))
                .unwrap_or(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
        }
    }
}

/// `tools.web`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebToolsConfig {
    /// `tools.web.fetch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<WebFetchConfig>,
}

/// `tools.web.fetch`: limits of the `web_fetch` tool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebFetchConfig {
    /// Whether the tool exists; default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Default characters of page text returned; clamped to `maxCharsCap`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
    /// Hard cap on a call's `maxChars`; default 20000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_chars_cap: Option<u64>,
    /// Largest body downloaded; default 750000, clamped to 32000–10000000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<u64>,
    /// Whole-request timeout; default 30 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Redirects followed (each re-checked against the SSRF policy); default 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_redirects: Option<u32>,
    /// `User-Agent` header; default the gateway's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Which private / internal destinations may be fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssrf_policy: Option<SsrfPolicy>,
}

/// `tools.web.fetch.ssrfPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SsrfPolicy {
    /// Permit private, loopback and link-local targets (default false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dangerously_allow_private_network: bool,
    /// Exact host names allowed even though they resolve to private addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_hostnames: Vec<String>,
}

/// The effective `web_fetch` limits, defaults and clamps applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebFetchLimits {
    /// Whether the tool exists.
    pub enabled: bool,
    /// Default characters returned.
    pub max_chars: u64,
    /// Cap on a call's `maxChars`.
    pub max_chars_cap: u64,
    /// Largest body downloaded.
    pub max_response_bytes: u64,
    /// Whole-request timeout in seconds.
    pub timeout_seconds: u64,
    /// Redirects followed.
    pub max_redirects: u32,
    /// `User-Agent`, if configured.
    pub user_agent: Option<String>,
    /// Private targets allowed.
    pub allow_private_network: bool,
    /// Hosts allowed despite private addresses.
    pub allowed_hostnames: Vec<String>,
}

impl WebFetchConfig {
    /// The effective limits of `cfg` (or the defaults when absent).
    pub fn limits(cfg: Option<&WebFetchConfig>) -> WebFetchLimits {
        let d = WebFetchConfig::default();
        let c = cfg.unwrap_or(&d);
        let cap = c.max_chars_cap.unwrap_or(DEFAULT_FETCH_MAX_CHARS);
        let (lo, hi) = FETCH_MAX_RESPONSE_BYTES_RANGE;
        WebFetchLimits {
            enabled: c.enabled.unwrap_or(true),
            max_chars: c.max_chars.unwrap_or(DEFAULT_FETCH_MAX_CHARS).min(cap),
            max_chars_cap: cap,
            max_response_bytes: c
                .max_response_bytes
                .unwrap_or(DEFAULT_FETCH_MAX_RESPONSE_BYTES)
                .clamp(lo, hi),
            timeout_seconds: c.timeout_seconds.unwrap_or(DEFAULT_FETCH_TIMEOUT_SECONDS),
            max_redirects: c.max_redirects.unwrap_or(DEFAULT_FETCH_MAX_REDIRECTS),
            user_agent: c.user_agent.clone(),
            allow_private_network: c
                .ssrf_policy
                .as_ref()
                .is_some_and(|s| s.dangerously_allow_private_network),
            allowed_hostnames: c
                .ssrf_policy
                .as_ref()
                .map(|s| s.allowed_hostnames.clone())
                .unwrap_or_default(),
        }
    }
}

/// The top-level `tools` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Base allowlist; unset means `full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ToolProfile>,
    /// When set, only these tools (after the profile) remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Tools added to the profile's base set; cannot be combined with `allow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub also_allow: Option<Vec<String>>,
    /// Tools removed; deny always wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
    /// `tools.sandbox.tools.*`, applied only to sandboxed sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxToolPolicy>,
    /// `tools.exec.*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecToolConfig>,
    /// `tools.web.*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web: Option<WebToolsConfig>,
}

/// `agents.list[].tools`: the per-agent policy. `profile` replaces the global one,
/// `allow` / `alsoAllow` / `deny` restrict further, `sandbox.tools` replaces
/// `tools.sandbox.tools` for this agent, `exec` keys override the global ones.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AgentToolsConfig {
    /// Replaces `tools.profile` for this agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ToolProfile>,
    /// When set, only these tools (after the profile) remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Tools added to the profile's base set; cannot be combined with `allow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub also_allow: Option<Vec<String>>,
    /// Tools removed; deny always wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
    /// Replaces `tools.sandbox` for this agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxToolPolicy>,
    /// Per-agent `tools.exec` overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecToolConfig>,
}

impl ToolsConfig {
    /// This layer's allow / alsoAllow / deny as one value.
    pub fn lists(&self) -> ToolLists {
        ToolLists {
            allow: self.allow.clone(),
            also_allow: self.also_allow.clone(),
            deny: self.deny.clone(),
        }
    }
}

impl AgentToolsConfig {
    /// This layer's allow / alsoAllow / deny as one value.
    pub fn lists(&self) -> ToolLists {
        ToolLists {
            allow: self.allow.clone(),
            also_allow: self.also_allow.clone(),
            deny: self.deny.clone(),
        }
    }
}

/// `agents.*.sandbox.mode`: which sessions run their tools in a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// None (the default).
    Off,
    /// Every session except the agent's main one (`agent:<id>:main`).
    NonMain,
    /// Every session.
    All,
}

impl SandboxMode {
    /// The on-disk spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Off => "off",
            SandboxMode::NonMain => "non-main",
            SandboxMode::All => "all",
        }
    }
}

/// `agents.*.sandbox.backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SandboxBackend {
    /// `bwrap` namespaces: no daemon, a fresh sandbox per command. This gateway's
    /// default on Linux.
    Bubblewrap,
    /// `docker run --rm` per command (OpenClaw's default backend).
    Docker,
}

impl SandboxBackend {
    /// The on-disk spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxBackend::Bubblewrap => "bubblewrap",
            SandboxBackend::Docker => "docker",
        }
    }
}

/// `agents.*.sandbox.workspaceAccess`: what a sandbox sees of the agent workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceAccess {
    /// Not mounted: the sandbox works in an empty scratch directory (the default).
    None,
    /// Mounted read-only.
    Ro,
    /// Mounted read-write.
    Rw,
}

impl WorkspaceAccess {
    /// The on-disk spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceAccess::None => "none",
            WorkspaceAccess::Ro => "ro",
            WorkspaceAccess::Rw => "rw",
        }
    }
}

/// `agents.*.sandbox.bubblewrap`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BubblewrapConfig {
    /// `"none"` (default: a new, empty network namespace) or `"host"` (share the
    /// gateway's network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// `agents.*.sandbox.docker`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DockerSandboxConfig {
    /// Image; default `openclaw-sandbox:bookworm-slim`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `--network`; default `"none"`. `"host"` and `"container:*"` are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// `agents.defaults.sandbox` and `agents.list[].sandbox` (per-agent keys override the
/// defaults key by key).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Which sessions are sandboxed; default `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<SandboxMode>,
    /// Runtime; default `bubblewrap`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<SandboxBackend>,
    /// Workspace visibility; default `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_access: Option<WorkspaceAccess>,
    /// Bubblewrap settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bubblewrap: Option<BubblewrapConfig>,
    /// Docker settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerSandboxConfig>,
}

/// The effective sandbox settings of one agent, each with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Effective mode.
    pub mode: SandboxMode,
    /// Config key that set `mode` (or `"default"`).
    pub mode_source: String,
    /// Effective backend.
    pub backend: SandboxBackend,
    /// Effective workspace access.
    pub workspace_access: WorkspaceAccess,
    /// Whether the sandbox may use the network (`bubblewrap.network: "host"` or a
    /// docker network other than `none`).
    pub network: bool,
    /// Docker `--network` value (`"none"` unless configured).
    pub docker_network: String,
    /// Docker image.
    pub docker_image: String,
}

impl SandboxConfig {
    /// Resolves per-agent `agent` (at `agents.list[index]`) over `defaults`.
    pub fn resolve(
        defaults: Option<&SandboxConfig>,
        agent: Option<(usize, &SandboxConfig)>,
    ) -> SandboxSettings {
        let a = agent.map(|(_, a)| a);
        let (mode, mode_source) = match (a.and_then(|a| a.mode), defaults.and_then(|d| d.mode)) {
            (Some(m), _) => (
                m,
                format!(
                    "agents.list[{}].sandbox.mode",
                    agent.map(|(i, _)| i).unwrap_or(0)
                ),
            ),
            (None, Some(m)) => (m, "agents.defaults.sandbox.mode".to_owned()),
            (None, None) => (SandboxMode::Off, "default".to_owned()),
        };
        let backend = a
            .and_then(|a| a.backend)
            .or(defaults.and_then(|d| d.backend))
            .unwrap_or(SandboxBackend::Bubblewrap);
        let workspace_access = a
            .and_then(|a| a.workspace_access)
            .or(defaults.and_then(|d| d.workspace_access))
            .unwrap_or(WorkspaceAccess::None);
        let pick = |f: fn(&SandboxConfig) -> Option<String>| a.and_then(f).or(defaults.and_then(f));
        let bwrap_net = pick(|s| s.bubblewrap.as_ref().and_then(|b| b.network.clone()))
            .unwrap_or_else(|| "none".to_owned());
        let docker_network = pick(|s| s.docker.as_ref().and_then(|d| d.network.clone()))
            .unwrap_or_else(|| "none".to_owned());
        let docker_image = pick(|s| s.docker.as_ref().and_then(|d| d.image.clone()))
            .unwrap_or_else(|| DEFAULT_DOCKER_IMAGE.to_owned());
        let network = match backend {
            SandboxBackend::Bubblewrap => bwrap_net == "host",
            SandboxBackend::Docker => docker_network != "none",
        };
        SandboxSettings {
            mode,
            mode_source,
            backend,
            workspace_access,
            network,
            docker_network,
            docker_image,
        }
    }
}

/// Expands a leading `~/` with `home`; other paths are returned unchanged.
pub fn expand_home(raw: &str, home: Option<&str>) -> PathBuf {
    match (raw.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => Path::new(h).join(rest),
        _ if raw == "~" && home.is_some() => PathBuf::from(home.unwrap_or_default()),
        _ => PathBuf::from(raw),
    }
}

/// Rewrites serde's "unknown field" message for a key under `tools` (or a per-agent
/// `tools` / `sandbox` block) into one that names the key and says this gateway does not
/// support it. `path` is the full JSON path of the key. `None` leaves the message alone.
pub(crate) fn unsupported_key_message(path: &str, message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let in_scope = path.starts_with("tools.")
        || (path.starts_with("agents.")
            && (path.contains(".tools.") || path.contains(".sandbox.")));
    if !in_scope {
        return None;
    }
    let supported = rest
        .split_once("expected ")
        .map(|(_, s)| s.trim_start_matches("one of ").to_owned())
        .unwrap_or_default();
    Some(format!(
        "`{path}` is not supported by this gateway; remove it (keys supported here: {supported})"
    ))
}

fn check_lists(path: &str, lists: &ToolLists) -> Result<(), ConfigError> {
    if lists.allow.is_some() && lists.also_allow.is_some() {
        return Err(ConfigError::Invalid {
            path: format!("{path}.alsoAllow"),
            message: format!(
                "{path}.allow and {path}.alsoAllow cannot both be set; merge the alsoAllow entries into allow, or drop allow and use profile + alsoAllow"
            ),
        });
    }
    for (key, list) in [
        ("allow", &lists.allow),
        ("alsoAllow", &lists.also_allow),
        ("deny", &lists.deny),
    ] {
        for (i, e) in list.iter().flatten().enumerate() {
            if e.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    path: format!("{path}.{key}[{i}]"),
                    message: "empty tool name; write a tool name, a group:* shorthand or a * glob"
                        .into(),
                });
            }
        }
    }
    Ok(())
}

fn check_exec(path: &str, exec: &ExecToolConfig) -> Result<(), ConfigError> {
    if exec.mode.is_some() && (exec.security.is_some() || exec.ask.is_some()) {
        return Err(ConfigError::Invalid {
            path: format!("{path}.mode"),
            message: format!(
                "{path}.mode already sets security and ask; keep either mode or security/ask"
            ),
        });
    }
    if exec.timeout_seconds == Some(0) {
        return Err(ConfigError::Invalid {
            path: format!("{path}.timeoutSeconds"),
            message: "must be at least 1 second (a call can still pass timeoutSeconds: 0 to run without a timeout)".into(),
        });
    }
    Ok(())
}

fn check_sandbox(path: &str, s: &SandboxConfig) -> Result<(), ConfigError> {
    if let Some(net) = s.bubblewrap.as_ref().and_then(|b| b.network.as_deref())
        && net != "none"
        && net != "host"
    {
        return Err(ConfigError::Invalid {
            path: format!("{path}.bubblewrap.network"),
            message: format!(
                "{net:?} is not a bubblewrap network; use \"none\" (no network, the default) or \"host\" (share the gateway's network)"
            ),
        });
    }
    if let Some(net) = s.docker.as_ref().and_then(|d| d.network.as_deref())
        && (net == "host" || net.starts_with("container:") || net.trim().is_empty())
    {
        return Err(ConfigError::Invalid {
            path: format!("{path}.docker.network"),
            message: format!(
                "{net:?} is refused: it would bypass the sandbox's network isolation; use \"none\" (the default), \"bridge\" or a named network"
            ),
        });
    }
    if let Some(img) = s.docker.as_ref().and_then(|d| d.image.as_deref())
        && img.trim().is_empty()
    {
        return Err(ConfigError::Invalid {
            path: format!("{path}.docker.image"),
            message: "empty image name; set an image such as \"openclaw-sandbox:bookworm-slim\""
                .into(),
        });
    }
    Ok(())
}

/// Semantic checks of `tools` and the per-agent tool / sandbox blocks.
pub(crate) fn validate(
    tools: Option<&ToolsConfig>,
    agents: Option<&crate::agents::AgentsConfig>,
) -> Result<(), ConfigError> {
    if let Some(t) = tools {
        check_lists("tools", &t.lists())?;
        if let Some(s) = &t.sandbox {
            check_lists("tools.sandbox.tools", &s.tools)?;
        }
        if let Some(e) = &t.exec {
            check_exec("tools.exec", e)?;
        }
    }
    let Some(agents) = agents else {
        return Ok(());
    };
    if let Some(s) = &agents.defaults.sandbox {
        check_sandbox("agents.defaults.sandbox", s)?;
    }
    for (i, a) in agents.list.iter().enumerate() {
        if let Some(s) = &a.sandbox {
            check_sandbox(&format!("agents.list[{i}].sandbox"), s)?;
        }
        if let Some(t) = &a.tools {
            let p = format!("agents.list[{i}].tools");
            check_lists(&p, &t.lists())?;
            if let Some(s) = &t.sandbox {
                check_lists(&format!("{p}.sandbox.tools"), &s.tools)?;
            }
            if let Some(e) = &t.exec {
                check_exec(&format!("{p}.exec"), e)?;
            }
        }
    }
    Ok(())
}

impl SandboxToolPolicy {
    /// Whether the block sets nothing.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;

    fn parse(s: &str) -> Result<crate::Config, ConfigError> {
        parse_str(s, &|_| None)
    }

    #[test]
    fn typed_tools_parse() {
        let c = parse(
            r#"{ tools: { profile: "coding", deny: ["exec:*", "browser:*"],
                 sandbox: { tools: { alsoAllow: ["web_fetch"] } },
                 exec: { security: "allowlist", ask: "on-miss", timeoutSeconds: 60, pathPrepend: ["/opt/bin"] },
                 web: { fetch: { maxResponseBytes: 1, timeoutSeconds: 5,
                                 ssrfPolicy: { dangerouslyAllowPrivateNetwork: true } } } } }"#,
        )
        .unwrap();
        let t = c.tools.unwrap();
        assert_eq!(t.profile, Some(ToolProfile::Coding));
        assert_eq!(t.deny.as_deref().unwrap(), ["exec:*", "browser:*"]);
        assert_eq!(
            t.sandbox
                .as_ref()
                .unwrap()
                .tools
                .also_allow
                .as_deref()
                .unwrap(),
            ["web_fetch"]
        );
        let e = ExecToolConfig::resolve(t.exec.as_ref(), None);
        assert_eq!(e.security, ExecSecurity::Allowlist);
        assert_eq!(e.ask, ExecAsk::OnMiss);
        assert_eq!(e.timeout_seconds, 60);
        assert_eq!(e.path_prepend, ["/opt/bin"]);
        let l = WebFetchConfig::limits(t.web.as_ref().and_then(|w| w.fetch.as_ref()));
        assert_eq!(l.max_response_bytes, 32_000, "clamped up");
        assert_eq!(l.timeout_seconds, 5);
        assert!(l.allow_private_network);
        assert_eq!(l.max_chars, 20_000);
    }

    #[test]
    fn defaults_follow_openclaw() {
        let e = ExecToolConfig::resolve(None, None);
        assert_eq!(e.security, ExecSecurity::Full);
        assert_eq!(e.ask, ExecAsk::Off);
        assert_eq!(e.timeout_seconds, 1800);
        let l = WebFetchConfig::limits(None);
        assert_eq!(l.max_response_bytes, 750_000);
        assert!(!l.allow_private_network);
        assert_eq!(l.max_redirects, 3);
        let s = SandboxConfig::resolve(None, None);
        assert_eq!(s.mode, SandboxMode::Off);
        assert_eq!(s.mode_source, "default");
        assert_eq!(s.backend, SandboxBackend::Bubblewrap);
        assert_eq!(s.workspace_access, WorkspaceAccess::None);
        assert!(!s.network);
        assert_eq!(s.docker_image, DEFAULT_DOCKER_IMAGE);
    }

    #[test]
    fn exec_mode_expands_and_agent_overrides() {
        let g = ExecToolConfig {
            mode: Some(ExecMode::Ask),
            ..Default::default()
        };
        let a = ExecToolConfig {
            security: Some(ExecSecurity::Deny),
            timeout_seconds: Some(5),
            ..Default::default()
        };
        let e = ExecToolConfig::resolve(Some(&g), Some(&a));
        assert_eq!(e.security, ExecSecurity::Deny);
        assert_eq!(e.ask, ExecAsk::OnMiss);
        assert_eq!(e.timeout_seconds, 5);
        let err = parse(r#"{ tools: { exec: { mode: "full", ask: "always" } } }"#).unwrap_err();
        assert!(err.to_string().contains("tools.exec.mode"), "{err}");
        let err = parse(r#"{ tools: { exec: { mode: "auto" } } }"#).unwrap_err();
        assert!(err.to_string().contains("tools.exec.mode"), "{err}");
        let err = parse(r#"{ tools: { exec: { timeoutSeconds: 0 } } }"#).unwrap_err();
        assert!(
            err.to_string().contains("tools.exec.timeoutSeconds"),
            "{err}"
        );
    }

    #[test]
    fn allow_and_also_allow_in_one_scope_is_refused() {
        for (raw, path) in [
            (
                r#"{ tools: { allow: ["read"], alsoAllow: ["exec"] } }"#,
                "tools.alsoAllow",
            ),
            (
                r#"{ tools: { sandbox: { tools: { allow: ["read"], alsoAllow: ["exec"] } } } }"#,
                "tools.sandbox.tools.alsoAllow",
            ),
            (
                r#"{ agents: { list: [{ id: "a", tools: { allow: ["read"], alsoAllow: ["x"] } }] } }"#,
                "agents.list[0].tools.alsoAllow",
            ),
        ] {
            let err = parse(raw).unwrap_err().to_string();
            assert!(err.contains(path), "{err}");
            assert!(err.contains("cannot both be set"), "{err}");
        }
        // In different scopes they combine fine.
        parse(r#"{ tools: { allow: ["read"], sandbox: { tools: { alsoAllow: ["exec"] } } } }"#)
            .unwrap();
    }

    #[test]
    fn unknown_tools_keys_are_refused_by_name() {
        for (raw, key) in [
            (r#"{ tools: { codeMode: false } }"#, "tools.codeMode"),
            (
                r#"{ tools: { exec: { host: "gateway" } } }"#,
                "tools.exec.host",
            ),
            (r#"{ tools: { web: { search: {} } } }"#, "tools.web.search"),
            (
                r#"{ tools: { web: { fetch: { provider: "firecrawl" } } } }"#,
                "tools.web.fetch.provider",
            ),
            (
                r#"{ tools: { elevated: { enabled: true } } }"#,
                "tools.elevated",
            ),
            (
                r#"{ agents: { defaults: { sandbox: { scope: "session" } } } }"#,
                "agents.defaults.sandbox.scope",
            ),
            (
                r#"{ agents: { list: [{ id: "a", tools: { elevated: {} } }] } }"#,
                "agents.list[0].tools.elevated",
            ),
        ] {
            let err = parse(raw).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
            assert!(err.contains("not supported by this gateway"), "{err}");
        }
        let err = parse(r#"{ tools: { profile: "huge" } }"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tools.profile") && err.contains("minimal"),
            "{err}"
        );
    }

    #[test]
    fn sandbox_blocks_resolve_per_agent() {
        let c = parse(
            r#"{ agents: {
                 defaults: { sandbox: { mode: "non-main", workspaceAccess: "ro", docker: { image: "img:1" } } },
                 list: [{ id: "main", default: true },
                        { id: "ops", sandbox: { mode: "all", backend: "docker", docker: { network: "bridge" } },
                          tools: { profile: "minimal", deny: ["exec"], sandbox: { tools: { deny: ["write"] } },
                                   exec: { ask: "always" } } }] } }"#,
        )
        .unwrap();
        let agents = c.agents.unwrap();
        let d = agents.defaults.sandbox.as_ref();
        let main = SandboxConfig::resolve(d, None);
        assert_eq!(main.mode, SandboxMode::NonMain);
        assert_eq!(main.mode_source, "agents.defaults.sandbox.mode");
        assert_eq!(main.workspace_access, WorkspaceAccess::Ro);
        let ops = SandboxConfig::resolve(d, Some((1, agents.list[1].sandbox.as_ref().unwrap())));
        assert_eq!(ops.mode, SandboxMode::All);
        assert_eq!(ops.mode_source, "agents.list[1].sandbox.mode");
        assert_eq!(ops.backend, SandboxBackend::Docker);
        assert_eq!(ops.docker_image, "img:1");
        assert!(ops.network);
        assert_eq!(ops.workspace_access, WorkspaceAccess::Ro);
        let t = agents.list[1].tools.as_ref().unwrap();
        assert_eq!(t.profile, Some(ToolProfile::Minimal));
        assert_eq!(t.exec.as_ref().unwrap().ask, Some(ExecAsk::Always));
    }

    #[test]
    fn dangerous_sandbox_networks_are_refused() {
        for (raw, key) in [
            (
                r#"{ agents: { defaults: { sandbox: { docker: { network: "host" } } } } }"#,
                "agents.defaults.sandbox.docker.network",
            ),
            (
                r#"{ agents: { defaults: { sandbox: { docker: { network: "container:abc" } } } } }"#,
                "agents.defaults.sandbox.docker.network",
            ),
            (
                r#"{ agents: { defaults: { sandbox: { bubblewrap: { network: "bridge" } } } } }"#,
                "agents.defaults.sandbox.bubblewrap.network",
            ),
        ] {
            let err = parse(raw).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        let err = parse(r#"{ agents: { defaults: { sandbox: { backend: "podman" } } } }"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bubblewrap") && err.contains("docker"),
            "{err}"
        );
    }

    #[test]
    fn workspace_defaults_follow_openclaw() {
        let state = Path::new("/state");
        let home = Some("/home/u");
        let none = crate::AgentsConfig::default();
        assert_eq!(
            none.workspace_dir("main", state, home),
            state.join("workspace")
        );
        assert_eq!(
            none.workspace_dir("ops", state, home),
            state.join("workspace-ops")
        );
        let c = parse(
            r#"{ agents: { defaults: { workspace: "~/ws" },
                 list: [{ id: "a", default: true }, { id: "b" }, { id: "c", workspace: "/srv/c" }] } }"#,
        )
        .unwrap();
        let a = c.agents.unwrap();
        assert_eq!(a.default_agent_id(), "a");
        assert_eq!(a.workspace_dir("a", state, home), Path::new("/home/u/ws"));
        assert_eq!(a.workspace_dir("b", state, home), Path::new("/home/u/ws/b"));
        assert_eq!(a.workspace_dir("c", state, home), Path::new("/srv/c"));
    }

    #[test]
    fn tools_round_trip() {
        let raw = r#"{ tools: { profile: "messaging", alsoAllow: ["exec"], deny: ["x"] } }"#;
        let c = parse(raw).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["tools"]["alsoAllow"][0], "exec");
        let back: crate::Config = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
