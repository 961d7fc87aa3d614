//! The WebSocket protocol against the gateway served in-process: handshake, failures and
//! close codes, scopes, bad frames after hello, presence, auth rate limits. (What needs
//! process-level environment — tick interval, handshake timeout, flood thresholds — is
//! tested against the binary in the CLI crate.)

use std::time::Duration;

use openclaw_gateway::RunOptions;
use openclaw_testkit::*;
use serde_json::json;

const TOKEN: &str = "test-token-0123456789";

#[tokio::test]
async fn real_cli_handshake_gets_hello_ok_then_health() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, challenge) = open(&gw.url()).await;
    assert_eq!(challenge["type"], "event");
    assert_eq!(challenge["event"], "connect.challenge");
    assert!(challenge["payload"]["nonce"].as_str().unwrap().len() >= 32);
    assert!(challenge["payload"]["ts"].as_u64().unwrap() > 1_700_000_000_000);
    // The challenge and hello-ok list the same capabilities (one table feeds both).
    let capabilities = challenge["payload"]["capabilities"].clone();
    assert_eq!(capabilities, json!(["published-model-catalog"]));

    let frame = real_cli_connect(TOKEN);
    let id = frame["id"].as_str().unwrap().to_owned();
    send(&mut ws, &frame).await;
    let res = next_res(&mut ws, &id).await;
    assert_eq!(res["ok"], true, "{res}");
    let hello = &res["payload"];
    assert_eq!(hello["type"], "hello-ok");
    assert_eq!(hello["protocol"], 4);
    assert!(!hello["server"]["connId"].as_str().unwrap().is_empty());
    assert_eq!(hello["server"]["version"], "2026.9.6");
    assert_eq!(hello["features"]["capabilities"], capabilities);
    let methods: Vec<&str> = hello["features"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for core in [
        "health",
        "status",
        "system-presence",
        "logs.tail",
        "config.get",
    ] {
        assert!(methods.contains(&core), "{core} missing from {methods:?}");
    }
    assert!(
        hello["features"]["events"]
            .as_array()
            .unwrap()
            .contains(&json!("tick"))
    );
    assert_eq!(
        hello["auth"],
        json!({"role": "operator", "scopes": ["operator.read"]})
    );
    assert_eq!(hello["policy"]["maxPayload"], 26_214_400);
    assert_eq!(hello["policy"]["maxBufferedBytes"], 52_428_800);
    assert_eq!(hello["policy"]["tickIntervalMs"], 30_000);
    let snap = &hello["snapshot"];
    assert_eq!(snap["authMode"], "token");
    assert_eq!(snap["sessionDefaults"]["mainSessionKey"], "agent:main:main");
    assert!(snap["presence"].is_array());
    assert!(snap["stateVersion"]["presence"].is_u64());
    assert_eq!(
        snap["stateDir"].as_str().unwrap(),
        gw.state.to_str().unwrap()
    );

    let health = next_event(&mut ws, "health").await;
    assert_eq!(health["payload"]["ok"], true);
    assert_eq!(health["seq"], 1);

    let r = call(&mut ws, "h", "health", json!({})).await;
    assert_eq!(r["ok"], true);
    assert_eq!(r["payload"]["connections"], 1);

    // Every advertised method is served: none answers "unknown method" (with an admin
    // connection, so scopes do not hide anything).
    let (mut admin, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    for (i, m) in methods.iter().enumerate() {
        let r = call(&mut admin, &format!("m{i}"), m, json!({})).await;
        let msg = r["error"]["message"].as_str().unwrap_or("");
        assert!(!msg.starts_with("unknown method"), "{m}: {r}");
    }
}

#[tokio::test]
async fn first_frame_not_connect_is_rejected_with_1008() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = open(&gw.url()).await;
    send(
        &mut ws,
        &json!({"type":"req","id":"x","method":"health","params":{}}),
    )
    .await;
    let res = next_json(&mut ws).await.unwrap();
    assert_eq!(res["ok"], false);
    assert_eq!(res["error"]["code"], "INVALID_REQUEST");
    assert_eq!(
        res["error"]["message"],
        "invalid handshake: first request must be connect"
    );
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1008);
}

#[tokio::test]
async fn object_that_is_not_a_frame_closes_1008() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = open(&gw.url()).await;
    send(&mut ws, &json!({"hello": "world"})).await;
    let (code, reason) = close_code(&mut ws).await.unwrap();
    assert_eq!(code, 1008);
    assert_eq!(reason, "invalid request frame");
}

#[tokio::test]
async fn unparseable_json_closes() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = open(&gw.url()).await;
    send_text(&mut ws, "{not json").await;
    let (code, _) = close_code(&mut ws).await.unwrap();
    assert_eq!(code, 1008);
}

