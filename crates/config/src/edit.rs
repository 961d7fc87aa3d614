//! Editing the config document: the helpers behind the `config.patch` RPC and
//! `openclaw config get/set/unset`.
//!
//! Edits work on the *document* (the JSON value read from the file, with `${VAR}` left
//! literal), not on the typed [`Config`]: the typed form has defaults filled in and
//! variables substituted, so writing it back would bake secrets and defaults into the
//! file. The usual flow is [`read_document`] → [`set_path`] / [`unset_path`] /
//! [`merge_patch`] → [`validate_document`] (exactly what loading would do) → write, and
//! [`diff_paths`] to tell the reloader (and the user) what changed.
//!
//! Paths use dot/index notation: `gateway.auth.token`, `agents.list[0].id`,
//! `models.providers.my-provider.baseUrl`. Keys containing `.`, `[` or `]` cannot be
//! addressed this way.

use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::load::{
    MAX_NESTING_DEPTH, check_depth, check_value_depth, finish_document, join_index, join_key,
    parse_document,
};
use crate::schema::Config;

/// One step of a config path: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSeg {
    /// An object member, e.g. `gateway`.
    Key(String),
    /// An array element, e.g. the `0` of `list[0]`.
    Index(usize),
}

/// Why a path could not be parsed or an edit could not be applied.
///
/// Each message names the path (and, for syntax errors, the 1-based character
/// position) and says what to do instead, because the CLI prints it verbatim.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The path text is malformed (empty segment, unclosed `[`, non-numeric index …).
    #[error("invalid config path {path:?} at character {position}: {message}")]
    BadPath {
        /// The path exactly as given.
        path: String,
        /// 1-based character position of the problem.
        position: usize,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Something other than the needed container is in the way: a scalar where an
    /// object/array must be, an object where an index is used, or an array where a key
    /// is used.
    #[error("cannot set {path}: {at} is {found}, not {expected}; {hint}")]
    Conflict {
        /// The path being set.
        path: String,
        /// The prefix of `path` where the conflicting value sits (`(top level)` for the
        /// root).
        at: String,
        /// What is there (e.g. `a number`).
        found: String,
        /// What the path needs there (`an object` or `an array`).
        expected: String,
        /// How to fix it.
        hint: String,
    },
    /// An array index beyond the end (only `len`, which appends, is allowed past the
    /// last element, so edits never create holes).
    #[error(
        "cannot set {path}: index {index} is out of range, {at} has {len} item(s); use an index below {len}, or {len} to append"
    )]
    IndexOutOfRange {
        /// The path being set.
        path: String,
        /// The array's path.
        at: String,
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// `unset` with an empty path: the whole document cannot be removed.
    #[error(
        "cannot unset the whole config; give a path such as gateway.port, or write {{}} to reset it"
    )]
    Root,
    /// The path has more segments than a config document may be deep.
    #[error(
        "config path {path} has more than {MAX_NESTING_DEPTH} segments; config documents are never that deep"
    )]
    TooDeep {
        /// The path, shortened to its first segments.
        path: String,
    },
}

