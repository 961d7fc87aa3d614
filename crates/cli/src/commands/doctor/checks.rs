//! The individual doctor checks: config, permissions, gateway, auth, service unit, log
//! directory, providers and channels.

use std::path::{Path, PathBuf};

use openclaw_config::{AuthMode, Config, Paths};
use serde_json::{Value, json};

use super::{Action, Check, PROBE_TIMEOUT, PROVIDER_TIMEOUT, Status};
use crate::client::{Client, ClientError};
use crate::commands::{Global, READ_SCOPES, service};
use crate::opts::ClientOpts;
use crate::posture::{
    MIN_PASSWORD_LEN, MIN_TOKEN_LEN, TokenSource, Weakness, effective_password, effective_token,
    is_loopback_bind, mode_of, sibling, weakness, writable,
};
use crate::target::Local;

/// Keys the runbooks write that are aliases here: each works, and doctor names the
/// canonical key to use instead (one check per alias in use).
pub(super) fn check_aliases(doc: &Value) -> Vec<Check> {
    openclaw_config::aliases::aliases_in(doc)
        .into_iter()
        .map(|a| {
            Check::new(
                format!("config.alias.{}", a.written.split(' ').next().unwrap_or("")),
                Status::Warn,
                "Config key alias",
            )
            .detail(format!(
                "{} works as an alias of {}",
                a.written, a.canonical
            ))
            .fix(format!(
                "prefer the canonical name: replace {} with {} (`openclaw config get` shows both)",
                a.written, a.canonical
            ))
        })
        .collect()
}

pub(super) fn check_config(local: &Local) -> Check {
    let path = &local.paths.config_path;
    let title = "Config valid";
    match &local.config_error {
        None if path.exists() => Check::new("config.valid", Status::Ok, title)
            .detail(format!("{} loads", path.display())),
        None => Check::new("config.valid", Status::Ok, title).detail(format!(
            "no config file at {}; running on defaults",
            path.display()
        )),
        Some(e) => {
            let mut c = Check::new("config.valid", Status::Fail, title)
                .detail(format!("{}: {e}", path.display()));
            let bak = sibling(path, ".bak");
            let env = |k: &str| std::env::var(k).ok();
            if bak.exists() && openclaw_config::load_file(&bak, &env).is_ok() {
                c = c
                    .fix(format!(
                        "`openclaw doctor --fix` restores the valid backup {}, or edit the file and run `openclaw config validate`",
                        bak.display()
                    ))
                    .action(Action::RestoreBackup {
                        config: path.clone(),
                        bak,
                    });
            } else {
                c = c.fix(format!(
                    "edit {} at the path named above, then run `openclaw config validate`",
                    path.display()
                ));
            }
            c
        }
    }
}

/// Permission problems of the state dir and the config file. Group/world-readable is a
/// failure when the config holds secrets, a warning otherwise; writable by others always
/// fails.
pub(super) fn check_perms(paths: &Paths, secrets_in_config: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let config_in_state = paths.config_path.starts_with(&paths.state_dir);
    for (id, title, path, is_dir) in [
        (
            "fs.state_dir.perms",
            "State dir permissions",
            &paths.state_dir,
            true,
        ),
        (
            "fs.config.perms",
            "Config file permissions",
            &paths.config_path,
            false,
        ),
    ] {
        let Some(mode) = mode_of(path) else {
            out.push(
                Check::new(id, Status::Ok, title)
                    .detail(format!("{} does not exist yet", path.display())),
            );
            continue;
        };
        let holds = secrets_in_config && (!is_dir || config_in_state);
        let want = if is_dir { "700" } else { "600" };
        let action = if is_dir {
            Action::ChmodDir(path.clone())
        } else {
            Action::ChmodFile(path.clone())
        };
        let c = if mode & 0o022 != 0 {
            Check::new(id, Status::Fail, title).detail(format!(
                "{} is mode {:03o}: other users can change it",
                path.display(),
                mode & 0o777
            ))
        } else if mode & 0o077 != 0 {
            let status = if holds { Status::Fail } else { Status::Warn };
            let why = if holds {
                "readable by other users, and the config holds secrets"
            } else {
                "readable by other users"
            };
            Check::new(id, status, title).detail(format!(
                "{} is mode {:03o}: {why}",
                path.display(),
                mode & 0o777
            ))
        } else {
            out.push(Check::new(id, Status::Ok, title).detail(format!(
                "{} is mode {:03o}",
                path.display(),
                mode & 0o777
            )));
            continue;
        };
        out.push(
            c.fix(format!(
                "chmod {want} {} (or `openclaw doctor --fix`)",
                path.display()
            ))
            .action(action),
        );
    }
    out
}

