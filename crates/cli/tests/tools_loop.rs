//! The agent tool loop against the real binary, with the stand-in provider scripting the
//! model's tool calls (`[[tool NAME JSON]]` in the user message) on all three provider
//! APIs: files written and read in the workspace, a path escape refused, parallel calls,
//! `tool` agent events, the transcript, and a client's own tools still handed back.

mod common;

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::{Value, json};

const TOKEN: &str = "tools-loop-token-0123456789";

/// A gateway whose three agents answer through the mock with the three APIs:
/// `main` (OpenAI chat), `resp` (OpenAI responses), `anth` (Anthropic messages).
async fn gateway(extra: &str) -> (Gateway, MockServer) {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }}, http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
             models: {{ providers: {{
               chat: {{ baseUrl: "{o}", api: "openai-completions" }},
               resp: {{ baseUrl: "{o}", api: "openai-responses" }},
               anth: {{ baseUrl: "{a}", api: "anthropic-messages" }} }} }},
             agents: {{ defaults: {{ model: "chat/m" }},
               list: [ {{ id: "main", default: true }},
                       {{ id: "resp", model: "resp/m" }},
                       {{ id: "anth", model: "anth/m" }} ] }},
             {extra} }}"#,
        o = mock.openai_base_url(),
        a = mock.base_url(),
    );
    (start(Spec::default().config(&cfg)), mock)
}

/// Sends `message` on `session` and collects the run: (final chat payload, agent `tool`
/// event data in order).
async fn turn(ws: &mut Ws, session: &str, message: &str, key: &str) -> (Value, Vec<Value>) {
    let r = call(
        ws,
        key,
        "chat.send",
        json!({"sessionKey": session, "message": message, "idempotencyKey": key}),
    )
    .await;
    assert_eq!(r["payload"]["status"], "started", "{r}");
    let run_id = r["payload"]["runId"].as_str().unwrap().to_owned();
    let mut tools = Vec::new();
    loop {
        let v = next_json(ws).await.expect("socket open");
        if v["type"] != "event" || v["payload"]["runId"] != run_id.as_str() {
            continue;
        }
        if v["event"] == "agent" && v["payload"]["stream"] == "tool" {
            tools.push(v["payload"]["data"].clone());
        }
        if v["event"] == "chat" && v["payload"]["state"] != "delta" {
            return (v["payload"].clone(), tools);
        }
    }
}

