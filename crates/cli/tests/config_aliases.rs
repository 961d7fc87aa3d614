//! Config keys as the runbooks write them, against the real binary: aliases mapped onto
//! canonical keys (the file keeps what was written, `config get` answers for either
//! name, doctor names the canonical one), later sections refused with a message, a
//! YAML backup imported, `${VAR}` unset warned by `config validate` but refused by the
//! gateway (exit 78), bare model ids resolved, `agents.entries`.

mod common;

use common::*;
use openclaw_mock_provider::MockOptions;
use serde_json::{Value, json};

const TOKEN: &str = "alias-test-token-0123456789abcdef";
/// Never set in any environment these tests run in.
const UNSET_VAR: &str = "OC_ALIAS_TEST_NEVER_SET_TOKEN";

fn write(dir: &std::path::Path, text: &str) {
    std::fs::write(dir.join("openclaw.json"), text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("openclaw.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

#[test]
fn aliases_map_onto_canonical_keys_and_config_get_answers_for_both() {
    let dir = TempDir::new("alias-get");
    write(
        dir.path(),
        &format!(
            r#"{{ gateway: {{ mode: "local", host: "0.0.0.0", auth: {{ enabled: true, type: "token", token: "{TOKEN}" }},
                 reload: {{ mode: "auto" }}, logLevel: "debug", historyLimit: 50,
                 logging: {{ format: "json", rotation: {{ enabled: true, maxSize: "100M", maxFiles: 10 }} }} }} }}"#
        ),
    );
    let get = |k: &str| {
        let out = cli_in(dir.path(), &["config", "get", k], &[]);
        assert_eq!(out.code, 0, "{k}: {}{}", out.stdout, out.stderr);
        (out.stdout.trim().to_owned(), out.stderr)
    };
    // As written.
    assert_eq!(get("gateway.host").0, "0.0.0.0");
    assert_eq!(get("gateway.reload.mode").0, "auto");
    // What the gateway reads, through the alias.
    let (bind, note) = get("gateway.bind");
    assert_eq!(bind, "lan");
    assert_eq!(
        note.trim(),
        "note: gateway.bind is set through gateway.host"
    );
    assert_eq!(get("gateway.auth.mode").0, "token");
    assert_eq!(get("logging.level").0, "debug");
    assert_eq!(get("logging.maxFileBytes").0, "104857600");
    assert_eq!(get("logging.maxFiles").0, "10");
    assert_eq!(get("logging.consoleStyle").0, "json");
    assert_eq!(get("agents.defaults.historyLimit").0, "50");
    let out = cli_in(dir.path(), &["config", "validate"], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // doctor: each alias works, with the canonical name as the fix.
    let out = cli_in(dir.path(), &["doctor", "--json"], &[]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let aliases: Vec<&Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("config.alias."))
        .collect();
    let details: Vec<&str> = aliases
        .iter()
        .map(|c| c["detail"].as_str().unwrap())
        .collect();
    assert!(
        details
            .contains(&"gateway.host works as an alias of gateway.bind / gateway.customBindHost"),
        "{details:?}"
    );
    assert!(
        details.contains(
            &"gateway.reload.mode = \"auto\" works as an alias of gateway.reload.mode = \"hot\""
        ),
        "{details:?}"
    );
    assert!(
        aliases
            .iter()
            .all(|c| c["status"] == "warn" && c["fix"].as_str().unwrap().contains("canonical"))
    );

    // A disagreement names both keys.
    write(
        dir.path(),
        r#"{ gateway: { mode: "local", host: "0.0.0.0", bind: "loopback" } }"#,
    );
    let out = cli_in(dir.path(), &["config", "validate"], &[]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("gateway.host") && out.stderr.contains("canonical"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_host_alias_binds_and_the_seeds_edge_keys_are_set_as_written() {
    let gw = start(Spec::default().config(&format!(
        r#"{{ gateway: {{ mode: "local", host: "0.0.0.0", auth: {{ type: "password", password: "{TOKEN}" }} }} }}"#
    )));
    let out = gw.cli(&["status", "--json", "--url", &gw.url(), "--password", TOKEN]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    // Neither is what the gateway would pick on its own: the aliases were read.
    assert_eq!(v["gateway"]["bind"], "lan", "{}{}", out.stdout, out.stderr);
    assert_eq!(v["gateway"]["authMode"], "password", "{v}");

    // The seed's commands: the modes and the later sections.
    let out = gw.cli(&["config", "set", "gateway.reload.mode", "auto"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // Seed 000's "stop the bleeding" lines and its performance keys, as written.
    for (key, value) in [
        ("gateway.rate_limit.enabled", "true"),
        ("gateway.rate_limit.requests_per_minute", "30"),
        ("gateway.performance.max_connections", "1000"),
    ] {
        let out = gw.cli(&["config", "set", key, value]);
        assert_eq!(out.code, 0, "{key}: {}{}", out.stdout, out.stderr);
    }
    let out = gw.cli(&["config", "get", "gateway.rateLimit.requestsPerMinute"]);
    assert_eq!(out.stdout.trim(), "30", "{}", out.stderr);
    // TLS without a certificate is refused with what to give.
    let out = gw.cli(&["config", "set", "gateway.tls.enabled", "true"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("gateway.tls") && out.stderr.contains("autoGenerate"),
        "{}",
        out.stderr
    );
    let text = std::fs::read_to_string(gw.state.join("openclaw.json")).unwrap();
    assert!(
        text.contains("rate_limit") && !text.contains("tls"),
        "the accepted sets are written as typed, the refused one not: {text}"
    );
}

#[tokio::test]
async fn bare_model_ids_resolve_against_the_configured_providers() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let base = mock.openai_base_url();
    let cfg = |model: &str| {
        format!(
            r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                            http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
                 models: {{ providers: {{
                   mock: {{ baseUrl: "{base}", api: "openai-completions", models: [{{ id: "gpt-3.5-turbo" }}, {{ id: "both" }}] }},
                   other: {{ baseUrl: "{base}", api: "openai-completions", models: [{{ id: "both" }}] }} }} }},
                 agents: {{ defaults: {{ model: "{model}" }},
                            entries: {{ main: {{ default: true }}, ops: {{ name: "Ops", model: "mock/both" }} }} }} }}"#
        )
    };
    let dir = TempDir::new("bare-model");
    write(dir.path(), &cfg("gpt-3.5-turbo"));
    let out = cli_in(dir.path(), &["config", "validate"], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // Unknown and ambiguous ids name the candidates.
    write(dir.path(), &cfg("gpt-9"));
    let out = cli_in(dir.path(), &["config", "validate"], &[]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("gpt-9") && out.stderr.contains("mock/gpt-3.5-turbo"),
        "{}",
        out.stderr
    );
    write(dir.path(), &cfg("both"));
    let out = cli_in(dir.path(), &["config", "validate"], &[]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("mock/both") && out.stderr.contains("other/both"),
        "{}",
        out.stderr
    );

    // The gateway runs the resolved model; `agents.entries` agents exist beside main.
    let gw = start(Spec::default().config(&cfg("gpt-3.5-turbo")));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let agents = call(&mut ws, "a1", "agents.list", json!({})).await;
    let ids: Vec<&str> = agents["payload"]["agents"]
        .as_array()
        .unwrap_or_else(|| panic!("{agents}"))
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"ops"), "{agents}");
    let res = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gw.http("")))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw/main", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );
    let seen = mock.requests();
    assert!(
        seen.iter().any(|r| r["model"] == "gpt-3.5-turbo"),
        "the provider got the bare id's model: {seen:?}"
    );
}

#[test]
fn yaml_import_and_unset_env_warn_but_the_gateway_refuses() {
    let dir = TempDir::new("yaml-import");
    write(dir.path(), r#"{ gateway: { mode: "local" } }"#);
    // Seed 000's gateway.yaml, verbatim: it watches skills, which this gateway has not.
    let seed = format!(
        "gateway:\n  host: 127.0.0.1\n  port: 18789\n\n  auth:\n    enabled: true\n    type: token\n    token: ${{{UNSET_VAR}}}\n\n  reload:\n    mode: hybrid # auto | manual | hybrid\n    watch_config: true\n    watch_skills: true\n\n  performance:\n    max_connections: 1000\n    request_timeout: 30000\n    idle_timeout: 60000\n"
    );
    let yaml = dir.path().join("config-backup.yaml");
    std::fs::write(&yaml, &seed).unwrap();
    let out = cli_in(
        dir.path(),
        &["config", "import", "--input", yaml.to_str().unwrap()],
        &[],
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("gateway.reload.watch_skills") && out.stderr.contains("not changed"),
        "{}",
        out.stderr
    );
    // Without the key this gateway does not have, it imports.
    let trimmed = seed.replace("\n    watch_skills: true", "");
    std::fs::write(&yaml, &trimmed).unwrap();
    let out = cli_in(
        dir.path(),
        &["config", "import", "--input", yaml.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let get = |k: &str| {
        cli_in(dir.path(), &["config", "get", k], &[])
            .stdout
            .trim()
            .to_owned()
    };
    assert_eq!(get("gateway.host"), "127.0.0.1");
    assert_eq!(get("gateway.port"), "18789");
    assert_eq!(get("gateway.performance.max_connections"), "1000");
    assert_eq!(get("gateway.performance.requestTimeoutMs"), "30000");
    assert_eq!(get("gateway.auth.token"), format!("${{{UNSET_VAR}}}"));

    // validate: a warning naming the key, exit 0.
    let out = cli_in(dir.path(), &["config", "validate"], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let warning = format!(
        "config value at gateway.auth.token references environment variable ${{{UNSET_VAR}}}, which is not set or is empty"
    );
    assert!(
        out.stderr.contains(&format!("warning: {warning}")),
        "{}",
        out.stderr
    );
    let out = cli_in(dir.path(), &["config", "validate", "--json"], &[]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert!(
        v["warnings"][0].as_str().unwrap().contains(UNSET_VAR),
        "{v}"
    );

    // The gateway refuses to start on it, exit 78, with the same message.
    let (status, output) = run_to_exit(Spec::default().state(dir.path()), &["--port", "0"]);
    assert_eq!(status.code(), Some(78), "{output}");
    assert!(output.contains(&warning), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_written_by_the_original_loads_unchanged() {
    let original = reference();
    let home = TempDir::new("orig-config");
    // What an operator does with the original CLI: it also writes plugins and meta.
    for (k, v) in [
        ("gateway.mode", "local"),
        ("gateway.port", "18790"),
        ("gateway.auth.token", TOKEN),
        ("gateway.bind", "loopback"),
    ] {
        let out = original.run(home.path(), 1, TOKEN, &["config", "set", k, v], &[]);
        assert_eq!(
            out.code, 0,
            "original config set {k}: {}{}",
            out.stdout, out.stderr
        );
    }
    let file = home.path().join("openclaw.json");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains("\"plugins\""),
        "the original's own sections: {written}"
    );
    let out = cli_in(home.path(), &["config", "validate"], &[]);
    assert_eq!(out.code, 0, "{}{}\n{written}", out.stdout, out.stderr);
    // Our gateway runs on it, and leaves the file as the original wrote it.
    let gw = start(Spec::default().state(home.path()));
    let out = gw.cli(&["status", "--json", "--url", &gw.url()]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(
        v["gateway"]["authMode"], "token",
        "{}{}",
        out.stdout, out.stderr
    );
    drop(gw);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
}
