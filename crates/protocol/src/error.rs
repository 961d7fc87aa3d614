//! The error object carried by a failed `res` frame.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Top-level error codes. Clients branch on these (and on `details.code`), so the set is
/// closed and spelled exactly as the original gateway spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// A channel account is not linked.
    NotLinked,
    /// A device or node is not paired.
    NotPaired,
    /// An agent run did not finish in time.
    AgentTimeout,
    /// `agent.wait` named a run the gateway does not know.
    AgentResultNotFound,
    /// The request was malformed, named an unknown method, or had bad parameters.
    InvalidRequest,
    /// The caller lacks a scope or role for the method.
    Forbidden,
    /// An approval id is unknown.
    ApprovalNotFound,
    /// The gateway cannot serve the request right now (starting, draining, upstream down).
    Unavailable,
}

/// `{code, message, details?, retryable?, retryAfterMs?}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorShape {
    /// Machine-readable category.
    pub code: ErrorCode,
    /// Human-readable explanation; says what was wrong and, where possible, what to do.
    pub message: String,
    /// Structured detail, e.g. `{code:"MISSING_SCOPE", …}` or `{code:"AUTH_TOKEN_MISMATCH"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Whether retrying the same request may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// How long to wait before retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorShape {
    /// An error with just a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            retryable: None,
            retry_after_ms: None,
        }
    }

    /// `INVALID_REQUEST` with the given message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `UNAVAILABLE` with the given message.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// Attaches structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Marks the error retryable after `ms` milliseconds.
    pub fn retry_after(mut self, ms: u64) -> Self {
        self.retryable = Some(true);
        self.retry_after_ms = Some(ms);
        self
    }

    /// The `details.code` string, when present.
    pub fn detail_code(&self) -> Option<&str> {
        self.details.as_ref()?.get("code")?.as_str()
    }
}

impl std::fmt::Display for ErrorShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = serde_json::to_value(self.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        write!(f, "{code}: {}", self.message)
    }
}

/// Codes carried in `details.code` for authentication failures.
pub mod auth_detail {
    /// The token did not match.
    pub const TOKEN_MISMATCH: &str = "AUTH_TOKEN_MISMATCH";
    /// The password did not match.
    pub const PASSWORD_MISMATCH: &str = "AUTH_PASSWORD_MISMATCH";
    /// A token is required but none was sent.
    pub const TOKEN_MISSING: &str = "AUTH_TOKEN_MISSING";
    /// A password is required but none was sent.
    pub const PASSWORD_MISSING: &str = "AUTH_PASSWORD_MISSING";
    /// Too many failed attempts from this address.
    pub const RATE_LIMITED: &str = "AUTH_RATE_LIMITED";
    /// The scope detail code.
    pub const MISSING_SCOPE: &str = "MISSING_SCOPE";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_screaming() {
        let e = ErrorShape::new(ErrorCode::AgentResultNotFound, "x").retry_after(5);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "AGENT_RESULT_NOT_FOUND");
        assert_eq!(v["retryAfterMs"], 5);
        assert!(v.get("details").is_none());
        assert_eq!(e.to_string(), "AGENT_RESULT_NOT_FOUND: x");
    }
}
