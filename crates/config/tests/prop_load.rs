//! Property tests of loading config text ([`parse_str`], [`read_document`],
//! [`validate_document`]).
//!
//! * Any text gives a [`Config`] or a typed [`ConfigError`] with a useful message, never a
//!   panic; loading is exactly "read the document, then validate it".
//! * Any JSON value written out as text (compact or pretty) reads back as the same
//!   document (JSON is a subset of JSON5), or is refused at the root if not an object.
//! * Free-form sections (`meta`) load as written.
//! * `${VAR}` substitution with arbitrary environments: references are replaced by their
//!   values (never re-scanned), `$${VAR}` escapes, anything not a reference is kept, keys
//!   are left alone, and an unset or empty variable is a `MissingEnv` error naming the
//!   variable and the value's path.

use std::collections::BTreeMap;

use openclaw_config::{
    Config, ConfigError, MAX_NESTING_DEPTH, parse_str, read_document, validate_document,
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

fn no_env(_: &str) -> Option<String> {
    None
}

fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// Text without `$`, so it contains no `${VAR}` reference.
fn plain_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>().prop_filter("no $", |c| *c != '$'), 0..max)
        .prop_map(String::from_iter)
}

/// Floats that survive a text round trip exactly.
fn exact_float() -> impl Strategy<Value = f64> {
    (any::<i32>(), 0u32..10).prop_map(|(m, e)| f64::from(m) / f64::from(1u32 << e))
}

/// Config-ish keys, so generated documents reach the typed sections.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "gateway", "port", "bind", "auth", "mode", "token", "logging", "level", "meta",
            "models", "providers", "agents", "list", "id", "channels", "wizard", "x",
        ])
        .prop_map(str::to_owned),
        1 => plain_text(6),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u32..70_000).prop_map(Value::from),
        exact_float().prop_map(Value::from),
        plain_text(10).prop_map(Value::String),
        prop::sample::select(vec!["lan", "loopback", "token", "local", "debug", "${A}"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            2 => prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Like [`arb_json`] with no `$` anywhere in strings.
fn plain_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        exact_float().prop_map(Value::from),
        plain_text(10).prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((any_text(6), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// JSON5 fragments, for text that is sometimes almost a config.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "'",
    " ",
    "\n",
    "\r\n",
    "//",
    "/*",
    "*/",
    "\\",
    "gateway",
    "port",
    "auth",
    "token",
    "bind",
    "mode",
    "meta",
    "logging",
    "level",
    "18789",
    "0",
    "-1",
    "1e400",
    "0x1F",
    "Infinity",
    "NaN",
    ".5",
    "+1",
    "99999999999999999999",
    "true",
    "false",
    "null",
    "\"lan\"",
    "'x'",
    "${A}",
    "${MISSING}",
    "$${A}",
    "$",
    "é",
    "\u{2028}",
    "\u{feff}",
    "\u{0}",
    "\\u0041",
    "\\x41",
    "\"\\u{D800}\"",
];

fn text_input() -> impl Strategy<Value = String> {
    prop_oneof![
        any_text(48),
        prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat()),
        arb_json().prop_map(|v| v.to_string()),
        (arb_json(), any::<prop::sample::Index>()).prop_map(|(v, at)| {
            // Valid JSON cut at a character boundary.
            let s = serde_json::to_string_pretty(&v).unwrap();
            let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
            let end = if bounds.is_empty() {
                0
            } else {
                bounds[at.index(bounds.len())]
            };
            s[..end].to_owned()
        }),
        (
            1usize..400,
            prop::sample::select(vec!["[", "{a:", "{\"a\":", "['", "/*["])
        )
            .prop_map(|(n, open)| format!("{{meta: {}}}", open.repeat(n))),
        // Brackets mixed with strings, escapes and comments: the depth check must count
        // every bracket the parser will recurse into (or more), or a deep input would
        // overflow the stack and abort the process.
        prop::collection::vec(
            prop::sample::select(vec![
                "[", "[", "[", "{a:", "{'a':", "]", "}", ",", "'", "\"", "\\", "//", "/*", "*/",
                "\n", "\r", "\u{2028}", "1", "a",
            ]),
            0..600,
        )
        .prop_map(|t| format!("{{meta: {}", t.concat())),
    ]
}

/// Every error is typed and says something; value errors name their path.
fn check_error(err: &ConfigError) -> Result<(), TestCaseError> {
    let shown = err.to_string();
    prop_assert!(!shown.trim().is_empty());
    match err {
        ConfigError::Parse { message, .. } => prop_assert!(!message.trim().is_empty()),
        ConfigError::Invalid { path, message } => {
            prop_assert!(!message.trim().is_empty());
            prop_assert!(
                path.is_empty() || shown.contains(path.as_str()),
                "{}",
                shown
            );
        }
        ConfigError::MissingEnv { path, var } => {
            prop_assert!(shown.contains(var.as_str()) && shown.contains(path.as_str()));
        }
        _ => {}
    }
    Ok(())
}

fn env_of(map: &BTreeMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    |name| map.get(name).cloned()
}

/// One piece of a string to substitute in.
#[derive(Clone, Debug)]
enum Seg {
    /// Literal text without `$`.
    Lit(String),
    /// `${NAME}`.
    Ref(String),
    /// `$${NAME}`, which stands for a literal `${NAME}`.
    Esc(String),
    /// Something with a `$` that is not a reference: `${lower}`, `${}`, `${1A}`, `$x`.
    NotRef(&'static str),
}

fn var_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["A", "B", "HOME", "_", "X_1"]).prop_map(str::to_owned),
        "[A-Z_][A-Z0-9_]{0,6}",
    ]
}

