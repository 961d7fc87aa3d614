//! End-to-end tests of the three provider clients against `openclaw-mock-provider`, a
//! stand-in server that speaks the real wire formats.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use openclaw_mock_provider::{MockOptions, MockServer, spawn};
use openclaw_providers::{
    Api, ChatEvent, ChatRequest, FinishReason, Message, Provider, ProviderConfig, ProviderError,
    ToolCall, ToolChoice, ToolDef, collect, http_client,
};
use serde_json::{Value, json};

const APIS: [Api; 3] = [
    Api::OpenaiCompletions,
    Api::OpenaiResponses,
    Api::AnthropicMessages,
];

fn provider_with(server: &MockServer, api: Api, key: Option<&str>, timeout: Duration) -> Provider {
    let base_url = match api {
        Api::AnthropicMessages => server.base_url(),
        _ => format!("{}/", server.openai_base_url()), // trailing '/' must be tolerated
    };
    Provider::new(
        ProviderConfig {
            id: format!("mock-{api:?}").to_lowercase(),
            api,
            base_url,
            api_key: key.map(str::to_string),
            headers: vec![("x-test".into(), "1".into())],
            request_timeout: timeout,
            known_secrets: Vec::new(),
        },
        http_client(Duration::from_secs(2)),
    )
}

fn provider(server: &MockServer, api: Api) -> Provider {
    provider_with(server, api, None, Duration::from_secs(5))
}

fn request(model: &str, text: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        system: Some("You are a test.".into()),
        messages: vec![Message::user(text)],
        max_tokens: Some(64),
        ..Default::default()
    }
}

async fn server() -> MockServer {
    spawn(MockOptions::default()).await.expect("spawn mock")
}

#[tokio::test]
async fn text_streams_and_collects_for_all_apis() {
    let server = server().await;
    for api in APIS {
        let p = provider(&server, api);
        assert_eq!(p.api(), api);
        let mut stream = p
            .chat(&request("mock-model", "hello brave new world"))
            .await
            .unwrap_or_else(|e| panic!("{api:?}: {e}"));
        let mut deltas = Vec::new();
        let mut events = Vec::new();
        while let Some(ev) = stream.next().await {
            let ev = ev.unwrap_or_else(|e| panic!("{api:?}: {e}"));
            if let ChatEvent::TextDelta(t) = &ev {
                deltas.push(t.clone());
            }
            events.push(ev);
        }
        assert!(
            deltas.len() > 1,
            "{api:?}: expected several deltas, got {deltas:?}"
        );
        assert_eq!(deltas.concat(), "echo: hello brave new world", "{api:?}");
        assert_eq!(
            events.last(),
            Some(&ChatEvent::Finish(FinishReason::Stop)),
            "{api:?}"
        );
        assert!(
            matches!(events[events.len() - 2], ChatEvent::Usage(u) if u.output_tokens > 0 && u.input_tokens > 0),
            "{api:?}: {events:?}"
        );

        let out = collect(p.chat(&request("mock-model", "again")).await.unwrap())
            .await
            .unwrap();
        assert_eq!(out.text, "echo: again", "{api:?}");
        assert_eq!(out.finish, Some(FinishReason::Stop));
        assert!(out.tool_calls.is_empty());
        assert!(out.usage.is_some());
    }
}

#[tokio::test]
async fn tool_call_round_trip_for_all_apis() {
    let server = server().await;
    let tools = vec![ToolDef {
        name: "lookup".into(),
        description: Some("Looks things up".into()),
        parameters: json!({"type": "object", "properties": {"query": {"type": "string"}}}),
    }];
    for api in APIS {
        let p = provider(&server, api);
        let mut req = request("mock-tool", "find cats");
        req.tools = tools.clone();
        req.tool_choice = Some(ToolChoice::Auto);
        let first = collect(
            p.chat(&req)
                .await
                .unwrap_or_else(|e| panic!("{api:?}: {e}")),
        )
        .await
        .unwrap_or_else(|e| panic!("{api:?}: {e}"));
        assert_eq!(first.finish, Some(FinishReason::ToolCalls), "{api:?}");
        assert_eq!(first.tool_calls.len(), 1, "{api:?}: {first:?}");
        let call = &first.tool_calls[0];
        assert_eq!(call.name, "lookup");
        assert!(!call.id.is_empty());
        let args: Value = serde_json::from_str(&call.arguments).unwrap();
        assert_eq!(args, json!({"query": "find cats"}), "{api:?}");

        // Send the tool result back; the mock then answers with text quoting it.
        req.messages.push(Message {
            tool_calls: vec![ToolCall {
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            }],
            ..Message::assistant("")
        });
        req.messages
            .push(Message::tool_result(call.id.clone(), "cats are great"));
        let second = collect(
            p.chat(&req)
                .await
                .unwrap_or_else(|e| panic!("{api:?}: {e}")),
        )
        .await
        .unwrap_or_else(|e| panic!("{api:?}: {e}"));
        assert_eq!(second.finish, Some(FinishReason::Stop), "{api:?}");
        assert_eq!(
            second.text,
            format!("tool results: {}=cats are great", call.id),
            "{api:?}"
        );

        // What went over the wire carries the tool result in the API's own shape.
        let sent = server.requests().pop().unwrap();
        let wire = sent.to_string();
        match api {
            Api::OpenaiCompletions => assert!(wire.contains("\"role\":\"tool\"")),
            Api::OpenaiResponses => assert!(wire.contains("function_call_output")),
            Api::AnthropicMessages => assert!(wire.contains("tool_result")),
        }
        assert!(wire.contains(&call.id), "{api:?}");
    }
}

