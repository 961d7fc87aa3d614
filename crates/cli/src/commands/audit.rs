//! `openclaw security audit`: findings about exposure, auth strength, secret file
//! permissions and tool policy, with OpenClaw's check ids where one fits.
//!
//! Reads the config file and the file system only; `--deep` also asks the running
//! gateway for its `status` and reports where it differs from the file. `--fix` applies
//! the safe repairs (permissions, a new token) and audits again.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use openclaw_config::{AuthMode, Config};
use openclaw_gateway::settings::{auth_mode_name, bind_name};
use serde_json::{Value, json};

use super::doctor::Action;
use super::{Global, READ_SCOPES, print_json};
use crate::client::Client;
use crate::opts::ClientOpts;
use crate::posture::{
    MIN_PASSWORD_LEN, MIN_TOKEN_LEN, TokenSource, Weakness, effective_password, effective_token,
    holds_inline_secrets, is_loopback_bind, mode_of, read_raw_doc, weakness,
};
use crate::target::Local;

/// Tools that must stay denied to remote callers; allowing any of them over the
/// gateway's tool API hands out code execution or control of the gateway itself. The
/// gateway's own default deny list, so the audit and the gateway cannot drift apart.
pub const DANGEROUS_TOOLS: &[&str] = openclaw_gateway::DEFAULT_TOOL_DENY;

/// `maxAttempts` above this effectively disables brute-force protection.
const MAX_SANE_ATTEMPTS: u32 = 100;

/// A lockout shorter than this barely slows a brute-force attempt.
const MIN_SANE_LOCKOUT_MS: u64 = 10_000;

/// Flags of `openclaw security audit`.
#[derive(clap::Args)]
pub struct Options {
    /// Also probe the running gateway and report where it differs from the config file.
    #[arg(long)]
    pub deep: bool,
    /// Apply safe fixes (tighten permissions, generate a strong token) and audit again.
    #[arg(long)]
    pub fix: bool,
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Exploitable as configured; exit code 1.
    Critical,
    /// Weakens security; should be fixed.
    Warn,
    /// Worth knowing.
    Info,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warn => "warn",
            Severity::Info => "info",
        }
    }
}

/// One finding.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Stable id (OpenClaw's where one exists).
    pub check_id: String,
    /// How bad.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// What exactly was found.
    pub detail: String,
    /// What to do.
    pub remediation: String,
    /// The automatic repair `--fix` may apply.
    pub action: Option<Action>,
}

fn finding(
    id: &str,
    severity: Severity,
    title: impl Into<String>,
    detail: impl Into<String>,
    remediation: impl Into<String>,
) -> Finding {
    Finding {
        check_id: id.into(),
        severity,
        title: title.into(),
        detail: detail.into(),
        remediation: remediation.into(),
        action: None,
    }
}

impl Finding {
    fn with(mut self, a: Action) -> Finding {
        self.action = Some(a);
        self
    }
    fn to_json(&self) -> Value {
        json!({
            "checkId": self.check_id,
            "severity": self.severity.as_str(),
            "title": self.title,
            "detail": self.detail,
            "remediation": self.remediation,
        })
    }
}

