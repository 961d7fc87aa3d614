//! `openclaw doctor`: one line per health check, with the fix, and `--fix` to repair what
//! is safe to repair (permissions, a missing or weak token, a broken config with a good
//! backup).
//!
//! The helpers shared with `openclaw security audit` (permission bits, token strength,
//! token generation, the atomic config rewrite) live here too.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use openclaw_config::{AuthMode, BindMode, Config, Paths, SecretSource};
use serde_json::{Value, json};

use super::{Global, READ_SCOPES, print_json};
use crate::ClientOpts;
use crate::client::{Client, ClientError};
use crate::target::Local;

/// Shortest gateway token doctor and audit accept as strong.
pub const MIN_TOKEN_LEN: usize = 24;

/// Shortest gateway password accepted without a warning.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Tokens and passwords that appear in examples and tutorials; anyone would try them.
pub const WELL_KNOWN_SECRETS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "openclaw",
    "openclaw-token",
    "openclaw-gateway",
    "token",
    "secret",
    "password",
    "admin",
    "default",
    "test",
    "example",
    "replace-me",
    "your-token",
    "your-token-here",
    "your_token_here",
    "mytoken",
    "letmein",
    "123456",
    "12345678",
    "1234567890",
];

/// Time allowed for each provider TCP connect.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest time the gateway probe may take, whatever `--timeout` says.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Flags of `openclaw doctor`.
pub struct Options {
    /// Apply the fixes that are safe to apply.
    pub fix: bool,
    /// Do not ask before each fix.
    pub yes: bool,
}

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// Worth a look; does not make the exit code non-zero.
    Warn,
    /// Broken; the exit code is non-zero.
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
        }
    }
}

/// A repair doctor (or `security audit --fix`) can make by itself.
#[derive(Clone, Debug)]
pub enum Action {
    /// `chmod 700` a directory.
    ChmodDir(PathBuf),
    /// `chmod 600` a file.
    ChmodFile(PathBuf),
    /// Write a new random token to `gateway.auth.token` of this config file.
    GenerateToken(PathBuf),
    /// Put the valid `.bak` back in place of the invalid config.
    RestoreBackup {
        /// The invalid config file.
        config: PathBuf,
        /// Its valid backup.
        bak: PathBuf,
    },
    /// Replace a drifted service unit with what `gateway install` would write.
    RewriteUnit {
        /// The unit file or plist.
        path: PathBuf,
        /// Its expected text.
        text: String,
    },
}

impl Action {
    /// What the fix will do, for the prompt.
    pub fn describe(&self) -> String {
        match self {
            Action::ChmodDir(p) => format!("chmod 700 {}", p.display()),
            Action::ChmodFile(p) => format!("chmod 600 {}", p.display()),
            Action::GenerateToken(p) => {
                format!("write a new random gateway.auth.token to {}", p.display())
            }
            Action::RestoreBackup { config, bak } => {
                format!("restore {} from {}", config.display(), bak.display())
            }
            Action::RewriteUnit { path, .. } => {
                format!("rewrite {} for this binary and config", path.display())
            }
        }
    }

    /// Applies the fix; returns what changed, never a secret.
    pub fn apply(&self) -> Result<String> {
        match self {
            Action::ChmodDir(p) => {
                chmod(p, 0o700)?;
                Ok(format!("set {} to mode 700", p.display()))
            }
            Action::ChmodFile(p) => {
                chmod(p, 0o600)?;
                Ok(format!("set {} to mode 600", p.display()))
            }
            Action::GenerateToken(p) => {
                write_new_token(p)?;
                Ok("generated a new gateway token; see gateway.auth.token".into())
            }
            Action::RestoreBackup { config, bak } => {
                let broken = sibling(config, ".invalid");
                std::fs::copy(config, &broken).with_context(|| {
                    format!(
                        "cannot keep the invalid config at {}; nothing was restored",
                        broken.display()
                    )
                })?;
                let text = std::fs::read_to_string(bak)
                    .with_context(|| format!("cannot read {}", bak.display()))?;
                atomic_write(config, &text, false)?;
                Ok(format!(
                    "restored {} from {} (the invalid file is kept as {})",
                    config.display(),
                    bak.display(),
                    broken.display()
                ))
            }
            Action::RewriteUnit { path, text } => {
                atomic_write(path, text, true)?;
                if path.extension().is_some_and(|e| e == "service") {
                    let _ = std::process::Command::new("systemctl")
                        .args(["--user", "daemon-reload"])
                        .stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .status();
                }
                Ok(format!(
                    "rewrote {} (previous kept as .bak); run `openclaw gateway restart` to use it",
                    path.display()
                ))
            }
        }
    }
}

