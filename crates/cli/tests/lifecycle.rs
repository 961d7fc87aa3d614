//! Process lifecycle: probes, shutdown, exit codes, lock, port handling.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const TOKEN: &str = "lifecycle-token-abcdef";

#[tokio::test]
async fn probes_answer_with_security_headers() {
    let gw = start(Spec::token(TOKEN));
    for path in ["/health", "/healthz"] {
        let (status, head, body) = http_get(gw.port, path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"ok": true, "status": "live"})
        );
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    }
    for path in ["/ready", "/readyz"] {
        let (status, _, body) = http_get(gw.port, path).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["ready"], true);
        assert_eq!(v["failing"], json!([]));
        assert!(v["uptimeMs"].is_u64());
    }
    let (status, _, body) = http_get(gw.port, "/startupz").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "started"
    );
    let (status, head, _) = http_get(gw.port, "/no/such/route").await;
    assert_eq!(status, 404);
    assert!(head.contains("x-content-type-options: nosniff"));
}

#[tokio::test]
async fn sigterm_sends_shutdown_closes_1012_and_exits_0() {
    let mut gw = start(Spec::token(TOKEN));
    let lock = gw.state.join("gateway.lock");
    assert!(lock.exists());
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    let (mut ws2, _) = connect(&gw.url(), TOKEN, None, "cli").await;
    gw.signal(libc::SIGTERM);
    let ev = next_event(&mut ws, "shutdown").await;
    assert_eq!(ev["payload"]["reason"], "gateway stopping");
    assert_eq!(
        close_code(&mut ws).await.unwrap(),
        (1012, "service restart".into())
    );
    assert_eq!(close_code(&mut ws2).await.unwrap().0, 1012);
    let status = gw.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", gw.output());
    assert!(!lock.exists(), "lock file must be removed");
}

