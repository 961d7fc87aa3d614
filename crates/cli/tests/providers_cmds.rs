//! `openclaw providers list|test` and `openclaw doctor --provider/--check-env`: real
//! requests to stand-in providers and to addresses that fail in each way an operator
//! meets (bad key, unknown model, nothing listening, no such host, TLS to a plain port,
//! a server too slow to answer).

mod common;

use std::time::Duration;

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::Value;

const GOOD_KEY: &str = "sk-provider-good-key-424242";
const BAD_KEY: &str = "sk-provider-bad-key-131313";

/// Config with the given `models.providers` body, written to a fresh state dir.
fn state_with(providers: &str, agents: &str) -> TempDir {
    let dir = TempDir::new("providers-cmds");
    std::fs::write(
        dir.path().join("openclaw.json"),
        format!(
            r#"{{ gateway: {{ mode: "local" }},
                 models: {{ providers: {{ {providers} }} }},
                 agents: {{ {agents} }} }}"#
        ),
    )
    .unwrap();
    dir
}

/// Runs the CLI with the dir as state and HOME, the port pointing nowhere.
fn cli(dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> CliOut {
    let port = free_port().to_string();
    let mut all = vec![("OPENCLAW_GATEWAY_PORT", port.as_str())];
    all.extend_from_slice(env);
    let out = cli_in(dir.path(), args, &all);
    for secret in [GOOD_KEY, BAD_KEY] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{args:?} printed a key:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
    out
}

async fn mock(opts: MockOptions) -> MockServer {
    openclaw_mock_provider::spawn(opts).await.unwrap()
}

fn result_for<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["provider"] == id)
        .unwrap_or_else(|| panic!("no result for {id}: {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_list_shows_sources_never_values() {
    let good = mock(MockOptions::default()).await;
    let dir = state_with(
        &format!(
            r#"inl: {{ baseUrl: "{base}", api: "openai-completions", apiKey: "{GOOD_KEY}",
                      models: [{{ id: "m1" }}, {{ id: "m2" }}] }},
               fromenv: {{ baseUrl: "{base}", api: "openai-responses", apiKey: "${{PROV_TEST_KEY}}" }},
               unset: {{ baseUrl: "{base}", api: "anthropic-messages", apiKey: "${{PROV_UNSET_KEY}}" }},
               keyless: {{ baseUrl: "{base}", api: "openai-completions" }}"#,
            base = good.openai_base_url()
        ),
        r#"defaults: { model: "keyless/agent-model" }, list: [{ id: "a", model: "anthropic/claude-x" }, { id: "b" }]"#,
    );
    let env = [("PROV_TEST_KEY", BAD_KEY)];
    let out = cli(&dir, &["providers", "list", "--json"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let row = |id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {v}"))
            .clone()
    };
    let inl = row("inl");
    assert_eq!(inl["api"], "openai-completions");
    assert_eq!(inl["baseUrl"], good.openai_base_url());
    assert_eq!(inl["models"], serde_json::json!(["m1", "m2"]));
    assert_eq!(inl["credential"]["source"], "inline");
    let fromenv = row("fromenv");
    assert_eq!(fromenv["credential"]["source"], "env");
    assert_eq!(fromenv["credential"]["id"], "PROV_TEST_KEY");
    assert_eq!(fromenv["credential"]["available"], true);
    assert_eq!(row("unset")["credential"]["available"], false);
    assert_eq!(row("keyless")["credential"]["source"], "none");
    // Models the agents use count as the provider's models.
    assert_eq!(row("keyless")["models"], serde_json::json!(["agent-model"]));
    // A built-in provider an agent uses is listed with its key variable.
    let anth = row("anthropic");
    assert_eq!(anth["implicit"], true);
    assert_eq!(anth["credential"]["id"], "ANTHROPIC_API_KEY");
    assert_eq!(anth["credential"]["available"], false);
    assert_eq!(anth["models"], serde_json::json!(["claude-x"]));

    let out = cli(&dir, &["providers", "list"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("credential: inline in the config file"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("credential: env ${PROV_TEST_KEY} (set)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("credential: env ${PROV_UNSET_KEY} (not set)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("models:     m1, m2"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_test_reports_each_failure_class() {
    let open = mock(MockOptions::default()).await;
    let keyed = mock(MockOptions {
        api_key: Some(GOOD_KEY.into()),
        ..MockOptions::default()
    })
    .await;
    let slow = mock(MockOptions {
        latency: Duration::from_secs(5),
        ..MockOptions::default()
    })
    .await;
    let closed = free_port();
    let tls_to_plain = open.openai_base_url().replace("http://", "https://");
    let dir = state_with(
        &format!(
            r#"ok: {{ baseUrl: "{open}", api: "openai-completions", models: [{{ id: "mock-model" }}] }},
               goodkey: {{ baseUrl: "{keyed}", api: "openai-completions", apiKey: "{GOOD_KEY}", models: [{{ id: "mock-model" }}] }},
               badkey: {{ baseUrl: "{keyed}", api: "openai-completions", apiKey: "{BAD_KEY}", models: [{{ id: "mock-model" }}] }},
               anthbad: {{ baseUrl: "{keyed_root}", api: "anthropic-messages", apiKey: "{BAD_KEY}", models: [{{ id: "claude-mock" }}] }},
               // The fail-404 directive: the mock answers 404 in the API error JSON, as for an unknown model.
               nomodel: {{ baseUrl: "{open}", api: "openai-completions", models: [{{ id: "mock-fail-404" }}] }},
               refused: {{ baseUrl: "http://127.0.0.1:{closed}/v1", api: "openai-completions", models: [{{ id: "m" }}] }},
               dns: {{ baseUrl: "http://nonexistent.invalid/v1", api: "openai-completions", models: [{{ id: "m" }}] }},
               tls: {{ baseUrl: "{tls_to_plain}", api: "openai-completions", models: [{{ id: "m" }}] }},
               slow: {{ baseUrl: "{slow}", api: "openai-responses", models: [{{ id: "mock-model" }}] }},
               unsetkey: {{ baseUrl: "{open}", api: "openai-completions", apiKey: "${{PROV_NOT_SET_ANYWHERE}}", models: [{{ id: "m" }}] }},
               bare: {{ baseUrl: "{open}", api: "openai-completions" }}"#,
            open = open.openai_base_url(),
            keyed = keyed.openai_base_url(),
            keyed_root = keyed.base_url(),
            slow = slow.openai_base_url(),
        ),
        "",
    );
    let out = cli(
        &dir,
        &["providers", "test", "--timeout", "1500", "--json"],
        &[],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    for id in ["ok", "goodkey"] {
        let r = result_for(&v, id);
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["model"], "mock-model");
        assert!(r["latencyMs"].is_u64(), "{r}");
    }
    let class = |id: &str| result_for(&v, id)["error"]["class"].clone();
    assert_eq!(class("badkey"), "auth");
    assert_eq!(result_for(&v, "badkey")["error"]["status"], 401);
    assert_eq!(class("anthbad"), "auth");
    assert_eq!(class("nomodel"), "model-not-found");
    assert_eq!(result_for(&v, "nomodel")["error"]["status"], 404);
    assert_eq!(class("refused"), "connection-refused");
    assert_eq!(class("dns"), "dns");
    assert_eq!(class("tls"), "tls");
    assert_eq!(class("slow"), "timeout");
    assert_eq!(class("unsetkey"), "credential");
    assert!(
        result_for(&v, "unsetkey")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PROV_NOT_SET_ANYWHERE"),
        "{v}"
    );
    assert_eq!(class("bare"), "no-model");
    // Every failure says what to do.
    for r in v["results"].as_array().unwrap() {
        if r["ok"] == false {
            assert!(r["fix"].as_str().is_some_and(|f| !f.is_empty()), "{r}");
        }
    }
    // The right key reached the keyed server; the requests were real.
    assert!(
        keyed.requests().iter().any(|r| r["model"] == "mock-model"),
        "{:?}",
        keyed.requests()
    );

    // Text: one ✓/✗ line per provider with the fix under failures; --provider and --model.
    let out = cli(&dir, &["providers", "test", "--provider", "badkey"], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("✗ badkey/mock-model: authentication failed (bad key) (HTTP 401)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    fix: set a valid key in models.providers.badkey.apiKey"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 tested, 1 failed"), "{}", out.stdout);
    let out = cli(
        &dir,
        &[
            "providers",
            "test",
            "--provider",
            "bare",
            "--model",
            "mock-model",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("✓ bare/mock-model: answered in "),
        "{}",
        out.stdout
    );
    let out = cli(&dir, &["providers", "test", "--provider", "nope"], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("unknown provider \"nope\"") && out.stderr.contains("badkey"),
        "{}",
        out.stderr
    );
}

#[test]
fn doctor_check_env_lists_references_and_gateway_variables_without_values() {
    let dir = TempDir::new("doctor-env");
    std::fs::write(
        dir.path().join("openclaw.json"),
        r#"{ gateway: { mode: "local", auth: { token: "${DOC_GW_TOKEN}" } },
             models: { providers: {
               a: { baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions", apiKey: "${DOC_SET_KEY}" },
               b: { baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions", apiKey: { source: "env", id: "DOC_REF_KEY" } },
             } },
             agents: { defaults: { model: "anthropic/claude-x" } } }"#,
    )
    .unwrap();
    let env = [
        ("DOC_SET_KEY", GOOD_KEY),
        ("OPENCLAW_GATEWAY_PASSWORD", BAD_KEY),
    ];
    let out = cli(&dir, &["doctor", "--check-env"], &env);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let text = &out.stdout;
    assert!(
        text.contains("✓ Env DOC_SET_KEY: set (used by models.providers.a.apiKey)"),
        "{text}"
    );
    assert!(
        text.contains("✗ Env DOC_GW_TOKEN: not set, but used by gateway.auth.token"),
        "{text}"
    );
    assert!(
        text.contains("✗ Env DOC_REF_KEY: not set, but used by models.providers.b.apiKey"),
        "{text}"
    );
    assert!(
        text.contains("✗ Env ANTHROPIC_API_KEY: not set, but used by built-in provider anthropic"),
        "{text}"
    );
    assert!(text.contains("    fix: export DOC_GW_TOKEN=…"), "{text}");
    // The gateway's own variables, set or not, never with their values.
    assert!(
        text.contains("✓ Env OPENCLAW_GATEWAY_PASSWORD: set (optional:"),
        "{text}"
    );
    assert!(
        text.contains("✓ Env OPENCLAW_SHUTDOWN_GRACE_MS: not set (optional:"),
        "{text}"
    );
    assert!(text.contains("checks: 3 failed"), "{text}");

    let out = cli(&dir, &["doctor", "--check-env", "--json"], &env);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let status = |id: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {v}"))["status"]
            .clone()
    };
    assert_eq!(status("env.DOC_SET_KEY"), "ok");
    assert_eq!(status("env.DOC_REF_KEY"), "fail");
    assert_eq!(status("env.OPENCLAW_GATEWAY_TOKEN"), "ok");

    // With every referenced variable set, the check passes.
    let all = [
        ("DOC_SET_KEY", GOOD_KEY),
        ("DOC_GW_TOKEN", "doc-gw-token-value-1234567"),
        ("DOC_REF_KEY", BAD_KEY),
        ("ANTHROPIC_API_KEY", "anthropic-value-987654"),
    ];
    let out = cli(&dir, &["doctor", "--check-env"], &all);
    assert_eq!(out.code, 0, "{}", out.stdout);
    for (_, value) in all {
        assert!(!out.stdout.contains(value), "{}", out.stdout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_provider_runs_the_probe_as_checks() {
    let keyed = mock(MockOptions {
        api_key: Some(GOOD_KEY.into()),
        ..MockOptions::default()
    })
    .await;
    let dir = state_with(
        &format!(
            r#"good: {{ baseUrl: "{b}", api: "openai-completions", apiKey: "{GOOD_KEY}" }},
               bad: {{ baseUrl: "{b}", api: "openai-completions", apiKey: "{BAD_KEY}" }},
               tls: {{ baseUrl: "{tls}", api: "openai-completions" }}"#,
            b = keyed.openai_base_url(),
            tls = keyed.openai_base_url().replace("http://", "https://"),
        ),
        "",
    );
    let out = cli(
        &dir,
        &["doctor", "--provider", "good", "--model", "mock-model"],
        &[],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("✓ Provider good/mock-model: answered in "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 checks: 0 failed"), "{}", out.stdout);
    let n = keyed.requests().len();
    assert!(n >= 1, "no request reached the provider");

    let out = cli(
        &dir,
        &["doctor", "--provider", "bad", "--model", "mock-model"],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("✗ Provider bad/mock-model: authentication failed (bad key) (HTTP 401)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    fix: set a valid key in models.providers.bad.apiKey"),
        "{}",
        out.stdout
    );

    let out = cli(&dir, &["doctor", "--provider", "absent", "--json"], &[]);
    assert_eq!(out.code, 1);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let c = &v["checks"][0];
    assert_eq!(c["id"], "provider.absent.test");
    assert_eq!(c["status"], "fail");
    assert!(c["detail"].as_str().unwrap().contains("bad, good"), "{c}");
    // A server that closes on our TLS handshake fails the check; it does not kill doctor.
    let out = cli(&dir, &["doctor", "--provider", "tls", "--model", "m"], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("✗ Provider tls/m: TLS error"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    fix: if the server speaks plain HTTP use http://"),
        "{}",
        out.stdout
    );

    // A built-in provider can be named without configuring it; its key variable is named.
    let out = cli(
        &dir,
        &["doctor", "--provider", "openai", "--model", "gpt-4o"],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(
            "✗ Provider openai/gpt-4o: credential not available: OPENAI_API_KEY is not set"
        ),
        "{}",
        out.stdout
    );
    // --model needs --provider; --fix does not combine with the focused runs.
    let out = cli(&dir, &["doctor", "--model", "m"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = cli(&dir, &["doctor", "--check-env", "--fix"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}
