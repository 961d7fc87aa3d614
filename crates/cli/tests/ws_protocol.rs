//! The WebSocket protocol against the real binary, for what is set through the process
//! environment: tick interval, handshake timeout, slow-consumer thresholds, `${VAR}`
//! secrets. (The rest of the protocol is tested in-process in the gateway crate.)

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const TOKEN: &str = "test-token-0123456789";

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

    // Delta events are broadcast (not droppable) twice, as an `agent` and a `chat` event,
    // each carrying the reply so far, at most once per 150 ms. A 1.5 MB reply streamed over
    // ~12 s (6000 chunks of 250 bytes, 2 ms apart) makes ~80 pairs averaging ~0.75 MB:
    // ~120 MB, far past the kernel buffers (a few MB here) plus the gateway's
    // maxBufferedBytes (50 MB).
    let chunk = format!("{} ", "w".repeat(249));
    let mock = openclaw_mock_provider::spawn(openclaw_mock_provider::MockOptions {
        reply: Some(chunk.repeat(6000)),
        chunk_delay: Duration::from_millis(2),
        ..openclaw_mock_provider::MockOptions::default()
    })
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
    let message = "flood";
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
