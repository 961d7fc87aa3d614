//! Config keys written by operator runbooks for an OpenClaw that never had them, accepted
//! as aliases of the canonical keys.
//!
//! The file keeps what the operator wrote; loading maps each alias onto its canonical key
//! ([`normalize`], run after `${VAR}` substitution and before the strict schema), so the
//! rest of the gateway only ever sees canonical keys. An alias and its canonical key that
//! disagree are an error naming both. [`ALIASES`] is the one table: `config get` resolves
//! either name through it ([`effective_document`]), and `doctor` suggests the canonical
//! name for each alias in use ([`aliases_in`]).
//!
//! Sections that belong to features this gateway does not have yet ([`NOT_YET`]) are
//! refused with a message saying so, rather than with serde's "unknown field".

use serde_json::{Value, json};

use crate::PathSeg;

use crate::error::ConfigError;

/// What an alias's value means: canonical `(path, value)` pairs, or why it cannot map.
type Mapped = Result<Vec<(&'static str, Value)>, String>;

/// One alias: where it is written, what it means, and how it maps.
pub struct Alias {
    /// The alias path as written in the file, e.g. `gateway.host`.
    pub alias: &'static str,
    /// The canonical key(s) it maps onto, for messages and `doctor`.
    pub canonical: &'static str,
    /// Maps the alias's value onto canonical `(path, value)` pairs, or says why it cannot.
    map: fn(&Value) -> Mapped,
}

/// Every alias, in the order they are applied.
pub const ALIASES: &[Alias] = &[
    Alias {
        alias: "gateway.host",
        canonical: "gateway.bind / gateway.customBindHost",
        map: host,
    },
    Alias {
        alias: "gateway.auth.type",
        canonical: "gateway.auth.mode",
        map: auth_type,
    },
    Alias {
        alias: "gateway.auth.enabled",
        canonical: "gateway.auth.mode",
        map: auth_enabled,
    },
    Alias {
        alias: "gateway.hotReload",
        canonical: "gateway.reload",
        map: hot_reload,
    },
    Alias {
        alias: "gateway.reload.watch_config",
        canonical: "gateway.reload.mode",
        map: watch_config,
    },
    Alias {
        alias: "gateway.logging",
        canonical: "logging",
        map: gateway_logging,
    },
    Alias {
        alias: "gateway.logLevel",
        canonical: "logging.level",
        map: log_level,
    },
    Alias {
        alias: "gateway.historyLimit",
        canonical: "agents.defaults.historyLimit",
        map: history_limit,
    },
    Alias {
        alias: "gateway.sessionTimeout",
        canonical: "session.reset (mode \"idle\", idleMinutes)",
        map: session_timeout,
    },
    Alias {
        alias: "gateway.tls.cert",
        canonical: "gateway.tls.certPath",
        map: tls_cert,
    },
    Alias {
        alias: "gateway.tls.key",
        canonical: "gateway.tls.keyPath",
        map: tls_key,
    },
    Alias {
        alias: "gateway.tls.ca",
        canonical: "gateway.tls.caPath",
        map: tls_ca,
    },
    Alias {
        alias: "gateway.rate_limit",
        canonical: "gateway.rateLimit",
        map: rate_limit,
    },
    Alias {
        alias: "gateway.performance.max_connections",
        canonical: "gateway.performance.maxConnections",
        map: max_connections,
    },
    Alias {
        alias: "gateway.performance.request_timeout",
        canonical: "gateway.performance.requestTimeoutMs",
        map: request_timeout,
    },
    Alias {
        alias: "gateway.performance.idle_timeout",
        canonical: "gateway.performance.idleTimeoutMs",
        map: idle_timeout,
    },
    Alias {
        alias: "logging.format",
        canonical: "logging.consoleStyle",
        map: log_format,
    },
    Alias {
        alias: "logging.rotation",
        canonical: "logging.maxFileBytes / logging.maxFiles",
        map: rotation,
    },
];

/// Values accepted for a canonical key besides its own: `(path, alias value, canonical
/// value)`. Applied in place.
pub const VALUE_ALIASES: &[(&str, &str, &str)] = &[
    ("gateway.reload.mode", "auto", "hot"),
    ("gateway.reload.mode", "manual", "off"),
];

/// Sections refused with what to do instead: later features, or things this gateway
/// does not do.
pub const NOT_YET: &[(&str, &str)] = &[(
    "gateway.reload.watch_skills",
    "this gateway has no skills to watch; remove gateway.reload.watch_skills",
)];

fn host(v: &Value) -> Mapped {
    let h = v
        .as_str()
        .ok_or("expected an address string such as \"127.0.0.1\" or \"0.0.0.0\"")?
        .trim();
    Ok(match h {
        "0.0.0.0" | "::" | "[::]" | "*" => vec![("gateway.bind", json!("lan"))],
        "127.0.0.1" | "localhost" | "::1" | "[::1]" => vec![("gateway.bind", json!("loopback"))],
        other => vec![
            ("gateway.bind", json!("custom")),
            (
                "gateway.customBindHost",
                json!(other.trim_start_matches('[').trim_end_matches(']')),
            ),
        ],
    })
}

fn auth_type(v: &Value) -> Mapped {
    match v.as_str() {
        Some(m @ ("token" | "password" | "none" | "trusted-proxy")) => {
            Ok(vec![("gateway.auth.mode", json!(m))])
        }
        _ => Err("expected \"token\", \"password\", \"none\" or \"trusted-proxy\"".into()),
    }
}

fn auth_enabled(v: &Value) -> Mapped {
    match v.as_bool() {
        // On: the mode comes from `type`/`mode`, or the secret that is configured.
        Some(true) => Ok(Vec::new()),
        Some(false) => Ok(vec![("gateway.auth.mode", json!("none"))]),
        None => Err("expected true or false".into()),
    }
}

fn hot_reload(v: &Value) -> Mapped {
    let m = v
        .as_object()
        .ok_or("expected an object such as { mode: \"hybrid\" }")?;
    let mut out = Vec::new();
    for (k, val) in m {
        match k.as_str() {
            "mode" => out.push(("gateway.reload.mode", val.clone())),
            "debounceMs" => out.push(("gateway.reload.debounceMs", val.clone())),
            other => {
                return Err(format!(
                    "unknown key {other:?}; gateway.hotReload takes mode and debounceMs"
                ));
            }
        }
    }
    Ok(out)
}

fn watch_config(v: &Value) -> Mapped {
    match v.as_bool() {
        Some(true) => Ok(Vec::new()),
        // Not watching the file is reloading only on request (`openclaw config reload`).
        Some(false) => Ok(vec![("gateway.reload.mode", json!("off"))]),
        None => Err("expected true or false".into()),
    }
}

fn gateway_logging(v: &Value) -> Mapped {
    let m = v
        .as_object()
        .ok_or("expected an object such as { level: \"info\" }")?;
    let mut out = Vec::new();
    for (k, val) in m {
        let path = match k.as_str() {
            "level" => "logging.level",
            "file" => "logging.file",
            "maxFileBytes" => "logging.maxFileBytes",
            "maxFiles" => "logging.maxFiles",
            "consoleLevel" => "logging.consoleLevel",
            "consoleStyle" => "logging.consoleStyle",
            "redactSensitive" => "logging.redactSensitive",
            "redactPatterns" => "logging.redactPatterns",
            "format" => {
                out.extend(log_format(val)?);
                continue;
            }
            "rotation" => {
                out.extend(rotation(val)?);
                continue;
            }
            other => {
                return Err(format!(
                    "unknown key {other:?}; gateway.logging takes the keys of the top-level logging section (level, file, format, rotation, …)"
                ));
            }
        };
        out.push((path, val.clone()));
    }
    Ok(out)
}

fn path_string(v: &Value, canonical: &'static str) -> Mapped {
    match v.as_str() {
        Some(p) => Ok(vec![(canonical, json!(p))]),
        None => Err("expected a file path string such as \"/etc/openclaw/tls/server.pem\"".into()),
    }
}

fn tls_cert(v: &Value) -> Mapped {
    path_string(v, "gateway.tls.certPath")
}

fn tls_key(v: &Value) -> Mapped {
    path_string(v, "gateway.tls.keyPath")
}

fn tls_ca(v: &Value) -> Mapped {
    path_string(v, "gateway.tls.caPath")
}

fn rate_limit(v: &Value) -> Mapped {
    let m = v.as_object().ok_or(
        "expected an object such as { enabled: true, requests_per_minute: 60, burst: 10 }",
    )?;
    let mut out = Vec::new();
    for (k, val) in m {
        let path = match k.as_str() {
            "enabled" => "gateway.rateLimit.enabled",
            "requests_per_minute" | "requestsPerMinute" => "gateway.rateLimit.requestsPerMinute",
            "burst" => "gateway.rateLimit.burst",
            other => {
                return Err(format!(
                    "unknown key {other:?}; gateway.rate_limit takes enabled, requests_per_minute and burst"
                ));
            }
        };
        out.push((path, val.clone()));
    }
    Ok(out)
}

fn max_connections(v: &Value) -> Mapped {
    Ok(vec![("gateway.performance.maxConnections", v.clone())])
}

fn request_timeout(v: &Value) -> Mapped {
    Ok(vec![("gateway.performance.requestTimeoutMs", v.clone())])
}

fn idle_timeout(v: &Value) -> Mapped {
    Ok(vec![("gateway.performance.idleTimeoutMs", v.clone())])
}

fn log_level(v: &Value) -> Mapped {
    Ok(vec![("logging.level", v.clone())])
}

fn history_limit(v: &Value) -> Mapped {
    match v.as_u64() {
        Some(n) if n >= 1 => Ok(vec![("agents.defaults.historyLimit", json!(n))]),
        _ => Err("expected a whole number of transcript entries, at least 1 (e.g. 50)".into()),
    }
}

fn session_timeout(v: &Value) -> Mapped {
    match v.as_f64() {
        Some(s) if s > 0.0 && s.is_finite() => Ok(vec![
            ("session.reset.mode", json!("idle")),
            ("session.reset.idleMinutes", json!(s / 60.0)),
        ]),
        _ => Err("expected a positive number of seconds (e.g. 3600)".into()),
    }
}

fn log_format(v: &Value) -> Mapped {
    // The file is always JSON lines; the format is the console's.
    let style = match v.as_str() {
        Some("json") => "json",
        Some("text" | "pretty" | "plain") => "pretty",
        Some("compact") => "compact",
        _ => return Err("expected \"json\", \"text\" (pretty) or \"compact\"".into()),
    };
    Ok(vec![("logging.consoleStyle", json!(style))])
}

fn rotation(v: &Value) -> Mapped {
    let m = v
        .as_object()
        .ok_or("expected an object such as { enabled: true, maxSize: \"100M\", maxFiles: 10 }")?;
    let mut out = Vec::new();
    let enabled = match m.get("enabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("rotation.enabled: expected true or false".into()),
    };
    for (k, val) in m {
        match k.as_str() {
            "enabled" => {}
            "maxSize" if enabled => out.push(("logging.maxFileBytes", json!(parse_size(val)?))),
            "maxSize" => {}
            "maxFiles" => match val.as_u64() {
                Some(n) if (1..=100).contains(&n) => out.push(("logging.maxFiles", json!(n))),
                _ => return Err("rotation.maxFiles: expected a whole number from 1 to 100".into()),
            },
            other => {
                return Err(format!(
                    "unknown key {other:?}; rotation takes enabled, maxSize and maxFiles"
                ));
            }
        }
    }
    if !enabled {
        // Rotation off: the file grows without bound.
        out.push(("logging.maxFileBytes", json!(0)));
    }
    Ok(out)
}

/// `"100M"`, `"512k"`, `"1G"`, `"100MB"`, or a number of bytes; K/M/G are powers of 1024.
pub fn parse_size(v: &Value) -> Result<u64, String> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    let bad =
        || format!("{v} is not a size; write e.g. \"100M\", \"512K\", \"1G\" or a number of bytes");
    let s = v.as_str().ok_or_else(bad)?.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().map_err(|_| bad())?;
    let unit = s[digits..].trim().to_ascii_lowercase();
    let mult: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// The table's paths are plain dotted keys; [`crate::parse_path`] turns them into segments.
fn segs(path: &str) -> Vec<PathSeg> {
    crate::parse_path(path).unwrap_or_default()
}

fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    crate::get_path(doc, &segs(path))
}