/// Parses a dot/index path such as `agents.list[0].id` into segments.
///
/// Keys are any non-empty run of characters other than `.`, `[` and `]` (so
/// `my-provider` or `0` are keys); indices are decimal digits in brackets and may
/// follow a key or another index (`a[0][1]`) or start the path (`[0].id`). Empty
/// segments (`a..b`, `.a`, `a.`), unclosed or stray brackets and non-numeric indices
/// are errors naming the 1-based character position.
pub fn parse_path(path: &str) -> Result<Vec<PathSeg>, EditError> {
    let chars: Vec<char> = path.chars().collect();
    let err = |index: usize, message: &str| EditError::BadPath {
        path: path.to_string(),
        position: index + 1,
        message: message.to_string(),
    };
    if chars.is_empty() {
        return Err(err(0, "the path is empty; use e.g. gateway.port"));
    }
    let mut segs = Vec::new();
    let mut i = 0;
    loop {
        // A segment: a key (required unless the path starts with an index) …
        let start = i;
        while i < chars.len() && !matches!(chars[i], '.' | '[' | ']') {
            i += 1;
        }
        if i > start {
            segs.push(PathSeg::Key(chars[start..i].iter().collect()));
        } else if !(start == 0 && chars.get(i) == Some(&'[')) {
            let message = match chars.get(i) {
                Some(']') => "unexpected ']' without a matching '['",
                _ => "empty segment; write keys separated by single dots, e.g. gateway.auth.token",
            };
            return Err(err(i, message));
        }
        // … followed by any number of [index].
        while chars.get(i) == Some(&'[') {
            let open = i;
            i += 1;
            let digits_start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            match chars.get(i) {
                None => {
                    return Err(err(open, "unclosed '['; close the index with ']'"));
                }
                Some(']') if i == digits_start => {
                    return Err(err(i, "empty index; write a number inside [ ], e.g. [0]"));
                }
                Some(']') => {}
                Some(_) => {
                    return Err(err(
                        i,
                        "an array index must be a non-negative number, e.g. list[0]",
                    ));
                }
            }
            let digits: String = chars[digits_start..i].iter().collect();
            let index = digits
                .parse::<usize>()
                .map_err(|_| err(digits_start, "array index is too large"))?;
            segs.push(PathSeg::Index(index));
            i += 1; // past ']'
        }
        if segs.len() > MAX_NESTING_DEPTH {
            return Err(err(
                i.saturating_sub(1),
                &format!("more than {MAX_NESTING_DEPTH} segments"),
            ));
        }
        match chars.get(i) {
            None => return Ok(segs),
            Some('.') => {
                i += 1;
                if i == chars.len() {
                    return Err(err(
                        i - 1,
                        "the path ends with '.'; remove it or add a key after it",
                    ));
                }
            }
            Some(']') => return Err(err(i, "unexpected ']' without a matching '['")),
            Some(_) => {
                return Err(err(i, "expected '.' or '[' after ']'"));
            }
        }
    }
}

/// Renders segments back into dot/index notation (`agents.list[0].id`); the inverse of
/// [`parse_path`] for keys without `.`, `[` or `]`. The empty path renders as `""`.
pub fn format_path(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        out = match seg {
            PathSeg::Key(k) => join_key(&out, k),
            PathSeg::Index(i) => join_index(&out, *i),
        };
    }
    out
}

/// Shows a path prefix in messages, naming the root explicitly.
fn shown(path: &[PathSeg]) -> String {
    if path.is_empty() {
        "(top level)".to_string()
    } else {
        format_path(path)
    }
}

