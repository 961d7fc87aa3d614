//! Server-wide options, per-request directives, accounting and lifecycle.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use openclaw_mock_provider::MockOptions;
use serde_json::json;

#[tokio::test]
async fn api_key_is_required_when_configured() {
    let m = mock_with(MockOptions {
        api_key: Some("sk-test".into()),
        ..Default::default()
    })
    .await;
    let url = format!("{}/chat/completions", m.openai_base_url());
    let body = chat_body("m", "x");
    for auth in [None, Some("Bearer wrong")] {
        let mut req = client().post(&url).json(&body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let (status, v) = json_of(req.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(v["error"]["type"], "authentication_error");
        assert_eq!(v["error"]["code"], serde_json::Value::Null);
    }
    let r = client()
        .post(&url)
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .get(format!("{}/models", m.openai_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Anthropic uses x-api-key, not a bearer token.
    let a_url = format!("{}/v1/messages", m.base_url());
    let a_body =
        json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    let r = client()
        .post(&a_url)
        .header("anthropic-version", "2023-06-01")
        .bearer_auth("sk-test")
        .json(&a_body)
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 401);
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
    );
    let r = client()
        .post(&a_url)
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "sk-test")
        .json(&a_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn fail_directive_and_retry_after() {
    let m = mock().await;
    let r = openai(&m, "/chat/completions", chat_body("mock-fail-500", "x")).await;
    assert!(r.headers().get("retry-after").is_none());
    let (status, v) = json_of(r).await;
    assert_eq!(status, 500);
    assert_eq!(v["error"]["type"], "server_error");
    assert_eq!(v["error"]["param"], serde_json::Value::Null);

    let r = openai(&m, "/chat/completions", chat_body("mock-fail-429", "x")).await;
    assert_eq!(r.headers()["retry-after"], "1");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 429);
    assert_eq!(v["error"]["type"], "rate_limit_error");

    let r = openai(
        &m,
        "/chat/completions",
        chat_body("mock-fail-429+retry-7", "x"),
    )
    .await;
    assert_eq!(r.headers()["retry-after"], "7");

    // Failures still count as requests and are logged, but are not "completed".
    assert_eq!(m.stats.requests.load(Ordering::Relaxed), 3);
    assert_eq!(m.stats.completed.load(Ordering::Relaxed), 0);
    assert_eq!(m.stats.cancelled.load(Ordering::Relaxed), 0);
    assert_eq!(m.requests().len(), 3);
}

#[tokio::test]
async fn fail_status_option_applies_to_every_route() {
    let m = mock_with(MockOptions {
        fail_status: Some(503),
        ..Default::default()
    })
    .await;
    let (status, v) = json_of(openai(&m, "/chat/completions", chat_body("m", "x")).await).await;
    assert_eq!(status, 503);
    assert_eq!(v["error"]["type"], "server_error");
    let (status, _) =
        json_of(openai(&m, "/embeddings", json!({"model": "e", "input": "x"})).await).await;
    assert_eq!(status, 503);
    let (status, v) = json_of(
        anthropic(
            &m,
            json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(v["error"]["type"], "api_error");
}

#[tokio::test]
async fn failfirst_fails_once_per_model_string() {
    let m = mock().await;
    let statuses = async |model: &str| {
        let mut out = Vec::new();
        for _ in 0..2 {
            let r = openai(&m, "/chat/completions", chat_body(model, "x")).await;
            out.push(r.status().as_u16());
        }
        out
    };
    assert_eq!(statuses("mock-failfirst-503").await, [503, 200]);
    assert_eq!(statuses("mock-failfirst-503+a").await, [503, 200]);
    assert_eq!(statuses("mock-failfirst-429").await, [429, 200]);
}

#[tokio::test]
async fn slow_directive_and_latency_option() {
    let m = mock().await;
    let started = Instant::now();
    let r = openai(&m, "/chat/completions", chat_body("m", "x")).await;
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "default is instant"
    );

    let started = Instant::now();
    let r = openai(&m, "/chat/completions", chat_body("mock-slow-300", "x")).await;
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let m = mock_with(MockOptions {
        latency: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let r = openai(&m, "/chat/completions", chat_body("m", "x")).await;
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn chunk_delay_spaces_out_content() {
    let m = mock().await;
    let mut body = chat_body("mock-chunkdelay-100", "a b c");
    body["stream"] = json!(true);
    let started = Instant::now();
    let events = sse_of(openai(&m, "/chat/completions", body).await).await;
    // Four content chunks ("echo: ", "a ", "b ", "c"), each after a 100 ms pause.
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    assert_eq!(m.stats.completed.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn disconnect_directive_cuts_the_stream() {
    let m = mock().await;
    let mut body = chat_body("mock-disconnect-2", "one two three four");
    body["stream"] = json!(true);
    let r = openai(&m, "/chat/completions", body).await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut got = Vec::new();
    let mut failed = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body must end in an error, not cleanly");
    let text = String::from_utf8(got).unwrap();
    let events = parse_sse(&text);
    let contents: Vec<String> = events
        .iter()
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(contents, ["echo: ", "one "]);
    assert!(!text.contains("[DONE]"));
    assert!(!text.contains("finish_reason\":\"stop"));
    assert_eq!(m.stats.completed.load(Ordering::Relaxed), 0);
    assert_eq!(m.stats.cancelled.load(Ordering::Relaxed), 0);

    // The Anthropic stream is cut the same way, before any terminal event.
    let r = anthropic(
        &m,
        json!({"model": "mock-disconnect-1", "max_tokens": 5, "stream": true,
               "messages": [{"role": "user", "content": "x y"}]}),
    )
    .await;
    let mut stream = r.bytes_stream();
    let mut got = Vec::new();
    let mut failed = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => failed = true,
        }
    }
    assert!(failed);
    let text = String::from_utf8(got).unwrap();
    assert_eq!(text.matches("event: content_block_delta").count(), 1);
    assert!(!text.contains("message_stop"));
}

#[tokio::test]
async fn disconnect_option_applies_to_all_streams() {
    let m = mock_with(MockOptions {
        disconnect_after: Some(0),
        ..Default::default()
    })
    .await;
    let events = openai(
        &m,
        "/responses",
        json!({"model": "r", "input": "a b", "stream": true}),
    )
    .await;
    assert!(events.text().await.is_err(), "stream must be cut");
    // Non-streaming answers are unaffected.
    let (status, _) = json_of(openai(&m, "/chat/completions", chat_body("m", "x")).await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn client_going_away_is_counted_as_cancelled() {
    let m = mock().await;
    let mut body = chat_body(
        "mock-chunkdelay-200",
        "one two three four five six seven eight",
    );
    body["stream"] = json!(true);
    let r = openai(&m, "/chat/completions", body).await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(stream);
    eventually("cancelled == 1", || {
        m.stats.cancelled.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(m.stats.completed.load(Ordering::Relaxed), 0);
    assert_eq!(m.stats.requests.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn client_leaving_during_latency_is_cancelled_too() {
    let m = mock().await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = c
        .post(format!("{}/chat/completions", m.openai_base_url()))
        .json(&chat_body("mock-slow-5000", "x"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    drop(c);
    eventually("cancelled == 1", || {
        m.stats.cancelled.load(Ordering::Relaxed) == 1
    })
    .await;
}

#[tokio::test]
async fn request_log_keeps_the_last_hundred() {
    let m = mock().await;
    let c = client();
    for i in 0..105 {
        let r = c
            .post(format!("{}/chat/completions", m.openai_base_url()))
            .json(&chat_body(&format!("m{i}"), "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let log = m.requests();
    assert_eq!(log.len(), 100);
    assert_eq!(log[0]["model"], "m5");
    assert_eq!(log[99]["model"], "m104");
    assert_eq!(log[99]["messages"][0]["content"], "x");
    assert_eq!(m.stats.requests.load(Ordering::Relaxed), 105);
    assert_eq!(m.stats.completed.load(Ordering::Relaxed), 105);
}

#[tokio::test]
async fn concurrent_streams_complete() {
    let m = mock().await;
    let url = format!("{}/chat/completions", m.openai_base_url());
    let c = client();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move {
                let mut body = chat_body("m", &format!("n {i}"));
                body["stream"] = json!(true);
                let text = c
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert!(text.ends_with("data: [DONE]\n\n"));
                assert!(text.contains(&format!("\"{i}\"")));
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(m.stats.completed.load(Ordering::Relaxed), 32);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let m = mock().await;
    let addr = m.addr;
    assert_eq!(m.base_url(), format!("http://127.0.0.1:{}", addr.port()));
    assert_eq!(
        m.openai_base_url(),
        format!("http://127.0.0.1:{}/v1", addr.port())
    );
    m.shutdown();
    eventually("listener closed", || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
}

#[tokio::test]
async fn failures_can_echo_the_request_headers() {
    let m = mock_with(MockOptions::default()).await;
    let url = format!("{}/chat/completions", m.openai_base_url());
    let send = |model: &str| {
        client()
            .post(&url)
            .header("x-proxy-auth", "hdr-secret-1")
            .bearer_auth("sk-echoed")
            .json(&chat_body(model, "x"))
            .send()
    };
    let (status, v) = json_of(send("m+echoheaders").await.unwrap()).await;
    assert_eq!(status, 400);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("x-proxy-auth: hdr-secret-1"), "{msg}");
    assert!(msg.contains("authorization: Bearer sk-echoed"), "{msg}");
    let (status, v) = json_of(send("m+echoheaders+fail-503").await.unwrap()).await;
    assert_eq!(status, 503);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hdr-secret-1")
    );
    // Without the switch a failure says nothing about the request.
    let (status, v) = json_of(send("m+fail-503").await.unwrap()).await;
    assert_eq!(status, 503);
    assert!(!v.to_string().contains("hdr-secret-1"), "{v}");

    // Server-wide, for every simulated failure (Anthropic's shape too).
    let m = mock_with(MockOptions {
        fail_status: Some(500),
        echo_headers_on_error: true,
        ..Default::default()
    })
    .await;
    let r = client()
        .post(format!("{}/v1/messages", m.base_url()))
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "sk-ant-echoed")
        .json(
            &json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
        )
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 500);
    assert_eq!(v["type"], "error");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("x-api-key: sk-ant-echoed"), "{msg}");
}
