//! The WebSocket control plane as a client sees it: open, handshake, call, wait.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
/// A WebSocket message (re-exported so tests need not name tungstenite).
pub use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a socket and reads the challenge.
pub async fn open(url: &str) -> (Ws, Value) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect");
    let challenge = next_json(&mut ws).await.expect("challenge");
    (ws, challenge)
}

/// Like [`open`], but `None` while nothing listens (e.g. during an in-process restart).
pub async fn try_open(url: &str) -> Option<(Ws, Value)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.ok()?;
    let challenge = next_json(&mut ws).await?;
    Some((ws, challenge))
}

/// The connect frame exactly as the real `openclaw` 2026.9.6 CLI sends it.
pub fn real_cli_connect(token: &str) -> Value {
    json!({"type":"req","id":format!("1:{}", uuid::Uuid::new_v4()),"method":"connect","params":{"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","mode":"cli","instanceId":uuid::Uuid::new_v4().to_string()},"caps":[],"auth":{"token":token},"role":"operator","scopes":["operator.read"]}})
}

/// A connect frame with the given auth object, scopes and client mode.
pub fn connect_frame(auth: Value, scopes: Option<Vec<&str>>, mode: &str) -> Value {
    let mut params = json!({
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "test", "version": "0.0.1", "platform": "linux", "mode": mode,
                   "instanceId": uuid::Uuid::new_v4().to_string()},
        "auth": auth, "role": "operator",
    });
    if let Some(s) = scopes {
        params["scopes"] = json!(s);
    }
    json!({"type":"req","id":"c1","method":"connect","params":params})
}

/// Connects and authenticates; returns the socket and the hello-ok payload.
pub async fn connect(url: &str, token: &str, scopes: Option<Vec<&str>>, mode: &str) -> (Ws, Value) {
    let (mut ws, _) = open(url).await;
    send(
        &mut ws,
        &connect_frame(json!({"token": token}), scopes, mode),
    )
    .await;
    let res = next_res(&mut ws, "c1").await;
    assert_eq!(res["ok"], true, "connect failed: {res}");
    (ws, res["payload"].clone())
}

/// Sends one JSON text frame.
pub async fn send(ws: &mut Ws, v: &Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Sends raw text (for frames that are deliberately not JSON).
pub async fn send_text(ws: &mut Ws, s: &str) {
    ws.send(Message::Text(s.to_owned().into())).await.unwrap();
}

/// Next JSON text message, or None if the socket closed. Times out after 10 s.
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("timed out waiting for a frame")?;
        match msg {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Waits for the `res` with this id, skipping events.
pub async fn next_res(ws: &mut Ws, id: &str) -> Value {
    loop {
        let v = next_json(ws).await.expect("socket closed before response");
        if v["type"] == "res" && v["id"] == id {
            return v;
        }
    }
}

/// Waits for an event with this name.
pub async fn next_event(ws: &mut Ws, name: &str) -> Value {
    loop {
        let v = next_json(ws).await.expect("socket closed before event");
        if v["type"] == "event" && v["event"] == name {
            return v;
        }
    }
}

/// Calls a method and returns the whole `res` frame.
pub async fn call(ws: &mut Ws, id: &str, method: &str, params: Value) -> Value {
    send(
        ws,
        &json!({"type":"req","id":id,"method":method,"params":params}),
    )
    .await;
    next_res(ws, id).await
}

/// Reads until the close frame; returns (code, reason). Fails if no close arrives.
pub async fn close_code(ws: &mut Ws) -> Option<(u16, String)> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("timed out waiting for close")?;
        match msg {
            Ok(Message::Close(Some(f))) => return Some((u16::from(f.code), f.reason.to_string())),
            Ok(Message::Close(None)) => return Some((1005, String::new())),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}
