//! The WebSocket control plane: handshake, then a reader and a writer per connection.
//!
//! The handshake runs on the unsplit socket with the pre-auth limits (64 KiB frames, the
//! handshake timeout). After `hello-ok` the socket is split: the reader parses frames and
//! dispatches them; the writer drains the connection's outbound queue (responses and
//! events), so no producer ever writes to a socket directly.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use openclaw_protocol::error::auth_detail;
use openclaw_protocol::{
    ConnectParams, ErrorShape, Frame, FrameError, HelloAuth, HelloFeatures, HelloOk, HelloPolicy,
    HelloServer, PROTOCOL_VERSION, RequestFrame, ResponseFrame, Role, close, methods, scopes,
};
use serde_json::json;

use crate::auth::{Presented, rate_limited_message};
use crate::conns::{ConnHandle, Outbound};
use crate::presence::PresenceEntry;
use crate::rpc::{self, CallContext};
use crate::state::{AppState, VERSION};
use crate::sys::now_ms;

/// Serves one upgraded socket until it closes. `ticket` is the accept loop's handle on the
/// connection (absent when the router is called directly, as in tests).
pub async fn serve_socket(
    state: Arc<AppState>,
    mut socket: WebSocket,
    peer: SocketAddr,
    origin: Option<String>,
    ticket: Option<crate::serve::Ticket>,
) {
    let challenge = json!({
        "type": "event",
        "event": methods::events::CONNECT_CHALLENGE,
        "payload": { "nonce": uuid::Uuid::new_v4().to_string(), "ts": now_ms() },
    });
    if socket
        .send(Message::Text(challenge.to_string().into()))
        .await
        .is_err()
    {
        return;
    }

    let timeout = state.live().settings.handshake_timeout;
    let accepted = tokio::select! {
        r = tokio::time::timeout(timeout, Box::pin(handshake(&state, &mut socket, peer, origin.as_deref()))) => match r {
            Ok(Some(accepted)) => accepted,
            Ok(None) => return,
            Err(_) => {
                send_close(&mut socket, close::POLICY, "handshake timeout").await;
                return;
            }
        },
        _ = state.shutdown_signal() => {
            send_close(&mut socket, close::SERVICE_RESTART, "service restart").await;
            return;
        }
    };
    // Off the unauthenticated counts of the accept loop (`serve.rs`).
    if let Some(t) = &ticket {
        t.authenticated();
    }
    run_connection(state, socket, accepted).await;
}

/// What a successful handshake produced.
struct Accepted {
    conn: Arc<ConnHandle>,
    rx: tokio::sync::mpsc::UnboundedReceiver<Outbound>,
    role: Role,
    tracked: bool,
}