fn final_text(p: &Value) -> String {
    p["message"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn write_then_read_a_file_on_each_api() {
    let (gw, _mock) = gateway("").await;
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    for agent in ["main", "resp", "anth"] {
        let session = format!("agent:{agent}:files");
        let body = format!("hello from {agent}");
        let (fin, tools) = turn(
            &mut ws,
            &session,
            &format!(r#"[[tool write {{"path":"notes/{agent}.txt","content":"{body}"}}]]"#),
            &format!("w-{agent}"),
        )
        .await;
        assert_eq!(fin["state"], "final", "{agent}: {fin}");
        let text = final_text(&fin);
        assert!(text.starts_with("tool results: "), "{agent}: {text}");
        assert!(
            text.contains(&format!("wrote {} bytes to notes/{agent}.txt", body.len())),
            "{agent}: {text}"
        );
        // start then result, with the call's name and arguments.
        assert_eq!(tools.len(), 2, "{agent}: {tools:?}");
        assert_eq!(tools[0]["phase"], "start");
        assert_eq!(tools[0]["name"], "write");
        assert_eq!(tools[0]["args"]["path"], format!("notes/{agent}.txt"));
        assert_eq!(tools[1]["phase"], "result");
        assert_eq!(tools[1]["isError"], false);
        assert_eq!(tools[0]["toolCallId"], tools[1]["toolCallId"]);

        // The file is in the agent's workspace under the state dir.
        let ws_dir = if agent == "main" {
            gw.state.join("workspace")
        } else {
            gw.state.join(format!("workspace-{agent}"))
        };
        assert_eq!(
            std::fs::read_to_string(ws_dir.join(format!("notes/{agent}.txt"))).unwrap(),
            body
        );

        let (fin, _) = turn(
            &mut ws,
            &session,
            &format!(r#"[[tool read {{"path":"notes/{agent}.txt"}}]]"#),
            &format!("r-{agent}"),
        )
        .await;
        assert!(
            final_text(&fin).ends_with(&format!("={body}")),
            "{agent}: {fin}"
        );

        // The transcript: user, assistant with the call, the tool's result, the answer.
        let h = call(&mut ws, "h", "chat.history", json!({"sessionKey": session})).await;
        let msgs = h["payload"]["messages"].as_array().unwrap();
        let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            [
                "user",
                "assistant",
                "tool",
                "assistant",
                "user",
                "assistant",
                "tool",
                "assistant"
            ],
            "{agent}: {h}"
        );
        assert_eq!(msgs[1]["toolCalls"][0]["name"], "write", "{agent}: {h}");
        assert_eq!(msgs[2]["toolName"], "write");
        assert_eq!(msgs[2]["toolCallId"], msgs[1]["toolCalls"][0]["id"]);
    }
}

#[tokio::test]
async fn escapes_are_refused_and_parallel_calls_all_run() {
    let (gw, _mock) = gateway("").await;
    let outside = gw.state.join("outside.txt");
    std::fs::write(&outside, "secret").unwrap();
    let ws_dir = gw.state.join("workspace");
    std::fs::create_dir_all(&ws_dir).unwrap();
    std::os::unix::fs::symlink(&outside, ws_dir.join("link.txt")).unwrap();
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    for (i, path) in ["../outside.txt", outside.to_str().unwrap(), "link.txt"]
        .iter()
        .enumerate()
    {
        let (fin, tools) = turn(
            &mut ws,
            "agent:main:esc",
            &format!(r#"[[tool read {{"path":"{path}"}}]]"#),
            &format!("esc-{i}"),
        )
        .await;
        let text = final_text(&fin);
        assert!(
            text.contains("leave the workspace") || text.contains("outside the workspace"),
            "{path}: {text}"
        );
        assert!(!text.contains("secret"), "{path}: {text}");
        assert_eq!(tools[1]["isError"], true, "{path}");
    }
    // A write through the symlink must not touch the file outside either.
    let (fin, _) = turn(
        &mut ws,
        "agent:main:esc",
        r#"[[tool write {"path":"link.txt","content":"pwned"}]]"#,
        "esc-w",
    )
    .await;
    let text = final_text(&fin);
    assert!(text.contains("refused path \"link.txt\""), "{text}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret");

    // Two calls in one answer: both run, both results reach the model.
    let (fin, tools) = turn(
        &mut ws,
        "agent:main:par",
        r#"[[tool write {"path":"a.txt","content":"A"}]] [[tool write {"path":"b.txt","content":"BB"}]]"#,
        "par",
    )
    .await;
    let text = final_text(&fin);
    assert!(
        text.contains("wrote 1 bytes to a.txt") && text.contains("wrote 2 bytes to b.txt"),
        "{text}"
    );
    assert_eq!(tools.iter().filter(|t| t["phase"] == "start").count(), 2);
    assert_eq!(std::fs::read_to_string(ws_dir.join("b.txt")).unwrap(), "BB");
}

#[tokio::test]
async fn openai_clients_get_their_own_tools_back_and_not_the_gateways() {
    let (gw, mock) = gateway("").await;
    let http = reqwest::Client::new();
    // The client declares `lookup`: the model's call goes back to the client.
    let r: Value = http
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "messages": [{"role": "user", "content": r#"[[tool lookup {"q":"cats"}]]"#}],
                      "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["choices"][0]["finish_reason"], "tool_calls", "{r}");
    assert_eq!(
        r["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
    // The gateway's tools were offered too, next to the client's.
    let sent = mock.requests();
    let names: Vec<&str> = sent.last().unwrap()["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"lookup") && names.contains(&"read"),
        "{names:?}"
    );

    // A gateway tool called over streaming HTTP runs in the gateway: the client sees no
    // tool-call chunks, only the answer that quotes the result.
    let body = http
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "stream": true,
                      "messages": [{"role": "user", "content": r#"[[tool write {"path":"s.txt","content":"xyz"}]]"#}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!body.contains("tool_calls"), "{body}");
    let text: String = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(text.contains("wrote 3 bytes to s.txt"), "{body}");
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
}

#[tokio::test]
async fn a_hot_reloaded_deny_blocks_the_next_exec_and_the_model_sees_why() {
    let (gw, mock) = gateway("").await;
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let (fin, _) = turn(
        &mut ws,
        "agent:main:ops",
        r#"[[tool exec {"command":"echo hi-from-exec"}]]"#,
        "e1",
    )
    .await;
    assert!(final_text(&fin).contains("hi-from-exec"), "{fin}");

    // The runbook's "stop the bleeding" step.
    let out = gw.cli(&["config", "set", "tools.deny", r#"["exec:*", "browser:*"]"#]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut n = 0;
    let text = loop {
        n += 1;
        let (fin, tools) = turn(
            &mut ws,
            "agent:main:ops",
            r#"[[tool exec {"command":"echo should-not-run"}]]"#,
            &format!("e2-{n}"),
        )
        .await;
        let text = final_text(&fin);
        if text.contains("denied") || std::time::Instant::now() > deadline {
            assert_eq!(tools.last().unwrap()["isError"], true, "{tools:?}");
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        text.contains(r#"denied by tools.deny ("exec:*")"#),
        "{text}"
    );
    assert!(!text.contains("should-not-run\n"), "{text}");
    // Nor is exec offered to the model any more.
    let last = mock.requests().pop().unwrap();
    let offered: Vec<&str> = last["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(
        !offered.contains(&"exec") && offered.contains(&"read"),
        "{offered:?}"
    );
}

#[tokio::test]
async fn the_message_tool_sends_through_a_channel() {
    let tg = openclaw_mock_telegram::spawn("123456:TOOL-bot-token")
        .await
        .unwrap();
    let (gw, _mock) = gateway(&format!(
        r#"channels: {{ telegram: {{ botToken: "123456:TOOL-bot-token", apiRoot: "{}", allowFrom: [42], pollTimeoutSeconds: 1 }} }}"#,
        tg.api_root()
    ))
    .await;
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The account connects in the background; the tool reports an error until then.
    let mut n = 0;
    let text = loop {
        n += 1;
        let (fin, _) = turn(
            &mut ws,
            "agent:main:msg",
            r#"[[tool message {"action":"send","channel":"telegram","to":"42","message":"hello from a tool"}]]"#,
            &format!("m-{n}"),
        )
        .await;
        let text = final_text(&fin);
        if text.contains("\"ok\":true") || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(text.contains("\"ok\":true"), "{text}");
    let sent = tg.sent_messages();
    assert!(
        sent.iter()
            .any(|m| m.to_string().contains("hello from a tool")),
        "{sent:?}"
    );
    let (fin, _) = turn(
        &mut ws,
        "agent:main:msg",
        r#"[[tool message {"action":"react","to":"42","message":"x"}]]"#,
        "m-react",
    )
    .await;
    assert!(final_text(&fin).contains("only \"send\""), "{fin}");
}

#[tokio::test]
async fn a_mixed_answer_goes_to_the_client_with_only_its_own_calls() {
    let (gw, _mock) = gateway("").await;
    let r: Value = reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw",
            "messages": [{"role": "user", "content": r#"[[tool client_lookup {"q":"x"}]] [[tool agents_list {}]]"#}],
            "tools": [{"type": "function", "function": {"name": "client_lookup", "parameters": {"type": "object"}}}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = r["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{r}");
    assert_eq!(calls[0]["function"]["name"], "client_lookup");
}
