//! HTTP handlers driven through `router(state).oneshot(request)`: no socket, the state
//! built exactly as the server builds it. Each test pins a status and a body shape that an
//! OpenAI client, a probe or a webhook sender parses.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use openclaw_gateway::http::router;
use openclaw_testkit::TestState;
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "router-token-0123456789";

fn config(extra: &str) -> String {
    format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }},
                     http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions" }} }} }},
          agents: {{ defaults: {{ model: "mock/small" }} }},
          {extra}
        }}"#
    )
}

/// Sends one request and returns (status, headers, body as JSON).
async fn send(state: &TestState, req: Request<Body>) -> (StatusCode, header::HeaderMap, Value) {
    let res = router(state.app.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, headers, body)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn post(path: &str, token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(body.into()).unwrap()
}

#[tokio::test]
async fn probes_answer_with_security_headers() {
    let state = TestState::new(&config(""));
    let (status, headers, body) = send(&state, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"ok": true, "status": "live"}));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );

    let (status, _, body) = send(&state, get("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["failing"], json!([]));

    let (status, _, body) = send(&state, get("/startupz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"ok": true, "status": "started"}));

    // Draining flips readiness and start-up to 503 with the reason named.
    state.app.begin_shutdown(30_000);
    let (status, _, body) = send(&state, get("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["draining"]));
    let (status, _, body) = send(&state, get("/startup")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "draining");
}

#[tokio::test]
async fn models_need_the_bearer_token() {
    let state = TestState::new(&config(""));
    let (status, _, body) = send(&state, get("/v1/models")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": {"message": "Unauthorized", "type": "unauthorized"}})
    );

    let req = Request::get("/v1/models")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    // Models are the agents, addressed the way OpenClaw clients name them.
    assert_eq!(ids, ["openclaw", "openclaw/default", "openclaw/main"]);

    let req = Request::get("/v1/models/openclaw/main")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], "openclaw/main");

    let req = Request::get("/v1/models/nope%2Fmissing")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(body["error"]["param"], "model");
}

#[tokio::test]
async fn chat_body_errors_have_the_openai_shape() {
    let state = TestState::new(&config(""));
    let (status, _, body) = send(
        &state,
        post("/v1/chat/completions", Some(TOKEN), "{not json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON body"),
        "{body}"
    );
    assert!(body["error"].get("param").is_some() && body["error"]["code"].is_null());

    let (status, _, body) = send(&state, post("/v1/chat/completions", Some(TOKEN), "[1]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["message"],
        "Invalid JSON body: expected an object"
    );

    // Past the cap: 413, and the body beyond it is never parsed.
    let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(21 * 1024 * 1024));
    let (status, _, body) = send(&state, post("/v1/chat/completions", Some(TOKEN), huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["type"], "invalid_request_error");

    // Unauthenticated requests never reach the body at all.
    let (status, _, _) = send(&state, post("/v1/chat/completions", None, "{not json")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_switched_off_endpoint_is_not_found_before_auth() {
    let state = TestState::new(&config(""));
    let (status, _, body) = send(&state, post("/v1/responses", None, "{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["type"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gateway.http.endpoints"),
        "{body}"
    );
}

#[tokio::test]
async fn tools_invoke_answers_in_its_own_shape() {
    let state = TestState::new(&config(""));
    let (status, _, body) = send(
        &state,
        post("/tools/invoke", Some(TOKEN), r#"{"tool":"agents_list"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true);
    assert!(body["result"].is_object(), "{body}");

    let (status, _, body) = send(
        &state,
        post("/tools/invoke", Some(TOKEN), r#"{"tool":"exec"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"ok": false, "error": {"type": "not_found", "message": "Tool not available: exec"}})
    );

    let (status, _, body) = send(&state, post("/tools/invoke", Some(TOKEN), r#"{}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["type"], "invalid_request");

    let (status, _, _) = send(
        &state,
        post("/tools/invoke", None, r#"{"tool":"agents_list"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hooks_answer_in_their_own_shape() {
    let state = TestState::new(&config(
        r#"hooks: { enabled: true, token: "hook-token-0123456789" },"#,
    ));
    let (status, _, body) = send(&state, get("/hooks/wake")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({"ok": false, "error": "use POST"}));

    let (status, _, body) = send(&state, post("/hooks/wake", Some("wrong"), "{}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"ok": false, "error": "Unauthorized"}));

    let (status, _, body) = send(
        &state,
        post("/hooks/wake?token=hook-token-0123456789", None, "{}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("query string"));

    let (status, _, body) = send(
        &state,
        post("/hooks/wake", Some("hook-token-0123456789"), "[]"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"ok": false, "error": "body must be a JSON object"})
    );

    // Off unless configured: the plain not-found of any unknown route.
    let off = TestState::new(&config(""));
    let (status, _, body) = send(&off, post("/hooks/wake", None, "{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["type"], "not_found");
}
