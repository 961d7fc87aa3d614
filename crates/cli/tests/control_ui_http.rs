//! The Control UI as HTTP sees it, against the real binary: the page and its headers,
//! hashed long-cached assets in the encoding the client accepts, client-side routes, API
//! paths that keep their JSON answers, `basePath`, `enabled: false`, and `openclaw
//! dashboard`'s URL.

mod common;

use std::io::Read;

use common::*;
use serde_json::Value;

const TOKEN: &str = "control-ui-http-token-0123456789";

fn config(extra: &str) -> String {
    format!(r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} {extra} }} }}"#)
}

fn client() -> reqwest::Client {
    // No automatic decompression: the test checks the encodings itself.
    reqwest::Client::builder().build().unwrap()
}

/// The asset URLs `index.html` points at (`src=` / `href=` values under `/assets/`).
fn asset_urls(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            if rest[..end].contains("/assets/") {
                out.push(rest[..end].to_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn the_page_its_headers_and_its_assets() {
    let gw = start(Spec::default().config(&config("")));
    let http = client();
    let r = http.get(gw.http("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    let html = r.text().await.unwrap();
    assert!(!html.contains("__ASSETS__") && !html.contains("__BASE__"));
    assert!(
        html.contains(&format!("content=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "the page carries the gateway's version: {html}"
    );
    let assets = asset_urls(&html);
    assert!(
        assets.iter().any(|a| a.ends_with("/app.js")),
        "{assets:?}\n{html}"
    );
    for a in &assets {
        assert!(a.starts_with("/assets/"), "{a}");
        // brotli, gzip and identity each decode to the same bytes.
        let plain = http.get(gw.http(a)).send().await.unwrap();
        assert_eq!(plain.status(), 200, "{a}");
        assert_eq!(
            plain.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(plain.headers().get("content-encoding").is_none());
        let plain = plain.bytes().await.unwrap();
        let gz = http
            .get(gw.http(a))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        assert_eq!(gz.headers()["vary"], "Accept-Encoding");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain, "{a} gzip");
        let br = http
            .get(gw.http(a))
            .header("accept-encoding", "gzip, deflate, br")
            .send()
            .await
            .unwrap();
        assert_eq!(br.headers()["content-encoding"], "br");
        let body = br.bytes().await.unwrap();
        assert!(body.len() < plain.len(), "{a}: brotli is smaller");
        let mut out = Vec::new();
        brotli::Decompressor::new(&body[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain, "{a} brotli");
    }
    // Another build's asset directory: a 404 that says to reload.
    let r = http
        .get(gw.http("/assets/0000000000/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("reload the page"));
}

#[tokio::test]
async fn client_routes_get_the_app_and_api_paths_keep_their_answers() {
    let gw = start(Spec::default().config(&config("")));
    let http = client();
    let nav = |path: &str| {
        http.get(gw.http(path))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
    };
    let r = nav("/chat").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/app.js"));
    // API and probe routes answer as before, even for a browser.
    let r = nav("/healthz").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["ok"], true);
    let r = nav("/v1/models").await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let r = nav("/v1/nothing-here").await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // A missing file is a 404, not the app.
    assert_eq!(nav("/favicon-nope.png").await.unwrap().status(), 404);
    // A client that does not ask for HTML gets the plain not-found.
    let r = http.get(gw.http("/chat")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn base_path_and_switched_off() {
    let gw = start(Spec::default().config(&config(r#", controlUi: { basePath: "/ui" }"#)));
    let http = client();
    let r = http.get(gw.http("/ui/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("\"/ui/\""),
        "the base path is in the page: {html}"
    );
    for a in asset_urls(&html) {
        assert!(a.starts_with("/ui/assets/"), "{a}");
        assert_eq!(http.get(gw.http(&a)).send().await.unwrap().status(), 200);
    }
    assert_eq!(http.get(gw.http("/ui")).send().await.unwrap().status(), 200);
    let r = http
        .get(gw.http("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "outside the base path is not the app");
    drop(gw);

    let gw = start(Spec::default().config(&config(", controlUi: { enabled: false }")));
    let r = http
        .get(gw.http("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let out = gw.cli(&["dashboard", "--no-open", "--url", &gw.url()]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("gateway.controlUi.enabled"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn dashboard_prints_the_url_with_the_token_in_the_fragment() {
    let gw = start(Spec::default().config(&config("")));
    let out = gw.cli(&["dashboard", "--no-open", "--url", &gw.url()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let want = format!("http://127.0.0.1:{}/#token={TOKEN}", gw.port);
    assert!(out.stdout.contains(&want), "{}", out.stdout);
    let out = gw.cli(&["dashboard", "--json", "--url", &gw.url()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["url"], want.as_str());
    assert_eq!(v["tokenIncluded"], true);
    assert_eq!(v["wsUrl"], format!("ws://127.0.0.1:{}/", gw.port));
    // Without a browser to open, it says so and still succeeds.
    let out = gw.cli(&["dashboard", "--url", &gw.url()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("No browser was opened"),
        "{}",
        out.stdout
    );
    drop(gw);
    // Nothing listening: an error that says how to start it.
    let dir = TempDir::new("dash");
    let out = cli_in(
        dir.path(),
        &[
            "dashboard",
            "--no-open",
            "--url",
            &format!("ws://127.0.0.1:{}", free_port()),
        ],
        &[],
    );
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("openclaw gateway"), "{}", out.stderr);
}