#[tokio::test]
async fn wrong_token_and_password_have_detail_codes() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = open(&gw.url()).await;
    send(
        &mut ws,
        &connect_frame(json!({"token": "wrong"}), None, "test"),
    )
    .await;
    let res = next_res(&mut ws, "c1").await;
    assert_eq!(res["ok"], false);
    assert_eq!(res["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");
    assert!(
        res["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("unauthorized")
    );
    assert!(!res.to_string().contains(TOKEN), "secret leaked: {res}");
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1008);

    let pw = TestGateway::start(
        None,
        RunOptions {
            password: Some("hunter2-long-password".into()),
            allow_unconfigured: true,
            ..RunOptions::default()
        },
    );
    let (mut ws, _) = open(&pw.url()).await;
    send(
        &mut ws,
        &connect_frame(json!({"password": "nope"}), None, "test"),
    )
    .await;
    let res = next_res(&mut ws, "c1").await;
    assert_eq!(res["error"]["details"]["code"], "AUTH_PASSWORD_MISMATCH");
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1008);
    let (_ws, hello) = {
        let (mut ws, _) = open(&pw.url()).await;
        send(
            &mut ws,
            &connect_frame(json!({"password": "hunter2-long-password"}), None, "test"),
        )
        .await;
        let res = next_res(&mut ws, "c1").await;
        (ws, res)
    };
    assert_eq!(hello["ok"], true);
    assert_eq!(hello["payload"]["snapshot"]["authMode"], "password");
}

#[tokio::test]
async fn protocol_mismatch_closes_1002() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = open(&gw.url()).await;
    let mut frame = connect_frame(json!({"token": TOKEN}), None, "test");
    frame["params"]["minProtocol"] = json!(5);
    frame["params"]["maxProtocol"] = json!(6);
    send(&mut ws, &frame).await;
    let res = next_res(&mut ws, "c1").await;
    assert_eq!(res["ok"], false);
    assert!(
        res["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("protocol mismatch")
    );
    assert_eq!(res["error"]["details"]["expectedProtocol"], 4);
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1002);
}

#[tokio::test]
async fn oversized_preauth_frame_closes_1009() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = open(&gw.url()).await;
    let mut frame = connect_frame(json!({"token": TOKEN}), None, "test");
    frame["params"]["padding"] = json!("x".repeat(70 * 1024));
    send(&mut ws, &frame).await;
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1009);
}

#[tokio::test]
async fn scopes_are_enforced() {
    let gw = TestGateway::with_token(TOKEN);
    // Explicitly no scopes: health is open, status needs read.
    let (mut ws, hello) = connect(&gw.url(), TOKEN, Some(vec![]), "test").await;
    assert_eq!(hello["auth"]["scopes"], json!([]));
    assert_eq!(call(&mut ws, "1", "health", json!(null)).await["ok"], true);
    let r = call(&mut ws, "2", "status", json!({})).await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "FORBIDDEN");
    assert_eq!(r["error"]["message"], "missing scope: operator.read");
    assert_eq!(r["error"]["details"]["code"], "MISSING_SCOPE");
    assert_eq!(r["error"]["details"]["missingScope"], "operator.read");
    assert_eq!(
        r["error"]["details"]["requiredScopes"],
        json!(["operator.read", "operator.write", "operator.admin"])
    );

    // Write satisfies read methods; unknown scopes are not granted.
    let (mut ws, hello) = connect(
        &gw.url(),
        TOKEN,
        Some(vec!["operator.write", "operator.superuser"]),
        "test",
    )
    .await;
    assert_eq!(hello["auth"]["scopes"], json!(["operator.write"]));
    assert_eq!(
        call(&mut ws, "3", "config.get", json!({})).await["ok"],
        true
    );

    // Omitting scopes grants read+write, never admin.
    let (_ws, hello) = connect(&gw.url(), TOKEN, None, "test").await;
    assert_eq!(
        hello["auth"]["scopes"],
        json!(["operator.read", "operator.write"])
    );

    // A node may not call operator methods.
    let (mut ws, _) = open(&gw.url()).await;
    let mut frame = connect_frame(
        json!({"token": TOKEN}),
        Some(vec!["operator.admin"]),
        "node",
    );
    frame["params"]["role"] = json!("node");
    send(&mut ws, &frame).await;
    let res = next_res(&mut ws, "c1").await;
    assert_eq!(res["payload"]["auth"]["role"], "node");
    let r = call(&mut ws, "4", "status", json!({})).await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn bad_frames_after_hello_keep_the_socket_open() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;

    let r = call(&mut ws, "u1", "no.such.method", json!({})).await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    assert_eq!(r["error"]["message"], "unknown method: no.such.method");

    send(&mut ws, &json!({"type":"req","id":"m1"})).await;
    let r = next_res(&mut ws, "m1").await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid request frame")
    );

    send_text(&mut ws, "garbage{").await;
    let r = next_res(&mut ws, "").await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");

    let r = call(&mut ws, "c2", "connect", json!({})).await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");

    let r = call(&mut ws, "p1", "logs.tail", json!({"limit": 0})).await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    let r = call(&mut ws, "p2", "logs.tail", json!({"limit": "many"})).await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");

    let r = call(&mut ws, "ok", "status", json!({})).await;
    assert_eq!(r["ok"], true, "socket should still work: {r}");
    assert_eq!(r["payload"]["gateway"]["port"], gw.port);
}

