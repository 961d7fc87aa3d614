//! More Telegram, end to end: several bot accounts at once, and the group, mention and
//! direct-message rules. The real gateway binary, the stand-in Bot API server(s) and the
//! stand-in model provider.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_mock_telegram::{BOT_ID, BOT_USERNAME, MockTelegram};
use serde_json::{Value, json};

const TOKEN: &str = "channels-more-token-123456";
const BOT_A: &str = "111111:ALPHA-bot-token";
const BOT_B: &str = "222222:BETA-bot-token";
const FRIEND: i64 = 42;
const STRANGER: i64 = 7;
const GROUP: i64 = -100_555;

async fn provider() -> MockServer {
    openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap()
}

/// A gateway with provider `mock`, agents `main` (default) and `other`, and `telegram` as
/// the `channels.telegram` section.
fn gateway(provider: &MockServer, telegram: &str) -> Gateway {
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/m1" }},
                    list: [{{ id: "main", default: true }}, {{ id: "other" }}] }},
          channels: {{ telegram: {telegram} }},
        }}"#,
        provider.openai_base_url()
    );
    start(
        Spec::default()
            .config(&cfg)
            .env("OPENCLAW_CHANNEL_BACKOFF_MS", "50"),
    )
}

async fn rpc(gw: &Gateway, method: &str, params: Value) -> Value {
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let res = call(&mut ws, "r1", method, params).await;
    assert_eq!(res["ok"], true, "{method}: {res}");
    res["payload"].clone()
}

async fn accounts(gw: &Gateway) -> Value {
    rpc(gw, "channels.status", json!({})).await["channels"]["telegram"]["accounts"].clone()
}

