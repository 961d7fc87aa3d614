//! The gateway embedded in a process through `run::serve`: the bound address comes back on
//! a channel (no log scraping), the caller's stop future ends it with the same drain as
//! SIGTERM, and the state-dir lock lives exactly as long as `serve`.

use openclaw_gateway::{GatewayError, RunOptions};
use openclaw_testkit::*;
use serde_json::json;

const TOKEN: &str = "embedded-token-0123456789";

fn opts() -> RunOptions {
    RunOptions {
        token: Some(TOKEN.into()),
        allow_unconfigured: true,
        ..RunOptions::default()
    }
}

#[tokio::test]
async fn the_lock_is_held_while_serving_and_released_by_stop() {
    let dir = TempDir::new("embedded-lock");
    let gw = TestGateway::try_start_in(dir.path(), opts()).expect("first gateway");
    assert_ne!(gw.port, 0, "the real port comes back, not the 0 asked for");

    match TestGateway::try_start_in(dir.path(), opts()) {
        Err(GatewayError::LockHeld { pid, path }) => {
            assert_eq!(pid, std::process::id());
            assert_eq!(path, dir.path().join("gateway.lock"));
        }
        Err(e) => panic!("expected LockHeld, got {e}"),
        Ok(second) => panic!("a second gateway started on port {}", second.port),
    }

    gw.stop().expect("clean stop");
    let again = TestGateway::try_start_in(dir.path(), opts()).expect("the lock was released");
    let (mut ws, _) = connect(&again.url(), TOKEN, None, "test").await;
    let r = call(&mut ws, "h", "health", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test]
async fn stop_drains_clients_like_sigterm() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    let port = gw.port;
    let stopped = tokio::task::spawn_blocking(move || gw.stop());
    let shutdown = next_event(&mut ws, "shutdown").await;
    assert_eq!(shutdown["payload"]["reason"], "gateway stopping");
    assert_eq!(close_code(&mut ws).await.map(|c| c.0), Some(1012));
    drop(ws);
    stopped.await.unwrap().expect("clean stop");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after stop"
    );
}

#[tokio::test]
async fn the_embedded_gateway_logs_to_its_own_file() {
    let a = TestGateway::with_token(TOKEN);
    let b = TestGateway::with_token(TOKEN);
    let line = |gw: &TestGateway| format!("listening on ws://127.0.0.1:{}", gw.port);
    // Each gateway's subscriber is scoped to its own runtime: no line lands in the other
    // one's file.
    assert!(a.log_text().contains(&line(&a)), "{}", a.log_text());
    assert!(b.log_text().contains(&line(&b)), "{}", b.log_text());
    assert!(!a.log_text().contains(&line(&b)));
    assert!(!b.log_text().contains(&line(&a)));
}