pub(super) struct Probe {
    pub(super) check: Check,
    pub(super) reachable: bool,
    pub(super) channels: Option<Value>,
}

pub(super) async fn probe_gateway(local: &Local, opts: &ClientOpts) -> Probe {
    let mut target = local.target(opts);
    target.timeout = target.timeout.min(PROBE_TIMEOUT);
    let title = "Gateway reachable";
    match Client::connect(&target, READ_SCOPES).await {
        Ok(mut client) => {
            let status = client.call("status", None, false).await.ok();
            // With a live probe: the webhook state comes from Telegram's getWebhookInfo.
            let channels = client
                .call("channels.status", Some(json!({"probe": true})), false)
                .await
                .ok();
            client.close().await;
            let detail = match &status {
                Some(s) => format!(
                    "{} answers (pid {}, version {}, bind {}, auth {})",
                    target.url,
                    s["pid"],
                    s["version"].as_str().unwrap_or("?"),
                    s["gateway"]["bind"].as_str().unwrap_or("?"),
                    s["gateway"]["authMode"].as_str().unwrap_or("?"),
                ),
                None => format!("{} answers", target.url),
            };
            Probe {
                check: Check::new("gateway.reachable", Status::Ok, title).detail(detail),
                reachable: true,
                channels,
            }
        }
        Err(ClientError::Unreachable { reason, .. }) => {
            let check = if opts.url.is_some() {
                Check::new("gateway.reachable", Status::Fail, title)
                    .detail(format!("{} does not answer ({reason})", target.url))
                    .fix("check the --url, and that the gateway runs there")
            } else {
                match std::net::TcpListener::bind(("127.0.0.1", local.port)) {
                    Ok(l) => {
                        drop(l);
                        Check::new("gateway.reachable", Status::Warn, title)
                            .detail(format!(
                                "gateway not running; port {} is free",
                                local.port
                            ))
                            .fix("start it: `openclaw gateway` (foreground) or `openclaw gateway start` (installed service)")
                    }
                    Err(e) => Check::new("gateway.reachable", Status::Fail, title)
                        .detail(format!(
                            "nothing answers as a gateway at {} ({reason}), but port {} is taken ({e})",
                            target.url, local.port
                        ))
                        .fix(format!(
                            "find the process with `ss -ltnp 'sport = :{}'`; stop it, or start the gateway with `--force`",
                            local.port
                        )),
                }
            };
            Probe {
                check,
                reachable: false,
                channels: None,
            }
        }
        Err(e) => Probe {
            check: Check::new("gateway.reachable", Status::Fail, title)
                .detail(format!("{} answered but the connection failed: {e}", target.url))
                .fix("pass the gateway's secret with --token/--password or OPENCLAW_GATEWAY_TOKEN/OPENCLAW_GATEWAY_PASSWORD"),
            reachable: true,
            channels: None,
        },
    }
}

