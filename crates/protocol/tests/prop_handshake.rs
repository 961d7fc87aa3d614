//! Property tests of the handshake types: [`ConnectParams`] (what a client sends) and
//! [`HelloOk`] (what the gateway answers).
//!
//! * Any JSON value reads as `ConnectParams` or gives a serde error, never a panic, and
//!   whatever reads is a fixed point of serialize → read.
//! * Structurally generated params and hello payloads round-trip through their text form
//!   (an optional free-form member that is `null` reads back as absent).
//! * The `Debug` form of [`ConnectAuth`] never shows a credential.
//!
//! The gateway's checks on top of these types (method, protocol range, role, granted
//! scopes) are tested in `crates/gateway/tests/prop_handshake.rs`.

use openclaw_protocol::{
    ClientInfo, ConnectAuth, ConnectParams, HelloAuth, HelloFeatures, HelloOk, HelloPolicy,
    HelloServer,
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

fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// Floats that survive a text round trip exactly.
fn exact_float() -> impl Strategy<Value = f64> {
    (any::<i32>(), 0u32..10).prop_map(|(m, e)| f64::from(m) / f64::from(1u32 << e))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "minProtocol", "maxProtocol", "client", "caps", "auth", "role", "scopes",
            "device", "commands", "permissions", "locale", "userAgent", "id", "version",
            "platform", "mode", "token", "password", "instanceId", "displayName",
        ])
        .prop_map(str::to_owned),
        1 => any_text(6),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u32..8).prop_map(Value::from),
        exact_float().prop_map(Value::from),
        any_text(10).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(any_text(10))
}

fn client_info() -> impl Strategy<Value = ClientInfo> {
    (
        any_text(8),
        any_text(8),
        any_text(8),
        opt_text(),
        any_text(8),
        opt_text(),
        opt_text(),
    )
        .prop_map(
            |(id, version, platform, device_family, mode, instance_id, display_name)| ClientInfo {
                id,
                version,
                platform,
                device_family,
                mode,
                instance_id,
                display_name,
            },
        )
}

fn connect_auth() -> impl Strategy<Value = ConnectAuth> {
    (opt_text(), opt_text()).prop_map(|(token, password)| ConnectAuth { token, password })
}

fn connect_params() -> impl Strategy<Value = ConnectParams> {
    (
        (any::<u32>(), any::<u32>(), client_info()),
        (
            prop::collection::vec(any_text(8), 0..4),
            prop::option::of(connect_auth()),
            opt_text(),
            prop::option::of(prop::collection::vec(any_text(8), 0..4)),
        ),
        (
            prop::option::of(arb_json()),
            prop::option::of(arb_json()),
            prop::option::of(arb_json()),
            opt_text(),
            opt_text(),
        ),
    )
        .prop_map(
            |(
                (min_protocol, max_protocol, client),
                (caps, auth, role, scopes),
                (device, commands, permissions, locale, user_agent),
            )| ConnectParams {
                min_protocol,
                max_protocol,
                client,
                caps,
                auth,
                role,
                scopes,
                device,
                commands,
                permissions,
                locale,
                user_agent,
            },
        )
}

/// The free-form members read `null` as absent.
fn normalized(p: &ConnectParams) -> ConnectParams {
    let norm = |v: &Option<Value>| v.clone().filter(|v| !v.is_null());
    ConnectParams {
        device: norm(&p.device),
        commands: norm(&p.commands),
        permissions: norm(&p.permissions),
        ..p.clone()
    }
}

fn hello_ok() -> impl Strategy<Value = HelloOk> {
    (
        (any::<u32>(), any_text(8), any_text(8)),
        (
            prop::collection::vec(any_text(8), 0..6),
            prop::collection::vec(any_text(8), 0..6),
            prop::collection::vec(any_text(8), 0..4),
        ),
        arb_json(),
        (any_text(8), prop::collection::vec(any_text(8), 0..4)),
        (any::<usize>(), any::<usize>(), any::<u64>()),
    )
        .prop_map(
            |(
                (protocol, version, conn_id),
                (methods, events, capabilities),
                snapshot,
                (role, scopes),
                (max_payload, max_buffered_bytes, tick_interval_ms),
            )| HelloOk {
                kind: "hello-ok".into(),
                protocol,
                server: HelloServer { version, conn_id },
                features: HelloFeatures {
                    methods,
                    events,
                    capabilities,
                },
                snapshot,
                auth: HelloAuth { role, scopes },
                policy: HelloPolicy {
                    max_payload,
                    max_buffered_bytes,
                    tick_interval_ms,
                },
            },
        )
}

/// A connect-shaped object: the required protocol numbers usually present, other members
/// of any type.
fn connect_like() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop_oneof![(0u32..8).prop_map(Value::from), arb_json()]),
        prop::option::of(prop_oneof![(0u32..8).prop_map(Value::from), arb_json()]),
        prop::collection::vec((key(), arb_json()), 0..6),
    )
        .prop_map(|(min, max, rest)| {
            let mut map: Map<String, Value> = rest.into_iter().collect();
            if let Some(min) = min {
                map.insert("minProtocol".into(), min);
            }
            if let Some(max) = max {
                map.insert("maxProtocol".into(), max);
            }
            Value::Object(map)
        })
}

proptest! {
    #![proptest_config(config())]

    /// Any JSON value: params or a serde error; what reads is a fixed point.
    #[test]
    fn any_value_reads_or_errs(value in prop_oneof![arb_json(), connect_like()]) {
        if let Ok(params) = serde_json::from_value::<ConnectParams>(value) {
            let text = serde_json::to_string(&params).unwrap();
            let again: ConnectParams = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(again, normalized(&params));
        }
    }

    /// Generated params round-trip through text, with unknown members ignored.
    #[test]
    fn connect_params_round_trip(params in connect_params(), extra in arb_json()) {
        let mut value = serde_json::to_value(&params).unwrap();
        value["futureField"] = extra;
        let text = value.to_string();
        let read: ConnectParams = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(read, normalized(&params));
    }

    /// `Debug` of credentials shows only whether each is present.
    #[test]
    fn connect_auth_debug_is_redacted(auth in connect_auth()) {
        let shown = |s: &Option<String>| if s.is_some() { "Some(\"[redacted]\")" } else { "None" };
        let want = format!(
            "ConnectAuth {{ token: {}, password: {} }}",
            shown(&auth.token),
            shown(&auth.password)
        );
        prop_assert_eq!(format!("{auth:?}"), want);
    }

    /// The hello payload round-trips through text.
    #[test]
    fn hello_ok_round_trips(hello in hello_ok()) {
        let text = serde_json::to_string(&hello).unwrap();
        let read: HelloOk = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(read, hello);
    }
}
