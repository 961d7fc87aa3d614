//! Property tests of the handshake's pure parts in `openclaw_gateway::ws`:
//!
//! * [`check_connect`]: any first request gives accepted params or a typed rejection
//!   (an `INVALID_REQUEST` error plus a close code), never a panic; the outcome agrees
//!   with a model of the rules (method `connect`, params of the right shape, protocol
//!   range containing [`PROTOCOL_VERSION`], role absent/`operator`/`node`).
//! * [`granted_scopes`]: exactly the known scopes asked for, each once, in order.
//! * [`event_frame`]: the hand-built event text parses back as the event it describes.

use openclaw_gateway::ws::{ConnectRejection, check_connect, event_frame, granted_scopes};
use openclaw_protocol::{
    ConnectParams, ErrorCode, EventFrame, Frame, PROTOCOL_VERSION, RequestFrame, Role, close,
    scopes,
};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// Floats that survive a text round trip exactly.
fn exact_float() -> impl Strategy<Value = f64> {
    (any::<i32>(), 0u32..10).prop_map(|(m, e)| f64::from(m) / f64::from(1u32 << e))
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        exact_float().prop_map(Value::from),
        any_text(10).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((any_text(6), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A field of the generated params: left out, well-typed, or of a wrong type.
#[derive(Clone, Debug)]
enum Field<T> {
    Absent,
    Good(T),
    Bad(Value),
}

impl<T: serde::Serialize> Field<T> {
    fn insert(&self, map: &mut Map<String, Value>, key: &str) {
        match self {
            Field::Absent => {}
            Field::Good(v) => {
                map.insert(key.into(), serde_json::to_value(v).unwrap());
            }
            Field::Bad(v) => {
                map.insert(key.into(), v.clone());
            }
        }
    }
}

/// Protocol numbers around the supported version, and anywhere in `u32`.
fn protocol() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => PROTOCOL_VERSION.saturating_sub(2)..=PROTOCOL_VERSION + 2,
        1 => any::<u32>(),
    ]
}

/// A wrongly typed `u32`: negative, too large, fractional, or not a number.
fn not_u32() -> impl Strategy<Value = Value> {
    prop_oneof![
        (i64::MIN..0).prop_map(Value::from),
        (u64::from(u32::MAX) + 1..=u64::MAX).prop_map(Value::from),
        Just(json!(4.5)),
        Just(json!("4")),
        Just(Value::Null),
        Just(json!([4])),
        Just(json!(true)),
    ]
}

fn role() -> impl Strategy<Value = Field<Option<String>>> {
    prop_oneof![
        Just(Field::Absent),
        Just(Field::Good(None)),
        prop::sample::select(vec!["operator", "node", "Operator", "admin", ""])
            .prop_map(|r| Field::Good(Some(r.to_owned()))),
        any_text(8).prop_map(|r| Field::Good(Some(r))),
        prop_oneof![Just(json!(1)), Just(json!(["node"])), Just(json!({}))].prop_map(Field::Bad),
    ]
}

fn scope_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(scopes::ALL.to_vec()).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["operator.root", "OPERATOR.READ", "", "node"])
            .prop_map(str::to_owned),
        1 => any_text(8),
    ]
}

