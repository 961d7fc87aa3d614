//! The WebSocket protocol against the real binary: handshake, failures and close codes,
//! scopes, bad frames after hello, presence, ticks.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const TOKEN: &str = "test-token-0123456789";

#[tokio::test]
async fn real_cli_handshake_gets_hello_ok_then_health() {
    let gw = start(Spec::token(TOKEN));
    let (mut ws, challenge) = open(&gw.url()).await;
    assert_eq!(challenge["type"], "event");
    assert_eq!(challenge["event"], "connect.challenge");
    assert!(challenge["payload"]["nonce"].as_str().unwrap().len() >= 32);
    assert!(challenge["payload"]["ts"].as_u64().unwrap() > 1_700_000_000_000);

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
    let gw = start(Spec::token(TOKEN));
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
    let gw = start(Spec::token(TOKEN));
    let (mut ws, _) = open(&gw.url()).await;
    send(&mut ws, &json!({"hello": "world"})).await;
    let (code, reason) = close_code(&mut ws).await.unwrap();
    assert_eq!(code, 1008);
    assert_eq!(reason, "invalid request frame");
}

#[tokio::test]
async fn unparseable_json_closes() {
    let gw = start(Spec::token(TOKEN));
    let (mut ws, _) = open(&gw.url()).await;
    send_text(&mut ws, "{not json").await;
    let (code, _) = close_code(&mut ws).await.unwrap();
    assert_eq!(code, 1008);
}

