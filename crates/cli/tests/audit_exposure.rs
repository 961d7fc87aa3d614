//! `security audit` on open exposure: channels anyone can reach, browser origins left
//! open, provider headers kept in plain text.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::Value;

const STRONG: &str = "audit-exposure-token-0123456789abcdef";

fn audit_of(tag: &str, config: &str) -> (i32, Value) {
    let dir = TempDir::new(tag);
    let cfg = dir.path().join("openclaw.json");
    std::fs::write(&cfg, config).unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // No gateway runs: the probe part of the audit is not what is tested here.
    let out = cli_in(
        dir.path(),
        &["security", "audit", "--json"],
        &[("CORP_KEY", "from-the-environment")],
    );
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr));
    (out.code, v)
}

fn findings(v: &Value, severity: &str) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["checkId"].as_str().unwrap().to_owned())
        .collect()
}

fn base(extra: &str) -> String {
    format!(r#"{{ gateway: {{ mode: "local", auth: {{ token: "{STRONG}" }} }}, {extra} }}"#)
}

#[test]
fn open_telegram_policies_are_critical() {
    let (code, v) = audit_of(
        "aud-open",
        &base(
            r#"channels: { telegram: { botToken: "123:abc", dmPolicy: "open", allowFrom: ["*"],
                                       groupPolicy: "open", requireMention: false } }"#,
        ),
    );
    let critical = findings(&v, "critical");
    for id in ["channels.telegram.dm.open", "channels.telegram.groups.open"] {
        assert!(critical.contains(&id.to_owned()), "{id} missing: {v:#}");
    }
    assert_ne!(code, 0, "critical findings fail the audit");
    // Consistent open policy: no "open_invalid" warning.
    assert!(!findings(&v, "warn").contains(&"channels.telegram.dm.open_invalid".to_owned()));

    let (_, v) = audit_of(
        "aud-wild",
        &base(r#"channels: { telegram: { botToken: "123:abc", allowFrom: ["*"] } }"#),
    );
    assert!(
        findings(&v, "critical").contains(&"channels.telegram.allowFrom.wildcard".to_owned()),
        "{v:#}"
    );

    // The defaults (allowlist, mention gating) raise none of these.
    let (_, v) = audit_of(
        "aud-closed",
        &base(r#"channels: { telegram: { botToken: "123:abc", allowFrom: [42] } }"#),
    );
    let all: Vec<String> = ["critical", "warn"]
        .iter()
        .flat_map(|s| findings(&v, s))
        .collect();
    assert!(
        !all.iter().any(|id| id.starts_with("channels.telegram")),
        "{all:?}"
    );
}

#[test]
fn an_account_override_is_audited_under_its_own_path() {
    let (_, v) = audit_of(
        "aud-acct",
        &base(
            r#"channels: { telegram: { accounts: { support: { botToken: "1:a", dmPolicy: "open" } } } }"#,
        ),
    );
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["checkId"] == "channels.telegram.dm.open")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("channels.telegram.accounts.support.dmPolicy"),
        "{f}"
    );
    assert!(findings(&v, "warn").contains(&"channels.telegram.dm.open_invalid".to_owned()));
}

#[test]
fn wildcard_origins_and_plaintext_provider_headers_are_reported() {
    let (_, v) = audit_of(
        "aud-origins",
        &base(
            r#"models: { providers: { corp: { baseUrl: "https://llm.example/v1", api: "openai-completions",
                                              headers: { "X-Api-Key": "plain-secret-value", "X-Env": "${CORP_KEY}" } } } }"#,
        ),
    );
    let warn = findings(&v, "warn");
    assert!(
        warn.contains(&"models.providers.headers_plaintext".to_owned()),
        "{v:#}"
    );
    let detail = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["checkId"] == "models.providers.headers_plaintext")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.contains("models.providers.corp.headers.X-Api-Key"),
        "{detail}"
    );
    assert!(
        !detail.contains("X-Env"),
        "an env reference is not plain text: {detail}"
    );
    assert!(
        !v.to_string().contains("plain-secret-value"),
        "never the value"
    );

    let (_, v) = audit_of(
        "aud-star",
        &format!(
            r#"{{ gateway: {{ mode: "local", auth: {{ token: "{STRONG}" }}, controlUi: {{ allowedOrigins: ["*"] }} }} }}"#
        ),
    );
    assert!(
        findings(&v, "warn").contains(&"gateway.control_ui.allowed_origins_wildcard".to_owned()),
        "{v:#}"
    );
}
