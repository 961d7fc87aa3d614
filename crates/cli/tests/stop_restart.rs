//! `gateway stop|restart` (and the runbooks' `openclaw stop|restart|start`) for a gateway
//! that runs in the foreground, without a service manager: found through the state-dir
//! lock, stopped with SIGTERM, restarted in-process with SIGUSR1.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const TOKEN: &str = "stop-restart-token-0123456789";

fn config(extra: &str) -> String {
    format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }}, reload: {{ mode: "off" }} }}, {extra} }}"#
    )
}

/// A CLI run with no service manager to find: an empty PATH (no systemctl) and no override.
fn cli_unmanaged(gw: &Gateway, args: &[&str]) -> CliOut {
    let empty = gw.state.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let path = empty.display().to_string();
    cli_in(&gw.state, args, &[("PATH", &path)])
}

fn json_of(out: &CliOut) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr))
}

fn port_refuses(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[test]
fn gateway_stop_ends_a_foreground_gateway_cleanly() {
    let mut gw = start(Spec::default().config(&config("")));
    let lock = gw.state.join("gateway.lock");
    // The lock records the pid, then where the gateway listens.
    let text = std::fs::read_to_string(&lock).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], gw.pid().to_string(), "{text}");
    assert_eq!(lines[1], gw.port.to_string(), "{text}");
    assert_eq!(lines[2], "127.0.0.1", "{text}");

    let out = cli_unmanaged(&gw, &["gateway", "stop"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout.trim(),
        format!(
            "Stopped the gateway (PID {}, port {}); it ran without a service manager.",
            gw.pid(),
            gw.port
        )
    );
    // It drained and exited 0 (SIGTERM's clean shutdown), released the lock and the port.
    let status = gw.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", gw.output());
    assert!(gw.output().contains("gateway stopped"), "{}", gw.output());
    assert!(!lock.exists());
    assert!(port_refuses(gw.port));

    // Nothing runs any more: stop says so and fails, naming the lock it looked at.
    let out = cli_unmanaged(&gw, &["gateway", "stop"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no service manager found"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("no gateway is running for this instance")
            && out.stderr.contains("gateway.lock"),
        "{}",
        out.stderr
    );
}

#[test]
fn top_level_stop_is_gateway_stop_and_reports_json() {
    let mut gw = start(Spec::default().config(&config("")));
    let out = cli_unmanaged(&gw, &["stop", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v = json_of(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["mode"], "foreground");
    assert_eq!(v["action"], "stop");
    assert_eq!(v["pid"], gw.pid());
    assert_eq!(v["port"], gw.port);
    assert_eq!(v["manager"], Value::Null);
    assert_eq!(gw.wait_exit(Duration::from_secs(10)).code(), Some(0));
}

#[tokio::test]
async fn gateway_restart_keeps_the_pid_rereads_config_and_answers_again() {
    let mut gw = start(Spec::default().config(&config("")));
    let port = gw.port.to_string();
    let (mut ws, _) = connect(&gw.url(), TOKEN, None, "test").await;
    // Old enough that a fresh uptime is unmistakable.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = json_of(&gw.cli(&["call", "health", "--port", &port]))["uptimeMs"]
        .as_u64()
        .unwrap();
    assert!(before >= 1500, "{before}");

    // A config edit the watcher does not apply (reload mode off): the restart reads it.
    std::fs::write(
        gw.state.join("openclaw.json"),
        config(r#"agents: { list: [{ id: "after-restart" }] }"#),
    )
    .unwrap();
    let asked = Instant::now();
    let out = tokio::task::spawn_blocking({
        let state = gw.state.clone();
        move || {
            let empty = state.join("empty-path");
            std::fs::create_dir_all(&empty).unwrap();
            let path = empty.display().to_string();
            cli_in(&state, &["gateway", "restart"], &[("PATH", &path)])
        }
    })
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}{}\n{}", out.stdout, out.stderr, gw.output());
    assert_eq!(
        out.stdout.trim(),
        format!(
            "Restarted the gateway in-process (PID {}, port {} answers again); it runs without a service manager.",
            gw.pid(),
            gw.port
        )
    );
    // Clients were told and closed with 1012, as for any in-process restart.
    let ev = next_event(&mut ws, "shutdown").await;
    assert_eq!(ev["payload"]["reason"], "gateway restarting", "{ev}");
    assert_eq!(close_code(&mut ws).await.unwrap().0, 1012);

    // Same process, still running, on the same port; a new start (uptime reset).
    assert!(gw.child.try_wait().unwrap().is_none(), "{}", gw.output());
    let status = json_of(&gw.cli(&["call", "status", "--port", &port]));
    assert_eq!(status["pid"], gw.pid());
    let uptime = status["uptimeMs"].as_u64().unwrap();
    assert!(
        u128::from(uptime) <= asked.elapsed().as_millis(),
        "uptime {uptime} ms not reset (asked {} ms ago)",
        asked.elapsed().as_millis()
    );
    assert!(uptime < before, "{uptime} >= {before}");
    // The file was re-read: the new agent is there.
    let agents = json_of(&gw.cli(&["call", "agents.list", "--port", &port]));
    assert_eq!(agents["agents"][0]["id"], "after-restart", "{agents}");
    assert!(
        gw.output()
            .contains("SIGUSR1 received: restarting in-process"),
        "{}",
        gw.output()
    );

    // The top-level alias does the same, with JSON.
    let out = cli_unmanaged(&gw, &["restart", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v = json_of(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["action"], "restart");
    assert_eq!(v["pid"], gw.pid());
    assert_eq!(v["port"], gw.port);
    assert!(v["uptimeMs"].is_u64(), "{v}");

    // `start` finds it running and leaves it alone.
    let out = cli_unmanaged(&gw, &["start"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("already running (PID {}", gw.pid())),
        "{}",
        out.stdout
    );
    assert!(gw.child.try_wait().unwrap().is_none());
}

#[test]
fn restart_with_a_config_the_gateway_would_refuse_sends_nothing() {
    let gw = start(Spec::default().config(&config("")));
    let port = gw.port.to_string();
    std::fs::write(
        gw.state.join("openclaw.json"),
        r#"{ gateway: { mode: "local", bind: "wide" } }"#,
    )
    .unwrap();
    let out = cli_unmanaged(&gw, &["gateway", "restart"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("not restarting"), "{}", out.stderr);
    assert!(out.stderr.contains("gateway.bind"), "{}", out.stderr);
    assert!(out.stderr.contains("left as it is"), "{}", out.stderr);
    // A `${VAR}` this shell lacks does not hide the rest of the file from the check.
    std::fs::write(
        gw.state.join("openclaw.json"),
        r#"{ gateway: { mode: "local", auth: { token: "${OC_RESTART_TEST_NEVER_SET}" }, bind: "wide" } }"#,
    )
    .unwrap();
    let out = cli_unmanaged(&gw, &["gateway", "restart"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("gateway.bind"), "{}", out.stderr);
    // No signal was sent: the gateway never logs one, and still serves as it was.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let log = std::fs::read_to_string(gw.state.join("logs/gateway.log")).unwrap_or_default();
    assert!(
        !log.contains("SIGUSR1") && !gw.output().contains("SIGUSR1"),
        "{log}"
    );
    let status = json_of(&gw.cli(&["call", "status", "--port", &port, "--token", TOKEN]));
    assert_eq!(status["pid"], gw.pid());
}

/// The gateway itself also refuses a bad config on SIGUSR1 and keeps running as it was
/// (e.g. when signalled by hand), saying why in the log and in `health`.
#[test]
fn sigusr1_with_a_broken_config_keeps_the_gateway_running() {
    let mut gw = start(Spec::default().config(&config("")));
    let port = gw.port.to_string();
    std::fs::write(
        gw.state.join("openclaw.json"),
        r#"{ gateway: { mode: "local", bind: "wide" } }"#,
    )
    .unwrap();
    gw.signal(libc::SIGUSR1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gw.output().contains("restart skipped") {
        assert!(Instant::now() < deadline, "{}", gw.output());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gw.child.try_wait().unwrap().is_none());
    let health = json_of(&gw.cli(&["call", "health", "--port", &port, "--token", TOKEN]));
    let err = health["reload"]["lastError"].as_str().unwrap();
    assert!(
        err.contains("restart skipped") && err.contains("gateway.bind"),
        "{err}"
    );
}
