//! Effective listener settings: flags over environment over config over defaults.
//!
//! These settings decide the socket and the auth secret, so they are fixed for the life of
//! a listener; everything else is read from the live config on each use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use openclaw_config::{AuthMode, BindMode, Config, Paths};

use crate::error::GatewayError;
use crate::serve::Limits;

/// Port used by `--dev` when nothing else names one.
pub const DEV_PORT: u16 = 19001;
/// Port used otherwise.
pub const DEFAULT_PORT: u16 = 18789;

/// What the operator asked for on the command line (`openclaw gateway run …`).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--port`.
    pub port: Option<u16>,
    /// `--bind`.
    pub bind: Option<BindMode>,
    /// `--token`.
    pub token: Option<String>,
    /// `--password`.
    pub password: Option<String>,
    /// `--force`: stop whatever listens on the port first.
    pub force: bool,
    /// `--verbose`: mirror debug logs to stderr.
    pub verbose: bool,
    /// `--dev`: dev profile defaults.
    pub dev: bool,
    /// `--allow-unconfigured`: start without `gateway.mode=local`.
    pub allow_unconfigured: bool,
}

/// The resolved listener settings.
#[derive(Clone)]
pub struct Settings {
    /// TCP port (0 = pick a free one).
    pub port: u16,
    /// The bind mode that was asked for.
    pub bind: BindMode,
    /// Addresses to listen on; the first must succeed, later ones are best-effort.
    pub hosts: Vec<IpAddr>,
    /// Auth mode in force.
    pub auth_mode: AuthMode,
    /// The token or password clients must present, if any.
    pub secret: Option<String>,
    /// Time a client has to send `connect`.
    pub handshake_timeout: Duration,
    /// Whether the state-dir lock is skipped (`OPENCLAW_ALLOW_MULTI_GATEWAY=1`).
    pub allow_multi: bool,
    /// Interval of `tick` events (`OPENCLAW_TICK_INTERVAL_MS`, default 30 s).
    pub tick_interval: Duration,
    /// Silence after which an SSE stream gets a `: ping` comment
    /// (`OPENCLAW_SSE_KEEPALIVE_MS`, default 15 s).
    pub sse_keepalive: Duration,
    /// How long shutdown waits for running agent turns (`OPENCLAW_SHUTDOWN_GRACE_MS`,
    /// default 30 s).
    pub shutdown_grace: Duration,
    /// Set when the token is the one stored in the state dir (see [`crate::token`]).
    pub stored_token: Option<StoredToken>,
    /// Connection timeouts and caps of the accept loop ([`crate::serve::Limits`]; each
    /// field has an `OPENCLAW_*` override, named in its doc).
    pub limits: Limits,
}