#[tokio::test]
async fn fifty_concurrent_clients_appear_in_presence() {
    let gw = TestGateway::with_token(TOKEN);
    let url = gw.url();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            connect(&url, TOKEN, Some(vec!["operator.read"]), "test").await
        }));
    }
    let mut sockets = Vec::new();
    for t in tasks {
        sockets.push(t.await.unwrap());
    }
    let conn_ids: std::collections::HashSet<String> = sockets
        .iter()
        .map(|(_, h)| h["server"]["connId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(conn_ids.len(), 50);

    // A CLI-mode client is not listed, but can read the list.
    let (mut cli, _) = connect(&url, TOKEN, Some(vec!["operator.read"]), "cli").await;
    let r = call(&mut cli, "p", "system-presence", json!({})).await;
    let list = r["payload"].as_array().unwrap();
    assert_eq!(list[0]["mode"], "gateway");
    let listed: std::collections::HashSet<String> = list
        .iter()
        .filter_map(|e| e["connId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(listed, conn_ids);
    for e in &list[1..] {
        assert_eq!(e["mode"], "test");
        assert_eq!(e["roles"], json!(["operator"]));
        assert!(e.get("ip").is_none(), "loopback ip must be omitted");
    }

    // Presence events carry the list; one client leaving shows up in a later event.
    let (ws0, h0) = sockets.pop().unwrap();
    let gone = h0["server"]["connId"].as_str().unwrap().to_owned();
    drop(ws0);
    let (ws1, _) = sockets.last_mut().unwrap();
    loop {
        let ev = next_event(ws1, "presence").await;
        let ids: Vec<&str> = ev["payload"]["presence"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["connId"].as_str())
            .collect();
        if !ids.contains(&gone.as_str()) {
            assert_eq!(ids.len(), 49);
            break;
        }
    }
}

#[tokio::test]
async fn failed_auth_is_rate_limited_per_ip() {
    let cfg = r#"{
      // rate limiting applies to loopback when the exemption is off
      gateway: { mode: "local", auth: { token: "right-token-123456", rateLimit: { maxAttempts: 3, exemptLoopback: false } } },
    }"#;
    let gw = TestGateway::with_config(cfg);
    for _ in 0..3 {
        let (mut ws, _) = open(&gw.url()).await;
        send(
            &mut ws,
            &connect_frame(json!({"token": "bad"}), None, "test"),
        )
        .await;
        let r = next_res(&mut ws, "c1").await;
        assert_eq!(r["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");
    }
    // Even the right token is refused while locked out.
    let (mut ws, _) = open(&gw.url()).await;
    send(
        &mut ws,
        &connect_frame(json!({"token": "right-token-123456"}), None, "test"),
    )
    .await;
    let r = next_res(&mut ws, "c1").await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["details"]["code"], "AUTH_RATE_LIMITED");
    assert_eq!(r["error"]["retryable"], true);
    assert!(r["error"]["retryAfterMs"].as_u64().unwrap() > 250_000);
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1008);
}

#[tokio::test]
async fn loopback_is_exempt_from_rate_limit_by_default() {
    let gw = TestGateway::with_token(TOKEN);
    for _ in 0..12 {
        let (mut ws, _) = open(&gw.url()).await;
        send(
            &mut ws,
            &connect_frame(json!({"token": "bad"}), None, "test"),
        )
        .await;
        let r = next_res(&mut ws, "c1").await;
        assert_eq!(r["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");
    }
    let (_ws, hello) = connect(&gw.url(), TOKEN, None, "test").await;
    assert_eq!(hello["type"], "hello-ok");
}

#[tokio::test]
async fn frame_over_max_payload_closes_1009_after_hello() {
    use futures_util::{SinkExt, StreamExt};
    let gw = TestGateway::with_token(TOKEN);
    let (ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    let (mut sink, mut stream) = ws.split();
    let big = json!({"type":"req","id":"big","method":"health","params":{"pad": "y".repeat(26 * 1024 * 1024)}});
    // The gateway stops reading mid-frame, so the send itself may end in a reset; read
    // concurrently to catch the close frame that precedes it.
    let sender = tokio::spawn(async move {
        let _ = sink.send(Message::Text(big.to_string().into())).await;
    });
    let mut code = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        match msg {
            Ok(Message::Close(Some(f))) => {
                code = Some(u16::from(f.code));
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    sender.abort();
    assert_eq!(code, Some(1009));
    // The gateway is unaffected.
    let (mut other, _) = connect(&gw.url(), TOKEN, None, "test").await;
    assert_eq!(call(&mut other, "h", "health", json!({})).await["ok"], true);
}
