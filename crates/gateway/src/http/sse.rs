//! Server-sent events: frame encoding, keep-alive comments, cancel-on-disconnect.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::{Stream, StreamExt};

use crate::runs::Cancel;

/// One SSE frame.
pub struct SseFrame(String);

impl SseFrame {
    /// `data: <text>`.
    pub fn data(text: String) -> SseFrame {
        SseFrame(format!("data: {text}\n\n"))
    }

    /// `event: <name>` + `data: <text>`.
    pub fn event(name: &str, text: String) -> SseFrame {
        SseFrame(format!("event: {name}\ndata: {text}\n\n"))
    }
}

/// Cancels a run when dropped: the response body is dropped when the client goes away.
pub struct CancelOnDrop(pub Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A streaming response of `frames`, with a `: ping` comment after every `keepalive` of
/// silence so proxies do not cut a long generation.
pub fn sse_response(
    frames: impl Stream<Item = SseFrame> + Send + 'static,
    keepalive: Duration,
) -> Response {
    // One timer per stream, pushed back after every frame (not a new timer per frame).
    let state = (Box::pin(frames), Box::pin(tokio::time::sleep(keepalive)));
    let body = futures_util::stream::unfold(state, move |(mut frames, mut timer)| async move {
        tokio::select! {
            f = frames.next() => {
                let f = f?;
                timer.as_mut().reset(tokio::time::Instant::now() + keepalive);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(f.0)), (frames, timer)))
            }
            _ = timer.as_mut() => {
                timer.as_mut().reset(tokio::time::Instant::now() + keepalive);
                Some((Ok(Bytes::from_static(b": ping\n\n")), (frames, timer)))
            }
        }
    });
    let mut res = Response::new(Body::from_stream(body));
    *res.status_mut() = StatusCode::OK;
    sse_headers(&mut res);
    res
}

/// Adds the streaming headers OpenAI clients and proxies expect.
pub fn sse_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
}
