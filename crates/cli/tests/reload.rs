//! Config lifecycle against the real binary: hot reload without dropping anyone, in-process
//! restart for port changes, bad edits kept out, config RPC writes, secret rotation.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const TOKEN: &str = "reload-token-0123456789";

/// Replaces the config the way editors do: write a temp file, rename it over.
fn edit(state: &Path, text: &str) {
    let tmp = state.join(".openclaw.json.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, state.join("openclaw.json")).unwrap();
}

fn base_config(extra_gateway: &str) -> String {
    format!(r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} {extra_gateway} }} }}"#)
}

async fn models_status(port: u16) -> u16 {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test]
async fn hot_edit_applies_quickly_and_keeps_every_socket() {
    let gw = start(Spec::default().config(&base_config("")));
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(
            connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test")
                .await
                .0,
        );
    }
    assert_eq!(models_status(gw.port).await, 404);
    let edited = Instant::now();
    edit(
        &gw.state,
        &base_config(", http: { endpoints: { chatCompletions: { enabled: true } } }"),
    );
    while models_status(gw.port).await != 200 {
        assert!(
            edited.elapsed() < Duration::from_secs(5),
            "edit never applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = edited.elapsed();
    assert!(took < Duration::from_millis(1500), "hot edit took {took:?}");
    // Admin clients were told, and every socket still works.
    let ev = next_event(&mut clients[0], "config.changed").await;
    assert_eq!(ev["payload"]["applied"], "hot");
    assert_eq!(
        ev["payload"]["changed"],
        json!(["gateway.http.endpoints.chatCompletions.enabled"])
    );
    for (i, ws) in clients.iter_mut().enumerate() {
        let r = call(ws, &format!("h{i}"), "health", json!({})).await;
        assert_eq!(r["ok"], true);
    }
}

#[tokio::test]
async fn port_change_moves_the_listener_in_process() {
    let p1 = free_port();
    let p2 = free_port();
    let cfg = |p: u16| base_config(&format!(", port: {p}"));
    let dir = TempDir::new("portmove");
    std::fs::write(dir.path().join("openclaw.json"), cfg(p1)).unwrap();
    let mut gw = start(Spec {
        port_zero: false,
        own_dir: Some(dir),
        ..Spec::default()
    });
    assert_eq!(gw.port, p1);
    let pid = gw.child.id();
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    edit(&gw.state, &cfg(p2));
    let ev = next_event(&mut ws, "shutdown").await;
    assert!(
        ev["payload"]["restartExpectedMs"].as_u64().unwrap() > 0,
        "{ev}"
    );
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1012);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let (200, _, _) = http_get_opt(p2, "/healthz").await {
            break;
        }
        assert!(Instant::now() < deadline, "new port never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", p1)).is_err(),
        "old port still open"
    );
    // Same process, and clients reconnect on the new port.
    assert_eq!(gw.child.id(), pid);
    assert!(gw.child.try_wait().unwrap().is_none());
    let (_ws, hello) = connect(&format!("ws://127.0.0.1:{p2}"), TOKEN, None, "test").await;
    assert_eq!(hello["type"], "hello-ok");
    gw.port = p2;
}

