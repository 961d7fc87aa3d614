//! Micro-benchmarks of the protocol's frame codec.
//!
//! Every WebSocket text message the gateway receives goes through [`Frame::parse`] before
//! anything else happens to it, and every `res` it sends is a [`ResponseFrame`] serialized
//! with `serde_json`. Both run once per frame on the connection's task, so their cost is a
//! floor under the latency of every RPC and bounds how many frames one core can handle.
//!
//! Measured:
//! * `parse/health`: a small `health` request, the most frequent polling call.
//! * `parse/connect_real_cli`: the `connect` request exactly as the real `openclaw` CLI sends
//!   it (the shape of `real_cli_connect` in `crates/cli/tests/common/mod.rs`): every client
//!   pays this once per connection.
//! * `parse/chat_send_16k`: a 16 KiB `chat.send` (a long pasted prompt), where the cost is
//!   dominated by string unescaping and scales with the payload.
//! * `encode/res_ok_*`: `serde_json::to_string(&Frame::Res(ResponseFrame::ok(..)))` for a
//!   `health` answer and a `chat.send` acknowledgement.
//!
//! The gateway's event framing (`openclaw_gateway::ws::event_frame`) is benchmarked in
//! `crates/gateway/benches/auth.rs`, since the protocol crate cannot depend on the gateway.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openclaw_protocol::{Frame, ResponseFrame};
use serde_json::json;

/// The `connect` request of the real CLI, with a fixed request id, instance id and token.
const CONNECT_REAL_CLI: &str = concat!(
    r#"{"type":"req","id":"1:6f1c1a52-3f4e-4b8a-9d2e-6c0f5b7a8e91","method":"connect","#,
    r#""params":{"minProtocol":4,"maxProtocol":4,"#,
    r#""client":{"id":"cli","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","#,
    r#""mode":"cli","instanceId":"b3d0e2f4-58c1-4f7e-a2b9-0d6e4c3f1a77"},"#,
    r#""caps":[],"auth":{"token":"4f9a0c2e7b1d8e3f6a5c9b0d2e4f6a8c1b3d5e7f9a0c2e4b"},"#,
    r#""role":"operator","scopes":["operator.read"]}}"#
);

const HEALTH_REQ: &str = r#"{"type":"req","id":"h-42","method":"health","params":{}}"#;

/// Builds a `chat.send` request whose text is exactly `size` bytes long: prose with the
/// escapes a pasted prompt typically has (newlines, quotes, a tab, non-ASCII).
fn chat_send_frame(size: usize) -> String {
    const HEAD: &str = r#"{"type":"req","id":"s-7","method":"chat.send","params":{"sessionKey":"agent:main:webchat","idempotencyKey":"0b6d2c1e-9a4f-4e3b-8c7d-5f1a2b3c4d5e","message":""#;
    const TAIL: &str = r#""}}"#;
    const LINE: &str = r#"Please review the function below and explain why \"parse\" fails on input like \t{ \"a\": 1 } – it returns an error instead of the value.\n"#;
    let mut frame = String::with_capacity(size);
    frame.push_str(HEAD);
    while frame.len() + LINE.len() + TAIL.len() <= size {
        frame.push_str(LINE);
    }
    while frame.len() + TAIL.len() < size {
        frame.push('x');
    }
    frame.push_str(TAIL);
    assert_eq!(frame.len(), size);
    frame
}

fn parse(c: &mut Criterion) {
    let chat_send = chat_send_frame(16 * 1024);
    // Sanity: every input really is a valid request frame.
    for text in [HEALTH_REQ, CONNECT_REAL_CLI, chat_send.as_str()] {
        assert!(
            matches!(Frame::parse(text), Ok(Frame::Req(_))),
            "{text:.80}"
        );
    }

    let mut group = c.benchmark_group("parse");
    for (name, text) in [
        ("health", HEALTH_REQ),
        ("connect_real_cli", CONNECT_REAL_CLI),
        ("chat_send_16k", chat_send.as_str()),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| Frame::parse(black_box(text))));
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    // The shape of the gateway's `health` answer (`AppState::health_snapshot`).
    let health = Frame::Res(ResponseFrame::ok(
        "h-42",
        json!({
            "ok": true,
            "ts": 1_789_000_000_123u64,
            "version": "2026.9.6",
            "uptimeMs": 86_400_123u64,
            "status": "live",
            "channels": {},
            "channelOrder": [],
            "channelLabels": {},
            "defaultAgentId": "main",
            "agents": [
                {"id": "main", "name": "Main", "default": true, "model": "openai/gpt-4o-mini"},
                {"id": "ops", "name": "Ops", "default": false, "model": "anthropic/claude-sonnet-4"}
            ],
            "connections": 3,
            "runs": 1,
            "durationMs": 0
        }),
    ));
    // What `chat.send` answers immediately.
    let ack = Frame::Res(ResponseFrame::ok(
        "s-7",
        json!({"runId": "run_5c0e8f7a-1b2d-4e6f-9a3c-7d8e9f0a1b2c", "status": "started"}),
    ));

    let mut group = c.benchmark_group("encode");
    for (name, frame) in [("res_ok_health", &health), ("res_ok_chat_send_ack", &ack)] {
        let len = serde_json::to_string(frame).expect("serializable").len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(name, |b| b.iter(|| serde_json::to_string(black_box(frame))));
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse, encode
}
criterion_main!(benches);