#[tokio::test]
async fn http_500_is_retryable_status() {
    let server = server().await;
    for api in APIS {
        let err = provider(&server, api)
            .chat(&request("mock-fail-500", "x"))
            .await
            .err()
            .unwrap_or_else(|| panic!("{api:?}: expected an error"));
        match &err {
            ProviderError::Status {
                status, message, ..
            } => {
                assert_eq!(*status, 500);
                assert!(!message.is_empty());
            }
            other => panic!("{api:?}: {other:?}"),
        }
        assert!(err.is_retryable());
        assert!(err.to_string().contains("HTTP 500"));
        assert!(err.provider().starts_with("mock-"));
    }
}

#[tokio::test]
async fn http_429_carries_retry_after() {
    let server = server().await;
    for api in APIS {
        let err = provider(&server, api)
            .chat(&request("mock-fail-429", "x"))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, ProviderError::Status { status: 429, .. }),
            "{err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)), "{api:?}");
    }
}

#[tokio::test]
async fn wrong_key_is_401_without_leaking_the_key() {
    let server = spawn(MockOptions {
        api_key: Some("right-key".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    for api in APIS {
        let secret = "sk-wrong-but-secret-key";
        let p = provider_with(&server, api, Some(secret), Duration::from_secs(5));
        let err = p.chat(&request("mock-model", "x")).await.err().unwrap();
        assert!(
            matches!(err, ProviderError::Status { status: 401, .. }),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        let text = err.to_string();
        assert!(text.contains("apiKey"), "{text}");
        assert!(!text.contains(secret) && !format!("{err:?}").contains(secret));
        // The right key works.
        let ok = provider_with(&server, api, Some("right-key"), Duration::from_secs(5));
        let out = collect(ok.chat(&request("mock-model", "hi")).await.unwrap())
            .await
            .unwrap();
        assert_eq!(out.text, "echo: hi");
    }
}

#[tokio::test]
async fn slow_headers_time_out() {
    let server = server().await;
    for api in APIS {
        let p = provider_with(&server, api, None, Duration::from_millis(300));
        let started = Instant::now();
        let err = p.chat(&request("mock-slow-3000", "x")).await.err().unwrap();
        assert!(
            matches!(
                err,
                ProviderError::Timeout {
                    stage: "headers",
                    ..
                }
            ),
            "{api:?}: {err:?}"
        );
        assert!(err.is_retryable());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

#[tokio::test]
async fn stalled_stream_times_out_not_retryable() {
    let server = server().await;
    for api in APIS {
        let p = provider_with(&server, api, None, Duration::from_millis(300));
        let stream = p
            .chat(&request("mock-chunkdelay-2000", "x y"))
            .await
            .unwrap();
        let err = collect(stream).await.err().unwrap();
        assert!(
            matches!(
                err,
                ProviderError::Timeout {
                    stage: "stream",
                    ..
                }
            ),
            "{api:?}: {err:?}"
        );
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn disconnect_mid_stream_is_protocol_error_after_deltas() {
    let server = server().await;
    for api in APIS {
        let mut stream = provider(&server, api)
            .chat(&request("mock-disconnect-2", "one two three four five"))
            .await
            .unwrap();
        let mut deltas = 0;
        let mut error = None;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ChatEvent::TextDelta(_)) => deltas += 1,
                Ok(ChatEvent::Finish(f)) => panic!("{api:?}: unexpected finish {f:?}"),
                Ok(_) => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        assert!(deltas >= 1, "{api:?}: no deltas before the disconnect");
        let err = error.unwrap_or_else(|| panic!("{api:?}: stream ended without error"));
        assert!(
            matches!(err, ProviderError::Protocol { .. }),
            "{api:?}: {err:?}"
        );
        assert!(!err.is_retryable());
        assert!(stream.next().await.is_none(), "error must be the last item");
    }
}

#[tokio::test]
async fn connection_refused_is_connect_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for api in APIS {
        let p = Provider::new(
            ProviderConfig {
                id: "down".into(),
                api,
                base_url: format!("http://{addr}/v1"),
                api_key: Some("sk-should-not-appear".into()),
                headers: Vec::new(),
                request_timeout: Duration::from_secs(5),
                known_secrets: Vec::new(),
            },
            http_client(Duration::from_secs(2)),
        );
        let err = p.chat(&request("m", "x")).await.err().unwrap();
        assert!(
            matches!(err, ProviderError::Connect { .. }),
            "{api:?}: {err:?}"
        );
        assert!(err.is_retryable());
        let text = err.to_string();
        assert!(text.starts_with("provider \"down\""), "{text}");
        assert!(!text.contains("sk-should-not-appear"));
    }
}

#[tokio::test]
async fn dropping_the_stream_cancels_upstream() {
    let server = server().await;
    for (i, api) in APIS.into_iter().enumerate() {
        let mut stream = provider(&server, api)
            .chat(&request(
                "mock-chunkdelay-100",
                "a b c d e f g h i j k l m n o p q r s t",
            ))
            .await
            .unwrap();
        // Wait for the first delta, then walk away.
        loop {
            match stream.next().await {
                Some(Ok(ChatEvent::TextDelta(_))) => break,
                Some(Ok(_)) => {}
                other => panic!("{api:?}: {other:?}"),
            }
        }
        drop(stream);
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.stats.cancelled.load(Ordering::Relaxed) < (i + 1) as u64 {
            assert!(
                Instant::now() < deadline,
                "{api:?}: mock never saw the cancellation"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn embeddings_in_input_order() {
    let server = server().await;
    let p = provider(&server, Api::OpenaiCompletions);
    let input: Vec<String> = ["alpha", "beta gamma", "alpha"]
        .into_iter()
        .map(String::from)
        .collect();
    let e = p.embed("mock-embed", &input).await.unwrap();
    assert_eq!(e.vectors.len(), 3);
    assert!(!e.vectors[0].is_empty());
    assert!(e.vectors.iter().all(|v| v.len() == e.vectors[0].len()));
    assert_eq!(e.vectors[0], e.vectors[2], "same text, same vector");
    assert_ne!(e.vectors[0], e.vectors[1]);
    assert_eq!(e.model, "mock-embed");
    assert!(e.usage.is_some_and(|u| u.input_tokens > 0));

    let sent = server.requests().pop().unwrap();
    assert_eq!(
        sent,
        json!({"model": "mock-embed", "input": ["alpha", "beta gamma", "alpha"]})
    );

    let empty = p.embed("mock-embed", &[]).await.unwrap();
    assert!(empty.vectors.is_empty());

    let err = provider(&server, Api::OpenaiResponses)
        .embed("mock-fail-503", &input)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ProviderError::Status { status: 503, .. }));

    let err = provider(&server, Api::AnthropicMessages)
        .embed("x", &input)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ProviderError::Unsupported { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn request_bodies_reach_upstream_as_mapped() {
    let server = server().await;
    for api in APIS {
        let mut req = request("mock-model", "hi");
        req.stop = vec!["STOP".into()];
        req.temperature = Some(0.2);
        collect(provider(&server, api).chat(&req).await.unwrap())
            .await
            .unwrap();
        let sent = server.requests().pop().unwrap();
        assert_eq!(sent["stream"], json!(true), "{api:?}");
        assert_eq!(sent["temperature"], json!(0.2), "{api:?}");
        match api {
            Api::OpenaiCompletions => {
                assert_eq!(sent["messages"][0]["role"], "system");
                assert_eq!(sent["stop"], json!(["STOP"]));
                assert_eq!(sent["max_completion_tokens"], 64);
            }
            Api::OpenaiResponses => {
                assert_eq!(sent["instructions"], "You are a test.");
                assert_eq!(sent["max_output_tokens"], 64);
                assert!(sent.get("stop").is_none());
            }
            Api::AnthropicMessages => {
                assert_eq!(sent["system"], "You are a test.");
                assert_eq!(sent["stop_sequences"], json!(["STOP"]));
                assert_eq!(sent["max_tokens"], 64);
            }
        }
    }
}