/// Connect params: mostly plausible, with each field possibly absent or mistyped, and
/// unknown fields (which must be ignored).
fn connect_params() -> impl Strategy<Value = (Value, Expect)> {
    let min = prop_oneof![
        1 => Just(Field::Absent),
        8 => protocol().prop_map(Field::Good),
        1 => not_u32().prop_map(Field::Bad),
    ];
    let max = prop_oneof![
        1 => Just(Field::Absent),
        8 => protocol().prop_map(Field::Good),
        1 => not_u32().prop_map(Field::Bad),
    ];
    let client = prop_oneof![
        Just(Field::Absent),
        (
            any_text(6),
            any_text(6),
            any_text(6),
            prop::option::of(any_text(6))
        )
            .prop_map(|(id, version, mode, name)| {
                Field::Good(
                    json!({"id": id, "version": version, "mode": mode, "displayName": name}),
                )
            }),
        prop_oneof![Just(json!("cli")), Just(json!({"id": 7})), Just(json!([]))]
            .prop_map(Field::Bad),
    ];
    let scopes = prop_oneof![
        Just(Field::Absent),
        prop::option::of(prop::collection::vec(scope_name(), 0..8)).prop_map(Field::Good),
        prop_oneof![
            Just(json!("operator.read")),
            Just(json!([1])),
            Just(json!({}))
        ]
        .prop_map(Field::Bad),
    ];
    let auth = prop_oneof![
        Just(Field::Absent),
        (prop::option::of(any_text(8)), prop::option::of(any_text(8)))
            .prop_map(|(t, p)| Field::Good(json!({"token": t, "password": p}))),
        prop_oneof![Just(json!("secret")), Just(json!({"token": 1}))].prop_map(Field::Bad),
    ];
    let extra = prop::collection::vec(
        (
            prop::sample::select(vec!["device", "commands", "futureField", "x"]),
            arb_json(),
        ),
        0..3,
    );
    (min, max, role(), client, scopes, auth, extra).prop_map(
        |(min, max, role, client, scopes, auth, extra)| {
            let mut map = Map::new();
            for (k, v) in extra {
                map.insert(k.into(), v);
            }
            min.insert(&mut map, "minProtocol");
            max.insert(&mut map, "maxProtocol");
            role.insert(&mut map, "role");
            client.insert(&mut map, "client");
            scopes.insert(&mut map, "scopes");
            auth.insert(&mut map, "auth");
            let shape_ok = matches!(min, Field::Good(_))
                && matches!(max, Field::Good(_))
                && !matches!(role, Field::Bad(_))
                && !matches!(client, Field::Bad(_))
                && !matches!(scopes, Field::Bad(_))
                && !matches!(auth, Field::Bad(_));
            let expect = if !shape_ok {
                Expect::BadParams
            } else {
                let (Field::Good(min), Field::Good(max)) = (&min, &max) else {
                    unreachable!()
                };
                let role = match &role {
                    Field::Good(r) => r.clone(),
                    _ => None,
                };
                if *min > PROTOCOL_VERSION || *max < PROTOCOL_VERSION {
                    Expect::Mismatch
                } else {
                    match role.as_deref() {
                        None | Some("operator") => Expect::Accept(Role::Operator),
                        Some("node") => Expect::Accept(Role::Node),
                        Some(_) => Expect::BadRole,
                    }
                }
            };
            (Value::Object(map), expect)
        },
    )
}

/// What the model says `check_connect` must do.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    NotConnect,
    BadParams,
    Mismatch,
    BadRole,
    Accept(Role),
}

fn request() -> impl Strategy<Value = (RequestFrame, Expect)> {
    prop_oneof![
        // A connect with structured params.
        6 => (any_text(8), connect_params()).prop_map(|(id, (params, expect))| {
            (
                RequestFrame { id, method: "connect".into(), params: Some(params) },
                expect,
            )
        }),
        // A connect whose params are missing or not an object.
        2 => (
            any_text(8),
            prop::option::of(arb_json().prop_filter("not an object", |v| !v.is_object())),
        )
            .prop_map(|(id, params)| {
                (RequestFrame { id, method: "connect".into(), params }, Expect::BadParams)
            }),
        // Some other first request.
        1 => (any_text(8), any_text(10), prop::option::of(arb_json()))
            .prop_filter("not connect", |(_, m, _)| m != "connect")
            .prop_map(|(id, method, params)| {
                (RequestFrame { id, method, params }, Expect::NotConnect)
            }),
    ]
}

