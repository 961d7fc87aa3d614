//! Turning an upstream SSE response into a [`ChatStream`].
//!
//! The work is split in two layers so that the tricky part is testable without a network:
//! [`Pipeline`] is a synchronous state machine (bytes → SSE events → [`ChatEvent`]s, driven
//! by a per-API [`Decoder`]); [`drive`] wraps it around a live `reqwest::Response`, adding
//! the inter-chunk timeout and converting failures into [`ProviderError`]s.

use std::collections::VecDeque;
use std::time::Duration;

use crate::error::{ProviderError, Scrubber, describe_transport_error};
use crate::sse::{SseEvent, SseParser};
use crate::{ChatEvent, ChatStream};

/// A failure found while decoding an upstream stream, before the provider id is attached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DecodeError {
    /// The stream violated the wire format or ended early.
    Protocol(String),
    /// The upstream reported an error in-stream. `status` is the HTTP status its error kind
    /// usually maps to, when known; it decides whether the error is retryable (only if no
    /// output was emitted before it).
    Upstream {
        status: Option<u16>,
        message: String,
    },
}

/// Per-API translation of SSE events into [`ChatEvent`]s.
pub(crate) trait Decoder: Send + 'static {
    /// Handles one SSE event, pushing zero or more chat events. Returns `Ok(true)` once the
    /// API's terminal event has been seen; nothing after it is read.
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<bool, DecodeError>;

    /// Called when the body ended before a terminal event. May salvage a complete answer
    /// (OpenAI-compatible servers that omit `[DONE]`) or report the early end.
    fn on_eof(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), DecodeError>;
}

/// Synchronous bytes → events machine; see the module docs.
pub(crate) struct Pipeline {
    parser: SseParser,
    decoder: Box<dyn Decoder>,
    scratch: Vec<SseEvent>,
    /// Decoded events not yet handed to the consumer.
    pub(crate) out: VecDeque<ChatEvent>,
    done: bool,
}

impl Pipeline {
    pub(crate) fn new(decoder: Box<dyn Decoder>) -> Self {
        Self {
            parser: SseParser::new(),
            decoder,
            scratch: Vec::new(),
            out: VecDeque::new(),
            done: false,
        }
    }

    /// Whether the terminal event (or EOF) has been processed.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds a body chunk. Bytes after the terminal event are ignored.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        if self.done {
            return Ok(());
        }
        let result = self.parser.push(bytes, &mut self.scratch);
        self.dispatch()?;
        result.map_err(|e| DecodeError::Protocol(e.to_string()))
    }

    /// Signals the end of the body.
    pub(crate) fn finish(&mut self) -> Result<(), DecodeError> {
        if self.done {
            return Ok(());
        }
        self.parser.finish(&mut self.scratch);
        self.dispatch()?;
        if !self.done {
            self.done = true;
            self.decoder.on_eof(&mut self.out)?;
        }
        Ok(())
    }

    fn dispatch(&mut self) -> Result<(), DecodeError> {
        let mut events = std::mem::take(&mut self.scratch);
        let mut result = Ok(());
        for event in events.drain(..) {
            if self.done {
                break;
            }
            match self.decoder.on_event(event, &mut self.out) {
                Ok(terminal) => self.done = terminal,
                Err(e) => {
                    self.done = true;
                    result = Err(e);
                }
            }
        }
        self.scratch = events;
        result
    }
}

/// A failure waiting to be reported after the events decoded before it.
enum Pending {
    Decode(DecodeError),
    Ready(ProviderError),
}

struct Driver {
    provider: String,
    response: Option<reqwest::Response>,
    pipeline: Pipeline,
    timeout: Duration,
    /// Whether any text or tool-call delta was handed out; after that, no error may claim
    /// to be retryable.
    emitted_output: bool,
    pending: Option<Pending>,
    finished: bool,
    /// Secrets removed from the error text (an in-stream error may echo the request).
    scrubber: Scrubber,
}