/// One check's result.
#[derive(Clone, Debug)]
pub struct Check {
    /// Stable id, e.g. `config.valid` or `provider.openai`.
    pub id: String,
    /// Outcome.
    pub status: Status,
    /// Short name of what was checked.
    pub title: String,
    /// What was found.
    pub detail: String,
    /// What to do about it, when something is wrong.
    pub fix: Option<String>,
    /// Whether `--fix` repaired it (absent when no repair was attempted).
    pub fixed: Option<bool>,
    /// What the repair changed.
    pub changed: Option<String>,
    /// The automatic repair, if there is one.
    pub action: Option<Action>,
}

impl Check {
    fn new(id: impl Into<String>, status: Status, title: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            status,
            title: title.into(),
            detail: String::new(),
            fix: None,
            fixed: None,
            changed: None,
            action: None,
        }
    }
    fn detail(mut self, d: impl Into<String>) -> Check {
        self.detail = d.into();
        self
    }
    fn fix(mut self, f: impl Into<String>) -> Check {
        self.fix = Some(f.into());
        self
    }
    fn action(mut self, a: Action) -> Check {
        self.action = Some(a);
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "status": self.status.as_str(),
            "title": self.title,
            "detail": self.detail,
        });
        if let Some(f) = &self.fix {
            v["fix"] = json!(f);
        }
        if let Some(f) = self.fixed {
            v["fixed"] = json!(f);
        }
        if let Some(c) = &self.changed {
            v["changed"] = json!(c);
        }
        v
    }
}

/// Decides, per fix, whether to apply it: `--yes`, else ask on a terminal, else refuse
/// and tell the operator to re-run with `--yes`.
pub struct Fixer {
    enabled: bool,
    yes: bool,
    tty: bool,
    told_rerun: bool,
}

impl Fixer {
    /// A fixer for `--fix` (`enabled`) and `--yes`.
    pub fn new(enabled: bool, yes: bool) -> Fixer {
        Fixer {
            enabled,
            yes,
            tty: std::io::stdin().is_terminal(),
            told_rerun: false,
        }
    }

    /// Applies the check's repair if allowed, updating the check in place. Returns true
    /// if something changed.
    pub fn settle(&mut self, check: &mut Check) -> bool {
        let Some(action) = check.action.clone() else {
            return false;
        };
        if !self.enabled || check.status == Status::Ok {
            return false;
        }
        if !self.yes {
            if !self.tty {
                if !self.told_rerun {
                    eprintln!(
                        "not asking for confirmation (stdin is not a terminal); re-run with --yes to apply fixes"
                    );
                    self.told_rerun = true;
                }
                check.fixed = Some(false);
                check.detail.push_str("; not fixed: re-run with --yes");
                return false;
            }
            eprint!("Fix {}: {}? [y/N] ", check.id, action.describe());
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
                check.fixed = Some(false);
                check.detail.push_str("; fix declined");
                return false;
            }
        }
        match action.apply() {
            Ok(what) => {
                check.status = Status::Ok;
                check.fixed = Some(true);
                check.changed = Some(what);
                true
            }
            Err(e) => {
                check.fixed = Some(false);
                check.detail.push_str(&format!("; fix failed: {e:#}"));
                false
            }
        }
    }
}

