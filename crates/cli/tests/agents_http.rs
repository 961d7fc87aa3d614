//! The OpenAI-compatible HTTP API, driven by a real OpenAI client library (`async-openai`)
//! against the gateway binary, with the stand-in provider behind it.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, ChatCompletionStreamOptions,
    CreateChatCompletionRequestArgs,
};
use common::*;
use futures_util::StreamExt;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::{Value, json};

const TOKEN: &str = "http-api-token-abcdef123";

/// Config with the chat endpoints on and `models`/`agents` sections given.
fn config(providers: &str, agents: &str) -> String {
    format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }}, responses: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ {providers} }} }},
          agents: {{ {agents} }},
        }}"#
    )
}

async fn setup(model: &str) -> (Gateway, MockServer) {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = config(
        &format!(
            r#"mock: {{ baseUrl: "{}", api: "openai-completions" }},
               anth: {{ baseUrl: "{}", api: "anthropic-messages" }},
               resp: {{ baseUrl: "{}", api: "openai-responses" }}"#,
            mock.openai_base_url(),
            mock.base_url(),
            mock.openai_base_url()
        ),
        &format!(
            r#"defaults: {{ model: "{model}", embeddings: {{ model: "mock/embed-small" }} }}"#
        ),
    );
    (start(Spec::default().config(&cfg)), mock)
}

fn client(gw: &Gateway) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("http://127.0.0.1:{}/v1", gw.port))
            .with_api_key(TOKEN),
    )
}

fn user(text: &str) -> async_openai::types::chat::ChatCompletionRequestMessage {
    ChatCompletionRequestUserMessageArgs::default()
        .content(text)
        .build()
        .unwrap()
        .into()
}

#[tokio::test]
async fn models_list_and_get() {
    let (gw, _mock) = setup("mock/m1").await;
    let c = client(&gw);
    let list = c.models().list().await.unwrap();
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["openclaw", "openclaw/default", "openclaw/main"]);
    assert!(list.data.iter().all(|m| m.owned_by == "openclaw"));
    let m = c.models().retrieve("openclaw/main").await.unwrap();
    assert_eq!(m.id, "openclaw/main");
    let http = reqwest::Client::new();
    let r = http
        .get(gw.http("/v1/models/openclaw%2Fdefault"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(gw.http("/v1/models/gpt-4"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn chat_completion_non_streaming_through_each_api() {
    for model in ["mock/m1", "anth/claude-x", "resp/r1"] {
        let (gw, mock) = setup(model).await;
        let req = CreateChatCompletionRequestArgs::default()
            .model("openclaw")
            .messages(vec![user("hello gateway")])
            .build()
            .unwrap();
        let res = client(&gw).chat().create(req).await.unwrap();
        assert_eq!(
            res.choices[0].message.content.as_deref(),
            Some("echo: hello gateway"),
            "{model}"
        );
        assert_eq!(res.model, "openclaw");
        let usage = res.usage.unwrap();
        assert!(usage.completion_tokens > 0, "{model}");
        assert_eq!(mock.stats.requests.load(Ordering::Relaxed), 1);
    }
}

#[tokio::test]
async fn chat_completion_streaming_with_usage() {
    let (gw, _mock) = setup("mock/m1").await;
    let req = CreateChatCompletionRequestArgs::default()
        .model("openclaw/default")
        .messages(vec![user("stream this please")])
        .stream(true)
        .stream_options(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        })
        .build()
        .unwrap();
    let mut stream = client(&gw).chat().create_stream(req).await.unwrap();
    let mut text = String::new();
    let mut chunks = 0;
    let mut usage = None;
    let mut finish = None;
    while let Some(item) = stream.next().await {
        let chunk = item.unwrap();
        chunks += 1;
        if let Some(u) = chunk.usage {
            usage = Some(u);
        }
        for choice in chunk.choices {
            if let Some(t) = choice.delta.content {
                text.push_str(&t);
            }
            if choice.finish_reason.is_some() {
                finish = choice.finish_reason;
            }
        }
    }
    assert_eq!(text, "echo: stream this please");
    assert!(chunks >= 5, "expected several chunks, got {chunks}");
    assert!(finish.is_some());
    assert!(usage.unwrap().total_tokens > 0);
}

#[tokio::test]
async fn sse_headers_and_done_marker() {
    let (gw, _mock) = setup("mock/m1").await;
    let r = reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let body = r.text().await.unwrap();
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
}

#[tokio::test]
async fn keepalive_pings_while_provider_is_silent() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = config(
        &format!(
            r#"mock: {{ baseUrl: "{}", api: "openai-completions" }}"#,
            mock.openai_base_url()
        ),
        r#"defaults: { model: "mock/mock-slow-400+chunkdelay-400" }"#,
    );
    let gw = start(
        Spec::default()
            .config(&cfg)
            .env("OPENCLAW_SSE_KEEPALIVE_MS", "100"),
    );
    let r = reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "stream": true, "messages": [{"role": "user", "content": "a b"}]}))
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains(": ping"), "{body}");
    assert!(body.contains("echo"), "{body}");
}

