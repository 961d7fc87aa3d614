//! The WebSocket control plane: handshake, then a reader and a writer per connection.
//!
//! [`upgrade`] answers the HTTP upgrade. The handshake then runs on [`preauth::PreAuth`],
//! a frame reader bounded by the pre-auth cap (64 KiB, refused from a frame's header) and
//! the handshake timeout. After `hello-ok` the connection becomes a tungstenite socket with
//! the post-auth limits (`maxPayload`), split in two: the reader parses frames and
//! dispatches them; the writer drains the connection's outbound queue (responses and
//! events), so no producer ever writes to a socket directly.
//!
//! Close codes for what a client sends: 1009 past the size limit, 1007 for text that is
//! not UTF-8, 1002 for frames that break RFC 6455, 1008 for a bad or failed handshake.

mod preauth;
mod upgrade;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use openclaw_protocol::error::auth_detail;
use openclaw_protocol::{
    ConnectParams, ErrorShape, Frame, FrameError, HelloAuth, HelloFeatures, HelloOk, HelloPolicy,
    HelloServer, PROTOCOL_VERSION, RequestFrame, ResponseFrame, Role, close, methods, scopes,
};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;

pub use upgrade::{is_upgrade_request, upgrade};

use preauth::{Ended, PreAuth};

use crate::auth::{Presented, rate_limited_message};
use crate::conns::{ConnHandle, Outbound};
use crate::metrics::Surface;
use crate::presence::PresenceEntry;
use crate::rpc::{self, CallContext};
use crate::state::{AppState, VERSION};
use crate::sys::now_ms;
use crate::throttle::{ClientKey, Identity};

/// What a connection runs on: the upgraded HTTP connection (or any byte stream).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Serves one upgraded connection until it closes. `origin` is the upgrade's `Origin`
/// header (already checked against the allowlist): browsers are rate-limited apart.
/// `ticket` is the accept loop's handle on the connection (absent when the router is
/// called directly, as in tests).
pub async fn serve_socket<S: Io>(
    state: Arc<AppState>,
    io: S,
    peer: SocketAddr,
    origin: Option<String>,
    ticket: Option<crate::serve::Ticket>,
) {
    let _open = state.shared.metrics.ws_connected();
    let mut socket = PreAuth::new(io);
    let challenge = json!({
        "type": "event",
        "event": methods::events::CONNECT_CHALLENGE,
        "payload": {
            "nonce": uuid::Uuid::new_v4().to_string(),
            "ts": now_ms(),
            "capabilities": rpc::CAPABILITIES,
        },
    });
    if socket.send_text(challenge.to_string()).await.is_err() {
        return;
    }

    // `gateway.performance.idleTimeout`, when set, also bounds a socket that has not
    // completed its handshake.
    let timeout = {
        let live = state.live();
        let idle = live.resolved.gateway.performance.idle_timeout_ms;
        live.settings
            .handshake_timeout
            .min(idle.map_or(Duration::MAX, Duration::from_millis))
    };
    let accepted = tokio::select! {
        r = tokio::time::timeout(timeout, Box::pin(handshake(&state, &mut socket, peer, origin.as_deref()))) => match r {
            Ok(Some(accepted)) => accepted,
            Ok(None) => return,
            Err(_) => {
                socket.close(close::POLICY, "handshake timeout").await;
                return;
            }
        },
        _ = state.shutdown_signal() => {
            socket.close(close::SERVICE_RESTART, "service restart").await;
            return;
        }
    };
    // Off the unauthenticated counts of the accept loop (`serve.rs`).
    if let Some(t) = &ticket {
        t.authenticated();
    }
    run_connection(state, socket.into_websocket().await, accepted).await;
}

/// What a successful handshake produced.
struct Accepted {
    conn: Arc<ConnHandle>,
    rx: tokio::sync::mpsc::UnboundedReceiver<Outbound>,
    role: Role,
    tracked: bool,
    /// Whom its requests count against in `gateway.rateLimit`.
    client: ClientKey,
}

