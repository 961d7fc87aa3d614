//! The single error type every provider call returns, and the helpers that turn raw
//! upstream failures (transport errors, HTTP error bodies, in-stream error events) into it.
//!
//! The agent runner decides between "retry / fall back to the next provider" and "give up"
//! from this type alone, so the variants are split by *when* and *why* a call failed rather
//! than by which library produced the failure.

use std::time::Duration;

/// Why a provider call failed.
///
/// Every variant carries the provider id so that a message surfaced to a user or a log line
/// points at the right `models.providers.<id>` config entry. No variant returned by a
/// [`crate::Provider`] contains its API key, its header values or the other secrets it
/// was told about ([`crate::ProviderConfig::known_secrets`]): text echoed by the upstream
/// is scrubbed of them before it is stored.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The request never reached the upstream or never got an answer: DNS failure,
    /// connection refused, TLS handshake failure, connection reset before headers.
    /// Safe to retry, since the upstream cannot have produced output.
    #[error(
        "provider \"{provider}\": could not reach upstream: {message} (check that models.providers.{provider}.baseUrl is correct and reachable)"
    )]
    Connect {
        /// Provider id from config.
        provider: String,
        /// Transport error description (never contains credentials).
        message: String,
    },

    /// The upstream went silent for longer than the configured `request_timeout`.
    /// `stage` is `"headers"` when no response arrived at all (retryable) or `"stream"` when
    /// the body stalled after output may already have been forwarded (not retryable).
    #[error(
        "provider \"{provider}\": upstream timed out waiting for {} after {after:?} (raise models.providers.{provider}.timeoutMs or check the upstream's health)",
        stage_text(.stage)
    )]
    Timeout {
        /// Provider id from config.
        provider: String,
        /// The silence that was tolerated before giving up.
        after: Duration,
        /// `"headers"` or `"stream"`.
        stage: &'static str,
    },

    /// The upstream answered with a non-2xx status, or reported an error in-stream before
    /// producing any output (then `status` is the HTTP status that error kind normally has,
    /// e.g. 529 for Anthropic's `overloaded_error`).
    #[error(
        "provider \"{provider}\": HTTP {status} from upstream: {message}{}",
        status_hint(*.status, .provider, .retry_after)
    )]
    Status {
        /// Provider id from config.
        provider: String,
        /// HTTP status code.
        status: u16,
        /// The provider's `error.message` if parseable, else a short body excerpt.
        message: String,
        /// Parsed `Retry-After` / `retry-after-ms` header, when the upstream sent one.
        retry_after: Option<Duration>,
    },

    /// The upstream broke the wire format: unparseable SSE or JSON, a stream that ended
    /// without its terminal event, a connection dropped mid-stream, or an error event after
    /// output had started. Not retryable: the caller may already have forwarded deltas.
    #[error("provider \"{provider}\": upstream protocol error: {message}")]
    Protocol {
        /// Provider id from config.
        provider: String,
        /// What was wrong.
        message: String,
    },

    /// The operation is not offered by this provider's API (e.g. embeddings on Anthropic).
    #[error(
        "provider \"{provider}\": {what} is not supported by this provider's API (configure an OpenAI-compatible provider for it)"
    )]
    Unsupported {
        /// Provider id from config.
        provider: String,
        /// The unsupported operation.
        what: String,
    },
}

fn stage_text(stage: &str) -> &'static str {
    match stage {
        "headers" => "response headers",
        "stream" => "the next stream chunk",
        _ => "a response",
    }
}

fn status_hint(status: u16, provider: &str, retry_after: &Option<Duration>) -> String {
    match status {
        401 | 403 => format!(" (check models.providers.{provider}.apiKey)"),
        404 => format!(" (check the model id and models.providers.{provider}.baseUrl)"),
        429 => match retry_after {
            Some(d) => format!(" (rate limited; retry after {d:?})"),
            None => " (rate limited; retry later)".to_string(),
        },
        500..=599 => " (upstream failure; retrying or falling back may help)".to_string(),
        _ => String::new(),
    }
}

impl ProviderError {
    /// Whether the same request may be sent again (to this or a fallback provider) without
    /// risking duplicated output: transport failures, header timeouts and the HTTP statuses
    /// that denote transient conditions (408, 409, 429, 5xx including Anthropic's 529).
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Connect { .. } => true,
            ProviderError::Timeout { stage, .. } => *stage == "headers",
            ProviderError::Status { status, .. } => {
                matches!(*status, 408 | 409 | 429) || (500..=599).contains(status)
            }
            ProviderError::Protocol { .. } | ProviderError::Unsupported { .. } => false,
        }
    }

    /// How long the upstream asked us to wait before retrying, if it said so. Lets the
    /// runner honour rate-limit back-off instead of guessing.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The id of the provider that failed, for logs and fallback bookkeeping.
    pub fn provider(&self) -> &str {
        match self {
            ProviderError::Connect { provider, .. }
            | ProviderError::Timeout { provider, .. }
            | ProviderError::Status { provider, .. }
            | ProviderError::Protocol { provider, .. }
            | ProviderError::Unsupported { provider, .. } => provider,
        }
    }
}