/// How long to wait for the upstream to close the body after the terminal event. Reading
/// the end of the body lets the connection go back to the pool; not worth waiting for long.
const DRAIN_WAIT: Duration = Duration::from_millis(100);

impl Driver {
    async fn next(&mut self) -> Option<Result<ChatEvent, ProviderError>> {
        loop {
            if let Some(event) = self.pipeline.out.pop_front() {
                if matches!(
                    event,
                    ChatEvent::TextDelta(_) | ChatEvent::ToolCallDelta { .. }
                ) {
                    self.emitted_output = true;
                }
                return Some(Ok(event));
            }
            if let Some(pending) = self.pending.take() {
                self.finished = true;
                return Some(Err(self.convert(pending)));
            }
            if self.finished {
                return None;
            }
            let Some(response) = self.response.as_mut() else {
                self.finished = true;
                continue;
            };
            if self.pipeline.is_done() {
                // Give the upstream a moment to end the body so the connection is reusable.
                let wait = self.timeout.min(DRAIN_WAIT);
                let _ = tokio::time::timeout(wait, response.chunk()).await;
                self.response = None;
                self.finished = true;
                continue;
            }
            match tokio::time::timeout(self.timeout, response.chunk()).await {
                Err(_) => {
                    self.fail(Pending::Ready(ProviderError::Timeout {
                        provider: self.provider.clone(),
                        after: self.timeout,
                        stage: "stream",
                    }));
                }
                Ok(Err(e)) => {
                    let message = format!(
                        "connection dropped mid-stream: {}",
                        describe_transport_error(&e.without_url())
                    );
                    self.fail(Pending::Decode(DecodeError::Protocol(message)));
                }
                Ok(Ok(Some(bytes))) => {
                    if let Err(e) = self.pipeline.push(&bytes) {
                        self.fail(Pending::Decode(e));
                    }
                }
                Ok(Ok(None)) => {
                    self.response = None;
                    if let Err(e) = self.pipeline.finish() {
                        self.fail(Pending::Decode(e));
                    }
                }
            }
        }
    }

    /// Stops reading (dropping the connection) and queues `err` behind already decoded events.
    fn fail(&mut self, err: Pending) {
        self.response = None;
        self.pending = Some(err);
    }

    fn convert(&self, pending: Pending) -> ProviderError {
        self.scrubber.error(match pending {
            Pending::Ready(e) => e,
            Pending::Decode(e) => decode_error(&self.provider, e, self.emitted_output),
        })
    }
}

/// Attaches the provider id to a decode failure. An in-stream upstream error with a known
/// status becomes [`ProviderError::Status`] only while nothing has been emitted, so the
/// caller can still fall back; afterwards it is a non-retryable protocol error.
pub(crate) fn decode_error(
    provider: &str,
    err: DecodeError,
    emitted_output: bool,
) -> ProviderError {
    match err {
        DecodeError::Protocol(message) => ProviderError::Protocol {
            provider: provider.to_string(),
            message,
        },
        DecodeError::Upstream {
            status: Some(status),
            message,
        } if !emitted_output => ProviderError::Status {
            provider: provider.to_string(),
            status,
            message,
            retry_after: None,
        },
        DecodeError::Upstream { message, .. } => ProviderError::Protocol {
            provider: provider.to_string(),
            message: format!("upstream reported an error mid-stream: {message}"),
        },
    }
}

