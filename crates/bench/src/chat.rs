//! Added latency of `/v1/chat/completions` through the gateway over calling the stand-in
//! provider directly, at a fixed request rate (open loop, so a slow server cannot slow the
//! arrival of requests and hide its own latency).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::gateway::{Gw, Impl, TOKEN};
use crate::scenarios::{Row, row};

/// The stand-in provider as a child process.
pub struct Mock {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Mock {
    /// Starts `openclaw-mock-provider` from next to the gateway binary.
    pub async fn start(gateway_bin: &Path) -> anyhow::Result<Mock> {
        let bin = gateway_bin.with_file_name("openclaw-mock-provider");
        let mut child = Command::new(&bin)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let out = child.stdout.take().context("mock stdout")?;
        let mut lines = BufReader::new(out).lines();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(line) = lines.next_line().await?
                && let Some(i) = line.find("http://")
            {
                return Ok(Mock {
                    child,
                    base: line[i..].trim().to_owned(),
                });
            }
        }
        bail!("mock provider did not start")
    }

    /// Stops it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// One measured request.
#[derive(Clone, Copy)]
struct Sample {
    first: Duration,
    total: Duration,
    ok: bool,
}

/// Sends `rate` requests per second for `secs` seconds; returns samples.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    body: &'static str,
    auth: Option<&str>,
    rate: u64,
    secs: u64,
) -> Vec<Sample> {
    let total = (rate * secs) as usize;
    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let mut tasks = Vec::with_capacity(total);
    let start = tokio::time::Instant::now();
    for i in 0..total {
        tokio::time::sleep_until(start + period * i as u32).await;
        let client = client.clone();
        let url = url.to_owned();
        let auth = auth.map(str::to_owned);
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let mut req = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body);
            if let Some(a) = auth {
                req = req.header("authorization", format!("Bearer {a}"));
            }
            let Ok(res) = req.send().await else {
                return Sample {
                    first: t0.elapsed(),
                    total: t0.elapsed(),
                    ok: false,
                };
            };
            let ok = res.status().is_success();
            let mut first = None;
            let mut stream = res.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let Ok(c) = chunk else {
                    return Sample {
                        first: t0.elapsed(),
                        total: t0.elapsed(),
                        ok: false,
                    };
                };
                if first.is_none() && has_text(&c) {
                    first = Some(t0.elapsed());
                }
            }
            let total = t0.elapsed();
            Sample {
                first: first.unwrap_or(total),
                total,
                ok,
            }
        }));
    }
    let mut out = Vec::with_capacity(total);
    for t in tasks {
        if let Ok(s) = t.await {
            out.push(s);
        }
    }
    out
}

/// Whether a chunk carries generated text (for time to first token): the stand-in's reply
/// starts with "echo", on both paths.
fn has_text(chunk: &[u8]) -> bool {
    chunk.windows(4).any(|w| w == b"echo")
}

fn pct(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Gateway config answering through the stand-in at `base` with model `model`.
pub fn gateway_config(base: &str, model: &str) -> String {
    format!(
        r#"{{
          gateway: {{ mode: "local", http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{base}/v1", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/{model}" }} }},
        }}"#
    )
}

/// The scenario: direct vs through the gateway, non-streaming and streaming.
pub async fn added_latency(bin: &Path, rate: u64, secs: u64) -> anyhow::Result<Vec<Row>> {
    let mock = Mock::start(bin).await?;
    let config = gateway_config(&mock.base, "bench");
    let (mut gw, _) =
        Gw::spawn_with_config(&Impl::Ours(bin.to_path_buf()), &[], Some(&config)).await?;
    gw.wait_healthz(Duration::from_secs(10)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .tcp_nodelay(true)
        .build()?;
    let direct_url = format!("{}/v1/chat/completions", mock.base);
    let gw_url = format!("http://127.0.0.1:{}/v1/chat/completions", gw.port);
    const DIRECT: &str =
        r#"{"model":"bench","messages":[{"role":"user","content":"hello there"}]}"#;
    const DIRECT_S: &str =
        r#"{"model":"bench","stream":true,"messages":[{"role":"user","content":"hello there"}]}"#;
    const VIA: &str =
        r#"{"model":"openclaw","messages":[{"role":"user","content":"hello there"}]}"#;
    const VIA_S: &str = r#"{"model":"openclaw","stream":true,"messages":[{"role":"user","content":"hello there"}]}"#;
    // Warm up connection pools on both paths.
    drive(&client, &direct_url, DIRECT, None, 200, 1).await;
    drive(&client, &gw_url, VIA, Some(TOKEN), 200, 1).await;

    let mut rows = Vec::new();
    for (label, direct_body, via_body, streaming) in [
        ("non-streaming", DIRECT, VIA, false),
        ("streaming", DIRECT_S, VIA_S, true),
    ] {
        let direct = drive(&client, &direct_url, direct_body, None, rate, secs).await;
        let via = drive(&client, &gw_url, via_body, Some(TOKEN), rate, secs).await;
        let failed = via.iter().filter(|s| !s.ok).count() + direct.iter().filter(|s| !s.ok).count();
        let mut dt: Vec<Duration> = direct.iter().map(|s| s.total).collect();
        let mut vt: Vec<Duration> = via.iter().map(|s| s.total).collect();
        let (d50, d99, v50, v99) = (
            pct(&mut dt, 0.5),
            pct(&mut dt, 0.99),
            pct(&mut vt, 0.5),
            pct(&mut vt, 0.99),
        );
        let added99 = v99.saturating_sub(d99);
        let name = format!("chat completions {label} @ {rate} req/s");
        let what = if streaming { "to last chunk" } else { "total" };
        rows.push(row(
            &name,
            format!(
                "{what}: added p50 {:.2} ms, p99 {:.2} ms (direct p50 {:.2}/p99 {:.2}; gateway p50 {:.2}/p99 {:.2}); {} reqs, {failed} failed",
                ms(v50.saturating_sub(d50)), ms(added99), ms(d50), ms(d99), ms(v50), ms(v99), via.len()
            ),
            "added p99 <= 0.5 ms",
            Some(failed == 0 && added99 <= Duration::from_micros(500)),
        ));
        if streaming {
            let mut df: Vec<Duration> = direct.iter().map(|s| s.first).collect();
            let mut vf: Vec<Duration> = via.iter().map(|s| s.first).collect();
            let (d50, d99, v50, v99) = (
                pct(&mut df, 0.5),
                pct(&mut df, 0.99),
                pct(&mut vf, 0.5),
                pct(&mut vf, 0.99),
            );
            let added99 = v99.saturating_sub(d99);
            rows.push(row(
                &format!("chat completions streaming first chunk @ {rate} req/s"),
                format!(
                    "added p50 {:.2} ms, p99 {:.2} ms (direct p50 {:.2}/p99 {:.2})",
                    ms(v50.saturating_sub(d50)),
                    ms(added99),
                    ms(d50),
                    ms(d99)
                ),
                "added p99 <= 0.5 ms",
                Some(added99 <= Duration::from_micros(500)),
            ));
        }
        let throughput = via.len() as f64 / secs as f64;
        rows.push(row(
            &format!("throughput {label}"),
            format!("{throughput:.0} req/s completed through the gateway"),
            "",
            None,
        ));
    }
    gw.stop().await;
    mock.stop().await;
    Ok(rows)
}
