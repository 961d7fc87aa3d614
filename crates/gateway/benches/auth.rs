//! Micro-benchmarks of the gateway's per-request authentication and per-event framing.
//!
//! * `verify/*`: [`AuthVerifier::verify`] runs on every WebSocket `connect` and every
//!   authenticated HTTP request. The comparison is constant-time, so a correct token and a
//!   wrong token of the same length should cost the same; the failure paths also format the
//!   client-facing message.
//! * `rate_limit/*`: [`RateLimiter::locked`] followed by [`RateLimiter::record_failure`],
//!   the sequence a failed attempt takes (both transports share one limiter behind a
//!   mutex). Loopback is exempt by default and should be nearly free; a non-exempt address
//!   takes the lock and updates its map entry, and a locked-out address is refused at
//!   `locked` alone. This is the path a password-guessing client hammers.
//! * `event_frame/*`: `openclaw_gateway::ws::event_frame` wraps an already-serialized
//!   payload for every event sent to every client (ticks, `chat` and `agent` stream deltas),
//!   so it runs once per event per subscriber.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openclaw_config::{AuthMode, RateLimitConfig};
use openclaw_gateway::auth::{Attempt, AuthVerifier, Presented, RateLimiter};
use openclaw_gateway::ws::event_frame;

const TOKEN: &str = "4f9a0c2e7b1d8e3f6a5c9b0d2e4f6a8c1b3d5e7f9a0c2e4b";
/// Same length as [`TOKEN`], differing only in the last byte (the worst case for a
/// short-circuiting comparison, which `verify` must not be).
const WRONG_TOKEN: &str = "4f9a0c2e7b1d8e3f6a5c9b0d2e4f6a8c1b3d5e7f9a0c2e4c";

fn verify(c: &mut Criterion) {
    let verifier = AuthVerifier::new(AuthMode::Token, Some(TOKEN.to_owned()));
    let cases = [
        (
            "token_ok",
            Presented {
                token: Some(TOKEN),
                password: None,
            },
            true,
        ),
        (
            "token_wrong_same_len",
            Presented {
                token: Some(WRONG_TOKEN),
                password: None,
            },
            false,
        ),
        ("token_missing", Presented::default(), false),
    ];

    let mut group = c.benchmark_group("verify");
    for (name, presented, ok) in &cases {
        assert_eq!(verifier.verify(presented).is_ok(), *ok, "{name}");
        group.bench_function(*name, |b| b.iter(|| verifier.verify(black_box(presented))));
    }
    group.finish();
}

fn rate_limit(c: &mut Criterion) {
    let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
    let remote: IpAddr = "203.0.113.7".parse().expect("ip");
    let mut group = c.benchmark_group("rate_limit");

    // Default policy: loopback is exempt, so neither call touches the map.
    let limiter = RateLimiter::new(RateLimitConfig::default());
    group.bench_function("loopback_exempt", |b| {
        b.iter(|| {
            let ip = black_box(loopback);
            (
                limiter.locked(&Attempt::gateway(ip, None)),
                limiter.record_failure(&Attempt::gateway(ip, None)),
            )
        })
    });
    assert!(limiter.locked(&Attempt::gateway(loopback, None)).is_none());

    // A non-exempt address still under its attempt budget: the map is consulted and the
    // entry updated on every iteration. The budget is set so high that the bench never
    // trips the lockout; 255 other addresses are tracked to give the map a realistic size.
    let limiter = RateLimiter::new(RateLimitConfig {
        max_attempts: u32::MAX,
        ..RateLimitConfig::default()
    });
    for i in 0..=254u8 {
        limiter.record_failure(&Attempt::gateway(IpAddr::from([198, 51, 100, i]), None));
    }
    group.bench_function("non_exempt_counting", |b| {
        b.iter(|| {
            let ip = black_box(remote);
            (
                limiter.locked(&Attempt::gateway(ip, None)),
                limiter.record_failure(&Attempt::gateway(ip, None)),
            )
        })
    });
    assert!(limiter.locked(&Attempt::gateway(remote, None)).is_none());

    // A non-exempt address already locked out under the default policy: `locked` refuses
    // it, and the handlers return before verifying or recording anything.
    let limiter = RateLimiter::new(RateLimitConfig::default());
    while limiter
        .record_failure(&Attempt::gateway(remote, None))
        .is_none()
    {}
    assert!(limiter.locked(&Attempt::gateway(remote, None)).is_some());
    group.bench_function("non_exempt_locked_out", |b| {
        b.iter(|| limiter.locked(&Attempt::gateway(black_box(remote), None)))
    });
    group.finish();
}

fn events(c: &mut Criterion) {
    let tick = r#"{"ts":1789000000123}"#.to_owned();
    let chat_delta = serde_json::json!({
        "runId": "run_5c0e8f7a-1b2d-4e6f-9a3c-7d8e9f0a1b2c",
        "sessionKey": "agent:main:webchat",
        "seq": 17,
        "state": "delta",
        "message": {
            "role": "assistant",
            "content": [{"type": "text", "text": "The parser buffers raw bytes and only decodes a line once"}],
            "timestamp": 1_789_000_000_456u64
        }
    })
    .to_string();
    // An `agent` assistant event late in a long answer: it carries the text so far.
    let agent_long = serde_json::json!({
        "runId": "run_5c0e8f7a-1b2d-4e6f-9a3c-7d8e9f0a1b2c",
        "seq": 412,
        "stream": "assistant",
        "ts": 1_789_000_000_789u64,
        "data": {"text": "lorem ipsum dolor sit amet ".repeat(150), "delta": " amet"}
    })
    .to_string();

    let mut group = c.benchmark_group("event_frame");
    for (label, name, payload, seq) in [
        ("tick", "tick", &tick, 3u64),
        ("chat_delta", "chat", &chat_delta, 1_234),
        ("agent_4k", "agent", &agent_long, 98_765),
    ] {
        let framed = event_frame(name, payload, seq);
        assert!(serde_json::from_str::<serde_json::Value>(&framed).is_ok());
        group.throughput(Throughput::Bytes(framed.len() as u64));
        group.bench_function(label, |b| {
            b.iter(|| event_frame(black_box(name), black_box(payload), black_box(seq)))
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
    targets = verify, rate_limit, events
}
criterion_main!(benches);
