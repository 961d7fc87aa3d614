//! Replays of real and documented provider traffic (`tests/fixtures/`, each file naming its
//! source) through the decoders, cut at every byte boundary, so the clients are checked
//! against what api.openai.com and api.anthropic.com actually send and not only against
//! the mock provider.

use serde_json::Value;

use crate::anthropic::{self, AnthropicDecoder};
use crate::openai_chat::{self, ChatDecoder};
use crate::openai_responses::{self, ResponsesDecoder};
use crate::stream::testutil::assert_chunking_invariant;
use crate::stream::{DecodeError, Decoder};
use crate::{ChatEvent, FinishReason, Usage};

/// A decoded answer, assembled the way a client would.
#[derive(Debug, Default, PartialEq)]
struct Answer {
    text: String,
    /// (id, name, arguments) per call, in ordinal order.
    calls: Vec<(String, String, String)>,
    usage: Option<(u64, u64)>,
    finish: Option<FinishReason>,
}

fn assemble(events: &[ChatEvent]) -> Answer {
    let mut a = Answer::default();
    for e in events {
        match e {
            ChatEvent::TextDelta(t) => a.text.push_str(t),
            ChatEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                if a.calls.len() <= *index {
                    a.calls.resize(*index + 1, Default::default());
                }
                let c = &mut a.calls[*index];
                if c.0.is_empty()
                    && let Some(id) = id
                {
                    c.0.clone_from(id);
                }
                if c.1.is_empty()
                    && let Some(n) = name
                {
                    c.1.clone_from(n);
                }
                c.2.push_str(arguments);
            }
            ChatEvent::Usage(Usage {
                input_tokens,
                output_tokens,
            }) => a.usage = Some((*input_tokens, *output_tokens)),
            ChatEvent::Finish(f) => a.finish = Some(f.clone()),
        }
    }
    a
}

/// Decodes a stream fixture under every chunking; the answer and the final error.
fn replay(make: impl Fn() -> Box<dyn Decoder>, fixture: &[u8]) -> (Answer, Option<DecodeError>) {
    let (events, err) = assert_chunking_invariant(make, fixture);
    (assemble(&events), err)
}

