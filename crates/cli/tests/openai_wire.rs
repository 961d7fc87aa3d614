//! The OpenAI wire format the gateway answers with, checked event by event against what
//! OpenAI itself sends: tool-only answers, the Responses event sequence for function calls,
//! one opening chunk after a fallback, and overload mapped to a retryable 503.

mod common;

use common::*;
use futures_util::StreamExt;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "wire-test-token-0123456789";

fn config(providers: &str, model: &str) -> String {
    format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }}, responses: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ {providers} }} }},
          agents: {{ defaults: {{ model: {model} }} }},
        }}"#
    )
}

async fn mock() -> MockServer {
    openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap()
}

fn with_mock(mock: &MockServer, model: &str) -> Gateway {
    let providers = format!(
        r#"mock: {{ baseUrl: "{}", api: "openai-completions" }},
           anth: {{ baseUrl: "{}", api: "anthropic-messages" }}"#,
        mock.openai_base_url(),
        mock.base_url()
    );
    start(Spec::default().config(&config(&providers, model)))
}

/// Function tools the client declares (and runs itself), in Chat format; the gateway
/// hands calls to these back instead of running them.
fn chat_tools(names: &[&str]) -> Value {
    names
        .iter()
        .map(|n| json!({"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}))
        .collect()
}

/// The same in Responses format.
fn responses_tools(names: &[&str]) -> Value {
    names
        .iter()
        .map(|n| json!({"type": "function", "name": n, "parameters": {"type": "object"}}))
        .collect()
}

async fn post(gw: &Gateway, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(gw.http(path))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `data:` payloads of an SSE body, as JSON (`[DONE]` left out).
async fn sse_json(r: reqwest::Response) -> Vec<Value> {
    assert_eq!(r.status(), 200);
    let mut body = String::new();
    let mut s = r.bytes_stream();
    while let Some(b) = s.next().await {
        body.push_str(&String::from_utf8_lossy(&b.unwrap()));
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect()
}

/// Serves `body` as a 200 event stream to every connection (a recorded upstream).
async fn canned_upstream(body: &'static str) -> String {
    canned_upstream_as(body, "text/event-stream").await
}

/// Serves `body` with a 200 and `content_type` to every connection.
async fn canned_upstream_as(body: &'static str, content_type: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 8192];
                // Headers, then the declared body, so closing does not reset the request.
                loop {
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(head.as_bytes()).await;
                // Small writes, so the gateway sees events split across reads.
                for piece in body.as_bytes().chunks(37) {
                    let _ = sock.write_all(piece).await;
                    let _ = sock.flush().await;
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn tool_only_chat_completion_has_null_content() {
    let mock = mock().await;
    let gw = with_mock(&mock, r#""mock/m1""#);
    let r = post(
        &gw,
        "/v1/chat/completions",
        json!({"model": "openclaw", "tools": chat_tools(&["client_lookup"]), "messages": [
            {"role": "user", "content": "[[tool client_lookup {\"q\":\"x\"}]]"}
        ]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    assert_eq!(msg["content"], Value::Null, "{v}");
    assert_eq!(msg["tool_calls"][0]["id"], "call_0", "{v}");
    assert_eq!(
        msg["tool_calls"][0]["function"]["arguments"],
        r#"{"q":"x"}"#
    );
}

/// Checks that every output item is added, streamed and done in order, at its own index,
/// and that `response.completed` lists exactly those items; returns the completed output.
fn check_responses_sequence(events: &[Value]) -> Vec<Value> {
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds[..2],
        ["response.created", "response.in_progress"],
        "{kinds:?}"
    );
    assert_eq!(*kinds.last().unwrap(), "response.completed", "{kinds:?}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], i + 1, "{kinds:?}");
    }
    let mut open: Option<(u64, Value)> = None;
    let mut done_items = Vec::new();
    let mut args = String::new();
    for e in &events[2..events.len() - 1] {
        let kind = e["type"].as_str().unwrap();
        match kind {
            "response.output_item.added" => {
                assert!(
                    open.is_none(),
                    "item added while another is open: {kinds:?}"
                );
                assert_eq!(e["output_index"], done_items.len(), "{kinds:?}");
                open = Some((e["output_index"].as_u64().unwrap(), e["item"].clone()));
                args.clear();
            }
            "response.output_item.done" => {
                let (at, added) = open.take().expect("done without added");
                assert_eq!(e["output_index"], at);
                assert_eq!(e["item"]["id"], added["id"]);
                assert_eq!(e["item"]["type"], added["type"]);
                assert_eq!(e["item"]["status"], "completed");
                if added["type"] == "function_call" {
                    assert_eq!(e["item"]["arguments"], args.as_str());
                }
                done_items.push(e["item"].clone());
            }
            "response.function_call_arguments.delta" => {
                let (at, item) = open.as_ref().expect("delta outside an item");
                assert_eq!(item["type"], "function_call");
                assert_eq!(e["output_index"], *at);
                assert_eq!(e["item_id"], item["id"]);
                args.push_str(e["delta"].as_str().unwrap());
            }
            "response.function_call_arguments.done" => {
                let (at, item) = open.as_ref().expect("done outside an item");
                assert_eq!(e["output_index"], *at);
                assert_eq!(e["item_id"], item["id"]);
                assert_eq!(e["arguments"], args.as_str());
            }
            "response.output_text.delta"
            | "response.output_text.done"
            | "response.content_part.added"
            | "response.content_part.done" => {
                let (at, item) = open.as_ref().expect("text outside an item");
                assert_eq!(item["type"], "message", "{kinds:?}");
                assert_eq!(e["output_index"], *at);
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert!(open.is_none(), "an item was never finished: {kinds:?}");
    let completed = events.last().unwrap()["response"]["output"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        completed, done_items,
        "response.completed lists the streamed items"
    );
    completed
}

#[tokio::test]
async fn responses_stream_of_a_tool_only_answer() {
    let mock = mock().await;
    let gw = with_mock(&mock, r#""mock/m1""#);
    let input = r#"[[tool client_a {"path":"a \"b\""}]] [[tool client_b]]"#;
    let events = sse_json(
        post(
            &gw,
            "/v1/responses",
            json!({"model": "openclaw", "input": input, "stream": true, "tools": responses_tools(&["client_a", "client_b"])}),
        )
        .await,
    )
    .await;
    let out = check_responses_sequence(&events);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out.iter().all(|i| i["type"] == "function_call"),
        "no message item: {out:?}"
    );
    assert_eq!(out[0]["call_id"], "call_0");
    assert_eq!(out[0]["name"], "client_a");
    assert_eq!(out[0]["arguments"], r#"{"path":"a \"b\""}"#);
    assert_eq!(out[1]["arguments"], "{}");
    let deltas = events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta" && e["output_index"] == 0)
        .count();
    assert!(
        deltas >= 3,
        "split arguments arrive as several deltas ({deltas})"
    );
}

/// An Anthropic stream with a thinking block, text, a ping and a tool call without input
/// (shapes as in Anthropic's streaming documentation).
const TEXT_THEN_TOOL: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-x\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"The user wants the time.\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3h\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check \"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"the clock.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"client_clock\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":30}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

#[tokio::test]
async fn responses_stream_of_text_then_tool_call_and_empty_anthropic_input() {
    let base = canned_upstream(TEXT_THEN_TOOL).await;
    let providers = format!(r#"rec: {{ baseUrl: "{base}/v1", api: "anthropic-messages" }}"#);
    let gw = start(Spec::default().config(&config(&providers, r#""rec/claude-x""#)));
    let events = sse_json(
        post(
            &gw,
            "/v1/responses",
            json!({"model": "openclaw", "input": "what time is it", "stream": true, "tools": responses_tools(&["client_clock"])}),
        )
        .await,
    )
    .await;
    let out = check_responses_sequence(&events);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["type"], "message");
    assert_eq!(out[0]["content"][0]["text"], "Let me check the clock.");
    assert_eq!(out[1]["type"], "function_call");
    assert_eq!(out[1]["call_id"], "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(out[1]["arguments"], "{}", "empty input is {{}}, never \"\"");

    // The same recording through chat completions, both ways: arguments `{}`.
    let v: Value = post(
        &gw,
        "/v1/chat/completions",
        json!({"model": "openclaw", "tools": chat_tools(&["client_clock"]), "messages": [{"role": "user", "content": "time?"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], "Let me check the clock.", "{v}");
    assert_eq!(msg["tool_calls"][0]["function"]["arguments"], "{}", "{v}");
    let chunks = sse_json(
        post(
            &gw,
            "/v1/chat/completions",
            json!({"model": "openclaw", "stream": true, "tools": chat_tools(&["client_clock"]), "messages": [{"role": "user", "content": "time?"}]}),
        )
        .await,
    )
    .await;
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, "{}");
}

/// An upstream that accepts the request and then reports overload in-stream, before any
/// output: the run falls back, and the client sees one opening chunk, not two.
const OVERLOADED_IN_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
);

#[tokio::test]
async fn fallback_sends_the_opening_chunk_once() {
    let mock = mock().await;
    let base = canned_upstream(OVERLOADED_IN_STREAM).await;
    let providers = format!(
        r#"busy: {{ baseUrl: "{base}", api: "anthropic-messages" }},
           mock: {{ baseUrl: "{}", api: "openai-completions" }}"#,
        mock.openai_base_url()
    );
    let gw = start(Spec::default().config(&config(
        &providers,
        r#"{ primary: "busy/claude-x", fallbacks: ["mock/good"] }"#,
    )));
    let chunks = sse_json(
        post(
            &gw,
            "/v1/chat/completions",
            json!({"model": "openclaw", "stream": true, "messages": [{"role": "user", "content": "hello"}]}),
        )
        .await,
    )
    .await;
    let roles = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"]["role"] == "assistant")
        .count();
    assert_eq!(roles, 1, "{chunks:?}");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: hello");

    let events = sse_json(
        post(
            &gw,
            "/v1/responses",
            json!({"model": "openclaw", "input": "hello", "stream": true}),
        )
        .await,
    )
    .await;
    let created = events
        .iter()
        .filter(|e| e["type"] == "response.created")
        .count();
    assert_eq!(created, 1);
    check_responses_sequence(&events);
}

#[tokio::test]
async fn overload_is_a_retryable_503_like_429_is_a_429() {
    let mock = mock().await;
    for (model, status, retry) in [
        ("mock/mock-fail-529+retry-7", 503, Some("7")),
        ("anth/mock-fail-529", 503, None),
        // Retry-After values past the runner's own wait-and-retry bound, so the answer is
        // the error itself, not a late stream.
        ("mock/mock-fail-503+retry-9", 503, Some("9")),
        ("mock/mock-fail-429+retry-4", 429, Some("4")),
    ] {
        let gw = with_mock(&mock, &format!("{model:?}"));
        for stream in [false, true] {
            let r = post(
                &gw,
                "/v1/chat/completions",
                json!({"model": "openclaw", "stream": stream, "messages": [{"role": "user", "content": "x"}]}),
            )
            .await;
            assert_eq!(r.status(), status, "{model} stream={stream}");
            assert_eq!(
                r.headers().get("retry-after").map(|v| v.to_str().unwrap()),
                retry,
                "{model} stream={stream}"
            );
            let v: Value = r.json().await.unwrap();
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("all models failed"),
                "{v}"
            );
        }
    }
    // Overload reported in-stream (Anthropic's `error` event) before any output: the same.
    let base = canned_upstream(OVERLOADED_IN_STREAM).await;
    let providers = format!(r#"busy: {{ baseUrl: "{base}", api: "anthropic-messages" }}"#);
    let gw = start(Spec::default().config(&config(&providers, r#""busy/claude-x""#)));
    for stream in [false, true] {
        let r = post(
            &gw,
            "/v1/chat/completions",
            json!({"model": "openclaw", "stream": stream, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
        assert_eq!(r.status(), 503, "in-stream overload, stream={stream}");
    }
    // And overload is retryable: the fallback answers.
    let gw = with_mock(
        &mock,
        r#"{ primary: "anth/mock-fail-529", fallbacks: ["mock/ok"] }"#,
    );
    let v: Value = post(
        &gw,
        "/v1/chat/completions",
        json!({"model": "openclaw", "messages": [{"role": "user", "content": "still there"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"], "echo: still there",
        "{v}"
    );
}

/// A local OpenAI-compatible server that answers `stream: true` with one whole JSON
/// completion: the streaming client still gets a proper chunk stream, tool call included.
#[tokio::test]
async fn whole_json_answer_to_a_stream_request_is_streamed_on() {
    const BODY: &str = r#"{"id":"chatcmpl-local","object":"chat.completion","created":1,"model":"local","choices":[{"index":0,"message":{"role":"assistant","content":"Reading it.","tool_calls":[{"id":"call_l1","type":"function","function":{"name":"client_read","arguments":"{\"path\":\"a\"}"}},{"id":"call_l2","type":"function","function":{"name":"client_ls","arguments":""}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}"#;
    let base = canned_upstream_as(BODY, "application/json").await;
    let providers = format!(r#"local: {{ baseUrl: "{base}/v1", api: "openai-completions" }}"#);
    let gw = start(Spec::default().config(&config(&providers, r#""local/m""#)));
    let chunks = sse_json(
        post(
            &gw,
            "/v1/chat/completions",
            json!({"model": "openclaw", "stream": true, "stream_options": {"include_usage": true}, "tools": chat_tools(&["client_read", "client_ls"]),
                   "messages": [{"role": "user", "content": "read a"}]}),
        )
        .await,
    )
    .await;
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Reading it.");
    let mut args = [String::new(), String::new()];
    for c in &chunks {
        if let Some(tc) = c["choices"][0]["delta"]["tool_calls"].get(0) {
            let i = tc["index"].as_u64().unwrap() as usize;
            args[i].push_str(tc["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    // The second call came without arguments: clients get `{}`, never "".
    assert_eq!(args, [r#"{"path":"a"}"#.to_owned(), "{}".to_owned()]);
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("tool_calls")]);
    let usage = chunks
        .iter()
        .find(|c| c["usage"].is_object())
        .expect("usage chunk");
    assert_eq!(usage["usage"]["prompt_tokens"], 7);

    // And the same answer non-streaming: arguments `{}` there too.
    let v: Value = post(
        &gw,
        "/v1/chat/completions",
        json!({"model": "openclaw", "tools": chat_tools(&["client_read", "client_ls"]), "messages": [{"role": "user", "content": "read a"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let calls = &v["choices"][0]["message"]["tool_calls"];
    assert_eq!(calls[1]["function"]["arguments"], "{}", "{v}");
}

/// A Responses client sends back the two parallel calls of one answer and their outputs:
/// upstream they must form one assistant turn with both calls, then both results, or a
/// real provider refuses the history.
#[tokio::test]
async fn responses_input_with_parallel_calls_is_one_assistant_turn() {
    let mock = mock().await;
    let gw = with_mock(&mock, r#""mock/m1""#);
    let input = json!([
        {"role": "user", "content": "[[tool client_a]] [[tool client_b]]"},
        {"type": "function_call", "call_id": "call_0", "name": "client_a", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_1", "name": "client_b", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_0", "output": "A"},
        {"type": "function_call_output", "call_id": "call_1", "output": "B"}
    ]);
    let r = post(
        &gw,
        "/v1/responses",
        json!({"model": "openclaw", "input": input}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["output"][0]["content"][0]["text"], "tool results: call_0=A; call_1=B",
        "{v}"
    );
    let sent = mock.requests().pop().unwrap();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool", "tool"], "{sent}");
    let calls = sent["messages"][1]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{sent}");
}
