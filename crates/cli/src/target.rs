//! Finding the local gateway: URL and credentials from flags, environment and config.

use std::path::PathBuf;
use std::time::Duration;

use openclaw_config::{Config, Paths};
use serde_json::Value;

use crate::client::{Target, call_once};
use crate::commands::Global;
use crate::opts::ClientOpts;

/// What a client command knows about its instance before connecting.
pub struct Local {
    /// Instance paths.
    pub paths: Paths,
    /// The config (defaults when missing or unreadable).
    pub config: Config,
    /// Why the config could not be read, if it could not.
    pub config_error: Option<String>,
    /// Port the local gateway should be on.
    pub port: u16,
}

impl Local {
    /// Resolves paths and reads the config; a broken config is reported, not fatal, so
    /// that `health` and `status` still reach a gateway running on defaults.
    pub fn load(global: &Global) -> anyhow::Result<Local> {
        let paths = Paths::from_process_env(global.profile.as_deref(), global.dev)?;
        let env = |k: &str| std::env::var(k).ok();
        let (config, config_error) = match openclaw_config::load_file(&paths.config_path, &env) {
            Ok(l) => (l.config, None),
            Err(e) => (Config::default(), Some(e.to_string())),
        };
        let port = std::env::var("OPENCLAW_GATEWAY_PORT")
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .or(config.gateway.port)
            .unwrap_or(if paths.dev {
                openclaw_gateway::settings::DEV_PORT
            } else {
                openclaw_gateway::settings::DEFAULT_PORT
            });
        Ok(Local {
            paths,
            config,
            config_error,
            port,
        })
    }

    /// The probe target: `--url` or the local port, with credentials from flags, env, config.
    pub fn target(&self, opts: &ClientOpts) -> Target {
        use openclaw_gateway::settings::pick_secret;
        let env = |k: &str| std::env::var(k).ok();
        // SecretRefs are resolved here as the gateway resolves them; a ref that cannot be
        // resolved leaves the secret unset (the gateway will then say what is missing).
        let resolved = openclaw_config::resolve_secrets(&self.config, &env).ok();
        let auth = &resolved.as_ref().unwrap_or(&self.config).gateway.auth;
        // Flag, then environment variable, then config, as the gateway picks them.
        let pick = |flag: &Option<String>, var: &str, configured| {
            pick_secret(flag.as_deref(), env(var), configured)
        };
        let token = pick(&opts.token, "OPENCLAW_GATEWAY_TOKEN", auth.token.as_ref());
        let password = pick(
            &opts.password,
            "OPENCLAW_GATEWAY_PASSWORD",
            auth.password.as_ref(),
        );
        // The local gateway's generated token, when nothing else names a secret. Never sent
        // to a gateway named by --url: it belongs to this machine's instance only.
        let token = match (&token, &password, &opts.url) {
            (None, None, None) => openclaw_gateway::token::read_stored_token(
                &openclaw_gateway::token::token_path(&self.paths),
            )
            .ok()
            .flatten(),
            _ => token,
        };
        Target {
            url: opts
                .url
                .clone()
                .unwrap_or_else(|| format!("ws://127.0.0.1:{}", self.port)),
            token,
            password,
            timeout: Duration::from_millis(opts.timeout.max(1)),
        }
    }

    /// The gateway log file: `logging.file`, else the instance's default.
    pub fn log_file(&self) -> PathBuf {
        self.config
            .logging
            .file
            .clone()
            .unwrap_or_else(|| self.paths.default_log_file())
    }

    /// One call to this instance's gateway (connect, call, close). A failure also prints
    /// the config warning, since a config that did not load is a common reason for
    /// looking in the wrong place.
    pub async fn call(
        &self,
        target: &Target,
        scopes: &[&str],
        method: &str,
        params: Option<Value>,
    ) -> anyhow::Result<Value> {
        call_once(target, scopes, method, params, false)
            .await
            .map_err(|e| {
                self.warn_config();
                e.into()
            })
    }

    /// Prints the config problem once, on stderr.
    pub fn warn_config(&self) {
        if let Some(e) = &self.config_error {
            eprintln!("warning: config not loaded, using defaults: {e}");
        }
    }
}
