//! The public edge's cost on the hot path: `GET /v1/models` with the request rate limit on
//! (a limit nobody reaches, so every request takes the full check) and `/metrics` scraped
//! once a second, against the same load with the limit off, or against a baseline binary
//! from before metrics and the limiter existed (`--baseline PATH`).
//!
//! The two gateways run side by side and are loaded in alternating rounds, so drift in
//! the machine (other work, thermal) falls on both alike; each side's figure is the median
//! of its rounds.

use std::time::Duration;

use crate::gateway::{Gw, Impl, TOKEN};
use crate::http_load::{LoadResult, get_load};
use crate::scenarios::{HTTP_CONFIG, Row, ms, row};

/// [`HTTP_CONFIG`] with `gateway.rateLimit` on at the largest budget accepted, so no
/// request is refused but each is checked.
const LIMITED_CONFIG: &str = r#"{ gateway: { mode: "local", http: { endpoints: { chatCompletions: { enabled: true } } }, rateLimit: { enabled: true, requestsPerMinute: 100000000, burst: 100000000 }, metrics: { enabled: true } } }"#;

/// Seconds per round.
const ROUND: Duration = Duration::from_secs(5);

/// `rounds` alternating rounds of `conns` connections on each gateway.
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
    for _ in 0..rounds.max(1) {
        off_runs.push(get_load(off.port, "/v1/models", TOKEN, conns, ROUND).await?);
        let port = on.port;
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
        on_runs.push(get_load(on.port, "/v1/models", TOKEN, conns, ROUND).await?);
        scraper.abort();
        scrapes += 1;
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
    let (off_rate, off_p99, off_failed) = summary(&off_runs);
    let (on_rate, on_p99, on_failed) = summary(&on_runs);
    let ratio = on_rate / off_rate;
    let off_label = if baseline.is_some() {
        "baseline binary, limit off"
    } else {
        "limit off"
    };
    Ok(vec![
        row(
            &format!("GET /v1/models, {conns} connections, {off_label}"),
            format!(
                "{off_rate:.0} req/s, p99 {:.2} ms, {off_failed} failed (median of {} rounds)",
                ms(off_p99),
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
                "{on_rate:.0} req/s, p99 {:.2} ms, {on_failed} failed; {:.1}% of off ({scrapes} rounds)",
                ms(on_p99),
                ratio * 100.0
            ),
            ">= 95% of off",
            Some(on_failed == 0 && ratio >= 0.95),
        ),
    ])
}

/// Median rate, median p99 and total failures of some rounds.
fn summary(runs: &[LoadResult]) -> (f64, Duration, usize) {
    let mut rates: Vec<f64> = runs.iter().map(LoadResult::rate).collect();
    rates.sort_by(f64::total_cmp);
    let mut p99s: Vec<Duration> = runs.iter().map(|r| r.pct(0.99)).collect();
    p99s.sort();
    let failed = runs.iter().map(|r| r.failed).sum();
    (rates[rates.len() / 2], p99s[p99s.len() / 2], failed)
}
