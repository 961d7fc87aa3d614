//! `openclaw config …` and `openclaw secrets …`: offline against a private state dir, and
//! online against a real gateway (and, for the conflict path, a scripted stand-in).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "cfg-cli-token-0123456789abcdef";
const REDACTED: &str = "__OPENCLAW_REDACTED__";

/// A state dir with no gateway: the CLI is pointed at a port nobody listens on, so a
/// gateway running elsewhere on this machine (say on the default port) is never touched.
struct Offline {
    dir: TempDir,
    port: String,
}

impl Offline {
    fn new() -> Offline {
        Offline {
            dir: TempDir::new("cfg"),
            port: free_port().to_string(),
        }
    }
    fn with_config(text: &str) -> Offline {
        let o = Offline::new();
        std::fs::write(o.file(), text).unwrap();
        o
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("openclaw.json")
    }
    fn bak(&self) -> PathBuf {
        self.dir.path().join("openclaw.json.bak")
    }
    fn text(&self) -> String {
        std::fs::read_to_string(self.file()).unwrap()
    }
    fn cli(&self, args: &[&str]) -> CliOut {
        self.cli_env(args, &[])
    }
    fn cli_env(&self, args: &[&str], env: &[(&str, &str)]) -> CliOut {
        let mut all = vec![("OPENCLAW_GATEWAY_PORT", self.port.as_str())];
        all.extend_from_slice(env);
        cli_in(self.dir.path(), args, &all)
    }
}

fn ok(out: &CliOut) {
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
}

