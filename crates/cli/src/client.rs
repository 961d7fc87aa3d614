//! A minimal gateway client: connect, authenticate, call methods.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use openclaw_protocol::{ErrorShape, Frame, PROTOCOL_VERSION, RequestFrame};
use serde_json::{Value, json};
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::tls::Trust;

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    /// `ws://host:port` or `wss://host:port`.
    pub url: String,
    /// What a `wss://` connection trusts (unused for `ws://`).
    pub tls: Trust,
    /// Shared token.
    pub token: Option<String>,
    /// Shared password.
    pub password: Option<String>,
    /// Overall time budget for connect + each call.
    pub timeout: Duration,
}

/// Why a call failed, split so commands can choose exit codes and wording.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No gateway answered at the URL.
    #[error(
        "gateway not reachable at {url} ({reason}). Is it running? Start it with `openclaw gateway`, or pass --url"
    )]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The gateway answered the request with an error.
    #[error("{0}")]
    Rpc(ErrorShape),
    /// The socket closed or misbehaved after connecting.
    #[error("{0}")]
    Protocol(String),
    /// The TLS connection could not be made or trusted (the message says why and what to
    /// pass).
    #[error("{0}")]
    Tls(String),
}

type Ws = WebSocketStream<Stream>;

/// The socket under the WebSocket: plain TCP for `ws://`, TLS over it for `wss://`.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Opens the TCP (and, for `wss://`, TLS) connection `target.url` names.
async fn open_stream(target: &Target) -> Result<Stream, ClientError> {
    let unreachable = |reason: String| ClientError::Unreachable {
        url: target.url.clone(),
        reason,
    };
    let uri: tokio_tungstenite::tungstenite::http::Uri = target
        .url
        .parse()
        .map_err(|e| unreachable(format!("not a valid URL: {e}")))?;
    let secure = uri.scheme_str() == Some("wss");
    let host = uri
        .host()
        .ok_or_else(|| unreachable("the URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| unreachable(short_io_reason(&e.to_string())))?;
    let _ = tcp.set_nodelay(true);
    if !secure {
        return Ok(Stream::Plain(tcp));
    }
    let (config, presented) = crate::tls::client_config(&target.tls).map_err(ClientError::Tls)?;
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|e| unreachable(format!("{host:?} is not a TLS server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match connector.connect(name, tcp).await {
        Ok(tls) => Ok(Stream::Tls(Box::new(tls))),
        Err(e) => {
            let seen = *presented.lock().unwrap_or_else(|p| p.into_inner());
            let why = seen
                .and_then(|fp| crate::tls::mismatch_message(&target.tls, &fp))
                .unwrap_or_else(|| tls_failure_hint(&target.tls, &e.to_string()));
            Err(ClientError::Tls(format!(
                "TLS handshake with {} failed: {why}",
                target.url
            )))
        }
    }
}

/// What to suggest after a TLS failure that is not a pin mismatch.
fn tls_failure_hint(trust: &Trust, raw: &str) -> String {
    match trust {
        Trust::System => format!(
            "{raw}; for a self-signed or private-CA gateway pass --tls-ca FILE (its certificate or CA) or --tls-fingerprint SHA256"
        ),
        Trust::CaFile(path) => format!(
            "{raw}; the certificate does not chain to {} for this host name, or the port does not speak TLS (try ws://)",
            path.display()
        ),
        _ => format!("{raw}; the port may not speak TLS (try ws://)"),
    }
}

/// An authenticated connection.
pub struct Client {
    ws: Ws,
    next_id: u64,
    timeout: Duration,
    /// The `hello-ok` payload.
    pub hello: Value,
}

impl Client {
    /// Connects and completes the handshake, asking for `scopes`.
    pub async fn connect(target: &Target, scopes: &[&str]) -> Result<Client, ClientError> {
        let fut = Self::connect_inner(target, scopes);
        match tokio::time::timeout(target.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Unreachable {
                url: target.url.clone(),
                reason: format!("no answer within {} ms", target.timeout.as_millis()),
            }),
        }
    }

    async fn connect_inner(target: &Target, scopes: &[&str]) -> Result<Client, ClientError> {
        let stream = open_stream(target).await?;
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(target.url.as_str(), stream, None)
                .await
                .map_err(|e| ClientError::Unreachable {
                    url: target.url.clone(),
                    reason: upgrade_failure(&e),
                })?;
        // The gateway speaks first with connect.challenge; the nonce matters only for
        // device-signature auth, which this client does not use.
        let _challenge = next_text(&mut ws).await?;
        let mut auth = serde_json::Map::new();
        if let Some(t) = &target.token {
            auth.insert("token".into(), json!(t));
        }
        if let Some(p) = &target.password {
            auth.insert("password".into(), json!(p));
        }
        let params = json!({
            "minProtocol": PROTOCOL_VERSION,
            "maxProtocol": PROTOCOL_VERSION,
            "client": {
                "id": "cli",
                "version": env!("CARGO_PKG_VERSION"),
                "platform": std::env::consts::OS,
                "mode": "cli",
                "instanceId": uuid::Uuid::new_v4().to_string(),
            },
            "caps": [],
            "auth": auth,
            "role": "operator",
            "scopes": scopes,
        });
        let mut client = Client {
            ws,
            next_id: 0,
            timeout: target.timeout,
            hello: Value::Null,
        };
        let hello = client.request("connect", Some(params), false).await?;
        client.hello = hello;
        Ok(client)
    }

    /// Calls `method` and returns its payload. With `expect_final`, an interim
    /// `{status:"accepted"}` response is skipped and the final one on the same id awaited.
    pub async fn call(
        &mut self,
        method: &str,
        params: Option<Value>,
        expect_final: bool,
    ) -> Result<Value, ClientError> {
        let budget = self.timeout;
        match tokio::time::timeout(budget, self.request(method, params, expect_final)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Protocol(format!(
                "{method}: no response within {} ms (raise --timeout)",
                budget.as_millis()
            ))),
        }
    }

    async fn request(
        &mut self,
        method: &str,
        params: Option<Value>,
        expect_final: bool,
    ) -> Result<Value, ClientError> {
        self.next_id += 1;
        let id = format!("{}:{}", self.next_id, uuid::Uuid::new_v4());
        let frame = Frame::Req(RequestFrame {
            id: id.clone(),
            method: method.into(),
            params,
        });
        let text =
            serde_json::to_string(&frame).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| ClientError::Protocol(format!("send failed: {e}")))?;
        loop {
            let text = next_text(&mut self.ws).await?;
            let Ok(Frame::Res(res)) = Frame::parse(&text) else {
                continue;
            };
            if res.id != id {
                continue;
            }
            if !res.ok {
                return Err(ClientError::Rpc(res.error.unwrap_or_else(|| {
                    ErrorShape::invalid("the gateway reported failure without details")
                })));
            }
            let payload = res.payload.unwrap_or(Value::Null);
            if expect_final && payload.get("status").and_then(Value::as_str) == Some("accepted") {
                continue;
            }
            return Ok(payload);
        }
    }

    /// Closes the socket politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

async fn next_text(ws: &mut Ws) -> Result<String, ClientError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
            Some(Ok(Message::Close(frame))) => {
                let why = frame
                    .map(|f| format!("code {} {}", u16::from(f.code), f.reason))
                    .unwrap_or_else(|| "no close frame".into());
                return Err(ClientError::Protocol(format!(
                    "gateway closed the connection ({why})"
                )));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ClientError::Protocol(format!("connection error: {e}"))),
            None => {
                return Err(ClientError::Protocol(
                    "gateway closed the connection".into(),
                ));
            }
        }
    }
}