/// Longest message excerpt kept from an upstream error body. Error bodies can be whole
/// HTML pages from proxies; a short excerpt is enough to diagnose and keeps logs readable.
const EXCERPT_CHARS: usize = 300;

/// Extracts a human-readable message from an HTTP error body.
///
/// Both OpenAI and Anthropic use `{"error": {"message": "..."}}`; some compatible servers use
/// `{"error": "..."}` or `{"message": "..."}`. Anything else yields a whitespace-collapsed
/// excerpt of the body so the user still sees what the upstream said.
///
/// Secrets are scrubbed before the excerpt is cut, so a secret straddling the cut cannot
/// leave its first half behind.
pub(crate) fn error_message_from_body(body: &[u8], scrub: &Scrubber) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(msg) = error_message_from_json(&value)
    {
        return excerpt(&scrub.text(msg));
    }
    let text = String::from_utf8_lossy(body);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        "(empty response body)".to_string()
    } else {
        excerpt(&scrub.text(collapsed))
    }
}

/// Finds the error message in an already-parsed JSON error document (HTTP body or an
/// in-stream error event).
pub(crate) fn error_message_from_json(value: &serde_json::Value) -> Option<String> {
    let err = value.get("error");
    let candidates = [
        err.and_then(|e| e.get("message")),
        err.filter(|e| e.is_string()),
        value.get("message"),
        value.get("detail"),
    ];
    candidates
        .into_iter()
        .flatten()
        .find_map(|v| v.as_str().map(str::to_string))
        .filter(|s| !s.trim().is_empty())
}

/// Maps the error *kind* names OpenAI and Anthropic put in error documents to the HTTP status
/// that kind normally comes with, so in-stream errors can be classified like HTTP ones.
pub(crate) fn status_for_error_kind(kind: &str) -> Option<u16> {
    match kind {
        "overloaded_error" => Some(529),
        "rate_limit_error" | "rate_limit_exceeded" | "insufficient_quota" => Some(429),
        "api_error" | "server_error" | "internal_error" => Some(500),
        "timeout_error" | "timeout" => Some(504),
        "service_unavailable" => Some(503),
        "authentication_error" | "invalid_api_key" => Some(401),
        "permission_error" => Some(403),
        "not_found_error" | "model_not_found" => Some(404),
        "invalid_request_error" | "invalid_prompt" => Some(400),
        "request_too_large" => Some(413),
        _ => None,
    }
}

fn excerpt(text: &str) -> String {
    let mut chars = text.char_indices();
    match chars.nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// What replaces a secret in error text.
pub(crate) const SCRUBBED: &str = "[redacted]";

/// Shorter values are not scrubbed: replacing every `1` or `on` (plausible header values)
/// would garble messages, and a value that short protects nothing anyway.
const MIN_SCRUB_LEN: usize = 4;

/// The secret values one provider must never repeat: its API key, its header values and
/// whatever else its owner knows to be secret (the gateway's own token, other providers'
/// keys, …). Upstreams sometimes echo what they were sent (OpenAI masks keys, proxies and
/// self-hosted servers may not, some echo every request header), and provider errors end
/// up in logs, RPC answers and HTTP bodies, so every error a [`crate::Provider`] returns
/// has these values replaced by `[redacted]`.
///
/// Cheap to clone (shared), longest value first so a secret containing another is
/// replaced whole.
#[derive(Clone, Default)]
pub(crate) struct Scrubber(std::sync::Arc<[String]>);

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} values)", self.0.len())
    }
}

impl Scrubber {
    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Scrubber {
        let mut values: Vec<String> = values
            .into_iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| v.len() >= MIN_SCRUB_LEN)
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Scrubber(values.into())
    }

    /// `text` with every known secret replaced.
    pub(crate) fn text(&self, mut text: String) -> String {
        for secret in self.0.iter() {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), SCRUBBED);
            }
        }
        text
    }

    /// `err` with every message it carries scrubbed.
    pub(crate) fn error(&self, err: ProviderError) -> ProviderError {
        match err {
            ProviderError::Connect { provider, message } => ProviderError::Connect {
                provider,
                message: self.text(message),
            },
            ProviderError::Status {
                provider,
                status,
                message,
                retry_after,
            } => ProviderError::Status {
                provider,
                status,
                message: self.text(message),
                retry_after,
            },
            ProviderError::Protocol { provider, message } => ProviderError::Protocol {
                provider,
                message: self.text(message),
            },
            ProviderError::Unsupported { provider, what } => ProviderError::Unsupported {
                provider,
                what: self.text(what),
            },
            timeout @ ProviderError::Timeout { .. } => timeout,
        }
    }
}

/// Parses `Retry-After` (delta-seconds, possibly fractional) or the non-standard
/// `retry-after-ms` header OpenAI also sends. HTTP-date values are treated as absent: they
/// are rare from model APIs and depend on clock agreement.
pub(crate) fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1.0e9)
    };
    if let Some(ms) = get("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    get("retry-after").map(Duration::from_secs_f64)
}