pub(super) fn check_auth(local: &Local) -> Check {
    let gw = &local.config.gateway;
    let title = "Gateway auth";
    let id = "gateway.auth";
    let loopback = is_loopback_bind(&local.config);
    let path = local.paths.config_path.clone();
    match gw.auth.effective_mode() {
        AuthMode::None => {
            let status = if loopback { Status::Warn } else { Status::Fail };
            Check::new(id, status, title)
                .detail(format!(
                    "gateway.auth.mode is \"none\" on a {} bind: anyone who can reach the port can control the gateway",
                    if loopback { "loopback" } else { "non-loopback" }
                ))
                .fix("set gateway.auth.mode to \"token\" and run `openclaw doctor --fix` to generate a token")
        }
        AuthMode::TrustedProxy => {
            if gw.trusted_proxies.is_empty() {
                Check::new(id, Status::Fail, title)
                    .detail("gateway.auth.mode is \"trusted-proxy\" but gateway.trustedProxies is empty")
                    .fix("list the reverse proxy's address in gateway.trustedProxies")
            } else {
                Check::new(id, Status::Ok, title).detail(format!(
                    "trusted-proxy auth via {} prox{}",
                    gw.trusted_proxies.len(),
                    if gw.trusted_proxies.len() == 1 { "y" } else { "ies" }
                ))
            }
        }
        AuthMode::Password => match effective_password(&local.config) {
            None => Check::new(id, Status::Fail, title)
                .detail("gateway.auth.mode is \"password\" but no password is set (or its SecretRef does not resolve)")
                .fix("set gateway.auth.password (a SecretRef keeps it out of the file) or OPENCLAW_GATEWAY_PASSWORD"),
            Some(p) => match weakness(&p, MIN_PASSWORD_LEN) {
                None => Check::new(id, Status::Ok, title).detail("password auth; password is set"),
                Some(w) => Check::new(id, Status::Fail, title)
                    .detail(match w {
                        Weakness::WellKnown => "the gateway password is a well-known default".to_string(),
                        Weakness::Short(n) => format!("the gateway password has only {n} characters (want at least {MIN_PASSWORD_LEN})"),
                    })
                    .fix("choose a long random password for gateway.auth.password, or switch to token auth"),
            },
        },
        AuthMode::Token => {
            let (source, value) = effective_token(&local.config, &local.paths);
            let from = match &source {
                TokenSource::Env => "OPENCLAW_GATEWAY_TOKEN".to_string(),
                TokenSource::Inline => format!("gateway.auth.token in {}", path.display()),
                TokenSource::Ref(s) => format!("gateway.auth.token ({s} SecretRef)"),
                TokenSource::Stored(p) => format!("{} (generated by the gateway)", p.display()),
                TokenSource::None => String::new(),
            };
            let fixable = matches!(source, TokenSource::Inline | TokenSource::None);
            let value = match value {
                Ok(v) => v,
                Err(e) => {
                    return Check::new(id, Status::Fail, title)
                        .detail(e)
                        .fix("make the SecretRef resolvable (set the variable, create the file) and run `openclaw secrets list`");
                }
            };
            let Some(token) = value else {
                if loopback {
                    return Check::new(id, Status::Warn, title)
                        .detail(format!(
                            "no gateway token configured yet: the gateway generates one into {} on its first start",
                            openclaw_gateway::token::token_path(&local.paths).display()
                        ))
                        .fix("start the gateway once, or `openclaw doctor --fix` to put one in gateway.auth.token")
                        .action(Action::GenerateToken(path));
                }
                return Check::new(id, Status::Fail, title)
                    .detail("no gateway token configured on a non-loopback bind: the gateway refuses to start")
                    .fix("`openclaw doctor --fix` generates one into gateway.auth.token")
                    .action(Action::GenerateToken(path));
            };
            match weakness(&token, MIN_TOKEN_LEN) {
                None => Check::new(id, Status::Ok, title)
                    .detail(format!("token auth; strong token from {from}")),
                Some(w) => {
                    let what = match w {
                        Weakness::WellKnown => "is a well-known default".to_string(),
                        Weakness::Short(n) => {
                            format!("has only {n} characters (want at least {MIN_TOKEN_LEN})")
                        }
                    };
                    let c = Check::new(id, Status::Fail, title)
                        .detail(format!("the token from {from} {what}"));
                    if fixable {
                        c.fix("`openclaw doctor --fix` replaces it with a random 64-character token; update clients afterwards")
                            .action(Action::GenerateToken(path))
                    } else {
                        c.fix(format!(
                            "replace the value at its source ({from}) with `openssl rand -hex 32`"
                        ))
                    }
                }
            }
        }
    }
}