/// Reads the first frame and either accepts the client or closes the socket.
async fn handshake<S: Io>(
    state: &Arc<AppState>,
    socket: &mut PreAuth<S>,
    peer: SocketAddr,
    origin: Option<&str>,
) -> Option<Accepted> {
    let text = match socket.next_text().await {
        Ok(text) => text,
        Err(Ended::Gone) => return None,
        Err(Ended::Refused(code, reason)) => {
            socket.close(code, reason).await;
            return None;
        }
    };
    let req = match Frame::parse(&text) {
        Ok(Frame::Req(req)) => req,
        Ok(_) | Err(FrameError::BadShape { .. }) | Err(FrameError::NotJson(_)) => {
            socket.close(close::POLICY, "invalid request frame").await;
            return None;
        }
    };
    let (params, role) = match check_connect(&req) {
        Ok(checked) => checked,
        Err(r) => {
            reject(socket, &req.id, r.error, r.close_code, r.close_reason).await;
            return None;
        }
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
        state.shared.metrics.auth_failed(Surface::Ws);
        tracing::warn!(target: "gateway/ws", ip = %ip, code = failure.detail_code, "connect rejected: authentication failed");
        let err = ErrorShape::invalid(failure.message)
            .with_details(json!({ "code": failure.detail_code }));
        reject(socket, &req.id, err, close::POLICY, "unauthorized").await;
        return None;
    }
    state.limiter.record_success(&attempt);
    let client = state
        .throttle
        .key(match presented.token.or(presented.password) {
            Some(credential) => Identity::Credential(credential),
            None => Identity::Address(ip),
        });

    let granted = granted_scopes(params.scopes.as_deref(), role);

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
            capabilities: rpc::CAPABILITIES.iter().map(|c| c.to_string()).collect(),
        },
        snapshot: {
            let mut s = state.hello_snapshot();
            s["policy"] = crate::tools::policy_summary(state);
            s
        },
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
        client,
    })
}

/// Why a `connect` request was refused before authentication: the error answered on the
/// request, then the close code and reason the socket is closed with.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectRejection {
    /// The error of the `res` frame answering the request.
    pub error: ErrorShape,
    /// The WebSocket close code sent after it.
    pub close_code: u16,
    /// The WebSocket close reason sent with it.
    pub close_reason: &'static str,
}

/// The stateless checks on the first request of a connection: it is `connect`, its params
/// read as [`ConnectParams`], the client's `[minProtocol, maxProtocol]` contains
/// [`PROTOCOL_VERSION`], and the role is known. Rate limiting and authentication follow in
/// the handshake. Pure, so it can be tested without a socket.
pub fn check_connect(req: &RequestFrame) -> Result<(ConnectParams, Role), ConnectRejection> {
    let refuse = |error, close_code, close_reason| ConnectRejection {
        error,
        close_code,
        close_reason,
    };
    if req.method != methods::CONNECT {
        let err = ErrorShape::invalid("invalid handshake: first request must be connect");
        return Err(refuse(err, close::POLICY, "invalid handshake"));
    }
    let raw = req.params.clone().unwrap_or(serde_json::Value::Null);
    let params = match positional_struct(&raw).map_or_else(
        || serde_json::from_value::<ConnectParams>(raw).map_err(|e| e.to_string()),
        |what| Err(format!("{what} must be an object, not an array")),
    ) {
        Ok(p) => p,
        Err(e) => {
            let err = ErrorShape::invalid(format!("invalid connect params: {e}"));
            return Err(refuse(err, close::POLICY, "invalid connect params"));
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
        return Err(refuse(err, close::PROTOCOL_ERROR, "protocol mismatch"));
    }
    let Some(role) = Role::parse(params.role.as_deref()) else {
        let err = ErrorShape::invalid(format!(
            "invalid role {:?}: use \"operator\" or \"node\"",
            params.role.unwrap_or_default()
        ));
        return Err(refuse(err, close::POLICY, "invalid role"));
    };
    Ok((params, role))
}

/// serde reads a struct from a JSON array too (fields by position), so `[4, 4]` would pass
/// for `{minProtocol: 4, maxProtocol: 4}`; the protocol has only objects there. Names the
/// part of the params that is such an array.
fn positional_struct(params: &serde_json::Value) -> Option<&'static str> {
    match params {
        serde_json::Value::Array(_) => Some("params"),
        serde_json::Value::Object(m) if m.get("client").is_some_and(|v| v.is_array()) => {
            Some("client")
        }
        serde_json::Value::Object(m) if m.get("auth").is_some_and(|v| v.is_array()) => Some("auth"),
        _ => None,
    }
}