#[tokio::test]
async fn invalid_edit_keeps_serving_and_reports_then_valid_edit_applies() {
    let gw = start(Spec::default().config(&base_config("")));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    edit(
        &gw.state,
        "{ gateway: { mode: 'local', bind: 'sideways' } }",
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        let r = call(&mut ws, "h", "health", json!({})).await;
        if let Some(e) = r["payload"]["reload"]["lastError"].as_str() {
            break e.to_owned();
        }
        assert!(Instant::now() < deadline, "reload error never reported");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        err.contains("gateway.bind") && err.contains("sideways"),
        "{err}"
    );
    let r = call(&mut ws, "s", "status", json!({})).await;
    assert_eq!(r["payload"]["reload"]["lastError"], err.as_str());
    // Still serving on the old config, same socket.
    assert_eq!(call(&mut ws, "h2", "health", json!({})).await["ok"], true);
    let log = std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap();
    assert!(log.contains("config reload skipped"), "{log}");

    edit(
        &gw.state,
        &base_config(", http: { endpoints: { responses: { enabled: true } } }"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while models_status(gw.port).await != 200 {
        assert!(Instant::now() < deadline, "valid edit never applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = call(&mut ws, "h3", "health", json!({})).await;
    assert!(r["payload"]["reload"]["lastError"].is_null(), "{r}");
}

#[tokio::test]
async fn config_set_rejects_a_stale_hash_and_validates() {
    let gw = start(Spec::default().config(&base_config("")));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let got = call(&mut ws, "g", "config.get", json!({})).await;
    let hash = got["payload"]["hash"].as_str().unwrap().to_owned();
    let r = call(
        &mut ws,
        "s1",
        "config.set",
        json!({"raw": base_config(", bind: 'nowhere'"), "baseHash": hash}),
    )
    .await;
    assert_eq!(r["error"]["details"]["code"], "CONFIG_INVALID", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gateway.bind")
    );
    let new = base_config(", http: { endpoints: { chatCompletions: { enabled: true } } }");
    let r = call(
        &mut ws,
        "s2",
        "config.set",
        json!({"raw": new, "baseHash": hash}),
    )
    .await;
    assert_eq!(r["payload"]["applied"], "hot", "{r}");
    assert!(gw.state.join("openclaw.json.bak").exists());
    // The old hash is stale now.
    let r = call(
        &mut ws,
        "s3",
        "config.set",
        json!({"raw": base_config(""), "baseHash": hash}),
    )
    .await;
    assert_eq!(r["error"]["details"]["code"], "CONFIG_STALE", "{r}");
    // Read-only clients cannot write.
    let (mut ro, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    let r = call(
        &mut ro,
        "x",
        "config.set",
        json!({"raw": "{}", "baseHash": hash}),
    )
    .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
    let r = call(&mut ro, "y", "config.schema", json!({})).await;
    assert!(r["payload"]["properties"]["gateway"].is_object(), "{r}");
}

#[tokio::test]
async fn concurrent_patches_lose_no_update() {
    let gw = start(Spec::default().config(&base_config("")));
    let url = gw.url();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = connect(&url, TOKEN, Some(vec!["operator.admin"]), "test").await;
            for attempt in 0..50 {
                let got = call(&mut ws, &format!("g{attempt}"), "config.get", json!({})).await;
                let hash = got["payload"]["hash"].as_str().unwrap().to_owned();
                let patch = json!({"models": {"providers": {format!("p{i}"): {"baseUrl": "http://127.0.0.1:9/v1", "api": "openai-completions"}}}});
                let r = call(&mut ws, &format!("p{attempt}"), "config.patch", json!({"raw": patch, "baseHash": hash})).await;
                if r["ok"] == true {
                    return true;
                }
                assert_eq!(r["error"]["details"]["code"], "CONFIG_STALE", "{r}");
            }
            false
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap(), "a patch never got through");
    }
    let text = std::fs::read_to_string(gw.state.join("openclaw.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    for i in 0..8 {
        assert!(
            doc["models"]["providers"][format!("p{i}")].is_object(),
            "p{i} lost: {text}"
        );
    }
    assert_eq!(doc["gateway"]["auth"]["token"], TOKEN);
}

#[tokio::test]
async fn token_rotation_through_a_file_secret() {
    let dir = TempDir::new("rotate");
    let secret_file = dir.path().join("gateway.token");
    std::fs::write(&secret_file, "first-secret-token-111\n").unwrap();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: {{ source: "file", id: "{}" }} }} }} }}"#,
        secret_file.display()
    );
    std::fs::write(dir.path().join("openclaw.json"), &cfg).unwrap();
    let gw = start(Spec {
        own_dir: Some(dir),
        ..Spec::default()
    });
    let (mut ws, _) = connect(
        &gw.url(),
        "first-secret-token-111",
        Some(vec!["operator.admin"]),
        "test",
    )
    .await;
    // config.get shows the reference, never the value.
    let got = call(&mut ws, "g", "config.get", json!({})).await;
    assert_eq!(
        got["payload"]["config"]["gateway"]["auth"]["token"]["source"],
        "file"
    );
    assert!(!got.to_string().contains("first-secret-token-111"));

    std::fs::write(&secret_file, "second-secret-token-222\n").unwrap();
    send(
        &mut ws,
        &json!({"type":"req","id":"r","method":"secrets.reload","params":{}}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((mut probe, _)) = try_open(&gw.url()).await {
            send(
                &mut probe,
                &connect_frame(json!({"token": "second-secret-token-222"}), None, "test"),
            )
            .await;
            if let Some(v) = next_json(&mut probe).await
                && v["ok"] == true
            {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "new token never accepted: {}",
            gw.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut old, _) = open(&gw.url()).await;
    send(
        &mut old,
        &connect_frame(json!({"token": "first-secret-token-111"}), None, "test"),
    )
    .await;
    let r = next_res(&mut old, "c1").await;
    assert_eq!(r["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");

    // No secret value in the log, in status, or in the CLI's config output.
    let log = std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap();
    for secret in ["first-secret-token-111", "second-secret-token-222"] {
        assert!(!log.contains(secret), "secret in log");
    }
    let (mut ws2, _) = connect(
        &gw.url(),
        "second-secret-token-222",
        Some(vec!["operator.admin"]),
        "test",
    )
    .await;
    let st = call(&mut ws2, "s", "status", json!({})).await;
    assert!(!st.to_string().contains("second-secret-token-222"));
}

#[tokio::test]
async fn unresolvable_secret_keeps_the_old_snapshot() {
    let dir = TempDir::new("unres");
    let secret_file = dir.path().join("tok");
    std::fs::write(&secret_file, "steady-token-333").unwrap();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: {{ source: "file", id: "{}" }} }} }} }}"#,
        secret_file.display()
    );
    std::fs::write(dir.path().join("openclaw.json"), &cfg).unwrap();
    let gw = start(Spec {
        own_dir: Some(dir),
        ..Spec::default()
    });
    let (mut ws, _) = connect(
        &gw.url(),
        "steady-token-333",
        Some(vec!["operator.admin"]),
        "test",
    )
    .await;
    std::fs::remove_file(&secret_file).unwrap();
    let r = call(&mut ws, "r", "secrets.reload", json!({})).await;
    assert_eq!(r["ok"], false);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("previous values stay"),
        "{r}"
    );
    assert!(!r.to_string().contains("steady-token-333"));
    let (_again, hello) = connect(&gw.url(), "steady-token-333", None, "test").await;
    assert_eq!(hello["type"], "hello-ok");
}

async fn http_get_opt(port: u16, path: &str) -> (u16, String, String) {
    match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Ok(_) => http_get(port, path).await,
        Err(_) => (0, String::new(), String::new()),
    }
}

#[tokio::test]
async fn a_restarting_config_set_still_answers_its_caller() {
    let gw = start(Spec::default().config(&base_config("")));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let got = call(&mut ws, "g", "config.get", json!({})).await;
    let hash = got["payload"]["hash"].as_str().unwrap().to_owned();
    let r = call(
        &mut ws,
        "s",
        "config.set",
        json!({"raw": base_config(", controlUi: { enabled: false }"), "baseHash": hash}),
    )
    .await;
    assert_eq!(r["payload"]["applied"], "restart", "{r}");
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1012);
}
