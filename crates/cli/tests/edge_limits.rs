//! The public edge's budgets against the real binary: `gateway.rateLimit` (the runbook's
//! `gateway.rate_limit`) on every surface it covers, changed hot with the runbook's own
//! `config set` commands; `gateway.performance.maxConnections` refusing newcomers while the
//! connected keep working; `requestTimeout` answering 504 for a stalled provider but not
//! cutting a stream that has started.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openclaw_mock_provider::MockOptions;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "edge-limits-token-0123456789";
const HOOK: &str = "edge-limits-hook-token-98765";

fn config(gateway_extra: &str, rest: &str) -> String {
    format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }},
                     {gateway_extra} }},
          hooks: {{ enabled: true, token: "{HOOK}" }},
          {rest}
        }}"#
    )
}

async fn models(http: &reqwest::Client, gw: &Gateway) -> reqwest::Response {
    http.get(gw.http("/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /v1/models")
}

/// Sends `/v1/models` until one is refused; returns how many passed and the refusal.
async fn until_limited(
    http: &reqwest::Client,
    gw: &Gateway,
    max: usize,
) -> (usize, reqwest::Response) {
    for passed in 0..max {
        let r = models(http, gw).await;
        if r.status() == 429 {
            return (passed, r);
        }
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
    }
    panic!("{max} requests passed without a 429");
}

#[tokio::test]
async fn over_the_budget_every_surface_says_429_or_unavailable_then_recovers() {
    // The runbook's spelling of the section.
    let gw = start(Spec::default().config(&config(
        "rate_limit: { enabled: true, requests_per_minute: 60, burst: 3 }",
        "",
    )));
    let http = reqwest::Client::new();
    let (passed, refused) = until_limited(&http, &gw, 10).await;
    assert_eq!(passed, 3, "the burst");
    assert_eq!(
        refused.headers()["retry-after"],
        "1",
        "60/min: the next request is due within a second"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
    assert_eq!(body["error"]["type"], "requests", "{body}");
    assert!(body["error"]["param"].is_null(), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("60 requests per minute") && message.contains("gateway.rateLimit"),
        "{message}"
    );

    // Probes are never limited.
    for path in ["/healthz", "/readyz"] {
        let r = http.get(gw.http(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }

    // /tools/invoke shares the client's budget (same token) and answers in its own shape,
    // with the OpenAI code too.
    let r = http
        .post(gw.http("/tools/invoke"))
        .bearer_auth(TOKEN)
        .json(&json!({"tool": "agents_list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_exceeded", "{v}");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");

    // WebSocket: the handshake is not a request of the budget; RPC requests after it are.
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let r = call(&mut ws, "m", "models.list", json!({})).await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["code"], "UNAVAILABLE", "{r}");
    assert_eq!(r["error"]["retryable"], true, "{r}");
    let wait = r["error"]["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert!((1..=1000).contains(&wait), "{r}");
    // The operator's probes and controls are not metered: they can see and fix it.
    let st = call(&mut ws, "s", "status", json!({})).await;
    assert_eq!(st["ok"], true, "{st}");
    let rl = &st["payload"]["rateLimit"];
    assert_eq!(rl["enabled"], true, "{st}");
    assert_eq!(rl["requestsPerMinute"], 60, "{st}");
    assert_eq!(rl["burst"], 3, "{st}");
    assert!(rl["limitedTotal"].as_u64().unwrap() >= 3, "{st}");

    // The hooks token is another client with its own budget.
    let hook = || {
        http.post(gw.http("/hooks/wake"))
            .bearer_auth(HOOK)
            .json(&json!({"text": ""}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            hook().await.unwrap().status(),
            400,
            "empty text, but counted"
        );
    }
    let r = hook().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["error"].as_str().unwrap().contains("Rate limit reached"),
        "{v}"
    );

    // Each refusal is in the metrics, by surface, and in status's last minute.
    let text = http
        .get(gw.http("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for surface in ["http", "tools", "ws", "hooks"] {
        let line = format!("openclaw_rate_limited_total{{surface=\"{surface}\"}} ");
        let n: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .unwrap_or_else(|| panic!("no {line} in\n{text}"))
            .trim()
            .parse()
            .unwrap();
        assert!(n >= 1, "{surface}: {n}");
    }
    let st = call(&mut ws, "s2", "status", json!({})).await;
    assert!(
        st["payload"]["traffic"]["rateLimited"].as_u64().unwrap() >= 4,
        "{st}"
    );

    // Recovery: one request a second comes back.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(models(&http, &gw).await.status(), 200);
    let r = call(&mut ws, "m2", "models.list", json!({})).await;
    assert_eq!(r["ok"], false, "the HTTP request took the one slot: {r}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = call(&mut ws, "m3", "models.list", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test]
async fn the_runbooks_stop_the_bleeding_commands_apply_hot() {
    let gw = start(Spec::default().config(&config("", "")));
    let http = reqwest::Client::new();
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    for _ in 0..40 {
        assert_eq!(models(&http, &gw).await.status(), 200, "off by default");
    }
    // Exactly as seed 000 writes them.
    let url = gw.url();
    let remote = ["--url", url.as_str(), "--token", TOKEN];
    let cli = |args: &[&str]| gw.cli(&[args, &remote[..]].concat());
    let on = cli(&["config", "set", "gateway.rate_limit.enabled", "true"]);
    assert_eq!(on.code, 0, "{}{}", on.stdout, on.stderr);
    let set = cli(&[
        "config",
        "set",
        "gateway.rate_limit.requests_per_minute",
        "30",
    ]);
    assert_eq!(set.code, 0, "{}{}", set.stdout, set.stderr);
    assert!(
        set.stdout.contains("hot"),
        "applied by the gateway: {}",
        set.stdout
    );
    let changed = Instant::now();
    // In force within a second: the default burst (10) passes, then 429 with the wait of
    // a 30/min budget (a request every 2 s).
    let refused = loop {
        let r = models(&http, &gw).await;
        if r.status() == 429 {
            break r;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "the new limit was not in force within a second"
        );
    };
    assert_eq!(refused.headers()["retry-after"], "2");
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("30 requests per minute"),
        "{body}"
    );
    // Nobody was dropped: the socket opened before the change still answers.
    let r = call(&mut ws, "h", "health", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    let st = cli(&["status", "--json"]);
    assert_eq!(st.code, 0, "{}", st.stderr);
    let st: Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st["rateLimit"]["requestsPerMinute"], 30, "{st}");
    assert_eq!(st["rateLimit"]["burst"], 10, "{st}");
    let gs = cli(&["gateway", "status", "--json"]);
    assert_eq!(gs.code, 0, "{}", gs.stderr);
    let gs: Value = serde_json::from_str(&gs.stdout).unwrap();
    assert_eq!(gs["rateLimit"]["enabled"], true, "{gs}");
    assert!(
        gs["rateLimit"]["limitedTotal"].as_u64().unwrap() >= 1,
        "{gs}"
    );
    assert!(gs["limits"]["idleTimeoutMs"].is_u64(), "{gs}");
}

/// A raw GET on a fresh connection; the status line's code and the body.
async fn raw_get(port: u16, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (code, body)
}

#[tokio::test]
async fn past_max_connections_newcomers_get_503_and_the_connected_keep_working() {
    let gw = start(Spec::default().config(&config("performance: { max_connections: 3 }", "")));
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(
            connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test")
                .await
                .0,
        );
    }
    // HTTP newcomer: 503 naming the key.
    let (code, body) = raw_get(gw.port, "/healthz").await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("gateway.performance.maxConnections"),
        "{body}"
    );
    // WebSocket newcomer: 503 at the upgrade.
    match tokio_tungstenite::connect_async(gw.url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 503)
        }
        other => panic!("expected a 503 at the upgrade, got {:?}", other.map(|_| ())),
    }
    // The connected are unaffected.
    for (i, ws) in clients.iter_mut().enumerate() {
        let r = call(ws, &format!("h{i}"), "health", json!({})).await;
        assert_eq!(r["ok"], true, "{r}");
    }
    // One leaves: room for one more.
    let gone = clients.pop().unwrap();
    drop(gone);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, _) = raw_get(gw.port, "/healthz").await;
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = call(&mut clients[0], "s", "status", json!({})).await;
    assert_eq!(r["payload"]["limits"]["maxConnections"], 3, "{r}");
    assert!(
        r["payload"]["limits"]["openConnections"].as_u64().unwrap() >= 2,
        "{r}"
    );
}

#[tokio::test]
async fn request_timeout_answers_504_for_a_stalled_provider_but_not_a_started_stream() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let gw = start(Spec::default().config(&config(
        "performance: { request_timeout: 500, idle_timeout: 60000 }",
        &format!(
            r#"models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
               agents: {{ defaults: {{ model: "mock/mock-slow-5000" }},
                          list: [{{ id: "main", default: true }},
                                 {{ id: "streamer", model: "mock/mock-chunkdelay-250" }}] }},"#,
            mock.openai_base_url()
        ),
    )));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let r = http
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 504);
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "request_timeout", "{v}");
    assert_eq!(v["error"]["type"], "timeout", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gateway.performance.requestTimeout"),
        "{v}"
    );

    // A stream whose head came in time runs past the bound.
    let started = Instant::now();
    let r = http
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw/streamer", "stream": true,
                      "messages": [{"role": "user", "content": "one two three four five"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        started.elapsed() > Duration::from_millis(500),
        "the stream should outlast the bound"
    );
    assert!(text.contains("[DONE]"), "{text}");
    assert!(text.contains("five"), "{text}");
    // The probes are unaffected.
    assert_eq!(
        http.get(gw.http("/healthz")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn idle_timeout_closes_idle_keepalive_and_unauthenticated_sockets_only() {
    let gw = start(Spec::default().config(&config("performance: { idle_timeout: 300 }", "")));
    // An authenticated WebSocket outlives it (kept alive by the protocol, not idle-closed).
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    // A keep-alive HTTP connection that stays quiet is closed.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let quiet = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("idle keep-alive connection was not closed");
    assert!(matches!(closed, Ok(0) | Err(_)));
    assert!(
        quiet.elapsed() >= Duration::from_millis(250),
        "{:?}",
        quiet.elapsed()
    );
    // A WebSocket that never sends connect is closed by it too (before the 10 s handshake
    // timeout).
    let (mut silent, _challenge) = open(&gw.url()).await;
    let quiet = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(5), close_code(&mut silent))
        .await
        .expect("silent pre-auth WebSocket was not closed");
    assert!(quiet.elapsed() < Duration::from_secs(3), "{end:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = call(&mut ws, "h", "health", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
}
