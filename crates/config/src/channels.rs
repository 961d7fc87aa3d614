//! `channels` (messaging channels) and `hooks` (authenticated webhooks) sections.
//!
//! Telegram is typed and validated: the gateway runs it. Other channel names (`discord`,
//! `slack`, `defaults`, …) are accepted as free JSON so existing OpenClaw files keep
//! loading; nothing reads them yet, and that is why only `channels` itself is open while
//! `channels.telegram` and every account are `deny_unknown_fields`.
//!
//! A Telegram section may hold one bot (top-level keys; its account id is `default`) or
//! several under `accounts.<id>`; an account inherits every key it does not set from the
//! top level, so shared policy is written once.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::schema::Secret;

/// Telegram Bot API root used when `apiRoot` is not set.
pub const DEFAULT_TELEGRAM_API_ROOT: &str = "https://api.telegram.org";
/// Long-poll timeout (seconds) used when `pollTimeoutSeconds` is not set.
pub const DEFAULT_POLL_TIMEOUT_SECONDS: u64 = 30;
/// Longest long-poll timeout Telegram accepts.
pub const MAX_POLL_TIMEOUT_SECONDS: u64 = 50;
/// Account id of the bot configured by the top-level keys.
pub const DEFAULT_ACCOUNT_ID: &str = "default";
/// Path Telegram webhooks are received on when neither `webhookPath` nor the path of
/// `webhookUrl` gives one.
pub const DEFAULT_TELEGRAM_WEBHOOK_PATH: &str = "/telegram-webhook";
/// Paths a Telegram webhook may not take: the gateway's own routes.
const RESERVED_PATHS: &[&str] = &[
    "/health",
    "/healthz",
    "/ready",
    "/readyz",
    "/startup",
    "/startupz",
    "/tools/invoke",
];
/// Webhook base path used when `hooks.path` is not set.
pub const DEFAULT_HOOKS_PATH: &str = "/hooks";

/// `channels`: per-channel settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ChannelsConfig {
    /// The Telegram bot(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramConfig>,
    /// Other channels and `channels.defaults`, kept as written; not run by this gateway.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// Who may start a conversation in a direct message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmPolicy {
    /// Only senders listed in `allowFrom` (default: a new bot answers nobody).
    #[default]
    Allowlist,
    /// Anyone who writes to the bot.
    Open,
    /// Nobody: direct messages are ignored.
    Disabled,
}

/// Which group messages are answered (mention gating applies on top).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupPolicy {
    /// Only messages from senders in `groupAllowFrom` (else `allowFrom`).
    #[default]
    Allowlist,
    /// Any member of any group the bot is in.
    Open,
    /// Groups are ignored.
    Disabled,
}

/// A Telegram user id, written as a number or a string (`"*"` allows everyone).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TelegramId {
    /// Numeric id.
    Number(i64),
    /// Id as text (or `*`).
    Text(String),
}

impl TelegramId {
    /// The id as text, trimmed (a leading `tg:`/`telegram:` prefix is dropped).
    pub fn normalized(&self) -> String {
        match self {
            TelegramId::Number(n) => n.to_string(),
            TelegramId::Text(s) => {
                let s = s.trim();
                let s = s
                    .strip_prefix("telegram:")
                    .or_else(|| s.strip_prefix("tg:"))
                    .unwrap_or(s);
                s.to_owned()
            }
        }
    }
}

