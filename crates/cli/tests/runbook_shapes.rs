//! The JSON paths and log options the runbooks' scripts use, against the real binary:
//! seed 000's `health-check.sh` run verbatim with jq (every value present and right), and
//! `logs --filter/--tail/--last/--format/--output/--since` with absolute times.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_mock_telegram::MockTelegram;
use serde_json::{Deserializer, Value, json};

const TOKEN: &str = "shapes-test-token-0123456789";
const BOT: &str = "123456:TEST-shapes-bot";
const ALLOWED: i64 = 42;
/// Seed 000's script, byte for byte.
const HEALTH_CHECK: &str = include_str!("fixtures/health-check.sh");

fn config(provider: &MockServer, tg: &MockTelegram) -> String {
    format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions", models: [{{ id: "m1" }}] }} }} }},
          agents: {{ defaults: {{ model: "mock/m1" }} }},
          channels: {{ telegram: {{ botToken: "{BOT}", apiRoot: "{}", allowFrom: [{ALLOWED}], pollTimeoutSeconds: 1 }} }},
        }}"#,
        provider.openai_base_url(),
        tg.api_root()
    )
}

/// Runs `cmd` off the test runtime (which serves the stand-ins the gateway calls).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// The CLI as the script sees it: `openclaw` on PATH, the gateway's state dir and port.
fn script_env(cmd: &mut Command, gw: &Gateway, bin_dir: &Path) {
    cmd.env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", &gw.state)
        .env("OPENCLAW_STATE_DIR", &gw.state)
        .env("OPENCLAW_GATEWAY_PORT", gw.port.to_string())
        .stdin(Stdio::null());
}

/// The JSON values printed between two section headers of the script's output.
fn section(out: &str, header: &str, next: &str) -> Vec<Value> {
    let start = out
        .find(header)
        .unwrap_or_else(|| panic!("no {header:?} in:\n{out}"))
        + header.len();
    let end = out[start..].find(next).map_or(out.len(), |i| start + i);
    Deserializer::from_str(&out[start..end])
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("section {header:?} is not JSON ({e}):\n{out}"))
}

