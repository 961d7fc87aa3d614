//! `GET /metrics` against the gateway served in-process on port 0: the exposition parses
//! (a Prometheus text parser, then `promtool check metrics`), every listed series is there
//! and moves with traffic (HTTP, a WebSocket RPC, a chat completion through the stand-in
//! provider), and the endpoint's auth, `public` and hot `enabled` switches behave.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_testkit::*;
use prometheus_parse::{Scrape, Value};
use serde_json::json;

const TOKEN: &str = "metrics-test-token-123456";

/// A gateway with token auth, the OpenAI chat endpoint on, the default agent answering
/// through the mock as `mock/m1`, and `extra` spliced into `gateway: {…}`.
async fn gateway(extra: &str) -> (TestGateway, MockServer) {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} {extra} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/m1" }} }},
        }}"#,
        mock.openai_base_url()
    );
    (TestGateway::with_config(&cfg), mock)
}

/// `GET path` with an optional bearer and extra headers: (status, content type, body).
async fn get(
    gw: &TestGateway,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(gw.http(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request the gateway");
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, res.text().await.unwrap())
}

async fn scrape(gw: &TestGateway) -> (String, Scrape) {
    let (status, ct, body) = get(gw, "/metrics", Some(TOKEN), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let parsed = Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("parse");
    (body, parsed)
}

/// The sum of the samples of `metric` whose labels include `labels` (a histogram counts
/// its observations); `None` when no sample matches.
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for x in s.samples.iter().filter(|x| x.metric == metric) {
        if !labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)) {
            continue;
        }
        let v = match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b.iter().map(|c| c.count).fold(0.0, f64::max),
            Value::Summary(_) => continue,
        };
        *found.get_or_insert(0.0) += v;
    }
    found
}

fn at_least(s: &Scrape, metric: &str, labels: &[(&str, &str)], min: f64) {
    let v = value(s, metric, labels);
    assert!(
        v.is_some_and(|v| v >= min),
        "{metric}{labels:?} = {v:?}, expected at least {min}"
    );
}