/// `channels.telegram`: the top-level bot plus optional extra `accounts`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// Whether the channel runs (default true). `false` stops every account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Bot token from @BotFather (a string or a SecretRef).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<Secret>,
    /// Bot API root (default `https://api.telegram.org`); tests point it at a stand-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_root: Option<String>,
    /// Who may talk to the bot in direct messages (default `allowlist`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicy>,
    /// Telegram user ids allowed to talk to the bot (`"*"` = everyone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<TelegramId>>,
    /// Which group messages are considered (default `allowlist`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_policy: Option<GroupPolicy>,
    /// Group senders allowed when `groupPolicy` is `allowlist` (default: `allowFrom`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_allow_from: Option<Vec<TelegramId>>,
    /// Answer in groups only when the bot is @mentioned or replied to (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_mention: Option<bool>,
    /// Agent answering this bot (default: the default agent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Readiness (`/readyz`) fails while this account is not connected (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// `getUpdates` long-poll timeout in seconds, 0-50 (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_timeout_seconds: Option<u64>,
    /// Display name shown in `channels status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Public HTTPS URL Telegram delivers updates to; setting it switches the account from
    /// long polling to webhook mode (`setWebhook`). The gateway receives them on its own
    /// port under `webhookPath`; a reverse proxy maps the URL there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` with every delivery
    /// (1-256 of `A-Z a-z 0-9 _ -`; a string or a SecretRef); required with `webhookUrl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
    /// Path on the gateway port the deliveries arrive on (default: the path of
    /// `webhookUrl`, else `/telegram-webhook`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// The original's separate webhook listener address; refused here (see `validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_host: Option<String>,
    /// The original's separate webhook listener port; refused here (see `validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_port: Option<u16>,
    /// A self-signed certificate for Telegram; refused here (see `validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_cert_path: Option<String>,
    /// More bots by account id; each inherits unset keys from the top level.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, TelegramAccountConfig>,
}

/// `channels.telegram.accounts.<id>`: the same keys as the top level, minus `accounts`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TelegramAccountConfig {
    /// Whether this account runs (default: the top-level value, else true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Bot token (a string or a SecretRef).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<Secret>,
    /// Bot API root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_root: Option<String>,
    /// Direct-message policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicy>,
    /// Allowed user ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<TelegramId>>,
    /// Group policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_policy: Option<GroupPolicy>,
    /// Allowed group senders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_allow_from: Option<Vec<TelegramId>>,
    /// Mention gating in groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_mention: Option<bool>,
    /// Agent answering this bot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Readiness depends on this account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Long-poll timeout in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_timeout_seconds: Option<u64>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Public HTTPS URL Telegram delivers updates to; setting it switches the account from
    /// long polling to webhook mode (`setWebhook`). The gateway receives them on its own
    /// port under `webhookPath`; a reverse proxy maps the URL there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` with every delivery
    /// (1-256 of `A-Z a-z 0-9 _ -`; a string or a SecretRef); required with `webhookUrl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
    /// Path on the gateway port the deliveries arrive on (default: the path of
    /// `webhookUrl`, else `/telegram-webhook`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// The original's separate webhook listener address; refused here (see `validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_host: Option<String>,
    /// The original's separate webhook listener port; refused here (see `validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_port: Option<u16>,
    /// A self-signed certificate for Telegram; refused here (see `validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_cert_path: Option<String>,
}

/// One Telegram account with inheritance and defaults applied: what the gateway runs.
#[derive(Clone, Debug, PartialEq)]
pub struct TelegramAccount {
    /// Account id (`default` for the top-level bot).
    pub id: String,
    /// Whether it should run (channel and account both enabled).
    pub enabled: bool,
    /// The token (resolved when the config went through `resolve_secrets`).
    pub bot_token: Option<Secret>,
    /// Bot API root without a trailing `/`.
    pub api_root: String,
    /// DM policy.
    pub dm_policy: DmPolicy,
    /// Allowed DM senders, normalised.
    pub allow_from: Vec<String>,
    /// Group policy.
    pub group_policy: GroupPolicy,
    /// Allowed group senders, normalised.
    pub group_allow_from: Vec<String>,
    /// Mention gating.
    pub require_mention: bool,
    /// Agent id, if pinned.
    pub agent_id: Option<String>,
    /// Readiness depends on it.
    pub required: bool,
    /// Long-poll timeout in seconds.
    pub poll_timeout_seconds: u64,
    /// Display name.
    pub name: Option<String>,
    /// Webhook mode, when `webhookUrl` is set (long polling otherwise).
    pub webhook: Option<TelegramWebhook>,
}

/// A Telegram account's webhook settings, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct TelegramWebhook {
    /// The URL registered with `setWebhook`.
    pub url: String,
    /// The secret deliveries must carry (resolved when the config went through
    /// `resolve_secrets`).
    pub secret: Option<Secret>,
    /// The gateway path deliveries arrive on, starting with `/`.
    pub path: String,
}