fn fails(out: &CliOut) {
    assert_eq!(
        out.code, 1,
        "expected exit 1\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn set_get_unset_round_trip_without_gateway() {
    let o = Offline::new();
    assert!(!o.file().exists());

    let out = o.cli(&["config", "set", "gateway.mode", "local"]);
    ok(&out);
    assert_eq!(
        out.stdout.trim_end(),
        "Updated gateway.mode (gateway not running; takes effect at next start)"
    );
    assert!(o.file().exists());
    assert!(!o.bak().exists(), "no previous file, so no backup");
    let mode = std::fs::metadata(o.file()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "config written with mode {mode:o}");
    assert_eq!(json_of(&o.text()), json!({"gateway": {"mode": "local"}}));

    // Second write keeps the first as .bak. Values are JSON5 when they parse.
    let before = o.text();
    ok(&o.cli(&["config", "set", "gateway.auth.rateLimit.maxAttempts", "5"]));
    assert_eq!(std::fs::read_to_string(o.bak()).unwrap(), before);
    ok(&o.cli(&["config", "set", "gateway.controlUi.enabled", "false"]));
    ok(&o.cli(&["config", "set", "gateway.trustedProxies", "['10.0.0.1']"]));
    let doc = json_of(&o.text());
    assert_eq!(doc["gateway"]["auth"]["rateLimit"]["maxAttempts"], 5);
    assert_eq!(doc["gateway"]["controlUi"]["enabled"], false);
    assert_eq!(doc["gateway"]["trustedProxies"], json!(["10.0.0.1"]));
    assert!(!o.dir.path().join("openclaw.json.tmp").exists());

    // get: strings plain, everything else JSON; --json always JSON.
    let out = o.cli(&["config", "get", "gateway.mode"]);
    ok(&out);
    assert_eq!(out.stdout, "local\n");
    let out = o.cli(&["config", "get", "gateway.mode", "--json"]);
    ok(&out);
    assert_eq!(json_of(&out.stdout), json!("local"));
    let out = o.cli(&["config", "get", "gateway.auth.rateLimit.maxAttempts"]);
    ok(&out);
    assert_eq!(out.stdout.trim(), "5");
    let out = o.cli(&["config", "get", "gateway.auth.rateLimit"]);
    ok(&out);
    assert_eq!(json_of(&out.stdout), json!({"maxAttempts": 5}));
    let out = o.cli(&["config", "get", "gateway.trustedProxies[0]"]);
    ok(&out);
    assert_eq!(out.stdout, "10.0.0.1\n");

    // unset, then the value is gone and a second unset has nothing to remove.
    let out = o.cli(&["config", "unset", "gateway.auth.rateLimit.maxAttempts"]);
    ok(&out);
    assert!(
        out.stdout
            .starts_with("Removed gateway.auth.rateLimit.maxAttempts"),
        "{}",
        out.stdout
    );
    let out = o.cli(&["config", "get", "gateway.auth.rateLimit.maxAttempts"]);
    fails(&out);
    assert!(
        out.stderr
            .contains("no value at gateway.auth.rateLimit.maxAttempts"),
        "{}",
        out.stderr
    );
    let before = o.text();
    let out = o.cli(&["config", "unset", "gateway.auth.rateLimit.maxAttempts"]);
    fails(&out);
    assert!(out.stderr.contains("no value at"), "{}", out.stderr);
    assert_eq!(o.text(), before);

    // The file the CLI wrote is one the gateway accepts.
    let out = o.cli(&["config", "validate"]);
    ok(&out);
}

#[test]
fn set_keeps_env_references_literally() {
    let original = r#"{
  // operator's file
  gateway: { mode: "local", auth: { token: "${MY_TOKEN}" } },
}
"#;
    let o = Offline::with_config(original);
    // MY_TOKEN is not set for the CLI: the edit still goes through, with a warning.
    let out = o.cli(&["config", "set", "logging.level", "debug"]);
    ok(&out);
    assert!(out.stderr.contains("${MY_TOKEN}"), "{}", out.stderr);
    let text = o.text();
    assert!(text.contains("\"${MY_TOKEN}\""), "{text}");
    let doc = json_of(&text);
    assert_eq!(doc["gateway"]["auth"]["token"], "${MY_TOKEN}");
    assert_eq!(doc["logging"]["level"], "debug");
    assert_eq!(std::fs::read_to_string(o.bak()).unwrap(), original);

    // With the variable set there is nothing to warn about.
    let out = o.cli_env(
        &["config", "set", "logging.level", "warn"],
        &[("MY_TOKEN", "from-env-value")],
    );
    ok(&out);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert!(!o.text().contains("from-env-value"));

    // A reference is a name, not a secret: list shows it.
    let out = o.cli(&["config", "list"]);
    ok(&out);
    assert_eq!(
        json_of(&out.stdout)["gateway"]["auth"]["token"],
        "${MY_TOKEN}"
    );
}

