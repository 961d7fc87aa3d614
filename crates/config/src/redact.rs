//! Producing a copy of the config that is safe to show (CLI `config get`, RPC
//! `config.get`, diagnostics).
//!
//! Redaction works on key names rather than on the typed schema so that it also covers
//! the free-JSON sections (`channels`, `models`, …) whose secrets (bot tokens, API keys)
//! are not typed yet.

use serde_json::Value;

use crate::schema::Config;

/// The placeholder that replaces secret values. Distinctive so a client that sends a
/// redacted config back can be detected (and the original value kept).
pub const REDACTED: &str = "__OPENCLAW_REDACTED__";

/// Key names that always hold secrets.
pub const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "apiKey",
    "secret",
    "botToken",
    "privateKey",
    "clientSecret",
];

/// camelCase suffixes that mark a key as secret (`gatewayToken`, `webhookSecret`, …).
pub const SECRET_SUFFIXES: &[&str] = &["Token", "Secret", "Password", "ApiKey"];

/// True if a value stored under `key` is treated as a secret.
///
/// Exposed so other code that prints JSON (logs, diagnostics) applies the same rule.
pub fn is_sensitive_key(key: &str) -> bool {
    SECRET_KEYS.contains(&key) || SECRET_SUFFIXES.iter().any(|s| key.ends_with(s))
}

/// Whether a value under a sensitive key should be replaced: non-empty strings and
/// objects, except SecretRef objects. Empty strings, numbers, booleans and null carry no
/// secret and are kept so the reader can still see that the key is unset. A SecretRef
/// (`{ source: "env", id: "OPENAI_API_KEY" }`) is a pointer, not a value: showing it
/// tells the reader where the secret comes from without revealing it, which is the
/// point of using references.
fn should_redact(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.is_empty(),
        Value::Object(map) => !is_secret_ref(map),
        _ => false,
    }
}

/// True if `map` has exactly the shape of a [`crate::SecretRef`]: a `source` of `env`,
/// `file` or `exec`, a string `id`, an optional string `provider`, and nothing else.
/// Anything else (say a JWK under `privateKey`) may be secret material and stays
/// redacted.
pub fn is_secret_ref(map: &serde_json::Map<String, Value>) -> bool {
    let source_ok = matches!(
        map.get("source").and_then(Value::as_str),
        Some("env" | "file" | "exec")
    );
    let id_ok = map.get("id").is_some_and(Value::is_string);
    let provider_ok = map.get("provider").is_none_or(Value::is_string);
    let only_known = map
        .keys()
        .all(|k| matches!(k.as_str(), "source" | "id" | "provider"));
    source_ok && id_ok && provider_ok && only_known
}

/// Config paths whose every value is a secret whatever its key is called, `*` standing
/// for any key: header names are chosen by the operator (`X-Proxy-Auth`, `cf-access-…`)
/// and cannot be recognised by name. `sessions.store.url` may embed a database password.
const SECRET_PATHS: &[&[&str]] = &[
    &["models", "providers", "*", "headers", "*"],
    &["sessions", "store", "url"],
];

/// How far a value's path from the document root matches each of [`SECRET_PATHS`]
/// (bit `i` set: the path so far is a prefix of pattern `i`), or 0 once it matches none.
type PathMatch = u32;

/// Advances `state` (the match of a value's parent at `depth`) by one key.
fn step(state: PathMatch, depth: usize, key: &str) -> (PathMatch, bool) {
    let mut next = 0;
    let mut complete = false;
    for (i, pattern) in SECRET_PATHS.iter().enumerate() {
        if state & (1 << i) == 0 {
            continue;
        }
        if pattern
            .get(depth)
            .is_some_and(|seg| *seg == "*" || *seg == key)
        {
            if depth + 1 == pattern.len() {
                complete = true;
            } else {
                next |= 1 << i;
            }
        }
    }
    (next, complete)
}

/// Replaces, in place and at any depth, every secret-bearing value with [`REDACTED`]:
/// values under a sensitive key ([`is_sensitive_key`]) and every value under
/// `models.providers.*.headers` (`value` is taken to be a whole config document).
///
/// Iterative rather than recursive so arbitrarily deep values built in code cannot
/// overflow the stack.
pub fn redact_value(value: &mut Value) {
    let all: PathMatch = (1 << SECRET_PATHS.len()) - 1;
    let mut stack: Vec<(&mut Value, PathMatch, usize)> = vec![(value, all, 0)];
    while let Some((v, state, depth)) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    let (next, secret_path) = step(state, depth, k);
                    if (secret_path || is_sensitive_key(k)) && should_redact(child) {
                        *child = Value::String(REDACTED.to_string());
                    } else {
                        stack.push((child, next, depth + 1));
                    }
                }
            }
            // No pattern runs through an array.
            Value::Array(items) => stack.extend(items.iter_mut().map(|i| (i, 0, depth + 1))),
            _ => {}
        }
    }
}