/// The path of an http(s) URL (`/` when it has none), without query or fragment.
fn url_path(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    match rest.find('/') {
        Some(i) => {
            let p = &rest[i..];
            let end = p.find(['?', '#']).unwrap_or(p.len());
            &p[..end]
        }
        None => "/",
    }
}

/// The receiving path for a webhook: `webhookPath`, else the URL's path, else the default.
fn webhook_path(path: Option<&str>, url: &str) -> String {
    let p = match path.map(str::trim) {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => match url_path(url).trim_end_matches('/') {
            "" => DEFAULT_TELEGRAM_WEBHOOK_PATH.to_owned(),
            p => p.to_owned(),
        },
    };
    let p = p.trim_end_matches('/');
    if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    }
}

impl TelegramAccount {
    /// Whether a token is configured (an account without one cannot connect).
    pub fn configured(&self) -> bool {
        self.bot_token.as_ref().is_some_and(|t| !t.is_empty())
    }
}

fn ids(list: &Option<Vec<TelegramId>>) -> Option<Vec<String>> {
    list.as_ref()
        .map(|l| l.iter().map(TelegramId::normalized).collect())
}

impl TelegramConfig {
    /// The top level as an account (for inheritance and for the `default` account).
    fn base(&self) -> TelegramAccountConfig {
        TelegramAccountConfig {
            enabled: self.enabled,
            bot_token: self.bot_token.clone(),
            api_root: self.api_root.clone(),
            dm_policy: self.dm_policy,
            allow_from: self.allow_from.clone(),
            group_policy: self.group_policy,
            group_allow_from: self.group_allow_from.clone(),
            require_mention: self.require_mention,
            agent_id: self.agent_id.clone(),
            required: self.required,
            poll_timeout_seconds: self.poll_timeout_seconds,
            name: self.name.clone(),
            webhook_url: self.webhook_url.clone(),
            webhook_secret: self.webhook_secret.clone(),
            webhook_path: self.webhook_path.clone(),
            webhook_host: self.webhook_host.clone(),
            webhook_port: self.webhook_port,
            webhook_cert_path: self.webhook_cert_path.clone(),
        }
    }

    /// Every account with inheritance and defaults applied, in id order. With no
    /// `accounts`, the top level is the single account `default`; with `accounts`, the top
    /// level is also `default` when it has its own token and no account is named so.
    pub fn resolved_accounts(&self) -> Vec<TelegramAccount> {
        let base = self.base();
        let channel_enabled = self.enabled.unwrap_or(true);
        let mut list: Vec<(String, TelegramAccountConfig)> = self
            .accounts
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if self.accounts.is_empty()
            || (self.bot_token.is_some() && !self.accounts.contains_key(DEFAULT_ACCOUNT_ID))
        {
            list.push((
                DEFAULT_ACCOUNT_ID.to_owned(),
                TelegramAccountConfig::default(),
            ));
        }
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.into_iter()
            .map(|(id, a)| {
                let allow_from = ids(&a.allow_from)
                    .or_else(|| ids(&base.allow_from))
                    .unwrap_or_default();
                TelegramAccount {
                    enabled: channel_enabled && a.enabled.unwrap_or(true),
                    bot_token: a.bot_token.or_else(|| base.bot_token.clone()),
                    api_root: a
                        .api_root
                        .or_else(|| base.api_root.clone())
                        .unwrap_or_else(|| DEFAULT_TELEGRAM_API_ROOT.to_owned())
                        .trim_end_matches('/')
                        .to_owned(),
                    dm_policy: a.dm_policy.or(base.dm_policy).unwrap_or_default(),
                    group_allow_from: ids(&a.group_allow_from)
                        .or_else(|| ids(&base.group_allow_from))
                        .unwrap_or_else(|| allow_from.clone()),
                    allow_from,
                    group_policy: a.group_policy.or(base.group_policy).unwrap_or_default(),
                    require_mention: a.require_mention.or(base.require_mention).unwrap_or(true),
                    agent_id: a.agent_id.or_else(|| base.agent_id.clone()),
                    required: a.required.or(base.required).unwrap_or(false),
                    poll_timeout_seconds: a
                        .poll_timeout_seconds
                        .or(base.poll_timeout_seconds)
                        .unwrap_or(DEFAULT_POLL_TIMEOUT_SECONDS),
                    name: a.name.or_else(|| base.name.clone()),
                    webhook: a
                        .webhook_url
                        .or_else(|| base.webhook_url.clone())
                        .filter(|u| !u.trim().is_empty())
                        .map(|url| TelegramWebhook {
                            path: webhook_path(
                                a.webhook_path.as_deref().or(base.webhook_path.as_deref()),
                                &url,
                            ),
                            secret: a.webhook_secret.or_else(|| base.webhook_secret.clone()),
                            url,
                        }),
                    id,
                }
            })
            .collect()
    }

