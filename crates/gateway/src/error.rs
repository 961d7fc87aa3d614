//! Fatal start-up and run-time errors of the gateway process, and the exit code each maps to.

use std::path::PathBuf;

use openclaw_config::ConfigError;

/// Exit code for configuration errors: supervisors (systemd `RestartPreventExitStatus=78`)
/// must not restart-loop a gateway that cannot start until an operator edits something.
pub const EXIT_CONFIG: i32 = 78;

/// Why the gateway could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Paths could not be resolved (no HOME, bad profile name).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The config file is unreadable, unparseable or invalid.
    #[error("{}", config_file_message(path, source))]
    ConfigFile {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        source: ConfigError,
    },
    /// A setting outside the config file (flag or environment variable) is invalid.
    #[error("{0}")]
    Setting(String),
    /// `gateway.mode` is not `local`.
    #[error(
        "Gateway start blocked: set gateway.mode=local in {path} (currently {current}), or pass --allow-unconfigured"
    )]
    ModeBlocked {
        /// The config file.
        path: PathBuf,
        /// What the mode is now.
        current: String,
    },
    /// A non-loopback bind with no secret.
    #[error(
        "Refusing to bind gateway to {bind} without auth. Set a token with `openclaw config set gateway.auth.token <secret>` (or pass --token / set OPENCLAW_GATEWAY_TOKEN), or use --bind loopback."
    )]
    RefusedBind {
        /// The requested bind mode.
        bind: String,
    },
    /// Another gateway holds the state directory's lock.
    #[error(
        "gateway already running (pid {pid}); lock file {path}. Stop it first (`openclaw gateway stop`), or set OPENCLAW_ALLOW_MULTI_GATEWAY=1 to run several on one state dir"
    )]
    LockHeld {
        /// Owner of the lock.
        pid: u32,
        /// The lock file.
        path: PathBuf,
    },
    /// The port stayed busy.
    #[error(
        "another gateway instance is already listening on ws://{host}:{port}; stop it, pick another port with --port, or pass --force to stop the process holding it"
    )]
    PortInUse {
        /// Host part of the address.
        host: String,
        /// The port.
        port: u16,
    },
    /// The TLS certificate pair (`gateway.tls`) cannot be used or generated.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The session store `sessions.store` names could not be opened (bad URL, Postgres
    /// unreachable, migration failed). The message names the URL without its password.
    #[error("{0}")]
    SessionStore(openclaw_sessions::SessionError),
    /// Any other I/O failure (cannot create the state dir, bind failed for another reason).
    #[error("{context}: {source}")]
    Io {
        /// What the gateway was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl GatewayError {
    /// The process exit code for this error: 78 for anything an operator must fix in
    /// configuration, 1 for everything a restart might cure.
    pub fn exit_code(&self) -> i32 {
        match self {
            GatewayError::Config(_)
            | GatewayError::ConfigFile { .. }
            | GatewayError::Setting(_)
            | GatewayError::ModeBlocked { .. }
            | GatewayError::RefusedBind { .. }
            | GatewayError::LockHeld { .. }
            | GatewayError::Tls(_) => EXIT_CONFIG,
            // A database that is down may come up: let the supervisor retry.
            GatewayError::SessionStore(e) if e.is_unreachable() => 1,
            GatewayError::SessionStore(_) => EXIT_CONFIG,
            GatewayError::PortInUse { .. } | GatewayError::Io { .. } => 1,
        }
    }

    /// Wraps an I/O error with what was being attempted.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        GatewayError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Names the file in front of errors that do not already carry it.
fn config_file_message(path: &std::path::Path, source: &ConfigError) -> String {
    match source {
        ConfigError::Parse { path: Some(_), .. } | ConfigError::Io { .. } => source.to_string(),
        _ => format!(
            "{}: {source}. Fix the file, or move it aside to start from defaults",
            path.display()
        ),
    }
}
