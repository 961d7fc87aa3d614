//! Reading the config file: JSON5 parse, `${VAR}` substitution, strict typing, semantic
//! checks.
//!
//! The pipeline is split so each stage can report its own kind of error precisely:
//! syntax errors carry line/column, substitution errors and schema errors carry the JSON
//! path of the offending value.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ConfigError;
use crate::schema::Config;

/// Deepest `[`/`{` nesting accepted. The JSON5 parser and the code walking the parsed
/// tree are recursive, so unbounded nesting in a hostile or corrupted file could exhaust
/// the stack (an abort, not a recoverable error). Real configs are a few levels deep.
pub const MAX_NESTING_DEPTH: usize = 128;

/// The result of loading the config file.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The parsed, substituted and validated config (defaults when the file is missing).
    pub config: Config,
    /// Whether the file existed; lets callers distinguish "defaults" from "configured".
    pub exists: bool,
    /// The file's text exactly as read (before substitution), or `None` when missing.
    pub raw: Option<String>,
    /// SHA-256 hex of the raw bytes (of `""` when missing); used to detect concurrent
    /// edits (compare-and-swap on write) and to skip no-op reloads.
    pub hash: String,
    /// The file that was (or would have been) read.
    pub path: PathBuf,
}

/// Loads and validates the config at `path`, substituting `${VAR}` from `env`.
///
/// A missing file is not an error: it yields the defaults with `exists: false`, so a
/// fresh install works without any setup. `env` is a lookup rather than the process
/// environment so callers (and tests) control exactly what is visible.
pub fn load_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded {
                config: Config::default(),
                exists: false,
                raw: None,
                hash: hash_bytes(b""),
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let hash = hash_bytes(&bytes);
    let raw = match String::from_utf8(bytes) {
        Ok(raw) => raw,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            // The prefix up to `valid` is valid UTF-8 by definition.
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]);
            let (line, column) = line_col(&prefix, prefix.len());
            return Err(ConfigError::Parse {
                path: Some(path.to_path_buf()),
                line,
                column,
                message: format!("file is not valid UTF-8 (bad byte at offset {valid})"),
            });
        }
    };
    let config = parse_str(&raw, env).map_err(|e| e.with_file(path))?;
    Ok(Loaded {
        config,
        exists: true,
        raw: Some(raw),
        hash,
        path: path.to_path_buf(),
    })
}

/// Parses config text: JSON5 → `${VAR}` substitution → strict deserialize →
/// [`Config::validate`]. This is what [`load_file`] uses; exposed so callers that receive
/// config text over the wire (e.g. a `config.set` RPC) can check it before writing it.
pub fn parse_str(raw: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let value = parse_document(raw)?;
    finish_document(value, env)
}

/// The syntax stage alone: JSON5 text (an optional BOM is skipped) → JSON value whose
/// root is an object. Nothing is substituted, so `${VAR}` stays literal; shared by
/// [`parse_str`] and [`crate::read_document`] so both report syntax errors identically.
pub(crate) fn parse_document(raw: &str) -> Result<Value, ConfigError> {
    let text = raw.strip_prefix('\u{feff}').unwrap_or(raw);
    check_depth(text)?;
    let value: Value = json5::from_str(text).map_err(|e| parse_error(&e, text))?;
    check_root(&value)?;
    Ok(value)
}

/// The semantic stages: `${VAR}` substitution → strict deserialize →
/// [`Config::validate`]. Shared by [`parse_str`] and [`crate::validate_document`].
pub(crate) fn finish_document(
    mut value: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    check_root(&value)?;
    substitute_env(&mut value, String::new(), env)?;
    crate::aliases::normalize(&mut value)?;
    let mut config = deserialize_config(value)?;
    crate::agents::resolve_bare_models(config.models.as_ref(), config.agents.as_mut())?;
    config.validate()?;
    Ok(config)
}

/// The document root must be an object; anything else gets a message showing the
/// expected shape.
fn check_root(value: &Value) -> Result<(), ConfigError> {
    if value.is_object() {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        path: String::new(),
        message: format!(
            "the config must be a JSON5 object like {{ gateway: {{ port: 18789 }} }}, found {}",
            kind_of(value)
        ),
    })
}

