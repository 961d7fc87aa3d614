//! What a config edit actually changes, observed from outside: after the file is edited
//! (no reconnect, no process restart) the next model answer, tool call, log line and
//! failed login behave by the new config; and `gateway.reload.mode` `off`, `hot` and
//! `restart` each do what `crates/gateway/src/reload.rs` says.
//!
//! `reload.rs` swaps the new config in *before* it broadcasts `config.changed`, so once an
//! admin client has that event the very next request must see the new config: the tests
//! wait for the event, then assert exactly, instead of polling for a change.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::{Value, json};

const TOKEN: &str = "reload-effects-token-0123";

/// Replaces the config the way editors do: write a temp file, rename it over.
fn edit(state: &Path, text: &str) {
    let tmp = state.join(".openclaw.json.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, state.join("openclaw.json")).unwrap();
}

/// `{ gateway: { mode, auth: { token, <auth_extra> } <gateway_extra> } <top_extra> }`
fn cfg(auth_extra: &str, gateway_extra: &str, top_extra: &str) -> String {
    format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" {auth_extra} }} {gateway_extra} }} {top_extra} }}"#
    )
}

async fn admin(url: &str) -> Ws {
    connect(url, TOKEN, Some(vec!["operator.admin"]), "test")
        .await
        .0
}

/// Waits for the next `config.changed` and returns its payload.
async fn changed(ws: &mut Ws) -> Value {
    next_event(ws, "config.changed").await["payload"].clone()
}

