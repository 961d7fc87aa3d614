//! Edge cases the mock provider does not produce (in-stream error events, bodies that are
//! not event streams, huge error pages, echoed keys, body split into tiny TCP writes),
//! served by a throwaway raw-TCP HTTP/1.1 server that replays canned bytes.

use std::time::Duration;

use futures_util::StreamExt;
use openclaw_providers::{
    Api, ChatEvent, ChatRequest, FinishReason, Message, Provider, ProviderConfig, ProviderError,
    collect, http_client,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves exactly one request: reads it fully (so closing the socket does not reset the
/// connection), then writes `head` and the body in pieces of `piece` bytes, then closes.
async fn serve_once(head: String, body: Vec<u8>, piece: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        loop {
            let Ok(n) = sock.read(&mut tmp).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&tmp[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let headers = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = headers
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break;
                }
            }
        }
        let _ = sock.write_all(head.as_bytes()).await;
        for chunk in body.chunks(piece.max(1)) {
            if sock.write_all(chunk).await.is_err() {
                return;
            }
            let _ = sock.flush().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = sock.shutdown().await;
    });
    format!("http://{addr}")
}

fn head(status: &str, content_type: &str, extra: &str) -> String {
    format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\nconnection: close\r\n{extra}\r\n")
}

fn provider(api: Api, base: String, key: Option<&str>) -> Provider {
    let base_url = match api {
        Api::AnthropicMessages => base,
        _ => format!("{base}/v1"),
    };
    Provider::new(
        ProviderConfig {
            id: "raw".into(),
            api,
            base_url,
            api_key: key.map(str::to_string),
            headers: Vec::new(),
            request_timeout: Duration::from_secs(5),
            known_secrets: Vec::new(),
        },
        http_client(Duration::from_secs(2)),
    )
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![Message::user("hi")],
        ..Default::default()
    }
}

#[tokio::test]
async fn anthropic_overloaded_before_output_is_retryable() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let base = serve_once(head("200 OK", "text/event-stream", ""), body.into(), 7).await;
    let p = provider(Api::AnthropicMessages, base, None);
    let err = collect(p.chat(&request()).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Status { status: 529, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn anthropic_error_after_output_is_not_retryable() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let base = serve_once(head("200 OK", "text/event-stream", ""), body.into(), 5).await;
    let p = provider(Api::AnthropicMessages, base, None);
    let mut stream = p.chat(&request()).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        ChatEvent::TextDelta("Hi".into())
    );
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(err, ProviderError::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("Overloaded"));
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn byte_by_byte_delivery_with_crlf_and_no_done() {
    // An OpenAI-compatible server that uses CRLF, sends no [DONE] and no final blank line.
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Grüße\"}}]}\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}";
    let base = serve_once(head("200 OK", "text/event-stream", ""), body.into(), 1).await;
    let out = collect(
        provider(Api::OpenaiCompletions, base, None)
            .chat(&request())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(out.text, "Grüße");
    assert_eq!(out.finish, Some(FinishReason::Stop));
}

#[tokio::test]
async fn eof_without_terminal_event_is_protocol_error() {
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"partial\"}}]}\n\n";
    let base = serve_once(head("200 OK", "text/event-stream", ""), body.into(), 10).await;
    let err = collect(
        provider(Api::OpenaiCompletions, base, None)
            .chat(&request())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Protocol { message, .. } if message.contains("ended early")),
        "{err:?}"
    );

    let body = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n";
    let base = serve_once(head("200 OK", "text/event-stream", ""), body.into(), 10).await;
    let err = collect(
        provider(Api::OpenaiResponses, base, None)
            .chat(&request())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProviderError::Protocol { .. }), "{err:?}");
}