/// Rejects a JSON value nested deeper than [`MAX_NESTING_DEPTH`], for documents built
/// in code (e.g. by `set_path` or `merge_patch`) that never went through
/// [`check_depth`]. Iterative, so the check itself cannot overflow the stack.
pub(crate) fn check_value_depth(value: &Value) -> Result<(), ConfigError> {
    let mut stack: Vec<(&Value, usize, String)> = vec![(value, 0, String::new())];
    while let Some((v, depth, path)) = stack.pop() {
        let children: Vec<(&Value, String)> = match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, c)| (c, join_index(&path, i)))
                .collect(),
            Value::Object(map) => map.iter().map(|(k, c)| (c, join_key(&path, k))).collect(),
            _ => continue,
        };
        let depth = depth + 1;
        if depth > MAX_NESTING_DEPTH {
            return Err(ConfigError::Invalid {
                path,
                message: format!(
                    "arrays/objects nested more than {MAX_NESTING_DEPTH} levels deep; flatten the value"
                ),
            });
        }
        for (c, p) in children {
            if c.is_array() || c.is_object() {
                stack.push((c, depth, p));
            }
        }
    }
    Ok(())
}

/// SHA-256 of `text` as lowercase hex, the same digest [`Loaded::hash`] uses. Lets a
/// writer compute the hash of what it is about to write, or compare a client-supplied
/// base hash, without re-reading the file.
pub fn content_hash(text: &str) -> String {
    hash_bytes(text.as_bytes())
}

fn hash_bytes(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Describes a JSON value's type for messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// 1-based line and column of byte `offset` in `text`, counting characters (not bytes)
/// for the column, as editors do. `offset` is clamped to a valid boundary.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    let mut prev_cr = false;
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        match c {
            '\n' if prev_cr => {}
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => {
                line += 1;
                column = 1;
            }
            _ => column += 1,
        }
        prev_cr = c == '\r';
    }
    (line, column)
}

/// Converts a `json5` error into [`ConfigError::Parse`] with 1-based positions. Errors
/// the parser raises at end of input carry no position; they are placed at the end of
/// the text, which is where the problem (an unclosed brace, say) shows up.
fn parse_error(err: &json5::Error, text: &str) -> ConfigError {
    let (line, column, message) = match err.position() {
        Some(pos) => {
            let full = err.to_string();
            let suffix = format!(" at {pos}");
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
            (
                pos.line.saturating_add(1),
                pos.column.saturating_add(1),
                message,
            )
        }
        None => {
            let message = err.to_string();
            if message.starts_with("EOF") {
                let (line, column) = line_col(text, text.len());
                (line, column, message)
            } else {
                (0, 0, message)
            }
        }
    };
    let message = if message.starts_with("EOF") {
        format!("unexpected end of input ({message})")
    } else {
        message
    };
    ConfigError::Parse {
        path: None,
        line,
        column,
        message,
    }
}

/// Rejects input nested deeper than [`MAX_NESTING_DEPTH`] before the recursive parser
/// sees it. Understands JSON5 strings and comments so brackets inside them don't count.
pub(crate) fn check_depth(text: &str) -> Result<(), ConfigError> {
    enum State {
        Normal,
        Str(char),
        LineComment,
        BlockComment,
    }
    let mut state = State::Normal;
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match state {
            State::Normal => match c {
                '"' | '\'' => state = State::Str(c),
                '/' => match chars.peek() {
                    Some((_, '/')) => {
                        chars.next();
                        state = State::LineComment;
                    }
                    Some((_, '*')) => {
                        chars.next();
                        state = State::BlockComment;
                    }
                    _ => {}
                },
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_NESTING_DEPTH {
                        let (line, column) = line_col(text, i);
                        return Err(ConfigError::Parse {
                            path: None,
                            line,
                            column,
                            message: format!(
                                "arrays/objects nested more than {MAX_NESTING_DEPTH} levels deep"
                            ),
                        });
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
            State::Str(quote) => {
                if c == '\\' {
                    chars.next();
                } else if c == quote {
                    state = State::Normal;
                }
            }
            State::LineComment => {
                if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
                    state = State::Normal;
                }
            }
            State::BlockComment => {
                if c == '*' && matches!(chars.peek(), Some((_, '/'))) {
                    chars.next();
                    state = State::Normal;
                }
            }
        }
    }
    Ok(())
}

