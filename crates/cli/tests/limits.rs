//! Size limits against the real binary, with the gateway process's own memory as the
//! witness (`/proc/<pid>/status` VmRSS/VmHWM): an unauthenticated WebSocket cannot make the
//! gateway hold more than the pre-auth cap, and an HTTP body that declares more than its
//! endpoint accepts is refused before any of it is read.

mod common;

use std::time::Duration;

use common::*;
use raw::{FIN, OP_TEXT, RawWs};
use tokio::io::AsyncWriteExt;

const TOKEN: &str = "limits-token-0123456789";
const MIB: u64 = 1024 * 1024;

/// (VmRSS, VmHWM) of `pid` in bytes.
fn memory(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Writes `total` bytes of zeros to `wr` in 64 KiB pieces, stopping at the first error (the
/// gateway closed); returns how many were written.
async fn stream_zeros(wr: &mut (impl AsyncWriteExt + Unpin), total: u64) -> u64 {
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let n = chunk.len().min((total - sent) as usize);
        if wr.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        sent += n as u64;
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preauth_frames_are_refused_from_their_header() {
    let gw = start(Spec::token(TOKEN));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rss_before, _) = memory(gw.pid());

    // 16 anonymous sockets, each declaring one 20 MiB text frame after the challenge and
    // streaming it (masked with a zero key, so zeros stay zeros).
    let frame_len = 20 * MIB;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let port = gw.port;
        tasks.push(tokio::spawn(async move {
            let (ws, _challenge) = RawWs::open(port).await;
            let RawWs { mut rd, mut wr } = ws;
            let writer = tokio::spawn(async move {
                let head = raw::frame_header(FIN | OP_TEXT, frame_len, [0; 4]);
                if wr.write_all(&head).await.is_err() {
                    return 0;
                }
                stream_zeros(&mut wr, frame_len).await
            });
            let code = rd.close_code().await;
            writer.abort();
            let sent = writer.await.unwrap_or(0);
            (code, sent)
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    let (rss_after, hwm) = memory(gw.pid());
    let growth = hwm.saturating_sub(rss_before);
    eprintln!(
        "pre-auth 16 x 20 MiB: VmRSS {} -> {} KiB, VmHWM {} KiB (+{} KiB)",
        rss_before / 1024,
        rss_after / 1024,
        hwm / 1024,
        growth / 1024
    );
    for (code, _) in &codes {
        assert_eq!(*code, Some(1009), "every socket closes 1009: {codes:?}");
    }
    assert!(
        growth < 16 * MIB,
        "16 unauthenticated 20 MiB frames grew the gateway by {} KiB",
        growth / 1024
    );

    // The gateway is unaffected.
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    assert_eq!(
        call(&mut ws, "h", "health", serde_json::json!({})).await["ok"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn declared_oversized_bodies_are_refused_before_reading() {
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                        http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
             models: {{ providers: {{ mock: {{ baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions" }} }} }},
             agents: {{ defaults: {{ model: "mock/small" }} }} }}"#
    );
    let gw = start(Spec::default().config(&cfg));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rss_before, _) = memory(gw.pid());

    // Ten parallel uploads declaring 50 MiB, each streaming up to 21 MB of it.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let port = gw.port;
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let (mut rd, mut wr) = stream.into_split();
            let head = format!(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                 Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                50 * MIB
            );
            wr.write_all(head.as_bytes()).await.unwrap();
            let started = std::time::Instant::now();
            let writer = tokio::spawn(async move { stream_zeros(&mut wr, 21_000_000).await });
            let res = raw::read_response_head(&mut rd, Duration::from_secs(30)).await;
            let took = started.elapsed();
            // The client keeps sending after the answer, as most do: what the gateway reads
            // of a refused body is thrown away, never kept.
            let sent = tokio::time::timeout(Duration::from_secs(20), writer)
                .await
                .expect("the refused upload is drained, not stalled")
                .unwrap();
            (res.map(|r| r.0), took, sent)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let (rss_after, hwm) = memory(gw.pid());
    let growth = hwm.saturating_sub(rss_before);
    eprintln!(
        "10 x Content-Length 50 MiB: VmRSS {} -> {} KiB, VmHWM {} KiB (+{} KiB); {results:?}",
        rss_before / 1024,
        rss_after / 1024,
        hwm / 1024,
        growth / 1024
    );
    for (status, took, _) in &results {
        assert_eq!(*status, Some(413), "{results:?}");
        assert!(*took < Duration::from_secs(5), "413 took {took:?}");
    }
    assert!(
        growth < 16 * MIB,
        "ten declared 50 MiB bodies grew the gateway by {} KiB",
        growth / 1024
    );
}
