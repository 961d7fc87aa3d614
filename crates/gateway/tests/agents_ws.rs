//! Agent runs over the WebSocket protocol against the gateway served in-process, answered
//! by the stand-in provider.

use std::collections::HashSet;
use std::time::Duration;

use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_testkit::*;
use serde_json::json;

const TOKEN: &str = "agents-ws-token-123456";

/// A gateway whose default agent answers through the mock, model `mock/<model>`.
async fn gateway_with(model: &str) -> (TestGateway, MockServer) {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/{model}" }} }},
        }}"#,
        mock.openai_base_url()
    );
    (TestGateway::with_config(&cfg), mock)
}

async fn admin(gw: &TestGateway) -> Ws {
    connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test")
        .await
        .0
}

#[tokio::test]
async fn agent_is_two_stage_with_events() {
    let (gw, _mock) = gateway_with("m1").await;
    let mut ws = admin(&gw).await;
    send(
        &mut ws,
        &json!({"type":"req","id":"a1","method":"agent","params":{"message":"hello world","idempotencyKey":"k1"}}),
    )
    .await;
    let mut accepted = None;
    let mut fin = None;
    let mut streams = Vec::new();
    let mut deltas = String::new();
    while fin.is_none() {
        let v = next_json(&mut ws).await.expect("socket open");
        match (v["type"].as_str(), v["event"].as_str()) {
            (Some("res"), _) if v["id"] == "a1" => {
                if accepted.is_none() {
                    assert_eq!(v["payload"]["status"], "accepted", "{v}");
                    accepted = Some(v);
                } else {
                    fin = Some(v);
                }
            }
            (Some("event"), Some("agent")) => {
                let p = &v["payload"];
                streams.push(p["stream"].as_str().unwrap().to_owned());
                if p["stream"] == "assistant" {
                    deltas.push_str(p["data"]["delta"].as_str().unwrap());
                }
            }
            _ => {}
        }
    }
    let accepted = accepted.unwrap();
    let fin = fin.unwrap();
    let run_id = accepted["payload"]["runId"].as_str().unwrap();
    assert!(accepted["payload"]["acceptedAt"].is_u64());
    assert_eq!(fin["payload"]["runId"], run_id);
    assert_eq!(fin["payload"]["status"], "ok", "{fin}");
    assert_eq!(fin["payload"]["summary"], "echo: hello world");
    assert_eq!(fin["payload"]["result"]["meta"]["provider"], "mock");
    assert_eq!(deltas, "echo: hello world");
    assert_eq!(streams.first().map(String::as_str), Some("lifecycle"));
    assert!(streams.contains(&"assistant".to_owned()));

    // agent.wait on the finished run.
    let r = call(
        &mut ws,
        "w",
        "agent.wait",
        json!({"runId": run_id, "timeoutMs": 1000}),
    )
    .await;
    assert_eq!(r["payload"]["status"], "ok");
    let r = call(&mut ws, "w2", "agent.wait", json!({"runId": "nope"})).await;
    assert_eq!(r["error"]["code"], "AGENT_RESULT_NOT_FOUND");

    // The turn is in the main session's history.
    let r = call(
        &mut ws,
        "h",
        "chat.history",
        json!({"sessionKey": "agent:main:main"}),
    )
    .await;
    let msgs = r["payload"]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(msgs[1]["content"], "echo: hello world");
    assert_eq!(msgs[1]["provider"], "mock");
}

#[tokio::test]
async fn agent_requires_idempotency_key_and_write_scope() {
    let (gw, _mock) = gateway_with("m1").await;
    let mut ws = admin(&gw).await;
    let r = call(&mut ws, "x", "agent", json!({"message": "hi"})).await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("idempotencyKey")
    );
    let (mut ro, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    let r = call(
        &mut ro,
        "y",
        "agent",
        json!({"message": "hi", "idempotencyKey": "z"}),
    )
    .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
    assert_eq!(r["error"]["details"]["missingScope"], "operator.write");
}

