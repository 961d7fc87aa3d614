//! [`Activation`]: everything one reading of the config file produces.
//!
//! Start-up and every reload build one the same way ([`Activation::load`]): read and
//! validate the file, resolve SecretRefs, derive the listener settings, build the agent
//! catalog. Building does no I/O beyond reading the file and resolving secrets, and has no
//! side effects, so a failure anywhere leaves the running gateway untouched. The result is
//! swapped into [`crate::state::AppState`] as one `Arc`, so a request that took a snapshot
//! sees one consistent config from start to end.

use openclaw_config::{Config, ConfigError, GatewayMode, Loaded, Paths, SecretError};

use crate::catalog::{AgentConfigError, AgentTable};
use crate::error::GatewayError;
use crate::settings::{RunOptions, Settings};

/// One activation of the config.
pub struct Activation {
    /// Instance paths (profile, state dir, config file); the same for the whole process.
    pub paths: Paths,
    /// The config file as loaded (SecretRefs as written; what `config.get` shows).
    pub loaded: Loaded,
    /// The same config with every SecretRef resolved: what the gateway runs on.
    pub resolved: Config,
    /// Listener settings derived from flags, environment and config. After a hot reload
    /// these are the settings the running listener was bound with: listener changes only
    /// take effect through a restart, which builds a new listener generation.
    pub settings: Settings,
    /// Agents, providers and model chains.
    pub agents: AgentTable,
    /// The HTTP client the providers were built on. Made once at start-up and handed to
    /// every later activation: building one loads the system's root certificates, which
    /// is most of the start-up time if done more than once.
    pub http_client: reqwest::Client,
    /// `gateway.trustedProxies`, parsed once (the config validation already refused any
    /// entry that is not an address or CIDR block).
    pub trusted_proxies: Vec<openclaw_config::net::IpRange>,
}

/// Why an activation could not be built; each names the file or setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// The config file is missing (only an error on reload; start-up runs on defaults).
    #[error(
        "config file missing: {0}; put it back or write it with `openclaw config import --input FILE` (the running config stays until then)"
    )]
    Missing(String),
    /// The file is unreadable, unparseable or invalid.
    #[error("invalid config: {0}")]
    Invalid(ConfigError),
    /// A SecretRef could not be resolved.
    #[error("unresolved secret: {0}")]
    Secret(SecretError),
    /// A flag, environment variable or listener setting is unusable.
    #[error("unusable settings: {0}")]
    Settings(GatewayError),
    /// The agent/provider section cannot be built.
    #[error("unusable settings: agent setup at {0}")]
    Agents(AgentConfigError),
}

impl Activation {
    /// Builds an activation from the file at `paths.config_path`. `require_file` makes a
    /// missing file an error (reloads), instead of running on defaults (start-up). This
    /// blocks (file reads, `exec` secrets): call it from `spawn_blocking` in async code.
    pub fn load(
        paths: &Paths,
        opts: &RunOptions,
        client: &reqwest::Client,
        require_file: bool,
    ) -> Result<Activation, ActivationError> {
        let loaded = read(paths, require_file)?;
        Activation::from_loaded(paths, loaded, opts, client)
    }

    /// Resolves secrets, settings and agents for a file already read.
    fn from_loaded(
        paths: &Paths,
        loaded: Loaded,
        opts: &RunOptions,
        client: &reqwest::Client,
    ) -> Result<Activation, ActivationError> {
        let env = |k: &str| std::env::var(k).ok();
        let resolved = openclaw_config::resolve_secrets(&loaded.config, &env)
            .map_err(ActivationError::Secret)?;
        let mut settings =
            Settings::resolve(opts, &resolved, paths, &env).map_err(ActivationError::Settings)?;
        // Token mode with no token anywhere: never an open gateway. Use the stored token,
        // generating it on the first start (a non-loopback bind without an explicit secret
        // was already refused above).
        if settings.auth_mode == openclaw_config::AuthMode::Token && settings.secret.is_none() {
            let (token, generated) =
                crate::token::ensure_stored_token(paths).map_err(ActivationError::Settings)?;
            settings.secret = Some(token);
            settings.stored_token = Some(crate::settings::StoredToken {
                path: crate::token::token_path(paths),
                generated,
            });
        }
        let agents = AgentTable::build(&resolved, &env, client).map_err(ActivationError::Agents)?;
        let trusted_proxies = resolved
            .gateway
            .trusted_proxies
            .iter()
            .filter_map(|s| openclaw_config::net::IpRange::parse(s).ok())
            .collect();
        Ok(Activation {
            paths: paths.clone(),
            loaded,
            resolved,
            settings,
            agents,
            http_client: client.clone(),
            trusted_proxies,
        })
    }

