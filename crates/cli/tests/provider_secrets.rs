//! `openclaw config get|list` never print a provider header value: headers carry proxy
//! and gateway credentials whatever they are called.

mod common;

use common::*;
use serde_json::{Value, json};

const HEADER_SECRET: &str = "hdr-cli-secret-6161";
const REDACTED: &str = "__OPENCLAW_REDACTED__";

fn config_dir() -> TempDir {
    let dir = TempDir::new("hdr-cli");
    std::fs::write(
        dir.path().join("openclaw.json"),
        format!(
            r#"{{ gateway: {{ mode: "local" }},
                 models: {{ providers: {{ proxy: {{
                   baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions",
                   headers: {{ "X-Proxy-Auth": "{HEADER_SECRET}", "X-Ref": {{ source: "env", id: "PROXY_REF" }} }},
                 }} }} }} }}"#
        ),
    )
    .unwrap();
    dir
}

/// Runs the CLI offline: the port points nowhere, so no running gateway is involved.
fn cli(dir: &TempDir, args: &[&str]) -> CliOut {
    let port = free_port().to_string();
    let out = cli_in(
        dir.path(),
        args,
        &[("OPENCLAW_GATEWAY_PORT", port.as_str())],
    );
    assert_eq!(
        out.code, 0,
        "{args:?}\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out
}

#[test]
fn config_get_and_list_redact_provider_headers() {
    let dir = config_dir();
    for args in [
        &["config", "get", "models"][..],
        &["config", "get", "models", "--json"],
        &["config", "get", "models.providers.proxy.headers"],
        &["config", "list"],
    ] {
        let out = cli(&dir, args);
        assert!(
            !out.stdout.contains(HEADER_SECRET) && !out.stderr.contains(HEADER_SECRET),
            "{args:?} shows the header value:\n{}",
            out.stdout
        );
        assert!(out.stdout.contains(REDACTED), "{args:?}: {}", out.stdout);
    }
    let out = cli(&dir, &["config", "get", "models", "--json"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let headers = &v["providers"]["proxy"]["headers"];
    assert_eq!(headers["X-Proxy-Auth"], REDACTED);
    // A SecretRef names where the value lives and is shown as written.
    assert_eq!(
        headers["X-Ref"],
        json!({"source": "env", "id": "PROXY_REF"})
    );
    assert!(out.stderr.contains("--show-secrets"), "{}", out.stderr);

    // Asked for explicitly, the value is there.
    let out = cli(&dir, &["config", "get", "models", "--show-secrets"]);
    assert!(out.stdout.contains(HEADER_SECRET), "{}", out.stdout);
}