/// Where a systemd user unit / launchd agent for this profile would be, and the
/// program it starts, if one is installed.
fn installed_unit(global: &Global, paths: &Paths) -> Option<(PathBuf, String)> {
    let home = std::env::var("HOME").ok().filter(|h| !h.is_empty())?;
    let profile = paths
        .profile
        .clone()
        .or_else(|| global.profile.clone())
        .filter(|p| !p.is_empty());
    let candidates: Vec<PathBuf> = if cfg!(target_os = "macos") {
        let label = match &profile {
            Some(p) => format!("ai.openclaw.{p}"),
            None => "ai.openclaw.gateway".into(),
        };
        vec![
            PathBuf::from(&home)
                .join("Library/LaunchAgents")
                .join(format!("{label}.plist")),
        ]
    } else {
        let name = match &profile {
            Some(p) => format!("openclaw-gateway-{p}.service"),
            None => "openclaw-gateway.service".into(),
        };
        let base = std::env::var("XDG_CONFIG_HOME")
            .ok()
            .filter(|x| !x.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(&home).join(".config"));
        vec![base.join("systemd/user").join(name)]
    };
    let unit = candidates.into_iter().find(|p| p.exists())?;
    let text = std::fs::read_to_string(&unit).ok()?;
    let program = if unit.extension().is_some_and(|e| e == "plist") {
        // The first <string> after ProgramArguments.
        text.split("ProgramArguments")
            .nth(1)
            .and_then(|rest| rest.split("<string>").nth(1))
            .and_then(|s| s.split("</string>").next())
            .map(str::to_owned)
    } else {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("ExecStart="))
            .map(|l| {
                let l = l.trim_start_matches(['-', '@', '+', '!', ':']);
                let first = if let Some(rest) = l.strip_prefix('"') {
                    rest.split('"').next().unwrap_or("")
                } else {
                    l.split_whitespace().next().unwrap_or("")
                };
                first.to_owned()
            })
    }
    .unwrap_or_default();
    Some((unit, program))
}

pub(super) fn check_service(global: &Global, paths: &Paths) -> Check {
    let title = "Service unit";
    let id = "service.unit";
    if let Err(e) = service::detect_manager() {
        return Check::new(id, Status::Fail, title).detail(e).fix(format!(
            "set {} to systemd or launchd, or unset it",
            service::MANAGER_ENV
        ));
    }
    // Preferred: compare with exactly what `openclaw gateway install` would write.
    if let Some((path, expected)) = service::expected_unit(global) {
        return match std::fs::read_to_string(&path) {
            Err(_) => Check::new(id, Status::Ok, title).detail(format!(
                "no service installed at {} (`openclaw gateway install` adds one)",
                path.display()
            )),
            Ok(text) if text == expected => Check::new(id, Status::Ok, title)
                .detail(format!("{} matches this binary and config", path.display())),
            Ok(_) => Check::new(id, Status::Warn, title)
                .detail(format!(
                    "{} differs from what this binary would install (binary, port or paths changed)",
                    path.display()
                ))
                .fix("`openclaw doctor --fix` rewrites it, or run `openclaw gateway install --force`; then `openclaw gateway restart`")
                .action(Action::RewriteUnit { path, text: expected }),
        };
    }
    let Some((unit, program)) = installed_unit(global, paths) else {
        return Check::new(id, Status::Ok, title).detail(
            "no service installed (the gateway runs in the foreground; `openclaw gateway install` adds one)",
        );
    };
    let current = std::env::current_exe()
        .ok()
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p));
    let installed = std::fs::canonicalize(&program).unwrap_or_else(|_| PathBuf::from(&program));
    match current {
        Some(cur) if cur == installed => Check::new(id, Status::Ok, title).detail(format!(
            "{} starts this binary ({})",
            unit.display(),
            cur.display()
        )),
        Some(cur) => Check::new(id, Status::Warn, title)
            .detail(format!(
                "{} starts {} but this binary is {}",
                unit.display(),
                if program.is_empty() { "?" } else { &program },
                cur.display()
            ))
            .fix("run `openclaw gateway install --force` to rewrite the unit for this binary"),
        None => Check::new(id, Status::Warn, title).detail(format!(
            "{} is installed; cannot tell which binary this is",
            unit.display()
        )),
    }
}

