//! Anthropic Messages, JSON and SSE.

mod common;

use common::*;
use serde_json::{Value, json};

fn body(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn non_streaming_text() {
    let m = mock().await;
    let mut b = body("claude-x", "hello claude");
    b["system"] = json!([{"type": "text", "text": "you are a test"}]);
    let (status, v) = json_of(anthropic(&m, b).await).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-x");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "echo: hello claude"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["stop_sequence"], Value::Null);
    assert_eq!(v["usage"]["input_tokens"], 6);
    assert_eq!(v["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn non_streaming_tool_use() {
    let m = mock().await;
    let mut b = body("mock-tool", "find it");
    b["tools"] =
        json!([{"name": "finder", "description": "finds", "input_schema": {"type": "object"}}]);
    let (_, v) = json_of(anthropic(&m, b).await).await;
    assert_eq!(v["stop_reason"], "tool_use");
    let block = &v["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(block["name"], "finder");
    assert_eq!(block["input"], json!({"query": "find it"}));
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn streaming_text_sequence() {
    let m = mock().await;
    let mut b = body("claude-x", "stream it");
    b["stream"] = json!(true);
    let events = sse_of(anthropic(&m, b).await).await;
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let v: Vec<Value> = events.iter().map(Event::json).collect();
    for (e, j) in events.iter().zip(&v) {
        assert_eq!(j["type"], e.name.as_deref().unwrap());
    }
    let msg = &v[0]["message"];
    assert_eq!(msg["content"], json!([]));
    assert_eq!(msg["role"], "assistant");
    assert_eq!(msg["stop_reason"], Value::Null);
    assert_eq!(msg["usage"]["input_tokens"], 2);
    assert_eq!(v[1]["index"], 0);
    assert_eq!(v[1]["content_block"], json!({"type": "text", "text": ""}));
    let text: Vec<&str> = v[3..6]
        .iter()
        .map(|d| {
            assert_eq!(d["index"], 0);
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, ["echo: ", "stream ", "it"]);
    assert_eq!(v[6]["index"], 0);
    assert_eq!(
        v[7]["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(v[7]["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn streaming_tool_use() {
    let m = mock().await;
    let mut b = body("mock-tool", "x y");
    b["stream"] = json!(true);
    let events = sse_of(anthropic(&m, b).await).await;
    let n = names(&events);
    assert_eq!(n[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(
        n[n.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    let v: Vec<Value> = events.iter().map(Event::json).collect();
    let start = &v[1]["content_block"];
    assert_eq!(start["type"], "tool_use");
    assert_eq!(start["name"], "lookup");
    assert_eq!(start["input"], json!({}));
    let json_text: String = v[3..v.len() - 3]
        .iter()
        .map(|d| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json_text).unwrap(),
        json!({"query": "x y"})
    );
    assert_eq!(v[v.len() - 2]["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn validation_errors() {
    let m = mock().await;
    let (status, v) = json_of(
        anthropic(
            &m,
            json!({"model": "c", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );

    // No anthropic-version header.
    let r = client()
        .post(format!("{}/v1/messages", m.base_url()))
        .json(&body("c", "x"))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["type"], "invalid_request_error");

    // Malformed JSON.
    let r = client()
        .post(format!("{}/v1/messages", m.base_url()))
        .header("anthropic-version", "2023-06-01")
        .body("{")
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 400);
    assert_eq!(v["type"], "error");
}

#[tokio::test]
async fn failure_types() {
    let m = mock().await;
    for (status, kind) in [
        (529, "overloaded_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (400, "invalid_request_error"),
        (401, "authentication_error"),
    ] {
        let r = anthropic(&m, body(&format!("mock-fail-{status}"), "x")).await;
        if status == 429 {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        let (got, v) = json_of(r).await;
        assert_eq!(got, status);
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind, "{status}");
    }
}