#[test]
fn invalid_set_names_the_path_and_writes_nothing() {
    let original = "{ gateway: { mode: \"local\", port: 18001 } }\n";
    let o = Offline::with_config(original);
    let out = o.cli(&["config", "set", "gateway.bind", "wide"]);
    fails(&out);
    assert!(out.stderr.contains("gateway.bind"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(o.text(), original);
    assert!(!o.bak().exists());
    assert!(!o.dir.path().join("openclaw.json.tmp").exists());

    let out = o.cli(&["config", "set", "gateway.port", "0"]);
    fails(&out);
    assert!(out.stderr.contains("gateway.port"), "{}", out.stderr);
    let out = o.cli(&["config", "set", "gateway.prot", "1"]);
    fails(&out);
    assert!(out.stderr.contains("gateway.prot"), "{}", out.stderr);
    assert_eq!(o.text(), original);

    // A broken file is reported with its name, not overwritten.
    let broken = "{ gateway: { mode: \"local\" ";
    std::fs::write(o.file(), broken).unwrap();
    let out = o.cli(&["config", "set", "gateway.port", "18002"]);
    fails(&out);
    assert!(
        out.stderr.contains(&o.file().display().to_string()),
        "{}",
        out.stderr
    );
    assert_eq!(o.text(), broken);
}

#[test]
fn validate_reports_valid_and_invalid() {
    let o = Offline::new();
    let file = o.file().display().to_string();
    let out = o.cli(&["config", "validate"]);
    ok(&out);
    assert!(
        out.stdout.starts_with(&format!("Config valid: {file}")),
        "{}",
        out.stdout
    );

    std::fs::write(o.file(), "{ gateway: { mode: 'local', port: 18003 } }").unwrap();
    let out = o.cli(&["config", "validate"]);
    ok(&out);
    assert_eq!(out.stdout.trim_end(), format!("Config valid: {file}"));
    let out = o.cli(&["config", "validate", "--json"]);
    ok(&out);
    let v = json_of(&out.stdout);
    assert_eq!(v["valid"], true);
    assert_eq!(v["path"], file.as_str());
    assert!(v.get("error").is_none(), "{v}");

    std::fs::write(o.file(), "{ gateway: { bind: 'wide' } }").unwrap();
    let out = o.cli(&["config", "validate"]);
    fails(&out);
    assert!(out.stderr.contains("gateway.bind"), "{}", out.stderr);
    let out = o.cli(&["config", "validate", "--json"]);
    fails(&out);
    let v = json_of(&out.stdout);
    assert_eq!(v["valid"], false);
    assert!(v["error"].as_str().unwrap().contains("gateway.bind"), "{v}");

    std::fs::write(o.file(), "{\n  gateway: {\n    port: ,\n  }\n}").unwrap();
    let out = o.cli(&["config", "validate"]);
    fails(&out);
    assert!(out.stderr.contains(&format!("{file}:3:")), "{}", out.stderr);
}

#[test]
fn get_list_export_redact_secrets_unless_asked() {
    let o = Offline::with_config(
        r#"{ gateway: { mode: "local", auth: { token: "tok-secret-1", password: "" } },
             channels: { telegram: { botToken: "123:abc" } } }"#,
    );
    let out = o.cli(&["config", "get", "gateway.auth.token"]);
    ok(&out);
    assert_eq!(out.stdout.trim_end(), REDACTED);
    assert!(out.stderr.contains("--show-secrets"), "{}", out.stderr);
    let out = o.cli(&["config", "get", "gateway.auth.token", "--show-secrets"]);
    ok(&out);
    assert_eq!(out.stdout, "tok-secret-1\n");
    let out = o.cli(&["config", "get", "gateway.auth"]);
    ok(&out);
    assert!(!out.stdout.contains("tok-secret-1"), "{}", out.stdout);

    for cmd in ["list", "show", "export"] {
        let out = o.cli(&["config", cmd]);
        ok(&out);
        assert!(
            !out.stdout.contains("tok-secret-1"),
            "{cmd}: {}",
            out.stdout
        );
        assert!(!out.stdout.contains("123:abc"), "{cmd}: {}", out.stdout);
        let v = json_of(&out.stdout);
        assert_eq!(v["gateway"]["auth"]["token"], REDACTED, "{cmd}");
        assert_eq!(v["gateway"]["auth"]["password"], "", "{cmd}");
        assert_eq!(v["gateway"]["mode"], "local", "{cmd}");

        let out = o.cli(&["config", cmd, "--show-secrets"]);
        ok(&out);
        let v = json_of(&out.stdout);
        assert_eq!(v["gateway"]["auth"]["token"], "tok-secret-1", "{cmd}");
        assert_eq!(v["channels"]["telegram"]["botToken"], "123:abc", "{cmd}");
    }

    // No file: list is an empty object; get has nothing.
    let empty = Offline::new();
    let out = empty.cli(&["config", "list"]);
    ok(&out);
    assert_eq!(json_of(&out.stdout), json!({}));
    let out = empty.cli(&["config", "get", "gateway.port"]);
    fails(&out);
    assert!(
        out.stderr.contains("no value at gateway.port"),
        "{}",
        out.stderr
    );
}

#[test]
fn import_and_export() {
    let o = Offline::with_config(
        r#"{ gateway: { mode: "local", port: 18004, auth: { token: "tok-secret-2" } } }"#,
    );
    let work = TempDir::new("cfg-import");

    // Export with secrets, import it elsewhere: same document.
    let out = o.cli(&["config", "export", "--show-secrets"]);
    ok(&out);
    let exported = work.path().join("full.json");
    std::fs::write(&exported, &out.stdout).unwrap();
    let other = Offline::new();
    let out = other.cli(&["config", "import", "--input", exported.to_str().unwrap()]);
    ok(&out);
    assert!(out.stdout.starts_with("Imported "), "{}", out.stdout);
    assert!(
        out.stdout.contains("(gateway not running"),
        "{}",
        out.stdout
    );
    assert_eq!(json_of(&other.text()), json_of(&out_text(&exported)));

    // JSON5 with comments is imported as written.
    let json5 =
        "// imported\n{ gateway: { mode: 'local', port: 18005 }, logging: { level: 'debug' } }\n";
    let src = work.path().join("new.json5");
    std::fs::write(&src, json5).unwrap();
    let before = o.text();
    ok(&o.cli(&["config", "import", "--input", src.to_str().unwrap()]));
    assert_eq!(o.text(), json5);
    assert_eq!(std::fs::read_to_string(o.bak()).unwrap(), before);

    // A redacted export keeps the secrets the config already has.
    std::fs::write(
        &src,
        "{ gateway: { mode: 'local', auth: { token: 'tok-secret-3' } } }",
    )
    .unwrap();
    ok(&o.cli(&["config", "import", "--input", src.to_str().unwrap()]));
    let out = o.cli(&["config", "export"]);
    ok(&out);
    assert!(!out.stdout.contains("tok-secret-3"));
    let redacted = work.path().join("redacted.json");
    std::fs::write(&redacted, out.stdout.replace("\"local\"", "\"remote\"")).unwrap();
    ok(&o.cli(&["config", "import", "--input", redacted.to_str().unwrap()]));
    let doc = json_of(&o.text());
    assert_eq!(doc["gateway"]["auth"]["token"], "tok-secret-3");
    assert_eq!(doc["gateway"]["mode"], "remote");
    // ... but cannot invent one.
    let fresh = Offline::new();
    let out = fresh.cli(&["config", "import", "--input", redacted.to_str().unwrap()]);
    fails(&out);
    assert!(out.stderr.contains("gateway.auth.token"), "{}", out.stderr);
    assert!(!fresh.file().exists());

    // An invalid file is refused, naming the file and the path; nothing changes.
    let before = o.text();
    let bad = work.path().join("bad.json");
    std::fs::write(&bad, "{ gateway: { bind: 'wide' } }").unwrap();
    let out = o.cli(&["config", "import", "--input", bad.to_str().unwrap()]);
    fails(&out);
    assert!(out.stderr.contains("gateway.bind"), "{}", out.stderr);
    assert!(out.stderr.contains("bad.json"), "{}", out.stderr);
    assert_eq!(o.text(), before);

    let out = o.cli(&["config", "import", "--input", "/nonexistent/x.json"]);
    fails(&out);
    assert!(out.stderr.contains("/nonexistent/x.json"), "{}", out.stderr);
}

fn out_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn secrets_list_shows_sources_never_values() {
    let o = Offline::with_config(
        r#"{ gateway: { mode: "local",
             auth: { token: { source: "env", id: "MY_TOKEN" }, password: "pw-inline-123" } } }"#,
    );
    let out = o.cli_env(
        &["secrets", "list"],
        &[("MY_TOKEN", "env-secret-value-456")],
    );
    ok(&out);
    assert!(
        !out.stdout.contains("env-secret-value-456"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("pw-inline-123"), "{}", out.stdout);
    let token_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("gateway.auth.token"))
        .unwrap_or_else(|| panic!("no token line: {}", out.stdout));
    let cols: Vec<&str> = token_line.split_whitespace().collect();
    assert_eq!(cols[1], "env", "{token_line}");
    assert_eq!(cols[2], "MY_TOKEN", "{token_line}");
    // The reference is configured (and MY_TOKEN is even exported): "set", exactly.
    assert_eq!(cols[3], "set", "{token_line}");
    let pw_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("gateway.auth.password"))
        .unwrap_or_else(|| panic!("no password line: {}", out.stdout));
    let cols: Vec<&str> = pw_line.split_whitespace().collect();
    assert_eq!(cols[1..], ["inline", "-", "set"], "{pw_line}");

    let out = o.cli_env(
        &["secrets", "list", "--json"],
        &[("MY_TOKEN", "env-secret-value-456")],
    );
    ok(&out);
    assert!(!out.stdout.contains("env-secret-value-456"));
    assert!(!out.stdout.contains("pw-inline-123"));
    let rows = json_of(&out.stdout);
    let token = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "gateway.auth.token")
        .unwrap();
    assert_eq!(token["kind"], "env");
    assert_eq!(token["id"], "MY_TOKEN");
    assert_eq!(token["set"], true, "{token}");
}