/// A token read from (or just generated into) `<state>/gateway.token`.
#[derive(Clone, Debug)]
pub struct StoredToken {
    /// The file.
    pub path: std::path::PathBuf,
    /// Whether this activation generated it (the first start of the instance).
    pub generated: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("hosts", &self.hosts)
            .field("auth_mode", &self.auth_mode)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Settings {
    /// Whether every listening address is loopback (only local processes can connect).
    pub fn is_loopback(&self) -> bool {
        self.hosts.iter().all(|h| h.is_loopback())
    }

    /// Resolves settings. `env` is the process environment (a function so tests can fake it).
    pub fn resolve(
        opts: &RunOptions,
        config: &Config,
        paths: &Paths,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, GatewayError> {
        let env_nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let port = match (opts.port, env_nonempty("OPENCLAW_GATEWAY_PORT")) {
            (Some(p), _) => p,
            (None, Some(raw)) => raw.trim().parse::<u16>().map_err(|_| {
                GatewayError::Setting(format!(
                    "OPENCLAW_GATEWAY_PORT={raw:?} is not a port number; use 1-65535 or unset it"
                ))
            })?,
            (None, None) => config.gateway.port.unwrap_or(if opts.dev || paths.dev {
                DEV_PORT
            } else {
                DEFAULT_PORT
            }),
        };

        let bind = opts.bind.unwrap_or_else(|| config.gateway.effective_bind());
        let hosts = match bind {
            BindMode::Loopback => loopback_hosts(),
            BindMode::Lan => vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
            BindMode::Custom => {
                let raw = config.gateway.custom_bind_host.as_deref().ok_or_else(|| {
                    GatewayError::Setting(
                        "bind mode custom needs gateway.customBindHost (an IP address)".into(),
                    )
                })?;
                let ip: IpAddr = raw.parse().map_err(|_| {
                    GatewayError::Setting(format!(
                        "gateway.customBindHost {raw:?} is not an IP address; use e.g. 192.168.1.10"
                    ))
                })?;
                vec![ip]
            }
            BindMode::Auto => {
                if in_container() {
                    vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
                } else {
                    loopback_hosts()
                }
            }
            BindMode::Tailnet => {
                return Err(GatewayError::Setting(
                    "bind mode tailnet is not supported by this gateway; use loopback, lan or custom"
                        .into(),
                ));
            }
        };

        let auth = &config.gateway.auth;
        let token = pick_secret(
            opts.token.as_deref(),
            env_nonempty("OPENCLAW_GATEWAY_TOKEN"),
            auth.token.as_ref(),
        );
        let password = pick_secret(
            opts.password.as_deref(),
            env_nonempty("OPENCLAW_GATEWAY_PASSWORD"),
            auth.password.as_ref(),
        );
        let auth_mode = match config.gateway.auth.mode {
            Some(m) => m,
            None if token.is_none() && password.is_some() => AuthMode::Password,
            None => AuthMode::Token,
        };
        let secret = match auth_mode {
            AuthMode::Token => token,
            AuthMode::Password if password.is_none() => {
                return Err(GatewayError::Setting(
                    "gateway.auth.mode is \"password\" but no password is set; set gateway.auth.password, OPENCLAW_GATEWAY_PASSWORD or --password".into(),
                ));
            }
            AuthMode::Password => password,
            AuthMode::None => None,
            AuthMode::TrustedProxy => {
                return Err(GatewayError::Setting(
                    "gateway.auth.mode \"trusted-proxy\" is not supported by this gateway yet; use token or password".into(),
                ));
            }
        };

        let handshake_timeout = Duration::from_millis(
            ms_env(env, "OPENCLAW_HANDSHAKE_TIMEOUT_MS")?
                .unwrap_or(openclaw_protocol::DEFAULT_HANDSHAKE_TIMEOUT_MS),
        );
        let allow_multi = env("OPENCLAW_ALLOW_MULTI_GATEWAY").is_some_and(|v| v == "1");
        let tick_interval = Duration::from_millis(
            ms_env(env, "OPENCLAW_TICK_INTERVAL_MS")?
                .unwrap_or(openclaw_protocol::TICK_INTERVAL_MS),
        );

        let settings = Settings {
            port,
            bind,
            hosts,
            auth_mode,
            secret,
            handshake_timeout,
            allow_multi,
            tick_interval,
            sse_keepalive: Duration::from_millis(
                ms_env(env, "OPENCLAW_SSE_KEEPALIVE_MS")?.unwrap_or(15_000),
            ),
            shutdown_grace: Duration::from_millis(
                ms_env(env, "OPENCLAW_SHUTDOWN_GRACE_MS")?.unwrap_or(30_000),
            ),
            stored_token: None,
            limits: limits(env)?,
        };
        if !settings.is_loopback() && settings.secret.is_none() {
            return Err(GatewayError::RefusedBind {
                bind: bind_name(bind).to_owned(),
            });
        }
        Ok(settings)
    }
}

/// Where a shared secret comes from, for the gateway and its clients alike: the flag, then
/// the environment, then the (resolved) config; empty values count as absent.
pub fn pick_secret(
    flag: Option<&str>,
    env: Option<String>,
    configured: Option<&openclaw_config::Secret>,
) -> Option<String> {
    flag.map(str::to_owned)
        .filter(|t| !t.is_empty())
        .or(env.filter(|t| !t.is_empty()))
        .or_else(|| configured.map(|s| s.expose().to_owned()))
        .filter(|t| !t.is_empty())
}

/// The config spelling of a bind mode.
pub fn bind_name(bind: BindMode) -> &'static str {
    match bind {
        BindMode::Loopback => "loopback",
        BindMode::Lan => "lan",
        BindMode::Custom => "custom",
        BindMode::Auto => "auto",
        BindMode::Tailnet => "tailnet",
    }
}

/// The config spelling of an auth mode.
pub fn auth_mode_name(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::Token => "token",
        AuthMode::Password => "password",
        AuthMode::None => "none",
        AuthMode::TrustedProxy => "trusted-proxy",
    }
}

/// The accept loop's limits: the defaults of [`crate::serve`], each overridable from the
/// environment (for tests that must not wait ten seconds, and for operators who need to).
fn limits(env: &dyn Fn(&str) -> Option<String>) -> Result<Limits, GatewayError> {
    let d = Limits::default();
    let ms = |key: &str, default: Duration| -> Result<Duration, GatewayError> {
        Ok(ms_env(env, key)?.map_or(default, Duration::from_millis))
    };
    let count = |key: &str, default: usize| -> Result<usize, GatewayError> {
        Ok(positive_env(env, key, "connections")?.map_or(default, |n| n as usize))
    };
    Ok(Limits {
        header_timeout: ms("OPENCLAW_HTTP_HEADER_TIMEOUT_MS", d.header_timeout)?,
        idle_timeout: ms("OPENCLAW_HTTP_IDLE_TIMEOUT_MS", d.idle_timeout)?,
        body_timeout: ms("OPENCLAW_HTTP_BODY_TIMEOUT_MS", d.body_timeout)?,
        preauth_per_ip: count("OPENCLAW_PREAUTH_PER_IP", d.preauth_per_ip)?,
        preauth_total: count("OPENCLAW_PREAUTH_MAX", d.preauth_total)?,
    })
}

