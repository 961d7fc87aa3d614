//! The public edge of the gateway port: `gateway.tls`, `gateway.rateLimit`,
//! `gateway.performance`, `gateway.metrics`, and the client-side `gateway.remote`.
//!
//! `gateway.tls` and `gateway.remote` use OpenClaw's key names. OpenClaw has no request
//! rate limit, connection cap or request timeout settings; the sections here take the
//! names operator runbooks use (`gateway.rate_limit`, `gateway.performance.*`), in the
//! config's camelCase, with the runbooks' snake_case spellings accepted as aliases
//! ([`crate::aliases`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::schema::Secret;

/// The `gateway.tls` section: TLS termination on the gateway port (HTTPS and WSS).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Serve TLS on the gateway port; plain HTTP is then refused with a message.
    pub enabled: bool,
    /// Without `certPath`/`keyPath`: generate a self-signed pair in the state dir
    /// (`<state>/tls/`) on first start and reuse it afterwards. For local and test use:
    /// clients must be given the certificate (`--tls-ca`) or its fingerprint.
    pub auto_generate: bool,
    /// PEM certificate chain (leaf first). Watched: a renewed file is picked up without a
    /// restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_path: Option<String>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for `certPath`; keep it owner-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_path: Option<String>,
    /// PEM bundle of intermediate CA certificates sent after the leaf, for a chain the
    /// certificate file does not carry itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_path: Option<String>,
}

/// The `gateway.rateLimit` section (runbook spelling `gateway.rate_limit`): a request
/// budget per client on `/v1/*`, `/tools/invoke`, `/hooks/*` and WebSocket RPC requests.
/// Probes are never limited.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RequestRateLimitConfig {
    /// Turn the limit on (off by default).
    pub enabled: bool,
    /// Sustained requests per minute each client may make.
    pub requests_per_minute: u32,
    /// Requests a client may make at once above the sustained rate, after being quiet.
    pub burst: u32,
}

impl Default for RequestRateLimitConfig {
    fn default() -> RequestRateLimitConfig {
        RequestRateLimitConfig {
            enabled: false,
            requests_per_minute: 60,
            burst: 10,
        }
    }
}

/// Largest `gateway.rateLimit.requestsPerMinute` / `burst` accepted.
pub const MAX_RATE: u32 = 100_000_000;

/// The `gateway.performance` section (runbook spelling `max_connections`,
/// `request_timeout`, `idle_timeout`): connection cap and timeouts of the port. Unset keys
/// keep the built-in defaults (no cap beyond the open-file reserve, no request timeout,
/// 30 s idle).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PerformanceConfig {
    /// Open connections (HTTP and WebSocket) beyond which a new one is answered `503`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Longest an HTTP request may take to its response head, in milliseconds; past it
    /// the client gets `504`. A stream that has started is not cut by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// How long an idle keep-alive HTTP connection, or a WebSocket that has not completed
    /// its handshake, is kept, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
}

/// The `gateway.metrics` section: `GET /metrics` in the Prometheus text format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` (behind the gateway's auth, like every operator route).
    pub enabled: bool,
    /// Serve it without auth to loopback clients (a Prometheus on the same host). Other
    /// addresses still need the token.
    pub public: bool,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            enabled: true,
            public: false,
        }
    }
}

/// The `gateway.remote` section: the gateway the CLI talks to when it is not this
/// machine's (read by clients only; the gateway ignores it by design).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RemoteConfig {
    /// `ws://` or `wss://` URL of the remote gateway, used when `gateway.mode` is
    /// `remote`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Token for the remote gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Password for the remote gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Expected SHA-256 fingerprint of the remote's TLS certificate (hex, colons
    /// optional): pins a `wss://` gateway, self-signed ones included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_fingerprint: Option<String>,
}