#[tokio::test]
async fn chat_send_streams_chat_events_and_history_grows() {
    let (gw, mock) = gateway_with("m1").await;
    let mut ws = admin(&gw).await;
    for (i, text) in ["first message", "second message"].iter().enumerate() {
        let r = call(
            &mut ws,
            &format!("s{i}"),
            "chat.send",
            json!({"sessionKey": "agent:main:webchat", "message": text, "idempotencyKey": format!("cs{i}")}),
        )
        .await;
        assert_eq!(r["payload"]["status"], "started", "{r}");
        let run_id = r["payload"]["runId"].as_str().unwrap().to_owned();
        let mut states = Vec::new();
        let mut last_seq = 0;
        loop {
            let ev = next_event(&mut ws, "chat").await;
            let p = &ev["payload"];
            if p["runId"] != run_id.as_str() {
                continue;
            }
            assert!(p["seq"].as_u64().unwrap() > last_seq);
            last_seq = p["seq"].as_u64().unwrap();
            assert_eq!(p["sessionKey"], "agent:main:webchat");
            states.push(p["state"].as_str().unwrap().to_owned());
            if p["state"] == "final" {
                assert_eq!(p["message"]["content"][0]["text"], format!("echo: {text}"));
                break;
            }
        }
        assert!(
            states.iter().filter(|s| *s == "delta").count() >= 2,
            "{states:?}"
        );
    }
    // The second turn carried the first as history to the provider.
    let last = mock.requests().last().cloned().unwrap();
    let sent: Vec<String> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        sent,
        vec!["first message", "echo: first message", "second message"]
    );
}

