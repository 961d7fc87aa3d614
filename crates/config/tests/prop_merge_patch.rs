//! Property tests of [`merge_patch`] (RFC 7396), which `config.patch` applies.
//!
//! On arbitrary JSON documents and patches (keys drawn from a small set so that patch and
//! document overlap):
//! * the result equals a direct transcription of the RFC's recursive pseudo-code;
//! * applying a patch twice changes nothing the second time (idempotence);
//! * after a patch without `null`s every value in the patch reads back at its path;
//! * members the patch does not name are left alone, and `null` members are removed.

use openclaw_config::{PathSeg, get_path, merge_patch};
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

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["a", "b", "c", "gateway", "port", ""]).prop_map(str::to_owned),
        1 => prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter),
    ]
}

fn leaf(nulls: bool) -> BoxedStrategy<Value> {
    let base = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (any::<i32>(), 0u32..8).prop_map(|(m, e)| Value::from(f64::from(m) / f64::from(1u32 << e))),
        prop::collection::vec(any::<char>(), 0..8)
            .prop_map(|c| Value::String(String::from_iter(c))),
    ];
    if nulls {
        prop_oneof![1 => Just(Value::Null), 4 => base].boxed()
    } else {
        base.boxed()
    }
}

/// Any JSON value; with `nulls` false, one without any `null` at all (not even inside
/// arrays), as a patch that only sets values.
fn arb_json(nulls: bool) -> impl Strategy<Value = Value> {
    leaf(nulls).prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            3 => prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Mostly objects: the shape of config documents and of `config.patch` patches.
fn doc(nulls: bool) -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => arb_json(nulls),
        4 => prop::collection::vec((key(), arb_json(nulls)), 0..6)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
    ]
}

/// RFC 7396 section 2, transcribed.
fn reference(target: &Value, patch: &Value) -> Value {
    let Value::Object(pm) = patch else {
        return patch.clone();
    };
    let mut t = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for (k, v) in pm {
        if v.is_null() {
            t.remove(k);
        } else {
            let current = t.get(k).cloned().unwrap_or(Value::Null);
            t.insert(k.clone(), reference(&current, v));
        }
    }
    Value::Object(t)
}

fn patched(doc: &Value, patch: &Value) -> Value {
    let mut out = doc.clone();
    merge_patch(&mut out, patch);
    out
}

/// Every `(path, value)` where the patch sets a non-object value, or an empty object
/// (which leaves an object there), following objects only.
fn leaves(patch: &Value) -> Vec<(Vec<PathSeg>, &Value)> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), patch)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, c) in m {
                    let mut p = path.clone();
                    p.push(PathSeg::Key(k.clone()));
                    stack.push((p, c));
                }
            }
            _ => out.push((path, v)),
        }
    }
    out
}

proptest! {
    #![proptest_config(config())]

    /// The iterative implementation agrees with the RFC's recursive definition.
    #[test]
    fn matches_the_rfc(d in doc(true), p in doc(true)) {
        prop_assert_eq!(patched(&d, &p), reference(&d, &p));
    }

    /// patch(patch(doc, p), p) == patch(doc, p).
    #[test]
    fn is_idempotent(d in doc(true), p in doc(true)) {
        let once = patched(&d, &p);
        prop_assert_eq!(patched(&once, &p), once);
    }

    /// After a patch without nulls, every value it sets is what reads back.
    #[test]
    fn set_values_read_back(d in doc(true), p in doc(false)) {
        let out = patched(&d, &p);
        for (path, want) in leaves(&p) {
            let got = get_path(&out, &path);
            match want {
                Value::Object(_) => prop_assert!(
                    got.is_some_and(Value::is_object),
                    "{:?}: {:?}", path, got
                ),
                want => prop_assert_eq!(got, Some(want), "at {:?}", path),
            }
        }
    }

    /// Members the patch does not name survive; `null` members are gone.
    #[test]
    fn unnamed_members_survive_and_nulls_delete(
        d in prop::collection::btree_map(key(), arb_json(true), 0..6),
        p in prop::collection::btree_map(key(), arb_json(true), 0..6),
    ) {
        let d: Value = Value::Object(d.into_iter().collect());
        let pm: Map<String, Value> = p.into_iter().collect();
        let out = patched(&d, &Value::Object(pm.clone()));
        let out = out.as_object().expect("an object patch gives an object");
        for (k, v) in d.as_object().unwrap() {
            if !pm.contains_key(k) {
                prop_assert_eq!(out.get(k), Some(v));
            }
        }
        for (k, v) in &pm {
            prop_assert_eq!(out.contains_key(k), !v.is_null(), "member {:?}", k);
        }
    }
}
