//! Request bodies over real sockets, written as raw HTTP/1.1: a declared length past the
//! cap is refused before anything is sent, so is a chunk whose size line declares past it,
//! a malformed chunked body is a 400 (not a 413),
//! an undeclared body stops at the cap, and large bodies in flight are bounded (503).
//!
//! The large-body permits are process-wide, so every test that takes one is in
//! `large_bodies_in_flight_are_bounded`; the others stay under 1 MiB.

use std::time::Duration;

use openclaw_testkit::TestGateway;
use openclaw_testkit::raw::{read_response, read_response_head};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const TOKEN: &str = "bodies-token-0123456789";
const HOOK_TOKEN: &str = "bodies-hook-token-0123456789";
const MIB: usize = 1024 * 1024;

fn gateway() -> TestGateway {
    TestGateway::with_config(&format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                        http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
             models: {{ providers: {{ mock: {{ baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions" }} }} }},
             agents: {{ defaults: {{ model: "mock/small" }} }},
             hooks: {{ enabled: true, token: "{HOOK_TOKEN}" }} }}"#
    ))
}

/// Opens a connection and sends a POST head with these extra header lines.
async fn post_head(port: u16, path: &str, token: Option<&str>, headers: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n{headers}\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// Reads the response: status, lower-cased head, body as JSON (`null` if it is not).
async fn response(s: &mut TcpStream, within: Duration) -> (u16, String, Value) {
    let (status, head, body) = read_response(s, within, true)
        .await
        .expect("a response before the connection ended");
    (
        status,
        head,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_declared_length_past_the_cap_is_refused_before_any_byte() {
    let gw = gateway();
    // No byte of body is ever sent: the answer must not wait for one.
    let cases = [
        ("/v1/chat/completions", TOKEN, 50 * MIB),
        ("/tools/invoke", TOKEN, 3 * MIB),
        ("/hooks/wake", HOOK_TOKEN, 300 * 1024),
    ];
    for (path, token, len) in cases {
        let mut s = post_head(
            gw.port,
            path,
            Some(token),
            &format!("Content-Length: {len}\r\n"),
        )
        .await;
        let (status, _, body) = response(&mut s, Duration::from_secs(5)).await;
        assert_eq!(status, 413, "{path}: {body}");
        match path {
            "/v1/chat/completions" => {
                assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
                assert_eq!(
                    body["error"]["message"],
                    "Request body too large: the limit is 20 MB"
                );
            }
            "/tools/invoke" => assert_eq!(body["error"]["type"], "payload_too_large", "{body}"),
            _ => assert_eq!(body["ok"], false, "{body}"),
        }
    }
    // Admission still comes first: without credentials it is a 401, body unread.
    let mut s = post_head(
        gw.port,
        "/v1/chat/completions",
        None,
        &format!("Content-Length: {}\r\n", 50 * MIB),
    )
    .await;
    assert_eq!(response(&mut s, Duration::from_secs(5)).await.0, 401);
}

#[tokio::test]
async fn a_malformed_chunked_body_is_a_400() {
    let gw = gateway();
    for path in ["/v1/chat/completions", "/tools/invoke", "/hooks/wake"] {
        let token = if path.starts_with("/hooks") {
            HOOK_TOKEN
        } else {
            TOKEN
        };
        let mut s = post_head(gw.port, path, Some(token), "Transfer-Encoding: chunked\r\n").await;
        // A chunk size that is not hexadecimal.
        s.write_all(b"2\r\n{}\r\nzz\r\n").await.unwrap();
        let (status, _, body) = response(&mut s, Duration::from_secs(5)).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
}

#[tokio::test]
async fn a_declared_chunk_past_the_cap_is_refused_at_once() {
    let gw = gateway();
    // Each body starts with a small chunk, then announces one past the route's cap and
    // sends a few bytes of it: the 413 must come on the size line, long before the 30 s
    // body-progress timeout, and without the announced data.
    let cases = [
        ("/v1/chat/completions", TOKEN, 21 * MIB),
        ("/tools/invoke", TOKEN, 3 * MIB),
        ("/hooks/wake", HOOK_TOKEN, 300 * 1024),
    ];
    for (path, token, size) in cases {
        let mut s = post_head(gw.port, path, Some(token), "Transfer-Encoding: chunked\r\n").await;
        s.write_all(format!("1\r\n{{\r\n{size:x}\r\nxyz").as_bytes())
            .await
            .unwrap();
        let (status, head, body) = response(&mut s, Duration::from_secs(5)).await;
        assert_eq!(status, 413, "{path}: {body}");
        assert!(!head.contains("connection: keep-alive"), "{head}");
        match path {
            "/v1/chat/completions" => assert_eq!(
                body["error"]["message"],
                "Request body too large: the limit is 20 MB"
            ),
            "/tools/invoke" => assert_eq!(body["error"]["type"], "payload_too_large", "{body}"),
            _ => assert_eq!(status, 413),
        }
    }

    // The size line arrives after the handler has begun waiting for the body, cut in two
    // reads: the wait is woken by the declaration itself.
    let mut s = post_head(
        gw.port,
        "/tools/invoke",
        Some(TOKEN),
        "Transfer-Encoding: chunked\r\n",
    )
    .await;
    s.write_all(b"1\r\n{\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(b"4000").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"00").await.unwrap();
    let (status, _, body) = response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(status, 413, "{body}");

    // Declarations within the cap, on a keep-alive connection: the first request's
    // chunks do not count against the second's, which is refused on its own size line.
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap();
    let body = r#"{"tool":"no_such_tool","args":{}}"#;
    let (a, b) = body.split_at(10);
    let first = format!(
        "POST /tools/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    s.write_all(first.as_bytes()).await.unwrap();
    let (status, head, reply) = response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(
        status, 404,
        "a chunked body within the cap reaches the handler: {reply}"
    );
    assert!(!head.contains("connection: close"), "{head}");
    let second = format!(
        "POST /tools/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         a\r\n{{\"tool\":12\r\n"
    );
    s.write_all(second.as_bytes()).await.unwrap();
    // 10 bytes, then a chunk one byte short of the cap: the sum passes it.
    s.write_all(format!("{:x}\r\n", 2 * MIB - 9).as_bytes())
        .await
        .unwrap();
    let (status, _, reply) = response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(
        status, 413,
        "10 B + (2 MiB - 9 B) declared past the 2 MiB cap: {reply}"
    );
}

#[tokio::test]
async fn large_bodies_in_flight_are_bounded() {
    let gw = gateway();
    // Four uploads declaring 2 MiB (within the /tools/invoke cap) that send one byte and
    // stall: each holds a large-body permit while its body is awaited.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = post_head(
            gw.port,
            "/tools/invoke",
            Some(TOKEN),
            &format!("Content-Length: {}\r\n", 2 * MIB),
        )
        .await;
        s.write_all(b"{").await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A fifth is told to come back, in each endpoint's shape.
    let mut s = post_head(
        gw.port,
        "/tools/invoke",
        Some(TOKEN),
        &format!("Content-Length: {}\r\n", 2 * MIB),
    )
    .await;
    let (status, head, body) = response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["type"], "unavailable", "{body}");
    let mut s = post_head(
        gw.port,
        "/v1/chat/completions",
        Some(TOKEN),
        &format!("Content-Length: {}\r\n", 5 * MIB),
    )
    .await;
    let (status, head_v1, body) = response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["type"], "unavailable", "{body}");
    assert!(head_v1.contains("retry-after: 1"), "{head_v1}");
    let _ = head;
    // Small bodies are not held back.
    let mut s = post_head(
        gw.port,
        "/tools/invoke",
        Some(TOKEN),
        "Content-Length: 23\r\n",
    )
    .await;
    s.write_all(br#"{"tool": "agents_list"}"#).await.unwrap();
    assert_eq!(response(&mut s, Duration::from_secs(5)).await.0, 200);

    // The stalled uploads go away: their permits come back.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = format!(
        r#"{{"tool": "agents_list", "args": {{"pad": "{}"}}}}"#,
        "x".repeat(3 * MIB / 2)
    );
    let mut s = post_head(
        gw.port,
        "/tools/invoke",
        Some(TOKEN),
        &format!("Content-Length: {}\r\n", body.len()),
    )
    .await;
    s.write_all(body.as_bytes()).await.unwrap();
    assert_eq!(response(&mut s, Duration::from_secs(10)).await.0, 200);

    // An undeclared (chunked) body stops at the cap: 413 once past 2 MiB, whatever follows.
    let mut s = post_head(
        gw.port,
        "/tools/invoke",
        Some(TOKEN),
        "Transfer-Encoding: chunked\r\n",
    )
    .await;
    let (mut rd, mut wr) = s.split();
    let writer = async {
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
        for _ in 0..64 {
            if wr.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
    };
    let reader = read_response_head(&mut rd, Duration::from_secs(10));
    let (_, res) = tokio::join!(writer, reader);
    assert_eq!(res.map(|r| r.0), Some(413));
}
