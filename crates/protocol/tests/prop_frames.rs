//! Property tests of the inbound frame parser ([`Frame::parse`] / [`Frame::from_value`]).
//!
//! * Any text and any JSON value yields a frame or a typed [`FrameError`], never a panic;
//!   `NotJson` exactly when the text is not JSON, and a `BadShape` error carries the `id`
//!   whenever the input had a string `id`.
//! * Whatever parses re-serializes to text that parses back to the same frame.
//! * Frames generated structurally round-trip through `serde_json::to_string` → `parse`
//!   (with `null` optional members read back as absent, as documented).

use openclaw_protocol::{
    ErrorCode, ErrorShape, EventFrame, Frame, FrameError, RequestFrame, ResponseFrame,
};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any string, control characters and astral planes included.
fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// Object keys: mostly the frame fields, so generated objects hit the interesting paths.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "type", "id", "method", "params", "ok", "payload", "error", "event", "seq",
            "stateVersion", "code", "message", "details", "retryable", "retryAfterMs",
        ])
        .prop_map(str::to_owned),
        1 => any_text(6),
    ]
}

/// Floats that survive a text round trip exactly.
fn exact_float() -> impl Strategy<Value = f64> {
    (any::<i32>(), 0u32..10).prop_map(|(m, e)| f64::from(m) / f64::from(1u32 << e))
}

/// Any JSON value of bounded size.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        exact_float().prop_map(Value::from),
        any_text(12).prop_map(Value::String),
        prop::sample::select(vec!["req", "res", "event", "", "REQ"]).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object shaped like a frame: a `type` tag and a few frame fields of any type.
fn frame_like() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop_oneof![
            prop::sample::select(vec!["req", "res", "event"]).prop_map(Value::from),
            arb_json(),
        ]),
        prop::collection::vec((key(), arb_json()), 0..6),
    )
        .prop_map(|(tag, fields)| {
            let mut map: Map<String, Value> = fields.into_iter().collect();
            if let Some(tag) = tag {
                map.insert("type".into(), tag);
            }
            Value::Object(map)
        })
}

/// An optional JSON member, `Some(Value::Null)` included.
fn opt_json() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(arb_json())
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop::sample::select(vec![
        ErrorCode::NotLinked,
        ErrorCode::NotPaired,
        ErrorCode::AgentTimeout,
        ErrorCode::AgentResultNotFound,
        ErrorCode::InvalidRequest,
        ErrorCode::Forbidden,
        ErrorCode::ApprovalNotFound,
        ErrorCode::Unavailable,
    ])
}

fn error_shape() -> impl Strategy<Value = ErrorShape> {
    (
        error_code(),
        any_text(16),
        opt_json(),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<u64>()),
    )
        .prop_map(
            |(code, message, details, retryable, retry_after_ms)| ErrorShape {
                code,
                message,
                details,
                retryable,
                retry_after_ms,
            },
        )
}

fn non_empty_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 1..16).prop_map(String::from_iter)
}

/// Every frame the wire format can carry; request ids and methods are non-empty, as the
/// parser requires.
fn valid_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (non_empty_text(), non_empty_text(), opt_json())
            .prop_map(|(id, method, params)| Frame::Req(RequestFrame { id, method, params })),
        (
            any_text(16),
            any::<bool>(),
            opt_json(),
            prop::option::of(error_shape())
        )
            .prop_map(|(id, ok, payload, error)| Frame::Res(ResponseFrame {
                id,
                ok,
                payload,
                error
            })),
        (
            any_text(16),
            opt_json(),
            prop::option::of(any::<u64>()),
            opt_json()
        )
            .prop_map(
                |(event, payload, seq, state_version)| Frame::Event(EventFrame {
                    event,
                    payload,
                    seq,
                    state_version
                })
            ),
    ]
}

/// `Some(null)` in an optional member is read back as `None` (absent and `null` are
/// treated alike); this is the frame a round trip must reproduce.
fn normalized(frame: &Frame) -> Frame {
    fn norm(v: &Option<Value>) -> Option<Value> {
        v.clone().filter(|v| !v.is_null())
    }
    match frame {
        Frame::Req(r) => Frame::Req(RequestFrame {
            params: norm(&r.params),
            ..r.clone()
        }),
        Frame::Res(r) => Frame::Res(ResponseFrame {
            payload: norm(&r.payload),
            error: r.error.as_ref().map(|e| ErrorShape {
                details: norm(&e.details),
                ..e.clone()
            }),
            ..r.clone()
        }),
        Frame::Event(e) => Frame::Event(EventFrame {
            payload: norm(&e.payload),
            state_version: norm(&e.state_version),
            ..e.clone()
        }),
    }
}

