//! Safe by default, against the real binary: a gateway with no configured secret is never
//! open (it generates and stores a token the local CLI picks up), `auth.mode: "none"` is an
//! explicit, loopback-only, warned-about choice, and browsers are held to their origin.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn stored_token(state: &std::path::Path) -> String {
    let path = state.join("gateway.token");
    let mode = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{} missing: {e}", path.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the token file is owner-only");
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

async fn connect_code(url: &str, auth: serde_json::Value) -> serde_json::Value {
    let (mut ws, _) = open(url).await;
    send(&mut ws, &connect_frame(auth, None, "test")).await;
    next_res(&mut ws, "c1").await
}

#[tokio::test]
async fn no_secret_anywhere_generates_a_stored_token_the_cli_uses() {
    for args in [vec!["--allow-unconfigured"], vec![]] {
        // `--allow-unconfigured` with no token, and a config with mode local and no auth.
        let spec = if args.is_empty() {
            Spec::default().config(r#"{ gateway: { mode: "local" } }"#)
        } else {
            Spec::default().arg(args[0])
        };
        let gw = start(spec);
        let token = stored_token(&gw.state);
        assert_eq!(token.len(), 64);

        // Anonymous clients are refused; the stored token is accepted.
        let r = connect_code(&gw.url(), json!({})).await;
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["error"]["details"]["code"], "AUTH_TOKEN_MISSING");
        let r = connect_code(&gw.url(), json!({"token": token})).await;
        assert_eq!(r["ok"], true, "{r}");

        // The local CLI finds it with no flags; the value is never printed or logged.
        let port = gw.port.to_string();
        let out = cli_in(&gw.state, &["health"], &[("OPENCLAW_GATEWAY_PORT", &port)]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let log = std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap();
        assert!(
            log.contains("gateway.token"),
            "where the token is, is logged"
        );
        assert!(!log.contains(&token) && !gw.output().contains(&token));
        assert!(!out.stdout.contains(&token));
    }
}

#[tokio::test]
async fn dev_mode_gets_a_token_too_and_keeps_it_across_restarts() {
    let dir = TempDir::new("dev-token");
    let first = start(Spec::default().arg("--dev").state(dir.path()));
    let token = stored_token(dir.path());
    let r = connect_code(&first.url(), json!({})).await;
    assert_eq!(r["error"]["details"]["code"], "AUTH_TOKEN_MISSING", "{r}");
    drop(first);
    let second = start(Spec::default().arg("--dev").state(dir.path()));
    assert_eq!(
        stored_token(dir.path()),
        token,
        "the stored token is reused"
    );
    let r = connect_code(&second.url(), json!({"token": token})).await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test]
async fn auth_mode_none_is_explicit_loopback_only_and_warned() {
    let cfg = r#"{ gateway: { mode: "local", auth: { mode: "none" } } }"#;
    let gw = start(Spec::default().config(cfg));
    assert!(!gw.state.join("gateway.token").exists());
    // `start` may have seen the listening line in the log file before the console reader
    // caught up with the warning printed before it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !gw.output().contains("gateway.auth.mode is \"none\"")
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        gw.output().contains("gateway.auth.mode is \"none\""),
        "{}",
        gw.output()
    );
    let r = connect_code(&gw.url(), json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    let audit = gw.cli(&["security", "audit", "--json"]);
    assert!(
        audit.stdout.contains("gateway.loopback_no_auth"),
        "{}",
        audit.stdout
    );
    drop(gw);

    let (status, out) = run_to_exit(
        Spec::default().config(cfg).arg("--bind").arg("lan"),
        &["--port", "0"],
    );
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(
        out.contains("Refusing to bind gateway to lan without auth"),
        "{out}"
    );
}

#[tokio::test]
async fn explicit_password_mode_without_a_password_refuses_to_start() {
    let cfg = r#"{ gateway: { mode: "local", auth: { mode: "password" } } }"#;
    let (status, out) = run_to_exit(Spec::default().config(cfg), &["--port", "0"]);
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(out.contains("no password is set"), "{out}");
}

const TOKEN: &str = "origin-test-token-0123456789";

async fn ws_with_origin(port: u16, origin: &str) -> Result<Ws, u16> {
    let mut req = format!("ws://127.0.0.1:{port}")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test]
async fn browser_origins_are_checked_before_auth() {
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                         controlUi: {{ allowedOrigins: ["https://control.example.com"] }} }} }}"#
    );
    let gw = start(Spec::default().config(&cfg));
    let port = gw.port;

    // A page elsewhere cannot even upgrade, let alone try the token.
    assert_eq!(
        ws_with_origin(port, "https://evil.example").await.err(),
        Some(403)
    );
    // The gateway's own origin, in every loopback spelling, and a listed origin.
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        "https://control.example.com".to_owned(),
    ] {
        let mut ws = ws_with_origin(port, &origin)
            .await
            .unwrap_or_else(|s| panic!("{origin}: {s}"));
        next_json(&mut ws).await.expect("challenge");
    }
    // Same host, other port: another origin.
    assert_eq!(
        ws_with_origin(port, &format!("http://127.0.0.1:{}", port.wrapping_add(1)))
            .await
            .err(),
        Some(403)
    );

    let http = reqwest::Client::new();
    let invoke = |origin: Option<&str>, ct: &str| {
        let mut b = http
            .post(gw.http("/tools/invoke"))
            .bearer_auth(TOKEN)
            .header("content-type", ct)
            .body(r#"{"tool":"agents_list"}"#);
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        b.send()
    };
    let r = invoke(Some("https://evil.example"), "text/plain")
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["type"], "forbidden");
    // No text/plain CSRF even without an Origin (and even with the right token).
    let r = invoke(None, "text/plain").await.unwrap();
    assert_eq!(r.status(), 415);
    let r = invoke(None, "application/json").await.unwrap();
    assert_eq!(r.status(), 200);

    let log = std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap();
    assert!(log.contains("https://evil.example"), "refusals are logged");
}

