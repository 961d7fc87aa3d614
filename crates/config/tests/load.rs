//! End-to-end tests of loading real files from disk.

use std::collections::HashMap;

use openclaw_config::{
    AuthMode, BindMode, ConfigError, LogLevel, REDACTED, ReloadMode, content_hash, load_file,
    parse_str, redacted_json,
};

/// A `.json5` file in the system temp dir, removed on drop.
fn temp_file(content: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .prefix("openclaw-config-test-")
        .suffix(".json5")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), content).unwrap();
    file
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn invalid(raw: &str) -> (String, String, String) {
    match parse_str(raw, &no_env) {
        Err(e @ ConfigError::Invalid { .. }) => {
            let shown = e.to_string();
            match e {
                ConfigError::Invalid { path, message } => (path, message, shown),
                _ => unreachable!(),
            }
        }
        other => panic!("expected Invalid for {raw:?}, got {other:?}"),
    }
}

#[test]
fn missing_file_gives_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("missing.json");
    let loaded = load_file(&path, &no_env).unwrap();
    assert!(!loaded.exists);
    assert!(loaded.raw.is_none());
    assert_eq!(loaded.config, Default::default());
    assert_eq!(loaded.hash, content_hash(""));
    assert_eq!(
        loaded.hash,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(loaded.path, path);
}

#[test]
fn directory_is_an_io_error() {
    let err = load_file(&std::env::temp_dir(), &no_env).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err}");
    assert!(err.to_string().contains("cannot read config file"));
}

#[test]
fn json5_features_are_accepted() {
    let text = r#"
// top comment
{
  /* block comment */
  gateway: {
    port: 19001,
    bind: 'lan',
    auth: { mode: "trusted-proxy", rateLimit: { maxAttempts: 3, }, },
    reload: { mode: "hot", debounceMs: 0x10 },
    http: { endpoints: { chatCompletions: { enabled: true } } },
    controlUi: { basePath: "/ui" },
    trustedProxies: ["10.0.0.1",],
  },
  logging: { level: "debug", consoleStyle: "json" },
  agents: { list: [{ id: "main" }] },
}
"#;
    let file = temp_file(text.as_bytes());
    let loaded = load_file(file.path(), &no_env).unwrap();
    assert!(loaded.exists);
    assert_eq!(loaded.raw.as_deref(), Some(text));
    assert_eq!(loaded.hash, content_hash(text));
    let c = loaded.config;
    assert_eq!(c.gateway.port, Some(19001));
    assert_eq!(c.gateway.effective_bind(), BindMode::Lan);
    assert_eq!(c.gateway.auth.effective_mode(), AuthMode::TrustedProxy);
    assert_eq!(c.gateway.auth.rate_limit.max_attempts, 3);
    assert_eq!(c.gateway.auth.rate_limit.window_ms, 60_000);
    assert_eq!(c.gateway.reload.mode, ReloadMode::Hot);
    assert_eq!(c.gateway.reload.debounce_ms, 16);
    assert!(c.gateway.http.endpoints.chat_completions.enabled);
    assert!(!c.gateway.http.endpoints.responses.enabled);
    assert!(c.gateway.control_ui.enabled);
    assert_eq!(c.gateway.control_ui.base_path.as_deref(), Some("/ui"));
    assert_eq!(c.gateway.trusted_proxies, vec!["10.0.0.1".to_string()]);
    assert_eq!(c.logging.level, LogLevel::Debug);
    assert_eq!(c.agents.unwrap().list[0].id, "main");
}

#[test]
fn bom_is_ignored() {
    let c = parse_str("\u{feff}{gateway:{port:1}}", &no_env).unwrap();
    assert_eq!(c.gateway.port, Some(1));
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let file = temp_file(b"{\n  gateway: {\n    port: 1 2\n  }\n}\n");
    let err = load_file(file.path(), &no_env).unwrap_err();
    match &err {
        ConfigError::Parse {
            path, line, column, ..
        } => {
            assert_eq!(path.as_deref(), Some(file.path()));
            assert_eq!(*line, 3);
            assert!(*column > 0);
        }
        other => panic!("expected Parse, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}:3:", file.path().display())),
        "{shown}"
    );
    assert!(shown.contains("JSON5 parse error"), "{shown}");
    assert!(shown.contains("move the file aside"), "{shown}");
}

#[test]
fn invalid_utf8_is_a_parse_error() {
    let file = temp_file(b"{gateway: {bind: \"\xff\"}}");
    let err = load_file(file.path(), &no_env).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { line: 1, .. }), "{err}");
}

#[test]
fn top_level_must_be_object() {
    for raw in ["[]", "42", "'x'", "null"] {
        let (path, message, _) = invalid(raw);
        assert_eq!(path, "");
        assert!(message.contains("object"), "{message}");
    }
}

