//! Finding the local gateway: URL and credentials from flags, environment and config.

use std::path::PathBuf;
use std::time::Duration;

use openclaw_config::{Config, Paths};
use serde_json::Value;

use crate::client::{Target, call_once};
use crate::commands::Global;
use crate::opts::ClientOpts;
use crate::tls::Trust;

/// `--tls-ca`, else a pinned fingerprint (flag or config), if any.
fn explicit_trust(opts: &ClientOpts, fingerprint: Option<[u8; 32]>) -> Option<Trust> {
    match (&opts.tls_ca, fingerprint) {
        (Some(ca), _) => Some(Trust::CaFile(ca.clone())),
        (None, Some(fp)) => Some(Trust::Pin(fp)),
        (None, None) => None,
    }
}

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

    /// Whether the local gateway serves TLS (`gateway.tls.enabled`).
    pub fn local_tls(&self) -> bool {
        self.config.gateway.tls.enabled
    }

    /// The local gateway's URL: `wss://` when it serves TLS.
    pub fn local_url(&self, port: u16) -> String {
        let scheme = if self.local_tls() { "wss" } else { "ws" };
        format!("{scheme}://127.0.0.1:{port}")
    }

    /// The probe target: `--url`; else `gateway.remote.url` when `gateway.mode` is
    /// `remote`; else the local port. Credentials come from flags, env and config (in
    /// OpenClaw's order for the mode), TLS trust from `--tls-ca`/`--tls-fingerprint`, the
    /// remote's `tlsFingerprint`, or the local gateway's own certificate file.
    pub fn target(&self, opts: &ClientOpts) -> Target {
        use openclaw_gateway::settings::pick_secret;
        let env = |k: &str| std::env::var(k).ok();
        // SecretRefs are resolved here as the gateway resolves them; a ref that cannot be
        // resolved leaves the secret unset (the gateway will then say what is missing).
        let resolved = openclaw_config::resolve_secrets(&self.config, &env).ok();
        let gateway = &resolved.as_ref().unwrap_or(&self.config).gateway;
        let remote = &gateway.remote;
        let remote_url = remote.url.as_deref().filter(|_| {
            gateway.mode == Some(openclaw_config::GatewayMode::Remote) && opts.url.is_none()
        });
        if let Some(url) = remote_url {
            return self.remote_target(opts, url, gateway);
        }
        let auth = &gateway.auth;
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
        let url = opts
            .url
            .clone()
            .unwrap_or_else(|| self.local_url(self.port));
        // The local gateway's own certificate, when nothing else says what to trust.
        let local_cert = || {
            let tls = &self.config.gateway.tls;
            let files = openclaw_gateway::tls::Files::from_config(tls, &self.paths.state_dir)?;
            Some(Trust::LocalCert(files.cert))
        };
        let fingerprint = opts.tls_fingerprint.or_else(|| {
            // gateway.remote.tlsFingerprint pins the remote URL when it is named by --url.
            remote
                .tls_fingerprint
                .as_deref()
                .filter(|_| remote.url.is_some() && remote.url == opts.url)
                .and_then(|f| openclaw_config::edge::parse_fingerprint(f).ok())
        });
        let tls = explicit_trust(opts, fingerprint)
            .or_else(|| opts.url.is_none().then(local_cert).flatten())
            .unwrap_or(Trust::System);
        Target {
            url,
            tls,
            token,
            password,
            timeout: Duration::from_millis(opts.timeout.max(1)),
        }
    }

    /// The target in `gateway.mode: "remote"`: `gateway.remote.url`, with OpenClaw's
    /// remote-mode credential order (token: flag, `gateway.remote.token`,
    /// `OPENCLAW_GATEWAY_TOKEN`, `gateway.auth.token`; password: flag,
    /// `OPENCLAW_GATEWAY_PASSWORD`, `gateway.remote.password`, `gateway.auth.password`)
    /// and `gateway.remote.tlsFingerprint` pinning it unless a flag says otherwise.
    fn remote_target(
        &self,
        opts: &ClientOpts,
        url: &str,
        gateway: &openclaw_config::GatewayConfig,
    ) -> Target {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let secret = |s: Option<&openclaw_config::Secret>| {
            s.map(|s| s.expose().to_owned()).filter(|v| !v.is_empty())
        };
        let remote = &gateway.remote;
        let token = opts
            .token
            .clone()
            .or_else(|| secret(remote.token.as_ref()))
            .or_else(|| env("OPENCLAW_GATEWAY_TOKEN"))
            .or_else(|| secret(gateway.auth.token.as_ref()));
        let password = opts
            .password
            .clone()
            .or_else(|| env("OPENCLAW_GATEWAY_PASSWORD"))
            .or_else(|| secret(remote.password.as_ref()))
            .or_else(|| secret(gateway.auth.password.as_ref()));
        let fingerprint = opts.tls_fingerprint.or_else(|| {
            remote
                .tls_fingerprint
                .as_deref()
                .and_then(|f| openclaw_config::edge::parse_fingerprint(f).ok())
        });
        Target {
            url: url.to_owned(),
            tls: explicit_trust(opts, fingerprint).unwrap_or(Trust::System),
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
