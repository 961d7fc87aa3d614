//! The scenarios and the result table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::gateway::{Gw, Impl, TOKEN, ws_connect};
use crate::http_load::get_load;

/// One line of the result table.
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// What was measured, with its number.
    pub figure: String,
    /// The target, if one is set.
    pub target: String,
    /// Whether the target holds (None: no target).
    pub pass: Option<bool>,
    /// The headline number, for `--compare` ratios (lower is better unless `higher_better`).
    pub value: Option<f64>,
    /// Whether a larger `value` is better.
    pub higher_better: bool,
}

/// A row without a comparable value.
pub fn row(scenario: &str, figure: String, target: &str, pass: Option<bool>) -> Row {
    Row {
        scenario: scenario.into(),
        figure,
        target: target.into(),
        pass,
        value: None,
        higher_better: false,
    }
}

impl Row {
    fn value(mut self, v: f64, higher_better: bool) -> Row {
        self.value = Some(v);
        self.higher_better = higher_better;
        self
    }
}

/// Config enabling the HTTP API (so `/v1/models` exists).
pub const HTTP_CONFIG: &str = r#"{ gateway: { mode: "local", http: { endpoints: { chatCompletions: { enabled: true } } } } }"#;

/// Start to `/healthz` 200 (median, p90 over `runs`), then idle RSS.
pub async fn startup(imp: &Impl, runs: usize) -> anyhow::Result<Vec<Row>> {
    let mut times = Vec::with_capacity(runs);
    let mut rss = Vec::new();
    for _ in 0..runs.max(1) {
        let (mut gw, t0) = Gw::spawn(imp, &[]).await?;
        let ready = gw.wait_healthz(Duration::from_secs(60)).await?;
        times.push(ready - t0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss.push(gw.rss_kib()?);
        gw.stop().await;
    }
    times.sort();
    rss.sort();
    let median = times[times.len() / 2];
    let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
    let rss_med = rss[rss.len() / 2];
    Ok(vec![
        row(
            "start to /healthz 200",
            format!(
                "median {:.1} ms, p90 {:.1} ms ({} runs)",
                ms(median),
                ms(p90),
                times.len()
            ),
            "median <= 50 ms",
            Some(median <= Duration::from_millis(50)),
        )
        .value(ms(median), false),
        row(
            "idle RSS",
            format!("{:.1} MB", rss_med as f64 / 1024.0),
            "<= 15 MB",
            Some(rss_med <= 15 * 1024),
        )
        .value(rss_med as f64 / 1024.0, false),
    ])
}

/// `n` idle authenticated connections opened `in_flight` at a time: handshake latency and RSS.
pub async fn ws_idle(imp: &Impl, n: usize, in_flight: usize) -> anyhow::Result<Vec<Row>> {
    let (mut gw, _) = Gw::spawn(imp, &[]).await?;
    gw.wait_healthz(Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = gw.rss_kib()?;
    let sem = Arc::new(Semaphore::new(in_flight));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = sem.clone().acquire_owned().await?;
        let port = gw.port;
        tasks.push(tokio::spawn(async move {
            let r = ws_connect(port).await;
            drop(permit);
            r
        }));
    }
    let mut sockets = Vec::with_capacity(n);
    let mut lat = Vec::with_capacity(n);
    let mut failed = 0usize;
    for t in tasks {
        match t.await? {
            Ok((ws, d)) => {
                sockets.push(ws);
                lat.push(d);
            }
            Err(_) => failed += 1,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = gw.rss_kib()?;
    lat.sort();
    let p = |q: f64| {
        lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    drop(sockets);
    gw.stop().await;
    let per_conn = after.saturating_sub(before) as f64 / n.max(1) as f64;
    let big = n >= 10_000;
    Ok(vec![
        row(
            &format!("{n} idle WS connections"),
            format!(
                "{} ok, {failed} failed; RSS {:.1} MB (idle {:.1} MB, {:.1} KB/conn)",
                lat.len(),
                after as f64 / 1024.0,
                before as f64 / 1024.0,
                per_conn
            ),
            if big { "all ok, <= 150 MB" } else { "all ok" },
            Some(failed == 0 && (!big || after <= 150 * 1024)),
        )
        .value(after as f64 / 1024.0, false),
        row(
            &format!("WS handshake latency ({in_flight} in flight)"),
            format!("p50 {:.2} ms, p99 {:.2} ms", ms(p(0.5)), ms(p(0.99))),
            if in_flight == 64 { "p99 <= 10 ms" } else { "" },
            (in_flight == 64).then(|| p(0.99) <= Duration::from_millis(10)),
        )
        .value(ms(p(0.5)), false),
    ])
}

/// `GET /v1/models` with auth, closed loop on `conns` keep-alive connections.
pub async fn models(imp: &Impl, conns: usize, secs: u64) -> anyhow::Result<Vec<Row>> {
    let (mut gw, _) = Gw::spawn_with_config(imp, &[], Some(HTTP_CONFIG)).await?;
    gw.wait_healthz(Duration::from_secs(60)).await?;
    // Warm-up.
    get_load(
        gw.port,
        "/v1/models",
        TOKEN,
        conns,
        Duration::from_millis(500),
    )
    .await?;
    let r = get_load(
        gw.port,
        "/v1/models",
        TOKEN,
        conns,
        Duration::from_secs(secs),
    )
    .await?;
    gw.stop().await;
    let target = conns == 64;
    Ok(vec![
        row(
            &format!("GET /v1/models, {conns} connections"),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
                r.rate(),
                ms(r.pct(0.5)),
                ms(r.pct(0.99)),
                r.failed
            ),
            if target {
                ">= 30000 req/s, p99 <= 5 ms"
            } else {
                ""
            },
            target.then(|| {
                r.failed == 0 && r.rate() >= 30_000.0 && r.pct(0.99) <= Duration::from_millis(5)
            }),
        )
        .value(r.rate(), true),
    ])
}

/// `n` concurrent streaming chat completions through the stand-in provider: every stream
/// must end with `[DONE]`, none may stay silent for 10 s.
pub async fn sse_streams(bin: &std::path::Path, n: usize) -> anyhow::Result<Vec<Row>> {
    use futures_util::StreamExt;
    let mock = crate::chat::Mock::start(bin).await?;
    let config = crate::chat::gateway_config(&mock.base, "mock-chunkdelay-50");
    let (mut gw, _) =
        Gw::spawn_with_config(&Impl::Ours(bin.to_path_buf()), &[], Some(&config)).await?;
    gw.wait_healthz(Duration::from_secs(10)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n)
        .build()?;
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", gw.port);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!(
                r#"{{"model":"openclaw","stream":true,"messages":[{{"role":"user","content":"stream number {i} with several words"}}]}}"#
            );
            let res = client
                .post(&url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !res.status().is_success() {
                return Err(format!("status {}", res.status()));
            }
            let mut stream = res.bytes_stream();
            let mut tail = Vec::new();
            loop {
                match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
                    Err(_) => return Err("stalled for 10 s".to_owned()),
                    Ok(None) => break,
                    Ok(Some(Err(e))) => return Err(e.to_string()),
                    Ok(Some(Ok(chunk))) => {
                        tail.extend_from_slice(&chunk);
                        if tail.len() > 64 {
                            tail.drain(..tail.len() - 64);
                        }
                    }
                }
            }
            if String::from_utf8_lossy(&tail).trim_end().ends_with("data: [DONE]") {
                Ok(())
            } else {
                Err("stream ended without [DONE]".to_owned())
            }
        }));
    }
    let mut errors = Vec::new();
    for t in tasks {
        if let Err(e) = t.await? {
            errors.push(e);
        }
    }
    let elapsed = started.elapsed();
    let rss = gw.rss_kib()?;
    gw.stop().await;
    mock.stop().await;
    let first = errors.first().cloned().unwrap_or_default();
    Ok(vec![row(
        &format!("{n} concurrent SSE streams"),
        format!(
            "{} completed, {} failed{}{} in {:.1} s; gateway RSS after {:.1} MB",
            n - errors.len(),
            errors.len(),
            if first.is_empty() { "" } else { " (first: " },
            if first.is_empty() {
                String::new()
            } else {
                format!("{first})")
            },
            elapsed.as_secs_f64(),
            rss as f64 / 1024.0
        ),
        "all complete, none stalled",
        Some(errors.is_empty()),
    )])
}

