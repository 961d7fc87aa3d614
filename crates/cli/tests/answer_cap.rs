//! A provider that answers without end: the turn stops at `agents.defaults.maxAnswerBytes`
//! with a clear error and the text so far kept, the caller gets its final event (no
//! disconnect), `chat.history` always fits a frame, and the gateway's memory stays bounded.

mod common;

use common::*;
use openclaw_mock_provider::MockOptions;
use serde_json::json;

const TOKEN: &str = "answer-cap-token-0123456789";

/// Peak resident memory of a process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn an_endless_answer_is_cut_at_the_cap_and_history_still_answers() {
    // 40 MB of answer, in 4 KB words.
    let word = format!("{} ", "x".repeat(4095));
    let mock = openclaw_mock_provider::spawn(MockOptions {
        reply: Some(word.repeat(10_000)),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
             models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
             agents: {{ defaults: {{ model: "mock/m", maxAnswerBytes: 1000000 }} }} }}"#,
        mock.openai_base_url()
    );
    let gw = start(Spec::default().config(&cfg));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let r = call(
        &mut ws,
        "s",
        "chat.send",
        json!({"sessionKey": "agent:main:big", "message": "go", "idempotencyKey": "big-1"}),
    )
    .await;
    assert_eq!(r["payload"]["status"], "started", "{r}");
    let run_id = r["payload"]["runId"].as_str().unwrap().to_owned();
    let mut streamed = 0usize;
    let last = loop {
        let ev = next_event(&mut ws, "chat").await;
        let p = ev["payload"].clone();
        if p["runId"] != run_id.as_str() {
            continue;
        }
        if p["state"] == "delta" {
            streamed = streamed.max(p.to_string().len());
            continue;
        }
        break p;
    };
    assert_eq!(last["state"], "error", "{last}");
    let msg = last["errorMessage"].as_str().unwrap_or_default();
    assert!(msg.contains("maxAnswerBytes"), "{msg}");

    // The kept text is in the transcript, with the error.
    let h = call(
        &mut ws,
        "h",
        "chat.history",
        json!({"sessionKey": "agent:main:big"}),
    )
    .await;
    assert_eq!(
        h["ok"],
        true,
        "{}",
        &h.to_string()[..200.min(h.to_string().len())]
    );
    let msgs = h["payload"]["messages"].as_array().unwrap();
    let reply = msgs.last().unwrap();
    let kept = reply["content"].as_str().unwrap().len();
    assert!(kept > 900_000 && kept <= 1_000_000, "kept {kept} bytes");
    assert!(reply["error"].as_str().unwrap().contains("maxAnswerBytes"));
    // Asking again works, on the same socket.
    let again = call(&mut ws, "h2", "health", json!({})).await;
    assert_eq!(again["ok"], true);

    // 40 MB went by; the gateway never held anything like it.
    let peak = peak_rss_kib(gw.pid());
    assert!(peak < 120 * 1024, "peak RSS {peak} KiB");
}

#[tokio::test]
async fn history_of_an_oversized_legacy_transcript_fits_a_frame() {
    let gw = start(Spec::token(TOKEN));
    // A transcript written before answers were capped: one 30 MB assistant entry.
    let dir = gw.state.join("agents/main/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    let huge = json!({"ts": 1, "role": "assistant", "content": "y".repeat(30 * 1024 * 1024)});
    let small = json!({"ts": 2, "role": "user", "content": "after"});
    std::fs::write(dir.join("legacy.jsonl"), format!("{huge}\n{small}\n")).unwrap();
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let h = call(
        &mut ws,
        "h",
        "chat.history",
        json!({"sessionKey": "agent:main:legacy"}),
    )
    .await;
    assert_eq!(h["ok"], true);
    let msgs = h["payload"]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "both entries, the long one cut");
    assert_eq!(msgs[0]["truncated"], true);
    assert_eq!(msgs[0]["contentBytes"], 30 * 1024 * 1024);
    assert!(h.to_string().len() < 26_214_400);
    let r = call(&mut ws, "x", "health", json!({})).await;
    assert_eq!(r["ok"], true, "the caller is still connected");
}
