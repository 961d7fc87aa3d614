//! Property tests of the incremental SSE parser ([`SseParser`]), the byte-level stage of
//! every provider stream.
//!
//! * Any bytes in any chunks: every `push` succeeds (well under the size limit) and
//!   `finish` returns, never a panic.
//! * Chunking invariance: cutting a stream at arbitrary points yields exactly the events
//!   of feeding it whole. Checked on arbitrary bytes and on generated, valid streams.
//! * Generated streams (any mix of `\n`, `\r\n` and `\r` line endings, comments, ignored
//!   fields, multi-line data, an optional BOM, an optional missing final blank line)
//!   parse to exactly the events they were generated from.
//!
//! The per-API decoders behind the parser are private to the crate and reachable only
//! through a live HTTP response; the exhaustive chunking test of those is in
//! `src/stream.rs`.

use openclaw_providers::sse::{SseEvent, SseParser};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Feeds `input` cut at `cuts` (offsets, sorted here and clamped), then finishes.
fn parse_split(input: &[u8], cuts: &[usize]) -> Result<Vec<SseEvent>, TestCaseError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let mut start = 0;
    for c in cuts.into_iter().chain(std::iter::once(input.len())) {
        let pushed = p.push(&input[start..c], &mut out);
        prop_assert!(pushed.is_ok(), "push failed: {:?}", pushed);
        start = c;
    }
    p.finish(&mut out);
    Ok(out)
}

/// Bytes that look like SSE often enough to matter: field names, separators, every kind
/// of line ending, BOM pieces, invalid UTF-8.
fn sse_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data".to_vec()),
        Just(b"event".to_vec()),
        Just(b"id".to_vec()),
        Just(b":".to_vec()),
        Just(b": ".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xEF".to_vec()),
        Just(b"\xBB".to_vec()),
        Just(b"\xF0\x9F".to_vec()),
        Just("é🌍".as_bytes().to_vec()),
        Just(b"[DONE]".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(piece, 0..40).prop_map(|ps| ps.concat()),
    ]
}

/// One generated line ending.
#[derive(Clone, Copy, Debug)]
enum Eol {
    Lf,
    CrLf,
    Cr,
}

impl Eol {
    fn bytes(self) -> &'static [u8] {
        match self {
            Eol::Lf => b"\n",
            Eol::CrLf => b"\r\n",
            Eol::Cr => b"\r",
        }
    }
}

fn eol() -> impl Strategy<Value = Eol> {
    prop_oneof![Just(Eol::Lf), Just(Eol::CrLf), Just(Eol::Cr)]
}

/// Text that can stand on one line: no CR or LF.
fn line_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        any::<char>().prop_filter("no line breaks", |c| *c != '\n' && *c != '\r'),
        0..max,
    )
    .prop_map(String::from_iter)
}

/// One non-blank line of an event.
#[derive(Clone, Debug)]
enum Line {
    /// `data` `:` sep value; `bare` writes just `data` with no colon (an empty value).
    Data {
        sep: &'static str,
        value: String,
        bare: bool,
    },
    Event {
        sep: &'static str,
        value: String,
    },
    Comment(String),
    /// `id`, `retry` or an unknown field, all ignored.
    Ignored(&'static str, String),
}

fn sep() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" ")]
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        4 => (sep(), line_text(12), prop::bool::weighted(0.1))
            .prop_map(|(sep, value, bare)| Line::Data { sep, value, bare }),
        1 => (sep(), line_text(8)).prop_map(|(sep, value)| Line::Event { sep, value }),
        1 => line_text(8).prop_map(Line::Comment),
        1 => (
            prop::sample::select(vec!["id", "retry", "dat", "Data", "events", "x"]),
            line_text(8)
        )
            .prop_map(|(f, v)| Line::Ignored(f, v)),
    ]
}

/// A generated stream: its bytes and the events it must parse to.
#[derive(Clone, Debug)]
struct Stream {
    bytes: Vec<u8>,
    events: Vec<SseEvent>,
}