    /// Every bot-token slot with its config path, for secret resolution and listing.
    pub(crate) fn token_slots(&self) -> Vec<(String, Option<&Secret>)> {
        let mut out = vec![(
            "channels.telegram.botToken".to_owned(),
            self.bot_token.as_ref(),
        )];
        if self.webhook_secret.is_some() {
            out.push((
                "channels.telegram.webhookSecret".to_owned(),
                self.webhook_secret.as_ref(),
            ));
        }
        for (id, a) in &self.accounts {
            if a.bot_token.is_some() {
                out.push((
                    format!("channels.telegram.accounts.{id}.botToken"),
                    a.bot_token.as_ref(),
                ));
            }
            if a.webhook_secret.is_some() {
                out.push((
                    format!("channels.telegram.accounts.{id}.webhookSecret"),
                    a.webhook_secret.as_ref(),
                ));
            }
        }
        out
    }

    /// [`TelegramConfig::token_slots`], mutably.
    pub(crate) fn token_slots_mut(&mut self) -> Vec<(String, &mut Option<Secret>)> {
        let mut out = vec![("channels.telegram.botToken".to_owned(), &mut self.bot_token)];
        if self.webhook_secret.is_some() {
            out.push((
                "channels.telegram.webhookSecret".to_owned(),
                &mut self.webhook_secret,
            ));
        }
        for (id, a) in &mut self.accounts {
            if a.bot_token.is_some() {
                out.push((
                    format!("channels.telegram.accounts.{id}.botToken"),
                    &mut a.bot_token,
                ));
            }
            if a.webhook_secret.is_some() {
                out.push((
                    format!("channels.telegram.accounts.{id}.webhookSecret"),
                    &mut a.webhook_secret,
                ));
            }
        }
        out
    }
}

/// `hooks`: authenticated HTTP endpoints that start agent runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HooksConfig {
    /// Serve the hook endpoints (default false; they also need `token`).
    pub enabled: bool,
    /// Shared secret callers present as `Authorization: Bearer` or `x-openclaw-token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Base path (default `/hooks`); `/` is rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Agents a hook may target (empty: any configured agent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_agent_ids: Vec<String>,
    /// Let `/hooks/agent` callers choose the session with `sessionKey` (default false).
    pub allow_request_session_key: bool,
    /// When set, a caller-chosen `sessionKey` must start with one of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_session_key_prefixes: Vec<String>,
    /// Custom hook mappings; accepted for compatibility, not served by this gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mappings: Option<serde_json::Value>,
    /// Hook presets; accepted for compatibility, not served by this gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presets: Option<serde_json::Value>,
    /// Internal hooks; accepted for compatibility, not run by this gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal: Option<serde_json::Value>,
}

impl HooksConfig {
    /// The base path, normalised to start with `/` and not end with one.
    pub fn base_path(&self) -> String {
        let p = self.path.as_deref().unwrap_or(DEFAULT_HOOKS_PATH).trim();
        let p = p.trim_end_matches('/');
        if p.starts_with('/') {
            p.to_owned()
        } else {
            format!("/{p}")
        }
    }
}

/// The original's separate webhook listener keys, refused with what to do instead.
fn validate_webhook_keys(path: &str, a: &TelegramAccountConfig) -> Result<(), ConfigError> {
    let refuse = |key: &str, message: &str| {
        Err(ConfigError::Invalid {
            path: format!("{path}.{key}"),
            message: message.to_owned(),
        })
    };
    if a.webhook_host.is_some() || a.webhook_port.is_some() {
        let key = if a.webhook_host.is_some() {
            "webhookHost"
        } else {
            "webhookPort"
        };
        return refuse(
            key,
            "this gateway receives Telegram webhooks on its own port (gateway.port) under webhookPath, not on a second listener; remove the key and point the reverse proxy behind webhookUrl at the gateway port",
        );
    }
    if a.webhook_cert_path.is_some() {
        return refuse(
            "webhookCertPath",
            "uploading a self-signed certificate to Telegram is not supported; terminate HTTPS for webhookUrl in a reverse proxy with a CA-issued certificate, or use long polling (remove webhookUrl)",
        );
    }
    Ok(())
}