#[tokio::test]
async fn wrong_token_and_password_have_detail_codes() {
    let gw = start(Spec::token(TOKEN));
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

    let pw = start(
        Spec::default()
            .arg("--password")
            .arg("hunter2-long-password")
            .arg("--allow-unconfigured"),
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
    let gw = start(Spec::token(TOKEN));
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
async fn handshake_timeout_closes() {
    let gw = start(Spec::token(TOKEN).env("OPENCLAW_HANDSHAKE_TIMEOUT_MS", "300"));
    let (mut ws, _) = open(&gw.url()).await;
    let started = std::time::Instant::now();
    let (code, reason) = close_code(&mut ws).await.unwrap();
    assert_eq!(code, 1008);
    assert_eq!(reason, "handshake timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn oversized_preauth_frame_closes_1009() {
    let gw = start(Spec::token(TOKEN));
    let (mut ws, _) = open(&gw.url()).await;
    let mut frame = connect_frame(json!({"token": TOKEN}), None, "test");
    frame["params"]["padding"] = json!("x".repeat(70 * 1024));
    send(&mut ws, &frame).await;
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1009);
}

#[tokio::test]
async fn scopes_are_enforced() {
    let gw = start(Spec::token(TOKEN));
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
    let gw = start(Spec::token(TOKEN));
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
    let gw = start(Spec::token(TOKEN));
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
async fn ticks_arrive_with_increasing_seq() {
    let gw = start(Spec::token(TOKEN).env("OPENCLAW_TICK_INTERVAL_MS", "100"));
    let (mut ws, hello) = connect(&gw.url(), TOKEN, None, "cli").await;
    assert_eq!(hello["policy"]["tickIntervalMs"], 100);
    let a = next_event(&mut ws, "tick").await;
    let b = next_event(&mut ws, "tick").await;
    assert!(b["seq"].as_u64().unwrap() > a["seq"].as_u64().unwrap());
    assert!(b["payload"]["ts"].as_u64().unwrap() >= a["payload"]["ts"].as_u64().unwrap());
}

#[tokio::test]
async fn failed_auth_is_rate_limited_per_ip() {
    let cfg = r#"{
      // rate limiting applies to loopback when the exemption is off
      gateway: { mode: "local", auth: { token: "right-token-123456", rateLimit: { maxAttempts: 3, exemptLoopback: false } } },
    }"#;
    let gw = start(Spec::default().config(cfg));
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
    let gw = start(Spec::token(TOKEN));
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
async fn logs_tail_and_config_get_redact_secrets() {
    let cfg = r#"{ gateway: { mode: "local", auth: { token: "${OC_TEST_TOKEN}" } } }"#;
    let gw = start(
        Spec::default()
            .config(cfg)
            .env("OC_TEST_TOKEN", "from-env-token-987654"),
    );
    let (mut ws, _) = connect(&gw.url(), "from-env-token-987654", None, "test").await;
    let r = call(&mut ws, "g", "config.get", json!({})).await;
    assert_eq!(r["ok"], true);
    let p = &r["payload"];
    assert_eq!(p["exists"], true);
    assert_eq!(p["hash"].as_str().unwrap().len(), 64);
    assert_eq!(
        p["config"]["gateway"]["auth"]["token"],
        "__OPENCLAW_REDACTED__"
    );
    assert!(!r.to_string().contains("from-env-token-987654"));

    let r = call(&mut ws, "t", "logs.tail", json!({"limit": 50})).await;
    let p = &r["payload"];
    assert!(p["file"].as_str().unwrap().ends_with("logs/gateway.log"));
    let lines = p["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.as_str().unwrap().contains("listening on ws://127.0.0.1:"))
    );
    let cursor = p["cursor"].as_u64().unwrap();
    assert_eq!(cursor, p["size"].as_u64().unwrap());
    let r = call(&mut ws, "t2", "logs.tail", json!({"cursor": cursor})).await;
    assert!(r["payload"]["cursor"].as_u64().unwrap() >= cursor);
    let log = std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap();
    assert!(!log.contains("from-env-token-987654"));
}

#[tokio::test]
async fn frame_over_max_payload_closes_1009_after_hello() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let gw = start(Spec::token(TOKEN));
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

#[tokio::test]
async fn a_client_that_never_reads_does_not_stall_others() {
    // Ticks every millisecond: a client that never reads falls behind at once.
    let gw = start(Spec::token(TOKEN).env("OPENCLAW_TICK_INTERVAL_MS", "1"));
    let (stalled, _) = connect(&gw.url(), TOKEN, None, "test").await;
    let (mut live, _) = connect(&gw.url(), TOKEN, None, "test").await;
    let mut last_seq = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        let ev = next_event(&mut live, "tick").await;
        let seq = ev["seq"].as_u64().unwrap();
        assert!(seq > last_seq);
        last_seq = seq;
    }
    assert!(last_seq > 100, "ticks should keep flowing: {last_seq}");
    let t = std::time::Instant::now();
    let r = call(&mut live, "h", "health", json!({})).await;
    assert_eq!(r["ok"], true);
    assert!(t.elapsed() < Duration::from_secs(1));
    drop(stalled);
}

/// Connects with a tiny kernel receive buffer (no autotuning), so a client that stops
/// reading backs the gateway's writes up at once instead of after tens of MB.
async fn connect_small_rcvbuf(port: u16) -> (Ws, String) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        format!("ws://127.0.0.1:{port}"),
        tokio_tungstenite::MaybeTlsStream::Plain(tcp),
    )
    .await
    .unwrap();
    next_json(&mut ws).await.expect("challenge");
    send(
        &mut ws,
        &connect_frame(json!({"token": TOKEN}), None, "test"),
    )
    .await;
    let res = next_res(&mut ws, "c1").await;
    assert_eq!(res["ok"], true, "{res}");
    let id = res["payload"]["server"]["connId"]
        .as_str()
        .unwrap()
        .to_owned();
    (ws, id)
}