#[test]
fn gateway_commands_without_gateway_fail_with_one_line() {
    let o = Offline::new();
    let target = format!("gateway not reachable at ws://127.0.0.1:{}", o.port);
    for args in [
        vec!["config", "reload"],
        vec!["secrets", "reload"],
        vec!["config", "reload", "--json"],
    ] {
        let out = o.cli(&args);
        fails(&out);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", out.stderr);
        assert!(lines[0].contains(&target), "{}", lines[0]);
    }
    // An explicit --url that does not answer is an error, not a silent local write.
    let url = format!("ws://127.0.0.1:{}", o.port);
    let out = o.cli(&["config", "set", "gateway.mode", "local", "--url", &url]);
    fails(&out);
    assert!(
        out.stderr.contains("gateway not reachable"),
        "{}",
        out.stderr
    );
    assert!(!o.file().exists());
}

#[test]
fn every_command_has_help() {
    let o = Offline::new();
    for args in [
        vec!["config", "--help"],
        vec!["config", "get", "--help"],
        vec!["config", "set", "--help"],
        vec!["config", "import", "--help"],
        vec!["secrets", "--help"],
        vec!["secrets", "list", "--help"],
    ] {
        let out = o.cli(&args);
        ok(&out);
        assert!(out.stdout.contains("Usage:"), "{args:?}: {}", out.stdout);
    }
    let out = o.cli(&["config", "--help"]);
    for sub in [
        "get", "list", "set", "unset", "validate", "import", "export", "reload",
    ] {
        assert!(
            out.stdout.contains(&format!("  {sub} ")),
            "{sub}: {}",
            out.stdout
        );
    }
}

