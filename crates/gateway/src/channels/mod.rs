//! Messaging channels: the [`Channel`] trait and the [`Supervisor`] that runs every
//! configured account as its own task.
//!
//! Why a supervisor: a channel talks to an outside service that goes away, rate-limits,
//! or answers nonsense, and a bug in one adapter must not take the gateway (or another
//! account) with it. Each account therefore runs in its own Tokio task, wrapped in
//! `catch_unwind`; whatever ends it (an error, a panic) is recorded in the account's
//! status and the account is started again after an exponential backoff with jitter
//! (capped at 30 s; `OPENCLAW_CHANNEL_BACKOFF_MS` sets the base, default 1000).
//!
//! The supervisor outlives listener generations (it lives in [`crate::state::Shared`], seen
//! there only as a [`ChannelControl`]); `apply` is called with each new generation and
//! after each hot reload, and starts, stops or restarts exactly the accounts whose
//! effective config changed. Accounts reach agents only through their [`TurnHost`].

pub mod telegram;

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use openclaw_config::TelegramAccount;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::agents::TurnHost;
use crate::state::{ChannelControl, ChannelError, WebhookTarget};
use crate::sys::now_ms;

/// Channels in display order.
pub const CHANNEL_ORDER: &[&str] = &["telegram"];

/// Longest pause between two restarts of a failing account.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Environment variable overriding the backoff base in milliseconds (tests use a few ms).
pub const BACKOFF_ENV: &str = "OPENCLAW_CHANNEL_BACKOFF_MS";

/// One account's observable state, as shown by `channels.status` and `health`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    /// Account id.
    pub account_id: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A credential is configured.
    pub configured: bool,
    /// The config enables it.
    pub enabled: bool,
    /// Readiness depends on it.
    pub required: bool,
    /// Its task is running (possibly waiting to reconnect).
    pub running: bool,
    /// It is connected to the service.
    pub connected: bool,
    /// Last successful connection (ms since epoch).
    pub last_connected_at: Option<u64>,
    /// Last inbound message (ms since epoch).
    pub last_inbound_at: Option<u64>,
    /// Last outbound message (ms since epoch).
    pub last_outbound_at: Option<u64>,
    /// The most recent error, cleared by a successful connection.
    pub last_error: Option<String>,
    /// Consecutive failed (re)connection attempts.
    pub reconnect_attempts: u32,
    /// How the account receives messages.
    pub mode: &'static str,
    /// Who the account is on the service (e.g. the bot's username), once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Value>,
}

/// Shared, lock-protected [`AccountStatus`].
#[derive(Clone, Default)]
pub struct StatusCell(Arc<Mutex<AccountStatus>>);

impl StatusCell {
    fn lock(&self) -> MutexGuard<'_, AccountStatus> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Applies `f` to the status and returns its result.
    pub fn update<R>(&self, f: impl FnOnce(&mut AccountStatus) -> R) -> R {
        f(&mut self.lock())
    }
    /// A copy of the status.
    pub fn get(&self) -> AccountStatus {
        self.lock().clone()
    }
    /// Records a successful connection: clears the error and the attempt counter.
    pub fn connected(&self, identity: Option<Value>) {
        self.update(|s| {
            if !s.connected {
                s.last_connected_at = Some(now_ms());
            }
            s.connected = true;
            s.last_error = None;
            s.reconnect_attempts = 0;
            if identity.is_some() {
                s.identity = identity;
            }
        });
    }
    /// Records an error without changing the connection state.
    pub fn error(&self, e: impl Into<String>) {
        let e = e.into();
        self.update(|s| s.last_error = Some(e));
    }
}

/// What a running account needs from the gateway.
#[derive(Clone)]
pub struct AccountCtx {
    /// The account's effective config.
    pub account: TelegramAccount,
    /// Its status.
    pub status: StatusCell,
    /// Its private state directory (`<state>/channels/<channel>/<account>`).
    pub dir: PathBuf,
    /// What the account may do with agents and transcripts.
    pub host: TurnHost,
    /// Where a webhook-mode account registers the path it receives on.
    pub webhooks: WebhookRegistry,
}

