//! `openclaw doctor`, `security audit`, `logs --level/--since` and `completion`, against a
//! running gateway and against a stopped one.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use serde_json::Value;

const STRONG: &str = "doctor-audit-token-0123456789abcdef";

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A state dir (0700) holding `config` (0600).
fn state_with(tag: &str, config: &str) -> TempDir {
    let dir = TempDir::new(tag);
    std::fs::write(dir.path().join("openclaw.json"), config).unwrap();
    chmod(&dir.path().join("openclaw.json"), 0o600);
    chmod(dir.path(), 0o700);
    dir
}

fn clean_config(port: u16) -> String {
    format!(r#"{{ gateway: {{ mode: "local", port: {port}, auth: {{ token: "{STRONG}" }} }} }}"#)
}

fn json_of(out: &CliOut) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr))
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn ids(report: &Value, severity: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["checkId"].as_str().unwrap().to_owned())
        .collect()
}

fn audit(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["security", "audit", "--json"];
    args.extend_from_slice(extra);
    let out = cli_in(dir, &args, &[]);
    (out.code, json_of(&out))
}

fn running_gateway() -> Gateway {
    let port = free_port();
    let dir = state_with("doc-run", &clean_config(port));
    start(Spec {
        port_zero: false,
        own_dir: Some(dir),
        ..Spec::default()
    })
}

#[test]
fn doctor_against_running_and_stopped_gateway() {
    let gw = running_gateway();
    let out = gw.cli(&["doctor", "--json"]);
    let v = json_of(&out);
    assert_eq!(out.code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
    let reach = check(&v, "gateway.reachable");
    assert_eq!(reach["status"], "ok");
    assert!(reach["detail"].as_str().unwrap().contains("answers"));
    for c in v["checks"].as_array().unwrap() {
        assert!(c["id"].is_string() && c["title"].is_string() && c["detail"].is_string());
        assert!(["ok", "warn", "fail"].contains(&c["status"].as_str().unwrap()));
    }
    assert_eq!(check(&v, "gateway.auth")["status"], "ok");
    assert!(!out.stdout.contains(STRONG));

    let human = gw.cli(&["doctor"]);
    assert_eq!(human.code, 0, "{}", human.stdout);
    assert!(
        human.stdout.contains("✓ Gateway reachable"),
        "{}",
        human.stdout
    );

    let port = free_port();
    let dir = state_with("doc-stop", &clean_config(port));
    let out = cli_in(dir.path(), &["doctor", "--json"], &[]);
    let v = json_of(&out);
    let reach = check(&v, "gateway.reachable");
    assert_eq!(reach["status"], "warn", "{v:#}");
    assert!(reach["detail"].as_str().unwrap().contains("free"));
    assert!(reach["fix"].is_string());
    assert_eq!(out.code, 0, "only a warning: {v:#}");
}

#[test]
fn doctor_reports_invalid_config_and_provider() {
    let dir = state_with("doc-bad", r#"{ gateway: { port: "nope" } }"#);
    let out = cli_in(dir.path(), &["doctor", "--json"], &[]);
    assert_ne!(out.code, 0);
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    let c = check(&v, "config.valid");
    assert_eq!(c["status"], "fail");
    assert!(
        c["detail"].as_str().unwrap().contains("gateway.port"),
        "{c}"
    );

    // A provider on a port nothing listens on is named and fails.
    let dead = free_port();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", port: {}, auth: {{ token: "{STRONG}" }} }},
             models: {{ providers: {{ localllm: {{ baseUrl: "http://127.0.0.1:{dead}/v1", api: "openai-completions", models: [{{ id: "m" }}] }} }} }} }}"#,
        free_port()
    );
    let dir = state_with("doc-prov", &cfg);
    let out = cli_in(dir.path(), &["doctor", "--json"], &[]);
    let v = json_of(&out);
    let c = check(&v, "provider.localllm");
    assert_eq!(c["status"], "fail", "{v:#}");
    assert_ne!(out.code, 0);
}