/// Checks one parse result against the input text; returns the frame if there was one.
fn check_parse(text: &str) -> Result<Option<Frame>, TestCaseError> {
    let as_json = serde_json::from_str::<Value>(text);
    match Frame::parse(text) {
        Ok(frame) => {
            prop_assert!(as_json.is_ok());
            // Anything accepted is a fixed point of serialize → parse.
            let again = serde_json::to_string(&frame).expect("frames serialize");
            prop_assert_eq!(
                Frame::parse(&again),
                Ok(frame.clone()),
                "re-encoded: {}",
                again
            );
            if let Frame::Req(r) = &frame {
                prop_assert!(!r.id.is_empty() && !r.method.is_empty());
            }
            Ok(Some(frame))
        }
        Err(FrameError::NotJson(msg)) => {
            prop_assert!(as_json.is_err(), "valid JSON reported as not JSON");
            prop_assert!(!msg.is_empty());
            Ok(None)
        }
        Err(FrameError::BadShape { id, reason }) => {
            let value = as_json.map_err(|_| TestCaseError::fail("bad shape on non-JSON"))?;
            prop_assert_eq!(id.as_deref(), value.get("id").and_then(Value::as_str));
            prop_assert!(!reason.is_empty());
            Ok(None)
        }
    }
}

/// Text that is JSON, broken JSON, or noise.
fn text_input() -> impl Strategy<Value = String> {
    prop_oneof![
        any_text(64),
        arb_json().prop_map(|v| v.to_string()),
        frame_like().prop_map(|v| v.to_string()),
        valid_frame().prop_map(|f| serde_json::to_string(&f).unwrap()),
        // Damaged JSON: cut at a character boundary or with a character inserted.
        (
            frame_like(),
            any::<prop::sample::Index>(),
            any::<char>(),
            any::<bool>()
        )
            .prop_map(|(v, at, c, cut)| {
                let mut s = v.to_string();
                let bounds: Vec<usize> = s
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain(std::iter::once(s.len()))
                    .collect();
                let i = bounds[at.index(bounds.len())];
                if cut {
                    s.truncate(i);
                } else {
                    s.insert(i, c);
                }
                s
            }),
        // Deep nesting must be refused by the recursion limit, not overflow the stack.
        (1usize..3000, any::<bool>()).prop_map(|(depth, arrays)| {
            if arrays {
                "[".repeat(depth) + &"]".repeat(depth)
            } else {
                r#"{"type":"req","id":"1","method":"m","params":"#.to_string()
                    + &r#"{"a":"#.repeat(depth)
                    + "1"
                    + &"}".repeat(depth + 1)
            }
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any text: a frame or a typed error; accepted frames are fixed points.
    #[test]
    fn any_text_parses_or_errs(text in text_input()) {
        check_parse(&text)?;
    }

    /// Any JSON value: `from_value` never says `NotJson`, carries a string `id` into its
    /// error, and agrees with `parse` of the value's text.
    #[test]
    fn any_value_parses_or_errs(value in prop_oneof![arb_json(), frame_like()]) {
        let text = value.to_string();
        let direct = Frame::from_value(value.clone());
        prop_assert_eq!(&direct, &Frame::parse(&text));
        match direct {
            Ok(frame) => {
                prop_assert!(value.is_object());
                prop_assert_eq!(check_parse(&text)?, Some(frame));
            }
            Err(FrameError::NotJson(_)) => prop_assert!(false, "NotJson from a value"),
            Err(FrameError::BadShape { id, .. }) => {
                prop_assert_eq!(id.as_deref(), value.get("id").and_then(Value::as_str));
            }
        }
    }

    /// Structurally generated frames round-trip through their text form.
    #[test]
    fn valid_frames_round_trip(frame in valid_frame()) {
        let text = serde_json::to_string(&frame).expect("frames serialize");
        prop_assert_eq!(Frame::parse(&text), Ok(normalized(&frame)), "text: {}", text);
        let value = serde_json::to_value(&frame).expect("frames serialize");
        prop_assert_eq!(Frame::from_value(value), Ok(normalized(&frame)));
    }

    /// A request with an empty id or method is refused, with the id echoed when it is a
    /// string, so the error can still be answered on it.
    #[test]
    fn empty_request_id_or_method_is_bad_shape(
        (id, method) in prop_oneof![
            non_empty_text().prop_map(|m| (String::new(), m)),
            non_empty_text().prop_map(|i| (i, String::new())),
            Just((String::new(), String::new())),
        ],
        params in opt_json(),
    ) {
        let frame = Frame::Req(RequestFrame { id: id.clone(), method, params });
        let text = serde_json::to_string(&frame).unwrap();
        match Frame::parse(&text) {
            Err(FrameError::BadShape { id: got, .. }) => prop_assert_eq!(got, Some(id)),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