/// Runs every check, applies fixes if asked, prints the report. Exit code 1 when any
/// check failed (after fixes).
pub async fn run(global: &Global, opts: &ClientOpts, o: Options) -> Result<ExitCode> {
    let mut local = Local::load(global)?;
    let mut fixer = Fixer::new(o.fix, o.yes);
    let mut checks: Vec<Check> = Vec::new();

    let mut c = check_config(&local);
    if fixer.settle(&mut c) {
        local = Local::load(global)?;
    }
    checks.push(c);

    let raw_doc = read_raw_doc(&local.paths.config_path);
    let secrets_in_config = raw_doc.as_ref().is_some_and(holds_inline_secrets);
    for mut c in check_perms(&local.paths, secrets_in_config) {
        fixer.settle(&mut c);
        checks.push(c);
    }

    let probe = probe_gateway(&local, opts).await;
    checks.push(probe.check.clone());

    let mut c = check_auth(&local);
    if fixer.settle(&mut c) {
        local = Local::load(global)?;
        if probe.reachable {
            c.detail
                .push_str("; the running gateway applies it on its next config reload or restart");
        }
    }
    checks.push(c);

    checks.push(check_service(global, &local.paths));
    checks.push(check_log_dir(&local));
    checks.extend(check_providers(&local.config).await);
    checks.extend(check_channels(&local.config, probe.channels.as_ref()));

    let ok = checks.iter().all(|c| c.status != Status::Fail);
    if opts.json {
        print_json(&json!({
            "ok": ok,
            "checks": checks.iter().map(Check::to_json).collect::<Vec<_>>(),
        }));
    } else {
        for c in &checks {
            let detail = if c.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", c.detail)
            };
            if let Some(what) = &c.changed {
                println!("{} {}: fixed: {what}", c.status.mark(), c.title);
                println!("    was: {}", c.detail);
                continue;
            }
            println!("{} {}{detail}", c.status.mark(), c.title);
            if c.status != Status::Ok
                && let Some(f) = &c.fix
            {
                println!("    fix: {f}");
            }
        }
        let fails = checks.iter().filter(|c| c.status == Status::Fail).count();
        let warns = checks.iter().filter(|c| c.status == Status::Warn).count();
        println!(
            "{} checks: {} failed, {} warnings",
            checks.len(),
            fails,
            warns
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn check_config(local: &Local) -> Check {
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
fn check_perms(paths: &Paths, secrets_in_config: bool) -> Vec<Check> {
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

struct Probe {
    check: Check,
    reachable: bool,
    channels: Option<Value>,
}

async fn probe_gateway(local: &Local, opts: &ClientOpts) -> Probe {
    let mut target = local.target(opts);
    target.timeout = target.timeout.min(PROBE_TIMEOUT);
    let title = "Gateway reachable";
    match Client::connect(&target, READ_SCOPES).await {
        Ok(mut client) => {
            let status = client.call("status", None, false).await.ok();
            let channels = client.call("channels.status", None, false).await.ok();
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

/// Where the effective gateway token comes from.
pub enum TokenSource {
    /// `OPENCLAW_GATEWAY_TOKEN`.
    Env,
    /// The value written in the config file.
    Inline,
    /// A SecretRef in the config.
    Ref(SecretSource),
    /// Not configured.
    None,
}

/// The token the gateway would use (env before config), with its value when it can be
/// known. A SecretRef is resolved; a failure is returned as the error text.
pub fn effective_token(config: &Config) -> (TokenSource, Result<Option<String>, String>) {
    if let Ok(t) = std::env::var("OPENCLAW_GATEWAY_TOKEN")
        && !t.is_empty()
    {
        return (TokenSource::Env, Ok(Some(t)));
    }
    match &config.gateway.auth.token {
        Some(s) if s.is_empty() => (TokenSource::None, Ok(None)),
        None => (TokenSource::None, Ok(None)),
        Some(s) => match s.as_ref_source() {
            None => (TokenSource::Inline, Ok(Some(s.expose().to_owned()))),
            Some(r) => {
                let env = |k: &str| std::env::var(k).ok();
                let v = r
                    .resolve("gateway.auth.token", &env)
                    .map(|s| Some(s.expose().to_owned()))
                    .map_err(|e| e.to_string());
                (TokenSource::Ref(r.source), v)
            }
        },
    }
}

/// The gateway password in force (env before config), resolved if it is a reference.
pub fn effective_password(config: &Config) -> Option<String> {
    if let Ok(p) = std::env::var("OPENCLAW_GATEWAY_PASSWORD")
        && !p.is_empty()
    {
        return Some(p);
    }
    let s = config.gateway.auth.password.as_ref()?;
    match s.as_ref_source() {
        None => Some(s.expose().to_owned()).filter(|p| !p.is_empty()),
        Some(r) => {
            let env = |k: &str| std::env::var(k).ok();
            r.resolve("gateway.auth.password", &env)
                .ok()
                .map(|s| s.expose().to_owned())
        }
    }
}

/// Why a secret is weak.
#[derive(Debug, PartialEq, Eq)]
pub enum Weakness {
    /// One of [`WELL_KNOWN_SECRETS`].
    WellKnown,
    /// Shorter than the minimum; holds the length.
    Short(usize),
}

/// Whether `secret` is a well-known default or shorter than `min` characters.
pub fn weakness(secret: &str, min: usize) -> Option<Weakness> {
    let lower = secret.trim().to_ascii_lowercase();
    if WELL_KNOWN_SECRETS.contains(&lower.as_str()) {
        Some(Weakness::WellKnown)
    } else if secret.chars().count() < min {
        Some(Weakness::Short(secret.chars().count()))
    } else {
        None
    }
}

fn check_auth(local: &Local) -> Check {
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
            let (source, value) = effective_token(&local.config);
            let from = match &source {
                TokenSource::Env => "OPENCLAW_GATEWAY_TOKEN".to_string(),
                TokenSource::Inline => format!("gateway.auth.token in {}", path.display()),
                TokenSource::Ref(s) => format!("gateway.auth.token ({s} SecretRef)"),
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
                return Check::new(id, Status::Fail, title)
                    .detail(if loopback {
                        "no gateway token configured: any local process can connect"
                    } else {
                        "no gateway token configured on a non-loopback bind: the gateway refuses to start"
                    })
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

/// True unless the config binds beyond loopback (`lan`, `tailnet`, a non-loopback
/// `custom` host).
pub fn is_loopback_bind(config: &Config) -> bool {
    match config.gateway.effective_bind() {
        BindMode::Loopback | BindMode::Auto => true,
        BindMode::Lan | BindMode::Tailnet => false,
        BindMode::Custom => config
            .gateway
            .custom_bind_host
            .as_deref()
            .and_then(|h| h.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback()),
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

fn check_service(global: &Global, paths: &Paths) -> Check {
    let title = "Service unit";
    let id = "service.unit";
    // Preferred: compare with exactly what `openclaw gateway install` would write.
    if let Some((path, expected)) = super::service::expected_unit(global) {
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

fn check_log_dir(local: &Local) -> Check {
    let title = "Log dir writable";
    let id = "logs.writable";
    let file = local
        .config
        .logging
        .file
        .clone()
        .unwrap_or_else(|| local.paths.default_log_file());
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

async fn check_providers(config: &Config) -> Vec<Check> {
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

fn check_channels(config: &Config, live: Option<&Value>) -> Vec<Check> {
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

// ---- helpers shared with `security audit` ----

/// Permission bits of `path` (following symlinks), if it exists.
pub fn mode_of(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Sets the permission bits of `path`.
pub fn chmod(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).with_context(|| {
        format!(
            "cannot chmod {:o} {}; are you its owner?",
            mode,
            path.display()
        )
    })
}

fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// The config file as a JSON document (`${VAR}` kept), if it exists and parses.
pub fn read_raw_doc(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    openclaw_config::read_document(&text).ok()
}

/// Whether the document holds a secret value itself (not a `${VAR}` or a SecretRef)
/// under a sensitive key such as `token`, `password` or `apiKey`.
pub fn holds_inline_secrets(doc: &Value) -> bool {
    match doc {
        Value::Object(m) => m.iter().any(|(k, v)| {
            (openclaw_config::is_sensitive_key(k)
                && matches!(v, Value::String(s) if !s.is_empty() && !is_env_ref(s)))
                || holds_inline_secrets(v)
        }),
        Value::Array(a) => a.iter().any(holds_inline_secrets),
        _ => false,
    }
}

fn is_env_ref(s: &str) -> bool {
    s.strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
}

/// 32 random bytes from the kernel (getrandom, else `/dev/urandom`), as 64 hex digits.
pub fn generate_token() -> Result<String> {
    let mut buf = [0u8; 32];
    let mut filled = 0usize;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n <= 0 {
            break;
        }
        filled += n as usize;
    }
    if filled < buf.len() {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut buf))
            .context("cannot read random bytes from getrandom or /dev/urandom")?;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes a freshly generated token to `gateway.auth.token` in `config_path`,
/// atomically, keeping the previous file as `.bak`. The token is never printed.
pub fn write_new_token(config_path: &Path) -> Result<()> {
    let mut doc = match std::fs::read_to_string(config_path) {
        Ok(text) => openclaw_config::read_document(&text).map_err(|e| {
            anyhow!(
                "{}: {e}; fix the file first (`openclaw config validate`)",
                config_path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => {
            return Err(anyhow!(e).context(format!("cannot read {}", config_path.display())));
        }
    };
    let token = generate_token()?;
    let segs = openclaw_config::parse_path("gateway.auth.token")?;
    openclaw_config::set_path(&mut doc, &segs, Value::String(token))?;
    let env = |k: &str| std::env::var(k).ok();
    openclaw_config::validate_document(&doc, &env).map_err(|e| {
        anyhow!(
            "the config would not load with a new token ({e}); fix {} first",
            config_path.display()
        )
    })?;
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    atomic_write(config_path, &text, true)
}

/// `openclaw.json` → `openclaw.json<suffix>`.
pub fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    file.with_file_name(name)
}

/// Replaces `file` with `text`: a 0600 temp file in the same directory, fsynced, then
/// renamed over; with `backup`, the old file is first copied to `.bak` (mode 0600).
pub fn atomic_write(file: &Path, text: &str, backup: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the config directory {}", dir.display()))?;
    let tmp = sibling(&file, &format!(".tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "cannot write {} ({e}); check that {} is writable",
            tmp.display(),
            dir.display()
        );
    }
    if backup && file.exists() {
        let bak = sibling(&file, ".bak");
        if let Err(e) = std::fs::copy(&file, &bak)
            .and_then(|_| std::fs::set_permissions(&bak, std::fs::Permissions::from_mode(0o600)))
        {
            let _ = std::fs::remove_file(&tmp);
            bail!(
                "cannot keep a backup at {} ({e}); the config was not changed",
                bak.display()
            );
        }
    }
    if let Err(e) = std::fs::rename(&tmp, &file) {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "cannot replace {} ({e}); the config was not changed",
            file.display()
        );
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_weakness() {
        assert_eq!(weakness("changeme", 24), Some(Weakness::WellKnown));
        assert_eq!(weakness("OpenClaw", 24), Some(Weakness::WellKnown));
        assert_eq!(weakness("abc", 24), Some(Weakness::Short(3)));
        assert_eq!(weakness(&"x".repeat(24), 24), None);
    }

    #[test]
    fn generated_tokens_are_hex_and_differ() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

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
    fn inline_secret_detection() {
        assert!(holds_inline_secrets(
            &json!({"gateway": {"auth": {"token": "abc"}}})
        ));
        assert!(!holds_inline_secrets(
            &json!({"gateway": {"auth": {"token": "${TOK}"}}})
        ));
        assert!(!holds_inline_secrets(
            &json!({"gateway": {"auth": {"token": {"source": "env", "id": "T"}}}})
        ));
        assert!(!holds_inline_secrets(&json!({"gateway": {"port": 1}})));
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