/// Why the WebSocket upgrade failed; a TLS gateway's answer to plain `ws://` becomes the
/// advice to use `wss://`.
fn upgrade_failure(e: &tokio_tungstenite::tungstenite::Error) -> String {
    if let tokio_tungstenite::tungstenite::Error::Http(res) = e
        && res
            .body()
            .as_deref()
            .is_some_and(|b| String::from_utf8_lossy(b).contains("speaks TLS"))
    {
        return "the port speaks TLS; use a wss:// URL".into();
    }
    short_io_reason(&e.to_string())
}

fn short_io_reason(raw: &str) -> String {
    if raw.contains("Connection refused") {
        "connection refused".into()
    } else {
        raw.to_owned()
    }
}

/// Connects, calls one method, closes.
pub async fn call_once(
    target: &Target,
    scopes: &[&str],
    method: &str,
    params: Option<Value>,
    expect_final: bool,
) -> Result<Value, ClientError> {
    let mut client = Client::connect(target, scopes).await?;
    let out = client.call(method, params, expect_final).await;
    client.close().await;
    out
}

/// Parses `--params` as JSON, naming the flag in the error.
pub fn parse_params(raw: Option<&str>) -> Result<Option<Value>> {
    match raw {
        None => Ok(None),
        Some(s) => {
            let v: Value = serde_json::from_str(s)
                .with_context(|| format!("--params is not valid JSON: {s}"))?;
            if !(v.is_object() || v.is_null()) {
                bail!("--params must be a JSON object, e.g. '{{\"probe\":true}}'");
            }
            Ok(Some(v))
        }
    }
}