fn jq_available() -> bool {
    Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn health_check_sh_runs_verbatim() {
    assert!(
        jq_available(),
        "jq is needed to run the runbook's health-check.sh; scripts/test installs it"
    );
    let provider = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let tg = openclaw_mock_telegram::spawn(BOT).await.unwrap();
    let gw = start(
        Spec::default()
            .config(&config(&provider, &tg))
            .env("OPENCLAW_CHANNEL_BACKOFF_MS", "50"),
    );
    // Connected, then one undeliverable reply: an error the script must count.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tg.get_updates_calls() == 0 {
        assert!(Instant::now() < deadline, "telegram never polled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tg.fail_sends(100);
    tg.push_dm(ALLOWED, "hello");
    let log = gw.state.join("logs/gateway.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("telegram reply not delivered")
    {
        assert!(Instant::now() < deadline, "no delivery failure logged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let dir = TempDir::new("health-check");
    std::os::unix::fs::symlink(bin(), dir.path().join("openclaw")).unwrap();
    let script = dir.path().join("health-check.sh");
    std::fs::write(&script, HEALTH_CHECK).unwrap();
    let bin_dir = dir.path().to_path_buf();
    let (out, err) = {
        let mut cmd = Command::new("bash");
        cmd.arg(&script);
        script_env(&mut cmd, &gw, &bin_dir);
        blocking(move || {
            let o = cmd.output().unwrap();
            (
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .await
    };
    assert!(!err.contains("jq: error"), "{err}");
    assert!(out.contains("=== Check Complete ==="), "{out}\n{err}");

    let gs = section(&out, "1. Gateway Status:", "2. Runtime Status:");
    assert_eq!(gs.len(), 1, "{out}");
    assert_eq!(gs[0]["status"], "running", "{out}");
    assert!(gs[0]["uptime"].is_string(), "{out}");
    assert_eq!(gs[0]["version"], env!("CARGO_PKG_VERSION"), "{out}");

    let rs = section(&out, "2. Runtime Status:", "3. Channels Status:");
    assert_eq!(
        rs,
        vec![json!({"runtime": "running", "channels": 1, "providers": 1})],
        "{out}"
    );

    let ch = section(&out, "3. Channels Status:", "4. Error Check");
    assert_eq!(ch.len(), 1, "one entry per account: {out}");
    assert_eq!(ch[0]["name"], "telegram");
    assert_eq!(ch[0]["status"], "connected");
    assert!(
        ch[0]["latency_ms"].is_u64(),
        "a measured probe latency: {out}"
    );

    // The error count is what `logs --filter error --since 1h` prints, and that is every
    // error-level line plus the lines that report an error (the failed delivery).
    let count: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("Errors in last hour: "))
        .unwrap_or_else(|| panic!("no error count in:\n{out}"))
        .trim()
        .parse()
        .unwrap();
    let state = gw.state.clone();
    let port = gw.port.to_string();
    let json_lines = blocking(move || {
        cli_in(
            &state,
            &[
                "logs", "--filter", "error", "--since", "1h", "--format", "json",
            ],
            &[("OPENCLAW_GATEWAY_PORT", &port)],
        )
    })
    .await;
    let entries: Vec<Value> = json_lines
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(count, entries.len(), "{out}");
    assert!(count >= 1, "the failed delivery is an error line: {out}");
    assert!(
        entries
            .iter()
            .any(|e| e["message"] == "telegram reply not delivered"),
        "{entries:?}"
    );
    for e in &entries {
        let text = e.to_string().to_lowercase();
        assert!(
            matches!(e["level"].as_str(), Some("error" | "fatal")) || text.contains("error"),
            "{e}"
        );
    }

    let audit = section(&out, "5. Security Audit:", "=== Check Complete ===");
    let state = gw.state.clone();
    let port = gw.port.to_string();
    let full = blocking(move || {
        cli_in(
            &state,
            &["security", "audit", "--json"],
            &[("OPENCLAW_GATEWAY_PORT", &port)],
        )
    })
    .await;
    let full: Value = serde_json::from_str(&full.stdout).unwrap();
    let summary = &full["summary"];
    assert_eq!(
        audit,
        vec![json!({
            "issues": summary["critical"].as_u64().unwrap() + summary["warn"].as_u64().unwrap(),
            "critical": summary["critical"],
        })],
        "{out}"
    );
    assert!(full["findings"].is_array(), "findings kept: {full}");
    assert!(!out.contains("null"), "no value may be null:\n{out}");
}

/// A log file with entries at known times and levels, read with the gateway stopped.
fn write_log(dir: &Path, lines: &[(&str, &str, &str)]) {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let text: String = lines
        .iter()
        .map(|(t, lvl, msg)| {
            format!(
                "{}\n",
                json!({"time": t, "level": lvl, "subsystem": "gateway", "message": msg})
            )
        })
        .collect();
    std::fs::write(logs.join("gateway.log"), text).unwrap();
}

#[test]
fn logs_options_from_the_runbooks() {
    let dir = TempDir::new("logs-opts");
    write_log(
        dir.path(),
        &[
            (
                "2026-12-01T01:59:00.000Z",
                "info",
                "before ten, Shanghai time",
            ),
            ("2026-12-01T02:01:00.000Z", "error", "provider failed"),
            (
                "2026-12-01T02:02:00.000Z",
                "info",
                "upstream timeout, retrying",
            ),
            ("2026-12-01T02:03:00.000Z", "warn", "slow turn"),
            ("2026-12-01T02:04:00.000Z", "info", "all good"),
        ],
    );
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = cli_in(dir.path(), args, env);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
        out.stdout
    };
    let messages = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["message"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    // --since with a local wall-clock time: 10:00 in UTC+8 is 02:00Z.
    let after_ten = run(
        &["logs", "--since", "2026-12-01 10:00", "--format", "json"],
        &[("TZ", "CST-8")],
    );
    assert_eq!(
        messages(&after_ten),
        [
            "provider failed",
            "upstream timeout, retrying",
            "slow turn",
            "all good"
        ]
    );
    // The same instant as RFC 3339, and --json is the same as --format json.
    assert_eq!(
        run(&["logs", "--since", "2026-12-01T02:00:00Z", "--json"], &[]),
        after_ten
    );
    // --filter: a level word matches that level and above, plus text that says it.
    assert_eq!(
        messages(&run(&["logs", "--filter", "error", "--json"], &[])),
        ["provider failed"]
    );
    assert_eq!(
        messages(&run(&["logs", "--filter", "timeout|slow", "--json"], &[])),
        ["upstream timeout, retrying", "slow turn"]
    );
    assert_eq!(
        messages(&run(
            &["logs", "--filter", "warn", "--level", "error", "--json"],
            &[]
        )),
        ["provider failed"]
    );
    // --tail and --last are --limit.
    for flag in ["--tail", "--last", "--limit"] {
        assert_eq!(
            messages(&run(&["logs", flag, "2", "--json"], &[])),
            ["slow turn", "all good"],
            "{flag}"
        );
    }
    // Text format: one pretty line per entry, so `| wc -l` counts entries.
    let text = run(&["logs", "--filter", "error", "--format", "text"], &[]);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("provider failed") && !text.starts_with('{'),
        "{text}"
    );
    // --output writes the file (owner-only) instead of printing.
    let file = dir.path().join("gateway-debug.log");
    let printed = run(
        &[
            "logs",
            "--since",
            "2026-12-01T02:02:30Z",
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(printed.is_empty(), "{printed}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written.lines().count(), 2, "{written}");
    assert!(written.contains("slow turn") && written.contains("all good"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Bad values say what to write instead.
    let bad = cli_in(dir.path(), &["logs", "--since", "2026-13-01 10:00"], &[]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("2026-12-01 10:00"), "{}", bad.stderr);
    let bad = cli_in(dir.path(), &["logs", "--format", "yaml"], &[]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("json"), "{}", bad.stderr);
}