#[tokio::test]
async fn responses_api_non_streaming_and_streaming() {
    use async_openai::types::responses::{CreateResponseArgs, ResponseStreamEvent};
    let (gw, _mock) = setup("mock/m1").await;
    let c = client(&gw);
    let req = CreateResponseArgs::default()
        .model("openclaw")
        .input("respond to me")
        .instructions("be brief")
        .build()
        .unwrap();
    let res = c.responses().create(req).await.unwrap();
    assert_eq!(res.output_text().as_deref(), Some("echo: respond to me"));

    let req = CreateResponseArgs::default()
        .model("openclaw")
        .input("stream me")
        .stream(true)
        .build()
        .unwrap();
    let mut stream = c.responses().create_stream(req).await.unwrap();
    let mut text = String::new();
    let mut kinds = Vec::new();
    while let Some(ev) = stream.next().await {
        let ev = ev.unwrap();
        match &ev {
            ResponseStreamEvent::ResponseOutputTextDelta(d) => text.push_str(&d.delta),
            ResponseStreamEvent::ResponseCompleted(_) => kinds.push("completed"),
            ResponseStreamEvent::ResponseCreated(_) => kinds.push("created"),
            _ => {}
        }
    }
    assert_eq!(text, "echo: stream me");
    assert_eq!(kinds, ["created", "completed"]);
}

#[tokio::test]
async fn embeddings_through_agent_and_override() {
    use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
    let (gw, mock) = setup("mock/m1").await;
    let req = CreateEmbeddingRequestArgs::default()
        .model("openclaw")
        .input(vec!["alpha", "beta"])
        .build()
        .unwrap();
    let res = client(&gw).embeddings().create(req).await.unwrap();
    assert_eq!(res.data.len(), 2);
    assert_eq!(res.data[0].embedding.len(), 8);
    assert_ne!(res.data[0].embedding, res.data[1].embedding);
    assert_eq!(mock.requests().last().unwrap()["model"], "embed-small");

    let c = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("http://127.0.0.1:{}/v1", gw.port))
            .with_api_key(TOKEN)
            .with_header("x-openclaw-model", "mock/other-embed")
            .unwrap(),
    );
    let req = CreateEmbeddingRequestArgs::default()
        .model("openclaw")
        .input("gamma")
        .build()
        .unwrap();
    c.embeddings().create(req).await.unwrap();
    assert_eq!(mock.requests().last().unwrap()["model"], "other-embed");
}

#[tokio::test]
async fn falls_back_on_500_and_on_timeout() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = config(
        &format!(
            r#"mock: {{ baseUrl: "{b}", api: "openai-completions" }},
               slow: {{ baseUrl: "{b}", api: "openai-completions", timeoutMs: 300 }}"#,
            b = mock.openai_base_url()
        ),
        r#"defaults: { model: { primary: "mock/mock-fail-500", fallbacks: ["slow/mock-slow-3000", "mock/good"] } }"#,
    );
    let gw = start(Spec::default().config(&cfg));
    let started = Instant::now();
    let req = CreateChatCompletionRequestArgs::default()
        .model("openclaw")
        .user("fallback-test")
        .messages(vec![user("are you there")])
        .build()
        .unwrap();
    let res = client(&gw).chat().create(req).await.unwrap();
    assert_eq!(
        res.choices[0].message.content.as_deref(),
        Some("echo: are you there")
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "timeout fallback too slow"
    );
    let models: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(models, ["mock-fail-500", "mock-slow-3000", "good"]);
    // The transcript records which provider/model answered.
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    let r = call(
        &mut ws,
        "h",
        "chat.history",
        json!({"sessionKey": "agent:main:openai-user:fallback-test"}),
    )
    .await;
    let msgs = r["payload"]["messages"].as_array().unwrap();
    assert_eq!(msgs.last().unwrap()["model"], "good");
}

