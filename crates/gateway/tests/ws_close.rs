//! Close codes for hand-made frames, written as raw bytes after a real upgrade: text that is
//! not UTF-8 closes 1007, frames that break RFC 6455 close 1002, a length header past the
//! limit closes 1009 at once — before authentication (the pre-auth reader) and after
//! `hello-ok` (tungstenite), each with a close frame.

use openclaw_testkit::raw::{FIN, OP_BINARY, OP_PING, OP_TEXT, RawWs, frame, frame_header};
use openclaw_testkit::{TestGateway, connect_frame};
use serde_json::{Value, json};

const TOKEN: &str = "ws-close-token-0123456789";

/// Frames no endpoint may accept, with the close code each must get.
fn bad_frames() -> Vec<(&'static str, Vec<u8>, u16)> {
    let mut unmasked = vec![FIN | OP_TEXT, 2];
    unmasked.extend_from_slice(b"{}");
    vec![
        (
            "invalid UTF-8",
            frame(FIN | OP_TEXT, &[b'"', 0xc3, 0x28, b'"']),
            1007,
        ),
        ("overlong UTF-8", frame(FIN | OP_TEXT, &[0xc0, 0xaf]), 1007),
        ("reserved data opcode", frame(FIN | 0x3, b"{}"), 1002),
        ("reserved control opcode", frame(FIN | 0xb, b""), 1002),
        (
            "RSV1 without an extension",
            frame(FIN | 0x40 | OP_TEXT, b"{}"),
            1002,
        ),
        ("unmasked client frame", unmasked, 1002),
        ("continuation with no message", frame(FIN, b"{}"), 1002),
        ("fragmented ping", frame(OP_PING, b"x"), 1002),
        (
            "control frame over 125 bytes",
            frame(FIN | OP_PING, &[b'p'; 126]),
            1002,
        ),
        (
            "new message inside a fragmented one",
            [frame(OP_TEXT, b"{"), frame(FIN | OP_TEXT, b"{}")].concat(),
            1002,
        ),
    ]
}

/// Sends the connect frame and reads up to `hello-ok`.
async fn authenticate(ws: &mut RawWs) {
    let connect = connect_frame(json!({"token": TOKEN}), None, "test");
    ws.send(FIN | OP_TEXT, connect.to_string().as_bytes()).await;
    loop {
        let (op, payload) = ws
            .rd
            .read_frame()
            .await
            .expect("socket closed before hello");
        if op != OP_TEXT {
            continue;
        }
        let v: Value = serde_json::from_slice(&payload).unwrap();
        if v["type"] == "res" && v["id"] == "c1" {
            assert_eq!(v["ok"], true, "{v}");
            return;
        }
    }
}

#[tokio::test]
async fn before_auth_bad_frames_get_their_close_frame() {
    let gw = TestGateway::with_token(TOKEN);
    for (what, bytes, code) in bad_frames() {
        let (mut ws, _) = RawWs::open(gw.port).await;
        ws.write(&bytes).await.unwrap();
        assert_eq!(ws.close_code().await, Some(code), "before auth: {what}");
    }
}

#[tokio::test]
async fn after_hello_bad_frames_get_their_close_frame() {
    let gw = TestGateway::with_token(TOKEN);
    for (what, bytes, code) in bad_frames() {
        let (mut ws, _) = RawWs::open(gw.port).await;
        authenticate(&mut ws).await;
        ws.write(&bytes).await.unwrap();
        assert_eq!(ws.close_code().await, Some(code), "after hello: {what}");
    }
}

#[tokio::test]
async fn a_length_header_past_the_limit_closes_1009_without_its_payload() {
    let gw = TestGateway::with_token(TOKEN);
    // Before auth: a header declaring 1 MiB (past the 64 KiB cap), and nothing after it.
    let (mut ws, _) = RawWs::open(gw.port).await;
    ws.write(&frame_header(FIN | OP_TEXT, 1 << 20, [1, 2, 3, 4]))
        .await
        .unwrap();
    assert_eq!(ws.close_code().await, Some(1009));
    // Fragments that together pass the cap.
    let (mut ws, _) = RawWs::open(gw.port).await;
    let half = vec![b' '; 40 * 1024];
    ws.write(&[frame(OP_TEXT, &half), frame(FIN, &half)].concat())
        .await
        .unwrap();
    assert_eq!(ws.close_code().await, Some(1009));
    // After hello: a header declaring more than maxPayload (25 MiB).
    let (mut ws, _) = RawWs::open(gw.port).await;
    authenticate(&mut ws).await;
    ws.write(&frame_header(FIN | OP_TEXT, 26 << 20, [1, 2, 3, 4]))
        .await
        .unwrap();
    assert_eq!(ws.close_code().await, Some(1009));
}

#[tokio::test]
async fn a_binary_first_frame_still_closes_1008() {
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = RawWs::open(gw.port).await;
    ws.send(FIN | OP_BINARY, b"{}").await;
    assert_eq!(ws.close_code().await, Some(1008));
}

#[tokio::test]
async fn frames_sent_right_behind_connect_are_not_lost() {
    // The connect frame, a ping and a request in one write: what the pre-auth reader read
    // past `connect` is handed to the post-auth socket.
    let gw = TestGateway::with_token(TOKEN);
    let (mut ws, _) = RawWs::open(gw.port).await;
    let connect = connect_frame(json!({"token": TOKEN}), None, "test").to_string();
    let health = json!({"type":"req","id":"h","method":"health","params":{}}).to_string();
    let bytes = [
        frame(FIN | OP_TEXT, connect.as_bytes()),
        frame(FIN | OP_PING, b"p"),
        frame(OP_TEXT, &health.as_bytes()[..5]),
        frame(FIN, &health.as_bytes()[5..]),
    ]
    .concat();
    ws.write(&bytes).await.unwrap();
    let mut seen = vec![];
    while !(seen.contains(&"c1".to_owned()) && seen.contains(&"h".to_owned())) {
        let (op, payload) = ws.rd.read_frame().await.expect("socket closed");
        if op == OP_TEXT {
            let v: Value = serde_json::from_slice(&payload).unwrap();
            if v["type"] == "res" {
                assert_eq!(v["ok"], true, "{v}");
                seen.push(v["id"].as_str().unwrap().to_owned());
            }
        }
    }
}
