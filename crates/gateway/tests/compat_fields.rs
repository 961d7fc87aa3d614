//! Fields seed 002 documents beside ours: the `shutdown` event's `gracePeriodMs`, and
//! `retryable`/`retryAfterMs` on errors that a retry may cure (requests refused while
//! draining, agent runs that failed for a transient upstream reason).

use std::sync::Arc;

use openclaw_gateway::conns::ConnHandle;
use openclaw_gateway::rpc::{CallContext, dispatch};
use openclaw_mock_provider::MockOptions;
use openclaw_protocol::{ErrorCode, Role};
use openclaw_testkit::*;
use serde_json::{Value, json};

const TOKEN: &str = "compat-fields-token-123456";

/// The default `OPENCLAW_SHUTDOWN_GRACE_MS`: how long running turns may finish on stop.
const DEFAULT_GRACE_MS: u64 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_event_carries_the_grace_period() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    let stopper = tokio::task::spawn_blocking(move || gw.stop());
    let shutdown = loop {
        let v = next_json(&mut ws).await.expect("shutdown before close");
        if v["event"] == "shutdown" {
            break v;
        }
    };
    stopper.await.unwrap().unwrap();
    let p = &shutdown["payload"];
    assert_eq!(p["reason"], "gateway stopping", "{p}");
    assert_eq!(p["gracePeriodMs"], DEFAULT_GRACE_MS, "{p}");
    assert!(p.get("restartExpectedMs").is_none(), "{p}");
}

fn operator(scopes: &[&str]) -> CallContext {
    let (conn, _rx) = ConnHandle::new(
        "test-conn".into(),
        scopes.iter().map(|s| s.to_string()).collect(),
        1 << 20,
    );
    CallContext {
        conn,
        role: Role::Operator,
    }
}

#[tokio::test]
async fn draining_refuses_writes_as_retryable_and_still_reads() {
    let state = TestState::new(&format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }} }}"#
    ));
    let app = Arc::clone(&state.app);
    let ctx = operator(&["operator.admin"]);
    app.begin_shutdown(4_321);
    let err = dispatch(
        &app,
        &ctx,
        "r1",
        "agent",
        Some(json!({"message": "hi", "idempotencyKey": "k1"})),
    )
    .await
    .expect_err("no new run while draining");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert_eq!(err.retryable, Some(true));
    assert_eq!(err.retry_after_ms, Some(4_321));
    assert!(err.message.contains("shutting down"), "{err}");
    let wire = serde_json::to_value(&err).unwrap();
    assert_eq!(wire["retryable"], true);
    assert_eq!(wire["retryAfterMs"], 4_321);
    // Reads still answer while draining.
    let health = dispatch(&app, &ctx, "r2", "health", None)
        .await
        .expect("health while draining")
        .expect("health answers at once");
    assert_eq!(health["status"], "draining");
}

/// Runs one `agent` turn on `model` and returns its final payload.
async fn final_payload(model: &str) -> Value {
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
    let gw = TestGateway::with_config(&cfg);
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    send(
        &mut ws,
        &json!({"type":"req","id":"a1","method":"agent","params":{"message":"hi","idempotencyKey":"k1"}}),
    )
    .await;
    let mut accepted = false;
    loop {
        let v = next_json(&mut ws).await.expect("socket open");
        if v["type"] == "res" && v["id"] == "a1" {
            if accepted {
                return v["payload"].clone();
            }
            accepted = true;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_run_failure_is_retryable_with_the_upstream_hint() {
    let p = final_payload("mock-fail-429+retry-1").await;
    assert_eq!(p["status"], "error", "{p}");
    assert_eq!(p["retryable"], true, "{p}");
    assert_eq!(p["retryAfterMs"], 1_000, "{p}");

    let p = final_payload("mock-fail-503").await;
    assert_eq!(p["retryable"], true, "{p}");
    assert!(p.get("retryAfterMs").is_none(), "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_run_failure_is_not_retryable() {
    let p = final_payload("mock-fail-400").await;
    assert_eq!(p["status"], "error", "{p}");
    assert_eq!(p["retryable"], false, "{p}");
    assert!(p.get("retryAfterMs").is_none(), "{p}");
}