/// A JSON fixture without its leading `//` source comment lines.
fn json_body(fixture: &str) -> Vec<u8> {
    fixture
        .lines()
        .filter(|l| !l.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

fn call(id: &str, name: &str, args: &str) -> (String, String, String) {
    (id.into(), name.into(), args.into())
}

fn chat() -> Box<dyn Decoder> {
    Box::new(ChatDecoder::default())
}
fn responses() -> Box<dyn Decoder> {
    Box::new(ResponsesDecoder::default())
}
fn claude() -> Box<dyn Decoder> {
    Box::new(AnthropicDecoder::default())
}

/// Arguments must be valid JSON however they were split.
fn assert_json_args(a: &Answer) {
    for (id, _, args) in &a.calls {
        serde_json::from_str::<Value>(args).unwrap_or_else(|e| panic!("{id}: {e}: {args:?}"));
    }
}

#[test]
fn openai_chat_text_recording() {
    let (a, err) = replay(
        chat,
        include_bytes!("../tests/fixtures/openai_chat_text.sse"),
    );
    assert_eq!(err, None);
    assert_eq!(
        a,
        Answer {
            text: "Foo!".into(),
            calls: vec![],
            usage: Some((9, 2)),
            finish: Some(FinishReason::Stop),
        }
    );
}

#[test]
fn openai_chat_parallel_tools_recording() {
    let (a, err) = replay(
        chat,
        include_bytes!("../tests/fixtures/openai_chat_parallel_tools.sse"),
    );
    assert_eq!(err, None);
    assert_eq!(
        a.calls,
        vec![
            call(
                "call_g4Q1vRbE0CaHGOs5if8mHsBq",
                "GetWeatherArgs",
                r#"{"city": "Edinburgh", "country": "UK", "units": "c"}"#
            ),
            call(
                "call_gWj3HQxZEHnFvyJLEHIiJKBV",
                "get_stock_price",
                r#"{"ticker": "AAPL", "exchange": "NASDAQ"}"#
            ),
        ]
    );
    assert_json_args(&a);
    assert_eq!(a.text, "");
    assert_eq!(a.usage, Some((149, 60)));
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
}

#[test]
fn openai_chat_whole_completions_replayed_as_streams() {
    let body = json_body(include_str!(
        "../tests/fixtures/openai_chat_completion_tool.json"
    ));
    let sse = openai_chat::json_as_sse(&body).expect("a chat completion");
    let (a, err) = replay(chat, &sse);
    assert_eq!(err, None);
    assert_eq!(
        a,
        Answer {
            text: String::new(),
            calls: vec![call(
                "call_CUdUoJpsWWVdxXntucvnol1M",
                "get_weather",
                r#"{"city":"San Francisco","state":"CA"}"#
            )],
            usage: Some((48, 19)),
            finish: Some(FinishReason::ToolCalls),
        }
    );
    let body = json_body(include_str!(
        "../tests/fixtures/openai_chat_completion_text.json"
    ));
    let (a, err) = replay(chat, &openai_chat::json_as_sse(&body).unwrap());
    assert_eq!(err, None);
    assert_eq!(
        a.text,
        r#"{"city":"San Francisco","temperature":58,"units":"f"}"#
    );
    assert_eq!(a.usage, Some((79, 14)));
    assert_eq!(a.finish, Some(FinishReason::Stop));
}

#[test]
fn openai_responses_function_calls_documented_stream() {
    let (a, err) = replay(
        responses,
        include_bytes!("../tests/fixtures/openai_responses_function_calls.sse"),
    );
    assert_eq!(err, None);
    assert_eq!(
        a.calls,
        vec![
            call(
                "call_1234xyz",
                "get_weather",
                r#"{"location":"Paris, France"}"#
            ),
            call(
                "call_5678xyz",
                "get_weather",
                r#"{"location":"Bogotá, Colombia"}"#
            ),
        ]
    );
    assert_json_args(&a);
    assert_eq!(a.usage, Some((291, 46)));
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
}

#[test]
fn openai_responses_text_documented_stream_and_whole_response() {
    let (a, err) = replay(
        responses,
        include_bytes!("../tests/fixtures/openai_responses_text.sse"),
    );
    assert_eq!(err, None);
    assert_eq!(
        a,
        Answer {
            text: "Hi there! ✨".into(),
            calls: vec![],
            usage: Some((37, 11)),
            finish: Some(FinishReason::Stop),
        }
    );
    let body = json_body(include_str!("../tests/fixtures/openai_response_text.json"));
    let (a, err) = replay(responses, &openai_responses::json_as_sse(&body).unwrap());
    assert_eq!(err, None);
    assert!(a.text.starts_with("In a peaceful grove"), "{a:?}");
    assert_eq!(a.usage, Some((36, 87)));
    assert_eq!(a.finish, Some(FinishReason::Stop));
}

#[test]
fn anthropic_text_recording_with_ping() {
    let (a, err) = replay(
        claude,
        include_bytes!("../tests/fixtures/anthropic_text.sse"),
    );
    assert_eq!(err, None);
    assert_eq!(
        a,
        Answer {
            text: "Hello there!".into(),
            calls: vec![],
            usage: Some((11, 6)),
            finish: Some(FinishReason::Stop),
        }
    );
}

#[test]
fn anthropic_tool_use_recording_with_split_input() {
    let (a, err) = replay(
        claude,
        include_bytes!("../tests/fixtures/anthropic_tool_use.sse"),
    );
    assert_eq!(err, None);
    assert_eq!(
        a,
        Answer {
            text: "I'll check the current weather in Paris for you.".into(),
            calls: vec![call(
                "toolu_01NRLabsLyVHZPKxbKvkfSMn",
                "get_weather",
                r#"{"location": "Paris"}"#
            )],
            usage: Some((377, 65)),
            finish: Some(FinishReason::ToolCalls),
        }
    );
}

#[test]
fn anthropic_tool_without_input_has_json_arguments() {
    let (a, err) = replay(
        claude,
        include_bytes!("../tests/fixtures/anthropic_empty_input_tool.sse"),
    );
    assert_eq!(err, None);
    assert_eq!(
        a.calls,
        vec![call("toolu_01AbQ2dcwQ9hbLBKkUwnyhNs", "get_time", "{}")]
    );
    assert_eq!(a.usage, Some((402, 38)));
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
}

#[test]
fn anthropic_thinking_blocks_are_not_answer_text() {
    let (a, err) = replay(
        claude,
        include_bytes!("../tests/fixtures/anthropic_thinking.sse"),
    );
    assert_eq!(err, None);
    assert_eq!(
        a,
        Answer {
            text: "27 * 453 = 12,231".into(),
            calls: vec![],
            usage: Some((48, 210)),
            finish: Some(FinishReason::Stop),
        }
    );
}

#[test]
fn anthropic_error_event_is_an_overload() {
    let (a, err) = replay(
        claude,
        include_bytes!("../tests/fixtures/anthropic_error.sse"),
    );
    assert_eq!(a, Answer::default());
    assert_eq!(
        err,
        Some(DecodeError::Upstream {
            status: Some(529),
            message: "Overloaded".into()
        })
    );
}

#[test]
fn anthropic_whole_message_replayed_as_stream() {
    let body = json_body(include_str!(
        "../tests/fixtures/anthropic_message_tool_use.json"
    ));
    let sse = anthropic::json_as_sse(&body).expect("a message");
    let (a, err) = replay(claude, &sse);
    assert_eq!(err, None);
    assert_eq!(
        a,
        Answer {
            text: "I'll check the current weather in San Francisco for you.".into(),
            calls: vec![call(
                "toolu_01A09q90qw90lq917835lq9",
                "get_weather",
                r#"{"location":"San Francisco, CA","unit":"celsius"}"#
            )],
            usage: Some((384, 92)),
            finish: Some(FinishReason::ToolCalls),
        }
    );
}
