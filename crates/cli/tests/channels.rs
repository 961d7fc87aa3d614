//! Telegram channel, `send`, and hooks, end to end: the real gateway binary, the stand-in
//! Bot API server and the stand-in model provider.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_mock_telegram::MockTelegram;
use serde_json::{Value, json};

const TOKEN: &str = "channels-test-token-123456";
const BOT: &str = "123456:TEST-bot-token";
const HOOK: &str = "hook-secret-abcdef";
const ALLOWED: i64 = 42;

fn config(provider: &MockServer, tg: &MockTelegram) -> String {
    format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/m1" }} }},
          channels: {{ telegram: {{ botToken: "{BOT}", apiRoot: "{}", allowFrom: [{ALLOWED}],
                                   pollTimeoutSeconds: 1, required: true }} }},
          hooks: {{ enabled: true, token: "{HOOK}" }},
        }}"#,
        provider.openai_base_url(),
        tg.api_root()
    )
}

struct Setup {
    gw: Gateway,
    tg: MockTelegram,
    _provider: MockServer,
}

async fn setup(opts: MockOptions) -> Setup {
    let provider = openclaw_mock_provider::spawn(opts).await.unwrap();
    let tg = openclaw_mock_telegram::spawn(BOT).await.unwrap();
    let gw = start(
        Spec::default()
            .config(&config(&provider, &tg))
            .env("OPENCLAW_CHANNEL_BACKOFF_MS", "50"),
    );
    Setup {
        gw,
        tg,
        _provider: provider,
    }
}

async fn rpc(gw: &Gateway, method: &str, params: Value) -> Value {
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let res = call(&mut ws, "r1", method, params).await;
    assert_eq!(res["ok"], true, "{method}: {res}");
    res["payload"].clone()
}

async fn account_status(gw: &Gateway) -> Value {
    rpc(gw, "channels.status", json!({})).await["channels"]["telegram"]["accounts"]["default"]
        .clone()
}

