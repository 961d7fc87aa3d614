//! Property tests: arbitrary text and arbitrary merge patches must never panic, and
//! every error must be displayable and (where it concerns a value) name its JSON path.
//!
//! Deterministic (a fixed-seed xorshift generator, no extra dependency) so a failure
//! reproduces exactly; the failing input is printed.

use std::panic::{AssertUnwindSafe, catch_unwind};

use openclaw_config::{
    ConfigError, PathSeg, diff_paths, get_path, merge_patch, parse_path, parse_str, read_document,
    redacted_json, secret_sources, set_path, validate_document,
};
use serde_json::{Map, Value, json};

/// xorshift64*: tiny, fast, good enough to explore inputs, and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const VALID: &str = r#"// A fairly complete config.
{
  gateway: {
    mode: "local",
    port: 18789,
    bind: "custom",
    customBindHost: "127.0.0.1",
    auth: {
      mode: "token",
      token: { source: "env", id: "GW_TOKEN" },
      password: "${A}",
      rateLimit: { maxAttempts: 5, windowMs: 1000, lockoutMs: 2000, exemptLoopback: false },
    },
    reload: { mode: "hot", debounceMs: 100 },
    http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: false } } },
    tools: { allow: ["read"], deny: ["exec"] },
    controlUi: { enabled: true, basePath: "/ui" },
    trustedProxies: ["10.0.0.0/8"],
  },
  logging: { level: "debug", maxFileBytes: 2048, consoleStyle: "json", redactPatterns: ["sk-.*"] },
  models: {
    providers: {
      local: { baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions",
               apiKey: { source: "file", provider: "default", id: "~/key" },
               models: [{ id: "m1", contextWindow: 8000, maxTokens: 512 }], headers: { "x-a": "b" } },
    },
  },
  agents: {
    defaults: { model: { primary: "local/m1", fallbacks: ["openai/gpt-4o"] }, systemPrompt: 'Hi ${name} $${A}' },
    list: [{ id: "main", default: true }, { id: "research", model: "local/m2" }],
  },
  channels: { telegram: { botToken: "123:abc" } },
  meta: { lastTouchedVersion: "1.0" },
}
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "A" => Some("value-a".to_string()),
        "HOME" => Some("/home/test".to_string()),
        "PORT" => Some("19000".to_string()),
        _ => None,
    }
}

/// Asserts the properties every error must have; `what` identifies the input.
fn check_error(err: &ConfigError, what: &str) {
    let shown = err.to_string();
    assert!(!shown.trim().is_empty(), "empty Display for {what}");
    match err {
        ConfigError::Invalid { path, message } => {
            assert!(
                !message.trim().is_empty(),
                "empty message: {shown} for {what}"
            );
            if path.is_empty() {
                // Only whole-document problems are reported at the root.
                assert!(
                    shown.contains("(top level)") && message.contains("must be a JSON5 object"),
                    "root-level error without a path: {shown} for {what}"
                );
            } else {
                assert!(shown.contains(path.as_str()), "{shown} for {what}");
            }
        }
        ConfigError::MissingEnv { path, var } => {
            assert!(!path.is_empty(), "{shown} for {what}");
            assert!(shown.contains(path.as_str()) && shown.contains(var.as_str()));
        }
        ConfigError::Parse { message, .. } => {
            assert!(!message.trim().is_empty(), "{shown} for {what}");
        }
        _ => {}
    }
}

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
    "\t",
    "//",
    "/*",
    "*/",
    "\\",
    "gateway",
    "port",
    "auth",
    "token",
    "password",
    "bind",
    "mode",
    "models",
    "providers",
    "agents",
    "list",
    "id",
    "source",
    "env",
    "file",
    "exec",
    "logging",
    "level",
    "meta",
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
    "\"custom\"",
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
    "{ source: \"env\", id: \"\" }",
    "{ source: \"exec\", id: \"true\" }",
    "baseUrl",
    "\"http://h\"",
    "api",
    "\"openai-completions\"",
    "primary",
    "fallbacks",
];

fn random_text(rng: &mut Rng) -> String {
    let n = rng.below(40);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(TOKENS));
    }
    s
}

