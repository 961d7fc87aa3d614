//! Secret redaction: by field name (`logging.redactSensitive`) and by pattern
//! (`logging.redactPatterns`).

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::layer::{RESERVED_KEYS, push_json_pair};
use crate::patterns::RedactPatterns;

/// Placeholder written instead of the value of a sensitive field.
pub const REDACTED: &str = "[redacted]";

/// Normalised name suffixes that mark a field as secret.
///
/// Matching on the suffix (after lowercasing and dropping `_`, `-`, `.`)
/// catches the many spellings used across providers — `token`, `authToken`,
/// `auth_token`, `gateway.auth.token`, `apiKey`, `OPENAI_API_KEY` — while
/// leaving counters such as `max_tokens` or `token_count` readable.
const SENSITIVE_SUFFIXES: &[&str] = &[
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secretkey",
    "privatekey",
    "apikey",
    "authorization",
];

/// Whether a field with this name must be written as [`REDACTED`].
///
/// Logs are shipped to users, pasted into bug reports and streamed over RPC,
/// so credentials must never reach them regardless of what a call site
/// accidentally passes; deciding by name keeps the check cheap and total.
pub fn is_sensitive_field(name: &str) -> bool {
    let normalised: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    SENSITIVE_SUFFIXES
        .iter()
        .any(|suffix| normalised.ends_with(suffix))
}

/// What is scrubbed from log records before they are written, and from stored lines
/// when they are read back (`logs.tail`).
///
/// The default redacts by field name only, which is `logging.redactSensitive: "tools"`
/// with no `logging.redactPatterns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// Write [`REDACTED`] instead of the value of every field whose name looks secret
    /// ([`is_sensitive_field`]). `logging.redactSensitive: "off"` turns this off.
    pub field_names: bool,
    /// Patterns whose matches are replaced in the message and in each field value
    /// (never across fields). They apply whatever `field_names` says.
    pub patterns: RedactPatterns,
}

impl Default for Redaction {
    fn default() -> Self {
        Redaction {
            field_names: true,
            patterns: RedactPatterns::default(),
        }
    }
}

impl Redaction {
    /// Pattern redaction of a piece of text (a message, a field value, a non-JSON line).
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.patterns.apply(text)
    }

    /// The value to write for field `name`: [`REDACTED`] for a sensitive name (when
    /// redacting by name), otherwise `value` with pattern matches replaced. Numbers are
    /// matched as their text and become strings only when something was replaced.
    pub(crate) fn field(&self, name: &str, value: &mut Value) {
        if self.field_names && is_sensitive_field(name) {
            *value = Value::String(REDACTED.to_owned());
        } else {
            self.value(value);
        }
    }

    /// Pattern redaction of every string (and number) inside `value`; true if changed.
    fn value(&self, value: &mut Value) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        match value {
            Value::String(s) => match self.patterns.apply(s) {
                Cow::Owned(changed) => {
                    *s = changed;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Number(n) => match self.patterns.apply(&n.to_string()) {
                Cow::Owned(changed) => {
                    *value = Value::String(changed);
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, v| self.value(v) | changed),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |changed, v| self.value(v) | changed),
            Value::Null | Value::Bool(_) => false,
        }
    }

    /// Scrubs a line read back from the log file, so that lines written before a pattern
    /// was added (or by an older version) are redacted when read too.
    ///
    /// A JSON object line keeps its key order; `time`, `level` and `subsystem` are left
    /// alone, the value of a sensitive key becomes [`REDACTED`] (when redacting by name)
    /// and pattern matches are replaced in every other value. Any other line is treated
    /// as text. A line that needs no change is returned as it was, byte for byte.
    pub fn stored_line<'a>(&self, line: &'a str) -> Cow<'a, str> {
        if !self.field_names && self.patterns.is_empty() {
            return Cow::Borrowed(line);
        }
        let Ok(Ordered(mut pairs)) = serde_json::from_str::<Ordered>(line) else {
            return self.text(line);
        };
        let mut changed = false;
        for (key, value) in &mut pairs {
            if ["time", "level", "subsystem"].contains(&key.as_str()) {
                continue;
            }
            if self.field_names && !RESERVED_KEYS.contains(&key.as_str()) && is_sensitive_field(key)
            {
                if value.as_str() != Some(REDACTED) {
                    *value = Value::String(REDACTED.to_owned());
                    changed = true;
                }
            } else {
                changed |= self.value(value);
            }
        }
        if !changed {
            return Cow::Borrowed(line);
        }
        let mut out = String::with_capacity(line.len());
        out.push('{');
        for (i, (key, value)) in pairs.iter().enumerate() {
            push_json_pair(&mut out, key, value, i == 0);
        }
        out.push('}');
        Cow::Owned(out)
    }
}

