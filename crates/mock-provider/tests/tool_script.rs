//! `[[tool NAME JSON]]` directives in the last user message, and the `tool results: …`
//! follow-up, over all three APIs, streaming and not.

mod common;

use common::*;
use serde_json::{Value, json};

/// Two directives: one with awkward JSON (escapes, nesting), one with no JSON at all.
const TWO_CALLS: &str =
    r#"please [[tool write {"path":"a.txt","content":"say \"hi\"\n"}]] then [[tool list]] ok"#;

fn write_args() -> Value {
    json!({"path": "a.txt", "content": "say \"hi\"\n"})
}

// ----------------------------------------------------------------------------------------
// OpenAI Chat Completions
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn chat_directive_non_streaming_gives_parallel_calls() {
    let m = mock().await;
    let (status, v) =
        json_of(openai(&m, "/chat/completions", chat_body("gpt-x", TWO_CALLS)).await).await;
    assert_eq!(status, 200, "{v}");
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], "call_0");
    assert_eq!(calls[0]["function"]["name"], "write");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, write_args());
    assert_eq!(calls[1]["id"], "call_1");
    assert_eq!(calls[1]["function"]["name"], "list");
    assert_eq!(calls[1]["function"]["arguments"], "{}");
}

#[tokio::test]
async fn chat_directive_streaming_splits_arguments() {
    let m = mock().await;
    let mut body = chat_body("gpt-x", TWO_CALLS);
    body["stream"] = json!(true);
    let events = sse_of(openai(&m, "/chat/completions", body).await).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    // Per index: id, name, and the argument fragments in order; indexes never interleave.
    let mut ids = [None, None];
    let mut names = [None, None];
    let mut args = [String::new(), String::new()];
    let mut fragments = [0usize; 2];
    let mut last_index = 0;
    for c in &chunks[1..chunks.len() - 1] {
        let delta = &c["choices"][0]["delta"];
        assert!(
            delta.get("content").is_none(),
            "nothing but tool calls: {c}"
        );
        let tc = &delta["tool_calls"][0];
        let i = tc["index"].as_u64().unwrap() as usize;
        assert!(i >= last_index, "calls do not interleave");
        last_index = i;
        if let Some(id) = tc["id"].as_str() {
            ids[i] = Some(id.to_owned());
            names[i] = tc["function"]["name"].as_str().map(str::to_owned);
        }
        let piece = tc["function"]["arguments"].as_str().unwrap();
        if !piece.is_empty() {
            fragments[i] += 1;
        }
        args[i].push_str(piece);
    }
    assert_eq!(ids, [Some("call_0".to_owned()), Some("call_1".to_owned())]);
    assert_eq!(names, [Some("write".to_owned()), Some("list".to_owned())]);
    assert!(fragments[0] >= 3, "{fragments:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&args[0]).unwrap(),
        write_args()
    );
    assert_eq!(args[1], "{}");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn chat_tool_results_are_quoted_and_ids_continue() {
    let m = mock().await;
    let history = json!([
        {"role": "user", "content": TWO_CALLS},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "write", "arguments": "{}"}},
            {"id": "call_1", "type": "function", "function": {"name": "list", "arguments": "{}"}}
        ]},
        {"role": "tool", "tool_call_id": "call_0", "content": "wrote 9 bytes"},
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "a.txt"}]}
    ]);
    for stream in [false, true] {
        let body = json!({"model": "gpt-x", "messages": history, "stream": stream});
        let text = if stream {
            let events = sse_of(openai(&m, "/chat/completions", body).await).await;
            events[..events.len() - 1]
                .iter()
                .filter_map(|e| {
                    e.json()["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect::<String>()
        } else {
            let (_, v) = json_of(openai(&m, "/chat/completions", body).await).await;
            assert_eq!(v["choices"][0]["finish_reason"], "stop");
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(text, "tool results: call_0=wrote 9 bytes; call_1=a.txt");
    }
    // A new user turn with a directive: ids continue after the two earlier calls.
    let mut msgs = history.as_array().unwrap().clone();
    msgs.push(json!({"role": "assistant", "content": "done"}));
    msgs.push(json!({"role": "user", "content": "[[tool read {\"path\":\"a.txt\"}]]"}));
    let (_, v) = json_of(
        openai(
            &m,
            "/chat/completions",
            json!({"model": "gpt-x", "messages": msgs}),
        )
        .await,
    )
    .await;
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["id"], "call_2");
}

#[tokio::test]
async fn text_without_directive_is_unchanged() {
    let m = mock().await;
    for text in ["[[toolbox x]]", "[[tool]]", "plain"] {
        let (_, v) = json_of(openai(&m, "/chat/completions", chat_body("gpt-x", text)).await).await;
        assert_eq!(
            v["choices"][0]["message"]["content"],
            format!("echo: {text}")
        );
    }
}

// ----------------------------------------------------------------------------------------
// OpenAI Responses
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn responses_directive_non_streaming() {
    let m = mock().await;
    let (_, v) = json_of(
        openai(
            &m,
            "/responses",
            json!({"model": "gpt-x", "input": TWO_CALLS}),
        )
        .await,
    )
    .await;
    let out = v["output"].as_array().unwrap();
    assert_eq!(out.len(), 2, "{v}");
    assert_eq!(out[0]["type"], "function_call");
    assert_eq!(out[0]["id"], "fc_0");
    assert_eq!(out[0]["call_id"], "call_0");
    assert_eq!(out[0]["name"], "write");
    let args: Value = serde_json::from_str(out[0]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, write_args());
    assert_eq!(out[1]["call_id"], "call_1");
    assert_eq!(out[1]["arguments"], "{}");
}

#[tokio::test]
async fn responses_directive_streaming_event_sequence() {
    let m = mock().await;
    let events = sse_of(
        openai(
            &m,
            "/responses",
            json!({"model": "gpt-x", "input": TWO_CALLS, "stream": true}),
        )
        .await,
    )
    .await;
    let v: Vec<Value> = events.iter().map(Event::json).collect();
    let kinds: Vec<&str> = v.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds[..3],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added"
        ]
    );
    assert_eq!(*kinds.last().unwrap(), "response.completed");
    // Each call: added, ≥3 deltas, arguments.done, item.done, in order, at its index.
    let mut at = 2;
    for (index, name) in [(0, "write"), (1, "list")] {
        assert_eq!(kinds[at], "response.output_item.added");
        assert_eq!(v[at]["output_index"], index);
        assert_eq!(v[at]["item"]["type"], "function_call");
        assert_eq!(v[at]["item"]["name"], name);
        assert_eq!(v[at]["item"]["arguments"], "");
        at += 1;
        let mut args = String::new();
        let mut n = 0;
        while kinds[at] == "response.function_call_arguments.delta" {
            assert_eq!(v[at]["output_index"], index);
            assert_eq!(v[at]["item_id"], format!("fc_{index}"));
            args.push_str(v[at]["delta"].as_str().unwrap());
            n += 1;
            at += 1;
        }
        if index == 0 {
            assert!(n >= 3, "split into {n} deltas");
        }
        assert_eq!(kinds[at], "response.function_call_arguments.done");
        assert_eq!(v[at]["arguments"], args);
        assert_eq!(kinds[at + 1], "response.output_item.done");
        assert_eq!(v[at + 1]["item"]["arguments"], args);
        assert_eq!(v[at + 1]["item"]["status"], "completed");
        at += 2;
    }
    assert_eq!(at, kinds.len() - 1);
    let done = &v[at]["response"]["output"];
    assert_eq!(done.as_array().unwrap().len(), 2);
    assert_eq!(done[1]["call_id"], "call_1");
}

