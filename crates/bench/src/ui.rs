//! The Control UI's weight and its cost to the gateway: every asset `index.html` loads (and
//! the modules those import), fetched as a browser would (brotli), gzip and identity; the
//! time to fetch the whole app over one keep-alive connection; and the idle gateway's RSS
//! before any page was served and after 200 full page loads.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::gateway::{Gw, Impl};
use crate::scenarios::{Row, ms, row};

/// The `src=`/`href=` values under `/assets/` in `index.html`, and the relative
/// `import … from "./x.js"` / `import("./x.js")` specifiers of a module.
fn references(base: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for open in [
        "src=\"",
        "href=\"",
        "from \"",
        "from '",
        "import(\"",
        "import('",
    ] {
        let close = if open.ends_with('\'') { '\'' } else { '"' };
        let mut rest = text;
        while let Some(i) = rest.find(open) {
            rest = &rest[i + open.len()..];
            let Some(end) = rest.find(close) else { break };
            let r = &rest[..end];
            if r.starts_with("/assets/") {
                out.push(r.to_owned());
            } else if let Some(rel) = r.strip_prefix("./") {
                out.push(format!("{base}{rel}"));
            } else if r.starts_with("../") {
                let mut dir: Vec<&str> = base.trim_end_matches('/').split('/').collect();
                let mut rel = r;
                while let Some(more) = rel.strip_prefix("../") {
                    dir.pop();
                    rel = more;
                }
                out.push(format!("{}/{rel}", dir.join("/")));
            }
        }
    }
    out
}

/// The app's asset paths: those `index.html` names and every module they import,
/// followed through the uncompressed copies.
async fn discover(http: &reqwest::Client, port: u16) -> anyhow::Result<BTreeSet<String>> {
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let index = http.get(url("/")).send().await?.text().await?;
    let mut seen = BTreeSet::new();
    let mut todo = references("/", &index);
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let r = http.get(url(&path)).send().await?;
        anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
        let text = r.text().await?;
        if path.ends_with(".js") {
            let dir = &path[..path.rfind('/').unwrap_or(0) + 1];
            todo.extend(references(dir, &text));
        }
    }
    Ok(seen)
}

/// One page load as a browser makes it: `index.html`, then every asset with
/// `Accept-Encoding: encoding` (none when empty); the bytes on the wire.
async fn load_page(
    http: &reqwest::Client,
    port: u16,
    assets: &BTreeSet<String>,
    encoding: &str,
) -> anyhow::Result<usize> {
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let mut total = http.get(url("/")).send().await?.bytes().await?.len();
    for a in assets {
        let mut req = http.get(url(a));
        if !encoding.is_empty() {
            req = req.header("accept-encoding", encoding);
        }
        let r = req.send().await?;
        anyhow::ensure!(r.status().is_success(), "{a}: {}", r.status());
        total += r.bytes().await?.len();
    }
    Ok(total)
}

/// `ui`: sizes, fetch time and RSS.
pub async fn weight(imp: &Impl) -> anyhow::Result<Vec<Row>> {
    let (mut gw, _) = Gw::spawn(imp, &[]).await?;
    gw.wait_healthz(Duration::from_secs(20)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = gw.rss_kib()?;
    // No automatic decompression: the sizes are what goes over the wire.
    let http = reqwest::Client::builder().build()?;
    let assets = discover(&http, gw.port).await.context("fetch the app")?;
    let br = load_page(&http, gw.port, &assets, "br").await?;
    let gz = load_page(&http, gw.port, &assets, "gzip").await?;
    let raw = load_page(&http, gw.port, &assets, "").await?;
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        load_page(&http, gw.port, &assets, "br").await?;
        times.push(t.elapsed());
    }
    times.sort();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = gw.rss_kib()?;
    gw.stop().await;
    let kb = |b: usize| b as f64 / 1000.0;
    let grew = after.saturating_sub(before);
    Ok(vec![
        row(
            "ui assets",
            format!(
                "{} files: {:.1} KB brotli, {:.1} KB gzip, {:.1} KB uncompressed",
                assets.len() + 1,
                kb(br),
                kb(gz),
                kb(raw)
            ),
            "≤ 150 KB compressed",
            Some(br <= 150_000 && gz <= 150_000),
        ),
        row(
            "ui fetch",
            format!(
                "page + every asset (brotli), one connection, in sequence: p50 {:.2} ms, p99 {:.2} ms (200 loads)",
                ms(times[times.len() / 2]),
                ms(times[times.len() * 99 / 100])
            ),
            "",
            None,
        ),
        row(
            "ui rss",
            format!(
                "idle {:.1} MB before serving, {:.1} MB after 200 page loads (+{} KiB)",
                before as f64 / 1024.0,
                after as f64 / 1024.0,
                grew
            ),
            "≤ +2 MB",
            Some(grew <= 2048),
        ),
    ])
}
