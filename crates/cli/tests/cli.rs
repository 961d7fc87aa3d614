//! The `openclaw` client commands against a running gateway and against nothing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const TOKEN: &str = "cli-token-0123456789abcdef";

/// A gateway whose config file holds the port and token, as an operator's would, so the
/// CLI finds it without flags.
fn configured_gateway() -> Gateway {
    let dir = TempDir::new("cli");
    let port = free_port();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", port: {port}, auth: {{ token: "{TOKEN}" }} }} }}"#
    );
    std::fs::write(dir.path().join("openclaw.json"), cfg).unwrap();
    start(Spec {
        port_zero: false,
        own_dir: Some(dir),
        ..Spec::default()
    })
}

#[test]
fn health_and_status_against_running_gateway() {
    let gw = configured_gateway();
    let out = gw.cli(&["health"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("Gateway: ok (ws://127.0.0.1:"),
        "{}",
        out.stdout
    );

    let out = gw.cli(&["health", "--json"]);
    assert_eq!(out.code, 0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);

    let out = gw.cli(&["status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["gateway"]["port"], gw.port);
    assert_eq!(v["gateway"]["authMode"], "token");
    assert_eq!(v["pid"], gw.child.id());
    assert!(!out.stdout.contains(TOKEN));

    let out = gw.cli(&["status"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Auth:        token"), "{}", out.stdout);
}

#[test]
fn gateway_status_shows_runtime_and_probe() {
    let gw = configured_gateway();
    let out = gw.cli(&["gateway", "status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("port={}", gw.port)),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("Probe target: ws://127.0.0.1:{}", gw.port))
    );
    assert!(
        out.stdout
            .contains(&format!("Runtime: running (pid {})", gw.child.id()))
    );
    assert!(out.stdout.contains("Connectivity probe: ok"));

    let out = gw.cli(&["gateway", "status", "--json", "--require-rpc"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["runtime"]["status"], "running");
    assert_eq!(v["probe"]["ok"], true);
    assert_eq!(v["probe"]["rpc"], true);
    assert_eq!(v["gateway"]["bind"], "loopback");

    // A wrong token: the probe fails and --require-rpc turns that into an exit code.
    let out = gw.cli(&["gateway", "status", "--require-rpc", "--token", "wrong"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("Connectivity probe: failed (INVALID_REQUEST: unauthorized"),
        "{}",
        out.stdout
    );
}

#[test]
fn gateway_call_prints_payload_and_errors() {
    let gw = configured_gateway();
    let out = gw.cli(&["gateway", "call", "health", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);

    let out = gw.cli(&["gateway", "call", "logs.tail", "--params", r#"{"limit":2}"#]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v["lines"].as_array().unwrap().len() <= 2);

    let out = gw.cli(&["gateway", "call", "nope.method"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("unknown method: nope.method"),
        "{}",
        out.stderr
    );

    let out = gw.cli(&["gateway", "call", "health", "--params", "{bad"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("--params is not valid JSON"),
        "{}",
        out.stderr
    );

    let url = gw.url();
    let out = gw.cli(&[
        "gateway", "call", "status", "--url", &url, "--token", "wrong",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("AUTH_TOKEN_MISMATCH") || out.stderr.contains("unauthorized"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(TOKEN));
}

#[test]
fn logs_shows_recent_lines_and_follows() {
    let gw = configured_gateway();
    let out = gw.cli(&["logs", "--limit", "50"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("listening on ws://127.0.0.1:"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("[gateway]"),
        "pretty format expected: {}",
        out.stdout
    );

    let out = gw.cli(&["logs", "--json", "--limit", "50"]);
    assert_eq!(out.code, 0);
    for line in out.stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v["time"].is_string() && v["level"].is_string(), "{line}");
    }

    // --follow prints lines written after it started.
    let mut follow = Command::new(bin())
        .args(["logs", "--follow", "--interval", "100", "--limit", "1"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &gw.state)
        .env("OPENCLAW_STATE_DIR", &gw.state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    // A failed auth writes a warning line to the log.
    let _ = gw.cli(&["health", "--token", "wrong-token"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && line.contains("authentication failed")
        {
            seen = true;
            break;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen, "follow did not show the new line");
}

#[test]
fn commands_against_no_gateway_fail_with_one_clear_line() {
    let dir = TempDir::new("none");
    let port = free_port().to_string();
    let env = [("OPENCLAW_GATEWAY_PORT", port.as_str())];
    for args in [
        vec!["health"],
        vec!["health", "--json"],
        vec!["status"],
        vec!["gateway", "call", "health"],
    ] {
        let out = cli_in(dir.path(), &args, &env);
        assert_eq!(out.code, 1, "{args:?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", out.stderr);
        assert!(
            lines[0].contains(&format!("gateway not reachable at ws://127.0.0.1:{port}")),
            "{}",
            lines[0]
        );
    }
    let out = cli_in(dir.path(), &["gateway", "status"], &env);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Runtime: stopped"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Connectivity probe: failed"),
        "{}",
        out.stdout
    );
    let out = cli_in(dir.path(), &["gateway", "status", "--require-rpc"], &env);
    assert_eq!(out.code, 1);
    let out = cli_in(
        dir.path(),
        &["gateway", "status", "--json", "--no-probe"],
        &env,
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["gateway"]["port"], port.parse::<u64>().unwrap());
    assert!(v["probe"].is_null());

    // Logs fall back to the file when the gateway is down.
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(
        dir.path().join("logs/gateway.log"),
        "{\"time\":\"2026-01-01T00:00:00.000Z\",\"level\":\"info\",\"subsystem\":\"gateway\",\"message\":\"from the file\"}\n",
    )
    .unwrap();
    let out = cli_in(dir.path(), &["logs"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("from the file"), "{}", out.stdout);
    assert!(out.stderr.contains("reading"), "{}", out.stderr);
}

/// A token kept in a file SecretRef is found by the CLI the way the gateway finds it.
#[test]
fn cli_resolves_a_secret_ref_token_from_the_config() {
    let dir = TempDir::new("cliref");
    let port = free_port();
    let secret = dir.path().join("gateway.token");
    std::fs::write(&secret, "file-held-token-0123456789\n").unwrap();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", port: {port}, auth: {{ token: {{ source: "file", id: "{}" }} }} }} }}"#,
        secret.display()
    );
    std::fs::write(dir.path().join("openclaw.json"), cfg).unwrap();
    let gw = start(Spec {
        port_zero: false,
        own_dir: Some(dir),
        ..Spec::default()
    });
    let out = gw.cli(&["health", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("file-held-token"));
}

/// `logs --level error` against a running gateway (over RPC: the CLI runs with an empty
/// state dir of its own, so it cannot read the gateway's log file) prints the error lines
/// and nothing less severe.
#[test]
fn logs_level_error_over_rpc_prints_only_error_lines() {
    let gw = configured_gateway();
    // Make the gateway log an error: move it to a port that is taken, so its in-process
    // restart fails and it falls back to the old listener.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p2 = taken.local_addr().unwrap().port();
    let cfg =
        format!(r#"{{ gateway: {{ mode: "local", port: {p2}, auth: {{ token: "{TOKEN}" }} }} }}"#);
    let tmp = gw.state.join(".openclaw.json.swp");
    std::fs::write(&tmp, cfg).unwrap();
    std::fs::rename(&tmp, gw.state.join("openclaw.json")).unwrap();
    let log = gw.state.join("logs/gateway.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let back = text.split("restart failed").nth(1).is_some_and(|after| {
            after.contains(&format!("listening on ws://127.0.0.1:{} (PID", gw.port))
        });
        if back {
            break;
        }
        assert!(Instant::now() < deadline, "no failed restart:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let elsewhere = TempDir::new("cli-logs-rpc");
    let url = gw.url();
    let args = ["--url", url.as_str(), "--token", TOKEN, "--level", "error"];
    let run = |extra: &[&str]| {
        let mut a = vec!["logs"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&args);
        let out = cli_in(elsewhere.path(), &a, &[]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        out.stdout
    };
    let json = run(&["--json"]);
    let lines: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|v| v["message"]
            .as_str()
            .unwrap()
            .contains("restart failed; restoring the previous listener")),
        "the error line is missing: {json}"
    );
    for v in &lines {
        assert!(
            ["error", "fatal"].contains(&v["level"].as_str().unwrap()),
            "{v}"
        );
    }
    let pretty = run(&[]);
    assert!(pretty.contains("restart failed"), "{pretty}");
    for line in pretty.lines() {
        assert!(
            line.contains(" error ["),
            "a line below error printed: {pretty}"
        );
    }
    assert!(!pretty.contains("(PID "), "the info line printed: {pretty}");
    // The same log at the default level has the info lines, so the filter did the work.
    let out = cli_in(
        elsewhere.path(),
        &[
            "logs",
            "--url",
            url.as_str(),
            "--token",
            TOKEN,
            "--limit",
            "500",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(" info ["), "{}", out.stdout);
    assert!(out.stdout.contains("(PID "), "{}", out.stdout);
    drop(taken);
}