fn changed_paths(p: &Value) -> Vec<String> {
    p["changed"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn log_text(gw: &Gateway) -> String {
    std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap_or_default()
}

/// Polls the log file until `pred` holds for the text after `from`.
async fn wait_log(gw: &Gateway, from: usize, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = log_text(gw);
        let tail = text.get(from..).unwrap_or("").to_owned();
        if pred(&tail) {
            return tail;
        }
        assert!(Instant::now() < deadline, "{what} never logged:\n{tail}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

async fn models_status(http: &reqwest::Client, port: u16) -> u16 {
    http.get(format!("http://127.0.0.1:{port}/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

// ---- Model chain ----

fn model_cfg(a: &MockServer, b: &MockServer, model: &str) -> String {
    cfg(
        "",
        ", http: { endpoints: { chatCompletions: { enabled: true } } }",
        &format!(
            r#", models: {{ providers: {{
                   alpha: {{ baseUrl: "{}", api: "openai-completions" }},
                   beta: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
               agents: {{ defaults: {{ model: {model} }} }}"#,
            a.openai_base_url(),
            b.openai_base_url()
        ),
    )
}

/// One WS `agent` turn; returns the final `res` payload.
async fn agent_turn(ws: &mut Ws, id: &str, message: &str) -> Value {
    send(
        ws,
        &json!({"type":"req","id":id,"method":"agent","params":{"message":message,"idempotencyKey":format!("k-{id}")}}),
    )
    .await;
    let accepted = next_res(ws, id).await;
    assert_eq!(accepted["payload"]["status"], "accepted", "{accepted}");
    let fin = next_res(ws, id).await;
    assert_eq!(fin["payload"]["status"], "ok", "{fin}");
    fin["payload"].clone()
}

/// One `/v1/chat/completions` call on a kept-alive client; returns the reply text.
async fn chat_completion(http: &reqwest::Client, port: u16, text: &str) -> String {
    let r = http
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn served(m: &MockServer) -> u64 {
    m.stats.requests.load(Ordering::Relaxed)
}

fn last_model(m: &MockServer) -> String {
    m.requests().last().unwrap()["model"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_edited_model_chain_answers_the_next_request() {
    let a = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let b = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let gw = start(Spec::default().config(&model_cfg(&a, &b, r#""alpha/m-one""#)));
    let mut ws = admin(&gw.url()).await;
    let http = reqwest::Client::new();

    let fin = agent_turn(&mut ws, "a1", "first").await;
    assert_eq!(fin["result"]["meta"]["provider"], "alpha", "{fin}");
    assert_eq!(fin["result"]["meta"]["model"], "m-one", "{fin}");
    assert_eq!(chat_completion(&http, gw.port, "one").await, "echo: one");
    assert_eq!((served(&a), served(&b)), (2, 0));
    assert_eq!(last_model(&a), "m-one");

    // Switch the default agent to the other provider and model.
    edit(&gw.state, &model_cfg(&a, &b, r#""beta/m-two""#));
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "hot", "{ev}");
    assert!(
        changed_paths(&ev).iter().any(|p| p.starts_with("agents")),
        "{ev}"
    );
    let fin = agent_turn(&mut ws, "a2", "second").await;
    assert_eq!(fin["result"]["meta"]["provider"], "beta", "{fin}");
    assert_eq!(fin["result"]["meta"]["model"], "m-two", "{fin}");
    assert_eq!(chat_completion(&http, gw.port, "two").await, "echo: two");
    assert_eq!((served(&a), served(&b)), (2, 2), "alpha must not be asked");
    assert_eq!(last_model(&b), "m-two");

    // A chain: the new primary fails, so its new fallback answers.
    edit(
        &gw.state,
        &model_cfg(
            &a,
            &b,
            r#"{ primary: "alpha/mock-fail-500", fallbacks: ["beta/m-three"] }"#,
        ),
    );
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "hot", "{ev}");
    let fin = agent_turn(&mut ws, "a3", "third").await;
    assert_eq!(fin["result"]["meta"]["provider"], "beta", "{fin}");
    assert_eq!(fin["result"]["meta"]["model"], "m-three", "{fin}");
    assert_eq!(last_model(&a), "mock-fail-500");
    assert_eq!(last_model(&b), "m-three");
    assert_eq!(
        chat_completion(&http, gw.port, "three").await,
        "echo: three"
    );
    assert_eq!(last_model(&b), "m-three");
    // The admin socket lived through all of it.
    assert_eq!(call(&mut ws, "h", "health", json!({})).await["ok"], true);
}

// ---- Tool policy ----

async fn invoke(http: &reqwest::Client, gw: &Gateway, tool: &str) -> u16 {
    http.post(gw.http("/tools/invoke"))
        .bearer_auth(TOKEN)
        .json(&json!({"tool": tool}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_edited_tool_policy_changes_what_tools_invoke_accepts() {
    let gw = start(Spec::default().config(&cfg("", "", "")));
    let mut ws = admin(&gw.url()).await;
    let http = reqwest::Client::new();
    assert_eq!(invoke(&http, &gw, "agents_list").await, 200);
    assert_eq!(invoke(&http, &gw, "sessions_list").await, 200);

    edit(
        &gw.state,
        &cfg("", r#", tools: { deny: ["agents_list"] }"#, ""),
    );
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "hot", "{ev}");
    assert_eq!(changed_paths(&ev), ["gateway.tools.deny"], "{ev}");
    assert_eq!(invoke(&http, &gw, "agents_list").await, 404);
    assert_eq!(invoke(&http, &gw, "sessions_list").await, 200);

    edit(&gw.state, &cfg("", r#", tools: { deny: ["*"] }"#, ""));
    changed(&mut ws).await;
    assert_eq!(invoke(&http, &gw, "sessions_list").await, 404);
    assert_eq!(invoke(&http, &gw, "models_list").await, 404);

    // `allow` cannot override an explicit deny.
    edit(
        &gw.state,
        &cfg(
            "",
            r#", tools: { allow: ["sessions_list"], deny: ["*"] }"#,
            "",
        ),
    );
    changed(&mut ws).await;
    assert_eq!(invoke(&http, &gw, "sessions_list").await, 404);

    edit(&gw.state, &cfg("", "", ""));
    changed(&mut ws).await;
    assert_eq!(invoke(&http, &gw, "agents_list").await, 200);
    assert_eq!(invoke(&http, &gw, "sessions_list").await, 200);
}

// ---- Log level ----

/// Connects a fresh client; returns its connId (the handshake logs it at debug).
async fn fresh_conn_id(gw: &Gateway) -> String {
    let (_ws, hello) = connect(&gw.url(), TOKEN, None, "test").await;
    hello["server"]["connId"].as_str().unwrap().to_owned()
}

/// Writes a warn line (a failed login) to order the log: anything logged before it is in
/// the file once it is.
async fn warn_marker(gw: &Gateway) {
    let (mut ws, _) = open(&gw.url()).await;
    send(
        &mut ws,
        &connect_frame(json!({"token": "not-the-token"}), None, "test"),
    )
    .await;
    let r = next_res(&mut ws, "c1").await;
    assert_eq!(r["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");
}

fn debug_line_for(tail: &str, conn: &str) -> bool {
    tail.lines()
        .any(|l| l.contains("client connected") && l.contains(conn))
}

/// Asserts that connecting a client now does not log its debug line.
async fn assert_debug_absent(gw: &Gateway) {
    let from = log_text(gw).len();
    let conn = fresh_conn_id(gw).await;
    warn_marker(gw).await;
    let tail = wait_log(gw, from, "the warn marker", |t| {
        t.contains("authentication failed")
    })
    .await;
    assert!(
        !debug_line_for(&tail, &conn),
        "debug line written at info:\n{tail}"
    );
}

/// Asserts that connecting a client now logs its debug line.
async fn assert_debug_present(gw: &Gateway) {
    let from = log_text(gw).len();
    let conn = fresh_conn_id(gw).await;
    wait_log(gw, from, "the debug line", |t| debug_line_for(t, &conn)).await;
}

#[tokio::test]
async fn an_edited_log_level_changes_what_the_log_file_gets() {
    let level = |l: &str| cfg("", "", &format!(r#", logging: {{ level: "{l}" }}"#));
    let gw = start(Spec::default().config(&level("info")));
    let mut ws = admin(&gw.url()).await;
    assert_debug_absent(&gw).await;

    edit(&gw.state, &level("debug"));
    let ev = changed(&mut ws).await;
    assert_eq!(changed_paths(&ev), ["logging.level"], "{ev}");
    assert_eq!(ev["applied"], "hot", "{ev}");
    assert_debug_present(&gw).await;

    edit(&gw.state, &level("info"));
    changed(&mut ws).await;
    assert_debug_absent(&gw).await;
}

// ---- Auth rate limit ----

/// One failed login; returns the error's detail code.
async fn bad_login(gw: &Gateway) -> String {
    let (mut ws, _) = open(&gw.url()).await;
    send(
        &mut ws,
        &connect_frame(json!({"token": "wrong-token"}), None, "test"),
    )
    .await;
    let r = next_res(&mut ws, "c1").await;
    r["error"]["details"]["code"].as_str().unwrap().to_owned()
}

/// A login with the right token; returns `None` on success or the error's detail code.
async fn good_login(gw: &Gateway) -> Option<String> {
    let (mut ws, _) = open(&gw.url()).await;
    send(
        &mut ws,
        &connect_frame(json!({"token": TOKEN}), None, "test"),
    )
    .await;
    let r = next_res(&mut ws, "c1").await;
    if r["ok"] == true {
        None
    } else {
        Some(r["error"]["details"]["code"].as_str().unwrap().to_owned())
    }
}

#[tokio::test]
async fn an_edited_rate_limit_applies_to_new_failed_logins() {
    // Loopback is exempt by default, so failures are not even counted yet.
    let gw = start(Spec::default().config(&cfg("", "", "")));
    let mut ws = admin(&gw.url()).await;
    for _ in 0..4 {
        assert_eq!(bad_login(&gw).await, "AUTH_TOKEN_MISMATCH");
    }
    assert_eq!(good_login(&gw).await, None);

    // Count loopback, generously: three failures do not lock out.
    edit(
        &gw.state,
        &cfg(
            ", rateLimit: { maxAttempts: 50, exemptLoopback: false }",
            "",
            "",
        ),
    );
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "hot", "{ev}");
    for _ in 0..3 {
        assert_eq!(bad_login(&gw).await, "AUTH_TOKEN_MISMATCH");
    }
    // (This success clears the count.)
    assert_eq!(good_login(&gw).await, None);

    // Tighten it: the second failure now locks the address out, even for the right token.
    edit(
        &gw.state,
        &cfg(
            ", rateLimit: { maxAttempts: 2, exemptLoopback: false, lockoutMs: 600000 }",
            "",
            "",
        ),
    );
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "hot", "{ev}");
    assert_eq!(bad_login(&gw).await, "AUTH_TOKEN_MISMATCH");
    assert_eq!(bad_login(&gw).await, "AUTH_TOKEN_MISMATCH");
    assert_eq!(good_login(&gw).await.as_deref(), Some("AUTH_RATE_LIMITED"));
    let (mut probe, _) = open(&gw.url()).await;
    send(
        &mut probe,
        &connect_frame(json!({"token": TOKEN}), None, "test"),
    )
    .await;
    let r = next_res(&mut probe, "c1").await;
    let retry = r["error"]["retryAfterMs"].as_u64().unwrap();
    assert!(retry > 300_000, "the edited lockoutMs applies: {r}");
    // HTTP shares the limiter.
    let st = reqwest::Client::new()
        .post(gw.http("/tools/invoke"))
        .bearer_auth(TOKEN)
        .json(&json!({"tool": "agents_list"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 429);
    // The already-connected admin is untouched.
    assert_eq!(call(&mut ws, "h", "health", json!({})).await["ok"], true);
}

// ---- gateway.reload.mode ----

fn reload_cfg(mode: &str, port: Option<u16>, extra: &str) -> String {
    let port = port.map(|p| format!(", port: {p}")).unwrap_or_default();
    cfg(
        "",
        &format!(r#", reload: {{ mode: "{mode}", debounceMs: 50 }} {port} {extra}"#),
        "",
    )
}

const CHAT_ON: &str = ", http: { endpoints: { chatCompletions: { enabled: true } } }";

/// A gateway on a fixed port, so the CLI finds it through the config file.
fn fixed_port_gateway(text: &str) -> Gateway {
    let dir = TempDir::new("reload-mode");
    std::fs::write(dir.path().join("openclaw.json"), text).unwrap();
    start(Spec {
        port_zero: false,
        own_dir: Some(dir),
        ..Spec::default()
    })
}

#[tokio::test]
async fn mode_off_ignores_edits_but_an_explicit_reload_applies_them() {
    let port = free_port();
    let gw = fixed_port_gateway(&reload_cfg("off", Some(port), ""));
    let mut ws = admin(&gw.url()).await;
    let http = reqwest::Client::new();
    assert_eq!(models_status(&http, gw.port).await, 404);

    edit(&gw.state, &reload_cfg("off", Some(port), CHAT_ON));
    // Far past the 50 ms debounce: nothing was even attempted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        models_status(&http, gw.port).await,
        404,
        "off applied an edit"
    );
    let h = call(&mut ws, "h1", "health", json!({})).await;
    assert!(h["payload"]["reload"]["lastReloadAt"].is_null(), "{h}");

    // The CLI's `config reload` still applies it (over RPC, in place).
    let out = gw.cli(&["config", "reload", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["applied"], "hot", "{v}");
    assert_eq!(
        changed_paths(&v),
        ["gateway.http.endpoints.chatCompletions.enabled"]
    );
    assert_eq!(models_status(&http, gw.port).await, 200);
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "hot");

    // And so does the `config.reload` RPC; still no restart in `off` mode for a hot change.
    edit(&gw.state, &reload_cfg("off", Some(port), ""));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        models_status(&http, gw.port).await,
        200,
        "off applied an edit"
    );
    let r = call(&mut ws, "r", "config.reload", json!({})).await;
    assert_eq!(r["payload"]["applied"], "hot", "{r}");
    assert_eq!(models_status(&http, gw.port).await, 404);
    assert_eq!(call(&mut ws, "h2", "health", json!({})).await["ok"], true);
}

#[tokio::test]
async fn mode_hot_applies_hot_changes_and_only_logs_a_port_change() {
    let p1 = free_port();
    let p2 = free_port();
    let gw = fixed_port_gateway(&reload_cfg("hot", Some(p1), ""));
    assert_eq!(gw.port, p1);
    let mut ws = admin(&gw.url()).await;
    let http = reqwest::Client::new();
    assert_eq!(models_status(&http, p1).await, 404);

    edit(&gw.state, &reload_cfg("hot", Some(p2), CHAT_ON));
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "hot-pending-restart", "{ev}");
    let paths = changed_paths(&ev);
    assert!(paths.contains(&"gateway.port".to_owned()), "{ev}");
    assert!(
        paths.contains(&"gateway.http.endpoints.chatCompletions.enabled".to_owned()),
        "{ev}"
    );
    // The hot part applied on the old listener, the port change did not.
    assert_eq!(models_status(&http, p1).await, 200);
    let log = wait_log(&gw, 0, "the pending-restart warning", |t| {
        t.contains("need a restart")
    })
    .await;
    assert!(log.contains("gateway.port"), "{log}");
    // Well past when a restart would have happened (it waits 100 ms), the same socket
    // works and nothing listens on the new port.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!listening(p2), "hot mode moved the listener");
    assert!(listening(p1));
    let st = call(&mut ws, "s", "status", json!({})).await;
    assert_eq!(st["payload"]["gateway"]["port"], p1, "{st}");
    assert_eq!(st["payload"]["pid"], gw.pid(), "{st}");
    let h = call(&mut ws, "h", "health", json!({})).await;
    assert_eq!(h["ok"], true);
    assert!(h["payload"]["reload"]["lastError"].is_null(), "{h}");
    assert!(!gw.output().contains("restarting the listener"));
}

#[tokio::test]
async fn mode_restart_restarts_the_listener_in_process_even_for_a_hot_change() {
    let gw = start(Spec::default().config(&reload_cfg("restart", None, "")));
    let pid = gw.child.id();
    let mut ws = admin(&gw.url()).await;
    let http = reqwest::Client::new();
    assert_eq!(models_status(&http, gw.port).await, 404);

    // An endpoint switch: hot in `hybrid` mode, a restart in `restart` mode.
    edit(&gw.state, &reload_cfg("restart", None, CHAT_ON));
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "restart", "{ev}");
    assert_eq!(
        changed_paths(&ev),
        ["gateway.http.endpoints.chatCompletions.enabled"]
    );
    let bye = next_event(&mut ws, "shutdown").await;
    assert!(
        bye["payload"]["restartExpectedMs"].as_u64().unwrap() > 0,
        "{bye}"
    );
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1012);

    // Same process, same port (it was 0 = any, and the bound one is kept), new config.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut ws = loop {
        if let Some((mut w, _)) = try_open(&gw.url()).await {
            send(
                &mut w,
                &connect_frame(json!({"token": TOKEN}), Some(vec!["operator.admin"]), "t"),
            )
            .await;
            if let Some(v) = next_json(&mut w).await
                && v["ok"] == true
            {
                break w;
            }
        }
        assert!(
            Instant::now() < deadline,
            "never came back: {}",
            gw.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(gw.child.id(), pid);
    let st = call(&mut ws, "s", "status", json!({})).await;
    assert_eq!(st["payload"]["pid"], pid, "{st}");
    assert_eq!(models_status(&http, gw.port).await, 200);
    assert!(gw.output().contains("restarting the listener"));
}

#[tokio::test]
async fn a_log_level_change_applied_by_a_restart_takes_effect() {
    let level = |l: &str| {
        cfg(
            "",
            r#", reload: { mode: "restart", debounceMs: 50 }"#,
            &format!(r#", logging: {{ level: "{l}" }}"#),
        )
    };
    let gw = start(Spec::default().config(&level("info")));
    let mut ws = admin(&gw.url()).await;
    assert_debug_absent(&gw).await;
    edit(&gw.state, &level("debug"));
    let ev = changed(&mut ws).await;
    assert_eq!(ev["applied"], "restart", "{ev}");
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1012);
    let deadline = Instant::now() + Duration::from_secs(15);
    while good_login_opt(&gw).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "never came back: {}",
            gw.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_debug_present(&gw).await;
}

/// `Some(())` once a login with the right token succeeds (`None` while restarting).
async fn good_login_opt(gw: &Gateway) -> Option<()> {
    let (mut ws, _) = try_open(&gw.url()).await?;
    send(
        &mut ws,
        &connect_frame(json!({"token": TOKEN}), None, "test"),
    )
    .await;
    let v = next_json(&mut ws).await?;
    (v["ok"] == true).then_some(())
}
