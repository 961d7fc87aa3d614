//! Provider header values are secrets: `config.get` does not show them, a SecretRef may
//! supply one, and an upstream that echoes the request headers (and so the API key and
//! every header value) in its error body gets none of them into the gateway's answers
//! (HTTP, RPC) or its log. The gateway is served in-process; the stand-in provider echoes.

use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_testkit::*;
use serde_json::{Value, json};

const TOKEN: &str = "provider-secrets-token-5149";
const API_KEY: &str = "sk-provider-key-5150";
const INLINE_HEADER: &str = "hdr-inline-secret-5151";
const FILE_HEADER: &str = "hdr-file-secret-5152";
const HOOK_TOKEN: &str = "hook-token-secret-5153";
const REDACTED: &str = "__OPENCLAW_REDACTED__";

/// Every secret of the config below.
const SECRETS: [&str; 5] = [TOKEN, API_KEY, INLINE_HEADER, FILE_HEADER, HOOK_TOKEN];

/// A gateway whose only model fails with a retryable 503 whose message lists the
/// request headers (the `echoheaders` directive), so the failure is both logged and
/// returned.
async fn gateway() -> (TestGateway, MockServer, TempDir) {
    let mock = openclaw_mock_provider::spawn(MockOptions {
        api_key: Some(API_KEY.into()),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let secrets = TempDir::new("hdr");
    let file = secrets.path().join("proxy-header");
    std::fs::write(&file, format!("{FILE_HEADER}\n")).unwrap();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ mock: {{
            baseUrl: "{}", api: "openai-completions", apiKey: "{API_KEY}",
            headers: {{ "X-Proxy-Auth": "{INLINE_HEADER}",
                        "X-From-File": {{ source: "file", id: "{}" }} }},
          }} }} }},
          agents: {{ defaults: {{ model: "mock/m+echoheaders+fail-503" }} }},
          hooks: {{ enabled: true, token: "{HOOK_TOKEN}" }},
        }}"#,
        mock.openai_base_url(),
        file.display()
    );
    (TestGateway::with_config(&cfg), mock, secrets)
}

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows {s:?}: {text}");
    }
}

#[tokio::test]
async fn config_get_redacts_provider_headers() {
    let (gw, _mock, _secrets) = gateway().await;
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.read"]), "test").await;
    let r = call(&mut ws, "c", "config.get", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_no_secret("config.get", &r.to_string());
    let p = &r["payload"]["config"]["models"]["providers"]["mock"];
    assert_eq!(p["headers"]["X-Proxy-Auth"], REDACTED, "{p}");
    assert_eq!(p["apiKey"], REDACTED, "{p}");
    // A reference is a pointer, shown as written.
    assert_eq!(p["headers"]["X-From-File"]["source"], "file", "{p}");
}

#[tokio::test]
async fn echoed_secrets_never_reach_answers_or_the_log() {
    let (gw, mock, _secrets) = gateway().await;

    // HTTP: the OpenAI-compatible API.
    let res = reqwest::Client::new()
        .post(gw.http("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "openclaw/main", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    assert!(status >= 500, "{status}: {body}");
    assert_no_secret("the HTTP answer", &body);
    // The upstream was reached with both headers (the file reference resolved to a
    // non-empty value), and what it echoed is there, scrubbed.
    assert!(body.contains("x-proxy-auth: [redacted]"), "{body}");
    assert!(body.contains("x-from-file: [redacted]"), "{body}");
    assert!(body.contains("authorization: Bearer [redacted]"), "{body}");

    // RPC: an agent run that fails the same way.
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let params = json!({"message": "hi", "idempotencyKey": "secrets-1"});
    let accepted = call(&mut ws, "a", "agent", params).await;
    assert_eq!(accepted["payload"]["status"], "accepted", "{accepted}");
    let mut frames = Vec::<Value>::new();
    let fin = loop {
        let v = next_json(&mut ws).await.expect("socket open");
        if v["type"] == "res" && v["id"] == "a" {
            break v;
        }
        frames.push(v);
    };
    let fin_text = fin.to_string();
    assert!(fin_text.contains("[redacted]"), "{fin_text}");
    assert_no_secret("the agent result", &fin_text);
    for f in &frames {
        assert_no_secret("an agent event", &f.to_string());
    }
    assert!(
        mock.stats
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );

    // The log has the failure, scrubbed.
    let log = gw.log_text();
    assert!(log.contains("model failed"), "{log}");
    assert!(log.contains("x-proxy-auth: [redacted]"), "{log}");
    assert_no_secret("the gateway log", &log);
}