/// Semantic checks serde cannot express, run by [`crate::Config::validate`].
pub(crate) fn validate(
    channels: Option<&ChannelsConfig>,
    hooks: Option<&HooksConfig>,
) -> Result<(), ConfigError> {
    let invalid = |path: String, message: String| Err(ConfigError::Invalid { path, message });
    if let Some(tg) = channels.and_then(|c| c.telegram.as_ref()) {
        let mut entries: Vec<(String, TelegramAccountConfig)> =
            vec![("channels.telegram".to_owned(), tg.base())];
        for (id, a) in &tg.accounts {
            if id.is_empty()
                || id.len() > 64
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return invalid(
                    format!("channels.telegram.accounts.{id}"),
                    "account ids must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'".to_owned(),
                );
            }
            entries.push((format!("channels.telegram.accounts.{id}"), a.clone()));
        }
        for (path, a) in entries {
            if let Some(root) = &a.api_root
                && !(root.starts_with("http://") || root.starts_with("https://"))
            {
                return invalid(
                    format!("{path}.apiRoot"),
                    format!("{root:?} is not an http(s) URL, e.g. \"https://api.telegram.org\""),
                );
            }
            if let Some(t) = a.poll_timeout_seconds
                && t > MAX_POLL_TIMEOUT_SECONDS
            {
                return invalid(
                    format!("{path}.pollTimeoutSeconds"),
                    format!(
                        "{t} is too large; Telegram accepts at most {MAX_POLL_TIMEOUT_SECONDS}"
                    ),
                );
            }
            if let Some(agent) = &a.agent_id
                && !crate::agents::valid_agent_id(agent)
            {
                return invalid(
                    format!("{path}.agentId"),
                    format!("{agent:?} is not a valid agent id (lower case, [a-z0-9][a-z0-9_-]*)"),
                );
            }
            validate_webhook_keys(&path, &a)?;
        }
        let hooks_base = hooks.filter(|h| h.enabled).map(HooksConfig::base_path);
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for acct in tg.resolved_accounts() {
            let Some(w) = &acct.webhook else { continue };
            let path =
                if acct.id == DEFAULT_ACCOUNT_ID && !tg.accounts.contains_key(DEFAULT_ACCOUNT_ID) {
                    "channels.telegram".to_owned()
                } else {
                    format!("channels.telegram.accounts.{}", acct.id)
                };
            if !(w.url.starts_with("https://") || w.url.starts_with("http://")) {
                return invalid(
                    format!("{path}.webhookUrl"),
                    format!(
                        "{:?} is not an http(s) URL; Telegram needs the public HTTPS address that reaches this gateway, e.g. \"https://bot.example.com/telegram-webhook\"",
                        w.url
                    ),
                );
            }
            match &w.secret {
                None => {
                    return invalid(
                        format!("{path}.webhookSecret"),
                        "webhook mode needs a secret so forged deliveries can be refused; set webhookSecret (1-256 of A-Z a-z 0-9 _ -)".to_owned(),
                    );
                }
                Some(s) if s.as_ref_source().is_none() => {
                    let v = s.expose();
                    if v.is_empty()
                        || v.len() > 256
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    {
                        return invalid(
                            format!("{path}.webhookSecret"),
                            "Telegram accepts 1-256 characters of A-Z, a-z, 0-9, '_' and '-'; generate one with `openssl rand -hex 32`".to_owned(),
                        );
                    }
                }
                Some(_) => {}
            }
            let reserved = RESERVED_PATHS.contains(&w.path.as_str())
                || w.path == "/"
                || w.path == "/v1"
                || w.path.starts_with("/v1/")
                || hooks_base
                    .as_deref()
                    .is_some_and(|b| w.path == b || w.path.starts_with(&format!("{b}/")));
            if reserved {
                return invalid(
                    format!("{path}.webhookPath"),
                    format!(
                        "{:?} is a gateway route; choose a path of its own such as \"/telegram-webhook\" (and map the webhookUrl there)",
                        w.path
                    ),
                );
            }
            if let Some(other) = seen.insert(w.path.clone(), acct.id.clone()) {
                return invalid(
                    format!("{path}.webhookPath"),
                    format!(
                        "{:?} is also the webhook path of account {other:?}; give each account its own webhookPath",
                        w.path
                    ),
                );
            }
        }
    }
    if let Some(h) = hooks {
        if h.base_path() == "/" || h.base_path().is_empty() {
            return invalid(
                "hooks.path".to_owned(),
                "\"/\" would shadow every route; use a dedicated sub-path such as \"/hooks\""
                    .to_owned(),
            );
        }
        for (i, id) in h.allowed_agent_ids.iter().enumerate() {
            if !crate::agents::valid_agent_id(id) && id != "*" {
                return invalid(
                    format!("hooks.allowedAgentIds[{i}]"),
                    format!("{id:?} is not a valid agent id"),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> crate::Config {
        crate::parse_str(raw, &|_| None).unwrap()
    }

    #[test]
    fn single_bot_is_the_default_account_with_defaults() {
        let c =
            parse(r#"{ channels: { telegram: { botToken: "1:a", allowFrom: [42, "tg:7"] } } }"#);
        let accts = c.channels.unwrap().telegram.unwrap().resolved_accounts();
        assert_eq!(accts.len(), 1);
        let a = &accts[0];
        assert_eq!(a.id, "default");
        assert!(a.enabled && a.configured() && a.require_mention && !a.required);
        assert_eq!(a.api_root, DEFAULT_TELEGRAM_API_ROOT);
        assert_eq!(a.dm_policy, DmPolicy::Allowlist);
        assert_eq!(a.allow_from, vec!["42", "7"]);
        assert_eq!(a.poll_timeout_seconds, 30);
    }

    #[test]
    fn accounts_inherit_and_other_channels_load() {
        let c = parse(
            r#"{ channels: { discord: { botToken: "d" }, telegram: { dmPolicy: "open", required: true,
                 accounts: { work: { botToken: "2:b", required: false }, home: { botToken: "3:c", enabled: false } } } } }"#,
        );
        let ch = c.channels.unwrap();
        assert!(ch.other.contains_key("discord"));
        let accts = ch.telegram.unwrap().resolved_accounts();
        let ids: Vec<&str> = accts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, vec!["home", "work"]);
        assert!(!accts[0].enabled && accts[0].required);
        assert!(accts[1].enabled && !accts[1].required);
        assert_eq!(accts[1].dm_policy, DmPolicy::Open);
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        for raw in [
            r#"{ channels: { telegram: { botTokn: "x" } } }"#,
            r#"{ channels: { telegram: { pollTimeoutSeconds: 99 } } }"#,
            r#"{ channels: { telegram: { apiRoot: "ftp://x" } } }"#,
            r#"{ channels: { telegram: { dmPolicy: "pairingz" } } }"#,
            r#"{ hooks: { enabled: true, path: "/" } }"#,
            r#"{ hooks: { tokn: "x" } }"#,
        ] {
            assert!(crate::parse_str(raw, &|_| None).is_err(), "{raw}");
        }
    }

    #[test]
    fn webhook_mode_resolves_its_path() {
        let c = parse(
            r#"{ channels: { telegram: { botToken: "1:a", webhookUrl: "https://bot.example.com/tg/in?x=1", webhookSecret: "s3cret_-A",
                 accounts: { work: { botToken: "2:b", webhookUrl: "https://bot.example.com", webhookSecret: "w" },
                             plain: { botToken: "3:c", webhookUrl: "" } } } } }"#,
        );
        let accts = c.channels.unwrap().telegram.unwrap().resolved_accounts();
        let by = |id: &str| accts.iter().find(|a| a.id == id).unwrap().clone();
        let d = by("default").webhook.unwrap();
        assert_eq!(d.path, "/tg/in");
        assert_eq!(d.secret.unwrap().expose(), "s3cret_-A");
        // An account inherits webhookUrl unless it sets its own; "" means long polling.
        assert_eq!(
            by("work").webhook.unwrap().path,
            DEFAULT_TELEGRAM_WEBHOOK_PATH
        );
        assert!(by("plain").webhook.is_none());
        let c = parse(
            r#"{ channels: { telegram: { botToken: "1:a", webhookUrl: "https://x/y", webhookSecret: "s", webhookPath: "hook" } } }"#,
        );
        let a = c.channels.unwrap().telegram.unwrap().resolved_accounts();
        assert_eq!(a[0].webhook.as_ref().unwrap().path, "/hook");
    }

    #[test]
    fn bad_webhook_settings_are_refused_with_the_fix() {
        let cases = [
            (
                r#"{ botToken: "1:a", webhookUrl: "https://x/tg" }"#,
                "webhookSecret",
                "needs a secret",
            ),
            (
                r#"{ botToken: "1:a", webhookUrl: "https://x/tg", webhookSecret: "has space" }"#,
                "webhookSecret",
                "1-256",
            ),
            (
                r#"{ botToken: "1:a", webhookUrl: "ftp://x/tg", webhookSecret: "s" }"#,
                "webhookUrl",
                "http(s)",
            ),
            (
                r#"{ botToken: "1:a", webhookUrl: "https://x/healthz", webhookSecret: "s" }"#,
                "webhookPath",
                "gateway route",
            ),
            (
                r#"{ botToken: "1:a", webhookUrl: "https://x/", webhookSecret: "s", webhookPath: "/v1/chat" }"#,
                "webhookPath",
                "gateway route",
            ),
            (
                r#"{ botToken: "1:a", webhookUrl: "https://x/a", webhookSecret: "s", webhookPort: 8787 }"#,
                "webhookPort",
                "own port",
            ),
            (
                r#"{ botToken: "1:a", webhookUrl: "https://x/a", webhookSecret: "s", webhookHost: "0.0.0.0" }"#,
                "webhookHost",
                "own port",
            ),
            (
                r#"{ botToken: "1:a", webhookUrl: "https://x/a", webhookSecret: "s", webhookCertPath: "/c.pem" }"#,
                "webhookCertPath",
                "reverse proxy",
            ),
            (
                r#"{ webhookUrl: "https://x/a", webhookSecret: "s", accounts: { a: { botToken: "1:a" }, b: { botToken: "2:b" } } }"#,
                "webhookPath",
                "also the webhook path",
            ),
        ];
        for (tg, key, words) in cases {
            let raw = format!("{{ channels: {{ telegram: {tg} }} }}");
            let e = crate::parse_str(&raw, &|_| None).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(words), "{tg}: {e}");
        }
        let raw = r#"{ hooks: { enabled: true, token: "t" }, channels: { telegram: { botToken: "1:a", webhookUrl: "https://x/hooks/tg", webhookSecret: "s" } } }"#;
        let e = crate::parse_str(raw, &|_| None).unwrap_err().to_string();
        assert!(e.contains("gateway route"), "{e}");
    }

    #[test]
    fn webhook_secrets_are_secret_slots() {
        let c = parse(
            r#"{ channels: { telegram: { botToken: "1:a", webhookUrl: "https://x/a", webhookSecret: "topsecret",
                 accounts: { b: { botToken: "2:b", webhookSecret: "other", webhookPath: "/b" } } } } }"#,
        );
        let tg = c.channels.as_ref().unwrap().telegram.as_ref().unwrap();
        let paths: Vec<String> = tg.token_slots().into_iter().map(|(p, _)| p).collect();
        assert!(
            paths.contains(&"channels.telegram.webhookSecret".to_owned()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"channels.telegram.accounts.b.webhookSecret".to_owned()),
            "{paths:?}"
        );
        let shown = crate::redacted_json(&c).to_string();
        assert!(
            !shown.contains("topsecret") && !shown.contains("other"),
            "{shown}"
        );
    }

    #[test]
    fn hooks_path_is_normalised() {
        let c = parse(r#"{ hooks: { enabled: true, token: "t", path: "in/" } }"#);
        assert_eq!(c.hooks.unwrap().base_path(), "/in");
    }
}