/// A positive millisecond count from the environment, if set.
fn ms_env(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Result<Option<u64>, GatewayError> {
    positive_env(env, key, "milliseconds")
}

/// A positive whole number of `unit` from the environment, if set.
fn positive_env(
    env: &dyn Fn(&str) -> Option<String>,
    key: &str,
    unit: &str,
) -> Result<Option<u64>, GatewayError> {
    match env(key).filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(GatewayError::Setting(format!(
                "{key}={raw:?} is not a positive number of {unit}; fix or unset it"
            ))),
        },
    }
}

fn loopback_hosts() -> Vec<IpAddr> {
    vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]
}

fn in_container() -> bool {
    Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn paths() -> Paths {
        Paths {
            state_dir: "/tmp/x".into(),
            config_path: "/tmp/x/openclaw.json".into(),
            profile: None,
            dev: false,
        }
    }

    fn resolve(
        opts: RunOptions,
        cfg: &Config,
        env: &[(&str, &str)],
    ) -> Result<Settings, GatewayError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve(&opts, cfg, &paths(), &|k| env.get(k).cloned())
    }

    #[test]
    fn port_precedence() {
        let mut cfg = Config::default();
        assert_eq!(
            resolve(RunOptions::default(), &cfg, &[]).unwrap().port,
            18789
        );
        let dev = RunOptions {
            dev: true,
            ..Default::default()
        };
        assert_eq!(resolve(dev, &cfg, &[]).unwrap().port, 19001);
        cfg.gateway.port = Some(1000);
        assert_eq!(
            resolve(RunOptions::default(), &cfg, &[]).unwrap().port,
            1000
        );
        let env = [("OPENCLAW_GATEWAY_PORT", "2000")];
        assert_eq!(
            resolve(RunOptions::default(), &cfg, &env).unwrap().port,
            2000
        );
        let flag = RunOptions {
            port: Some(3000),
            ..Default::default()
        };
        assert_eq!(resolve(flag, &cfg, &env).unwrap().port, 3000);
        let bad = [("OPENCLAW_GATEWAY_PORT", "abc")];
        assert_eq!(
            resolve(RunOptions::default(), &cfg, &bad)
                .unwrap_err()
                .exit_code(),
            78
        );
    }

    #[test]
    fn connection_limits_from_the_environment() {
        let cfg = Config::default();
        let d = resolve(RunOptions::default(), &cfg, &[]).unwrap().limits;
        assert_eq!(d, Limits::default());
        let env = [
            ("OPENCLAW_HTTP_HEADER_TIMEOUT_MS", "1500"),
            ("OPENCLAW_HTTP_IDLE_TIMEOUT_MS", "2500"),
            ("OPENCLAW_HTTP_BODY_TIMEOUT_MS", "3500"),
            ("OPENCLAW_PREAUTH_PER_IP", "4"),
            ("OPENCLAW_PREAUTH_MAX", "40"),
        ];
        let l = resolve(RunOptions::default(), &cfg, &env).unwrap().limits;
        assert_eq!(l.header_timeout, Duration::from_millis(1500));
        assert_eq!(l.idle_timeout, Duration::from_millis(2500));
        assert_eq!(l.body_timeout, Duration::from_millis(3500));
        assert_eq!((l.preauth_per_ip, l.preauth_total), (4, 40));
        let bad = [("OPENCLAW_PREAUTH_PER_IP", "0")];
        let err = resolve(RunOptions::default(), &cfg, &bad).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(
            err.to_string().contains("positive number of connections"),
            "{err}"
        );
    }

    #[test]
    fn lan_without_secret_is_refused() {
        let cfg = Config::default();
        let lan = RunOptions {
            bind: Some(BindMode::Lan),
            ..Default::default()
        };
        let err = resolve(lan.clone(), &cfg, &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Refusing to bind gateway to lan without auth.")
        );
        assert_eq!(err.exit_code(), 78);
        let ok = resolve(lan, &cfg, &[("OPENCLAW_GATEWAY_TOKEN", "t")]).unwrap();
        assert_eq!(ok.secret.as_deref(), Some("t"));
        assert!(!ok.is_loopback());
    }

    #[test]
    fn password_mode_inferred_from_password_only() {
        let cfg = Config::default();
        let s = resolve(
            RunOptions {
                password: Some("pw".into()),
                ..Default::default()
            },
            &cfg,
            &[],
        )
        .unwrap();
        assert_eq!(s.auth_mode, AuthMode::Password);
        assert!(!format!("{s:?}").contains("pw\""));
    }
}