/// A JSON object read with its keys in file order (`serde_json`'s map sorts them).
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, Value>()? {
                    pairs.push(pair);
                }
                Ok(Ordered(pairs))
            }
        }
        deserializer.deserialize_map(OrderedVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_patterns(field_names: bool, patterns: &[&str]) -> Redaction {
        Redaction {
            field_names,
            patterns: RedactPatterns::compile(patterns).expect("valid"),
        }
    }

    #[test]
    fn fields_by_name_and_pattern() {
        let r = with_patterns(true, &["sk-[a-z0-9]+"]);
        let mut v = Value::String("sk-abc".into());
        r.field("apiKey", &mut v);
        assert_eq!(v, REDACTED);
        let mut v = Value::String("using sk-abc now".into());
        r.field("note", &mut v);
        assert_eq!(v, "using [redacted] now");
        let mut v = Value::from(42);
        r.field("count", &mut v);
        assert_eq!(v, 42);

        let off = with_patterns(false, &["sk-[a-z0-9]+"]);
        let mut v = Value::String("plain".into());
        off.field("token", &mut v);
        assert_eq!(v, "plain", "name redaction is off");
        let mut v = Value::String("sk-abc".into());
        off.field("token", &mut v);
        assert_eq!(v, REDACTED, "patterns still apply");

        let digits = with_patterns(true, &[r"\d{16}"]);
        let mut v = Value::from(4_111_111_111_111_111_u64);
        digits.field("card", &mut v);
        assert_eq!(v, REDACTED);
    }

    #[test]
    fn stored_lines_keep_order_and_untouched_lines() {
        let r = with_patterns(true, &["hunter\\d"]);
        let line = r#"{"time":"t","level":"info","subsystem":"gw","message":"pw hunter2","z":1,"a":"hunter3","password":"x"}"#;
        assert_eq!(
            r.stored_line(line),
            r#"{"time":"t","level":"info","subsystem":"gw","message":"pw [redacted]","z":1,"a":"[redacted]","password":"[redacted]"}"#
        );
        let clean = r#"{"b":1, "a":"ok"}"#;
        assert!(matches!(r.stored_line(clean), Cow::Borrowed(s) if s == clean));
        assert_eq!(r.stored_line("plain hunter4 text"), "plain [redacted] text");
        // Metadata keys are never rewritten.
        let r = with_patterns(true, &["info|gw"]);
        let line = r#"{"level":"info","subsystem":"gw","message":"gw"}"#;
        assert_eq!(
            r.stored_line(line),
            r#"{"level":"info","subsystem":"gw","message":"[redacted]"}"#
        );
        // Off and no patterns: nothing is even parsed.
        let none = with_patterns(false, &[]);
        let line = r#"{"token":"abc"}"#;
        assert!(matches!(none.stored_line(line), Cow::Borrowed(_)));
        assert_eq!(
            Redaction::default().stored_line(line),
            r#"{"token":"[redacted]"}"#
        );
    }

    #[test]
    fn sensitive_names() {
        for name in [
            "token",
            "Token",
            "authToken",
            "auth_token",
            "password",
            "dbPassword",
            "secret",
            "clientSecret",
            "apiKey",
            "api_key",
            "OPENAI_API_KEY",
            "authorization",
            "Authorization",
            "gateway.auth.token",
        ] {
            assert!(is_sensitive_field(name), "{name} should be sensitive");
        }
        for name in [
            "max_tokens",
            "token_count",
            "tokens",
            "port",
            "message",
            "key",
        ] {
            assert!(!is_sensitive_field(name), "{name} should not be sensitive");
        }
    }
}
