//! The socket before `hello-ok`: a bounded frame reader over the upgraded connection.
//!
//! Until the client is authenticated nothing it sends may cost more than the pre-auth cap
//! ([`MAX_PREAUTH_PAYLOAD_BYTES`]): a data frame whose header declares more than the cap
//! (or more than what is left of it in a fragmented message) is refused from its header
//! with 1009, before any of its payload is read. What is buffered is at most one frame of
//! the cap plus one read. Protocol violations close with 1002 and text that is not UTF-8
//! with 1007, each with a close frame.
//!
//! After `hello-ok`, [`PreAuth::into_websocket`] hands the connection, with whatever was
//! read past the `connect` frame, to tungstenite with the post-auth limits.

use std::io::Cursor;
use std::time::Duration;

use openclaw_protocol::{MAX_PAYLOAD_BYTES, MAX_PREAUTH_PAYLOAD_BYTES, close};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};
use tungstenite::protocol::{Role, WebSocketConfig};

/// Bytes asked of the connection per read, before and after hello: small, so that
/// thousands of idle connections stay cheap.
pub const READ_CHUNK: usize = 2 * 1024;

/// How long a refused socket is drained (read and discarded) after its close frame, so the
/// close frame reaches a client that is still sending instead of being lost to a reset.
const LINGER: Duration = Duration::from_secs(1);

/// Why the pre-auth reader stopped without a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The peer closed (close frame, EOF or a failed read): nothing more to send.
    Gone,
    /// The peer broke a rule: close with this code and reason.
    Refused(u16, &'static str),
}

/// The upgraded connection before authentication.
pub struct PreAuth<S> {
    io: S,
    /// Bytes read and not yet consumed as frames.
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PreAuth<S> {
    /// Wraps a freshly upgraded connection.
    pub fn new(io: S) -> PreAuth<S> {
        PreAuth {
            io,
            buf: Vec::new(),
        }
    }

    /// The next complete text message, answering pings and skipping pongs on the way.
    pub async fn next_text(&mut self) -> Result<String, Ended> {
        // A fragmented message so far: (is text, payload).
        let mut message: Option<(bool, Vec<u8>)> = None;
        loop {
            let (header, len, header_len) = self.next_header().await?;
            if header.rsv1 || header.rsv2 || header.rsv3 {
                return Err(protocol_error("reserved bits set"));
            }
            let Some(mask) = header.mask else {
                return Err(protocol_error("unmasked client frame"));
            };
            match header.opcode {
                OpCode::Control(_) if !header.is_final || len > 125 => {
                    return Err(protocol_error("invalid control frame"));
                }
                OpCode::Control(_) => {}
                OpCode::Data(_) => {
                    let so_far = message.as_ref().map_or(0, |(_, m)| m.len()) as u64;
                    if len.saturating_add(so_far) > MAX_PREAUTH_PAYLOAD_BYTES as u64 {
                        return Err(Ended::Refused(
                            close::TOO_BIG,
                            "frame too large before handshake",
                        ));
                    }
                }
            }
            // Bounded by the checks above: at most the pre-auth cap.
            let mut payload = self.take_payload(header_len, len as usize).await?;
            unmask(&mut payload, mask);
            match header.opcode {
                OpCode::Control(Control::Ping) => {
                    if self.send_frame(Frame::pong(payload)).await.is_err() {
                        return Err(Ended::Gone);
                    }
                }
                OpCode::Control(Control::Pong) => {}
                OpCode::Control(Control::Close) => {
                    // Echo the peer's code, as RFC 6455 §5.5.1 suggests, and stop.
                    let code = match payload.get(..2) {
                        Some(c) => u16::from_be_bytes([c[0], c[1]]),
                        None => close::NORMAL,
                    };
                    let _ = self.send_close(code, "").await;
                    return Err(Ended::Gone);
                }
                OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                    return Err(protocol_error("reserved opcode"));
                }
                OpCode::Data(Data::Continue) => match message.as_mut() {
                    Some((_, m)) => m.extend_from_slice(&payload),
                    None => return Err(protocol_error("continuation without a message")),
                },
                OpCode::Data(Data::Text | Data::Binary) if message.is_some() => {
                    return Err(protocol_error("new message inside a fragmented one"));
                }
                OpCode::Data(Data::Text) => message = Some((true, payload)),
                OpCode::Data(Data::Binary) => message = Some((false, payload)),
            }
            if header.is_final
                && matches!(header.opcode, OpCode::Data(_))
                && let Some((is_text, bytes)) = message.take()
            {
                if !is_text {
                    return Err(Ended::Refused(close::POLICY, "invalid request frame"));
                }
                return String::from_utf8(bytes)
                    .map_err(|_| Ended::Refused(close::INVALID_PAYLOAD, "invalid UTF-8"));
            }
        }
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, text: String) -> std::io::Result<()> {
        self.send_frame(Frame::message(text, OpCode::Data(Data::Text), true))
            .await
    }