/// Polls `channels.status` until every named account is connected.
async fn wait_connected(gw: &Gateway, ids: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let a = accounts(gw).await;
        if ids.iter().all(|id| a[*id]["connected"] == true) {
            return a;
        }
        assert!(Instant::now() < deadline, "accounts never connected: {a}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn texts_to(sent: &[Value], chat: i64) -> Vec<String> {
    sent.iter()
        .filter(|m| m["chat_id"] == chat)
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Polls until `chat` has received `n` messages (or 20 s pass); returns everything sent.
async fn wait_sent_to(tg: &MockTelegram, chat: i64, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sent = tg.sent_messages();
        if texts_to(&sent, chat).len() >= n || Instant::now() > deadline {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn history(gw: &Gateway, key: &str) -> Vec<Value> {
    rpc(gw, "chat.history", json!({"sessionKey": key})).await["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

// The CLI runs as a blocking child process; the stand-in servers need other threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_each_answer_their_own_chats() {
    let p = provider().await;
    let tg_a = openclaw_mock_telegram::spawn(BOT_A).await.unwrap();
    let tg_b = openclaw_mock_telegram::spawn(BOT_B).await.unwrap();
    let gw = gateway(
        &p,
        &format!(
            r#"{{ pollTimeoutSeconds: 1, accounts: {{
                 alpha: {{ botToken: "{BOT_A}", apiRoot: "{}", allowFrom: [{FRIEND}], name: "Alpha bot" }},
                 beta:  {{ botToken: "{BOT_B}", apiRoot: "{}", allowFrom: [43], agentId: "other" }} }} }}"#,
            tg_a.api_root(),
            tg_b.api_root()
        ),
    );
    let st = wait_connected(&gw, &["alpha", "beta"]).await;
    assert!(
        st.get("default").is_none(),
        "no top-level token, no default: {st}"
    );

    // 43 is beta's friend, not alpha's: alpha ignores it.
    tg_a.push_dm(43, "alpha, do you know me?");
    tg_a.push_dm(FRIEND, "hello alpha");
    tg_b.push_dm(43, "hello beta");
    let sent_a = wait_sent_to(&tg_a, FRIEND, 1).await;
    let sent_b = wait_sent_to(&tg_b, 43, 1).await;
    assert_eq!(texts_to(&sent_a, FRIEND), ["echo: hello alpha"]);
    assert_eq!(texts_to(&sent_b, 43), ["echo: hello beta"]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(tg_a.sent_messages().len(), 1, "{:?}", tg_a.sent_messages());
    assert_eq!(tg_b.sent_messages().len(), 1, "{:?}", tg_b.sent_messages());

    // Each conversation belongs to its account's agent.
    let a = history(&gw, &format!("agent:main:telegram:{FRIEND}")).await;
    assert_eq!(a.last().unwrap()["content"], "echo: hello alpha", "{a:?}");
    let b = history(&gw, "agent:other:telegram:43").await;
    assert_eq!(b.last().unwrap()["content"], "echo: hello beta", "{b:?}");

    // Status shows both, each with its own traffic.
    let st = accounts(&gw).await;
    for id in ["alpha", "beta"] {
        assert_eq!(st[id]["connected"], true, "{st}");
        assert!(st[id]["lastInboundAt"].is_u64(), "{id}: {st}");
        assert!(st[id]["lastOutboundAt"].is_u64(), "{id}: {st}");
    }
    let url = gw.url();
    let out = gw.cli(&["channels", "status", "--url", &url, "--token", TOKEN]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("telegram alpha"), "{}", out.stdout);
    assert!(out.stdout.contains("telegram beta"), "{}", out.stdout);
    let out = gw.cli(&[
        "channels", "status", "--json", "--url", &url, "--token", TOKEN,
    ]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["account"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha", "beta"], "{v}");
    assert_eq!(v[0]["name"], "telegram:alpha", "{v}");
    assert!(v[0]["latency_ms"].is_null(), "no probe, no latency: {v}");
    assert!(!gw.output().contains(BOT_A) && !gw.output().contains(BOT_B));

    // Sending picks the account.
    let sent = rpc(
        &gw,
        "send",
        json!({"channel": "telegram", "accountId": "beta", "to": "43", "message": "from beta",
               "idempotencyKey": "two-bots-1"}),
    )
    .await;
    assert!(sent.is_object(), "{sent}");
    let sent_b = wait_sent_to(&tg_b, 43, 2).await;
    assert_eq!(texts_to(&sent_b, 43), ["echo: hello beta", "from beta"]);
    assert_eq!(tg_a.sent_messages().len(), 1);
}

/// A group message from `from` in [`GROUP`] that replies to a message of the bot.
fn reply_to_bot(tg: &MockTelegram, from: i64, text: &str) {
    tg.push_update(json!({"message": {
        "message_id": 90_001, "date": 1_700_000_000,
        "from": {"id": from, "is_bot": false, "first_name": "friend"},
        "chat": {"id": GROUP, "type": "supergroup", "title": "group"},
        "text": text,
        "reply_to_message": {
            "message_id": 90_000, "date": 1_699_999_999,
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "OpenClaw Test", "username": BOT_USERNAME},
            "chat": {"id": GROUP, "type": "supergroup", "title": "group"},
            "text": "an earlier answer"
        }
    }}));
}

#[tokio::test]
async fn group_messages_need_a_mention_or_reply_and_strangers_are_refused() {
    let p = provider().await;
    let tg = openclaw_mock_telegram::spawn(BOT_A).await.unwrap();
    let gw = gateway(
        &p,
        &format!(
            r#"{{ botToken: "{BOT_A}", apiRoot: "{}", pollTimeoutSeconds: 1, allowFrom: [{FRIEND}] }}"#,
            tg.api_root()
        ),
    );
    wait_connected(&gw, &["default"]).await;
    // Ignored: no mention; a stranger mentioning the bot; a stranger's DM; a message that
    // only mentions someone else.
    tg.push_group(GROUP, FRIEND, "hello everyone");
    tg.push_group(GROUP, STRANGER, &format!("@{BOT_USERNAME} let me in"));
    tg.push_dm(STRANGER, "let me in");
    tg.push_group(GROUP, FRIEND, "@someone_else look");
    // Answered: a mention (stripped from the text the agent sees), a reply to the bot, and
    // the friend's DM.
    tg.push_group(GROUP, FRIEND, &format!("@{BOT_USERNAME} what time is it"));
    reply_to_bot(&tg, FRIEND, "and tomorrow");
    tg.push_dm(FRIEND, "private hello");
    tg.wait_sent(3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let all = tg.sent_messages();
    assert_eq!(all.len(), 3, "only three messages qualify: {all:?}");
    let mut group = texts_to(&all, GROUP);
    group.sort();
    assert_eq!(group, ["echo: and tomorrow", "echo: what time is it"]);
    assert_eq!(texts_to(&all, FRIEND), ["echo: private hello"]);
    assert!(texts_to(&all, STRANGER).is_empty());
    // The group conversation is one session; ignored messages are not in it.
    let hist = history(&gw, &format!("agent:main:telegram:{GROUP}")).await;
    let users: Vec<&str> = hist
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(users.len(), 2, "{hist:?}");
    assert!(users.contains(&"what time is it"), "{hist:?}");
    assert!(users.contains(&"and tomorrow"), "{hist:?}");
    let stranger = history(&gw, &format!("agent:main:telegram:{STRANGER}")).await;
    assert!(stranger.is_empty(), "{stranger:?}");
    assert_eq!(
        tg.pending_updates(),
        0,
        "ignored updates are still confirmed"
    );
}

#[tokio::test]
async fn open_policies_and_no_mention_answer_what_the_defaults_refuse() {
    let p = provider().await;
    let tg = openclaw_mock_telegram::spawn(BOT_A).await.unwrap();
    let gw = gateway(
        &p,
        &format!(
            r#"{{ botToken: "{BOT_A}", apiRoot: "{}", pollTimeoutSeconds: 1,
                 dmPolicy: "open", groupPolicy: "open", requireMention: false }}"#,
            tg.api_root()
        ),
    );
    wait_connected(&gw, &["default"]).await;
    tg.push_dm(STRANGER, "anyone home");
    tg.push_group(GROUP, STRANGER, "hello everyone");
    let sent = tg.wait_sent(2, Duration::from_secs(20)).await;
    assert_eq!(texts_to(&sent, STRANGER), ["echo: anyone home"]);
    assert_eq!(texts_to(&sent, GROUP), ["echo: hello everyone"]);

    // dmPolicy "disabled" refuses even a listed sender; groups still work.
    let tg2 = openclaw_mock_telegram::spawn(BOT_B).await.unwrap();
    let gw2 = gateway(
        &p,
        &format!(
            r#"{{ botToken: "{BOT_B}", apiRoot: "{}", pollTimeoutSeconds: 1,
                 dmPolicy: "disabled", allowFrom: [{FRIEND}] }}"#,
            tg2.api_root()
        ),
    );
    wait_connected(&gw2, &["default"]).await;
    tg2.push_dm(FRIEND, "dm me");
    tg2.push_group(GROUP, FRIEND, &format!("@{BOT_USERNAME} in the group"));
    let sent = wait_sent_to(&tg2, GROUP, 1).await;
    assert_eq!(texts_to(&sent, GROUP), ["echo: in the group"]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        texts_to(&tg2.sent_messages(), FRIEND).is_empty(),
        "{:?}",
        tg2.sent_messages()
    );
}
