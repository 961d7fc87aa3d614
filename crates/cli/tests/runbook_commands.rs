//! Commands the operator runbooks (`shared/seeds/`) use, against the real gateway binary:
//! `call`, `configure --validate`, `gateway reload`, `cache clear`, `setup`, the global
//! `--api-url`, and `message send --to <agent>`.

mod common;

use common::*;
use serde_json::{Value, json};

const TOKEN: &str = "runbook-token-0123456789";

/// A gateway whose config file (in the shared state dir) holds the token, so CLI commands
/// run with that state dir find the credentials themselves; the port is given per command.
fn gateway_with(extra: &str) -> Gateway {
    let cfg =
        format!(r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }}, {extra} }}"#);
    start(Spec::default().config(&cfg))
}

fn json_of(out: &CliOut) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr))
}

#[test]
fn call_is_gateway_call_with_the_same_flags() {
    let gw = gateway_with("");
    let port = gw.port.to_string();
    let url = gw.url();

    // The seed's form, against the local instance on its port: the config comes back.
    let out = gw.cli(&["call", "config.get", "--params", "{}", "--port", &port]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json_of(&out);
    assert_eq!(v["config"]["gateway"]["mode"], "local", "{v}");
    assert!(
        !out.stdout.contains(TOKEN),
        "config.get must redact the token"
    );
    // Same answer as the long form.
    let long = gw.cli(&[
        "gateway",
        "call",
        "config.get",
        "--params",
        "{}",
        "--port",
        &port,
    ]);
    assert_eq!(long.code, 0, "{}", long.stderr);
    assert_eq!(json_of(&long)["hash"], v["hash"]);

    // --url and --token: a real status answer naming this gateway's port and pid.
    let out = gw.cli(&["call", "status", "--url", &url, "--token", TOKEN]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json_of(&out);
    assert_eq!(v["gateway"]["port"], gw.port);
    assert_eq!(v["pid"], gw.pid());

    // A wrong token is refused, and the token is never echoed.
    let out = gw.cli(&["call", "status", "--url", &url, "--token", "wrong-token"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("unauthorized") || out.stderr.contains("MISMATCH"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(TOKEN));

    // --json turns an RPC error into {ok:false, error} on stdout, exit 1.
    let out = gw.cli(&["call", "nope.method", "--port", &port, "--json"]);
    assert_eq!(out.code, 1);
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown method: nope.method"),
        "{v}"
    );

    // --params must be a JSON object; the flag is named.
    let out = gw.cli(&["call", "health", "--params", "[1]", "--port", &port]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("--params must be a JSON object"),
        "{}",
        out.stderr
    );

    // --port and --url name the same thing twice.
    let out = gw.cli(&["call", "health", "--port", &port, "--url", &url]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--port") && out.stderr.contains("--url"),
        "{}",
        out.stderr
    );
}

#[test]
fn call_without_a_gateway_names_the_address() {
    let dir = TempDir::new("call-none");
    let port = free_port().to_string();
    let out = cli_in(dir.path(), &["call", "health", "--port", &port], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains(&format!("gateway not reachable at ws://127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
}

#[test]
fn configure_validate_is_config_validate() {
    let dir = TempDir::new("configure");
    let cfg = dir.path().join("openclaw.json");
    std::fs::write(&cfg, r#"{ gateway: { mode: "local", port: 18999 } }"#).unwrap();
    let out = cli_in(dir.path(), &["configure", "--validate"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        format!("Config valid: {}", cfg.display())
    );
    let out = cli_in(dir.path(), &["configure", "--validate", "--json"], &[]);
    assert_eq!(
        json_of(&out),
        json!({"valid": true, "path": cfg, "warnings": []})
    );

    // An invalid file: the same verdict and message as `config validate`.
    std::fs::write(&cfg, r#"{ gateway: { mode: "local", bind: "wide" } }"#).unwrap();
    let out = cli_in(dir.path(), &["configure", "--validate"], &[]);
    let same = cli_in(dir.path(), &["config", "validate"], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("gateway.bind"), "{}", out.stderr);
    assert_eq!(out.stderr, same.stderr);

    // Plain `configure` is refused, saying what works instead.
    let out = cli_in(dir.path(), &["configure"], &[]);
    assert_eq!(out.code, 1);
    for hint in [
        "configure --validate",
        "config validate",
        "openclaw setup",
        "config set",
    ] {
        assert!(out.stderr.contains(hint), "{hint}: {}", out.stderr);
    }
}

#[test]
fn gateway_reload_rereads_the_config() {
    // The watcher is off, so only the command can make the gateway see the edit.
    let base = |agents: &str| {
        format!(
            r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }}, reload: {{ mode: "off" }} }}, {agents} }}"#
        )
    };
    let gw = start(Spec::default().config(&base("")));
    let url = gw.url();
    // An agent added to the file appears after `gateway reload`.
    std::fs::write(
        gw.state.join("openclaw.json"),
        base(r#"agents: { list: [{ id: "ops", name: "Ops" }] }"#),
    )
    .unwrap();
    let out = gw.cli(&["gateway", "reload", "--url", &url, "--token", TOKEN]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("Config reloaded"), "{}", out.stdout);
    assert!(out.stdout.contains("agents"), "{}", out.stdout);
    let out = gw.cli(&["call", "agents.list", "--url", &url, "--token", TOKEN]);
    let ids: Vec<String> = json_of(&out)["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["ops"]);
    // --json is config reload's answer.
    let out = gw.cli(&[
        "gateway", "reload", "--url", &url, "--token", TOKEN, "--json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out)["applied"], "none");
}

#[test]
fn cache_clear_forgets_idempotency_keys_and_run_results() {
    let gw = gateway_with("");
    let port = gw.port.to_string();
    // One agent turn (it fails: no model is configured) leaves an idempotency key and a
    // finished run behind.
    let params = r#"{"message":"hi","idempotencyKey":"same-key"}"#;
    let first = json_of(&gw.cli(&[
        "call",
        "agent",
        "--params",
        params,
        "--port",
        &port,
        "--expect-final",
    ]));
    let run1 = first["runId"].as_str().unwrap().to_owned();
    // A retry with the same key is the same run.
    let again = json_of(&gw.cli(&["call", "agent", "--params", params, "--port", &port]));
    assert_eq!(again["runId"], run1.as_str(), "{again}");
    assert_eq!(again["duplicate"], true);

    let url = gw.url();
    let out = gw.cli(&["cache", "clear", "--url", &url, "--token", TOKEN]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        "Cleared 2 cached entries (finishedRuns: 1, idempotencyKeys: 1)."
    );
    // The run result is gone, and the same key now starts a new run.
    let wait = gw.cli(&[
        "call",
        "agent.wait",
        "--params",
        &format!(r#"{{"runId":"{run1}"}}"#),
        "--port",
        &port,
    ]);
    assert_eq!(wait.code, 1);
    assert!(wait.stderr.contains("no run"), "{}", wait.stderr);
    let fresh = json_of(&gw.cli(&["call", "agent", "--params", params, "--port", &port]));
    assert_ne!(fresh["runId"], run1.as_str(), "{fresh}");
    assert!(fresh.get("duplicate").is_none(), "{fresh}");

    // --json: the counts by name; a second clear finds only what the new turn left.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = gw.cli(&["cache", "clear", "--url", &url, "--token", TOKEN, "--json"]);
    let v = json_of(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["running"], true);
    assert_eq!(v["cleared"]["idempotencyKeys"], 1, "{v}");
    let out = gw.cli(&["cache", "clear", "--url", &url, "--token", TOKEN, "--json"]);
    assert_eq!(json_of(&out)["total"], 0);
}

#[tokio::test]
async fn cache_clear_needs_operator_admin() {
    let gw = gateway_with("");
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    let res = call(&mut ws, "c1", "cache.clear", json!({})).await;
    assert_eq!(res["ok"], false, "{res}");
    assert_eq!(
        res["error"]["details"]["missingScope"], "operator.admin",
        "{res}"
    );
}

#[test]
fn cache_clear_without_a_gateway_says_there_is_nothing() {
    let dir = TempDir::new("cache-none");
    let port = free_port().to_string();
    let env = [("OPENCLAW_GATEWAY_PORT", port.as_str())];
    let out = cli_in(dir.path(), &["cache", "clear"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("No gateway is running") && out.stdout.contains("nothing to clear"),
        "{}",
        out.stdout
    );
    let out = cli_in(dir.path(), &["cache", "clear", "--json"], &env);
    assert_eq!(
        json_of(&out),
        json!({"ok": true, "running": false, "cleared": {}, "total": 0})
    );
    // A gateway named by --url that does not answer is an error, not "nothing to clear".
    let url = format!("ws://127.0.0.1:{port}");
    let out = cli_in(dir.path(), &["cache", "clear", "--url", &url], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("gateway not reachable"),
        "{}",
        out.stderr
    );
}

#[test]
fn setup_writes_a_local_config_with_a_generated_token_and_never_prints_it() {
    let dir = TempDir::new("setup");
    let cfg = dir.path().join("openclaw.json");
    let out = cli_in(dir.path(), &["setup"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("Wrote {}", cfg.display())),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["gateway"]["mode"], "local");
    let token = v["gateway"]["auth"]["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64, "{token}");
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // No overwrite without --force; the file is untouched.
    let out = cli_in(dir.path(), &["setup"], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("already exists") && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), text);
    // --force replaces it with a new token, keeping the old file as .bak.
    let out = cli_in(dir.path(), &["setup", "--force", "--json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = json_of(&out);
    assert_eq!(j["replaced"], true);
    assert_eq!(j["path"], json!(cfg));
    let new: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_ne!(new["gateway"]["auth"]["token"], token.as_str());
    assert!(
        !out.stdout
            .contains(new["gateway"]["auth"]["token"].as_str().unwrap())
    );

    // The gateway starts on it without --allow-unconfigured, and the CLI gets in with the
    // token from the file, no flags.
    let gw = start(Spec::default().state(dir.path()));
    let out = gw.cli(&["call", "status", "--port", &gw.port.to_string()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out)["gateway"]["authMode"], "token");
}

#[test]
fn dev_setup_writes_the_dev_profile_config() {
    let home = TempDir::new("setup-dev");
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["--dev", "setup"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path());
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cfg = home.path().join(".openclaw-dev/openclaw.json");
    assert!(
        out.stdout.contains(&cfg.display().to_string()),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("openclaw --dev gateway"),
        "{}",
        out.stdout
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(v["gateway"]["mode"], "local");
    assert!(!home.path().join(".openclaw/openclaw.json").exists());
    // The state dir it had to create is owner-only, like the file.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home.path().join(".openclaw-dev")), 0o700);
    assert_eq!(mode(&cfg), 0o600);
}

#[test]
fn global_api_url_reaches_the_gateway_from_any_client_command() {
    let gw = gateway_with("");
    let http = format!("http://127.0.0.1:{}", gw.port);
    // The seed's form: before the command, as http:// (mapped to ws://).
    let out = gw.cli(&["--api-url", &http, "health", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out)["ok"], true);
    // After the command too, and for nested commands.
    let out = gw.cli(&["call", "status", "--api-url", &http]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out)["pid"], gw.pid());
    let out = gw.cli(&["--api-url", &gw.url(), "gateway", "call", "status"]);
    assert_eq!(json_of(&out)["gateway"]["port"], gw.port);

    // It means what --url means: a gateway that is not there is named in the error.
    let gone = format!("http://127.0.0.1:{}", free_port());
    let out = gw.cli(&["--api-url", &gone, "status"]);
    assert_eq!(out.code, 1);
    let ws_gone = gone.replacen("http://", "ws://", 1);
    assert!(
        out.stderr
            .contains(&format!("gateway not reachable at {ws_gone}")),
        "{}",
        out.stderr
    );
    // Not a gateway URL, or given twice, or for a command that talks to no gateway: refused.
    let out = gw.cli(&["--api-url", "ftp://x", "health"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unsupported scheme"), "{}", out.stderr);
    let out = gw.cli(&["health", "--url", &gw.url(), "--api-url", &http]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = gw.cli(&["--api-url", &http, "completion", "bash"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("does not talk to one"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

/// A gateway with an agent `agent-id` answered by the mock provider (it echoes).
async fn gateway_with_agent() -> (Gateway, openclaw_mock_provider::MockServer) {
    let mock = openclaw_mock_provider::spawn(openclaw_mock_provider::MockOptions::default())
        .await
        .unwrap();
    let extra = format!(
        r#"models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
           agents: {{ defaults: {{ model: "mock/m1" }}, list: [{{ id: "main" }}, {{ id: "agent-id" }}] }}"#,
        mock.openai_base_url()
    );
    (gateway_with(&extra), mock)
}

#[tokio::test(flavor = "multi_thread")]
async fn message_send_to_an_agent_runs_a_turn_in_its_main_session() {
    let (gw, mock) = gateway_with_agent().await;
    let url = gw.url();
    let (state, u) = (gw.state.clone(), url.clone());
    let cli = move |args: Vec<String>| {
        let state = state.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                cli_in(&state, &a, &[])
            })
            .await
            .unwrap()
        }
    };
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // The seed's form.
    let out = cli(args(&[
        "message", "send", "--to", "agent-id", "--text", "Hello", "--url", &u,
    ]))
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "echo: Hello");
    // The original's -t/--target, with --json: the run's final result.
    let out = cli(args(&[
        "message", "send", "-t", "agent-id", "-m", "Again", "--url", &u, "--json",
    ]))
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json_of(&out);
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["sessionKey"], "agent:agent-id:main");
    assert_eq!(v["summary"], "echo: Again");
    let out = cli(args(&[
        "message", "send", "--target", "agent-id", "--text", "Third", "--url", &u,
    ]))
    .await;
    assert_eq!(out.stdout.trim(), "echo: Third", "{}", out.stderr);

    // All three are turns of that agent's main session, in order, with the replies.
    let (mut ws, _) = connect(&url, TOKEN, None, "test").await;
    let h = call(
        &mut ws,
        "h",
        "chat.history",
        json!({"sessionKey": "agent:agent-id:main"}),
    )
    .await;
    let texts: Vec<&str> = h["payload"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Hello",
            "echo: Hello",
            "Again",
            "echo: Again",
            "Third",
            "echo: Third"
        ],
        "{h}"
    );
    assert_eq!(mock.requests().len(), 3);

    // An id that is no agent goes to a channel as before (telegram is not configured
    // here, so the gateway refuses it), and the model is not asked.
    let out = cli(args(&[
        "message", "send", "--to", "12345", "--text", "Hi", "--url", &u,
    ]))
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.to_lowercase().contains("telegram"),
        "{}",
        out.stderr
    );
    // An explicit --channel always means the channel, even for an agent's id.
    let out = cli(args(&[
        "message",
        "send",
        "--to",
        "agent-id",
        "--text",
        "Hi",
        "--channel",
        "telegram",
        "--url",
        &u,
    ]))
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(mock.requests().len(), 3);
}
