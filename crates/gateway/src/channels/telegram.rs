//! Telegram over the Bot API: long polling or a webhook in, `sendMessage` out.
//!
//! Webhook mode (`webhookUrl` set): the account registers its path with the HTTP
//! transport, calls `setWebhook` (with the secret and `max_connections: 1`, so updates
//! arrive one at a time and in order), and records each delivered update exactly as a
//! polled one before the HTTP request is answered 200: Telegram redelivers anything not
//! answered 2xx, so an update is acknowledged only once it is recorded. Replies run in a
//! worker beside the intake so the 200 never waits for the model. A polling account
//! removes a webhook this gateway set (the offset file remembers it) and, once per start,
//! one it meets as `getUpdates`' 409; so switching modes by hot reload needs nothing else.
//!
//! Durability: an update is acknowledged to Telegram (by asking for the next `offset`)
//! only after the offset file says so, and the offset file is advanced only after the
//! user's message is in the session transcript. The offset file also lists the accepted
//! updates whose reply has not been delivered yet (`pending`), written in the same atomic
//! replace, so a gateway killed at any point neither loses a message nor answers it
//! twice: on restart the pending ones are answered (the transcript tells whether the
//! agent already replied, in which case the recorded reply is sent instead of running the
//! model again) and the rest come back from Telegram.
//!
//! The bot token appears only in request URLs, and every transport error is stripped of
//! its URL before it is logged or stored, so the token never reaches a log line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use openclaw_config::{DmPolicy, GroupPolicy, TelegramAccount, TelegramWebhook};
use openclaw_sessions::{Entry, SessionKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AccountCtx, Channel, ChannelError, backoff};
use crate::agents::Turn;
use crate::runs::RunStatus;
use crate::state::{WebhookDelivery, WebhookTarget};
use crate::sys::now_ms;

/// Longest text Telegram accepts in one message.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// How often "typing…" is refreshed while the agent works (Telegram shows it ~5 s).
const TYPING_EVERY: Duration = Duration::from_secs(4);
/// Tries per outgoing message piece.
const SEND_TRIES: u32 = 3;
/// Channel name recorded in transcripts.
const CHANNEL: &str = "telegram";

/// Who the bot is, from `getMe`.
#[derive(Clone, Debug)]
struct BotInfo {
    id: i64,
    username: String,
}

/// One Telegram account.
pub struct Telegram {
    account: TelegramAccount,
    client: reqwest::Client,
    me: Mutex<Option<BotInfo>>,
}

impl Telegram {
    /// An adapter for `account`, sharing the HTTP connection pool `client`.
    pub fn new(account: TelegramAccount, client: reqwest::Client) -> Telegram {
        Telegram {
            account,
            client,
            me: Mutex::new(None),
        }
    }

    fn token(&self) -> &str {
        self.account.bot_token.as_ref().map_or("", |t| t.expose())
    }

