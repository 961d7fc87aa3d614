//! Helpers shared by the integration tests: a real HTTP client against a spawned mock, and
//! a small SSE parser so event sequences can be checked exactly.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::Value;

/// One parsed SSE event: the `event:` name (if any) and the `data:` payload.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    /// The payload as JSON (panics on `[DONE]` and other non-JSON data).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("bad JSON {:?}: {e}", self.data))
    }
}

/// Splits an SSE body into events.
pub fn parse_sse(body: &str) -> Vec<Event> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut ev = Event {
                name: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    ev.name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    ev.data.push_str(d);
                } else {
                    panic!("unexpected SSE line {line:?} in {body:?}");
                }
            }
            ev
        })
        .collect()
}

pub async fn mock() -> MockServer {
    openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap()
}

pub async fn mock_with(opts: MockOptions) -> MockServer {
    openclaw_mock_provider::spawn(opts).await.unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs JSON to an OpenAI route (`path` relative to `/v1`).
pub async fn openai(m: &MockServer, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", m.openai_base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// POSTs JSON to `/v1/messages` with the `anthropic-version` header.
pub async fn anthropic(m: &MockServer, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", m.base_url()))
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Status and JSON body.
pub async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON {text:?}: {e}"));
    (status, v)
}

/// Checks the SSE headers and returns the parsed events.
pub async fn sse_of(r: reqwest::Response) -> Vec<Event> {
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    parse_sse(&r.text().await.unwrap())
}

/// Waits (bounded) until `f` holds.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A one-message chat request.
pub fn chat_body(model: &str, text: &str) -> Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}