/// Appends an object key to a JSON path (`a` + `b` → `a.b`).
pub(crate) fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends an array index to a JSON path (`a` + 0 → `a[0]`).
pub(crate) fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// Replaces `${VAR}` in every string value (keys are left alone) of the tree.
fn substitute_env(
    value: &mut Value,
    path: String,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(s) => {
            if s.contains('$') {
                *s = substitute_str(s, &path, env)?;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_env(item, join_index(&path, i), env)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                substitute_env(v, join_key(&path, k), env)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// The variables one string value refers to with `${VAR}`, in first-use order, exactly as
/// the loader substitutes them (`$${VAR}` is an escaped literal, not a reference). Lets
/// tools such as `doctor --check-env` list what a config needs without a second parser.
pub fn env_refs(input: &str) -> Vec<String> {
    let bytes = input.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let escaped = bytes.get(i + 1) == Some(&b'$');
            let open = if escaped { i + 2 } else { i + 1 };
            if let Some(end) = var_ref_end(bytes, open) {
                let name = &input[open + 1..end];
                if !escaped && !out.iter().any(|n| n == name) {
                    out.push(name.to_owned());
                }
                i = end + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Every `${VAR}` reference in the string values of a config document (keys are not
/// substituted, so not scanned), as `(path of the value, variable)` in document order.
pub fn env_references(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), doc)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::String(s) => out.extend(env_refs(s).into_iter().map(|n| (path.clone(), n))),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push((join_index(&path, i), item));
                }
            }
            Value::Object(map) => {
                let entries: Vec<_> = map.iter().collect();
                for (k, item) in entries.into_iter().rev() {
                    stack.push((join_key(&path, k), item));
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    out
}

/// If `bytes[open]` is `{` followed by a valid variable name and `}`, returns the index
/// of the `}`. Names are `[A-Z_][A-Z0-9_]*`; lowercase is deliberately not a reference
/// so ordinary text such as `${name}` in a prompt survives untouched.
fn var_ref_end(bytes: &[u8], open: usize) -> Option<usize> {
    if bytes.get(open) != Some(&b'{') {
        return None;
    }
    let first = *bytes.get(open + 1)?;
    if !(first.is_ascii_uppercase() || first == b'_') {
        return None;
    }
    let mut j = open + 2;
    while let Some(&b) = bytes.get(j) {
        if b == b'}' {
            return Some(j);
        }
        if !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
            return None;
        }
        j += 1;
    }
    None
}

/// Substitutes one string. `$${VAR}` yields a literal `${VAR}`; anything that is not a
/// well-formed reference is copied unchanged. Substituted values are not re-scanned, so
/// a variable's content can never inject further references.
fn substitute_str(
    input: &str,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut copied = 0;
    let mut i = 0;
    // All indices below sit on ASCII bytes ('$', '{', '}'), hence on char boundaries.
    while i < bytes.len() {
        if bytes[i] == b'$' {
            if bytes.get(i + 1) == Some(&b'$') {
                if let Some(end) = var_ref_end(bytes, i + 2) {
                    out.push_str(&input[copied..i]);
                    out.push_str(&input[i + 1..=end]);
                    i = end + 1;
                    copied = i;
                    continue;
                }
            } else if let Some(end) = var_ref_end(bytes, i + 1) {
                let name = &input[i + 2..end];
                let val =
                    env(name)
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| ConfigError::MissingEnv {
                            var: name.to_string(),
                            path: path.to_string(),
                        })?;
                out.push_str(&input[copied..i]);
                out.push_str(&val);
                i = end + 1;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&input[copied..]);
    Ok(out)
}

/// Deserializes strictly, turning serde's error into [`ConfigError::Invalid`] whose path
/// points at the offending key.
fn deserialize_config(value: Value) -> Result<Config, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let mut path = String::new();
        let mut last_key: Option<&str> = None;
        for segment in err.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => {
                    path = join_index(&path, *index);
                    last_key = None;
                }
                Segment::Map { key } => {
                    path = join_key(&path, key);
                    last_key = Some(key);
                }
                Segment::Enum { variant } => {
                    path = join_key(&path, variant);
                    last_key = Some(variant);
                }
                Segment::Unknown => {
                    path = join_key(&path, "?");
                    last_key = None;
                }
            }
        }
        let message = err.inner().to_string();
        // serde_path_to_error reports an unknown field at its parent; the key itself is
        // the useful location, so take it from serde's message.
        if let Some(field) = unknown_field_name(&message)
            && last_key != Some(field)
        {
            path = join_key(&path, field);
        }
        let message = crate::tools::unsupported_key_message(&path, &message).unwrap_or(message);
        ConfigError::Invalid { path, message }
    })
}