    /// Calls a Bot API method; unwraps the `{ok, result}` envelope.
    async fn call(
        &self,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, ChannelError> {
        if self.token().is_empty() {
            return Err(ChannelError::Config("botToken is not set".into()));
        }
        let url = format!("{}/bot{}/{method}", self.account.api_root, self.token());
        let res = self
            .client
            .post(url)
            .json(params)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ChannelError::Network(e.without_url().to_string()))?;
        let status = res.status().as_u16();
        let body = res
            .bytes()
            .await
            .map_err(|e| ChannelError::Network(e.without_url().to_string()))?;
        let v: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return Err(ChannelError::Api {
                    code: status,
                    description: format!("HTTP {status} without a Bot API answer"),
                    retry_after: None,
                });
            }
        };
        if v["ok"] == true {
            return Ok(v["result"].clone());
        }
        Err(ChannelError::Api {
            code: v["error_code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(status),
            description: v["description"]
                .as_str()
                .unwrap_or("no description")
                .to_owned(),
            retry_after: v["parameters"]["retry_after"].as_u64(),
        })
    }

    async fn get_me(&self) -> Result<BotInfo, ChannelError> {
        let me = self
            .call("getMe", &json!({}), Duration::from_secs(15))
            .await?;
        let info = BotInfo {
            id: me["id"].as_i64().unwrap_or(0),
            username: me["username"].as_str().unwrap_or("").to_owned(),
        };
        *self.me.lock().unwrap_or_else(|e| e.into_inner()) = Some(info.clone());
        Ok(info)
    }

    /// Sends `text` to `chat`, split into pieces Telegram accepts; each piece is tried
    /// up to three times (waiting out a 429's `retry_after`).
    async fn deliver(&self, chat: &str, text: &str) -> Result<Vec<i64>, ChannelError> {
        let chat_id = chat
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(chat));
        let mut ids = Vec::new();
        for piece in split_message(text, MAX_MESSAGE_CHARS) {
            let params = json!({"chat_id": chat_id, "text": piece});
            let mut last = None;
            for attempt in 1..=SEND_TRIES {
                match self
                    .call("sendMessage", &params, Duration::from_secs(30))
                    .await
                {
                    Ok(m) => {
                        ids.push(m["message_id"].as_i64().unwrap_or(0));
                        last = None;
                        break;
                    }
                    Err(e) => {
                        let wait = match &e {
                            ChannelError::Api {
                                retry_after: Some(s),
                                ..
                            } => Duration::from_secs(*s),
                            // A 400 will not get better by retrying.
                            ChannelError::Api { code: 400, .. } => return Err(e),
                            _ => backoff(attempt),
                        };
                        last = Some(e);
                        if attempt < SEND_TRIES {
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
            }
            if let Some(e) = last {
                return Err(e);
            }
        }
        Ok(ids)
    }

    /// Connects: `getMe`, the offset file (reset when the token now names another bot),
    /// the status. Shared by both modes.
    async fn open(&self, ctx: &AccountCtx) -> Result<(BotInfo, OffsetStore), ChannelError> {
        let me = self.get_me().await?;
        let mut store = OffsetStore::load(&ctx.dir).await?;
        if store.state.bot_id.is_some_and(|id| id != me.id) {
            tracing::warn!(target: "channels", account = %ctx.account.id, "the bot token now belongs to another bot; starting from its current updates");
            store.state = OffsetState::default();
        }
        store.state.bot_id = Some(me.id);
        Ok((me, store))
    }

    fn connected(&self, ctx: &AccountCtx, me: &BotInfo, mode: &str) {
        ctx.status.connected(Some(
            json!({"id": me.id, "username": format!("@{}", me.username)}),
        ));
        tracing::info!(target: "channels", account = %ctx.account.id, bot = %me.username, mode, "telegram connected");
    }

    /// `deleteWebhook`, keeping the updates Telegram holds (polling picks them up).
    async fn delete_webhook(&self) -> Result<(), ChannelError> {
        self.call(
            "deleteWebhook",
            &json!({"drop_pending_updates": false}),
            Duration::from_secs(15),
        )
        .await
        .map(|_| ())
    }

    async fn poll(self: Arc<Self>, ctx: AccountCtx) -> Result<(), ChannelError> {
        let (me, mut store) = self.open(&ctx).await?;
        // Switching from webhook mode: remove the webhook this gateway registered, or
        // Telegram refuses `getUpdates`.
        if store.state.webhook_url.is_some() {
            self.delete_webhook().await?;
            tracing::info!(target: "channels", account = %ctx.account.id, "telegram webhook removed; long polling");
            store.state.webhook_url = None;
            store.save().await?;
        }
        self.connected(&ctx, &me, "polling");
        // Answer what a previous run accepted but did not get to answer.
        for p in store.state.pending.clone() {
            self.answer(&ctx, &p).await;
            store.finish(&p.run_id).await?;
        }
        let timeout = ctx.account.poll_timeout_seconds;
        let mut removed_foreign_webhook = false;
        loop {
            let params = json!({
                "offset": store.state.offset,
                "timeout": timeout,
                "allowed_updates": ["message"],
            });
            let updates = match self
                .call("getUpdates", &params, Duration::from_secs(timeout + 15))
                .await
            {
                Ok(u) => u,
                Err(ChannelError::Api {
                    code: 429,
                    retry_after,
                    description,
                }) => {
                    let wait = retry_after.unwrap_or(1);
                    ctx.status.error(format!(
                        "rate limited by Telegram ({description}); waiting {wait}s"
                    ));
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                    continue;
                }
                Err(ChannelError::Api {
                    code: 409,
                    description,
                    ..
                }) if description.contains("webhook") && !removed_foreign_webhook => {
                    // A webhook set elsewhere (or before this gateway kept track): this
                    // account is configured for polling, so the webhook goes.
                    tracing::warn!(target: "channels", account = %ctx.account.id, "a telegram webhook is set but this account polls; removing it (set webhookUrl for webhook mode)");
                    removed_foreign_webhook = true;
                    self.delete_webhook().await?;
                    continue;
                }
                Err(e @ ChannelError::Api { code: 409, .. }) => {
                    return Err(ChannelError::Api {
                        code: 409,
                        description: format!(
                            "another process is polling this bot ({e}); stop the other instance"
                        ),
                        retry_after: None,
                    });
                }
                Err(e) => return Err(e),
            };
            ctx.status.connected(None);
            for u in updates.as_array().into_iter().flatten() {
                if let Some(p) = self.record(&ctx, &me, &mut store, u).await? {
                    self.answer(&ctx, &p).await;
                    store.finish(&p.run_id).await?;
                }
            }
        }
    }

    /// Webhook mode: registers the path, `setWebhook`, then records each delivery before
    /// acknowledging it; replies are made by a worker in delivery order.
    async fn webhook(
        self: Arc<Self>,
        ctx: AccountCtx,
        hook: TelegramWebhook,
    ) -> Result<(), ChannelError> {
        let secret = hook
            .secret
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ChannelError::Config("webhookSecret is not set".into()))?;
        let (me, mut store) = self.open(&ctx).await?;
        let (tx, mut intake) = tokio::sync::mpsc::channel::<WebhookDelivery>(16);
        // Listening before Telegram is told, so its first delivery finds the path.
        let _registration = ctx.webhooks.register(
            &hook.path,
            WebhookTarget {
                channel: CHANNEL,
                account: ctx.account.id.clone(),
                secret: secret.clone(),
                tx,
            },
        );
        self.call(
            "setWebhook",
            &json!({
                "url": hook.url,
                "secret_token": secret.expose(),
                "allowed_updates": ["message"],
                "max_connections": 1,
            }),
            Duration::from_secs(15),
        )
        .await?;
        store.state.webhook_url = Some(hook.url.clone());
        store.save().await?;
        self.connected(&ctx, &me, "webhook");
        let earlier = store.state.pending.clone();
        let store = Arc::new(tokio::sync::Mutex::new(store));
        let (work, mut queue) = tokio::sync::mpsc::unbounded_channel::<Pending>();
        for p in earlier {
            let _ = work.send(p);
        }
        let worker = {
            let me = self.clone();
            let ctx = ctx.clone();
            let store = store.clone();
            AbortOnDrop(tokio::spawn(async move {
                while let Some(p) = queue.recv().await {
                    me.answer(&ctx, &p).await;
                    if let Err(e) = store.lock().await.finish(&p.run_id).await {
                        tracing::error!(target: "channels", account = %ctx.account.id, error = %e, "cannot update the telegram offset file");
                        ctx.status.error(e.to_string());
                    }
                }
            }))
        };
        while let Some(delivery) = intake.recv().await {
            if worker.0.is_finished() {
                return Err(ChannelError::Storage("the reply worker stopped".into()));
            }
            let recorded = {
                let mut store = store.lock().await;
                self.record(&ctx, &me, &mut store, &delivery.body).await
            };
            match recorded {
                Ok(pending) => {
                    let _ = delivery.ack.send(Ok(()));
                    ctx.status.connected(None);
                    if let Some(p) = pending {
                        let _ = work.send(p);
                    }
                }
                Err(e) => {
                    // Not acknowledged: Telegram delivers it again.
                    tracing::warn!(target: "channels", account = %ctx.account.id, error = %e, "telegram webhook update not recorded");
                    ctx.status
                        .error(format!("webhook update not recorded: {e}"));
                    let _ = delivery.ack.send(Err(e));
                }
            }
        }
        Err(ChannelError::Unavailable)
    }

    /// Applies the policy to one update and, when accepted, records it (transcript, then
    /// the offset file with the update pending). Returns what is left to answer. An update
    /// at or below the saved offset was handled before and is skipped.
    async fn record(
        &self,
        ctx: &AccountCtx,
        me: &BotInfo,
        store: &mut OffsetStore,
        update: &Value,
    ) -> Result<Option<Pending>, ChannelError> {
        let Some(update_id) = update["update_id"].as_i64() else {
            return Ok(None);
        };
        if store.state.offset.is_some_and(|o| update_id < o) {
            return Ok(None);
        }
        let Some(inbound) = accept(&ctx.account, me, update) else {
            store.advance(update_id + 1, None).await?;
            return Ok(None);
        };
        let host = &ctx.host;
        let default_agent = host.default_agent_id().ok_or(ChannelError::Unavailable)?;
        ctx.status.update(|s| s.last_inbound_at = Some(now_ms()));
        let agent_id = ctx.account.agent_id.clone().unwrap_or(default_agent);
        let session = SessionKey::new(&agent_id, &format!("telegram:{}", inbound.chat_id))
            .map_err(|e| ChannelError::Config(e.to_string()))?;
        let run_id = format!("telegram-{}-{update_id}", ctx.account.id);
        let mut recent = host
            .sessions()
            .history(&session, 50)
            .await
            .map_err(|e| ChannelError::Storage(e.to_string()))?;
        // An idle session starts over before the new message is recorded in it.
        let idle = host.agent(&agent_id).and_then(|a| a.idle_reset);
        if crate::agents::reset_if_idle(host.sessions(), &session, recent.last(), idle)
            .await
            .map_err(|e| ChannelError::Storage(e.to_string()))?
        {
            recent.clear();
        }
        // A redelivered update (killed after the append, before the offset was saved)
        // is already in the transcript: do not record it twice.
        if !recent
            .iter()
            .any(|e| e.role == "user" && e.run_id.as_deref() == Some(&run_id))
        {
            let mut e = Entry::user(inbound.text.clone());
            e.run_id = Some(run_id.clone());
            e.channel = Some(CHANNEL.to_owned());
            host.sessions()
                .append(&session, &[e])
                .await
                .map_err(|e| ChannelError::Storage(e.to_string()))?;
        }
        let pending = Pending {
            update_id,
            chat_id: inbound.chat_id.clone(),
            session: session.to_string(),
            agent_id,
            run_id: run_id.clone(),
            text: inbound.text,
        };
        store.advance(update_id + 1, Some(pending.clone())).await?;
        Ok(Some(pending))
    }

    /// Runs the agent for an accepted (recorded) message and delivers the reply; a reply
    /// that cannot be delivered is recorded in the transcript and the account's status.
    async fn answer(&self, ctx: &AccountCtx, p: &Pending) {
        let host = &ctx.host;
        if !host.is_serving() {
            return;
        }
        let Ok(session) = SessionKey::parse(&p.session) else {
            return;
        };
        let history = host
            .sessions()
            .history(&session, 50)
            .await
            .unwrap_or_default();
        let recorded = history
            .iter()
            .rev()
            .find(|e| e.role == "assistant" && e.run_id.as_deref() == Some(&p.run_id));
        let reply = match recorded {
            // The agent already answered before a restart: deliver that answer.
            Some(e) if e.error.is_none() => Ok(e.content.clone()),
            Some(e) => Err(e.error.clone().unwrap_or_default()),
            None => self.run_agent(ctx, p, session.clone()).await,
        };
        let text = match reply {
            Ok(t) if t.trim().is_empty() => return,
            Ok(t) => t,
            Err(err) => {
                tracing::warn!(target: "channels", account = %ctx.account.id, run = %p.run_id, error = %err, "agent run failed for a telegram message");
                "⚠️ Sorry, I could not answer that right now. Please try again later.".to_owned()
            }
        };
        match self.deliver(&p.chat_id, &text).await {
            Ok(_) => ctx.status.update(|s| s.last_outbound_at = Some(now_ms())),
            Err(e) => {
                let msg = format!("reply to chat {} not delivered: {e}", p.chat_id);
                tracing::warn!(target: "channels", account = %ctx.account.id, run = %p.run_id, error = %e, "telegram reply not delivered");
                ctx.status.error(msg.clone());
                let mut entry = Entry::new("system", "");
                entry.run_id = Some(p.run_id.clone());
                entry.channel = Some(CHANNEL.to_owned());
                entry.error = Some(msg);
                if let Err(w) = host.sessions().append(&session, &[entry]).await {
                    tracing::error!(target: "channels", error = %w, "cannot record the undelivered reply");
                }
            }
        }
    }

    async fn run_agent(
        &self,
        ctx: &AccountCtx,
        p: &Pending,
        session: SessionKey,
    ) -> Result<String, String> {
        let agent = ctx
            .host
            .agent(&p.agent_id)
            .ok_or_else(|| format!("unknown agent {:?}", p.agent_id))?;
        // The message is already the last user entry of the transcript (recorded before
        // the offset advanced), so the runner reads it from history and must not append
        // it again: an empty `user_text` means exactly that.
        let turn = Turn::new(agent, session, "")
            .with_run_id(p.run_id.clone())
            .with_channel(Some(CHANNEL.to_owned()));
        let entry = ctx
            .host
            .start(turn)
            .ok_or_else(|| "gateway unavailable".to_owned())?;
        // The first typing indicator is sent before waiting (the run is already going), so
        // even a reply faster than one Telegram round trip shows it; then every few seconds.
        let chat = p.chat_id.clone();
        let me = Arc::new(Telegram::new(ctx.account.clone(), self.client.clone()));
        let typing_once = move || {
            let me = me.clone();
            let chat = chat.clone();
            async move {
                let _ = me
                    .call(
                        "sendChatAction",
                        &json!({"chat_id": chat_value(&chat), "action": "typing"}),
                        Duration::from_secs(10),
                    )
                    .await;
            }
        };
        typing_once().await;
        let typing = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TYPING_EVERY).await;
                typing_once().await;
            }
        });
        let result = entry.finished().await;
        typing.abort();
        match result.status {
            RunStatus::Ok => Ok(result.payload["summary"].as_str().unwrap_or("").to_owned()),
            _ => Err(result.payload["error"]
                .as_str()
                .unwrap_or(result.status.as_str())
                .to_owned()),
        }
    }
}