fn remove(doc: &mut Value, path: &str) -> Option<Value> {
    let segs = segs(path);
    let value = crate::get_path(doc, &segs)?.clone();
    crate::unset_path(doc, &segs).ok()?;
    Some(value)
}

fn set(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    crate::set_path(doc, &segs(path), value).map_err(|e| e.to_string())
}

/// Maps every alias in `doc` onto its canonical key and refuses [`NOT_YET`] sections.
/// Run on the substituted document, before the schema.
pub fn normalize(doc: &mut Value) -> Result<(), ConfigError> {
    let invalid = |path: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    for (path, why) in NOT_YET {
        if get(doc, path).is_some() {
            return Err(invalid(path, (*why).to_owned()));
        }
    }
    for a in ALIASES {
        let Some(value) = remove(doc, a.alias) else {
            continue;
        };
        let pairs = (a.map)(&value).map_err(|m| invalid(a.alias, m))?;
        for (path, v) in pairs {
            let v = value_alias(path, v);
            match get(doc, path) {
                Some(existing) if value_alias(path, existing.clone()) != v => {
                    return Err(invalid(
                        a.alias,
                        format!(
                            "{} means {path} = {v}, but {path} is {existing}; keep one of them ({path} is the canonical key)",
                            a.alias
                        ),
                    ));
                }
                _ => set(doc, path, v).map_err(|m| invalid(a.alias, m))?,
            }
        }
    }
    for (path, from, to) in VALUE_ALIASES {
        if get(doc, path).and_then(Value::as_str) == Some(from) {
            set(doc, path, json!(to)).map_err(|m| invalid(path, m))?;
        }
    }
    agents_entries(doc)
}