#[tokio::test]
async fn sigint_also_stops_cleanly() {
    let mut gw = start(Spec::token(TOKEN));
    gw.signal(libc::SIGINT);
    assert_eq!(gw.wait_exit(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn invalid_config_names_the_key_and_exits_78() {
    let cfg = r#"{ gateway: { mode: "local", bind: "wide" } }"#;
    let (status, out) = run_to_exit(Spec::default().config(cfg), &[]);
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(out.contains("gateway.bind"), "{out}");
    assert!(out.contains("wide"), "{out}");
    assert!(out.contains("loopback"), "{out}");

    let cfg = r#"{ gateway: { mode: "local", prot: 1 } }"#;
    let (status, out) = run_to_exit(Spec::default().config(cfg), &[]);
    assert_eq!(status.code(), Some(78));
    assert!(out.contains("gateway.prot"), "{out}");
}

#[test]
fn unparseable_json5_exits_78_with_position() {
    let cfg = "{ gateway: { mode: 'local', } ,,, }";
    let (status, out) = run_to_exit(Spec::default().config(cfg), &[]);
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(out.contains("openclaw.json"), "{out}");
    assert!(out.to_lowercase().contains("parse"), "{out}");
}

#[test]
fn missing_env_var_names_the_path() {
    let cfg = r#"{ gateway: { mode: "local", auth: { token: "${OC_SURELY_UNSET_VAR}" } } }"#;
    let (status, out) = run_to_exit(Spec::default().config(cfg), &[]);
    assert_eq!(status.code(), Some(78));
    assert!(out.contains("OC_SURELY_UNSET_VAR"), "{out}");
    assert!(out.contains("gateway.auth.token"), "{out}");
}

#[test]
fn non_loopback_without_auth_is_refused_78() {
    let (status, out) = run_to_exit(
        Spec::default()
            .arg("--allow-unconfigured")
            .arg("--bind")
            .arg("lan"),
        &["--port", "0"],
    );
    assert_eq!(status.code(), Some(78));
    assert!(
        out.contains("Refusing to bind gateway to lan without auth."),
        "{out}"
    );
    assert!(out.contains("gateway.auth.token"), "{out}");
}

#[test]
fn unset_mode_is_blocked_without_flag() {
    let (status, out) = run_to_exit(Spec::default(), &["--port", "0"]);
    assert_eq!(status.code(), Some(78));
    assert!(
        out.contains("Gateway start blocked: set gateway.mode=local"),
        "{out}"
    );
    let (status, out) = run_to_exit(
        Spec::default().config(r#"{gateway:{mode:"remote"}}"#),
        &["--port", "0"],
    );
    assert_eq!(status.code(), Some(78));
    assert!(out.contains("currently remote"), "{out}");
}

#[test]
fn second_gateway_on_same_state_dir_exits_78() {
    let gw = start(Spec::token(TOKEN));
    let (status, out) = run_to_exit(Spec::token(TOKEN).state(&gw.state), &["--port", "0"]);
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(
        out.contains(&format!("gateway already running (pid {})", gw.child.id())),
        "{out}"
    );
    // With the lock disabled a second instance starts.
    let second = start(
        Spec::token(TOKEN)
            .state(&gw.state)
            .env("OPENCLAW_ALLOW_MULTI_GATEWAY", "1"),
    );
    assert_ne!(second.port, gw.port);
}

#[test]
fn stale_lock_from_a_killed_gateway_is_taken_over() {
    let dir = TempDir::new("stale");
    let mut gw = start(Spec::token(TOKEN).state(dir.path()));
    gw.signal(libc::SIGKILL);
    let status = gw.wait_exit(Duration::from_secs(5));
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(dir.path().join("gateway.lock").exists());
    let again = start(Spec::token(TOKEN).state(dir.path()));
    assert!(again.port > 0);
}

#[test]
fn port_in_use_reports_and_exits_nonzero() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let (status, out) = run_to_exit(Spec::token(TOKEN), &["--port", &port]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "another gateway instance is already listening on ws://127.0.0.1:{port}"
        )),
        "{out}"
    );
}

#[test]
fn force_stops_the_process_holding_the_port() {
    let mut first = start(Spec::token(TOKEN));
    let port = first.port.to_string();
    let dir = TempDir::new("force");
    let mut child = {
        let mut cmd = std::process::Command::new(bin());
        cmd.args([
            "gateway",
            "--token",
            TOKEN,
            "--allow-unconfigured",
            "--force",
            "--port",
            &port,
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("OPENCLAW_STATE_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        cmd.spawn().unwrap()
    };
    let status = first.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "first gateway should stop cleanly on SIGTERM"
    );
    // The forcing gateway now answers on the port.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", first.port)).is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "forcing gateway never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn json5_config_with_env_substitution_is_used() {
    let cfg = r#"
    // comments, unquoted keys, trailing commas
    {
      gateway: {
        mode: 'local',
        auth: { mode: "token", token: "${OC_T}", },
      },
      logging: { level: "debug", },
    }"#;
    let gw = start(
        Spec::default()
            .config(cfg)
            .env("OC_T", "env-provided-token-42"),
    );
    let (mut ws, _) = connect(&gw.url(), "env-provided-token-42", None, "test").await;
    assert_eq!(call(&mut ws, "s", "status", json!({})).await["ok"], true);
    // debug level reaches the file.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap();
    assert!(log.contains("\"level\":\"debug\""), "{log}");
}

#[test]
fn dev_mode_runs_without_config_on_dev_profile() {
    let dir = TempDir::new("dev");
    // --dev with an explicit --port 0: state goes to $HOME/.openclaw-dev.
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["--dev", "gateway", "--port", "0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lock = dir.path().join(".openclaw-dev/gateway.lock");
    while !lock.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "dev gateway did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(dir.path().join(".openclaw-dev/logs/gateway.log").exists());
}

#[tokio::test]
async fn verbose_mirrors_debug_to_stderr() {
    let quiet = start(Spec::token(TOKEN));
    let loud = start(Spec::token(TOKEN).arg("--verbose"));
    for gw in [&quiet, &loud] {
        let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
        assert_eq!(call(&mut ws, "h", "health", json!({})).await["ok"], true);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        loud.output()
            .contains("debug [gateway/ws] client connected"),
        "{}",
        loud.output()
    );
    assert!(
        !quiet.output().contains("client connected"),
        "{}",
        quiet.output()
    );
}