#[test]
fn doctor_fix_yes_tightens_permissions_and_generates_token() {
    let port = free_port();
    let dir = TempDir::new("doc-fix");
    let cfg_path = dir.path().join("openclaw.json");
    let original = format!(
        r#"{{ gateway: {{ mode: "local", port: {port} }}, logging: {{ level: "info" }} }}"#
    );
    std::fs::write(&cfg_path, &original).unwrap();
    chmod(&cfg_path, 0o644);
    chmod(dir.path(), 0o755);

    // Not a terminal and no --yes: nothing changes.
    let out = cli_in(dir.path(), &["doctor", "--fix"], &[]);
    assert!(
        out.stderr.contains("re-run with --yes") || out.stdout.contains("re-run with --yes"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&cfg_path).unwrap(), original);
    assert_eq!(mode(&cfg_path), 0o644);

    let out = cli_in(dir.path(), &["doctor", "--fix", "--yes", "--json"], &[]);
    let v = json_of(&out);
    let after = std::fs::read_to_string(&cfg_path).unwrap();
    assert_ne!(after, original, "config should change");
    assert!(dir.path().join("openclaw.json.bak").exists());
    assert_eq!(mode(&cfg_path), 0o600);
    assert_eq!(mode(dir.path()), 0o700);
    let doc: Value = serde_json::from_str(&after).unwrap();
    let token = doc["gateway"]["auth"]["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(doc["gateway"]["port"], port);
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
    let auth = check(&v, "gateway.auth");
    assert_eq!(auth["fixed"], true, "{v:#}");
    assert_eq!(
        auth["changed"],
        "generated a new gateway token; see gateway.auth.token"
    );

    // Human output names the change, never the token; a second run is clean.
    let out = cli_in(dir.path(), &["doctor"], &[]);
    assert!(!out.stdout.contains(&token));
    assert!(out.stdout.contains("✓ Gateway auth"), "{}", out.stdout);
}

#[test]
fn audit_clean_config_has_no_critical_or_warn() {
    let dir = state_with("aud-clean", &clean_config(free_port()));
    let (code, v) = audit(dir.path(), &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["summary"]["critical"], 0, "{v:#}");
    assert_eq!(v["summary"]["warn"], 0, "{v:#}");
    assert!(v["ts"].is_string());
    assert!(v["findings"].is_array());
}

#[test]
fn audit_finds_each_problem() {
    let port = free_port();
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "lan-noauth",
            format!(r#"{{ gateway: {{ port: {port}, bind: "lan", auth: {{ mode: "none" }} }} }}"#),
            "gateway.bind_no_auth",
            "critical",
        ),
        (
            "lan-tls",
            format!(
                r#"{{ gateway: {{ port: {port}, bind: "lan", auth: {{ token: "{STRONG}" }} }} }}"#
            ),
            "gateway.tls_disabled",
            "warn",
        ),
        (
            "lan-proxies",
            format!(
                r#"{{ gateway: {{ port: {port}, bind: "lan", auth: {{ token: "{STRONG}" }} }} }}"#
            ),
            "gateway.trusted_proxies_missing",
            "info",
        ),
        (
            "http-noauth",
            format!(
                r#"{{ gateway: {{ port: {port}, auth: {{ mode: "none" }}, http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }} }}"#
            ),
            "gateway.http.no_auth",
            "critical",
        ),
        (
            "short",
            format!(r#"{{ gateway: {{ port: {port}, auth: {{ token: "abcdefgh12345" }} }} }}"#),
            "gateway.token_too_short",
            "warn",
        ),
        (
            "default",
            format!(r#"{{ gateway: {{ port: {port}, auth: {{ token: "changeme" }} }} }}"#),
            "gateway.token_well_known",
            "critical",
        ),
        (
            "hooks",
            format!(
                r#"{{ gateway: {{ port: {port}, auth: {{ token: "{STRONG}" }} }}, hooks: {{ token: "{STRONG}" }} }}"#
            ),
            "hooks.token_reuse_gateway_token",
            "critical",
        ),
        (
            "tools",
            format!(
                r#"{{ gateway: {{ port: {port}, auth: {{ token: "{STRONG}" }}, tools: {{ allow: ["read", "exec"] }} }} }}"#
            ),
            "gateway.tools_invoke_http.dangerous_allow",
            "critical",
        ),
        (
            "ratelimit",
            format!(
                r#"{{ gateway: {{ port: {port}, auth: {{ token: "{STRONG}", rateLimit: {{ maxAttempts: 1000 }} }} }} }}"#
            ),
            "gateway.auth_no_rate_limit",
            "warn",
        ),
        (
            "proxy",
            format!(r#"{{ gateway: {{ port: {port}, auth: {{ mode: "trusted-proxy" }} }} }}"#),
            "gateway.trusted_proxy_no_proxies",
            "warn",
        ),
    ];
    for (tag, cfg, id, severity) in cases {
        let dir = state_with(&format!("aud-{tag}"), &cfg);
        let (code, v) = audit(dir.path(), &[]);
        assert!(
            ids(&v, severity).contains(&id.to_string()),
            "{tag}: expected {id} ({severity}) in {v:#}"
        );
        assert_eq!(code != 0, v["summary"]["critical"] != 0, "{tag}: {v:#}");
        for f in v["findings"].as_array().unwrap() {
            for k in ["checkId", "severity", "title", "detail", "remediation"] {
                assert!(f[k].is_string(), "{tag}: {f}");
            }
        }
        assert!(!v.to_string().contains(STRONG), "{tag}: secret printed");
    }
}

#[test]
fn audit_finds_readable_secrets_and_fix_tightens() {
    let dir = state_with("aud-perm", &clean_config(free_port()));
    let secret = dir.path().join("token.txt");
    std::fs::write(&secret, format!("{STRONG}\n")).unwrap();
    chmod(&secret, 0o644);
    std::fs::write(
        dir.path().join("openclaw.json"),
        format!(
            r#"{{ gateway: {{ mode: "local", port: {}, auth: {{ token: {{ source: "file", id: "{}" }}, password: "pw-inline-secret-value" }} }} }}"#,
            free_port(),
            secret.display()
        ),
    )
    .unwrap();
    chmod(&dir.path().join("openclaw.json"), 0o644);
    chmod(dir.path(), 0o755);
    let (_, v) = audit(dir.path(), &[]);
    let warns = ids(&v, "warn");
    for id in [
        "fs.config.perms_world_readable",
        "fs.state_dir.perms_readable",
        "fs.secret_file.perms_readable",
    ] {
        assert!(warns.contains(&id.to_string()), "{id} missing: {v:#}");
    }

    let (code, v) = audit(dir.path(), &["--fix"]);
    assert_eq!(code, 0, "{v:#}");
    assert!(!v["fixes"].as_array().unwrap().is_empty(), "{v:#}");
    assert_eq!(v["summary"]["warn"], 0, "{v:#}");
    assert_eq!(mode(&dir.path().join("openclaw.json")), 0o600);
    assert_eq!(mode(dir.path()), 0o700);
    assert_eq!(mode(&secret), 0o600);
}

#[test]
fn audit_fix_generates_token_when_short() {
    let dir = state_with(
        "aud-fixtok",
        &format!(
            r#"{{ gateway: {{ mode: "local", port: {}, auth: {{ token: "abc" }} }} }}"#,
            free_port()
        ),
    );
    let (_, v) = audit(dir.path(), &["--fix"]);
    assert_eq!(v["summary"]["warn"], 0, "{v:#}");
    assert!(dir.path().join("openclaw.json.bak").exists());
    let text = std::fs::read_to_string(dir.path().join("openclaw.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let token = doc["gateway"]["auth"]["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(!v.to_string().contains(token));
}

#[test]
fn audit_deep_against_running_and_stopped_gateway() {
    let gw = running_gateway();
    let out = gw.cli(&["security", "audit", "--deep", "--json"]);
    let v = json_of(&out);
    assert_eq!(out.code, 0, "{v:#}");
    assert_eq!(v["deep"]["ok"], true, "{v:#}");
    assert_eq!(v["deep"]["bind"], "loopback");
    assert_eq!(v["summary"]["warn"], 0, "{v:#}");

    let human = gw.cli(&["security", "audit", "--deep"]);
    assert!(
        human.stdout.contains("Summary: 0 critical"),
        "{}",
        human.stdout
    );

    let dir = state_with("aud-stop", &clean_config(free_port()));
    let (code, v) = audit(dir.path(), &["--deep"]);
    assert_eq!(code, 0);
    assert!(
        ids(&v, "warn").contains(&"gateway.probe_failed".to_string()),
        "{v:#}"
    );
    assert_eq!(v["deep"]["ok"], false);
}

#[test]
fn logs_level_and_since_filter_the_file() {
    let dir = state_with("logs-filter", &clean_config(free_port()));
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stamp = |secs_ago: u64| utc_stamp(now - secs_ago);
    let line = |lvl: &str, ago: u64, msg: &str| {
        format!(
            r#"{{"time":"{}","level":"{lvl}","subsystem":"test","message":"{msg}"}}"#,
            stamp(ago)
        )
    };
    let text = [
        line("error", 3 * 3600, "old-error"),
        line("info", 120, "recent-info"),
        line("warn", 60, "recent-warn"),
        line("debug", 30, "recent-debug"),
        line("error", 10, "recent-error"),
    ]
    .join("\n")
        + "\n";
    std::fs::write(logs.join("gateway.log"), text).unwrap();

    let msgs = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["logs", "--json"];
        a.extend_from_slice(args);
        let out = cli_in(dir.path(), &a, &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["message"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(msgs(&[]).len(), 5);
    assert_eq!(
        msgs(&["--level", "warn"]),
        ["old-error", "recent-warn", "recent-error"]
    );
    assert_eq!(
        msgs(&["--since", "1h"]),
        ["recent-info", "recent-warn", "recent-debug", "recent-error"]
    );
    assert_eq!(
        msgs(&["--since", "90s", "--level", "error"]),
        ["recent-error"]
    );
    assert_eq!(
        msgs(&["--level", "error", "--limit", "1"]),
        ["recent-error"]
    );

    let bad = cli_in(dir.path(), &["logs", "--since", "5 parsecs"], &[]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("30s"), "{}", bad.stderr);
    let bad = cli_in(dir.path(), &["logs", "--level", "loud"], &[]);
    assert_ne!(bad.code, 0);
}

/// A known instant: 1_700_000_000 s after the epoch is 2023-11-14T22:13:20Z.
const ANCHOR_SECS: u64 = 1_700_000_000;
const ANCHOR_DATE: (u32, u32, u32) = (2023, 11, 14);
const ANCHOR_SECS_INTO_DAY: u64 = 22 * 3600 + 13 * 60 + 20;

/// Renders `t` (Unix seconds, not before the anchor's day) in the log file's format,
/// `YYYY-MM-DDTHH:MM:SS.000Z`, by counting whole days forward from the known anchor
/// with a month-length table: independent of the CLI's own date arithmetic.
fn utc_stamp(t: u64) -> String {
    let midnight = ANCHOR_SECS - ANCHOR_SECS_INTO_DAY;
    let since = t.checked_sub(midnight).expect("time before the anchor");
    let (mut y, mut m, mut d) = ANCHOR_DATE;
    for _ in 0..since / 86_400 {
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let len = match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        d += 1;
        if d > len {
            d = 1;
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
        }
    }
    let rem = since % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[test]
fn utc_stamp_matches_known_dates() {
    assert_eq!(utc_stamp(1_700_000_000), "2023-11-14T22:13:20.000Z");
    assert_eq!(utc_stamp(1_709_164_800), "2024-02-29T00:00:00.000Z");
    assert_eq!(utc_stamp(1_740_787_200), "2025-03-01T00:00:00.000Z");
    assert_eq!(utc_stamp(1_767_323_045), "2026-01-02T03:04:05.000Z");
}

#[test]
fn logs_over_rpc_filter_by_level() {
    let gw = running_gateway();
    let out = gw.cli(&["logs", "--json", "--level", "error"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for l in out.stdout.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(
            ["error", "fatal"].contains(&v["level"].as_str().unwrap()),
            "{l}"
        );
    }
    let all = gw.cli(&["logs", "--json"]);
    assert!(
        all.stdout.lines().count() > 0,
        "gateway should have logged at startup"
    );
}

#[test]
fn completion_scripts() {
    let dir = TempDir::new("compl");
    for shell in ["bash", "zsh", "fish"] {
        let out = cli_in(dir.path(), &["completion", shell], &[]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains("openclaw"), "{shell}");
        assert!(out.stdout.contains("doctor"), "{shell}");
    }
}

/// `logs --follow` keeps every line across a rotation: the rest of the rotated file is read
/// before the new one.
#[test]
fn logs_follow_survives_rotation() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let token = "follow-token-0123456789abcdef";
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{token}" }} }}, logging: {{ maxFileBytes: 2048 }} }}"#
    );
    let gw = start(Spec::default().config(&cfg));
    let url = gw.url();
    let mut follow = Command::new(bin())
        .args([
            "logs",
            "--follow",
            "--json",
            "--interval",
            "50",
            "--limit",
            "1",
            "--url",
            &url,
            "--token",
            token,
        ])
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
    // Each failed authentication writes one warning line (~200 bytes): 12 of them rotate
    // the 2 KiB file at least once, and fewer than 5 times, so no archive is dropped.
    for i in 0..12 {
        let out = cli_in(
            &gw.state,
            &["health", "--url", &url, "--token", &format!("wrong-{i}")],
            &[],
        );
        assert_eq!(out.code, 1);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(
        gw.state.join("logs/gateway.log.1").exists(),
        "the log never rotated"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    while seen < 12 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && line.contains("authentication failed")
        {
            seen += 1;
        }
    }
    // A little longer, so a line printed twice would be counted.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(400)) {
        if line.contains("authentication failed") {
            seen += 1;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert_eq!(seen, 12, "follow lost or repeated lines across rotation");
}