    /// Sends a close frame, then drains the connection briefly (see [`LINGER`]).
    pub async fn close(&mut self, code: u16, reason: &'static str) {
        if self.send_close(code, reason).await.is_err() {
            return;
        }
        let _ = self.io.shutdown().await;
        let mut sink = [0u8; READ_CHUNK];
        let drain = async { while matches!(self.io.read(&mut sink).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }

    /// The connection as a tungstenite socket with the post-auth limits (`maxPayload` per
    /// frame and message), starting from whatever was read past the last frame.
    pub async fn into_websocket(self) -> WebSocketStream<S> {
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_CHUNK)
            .write_buffer_size(0)
            .max_message_size(Some(MAX_PAYLOAD_BYTES))
            .max_frame_size(Some(MAX_PAYLOAD_BYTES));
        // The handshake buffer grew to hold the connect frame; an idle socket should not
        // keep that capacity for its whole life (it is usually empty by now).
        let mut rest = self.buf;
        if rest.is_empty() {
            rest = Vec::new();
        } else {
            rest.shrink_to_fit();
        }
        WebSocketStream::from_partially_read(self.io, rest, Role::Server, Some(config)).await
    }

    async fn send_close(&mut self, code: u16, reason: &'static str) -> std::io::Result<()> {
        let frame = Frame::close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        }));
        self.send_frame(frame).await
    }

    async fn send_frame(&mut self, frame: Frame) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(frame.len());
        frame.format(&mut out).map_err(std::io::Error::other)?;
        self.io.write_all(&out).await?;
        self.io.flush().await
    }

    /// The next frame header: (header, payload length, header length in bytes).
    async fn next_header(&mut self) -> Result<(FrameHeader, u64, usize), Ended> {
        loop {
            let mut cursor = Cursor::new(&self.buf[..]);
            match FrameHeader::parse(&mut cursor) {
                Ok(Some((header, len))) => return Ok((header, len, cursor.position() as usize)),
                Ok(None) => self.fill().await?,
                Err(_) => return Err(protocol_error("invalid frame header")),
            }
        }
    }

    /// Reads until the frame's payload is buffered, then takes header and payload out.
    async fn take_payload(&mut self, header_len: usize, len: usize) -> Result<Vec<u8>, Ended> {
        while self.buf.len() < header_len + len {
            self.fill().await?;
        }
        let payload = self.buf[header_len..header_len + len].to_vec();
        self.buf.drain(..header_len + len);
        Ok(payload)
    }

    /// One read of at most [`READ_CHUNK`] bytes; EOF and errors end the socket.
    async fn fill(&mut self) -> Result<(), Ended> {
        let mut chunk = [0u8; READ_CHUNK];
        match self.io.read(&mut chunk).await {
            Ok(0) | Err(_) => Err(Ended::Gone),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }
}

fn protocol_error(reason: &'static str) -> Ended {
    Ended::Refused(close::PROTOCOL_ERROR, reason)
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut out = vec![b0];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    async fn read_from(bytes: Vec<u8>) -> (Result<String, Ended>, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        client.write_all(&bytes).await.unwrap();
        drop(client.shutdown().await);
        let mut s = PreAuth::new(server);
        let r = s.next_text().await;
        (r, s.buf)
    }

    #[tokio::test]
    async fn reads_text_fragments_and_keeps_what_follows() {
        let mut bytes = client_frame(0x01, b"hel"); // text, not final
        bytes.extend(client_frame(0x89, b"p")); // ping in between
        bytes.extend(client_frame(0x80, b"lo")); // final continuation
        bytes.extend(b"next");
        let (r, rest) = read_from(bytes).await;
        assert_eq!(r, Ok("hello".into()));
        assert_eq!(rest, b"next");
    }

    #[tokio::test]
    async fn refusals() {
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (client_frame(0x81, &[0xff, 0xfe]), close::INVALID_PAYLOAD),
            (client_frame(0x82, b"{}"), close::POLICY),
            (client_frame(0x83, b"x"), close::PROTOCOL_ERROR),
            (client_frame(0xc1, b"x"), close::PROTOCOL_ERROR),
            (client_frame(0x80, b"x"), close::PROTOCOL_ERROR),
            (client_frame(0x09, b"x"), close::PROTOCOL_ERROR),
            (vec![0x81, 0x01, b'x'], close::PROTOCOL_ERROR),
        ];
        for (bytes, code) in cases {
            let (r, _) = read_from(bytes.clone()).await;
            assert!(
                matches!(r, Err(Ended::Refused(c, _)) if c == code),
                "{bytes:x?} -> {r:?}"
            );
        }
    }

    #[tokio::test]
    async fn oversized_frames_are_refused_from_the_header_alone() {
        // A header declaring 20 MiB and nothing after it: refused without waiting.
        let mut head = vec![0x81, 0x80 | 127];
        head.extend_from_slice(&(20u64 << 20).to_be_bytes());
        head.extend_from_slice(&[0; 4]);
        let (r, _) = read_from(head).await;
        assert_eq!(
            r,
            Err(Ended::Refused(
                close::TOO_BIG,
                "frame too large before handshake"
            ))
        );
        // Fragments that together pass the cap.
        let half = vec![b'a'; MAX_PREAUTH_PAYLOAD_BYTES / 2 + 1];
        let mut bytes = client_frame(0x01, &half);
        bytes.extend(client_frame(0x80, &half));
        let (r, _) = read_from(bytes).await;
        assert!(matches!(r, Err(Ended::Refused(close::TOO_BIG, _))), "{r:?}");
    }
}