/// `agents.entries.<id>` (the current OpenClaw shape) joins the legacy `agents.list`
/// array, the entry's key becoming its `id`.
fn agents_entries(doc: &mut Value) -> Result<(), ConfigError> {
    let Some(entries) = remove(doc, "agents.entries") else {
        return Ok(());
    };
    let invalid = |path: String, message: String| ConfigError::Invalid { path, message };
    let Value::Object(entries) = entries else {
        return Err(invalid(
            "agents.entries".into(),
            "expected an object of agents by id, e.g. { main: { default: true } }".into(),
        ));
    };
    let mut listed: Vec<Value> = match remove(doc, "agents.list") {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(invalid(
                "agents.list".into(),
                "expected an array of agents".into(),
            ));
        }
    };
    for (id, entry) in entries {
        let Value::Object(mut body) = entry else {
            return Err(invalid(
                format!("agents.entries.{id}"),
                "expected an object such as { model: \"openai/gpt-4o\" }".into(),
            ));
        };
        if listed
            .iter()
            .any(|a| a.get("id").and_then(Value::as_str) == Some(id.as_str()))
        {
            return Err(invalid(
                format!("agents.entries.{id}"),
                format!("agent {id:?} is also in agents.list; define it once"),
            ));
        }
        match body.get("id").and_then(Value::as_str) {
            Some(inner) if inner != id => {
                return Err(invalid(
                    format!("agents.entries.{id}.id"),
                    format!(
                        "the entry is keyed {id:?} but says id {inner:?}; drop the id or make them equal"
                    ),
                ));
            }
            _ => {}
        }
        body.insert("id".into(), json!(id));
        listed.push(Value::Object(body));
    }
    set(doc, "agents.list", Value::Array(listed)).map_err(|m| invalid("agents.entries".into(), m))
}