fn mutate(rng: &mut Rng, base: &str) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let len = chars.len();
        let at = rng.below(len + 1);
        match rng.below(5) {
            0 if len > 0 => {
                let end = (at + 1 + rng.below(8)).min(len);
                chars.drain(at.min(len)..end);
            }
            1 => {
                let tok: Vec<char> = rng.pick(TOKENS).chars().collect();
                chars.splice(at..at, tok);
            }
            2 if at < len => {
                let tok: Vec<char> = rng.pick(TOKENS).chars().collect();
                chars.splice(at..at + 1, tok);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(30)).min(len);
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(at..at, copy);
            }
            _ if len > 1 => {
                let other = rng.below(len);
                let at = at.min(len - 1);
                chars.swap(at, other);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

#[test]
fn valid_fixture_is_valid() {
    let c = parse_str(VALID, &env).unwrap();
    assert_eq!(c.gateway.port, Some(18789));
    // Token, password, the provider's apiKey and its one header, the Telegram bot token.
    assert_eq!(secret_sources(&c).len(), 5);
}

#[test]
fn random_text_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut outcomes = [0usize; 2];
    for i in 0..2000 {
        let input = if i % 2 == 0 {
            random_text(&mut rng)
        } else {
            mutate(&mut rng, VALID)
        };
        let result = catch_unwind(|| parse_str(&input, &env));
        let result = match result {
            Ok(r) => r,
            Err(_) => panic!("parse_str panicked on input #{i}: {input:?}"),
        };
        match result {
            Ok(config) => {
                outcomes[0] += 1;
                // Whatever loaded must also be showable and listable without panicking.
                let _ = redacted_json(&config);
                let _ = secret_sources(&config);
            }
            Err(e) => {
                outcomes[1] += 1;
                check_error(&e, &format!("input #{i}: {input:?}"));
            }
        }
        // The editing entry point must behave the same on the syntax side.
        match catch_unwind(|| read_document(&input)) {
            Ok(Ok(doc)) => {
                if let Err(e) = validate_document(&doc, &env) {
                    check_error(&e, &format!("document of input #{i}: {input:?}"));
                }
            }
            Ok(Err(e)) => check_error(&e, &format!("read of input #{i}: {input:?}")),
            Err(_) => panic!("read_document panicked on input #{i}: {input:?}"),
        }
    }
    // Mutations of a valid file should sometimes still be valid; otherwise the test
    // is not exploring the success path at all.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

const KEYS: &[&str] = &[
    "gateway",
    "port",
    "bind",
    "auth",
    "token",
    "password",
    "mode",
    "rateLimit",
    "maxAttempts",
    "windowMs",
    "lockoutMs",
    "reload",
    "debounceMs",
    "http",
    "endpoints",
    "chatCompletions",
    "enabled",
    "controlUi",
    "trustedProxies",
    "customBindHost",
    "logging",
    "level",
    "file",
    "maxFileBytes",
    "models",
    "providers",
    "local",
    "openai",
    "baseUrl",
    "apiKey",
    "api",
    "agents",
    "defaults",
    "model",
    "primary",
    "fallbacks",
    "list",
    "id",
    "default",
    "source",
    "provider",
    "channels",
    "meta",
    "x",
    "bogus",
];

/// Leaf paths of the real schema, so structured patches often produce valid configs.
const PATHS: &[&str] = &[
    "gateway.port",
    "gateway.bind",
    "gateway.mode",
    "gateway.customBindHost",
    "gateway.auth.mode",
    "gateway.auth.token",
    "gateway.auth.password",
    "gateway.auth.rateLimit.maxAttempts",
    "gateway.auth.rateLimit.lockoutMs",
    "gateway.reload.mode",
    "gateway.reload.debounceMs",
    "gateway.http.endpoints.chatCompletions.enabled",
    "gateway.controlUi.enabled",
    "gateway.trustedProxies",
    "gateway.tools.deny",
    "logging.level",
    "logging.maxFileBytes",
    "logging.consoleStyle",
    "models.providers.local.baseUrl",
    "models.providers.local.api",
    "models.providers.local.apiKey",
    "models.providers.other.baseUrl",
    "models.providers.other.api",
    "agents.defaults.model",
    "agents.defaults.model.primary",
    "agents.list",
    "agents.list[0].id",
    "agents.list[1].default",
    "channels.telegram.botToken",
    "meta",
    "tools",
];

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => json!(rng.pick(&[
            0i64,
            1,
            -1,
            5,
            300,
            1023,
            1024,
            18789,
            65535,
            65536,
            60001,
            i64::MAX
        ])),
        3 => json!(rng.pick(&[0.5f64, -2.25, 1e300])),
        _ => json!(rng.pick(&[
            "",
            "lan",
            "loopback",
            "custom",
            "auto",
            "tailnet",
            "token",
            "password",
            "none",
            "trusted-proxy",
            "local",
            "remote",
            "hot",
            "off",
            "hybrid",
            "debug",
            "json",
            "pretty",
            "::1",
            "example.com",
            "http://127.0.0.1:1/v1",
            "ftp://x",
            "openai-completions",
            "anthropic-messages",
            "local/m1",
            "openai/gpt-4o",
            "ghost/x",
            "nope",
            "main",
            "Main",
            "${A}",
            "${MISSING}",
            "$${A}",
            "env",
            "file",
            "exec",
        ])),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    if depth == 0 {
        return random_scalar(rng);
    }
    match rng.below(10) {
        0..=4 => random_scalar(rng),
        5 => Value::Array(
            (0..rng.below(3))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        6 => {
            let mut m = Map::new();
            m.insert(
                "source".into(),
                json!(rng.pick(&["env", "file", "exec", "vault"])),
            );
            m.insert(
                "id".into(),
                json!(rng.pick(&["", "X", "A", "/nope", "true"])),
            );
            if rng.chance(20) {
                m.insert("provider".into(), json!("default"));
            }
            if rng.chance(10) {
                m.insert("extra".into(), json!(1));
            }
            Value::Object(m)
        }
        7 => json!({ "id": rng.pick(&["main", "a", "Main", ""]), "default": rng.chance(50) }),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                m.insert(rng.pick(KEYS).to_string(), random_value(rng, depth - 1));
            }
            Value::Object(m)
        }
    }
}