// ---- Online: a real gateway that the CLI finds through the shared state dir. ----

/// A gateway whose config file holds its port and token, so the CLI needs no flags.
fn online_gateway() -> Gateway {
    let port = free_port();
    let cfg = format!(
        "{{ gateway: {{ mode: \"local\", port: {port}, auth: {{ token: \"{TOKEN}\" }} }} }}\n"
    );
    start(
        Spec {
            port_zero: false,
            ..Spec::default()
        }
        .config(&cfg),
    )
}

fn gw_file(gw: &Gateway) -> PathBuf {
    gw.state.join("openclaw.json")
}

#[test]
fn set_goes_through_the_running_gateway() {
    let gw = online_gateway();
    let out = gw.cli(&["config", "set", "gateway.auth.rateLimit.maxAttempts", "20"]);
    ok(&out);
    assert_eq!(
        out.stdout.trim_end(),
        "Updated gateway.auth.rateLimit.maxAttempts (applied: hot)",
        "{}",
        gw.output()
    );
    let text = std::fs::read_to_string(gw_file(&gw)).unwrap();
    let doc = json_of(&text);
    assert_eq!(doc["gateway"]["auth"]["rateLimit"]["maxAttempts"], 20);
    assert_eq!(doc["gateway"]["auth"]["token"], TOKEN);
    assert!(gw.state.join("openclaw.json.bak").exists());

    let out = gw.cli(&[
        "config",
        "set",
        "gateway.auth.rateLimit.maxAttempts",
        "21",
        "--json",
    ]);
    ok(&out);
    let res = json_of(&out.stdout);
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["applied"], "hot", "{res}");
    let text = std::fs::read_to_string(gw_file(&gw)).unwrap();
    assert_eq!(res["hash"], openclaw_config::content_hash(&text).as_str());
    assert!(
        res["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "gateway.auth.rateLimit.maxAttempts"),
        "{res}"
    );

    let out = gw.cli(&["config", "unset", "gateway.auth.rateLimit.maxAttempts"]);
    ok(&out);
    assert!(out.stdout.contains("(applied: hot)"), "{}", out.stdout);
    let doc = json_of(&std::fs::read_to_string(gw_file(&gw)).unwrap());
    assert!(
        doc["gateway"]["auth"]["rateLimit"]
            .get("maxAttempts")
            .is_none()
    );

    // The gateway is still there and still accepts the token.
    ok(&gw.cli(&["health"]));
}

