//! A small incremental Server-Sent Events parser.
//!
//! All three provider APIs stream over SSE. TCP delivers the stream in arbitrary pieces: an
//! event, a line, or even a multi-byte UTF-8 character may be split between reads, so the
//! parser buffers raw bytes and only decodes a line once its terminator has arrived. It
//! follows the WHATWG event-stream rules that matter for model APIs: `\n`, `\r\n` and `\r`
//! line endings, multi-line `data:` fields joined with `\n`, `:` comments, a single optional
//! space after the colon, and a leading byte-order mark.

/// One dispatched SSE event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the server sent one (OpenAI chat does not; Anthropic and the
    /// Responses API do, and also repeat the name as `type` inside the JSON data).
    pub event: Option<String>,
    /// All `data:` lines of the event joined with `\n`.
    pub data: String,
}

/// The event stream exceeded [`SseParser::MAX_EVENT_BYTES`] without completing an event.
/// Guards memory against an upstream that never sends a line break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server-sent event exceeds {limit} bytes")]
pub struct SseOverflow {
    /// The limit that was exceeded.
    pub limit: usize,
}

/// Incremental SSE parser: feed bytes with [`SseParser::push`], collect complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`; a `\n` starting the next chunk belongs to it.
    after_cr: bool,
    /// Whether the stream start (and a possible BOM) has been handled.
    started: bool,
    /// Event being assembled.
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Largest amount of buffered, not yet dispatched event text. Model-API events are a few
    /// KiB at most; a limit keeps a misbehaving upstream from exhausting memory.
    pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

    /// Creates an empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the byte stream; appends every event completed by it to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseOverflow> {
        if !self.started {
            // Wait until we can tell whether the stream starts with a BOM.
            let mut probe = std::mem::take(&mut self.line);
            probe.extend_from_slice(chunk);
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if probe.len() < BOM.len() && BOM.starts_with(&probe) {
                self.line = probe;
                return Ok(());
            }
            self.started = true;
            let rest = probe.strip_prefix(BOM).unwrap_or(&probe).to_vec();
            return self.push_started(&rest, out);
        }
        if self.after_cr && !chunk.is_empty() {
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
            self.after_cr = false;
        }
        self.push_started(chunk, out)
    }

    fn push_started(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseOverflow> {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            let (head, tail) = rest.split_at(pos);
            self.line.extend_from_slice(head);
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
            self.line = line;
            self.line.clear();
            // tail[0] is the terminator.
            rest = if tail[0] == b'\r' {
                match tail.get(1) {
                    Some(b'\n') => &tail[2..],
                    Some(_) => &tail[1..],
                    None => {
                        self.after_cr = true;
                        &tail[1..]
                    }
                }
            } else {
                &tail[1..]
            };
        }
        self.line.extend_from_slice(rest);
        if self.line.len() + self.data.len() > Self::MAX_EVENT_BYTES {
            return Err(SseOverflow {
                limit: Self::MAX_EVENT_BYTES,
            });
        }
        Ok(())
    }

    /// Signals end of stream. Unlike the browser algorithm (which drops a trailing event that
    /// lacks its blank line), the last event is dispatched anyway: some OpenAI-compatible
    /// servers close the connection right after `data: [DONE]` without the final blank line,
    /// and losing that event would turn a complete answer into an error.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.started {
            self.started = true;
        }
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
        }
        self.process_line(b"", out);
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event = None;
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (name, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            // `id` and `retry` only matter for browser reconnection, which we never do.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_whole(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(input, &mut out).unwrap();
        p.finish(&mut out);
        out
    }

    /// Parses `input` split at every listed offset.
    fn parse_split(input: &[u8], cuts: &[usize]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &c in cuts {
            let c = c.clamp(start, input.len());
            p.push(&input[start..c], &mut out).unwrap();
            start = c;
        }
        p.push(&input[start..], &mut out).unwrap();
        p.finish(&mut out);
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            data: data.to_string(),
        }
    }

    #[test]
    fn basic_fields() {
        let input = b"\xEF\xBB\xBF: keep-alive\nevent: ping\ndata: {}\n\ndata:no-space\ndata:  two spaces\n\nid: 7\nretry: 10\n\ndata\n\n";
        assert_eq!(
            parse_whole(input),
            vec![
                ev(Some("ping"), "{}"),
                ev(None, "no-space\n two spaces"),
                ev(None, ""),
            ]
        );
    }

    #[test]
    fn line_endings() {
        let lf = b"event: a\ndata: 1\ndata: 2\n\n";
        let crlf = b"event: a\r\ndata: 1\r\ndata: 2\r\n\r\n";
        let cr = b"event: a\rdata: 1\rdata: 2\r\r";
        let want = vec![ev(Some("a"), "1\n2")];
        assert_eq!(parse_whole(lf), want);
        assert_eq!(parse_whole(crlf), want);
        assert_eq!(parse_whole(cr), want);
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_break() {
        let input = b"data: a\r\n\r\ndata: b\r\n\r\n";
        for cut in 0..=input.len() {
            assert_eq!(
                parse_split(input, &[cut]),
                vec![ev(None, "a"), ev(None, "b")],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn utf8_split_across_chunks() {
        let input = "data: héllo 🌍 wörld\n\n".as_bytes();
        for cut in 0..=input.len() {
            for cut2 in cut..=input.len() {
                assert_eq!(
                    parse_split(input, &[cut, cut2]),
                    vec![ev(None, "héllo 🌍 wörld")]
                );
            }
        }
    }

    #[test]
    fn trailing_event_without_blank_line_is_flushed() {
        assert_eq!(
            parse_whole(b"data: x\n\ndata: [DONE]"),
            vec![ev(None, "x"), ev(None, "[DONE]")]
        );
        assert_eq!(parse_whole(b"data: [DONE]\n"), vec![ev(None, "[DONE]")]);
        assert!(parse_whole(b"").is_empty());
        assert!(parse_whole(b": only a comment\n").is_empty());
    }

    #[test]
    fn event_name_without_data_is_not_dispatched() {
        assert_eq!(parse_whole(b"event: a\n\ndata: b\n\n"), vec![ev(None, "b")]);
    }

    #[test]
    fn overflow_is_an_error() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let big = vec![b'x'; 1024 * 1024];
        p.push(b"data: ", &mut out).unwrap();
        let mut failed = false;
        for _ in 0..20 {
            if p.push(&big, &mut out).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    }

    #[test]
    fn bom_split() {
        let input = b"\xEF\xBB\xBFdata: a\n\n";
        for cut in 0..=input.len() {
            assert_eq!(parse_split(input, &[cut]), vec![ev(None, "a")]);
        }
        for cut in 0..=2 {
            assert_eq!(parse_split(input, &[cut, cut + 1]), vec![ev(None, "a")]);
        }
    }

    /// Every way to split a realistic mixed stream into three pieces parses identically.
    #[test]
    fn adversarial_chunking() {
        let input = ": hi\r\nevent: message_start\r\ndata: {\"a\":\"ü\"}\r\n\r\nevent: x\ndata: l1\ndata: l2\n\ndata: [DONE]\n\n";
        let input = input.as_bytes();
        let want = parse_whole(input);
        assert_eq!(want.len(), 3);
        for a in 0..=input.len() {
            for b in a..=input.len() {
                assert_eq!(parse_split(input, &[a, b]), want, "cuts {a},{b}");
            }
        }
        // And byte by byte.
        let cuts: Vec<usize> = (0..input.len()).collect();
        assert_eq!(parse_split(input, &cuts), want);
    }
}