/// The webhook paths accounts listen on now, shared by the supervisor (which the HTTP
/// transport asks) and the running accounts (which register while they listen).
#[derive(Clone, Default)]
pub struct WebhookRegistry(Arc<Mutex<HashMap<String, WebhookTarget>>>);

impl WebhookRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, WebhookTarget>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Routes `path` to `target` until the returned guard is dropped.
    pub fn register(&self, path: &str, target: WebhookTarget) -> Registration {
        self.lock().insert(path.to_owned(), target.clone());
        Registration {
            registry: self.clone(),
            path: path.to_owned(),
            account: target.account,
        }
    }

    /// The target listening on `path`.
    pub fn get(&self, path: &str) -> Option<WebhookTarget> {
        self.lock().get(path).cloned()
    }
}

/// A registered webhook path; unregisters it when dropped (the account stopped).
pub struct Registration {
    registry: WebhookRegistry,
    path: String,
    account: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.registry.lock();
        // A restarted account may have registered the path again already.
        if map
            .get(&self.path)
            .is_some_and(|t| t.account == self.account)
        {
            map.remove(&self.path);
        }
    }
}

/// A messaging channel adapter (one instance per account).
pub trait Channel: Send + Sync + 'static {
    /// Receives and answers messages until an error ends it; the supervisor restarts it.
    fn run(self: Arc<Self>, ctx: AccountCtx) -> BoxFuture<'static, Result<(), ChannelError>>;
    /// Checks the credentials and reachability now (e.g. Telegram `getMe`).
    fn probe(&self) -> BoxFuture<'_, Result<Value, ChannelError>>;
    /// Sends `text` to `to` (a chat id); returns what the service reported.
    fn send_text<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Value, ChannelError>>;
}

/// The delay before restart attempt `attempt` (1-based): base·2^(attempt-1), capped at
/// [`MAX_BACKOFF`], plus up to 25 % jitter so many accounts do not retry in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let base = std::env::var(BACKOFF_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1000)
        .max(1);
    let exp = attempt.saturating_sub(1).min(20);
    let ms = base
        .saturating_mul(1u64 << exp)
        .min(MAX_BACKOFF.as_millis() as u64);
    let jitter = (now_nanos() % 1000) * (ms / 4) / 1000;
    Duration::from_millis(ms + jitter)
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0)
}

struct Running {
    account: TelegramAccount,
    status: StatusCell,
    channel: Arc<dyn Channel>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    fn halt(&mut self) {
        self.stop.send_replace(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.status.update(|s| {
            s.running = false;
            s.connected = false;
        });
    }
}

/// Runs every configured channel account; see the module documentation.
pub struct Supervisor {
    state_dir: PathBuf,
    /// The Bot API client, built when the first account starts (building one loads the
    /// root certificates; a gateway without channels never pays for it).
    http: OnceLock<reqwest::Client>,
    host: TurnHost,
    accounts: Mutex<BTreeMap<(String, String), Running>>,
    webhooks: WebhookRegistry,
}

impl Supervisor {
    /// A supervisor with nothing running; `state_dir` holds per-account state.
    pub fn new(state_dir: PathBuf, host: TurnHost) -> Supervisor {
        Supervisor {
            state_dir,
            http: OnceLock::new(),
            host,
            accounts: Mutex::new(BTreeMap::new()),
            webhooks: WebhookRegistry::default(),
        }
    }