#[test]
fn restart_class_set_reports_restart() {
    let gw = online_gateway();
    let out = gw.cli(&["config", "set", "gateway.controlUi.enabled", "false"]);
    ok(&out);
    assert_eq!(
        out.stdout.trim_end(),
        "Updated gateway.controlUi.enabled (gateway restarting to apply)",
        "{}",
        gw.output()
    );
    let doc = json_of(&std::fs::read_to_string(gw_file(&gw)).unwrap());
    assert_eq!(doc["gateway"]["controlUi"]["enabled"], false);
    // The gateway comes back on the same port with the same token.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let out = gw.cli(&["health"]);
        if out.code == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gateway did not come back: {}\n{}",
            out.stderr,
            gw.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The config refers to a variable only the gateway has: the CLI still finds the
/// gateway's port in the file, and the reference is written back literally.
#[test]
fn set_reaches_gateway_when_shell_lacks_config_vars() {
    let port = free_port();
    let cfg = format!(
        "{{ gateway: {{ mode: \"local\", port: {port}, auth: {{ token: \"${{GW_TOKEN}}\" }} }} }}\n"
    );
    let gw = start(
        Spec {
            port_zero: false,
            ..Spec::default()
        }
        .config(&cfg)
        .env("GW_TOKEN", TOKEN),
    );
    let out = cli_in(
        &gw.state,
        &["config", "set", "logging.level", "debug"],
        &[("OPENCLAW_GATEWAY_TOKEN", TOKEN)],
    );
    ok(&out);
    assert!(
        out.stdout.contains("(applied: hot)"),
        "{}\n{}",
        out.stdout,
        gw.output()
    );
    assert!(out.stderr.contains("${GW_TOKEN}"), "{}", out.stderr);
    let text = std::fs::read_to_string(gw_file(&gw)).unwrap();
    assert!(text.contains("\"${GW_TOKEN}\""), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

/// Several editors at once: each one's base hash goes stale while the others write, and
/// the retries must still land every edit (no lost update).
#[test]
fn concurrent_sets_retry_stale_edits() {
    let gw = online_gateway();
    let edits = [
        ("gateway.auth.rateLimit.maxAttempts", "31"),
        ("gateway.auth.rateLimit.windowMs", "61000"),
        ("gateway.auth.rateLimit.lockoutMs", "301000"),
        ("gateway.auth.rateLimit.exemptLoopback", "false"),
    ];
    let state = gw.state.clone();
    let handles: Vec<_> = edits
        .iter()
        .map(|(k, v)| {
            let state = state.clone();
            let (k, v) = (k.to_string(), v.to_string());
            std::thread::spawn(move || cli_in(&state, &["config", "set", &k, &v], &[]))
        })
        .collect();
    for h in handles {
        ok(&h.join().unwrap());
    }
    let doc = json_of(&std::fs::read_to_string(gw_file(&gw)).unwrap());
    let rl = &doc["gateway"]["auth"]["rateLimit"];
    assert_eq!(rl["maxAttempts"], 31, "{doc}");
    assert_eq!(rl["windowMs"], 61000, "{doc}");
    assert_eq!(rl["lockoutMs"], 301000, "{doc}");
    assert_eq!(rl["exemptLoopback"], false, "{doc}");
}

#[test]
fn config_reload_applies_or_says_why_not() {
    let gw = online_gateway();
    let file = gw_file(&gw);
    let out = gw.cli(&["config", "reload"]);
    ok(&out);
    assert!(out.stdout.starts_with("Config reloaded"), "{}", out.stdout);

    let out = gw.cli(&["config", "reload", "--json"]);
    ok(&out);
    let v = json_of(&out.stdout);
    assert!(v["changed"].is_array(), "{v}");
    assert!(v["applied"].is_string(), "{v}");

    // A hand edit the gateway cannot use: reload is skipped and says why.
    let good = std::fs::read_to_string(&file).unwrap();
    let bad = good.replacen("mode: \"local\"", "mode: \"local\", bind: \"wide\"", 1);
    assert_ne!(bad, good);
    std::fs::write(&file, bad).unwrap();
    let out = gw.cli(&["config", "reload"]);
    fails(&out);
    assert!(out.stderr.contains("gateway.bind"), "{}", out.stderr);
    std::fs::write(&file, good).unwrap();
    ok(&gw.cli(&["health"]));
}

#[test]
fn secrets_reload_reports_count() {
    let gw = online_gateway();
    let out = gw.cli(&["secrets", "reload"]);
    ok(&out);
    let line = out.stdout.trim_end();
    let n = line
        .strip_prefix("Secrets reloaded (")
        .and_then(|r| r.strip_suffix(" resolved)"))
        .unwrap_or_else(|| panic!("unexpected output: {line}"));
    assert!(n.parse::<u64>().is_ok(), "{line}");

    let out = gw.cli(&["secrets", "reload", "--json"]);
    ok(&out);
    assert_eq!(json_of(&out.stdout)["ok"], true);
}

// ---- A scripted gateway, for the exact conflict sequence. ----

/// What the scripted gateway saw: the `config.set` params, in order.
type Seen = Arc<Mutex<Vec<Value>>>;

/// Accepts one connection, completes the handshake, and answers each `config.set` with
/// `respond(call_index, params)`.
async fn scripted_gateway(
    respond: impl Fn(usize, &Value) -> Result<Value, Value> + Send + 'static,
) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let challenge =
            json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":0}});
        ws.send(Message::Text(challenge.to_string().into()))
            .await
            .unwrap();
        let mut calls = 0;
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(t) = msg else { continue };
            let req: Value = serde_json::from_str(&t).unwrap();
            let id = req["id"].clone();
            let res = match req["method"].as_str() {
                Some("connect") => {
                    json!({"type":"res","id":id,"ok":true,"payload":{"type":"hello-ok"}})
                }
                Some("config.set") => {
                    seen2.lock().unwrap().push(req["params"].clone());
                    let r = respond(calls, &req["params"]);
                    calls += 1;
                    match r {
                        Ok(p) => json!({"type":"res","id":id,"ok":true,"payload":p}),
                        Err(e) => json!({"type":"res","id":id,"ok":false,"error":e}),
                    }
                }
                _ => {
                    json!({"type":"res","id":id,"ok":false,"error":{"code":"INVALID_REQUEST","message":"unknown method"}})
                }
            };
            ws.send(Message::Text(res.to_string().into()))
                .await
                .unwrap();
        }
    });
    (url, seen)
}

