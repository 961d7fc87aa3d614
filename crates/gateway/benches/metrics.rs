//! Micro-benchmarks of metrics recording, which runs on every request.
//!
//! * `record/http_request`: what `serve.rs` does per HTTP request: classify the path, read
//!   the clock, count the response head (route × method × code, time-to-first-byte
//!   histogram, last-minute window) and observe the total time when the body ends.
//! * `record/model_call`: one provider call on a known `(provider, model)` series (a
//!   read-locked map lookup by `&str`, then atomics).
//! * `record/rpc`: one WebSocket RPC call (counter and duration histogram).
//! * `render/scrape`: a whole scrape of a registry with traffic in it (not the hot path).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use openclaw_gateway::metrics::{HttpMethod, Metrics, Outcome, Route};

fn record(c: &mut Criterion) {
    let m = Arc::new(Metrics::default());
    let d = Duration::from_micros(800);
    let mut g = c.benchmark_group("record");
    g.bench_function("http_request", |b| {
        b.iter(|| {
            let started = Instant::now();
            let route = Route::of_path(black_box("/v1/models"));
            m.http_head(route, HttpMethod::Get, 200, started);
            let held = m.clone();
            held.http_done(route, started.elapsed());
        })
    });
    m.model_call("mock", "m1", Outcome::Ok, d, Some((1, 2)));
    g.bench_function("model_call", |b| {
        b.iter(|| m.model_call(black_box("mock"), "m1", Outcome::Ok, d, Some((12, 34))))
    });
    g.bench_function("rpc", |b| b.iter(|| m.rpc(Some(1), "status", Ok(()), d)));
    g.finish();

    let mut g = c.benchmark_group("render");
    g.bench_function("scrape", |b| {
        b.iter(|| black_box(m.render(&Default::default())).len())
    });
    g.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