fn value_alias(path: &str, v: Value) -> Value {
    match v.as_str() {
        Some(s) => VALUE_ALIASES
            .iter()
            .find(|(p, from, _)| *p == path && *from == s)
            .map_or(v.clone(), |(_, _, to)| json!(to)),
        None => v,
    }
}

/// An alias (or aliased value) found in a document, for `doctor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasUse {
    /// What was written, e.g. `gateway.host` or `gateway.reload.mode = "auto"`.
    pub written: String,
    /// The canonical form, e.g. `gateway.bind / gateway.customBindHost` or `"hot"`.
    pub canonical: String,
}

/// The aliases `doc` uses (read from the file as written).
pub fn aliases_in(doc: &Value) -> Vec<AliasUse> {
    let mut out: Vec<AliasUse> = ALIASES
        .iter()
        .filter(|a| get(doc, a.alias).is_some())
        .map(|a| AliasUse {
            written: a.alias.to_owned(),
            canonical: a.canonical.to_owned(),
        })
        .collect();
    for (path, from, to) in VALUE_ALIASES {
        if get(doc, path).and_then(Value::as_str) == Some(from) {
            out.push(AliasUse {
                written: format!("{path} = \"{from}\""),
                canonical: format!("{path} = \"{to}\""),
            });
        }
    }
    out
}