/// Mixed traffic for `secs`: idle sockets, handshakes, `/v1/models`, chat completions.
/// RSS is sampled every 5 s; after a 30 s warm-up it must stay within ±10 % of its median.
pub async fn soak(bin: &std::path::Path, secs: u64) -> anyhow::Result<Vec<Row>> {
    let mock = crate::chat::Mock::start(bin).await?;
    let config = crate::chat::gateway_config(&mock.base, "soak");
    let (mut gw, _) =
        Gw::spawn_with_config(&Impl::Ours(bin.to_path_buf()), &[], Some(&config)).await?;
    gw.wait_healthz(Duration::from_secs(10)).await?;
    let port = gw.port;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(ws_connect(port).await?.0);
    }
    let churn = tokio::spawn(async move {
        let mut n = 0u64;
        while Instant::now() < end {
            if let Ok((ws, _)) = ws_connect(port).await {
                drop(ws);
                n += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        n
    });
    let models = tokio::spawn(async move {
        let mut total = 0usize;
        while Instant::now() < end {
            if let Ok(r) = get_load(port, "/v1/models", TOKEN, 4, Duration::from_secs(1)).await {
                total += r.ok;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        total
    });
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let chats = tokio::spawn(async move {
        let (mut ok, mut failed) = (0u64, 0u64);
        let mut i = 0u64;
        while Instant::now() < end {
            i += 1;
            let body = format!(
                r#"{{"model":"openclaw","stream":{},"user":"soak-{}","messages":[{{"role":"user","content":"message {i}"}}]}}"#,
                i.is_multiple_of(2),
                i % 20
            );
            let r = client
                .post(&url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let good = match r {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            if good {
                ok += 1;
            } else {
                failed += 1;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (ok, failed)
    });
    let mut samples = Vec::new();
    let started = Instant::now();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if started.elapsed() >= Duration::from_secs(30.min(secs / 2)) {
            samples.push(gw.rss_kib()?);
        }
    }
    let handshakes = churn.await?;
    let model_reqs = models.await?;
    let (chat_ok, chat_failed) = chats.await?;
    drop(idle);
    gw.stop().await;
    mock.stop().await;
    let mut sorted = samples.clone();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0) as f64;
    let (lo, hi) = (
        sorted.first().copied().unwrap_or(0) as f64,
        sorted.last().copied().unwrap_or(0) as f64,
    );
    let flat = median > 0.0 && lo >= median * 0.9 && hi <= median * 1.1;
    Ok(vec![row(
        &format!("{secs} s soak, mixed traffic"),
        format!(
            "RSS {:.1}..{:.1} MB (median {:.1}) over {} samples; {handshakes} handshakes, {model_reqs} model lists, {chat_ok} chats ({chat_failed} failed)",
            lo / 1024.0,
            hi / 1024.0,
            median / 1024.0,
            samples.len()
        ),
        "RSS within ±10 %",
        Some(flat && chat_failed == 0),
    )])
}

/// Milliseconds as f64.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Prints the table.
pub fn print_table(rows: &[Row]) {
    let w0 = rows
        .iter()
        .map(|r| r.scenario.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let w1 = rows
        .iter()
        .map(|r| r.figure.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w2 = rows
        .iter()
        .map(|r| r.target.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "| {:w0$} | {:w1$} | {:w2$} | result |",
        "scenario", "figure", "target"
    );
    println!(
        "|{}|{}|{}|--------|",
        "-".repeat(w0 + 2),
        "-".repeat(w1 + 2),
        "-".repeat(w2 + 2)
    );
    for r in rows {
        let res = match r.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "-",
        };
        println!(
            "| {:w0$} | {:w1$} | {:w2$} | {res:6} |",
            r.scenario, r.figure, r.target
        );
    }
}

/// Prints ours and the original side by side with the ratio of the headline numbers.
pub fn print_compare(ours: &[Row], original: &[Row]) {
    println!("| scenario | openclaw-rs | openclaw (node) | advantage |");
    println!("|---|---|---|---|");
    for (a, b) in ours.iter().zip(original) {
        let ratio = match (a.value, b.value) {
            (Some(x), Some(y)) if x > 0.0 && y > 0.0 => {
                let r = if a.higher_better { x / y } else { y / x };
                format!("{r:.1}x")
            }
            _ => "-".into(),
        };
        println!("| {} | {} | {} | {ratio} |", a.scenario, a.figure, b.figure);
    }
}
