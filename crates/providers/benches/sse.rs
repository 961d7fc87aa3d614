//! Micro-benchmarks of the incremental server-sent-events parser.
//!
//! Every byte of every streamed model answer passes through
//! [`openclaw_providers::sse::SseParser::push`] before it can become a text delta on a
//! client's socket, once per body chunk that TCP delivers. The input here is a realistic
//! OpenAI Chat Completions stream: a role chunk, 48 content chunks, a `finish_reason`
//! chunk, a usage chunk and `data: [DONE]` (51 `data:` events plus `[DONE]`). It is fed in
//! pieces of
//! * 1 byte: the worst case, exercising the line buffer on every call;
//! * 64 bytes: small reads, events split across pushes;
//! * 1500 bytes: roughly one Ethernet MTU per read, the common case over a network;
//!
//! and, as a baseline, whole in one push.
//!
//! Not measured: turning the parsed events into `ChatEvent`s. That translation (the
//! per-API decoders and the pipeline around them) is private to the crate; its only public
//! entry point is `Provider::chat`, which needs a live HTTP response, so it cannot be
//! benchmarked here without also measuring HTTP and the async runtime.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use openclaw_providers::sse::{SseEvent, SseParser};

const CONTENT_CHUNKS: usize = 48;

/// Words streamed one per content chunk, the way OpenAI tokenizes plain prose.
const WORDS: [&str; 16] = [
    "The",
    " gateway",
    " multiplexes",
    " the",
    " WebSocket",
    " control",
    " plane",
    " and",
    " the",
    " HTTP",
    " API",
    " on",
    " one",
    " port",
    ",",
    " so\\n",
];

fn chunk(delta: &str, finish: &str) -> String {
    format!(
        concat!(
            r#"data: {{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","#,
            r#""created":1789000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","#,
            r#""system_fingerprint":"fp_0ba0d124f1","choices":[{{"index":0,"delta":{},"#,
            r#""logprobs":null,"finish_reason":{}}}],"usage":null}}"#,
            "\n\n"
        ),
        delta, finish
    )
}

/// The body of one streamed Chat Completions answer with `stream_options.include_usage`.
fn openai_stream() -> Vec<u8> {
    let mut body = String::new();
    body.push_str(&chunk(
        r#"{"role":"assistant","content":"","refusal":null}"#,
        "null",
    ));
    for word in WORDS.iter().cycle().take(CONTENT_CHUNKS) {
        body.push_str(&chunk(&format!(r#"{{"content":"{word}"}}"#), "null"));
    }
    body.push_str(&chunk("{}", r#""stop""#));
    body.push_str(concat!(
        r#"data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","#,
        r#""created":1789000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","#,
        r#""system_fingerprint":"fp_0ba0d124f1","choices":[],"usage":{"prompt_tokens":412,"#,
        r#""completion_tokens":48,"total_tokens":460,"prompt_tokens_details":{"cached_tokens":0,"#,
        r#""audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"#,
        r#""accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
        "\n\n",
        "data: [DONE]\n\n"
    ));
    body.into_bytes()
}

/// Parses `body` delivered in `piece`-byte reads, draining events after each read the way
/// the provider pipeline does; returns how many events were dispatched.
fn parse(body: &[u8], piece: usize, out: &mut Vec<SseEvent>) -> usize {
    let mut parser = SseParser::new();
    let mut events = 0;
    for part in body.chunks(piece) {
        parser.push(part, out).expect("within the size limit");
        events += out.len();
        out.clear();
    }
    parser.finish(out);
    events += out.len();
    out.clear();
    events
}

fn sse(c: &mut Criterion) {
    let body = openai_stream();
    let expected = CONTENT_CHUNKS + 4; // role, content…, finish, usage, [DONE]
    let mut out = Vec::new();

    let mut group = c.benchmark_group("sse_openai_chat");
    group.throughput(Throughput::Bytes(body.len() as u64));
    for (label, piece) in [("1", 1), ("64", 64), ("1500", 1500), ("whole", body.len())] {
        assert_eq!(parse(&body, piece, &mut out), expected, "piece {label}");
        group.bench_with_input(BenchmarkId::new("piece", label), &piece, |b, &piece| {
            b.iter(|| parse(black_box(&body), piece, &mut out))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = sse
}
criterion_main!(benches);
