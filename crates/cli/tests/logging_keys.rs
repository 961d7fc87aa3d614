//! The `logging.*` keys against the real binary: `redactPatterns` scrubs the log file, the
//! console and `logs.tail` (also lines written before the pattern was added, after a hot
//! reload), `consoleLevel` filters the console only, `consoleStyle: "json"` prints JSON
//! lines, and bad values stop the gateway with exit 78 naming the key.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const TOKEN: &str = "logkeys-token-0123456789";
/// The example from the OpenClaw docs: the capture group keeps `TOKEN=` readable.
const TOKEN_PATTERN: &str = r#"\bTOKEN\b\s*[=:]\s*(["']?)([^\s"']+)\1"#;
const ZEBRA_PATTERN: &str = "zebra-[0-9]+";

/// A local gateway config with these `logging` keys and extra `gateway` keys.
fn config(logging: &str, extra_gateway: &str) -> String {
    format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} {extra_gateway} }}, logging: {{ {logging} }} }}"#
    )
}

fn patterns(list: &[&str]) -> String {
    format!("redactPatterns: {}", serde_json::to_string(list).unwrap())
}

/// Replaces the config the way editors do: write a temp file, rename it over.
fn edit(state: &Path, text: &str) {
    let tmp = state.join(".openclaw.json.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, state.join("openclaw.json")).unwrap();
}

fn log_file(state: &Path) -> String {
    std::fs::read_to_string(state.join("logs/gateway.log")).unwrap_or_default()
}

/// Polls `health` until the last reload error satisfies `done` (`None` = the last reload
/// succeeded).
async fn wait_reload(ws: &mut Ws, what: &str, done: impl Fn(Option<&str>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = call(ws, "h", "health", json!({})).await;
        if done(r["payload"]["reload"]["lastError"].as_str()) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: never happened ({r})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn tail_lines(ws: &mut Ws) -> Vec<String> {
    let r = call(ws, "t", "logs.tail", json!({"limit": 5000})).await;
    assert_eq!(r["ok"], true, "{r}");
    r["payload"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn redact_patterns_scrub_file_console_and_logs_tail() {
    let gw = start(Spec::default().config(&config(&patterns(&[ZEBRA_PATTERN]), "")));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;

    // A bad edit whose error message (logged at warn) quotes the value: matched by the
    // pattern configured from the start.
    edit(
        &gw.state,
        &config(&patterns(&[ZEBRA_PATTERN]), r#", bind: "zebra-4242""#),
    );
    wait_reload(&mut ws, "first bad edit", |e| {
        e.is_some_and(|e| e.contains("zebra"))
    })
    .await;
    // Another one before the TOKEN pattern exists: written as it is.
    edit(
        &gw.state,
        &config(
            &patterns(&[ZEBRA_PATTERN]),
            r#", bind: "TOKEN=early5ecret""#,
        ),
    );
    wait_reload(&mut ws, "second bad edit", |e| {
        e.is_some_and(|e| e.contains("early5ecret"))
    })
    .await;
    assert!(log_file(&gw.state).contains("early5ecret"));

    // Hot reload adds the TOKEN pattern; later lines are scrubbed when written, earlier
    // ones when read back through logs.tail.
    edit(
        &gw.state,
        &config(&patterns(&[ZEBRA_PATTERN, TOKEN_PATTERN]), ""),
    );
    wait_reload(&mut ws, "valid edit", |e| e.is_none()).await;
    edit(
        &gw.state,
        &config(
            &patterns(&[ZEBRA_PATTERN, TOKEN_PATTERN]),
            r#", bind: "TOKEN='late5ecret'""#,
        ),
    );
    wait_reload(&mut ws, "third bad edit", |e| {
        e.is_some_and(|e| e.contains("late5ecret"))
    })
    .await;

    let file = log_file(&gw.state);
    let console = gw.output();
    assert_eq!(
        file.matches("config reload skipped").count(),
        3,
        "three skipped reloads logged: {file}"
    );
    for secret in ["zebra-4242", "late5ecret"] {
        assert!(!file.contains(secret), "{secret} in the log file: {file}");
        assert!(
            !console.contains(secret),
            "{secret} on the console: {console}"
        );
    }
    assert!(
        file.contains("TOKEN='[redacted]'"),
        "only the secret part is replaced: {file}"
    );
    assert!(console.contains("TOKEN='[redacted]'"), "{console}");

    let lines = tail_lines(&mut ws).await;
    let skipped: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("config reload skipped"))
        .collect();
    assert_eq!(skipped.len(), 3, "{lines:#?}");
    for line in &lines {
        for secret in ["zebra-4242", "early5ecret", "late5ecret"] {
            assert!(!line.contains(secret), "{secret} through logs.tail: {line}");
        }
        let record: Value = serde_json::from_str(line).expect("still JSON after scrubbing");
        assert!(record["message"].is_string(), "{line}");
    }
    assert!(
        skipped[1].contains("TOKEN=[redacted]"),
        "the early line, scrubbed on read: {}",
        skipped[1]
    );
}

#[tokio::test]
async fn console_level_warn_hides_info_but_the_file_keeps_it() {
    let gw = start(Spec::default().config(&config(r#"consoleLevel: "warn""#, "")));
    // A warn line: a failed connect.
    let (mut ws, _) = open(&format!("ws://127.0.0.1:{}", gw.port)).await;
    send(
        &mut ws,
        &connect_frame(json!({"token": "wrong-token"}), None, "test"),
    )
    .await;
    let _ = next_res(&mut ws, "c1").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gw.output().contains("authentication failed") {
        assert!(
            Instant::now() < deadline,
            "the warn line never reached the console: {}",
            gw.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let console = gw.output();
    assert!(
        !console.contains("listening on"),
        "info on console: {console}"
    );
    assert!(!console.contains(" info ["), "info on console: {console}");
    let file = log_file(&gw.state);
    assert!(file.contains("listening on"), "{file}");
    assert!(file.contains("authentication failed"), "{file}");
}

#[tokio::test]
async fn console_style_json_prints_the_file_records() {
    let gw = start(Spec::default().config(&config(r#"consoleStyle: "json""#, "")));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    assert_eq!(call(&mut ws, "h", "health", json!({})).await["ok"], true);
    let console = gw.output();
    let records: Vec<Value> = console
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let listening = records
        .iter()
        .find(|r| {
            r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening on"))
        })
        .expect("the listening record");
    assert_eq!(listening["level"], "info");
    assert_eq!(listening["subsystem"], "gateway");
    // The file has the same record (times are taken per output).
    let file = log_file(&gw.state);
    let in_file: Value = file
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["message"] == listening["message"])
        .expect("in the file too");
    let mut same = in_file.clone();
    same["time"] = listening["time"].clone();
    assert_eq!(&same, listening);
}

#[test]
fn invalid_logging_values_exit_78_naming_the_key() {
    let cases = [
        (
            config(&patterns(&["ok", "(unclosed"]), ""),
            ["logging.redactPatterns[1]", "(unclosed"],
        ),
        (
            config(r#"redactSensitive: "everything""#, ""),
            ["logging.redactSensitive", "tools"],
        ),
        (
            config(r#"consoleStyle: "fancy""#, ""),
            ["logging.consoleStyle", "compact"],
        ),
    ];
    for (cfg, needles) in cases {
        let (status, out) = run_to_exit(Spec::default().config(&cfg), &["--port", "0"]);
        assert_eq!(status.code(), Some(78), "{out}");
        for needle in needles {
            assert!(out.contains(needle), "{needle} missing: {out}");
        }
    }
    // `config validate` refuses the same file.
    let dir = TempDir::new("validate");
    std::fs::write(
        dir.path().join("openclaw.json"),
        config(&patterns(&["[a-"]), ""),
    )
    .unwrap();
    let out = cli_in(dir.path(), &["config", "validate"], &[]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("logging.redactPatterns[0]"),
        "{}",
        out.stderr
    );
}