/// `promtool check metrics` on the exposition: the reference parser and its lints.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install the Debian package `prometheus` (scripts/test does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn every_series_is_present_and_moves_with_traffic() {
    let (gw, _mock) = gateway("").await;
    let (_, before) = scrape(&gw).await;
    // Present from the start.
    for m in [
        "openclaw_build_info",
        "openclaw_process_uptime_seconds",
        "openclaw_memory_bytes",
        "openclaw_process_open_fds",
        "openclaw_ws_connections",
        "openclaw_ws_connections_total",
        "openclaw_run_completed_total",
        "openclaw_config_reloads_total",
        "openclaw_rate_limited_total",
        "openclaw_auth_failures_total",
        "openclaw_prometheus_series_dropped_total",
    ] {
        assert!(value(&before, m, &[]).is_some(), "{m} missing");
    }
    for surface in ["http", "ws", "hooks", "tools"] {
        assert_eq!(
            value(
                &before,
                "openclaw_rate_limited_total",
                &[("surface", surface)]
            ),
            Some(0.0)
        );
    }
    assert_eq!(
        value(
            &before,
            "openclaw_build_info",
            &[("version", openclaw_gateway::VERSION)]
        ),
        Some(1.0)
    );
    at_least(&before, "openclaw_memory_bytes", &[("kind", "rss")], 1.0);
    at_least(&before, "openclaw_process_open_fds", &[], 1.0);

    // Traffic: HTTP, a wrong token, a WebSocket RPC, a chat completion, a reload.
    assert_eq!(get(&gw, "/v1/models", Some(TOKEN), &[]).await.0, 200);
    assert_eq!(get(&gw, "/healthz", None, &[]).await.0, 200);
    assert_eq!(get(&gw, "/nowhere", None, &[]).await.0, 404);
    assert_eq!(get(&gw, "/v1/models", Some("wrong"), &[]).await.0, 401);
    let res = reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "messages": [{"role": "user", "content": "hi there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let status = call(&mut ws, "s", "status", json!({})).await;
    assert_eq!(status["ok"], true, "{status}");
    let traffic = &status["payload"]["traffic"];
    assert_eq!(traffic["windowSeconds"], 60, "{traffic}");
    assert!(traffic["requests"].as_u64().unwrap() >= 5, "{traffic}");
    assert_eq!(traffic["errors"], 0, "{traffic}");
    assert_eq!(traffic["rateLimited"], 0, "{traffic}");
    let r = call(&mut ws, "r", "config.reload", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    let r = call(&mut ws, "x", "no.such.method", json!({})).await;
    assert_eq!(r["ok"], false, "{r}");

    let (text, after) = scrape(&gw).await;
    promtool_check(&text);
    let ok_models = [("route", "models"), ("method", "GET"), ("code", "200")];
    at_least(&after, "openclaw_http_requests_total", &ok_models, 1.0);
    at_least(
        &after,
        "openclaw_http_requests_total",
        &[("route", "models"), ("code", "401")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_http_requests_total",
        &[("route", "health"), ("code", "200")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_http_requests_total",
        &[("route", "other"), ("code", "404")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_http_requests_total",
        &[
            ("route", "chat_completions"),
            ("method", "POST"),
            ("code", "200"),
        ],
        1.0,
    );
    at_least(
        &after,
        "openclaw_http_requests_total",
        &[("route", "websocket"), ("code", "101")],
        1.0,
    );
    for h in [
        "openclaw_http_request_ttfb_seconds",
        "openclaw_http_request_duration_seconds",
    ] {
        at_least(&after, h, &[("route", "models")], 2.0);
        at_least(&after, h, &[("route", "chat_completions")], 1.0);
    }
    at_least(&after, "openclaw_ws_connections", &[], 1.0);
    at_least(&after, "openclaw_ws_connections_total", &[], 1.0);
    at_least(
        &after,
        "openclaw_rpc_requests_total",
        &[("method", "status"), ("outcome", "ok")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_rpc_requests_total",
        &[("method", "unknown"), ("outcome", "INVALID_REQUEST")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_rpc_request_duration_seconds",
        &[("method", "status")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_run_completed_total",
        &[("outcome", "ok")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_run_duration_seconds",
        &[("outcome", "ok")],
        1.0,
    );
    let model = [("provider", "mock"), ("model", "m1")];
    at_least(
        &after,
        "openclaw_model_call_total",
        &[model[0], model[1], ("outcome", "ok")],
        1.0,
    );
    at_least(&after, "openclaw_model_call_duration_seconds", &model, 1.0);
    at_least(
        &after,
        "openclaw_model_tokens_total",
        &[model[0], model[1], ("token_type", "input")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_model_tokens_total",
        &[model[0], model[1], ("token_type", "output")],
        1.0,
    );
    at_least(
        &after,
        "openclaw_auth_failures_total",
        &[("surface", "http")],
        1.0,
    );
    at_least(&after, "openclaw_config_reloads_total", &[], 1.0);
    let up0 = value(&before, "openclaw_process_uptime_seconds", &[]).unwrap();
    let up1 = value(&after, "openclaw_process_uptime_seconds", &[]).unwrap();
    assert!(up1 > up0, "uptime {up0} -> {up1}");
    assert_eq!(
        value(&after, "openclaw_prometheus_series_dropped_total", &[]),
        Some(0.0)
    );

    // OpenClaw's path serves the same exposition.
    let (status, ct, body) = get(&gw, "/api/diagnostics/prometheus", Some(TOKEN), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert!(body.contains("openclaw_model_call_total{"), "{body}");

    // The WebSocket gauge goes back down when the client leaves.
    drop(ws);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, s) = scrape(&gw).await;
        if value(&s, "openclaw_ws_connections", &[]) == Some(0.0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "ws gauge stayed up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Scrapes until `pred` holds on the parsed exposition (or fails after `within`).
async fn wait_scrape(gw: &TestGateway, within: Duration, pred: impl Fn(&Scrape) -> bool) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let (text, s) = scrape(gw).await;
        if pred(&s) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never matched:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn channel_series_follow_the_account() {
    const BOT: &str = "123456:TEST-metrics-bot";
    let tg = openclaw_mock_telegram::spawn(BOT).await.unwrap();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          channels: {{ telegram: {{ botToken: "{BOT}", apiRoot: "{}", pollTimeoutSeconds: 1 }} }},
        }}"#,
        tg.api_root()
    );
    let gw = TestGateway::with_config(&cfg);
    let account = [("channel", "telegram"), ("account", "default")];
    let within = Duration::from_secs(20);
    wait_scrape(&gw, within, |s| {
        value(s, "openclaw_channel_connected", &account) == Some(1.0)
    })
    .await;
    tg.set_down(true);
    wait_scrape(&gw, within, |s| {
        value(s, "openclaw_channel_connected", &account) == Some(0.0)
            && value(s, "openclaw_channel_reconnects_total", &account).is_some_and(|v| v >= 1.0)
    })
    .await;
    tg.set_down(false);
    wait_scrape(&gw, within, |s| {
        value(s, "openclaw_channel_connected", &account) == Some(1.0)
    })
    .await;
}

#[tokio::test]
async fn scrapes_need_the_gateway_credential() {
    let (gw, _mock) = gateway("").await;
    for path in ["/metrics", "/api/diagnostics/prometheus"] {
        let (status, _, body) = get(&gw, path, None, &[]).await;
        assert_eq!(status, 401, "{path}: {body}");
        let (status, _, _) = get(&gw, path, Some("not-the-token"), &[]).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(get(&gw, path, Some(TOKEN), &[]).await.0, 200, "{path}");
    }
    let (_, s) = scrape(&gw).await;
    at_least(
        &s,
        "openclaw_auth_failures_total",
        &[("surface", "http")],
        4.0,
    );
}

#[tokio::test]
async fn public_serves_loopback_only_and_enabled_switches_hot() {
    // A trusted proxy on loopback forwarding a remote client: that client is not local.
    let (gw, _mock) =
        gateway(r#", metrics: { public: true }, trustedProxies: ["127.0.0.1"]"#).await;
    let (status, ct, body) = get(&gw, "/metrics", None, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert!(body.contains("openclaw_build_info"));
    let remote = [("x-forwarded-for", "203.0.113.7")];
    assert_eq!(get(&gw, "/metrics", None, &remote).await.0, 401);
    assert_eq!(get(&gw, "/metrics", Some(TOKEN), &remote).await.0, 200);

    // `config.set` with enabled: false takes effect without a restart.
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let got = call(&mut ws, "g", "config.get", json!({})).await;
    let hash = got["payload"]["hash"].as_str().unwrap().to_owned();
    let mut config = got["payload"]["config"].clone();
    config["gateway"]["auth"]["token"] = json!(TOKEN);
    config["gateway"]["metrics"]["enabled"] = json!(false);
    let r = call(
        &mut ws,
        "s",
        "config.set",
        json!({"raw": config.to_string(), "baseHash": hash}),
    )
    .await;
    assert_eq!(r["payload"]["applied"], "hot", "{r}");
    for path in ["/metrics", "/api/diagnostics/prometheus"] {
        let (status, ct, body) = get(&gw, path, Some(TOKEN), &[]).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(ct.starts_with("application/json"), "{ct}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("gateway.metrics.enabled"), "{msg}");
    }
    // And back on.
    let got = call(&mut ws, "g2", "config.get", json!({})).await;
    let hash = got["payload"]["hash"].as_str().unwrap().to_owned();
    config["gateway"]["metrics"]["enabled"] = json!(true);
    let r = call(
        &mut ws,
        "s2",
        "config.set",
        json!({"raw": config.to_string(), "baseHash": hash}),
    )
    .await;
    assert_eq!(r["payload"]["applied"], "hot", "{r}");
    let (_, s) = scrape(&gw).await;
    at_least(
        &s,
        "openclaw_config_reloads_total",
        &[("outcome", "hot")],
        2.0,
    );
}
