//! Bearer authentication for the HTTP API, sharing the WebSocket verifier and rate limiter.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, header};

use super::ApiError;
use openclaw_config::net::IpRange;

use crate::auth::{Attempt, Presented};
use crate::metrics::Surface;
use crate::state::Activation;
use crate::state::AppState;
use crate::throttle::Identity;

/// Checks `Authorization: Bearer <token|password>`: 401 on a wrong or missing credential,
/// 429 with `Retry-After` while the address is locked out. On success, the credential
/// the request presented (if any), which is who its rate-limit budget belongs to.
pub fn require_bearer<'h>(
    state: &AppState,
    headers: &'h HeaderMap,
    ip: IpAddr,
) -> Result<Option<&'h str>, ApiError> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let attempt = Attempt::gateway(ip, origin);
    if let Some(wait) = state.limiter.locked(&attempt) {
        return Err(ApiError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let bearer = bearer_token(headers);
    let presented = Presented {
        token: bearer,
        password: bearer,
    };
    match state.auth.verify(&presented) {
        Ok(()) => {
            state.limiter.record_success(&attempt);
            Ok(bearer)
        }
        Err(_) => {
            state.limiter.record_failure(&attempt);
            state.shared.metrics.auth_failed(Surface::Http);
            Err(ApiError::Unauthorized)
        }
    }
}

/// The credential of an `Authorization: Bearer <credential>` header, if the request
/// has one.
///
/// The scheme is matched case-insensitively (`Bearer`, `bearer`, `BEARER`: RFC 9110
/// §11.1 makes auth schemes case-insensitive, and clients differ), and any run of spaces
/// or tabs may separate it from the credential. Surrounding whitespace is not part of
/// the credential. Every place that reads a bearer (the HTTP API, the hooks) goes
/// through this one parser so they cannot disagree on what a client may send.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    // `to_str` admits printable ASCII only; the rest works on bytes, since this runs on
    // every authenticated request (a `char`-set `split_once` costs several times more).
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim_ascii();
    let gap = value.bytes().position(|b| matches!(b, b' ' | b'\t'))?;
    if !value.as_bytes()[..gap].eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let credential = value[gap..].trim_ascii();
    (!credential.is_empty()).then_some(credential)
}

/// The peer address axum recorded for this connection (loopback when absent, as in
/// router tests that call the service directly).
pub fn peer_ip(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The client's address: the peer, or, when the peer is one of `gateway.trustedProxies`,
/// the address that proxy forwarded. This is the address limits, logs and presence use.
pub fn client_ip(live: &Activation, extensions: &Extensions, headers: &HeaderMap) -> IpAddr {
    forwarded_client(&live.trusted_proxies, peer_ip(extensions), headers)
}

/// `peer` unless it is a trusted proxy; then the rightmost `X-Forwarded-For` hop that is
/// not itself a trusted proxy (the leftmost hops are whatever the client claimed), else
/// `X-Real-IP`, else `peer`. Headers from an untrusted peer are ignored: anyone can send
/// them.
pub fn forwarded_client(trusted: &[IpRange], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if trusted.is_empty() {
        return peer;
    }
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => continue,
            Ok(ip) => return ip.to_canonical(),
            // A malformed hop: nothing to its left can be trusted either.
            Err(_) => break,
        }
    }
    headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .unwrap_or(peer)
}

/// Extractor: the request passed [`require_bearer`] and is within the client's
/// `gateway.rateLimit` budget (429 otherwise). Put it first among a handler's
/// arguments: extractors run in order and the body comes last, so nothing of an
/// unauthenticated request is read.
pub struct Authorized;

impl FromRequestParts<Arc<AppState>> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let ip = client_ip(&state.live(), &parts.extensions, &parts.headers);
        let bearer = require_bearer(state, &parts.headers, ip)?;
        crate::serve::Ticket::mark(&parts.extensions);
        // Counted after authentication, against who the client authenticated as: a
        // wrong credential is the failed-auth limiter's business, not the budget's.
        let who = match bearer {
            Some(credential) => Identity::Credential(credential),
            None => Identity::Address(ip),
        };
        let surface = if parts.uri.path().starts_with("/tools/") {
            Surface::Tools
        } else {
            Surface::Http
        };
        if let Err(throttled) = state.throttle.check(who, surface) {
            return Err(ApiError::Throttled { throttled, surface });
        }
        Ok(Authorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_credential_trimmed() {
        let tok = |v: &str| {
            let h = headers(&[("authorization", v)]);
            bearer_token(&h).map(str::to_owned)
        };
        assert_eq!(tok("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(tok("BEARER abc").as_deref(), Some("abc"));
        assert_eq!(tok("bearer\t  abc  ").as_deref(), Some("abc"));
        assert_eq!(tok("  Bearer abc").as_deref(), Some("abc"));
        assert_eq!(tok("Bearer"), None);
        assert_eq!(tok("Bearer   "), None);
        assert_eq!(tok("Basic abc"), None);
        assert_eq!(tok("Bearerabc"), None);
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            axum::http::HeaderValue::from_bytes(b"Bearer caf\xc3\xa9").unwrap(),
        );
        assert_eq!(bearer_token(&h), None, "non-ASCII credentials are refused");
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted = vec![IpRange::parse("10.0.0.0/24").unwrap()];
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        // Rightmost untrusted hop (the left ones are the client's own claims).
        assert_eq!(
            forwarded_client(&trusted, proxy, &h),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // From a peer that is not a trusted proxy, the header is ignored.
        assert_eq!(forwarded_client(&trusted, stranger, &h), stranger);
        // No proxies configured: the peer, whatever the headers say.
        assert_eq!(forwarded_client(&[], proxy, &h), proxy);
        // X-Real-IP when there is no usable X-Forwarded-For.
        let h = headers(&[("x-real-ip", "198.51.100.8")]);
        assert_eq!(
            forwarded_client(&trusted, proxy, &h),
            "198.51.100.8".parse::<IpAddr>().unwrap()
        );
        assert_eq!(forwarded_client(&trusted, proxy, &HeaderMap::new()), proxy);
    }
}