#[tokio::test]
async fn idempotent_resend_returns_the_same_run() {
    let (gw, mock) = gateway_with("m1").await;
    let mut ws = admin(&gw).await;
    let params =
        json!({"sessionKey": "agent:main:main", "message": "once", "idempotencyKey": "same-key"});
    let a = call(&mut ws, "1", "chat.send", params.clone()).await;
    let b = call(&mut ws, "2", "chat.send", params).await;
    assert_eq!(a["payload"]["runId"], b["payload"]["runId"]);
    assert_eq!(b["payload"]["duplicate"], true);
    let run_id = a["payload"]["runId"].as_str().unwrap();
    let r = call(
        &mut ws,
        "w",
        "agent.wait",
        json!({"runId": run_id, "timeoutMs": 5000}),
    )
    .await;
    assert_eq!(r["payload"]["status"], "ok");
    assert_eq!(
        mock.stats
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let r = call(
        &mut ws,
        "h",
        "chat.history",
        json!({"sessionKey": "agent:main:main"}),
    )
    .await;
    assert_eq!(r["payload"]["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn chat_abort_stops_a_running_turn() {
    let (gw, mock) = gateway_with("mock-chunkdelay-300").await;
    let mut ws = admin(&gw).await;
    let r = call(
        &mut ws,
        "s",
        "chat.send",
        json!({"sessionKey": "agent:main:main", "message": "a b c d e f g h", "idempotencyKey": "ab"}),
    )
    .await;
    let run_id = r["payload"]["runId"].as_str().unwrap().to_owned();
    // Wait for the first delta, then abort.
    loop {
        let ev = next_event(&mut ws, "chat").await;
        if ev["payload"]["state"] == "delta" {
            break;
        }
    }
    let r = call(
        &mut ws,
        "ab",
        "chat.abort",
        json!({"sessionKey": "agent:main:main"}),
    )
    .await;
    assert_eq!(r["payload"]["aborted"], true);
    assert_eq!(r["payload"]["runIds"], json!([run_id]));
    loop {
        let ev = next_event(&mut ws, "chat").await;
        if ev["payload"]["state"] == "aborted" {
            break;
        }
        assert_ne!(
            ev["payload"]["state"], "final",
            "run should not finish normally"
        );
    }
    let r = call(&mut ws, "w", "agent.wait", json!({"runId": run_id})).await;
    assert_eq!(r["payload"]["status"], "aborted");
    // The upstream request was cancelled, not left running.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while mock
        .stats
        .cancelled
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "upstream not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sessions_methods_list_preview_reset_delete() {
    let (gw, _mock) = gateway_with("m1").await;
    let mut ws = admin(&gw).await;
    for (i, key) in ["agent:main:one", "agent:main:two"].iter().enumerate() {
        let r = call(
            &mut ws,
            &format!("s{i}"),
            "chat.send",
            json!({"sessionKey": key, "message": format!("hi {i}"), "idempotencyKey": format!("k{i}")}),
        )
        .await;
        let run_id = r["payload"]["runId"].as_str().unwrap();
        call(
            &mut ws,
            &format!("w{i}"),
            "agent.wait",
            json!({"runId": run_id}),
        )
        .await;
    }
    let r = call(&mut ws, "l", "sessions.list", json!({})).await;
    let keys: HashSet<&str> = r["payload"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains("agent:main:one") && keys.contains("agent:main:two"),
        "{r}"
    );
    let r = call(
        &mut ws,
        "p",
        "sessions.preview",
        json!({"keys": ["agent:main:one"], "limit": 1}),
    )
    .await;
    assert_eq!(
        r["payload"]["previews"][0]["items"][0]["content"],
        "echo: hi 0"
    );
    let r = call(
        &mut ws,
        "r",
        "sessions.reset",
        json!({"key": "agent:main:one"}),
    )
    .await;
    assert_eq!(r["payload"]["reset"], true);
    let r = call(
        &mut ws,
        "h",
        "chat.history",
        json!({"sessionKey": "agent:main:one"}),
    )
    .await;
    assert_eq!(r["payload"]["messages"], json!([]));
    let r = call(
        &mut ws,
        "d",
        "sessions.delete",
        json!({"key": "agent:main:two"}),
    )
    .await;
    assert_eq!(r["payload"]["deleted"], true);
    let r = call(
        &mut ws,
        "d2",
        "sessions.delete",
        json!({"key": "agent:main:two"}),
    )
    .await;
    assert_eq!(r["payload"]["deleted"], false);
    // Reset and delete need admin.
    let (mut rw, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.write"]), "test").await;
    let r = call(
        &mut rw,
        "x",
        "sessions.delete",
        json!({"key": "agent:main:one"}),
    )
    .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn agents_and_models_list() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions",
                     models: [{{ id: "m1", name: "Mock One", contextWindow: 8192 }}] }} }} }},
          agents: {{ defaults: {{ model: {{ primary: "mock/m1", fallbacks: ["mock/m2"] }} }},
                     list: [{{ id: "main" }}, {{ id: "research", default: true, name: "Research" }}] }},
        }}"#,
        mock.openai_base_url()
    );
    let gw = TestGateway::with_config(&cfg);
    let (mut ws, hello) = connect(&gw.url(), TOKEN, None, "test").await;
    assert_eq!(
        hello["snapshot"]["sessionDefaults"]["defaultAgentId"],
        "research"
    );
    let r = call(&mut ws, "a", "agents.list", json!({})).await;
    let p = &r["payload"];
    assert_eq!(p["defaultId"], "research");
    assert_eq!(p["agents"][0]["model"]["primary"], "mock/m1");
    assert_eq!(p["agents"][0]["model"]["fallbacks"], json!(["mock/m2"]));
    // The original's catalog row: bare model id, provider beside it, the agent's chain
    // tagged; a fallback no provider declares is listed too.
    assert_eq!(
        hello["features"]["capabilities"],
        json!(["published-model-catalog"])
    );
    let r = call(&mut ws, "m", "models.list", json!({})).await;
    let models = &r["payload"]["models"];
    assert_eq!(models[0]["id"], "m1");
    assert_eq!(models[0]["provider"], "mock");
    assert_eq!(models[0]["contextWindow"], 8192);
    assert_eq!(models[0]["available"], true);
    assert!(models[0].get("local").is_none(), "{models}");
    assert_eq!(models[1]["id"], "m2");
    assert_eq!(models[1]["tags"], json!(["fallback#1"]));
    // The research agent (default) uses the defaults' chain too.
    assert_eq!(models[0]["tags"], json!(["default"]));
    let r = call(
        &mut ws,
        "d",
        "models.list",
        json!({"includeDetails": true, "view": "provider-config", "preparedOnly": true}),
    )
    .await;
    let models = r["payload"]["models"].as_array().unwrap().clone();
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0]["local"], true);
    for (params, needle) in [
        (json!({"provider": "nope"}), "unknown provider \"nope\""),
        (
            json!({"agentId": "ghost"}),
            "configured agents: main, research",
        ),
        (json!({"refresh": true}), "does not discover models"),
        (json!({"bogus": 1}), "unknown field"),
    ] {
        let r = call(&mut ws, "x", "models.list", params).await;
        assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
        let msg = r["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg}");
    }
}