/// The aliases in `doc` through which `path` (or a key above or below it) gets its value,
/// as written (e.g. `gateway.host` for `gateway.bind`), for saying where a value came from.
pub fn aliases_setting(doc: &Value, path: &str) -> Vec<String> {
    let related = |p: &str| {
        p == path || p.starts_with(&format!("{path}.")) || path.starts_with(&format!("{p}."))
    };
    let mut out: Vec<String> = ALIASES
        .iter()
        .filter(|a| {
            get(doc, a.alias)
                .and_then(|v| (a.map)(v).ok())
                .is_some_and(|pairs| pairs.iter().any(|(p, _)| related(p)))
        })
        .map(|a| a.alias.to_owned())
        .collect();
    for (p, from, _) in VALUE_ALIASES {
        if related(p) && get(doc, p).and_then(Value::as_str) == Some(from) {
            out.push(format!("{p} = \"{from}\""));
        }
    }
    out
}

/// `doc` with every alias mapped (what the gateway will read), for showing the value of a
/// canonical key the file sets through an alias. Unsubstituted `${VAR}` stay as written.
pub fn effective_document(doc: &Value) -> Result<Value, ConfigError> {
    let mut d = doc.clone();
    normalize(&mut d)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: Value) -> Result<Value, String> {
        let mut v = v;
        normalize(&mut v).map_err(|e| e.to_string())?;
        Ok(v)
    }

    #[test]
    fn each_alias_maps_onto_its_canonical_key() {
        let cases = [
            (
                json!({"gateway": {"host": "0.0.0.0"}}),
                json!({"gateway": {"bind": "lan"}}),
            ),
            (
                json!({"gateway": {"host": "127.0.0.1"}}),
                json!({"gateway": {"bind": "loopback"}}),
            ),
            (
                json!({"gateway": {"host": "100.64.1.2"}}),
                json!({"gateway": {"bind": "custom", "customBindHost": "100.64.1.2"}}),
            ),
            (
                json!({"gateway": {"auth": {"enabled": true, "type": "token", "token": "t"}}}),
                json!({"gateway": {"auth": {"mode": "token", "token": "t"}}}),
            ),
            (
                json!({"gateway": {"auth": {"enabled": false}}}),
                json!({"gateway": {"auth": {"mode": "none"}}}),
            ),
            (
                json!({"gateway": {"hotReload": {"mode": "off"}}}),
                json!({"gateway": {"reload": {"mode": "off"}}}),
            ),
            (
                json!({"gateway": {"reload": {"mode": "auto"}}}),
                json!({"gateway": {"reload": {"mode": "hot"}}}),
            ),
            (
                json!({"gateway": {"reload": {"mode": "manual", "watch_config": false}}}),
                json!({"gateway": {"reload": {"mode": "off"}}}),
            ),
            (
                json!({"gateway": {"logLevel": "debug"}}),
                json!({"gateway": {}, "logging": {"level": "debug"}}),
            ),
            (
                json!({"gateway": {"logging": {"level": "info", "format": "json",
                        "rotation": {"enabled": true, "maxSize": "100M", "maxFiles": 10}}}}),
                json!({"gateway": {}, "logging": {"level": "info", "consoleStyle": "json",
                        "maxFileBytes": 104_857_600, "maxFiles": 10}}),
            ),
            (
                json!({"gateway": {"historyLimit": 50}}),
                json!({"gateway": {}, "agents": {"defaults": {"historyLimit": 50}}}),
            ),
            (
                json!({"gateway": {"sessionTimeout": 3600}}),
                json!({"gateway": {}, "session": {"reset": {"mode": "idle", "idleMinutes": 60.0}}}),
            ),
            (
                json!({"gateway": {"tls": {"enabled": true, "cert": "/c.pem", "key": "/k.pem"},
                        "rate_limit": {"enabled": true, "requests_per_minute": 60, "burst": 10},
                        "performance": {"max_connections": 1000, "request_timeout": 30000,
                                        "idle_timeout": 60000}}}),
                json!({"gateway": {"tls": {"enabled": true, "certPath": "/c.pem", "keyPath": "/k.pem"},
                        "rateLimit": {"enabled": true, "requestsPerMinute": 60, "burst": 10},
                        "performance": {"maxConnections": 1000, "requestTimeoutMs": 30000,
                                        "idleTimeoutMs": 60000}}}),
            ),
            (
                json!({"logging": {"rotation": {"enabled": false}}}),
                json!({"logging": {"maxFileBytes": 0}}),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input.clone()), Ok(want), "{input}");
        }
    }

    #[test]
    fn disagreements_and_later_sections_are_refused_with_the_fix() {
        let e = norm(json!({"gateway": {"host": "0.0.0.0", "bind": "loopback"}})).unwrap_err();
        assert!(e.contains("gateway.host") && e.contains("canonical"), "{e}");
        let e = norm(json!({"gateway": {"reload": {"mode": "hot", "watch_config": false}}}))
            .unwrap_err();
        assert!(e.contains("watch_config"), "{e}");
        // The same meaning twice is fine.
        assert!(norm(json!({"gateway": {"host": "0.0.0.0", "bind": "lan"}})).is_ok());
        let e = norm(json!({"gateway": {"rate_limit": {"rpm": 3}}})).unwrap_err();
        assert!(e.contains("requests_per_minute"), "{e}");
        let e = norm(json!({"gateway": {"rate_limit": {"burst": 3}, "rateLimit": {"burst": 4}}}))
            .unwrap_err();
        assert!(e.contains("gateway.rateLimit.burst"), "{e}");
        let e = norm(json!({"gateway": {"auth": {"type": "magic"}}})).unwrap_err();
        assert!(e.contains("password"), "{e}");
        let e =
            norm(json!({"gateway": {"logging": {"rotation": {"maxSize": "lots"}}}})).unwrap_err();
        assert!(e.contains("100M"), "{e}");
    }

    #[test]
    fn agents_entries_join_the_list() {
        let v = norm(json!({"agents": {"list": [{"id": "main"}],
                                       "entries": {"ops": {"default": true, "model": "a/b"}}}}))
        .unwrap();
        assert_eq!(
            v["agents"]["list"],
            json!([{"id": "main"}, {"id": "ops", "default": true, "model": "a/b"}])
        );
        let e =
            norm(json!({"agents": {"list": [{"id": "ops"}], "entries": {"ops": {}}}})).unwrap_err();
        assert!(e.contains("define it once"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size(&json!("100M")), Ok(100 << 20));
        assert_eq!(parse_size(&json!("512k")), Ok(512 << 10));
        assert_eq!(parse_size(&json!("1GB")), Ok(1 << 30));
        assert_eq!(parse_size(&json!("2MiB")), Ok(2 << 20));
        assert_eq!(parse_size(&json!(4096)), Ok(4096));
        assert!(parse_size(&json!("1T")).is_err());
    }

    #[test]
    fn doctor_sees_what_was_written() {
        let doc = json!({"gateway": {"host": "0.0.0.0", "reload": {"mode": "auto"}}});
        assert_eq!(aliases_setting(&doc, "gateway.bind"), ["gateway.host"]);
        assert_eq!(
            aliases_setting(&doc, "gateway"),
            ["gateway.host", "gateway.reload.mode = \"auto\""]
        );
        assert!(aliases_setting(&doc, "logging.level").is_empty());
        let used = aliases_in(&doc);
        assert_eq!(used.len(), 2);
        assert_eq!(used[0].written, "gateway.host");
        assert_eq!(used[1].canonical, "gateway.reload.mode = \"hot\"");
    }
}