/// Parses a SHA-256 certificate fingerprint: 64 hex digits, optionally separated by `:`
/// (as `openssl x509 -fingerprint -sha256` prints it) and optionally prefixed `sha256:`.
pub fn parse_fingerprint(raw: &str) -> Result<[u8; 32], String> {
    let s = raw.trim();
    let s = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("SHA256:"))
        .or_else(|| s.strip_prefix("sha256//"))
        .unwrap_or(s);
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    let bad = || {
        format!(
            "{raw:?} is not a SHA-256 fingerprint; give 64 hex digits, e.g. from `openssl x509 -noout -fingerprint -sha256 -in cert.pem`"
        )
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

pub(crate) fn validate(
    tls: &TlsConfig,
    rate: &RequestRateLimitConfig,
    perf: &PerformanceConfig,
    remote: &RemoteConfig,
) -> Result<(), ConfigError> {
    let invalid = |path: &str, message: String| {
        Err(ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    };
    match (&tls.cert_path, &tls.key_path) {
        (Some(_), None) => {
            return invalid(
                "gateway.tls.keyPath",
                "gateway.tls.certPath is set but keyPath is not; give the private key file of the certificate".into(),
            );
        }
        (None, Some(_)) => {
            return invalid(
                "gateway.tls.certPath",
                "gateway.tls.keyPath is set but certPath is not; give the certificate file of the key".into(),
            );
        }
        (None, None) if tls.enabled && !tls.auto_generate => {
            return invalid(
                "gateway.tls",
                "gateway.tls.enabled needs certPath and keyPath, or autoGenerate: true for a self-signed certificate".into(),
            );
        }
        _ => {}
    }
    for (key, path) in [
        ("certPath", &tls.cert_path),
        ("keyPath", &tls.key_path),
        ("caPath", &tls.ca_path),
    ] {
        if path.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return invalid(
                &format!("gateway.tls.{key}"),
                "is empty; give a file path or remove the key".into(),
            );
        }
    }
    for (key, n) in [
        ("requestsPerMinute", rate.requests_per_minute),
        ("burst", rate.burst),
    ] {
        if n == 0 || n > MAX_RATE {
            return invalid(
                &format!("gateway.rateLimit.{key}"),
                format!("{n} is out of range; use a whole number from 1 to {MAX_RATE}"),
            );
        }
    }
    if perf.max_connections == Some(0) {
        return invalid(
            "gateway.performance.maxConnections",
            "0 would refuse every connection; use a positive number or remove the key".into(),
        );
    }
    for (key, ms) in [
        ("requestTimeoutMs", perf.request_timeout_ms),
        ("idleTimeoutMs", perf.idle_timeout_ms),
    ] {
        if let Some(ms) = ms
            && !(100..=86_400_000).contains(&ms)
        {
            return invalid(
                &format!("gateway.performance.{key}"),
                format!(
                    "{ms} ms is out of range; use 100 to 86400000 milliseconds (e.g. 30000 for 30 s)"
                ),
            );
        }
    }
    if let Some(url) = &remote.url
        && !(url.starts_with("ws://") || url.starts_with("wss://"))
    {
        return invalid(
            "gateway.remote.url",
            format!("{url:?} is not a ws:// or wss:// URL; write e.g. wss://gateway.example.com"),
        );
    }
    if let Some(fp) = &remote.tls_fingerprint
        && let Err(m) = parse_fingerprint(fp)
    {
        return invalid("gateway.remote.tlsFingerprint", m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints() {
        let colons = "AB:".repeat(31) + "AB";
        assert_eq!(parse_fingerprint(&colons), Ok([0xab; 32]));
        assert_eq!(parse_fingerprint(&"0f".repeat(32)), Ok([0x0f; 32]));
        assert_eq!(
            parse_fingerprint(&format!("sha256:{}", "00".repeat(32))),
            Ok([0; 32])
        );
        assert!(parse_fingerprint("abc").unwrap_err().contains("64 hex"));
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn rules() {
        let ok = |t: TlsConfig| {
            validate(
                &t,
                &Default::default(),
                &Default::default(),
                &Default::default(),
            )
        };
        let e = ok(TlsConfig {
            enabled: true,
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("autoGenerate"), "{e}");
        assert!(
            ok(TlsConfig {
                enabled: true,
                auto_generate: true,
                ..Default::default()
            })
            .is_ok()
        );
        let e = ok(TlsConfig {
            cert_path: Some("/c".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("keyPath"), "{e}");
        let rate = RequestRateLimitConfig {
            requests_per_minute: 0,
            ..Default::default()
        };
        let e = validate(
            &Default::default(),
            &rate,
            &Default::default(),
            &Default::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("requestsPerMinute"), "{e}");
        let perf = PerformanceConfig {
            request_timeout_ms: Some(5),
            ..Default::default()
        };
        let e = validate(
            &Default::default(),
            &Default::default(),
            &perf,
            &Default::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("30000"), "{e}");
    }
}