#[tokio::test]
async fn all_providers_down_is_a_clean_5xx_and_gateway_stays_healthy() {
    let cfg = config(
        r#"dead: { baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions" }"#,
        r#"defaults: { model: { primary: "dead/a", fallbacks: ["dead/b"] } }"#,
    );
    let gw = start(Spec::default().config(&cfg));
    let http = reqwest::Client::new();
    for stream in [false, true] {
        let r = http
            .post(gw.http("/v1/chat/completions"))
            .bearer_auth(TOKEN)
            .json(&json!({"model": "openclaw", "stream": stream, "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502, "stream={stream}");
        let v: Value = r.json().await.unwrap();
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("all models failed") && msg.contains("dead/a") && msg.contains("dead/b"),
            "{msg}"
        );
    }
    let (status, _, body) = http_get(gw.port, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let r = http
        .get(gw.http("/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn client_disconnect_cancels_upstream() {
    let (gw, mock) = setup("mock/mock-chunkdelay-200").await;
    let r = reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "stream": true,
                      "messages": [{"role": "user", "content": "one two three four five six seven eight"}]}))
        .send()
        .await
        .unwrap();
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while mock.stats.cancelled.load(Ordering::Relaxed) == 0 {
        assert!(
            Instant::now() < deadline,
            "upstream request was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mock.stats.completed.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn error_statuses() {
    let (gw, _mock) = setup("mock/m1").await;
    let http = reqwest::Client::new();
    let url = gw.http("/v1/chat/completions");
    let post = |body: Value| http.post(&url).bearer_auth(TOKEN).json(&body).send();

    let r = post(json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`."
    );

    let r = post(json!({"model": "openclaw", "messages": [{"role": "system", "content": "x"}]}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Missing user message in `messages`.");

    let r = post(json!({"model": "openclaw", "temperature": 5, "messages": [{"role": "user", "content": "x"}]})).await.unwrap();
    assert_eq!(r.status(), 400);

    let r = http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");

    let r = http.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "Unauthorized", "type": "unauthorized"}})
    );
    let r = http
        .post(&url)
        .bearer_auth("wrong")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 405);

    let big = "x".repeat(21 * 1024 * 1024);
    let r = http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn endpoints_are_off_by_default() {
    let gw = start(Spec::token(TOKEN));
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/responses"),
        ("POST", "/v1/embeddings"),
    ] {
        let r = http
            .request(method.parse().unwrap(), gw.http(path))
            .bearer_auth(TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn http_auth_failures_are_rate_limited_with_retry_after() {
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}", rateLimit: {{ maxAttempts: 2, exemptLoopback: false }} }},
             http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }} }}"#
    );
    let gw = start(Spec::default().config(&cfg));
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let r = http
            .get(gw.http("/v1/models"))
            .bearer_auth("bad")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = http
        .get(gw.http("/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 200, "{retry}");
}

#[tokio::test]
async fn transcripts_survive_kill_9_between_turns() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = config(
        &format!(
            r#"mock: {{ baseUrl: "{}", api: "openai-completions" }}"#,
            mock.openai_base_url()
        ),
        r#"defaults: { model: "mock/m1" }"#,
    );
    let dir = TempDir::new("kill9");
    let turn = |gw: &Gateway, text: &str| {
        let c = client(gw);
        let req = CreateChatCompletionRequestArgs::default()
            .model("openclaw")
            .user("durable")
            .messages(vec![user(text)])
            .build()
            .unwrap();
        async move { c.chat().create(req).await.unwrap() }
    };
    let mut gw = start(Spec::default().config(&cfg).state(dir.path()));
    turn(&gw, "turn one").await;
    turn(&gw, "turn two").await;
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5));
    // A torn line, as a crash in the middle of a write would leave.
    let file = dir.path().join("agents/main/sessions");
    let transcript = std::fs::read_dir(&file)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
        .unwrap()
        .path();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"ts\":1,\"role\":\"us").unwrap();
    drop(f);

    let gw = start(Spec::default().config(&cfg).state(dir.path()));
    turn(&gw, "turn three").await;
    let last = mock.requests().last().cloned().unwrap();
    let sent: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        sent,
        [
            "turn one",
            "echo: turn one",
            "turn two",
            "echo: turn two",
            "turn three"
        ]
    );
}

#[tokio::test]
async fn tools_invoke_policy() {
    let (gw, _mock) = setup("mock/m1").await;
    let http = reqwest::Client::new();
    let invoke = |body: Value| {
        http.post(gw.http("/tools/invoke"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let r = invoke(json!({"tool": "agents_list"})).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["result"]["defaultId"], "main");
    let r = invoke(json!({"tool": "session_status", "sessionKey": "agent:main:main"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for tool in ["exec", "no_such_tool"] {
        let r = invoke(json!({"tool": tool})).await.unwrap();
        assert_eq!(r.status(), 404);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v,
            json!({"ok": false, "error": {"type": "not_found", "message": format!("Tool not available: {tool}")}})
        );
    }
    let r = invoke(json!({"args": {}})).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(gw.http("/tools/invoke"))
        .json(&json!({"tool": "agents_list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(gw.http("/tools/invoke"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("y".repeat(3 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn tools_invoke_config_allow_and_deny() {
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }}, tools: {{ deny: ["models_list"] }} }} }}"#
    );
    let gw = start(Spec::default().config(&cfg));
    let http = reqwest::Client::new();
    let r = http
        .post(gw.http("/tools/invoke"))
        .bearer_auth(TOKEN)
        .json(&json!({"tool": "models_list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(gw.http("/tools/invoke"))
        .bearer_auth(TOKEN)
        .json(&json!({"tool": "sessions_list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn short_retry_after_is_waited_out_on_the_same_model() {
    let (gw, mock) = setup("mock/mock-failfirst-429").await;
    let started = Instant::now();
    let req = CreateChatCompletionRequestArgs::default()
        .model("openclaw")
        .messages(vec![user("retry me")])
        .build()
        .unwrap();
    let res = client(&gw).chat().create(req).await.unwrap();
    assert_eq!(
        res.choices[0].message.content.as_deref(),
        Some("echo: retry me")
    );
    // The mock asked for Retry-After: 1, and the same model answered the second time.
    assert!(started.elapsed() >= Duration::from_millis(900));
    let models: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(models, ["mock-failfirst-429", "mock-failfirst-429"]);
}
