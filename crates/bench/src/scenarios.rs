//! The scenarios and the result table.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::gateway::{Gw, ws_connect};

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
}

pub fn row(scenario: &str, figure: String, target: &str, pass: Option<bool>) -> Row {
    Row {
        scenario: scenario.into(),
        figure,
        target: target.into(),
        pass,
    }
}

/// Start to `/healthz` 200 (median, p90 over `runs`), then idle RSS.
pub async fn startup(bin: &Path, runs: usize) -> anyhow::Result<Vec<Row>> {
    let mut times = Vec::with_capacity(runs);
    let mut rss = Vec::new();
    for _ in 0..runs.max(1) {
        let (mut gw, t0) = Gw::spawn(bin, &[]).await?;
        let ready = gw.wait_healthz(Duration::from_secs(10)).await?;
        times.push(ready - t0);
        tokio::time::sleep(Duration::from_millis(300)).await;
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
        ),
        row(
            "idle RSS",
            format!("{:.1} MB", rss_med as f64 / 1024.0),
            "<= 15 MB",
            Some(rss_med <= 15 * 1024),
        ),
    ])
}

/// `n` idle authenticated connections opened 64 at a time: handshake latency and RSS.
pub async fn ws_idle(bin: &Path, n: usize) -> anyhow::Result<Vec<Row>> {
    let (mut gw, _) = Gw::spawn(bin, &[]).await?;
    gw.wait_healthz(Duration::from_secs(10)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = gw.rss_kib()?;
    let sem = Arc::new(Semaphore::new(64));
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
    let per_conn = after.saturating_sub(before) as f64 * 1024.0 / n.max(1) as f64;
    Ok(vec![
        row(
            &format!("{n} idle WS connections"),
            format!(
                "{} ok, {failed} failed; RSS {:.1} MB (idle {:.1} MB, {:.1} KB/conn)",
                lat.len(),
                after as f64 / 1024.0,
                before as f64 / 1024.0,
                per_conn / 1024.0
            ),
            if n >= 10_000 {
                "all ok, <= 150 MB"
            } else {
                "all ok"
            },
            Some(failed == 0 && (n < 10_000 || after <= 150 * 1024)),
        ),
        row(
            "WS handshake latency (64 in flight)",
            format!("p50 {:.2} ms, p99 {:.2} ms", ms(p(0.5)), ms(p(0.99))),
            "p99 <= 10 ms",
            Some(p(0.99) <= Duration::from_millis(10)),
        ),
    ])
}

fn ms(d: Duration) -> f64 {
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