fn chat_value(chat: &str) -> Value {
    chat.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(chat))
}

/// Aborts a task when dropped (the account's reply worker ends with the account).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Telegram {
    /// `getWebhookInfo`, described against this account's mode: `state` is `registered`
    /// (webhook mode, Telegram has our URL), `not registered`/`mismatch` (webhook mode,
    /// Telegram has no or another URL), `not configured` (polling, none set) or
    /// `conflict` (polling, but a webhook is set; the account removes it).
    async fn webhook_info(&self) -> Result<Value, ChannelError> {
        let info = self
            .call("getWebhookInfo", &json!({}), Duration::from_secs(15))
            .await?;
        let url = info["url"].as_str().unwrap_or("").to_owned();
        let (mode, state) = match &self.account.webhook {
            Some(h) if url == h.url => ("webhook", "registered"),
            Some(_) if url.is_empty() => ("webhook", "not registered"),
            Some(_) => ("webhook", "mismatch"),
            None if url.is_empty() => ("polling", "not configured"),
            None => ("polling", "conflict"),
        };
        let mut out = json!({
            "mode": mode,
            "state": state,
            "url": url,
            "pendingUpdateCount": info["pending_update_count"].as_u64().unwrap_or(0),
        });
        if let Some(h) = &self.account.webhook {
            out["configuredUrl"] = json!(h.url);
            out["path"] = json!(h.path);
        }
        if let Some(m) = info["last_error_message"].as_str() {
            out["lastErrorMessage"] = json!(m);
            out["lastErrorDate"] = info["last_error_date"].clone();
        }
        Ok(out)
    }
}

