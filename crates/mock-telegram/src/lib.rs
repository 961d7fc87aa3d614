//! A stand-in for the Telegram Bot API, for tests.
//!
//! The gateway's Telegram channel is written against the real Bot API
//! (`https://api.telegram.org/bot<token>/<method>`). Tests need the same wire format without
//! a real bot, network access or rate limits, plus the failures that are hard to provoke
//! on demand (an outage, a second poller's 409, a 429 with `retry_after`). This crate
//! serves on `127.0.0.1:0`:
//!
//! * `getMe`: the bot `@openclaw_test_bot` (id [`BOT_ID`]);
//! * `getUpdates` with `offset`, `timeout` (long poll) and `limit`: updates with an id below
//!   `offset` are confirmed and dropped for good, exactly like Telegram;
//! * `sendMessage` (rejects text over 4,096 characters like the real API) and
//!   `sendChatAction`;
//! * `setWebhook` (`url`, `secret_token`, `max_connections`), `deleteWebhook`
//!   (`drop_pending_updates`) and `getWebhookInfo`: while a webhook is set, queued updates
//!   are POSTed to it one at a time with `X-Telegram-Bot-Api-Secret-Token`, an update is
//!   dropped only when the webhook answers 2xx (otherwise it is retried and the failure
//!   shows as `last_error_message`), and `getUpdates` fails with 409 like Telegram's.
//!
//! Parameters are read from the query string, a JSON body or a form body. Every answer
//! uses the real envelope: `{ok:true,result}` or `{ok:false,error_code,description,
//! parameters?}`. Test controls live on [`MockTelegram`].

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

/// The user id of the stand-in bot.
pub const BOT_ID: i64 = 7_000_000_001;
/// The username of the stand-in bot (mention it as `@openclaw_test_bot`).
pub const BOT_USERNAME: &str = "openclaw_test_bot";
/// Longest message text the real API accepts.
pub const MAX_TEXT_CHARS: usize = 4096;

/// What the server has seen and how it should misbehave; shared with handlers.
struct Inner {
    token: String,
    updates: Mutex<VecDeque<Value>>,
    next_update_id: AtomicI64,
    next_message_id: AtomicI64,
    sent: Mutex<Vec<Value>>,
    actions: Mutex<Vec<Value>>,
    down: AtomicBool,
    conflicts: AtomicU64,
    rate_limit: Mutex<Option<u64>>,
    get_updates_calls: AtomicU64,
    failing_sends: AtomicU64,
    changed: Notify,
    webhook: Mutex<Option<Webhook>>,
    /// `setWebhook`/`deleteWebhook` calls in order, as `"setWebhook <url>"` / `"deleteWebhook"`.
    webhook_calls: Mutex<Vec<String>>,
    /// Updates the webhook took (answered 2xx), oldest first.
    delivered: Mutex<Vec<Value>>,
    last_webhook_error: Mutex<Option<(u64, String)>>,
}

/// The registered webhook.
#[derive(Clone, Debug)]
struct Webhook {
    url: String,
    secret: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running stand-in Bot API server; stops when dropped.
pub struct MockTelegram {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server for bot token `token` on an ephemeral loopback port.
pub async fn spawn(token: &str) -> std::io::Result<MockTelegram> {
    let inner = Arc::new(Inner {
        token: token.to_owned(),
        updates: Mutex::new(VecDeque::new()),
        next_update_id: AtomicI64::new(100_000),
        next_message_id: AtomicI64::new(1),
        sent: Mutex::new(Vec::new()),
        actions: Mutex::new(Vec::new()),
        down: AtomicBool::new(false),
        conflicts: AtomicU64::new(0),
        rate_limit: Mutex::new(None),
        get_updates_calls: AtomicU64::new(0),
        failing_sends: AtomicU64::new(0),
        changed: Notify::new(),
        webhook: Mutex::new(None),
        webhook_calls: Mutex::new(Vec::new()),
        delivered: Mutex::new(Vec::new()),
        last_webhook_error: Mutex::new(None),
    });
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/{bot}/{method}", any(handle))
        .with_state(inner.clone());
    let deliverer = inner.clone();
    let task = tokio::spawn(async move {
        let delivery = tokio::spawn(deliver_webhooks(deliverer));
        let _ = axum::serve(listener, app).await;
        delivery.abort();
    });
    Ok(MockTelegram { addr, inner, task })
}

impl MockTelegram {
    /// The `apiRoot` to configure (`http://127.0.0.1:<port>`).
    pub fn api_root(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues an update. An `update_id` is assigned when missing; returns it.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = match update.get("update_id").and_then(Value::as_i64) {
            Some(id) => {
                self.inner
                    .next_update_id
                    .fetch_max(id + 1, Ordering::SeqCst);
                id
            }
            None => {
                let id = self.inner.next_update_id.fetch_add(1, Ordering::SeqCst);
                if let Some(o) = update.as_object_mut() {
                    o.insert("update_id".into(), json!(id));
                }
                id
            }
        };
        lock(&self.inner.updates).push_back(update);
        self.inner.changed.notify_waiters();
        id
    }

