//! `Authorization: Bearer` parsing on every HTTP surface that reads it (the OpenAI API and
//! the hooks), driven through `router(state).oneshot(request)`. RFC 9110 makes the scheme
//! case-insensitive, so `BEARER` and `bearer` must work exactly like `Bearer`, and the
//! credential may follow after any run of spaces.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use openclaw_gateway::http::router;
use openclaw_testkit::TestState;
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "bearer-token-0123456789";
const HOOK_TOKEN: &str = "bearer-hook-token-0123456789";

/// Spellings of the header that must be accepted for `credential`.
fn accepted(credential: &str) -> Vec<String> {
    vec![
        format!("Bearer {credential}"),
        format!("bearer {credential}"),
        format!("BEARER {credential}"),
        format!("bEaReR {credential}"),
        format!("Bearer    {credential}"),
        format!("Bearer \t {credential}  "),
    ]
}

/// Spellings that carry no bearer credential (or the wrong one).
fn refused(credential: &str) -> Vec<String> {
    vec![
        format!("Basic {credential}"),
        format!("Bearer{credential}"),
        format!("Bearerx {credential}"),
        "Bearer".to_owned(),
        "Bearer    ".to_owned(),
        format!("Bearer {credential} extra"),
    ]
}

fn state(hooks: bool) -> TestState {
    let hooks = if hooks {
        format!(r#"hooks: {{ enabled: true, token: "{HOOK_TOKEN}" }},"#)
    } else {
        String::new()
    };
    TestState::new(&format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/small" }} }},
          {hooks}
        }}"#
    ))
}

async fn send(state: &TestState, req: Request<Body>) -> (StatusCode, Value) {
    let res = router(state.app.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

fn models(authorization: &str) -> Request<Body> {
    Request::get("/v1/models")
        .header(header::AUTHORIZATION, authorization)
        .body(Body::empty())
        .unwrap()
}

fn wake(authorization: &str) -> Request<Body> {
    // `[]` is refused after authentication with its own 400, so the status tells whether
    // the credential was accepted without starting an agent run.
    Request::post("/hooks/wake")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, authorization)
        .body(Body::from("[]"))
        .unwrap()
}

#[tokio::test]
async fn models_accept_the_scheme_in_any_case() {
    let state = state(false);
    for auth in accepted(TOKEN) {
        let (status, body) = send(&state, models(&auth)).await;
        assert_eq!(status, StatusCode::OK, "{auth:?}: {body}");
        assert_eq!(body["object"], "list", "{auth:?}");
    }
    for auth in refused(TOKEN) {
        let (status, body) = send(&state, models(&auth)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {body}");
    }
    // The scheme's case never makes a wrong credential right.
    let (status, _) = send(&state, models("BEARER wrong-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hooks_accept_the_scheme_in_any_case() {
    let state = state(true);
    for auth in accepted(HOOK_TOKEN) {
        let (status, body) = send(&state, wake(&auth)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{auth:?}: {body}");
        assert_eq!(
            body,
            json!({"ok": false, "error": "body must be a JSON object"}),
            "{auth:?}"
        );
    }
    for auth in refused(HOOK_TOKEN) {
        let (status, body) = send(&state, wake(&auth)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {body}");
    }
    let (status, _) = send(&state, wake("bearer wrong-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