    fn http_client(&self) -> reqwest::Client {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default()
            })
            .clone()
    }

    fn accounts(&self) -> MutexGuard<'_, BTreeMap<(String, String), Running>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_telegram(&self, account: TelegramAccount) -> Running {
        let status = StatusCell::default();
        status.update(|s| {
            s.account_id = account.id.clone();
            s.name = account.name.clone();
            s.configured = account.configured();
            s.enabled = account.enabled;
            s.required = account.required;
            s.mode = if account.webhook.is_some() {
                "webhook"
            } else {
                "polling"
            };
        });
        let channel: Arc<dyn Channel> =
            Arc::new(telegram::Telegram::new(account.clone(), self.http_client()));
        let (stop, stop_rx) = watch::channel(false);
        let task = if account.enabled && account.configured() {
            let ctx = AccountCtx {
                dir: self
                    .state_dir
                    .join("channels")
                    .join("telegram")
                    .join(&account.id),
                account: account.clone(),
                status: status.clone(),
                host: self.host.clone(),
                webhooks: self.webhooks.clone(),
            };
            status.update(|s| s.running = true);
            Some(tokio::spawn(supervise(channel.clone(), ctx, stop_rx)))
        } else {
            None
        };
        Running {
            account,
            status,
            channel,
            stop,
            task,
        }
    }

    fn find(
        &self,
        channel: &str,
        account: Option<&str>,
    ) -> Result<(Arc<dyn Channel>, StatusCell, bool), ChannelError> {
        let map = self.accounts();
        let mut matches = map
            .iter()
            .filter(|((ch, id), _)| ch == channel && account.is_none_or(|a| a == id));
        let pick = match account {
            Some(_) => matches.next(),
            None => {
                let all: Vec<_> = matches.collect();
                all.iter()
                    .find(|((_, id), _)| id == openclaw_config::DEFAULT_ACCOUNT_ID)
                    .or(all.first())
                    .copied()
            }
        };
        match pick {
            Some((_, r)) => Ok((
                r.channel.clone(),
                r.status.clone(),
                r.account.enabled && r.account.configured(),
            )),
            None => Err(ChannelError::NotFound(match account {
                Some(a) => format!("unknown {channel} account {a:?}"),
                None => format!("channel {channel:?} is not configured"),
            })),
        }
    }
}

impl ChannelControl for Supervisor {
    /// Brings the running accounts in line with `config`. Must be called on the Tokio
    /// runtime.
    fn apply(&self, config: &openclaw_config::Config) {
        let desired: Vec<TelegramAccount> = config
            .channels
            .as_ref()
            .and_then(|c| c.telegram.as_ref())
            .map(|t| t.resolved_accounts())
            .unwrap_or_default();
        let mut map = self.accounts();
        let keep: Vec<(String, String)> = desired
            .iter()
            .map(|a| ("telegram".to_owned(), a.id.clone()))
            .collect();
        map.retain(|k, r| {
            let stay = keep.contains(k);
            if !stay {
                tracing::info!(target: "channels", channel = %k.0, account = %k.1, "account removed; stopping it");
                r.halt();
            }
            stay
        });
        for account in desired {
            let key = ("telegram".to_owned(), account.id.clone());
            if map.get(&key).is_some_and(|r| r.account == account) {
                continue;
            }
            if let Some(mut old) = map.remove(&key) {
                tracing::info!(target: "channels", channel = "telegram", account = %account.id, "account config changed; restarting it");
                old.halt();
            }
            map.insert(key, self.start_telegram(account));
        }
    }

    /// Stops every account (gateway shutdown).
    fn stop_all(&self) {
        for r in self.accounts().values_mut() {
            r.halt();
        }
    }

    /// `{telegram: {accounts: {<id>: status}}}` for `health` and `channels.status`.
    fn snapshot(&self) -> Value {
        let mut out = serde_json::Map::new();
        for ((ch, id), r) in self.accounts().iter() {
            let entry = out
                .entry(ch.clone())
                .or_insert_with(|| json!({"accounts": {}}));
            entry["accounts"][id] = serde_json::to_value(r.status.get()).unwrap_or(Value::Null);
        }
        Value::Object(out)
    }