/// The config as JSON with every secret-bearing value replaced by [`REDACTED`]: any key
/// named `token`, `password`, `apiKey`, `secret`, `botToken`, `privateKey`,
/// `clientSecret`, or ending in `Token`/`Secret`/`Password`/`ApiKey`, and every provider
/// header value (`models.providers.*.headers.*`), whose value is a non-empty string or an
/// object other than a SecretRef (references are pointers and are shown as they are; see
/// [`is_secret_ref`]).
pub fn redacted_json(config: &Config) -> Value {
    let mut value = match serde_json::to_value(config) {
        Ok(v) => v,
        Err(_) => {
            // Only a non-UTF-8 `logging.file` can make serialization fail; retry with a
            // lossy path rather than hide the whole config.
            let mut copy = config.clone();
            copy.logging.file = copy
                .logging
                .file
                .map(|p| p.to_string_lossy().into_owned().into());
            serde_json::to_value(&copy).unwrap_or_else(|_| Value::Object(Default::default()))
        }
    };
    redact_value(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Secret;
    use serde_json::json;

    fn from_json(v: Value) -> crate::channels::ChannelsConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn key_rules() {
        for k in [
            "token",
            "password",
            "apiKey",
            "secret",
            "botToken",
            "privateKey",
            "clientSecret",
            "gatewayToken",
            "webhookSecret",
            "adminPassword",
            "openaiApiKey",
        ] {
            assert!(is_sensitive_key(k), "{k}");
        }
        for k in ["tokens", "maxTokens", "mode", "secretary", "apikey", "port"] {
            assert!(!is_sensitive_key(k), "{k}");
        }
    }

    #[test]
    fn redacts_typed_and_free_sections() {
        let mut c = Config::default();
        c.gateway.auth.token = Some(Secret::new("tok"));
        c.gateway.auth.password = Some(Secret::new("pw"));
        c.channels = Some(from_json(json!({
            "telegram": { "botToken": "123:abc", "enabled": true },
            "slack": [{ "appToken": "xapp", "signingSecret": "" }],
            "matrix": { "privateKey": { "kty": "OKP" }, "maxTokens": 5, "accessToken": null }
        })));
        let v = redacted_json(&c);
        assert_eq!(v["gateway"]["auth"]["token"], REDACTED);
        assert_eq!(v["gateway"]["auth"]["password"], REDACTED);
        assert_eq!(v["channels"]["telegram"]["botToken"], REDACTED);
        assert_eq!(v["channels"]["telegram"]["enabled"], true);
        assert_eq!(v["channels"]["slack"][0]["appToken"], REDACTED);
        assert_eq!(v["channels"]["slack"][0]["signingSecret"], "");
        assert_eq!(v["channels"]["matrix"]["privateKey"], REDACTED);
        assert_eq!(v["channels"]["matrix"]["maxTokens"], 5);
        assert_eq!(v["channels"]["matrix"]["accessToken"], Value::Null);
        let text = v.to_string();
        assert!(!text.contains("tok\"") && !text.contains("123:abc") && !text.contains("xapp"));
    }

    #[test]
    fn secret_refs_are_shown_plain_strings_hidden() {
        use crate::secrets::{SecretRef, SecretSource};
        let mut c = Config::default();
        c.gateway.auth.token = Some(Secret::from_ref(SecretRef {
            source: SecretSource::Env,
            provider: None,
            id: "GW_TOKEN".into(),
        }));
        c.gateway.auth.password = Some(Secret::new("pw"));
        c.channels = Some(from_json(json!({
            "a": { "botToken": { "source": "file", "provider": "default", "id": "/run/tok" } },
            "b": { "botToken": { "source": "vault", "id": "x" } },
            "c": { "botToken": { "source": "env", "id": "X", "value": "leak" } },
            "d": { "botToken": { "source": "env", "id": 5 } },
        })));
        let v = redacted_json(&c);
        assert_eq!(
            v["gateway"]["auth"]["token"],
            json!({ "source": "env", "id": "GW_TOKEN" })
        );
        assert_eq!(v["gateway"]["auth"]["password"], REDACTED);
        assert_eq!(v["channels"]["a"]["botToken"]["id"], "/run/tok");
        for k in ["b", "c", "d"] {
            assert_eq!(v["channels"][k]["botToken"], REDACTED, "{k}");
        }
    }

    #[test]
    fn provider_header_values_are_secrets_whatever_their_name() {
        let mut doc = json!({
            "models": { "providers": {
                "proxy": { "baseUrl": "http://x", "api": "openai-completions", "headers": {
                    "X-Proxy-Auth": "hdr-secret-1",
                    "cf-access-client-id": "hdr-secret-2",
                    "X-From-Env": { "source": "env", "id": "PROXY_AUTH" },
                    "X-Empty": "",
                } },
            } },
            // Only that path: a `headers` elsewhere is judged by key names as before.
            "channels": { "x": { "headers": { "X-Plain": "shown" } } },
            "headers": { "X-Top": "shown-too" },
        });
        redact_value(&mut doc);
        let h = &doc["models"]["providers"]["proxy"]["headers"];
        assert_eq!(h["X-Proxy-Auth"], REDACTED);
        assert_eq!(h["cf-access-client-id"], REDACTED);
        assert_eq!(
            h["X-From-Env"],
            json!({ "source": "env", "id": "PROXY_AUTH" })
        );
        assert_eq!(h["X-Empty"], "");
        assert_eq!(doc["models"]["providers"]["proxy"]["baseUrl"], "http://x");
        assert_eq!(doc["channels"]["x"]["headers"]["X-Plain"], "shown");
        assert_eq!(doc["headers"]["X-Top"], "shown-too");
        assert!(!doc.to_string().contains("hdr-secret"), "{doc}");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_log_path_does_not_hide_config() {
        use std::os::unix::ffi::OsStrExt;
        let mut c = Config::default();
        c.logging.file = Some(std::ffi::OsStr::from_bytes(b"/tmp/\xff.log").into());
        c.gateway.auth.token = Some(Secret::new("tok"));
        let v = redacted_json(&c);
        assert_eq!(v["gateway"]["auth"]["token"], REDACTED);
        assert!(v["logging"]["file"].is_string());
    }
}