/// Reads the first frame and either accepts the client or closes the socket.
async fn handshake(
    state: &Arc<AppState>,
    socket: &mut WebSocket,
    peer: SocketAddr,
    origin: Option<&str>,
) -> Option<Accepted> {
    let text = loop {
        match socket.recv().await? {
            Ok(Message::Text(t)) => break t,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Binary(b)) => {
                let code = if b.len() > openclaw_protocol::MAX_PREAUTH_PAYLOAD_BYTES {
                    close::TOO_BIG
                } else {
                    close::POLICY
                };
                send_close(socket, code, "invalid request frame").await;
                return None;
            }
            Ok(Message::Close(_)) => return None,
            Err(e) => {
                close_for_read_error(socket, e).await;
                return None;
            }
        }
    };
    if text.len() > openclaw_protocol::MAX_PREAUTH_PAYLOAD_BYTES {
        send_close(socket, close::TOO_BIG, "frame too large before handshake").await;
        return None;
    }
    let req = match Frame::parse(text.as_str()) {
        Ok(Frame::Req(req)) => req,
        Ok(_) | Err(FrameError::BadShape { .. }) | Err(FrameError::NotJson(_)) => {
            send_close(socket, close::POLICY, "invalid request frame").await;
            return None;
        }
    };
    if req.method != methods::CONNECT {
        let err = ErrorShape::invalid("invalid handshake: first request must be connect");
        reject(socket, &req.id, err, close::POLICY, "invalid handshake").await;
        return None;
    }
    let params: ConnectParams =
        match serde_json::from_value(req.params.clone().unwrap_or(serde_json::Value::Null)) {
            Ok(p) => p,
            Err(e) => {
                let err = ErrorShape::invalid(format!("invalid connect params: {e}"));
                reject(
                    socket,
                    &req.id,
                    err,
                    close::POLICY,
                    "invalid connect params",
                )
                .await;
                return None;
            }
        };
    if params.min_protocol > PROTOCOL_VERSION || params.max_protocol < PROTOCOL_VERSION {
        let err = ErrorShape::invalid(format!(
            "protocol mismatch: this gateway speaks protocol {PROTOCOL_VERSION}, the client \
             offered {}..={}; upgrade the older side",
            params.min_protocol, params.max_protocol
        ))
        .with_details(json!({
            "code": "PROTOCOL_MISMATCH",
            "expectedProtocol": PROTOCOL_VERSION,
            "minProtocol": params.min_protocol,
            "maxProtocol": params.max_protocol,
        }));
        reject(
            socket,
            &req.id,
            err,
            close::PROTOCOL_ERROR,
            "protocol mismatch",
        )
        .await;
        return None;
    }
    let Some(role) = Role::parse(params.role.as_deref()) else {
        let err = ErrorShape::invalid(format!(
            "invalid role {:?}: use \"operator\" or \"node\"",
            params.role.unwrap_or_default()
        ));
        reject(socket, &req.id, err, close::POLICY, "invalid role").await;
        return None;
    };

    let ip = peer.ip().to_canonical();
    let attempt = crate::auth::Attempt::gateway(ip, origin);
    if let Some(wait) = state.limiter.locked(&attempt) {
        let err = ErrorShape::invalid(rate_limited_message(wait))
            .with_details(json!({ "code": auth_detail::RATE_LIMITED }))
            .retry_after(wait.as_millis() as u64);
        reject(socket, &req.id, err, close::POLICY, "rate limited").await;
        return None;
    }
    let presented = params
        .auth
        .as_ref()
        .map_or_else(Presented::default, |a| Presented {
            token: a.token.as_deref(),
            password: a.password.as_deref(),
        });
    if let Err(failure) = state.auth.verify(&presented) {
        state.limiter.record_failure(&attempt);
        tracing::warn!(target: "gateway/ws", ip = %ip, code = failure.detail_code, "connect rejected: authentication failed");
        let err = ErrorShape::invalid(failure.message)
            .with_details(json!({ "code": failure.detail_code }));
        reject(socket, &req.id, err, close::POLICY, "unauthorized").await;
        return None;
    }
    state.limiter.record_success(&attempt);

    let granted: Vec<String> = match (&params.scopes, role) {
        (_, Role::Node) => vec![],
        (Some(asked), Role::Operator) => {
            let mut s: Vec<String> = asked
                .iter()
                .filter(|s| scopes::ALL.contains(&s.as_str()))
                .cloned()
                .collect();
            s.dedup();
            s
        }
        (None, Role::Operator) => scopes::DEFAULT_OPERATOR
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };

    let conn_id = uuid::Uuid::new_v4().to_string();
    let (conn, rx) = ConnHandle::new(
        conn_id.clone(),
        granted.clone(),
        openclaw_protocol::MAX_BUFFERED_BYTES,
    );
    let entry = PresenceEntry {
        ts: now_ms(),
        host: params
            .client
            .display_name
            .clone()
            .unwrap_or_else(|| params.client.id.clone()),
        ip: (!ip.is_loopback()).then(|| ip.to_string()),
        version: params.client.version.clone(),
        platform: params.client.platform.clone(),
        device_family: params.client.device_family.clone(),
        mode: params.client.mode.clone(),
        reason: "connect".into(),
        roles: vec![role.as_str().to_owned()],
        scopes: granted.clone(),
        instance_id: params.client.instance_id.clone(),
        conn_id: Some(conn_id.clone()),
    };
    state.conns.insert(conn.clone());
    let tracked = state.presence.upsert(entry);

    let hello = HelloOk {
        kind: "hello-ok".into(),
        protocol: PROTOCOL_VERSION,
        server: HelloServer {
            version: VERSION.into(),
            conn_id: conn_id.clone(),
        },
        features: HelloFeatures {
            methods: rpc::method_names().map(str::to_owned).collect(),
            events: rpc::EVENTS.iter().map(|m| m.to_string()).collect(),
        },
        snapshot: state.hello_snapshot(),
        auth: HelloAuth {
            role: role.as_str().into(),
            scopes: granted,
        },
        policy: HelloPolicy {
            tick_interval_ms: state.live().settings.tick_interval.as_millis() as u64,
            ..HelloPolicy::default()
        },
    };
    let res = ResponseFrame::ok(req.id, serde_json::to_value(hello).unwrap_or_default());
    conn.send_response(encode(&Frame::Res(res)));
    conn.send_event(
        methods::events::HEALTH,
        Arc::from(state.health_snapshot().to_string()),
        true,
    );
    if tracked {
        state.presence_changed();
    }
    tracing::debug!(target: "gateway/ws", conn = %conn_id, client = %params.client.id, mode = %params.client.mode, "client connected");
    Some(Accepted {
        conn,
        rx,
        role,
        tracked,
    })
}