#[test]
fn env_substitution_and_escape() {
    let env = env_of(&[("OC_TOKEN", "s3cret"), ("PORTLESS", "x")]);
    let raw = r#"{
      gateway: { auth: { token: "${OC_TOKEN}" }, customBindHost: "$${PORTLESS}" },
      agents: { defaults: { systemPrompt: "a-${OC_TOKEN}-${lower}-$" } },
    }"#;
    let c = parse_str(raw, &env).unwrap();
    assert_eq!(c.gateway.auth.token.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(c.gateway.custom_bind_host.as_deref(), Some("${PORTLESS}"));
    assert_eq!(
        c.agents.unwrap().defaults.system_prompt.as_deref(),
        Some("a-s3cret-${lower}-$")
    );
}

#[test]
fn keys_are_not_substituted() {
    let env = env_of(&[("K", "v")]);
    let c = parse_str(r#"{ meta: { "${K}": "${K}" } }"#, &env).unwrap();
    assert_eq!(c.meta.unwrap()["${K}"], "v");
}

#[test]
fn missing_env_names_the_json_path() {
    let err = parse_str(r#"{ gateway: { auth: { token: "${NOPE}" } } }"#, &no_env).unwrap_err();
    match &err {
        ConfigError::MissingEnv { var, path } => {
            assert_eq!(var, "NOPE");
            assert_eq!(path, "gateway.auth.token");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("gateway.auth.token"));

    let err = parse_str(
        r#"{ agents: { list: [{ id: "ok" }, { id: "${EMPTY_ONE}" }] } }"#,
        &env_of(&[("EMPTY_ONE", "")]),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ConfigError::MissingEnv { var, path } if var == "EMPTY_ONE" && path == "agents.list[1].id"),
        "{err:?}"
    );
}

#[test]
fn file_env_errors_keep_variant() {
    let file = temp_file(br#"{ gateway: { auth: { password: "${OC_MISSING_PW}" } } }"#);
    let err = load_file(file.path(), &no_env).unwrap_err();
    assert!(matches!(err, ConfigError::MissingEnv { .. }));
}

#[test]
fn unknown_key_names_full_path() {
    let (path, message, shown) = invalid("{ gateway: { prot: 1 } }");
    assert_eq!(path, "gateway.prot");
    assert!(
        message.starts_with("unknown field `prot`, expected one of"),
        "{message}"
    );
    assert!(message.contains("`port`"), "{message}");
    assert!(shown.starts_with("invalid config at gateway.prot: unknown field `prot`"));

    let (path, _, _) = invalid("{ gateway: { auth: { rateLimit: { maxAttempt: 1 } } } }");
    assert_eq!(path, "gateway.auth.rateLimit.maxAttempt");

    let (path, _, _) = invalid("{ gatway: {} }");
    assert_eq!(path, "gatway");

    let (path, message, _) =
        invalid("{ gateway: { http: { endpoints: { chatCompletions: { on: true } } } } }");
    assert_eq!(path, "gateway.http.endpoints.chatCompletions.on");
    assert!(message.contains("`enabled`"), "{message}");
}

#[test]
fn bad_enum_lists_allowed_values_and_shows_bad_value() {
    let (path, message, shown) = invalid("{ gateway: { bind: 'wide' } }");
    assert_eq!(path, "gateway.bind");
    assert_eq!(
        message,
        "unknown variant `wide`, expected one of `loopback`, `lan`, `custom`, `auto`, `tailnet`"
    );
    assert_eq!(
        shown,
        "invalid config at gateway.bind: unknown variant `wide`, expected one of `loopback`, `lan`, `custom`, `auto`, `tailnet`"
    );

    let (path, message, _) = invalid("{ gateway: { auth: { mode: 'trusted_proxy' } } }");
    assert_eq!(path, "gateway.auth.mode");
    assert!(message.contains("`trusted_proxy`") && message.contains("`trusted-proxy`"));

    let (path, message, _) = invalid("{ logging: { level: 'verbose' } }");
    assert_eq!(path, "logging.level");
    assert!(message.contains("`silent`") && message.contains("`trace`"));
}

#[test]
fn wrong_type_shows_value_and_expectation() {
    let (path, message, _) = invalid("{ gateway: { port: 'abc' } }");
    assert_eq!(path, "gateway.port");
    assert_eq!(message, "invalid type: string \"abc\", expected u16");

    let (path, message, _) = invalid("{ gateway: { port: 70000 } }");
    assert_eq!(path, "gateway.port");
    assert!(message.contains("70000"), "{message}");

    let (path, _, _) = invalid("{ gateway: { trustedProxies: ['a', 5] } }");
    assert_eq!(path, "gateway.trustedProxies[1]");

    let (path, _, _) = invalid("{ gateway: 'x' }");
    assert_eq!(path, "gateway");
}

#[test]
fn semantic_checks() {
    let (path, message, _) = invalid("{ gateway: { bind: 'custom' } }");
    assert_eq!(path, "gateway.customBindHost");
    assert!(message.contains("IP address"), "{message}");

    let (path, _, _) = invalid("{ gateway: { bind: 'custom', customBindHost: 'my.host' } }");
    assert_eq!(path, "gateway.customBindHost");

    let c = parse_str(
        "{ gateway: { bind: 'custom', customBindHost: '192.168.1.10' } }",
        &no_env,
    )
    .unwrap();
    assert_eq!(c.gateway.effective_bind(), BindMode::Custom);

    assert_eq!(invalid("{ gateway: { port: 0 } }").0, "gateway.port");
    assert_eq!(
        invalid("{ logging: { maxFileBytes: 10 } }").0,
        "logging.maxFileBytes"
    );
    assert_eq!(
        invalid("{ gateway: { auth: { rateLimit: { windowMs: 0 } } } }").0,
        "gateway.auth.rateLimit.windowMs"
    );
    assert_eq!(
        invalid("{ gateway: { reload: { debounceMs: 60001 } } }").0,
        "gateway.reload.debounceMs"
    );
}

#[test]
fn redaction_of_loaded_file() {
    let env = env_of(&[("TOK", "from-env")]);
    let raw = r#"{
      gateway: { auth: { token: "${TOK}", password: "" } },
      models: { providers: { openai: { apiKey: "sk-1", baseUrl: "https://x", api: "openai-completions" } } },
      channels: { discord: { botToken: "d", guilds: [{ webhookSecret: { k: 1 } }] } },
    }"#;
    let c = parse_str(raw, &env).unwrap();
    let v = redacted_json(&c);
    assert_eq!(v["gateway"]["auth"]["token"], REDACTED);
    assert_eq!(v["gateway"]["auth"]["password"], "");
    assert_eq!(v["models"]["providers"]["openai"]["apiKey"], REDACTED);
    assert_eq!(v["models"]["providers"]["openai"]["baseUrl"], "https://x");
    assert_eq!(v["channels"]["discord"]["botToken"], REDACTED);
    assert_eq!(
        v["channels"]["discord"]["guilds"][0]["webhookSecret"],
        REDACTED
    );
    let text = v.to_string();
    assert!(!text.contains("from-env") && !text.contains("sk-1"));
    assert!(!format!("{c:?}").contains("from-env"));
}

#[test]
fn hash_changes_with_content() {
    let a = temp_file(b"{ gateway: { port: 1 } }");
    let b = temp_file(b"{ gateway: { port: 2 } }");
    let c = temp_file(b"{ gateway: { port: 1 } }");
    let ha = load_file(a.path(), &no_env).unwrap().hash;
    let hb = load_file(b.path(), &no_env).unwrap().hash;
    let hc = load_file(c.path(), &no_env).unwrap().hash;
    assert_ne!(ha, hb);
    assert_eq!(ha, hc);
    assert_eq!(ha.len(), 64);
    assert!(
        ha.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

#[test]
fn garbage_never_panics() {
    let seeds = [
        r#"{ gateway: { port: 18789, bind: "custom", customBindHost: "::1", auth: { token: "${T}" } }, logging: { level: "info" }, agents: { list: [ { id: 'x' } ] } }"#,
        "{ /* c */ a: [1, 2, {b: 'c\\u00e9\\x41'}], 'k': 0x1F, n: -Infinity, m: .5e3 }",
        "{\"é\": \"ü\u{2028}\", x: '${A}$${B}${c}$'}",
    ];
    let pool: Vec<char> = "{}[]:,'\"\\/*$ {}AZaz09.-+eEx\n\r\u{2028}é\u{feff}\0"
        .chars()
        .collect();
    let env = env_of(&[("T", "t"), ("A", "a")]);
    // Deterministic xorshift so failures are reproducible.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..6000 {
        let seed: Vec<char> = seeds[round % seeds.len()].chars().collect();
        let mut chars = seed.clone();
        let edits = 1 + (next() % 6) as usize;
        for _ in 0..edits {
            let op = next() % 4;
            let pos = if chars.is_empty() {
                0
            } else {
                (next() as usize) % chars.len()
            };
            let c = pool[(next() as usize) % pool.len()];
            match op {
                0 if !chars.is_empty() => {
                    chars.remove(pos);
                }
                1 => chars.insert(pos, c),
                2 if !chars.is_empty() => chars[pos] = c,
                _ => chars.truncate(pos),
            }
        }
        let text: String = chars.into_iter().collect();
        if let Err(e) = parse_str(&text, &env) {
            // Rendering the error must not panic either.
            let _ = e.to_string();
        }
    }
    for raw in [
        "", " ", "{", "}", "[", "${", "{a:", "{a:'", "/*", "//", "\u{feff}",
    ] {
        assert!(parse_str(raw, &no_env).is_err(), "{raw:?}");
    }
}