/// Value of a field as the parser reads it: one leading space is dropped.
fn field_value(sep: &str, value: &str) -> String {
    let raw = format!("{sep}{value}");
    raw.strip_prefix(' ').unwrap_or(&raw).to_owned()
}

fn stream() -> impl Strategy<Value = Stream> {
    let event = (
        prop::collection::vec((line(), eol()), 0..6),
        // Blank lines ending the event (more than one is harmless).
        prop::collection::vec(eol(), 1..3),
    );
    (
        any::<bool>(),
        prop::collection::vec(event, 0..6),
        any::<bool>(),
    )
        .prop_map(|(bom, events, drop_last_blank)| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            let mut want = Vec::new();
            let mut last_eol: Option<Eol> = None;
            let n = events.len();
            for (i, (lines, blanks)) in events.into_iter().enumerate() {
                let mut name: Option<String> = None;
                let mut data: Option<String> = None;
                for (line, end) in lines {
                    match line {
                        Line::Data { sep, value, bare } => {
                            let value = if bare {
                                bytes.extend_from_slice(b"data");
                                String::new()
                            } else {
                                bytes.extend_from_slice(format!("data:{sep}{value}").as_bytes());
                                field_value(sep, &value)
                            };
                            data = Some(match data {
                                Some(d) => format!("{d}\n{value}"),
                                None => value,
                            });
                        }
                        Line::Event { sep, value } => {
                            bytes.extend_from_slice(format!("event:{sep}{value}").as_bytes());
                            name = Some(field_value(sep, &value));
                        }
                        Line::Comment(text) => {
                            bytes.extend_from_slice(format!(":{text}").as_bytes());
                        }
                        Line::Ignored(field, value) => {
                            bytes.extend_from_slice(format!("{field}:{value}").as_bytes());
                        }
                    }
                    bytes.extend_from_slice(end.bytes());
                    last_eol = Some(end);
                }
                let last_event = i + 1 == n;
                for (j, blank) in blanks.iter().enumerate() {
                    if last_event && drop_last_blank && j == 0 {
                        break;
                    }
                    // A blank `\n` right after a `\r` would merge into one `\r\n`.
                    let blank = match (last_eol, blank) {
                        (Some(Eol::Cr), Eol::Lf) => Eol::CrLf,
                        (_, b) => *b,
                    };
                    bytes.extend_from_slice(blank.bytes());
                    last_eol = Some(blank);
                }
                if let Some(data) = data {
                    want.push(SseEvent { event: name, data });
                }
            }
            Stream {
                bytes,
                events: want,
            }
        })
}

/// Offsets to cut at: none, a few, or many.
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        prop::collection::vec(0usize..128, 0..4),
        prop::collection::vec(0usize..512, 0..64),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes, any chunks: no panic, no error, and the same events as whole.
    #[test]
    fn any_bytes_any_chunks(input in sse_ish_bytes(), cuts in cuts()) {
        let whole = parse_split(&input, &[])?;
        prop_assert_eq!(parse_split(&input, &cuts)?, whole);
    }

    /// Any sequence of arbitrary chunks pushed (including empty ones) never fails.
    #[test]
    fn arbitrary_chunk_sequences(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..32), 0..16)) {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in &chunks {
            prop_assert!(p.push(c, &mut out).is_ok());
        }
        p.finish(&mut out);
        // The same bytes in one push give the same events.
        prop_assert_eq!(parse_split(&chunks.concat(), &[])?, out);
    }

    /// A generated stream parses to its events, however it is cut.
    #[test]
    fn generated_streams_parse_exactly(s in stream(), cuts in cuts()) {
        prop_assert_eq!(&parse_split(&s.bytes, &[])?, &s.events, "stream {:?}", String::from_utf8_lossy(&s.bytes));
        prop_assert_eq!(parse_split(&s.bytes, &cuts)?, s.events);
    }

    /// Byte-by-byte feeding, the worst case for the line buffer, changes nothing.
    #[test]
    fn generated_streams_byte_by_byte(s in stream()) {
        let every: Vec<usize> = (0..s.bytes.len()).collect();
        prop_assert_eq!(parse_split(&s.bytes, &every)?, s.events);
    }
}