fn seg() -> impl Strategy<Value = Seg> {
    prop_oneof![
        3 => plain_text(8).prop_map(Seg::Lit),
        3 => var_name().prop_map(Seg::Ref),
        1 => var_name().prop_map(Seg::Esc),
        1 => prop::sample::select(vec!["${lower}", "${}", "${1A}", "$x", "${a-b}", "$ {A}"])
            .prop_map(Seg::NotRef),
    ]
}

/// Renders segments as config text and as the expected result under `env`; the error
/// is the first unset or empty variable referenced. No segment ends in `$` and literal
/// text has none, so joining segments never forms a reference or an escape.
fn render(segs: &[Seg], env: &BTreeMap<String, String>) -> (String, Result<String, String>) {
    let mut raw = String::new();
    let mut want: Result<String, String> = Ok(String::new());
    for seg in segs {
        let (text, value) = match seg {
            Seg::Lit(t) => (t.clone(), Ok(t.clone())),
            Seg::Ref(name) => (
                format!("${{{name}}}"),
                env.get(name)
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .ok_or_else(|| name.clone()),
            ),
            Seg::Esc(name) => (format!("$${{{name}}}"), Ok(format!("${{{name}}}"))),
            Seg::NotRef(t) => (t.to_string(), Ok(t.to_string())),
        };
        raw.push_str(&text);
        want = match (want, value) {
            (Ok(mut w), Ok(v)) => {
                w.push_str(&v);
                Ok(w)
            }
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        };
    }
    (raw, want)
}

/// Environments: some of the usual names set (possibly empty, possibly to text that
/// looks like a reference itself), plus arbitrary ones.
fn environment() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        var_name(),
        prop_oneof![
            Just(String::new()),
            Just("${A}".to_owned()),
            Just("$${B}".to_owned()),
            any_text(8),
        ],
        0..6,
    )
}

proptest! {
    #![proptest_config(config())]

    /// Any text: a config or a typed error; `parse_str` is `read_document` followed by
    /// `validate_document`.
    #[test]
    fn any_text_loads_or_errs(text in text_input()) {
        let env = |name: &str| (name == "A").then(|| "value-a".to_owned());
        let loaded = parse_str(&text, &env);
        match read_document(&text) {
            Err(e) => {
                check_error(&e)?;
                let loaded_err = loaded.as_ref().map(|_| ()).unwrap_err();
                prop_assert_eq!(loaded_err.to_string(), e.to_string());
            }
            Ok(doc) => {
                prop_assert!(doc.is_object());
                match (validate_document(&doc, &env), &loaded) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(&a, b),
                    (Err(a), Err(b)) => {
                        check_error(b)?;
                        prop_assert_eq!(a.to_string(), b.to_string());
                    }
                    (a, b) => prop_assert!(false, "validate {:?} vs parse {:?}", a, b),
                }
            }
        }
    }

    /// Any JSON value as text reads back as itself (or is refused at the root), and
    /// loading it gives a config or a typed error.
    #[test]
    fn json_text_reads_back(value in arb_json(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            value.to_string()
        };
        match read_document(&text) {
            Ok(doc) => prop_assert_eq!(doc, value, "text: {}", text),
            Err(e) => {
                prop_assert!(!value.is_object(), "object refused: {} for {}", e, text);
                prop_assert!(
                    matches!(&e, ConfigError::Invalid { path, .. } if path.is_empty()),
                    "{}", e
                );
            }
        }
        if let Err(e) = parse_str(&text, &no_env) {
            check_error(&e)?;
        }
    }

    /// Free-form `meta` loads exactly as written.
    #[test]
    fn meta_loads_as_written(meta in plain_json()) {
        let text = json!({ "meta": meta }).to_string();
        let config: Config = parse_str(&text, &no_env).map_err(|e| {
            TestCaseError::fail(format!("{e} for {text}"))
        })?;
        prop_assert_eq!(config.meta, Some(meta).filter(|m| !m.is_null()));
    }

    /// `${VAR}` substitution with arbitrary environments, in a value, an array element
    /// and next to a key that looks like a reference (keys are never substituted).
    #[test]
    fn env_substitution(
        segs in prop::collection::vec(seg(), 0..8),
        env in environment(),
        in_array in any::<bool>(),
    ) {
        let (raw, want) = render(&segs, &env);
        let (meta, path) = if in_array {
            (json!({ "${A}": [1, raw] }), "meta.${A}[1]")
        } else {
            (json!({ "${A}": raw }), "meta.${A}")
        };
        let text = json!({ "meta": meta }).to_string();
        let lookup = env_of(&env);
        match (parse_str(&text, &lookup), want) {
            (Ok(config), Ok(want)) => {
                let meta = config.meta.unwrap();
                let got = if in_array { &meta["${A}"][1] } else { &meta["${A}"] };
                prop_assert_eq!(got, &Value::String(want), "raw {:?}", raw);
            }
            (Err(ConfigError::MissingEnv { var, path: at }), Err(missing)) => {
                prop_assert_eq!(var, missing);
                prop_assert_eq!(at, path);
            }
            (got, want) => prop_assert!(false, "raw {:?}: got {:?}, want {:?}", raw, got, want),
        }
    }
}

/// Nesting just under the limit loads; one more level is a parse error, never a crash.
#[test]
fn nesting_limit() {
    let inner = MAX_NESTING_DEPTH - 1;
    let ok = format!("{{meta: {}{}}}", "[".repeat(inner), "]".repeat(inner));
    assert!(parse_str(&ok, &no_env).is_ok());
    let deep = format!(
        "{{meta: {}{}}}",
        "[".repeat(inner + 1),
        "]".repeat(inner + 1)
    );
    assert!(matches!(
        parse_str(&deep, &no_env),
        Err(ConfigError::Parse { .. })
    ));
}
