//! Streamed (SSE) bodies: prepared up front as a script of writes, pauses and an optional
//! abort, then played back lazily, with accounting of completion and cancellation.
//!
//! Preparing the whole script first keeps the playback trivial and lets consecutive events
//! with no pause between them share one buffer, so an instant stream is a single write.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::Stats;

/// Counts one response as completed or cancelled.
///
/// Its `Drop` is what detects a client that went away: hyper drops the response body (or
/// the handler future) when the connection closes, and if nothing marked the response as
/// done by then, it was cancelled.
pub(crate) struct Track {
    stats: Arc<Stats>,
    done: bool,
}

impl Track {
    /// Starts accounting for one response.
    pub(crate) fn new(stats: Arc<Stats>) -> Track {
        Track { stats, done: false }
    }

    /// The response was produced in full.
    pub(crate) fn complete(&mut self) {
        if !self.done {
            self.done = true;
            self.stats.completed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The response ended on purpose without completing (an error answer or a simulated
    /// disconnect): neither completed nor cancelled.
    pub(crate) fn settle(&mut self) {
        self.done = true;
    }
}

impl Drop for Track {
    fn drop(&mut self) {
        if !self.done {
            self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One step of a prepared stream.
enum Step {
    /// Bytes to send.
    Data(Bytes),
    /// A pause.
    Sleep(Duration),
    /// Drop the connection mid-body.
    Abort,
}

/// Builder for a stream: frames are appended in order; content frames may be preceded by
/// a pause and may trigger the simulated disconnect.
pub(crate) struct Script {
    steps: Vec<Step>,
    buf: Vec<u8>,
    delay: Duration,
    disconnect_after: Option<usize>,
    sent: usize,
    cut: bool,
}

impl Script {
    /// A script with `delay` before each content chunk and an abort after
    /// `disconnect_after` content chunks.
    pub(crate) fn new(delay: Duration, disconnect_after: Option<usize>) -> Script {
        Script {
            steps: Vec::new(),
            buf: Vec::with_capacity(1024),
            delay,
            disconnect_after,
            sent: 0,
            cut: false,
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            self.steps.push(Step::Data(Bytes::from(buf)));
        }
    }

    fn abort(&mut self) {
        self.flush();
        self.steps.push(Step::Abort);
        self.cut = true;
    }

    /// Appends a frame that is not content (preamble, terminal events). Ignored once the
    /// simulated disconnect has happened.
    pub(crate) fn frame(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if !self.cut {
            write(&mut self.buf);
        }
    }

    /// Appends one content chunk, after the chunk delay; aborts after the configured
    /// number of content chunks.
    pub(crate) fn content(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if self.cut {
            return;
        }
        if self.disconnect_after == Some(self.sent) {
            self.abort();
            return;
        }
        if !self.delay.is_zero() {
            self.flush();
            self.steps.push(Step::Sleep(self.delay));
        }
        write(&mut self.buf);
        self.sent += 1;
        if self.disconnect_after == Some(self.sent) {
            self.abort();
        }
    }

    /// Turns the script into an SSE response whose body plays it back. `track` is moved
    /// into the body so that dropping the body early counts as a cancellation.
    pub(crate) fn into_response(mut self, track: Track) -> Response {
        self.flush();
        let state = (self.steps.into_iter(), track);
        let stream = futures_util::stream::unfold(state, |(mut steps, mut track)| async move {
            loop {
                match steps.next() {
                    None => {
                        track.complete();
                        return None;
                    }
                    Some(Step::Sleep(d)) => tokio::time::sleep(d).await,
                    Some(Step::Data(b)) => {
                        if steps.len() == 0 {
                            track.complete();
                        }
                        return Some((Ok(b), (steps, track)));
                    }
                    Some(Step::Abort) => {
                        // Give hyper a turn to flush what was already written, so the
                        // client sees the chunks before the connection drops.
                        tokio::task::yield_now().await;
                        track.settle();
                        let err =
                            io::Error::new(io::ErrorKind::ConnectionAborted, "mock disconnect");
                        return Some((Err(err), (steps, track)));
                    }
                }
            }
        });
        let mut res = Response::new(Body::from_stream(stream));
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        res
    }
}

/// Writes `s` as a JSON string literal (quoted and escaped).
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing JSON to a Vec cannot fail");
}

/// Writes one `data: <json>` SSE frame.
pub(crate) fn data_frame(out: &mut Vec<u8>, value: &serde_json::Value) {
    out.extend_from_slice(b"data: ");
    serde_json::to_writer(&mut *out, value).expect("writing JSON to a Vec cannot fail");
    out.extend_from_slice(b"\n\n");
}

/// Writes one `event: <name>` + `data: <json>` SSE frame, as Anthropic and the OpenAI
/// Responses API do.
pub(crate) fn event_frame(out: &mut Vec<u8>, name: &str, value: &serde_json::Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    data_frame(out, value);
}
