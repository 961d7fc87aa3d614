//! The Control UI: the browser dashboard, served from the binary on the gateway's port.
//!
//! The files come from `ui/` at build time (`build.rs`): `index.html` is filled in per
//! request with the base path, the asset directory and the gateway's version (the UI's
//! own: it is built into this binary), and every other file lives under
//! `{base}assets/{BUILD_HASH}/`, so it may be cached forever (a new build is a new URL),
//! while `index.html` is never cached. Assets are stored pre-compressed (brotli, gzip) and
//! sent in the best encoding the browser accepts.
//!
//! Routing, in the HTTP fallback after the WebSocket upgrade and the hook routes:
//! - `{base}` itself (and `{base}index.html`) is the app;
//! - `{base}assets/{hash}/{file}` is an asset (an old hash is a 404 that says to reload);
//! - any other path under `{base}` that a browser navigates to (`Accept: text/html`, no
//!   file extension, not an API prefix) is the app too, for its client-side routes;
//! - anything else is left to the plain not-found, so API clients keep their JSON 404s.
//!
//! The app talks to the gateway over the WebSocket on the same port; the page itself
//! carries no secret and needs no auth (the WebSocket handshake does the auth).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use openclaw_config::ControlUiConfig;

use super::ApiError;

/// One embedded file: its bytes as is and pre-compressed.
pub struct Asset {
    /// Path under `ui/`, `/`-separated (e.g. `pages/chat.js`).
    pub path: &'static str,
    /// Its `Content-Type`.
    pub mime: &'static str,
    /// The file as written.
    pub raw: &'static [u8],
    /// gzip, best compression.
    pub gzip: &'static [u8],
    /// brotli, quality 11.
    pub brotli: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The page's Content-Security-Policy: scripts and styles only from the gateway itself (no
/// inline code), no plugins, no framing; the WebSocket may go to the gateway or to another
/// gateway URL the user types on the login form.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The URL prefixes that belong to the API, never to the app's client-side routes.
const API_PREFIXES: &[&str] = &[
    "v1/", "tools/", "hooks/", "api/", "metrics", "health", "ready", "startup",
];

/// `gateway.controlUi.basePath` as a prefix that starts and ends with `/` (`/` when unset).
pub fn base_path(cfg: &ControlUiConfig) -> String {
    let trimmed = cfg.base_path.as_deref().unwrap_or("").trim_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    }
}

/// The app or one of its assets, when `req` asks for one; `None` leaves the request to
/// the not-found answer.
pub fn serve(cfg: &ControlUiConfig, req: &Request) -> Option<Response> {
    if !cfg.enabled || !(req.method() == Method::GET || req.method() == Method::HEAD) {
        return None;
    }
    let base = base_path(cfg);
    let path = req.uri().path();
    // `/ui` as well as `/ui/`.
    let rest = if path.len() + 1 == base.len() && base.starts_with(path) {
        ""
    } else {
        path.strip_prefix(base.as_str())?
    };
    if let Some(asset) = rest.strip_prefix("assets/") {
        return Some(serve_asset(asset, req.headers()));
    }
    let navigation = rest.is_empty()
        || rest == "index.html"
        || (accepts_html(req.headers())
            && !rest.rsplit('/').next().unwrap_or("").contains('.')
            && !API_PREFIXES.iter().any(|p| rest.starts_with(p)));
    navigation.then(|| index(&base))
}

/// `index.html` for base path `base`.
fn index(base: &str) -> Response {
    let assets = format!("{base}assets/{BUILD_HASH}");
    let html = INDEX_HTML
        .replace("__ASSETS__", &escape_attr(&assets))
        .replace("__BASE__", &escape_attr(base))
        .replace("__VERSION__", env!("CARGO_PKG_VERSION"));
    let mut res = (StatusCode::OK, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    page_headers(h);
    res
}

/// `{base}assets/{rest}`.
fn serve_asset(rest: &str, req: &HeaderMap) -> Response {
    let Some((hash, file)) = rest.split_once('/') else {
        return not_found(rest);
    };
    if hash != BUILD_HASH {
        return ApiError::NotFound(format!(
            "Control UI asset {rest:?} is from another build of the gateway (this one serves assets/{BUILD_HASH}/); reload the page"
        ))
        .into_response();
    }
    let Some(asset) = ASSETS.iter().find(|a| a.path == file) else {
        return not_found(rest);
    };
    let (body, encoding) = match preferred_encoding(req) {
        Some(Encoding::Brotli) => (asset.brotli, Some("br")),
        Some(Encoding::Gzip) => (asset.gzip, Some("gzip")),
        None => (asset.raw, None),
    };
    let mut res = Response::new(Body::from(body));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(e) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    page_headers(h);
    res
}

fn not_found(rest: &str) -> Response {
    ApiError::NotFound(format!("no Control UI asset {rest:?}")).into_response()
}

/// The headers every UI answer carries (besides `nosniff` and `Referrer-Policy`, which the
/// edge layer adds to every answer).
fn page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    Brotli,
    Gzip,
}

