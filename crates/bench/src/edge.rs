//! The public edge's cost on the hot path: `GET /v1/models` with the request rate limit on
//! (a limit nobody reaches, so every request takes the full check) and `/metrics` scraped
//! once a second, against the same load with the limit off, or against a baseline binary
//! from before metrics and the limiter existed (`--baseline PATH`).
//!
//! The two gateways run side by side and are loaded in alternating rounds, with the
//! side that goes first alternating too, so drift in the machine (other work, heat)
//! falls on both alike; each side's figure is the median of its rounds.

use std::time::Duration;

use crate::gateway::{Gw, Impl, TOKEN, cpu_time, pin};
use crate::http_load::{LoadResult, get_load};
use crate::scenarios::{HTTP_CONFIG, Row, ms, row};

/// [`HTTP_CONFIG`] with `gateway.rateLimit` on at the largest budget accepted, so no
/// request is refused but each is checked.
const LIMITED_CONFIG: &str = r#"{ gateway: { mode: "local", http: { endpoints: { chatCompletions: { enabled: true } } }, rateLimit: { enabled: true, requestsPerMinute: 100000000, burst: 100000000 }, metrics: { enabled: true } } }"#;

/// Seconds per round.
const ROUND: Duration = Duration::from_secs(5);

/// Rounds per side: even, so each side goes first equally often.
pub const ROUNDS: usize = 8;

/// One round's load on one side, with the CPU time its gateway spent on it.
struct Round {
    load: LoadResult,
    cpu: Duration,
}

impl Round {
    /// Gateway CPU time per successful request.
    fn cpu_per_request(&self) -> Duration {
        self.cpu / u32::try_from(self.load.ok.max(1)).unwrap_or(u32::MAX)
    }
}

/// `rounds` alternating rounds of `conns` connections on each gateway.
///
/// With two CPUs or more, the gateways are bound to CPU 1 and this process (the load)
/// to CPU 0: a gateway then never shares its core with the load generator, which is
/// what made unpinned runs of the same two binaries differ by up to 20 % here.
pub async fn overhead(
    ours: &Impl,
    baseline: Option<&Impl>,
    conns: usize,
    rounds: usize,
) -> anyhow::Result<Vec<Row>> {
    let off_imp = baseline.unwrap_or(ours);
    let (mut off, _) = Gw::spawn_with_config(off_imp, &[], Some(HTTP_CONFIG)).await?;
    off.wait_healthz(Duration::from_secs(60)).await?;
    let (mut on, _) = Gw::spawn_with_config(ours, &[], Some(LIMITED_CONFIG)).await?;
    on.wait_healthz(Duration::from_secs(60)).await?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = cpus >= 2;
    let (off_pid, on_pid) = (pid(&off)?, pid(&on)?);
    if pinned {
        pin(None, 0..1)?;
        pin(Some(off_pid), 1..2)?;
        pin(Some(on_pid), 1..2)?;
    }
    for gw in [&off, &on] {
        get_load(
            gw.port,
            "/v1/models",
            TOKEN,
            conns,
            Duration::from_millis(500),
        )
        .await?;
    }
    let mut off_runs = Vec::new();
    let mut on_runs = Vec::new();
    let mut scrapes = 0usize;
    for round in 0..rounds.max(1) {
        // The order alternates too: whichever side runs second in a round meets a machine
        // the first has just warmed (or heated), and that must not fall on one side only.
        let on_first = round % 2 == 1;
        if !on_first {
            off_runs.push(
                measured(
                    off_pid,
                    get_load(off.port, "/v1/models", TOKEN, conns, ROUND),
                )
                .await?,
            );
        }
        on_runs.push(measured(on_pid, scraped_load(on.port, conns)).await?);
        scrapes += 1;
        if on_first {
            off_runs.push(
                measured(
                    off_pid,
                    get_load(off.port, "/v1/models", TOKEN, conns, ROUND),
                )
                .await?,
            );
        }
    }
    // The limiter really was on: a scrape shows it checked (and refused nothing).
    let text = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/metrics", on.port))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .text()
        .await?;
    anyhow::ensure!(
        text.contains("openclaw_rate_limited_total"),
        "the gateway under test has no openclaw_rate_limited_total series"
    );
    off.stop().await;
    on.stop().await;
    if pinned {
        // Later scenarios run on every CPU again.
        pin(None, 0..cpus)?;
    }
    let (off_rate, off_p99, off_cpu, off_failed) = summary(&off_runs);
    let (on_rate, on_p99, on_cpu, on_failed) = summary(&on_runs);
    let ratio = on_rate / off_rate;
    let cpu_ratio = on_cpu.as_secs_f64() / off_cpu.as_secs_f64().max(1e-12);
    let placement = if pinned {
        "gateway on CPU 1, load on CPU 0"
    } else {
        "unpinned (one CPU)"
    };
    let off_label = if baseline.is_some() {
        "baseline binary, limit off"
    } else {
        "limit off"
    };
    Ok(vec![
        row(
            &format!("GET /v1/models, {conns} connections, {off_label}"),
            format!(
                "{off_rate:.0} req/s, p99 {:.2} ms, {:.2} µs gateway CPU/req, {off_failed} failed (median of {} rounds; {placement})",
                ms(off_p99),
                micros(off_cpu),
                off_runs.len()
            ),
            "",
            None,
        ),
        row(
            &format!(
                "GET /v1/models, {conns} connections, rate limit on (not reached) + /metrics scraped 1/s"
            ),
            format!(
                "{on_rate:.0} req/s, p99 {:.2} ms, {:.2} µs gateway CPU/req, {on_failed} failed; {:.1}% of off's throughput, {:.1}% of its CPU/req ({scrapes} rounds)",
                ms(on_p99),
                micros(on_cpu),
                ratio * 100.0,
                cpu_ratio * 100.0
            ),
            ">= 95% of off",
            Some(on_failed == 0 && ratio >= 0.95),
        ),
    ])
}

/// One round on the "on" side: the load, with `/metrics` scraped once a second.
async fn scraped_load(port: u16, conns: usize) -> anyhow::Result<LoadResult> {
    let scraper = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let _ = http
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .bearer_auth(TOKEN)
                .send()
                .await;
        }
    });
    let result = get_load(port, "/v1/models", TOKEN, conns, ROUND).await;
    scraper.abort();
    result
}

/// Median rate, median p99, median gateway CPU per request and total failures of some
/// rounds.
fn summary(runs: &[Round]) -> (f64, Duration, Duration, usize) {
    let mut rates: Vec<f64> = runs.iter().map(|r| r.load.rate()).collect();
    rates.sort_by(f64::total_cmp);
    let mut p99s: Vec<Duration> = runs.iter().map(|r| r.load.pct(0.99)).collect();
    p99s.sort();
    let mut cpus: Vec<Duration> = runs.iter().map(Round::cpu_per_request).collect();
    cpus.sort();
    let failed = runs.iter().map(|r| r.load.failed).sum();
    let mid = runs.len() / 2;
    (rates[mid], p99s[mid], cpus[mid], failed)
}

/// Runs `load` and measures the CPU time process `pid` spent meanwhile.
async fn measured(
    pid: u32,
    load: impl std::future::Future<Output = anyhow::Result<LoadResult>>,
) -> anyhow::Result<Round> {
    let before = cpu_time(pid)?;
    let load = load.await?;
    let cpu = cpu_time(pid)?.saturating_sub(before);
    Ok(Round { load, cpu })
}

fn pid(gw: &Gw) -> anyhow::Result<u32> {
    gw.child
        .id()
        .ok_or_else(|| anyhow::anyhow!("the gateway exited before the benchmark began"))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