impl Channel for Telegram {
    fn run(self: Arc<Self>, ctx: AccountCtx) -> BoxFuture<'static, Result<(), ChannelError>> {
        match ctx.account.webhook.clone() {
            Some(hook) => Box::pin(self.webhook(ctx, hook)),
            None => Box::pin(self.poll(ctx)),
        }
    }

    fn probe(&self) -> BoxFuture<'_, Result<Value, ChannelError>> {
        Box::pin(async move {
            let me = self.get_me().await?;
            let mut out = json!({"id": me.id, "username": format!("@{}", me.username)});
            out["webhook"] = match self.webhook_info().await {
                Ok(w) => w,
                Err(e) => json!({"state": "unknown", "error": e.to_string()}),
            };
            Ok(out)
        })
    }

    fn send_text<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Value, ChannelError>> {
        Box::pin(async move {
            if text.trim().is_empty() {
                return Err(ChannelError::Config("message must not be empty".into()));
            }
            let ids = self.deliver(to, text).await?;
            Ok(
                json!({"channel": CHANNEL, "chatId": to, "messageIds": ids, "messageId": ids.last()}),
            )
        })
    }
}

/// A message the policy accepted.
struct Inbound {
    chat_id: String,
    text: String,
}

/// Applies the DM and group policies; `None` means "ignore this update".
fn accept(account: &TelegramAccount, me: &BotInfo, update: &Value) -> Option<Inbound> {
    let msg = update.get("message")?;
    let text = msg["text"]
        .as_str()
        .or_else(|| msg["caption"].as_str())?
        .to_owned();
    if msg["from"]["is_bot"] == true {
        return None;
    }
    let from = msg["from"]["id"].as_i64()?.to_string();
    let chat_id = msg["chat"]["id"].as_i64()?.to_string();
    let allowed = |list: &[String]| list.iter().any(|a| a == "*" || *a == from);
    match msg["chat"]["type"].as_str()? {
        "private" => {
            let ok = match account.dm_policy {
                DmPolicy::Open => true,
                DmPolicy::Allowlist => allowed(&account.allow_from),
                DmPolicy::Disabled => false,
            };
            ok.then_some(Inbound { chat_id, text })
        }
        "group" | "supergroup" => {
            let ok = match account.group_policy {
                GroupPolicy::Open => true,
                GroupPolicy::Allowlist => allowed(&account.group_allow_from),
                GroupPolicy::Disabled => false,
            };
            if !ok {
                return None;
            }
            let handle = format!("@{}", me.username);
            let mentioned =
                !me.username.is_empty() && text.to_lowercase().contains(&handle.to_lowercase());
            let replied = msg["reply_to_message"]["from"]["id"].as_i64() == Some(me.id);
            if account.require_mention && !mentioned && !replied {
                return None;
            }
            let text = strip_mention(&text, &handle);
            (!text.is_empty()).then_some(Inbound { chat_id, text })
        }
        _ => None,
    }
}