/// Appends one SSE event (`event:` line when named, one `data:` line) to `out`; used to
/// re-express a whole JSON answer as the stream its API would have sent.
pub(crate) fn push_sse(out: &mut Vec<u8>, name: Option<&str>, data: &serde_json::Value) {
    if let Some(n) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(n.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Decodes a complete SSE body at once (a whole JSON answer re-expressed as its stream by
/// the API module) into a [`ChatStream`] that yields the same events and error a live
/// stream of those bytes would.
pub(crate) fn replay(
    provider: &str,
    decoder: Box<dyn Decoder>,
    sse: &[u8],
    scrubber: &Scrubber,
) -> ChatStream {
    let mut pipeline = Pipeline::new(decoder);
    let result = pipeline.push(sse).and_then(|()| pipeline.finish());
    let events: Vec<ChatEvent> = pipeline.out.into_iter().collect();
    let emitted_output = events
        .iter()
        .any(|e| matches!(e, ChatEvent::TextDelta(_) | ChatEvent::ToolCallDelta { .. }));
    let error = result
        .err()
        .map(|e| scrubber.error(decode_error(provider, e, emitted_output)));
    let items: Vec<Result<ChatEvent, ProviderError>> =
        events.into_iter().map(Ok).chain(error.map(Err)).collect();
    Box::pin(futures_util::stream::iter(items))
}

/// Wraps a 2xx streaming response into a [`ChatStream`]. Dropping the stream drops the
/// response, which closes the upstream connection and so aborts generation. The stream's
/// error is scrubbed of `scrubber`'s secrets.
pub(crate) fn drive(
    provider: String,
    response: reqwest::Response,
    decoder: Box<dyn Decoder>,
    timeout: Duration,
    scrubber: Scrubber,
) -> ChatStream {
    let driver = Driver {
        provider,
        response: Some(response),
        pipeline: Pipeline::new(decoder),
        timeout,
        emitted_output: false,
        pending: None,
        finished: false,
        scrubber,
    };
    Box::pin(futures_util::stream::unfold(driver, |mut d| async move {
        d.next().await.map(|item| (item, d))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_stream_errors_are_retryable_only_before_output() {
        let overloaded = || DecodeError::Upstream {
            status: Some(529),
            message: "Overloaded".into(),
        };
        let before = decode_error("a", overloaded(), false);
        assert!(matches!(before, ProviderError::Status { status: 529, .. }));
        assert!(before.is_retryable());
        let after = decode_error("a", overloaded(), true);
        assert!(matches!(after, ProviderError::Protocol { .. }));
        assert!(!after.is_retryable());
        assert!(after.to_string().contains("Overloaded"));
        let unknown = DecodeError::Upstream {
            status: None,
            message: "?".into(),
        };
        assert!(matches!(
            decode_error("a", unknown, false),
            ProviderError::Protocol { .. }
        ));
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers to run a decoder over a byte stream split in arbitrary places.

    use super::*;

    /// Runs `decoder` over `input` cut at `cuts`; returns the events and the final error.
    pub(crate) fn run_split(
        decoder: Box<dyn Decoder>,
        input: &[u8],
        cuts: &[usize],
    ) -> (Vec<ChatEvent>, Option<DecodeError>) {
        let mut p = Pipeline::new(decoder);
        let mut start = 0;
        let mut err = None;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            let c = c.clamp(start, input.len());
            if let Err(e) = p.push(&input[start..c]) {
                err = Some(e);
                break;
            }
            start = c;
        }
        if err.is_none() {
            err = p.finish().err();
        }
        (p.out.into_iter().collect(), err)
    }

    /// Asserts that every split of `input` into three pieces decodes exactly like the
    /// unsplit input; returns the unsplit result.
    pub(crate) fn assert_chunking_invariant(
        make: impl Fn() -> Box<dyn Decoder>,
        input: &[u8],
    ) -> (Vec<ChatEvent>, Option<DecodeError>) {
        let whole = run_split(make(), input, &[]);
        let n = input.len();
        // All single cuts, and a deterministic pseudo-random sample of double cuts.
        for a in 0..=n {
            assert_eq!(run_split(make(), input, &[a]), whole, "cut at {a}");
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let a = (seed % (n as u64 + 1)) as usize;
            let b = ((seed >> 32) % (n as u64 + 1)) as usize;
            let (a, b) = (a.min(b), a.max(b));
            assert_eq!(run_split(make(), input, &[a, b]), whole, "cuts {a},{b}");
        }
        let bytewise: Vec<usize> = (0..n).collect();
        assert_eq!(run_split(make(), input, &bytewise), whole, "byte by byte");
        whole
    }
}