fn random_patch(rng: &mut Rng) -> Value {
    if rng.chance(60) {
        // Structured: a few known paths set to random values.
        let mut patch = json!({});
        for _ in 0..1 + rng.below(3) {
            let path = parse_path(rng.pick(PATHS)).unwrap();
            // Merge patches cannot address array elements; stop at the array.
            let cut = path
                .iter()
                .position(|s| matches!(s, PathSeg::Index(_)))
                .map_or(path.len(), |i| i.saturating_sub(1).max(1));
            let value = random_value(rng, 2);
            let _ = set_path(&mut patch, &path[..cut], value);
        }
        patch
    } else {
        random_value(rng, 4)
    }
}

#[test]
fn random_merge_patches_never_panic() {
    let base = read_document(VALID).unwrap();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut ok = 0;
    for i in 0..2000 {
        let patch = random_patch(&mut rng);
        let mut doc = base.clone();
        let applied = catch_unwind(AssertUnwindSafe(|| merge_patch(&mut doc, &patch)));
        assert!(
            applied.is_ok(),
            "merge_patch panicked on patch #{i}: {patch}"
        );

        // RFC 7396 patches are idempotent.
        let mut twice = doc.clone();
        merge_patch(&mut twice, &patch);
        assert_eq!(twice, doc, "patch #{i} not idempotent: {patch}");

        // Every reported difference is a real one.
        for path in diff_paths(&base, &doc) {
            if path.is_empty() {
                assert_ne!(base, doc);
                continue;
            }
            let segs = parse_path(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_ne!(
                get_path(&base, &segs),
                get_path(&doc, &segs),
                "patch #{i}: {path} reported but unchanged"
            );
        }

        match catch_unwind(|| validate_document(&doc, &env)) {
            Ok(Ok(config)) => {
                ok += 1;
                let _ = redacted_json(&config);
                let _ = secret_sources(&config);
            }
            Ok(Err(e)) => {
                assert!(
                    matches!(
                        e,
                        ConfigError::Invalid { .. } | ConfigError::MissingEnv { .. }
                    ),
                    "unexpected error kind for patch #{i}: {e}"
                );
                check_error(&e, &format!("patch #{i}: {patch}"));
            }
            Err(_) => panic!("validate_document panicked on patch #{i}: {patch}"),
        }
    }
    assert!(ok > 50, "only {ok} of 2000 patched documents were valid");
}