/// The scopes a connection is granted: none for a node; for an operator the known scopes
/// it asked for, each once in the order first asked, or [`scopes::DEFAULT_OPERATOR`] when
/// it named none.
pub fn granted_scopes(asked: Option<&[String]>, role: Role) -> Vec<String> {
    match (asked, role) {
        (_, Role::Node) => vec![],
        (Some(asked), Role::Operator) => {
            // Each scope once, where first asked (`Vec::dedup` drops only adjacent repeats).
            let mut s: Vec<String> = Vec::new();
            for scope in asked {
                if scopes::ALL.contains(&scope.as_str()) && !s.contains(scope) {
                    s.push(scope.clone());
                }
            }
            s
        }
        (None, Role::Operator) => scopes::DEFAULT_OPERATOR
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// After hello: reader and writer until either side ends.
async fn run_connection<S: Io>(
    state: Arc<AppState>,
    socket: WebSocketStream<S>,
    accepted: Accepted,
) {
    let Accepted {
        conn,
        rx,
        role,
        tracked,
        client,
    } = accepted;
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, rx, conn.clone()));
    let ctx = CallContext {
        conn: conn.clone(),
        role,
    };
    tokio::select! {
        _ = read_loop(&state, stream, &ctx, client) => {}
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

async fn read_loop<S: Io>(
    state: &Arc<AppState>,
    mut stream: SplitStream<WebSocketStream<S>>,
    ctx: &CallContext,
    client: ClientKey,
) {
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
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Ok(Message::Close(_)) => return,
            Err(e) => {
                tracing::debug!(target: "gateway/ws", conn = %ctx.conn.id, error = %e, "read failed");
                if let Some((code, reason)) = close_for(&e) {
                    ctx.conn.close(code, reason);
                }
                return;
            }
        };
        match Frame::parse(text.as_str()) {
            // Boxed: the dispatch future is large, and an idle connection should not carry
            // its space in the connection task.
            Ok(Frame::Req(req)) => {
                let metered = rpc::method(&req.method).is_none_or(rpc::Method::is_metered);
                if metered
                    && let Err(throttled) = state
                        .throttle
                        .check_key(client, crate::throttle::Surface::Ws)
                {
                    let err = ErrorShape::unavailable(throttled.message())
                        .retry_after(throttled.retry_after_ms());
                    ctx.conn
                        .send_response(encode(&Frame::Res(ResponseFrame::err(req.id, err))));
                    continue;
                }
                Box::pin(handle_request(state, ctx, req)).await
            }
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

async fn write_loop<S: Io>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
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
                        code: code.into(),
                        reason: reason.into(),
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

async fn reject<S: Io>(
    socket: &mut PreAuth<S>,
    id: &str,
    err: ErrorShape,
    code: u16,
    reason: &'static str,
) {
    let frame = encode(&Frame::Res(ResponseFrame::err(id, err)));
    if socket.send_text(frame).await.is_ok() {
        socket.close(code, reason).await;
    }
}

/// The close frame a failed read is answered with: 1009 past `maxPayload`, 1007 for text
/// that is not UTF-8, 1002 for a frame that breaks the protocol; none when the peer is
/// simply gone.
fn close_for(err: &tungstenite::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::ProtocolError;
    match err {
        tungstenite::Error::Capacity(_) => Some((close::TOO_BIG, "frame exceeds maxPayload")),
        tungstenite::Error::Utf8(_) => Some((close::INVALID_PAYLOAD, "invalid UTF-8")),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        tungstenite::Error::Protocol(_) => Some((close::PROTOCOL_ERROR, "protocol error")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `tests/prop_handshake.rs`: a repeat that is not adjacent was granted twice.
    #[test]
    fn granted_scopes_drop_non_adjacent_repeats() {
        let asked = ["operator.pairing", "operator.read", "operator.pairing"].map(String::from);
        assert_eq!(
            granted_scopes(Some(&asked), Role::Operator),
            ["operator.pairing", "operator.read"]
        );
    }

    /// Found by `tests/prop_handshake.rs`: arrays were read as structs by position.
    #[test]
    fn positional_connect_params_are_refused() {
        for params in [
            json!([4, 4]),
            json!({"minProtocol": 2, "maxProtocol": 2, "client": []}),
            json!({"minProtocol": 4, "maxProtocol": 4, "auth": ["t"]}),
        ] {
            let req = RequestFrame {
                id: "1".into(),
                method: "connect".into(),
                params: Some(params),
            };
            let r = check_connect(&req).unwrap_err();
            assert_eq!(r.close_reason, "invalid connect params", "{:?}", r.error);
            assert!(
                r.error.message.contains("must be an object"),
                "{:?}",
                r.error
            );
        }
    }

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