    /// How the process should log under this config: `logging.file` (else
    /// `<state>/logs/gateway.log`), `logging.level`, `logging.maxFileBytes`, the console's
    /// `logging.consoleLevel` (default `info`; `verbose`, i.e. `--verbose`, raises it to
    /// `debug`) and `logging.consoleStyle` (default `pretty` when stderr is a terminal,
    /// `compact` otherwise; colours only in pretty style on a terminal without
    /// `NO_COLOR`), and redaction: `logging.redactSensitive` (`tools` redacts fields by
    /// name, `off` does not) and `logging.redactPatterns` (validated when the config was
    /// loaded, compiled by the logging set-up).
    pub fn log_options(&self, verbose: bool) -> openclaw_logs::LogOptions {
        use openclaw_config::ConsoleStyle;
        use openclaw_config::schema::RedactSensitive;
        use std::io::IsTerminal as _;

        let logging = &self.loaded.config.logging;
        let level = |l: openclaw_config::LogLevel| l.as_str().parse().unwrap_or_default();
        let terminal = std::io::stderr().is_terminal();
        let console_style = match logging.console_style {
            Some(ConsoleStyle::Pretty) => openclaw_logs::ConsoleStyle::Pretty,
            Some(ConsoleStyle::Compact) => openclaw_logs::ConsoleStyle::Compact,
            Some(ConsoleStyle::Json) => openclaw_logs::ConsoleStyle::Json,
            None if terminal => openclaw_logs::ConsoleStyle::Pretty,
            None => openclaw_logs::ConsoleStyle::Compact,
        };
        openclaw_logs::LogOptions {
            file: logging
                .file
                .clone()
                .unwrap_or_else(|| self.paths.default_log_file()),
            level: level(logging.level),
            max_file_bytes: logging.max_file_bytes,
            max_files: logging.max_files as usize,
            verbose,
            console_level: logging
                .console_level
                .map_or(openclaw_logs::Level::Info, level),
            console_style,
            console_color: console_style == openclaw_logs::ConsoleStyle::Pretty
                && terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            redact_fields: logging.redact_sensitive.unwrap_or_default() == RedactSensitive::Tools,
            redact_patterns: logging.redact_patterns.clone(),
        }
    }

    /// The first activation at start-up. Checks in the order an operator fixes things:
    /// the file, then `gateway.mode` (must be `local` unless `--dev`/`--allow-unconfigured`),
    /// then secrets, settings and agents; every failure maps to the [`GatewayError`] the
    /// process exits 78 with. Blocking, like [`Activation::load`].
    pub fn prepare(paths: Paths, opts: &RunOptions) -> Result<Activation, GatewayError> {
        let file_error = |e: ActivationError| match e {
            ActivationError::Invalid(source) => GatewayError::ConfigFile {
                path: paths.config_path.clone(),
                source,
            },
            ActivationError::Secret(e) => {
                GatewayError::Setting(format!("{}: {e}", paths.config_path.display()))
            }
            ActivationError::Settings(e) => e,
            ActivationError::Agents(e) => GatewayError::Setting(format!(
                "{}: invalid agent setup at {e}",
                paths.config_path.display()
            )),
            ActivationError::Missing(p) => {
                GatewayError::Setting(format!("config file missing: {p}"))
            }
        };
        let loaded = read(&paths, false).map_err(file_error)?;
        let mode = loaded.config.gateway.mode;
        let mode_ok = match mode {
            Some(GatewayMode::Local) => true,
            None => opts.allow_unconfigured || opts.dev || paths.dev,
            Some(GatewayMode::Remote) => false,
        };
        if !mode_ok {
            let current = match mode {
                Some(GatewayMode::Remote) => "remote".to_owned(),
                _ if !loaded.exists => "unset; the config file does not exist".to_owned(),
                _ => "unset".to_owned(),
            };
            return Err(GatewayError::ModeBlocked {
                path: paths.config_path.clone(),
                current,
            });
        }
        let client = openclaw_providers::http_client(crate::PROVIDER_CONNECT_TIMEOUT);
        Activation::from_loaded(&paths, loaded, opts, &client).map_err(file_error)
    }
}

/// Reads and validates the config file (defaults when it is absent and not required).
fn read(paths: &Paths, require_file: bool) -> Result<Loaded, ActivationError> {
    if require_file && !paths.config_path.exists() {
        return Err(ActivationError::Missing(
            paths.config_path.display().to_string(),
        ));
    }
    let env = |k: &str| std::env::var(k).ok();
    openclaw_config::load_file(&paths.config_path, &env).map_err(ActivationError::Invalid)
}