/// Runs the audit and prints it; exit code 1 when a critical finding remains.
pub async fn run(global: &Global, opts: &ClientOpts, o: Options) -> Result<ExitCode> {
    let mut local = Local::load(global)?;
    let mut findings = collect(&local);
    let mut fixes: Vec<Value> = Vec::new();
    if o.fix {
        let mut seen: Vec<String> = Vec::new();
        for f in &findings {
            let Some(action) = &f.action else { continue };
            let what = action.describe();
            if seen.contains(&what) {
                continue;
            }
            seen.push(what.clone());
            match action.apply() {
                Ok(changed) => {
                    fixes.push(json!({"checkId": f.check_id, "ok": true, "changed": changed}))
                }
                Err(e) => fixes.push(json!({"checkId": f.check_id, "ok": false, "action": what, "error": format!("{e:#}")})),
            }
        }
        local = Local::load(global)?;
        findings = collect(&local);
    }
    let mut deep = Value::Null;
    if o.deep {
        let (extra, status) = probe(&local, opts).await;
        findings.extend(extra);
        deep = status;
    }
    findings.sort_by_key(|f| f.severity);
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let summary = json!({
        "critical": count(Severity::Critical),
        "warn": count(Severity::Warn),
        "info": count(Severity::Info),
    });
    let ts = super::logs::rfc3339_millis(super::logs::now_ms());
    if opts.json {
        let mut out = json!({
            "ts": ts,
            "summary": summary,
            "findings": findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
            // What needs attention (critical and warn), for runbook scripts that read
            // `.issues[].severity`; `findings` keeps the informational ones too.
            "issues": findings
                .iter()
                .filter(|f| f.severity != Severity::Info)
                .map(Finding::to_json)
                .collect::<Vec<_>>(),
        });
        if o.fix {
            out["fixes"] = json!(fixes);
        }
        if o.deep {
            out["deep"] = deep;
        }
        print_json(&out);
    } else {
        println!(
            "Security audit of {} ({ts})",
            local.paths.config_path.display()
        );
        println!(
            "Summary: {} critical, {} warn, {} info",
            summary["critical"], summary["warn"], summary["info"]
        );
        for fix in &fixes {
            if fix["ok"] == true {
                println!("Fixed: {}", fix["changed"].as_str().unwrap_or(""));
            } else {
                println!(
                    "Fix failed: {}: {}",
                    fix["action"].as_str().unwrap_or(""),
                    fix["error"].as_str().unwrap_or("")
                );
            }
        }
        let mut last = None;
        for f in &findings {
            if last != Some(f.severity) {
                println!();
                println!("{}", f.severity.as_str().to_ascii_uppercase());
                last = Some(f.severity);
            }
            println!("  [{}] {}", f.check_id, f.title);
            println!("      {}", f.detail);
            println!("      fix: {}", f.remediation);
        }
        if findings.is_empty() {
            println!("No findings.");
        }
    }
    Ok(if count(Severity::Critical) > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Every file-and-config finding for this instance.
pub fn collect(local: &Local) -> Vec<Finding> {
    let mut out = Vec::new();
    let raw = read_raw_doc(&local.paths.config_path);
    let secrets_inline = raw.as_ref().is_some_and(holds_inline_secrets);
    perms(local, secrets_inline, &mut out);
    if let Some(e) = &local.config_error {
        out.push(finding(
            "config.invalid",
            Severity::Critical,
            "Config file does not load",
            format!("{}: {e}", local.paths.config_path.display()),
            "fix the value at the path named above (`openclaw config validate`), or `openclaw doctor --fix` to restore a valid .bak; the other checks were skipped",
        ));
        return out;
    }
    let cfg = &local.config;
    gateway_findings(local, cfg, &mut out);
    hooks_findings(local, cfg, raw.as_ref(), &mut out);
    channel_findings(cfg, &mut out);
    provider_header_findings(raw.as_ref(), &mut out);
    secret_file_perms(cfg, &mut out);
    out
}

/// Who can reach the agent through a channel: open DMs, wildcard allowlists, open groups.
fn channel_findings(cfg: &Config, out: &mut Vec<Finding>) {
    use openclaw_config::channels::{DmPolicy, GroupPolicy};
    let Some(tg) = cfg.channels.as_ref().and_then(|c| c.telegram.as_ref()) else {
        return;
    };
    for a in tg.resolved_accounts().iter().filter(|a| a.enabled) {
        let at = if a.id == openclaw_config::channels::DEFAULT_ACCOUNT_ID {
            "channels.telegram".to_owned()
        } else {
            format!("channels.telegram.accounts.{}", a.id)
        };
        let wildcard = a.allow_from.iter().any(|s| s == "*");
        match a.dm_policy {
            DmPolicy::Open => {
                out.push(finding("channels.telegram.dm.open", Severity::Critical, "Anyone can message the Telegram bot", format!("{at}.dmPolicy is \"open\": every Telegram user who finds the bot can run the agent"), format!("set {at}.dmPolicy to \"allowlist\" and list the allowed user ids in {at}.allowFrom")));
                if !wildcard {
                    out.push(finding("channels.telegram.dm.open_invalid", Severity::Warn, "Open DM policy with a specific allowlist", format!("{at}.dmPolicy is \"open\" but {at}.allowFrom does not contain \"*\"; the allowlist is ignored"), format!("use dmPolicy \"allowlist\" to restrict DMs to {at}.allowFrom")));
                }
            }
            DmPolicy::Allowlist if wildcard => {
                out.push(finding(
                    "channels.telegram.allowFrom.wildcard",
                    Severity::Critical,
                    "The Telegram allowlist admits everyone",
                    format!(
                        "{at}.allowFrom contains \"*\": the allowlist policy admits every sender"
                    ),
                    format!(
                        "replace \"*\" in {at}.allowFrom with the user ids that may talk to the bot"
                    ),
                ));
            }
            _ => {}
        }
        let group_wildcard = a.group_allow_from.iter().any(|s| s == "*");
        let open_groups = a.group_policy == GroupPolicy::Open
            || (a.group_policy == GroupPolicy::Allowlist && group_wildcard);
        if open_groups {
            let (severity, gate) = if a.require_mention {
                (Severity::Warn, "when mentioned")
            } else {
                (Severity::Critical, "on every message")
            };
            out.push(finding("channels.telegram.groups.open", severity, "Any group member can run the agent", format!("{at}: groupPolicy {} admits every member of every group the bot is in; it answers {gate}", if a.group_policy == GroupPolicy::Open { "\"open\"" } else { "\"allowlist\" with \"*\"" }), format!("set {at}.groupPolicy to \"allowlist\" with {at}.groupAllowFrom listing user ids (and keep requireMention on)")));
        }
    }
}

/// Provider headers written as plain text (an `Authorization` or API-key header is a
/// secret like `apiKey`, and belongs in a SecretRef).
fn provider_header_findings(raw: Option<&Value>, out: &mut Vec<Finding>) {
    let Some(providers) = raw
        .and_then(|r| r.pointer("/models/providers"))
        .and_then(Value::as_object)
    else {
        return;
    };
    let mut inline = Vec::new();
    for (name, p) in providers {
        if let Some(headers) = p.get("headers").and_then(Value::as_object) {
            for (h, v) in headers {
                if v.as_str()
                    .is_some_and(|s| !s.is_empty() && !s.starts_with("${"))
                {
                    inline.push(format!("models.providers.{name}.headers.{h}"));
                }
            }
        }
    }
    if !inline.is_empty() {
        out.push(finding("models.providers.headers_plaintext", Severity::Warn, "Provider headers hold values in plain text", format!("{} written in the config file; header values are treated as secrets", inline.join(", ")), "move each value to an environment variable (`\"${VAR}\"`) or a SecretRef ({ source: \"env\", id: \"VAR\" })"));
    }
}

fn perms(local: &Local, secrets_inline: bool, out: &mut Vec<Finding>) {
    let dir = &local.paths.state_dir;
    if let Some(mode) = mode_of(dir) {
        let shown = format!("{} is mode {:03o}", dir.display(), mode & 0o777);
        let fix = format!(
            "chmod 700 {} (or `openclaw security audit --fix`)",
            dir.display()
        );
        let act = Action::ChmodDir(dir.clone());
        if mode & 0o002 != 0 {
            out.push(
                finding(
                    "fs.state_dir.perms_world_writable",
                    Severity::Critical,
                    "State dir is world-writable",
                    shown.clone(),
                    fix.clone(),
                )
                .with(act.clone()),
            );
        } else if mode & 0o020 != 0 {
            out.push(
                finding(
                    "fs.state_dir.perms_group_writable",
                    Severity::Warn,
                    "State dir is group-writable",
                    shown.clone(),
                    fix.clone(),
                )
                .with(act.clone()),
            );
        } else if mode & 0o044 != 0 {
            out.push(
                finding(
                    "fs.state_dir.perms_readable",
                    Severity::Warn,
                    "State dir is readable by other users",
                    format!("{shown}; it holds the config, logs and session state"),
                    fix,
                )
                .with(act),
            );
        }
    }
    let file = &local.paths.config_path;
    if let Some(mode) = mode_of(file) {
        let shown = format!("{} is mode {:03o}", file.display(), mode & 0o777);
        let fix = format!(
            "chmod 600 {} (or `openclaw security audit --fix`)",
            file.display()
        );
        let act = Action::ChmodFile(file.clone());
        let readable_sev = if secrets_inline {
            Severity::Warn
        } else {
            Severity::Info
        };
        let what = if secrets_inline {
            "; it contains secret values"
        } else {
            "; it holds no inline secrets today"
        };
        if mode & 0o022 != 0 {
            out.push(
                finding(
                    "fs.config.perms_writable",
                    Severity::Critical,
                    "Config file is writable by other users",
                    format!("{shown}: others can change auth and tool policy"),
                    fix,
                )
                .with(act),
            );
        } else if mode & 0o004 != 0 {
            out.push(
                finding(
                    "fs.config.perms_world_readable",
                    readable_sev,
                    "Config file is world-readable",
                    format!("{shown}{what}"),
                    fix,
                )
                .with(act),
            );
        } else if mode & 0o040 != 0 {
            out.push(
                finding(
                    "fs.config.perms_group_readable",
                    readable_sev,
                    "Config file is group-readable",
                    format!("{shown}{what}"),
                    fix,
                )
                .with(act),
            );
        }
    }
}

fn gateway_findings(local: &Local, cfg: &Config, out: &mut Vec<Finding>) {
    let gw = &cfg.gateway;
    let loopback = is_loopback_bind(cfg);
    let bind = bind_name(gw.effective_bind());
    let mode = gw.auth.effective_mode();
    let (token_source, token) = effective_token(cfg, &local.paths);
    let token = token.ok().flatten();
    let password = effective_password(cfg);
    let token_fixable = matches!(token_source, TokenSource::Inline | TokenSource::None);
    let generate = Action::GenerateToken(local.paths.config_path.clone());

    let has_secret = match mode {
        AuthMode::None => false,
        // On loopback the gateway generates and stores a token on its first start.
        AuthMode::Token => token.is_some() || loopback,
        AuthMode::Password => password.is_some(),
        AuthMode::TrustedProxy => true,
    };
    if !has_secret {
        let why = if mode == AuthMode::None {
            "gateway.auth.mode is \"none\"".to_string()
        } else {
            format!(
                "gateway.auth.mode is \"{}\" but no secret is configured",
                auth_mode_name(mode)
            )
        };
        let mut f = if loopback {
            finding(
                "gateway.loopback_no_auth",
                Severity::Warn,
                "Gateway accepts unauthenticated local clients",
                format!(
                    "{why}; bind {bind}: every local process (and anything a local reverse proxy forwards) can control the gateway"
                ),
                "set gateway.auth.mode to \"token\" and generate a token (`openclaw security audit --fix` or `openclaw doctor --fix`)",
            )
        } else {
            finding(
                "gateway.bind_no_auth",
                Severity::Critical,
                "Gateway bound beyond loopback without auth",
                format!("{why}; bind {bind} exposes it to the network"),
                "set gateway.bind to \"loopback\", or configure gateway.auth.token (`openclaw security audit --fix` generates one)",
            )
        };
        if mode == AuthMode::Token && token_fixable {
            f = f.with(generate.clone());
        }
        out.push(f);
    }

    let endpoints = &gw.http.endpoints;
    let http_on: Vec<&str> = [
        (endpoints.chat_completions.enabled, "chatCompletions"),
        (endpoints.responses.enabled, "responses"),
    ]
    .into_iter()
    .filter_map(|(on, n)| on.then_some(n))
    .collect();
    if mode == AuthMode::None && !http_on.is_empty() {
        out.push(finding("gateway.http.no_auth", Severity::Critical, "HTTP APIs served without auth", format!("gateway.auth.mode is \"none\" and gateway.http.endpoints.{{{}}} is enabled: anyone who reaches the port can run agents", http_on.join(",")), "set gateway.auth.mode to \"token\" with a strong gateway.auth.token, or disable the endpoints"));
    }

    if mode == AuthMode::Token
        && let Some(t) = &token
    {
        let stored;
        let from = match &token_source {
            TokenSource::Env => "OPENCLAW_GATEWAY_TOKEN",
            TokenSource::Stored(p) => {
                stored = p.display().to_string();
                stored.as_str()
            }
            _ => "gateway.auth.token",
        };
        let remedy = if token_fixable {
            "`openclaw security audit --fix` replaces it with a random 64-character token; update clients afterwards"
        } else {
            "replace it at its source with `openssl rand -hex 32`"
        };
        let f = match weakness(t, MIN_TOKEN_LEN) {
            Some(Weakness::WellKnown) => Some(finding(
                "gateway.token_well_known",
                Severity::Critical,
                "Gateway token is a well-known default",
                format!("{from} is a value from examples that anyone would try"),
                remedy,
            )),
            Some(Weakness::Short(n)) => Some(finding(
                "gateway.token_too_short",
                Severity::Warn,
                "Gateway token is short",
                format!("{from} has {n} characters; use at least {MIN_TOKEN_LEN}"),
                remedy,
            )),
            None => None,
        };
        if let Some(f) = f {
            out.push(if token_fixable {
                f.with(generate.clone())
            } else {
                f
            });
        }
    }
    if mode == AuthMode::Password
        && let Some(p) = &password
    {
        match weakness(p, MIN_PASSWORD_LEN) {
            Some(Weakness::WellKnown) => out.push(finding(
                "gateway.password_well_known",
                Severity::Critical,
                "Gateway password is a well-known default",
                "gateway.auth.password is a value from examples that anyone would try",
                "choose a long random password, or switch to token auth",
            )),
            Some(Weakness::Short(n)) => out.push(finding(
                "gateway.password_too_short",
                Severity::Warn,
                "Gateway password is short",
                format!(
                    "gateway.auth.password has {n} characters; use at least {MIN_PASSWORD_LEN}"
                ),
                "choose a longer password, or switch to token auth",
            )),
            None => {}
        }
    }

    let allowed: Vec<&str> = gw
        .tools
        .allow
        .iter()
        .map(String::as_str)
        .filter(|t| {
            let t_l = t.to_ascii_lowercase();
            (*t == "*" || DANGEROUS_TOOLS.contains(&t_l.as_str()))
                && !gw.tools.deny.iter().any(|d| d.eq_ignore_ascii_case(t))
        })
        .collect();
    if !allowed.is_empty() {
        out.push(finding("gateway.tools_invoke_http.dangerous_allow", Severity::Critical, "Dangerous tools allowed to gateway callers", format!("gateway.tools.allow contains {}; these are denied by default because they execute code, touch files or control sessions and the gateway", allowed.join(", ")), "remove them from gateway.tools.allow (or add them to gateway.tools.deny)"));
    }

    let origins = &gw.control_ui.allowed_origins;
    if origins.iter().any(|o| o == "*") {
        let severity = if loopback {
            Severity::Warn
        } else {
            Severity::Critical
        };
        out.push(finding("gateway.control_ui.allowed_origins_wildcard", severity, "Every browser origin is allowed", "gateway.controlUi.allowedOrigins contains \"*\": any web page the operator opens can drive the gateway through the browser", "list the exact origins (https://host[:port]) that serve the Control UI"));
    } else if !loopback && origins.is_empty() {
        out.push(finding("gateway.control_ui.allowed_origins_required", Severity::Critical, "Non-loopback gateway without a browser-origin allowlist", format!("bind {bind} with gateway.controlUi.allowedOrigins empty: browsers reaching the gateway by a LAN address or hostname are refused, and nothing names the origins that should work"), "set gateway.controlUi.allowedOrigins to the origins that serve the Control UI"));
    }

    if !loopback && !gw.tls.enabled {
        out.push(finding("gateway.tls_disabled", Severity::Warn, "Gateway traffic is not encrypted", format!("bind {bind} exposes plain ws:// and http://; gateway.tls is off, so tokens and messages cross the network in clear text"), "turn on gateway.tls (certPath + keyPath, or autoGenerate: true for a self-signed certificate), or bind to loopback and reach it through SSH, Tailscale or a TLS-terminating reverse proxy"));
    }
    tls_cert_findings(local, cfg, out);
    if !loopback && gw.trusted_proxies.is_empty() && mode != AuthMode::TrustedProxy {
        out.push(finding("gateway.trusted_proxies_missing", Severity::Info, "No trusted proxies configured", format!("bind {bind} with gateway.trustedProxies empty: forwarded-for headers are ignored, so behind a reverse proxy every client looks like the proxy (one shared rate-limit bucket)"), "if a reverse proxy fronts the gateway, list its address in gateway.trustedProxies"));
    }
    if mode == AuthMode::TrustedProxy && gw.trusted_proxies.is_empty() {
        out.push(finding(
            "gateway.trusted_proxy_no_proxies",
            Severity::Warn,
            "Trusted-proxy auth without trusted proxies",
            "gateway.auth.mode is \"trusted-proxy\" but gateway.trustedProxies is empty",
            "list the reverse proxy's address in gateway.trustedProxies",
        ));
    }

    if matches!(mode, AuthMode::Token | AuthMode::Password) {
        let rl = &gw.auth.rate_limit;
        let mut weak = Vec::new();
        if rl.max_attempts > MAX_SANE_ATTEMPTS {
            weak.push(format!(
                "maxAttempts is {} (> {MAX_SANE_ATTEMPTS})",
                rl.max_attempts
            ));
        }
        if rl.lockout_ms < MIN_SANE_LOCKOUT_MS {
            weak.push(format!(
                "lockoutMs is {} (< {MIN_SANE_LOCKOUT_MS})",
                rl.lockout_ms
            ));
        }
        if rl.window_ms < 1000 {
            weak.push(format!("windowMs is {} (< 1000)", rl.window_ms));
        }
        if !weak.is_empty() {
            out.push(finding("gateway.auth_no_rate_limit", Severity::Warn, "Auth rate limiting is weakened", format!("gateway.auth.rateLimit: {}", weak.join("; ")), "restore the defaults (maxAttempts 10, windowMs 60000, lockoutMs 300000) with `openclaw config unset gateway.auth.rateLimit`"));
        }
    }
}

/// Days before `notAfter` from which an expiring certificate is reported.
const CERT_EXPIRY_WARN_DAYS: u64 = 14;

/// The served certificate's expiry: expired is critical (clients refuse it), within
/// [`CERT_EXPIRY_WARN_DAYS`] a warning; a configured file that cannot be read is reported
/// too (the gateway would not start with it).
fn tls_cert_findings(local: &Local, cfg: &Config, out: &mut Vec<Finding>) {
    use openclaw_gateway::tls;
    let Some(files) = tls::Files::from_config(&cfg.gateway.tls, &local.paths.state_dir) else {
        return;
    };
    if files.source == tls::Source::AutoGenerate && !files.cert.exists() {
        // Generated on the gateway's first start.
        return;
    }
    let path = files.cert.display().to_string();
    let leaf = match tls::read_leaf(&files.cert) {
        Ok(leaf) => leaf,
        Err(e) => {
            out.push(finding("gateway.tls.cert_unreadable", Severity::Critical, "TLS certificate cannot be read", e.to_string(), "fix gateway.tls.certPath or the file; the gateway refuses to start (or to renew) with it"));
            return;
        }
    };
    let Some(not_after) = tls::not_after_ms(&leaf) else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let when = jiff::Timestamp::from_millisecond(not_after as i64)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{not_after} ms"));
    let renew = if files.source == tls::Source::AutoGenerate {
        format!(
            "remove {} and its key to have a new self-signed pair generated at the next start",
            path
        )
    } else {
        "renew the certificate (certbot renew, or your CA); the gateway picks up the new files without a restart".to_owned()
    };
    if not_after <= now {
        out.push(finding(
            "gateway.tls.cert_expired",
            Severity::Critical,
            "TLS certificate has expired",
            format!("{path} expired at {when} (notAfter); clients refuse the connection"),
            renew,
        ));
    } else if not_after - now <= CERT_EXPIRY_WARN_DAYS * 86_400_000 {
        let days = (not_after - now) / 86_400_000;
        out.push(finding(
            "gateway.tls.cert_expiring",
            Severity::Warn,
            "TLS certificate expires soon",
            format!("{path} expires at {when} (notAfter), in {days} day(s)"),
            renew,
        ));
    }
}

fn hooks_findings(local: &Local, cfg: &Config, raw: Option<&Value>, out: &mut Vec<Finding>) {
    let env = |k: &str| std::env::var(k).ok();
    let hook_token: Option<String> = match cfg.hooks.as_ref().and_then(|h| h.token.as_ref()) {
        Some(t) => match t.as_ref_source() {
            None => Some(t.expose().to_owned()),
            Some(r) => r
                .resolve("hooks.token", &env)
                .ok()
                .map(|s| s.expose().to_owned()),
        },
        None => raw
            .and_then(|r| r.get("hooks"))
            .and_then(|h| h.get("token"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
    .filter(|t| !t.is_empty());
    let Some(ht) = hook_token.as_deref() else {
        return;
    };
    let gw_token = effective_token(cfg, &local.paths).1.ok().flatten();
    let gw_pass = effective_password(cfg);
    if gw_token.as_deref() == Some(ht) || gw_pass.as_deref() == Some(ht) {
        out.push(finding("hooks.token_reuse_gateway_token", Severity::Critical, "Hooks token equals the gateway secret", "hooks.token is the same value as the gateway token/password: whoever can send a webhook can also control the gateway", "give hooks.token its own random value (`openssl rand -hex 32`) and update the hook senders"));
    } else if ht.chars().count() < MIN_TOKEN_LEN {
        out.push(finding(
            "hooks.token_too_short",
            Severity::Warn,
            "Hooks token is short",
            format!(
                "hooks.token has {} characters; use at least {MIN_TOKEN_LEN}",
                ht.chars().count()
            ),
            "use a random value (`openssl rand -hex 32`)",
        ));
    }
}

fn secret_file_perms(cfg: &Config, out: &mut Vec<Finding>) {
    for info in openclaw_config::secret_sources(cfg) {
        if info.kind != "file" {
            continue;
        }
        let Some(id) = info.id else { continue };
        let path = match id.strip_prefix("~/") {
            Some(rest) => match std::env::var("HOME") {
                Ok(h) => PathBuf::from(h).join(rest),
                Err(_) => continue,
            },
            None => PathBuf::from(&id),
        };
        let Some(mode) = mode_of(&path) else { continue };
        if mode & 0o077 != 0 {
            out.push(
                finding(
                    "fs.secret_file.perms_readable",
                    Severity::Warn,
                    "Secret file is accessible to other users",
                    format!(
                        "{} (SecretRef of {}) is mode {:03o}",
                        path.display(),
                        info.path,
                        mode & 0o777
                    ),
                    format!(
                        "chmod 600 {} (or `openclaw security audit --fix`)",
                        path.display()
                    ),
                )
                .with(Action::ChmodFile(path)),
            );
        }
    }
}

/// `--deep`: the running gateway's view, compared with the file.
async fn probe(local: &Local, opts: &ClientOpts) -> (Vec<Finding>, Value) {
    let mut out = Vec::new();
    let mut target = local.target(opts);
    target.timeout = target.timeout.min(std::time::Duration::from_secs(5));
    let status = match Client::connect(&target, READ_SCOPES).await {
        Ok(mut c) => {
            let s = c.call("status", None, false).await;
            c.close().await;
            s.map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            out.push(finding(
                "gateway.probe_failed",
                Severity::Warn,
                "Live gateway probe failed",
                e.clone(),
                "start the gateway, or pass --url/--token so the audit can reach it",
            ));
            return (out, json!({"ok": false, "url": target.url, "error": e}));
        }
    };
    let live_bind = status["gateway"]["bind"].as_str().unwrap_or("?").to_owned();
    let live_auth = status["gateway"]["authMode"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let file_bind = bind_name(local.config.gateway.effective_bind());
    let file_auth = auth_mode_name(local.config.gateway.auth.effective_mode());
    let mut diffs = Vec::new();
    if live_bind != file_bind {
        diffs.push(format!("bind: file {file_bind}, running {live_bind}"));
    }
    if live_auth != file_auth {
        diffs.push(format!("auth mode: file {file_auth}, running {live_auth}"));
    }
    if !diffs.is_empty() {
        out.push(finding("gateway.probe_mismatch", Severity::Warn, "Running gateway differs from the config file", diffs.join("; "), "restart the gateway (or check for --bind/--token flags and OPENCLAW_* variables in its service unit) so what runs matches what was audited"));
    }
    if live_bind != "loopback" && live_bind != "auto" && live_auth == "none" {
        out.push(finding(
            "gateway.bind_no_auth",
            Severity::Critical,
            "Running gateway is exposed without auth",
            format!("the running gateway binds {live_bind} with auth mode none"),
            "restart it with a token (gateway.auth.token) or a loopback bind",
        ));
    }
    (
        out,
        json!({"ok": true, "url": target.url, "bind": live_bind, "authMode": live_auth, "pid": status["pid"], "version": status["version"]}),
    )
}