fn check_rejection(r: &ConnectRejection) -> Result<(), TestCaseError> {
    prop_assert_eq!(r.error.code, ErrorCode::InvalidRequest);
    prop_assert!(!r.error.message.trim().is_empty());
    prop_assert!(!r.close_reason.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// The first request is accepted or refused exactly as the rules say.
    #[test]
    fn connect_checks_follow_the_rules((req, expect) in request()) {
        let result = check_connect(&req);
        match (&result, expect) {
            (Ok((params, role)), Expect::Accept(want)) => {
                prop_assert_eq!(*role, want);
                prop_assert!(params.min_protocol <= PROTOCOL_VERSION);
                prop_assert!(params.max_protocol >= PROTOCOL_VERSION);
                let direct: ConnectParams =
                    serde_json::from_value(req.params.clone().unwrap()).unwrap();
                prop_assert_eq!(params, &direct);
            }
            (Err(r), Expect::NotConnect) => {
                check_rejection(r)?;
                prop_assert_eq!(r.close_code, close::POLICY);
                prop_assert_eq!(r.close_reason, "invalid handshake");
            }
            (Err(r), Expect::BadParams) => {
                check_rejection(r)?;
                prop_assert_eq!(r.close_code, close::POLICY);
                prop_assert_eq!(r.close_reason, "invalid connect params");
            }
            (Err(r), Expect::Mismatch) => {
                check_rejection(r)?;
                prop_assert_eq!(r.close_code, close::PROTOCOL_ERROR);
                prop_assert_eq!(r.error.detail_code(), Some("PROTOCOL_MISMATCH"));
                let details = r.error.details.as_ref().unwrap();
                prop_assert_eq!(&details["expectedProtocol"], &json!(PROTOCOL_VERSION));
            }
            (Err(r), Expect::BadRole) => {
                check_rejection(r)?;
                prop_assert_eq!(r.close_code, close::POLICY);
                prop_assert_eq!(r.close_reason, "invalid role");
            }
            (got, want) => prop_assert!(false, "expected {:?}, got {:?}", want, got),
        }
    }

    /// Arbitrary requests: a value or a typed rejection, and an accepted client always
    /// speaks this protocol version.
    #[test]
    fn any_request_is_accepted_or_rejected(
        id in any_text(8),
        method in prop_oneof![Just("connect".to_owned()), any_text(8)],
        params in prop::option::of(arb_json()),
    ) {
        let req = RequestFrame { id, method, params };
        match check_connect(&req) {
            Ok((p, role)) => {
                prop_assert_eq!(&req.method, "connect");
                prop_assert!((p.min_protocol..=p.max_protocol).contains(&PROTOCOL_VERSION));
                prop_assert_eq!(Role::parse(p.role.as_deref()), Some(role));
            }
            Err(r) => check_rejection(&r)?,
        }
    }

    /// Operators get the known scopes they asked for, each once, in the order first
    /// asked (or the defaults if they named none); nodes get none.
    #[test]
    fn granted_scopes_are_known_distinct_and_ordered(
        asked in prop::option::of(prop::collection::vec(scope_name(), 0..10)),
    ) {
        prop_assert!(granted_scopes(asked.as_deref(), Role::Node).is_empty());
        let granted = granted_scopes(asked.as_deref(), Role::Operator);
        let want: Vec<String> = match &asked {
            None => scopes::DEFAULT_OPERATOR.iter().map(|s| s.to_string()).collect(),
            Some(asked) => {
                let mut want: Vec<String> = Vec::new();
                for s in asked {
                    if scopes::ALL.contains(&s.as_str()) && !want.contains(s) {
                        want.push(s.clone());
                    }
                }
                want
            }
        };
        prop_assert_eq!(granted, want);
    }

    /// An event built around a serialized payload parses back as that event.
    #[test]
    fn event_frame_round_trips(name in any_text(16), payload in arb_json(), seq in any::<u64>()) {
        let text = event_frame(&name, &payload.to_string(), seq);
        let want = EventFrame {
            event: name,
            payload: Some(payload).filter(|p| !p.is_null()),
            seq: Some(seq),
            state_version: None,
        };
        prop_assert_eq!(Frame::parse(&text), Ok(Frame::Event(want)), "text: {}", text);
    }
}
