//! Configuration for the OpenClaw gateway and CLI.
//!
//! This crate answers three questions and nothing else, so that the daemon and the CLI
//! can never disagree about them:
//!
//! * **Where** state and config live ([`Paths`]): profiles, `--dev`, and the
//!   `OPENCLAW_*` environment overrides.
//! * **What** the config says ([`load_file`] / [`parse_str`] → [`Config`]): JSON5 with
//!   `${VAR}` substitution, strictly typed so typos are reported with their JSON path,
//!   then semantically checked ([`Config::validate`]).
//! * **How to show it safely** ([`redacted_json`]): secrets replaced by a marker.
//!
//! Around those sit the helpers the gateway and CLI share for everything else they do
//! with the config: fetching referenced secrets ([`resolve_secrets`],
//! [`secret_sources`]), editing the document without losing `${VAR}` references
//! ([`read_document`], [`set_path`], [`merge_patch`], [`validate_document`],
//! [`diff_paths`], …) and describing the format ([`json_schema`]).
//!
//! All functions take an environment *lookup* instead of reading the process environment
//! directly (except [`Paths::from_process_env`]), so behaviour is deterministic and
//! testable without global state.

mod agents;
pub mod aliases;
pub mod channels;
pub mod edge;
pub mod edit;
pub mod error;
pub mod fsutil;
pub mod load;
pub mod net;
pub mod paths;
pub mod redact;
pub mod schema;
pub mod schema_json;
pub mod secrets;
pub mod tools;

pub use agents::{
    AgentDefaults, AgentEntry, AgentsConfig, DEFAULT_AGENT_ID, EmbeddingsConfig,
    IMPLICIT_PROVIDERS, ModelChain, ModelEntry, ModelRef, ModelsConfig, ProviderApi, ProviderEntry,
    split_model_ref, valid_agent_id,
};
pub use channels::{
    ChannelsConfig, DEFAULT_ACCOUNT_ID, DEFAULT_HOOKS_PATH, DEFAULT_TELEGRAM_API_ROOT,
    DEFAULT_TELEGRAM_WEBHOOK_PATH, DmPolicy, GroupPolicy, HooksConfig, TelegramAccount,
    TelegramAccountConfig, TelegramConfig, TelegramId, TelegramWebhook,
};
pub use edit::{
    EditError, PathSeg, diff_paths, format_path, get_path, merge_patch, parse_path,
    parse_value_arg, read_document, set_path, unset_path, validate_document,
};
pub use error::ConfigError;
pub use fsutil::{
    AtomicWrite, Expect, STALE_TEMP_AGE, WriteError, remove_stale_temp_files, write_atomic,
};
pub use load::{
    Loaded, MAX_NESTING_DEPTH, content_hash, env_references, env_refs, load_file, parse_str,
};
pub use paths::{
    CONFIG_FILE_NAME, CONFIG_PATH_ENV, DEV_PROFILE, PROFILE_ENV, Paths, STATE_DIR_ENV,
    is_valid_profile_name,
};
pub use redact::{REDACTED, is_secret_ref, is_sensitive_key, redact_value, redacted_json};
pub use schema::{
    AuthConfig, AuthMode, BindMode, Config, ConsoleStyle, ControlUiConfig, DEFAULT_GATEWAY_PORT,
    EndpointToggle, GatewayConfig, GatewayMode, HttpConfig, HttpEndpoints, LogLevel, LoggingConfig,
    RateLimitConfig, ReloadConfig, ReloadMode, Secret, SessionBackend, SessionStoreConfig,
    SessionsConfig, ToolsPolicy,
};
pub use schema_json::json_schema;
pub use secrets::{
    EXEC_TIMEOUT, MAX_SECRET_BYTES, SecretError, SecretRef, SecretSource, SecretSourceInfo,
    resolve_secrets, secret_sources, secret_values,
};
pub use tools::{
    AgentToolsConfig, BubblewrapConfig, DEFAULT_EXEC_TIMEOUT_SECONDS, DockerSandboxConfig, ExecAsk,
    ExecMode, ExecSecurity, ExecSettings, ExecToolConfig, SandboxBackend, SandboxConfig,
    SandboxMode, SandboxSettings, SandboxToolPolicy, SsrfPolicy, ToolLists, ToolProfile,
    ToolsConfig, WebFetchConfig, WebFetchLimits, WebToolsConfig, WorkspaceAccess,
};
