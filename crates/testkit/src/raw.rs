//! Raw sockets, for what a client library will not send: hand-made WebSocket frames
//! (invalid UTF-8, reserved opcodes, length headers larger than what follows) and HTTP
//! requests whose declared length or chunking says something their bytes do not.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Text frame opcode.
pub const OP_TEXT: u8 = 0x1;
/// Binary frame opcode.
pub const OP_BINARY: u8 = 0x2;
/// Close frame opcode.
pub const OP_CLOSE: u8 = 0x8;
/// Ping frame opcode.
pub const OP_PING: u8 = 0x9;
/// The FIN bit of a frame's first byte.
pub const FIN: u8 = 0x80;

/// The header of a masked client frame whose first byte is `b0` (FIN, RSV bits, opcode)
/// and whose payload is `len` bytes, masked with `mask`.
pub fn frame_header(b0: u8, len: u64, mask: [u8; 4]) -> Vec<u8> {
    let mut out = vec![b0];
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out
}

/// A whole masked client frame.
pub fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = frame_header(b0, payload.len() as u64, mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A WebSocket client speaking raw bytes over TCP after a real upgrade handshake.
pub struct RawWs {
    /// Read half.
    pub rd: BufReader,
    /// Write half.
    pub wr: OwnedWriteHalf,
}

/// A read half with what was read past the last frame.
pub struct BufReader {
    rd: OwnedReadHalf,
    buf: Vec<u8>,
}

impl RawWs {
    /// Upgrades a TCP connection to `127.0.0.1:port` and reads the `connect.challenge`.
    pub async fn open(port: u16) -> (RawWs, Value) {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to the gateway");
        let (rd, mut wr) = stream.into_split();
        let req = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        wr.write_all(req.as_bytes())
            .await
            .expect("send the upgrade");
        let mut rd = BufReader { rd, buf: vec![] };
        let head = rd.read_head().await.expect("upgrade response");
        assert!(head.starts_with("HTTP/1.1 101"), "not upgraded: {head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        let mut ws = RawWs { rd, wr };
        let (op, payload) = ws.rd.read_frame().await.expect("challenge");
        assert_eq!(op, OP_TEXT);
        let challenge: Value = serde_json::from_slice(&payload).expect("challenge is JSON");
        (ws, challenge)
    }

    /// Writes raw bytes (ignoring a peer that already closed).
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.wr.write_all(bytes).await
    }

    /// Sends one masked frame.
    pub async fn send(&mut self, b0: u8, payload: &[u8]) {
        let _ = self.wr.write_all(&frame(b0, payload)).await;
    }

    /// Reads frames until the server's close frame; its code (1005 for an empty close), or
    /// `None` if the connection ended without one. Times out after 15 s.
    pub async fn close_code(&mut self) -> Option<u16> {
        self.rd.close_code().await
    }
}

impl BufReader {
    async fn fill(&mut self) -> Option<()> {
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(Duration::from_secs(15), self.rd.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => None,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(())
            }
            Err(_) => panic!("timed out reading from the gateway"),
        }
    }

    async fn read_head(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 4);
                return Some(head);
            }
            self.fill().await?;
        }
    }

    /// Reads one server frame (unmasked): (opcode, payload), or `None` at EOF.
    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let op = self.buf[0] & 0x0f;
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&self.buf[2..10]);
                        (u64::from_be_bytes(b) as usize, 10)
                    }
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((op, payload));
                }
            }
            self.fill().await?;
        }
    }

    /// See [`RawWs::close_code`].
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let (op, payload) = self.read_frame().await?;
            if op == OP_CLOSE {
                return Some(if payload.len() >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    1005
                });
            }
        }
    }
}

/// Reads an HTTP/1.1 response head (status, lower-cased head) from `rd`, or `None` if the
/// connection ended first. Times out after `within`.
pub async fn read_response_head(
    rd: &mut (impl AsyncRead + Unpin),
    within: Duration,
) -> Option<(u16, String)> {
    read_response(rd, within, false)
        .await
        .map(|(status, head, _)| (status, head))
}

/// Reads an HTTP/1.1 response: status, lower-cased head, and (when `with_body`) the body
/// by its `Content-Length`; `None` if the connection ended before the head. Times out
/// after `within`.
pub async fn read_response(
    rd: &mut (impl AsyncRead + Unpin),
    within: Duration,
    with_body: bool,
) -> Option<(u16, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    let mut head: Option<(u16, String, usize, usize)> = None;
    loop {
        if head.is_none()
            && let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let text = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let status = text.split_whitespace().nth(1)?.parse().ok()?;
            let len = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            head = Some((status, text, i + 4, len));
        }
        if let Some((status, text, start, len)) = &head {
            if !with_body {
                return Some((*status, text.clone(), vec![]));
            }
            if buf.len() >= start + len {
                return Some((*status, text.clone(), buf[*start..start + len].to_vec()));
            }
        }
        match tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return head.map(|(status, text, start, _)| (status, text, buf[start..].to_vec()));
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("no complete response within {within:?}"),
        }
    }
}
