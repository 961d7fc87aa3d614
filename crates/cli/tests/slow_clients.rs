//! Slow, silent and unauthenticated clients against the real binary (`serve.rs`): header,
//! idle and body-progress timeouts, the per-address cap on unauthenticated connections,
//! and the fd reserve that lets an operator in at the open-file limit.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use openclaw_mock_provider::MockOptions;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "slow-clients-token-0123456789";

/// Open descriptors of a process.
fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The fd count of a gateway that has finished starting (its watcher and log are open):
/// one request served, then the count stable for 200 ms.
async fn baseline_fds(gw: &Gateway) -> usize {
    let (status, _, _) = http_get(gw.port, "/health").await;
    assert_eq!(status, 200);
    let mut last = fd_count(gw.pid());
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n = fd_count(gw.pid());
        if n == last {
            return n;
        }
        last = n;
    }
}

/// Waits until the fd count of `pid` is at most `max`; returns the last count seen.
async fn fds_settle(pid: i32, max: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let n = fd_count(pid);
        if n <= max || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the peer to close `s` (EOF or an error); `None` if it is still open at `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

/// Opens `n` TCP connections that send nothing.
async fn silent(port: u16, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    out
}

/// Reads one HTTP response head and its `content-length` body; returns (status, body).
async fn read_response(s: &mut TcpStream, within: Duration) -> Option<(u16, String)> {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= len {
                let status = head.split_whitespace().nth(1)?.parse().ok()?;
                return Some((status, body[..len].to_owned()));
            }
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

#[tokio::test]
async fn header_dribblers_are_closed_at_the_header_timeout() {
    let gw = start(Spec::token(TOKEN).env("OPENCLAW_HTTP_HEADER_TIMEOUT_MS", "1000"));
    let before = baseline_fds(&gw).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let port = gw.port;
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let t0 = Instant::now();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await
                .unwrap();
            let mut buf = [0u8; 256];
            // One header byte every 200 ms, for up to 10 s.
            while t0.elapsed() < Duration::from_secs(10) {
                tokio::select! {
                    r = s.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return Some(t0.elapsed()),
                        Ok(_) => {}
                    },
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {
                        if s.write_all(b"a").await.is_err() {
                            return Some(t0.elapsed());
                        }
                    }
                }
            }
            None
        }));
    }
    let mut slowest = Duration::ZERO;
    for t in tasks {
        let closed = t
            .await
            .unwrap()
            .expect("a dribbler was still open after 10 s");
        assert!(
            closed >= Duration::from_millis(900),
            "closed before the header timeout: {closed:?}"
        );
        slowest = slowest.max(closed);
    }
    assert!(
        slowest < Duration::from_secs(4),
        "slowest close {slowest:?}"
    );
    let after = fds_settle(gw.pid(), before + 2, Duration::from_secs(3)).await;
    eprintln!(
        "200 dribblers: all closed by {slowest:?} ({:?} total); gateway fds {before} -> {after}; RSS {} KiB",
        started.elapsed(),
        rss_kib(gw.pid())
    );
    assert!(after <= before + 2, "fds {before} -> {after}");
    // The gateway still answers.
    let (status, _, _) = http_get(gw.port, "/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn silent_sockets_and_idle_keep_alive_connections_are_closed() {
    let gw = start(
        Spec::token(TOKEN)
            .env("OPENCLAW_HTTP_HEADER_TIMEOUT_MS", "1000")
            .env("OPENCLAW_HTTP_IDLE_TIMEOUT_MS", "1500"),
    );
    let before = baseline_fds(&gw).await;
    let mut socks = silent(gw.port, 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = fd_count(gw.pid());
    assert!(
        held >= before + 150,
        "the silent sockets were accepted: {before} -> {held}"
    );
    for s in &mut socks {
        let closed = closed_within(s, Duration::from_secs(5))
            .await
            .expect("a silent socket was still open after 5 s");
        assert!(closed < Duration::from_secs(3), "{closed:?}");
    }
    let after = fds_settle(gw.pid(), before + 2, Duration::from_secs(3)).await;
    eprintln!("200 silent sockets: gateway fds {before} -> {held} -> {after}");
    assert!(after <= before + 2);

    // Keep-alive: a second request within the idle timeout is served on the same
    // connection; then silence closes it after the idle timeout, not the header timeout.
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap();
    let req = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    s.write_all(req).await.unwrap();
    let (status, _) = read_response(&mut s, Duration::from_secs(2)).await.unwrap();
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.write_all(req).await.unwrap();
    let (status, _) = read_response(&mut s, Duration::from_secs(2))
        .await
        .expect("keep-alive connection closed before the idle timeout");
    assert_eq!(status, 200);
    let idle = closed_within(&mut s, Duration::from_secs(5))
        .await
        .expect("an idle keep-alive connection stayed open");
    assert!(
        idle >= Duration::from_millis(1300) && idle < Duration::from_secs(3),
        "idle close after {idle:?}"
    );
}

#[tokio::test]
async fn streams_and_websockets_in_use_are_never_idle() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/mock-slow-400+chunkdelay-400" }} }},
        }}"#,
        mock.openai_base_url()
    );
    let gw = start(
        Spec::default()
            .config(&cfg)
            .env("OPENCLAW_HTTP_HEADER_TIMEOUT_MS", "300")
            .env("OPENCLAW_HTTP_IDLE_TIMEOUT_MS", "300")
            .env("OPENCLAW_HTTP_BODY_TIMEOUT_MS", "300")
            .env("OPENCLAW_SSE_KEEPALIVE_MS", "60000"),
    );
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    let started = Instant::now();
    let r = reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw", "stream": true, "messages": [{"role": "user", "content": "several words to stream slowly"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut body = String::new();
    let mut stream = r.bytes_stream();
    while let Some(chunk) = stream.next().await {
        body.push_str(&String::from_utf8_lossy(
            &chunk.expect("the stream was cut"),
        ));
    }
    assert!(
        body.trim_end().ends_with("data: [DONE]"),
        "stream cut after {:?}: {body}",
        started.elapsed()
    );
    assert!(
        started.elapsed() > Duration::from_millis(800),
        "the stream should outlast the timeouts"
    );
    // The authenticated WebSocket sat silent through all of it and still works.
    let res = call(&mut ws, "h", "health", json!({})).await;
    assert_eq!(res["ok"], true, "{res}");
}

#[tokio::test]
async fn stalled_bodies_get_408_and_slow_ones_are_served() {
    let gw = start(Spec::token(TOKEN).env("OPENCLAW_HTTP_BODY_TIMEOUT_MS", "500"));
    let head = format!(
        "POST /tools/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(br#"{"tool":"#).await.unwrap();
    let t0 = Instant::now();
    let (status, body) = read_response(&mut s, Duration::from_secs(5))
        .await
        .expect("no answer to a stalled body");
    let took = t0.elapsed();
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("stalled"), "{body}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        closed_within(&mut s, Duration::from_secs(2))
            .await
            .is_some(),
        "the connection stays open after 408"
    );

    // A body that keeps coming, a few bytes at a time, is not cut however long it takes.
    let body = br#"{"tool":"no-such-tool-here","args":{}}"#;
    let head = format!(
        "POST /tools/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let t0 = Instant::now();
    for piece in body.chunks(4) {
        s.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (status, text) = read_response(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(t0.elapsed() > Duration::from_secs(1));
    assert_ne!(status, 408, "{text}");
    assert!(text.contains("no-such-tool-here"), "{text}");
}

#[tokio::test]
async fn unauthenticated_connections_over_the_per_address_cap_get_a_fast_503() {
    // Loopback is exempt from the per-address cap by default, like the failed-auth limiter.
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}", rateLimit: {{ exemptLoopback: false }} }} }} }}"#
    );
    let gw = start(Spec::default().config(&cfg));
    let mut held = silent(gw.port, 32).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let t0 = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = read_response(&mut s, Duration::from_secs(2))
        .await
        .expect("no quick answer over the cap");
    assert_eq!(status, 503, "{body}");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["type"], "unavailable");
    assert!(
        closed_within(&mut s, Duration::from_secs(2))
            .await
            .is_some()
    );

    // A WebSocket upgrade over the cap is refused the same way.
    let t0 = Instant::now();
    match tokio_tungstenite::connect_async(gw.url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 503)
        }
        other => panic!("expected a 503 refusal, got {:?}", other.map(|_| ())),
    }
    assert!(t0.elapsed() < Duration::from_secs(1));

    // Freeing room lets a client in; once authenticated it no longer counts.
    held.truncate(28);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    held.extend(silent(gw.port, 4).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = read_response(&mut s, Duration::from_secs(2)).await.unwrap();
    assert_eq!(status, 503, "32 unauthenticated again: the 33rd is refused");
    let res = call(&mut ws, "h", "health", json!({})).await;
    assert_eq!(res["ok"], true);
    drop(held);
}

#[tokio::test]
async fn an_operator_gets_in_at_the_open_file_limit() {
    let gw = start(Spec::token(TOKEN).env("OPENCLAW_HTTP_HEADER_TIMEOUT_MS", "5000"));
    // As under `ulimit -n 256` (soft and hard: the gateway raises soft to hard at start).
    let pid = rustix::process::Pid::from_raw(gw.pid()).unwrap();
    let lim = rustix::process::Rlimit {
        current: Some(256),
        maximum: Some(256),
    };
    rustix::process::prlimit(Some(pid), rustix::process::Resource::Nofile, lim)
        .expect("lower the gateway's open-file limit");
    let before = baseline_fds(&gw).await;
    let rss_before = rss_kib(gw.pid());

    // 300 sockets that never send a byte, from loopback (exempt from the per-address cap):
    // more than the gateway has descriptors for.
    let held = silent(gw.port, 300).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let t0 = Instant::now();
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(3),
        connect(&gw.url(), TOKEN, None, "test"),
    )
    .await
    .expect("no hello-ok within 3 s at the open-file limit");
    let took = t0.elapsed();
    let res = call(&mut ws, "h", "health", json!({})).await;
    assert_eq!(res["ok"], true);
    let peak = fd_count(gw.pid());
    let rss_peak = rss_kib(gw.pid());
    assert!(
        peak <= 256 - 32 + 4,
        "the fd reserve was used up: {peak} open"
    );
    // A second operator too, while the silent sockets are still held.
    let (_ws2, _) = tokio::time::timeout(
        Duration::from_secs(3),
        connect(&gw.url(), TOKEN, None, "test"),
    )
    .await
    .expect("a second operator waited more than 3 s");
    drop(held);
    let after = fds_settle(gw.pid(), before + 4, Duration::from_secs(8)).await;
    eprintln!(
        "300 silent sockets under RLIMIT_NOFILE=256: hello-ok in {took:?}; gateway fds {before} -> {peak} -> {after}; RSS {rss_before} -> {rss_peak} KiB"
    );
    assert!(after <= before + 4, "fds {before} -> {after}");
    // The first operator was never shed.
    let res = call(&mut ws, "h2", "health", json!({})).await;
    assert_eq!(res["ok"], true);
}