fn strip_mention(text: &str, handle: &str) -> String {
    let lower = text.to_lowercase();
    let h = handle.to_lowercase();
    match lower.find(&h) {
        Some(i)
            if !h.is_empty() && text.is_char_boundary(i) && text.is_char_boundary(i + h.len()) =>
        {
            format!("{}{}", &text[..i], &text[i + h.len()..])
                .trim()
                .to_owned()
        }
        _ => text.trim().to_owned(),
    }
}

/// Splits `text` into pieces of at most `max` characters, preferring to cut after a
/// newline, else after a space, else anywhere. Never returns an empty piece.
pub fn split_message(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut rest: &str = text;
    while rest.chars().count() > max {
        // Byte index just past the first `max` characters.
        let limit = rest
            .char_indices()
            .nth(max)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let window = &rest[..limit];
        let cut = window
            .rfind('\n')
            .or_else(|| window.rfind(' '))
            .filter(|&i| i > 0)
            .map(|i| i + 1)
            .unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        if !head.trim().is_empty() {
            out.push(head.trim_end().to_owned());
        }
        rest = tail;
    }
    if !rest.trim().is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// An accepted update whose reply has not been delivered yet.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    update_id: i64,
    chat_id: String,
    session: String,
    agent_id: String,
    run_id: String,
    text: String,
}