/// Several local OpenAI-compatible servers answer `stream: true` with one whole chat
/// completion: it is a complete answer, turned into the events a stream would give.
#[tokio::test]
async fn json_instead_of_stream_is_accepted() {
    let body = r#"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Let me look.","tool_calls":[{"id":"call_a","type":"function","function":{"name":"read","arguments":"{\"path\":\"a\"}"}},{"id":"call_b","type":"function","function":{"name":"ls","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}"#;
    let base = serve_once(
        head("200 OK", "application/json; charset=utf-8", ""),
        body.into(),
        16,
    )
    .await;
    let out = collect(
        provider(Api::OpenaiCompletions, base, None)
            .chat(&request())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(out.text, "Let me look.");
    assert_eq!(out.tool_calls.len(), 2);
    assert_eq!(out.tool_calls[0].id, "call_a");
    assert_eq!(out.tool_calls[0].arguments, r#"{"path":"a"}"#);
    assert_eq!(out.tool_calls[1].name, "ls");
    assert_eq!(out.finish, Some(FinishReason::ToolCalls));
    assert_eq!(
        out.usage.map(|u| (u.input_tokens, u.output_tokens)),
        Some((9, 4))
    );

    // An error document with a 200 is the upstream's error, not a protocol puzzle.
    let body = r#"{"error":{"message":"model is loading","type":"service_unavailable"}}"#;
    let base = serve_once(head("200 OK", "application/json", ""), body.into(), 64).await;
    let err = collect(
        provider(Api::OpenaiCompletions, base, None)
            .chat(&request())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Status { status: 503, message, .. } if message.contains("loading")),
        "{err:?}"
    );
    assert!(err.is_retryable());

    // JSON that is no answer at all is still reported clearly.
    let base = serve_once(
        head("200 OK", "application/json", ""),
        b"[1,2]".to_vec(),
        64,
    )
    .await;
    let err = provider(Api::OpenaiCompletions, base, None)
        .chat(&request())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ProviderError::Protocol { message, .. } if message.contains("expected an event stream")),
        "{err:?}"
    );
}

/// The same for whole Anthropic and Responses answers, including a tool call without input.
#[tokio::test]
async fn json_instead_of_stream_is_accepted_for_anthropic_and_responses() {
    let body = r#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Sure."},{"type":"tool_use","id":"toolu_1","name":"now","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":2}}"#;
    let base = serve_once(head("200 OK", "application/json", ""), body.into(), 64).await;
    let out = collect(
        provider(Api::AnthropicMessages, base, None)
            .chat(&request())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(out.text, "Sure.");
    assert_eq!(out.tool_calls[0].id, "toolu_1");
    assert_eq!(out.tool_calls[0].arguments, "{}");
    assert_eq!(out.finish, Some(FinishReason::ToolCalls));

    let body = r#"{"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[]}]},{"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{\"x\":1}","status":"completed"}],"usage":{"input_tokens":3,"output_tokens":6}}"#;
    let base = serve_once(head("200 OK", "application/json", ""), body.into(), 64).await;
    let out = collect(
        provider(Api::OpenaiResponses, base, None)
            .chat(&request())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(out.text, "Hi");
    assert_eq!(out.tool_calls[0].id, "call_1");
    assert_eq!(out.tool_calls[0].arguments, r#"{"x":1}"#);
    assert_eq!(out.finish, Some(FinishReason::ToolCalls));
    assert_eq!(out.usage.map(|u| u.output_tokens), Some(6));
}

/// Serves one request and reports its request line (`POST /path HTTP/1.1`).
async fn serve_capturing(body: &'static str) -> (String, tokio::sync::oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match sock.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        let _ = tx.send(text.lines().next().unwrap_or_default().to_owned());
        let _ = sock
            .write_all(head("200 OK", "text/event-stream", "").as_bytes())
            .await;
        let _ = sock.write_all(body.as_bytes()).await;
        let _ = sock.shutdown().await;
    });
    (format!("http://{addr}"), rx)
}

#[tokio::test]
async fn anthropic_base_url_with_or_without_v1() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    for suffix in ["", "/", "/v1", "/v1/"] {
        let (base, line) = serve_capturing(body).await;
        let p = provider(Api::AnthropicMessages, format!("{base}{suffix}"), None);
        collect(p.chat(&request()).await.unwrap()).await.unwrap();
        assert_eq!(
            line.await.unwrap(),
            "POST /v1/messages HTTP/1.1",
            "{suffix:?}"
        );
    }
}

