//! Features that had no end-to-end test: `gateway call --expect-final`, `gateway status
//! --deep`, the hook session/agent restrictions, tool calls through the OpenAI-compatible
//! chat endpoint, implicit providers and the dev port. The real gateway binary, with the
//! stand-in model provider behind it.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::{Value, json};

const TOKEN: &str = "features-test-token-0123456789";
const HOOK: &str = "features-hook-secret-abcdef";

async fn mock() -> MockServer {
    openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap()
}

/// A gateway whose config holds its port and token (so the CLI finds it without flags),
/// the stand-in as provider `mock`, and `extra` top-level sections.
fn gateway(mock: &MockServer, model: &str, extra: &str) -> Gateway {
    let dir = TempDir::new("feat");
    let port = free_port();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", port: {port}, auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "{model}" }},
                    list: [{{ id: "main", default: true }}, {{ id: "other" }}] }},
          {extra}
        }}"#,
        mock.openai_base_url()
    );
    std::fs::write(dir.path().join("openclaw.json"), cfg).unwrap();
    start(Spec {
        port_zero: false,
        own_dir: Some(dir),
        ..Spec::default()
    })
}

fn json_out(out: &CliOut) -> Value {
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr))
}

async fn rpc(gw: &Gateway, method: &str, params: Value) -> Value {
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let res = call(&mut ws, "r1", method, params).await;
    assert_eq!(res["ok"], true, "{method}: {res}");
    res["payload"].clone()
}

// ---------------------------------------------------------------------------------------
// gateway call --expect-final

// The CLI runs as a blocking child process; the stand-in provider needs another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_call_expect_final_prints_the_final_agent_result() {
    let mock = mock().await;
    let gw = gateway(&mock, "mock/m1", "");

    // Without --expect-final the first response (the `accepted` ack) is printed.
    let out = gw.cli(&[
        "gateway",
        "call",
        "agent",
        "--params",
        r#"{"message":"first call","idempotencyKey":"ef-1"}"#,
    ]);
    let ack = json_out(&out);
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert!(ack["runId"].is_string(), "{ack}");
    assert!(ack.get("summary").is_none(), "{ack}");

    // With it, the ack is skipped and the final result of the same request printed.
    let out = gw.cli(&[
        "gateway",
        "call",
        "agent",
        "--params",
        r#"{"message":"second call","idempotencyKey":"ef-2"}"#,
        "--expect-final",
    ]);
    let fin = json_out(&out);
    assert_eq!(fin["status"], "ok", "{fin}");
    assert_eq!(fin["summary"], "echo: second call", "{fin}");
    assert_eq!(fin["result"]["meta"]["provider"], "mock", "{fin}");
    assert!(fin["runId"].is_string(), "{fin}");

    // A one-stage method is unaffected by the flag.
    let out = gw.cli(&["gateway", "call", "health", "--expect-final"]);
    assert_eq!(json_out(&out)["ok"], true);
}