/// Extracts `x` from serde's "unknown field `x`, expected ..." message.
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_refs_match_what_substitution_reads() {
        assert_eq!(
            env_refs("a ${ONE} $${ESC} ${lower} ${_U2}${ONE} ${"),
            vec!["ONE".to_owned(), "_U2".to_owned()]
        );
        let doc = serde_json::json!({"a": {"b": "${X}"}, "l": ["k", "${Y}-${X}"], "${KEY}": 1});
        assert_eq!(
            env_references(&doc),
            vec![
                ("a.b".to_owned(), "X".to_owned()),
                ("l[1]".to_owned(), "Y".to_owned()),
                ("l[1]".to_owned(), "X".to_owned()),
            ]
        );
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn substitution_rules() {
        let env = |k: &str| match k {
            "A" => Some("one".to_string()),
            "B_2" => Some("$two ${A}".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let s = |x: &str| substitute_str(x, "p", &env);
        assert_eq!(s("${A}").unwrap(), "one");
        assert_eq!(s("x${A}y${B_2}z").unwrap(), "xoney$two ${A}z");
        assert_eq!(s("$${A}").unwrap(), "${A}");
        assert_eq!(s("$$${A}").unwrap(), "$${A}");
        assert_eq!(s("${lower}").unwrap(), "${lower}");
        assert_eq!(s("$").unwrap(), "$");
        assert_eq!(s("a$b$").unwrap(), "a$b$");
        assert_eq!(s("${A").unwrap(), "${A");
        assert_eq!(s("${}").unwrap(), "${}");
        assert_eq!(s("${1A}").unwrap(), "${1A}");
        assert_eq!(s("é${A}ü").unwrap(), "éoneü");
        assert!(matches!(
            s("${MISSING}"),
            Err(ConfigError::MissingEnv { var, path }) if var == "MISSING" && path == "p"
        ));
        assert!(matches!(s("${EMPTY}"), Err(ConfigError::MissingEnv { .. })));
    }

    #[test]
    fn unknown_field_extraction() {
        assert_eq!(
            unknown_field_name("unknown field `prot`, expected one of `a`"),
            Some("prot")
        );
        assert_eq!(unknown_field_name("invalid type"), None);
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("a\r\nb", 3), (2, 1));
        assert_eq!(line_col("éa", 2), (1, 2));
    }

    #[test]
    fn depth_limit_counts_only_structure() {
        let ok = "[".repeat(MAX_NESTING_DEPTH) + &"]".repeat(MAX_NESTING_DEPTH);
        assert!(check_depth(&ok).is_ok());
        let deep = "[".repeat(MAX_NESTING_DEPTH + 1);
        assert!(check_depth(&deep).is_err());
        let in_string = format!("{{a: \"{}\"}}", "[".repeat(1000));
        assert!(check_depth(&in_string).is_ok());
        let in_comment = format!("{{/* {} */}}", "{".repeat(1000));
        assert!(check_depth(&in_comment).is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{a: {}}}", "[".repeat(100_000));
        let err = parse_str(&deep, &no_env).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        // At the limit the parser must still cope (run on the default test stack).
        let inner = MAX_NESTING_DEPTH - 1;
        let ok = format!("{{meta: {}{}}}", "[".repeat(inner), "]".repeat(inner));
        let cfg = parse_str(&ok, &no_env).unwrap();
        assert!(cfg.meta.is_some());
    }

    #[test]
    fn eof_errors_point_at_end() {
        let err = parse_str("{\n  gateway: {\n", &no_env).unwrap_err();
        match err {
            ConfigError::Parse { line, message, .. } => {
                assert!(line >= 2, "{line} {message}");
                assert!(message.contains("end of input"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