pub(super) fn check_log_dir(local: &Local) -> Check {
    let title = "Log dir writable";
    let id = "logs.writable";
    let file = local.log_file();
    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if file.exists() {
        return if writable(&file) {
            Check::new(id, Status::Ok, title).detail(format!("{} is writable", file.display()))
        } else {
            Check::new(id, Status::Fail, title)
                .detail(format!("{} is not writable by this user", file.display()))
                .fix(format!(
                    "chown it to the user running the gateway, or set logging.file (current: {})",
                    file.display()
                ))
        };
    }
    // The gateway creates missing directories; the nearest existing ancestor must let it.
    let mut probe = dir.as_path();
    while !probe.exists() {
        match probe.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe = p,
            _ => break,
        }
    }
    if writable(probe) {
        Check::new(id, Status::Ok, title).detail(format!(
            "{} {}",
            dir.display(),
            if dir.exists() {
                "is writable"
            } else {
                "will be created on first start"
            }
        ))
    } else {
        Check::new(id, Status::Fail, title)
            .detail(format!(
                "cannot create {}: {} is not writable",
                file.display(),
                probe.display()
            ))
            .fix("fix the directory's owner/permissions, or point logging.file somewhere writable")
    }
}

/// `host:port` of a provider base URL (default ports 443/80).
pub fn host_port(base_url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = base_url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .and_then(|p| p.parse().ok())
            .unwrap_or(default);
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None if !authority.is_empty() => Some((authority.to_owned(), default)),
        None => None,
    }
}

pub(super) async fn check_providers(config: &Config) -> Vec<Check> {
    let Some(models) = &config.models else {
        return Vec::new();
    };
    let futs = models.providers.iter().map(|(name, p)| {
        let name = name.clone();
        let url = p.base_url.clone();
        async move {
            let id = format!("provider.{name}");
            let title = format!("Provider {name}");
            let Some((host, port)) = host_port(&url) else {
                return Check::new(id, Status::Fail, title)
                    .detail(format!("baseUrl {url:?} has no host"))
                    .fix(format!(
                        "set models.providers.{name}.baseUrl to e.g. https://host/v1"
                    ));
            };
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            match tokio::time::timeout(PROVIDER_TIMEOUT, tokio::net::TcpStream::connect(&addr))
                .await
            {
                Ok(Ok(_)) => {
                    Check::new(id, Status::Ok, title).detail(format!("{addr} accepts connections"))
                }
                Ok(Err(e)) => Check::new(id, Status::Fail, title)
                    .detail(format!("cannot connect to {addr}: {e}"))
                    .fix(format!(
                        "check models.providers.{name}.baseUrl, DNS and outbound network/proxy"
                    )),
                Err(_) => Check::new(id, Status::Fail, title)
                    .detail(format!(
                        "no TCP connection to {addr} within {} s",
                        PROVIDER_TIMEOUT.as_secs()
                    ))
                    .fix("check the network path (firewall, proxy) to the provider"),
            }
        }
    });
    futures_util::future::join_all(futs).await
}

/// Flattens a `channels.status` payload into (channel, account, status object).
fn channel_accounts(payload: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let account_id = |a: &Value, i: usize| {
        a.get("accountId")
            .or_else(|| a.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if i == 0 {
                    "default".into()
                } else {
                    format!("#{i}")
                }
            })
    };
    if let Some(map) = payload.get("channelAccounts").and_then(Value::as_object) {
        for (ch, accts) in map {
            for (i, a) in accts.as_array().into_iter().flatten().enumerate() {
                out.push((ch.clone(), account_id(a, i), a.clone()));
            }
        }
        return out;
    }
    let channels = payload.get("channels").unwrap_or(payload);
    let entries: Vec<(String, Value)> = match channels {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(a) => a
            .iter()
            .map(|v| {
                let name = v
                    .get("name")
                    .or_else(|| v.get("id"))
                    .or_else(|| v.get("channel"))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned();
                (name, v.clone())
            })
            .collect(),
        _ => Vec::new(),
    };
    for (ch, v) in entries {
        match v.get("accounts") {
            Some(Value::Array(accts)) => {
                for (i, a) in accts.iter().enumerate() {
                    out.push((ch.clone(), account_id(a, i), a.clone()));
                }
            }
            Some(Value::Object(m)) => {
                for (id, a) in m {
                    out.push((ch.clone(), id.clone(), a.clone()));
                }
            }
            _ if v.is_object() => out.push((ch.clone(), "default".into(), v.clone())),
            _ => {}
        }
    }
    out
}

