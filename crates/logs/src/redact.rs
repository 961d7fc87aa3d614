//! Field-name based secret redaction.

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

#[cfg(test)]
mod tests {
    use super::*;

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