/// Describes a JSON value's type for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value at `path`, or `None` if any step is missing or of the wrong kind (a key
/// on an array, an index on an object, anything on a scalar). The empty path is the
/// whole document.
pub fn get_path<'a>(doc: &'a Value, path: &[PathSeg]) -> Option<&'a Value> {
    let mut cur = doc;
    for seg in path {
        cur = match (seg, cur) {
            (PathSeg::Key(k), Value::Object(map)) => map.get(k)?,
            (PathSeg::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Sets the value at `path`, creating what is missing on the way.
///
/// A missing (or `null`) intermediate becomes an object, or an array when the next
/// segment is an index. An index must name an existing element or equal the length (to
/// append), so edits never leave holes. A scalar, or the wrong kind of container, in
/// the way is an error rather than being overwritten, since that would silently discard
/// configuration. The empty path replaces the whole document.
pub fn set_path(doc: &mut Value, path: &[PathSeg], value: Value) -> Result<(), EditError> {
    if path.len() > MAX_NESTING_DEPTH {
        return Err(EditError::TooDeep {
            path: format_path(&path[..MAX_NESTING_DEPTH.min(path.len())]),
        });
    }
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let full = || format_path(path);
    let mut cur = doc;
    for (i, seg) in path.iter().enumerate() {
        if cur.is_null() {
            *cur = match seg {
                PathSeg::Key(_) => Value::Object(Map::new()),
                PathSeg::Index(_) => Value::Array(Vec::new()),
            };
        }
        let is_last = i + 1 == path.len();
        cur = match (seg, cur) {
            (PathSeg::Key(k), Value::Object(map)) => {
                if is_last {
                    map.insert(k.clone(), value);
                    return Ok(());
                }
                map.entry(k.clone()).or_insert(Value::Null)
            }
            (PathSeg::Index(ix), Value::Array(items)) => {
                let len = items.len();
                if *ix > len {
                    return Err(EditError::IndexOutOfRange {
                        path: full(),
                        at: shown(&path[..i]),
                        index: *ix,
                        len,
                    });
                }
                if *ix == len {
                    items.push(Value::Null);
                }
                let Some(slot) = items.get_mut(*ix) else {
                    // Unreachable: ix < len after the push above.
                    return Err(EditError::IndexOutOfRange {
                        path: full(),
                        at: shown(&path[..i]),
                        index: *ix,
                        len,
                    });
                };
                if is_last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            (seg, other) => {
                let other: &Value = other;
                let (expected, hint) = match (seg, other) {
                    (PathSeg::Key(_), Value::Array(_)) => (
                        "an object",
                        "use an index such as [0] to address array elements".to_string(),
                    ),
                    (PathSeg::Index(_), Value::Object(_)) => {
                        ("an array", "use .key to address object members".to_string())
                    }
                    (PathSeg::Key(_), _) => (
                        "an object",
                        format!(
                            "unset {} first if you mean to replace it",
                            shown(&path[..i])
                        ),
                    ),
                    (PathSeg::Index(_), _) => (
                        "an array",
                        format!(
                            "unset {} first if you mean to replace it",
                            shown(&path[..i])
                        ),
                    ),
                };
                return Err(EditError::Conflict {
                    path: full(),
                    at: shown(&path[..i]),
                    found: kind(other).to_string(),
                    expected: expected.to_string(),
                    hint,
                });
            }
        };
    }
    // Unreachable: the last segment always returns inside the loop.
    Ok(())
}

/// Removes the value at `path`. Returns `Ok(false)` when there was nothing to remove
/// (including when a step is missing or of the wrong kind), so `config unset` is
/// idempotent. Removing an array element shifts the following ones down. The empty
/// path is an error ([`EditError::Root`]).
pub fn unset_path(doc: &mut Value, path: &[PathSeg]) -> Result<bool, EditError> {
    let Some((last, parents)) = path.split_last() else {
        return Err(EditError::Root);
    };
    let mut cur = doc;
    for seg in parents {
        cur = match (seg, cur) {
            (PathSeg::Key(k), Value::Object(map)) => match map.get_mut(k) {
                Some(v) => v,
                None => return Ok(false),
            },
            (PathSeg::Index(i), Value::Array(items)) => match items.get_mut(*i) {
                Some(v) => v,
                None => return Ok(false),
            },
            _ => return Ok(false),
        };
    }
    Ok(match (last, cur) {
        (PathSeg::Key(k), Value::Object(map)) => map.remove(k).is_some(),
        (PathSeg::Index(i), Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    })
}

/// Applies an RFC 7396 JSON merge patch to `target`: object members are merged
/// recursively, `null` deletes a member, and any non-object patch (including arrays)
/// replaces the target value as a whole. Iterative, so a deeply nested patch cannot
/// overflow the stack.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let mut stack: Vec<(&mut Value, &Value)> = vec![(target, patch)];
    while let Some((t, p)) = stack.pop() {
        let Value::Object(pm) = p else {
            *t = p.clone();
            continue;
        };
        if !t.is_object() {
            *t = Value::Object(Map::new());
        }
        let Value::Object(tm) = t else {
            continue;
        };
        for (k, v) in pm {
            match v {
                Value::Null => {
                    tm.remove(k);
                }
                Value::Object(_) => {
                    // Merged below, once all direct members are settled.
                    tm.entry(k.clone()).or_insert(Value::Null);
                }
                other => {
                    tm.insert(k.clone(), other.clone());
                }
            }
        }
        for (k, tv) in tm.iter_mut() {
            if let Some(pv @ Value::Object(_)) = pm.get(k) {
                stack.push((tv, pv));
            }
        }
    }
}

/// Interprets a value given on the command line (`openclaw config set <path> <value>`):
/// JSON5 if it parses (`18789`, `true`, `null`, `"quoted"`, `[1, 2]`,
/// `{ enabled: true }`), otherwise the raw text as a string, so `config set
/// gateway.bind lan` works without quotes. Quote a value to force a string (`'"123"'`).
pub fn parse_value_arg(raw: &str) -> Value {
    if check_depth(raw).is_err() {
        return Value::String(raw.to_string());
    }
    json5::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// Reads config text into a document for editing: JSON5 → JSON value, with `${VAR}`
/// kept literally so an edit never writes a substituted secret back to the file.
/// Syntax errors are reported exactly as loading reports them (line and column); the
/// root must be an object.
pub fn read_document(raw: &str) -> Result<Value, ConfigError> {
    parse_document(raw)
}

/// Checks an edited document the way loading would: `${VAR}` substitution from `env`,
/// strict typing, then [`Config::validate`]. Returns the config the gateway would run
/// with, or the error (with its JSON path) that loading the document would produce, so
/// an edit can be refused before it is written.
pub fn validate_document(
    doc: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    check_value_depth(doc)?;
    finish_document(doc.clone(), env)
}

/// The paths whose values differ between two documents, sorted: members added,
/// removed or changed. Objects are compared member by member; anything else (arrays
/// included) is compared as a whole at its path, so reordering `agents.list` yields
/// `agents.list`. Adding a section yields just the section (`agents`), not its leaves.
/// If the roots themselves differ and are not both objects, the result is `[""]`.
pub fn diff_paths(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, &Value, &Value)> = vec![(String::new(), old, new)];
    while let Some((path, a, b)) = stack.pop() {
        match (a, b) {
            (Value::Object(ma), Value::Object(mb)) => {
                for (k, va) in ma {
                    match mb.get(k) {
                        Some(vb) if va == vb => {}
                        Some(vb) => stack.push((join_key(&path, k), va, vb)),
                        None => out.push(join_key(&path, k)),
                    }
                }
                for k in mb.keys() {
                    if !ma.contains_key(k) {
                        out.push(join_key(&path, k));
                    }
                }
            }
            _ => {
                if a != b {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> PathSeg {
        PathSeg::Key(k.to_string())
    }

    fn p(s: &str) -> Vec<PathSeg> {
        parse_path(s).unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parses_paths() {
        assert_eq!(
            p("gateway.auth.token"),
            vec![key("gateway"), key("auth"), key("token")]
        );
        assert_eq!(
            p("agents.list[0].id"),
            vec![key("agents"), key("list"), PathSeg::Index(0), key("id")]
        );
        assert_eq!(
            p("models.providers.my-provider.baseUrl"),
            vec![
                key("models"),
                key("providers"),
                key("my-provider"),
                key("baseUrl")
            ]
        );
        assert_eq!(
            p("a[1][22]"),
            vec![key("a"), PathSeg::Index(1), PathSeg::Index(22)]
        );
        assert_eq!(p("[3].x"), vec![PathSeg::Index(3), key("x")]);
        assert_eq!(p("0"), vec![key("0")]);
        assert_eq!(p("ключ.é"), vec![key("ключ"), key("é")]);
        for s in [
            "gateway.auth.token",
            "agents.list[0].id",
            "a[1][22]",
            "[3].x",
        ] {
            assert_eq!(format_path(&p(s)), s);
        }
    }

    #[test]
    fn rejects_bad_paths_with_position() {
        let cases = [
            ("", 1),
            (".a", 1),
            ("a..b", 3),
            ("a.", 2),
            ("a[", 2),
            ("a[0", 2),
            ("a[]", 3),
            ("a[x]", 3),
            ("a[-1]", 3),
            ("a]", 2),
            ("a[0]b", 5),
            ("a.[0]", 3),
            ("a[99999999999999999999999]", 3),
            ("é.", 2),
        ];
        for (s, pos) in cases {
            match parse_path(s) {
                Err(e @ EditError::BadPath { .. }) => {
                    let EditError::BadPath { position, .. } = &e else {
                        unreachable!()
                    };
                    assert_eq!(*position, pos, "{s:?}: {e}");
                    assert!(e.to_string().contains(&format!("character {pos}")), "{e}");
                }
                other => panic!("{s:?}: {other:?}"),
            }
        }
        let long = vec!["a"; MAX_NESTING_DEPTH + 1].join(".");
        assert!(parse_path(&long).is_err());
    }

    #[test]
    fn get_set_unset() {
        let mut doc = json!({ "gateway": { "port": 1 }, "agents": { "list": [{ "id": "a" }] } });
        assert_eq!(get_path(&doc, &p("gateway.port")), Some(&json!(1)));
        assert_eq!(get_path(&doc, &p("agents.list[0].id")), Some(&json!("a")));
        assert_eq!(get_path(&doc, &p("agents.list[1]")), None);
        assert_eq!(get_path(&doc, &p("gateway.port.x")), None);
        assert_eq!(get_path(&doc, &p("gateway[0]")), None);
        assert_eq!(get_path(&doc, &[]), Some(&doc));

        set_path(&mut doc, &p("gateway.auth.token"), json!("t")).unwrap();
        assert_eq!(doc["gateway"]["auth"]["token"], "t");
        set_path(&mut doc, &p("agents.list[1].id"), json!("b")).unwrap();
        assert_eq!(doc["agents"]["list"][1], json!({ "id": "b" }));
        set_path(&mut doc, &p("agents.list[0]"), json!({ "id": "z" })).unwrap();
        assert_eq!(doc["agents"]["list"][0]["id"], "z");
        set_path(&mut doc, &p("x.y[0][0]"), json!(5)).unwrap();
        assert_eq!(doc["x"], json!({ "y": [[5]] }));
        doc["n"] = Value::Null;
        set_path(&mut doc, &p("n.m"), json!(true)).unwrap();
        assert_eq!(doc["n"], json!({ "m": true }));

        let e = set_path(&mut doc, &p("agents.list[5].id"), json!("c")).unwrap_err();
        assert!(
            matches!(&e, EditError::IndexOutOfRange { index: 5, len: 2, at, .. } if at == "agents.list"),
            "{e}"
        );
        let e = set_path(&mut doc, &p("gateway.port.x"), json!(1)).unwrap_err();
        assert!(
            matches!(&e, EditError::Conflict { at, .. } if at == "gateway.port"),
            "{e}"
        );
        assert!(e.to_string().contains("unset gateway.port first"), "{e}");
        let e = set_path(&mut doc, &p("agents.list.x"), json!(1)).unwrap_err();
        assert!(e.to_string().contains("[0]"), "{e}");
        let e = set_path(&mut doc, &p("gateway[0]"), json!(1)).unwrap_err();
        assert!(e.to_string().contains("an array"), "{e}");

        assert!(unset_path(&mut doc, &p("gateway.auth.token")).unwrap());
        assert!(!unset_path(&mut doc, &p("gateway.auth.token")).unwrap());
        assert!(!unset_path(&mut doc, &p("gateway.port.x")).unwrap());
        assert!(!unset_path(&mut doc, &p("nope.deeper")).unwrap());
        assert!(unset_path(&mut doc, &p("agents.list[0]")).unwrap());
        assert_eq!(doc["agents"]["list"], json!([{ "id": "b" }]));
        assert!(!unset_path(&mut doc, &p("agents.list[3]")).unwrap());
        assert_eq!(unset_path(&mut doc, &[]), Err(EditError::Root));

        let mut root = json!(1);
        set_path(&mut root, &[], json!({})).unwrap();
        assert_eq!(root, json!({}));
        let deep: Vec<PathSeg> = (0..=MAX_NESTING_DEPTH).map(|_| key("a")).collect();
        assert!(matches!(
            set_path(&mut root, &deep, json!(1)),
            Err(EditError::TooDeep { .. })
        ));
    }

    #[test]
    fn merge_patch_follows_rfc7396() {
        // The examples of RFC 7396, appendix A.
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut target, patch, want) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, want, "patch {patch}");
        }
    }

    #[test]
    fn value_args() {
        assert_eq!(parse_value_arg("18789"), json!(18789));
        assert_eq!(parse_value_arg("true"), json!(true));
        assert_eq!(parse_value_arg("null"), Value::Null);
        assert_eq!(parse_value_arg("'quoted'"), json!("quoted"));
        assert_eq!(parse_value_arg("\"123\""), json!("123"));
        assert_eq!(parse_value_arg("[1, 'a']"), json!([1, "a"]));
        assert_eq!(
            parse_value_arg("{ enabled: true, }"),
            json!({ "enabled": true })
        );
        assert_eq!(parse_value_arg("lan"), json!("lan"));
        assert_eq!(parse_value_arg("${TOKEN}"), json!("${TOKEN}"));
        assert_eq!(parse_value_arg("http://x/v1"), json!("http://x/v1"));
        assert_eq!(parse_value_arg(""), json!(""));
        assert_eq!(parse_value_arg("{ broken"), json!("{ broken"));
        for odd in [
            "Infinity",
            "-Infinity",
            "NaN",
            "1e999",
            "0x1F",
            "-0",
            ".5",
            "\u{0}",
        ] {
            // Whatever these become, they must not panic.
            let _ = parse_value_arg(odd);
        }
        let deep = "[".repeat(100_000);
        assert_eq!(parse_value_arg(&deep), Value::String(deep.clone()));
    }

    #[test]
    fn read_keeps_variables_and_validate_substitutes() {
        let doc =
            read_document("\u{feff}{ gateway: { auth: { token: '${TOK}' } } // c\n}").unwrap();
        assert_eq!(doc["gateway"]["auth"]["token"], "${TOK}");
        let env = |k: &str| (k == "TOK").then(|| "secret".to_string());
        let c = validate_document(&doc, &env).unwrap();
        assert_eq!(c.gateway.auth.token.unwrap().expose(), "secret");
        assert!(matches!(
            validate_document(&doc, &no_env),
            Err(ConfigError::MissingEnv { path, .. }) if path == "gateway.auth.token"
        ));
        // The document itself is not modified by validation.
        assert_eq!(doc["gateway"]["auth"]["token"], "${TOK}");

        let e = read_document("{\n  gateway: {\n    port: ,\n  }\n}").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { line: 3, .. }), "{e}");
        let e = read_document("[1]").unwrap_err();
        assert!(e.to_string().contains("must be a JSON5 object"), "{e}");

        let e = validate_document(&json!({ "gateway": { "prot": 1 } }), &no_env).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { path, .. } if path == "gateway.prot"),
            "{e}"
        );
        let e = validate_document(&json!(5), &no_env).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { path, .. } if path.is_empty()),
            "{e}"
        );

        let mut inner = json!(1);
        for _ in 0..MAX_NESTING_DEPTH {
            inner = json!([inner]);
        }
        let deep = json!({ "meta": inner });
        let e = validate_document(&deep, &no_env).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { path, .. } if path.starts_with("meta[0]")),
            "{e}"
        );
        assert!(e.to_string().contains("nested more than"), "{e}");
    }

    #[test]
    fn edit_flow_round_trip() {
        let mut doc = read_document("{ gateway: { port: 18789 } }").unwrap();
        let before = doc.clone();
        set_path(&mut doc, &p("gateway.port"), parse_value_arg("19000")).unwrap();
        set_path(&mut doc, &p("gateway.bind"), parse_value_arg("lan")).unwrap();
        let c = validate_document(&doc, &no_env).unwrap();
        assert_eq!(c.gateway.port, Some(19000));
        assert_eq!(
            diff_paths(&before, &doc),
            vec!["gateway.bind", "gateway.port"]
        );
        set_path(&mut doc, &p("gateway.bind"), parse_value_arg("wide")).unwrap();
        let e = validate_document(&doc, &no_env).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { path, .. } if path == "gateway.bind"),
            "{e}"
        );
    }

    #[test]
    fn diffs() {
        let old =
            json!({ "gateway": { "port": 1, "bind": "lan" }, "logging": { "level": "info" } });
        let mut new = old.clone();
        new["gateway"]["port"] = json!(2);
        assert_eq!(diff_paths(&old, &new), vec!["gateway.port"]);
        new["agents"] = json!({ "list": [{ "id": "a" }] });
        assert_eq!(diff_paths(&old, &new), vec!["agents", "gateway.port"]);
        new.as_object_mut().unwrap().remove("logging");
        assert_eq!(
            diff_paths(&old, &new),
            vec!["agents", "gateway.port", "logging"]
        );
        let a = json!({ "agents": { "list": [{ "id": "a" }, { "id": "b" }] } });
        let b = json!({ "agents": { "list": [{ "id": "b" }, { "id": "a" }] } });
        assert_eq!(diff_paths(&a, &b), vec!["agents.list"]);
        assert!(diff_paths(&a, &a).is_empty());
        assert_eq!(diff_paths(&json!(1), &json!(2)), vec![""]);
        assert_eq!(
            diff_paths(&json!({ "a": { "b": 1 } }), &json!({ "a": 1 })),
            vec!["a"]
        );
    }
}