    /// Queues a private text message from user `from` (chat id = user id); returns the
    /// update id.
    pub fn push_dm(&self, from: i64, text: &str) -> i64 {
        let mid = self.inner.next_message_id.fetch_add(1, Ordering::SeqCst);
        self.push_update(json!({"message": {
            "message_id": mid, "date": now_secs(),
            "from": {"id": from, "is_bot": false, "first_name": format!("user{from}")},
            "chat": {"id": from, "type": "private", "first_name": format!("user{from}")},
            "text": text,
        }}))
    }

    /// Queues a group text message from user `from` in group `chat`; returns the update id.
    pub fn push_group(&self, chat: i64, from: i64, text: &str) -> i64 {
        let mid = self.inner.next_message_id.fetch_add(1, Ordering::SeqCst);
        self.push_update(json!({"message": {
            "message_id": mid, "date": now_secs(),
            "from": {"id": from, "is_bot": false, "first_name": format!("user{from}")},
            "chat": {"id": chat, "type": "supergroup", "title": "group"},
            "text": text,
        }}))
    }

    /// Every `sendMessage` call's parameters, oldest first.
    pub fn sent_messages(&self) -> Vec<Value> {
        lock(&self.inner.sent).clone()
    }

    /// Every `sendChatAction` call's parameters, oldest first.
    pub fn chat_actions(&self) -> Vec<Value> {
        lock(&self.inner.actions).clone()
    }

    /// Updates not yet confirmed by an `offset` past them.
    pub fn pending_updates(&self) -> usize {
        lock(&self.inner.updates).len()
    }

    /// How many `getUpdates` calls arrived (including failed ones).
    pub fn get_updates_calls(&self) -> u64 {
        self.inner.get_updates_calls.load(Ordering::SeqCst)
    }

    /// While `true`, every request is answered 502 Bad Gateway (long polls in progress
    /// end with it too), as when Telegram is unreachable behind a proxy.
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
        self.inner.changed.notify_waiters();
    }

    /// The next `n` `getUpdates` calls fail with 409 Conflict (another poller).
    pub fn force_409(&self, n: u64) {
        self.inner.conflicts.store(n, Ordering::SeqCst);
        self.inner.changed.notify_waiters();
    }

    /// The next `n` `sendMessage` calls fail with 500 while everything else works, as when
    /// Telegram cannot deliver to a chat.
    pub fn fail_sends(&self, n: u64) {
        self.inner.failing_sends.store(n, Ordering::SeqCst);
    }

    /// The next request of any method fails with 429 and `parameters.retry_after`.
    pub fn force_429(&self, retry_after: u64) {
        *lock(&self.inner.rate_limit) = Some(retry_after);
        self.inner.changed.notify_waiters();
    }

    /// The webhook URL currently set, if any.
    pub fn webhook_url(&self) -> Option<String> {
        lock(&self.inner.webhook).as_ref().map(|w| w.url.clone())
    }

    /// Every `setWebhook` (`"setWebhook <url>"`) and `deleteWebhook` call, in order.
    pub fn webhook_calls(&self) -> Vec<String> {
        lock(&self.inner.webhook_calls).clone()
    }

    /// Updates the webhook accepted (answered 2xx), oldest first.
    pub fn webhook_deliveries(&self) -> Vec<Value> {
        lock(&self.inner.delivered).clone()
    }

    /// Sets a webhook as if another program had called `setWebhook` (no secret).
    pub fn set_webhook_externally(&self, url: &str) {
        *lock(&self.inner.webhook) = Some(Webhook {
            url: url.to_owned(),
            secret: None,
        });
        self.inner.changed.notify_waiters();
    }

