//! Telegram webhook mode end to end: the real gateway binary, the stand-in Bot API (which
//! delivers to the webhook the way Telegram does) and the stand-in model provider.
//! Switching modes by hot reload, the secret check, record-before-200, the probe's
//! webhook state, a foreign webhook removed by a polling account, and a kill -9 between
//! the 200 and the reply.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_mock_telegram::MockTelegram;
use serde_json::{Value, json};

const TOKEN: &str = "webhook-test-token-123456";
const BOT: &str = "123456:TEST-webhook-bot";
const SECRET: &str = "tg-webhook-secret_0123456789";
const ALLOWED: i64 = 42;
const PATH: &str = "/webhook/telegram";

/// The config; `webhook` is `Some(port)` for webhook mode on that gateway port, which
/// `pin` also writes as `gateway.port` (for a restart without `--port 0`).
fn config(provider: &MockServer, tg: &MockTelegram, webhook: Option<u16>, pin: bool) -> String {
    let (port, hook) = match webhook {
        Some(p) => (
            if pin {
                format!("port: {p},")
            } else {
                String::new()
            },
            format!(r#"webhookUrl: "http://127.0.0.1:{p}{PATH}", webhookSecret: "{SECRET}","#),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        r#"{{
          gateway: {{ mode: "local", {port} auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/m1" }} }},
          channels: {{ telegram: {{ botToken: "{BOT}", apiRoot: "{}", allowFrom: [{ALLOWED}],
                                   pollTimeoutSeconds: 1, {hook} }} }},
        }}"#,
        provider.openai_base_url(),
        tg.api_root()
    )
}

/// Replaces the config the way editors do (the gateway hot-reloads it).
fn edit(state: &Path, text: &str) {
    let tmp = state.join(".openclaw.json.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, state.join("openclaw.json")).unwrap();
}

async fn rpc(gw: &Gateway, method: &str, params: Value) -> Value {
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let res = call(&mut ws, "r1", method, params).await;
    assert_eq!(res["ok"], true, "{method}: {res}");
    res["payload"].clone()
}

async fn account(gw: &Gateway, probe: bool) -> Value {
    rpc(gw, "channels.status", json!({"probe": probe})).await["channels"]["telegram"]["accounts"]
        ["default"]
        .clone()
}

async fn wait_account(gw: &Gateway, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let s = account(gw, false).await;
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "status never matched: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn texts_to(sent: &[Value], chat: i64) -> Vec<String> {
    sent.iter()
        .filter(|m| m["chat_id"] == chat)
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn post(port: u16, secret: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{PATH}"))
        .json(body);
    if let Some(s) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    req.send().await.unwrap()
}

/// Runs the CLI against `gw` off the test's runtime (which serves the stand-ins the
/// gateway's probes call).
async fn cli(gw: &Gateway, args: &[&str]) -> CliOut {
    let state = gw.state.clone();
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.extend(["--url".to_owned(), gw.url()]);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_in(&state, &args, &[])
    })
    .await
    .unwrap()
}

fn dm(update_id: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1,
        "from": {"id": ALLOWED, "is_bot": false, "first_name": "u"},
        "chat": {"id": ALLOWED, "type": "private"}, "text": text}})
}