/// Describes a transport error including its source chain ("error sending request: client
/// error (Connect): tcp connect error: Connection refused"), because reqwest's top-level
/// message alone rarely says what actually went wrong.
pub(crate) fn describe_transport_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn status(status: u16, retry_after: Option<Duration>) -> ProviderError {
        ProviderError::Status {
            provider: "openai".into(),
            status,
            message: "Incorrect API key provided".into(),
            retry_after,
        }
    }

    #[test]
    fn display_names_provider_and_hint() {
        assert_eq!(
            status(401, None).to_string(),
            "provider \"openai\": HTTP 401 from upstream: Incorrect API key provided (check models.providers.openai.apiKey)"
        );
        let t = ProviderError::Timeout {
            provider: "x".into(),
            after: Duration::from_secs(30),
            stage: "headers",
        };
        assert!(t.to_string().contains("response headers after 30s"));
        assert!(
            status(429, Some(Duration::from_secs(1)))
                .to_string()
                .contains("retry after 1s")
        );
    }

    #[test]
    fn retryability() {
        for s in [408, 409, 429, 500, 502, 503, 529] {
            assert!(status(s, None).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!status(s, None).is_retryable(), "{s}");
        }
        let t = |stage| ProviderError::Timeout {
            provider: "p".into(),
            after: Duration::from_secs(1),
            stage,
        };
        assert!(t("headers").is_retryable());
        assert!(!t("stream").is_retryable());
        let c = ProviderError::Connect {
            provider: "p".into(),
            message: "refused".into(),
        };
        assert!(c.is_retryable());
        assert_eq!(c.provider(), "p");
        let p = ProviderError::Protocol {
            provider: "p".into(),
            message: "x".into(),
        };
        assert!(!p.is_retryable());
        assert_eq!(
            status(429, Some(Duration::from_secs(2))).retry_after(),
            Some(Duration::from_secs(2))
        );
        assert_eq!(p.retry_after(), None);
    }

    #[test]
    fn parses_error_bodies() {
        let error_message_from_body = |b: &[u8]| error_message_from_body(b, &Scrubber::default());
        let openai = br#"{"error":{"message":"Incorrect API key provided: sk-abc***xyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        assert_eq!(
            error_message_from_body(openai),
            "Incorrect API key provided: sk-abc***xyz."
        );
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(error_message_from_body(anthropic), "Overloaded");
        assert_eq!(
            error_message_from_body(br#"{"error":"model not loaded"}"#),
            "model not loaded"
        );
        assert_eq!(error_message_from_body(br#"{"message":"nope"}"#), "nope");
        assert_eq!(
            error_message_from_body(b"<html>\n  <body>Bad   Gateway</body>\n</html>"),
            "<html> <body>Bad Gateway</body> </html>"
        );
        assert_eq!(error_message_from_body(b""), "(empty response body)");
        let long = "é".repeat(1000);
        let ex = error_message_from_body(long.as_bytes());
        assert_eq!(ex.chars().count(), EXCERPT_CHARS + 1);
        // Invalid UTF-8 must not panic.
        assert!(!error_message_from_body(&[0xff, 0xfe, b'a']).is_empty());
    }

    #[test]
    fn scrubs_every_known_secret() {
        let s = Scrubber::new([
            "sk-secret-123".to_owned(),
            "sk-secret-123-longer".to_owned(),
            "hdr-value-9".to_owned(),
            "on".to_owned(),
            String::new(),
        ]);
        assert_eq!(
            s.text("bad key sk-secret-123, got sk-secret-123-longer and hdr-value-9 on".into()),
            "bad key [redacted], got [redacted] and [redacted] on"
        );
        assert_eq!(Scrubber::default().text("fine".into()), "fine");
        let e = s.error(status(401, None));
        assert!(!e.to_string().contains("[redacted]"));
        let e = s.error(ProviderError::Protocol {
            provider: "p".into(),
            message: "echo hdr-value-9".into(),
        });
        assert_eq!(
            e.to_string(),
            "provider \"p\": upstream protocol error: echo [redacted]"
        );
    }

    #[test]
    fn a_secret_at_the_excerpt_cut_is_scrubbed_whole() {
        let secret = "hdr-secret-straddling-the-cut";
        let body = format!("{}{secret} and more", "x".repeat(EXCERPT_CHARS - 5));
        let s = Scrubber::new([secret.to_owned()]);
        let m = error_message_from_body(body.as_bytes(), &s);
        assert!(!m.contains("hdr-s"), "{m}");
        assert!(
            m.starts_with(&format!("{}[reda", "x".repeat(EXCERPT_CHARS - 5))),
            "{m}"
        );
    }

    #[test]
    fn retry_after_header() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("1"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(1)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("-3"));
        assert_eq!(parse_retry_after(&h), None);
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn error_kinds() {
        assert_eq!(status_for_error_kind("overloaded_error"), Some(529));
        assert_eq!(status_for_error_kind("rate_limit_exceeded"), Some(429));
        assert_eq!(status_for_error_kind("weird"), None);
    }
}