#[tokio::test]
async fn huge_html_error_page_is_bounded_excerpt() {
    let body = format!(
        "<html><body>{}</body></html>",
        "Bad Gateway ".repeat(20_000)
    );
    let base = serve_once(
        head("502 Bad Gateway", "text/html", "retry-after: 3\r\n"),
        body.into_bytes(),
        8192,
    )
    .await;
    let err = provider(Api::OpenaiResponses, base, None)
        .chat(&request())
        .await
        .err()
        .unwrap();
    match &err {
        ProviderError::Status {
            status,
            message,
            retry_after,
            ..
        } => {
            assert_eq!(*status, 502);
            assert!(message.starts_with("<html><body>Bad Gateway"));
            assert!(message.chars().count() < 400, "{}", message.len());
            assert_eq!(*retry_after, Some(Duration::from_secs(3)));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
}

/// A provider that sends a secret header and was told of one more secret (say the
/// gateway's token) it must never repeat.
fn provider_with_secrets(api: Api, base: String) -> Provider {
    let base_url = match api {
        Api::AnthropicMessages => base,
        _ => format!("{base}/v1"),
    };
    Provider::new(
        ProviderConfig {
            id: "raw".into(),
            api,
            base_url,
            api_key: None,
            headers: vec![("X-Proxy-Auth".into(), "hdr-secret-4711".into())],
            request_timeout: Duration::from_secs(5),
            known_secrets: vec!["gw-token-4712".into()],
        },
        http_client(Duration::from_secs(2)),
    )
}

#[tokio::test]
async fn echoed_header_values_and_known_secrets_are_scrubbed() {
    let body = r#"{"error":{"message":"denied; you sent x-proxy-auth: hdr-secret-4711, and gw-token-4712 is not ours"}}"#;
    let base = serve_once(
        head("403 Forbidden", "application/json", ""),
        body.into(),
        16,
    )
    .await;
    let err = provider_with_secrets(Api::OpenaiCompletions, base)
        .chat(&request())
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("you sent x-proxy-auth: [redacted], and [redacted] is not ours"),
        "{text}"
    );

    // The same from an in-stream error event, after a 200.
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"saw hdr-secret-4711\"}}\n\n",
    );
    let base = serve_once(head("200 OK", "text/event-stream", ""), body.into(), 7).await;
    let p = provider_with_secrets(Api::AnthropicMessages, base);
    let err = collect(p.chat(&request()).await.unwrap())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("saw [redacted]"), "{text}");
    assert!(!text.contains("hdr-secret-4711"), "{text}");
}

#[tokio::test]
async fn echoed_key_is_scrubbed() {
    let key = "sk-live-abcdefghijklmnop";
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {key}","type":"invalid_request_error"}}}}"#
    );
    let base = serve_once(
        head("401 Unauthorized", "application/json", ""),
        body.into_bytes(),
        64,
    )
    .await;
    let err = provider(Api::OpenaiCompletions, base, Some(key))
        .chat(&request())
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(!text.contains(key), "{text}");
    assert!(!format!("{err:?}").contains(key));
    assert_eq!(
        text,
        "provider \"raw\": HTTP 401 from upstream: Incorrect API key provided: [redacted] (check models.providers.raw.apiKey)"
    );
}

#[tokio::test]
async fn invalid_header_config_fails_fast_without_network() {
    let p = Provider::new(
        ProviderConfig {
            id: "bad".into(),
            api: Api::OpenaiCompletions,
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: None,
            headers: vec![("x-token".into(), "line\nbreak".into())],
            request_timeout: Duration::from_secs(5),
            known_secrets: Vec::new(),
        },
        http_client(Duration::from_secs(1)),
    );
    let err = p.chat(&request()).await.err().unwrap();
    assert!(
        matches!(&err, ProviderError::Protocol { message, .. } if message.contains("x-token")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("line"));
}