/// Polls `channels.status` until `pred` holds.
async fn wait_status(gw: &Gateway, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let s = account_status(gw).await;
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

#[tokio::test]
async fn allowed_dm_is_answered_and_strangers_are_ignored() {
    let s = setup(MockOptions::default()).await;
    wait_status(&s.gw, Duration::from_secs(10), |a| a["connected"] == true).await;
    s.tg.push_dm(7, "let me in");
    s.tg.push_dm(ALLOWED, "hello bot");
    let sent = s.tg.wait_sent(1, Duration::from_secs(15)).await;
    assert_eq!(texts_to(&sent, ALLOWED), vec!["echo: hello bot"]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sent = s.tg.sent_messages();
    assert_eq!(sent.len(), 1, "the stranger must get nothing: {sent:?}");
    assert!(
        s.tg.chat_actions()
            .iter()
            .any(|a| a["action"] == "typing" && a["chat_id"] == ALLOWED)
    );
    // Confirmed updates are gone from the server (the offset advanced past both).
    assert_eq!(s.tg.pending_updates(), 0);
    let st = account_status(&s.gw).await;
    assert!(
        st["lastInboundAt"].is_u64() && st["lastOutboundAt"].is_u64(),
        "{st}"
    );
    // The conversation is a session of the default agent.
    let hist = rpc(
        &s.gw,
        "chat.history",
        json!({"sessionKey": format!("agent:main:telegram:{ALLOWED}")}),
    )
    .await;
    let msgs = hist["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{hist}");
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(msgs[0]["channel"], "telegram");
    assert_eq!(msgs[1]["content"], "echo: hello bot");
    // Health and readiness show the connected account.
    let health = rpc(&s.gw, "health", json!({})).await;
    assert_eq!(
        health["channels"]["telegram"]["accounts"]["default"]["connected"],
        true
    );
    let (code, _, body) = http_get(s.gw.port, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    let probed = rpc(&s.gw, "channels.status", json!({"probe": true})).await;
    assert_eq!(
        probed["channels"]["telegram"]["accounts"]["default"]["probe"]["ok"], true,
        "{probed}"
    );
    assert_eq!(probed["channelOrder"], json!(["telegram"]));
    assert!(
        !s.gw.output().contains(BOT),
        "the bot token leaked into the log"
    );
}

#[tokio::test]
async fn long_replies_are_split_at_4096_characters() {
    let long: String = (0..1500).map(|i| format!("word{i} ")).collect();
    let s = setup(MockOptions {
        reply: Some(long.clone()),
        ..MockOptions::default()
    })
    .await;
    s.tg.push_dm(ALLOWED, "tell me a story");
    let sent = s.tg.wait_sent(3, Duration::from_secs(15)).await;
    let parts = texts_to(&sent, ALLOWED);
    assert!(parts.len() >= 3, "{} parts", parts.len());
    assert!(parts.iter().all(|p| p.chars().count() <= 4096));
    assert!(
        parts.join(" ").trim_end() == long.trim_end(),
        "the pieces do not add up to the reply"
    );
}

#[tokio::test]
async fn kill_9_loses_nothing_and_answers_nothing_twice() {
    let provider = openclaw_mock_provider::spawn(MockOptions {
        latency: Duration::from_millis(1500),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let tg = openclaw_mock_telegram::spawn(BOT).await.unwrap();
    let dir = TempDir::new("tg-kill");
    let spec = || {
        Spec::default()
            .config(&config(&provider, &tg))
            .state(dir.path())
            .env("OPENCLAW_CHANNEL_BACKOFF_MS", "50")
    };
    let mut gw = start(spec());
    tg.push_dm(ALLOWED, "first");
    // Wait until the turn is running (typing is shown), then kill the gateway hard.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tg.chat_actions().is_empty() {
        assert!(Instant::now() < deadline, "no turn started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5));
    // Messages sent while the gateway is down arrive after the restart.
    tg.push_dm(ALLOWED, "second");
    tg.push_dm(ALLOWED, "third");
    let gw = start(spec());
    let sent = tg.wait_sent(3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent_after = tg.sent_messages();
    assert_eq!(
        sent.len(),
        sent_after.len(),
        "late duplicates: {sent_after:?}"
    );
    let mut texts = texts_to(&sent_after, ALLOWED);
    texts.sort();
    assert_eq!(
        texts,
        vec!["echo: first", "echo: second", "echo: third"],
        "each update answered exactly once"
    );
    let hist = rpc(
        &gw,
        "chat.history",
        json!({"sessionKey": format!("agent:main:telegram:{ALLOWED}")}),
    )
    .await;
    let users: Vec<&str> = hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(users, vec!["first", "second", "third"], "{hist}");
}

#[tokio::test]
async fn outage_is_reported_and_recovered_while_the_gateway_stays_up() {
    let s = setup(MockOptions::default()).await;
    wait_status(&s.gw, Duration::from_secs(10), |a| a["connected"] == true).await;
    s.tg.set_down(true);
    let st = wait_status(&s.gw, Duration::from_secs(10), |a| {
        a["connected"] == false && a["lastError"].is_string()
    })
    .await;
    assert_eq!(st["running"], true, "{st}");
    let (code, _, _) = http_get(s.gw.port, "/healthz").await;
    assert_eq!(code, 200);
    let (code, _, body) = http_get(s.gw.port, "/readyz").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("channel:telegram:default"), "{body}");
    let models = rpc(&s.gw, "agents.list", json!({})).await;
    assert!(models["agents"].is_array(), "{models}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        account_status(&s.gw).await["reconnectAttempts"]
            .as_u64()
            .unwrap()
            >= 1
    );
    s.tg.set_down(false);
    let st = wait_status(&s.gw, Duration::from_secs(15), |a| a["connected"] == true).await;
    assert_eq!(st["reconnectAttempts"], 0, "{st}");
    let (code, _, _) = http_get(s.gw.port, "/readyz").await;
    assert_eq!(code, 200);
    s.tg.push_dm(ALLOWED, "are you back");
    let sent = s.tg.wait_sent(1, Duration::from_secs(15)).await;
    assert_eq!(texts_to(&sent, ALLOWED), vec!["echo: are you back"]);
    // A 409 (another poller) and a 429 are survived too.
    s.tg.force_409(1);
    s.tg.force_429(1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.tg.push_dm(ALLOWED, "still there");
    let sent = s.tg.wait_sent(2, Duration::from_secs(15)).await;
    assert_eq!(
        texts_to(&sent, ALLOWED),
        vec!["echo: are you back", "echo: still there"]
    );
}

// The CLI runs as a blocking child process; the stand-in servers need other threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_send_and_channels_cli() {
    let s = setup(MockOptions::default()).await;
    wait_status(&s.gw, Duration::from_secs(10), |a| a["connected"] == true).await;
    let url = s.gw.url();
    let out = s.gw.cli(&[
        "message",
        "send",
        "--channel",
        "telegram",
        "--to",
        "42",
        "--text",
        "hi from cli",
        "--url",
        &url,
        "--token",
        TOKEN,
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let sent = s.tg.wait_sent(1, Duration::from_secs(5)).await;
    assert_eq!(texts_to(&sent, 42), vec!["hi from cli"]);
    // The same idempotency key twice sends once.
    let p = json!({"to": "42", "message": "once", "channel": "telegram", "idempotencyKey": "k-1"});
    rpc(&s.gw, "send", p.clone()).await;
    let again = rpc(&s.gw, "send", p).await;
    assert_eq!(again["duplicate"], true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        texts_to(&s.tg.sent_messages(), 42),
        vec!["hi from cli", "once"]
    );

    let out = s.gw.cli(&[
        "channels", "status", "--probe", "--json", "--url", &url, "--token", TOKEN,
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["name"], "telegram", "{v}");
    assert_eq!(v[0]["status"], "connected", "{v}");
    assert_eq!(v[0]["connected"], true, "{v}");
    assert!(v[0]["latency_ms"].is_u64(), "{v}");
    let out =
        s.gw.cli(&["channels", "status", "--url", &url, "--token", TOKEN]);
    assert!(out.stdout.contains("telegram default"), "{}", out.stdout);

    let out = s.gw.cli(&[
        "channels", "disable", "telegram", "--url", &url, "--token", TOKEN,
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    wait_status(&s.gw, Duration::from_secs(10), |a| {
        a["enabled"] == false && a["running"] == false
    })
    .await;
    let out = s.gw.cli(&[
        "channels", "enable", "telegram", "--url", &url, "--token", TOKEN,
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    wait_status(&s.gw, Duration::from_secs(10), |a| a["connected"] == true).await;
}

#[tokio::test]
async fn hooks_need_the_hook_token_in_a_header() {
    let s = setup(MockOptions::default()).await;
    let c = reqwest::Client::new();
    let url = s.gw.http("/hooks/agent");
    let body = json!({"message": "from a hook"});
    let r = c
        .post(&url)
        .bearer_auth(HOOK)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["runId"].is_string(), "{v}");
    let r = c
        .post(&url)
        .header("x-openclaw-token", HOOK)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(&url)
        .bearer_auth("wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(format!("{url}?token={HOOK}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(&url)
        .bearer_auth(HOOK)
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(s.gw.http("/hooks/agent"))
        .bearer_auth(HOOK)
        .json(&json!({"message": "x", "agentId": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(s.gw.http("/hooks/wake"))
        .bearer_auth(HOOK)
        .json(&json!({"text": "new mail"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let run: Value = r.json().await.unwrap();
    let done = rpc(
        &s.gw,
        "agent.wait",
        json!({"runId": run["runId"], "timeoutMs": 10000}),
    )
    .await;
    assert_eq!(done["status"], "ok", "{done}");
    let hist = rpc(
        &s.gw,
        "chat.history",
        json!({"sessionKey": "agent:main:main"}),
    )
    .await;
    assert!(hist.to_string().contains("new mail"), "{hist}");
}

#[tokio::test]
async fn a_reply_that_cannot_be_sent_is_retried_then_recorded() {
    let s = setup(MockOptions::default()).await;
    wait_status(&s.gw, Duration::from_secs(10), |a| a["connected"] == true).await;
    // One failure is retried away.
    s.tg.fail_sends(1);
    s.tg.push_dm(ALLOWED, "first try");
    let sent = s.tg.wait_sent(1, Duration::from_secs(15)).await;
    assert_eq!(texts_to(&sent, ALLOWED), vec!["echo: first try"]);
    // Every attempt fails: the failure lands in the transcript and in lastError.
    s.tg.fail_sends(100);
    s.tg.push_dm(ALLOWED, "never delivered");
    let st = wait_status(&s.gw, Duration::from_secs(20), |a| {
        a["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("cannot deliver") || e.contains("500"))
    })
    .await;
    assert!(st["lastError"].is_string(), "{st}");
    let hist = rpc(
        &s.gw,
        "chat.history",
        json!({"sessionKey": format!("agent:main:telegram:{ALLOWED}")}),
    )
    .await;
    let msgs = hist["messages"].as_array().unwrap();
    assert!(
        msgs.iter().any(|m| m["error"].is_string()),
        "no failed delivery recorded: {hist}"
    );
    assert_eq!(texts_to(&s.tg.sent_messages(), ALLOWED).len(), 1);
}
