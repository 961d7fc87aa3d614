//! OpenAI Chat Completions, JSON and SSE.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn non_streaming_echo() {
    let m = mock().await;
    let r = openai(
        &m,
        "/chat/completions",
        json!({"model": "gpt-x", "messages": [
            {"role": "system", "content": "be nice"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "hello there"}]}
        ], "max_completion_tokens": 100, "temperature": 0.2}),
    )
    .await;
    assert_eq!(r.headers()["content-type"], "application/json");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-x");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "echo: hello there");
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    // 2 + 1 + 1 + 2 input words; "echo: hello there" is 3 words.
    assert_eq!(v["usage"]["prompt_tokens"], 6);
    assert_eq!(v["usage"]["completion_tokens"], 3);
    assert_eq!(v["usage"]["total_tokens"], 9);
    assert_eq!(
        m.stats.requests.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        m.stats.completed.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

fn content_deltas(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[tokio::test]
async fn streaming_sequence_without_usage() {
    let m = mock().await;
    let mut body = chat_body("gpt-x", "hi there");
    body["stream"] = json!(true);
    let events = sse_of(openai(&m, "/chat/completions", body).await).await;
    assert!(
        events.iter().all(|e| e.name.is_none()),
        "chat SSE has no event names"
    );
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert_eq!(c["model"], "gpt-x");
        assert!(
            c.get("usage").is_none(),
            "no usage without include_usage: {c}"
        );
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(content_deltas(&events), ["echo: ", "hi ", "there"]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    for c in &chunks[..chunks.len() - 1] {
        assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
    }
    assert_eq!(chunks.len(), 5);
}

#[tokio::test]
async fn streaming_with_include_usage() {
    let m = mock().await;
    let mut body = chat_body("gpt-x", "one two three");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = sse_of(openai(&m, "/chat/completions", body).await).await;
    let n = events.len();
    assert_eq!(events[n - 1].data, "[DONE]");
    let usage_chunk = events[n - 2].json();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 3);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 4);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 7);
    let finish = events[n - 3].json();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["usage"], Value::Null);
    assert_eq!(content_deltas(&events).concat(), "echo: one two three");
}

#[tokio::test]
async fn tool_directive_non_streaming() {
    let m = mock().await;
    let mut body = chat_body("mock-tool", "find \"cats\"");
    body["tools"] = json!([{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]);
    let (status, v) = json_of(openai(&m, "/chat/completions", body).await).await;
    assert_eq!(status, 200);
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "search");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"query": "find \"cats\""}));

    // Without declared tools the name is `lookup`.
    let (_, v) = json_of(openai(&m, "/chat/completions", chat_body("mock-tool", "x")).await).await;
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
}

#[tokio::test]
async fn tool_directive_streaming() {
    let m = mock().await;
    let mut body = chat_body("m+tool", "weather in paris");
    body["stream"] = json!(true);
    body["tools"] = json!([{"type": "function", "function": {"name": "weather"}}]);
    let events = sse_of(openai(&m, "/chat/completions", body).await).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let start = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(start["index"], 0);
    assert!(start["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(start["type"], "function");
    assert_eq!(start["function"]["name"], "weather");
    assert_eq!(start["function"]["arguments"], "");
    let mut args = String::new();
    for c in &chunks[2..chunks.len() - 1] {
        let tc = &c["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(tc["index"], 0);
        args.push_str(tc["function"]["arguments"].as_str().unwrap());
    }
    assert!(chunks.len() > 4, "arguments come in several fragments");
    let args: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(args, json!({"query": "weather in paris"}));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn tool_directive_answers_text_after_a_tool_result() {
    let m = mock().await;
    let body = json!({"model": "mock-tool", "messages": [
        {"role": "user", "content": "look it up"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "found"}
    ]});
    let (_, v) = json_of(openai(&m, "/chat/completions", body).await).await;
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "tool results: call_1=found"
    );
}

#[tokio::test]
async fn invalid_requests_are_400_in_openai_shape() {
    let m = mock().await;
    let r = client()
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], Value::Null);
    assert_eq!(v["error"]["code"], Value::Null);
    assert!(v["error"]["message"].is_string());

    let (status, v) = json_of(openai(&m, "/chat/completions", json!({"model": "x"})).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["message"],
        "Missing required parameter: 'messages'."
    );
    let (status, _) = json_of(
        openai(
            &m,
            "/chat/completions",
            json!({"messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn fixed_reply_option() {
    let m = mock_with(openclaw_mock_provider::MockOptions {
        reply: Some("the fixed answer".into()),
        ..Default::default()
    })
    .await;
    let (_, v) = json_of(openai(&m, "/chat/completions", chat_body("m", "anything")).await).await;
    assert_eq!(v["choices"][0]["message"]["content"], "the fixed answer");
    assert_eq!(v["usage"]["completion_tokens"], 3);
}