/// The best stored encoding `Accept-Encoding` allows (`q=0` refuses one).
fn preferred_encoding(h: &HeaderMap) -> Option<Encoding> {
    let mut br = false;
    let mut gzip = false;
    for value in h.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match name.to_ascii_lowercase().as_str() {
                "br" => br = true,
                "gzip" | "x-gzip" => gzip = true,
                "*" => {
                    br = true;
                    gzip = true;
                }
                _ => {}
            }
        }
    }
    if br {
        Some(Encoding::Brotli)
    } else if gzip {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

fn accepts_html(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Escapes a value for an HTML attribute or text.
fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(base: Option<&str>) -> ControlUiConfig {
        ControlUiConfig {
            base_path: base.map(str::to_owned),
            ..ControlUiConfig::default()
        }
    }

    fn get(path: &str, accept: &str) -> Request {
        Request::get(path)
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn base_paths_are_normalised() {
        assert_eq!(base_path(&cfg(None)), "/");
        assert_eq!(base_path(&cfg(Some("/"))), "/");
        assert_eq!(base_path(&cfg(Some("ui"))), "/ui/");
        assert_eq!(base_path(&cfg(Some("/a/b/"))), "/a/b/");
    }

    #[test]
    fn navigations_get_the_app_and_api_clients_do_not() {
        let c = cfg(None);
        assert!(serve(&c, &get("/", "*/*")).is_some());
        assert!(serve(&c, &get("/chat", "text/html,*/*")).is_some());
        assert!(serve(&c, &get("/chat", "*/*")).is_none());
        assert!(serve(&c, &get("/v1/nope", "text/html")).is_none());
        assert!(serve(&c, &get("/missing.js", "text/html")).is_none());
        let ui = cfg(Some("/ui"));
        assert!(serve(&ui, &get("/ui", "*/*")).is_some());
        assert!(serve(&ui, &get("/ui/", "*/*")).is_some());
        assert!(serve(&ui, &get("/", "text/html")).is_none());
        let off = ControlUiConfig {
            enabled: false,
            ..ControlUiConfig::default()
        };
        assert!(serve(&off, &get("/", "text/html")).is_none());
    }

    #[test]
    fn index_points_at_this_builds_assets() {
        let res = index("/ui/");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        for part in [
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{csp}");
        }
        assert!(!INDEX_HTML.is_empty());
        assert!(
            INDEX_HTML.contains("__ASSETS__"),
            "ui/index.html must load its assets from __ASSETS__"
        );
    }

    #[test]
    fn encodings_follow_accept_encoding() {
        let mut h = HeaderMap::new();
        assert_eq!(preferred_encoding(&h), None);
        h.insert(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br".parse().unwrap(),
        );
        assert_eq!(preferred_encoding(&h), Some(Encoding::Brotli));
        h.insert(header::ACCEPT_ENCODING, "gzip, br;q=0".parse().unwrap());
        assert_eq!(preferred_encoding(&h), Some(Encoding::Gzip));
        h.insert(header::ACCEPT_ENCODING, "identity".parse().unwrap());
        assert_eq!(preferred_encoding(&h), None);
    }

    #[test]
    fn compressed_assets_decode_to_the_originals() {
        use std::io::Read;
        assert!(!ASSETS.is_empty());
        for a in ASSETS {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(a.gzip)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, a.raw, "gzip {}", a.path);
            let mut out = Vec::new();
            brotli::Decompressor::new(a.brotli, 4096)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, a.raw, "brotli {}", a.path);
        }
    }
}