async fn user_messages(gw: &Gateway) -> Vec<String> {
    let hist = rpc(
        gw,
        "chat.history",
        json!({"sessionKey": format!("agent:main:telegram:{ALLOWED}")}),
    )
    .await;
    hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn webhook_mode_by_hot_reload_and_back() {
    let provider = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let tg = openclaw_mock_telegram::spawn(BOT).await.unwrap();
    let gw = start(
        Spec::default()
            .config(&config(&provider, &tg, None, false))
            .env("OPENCLAW_CHANNEL_BACKOFF_MS", "50"),
    );
    let st = wait_account(&gw, Duration::from_secs(10), |a| a["connected"] == true).await;
    assert_eq!(st["mode"], "polling");
    let probe = account(&gw, true).await;
    assert_eq!(
        probe["probe"]["bot"]["webhook"]["state"], "not configured",
        "{probe}"
    );
    let out = cli(&gw, &["channels", "status", "--probe"]).await;
    assert!(
        out.stdout.contains("telegram default: connected (@openclaw_test_bot); probe ok; long polling (webhook not configured)"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = cli(&gw, &["doctor"]).await;
    assert!(
        out.stdout.contains(
            "✓ Channel: telegram (default) webhook: long polling (webhook not configured)"
        ),
        "{}{}",
        out.stdout,
        out.stderr
    );
    // Before webhook mode the path is nobody's.
    assert_eq!(post(gw.port, Some(SECRET), &dm(1, "x")).await.status(), 404);

    // Polling → webhook: setWebhook with our URL and secret.
    let url = format!("http://127.0.0.1:{}{PATH}", gw.port);
    edit(&gw.state, &config(&provider, &tg, Some(gw.port), false));
    assert!(
        tg.wait_for(Duration::from_secs(10), |t| t.webhook_url().as_deref()
            == Some(&url))
            .await,
        "setWebhook never called: {:?}",
        tg.webhook_calls()
    );
    let st = wait_account(&gw, Duration::from_secs(10), |a| {
        a["mode"] == "webhook" && a["connected"] == true
    })
    .await;
    assert!(st["lastError"].is_null(), "{st}");

    // Forged deliveries are refused: no secret (the seed's curl), a wrong one.
    let r = post(gw.port, None, &json!({"test": true})).await;
    assert_eq!(r.status(), 401);
    let r = post(gw.port, Some("wrong"), &dm(5, "forged")).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("x-openclaw-delivery-accepted").is_none());

    // Telegram's own delivery: recorded, acknowledged, answered.
    tg.push_dm(ALLOWED, "via webhook");
    let sent = tg.wait_sent(1, Duration::from_secs(15)).await;
    assert_eq!(texts_to(&sent, ALLOWED), vec!["echo: via webhook"]);
    assert_eq!(tg.webhook_deliveries().len(), 1);
    assert_eq!(tg.pending_updates(), 0, "the delivery was acknowledged");

    // A 200 means recorded: the transcript has the message when the answer arrives, and
    // the same update delivered again is not recorded (nor answered) twice.
    let r = post(gw.port, Some(SECRET), &dm(900_001, "direct")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-openclaw-delivery-accepted"], "durable");
    assert!(user_messages(&gw).await.contains(&"direct".to_owned()));
    let r = post(gw.port, Some(SECRET), &dm(900_001, "direct")).await;
    assert_eq!(r.status(), 200);
    tg.wait_sent(2, Duration::from_secs(15)).await;
    // A body that is not an update object is a 400, and nothing is recorded.
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}{PATH}", gw.port))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .header("content-type", "application/json")
        .body("[1,2]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The probe reports the webhook as Telegram sees it.
    let probe = account(&gw, true).await;
    let w = &probe["probe"]["bot"]["webhook"];
    assert_eq!(w["mode"], "webhook", "{probe}");
    assert_eq!(w["state"], "registered", "{probe}");
    assert_eq!(w["url"], url.as_str());
    assert_eq!(w["pendingUpdateCount"], 0);
    let out = cli(&gw, &["channels", "status", "--probe"]).await;
    assert!(
        out.stdout.contains(&format!(
            "; probe ok; webhook registered ({url}, 0 pending)"
        )),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = cli(&gw, &["doctor"]).await;
    assert!(
        out.stdout.contains(&format!(
            "✓ Channel: telegram (default) webhook: registered at {url} (0 pending)"
        )),
        "{}{}",
        out.stdout,
        out.stderr
    );

    // Removed behind the account's back: doctor says so, with the fix.
    tg.remove_webhook_externally();
    let out = cli(&gw, &["doctor"]).await;
    assert!(
        out.stdout.contains(&format!(
            "✗ Channel: telegram (default) webhook: webhook not configured at Telegram for {url}"
        )),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout
            .contains("fix: restart the account so it calls setWebhook again"),
        "{}",
        out.stdout
    );

    // Webhook → polling: deleteWebhook, then getUpdates works again.
    edit(&gw.state, &config(&provider, &tg, None, false));
    assert!(
        tg.wait_for(Duration::from_secs(10), |t| {
            t.webhook_calls().last().map(String::as_str) == Some("deleteWebhook")
        })
        .await,
        "deleteWebhook never called: {:?}",
        tg.webhook_calls()
    );
    wait_account(&gw, Duration::from_secs(10), |a| {
        a["mode"] == "polling" && a["connected"] == true
    })
    .await;
    // (Update ids only grow: the next one follows the direct deliveries'.)
    tg.push_update(dm(900_010, "polled again"));
    let sent = tg.wait_sent(3, Duration::from_secs(15)).await;
    assert_eq!(
        texts_to(&sent, ALLOWED),
        vec!["echo: via webhook", "echo: direct", "echo: polled again"]
    );
    assert_eq!(
        post(gw.port, Some(SECRET), &dm(2, "late")).await.status(),
        404
    );
    let users = user_messages(&gw).await;
    assert_eq!(users, vec!["via webhook", "direct", "polled again"]);
}

#[tokio::test]
async fn a_polling_account_removes_a_foreign_webhook() {
    let provider = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let tg = openclaw_mock_telegram::spawn(BOT).await.unwrap();
    tg.set_webhook_externally("https://old.example.com/hook");
    tg.push_dm(ALLOWED, "queued while a webhook was set");
    let gw = start(
        Spec::default()
            .config(&config(&provider, &tg, None, false))
            .env("OPENCLAW_CHANNEL_BACKOFF_MS", "50"),
    );
    let sent = tg.wait_sent(1, Duration::from_secs(15)).await;
    assert_eq!(
        texts_to(&sent, ALLOWED),
        vec!["echo: queued while a webhook was set"]
    );
    assert_eq!(tg.webhook_calls(), vec!["deleteWebhook"]);
    let st = account(&gw, false).await;
    assert_eq!(st["connected"], true, "{st}");
    assert!(
        gw.output()
            .contains("webhook is set but this account polls"),
        "{}",
        gw.output()
    );
}

#[tokio::test]
async fn an_acknowledged_delivery_survives_kill_9() {
    let provider = openclaw_mock_provider::spawn(MockOptions {
        latency: Duration::from_millis(1500),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let tg = openclaw_mock_telegram::spawn(BOT).await.unwrap();
    let dir = TempDir::new("tg-webhook-kill");
    let gw = start(
        Spec::default()
            .config(&config(&provider, &tg, None, false))
            .state(dir.path())
            .env("OPENCLAW_CHANNEL_BACKOFF_MS", "50"),
    );
    let port = gw.port;
    // Webhook mode on this port, written into the config so the restart keeps it.
    edit(dir.path(), &config(&provider, &tg, Some(port), true));
    assert!(
        tg.wait_for(Duration::from_secs(10), |t| t.webhook_url().is_some())
            .await
    );
    wait_account(&gw, Duration::from_secs(10), |a| {
        a["mode"] == "webhook" && a["connected"] == true
    })
    .await;
    let t0 = Instant::now();
    let r = post(port, Some(SECRET), &dm(700_001, "survive this")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-openclaw-delivery-accepted"], "durable");
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "the 200 waited for the model ({:?})",
        t0.elapsed()
    );
    // Killed while the model is still working on it (nothing sent yet).
    let mut gw = gw;
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5));
    assert!(tg.sent_messages().is_empty());
    let mut spec = Spec::default()
        .state(dir.path())
        .env("OPENCLAW_CHANNEL_BACKOFF_MS", "50");
    spec.port_zero = false;
    let gw = start(spec);
    assert_eq!(gw.port, port);
    let sent = tg.wait_sent(1, Duration::from_secs(20)).await;
    assert_eq!(texts_to(&sent, ALLOWED), vec!["echo: survive this"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(tg.sent_messages().len(), 1, "answered exactly once");
    assert_eq!(user_messages(&gw).await, vec!["survive this"]);
}