async fn cli_async(state: &Path, args: Vec<String>) -> CliOut {
    let state = state.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_in(&state, &args, &[])
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn stale_base_hash_is_recomputed_and_retried() {
    let o = Offline::with_config("{ gateway: { mode: 'local' } }\n");
    let file = o.file();
    let original = o.text();
    let file2 = file.clone();
    // First answer: someone else changed the file (logging.level) so the base is stale.
    // Second: must be based on that new text and still contain both edits.
    let (url, seen) = scripted_gateway(move |i, params| {
        if i == 0 {
            std::fs::write(&file2, "{ gateway: { mode: 'local' }, logging: { level: 'debug' } }\n")
                .unwrap();
            return Err(json!({"code":"INVALID_REQUEST","message":"config changed since it was read; re-read and retry","details":{"code":"CONFIG_STALE"}}));
        }
        let raw = params["raw"].as_str().unwrap();
        std::fs::write(&file2, raw).unwrap();
        Ok(json!({"ok":true,"path":"x","hash":openclaw_config::content_hash(raw),"changed":["gateway.port"],"applied":"restart"}))
    })
    .await;
    let args = [
        "config",
        "set",
        "gateway.port",
        "18010",
        "--url",
        &url,
        "--token",
        "t",
    ];
    let out = cli_async(o.dir.path(), args.iter().map(|s| s.to_string()).collect()).await;
    ok(&out);
    assert_eq!(
        out.stdout.trim_end(),
        "Updated gateway.port (gateway restarting to apply)"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0]["baseHash"],
        openclaw_config::content_hash(&original).as_str()
    );
    let second_base = openclaw_config::content_hash(
        "{ gateway: { mode: 'local' }, logging: { level: 'debug' } }\n",
    );
    assert_eq!(seen[1]["baseHash"], second_base.as_str());
    let doc = json_of(seen[1]["raw"].as_str().unwrap());
    assert_eq!(doc["gateway"]["port"], 18010);
    assert_eq!(doc["logging"]["level"], "debug", "the other edit was kept");
}