/// The webhook state the channel probe read from the service (Telegram `getWebhookInfo`).
fn webhook_check(ch: &str, acct: &str, w: &Value) -> Check {
    let id = format!("channel.{ch}.{acct}.webhook");
    let title = format!("Channel: {ch} ({acct}) webhook");
    let text = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or("");
    let pending = w
        .get("pendingUpdateCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let last_error = text("lastErrorMessage");
    match text("state") {
        "registered" if !last_error.is_empty() => Check::new(id, Status::Warn, title)
            .detail(format!(
                "registered at {} ({pending} pending); Telegram's last delivery error: {last_error}",
                text("url")
            ))
            .fix(format!(
                "make {} reach this gateway's {} (reverse proxy, DNS, TLS), then `openclaw channels status --probe`",
                text("url"),
                text("path")
            )),
        "registered" => Check::new(id, Status::Ok, title)
            .detail(format!("registered at {} ({pending} pending)", text("url"))),
        "not registered" | "mismatch" => Check::new(id, Status::Fail, title)
            .detail(format!(
                "webhook not configured at Telegram for {} (Telegram has {:?})",
                text("configuredUrl"),
                text("url")
            ))
            .fix(format!(
                "restart the account so it calls setWebhook again (`openclaw gateway restart`), and check channels.{ch}.webhookUrl"
            )),
        "not configured" => Check::new(id, Status::Ok, title)
            .detail("long polling (webhook not configured)"),
        "conflict" => Check::new(id, Status::Warn, title)
            .detail(format!(
                "a webhook is set at Telegram ({}) but this account polls",
                text("url")
            ))
            .fix("the account removes it when it starts; for webhook mode set webhookUrl and webhookSecret"),
        _ => Check::new(id, Status::Warn, title)
            .detail(format!("webhook state unknown: {}", text("error")))
            .fix(format!("check the {ch} credentials and `openclaw channels status --probe`")),
    }
}

pub(super) fn check_channels(config: &Config, live: Option<&Value>) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(payload) = live {
        let accounts = channel_accounts(payload);
        for (ch, acct, s) in &accounts {
            let flag = |k: &str| s.get(k).and_then(Value::as_bool);
            let last_error = s
                .get("lastError")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty());
            let id = format!("channel.{ch}.{acct}");
            let title = format!("Channel {ch} ({acct})");
            let state = format!(
                "configured={} running={} connected={}",
                flag("configured").map_or("?".into(), |b| b.to_string()),
                flag("running").map_or("?".into(), |b| b.to_string()),
                flag("connected").map_or("?".into(), |b| b.to_string()),
            );
            let c = if let Some(err) = last_error {
                let status = if flag("connected") == Some(true) {
                    Status::Warn
                } else {
                    Status::Fail
                };
                Check::new(id, status, title)
                    .detail(format!("{state}; last error: {err}"))
                    .fix(format!(
                        "check the {ch} credentials and `openclaw logs --level warn`"
                    ))
            } else if flag("configured") == Some(false) {
                Check::new(id, Status::Warn, title)
                    .detail(state)
                    .fix(format!("complete channels.{ch} in the config"))
            } else if flag("running") == Some(false) || flag("connected") == Some(false) {
                Check::new(id, Status::Warn, title)
                    .detail(state)
                    .fix(format!(
                        "enable it (`openclaw channels enable {ch}`) and check `openclaw logs`"
                    ))
            } else {
                Check::new(id, Status::Ok, title).detail(state)
            };
            out.push(c);
            if let Some(w) = s.pointer("/probe/bot/webhook") {
                out.push(webhook_check(ch, acct, w));
            }
        }
        if !accounts.is_empty() {
            return out;
        }
    }
    let channels = config
        .channels
        .as_ref()
        .and_then(|c| serde_json::to_value(c).ok());
    match channels.as_ref().and_then(Value::as_object) {
        Some(m) if !m.is_empty() => {
            for (name, v) in m {
                let enabled = v.get("enabled").and_then(Value::as_bool) != Some(false);
                let c = Check::new(
                    format!("channel.{name}"),
                    Status::Ok,
                    format!("Channel {name}"),
                )
                .detail(if enabled {
                    "configured (live state unknown: gateway not reachable or no channels.status)"
                } else {
                    "configured, disabled (enabled: false)"
                });
                out.push(c);
            }
        }
        _ => out.push(
            Check::new("channels", Status::Ok, "Channels")
                .detail("no channels configured (channels section absent)"),
        ),
    }
    out
}