    /// Channels that have at least one account, in display order.
    fn order(&self) -> Vec<&'static str> {
        let map = self.accounts();
        CHANNEL_ORDER
            .iter()
            .copied()
            .filter(|c| map.keys().any(|(ch, _)| ch == c))
            .collect()
    }

    /// `channel:<channel>:<account>` for each enabled, required account that is not
    /// connected (what `/readyz` reports as failing).
    fn failing_required(&self) -> Vec<String> {
        self.accounts()
            .iter()
            .filter(|(_, r)| {
                let s = r.status.get();
                s.required && s.enabled && !s.connected
            })
            .map(|((ch, id), _)| format!("channel:{ch}:{id}"))
            .collect()
    }

    /// `channels.status`: every account's status, plus a live check with `probe`.
    fn status(&self, probe: bool) -> BoxFuture<'_, Value> {
        Box::pin(async move {
            let mut snap = self.snapshot();
            if probe {
                let targets: Vec<(String, String, Arc<dyn Channel>, bool)> = self
                    .accounts()
                    .iter()
                    .map(|((ch, id), r)| {
                        (
                            ch.clone(),
                            id.clone(),
                            r.channel.clone(),
                            r.account.configured(),
                        )
                    })
                    .collect();
                for (ch, id, channel, configured) in targets {
                    let started = std::time::Instant::now();
                    let result = if configured {
                        tokio::time::timeout(Duration::from_secs(10), channel.probe())
                            .await
                            .unwrap_or_else(|_| {
                                Err(ChannelError::Network("probe timed out".into()))
                            })
                    } else {
                        Err(ChannelError::Config("no credential configured".into()))
                    };
                    let elapsed = started.elapsed().as_millis() as u64;
                    snap[&ch]["accounts"][&id]["probe"] = match result {
                        Ok(v) => json!({"ok": true, "elapsedMs": elapsed, "bot": v}),
                        Err(e) => {
                            json!({"ok": false, "elapsedMs": elapsed, "error": e.to_string()})
                        }
                    };
                }
            }
            json!({"ts": now_ms(), "channels": snap, "channelOrder": self.order()})
        })
    }

    fn webhook(&self, path: &str) -> Option<WebhookTarget> {
        self.webhooks.get(path)
    }

    /// Sends a message through a channel account (the `send` RPC).
    fn send<'a>(
        &'a self,
        channel: &'a str,
        account: Option<&'a str>,
        to: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Value, ChannelError>> {
        Box::pin(async move {
            let (ch, status, usable) = self.find(channel, account)?;
            if !usable {
                return Err(ChannelError::Config(format!(
                    "the {channel} account is disabled or has no credential"
                )));
            }
            match ch.send_text(to, text).await {
                Ok(v) => {
                    status.update(|s| s.last_outbound_at = Some(now_ms()));
                    Ok(v)
                }
                Err(e) => {
                    status.error(format!("send failed: {e}"));
                    Err(e)
                }
            }
        })
    }
}

/// Runs one account until stopped: restarts it after errors and panics, with backoff.
async fn supervise(channel: Arc<dyn Channel>, ctx: AccountCtx, mut stop: watch::Receiver<bool>) {
    let status = ctx.status.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        status.update(|s| s.running = true);
        let fut = AssertUnwindSafe(channel.clone().run(ctx.clone())).catch_unwind();
        let outcome = tokio::select! {
            r = fut => r,
            _ = stop.wait_for(|v| *v) => break,
        };
        let error = match outcome {
            Ok(Ok(())) => "channel loop ended".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                format!("channel task panicked: {msg}")
            }
        };
        let attempts = status.update(|s| {
            s.connected = false;
            s.last_error = Some(error.clone());
            s.reconnect_attempts = s.reconnect_attempts.saturating_add(1);
            s.reconnect_attempts
        });
        ctx.host
            .metrics()
            .channel_reconnect("telegram", &ctx.account.id);
        let delay = backoff(attempts);
        tracing::warn!(target: "channels", account = %ctx.account.id, error = %error, attempt = attempts, delay_ms = delay.as_millis() as u64, "channel account failed; reconnecting");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|v| *v) => break,
        }
    }
    status.update(|s| {
        s.running = false;
        s.connected = false;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let a = backoff(1);
        let b = backoff(4);
        assert!(a >= Duration::from_millis(1000) && a <= Duration::from_millis(1250));
        assert!(b >= Duration::from_millis(8000));
        assert!(backoff(30) <= MAX_BACKOFF + MAX_BACKOFF / 4);
    }
}