#[tokio::test]
async fn endless_conflicts_and_rejections_are_reported() {
    // Always stale: gives up after the retries with a clear message.
    let o = Offline::with_config("{ gateway: { mode: 'local' } }\n");
    let (url, seen) = scripted_gateway(|_, _| {
        Err(json!({"code":"INVALID_REQUEST","message":"stale","details":{"code":"CONFIG_STALE"}}))
    })
    .await;
    let args = [
        "config",
        "set",
        "gateway.port",
        "18011",
        "--url",
        &url,
        "--token",
        "t",
    ];
    let out = cli_async(o.dir.path(), args.iter().map(|s| s.to_string()).collect()).await;
    fails(&out);
    assert!(out.stderr.contains("kept changing"), "{}", out.stderr);
    assert_eq!(seen.lock().unwrap().len(), 4);

    // The gateway's own validation failure is shown as it said it.
    let (url, _) = scripted_gateway(|_, _| {
        Err(json!({"code":"INVALID_REQUEST","message":"invalid config at gateway.port: in use","details":{"code":"CONFIG_INVALID"}}))
    })
    .await;
    let args = [
        "config",
        "set",
        "gateway.port",
        "18012",
        "--url",
        &url,
        "--token",
        "t",
    ];
    let out = cli_async(o.dir.path(), args.iter().map(|s| s.to_string()).collect()).await;
    fails(&out);
    assert!(
        out.stderr
            .contains("invalid config at gateway.port: in use"),
        "{}",
        out.stderr
    );
    assert_eq!(o.text(), "{ gateway: { mode: 'local' } }\n");
}