/// Contents of `offset.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetState {
    /// The bot these offsets belong to.
    #[serde(default)]
    bot_id: Option<i64>,
    /// The next `offset` to ask for (last handled update id + 1).
    #[serde(default)]
    offset: Option<i64>,
    /// Accepted, recorded, not yet answered.
    #[serde(default)]
    pending: Vec<Pending>,
    /// The webhook this gateway registered with `setWebhook` (removed again when the
    /// account goes back to polling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook_url: Option<String>,
}

/// `offset.json`, replaced atomically (temp file, fsync, rename, fsync of the directory).
struct OffsetStore {
    path: PathBuf,
    state: OffsetState,
}

impl OffsetStore {
    async fn load(dir: &Path) -> Result<OffsetStore, ChannelError> {
        let path = dir.join("offset.json");
        let p = path.clone();
        let state = tokio::task::spawn_blocking(move || match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice::<OffsetState>(&bytes)
                .map_err(|e| ChannelError::Storage(format!("{} is not valid: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(OffsetState::default()),
            Err(e) => Err(ChannelError::Storage(format!(
                "cannot read {}: {e}",
                p.display()
            ))),
        })
        .await
        .map_err(|e| ChannelError::Storage(e.to_string()))??;
        Ok(OffsetStore { path, state })
    }

    async fn advance(&mut self, offset: i64, pending: Option<Pending>) -> Result<(), ChannelError> {
        self.state.offset = Some(offset.max(self.state.offset.unwrap_or(0)));
        if let Some(p) = pending {
            self.state.pending.retain(|x| x.run_id != p.run_id);
            self.state.pending.push(p);
        }
        self.save().await
    }

    async fn finish(&mut self, run_id: &str) -> Result<(), ChannelError> {
        self.state.pending.retain(|p| p.run_id != run_id);
        self.save().await
    }

    async fn save(&self) -> Result<(), ChannelError> {
        let path = self.path.clone();
        let bytes = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| ChannelError::Storage(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            openclaw_config::write_atomic(&path, &bytes, &openclaw_config::AtomicWrite::default())
        })
        .await
        .map_err(|e| ChannelError::Storage(e.to_string()))?
        .map_err(|e| ChannelError::Storage(format!("cannot write the offset file: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_prefers_newlines_then_spaces() {
        assert_eq!(split_message("short", 10), vec!["short"]);
        assert_eq!(split_message("aaaa\nbbbb cc", 8), vec!["aaaa", "bbbb cc"]);
        assert_eq!(split_message("aaaa bbbb cc", 8), vec!["aaaa", "bbbb cc"]);
        assert_eq!(split_message("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        let long = "é".repeat(9000);
        let parts = split_message(&long, MAX_MESSAGE_CHARS);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
        assert_eq!(parts.concat(), long);
    }

    fn account(policy: DmPolicy) -> TelegramAccount {
        let c: openclaw_config::TelegramConfig =
            serde_json::from_value(json!({"botToken": "1:a", "allowFrom": [42]})).unwrap();
        let mut a = c.resolved_accounts().remove(0);
        a.dm_policy = policy;
        a
    }

    #[test]
    fn policies() {
        let me = BotInfo {
            id: 9,
            username: "bot".into(),
        };
        let dm = |from: i64| json!({"update_id": 1, "message": {"from": {"id": from}, "chat": {"id": from, "type": "private"}, "text": "hi"}});
        let a = account(DmPolicy::Allowlist);
        assert!(accept(&a, &me, &dm(42)).is_some());
        assert!(accept(&a, &me, &dm(7)).is_none());
        assert!(accept(&account(DmPolicy::Open), &me, &dm(7)).is_some());
        let group = |text: &str| json!({"update_id": 2, "message": {"from": {"id": 42}, "chat": {"id": -5, "type": "supergroup"}, "text": text}});
        assert!(accept(&a, &me, &group("hello all")).is_none());
        let hit = accept(&a, &me, &group("@Bot what time is it")).unwrap();
        assert_eq!(hit.text, "what time is it");
        assert_eq!(hit.chat_id, "-5");
    }
}