#[tokio::test]
async fn responses_tool_results_are_quoted() {
    let m = mock().await;
    let input = json!([
        {"role": "user", "content": TWO_CALLS},
        {"type": "function_call", "call_id": "call_0", "name": "write", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_1", "name": "list", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_0", "output": "ok"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.txt b.txt"}
    ]);
    let (_, v) =
        json_of(openai(&m, "/responses", json!({"model": "gpt-x", "input": input})).await).await;
    assert_eq!(
        v["output"][0]["content"][0]["text"],
        "tool results: call_0=ok; call_1=a.txt b.txt"
    );
    let events = sse_of(
        openai(
            &m,
            "/responses",
            json!({"model": "gpt-x", "input": input, "stream": true}),
        )
        .await,
    )
    .await;
    let done = events
        .iter()
        .map(Event::json)
        .find(|e| e["type"] == "response.output_text.done")
        .unwrap();
    assert_eq!(done["text"], "tool results: call_0=ok; call_1=a.txt b.txt");
}

// ----------------------------------------------------------------------------------------
// Anthropic Messages
// ----------------------------------------------------------------------------------------

fn claude(text: &str, stream: bool) -> Value {
    json!({"model": "claude-x", "max_tokens": 100, "stream": stream,
           "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn anthropic_directive_non_streaming() {
    let m = mock().await;
    let (_, v) = json_of(anthropic(&m, claude(TWO_CALLS, false)).await).await;
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(
        v["content"],
        json!([
            {"type": "tool_use", "id": "toolu_0", "name": "write", "input": write_args()},
            {"type": "tool_use", "id": "toolu_1", "name": "list", "input": {}}
        ])
    );
    // Broken JSON cannot become an `input` object: a clear 400, not a silent `{}`.
    let (status, v) = json_of(anthropic(&m, claude("[[tool write {oops]]", false)).await).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("not JSON"),
        "{v}"
    );
}

#[tokio::test]
async fn anthropic_directive_streaming() {
    let m = mock().await;
    let events = sse_of(anthropic(&m, claude(TWO_CALLS, true)).await).await;
    let v: Vec<Value> = events.iter().map(Event::json).collect();
    let kinds: Vec<&str> = v.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(kinds[kinds.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(v[v.len() - 2]["delta"]["stop_reason"], "tool_use");
    let mut blocks: Vec<(Value, String, usize)> = Vec::new();
    let mut open = None;
    for e in &v {
        match e["type"].as_str().unwrap() {
            "content_block_start" => {
                assert_eq!(open, None, "blocks do not overlap");
                assert_eq!(e["index"], blocks.len());
                open = Some(blocks.len());
                blocks.push((e["content_block"].clone(), String::new(), 0));
            }
            "content_block_delta" => {
                assert_eq!(e["index"], open.unwrap());
                assert_eq!(e["delta"]["type"], "input_json_delta");
                let b = blocks.last_mut().unwrap();
                b.1.push_str(e["delta"]["partial_json"].as_str().unwrap());
                b.2 += 1;
            }
            "content_block_stop" => {
                assert_eq!(e["index"], open.take().unwrap());
            }
            _ => {}
        }
    }
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].0["id"], "toolu_0");
    assert_eq!(blocks[0].0["name"], "write");
    assert!(blocks[0].2 >= 3);
    assert_eq!(
        serde_json::from_str::<Value>(&blocks[0].1).unwrap(),
        write_args()
    );
    assert_eq!(blocks[1].0["id"], "toolu_1");
    assert_eq!(blocks[1].1, "{}");
}

#[tokio::test]
async fn anthropic_tool_results_are_quoted() {
    let m = mock().await;
    for stream in [false, true] {
        let body = json!({"model": "claude-x", "max_tokens": 100, "stream": stream, "messages": [
            {"role": "user", "content": TWO_CALLS},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_0", "name": "write", "input": {}},
                {"type": "tool_use", "id": "toolu_1", "name": "list", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_0", "content": "ok"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "x=1"}], "is_error": true}
            ]}
        ]});
        let text = if stream {
            sse_of(anthropic(&m, body).await)
                .await
                .iter()
                .map(Event::json)
                .filter_map(|e| e["delta"]["text"].as_str().map(str::to_owned))
                .collect::<String>()
        } else {
            let (_, v) = json_of(anthropic(&m, body).await).await;
            assert_eq!(v["stop_reason"], "end_turn");
            v["content"][0]["text"].as_str().unwrap().to_owned()
        };
        assert_eq!(text, "tool results: toolu_0=ok; toolu_1=x=1");
    }
}

#[tokio::test]
async fn toolloop_keeps_calling_after_results() {
    let m = mock().await;
    let body = json!({"model": "gpt-x+toolloop", "messages": [
        {"role": "user", "content": "[[tool again {}]]"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "again", "arguments": "{}"}}
        ]},
        {"role": "tool", "tool_call_id": "call_0", "content": "done"}
    ]});
    let (_, v) = json_of(openai(&m, "/chat/completions", body).await).await;
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["id"], "call_1");
}
