//! Security posture helpers shared by `doctor`, `security audit`, `gateway install` and
//! `config`: permission bits, inline secrets, the effective gateway token and password and
//! how weak they are, loopback binds, and token generation.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use openclaw_config::{AtomicWrite, BindMode, Config, SecretSource, WriteError};
use serde_json::Value;

pub use openclaw_config::fsutil::sibling;

/// Shortest gateway token doctor and audit accept as strong.
pub const MIN_TOKEN_LEN: usize = 24;

/// Shortest gateway password accepted without a warning.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Tokens and passwords that appear in examples and tutorials; anyone would try them.
pub const WELL_KNOWN_SECRETS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "openclaw",
    "openclaw-token",
    "openclaw-gateway",
    "token",
    "secret",
    "password",
    "admin",
    "default",
    "test",
    "example",
    "replace-me",
    "your-token",
    "your-token-here",
    "your_token_here",
    "mytoken",
    "letmein",
    "123456",
    "12345678",
    "1234567890",
];

/// Where the effective gateway token comes from.
pub enum TokenSource {
    /// `OPENCLAW_GATEWAY_TOKEN`.
    Env,
    /// The value written in the config file.
    Inline,
    /// A SecretRef in the config.
    Ref(SecretSource),
    /// Not configured.
    None,
}

/// The token the gateway would use (env before config), with its value when it can be
/// known. A SecretRef is resolved; a failure is returned as the error text.
pub fn effective_token(config: &Config) -> (TokenSource, Result<Option<String>, String>) {
    if let Ok(t) = std::env::var("OPENCLAW_GATEWAY_TOKEN")
        && !t.is_empty()
    {
        return (TokenSource::Env, Ok(Some(t)));
    }
    match &config.gateway.auth.token {
        Some(s) if s.is_empty() => (TokenSource::None, Ok(None)),
        None => (TokenSource::None, Ok(None)),
        Some(s) => match s.as_ref_source() {
            None => (TokenSource::Inline, Ok(Some(s.expose().to_owned()))),
            Some(r) => {
                let env = |k: &str| std::env::var(k).ok();
                let v = r
                    .resolve("gateway.auth.token", &env)
                    .map(|s| Some(s.expose().to_owned()))
                    .map_err(|e| e.to_string());
                (TokenSource::Ref(r.source), v)
            }
        },
    }
}

/// The gateway password in force (env before config), resolved if it is a reference.
pub fn effective_password(config: &Config) -> Option<String> {
    if let Ok(p) = std::env::var("OPENCLAW_GATEWAY_PASSWORD")
        && !p.is_empty()
    {
        return Some(p);
    }
    let s = config.gateway.auth.password.as_ref()?;
    match s.as_ref_source() {
        None => Some(s.expose().to_owned()).filter(|p| !p.is_empty()),
        Some(r) => {
            let env = |k: &str| std::env::var(k).ok();
            r.resolve("gateway.auth.password", &env)
                .ok()
                .map(|s| s.expose().to_owned())
        }
    }
}

/// Why a secret is weak.
#[derive(Debug, PartialEq, Eq)]
pub enum Weakness {
    /// One of [`WELL_KNOWN_SECRETS`].
    WellKnown,
    /// Shorter than the minimum; holds the length.
    Short(usize),
}

/// Whether `secret` is a well-known default or shorter than `min` characters.
pub fn weakness(secret: &str, min: usize) -> Option<Weakness> {
    let lower = secret.trim().to_ascii_lowercase();
    if WELL_KNOWN_SECRETS.contains(&lower.as_str()) {
        Some(Weakness::WellKnown)
    } else if secret.chars().count() < min {
        Some(Weakness::Short(secret.chars().count()))
    } else {
        None
    }
}

/// True unless the config binds beyond loopback (`lan`, `tailnet`, a non-loopback
/// `custom` host).
pub fn is_loopback_bind(config: &Config) -> bool {
    match config.gateway.effective_bind() {
        BindMode::Loopback | BindMode::Auto => true,
        BindMode::Lan | BindMode::Tailnet => false,
        BindMode::Custom => config
            .gateway
            .custom_bind_host
            .as_deref()
            .and_then(|h| h.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback()),
    }
}

/// Permission bits of `path` (following symlinks), if it exists.
pub fn mode_of(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Sets the permission bits of `path`.
pub fn chmod(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).with_context(|| {
        format!(
            "cannot chmod {:o} {}; are you its owner?",
            mode,
            path.display()
        )
    })
}

pub fn writable(path: &Path) -> bool {
    rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok()
}

/// The config file as a JSON document (`${VAR}` kept), if it exists and parses.
pub fn read_raw_doc(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    openclaw_config::read_document(&text).ok()
}

/// Whether the document holds a secret value itself (not a `${VAR}` or a SecretRef)
/// under a sensitive key such as `token`, `password` or `apiKey`.
pub fn holds_inline_secrets(doc: &Value) -> bool {
    match doc {
        Value::Object(m) => m.iter().any(|(k, v)| {
            (openclaw_config::is_sensitive_key(k)
                && matches!(v, Value::String(s) if !s.is_empty() && !is_env_ref(s)))
                || holds_inline_secrets(v)
        }),
        Value::Array(a) => a.iter().any(holds_inline_secrets),
        _ => false,
    }
}

fn is_env_ref(s: &str) -> bool {
    s.strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
}

/// 32 random bytes from the operating system's generator, as 64 hex digits.
pub fn generate_token() -> Result<String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf)
        .map_err(|e| anyhow!("cannot get random bytes from the operating system: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Replaces `path` with `contents` through [`openclaw_config::write_atomic`], turning its
/// error into the CLI's message: what failed, what to check, and that `what` (e.g. "the
/// config") was not changed. A lost compare-and-swap keeps its own message.
pub fn write_file(path: &Path, contents: &[u8], opts: &AtomicWrite<'_>, what: &str) -> Result<()> {
    openclaw_config::write_atomic(path, contents, opts).map_err(|e| match e {
        WriteError::Conflict { .. } => anyhow!("{e}"),
        WriteError::Io { .. } => anyhow!("{e}; {what} was not changed"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn token_weakness() {
        assert_eq!(weakness("changeme", 24), Some(Weakness::WellKnown));
        assert_eq!(weakness("OpenClaw", 24), Some(Weakness::WellKnown));
        assert_eq!(weakness("abc", 24), Some(Weakness::Short(3)));
        assert_eq!(weakness(&"x".repeat(24), 24), None);
    }

    #[test]
    fn generated_tokens_are_hex_and_differ() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn inline_secret_detection() {
        assert!(holds_inline_secrets(
            &json!({"gateway": {"auth": {"token": "abc"}}})
        ));
        assert!(!holds_inline_secrets(
            &json!({"gateway": {"auth": {"token": "${TOK}"}}})
        ));
        assert!(!holds_inline_secrets(
            &json!({"gateway": {"auth": {"token": {"source": "env", "id": "T"}}}})
        ));
        assert!(!holds_inline_secrets(&json!({"gateway": {"port": 1}})));
    }
}