#[tokio::test]
async fn a_reader_that_stalls_under_a_flood_is_cut_off_while_others_keep_going() {
    use futures_util::StreamExt;
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    use tokio_tungstenite::tungstenite::Message;

    // Every word of the reply is one streamed delta, and every delta is broadcast (not
    // droppable) twice, as an `agent` and a `chat` event, each carrying the reply so far:
    // N words of 6 bytes make about 6·N² bytes, ~100 MB for N = 4000. That is far past
    // the kernel buffers (a few MB here) plus the gateway's maxBufferedBytes (50 MB).
    const WORDS: usize = 4000;
    let mock = openclaw_mock_provider::spawn(openclaw_mock_provider::MockOptions::default())
        .await
        .unwrap();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/m1" }} }},
        }}"#,
        mock.openai_base_url()
    );
    let gw = start(
        Spec::default()
            .config(&cfg)
            .env("OPENCLAW_TICK_INTERVAL_MS", "20"),
    );

    // The stalled reader: read scope (so it gets every run event), never reads again.
    let (mut stalled, stalled_id) = connect_small_rcvbuf(gw.port).await;

    // A normal client with no scopes: it gets ticks, not run events, and asks `health`
    // over and over; every answer must come back promptly.
    let (mut live, _) = connect(&gw.url(), TOKEN, Some(vec![]), "test").await;
    let r = call(&mut live, "h0", "health", json!({})).await;
    assert_eq!(r["payload"]["connections"], 2, "{r}");

    // The driver starts the run, then drains its socket as raw bytes (fast, whatever the
    // build), watching for the run's final `chat` event.
    let (mut driver, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let message: String = (0..WORDS).map(|i| format!("w{i:04} ")).collect();
    let r = call(
        &mut driver,
        "s",
        "chat.send",
        json!({"sessionKey": "agent:main:flood", "message": message, "idempotencyKey": "flood-1"}),
    )
    .await;
    assert_eq!(r["payload"]["status"], "started", "{r}");
    let flood_started = Instant::now();
    let mut raw = match driver.into_inner() {
        tokio_tungstenite::MaybeTlsStream::Plain(s) => s.into_std().unwrap(),
        _ => unreachable!(),
    };
    raw.set_nonblocking(false).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    // On its own thread, so draining ~100 MB never delays the live client's loop below.
    let drain = {
        let done = done.clone();
        std::thread::spawn(move || {
            let marker = br#""state":"final""#;
            let mut buf = vec![0u8; 256 * 1024];
            let mut carry: Vec<u8> = Vec::new();
            let mut total = 0usize;
            loop {
                let n = raw.read(&mut buf).unwrap();
                assert!(n > 0, "driver socket closed after {total} bytes");
                total += n;
                carry.extend_from_slice(&buf[..n]);
                if carry.windows(marker.len()).any(|w| w == marker) {
                    done.store(true, Ordering::Relaxed);
                    // The socket goes back open: the driver stays connected.
                    return (total, raw);
                }
                let keep = carry.len().saturating_sub(marker.len());
                carry.drain(..keep);
            }
        })
    };

    // Until the run is over and the stalled client is gone (3 → 2 connections: the live
    // client and the driver stay), the live client's calls and ticks keep coming. The
    // bound on each call is loose (the flood keeps a loaded machine busy for many seconds);
    // a gateway that waited on the stalled reader would not answer or tick at all.
    let mut worst = Duration::ZERO;
    let mut calls_during = 0;
    let mut ticks_during = 0;
    let mut i = 0;
    let mut connections = 3;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(done.load(Ordering::Relaxed) && connections == 2) {
        assert!(
            Instant::now() < deadline,
            "run done: {}, connections: {connections}\n{}",
            done.load(Ordering::Relaxed),
            gw.output()
        );
        i += 1;
        let id = format!("h{i}");
        let t = Instant::now();
        send(
            &mut live,
            &json!({"type":"req","id":id,"method":"health","params":{}}),
        )
        .await;
        let res = loop {
            let v = next_json(&mut live).await.expect("live client cut off");
            if v["type"] == "event" && v["event"] == "tick" && !done.load(Ordering::Relaxed) {
                ticks_during += 1;
            }
            if v["type"] == "res" && v["id"] == id.as_str() {
                break v;
            }
        };
        worst = worst.max(t.elapsed());
        assert_eq!(res["ok"], true, "{res}");
        if !done.load(Ordering::Relaxed) {
            calls_during += 1;
        }
        connections = res["payload"]["connections"].as_u64().unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (drained, _driver) = drain.join().unwrap();
    assert!(
        drained > 60 * 1024 * 1024,
        "the flood was smaller than planned: {drained} bytes"
    );
    assert!(
        worst < Duration::from_secs(10),
        "a health call took {worst:?} during the flood"
    );
    assert!(
        calls_during >= 3 && ticks_during >= 3,
        "the live client was starved during the {:?} flood: {calls_during} calls, {ticks_during} ticks",
        flood_started.elapsed()
    );

    // The stalled client was disconnected as a slow consumer...
    let log = std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("disconnecting slow consumer") && l.contains(&stalled_id)),
        "{log}"
    );
    // ...so what it can still read ends (close or reset) without the run's end in it.
    let mut got = 0usize;
    let mut saw_final = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(30), stalled.next()).await {
            Err(_) => panic!("the stalled socket is still open after {got} bytes"),
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => break,
            Ok(Some(Ok(Message::Text(t)))) => {
                got += t.len();
                saw_final |= t.contains(r#""state":"final""#);
            }
            Ok(Some(Ok(_))) => {}
        }
    }
    assert!(
        !saw_final,
        "the stalled client got the whole run ({got} bytes)"
    );
    assert!(got < drained, "{got} of {drained} bytes");
}
