//! Bearer authentication for the HTTP API, sharing the WebSocket verifier and rate limiter.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, header};

use super::ApiError;
use crate::auth::{Attempt, Presented};
use crate::state::AppState;

/// Checks `Authorization: Bearer <token|password>`: 401 on a wrong or missing credential,
/// 429 with `Retry-After` while the address is locked out.
pub fn require_bearer(state: &AppState, headers: &HeaderMap, ip: IpAddr) -> Result<(), ApiError> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let attempt = Attempt::gateway(ip, origin);
    if let Some(wait) = state.limiter.locked(&attempt) {
        return Err(ApiError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let presented = Presented {
        token: bearer,
        password: bearer,
    };
    match state.auth.verify(&presented) {
        Ok(()) => {
            state.limiter.record_success(&attempt);
            Ok(())
        }
        Err(_) => {
            state.limiter.record_failure(&attempt);
            Err(ApiError::Unauthorized)
        }
    }
}

/// The peer address axum recorded for this connection (loopback when absent, as in
/// router tests that call the service directly).
pub fn peer_ip(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Extractor: the request passed [`require_bearer`]. Put it first among a handler's
/// arguments: extractors run in order and the body comes last, so nothing of an
/// unauthenticated request is read.
pub struct Authorized;

impl FromRequestParts<Arc<AppState>> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        require_bearer(state, &parts.headers, peer_ip(&parts.extensions))?;
        crate::serve::Ticket::mark(&parts.extensions);
        Ok(Authorized)
    }
}
