//! The runbooks' tuning keys have real effects, against the real binary:
//! `gateway.logTimings` (a `timing` line per request and turn, as seed 003 greps for),
//! `gateway.sessionTimeout` (an idle session starts over), `gateway.historyLimit` (history
//! sent to the model is capped) and `gateway.maxMemory` (over it, runs are refused and
//! `/readyz` fails until it is raised).

mod common;

use std::time::{Duration, Instant};

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::{Value, json};

const TOKEN: &str = "effects-test-token-0123456789abcdef";

fn config(mock: &MockServer, gateway_extra: &str) -> String {
    format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                        http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} {gateway_extra} }},
             models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions", models: [{{ id: "m1" }}] }} }} }},
             agents: {{ defaults: {{ model: "mock/m1" }} }} }}"#,
        mock.openai_base_url()
    )
}

async fn chat(gw: &Gateway, session: &str, text: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .header("x-openclaw-session-key", session)
        .json(&json!({"model": "openclaw/main", "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn history(gw: &Gateway, session: &str) -> Vec<String> {
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let res = call(&mut ws, "h", "chat.history", json!({"sessionKey": session})).await;
    res["payload"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{res}"))
        .iter()
        .map(|m| m["content"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn edit(gw: &Gateway, text: &str) {
    let tmp = gw.state.join(".openclaw.json.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, gw.state.join("openclaw.json")).unwrap();
}

fn log_text(gw: &Gateway) -> String {
    std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap_or_default()
}

#[tokio::test]
async fn log_timings_writes_a_timing_line_per_request_and_turn() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let gw = start(Spec::default().config(&config(&mock, ", logTimings: true")));
    let (status, body) = chat(&gw, "agent:main:timing", "hi").await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = log_text(&gw);
        let timing: Vec<Value> = log
            .lines()
            .filter(|l| l.contains("timing"))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let http = timing
            .iter()
            .find(|e| e["message"] == "timing http request" && e["path"] == "/v1/chat/completions");
        let turn = timing.iter().find(|e| e["message"] == "timing agent turn");
        if let (Some(http), Some(turn)) = (http, turn) {
            assert_eq!(http["status"], 200, "{http}");
            assert!(http["ms"].is_u64(), "{http}");
            assert!(
                turn["model_ms"].is_u64() && turn["total_ms"].is_u64(),
                "{turn}"
            );
            assert_eq!(turn["agent"], "main", "{turn}");
            break;
        }
        assert!(Instant::now() < deadline, "no timing lines in:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Off by default: no timing lines.
    let quiet = start(Spec::default().config(&config(&mock, "")));
    let (status, _) = chat(&quiet, "agent:main:quiet", "hi").await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !log_text(&quiet).contains("\"timing"),
        "{}",
        log_text(&quiet)
    );
}

#[tokio::test]
async fn session_timeout_starts_idle_sessions_over_and_history_limit_caps_what_the_model_sees() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let gw = start(Spec::default().config(&config(&mock, ", sessionTimeout: 1, historyLimit: 2")));
    let s = "agent:main:idle";
    assert_eq!(chat(&gw, s, "one").await.0, 200);
    assert_eq!(chat(&gw, s, "two").await.0, 200);
    // Two turns in quick succession share the session; the model saw only the last two
    // history entries (historyLimit) plus the new message.
    let last = mock.requests().pop().unwrap();
    let msgs = last["messages"].as_array().unwrap();
    let non_system: Vec<&Value> = msgs.iter().filter(|m| m["role"] != "system").collect();
    assert_eq!(non_system.len(), 3, "{last}");
    assert_eq!(non_system[2]["content"], "two");
    assert_eq!(
        history(&gw, s).await,
        ["one", "echo: one", "two", "echo: two"]
    );
    // Idle past the timeout: the next message starts a fresh transcript (the old one is
    // archived beside it).
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(chat(&gw, s, "three").await.0, 200);
    assert_eq!(history(&gw, s).await, ["three", "echo: three"]);
    let last = mock.requests().pop().unwrap();
    let non_system = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .count();
    assert_eq!(
        non_system, 1,
        "the model saw nothing of the idle session: {last}"
    );
    assert!(log_text(&gw).contains("starting a fresh session"));
}

#[tokio::test]
async fn max_memory_refuses_runs_while_over_and_recovers_when_raised() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let gw = start(Spec::default().config(&config(&mock, r#", maxMemory: "1m""#)));
    let ready = |gw: &Gateway| {
        let url = gw.http("/readyz");
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, body) = ready(&gw).await;
        if code == 503
            && body["failing"]
                .as_array()
                .unwrap()
                .contains(&json!("memory"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readyz never reported memory: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = chat(&gw, "agent:main:mem", "hi").await;
    assert_eq!(status, 503, "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("gateway.maxMemory") && msg.contains("MiB"),
        "{msg}"
    );
    assert!(mock.requests().is_empty(), "nothing reached the model");
    assert!(log_text(&gw).contains("over gateway.maxMemory"));

    // Raised by hot reload: runs are accepted again.
    edit(&gw, &config(&mock, r#", maxMemory: "4g""#));
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(&gw).await.0 != 200 {
        assert!(Instant::now() < deadline, "never back under the budget");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = chat(&gw, "agent:main:mem", "hi").await;
    assert_eq!(status, 200, "{body}");
}