// ---------------------------------------------------------------------------------------
// gateway status --deep

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_status_deep_adds_the_gateways_own_status() {
    let mock = mock().await;
    let gw = gateway(&mock, "mock/m1", "");

    let plain = json_out(&gw.cli(&["gateway", "status", "--json"]));
    assert_eq!(plain["probe"]["rpc"], true, "{plain}");
    assert!(plain["deep"].is_null(), "no --deep, no payload: {plain}");
    assert_eq!(plain["status"], "running", "{plain}");

    let deep = json_out(&gw.cli(&["gateway", "status", "--json", "--deep"]));
    assert_eq!(deep["probe"]["ok"], true, "{deep}");
    let status = &deep["deep"];
    assert!(
        status.is_object(),
        "--deep must include the payload: {deep}"
    );
    // It is the gateway's `status` RPC payload, the same one the RPC returns.
    let direct = rpc(&gw, "status", json!({})).await;
    assert_eq!(status["gateway"]["port"], gw.port, "{status}");
    assert_eq!(status["gateway"]["port"], direct["gateway"]["port"]);
    assert_eq!(status["pid"], gw.child.id(), "{status}");
    assert_eq!(status["gateway"]["authMode"], "token", "{status}");
    assert!(!deep.to_string().contains(TOKEN), "the token leaked");

    // The text report prints it under a heading; without --deep it does not.
    let out = gw.cli(&["gateway", "status", "--deep"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Gateway status:"), "{}", out.stdout);
    assert!(
        out.stdout.contains("\"authMode\": \"token\""),
        "{}",
        out.stdout
    );
    let out = gw.cli(&["gateway", "status"]);
    assert!(!out.stdout.contains("Gateway status:"), "{}", out.stdout);

    // --deep with a token that cannot connect: no payload and a failed probe.
    let bad = json_out(&gw.cli(&["gateway", "status", "--json", "--deep", "--token", "wrong"]));
    assert_eq!(bad["probe"]["ok"], false, "{bad}");
    assert!(bad["deep"].is_null(), "{bad}");
    // The process runs (its lock says so) although this client may not talk to it.
    assert_eq!(bad["status"], "running", "{bad}");
}

// ---------------------------------------------------------------------------------------
// hooks: allowedAgentIds, allowRequestSessionKey, allowedSessionKeyPrefixes

async fn hook(gw: &Gateway, action: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(gw.http(&format!("/hooks/{action}")))
        .bearer_auth(HOOK)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Waits for a hook-started run and returns the messages of its session.
async fn finished_history(gw: &Gateway, admitted: &Value) -> Vec<Value> {
    let done = rpc(
        gw,
        "agent.wait",
        json!({"runId": admitted["runId"], "timeoutMs": 15000}),
    )
    .await;
    assert_eq!(done["status"], "ok", "{done}");
    let hist = rpc(
        gw,
        "chat.history",
        json!({"sessionKey": admitted["sessionKey"]}),
    )
    .await;
    hist["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn hooks_allowed_agent_ids_admit_listed_agents_and_refuse_others() {
    let mock = mock().await;
    let gw = gateway(
        &mock,
        "mock/m1",
        &format!(r#"hooks: {{ enabled: true, token: "{HOOK}", allowedAgentIds: ["main"] }},"#),
    );
    // The listed agent (explicitly, and as the default) is admitted and runs.
    let (code, v) = hook(
        &gw,
        "agent",
        json!({"message": "for main", "agentId": "main"}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert!(
        v["sessionKey"]
            .as_str()
            .unwrap()
            .starts_with("agent:main:hook:"),
        "{v}"
    );
    let msgs = finished_history(&gw, &v).await;
    assert_eq!(
        msgs.last().unwrap()["content"],
        "echo: for main",
        "{msgs:?}"
    );
    let (code, v) = hook(&gw, "agent", json!({"message": "default agent"})).await;
    assert_eq!(code, 200, "{v}");
    let (code, v) = hook(&gw, "wake", json!({"text": "wake main", "agentId": "main"})).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["sessionKey"], "agent:main:main", "{v}");
    // A configured agent that is not listed is refused, on both hooks, and nothing runs.
    let (code, v) = hook(
        &gw,
        "agent",
        json!({"message": "for other", "agentId": "other"}),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("hooks.allowedAgentIds"),
        "{v}"
    );
    let (code, v) = hook(
        &gw,
        "wake",
        json!({"text": "wake other", "agentId": "other"}),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("hooks.allowedAgentIds"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sessions = rpc(&gw, "sessions.list", json!({})).await.to_string();
    assert!(!sessions.contains("agent:other:"), "{sessions}");

    // Without the list, any configured agent may be targeted.
    let open = gateway(
        &mock,
        "mock/m1",
        &format!(r#"hooks: {{ enabled: true, token: "{HOOK}" }},"#),
    );
    let (code, v) = hook(
        &open,
        "agent",
        json!({"message": "for other", "agentId": "other"}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert!(
        v["sessionKey"]
            .as_str()
            .unwrap()
            .starts_with("agent:other:hook:"),
        "{v}"
    );
    let msgs = finished_history(&open, &v).await;
    assert_eq!(
        msgs.last().unwrap()["content"],
        "echo: for other",
        "{msgs:?}"
    );

    // `*` in the list admits every agent too.
    let star = gateway(
        &mock,
        "mock/m1",
        &format!(r#"hooks: {{ enabled: true, token: "{HOOK}", allowedAgentIds: ["*"] }},"#),
    );
    let (code, v) = hook(
        &star,
        "wake",
        json!({"text": "wake other", "agentId": "other"}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["sessionKey"], "agent:other:main", "{v}");
}

#[tokio::test]
async fn hooks_session_key_needs_allow_request_session_key() {
    let mock = mock().await;
    // Default: callers may not choose the session; each delivery is isolated.
    let gw = gateway(
        &mock,
        "mock/m1",
        &format!(r#"hooks: {{ enabled: true, token: "{HOOK}" }},"#),
    );
    let (code, v) = hook(
        &gw,
        "agent",
        json!({"message": "pick", "sessionKey": "hook:mine"}),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("hooks.allowRequestSessionKey"),
        "{v}"
    );
    let (code, a) = hook(&gw, "agent", json!({"message": "one"})).await;
    assert_eq!(code, 200, "{a}");
    let (code, b) = hook(&gw, "agent", json!({"message": "two"})).await;
    assert_eq!(code, 200, "{b}");
    assert_ne!(
        a["sessionKey"], b["sessionKey"],
        "deliveries share a session"
    );

    // Allowed: the caller's key is used (scoped to the agent), and a second delivery to the
    // same key continues the same conversation.
    let gw = gateway(
        &mock,
        "mock/m1",
        &format!(r#"hooks: {{ enabled: true, token: "{HOOK}", allowRequestSessionKey: true }},"#),
    );
    let (code, v) = hook(
        &gw,
        "agent",
        json!({"message": "one", "sessionKey": "inbox"}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["sessionKey"], "agent:main:inbox", "{v}");
    finished_history(&gw, &v).await;
    let (code, v) = hook(
        &gw,
        "agent",
        json!({"message": "two", "sessionKey": "inbox"}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let msgs = finished_history(&gw, &v).await;
    let users: Vec<&str> = msgs
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(users, ["one", "two"], "{msgs:?}");
    // A full key of another agent is refused.
    let (code, v) = hook(
        &gw,
        "agent",
        json!({"message": "x", "sessionKey": "agent:other:inbox"}),
    )
    .await;
    assert_eq!(code, 400, "{v}");
}

#[tokio::test]
async fn hooks_session_key_prefixes_restrict_caller_keys() {
    let mock = mock().await;
    let gw = gateway(
        &mock,
        "mock/m1",
        &format!(
            r#"hooks: {{ enabled: true, token: "{HOOK}", allowRequestSessionKey: true,
                        allowedSessionKeyPrefixes: ["hook:", "mail-"] }},"#
        ),
    );
    for key in ["hook:abc", "mail-42"] {
        let (code, v) = hook(&gw, "agent", json!({"message": "ok", "sessionKey": key})).await;
        assert_eq!(code, 200, "{key}: {v}");
        assert_eq!(v["sessionKey"], format!("agent:main:{key}"), "{v}");
        finished_history(&gw, &v).await;
    }
    for key in ["other:abc", "mail", "xhook:abc"] {
        let (code, v) = hook(&gw, "agent", json!({"message": "no", "sessionKey": key})).await;
        assert_eq!(code, 400, "{key}: {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("hooks.allowedSessionKeyPrefixes"),
            "{key}: {v}"
        );
    }
    // Without a sessionKey the isolated default still works under a prefix list.
    let (code, v) = hook(&gw, "agent", json!({"message": "none"})).await;
    assert_eq!(code, 200, "{v}");
}

// ---------------------------------------------------------------------------------------
// tool_calls through /v1/chat/completions

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    }}])
}

async fn chat(gw: &Gateway, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn chat_completions_pass_tool_calls_through_non_streaming() {
    let mock = mock().await;
    // `tool` makes the stand-in answer with a call of the first declared tool.
    let gw = gateway(&mock, "mock/tool", "");
    let r = chat(
        &gw,
        json!({"model": "openclaw", "tools": weather_tool(),
               "messages": [{"role": "user", "content": "weather in Oslo"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{v}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function", "{v}");
    assert!(call["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert_eq!(call["function"]["name"], "get_weather", "{v}");
    let args = call["function"]["arguments"]
        .as_str()
        .expect("arguments is a JSON string");
    let args: Value = serde_json::from_str(args).unwrap();
    assert_eq!(args, json!({"query": "weather in Oslo"}));
    assert_eq!(choice["message"]["tool_calls"].as_array().unwrap().len(), 1);
    // The provider was offered the client's tool.
    let sent = mock.requests();
    let tools = &sent.last().unwrap()["tools"];
    assert_eq!(tools[0]["function"]["name"], "get_weather", "{tools}");

    // The client runs the tool and sends the result back: the model answers in text.
    let id = call["id"].as_str().unwrap();
    let r = chat(
        &gw,
        json!({"model": "openclaw", "tools": weather_tool(), "messages": [
            {"role": "user", "content": "weather in Oslo"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": id, "content": "sunny, 21C"},
        ]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    assert!(
        v["choices"][0]["message"].get("tool_calls").is_none(),
        "{v}"
    );
    // The stand-in quotes the tool result it was given, proving it reached the model.
    assert_eq!(
        v["choices"][0]["message"]["content"],
        format!("tool results: {id}=sunny, 21C"),
        "{v}"
    );
}

#[tokio::test]
async fn chat_completions_stream_tool_call_pieces() {
    let mock = mock().await;
    let gw = gateway(&mock, "mock/tool", "");
    let r = chat(
        &gw,
        json!({"model": "openclaw", "stream": true, "tools": weather_tool(),
               "messages": [{"role": "user", "content": "weather in Bergen today"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let mut body = String::new();
    let mut stream = r.bytes_stream();
    while let Some(b) = stream.next().await {
        body.push_str(&String::from_utf8_lossy(&b.unwrap()));
    }
    let chunks: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    let pieces: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert!(
        pieces.len() >= 2,
        "expected the arguments in several pieces: {body}"
    );
    // The first piece names the call; every piece is for call index 0.
    let first = pieces[0];
    assert_eq!(first["type"], "function", "{body}");
    assert!(
        first["id"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    assert_eq!(first["function"]["name"], "get_weather", "{body}");
    assert!(pieces.iter().all(|p| p["index"] == 0), "{body}");
    let args: String = pieces
        .iter()
        .filter_map(|p| p["function"]["arguments"].as_str())
        .collect();
    let args: Value = serde_json::from_str(&args).unwrap_or_else(|e| panic!("{e}: {args}"));
    assert_eq!(args, json!({"query": "weather in Bergen today"}));
    let finishes: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("tool_calls")], "{body}");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
}

// ---------------------------------------------------------------------------------------
// implicit providers

/// `openai/…` and `anthropic/…` need no `models.providers` entry. Their base URLs are fixed
/// (`https://api.openai.com/v1`, `https://api.anthropic.com`) with no override, so a run
/// cannot be pointed at the stand-in; what is checked here is that the gateway accepts
/// them (with keys from the environment) while an unknown provider is refused.
#[tokio::test]
async fn implicit_providers_need_no_models_entry() {
    for model in ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"] {
        let cfg = format!(
            r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
                 agents: {{ defaults: {{ model: "{model}" }} }} }}"#
        );
        let gw = start(
            Spec::default()
                .config(&cfg)
                .env("OPENAI_API_KEY", "sk-test-openai-key")
                .env("ANTHROPIC_API_KEY", "sk-ant-test-key"),
        );
        let agents = rpc(&gw, "agents.list", json!({})).await;
        assert_eq!(agents["agents"][0]["model"]["primary"], model, "{agents}");
        assert!(
            !gw.output().contains("sk-test-openai-key"),
            "{}",
            gw.output()
        );
        assert!(!gw.output().contains("sk-ant-test-key"), "{}", gw.output());
    }
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
             agents: {{ defaults: {{ model: "nosuchprovider/x" }} }} }}"#
    );
    let (status, out) = run_to_exit(Spec::default().config(&cfg), &["--port", "0"]);
    assert!(!status.success(), "{out}");
    assert!(out.contains("nosuchprovider"), "{out}");
}

// ---------------------------------------------------------------------------------------
// the dev port

/// `openclaw gateway --dev` without `--port` listens on 19001. Skipped locally when 19001
/// is taken (another gateway on this machine); a failure under `CI=true`.
#[test]
fn dev_gateway_listens_on_19001_without_port() {
    const DEV_PORT: u16 = 19001;
    let taken = |why: String| {
        let msg = format!("port {DEV_PORT} is not free ({why}); cannot test the dev default port");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("skipping: {msg}");
    };
    if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", DEV_PORT)) {
        return taken(e.to_string());
    }
    let spec = Spec {
        args: vec!["--dev".into()],
        port_zero: false,
        ..Spec::default()
    };
    // Someone else may grab the port between the check and the start (other test runs on
    // this machine): that is "taken" too, not a failure of the feature.
    let gw = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| start(spec))) {
        Ok(gw) => gw,
        Err(e) if std::net::TcpListener::bind(("127.0.0.1", DEV_PORT)).is_err() => {
            let why = e
                .downcast_ref::<String>()
                .map_or("taken during the start", |s| s.as_str())
                .to_owned();
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                std::panic::resume_unwind(e);
            }
            return taken(why);
        }
        Err(e) => std::panic::resume_unwind(e),
    };
    assert_eq!(gw.port, DEV_PORT, "{}", gw.output());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (code, _, body) = rt.block_on(http_get(DEV_PORT, "/healthz"));
    assert_eq!(code, 200, "{body}");
}
