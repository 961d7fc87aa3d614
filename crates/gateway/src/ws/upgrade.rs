//! The HTTP/1.1 upgrade to a WebSocket (RFC 6455 §4.2), done here rather than by axum's
//! `WebSocketUpgrade` so the socket can start on the pre-auth limits and change them after
//! `hello-ok` (an axum `WebSocket` fixes its size limits once, at the upgrade).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::state::AppState;

/// Whether `req` asks for a WebSocket (`Upgrade: websocket`); such a request is answered by
/// [`upgrade`], whatever its path.
pub fn is_upgrade_request(req: &Request) -> bool {
    header_is(req.headers(), header::UPGRADE, "websocket")
}

/// Answers an upgrade request: `101 Switching Protocols`, and the socket is served by
/// [`super::serve_socket`] on its own task; or the refusal (405 not GET, 400 a missing or
/// wrong handshake header, 426 a connection that cannot be upgraded). The caller refuses
/// upgrades while the gateway drains.
pub fn upgrade(state: Arc<AppState>, mut req: Request, peer: SocketAddr) -> Response {
    let key = match check(&req) {
        Ok(key) => key,
        Err((status, why)) => return (status, why).into_response(),
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            "WebSocket request couldn't be upgraded since no upgrade state was present",
        )
            .into_response();
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ticket = req.extensions().get::<crate::serve::Ticket>().cloned();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                super::serve_socket(state, TokioIo::new(upgraded), peer, origin, ticket).await
            }
            Err(e) => {
                tracing::debug!(target: "gateway/ws", error = %e, "upgrade failed");
            }
        }
    });
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}

/// The client's handshake, checked as axum checks it; the `Sec-WebSocket-Key`.
fn check(req: &Request) -> Result<HeaderValue, (StatusCode, &'static str)> {
    if req.version() > Version::HTTP_11 {
        return Err((StatusCode::BAD_REQUEST, "WebSocket upgrades need HTTP/1.1"));
    }
    if req.method() != Method::GET {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "Request method must be `GET`",
        ));
    }
    let connection_upgrade = req
        .headers()
        .get(header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    if !connection_upgrade {
        return Err((
            StatusCode::BAD_REQUEST,
            "Connection header did not include 'upgrade'",
        ));
    }
    if !header_is(req.headers(), header::SEC_WEBSOCKET_VERSION, "13") {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Version` header did not include '13'",
        ));
    }
    req.headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .cloned()
        .ok_or((
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` header missing",
        ))
}

fn header_is(headers: &HeaderMap, name: header::HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder().method(method).uri("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn the_handshake_is_checked() {
        assert!(is_upgrade_request(&request(Method::GET, GOOD)));
        assert_eq!(
            check(&request(Method::GET, GOOD)).unwrap(),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        assert_eq!(
            check(&request(Method::POST, GOOD)).unwrap_err().0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        for drop in ["connection", "sec-websocket-version", "sec-websocket-key"] {
            let headers: Vec<_> = GOOD.iter().copied().filter(|(k, _)| *k != drop).collect();
            assert_eq!(
                check(&request(Method::GET, &headers)).unwrap_err().0,
                StatusCode::BAD_REQUEST,
                "without {drop}"
            );
        }
        assert_eq!(
            tungstenite::handshake::derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
