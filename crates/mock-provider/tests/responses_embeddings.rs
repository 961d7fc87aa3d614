//! OpenAI Responses, Embeddings and the model list.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn responses_non_streaming() {
    let m = mock().await;
    let (status, v) = json_of(
        openai(
            &m,
            "/responses",
            json!({"model": "r1", "input": "respond to me", "instructions": "be brief"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(v["object"], "response");
    assert!(v["created_at"].as_u64().is_some());
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "r1");
    assert_eq!(v["instructions"], "be brief");
    let item = &v["output"][0];
    assert_eq!(item["type"], "message");
    assert!(item["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(item["status"], "completed");
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["text"], "echo: respond to me");
    assert_eq!(item["content"][0]["annotations"], json!([]));
    assert_eq!(v["usage"]["input_tokens"], 5);
    assert_eq!(v["usage"]["output_tokens"], 4);
    assert_eq!(v["usage"]["total_tokens"], 9);
}

#[tokio::test]
async fn responses_items_input_and_tool_call() {
    let m = mock().await;
    let body = json!({
        "model": "mock-tool",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "older"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "what time"}]}
        ],
        "tools": [{"type": "function", "name": "clock", "parameters": {}}]
    });
    let (_, v) = json_of(openai(&m, "/responses", body).await).await;
    let item = &v["output"][0];
    assert_eq!(item["type"], "function_call");
    assert!(item["id"].as_str().unwrap().starts_with("fc_"));
    assert!(item["call_id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(item["name"], "clock");
    assert_eq!(item["status"], "completed");
    let args: Value = serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"query": "what time"}));
}

fn kinds(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.name.clone().unwrap()).collect()
}

/// Every Responses event names itself twice (SSE `event:` and JSON `type`) and carries a
/// gapless `sequence_number`.
fn check_envelope(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let v = e.json();
            assert_eq!(v["type"], e.name.as_deref().unwrap());
            assert_eq!(v["sequence_number"], i as u64);
            v
        })
        .collect()
}

#[tokio::test]
async fn responses_streaming_text() {
    let m = mock().await;
    let events = sse_of(
        openai(
            &m,
            "/responses",
            json!({"model": "r1", "input": "stream me", "stream": true}),
        )
        .await,
    )
    .await;
    assert_eq!(
        kinds(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let v = check_envelope(&events);
    assert_eq!(v[0]["response"]["status"], "in_progress");
    assert_eq!(v[0]["response"]["output"], json!([]));
    let item_id = v[2]["item"]["id"].as_str().unwrap();
    assert_eq!(v[2]["item"]["type"], "message");
    assert_eq!(v[2]["output_index"], 0);
    assert_eq!(v[3]["part"]["type"], "output_text");
    assert_eq!(v[3]["item_id"], item_id);
    let deltas: Vec<&str> = v[4..7]
        .iter()
        .map(|d| {
            assert_eq!(d["item_id"], item_id);
            assert_eq!(d["output_index"], 0);
            assert_eq!(d["content_index"], 0);
            d["delta"].as_str().unwrap()
        })
        .collect();
    assert_eq!(deltas, ["echo: ", "stream ", "me"]);
    assert_eq!(v[7]["text"], "echo: stream me");
    assert_eq!(v[8]["part"]["text"], "echo: stream me");
    assert_eq!(v[9]["item"]["status"], "completed");
    let done = &v[10]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["id"], v[0]["response"]["id"]);
    assert_eq!(done["output"][0]["content"][0]["text"], "echo: stream me");
    assert_eq!(done["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn responses_streaming_tool() {
    let m = mock().await;
    let events = sse_of(
        openai(
            &m,
            "/responses",
            json!({"model": "mock-tool", "input": "a b", "stream": true}),
        )
        .await,
    )
    .await;
    let k = kinds(&events);
    assert_eq!(
        k[..3],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added"
        ]
    );
    assert_eq!(
        k[k.len() - 3..],
        [
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    assert!(
        k[3..k.len() - 3]
            .iter()
            .all(|e| e == "response.function_call_arguments.delta")
    );
    let v = check_envelope(&events);
    assert_eq!(v[2]["item"]["type"], "function_call");
    assert_eq!(v[2]["item"]["name"], "lookup");
    assert_eq!(v[2]["item"]["arguments"], "");
    let args: String = v[3..v.len() - 3]
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(args, r#"{"query":"a b"}"#);
    assert_eq!(v[v.len() - 3]["arguments"], args);
    assert_eq!(v[v.len() - 1]["response"]["output"][0]["arguments"], args);
}

#[tokio::test]
async fn responses_fail_uses_openai_error_shape() {
    let m = mock().await;
    let (status, v) = json_of(
        openai(
            &m,
            "/responses",
            json!({"model": "mock-fail-503", "input": "x", "stream": true}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(v["error"]["type"], "server_error");
}

#[tokio::test]
async fn embeddings_are_deterministic_unit_vectors() {
    let m = mock().await;
    let body = json!({"model": "embed-small", "input": ["alpha", "beta gamma"]});
    let (status, v) = json_of(openai(&m, "/embeddings", body.clone()).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "embed-small");
    assert_eq!(v["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let vecs: Vec<Vec<f64>> = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d["object"], "embedding");
            assert_eq!(d["index"], i);
            d["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    for e in &vecs {
        assert_eq!(e.len(), 8);
        let norm: f64 = e.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    assert_ne!(vecs[0], vecs[1]);
    let (_, again) = json_of(openai(&m, "/embeddings", body).await).await;
    assert_eq!(again["data"], v["data"]);

    // A single string input.
    let (_, one) =
        json_of(openai(&m, "/embeddings", json!({"model": "e", "input": "alpha"})).await).await;
    assert_eq!(one["data"][0]["embedding"], v["data"][0]["embedding"]);

    // Base64: 8 little-endian f32s = 32 bytes = 44 base64 characters.
    let (_, b) = json_of(
        openai(
            &m,
            "/embeddings",
            json!({"model": "e", "input": "alpha", "encoding_format": "base64"}),
        )
        .await,
    )
    .await;
    assert_eq!(b["data"][0]["embedding"].as_str().unwrap().len(), 44);

    let (status, e) = json_of(openai(&m, "/embeddings", json!({"model": "e"})).await).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn models_list() {
    let m = mock().await;
    let r = client()
        .get(format!("{}/models", m.openai_base_url()))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200);
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert!(data.len() >= 2);
    for d in data {
        assert_eq!(d["object"], "model");
        assert!(d["id"].is_string());
        assert!(d["owned_by"].is_string());
    }
    let r = client()
        .get(format!("{}/models/some-model", m.openai_base_url()))
        .send()
        .await
        .unwrap();
    let (_, v) = json_of(r).await;
    assert_eq!(v["id"], "some-model");
    // The model list is not a model request.
    assert_eq!(
        m.stats.requests.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn unknown_path_is_openai_404() {
    let m = mock().await;
    let r = client()
        .post(format!("{}/nope", m.openai_base_url()))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["message"], "Invalid URL (POST /v1/nope)");
}