/// After hello: reader and writer until either side ends.
async fn run_connection(state: Arc<AppState>, socket: WebSocket, accepted: Accepted) {
    let Accepted {
        conn,
        rx,
        role,
        tracked,
    } = accepted;
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, rx, conn.clone()));
    let ctx = CallContext {
        conn: conn.clone(),
        role,
    };
    tokio::select! {
        _ = read_loop(&state, stream, &ctx) => {}
        _ = conn.killed() => {
            tracing::warn!(target: "gateway/ws", conn = %conn.id, "disconnecting slow consumer");
        }
    }
    // Ask the writer to flush and close, but never wait long for a stuck peer.
    conn.close(close::NORMAL, "");
    let abort = writer.abort_handle();
    if tokio::time::timeout(std::time::Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    state.conns.remove(&conn.id);
    if tracked && state.presence.remove(&conn.id) {
        state.presence_changed();
    }
}

async fn read_loop(state: &Arc<AppState>, mut stream: SplitStream<WebSocket>, ctx: &CallContext) {
    while let Some(msg) = stream.next().await {
        let text = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Binary(_)) => {
                reply_err(
                    ctx,
                    "",
                    ErrorShape::invalid("binary frames are not supported; send JSON text frames"),
                );
                continue;
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) => return,
            Err(e) => {
                tracing::debug!(target: "gateway/ws", conn = %ctx.conn.id, error = %e, "read failed");
                if is_too_big(e) {
                    ctx.conn.close(close::TOO_BIG, "frame exceeds maxPayload");
                }
                return;
            }
        };
        match Frame::parse(text.as_str()) {
            // Boxed: the dispatch future is large, and an idle connection should not carry
            // its space in the connection task.
            Ok(Frame::Req(req)) => Box::pin(handle_request(state, ctx, req)).await,
            Ok(_) => reply_err(
                ctx,
                "",
                ErrorShape::invalid("invalid request frame: clients send only \"req\" frames"),
            ),
            Err(FrameError::BadShape { id, reason }) => reply_err(
                ctx,
                id.as_deref().unwrap_or(""),
                ErrorShape::invalid(format!("invalid request frame: {reason}")),
            ),
            Err(FrameError::NotJson(e)) => reply_err(
                ctx,
                "",
                ErrorShape::invalid(format!("invalid request frame: not JSON ({e})")),
            ),
        }
    }
}

async fn handle_request(state: &Arc<AppState>, ctx: &CallContext, req: RequestFrame) {
    let frame = match rpc::dispatch(state, ctx, &req.id, &req.method, req.params).await {
        Ok(Some(payload)) => ResponseFrame::ok(req.id, payload),
        Ok(None) => return,
        Err(err) => ResponseFrame::err(req.id, err),
    };
    ctx.conn.send_response(encode(&Frame::Res(frame)));
}

fn reply_err(ctx: &CallContext, id: &str, err: ErrorShape) {
    ctx.conn
        .send_response(encode(&Frame::Res(ResponseFrame::err(id, err))));
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Outbound>,
    conn: Arc<ConnHandle>,
) {
    while let Some(item) = rx.recv().await {
        conn.written(&item);
        let text = match item {
            Outbound::Response(s) => s,
            Outbound::Event { name, payload, seq } => event_frame(name, &payload, seq),
            Outbound::Close(code, reason) => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: Utf8Bytes::from_static(reason),
                    })))
                    .await;
                return;
            }
        };
        if sink.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
}

/// Builds an event frame around an already-serialized payload, so a broadcast serializes
/// its payload once however many clients receive it.
pub fn event_frame(name: &str, payload: &str, seq: u64) -> String {
    let mut s = String::with_capacity(payload.len() + name.len() + 48);
    s.push_str(r#"{"type":"event","event":"#);
    s.push_str(&serde_json::to_string(name).unwrap_or_default());
    s.push_str(r#","payload":"#);
    s.push_str(payload);
    s.push_str(r#","seq":"#);
    s.push_str(&seq.to_string());
    s.push('}');
    s
}

fn encode(frame: &Frame) -> String {
    serde_json::to_string(frame).unwrap_or_default()
}

async fn reject(
    socket: &mut WebSocket,
    id: &str,
    err: ErrorShape,
    code: u16,
    reason: &'static str,
) {
    let frame = encode(&Frame::Res(ResponseFrame::err(id, err)));
    if socket.send(Message::Text(frame.into())).await.is_ok() {
        send_close(socket, code, reason).await;
    }
}

async fn send_close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await;
}

async fn close_for_read_error(socket: &mut WebSocket, err: axum::Error) {
    if is_too_big(err) {
        send_close(socket, close::TOO_BIG, "frame too large").await;
    }
}

/// Whether a read failed because a frame or message exceeded the configured size limit.
fn is_too_big(err: axum::Error) -> bool {
    err.into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_frame_is_valid_json() {
        let s = event_frame("tick", r#"{"ts":1}"#, 7);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["event"], "tick");
        assert_eq!(v["payload"]["ts"], 1);
        assert_eq!(v["seq"], 7);
    }
}