#[tokio::test]
async fn a_hook_success_does_not_reset_gateway_token_guesses() {
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}", rateLimit: {{ maxAttempts: 5, exemptLoopback: false }} }} }},
             hooks: {{ enabled: true, token: "hook-token-abcdefghijklmnop" }} }}"#
    );
    let gw = start(Spec::default().config(&cfg));
    let http = reqwest::Client::new();
    let guess = || {
        http.post(gw.http("/tools/invoke"))
            .bearer_auth("wrong-guess")
            .header("content-type", "application/json")
            .body(r#"{"tool":"agents_list"}"#)
            .send()
    };
    let mut statuses = vec![];
    for _ in 0..2 {
        for _ in 0..4 {
            statuses.push(guess().await.unwrap().status().as_u16());
        }
        let hook = http
            .post(gw.http("/hooks/wake"))
            .bearer_auth("hook-token-abcdefghijklmnop")
            .json(&json!({"text": "ping"}))
            .send()
            .await
            .unwrap();
        assert_ne!(hook.status(), 401, "the hook token is valid");
    }
    // Five gateway failures lock the gateway credential out; the hook successes in between
    // did not reset the count.
    // (the fifth is answered 401 and starts the lockout).
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
}

#[tokio::test]
async fn a_browser_on_loopback_is_rate_limited_despite_the_exemption() {
    let gw = start(Spec::token(TOKEN));
    let own = format!("http://127.0.0.1:{}", gw.port);
    let mut last = json!(null);
    for _ in 0..11 {
        let (mut ws, _) = tokio_tungstenite::connect_async({
            let mut req = gw.url().into_client_request().unwrap();
            req.headers_mut().insert("origin", own.parse().unwrap());
            req
        })
        .await
        .unwrap();
        next_json(&mut ws).await.expect("challenge");
        send(
            &mut ws,
            &connect_frame(json!({"token": "bad"}), None, "test"),
        )
        .await;
        last = next_res(&mut ws, "c1").await;
    }
    assert_eq!(
        last["error"]["details"]["code"], "AUTH_RATE_LIMITED",
        "{last}"
    );
    // The local CLI (no Origin) is still exempt and gets in.
    let (_ws, hello) = connect(&gw.url(), TOKEN, None, "test").await;
    assert_eq!(hello["type"], "hello-ok");
}

#[tokio::test]
async fn trusted_proxies_name_the_client_for_the_limiter() {
    let cfg = |proxies: &str| {
        format!(
            r#"{{ gateway: {{ mode: "local", trustedProxies: [{proxies}],
                             auth: {{ token: "{TOKEN}", rateLimit: {{ maxAttempts: 2, exemptLoopback: false }} }} }} }}"#
        )
    };
    let http = reqwest::Client::new();
    let invoke = |gw: &Gateway, token: &str, client: &str| {
        http.post(gw.http("/tools/invoke"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("x-forwarded-for", client)
            .body(r#"{"tool":"agents_list"}"#)
            .send()
    };
    // Behind a trusted proxy (here: loopback), each forwarded client has its own count.
    let gw = start(Spec::default().config(&cfg(r#""127.0.0.1""#)));
    for _ in 0..3 {
        invoke(&gw, "wrong", "198.51.100.7").await.unwrap();
    }
    assert_eq!(
        invoke(&gw, TOKEN, "198.51.100.7").await.unwrap().status(),
        429
    );
    assert_eq!(
        invoke(&gw, TOKEN, "198.51.100.8").await.unwrap().status(),
        200
    );
    drop(gw);
    // Without it, the header is ignored: everyone is the peer, and shares its lockout.
    let gw = start(Spec::default().config(&cfg("")));
    for _ in 0..3 {
        invoke(&gw, "wrong", "198.51.100.7").await.unwrap();
    }
    assert_eq!(
        invoke(&gw, TOKEN, "198.51.100.8").await.unwrap().status(),
        429
    );
}

#[tokio::test]
async fn unsupported_auth_keys_are_refused_not_ignored() {
    let cfg = r#"{ gateway: { mode: "local", auth: { token: "x-token-0123456789abcdef", allowTailscale: true } } }"#;
    let (status, out) = run_to_exit(Spec::default().config(cfg), &["--port", "0"]);
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(out.contains("gateway.auth.allowTailscale"), "{out}");
    let cfg = r#"{ gateway: { mode: "local", trustedProxies: ["proxy.local"] } }"#;
    let (status, out) = run_to_exit(Spec::default().config(cfg), &["--port", "0"]);
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(out.contains("gateway.trustedProxies[0]"), "{out}");
}