    /// Removes the webhook as if another program had called `deleteWebhook` (not counted
    /// in [`MockTelegram::webhook_calls`]).
    pub fn remove_webhook_externally(&self) {
        *lock(&self.inner.webhook) = None;
        self.inner.changed.notify_waiters();
    }

    /// Polls `check` every 20 ms until it holds or `within` passes; returns whether it held.
    pub async fn wait_for(&self, within: Duration, check: impl Fn(&MockTelegram) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if check(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until at least `n` messages were sent, or `within` passes; returns them.
    pub async fn wait_sent(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let sent = self.sent_messages();
            if sent.len() >= n || tokio::time::Instant::now() >= deadline {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({"ok": true, "result": result}).to_string(),
    )
        .into_response()
}

fn fail(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Merges query-string, JSON-body and form-body parameters (later wins).
fn params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut add_form = |text: &str| {
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            let value = serde_json::from_str::<Value>(&v).unwrap_or(Value::String(v));
            out.insert(percent_decode(k), value);
        }
    };
    if let Some(q) = query {
        add_form(q);
    }
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.contains("json") {
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) {
            out.extend(m);
        }
    } else if ctype.contains("x-www-form-urlencoded") {
        add_form(&String::from_utf8_lossy(body));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn as_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    Path((bot, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if inner.down.load(Ordering::SeqCst) {
        return fail(502, "Bad Gateway", None);
    }
    if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
        return fail(401, "Unauthorized", None);
    }
    if method == "getUpdates" {
        inner.get_updates_calls.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(after) = lock(&inner.rate_limit).take() {
        return fail(
            429,
            &format!("Too Many Requests: retry after {after}"),
            Some(json!({"retry_after": after})),
        );
    }
    let p = params(query.as_deref(), &headers, &body);
    match method.as_str() {
        "getMe" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "OpenClaw Test",
            "username": BOT_USERNAME, "can_join_groups": true,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
        })),
        "getUpdates" => get_updates(&inner, &p).await,
        "sendMessage" => {
            if inner
                .failing_sends
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return fail(500, "Internal Server Error: cannot deliver", None);
            }
            let Some(chat) = p.get("chat_id").cloned() else {
                return fail(400, "Bad Request: chat_id is empty", None);
            };
            let text = p.get("text").and_then(Value::as_str).unwrap_or("");
            if text.is_empty() {
                return fail(400, "Bad Request: message text is empty", None);
            }
            if text.chars().count() > MAX_TEXT_CHARS {
                return fail(400, "Bad Request: message is too long", None);
            }
            lock(&inner.sent).push(Value::Object(p.clone()));
            let mid = inner.next_message_id.fetch_add(1, Ordering::SeqCst);
            ok(json!({
                "message_id": mid, "date": now_secs(),
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "OpenClaw Test", "username": BOT_USERNAME},
                "chat": {"id": chat}, "text": text,
            }))
        }
        "setWebhook" => {
            let url = p
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if url.is_empty() {
                // Telegram treats an empty URL as "remove the webhook".
                *lock(&inner.webhook) = None;
                lock(&inner.webhook_calls).push("deleteWebhook".to_owned());
                return ok(json!(true));
            }
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return fail(
                    400,
                    "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
                    None,
                );
            }
            let secret = p
                .get("secret_token")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if secret.as_deref().is_some_and(|s| {
                s.is_empty()
                    || s.len() > 256
                    || !s
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            }) {
                return fail(
                    400,
                    "Bad Request: secret token contains unallowed characters",
                    None,
                );
            }
            lock(&inner.webhook_calls).push(format!("setWebhook {url}"));
            *lock(&inner.webhook) = Some(Webhook { url, secret });
            *lock(&inner.last_webhook_error) = None;
            inner.changed.notify_waiters();
            ok(json!(true))
        }
        "deleteWebhook" => {
            lock(&inner.webhook_calls).push("deleteWebhook".to_owned());
            *lock(&inner.webhook) = None;
            if p.get("drop_pending_updates") == Some(&json!(true)) {
                lock(&inner.updates).clear();
            }
            inner.changed.notify_waiters();
            ok(json!(true))
        }
        "getWebhookInfo" => {
            let hook = lock(&inner.webhook).clone();
            let pending = lock(&inner.updates).len();
            let mut info = json!({
                "url": hook.as_ref().map_or("", |h| h.url.as_str()),
                "has_custom_certificate": false,
                "pending_update_count": pending,
            });
            if hook.is_some() {
                info["max_connections"] = json!(1);
                if let Some((at, msg)) = lock(&inner.last_webhook_error).clone() {
                    info["last_error_date"] = json!(at);
                    info["last_error_message"] = json!(msg);
                }
            }
            ok(info)
        }
        "sendChatAction" => {
            if p.get("chat_id").is_none() {
                return fail(400, "Bad Request: chat_id is empty", None);
            }
            lock(&inner.actions).push(Value::Object(p));
            ok(json!(true))
        }
        _ => fail(404, "Not Found", None),
    }
}

