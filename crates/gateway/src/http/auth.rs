//! Bearer authentication for the HTTP API, sharing the WebSocket verifier and rate limiter.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use super::ApiError;
use crate::auth::Presented;
use crate::state::AppState;

/// Checks `Authorization: Bearer <token|password>`: 401 on a wrong or missing credential,
/// 429 with `Retry-After` while the address is locked out.
pub fn require_bearer(state: &AppState, headers: &HeaderMap, ip: IpAddr) -> Result<(), ApiError> {
    let ip = ip.to_canonical();
    if let Some(wait) = state.limiter.locked(ip) {
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
            state.limiter.record_success(ip);
            Ok(())
        }
        Err(_) => {
            state.limiter.record_failure(ip);
            Err(ApiError::Unauthorized)
        }
    }
}

/// The peer address axum recorded for this connection (loopback when absent, as in
/// router tests that call the service directly).
pub fn peer_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Middleware: [`require_bearer`] before the route's handler (and its body extractor).
pub async fn bearer_gate(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    require_bearer(&state, req.headers(), peer_ip(&req))?;
    Ok(next.run(req).await)
}
