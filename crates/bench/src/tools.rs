//! The tool loop's costs: the gateway's own time per tool round trip (model and tool time
//! taken out), and what starting one sandboxed `exec` (bubblewrap) costs over a host one.
//!
//! Round trip: the same non-streaming `/v1/chat/completions` turn with and without one
//! tool round (`agents_list`, which answers from memory), against the stand-in provider.
//! The round adds one model call and one tool call; subtracting the stand-in's own time
//! for a model call (measured directly) leaves what the gateway spends on the round: the
//! extra provider request it builds and parses, the policy check, the tool's dispatch, the
//! events and the loop.
//!
//! Exec: `/tools/invoke exec {command: "true"}` on a gateway whose sessions run on the host
//! and on one whose sessions are all sandboxed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::chat::Mock;
use crate::gateway::{Gw, Impl, TOKEN};
use crate::scenarios::{Row, ms, row};

fn pct(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

async fn timed(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    auth: bool,
) -> anyhow::Result<(Duration, Value)> {
    let t = Instant::now();
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(body)?);
    if auth {
        req = req.bearer_auth(TOKEN);
    }
    let r = req.send().await?;
    let status = r.status();
    let v: Value = serde_json::from_slice(&r.bytes().await?)?;
    anyhow::ensure!(status.is_success(), "{url}: {status}: {v}");
    Ok((t.elapsed(), v))
}

/// `tools [N]`: N turns of each kind (after a warm-up), then the exec comparison.
pub async fn round_trip(bin: &Path, n: usize) -> anyhow::Result<Vec<Row>> {
    let mock = Mock::start(bin).await?;
    let config = format!(
        r#"{{
          gateway: {{ mode: "local", http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}/v1", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/bench" }} }},
        }}"#,
        mock.base
    );
    let (mut gw, _) =
        Gw::spawn_with_config(&Impl::Ours(bin.to_path_buf()), &[], Some(&config)).await?;
    gw.wait_healthz(Duration::from_secs(10)).await?;
    let client = reqwest::Client::new();
    let via = format!("http://127.0.0.1:{}/v1/chat/completions", gw.port);
    let direct = format!("{}/v1/chat/completions", mock.base);
    let plain =
        json!({"model": "openclaw", "messages": [{"role": "user", "content": "hello there"}]});
    let tooled = json!({"model": "openclaw", "messages": [{"role": "user", "content": "[[tool agents_list {}]]"}]});
    let upstream =
        json!({"model": "bench", "messages": [{"role": "user", "content": "hello there"}]});
    let (_, v) = timed(&client, &via, &tooled, true).await?;
    let answer = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    anyhow::ensure!(
        answer.starts_with("tool results: ") && answer.contains("agents"),
        "the tool round did not run: {v}"
    );
    for _ in 0..50 {
        timed(&client, &via, &plain, true).await?;
        timed(&client, &via, &tooled, true).await?;
        timed(&client, &direct, &upstream, false).await?;
    }
    let (mut a, mut b, mut d) = (Vec::new(), Vec::new(), Vec::new());
    // Per iteration, what the round added beyond one model call: a sample of the
    // gateway's own time for it (negative when noise outweighs it).
    let mut extra: Vec<f64> = Vec::new();
    for _ in 0..n.max(10) {
        let ta = timed(&client, &via, &plain, true).await?.0;
        let tb = timed(&client, &via, &tooled, true).await?.0;
        let td = timed(&client, &direct, &upstream, false).await?.0;
        extra.push(tb.as_secs_f64() - ta.as_secs_f64() - td.as_secs_f64());
        a.push(ta);
        b.push(tb);
        d.push(td);
    }
    extra.sort_by(f64::total_cmp);
    let at = |q: f64| extra[((extra.len() as f64 - 1.0) * q).round() as usize] * 1000.0;
    let (a50, a99) = (pct(&mut a, 0.5), pct(&mut a, 0.99));
    let (b50, b99) = (pct(&mut b, 0.5), pct(&mut b, 0.99));
    let (d50, d99) = (pct(&mut d, 0.5), pct(&mut d, 0.99));
    gw.stop().await;
    mock.stop().await;
    let mut rows = vec![
        row(
            "turn without tools, via gateway (non-streaming)",
            format!(
                "p50 {:.3} ms, p99 {:.3} ms ({} turns)",
                ms(a50),
                ms(a99),
                a.len()
            ),
            "",
            None,
        ),
        row(
            "turn with one tool round (agents_list), via gateway",
            format!("p50 {:.3} ms, p99 {:.3} ms", ms(b50), ms(b99)),
            "",
            None,
        ),
        row(
            "one model call, direct to the stand-in",
            format!("p50 {:.3} ms, p99 {:.3} ms", ms(d50), ms(d99)),
            "",
            None,
        ),
        row(
            "gateway time per tool round trip (with - without - one model call, per iteration)",
            format!("p50 {:.3} ms, p99 {:.3} ms", at(0.5), at(0.99)),
            "",
            None,
        ),
    ];
    rows.extend(exec_cost(bin, n.clamp(10, 200)).await?);
    Ok(rows)
}

/// Host vs bubblewrap `exec` through `/tools/invoke`.
async fn exec_cost(bin: &Path, n: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut medians = Vec::new();
    for (label, sandbox) in [("host", "off"), ("bubblewrap sandbox", "all")] {
        let config = format!(
            r#"{{ gateway: {{ mode: "local", tools: {{ allow: ["exec"] }} }},
                  agents: {{ defaults: {{ sandbox: {{ mode: "{sandbox}", workspaceAccess: "rw" }} }} }} }}"#
        );
        let (mut gw, _) =
            Gw::spawn_with_config(&Impl::Ours(bin.to_path_buf()), &[], Some(&config)).await?;
        gw.wait_healthz(Duration::from_secs(10)).await?;
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/tools/invoke", gw.port);
        let body = json!({"tool": "exec", "args": {"command": "true"}});
        let (_, v) = timed(&client, &url, &body, true)
            .await
            .with_context(|| format!("exec on the {label}"))?;
        anyhow::ensure!(v["ok"] == true, "exec on the {label} failed: {v}");
        for _ in 0..10 {
            timed(&client, &url, &body, true).await?;
        }
        let mut t = Vec::new();
        for _ in 0..n {
            t.push(timed(&client, &url, &body, true).await?.0);
        }
        let (p50, p99) = (pct(&mut t, 0.5), pct(&mut t, 0.99));
        medians.push(p50);
        rows.push(row(
            &format!("exec `true` via /tools/invoke, {label}"),
            format!("p50 {:.2} ms, p99 {:.2} ms ({n} runs)", ms(p50), ms(p99)),
            "",
            None,
        ));
        gw.stop().await;
    }
    rows.push(row(
        "cost of starting one sandboxed exec over a host exec",
        format!(
            "{:.2} ms (p50 difference)",
            ms(medians[1].saturating_sub(medians[0]))
        ),
        "",
        None,
    ));
    Ok(rows)
}
