//! Browser defences in front of every route: a request that carries an `Origin` header is
//! served only for the gateway's own origin or an origin the operator listed in
//! `gateway.controlUi.allowedOrigins`, and JSON endpoints take only JSON bodies.
//!
//! Browsers attach `Origin` to every cross-site request and to WebSocket upgrades, so a
//! page on another site cannot drive the gateway through the user's browser (DNS
//! rebinding and CSRF included). Requiring a JSON content type closes the "simple
//! request" gap: a cross-site form or `text/plain` fetch is never read as a command.
//! Local tools (curl, SDKs, the CLI) send no `Origin` and are unaffected.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::state::AppState;

/// The refusal for `req`, if it must be refused (see the module docs).
pub fn check(state: &AppState, req: &Request) -> Option<Response> {
    let path = req.uri().path();
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !allowed(state, origin) {
            tracing::warn!(target: "gateway/http", origin, path = %path, "refused a request from a browser origin that is not allowed");
            let message = format!(
                "origin {origin:?} is not allowed; open the gateway from its own address or add the origin to gateway.controlUi.allowedOrigins"
            );
            return Some(
                error_for(state, path, StatusCode::FORBIDDEN, "forbidden", message).into_response(),
            );
        }
    }
    if req.method() == Method::POST && json_route(state, path) && !is_json(req.headers()) {
        let message =
            "this endpoint takes a JSON body: send Content-Type: application/json".to_owned();
        return Some(
            error_for(
                state,
                path,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                message,
            )
            .into_response(),
        );
    }
    None
}

/// Whether `origin` may talk to this gateway: one of its own origins (any loopback
/// spelling, or a specific address it listens on, with the bound port), or listed in
/// `gateway.controlUi.allowedOrigins` (`"*"` allows every origin, as an explicit choice).
pub fn allowed(state: &AppState, origin: &str) -> bool {
    let Some(origin) = normalize(origin) else {
        return false;
    };
    let live = state.live();
    let listed = &live.resolved.gateway.control_ui.allowed_origins;
    if listed
        .iter()
        .any(|o| o == "*" || normalize(o).as_deref() == Some(origin.as_str()))
    {
        return true;
    }
    // The gateway's own origins: its scheme (https with TLS on), the bound port, a
    // loopback name or an address it listens on.
    let Some((host, port)) = origin
        .strip_prefix(state.http_scheme())
        .and_then(|rest| rest.strip_prefix("://"))
        .and_then(|rest| rest.rsplit_once(':'))
    else {
        return false;
    };
    if port.parse::<u64>().ok() != Some(state.bound_port.load(Ordering::Relaxed)) {
        return false;
    }
    if matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| {
        live.settings
            .hosts
            .iter()
            .any(|h| !h.is_unspecified() && *h == ip)
    })
}

/// `scheme://host[:port]` in lower case, the default port spelled out; `None` for
/// anything that is not such an origin (including the opaque `null`).
fn normalize(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let has_port = match rest.rfind(':') {
        Some(i) => !rest[i..].contains(']') && rest[i + 1..].chars().all(|c| c.is_ascii_digit()),
        None => false,
    };
    Some(if has_port {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{rest}:{default_port}")
    })
}

/// POST routes whose body is JSON.
fn json_route(state: &AppState, path: &str) -> bool {
    if matches!(
        path,
        "/v1/chat/completions" | "/v1/responses" | "/v1/embeddings" | "/tools/invoke"
    ) {
        return true;
    }
    is_hook_path(state, path)
}

/// Whether `path` is under the configured hooks base path.
fn is_hook_path(state: &AppState, path: &str) -> bool {
    let live = state.live();
    live.resolved.hooks.as_ref().is_some_and(|h| {
        path.strip_prefix(h.base_path().as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// `application/json` or any `application/*+json`, parameters ignored.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// The refusal in the shape the route's clients parse.
fn error_for(
    state: &AppState,
    path: &str,
    status: StatusCode,
    kind: &'static str,
    message: String,
) -> ApiError {
    if path == "/tools/invoke" {
        return ApiError::tool(status, kind, message);
    }
    if is_hook_path(state, path) {
        return ApiError::hook(status, message);
    }
    ApiError::Refused {
        status,
        kind,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalize() {
        assert_eq!(
            normalize("HTTP://LocalHost:8080/").as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(
            normalize("https://example.com").as_deref(),
            Some("https://example.com:443")
        );
        assert_eq!(
            normalize("http://[::1]").as_deref(),
            Some("http://[::1]:80")
        );
        assert_eq!(
            normalize("http://[::1]:19001").as_deref(),
            Some("http://[::1]:19001")
        );
        assert_eq!(normalize("null"), None);
        assert_eq!(normalize("file://"), None);
        assert_eq!(normalize("http://a.example/path"), None);
        assert_eq!(normalize("http://user@a.example"), None);
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (ct, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            assert_eq!(is_json(&h), ok, "{ct}");
        }
    }
}