/// `sessions.store.backend: "postgres"`: the database answers, its version, and whether
/// its schema is the one this build writes (read only: the gateway applies migrations when
/// it starts). Nothing to check for the files store: the state-dir checks cover it.
pub(super) async fn check_session_store(local: &Local) -> Option<Check> {
    let store = local.config.sessions.as_ref().map(|s| &s.store)?;
    if store.backend != openclaw_config::SessionBackend::Postgres {
        return None;
    }
    let title = "Session store (Postgres)";
    let id = "sessions.store";
    let env = |k: &str| std::env::var(k).ok();
    let resolved = match openclaw_config::resolve_secrets(&local.config, &env) {
        Ok(c) => c,
        Err(e) => {
            return Some(
                Check::new(id, Status::Fail, title)
                    .detail(format!("sessions.store.url cannot be resolved: {e}"))
                    .fix("set the variable or secret sessions.store.url names"),
            );
        }
    };
    let url = resolved
        .sessions
        .as_ref()
        .and_then(|s| s.store.url.as_ref())
        .map(|u| u.expose().to_owned())
        .unwrap_or_default();
    Some(match openclaw_sessions::probe_postgres(&url).await {
        Err(e) => Check::new(id, Status::Fail, title)
            .detail(e.to_string())
            .fix("start Postgres, or fix sessions.store.url; the gateway does not start without its session store"),
        Ok(p) => {
            let server = format!("{}: PostgreSQL {}", p.url, p.server_version);
            match p.schema {
                None => Check::new(id, Status::Warn, title)
                    .detail(format!("{server}; no gateway has used this database yet (no schema_migrations table)"))
                    .fix(format!("nothing to do if this is the right database: the gateway creates schema version {} when it starts", p.latest)),
                Some(v) if v > p.latest => Check::new(id, Status::Fail, title)
                    .detail(format!("{server}; schema version {v} is newer than this gateway knows ({})", p.latest))
                    .fix("upgrade the gateway to the version that wrote this database"),
                Some(v) if v < p.latest => Check::new(id, Status::Warn, title)
                    .detail(format!("{server}; schema version {v}, this gateway brings {}", p.latest))
                    .fix("the gateway applies the newer migrations when it next starts"),
                Some(v) => Check::new(id, Status::Ok, title)
                    .detail(format!("{server}; schema version {v} (current)")),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn host_ports() {
        assert_eq!(
            host_port("https://api.openai.com/v1"),
            Some(("api.openai.com".into(), 443))
        );
        assert_eq!(
            host_port("http://127.0.0.1:11434/v1"),
            Some(("127.0.0.1".into(), 11434))
        );
        assert_eq!(host_port("http://[::1]:8080/"), Some(("::1".into(), 8080)));
        assert_eq!(host_port("nonsense"), None);
    }

    #[test]
    fn channel_shapes() {
        let p = json!({"channelAccounts": {"telegram": [{"accountId": "a", "configured": true}]}});
        assert_eq!(channel_accounts(&p).len(), 1);
        let p = json!({"channels": {"slack": {"accounts": [{"id": "x"}, {"id": "y"}]}}});
        assert_eq!(channel_accounts(&p).len(), 2);
        let p = json!({"channels": {}});
        assert!(channel_accounts(&p).is_empty());
    }
}