async fn get_updates(inner: &Arc<Inner>, p: &Map<String, Value>) -> Response {
    if lock(&inner.webhook).is_some() {
        return fail(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            None,
        );
    }
    if inner
        .conflicts
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return fail(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            None,
        );
    }
    let offset = as_i64(p.get("offset"));
    let timeout = as_i64(p.get("timeout")).unwrap_or(0).clamp(0, 50) as u64;
    let limit = as_i64(p.get("limit")).unwrap_or(100).clamp(1, 100) as usize;
    if let Some(off) = offset {
        let mut q = lock(&inner.updates);
        while q
            .front()
            .and_then(|u| u["update_id"].as_i64())
            .is_some_and(|id| id < off)
        {
            q.pop_front();
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = inner.changed.notified();
        if inner.down.load(Ordering::SeqCst) {
            return fail(502, "Bad Gateway", None);
        }
        let batch: Vec<Value> = lock(&inner.updates)
            .iter()
            .filter(|u| offset.is_none_or(|off| u["update_id"].as_i64().unwrap_or(0) >= off))
            .take(limit)
            .cloned()
            .collect();
        if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
            return ok(Value::Array(batch));
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

/// While a webhook is set, POSTs the oldest queued update to it; drops the update when
/// the webhook answers 2xx, else records the failure and retries after a pause, as
/// Telegram does.
async fn deliver_webhooks(inner: Arc<Inner>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    loop {
        let notified = inner.changed.notified();
        let hook = lock(&inner.webhook).clone();
        let next = lock(&inner.updates).front().cloned();
        let (Some(hook), Some(update)) = (hook, next) else {
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
            continue;
        };
        let mut req = client.post(&hook.url).json(&update);
        if let Some(s) = &hook.secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        let outcome = match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!(
                "Wrong response from the webhook: {} {}",
                r.status().as_u16(),
                r.status().canonical_reason().unwrap_or("")
            )),
            Err(e) if e.is_connect() => Err("Connection refused".to_owned()),
            Err(e) => Err(format!("Failed to deliver: {}", e.without_url())),
        };
        match outcome {
            Ok(()) => {
                let id = update["update_id"].as_i64();
                let mut q = lock(&inner.updates);
                if q.front().and_then(|u| u["update_id"].as_i64()) == id {
                    q.pop_front();
                }
                drop(q);
                lock(&inner.delivered).push(update);
            }
            Err(msg) => {
                *lock(&inner.last_webhook_error) = Some((now_secs(), msg));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn offsets_confirm_updates_and_long_poll_wakes() {
        let tg = spawn("1:abc").await.unwrap();
        let c = reqwest::Client::new();
        let url = |m: &str| format!("{}/bot1:abc/{m}", tg.api_root());
        let me: Value = c
            .get(url("getMe"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["result"]["username"], BOT_USERNAME);
        let id = tg.push_dm(5, "hi");
        let r: Value = c
            .post(url("getUpdates"))
            .json(&json!({"timeout": 0}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["result"][0]["update_id"], id);
        let poll = {
            let c = c.clone();
            let u = url("getUpdates");
            tokio::spawn(async move {
                c.post(u)
                    .json(&json!({"timeout": 5, "offset": id + 1}))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let id2 = tg.push_dm(5, "again");
        let r = poll.await.unwrap();
        assert_eq!(r["result"].as_array().unwrap().len(), 1);
        assert_eq!(r["result"][0]["update_id"], id2);
        assert_eq!(tg.pending_updates(), 1);
        tg.force_429(3);
        let r = c.post(url("getMe")).send().await.unwrap();
        assert_eq!(r.status(), 429);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["parameters"]["retry_after"], 3);
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        let r = c
            .post(url("sendMessage"))
            .json(&json!({"chat_id": 5, "text": long}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(tg.sent_messages().is_empty());
    }
}
