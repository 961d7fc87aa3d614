//! The connection flags every client command takes.

use clap::Args;

/// Flags every client command takes.
#[derive(Args, Clone)]
pub struct ClientOpts {
    /// Gateway URL, ws(s):// or http(s):// (default: ws://127.0.0.1:<configured port>).
    #[arg(long, visible_alias = "api-url", value_parser = parse_gateway_url)]
    pub url: Option<String>,
    /// Gateway token (default: OPENCLAW_GATEWAY_TOKEN, then gateway.auth.token).
    #[arg(long)]
    pub token: Option<String>,
    /// Gateway password (default: OPENCLAW_GATEWAY_PASSWORD, then gateway.auth.password).
    #[arg(long)]
    pub password: Option<String>,
    /// For wss://: trust only certificates issued by the CAs in this PEM file (a
    /// self-signed gateway's own certificate works), instead of the system's roots.
    #[arg(long, value_name = "FILE", conflicts_with = "tls_fingerprint")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// For wss://: accept exactly the certificate with this SHA-256 fingerprint
    /// (AA:BB:… or plain hex); default gateway.remote.tlsFingerprint for the remote URL.
    #[arg(long, value_name = "SHA256", value_parser = parse_tls_fingerprint)]
    pub tls_fingerprint: Option<[u8; 32]>,
    /// Timeout in milliseconds for connecting and for each call.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout: u64,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses `--tls-fingerprint` by the config's rule for `gateway.remote.tlsFingerprint`.
fn parse_tls_fingerprint(raw: &str) -> Result<[u8; 32], String> {
    openclaw_config::edge::parse_fingerprint(raw)
}

/// Parses `--url`/`--api-url`: `ws://` and `wss://` as given, `http://` and `https://`
/// mapped to them (the gateway serves both on one port), anything else refused naming
/// the accepted forms.
pub fn parse_gateway_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once("://").ok_or_else(|| {
        format!("{raw:?} is not a URL; use ws://HOST:PORT or http://HOST:PORT (wss/https for TLS)")
    })?;
    let ws = match scheme.to_ascii_lowercase().as_str() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => {
            return Err(format!(
                "unsupported scheme {other:?} in {raw:?}; use ws://, wss://, http:// or https://"
            ));
        }
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!(
            "{raw:?} has no host; use e.g. ws://127.0.0.1:18789"
        ));
    }
    Ok(format!("{ws}://{rest}"))
}

#[cfg(test)]
mod tests {
    use super::parse_gateway_url;

    #[test]
    fn gateway_urls_map_http_to_ws() {
        assert_eq!(
            parse_gateway_url("http://localhost:18789").unwrap(),
            "ws://localhost:18789"
        );
        assert_eq!(
            parse_gateway_url("HTTPS://gw.example/x").unwrap(),
            "wss://gw.example/x"
        );
        assert_eq!(
            parse_gateway_url("ws://127.0.0.1:1").unwrap(),
            "ws://127.0.0.1:1"
        );
        assert_eq!(parse_gateway_url("wss://h").unwrap(), "wss://h");
        assert!(
            parse_gateway_url("ftp://h")
                .unwrap_err()
                .contains("unsupported scheme")
        );
        assert!(
            parse_gateway_url("localhost:18789")
                .unwrap_err()
                .contains("not a URL")
        );
        assert!(
            parse_gateway_url("http://")
                .unwrap_err()
                .contains("no host")
        );
    }
}
