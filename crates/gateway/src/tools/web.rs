//! `web_fetch`: one HTTP GET for the model, capped in size and time, that never reaches
//! this machine or its private network unless the operator allowed it (SSRF).
//!
//! The host is resolved here, every address is checked, and the request is pinned to the
//! checked addresses, so a DNS answer that changes between check and connect cannot
//! redirect it. Redirects are followed by hand, each hop checked the same way.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::Url;

pub use openclaw_config::WebFetchLimits;

/// Whether `ip` is an address a model-chosen URL must not reach: loopback, private,
/// link-local, CGNAT, unspecified, multicast, documentation and other special ranges.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 (CGNAT)
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 (benchmarking)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 (IETF)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64
        }
    }
}

async fn checked_addrs(url: &Url, limits: &WebFetchLimits) -> Result<Vec<SocketAddr>, String> {
    let host = url
        .host_str()
        .ok_or_else(|| format!("web_fetch: {url} has no host"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| format!("web_fetch: cannot resolve {bare}: {e}"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("web_fetch: {bare} has no address"));
    }
    let exempt = limits.allow_private_network
        || limits
            .allowed_hostnames
            .iter()
            .any(|h| h.eq_ignore_ascii_case(bare));
    if !exempt && let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
        return Err(format!(
            "web_fetch refused {url}: {bare} resolves to {}, a loopback or private address; the tool only fetches public addresses (an operator can allow a host with tools.web.fetch.ssrfPolicy.allowedHostnames)",
            bad.ip()
        ));
    }
    Ok(addrs)
}

/// Fetches `raw` and returns a short header (final URL, status, content type) and the
/// body's text, cut at `max_chars` (or the limits' default).
pub async fn fetch(
    raw: &str,
    max_chars: Option<usize>,
    limits: &WebFetchLimits,
) -> Result<String, String> {
    let mut url = Url::parse(raw).map_err(|e| format!("web_fetch: {raw:?} is not a URL ({e})"))?;
    let cap = usize::try_from(limits.max_chars_cap)
        .unwrap_or(usize::MAX)
        .max(1);
    let max_chars = max_chars
        .unwrap_or(usize::try_from(limits.max_chars).unwrap_or(usize::MAX))
        .clamp(1, cap);
    let max_bytes = usize::try_from(limits.max_response_bytes).unwrap_or(usize::MAX);
    let timeout = Duration::from_secs(limits.timeout_seconds.max(1));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut hops = 0usize;
    loop {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "web_fetch: only http:// and https:// URLs are fetched, not {url}"
            ));
        }
        let addrs = checked_addrs(&url, limits).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .user_agent(concat!(
                "openclaw-gateway/",
                env!("CARGO_PKG_VERSION"),
                " web_fetch"
            ))
            .build()
            .map_err(|e| format!("web_fetch: {e}"))?;
        let send = client.get(url.clone()).send();
        let resp = tokio::time::timeout_at(deadline, send)
            .await
            .map_err(|_| {
                format!(
                    "web_fetch: {url} did not answer within {} s",
                    timeout.as_secs()
                )
            })?
            .map_err(|e| format!("web_fetch: {url}: {e}"))?;
        if resp.status().is_redirection() {
            let Some(loc) = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Err(format!("web_fetch: {url} redirected without a Location"));
            };
            hops += 1;
            if hops > limits.max_redirects as usize {
                return Err(format!(
                    "web_fetch: more than {} redirects (tools.web.fetch.maxRedirects)",
                    limits.max_redirects
                ));
            }
            url = url
                .join(loc)
                .map_err(|e| format!("web_fetch: bad redirect {loc:?}: {e}"))?;
            continue;
        }
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut body = Vec::new();
        let mut resp = resp;
        let mut cut = false;
        loop {
            let chunk = tokio::time::timeout_at(deadline, resp.chunk())
                .await
                .map_err(|_| {
                    format!(
                        "web_fetch: {url} did not finish within {} s",
                        timeout.as_secs()
                    )
                })?
                .map_err(|e| format!("web_fetch: {url}: {e}"))?;
            let Some(chunk) = chunk else { break };
            let room = max_bytes.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                cut = true;
                break;
            }
        }
        let text = String::from_utf8_lossy(&body);
        let text = if ctype.contains("html") {
            strip_html(&text)
        } else {
            text.into_owned()
        };
        let total = text.chars().count();
        let mut out: String = text.chars().take(max_chars).collect();
        if total > max_chars || cut {
            out.push_str(&format!(
                "\n[truncated: {} of {}{} characters shown]",
                max_chars.min(total),
                total,
                if cut { "+ (download cap reached)" } else { "" }
            ));
        }
        return Ok(format!(
            "URL: {url}\nStatus: {}\nContent-Type: {ctype}\n\n{out}",
            status.as_u16()
        ));
    }
}

/// HTML to readable text, roughly: scripts, styles and tags dropped, entities for the
/// common characters decoded, runs of blank lines collapsed.
fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            for skip in ["script", "style"] {
                if lower[i + 1..].starts_with(skip) {
                    let close = format!("</{skip}");
                    i = lower[i..].find(&close).map_or(bytes.len(), |p| i + p);
                    break;
                }
            }
            match html[i..].find('>') {
                Some(p) => {
                    let tag = &lower[i..i + p];
                    if [
                        "<br", "<p", "</p", "<div", "</div", "<li", "<h", "</h", "<tr",
                    ]
                    .iter()
                    .any(|t| tag.starts_with(t))
                    {
                        out.push('\n');
                    }
                    i += p + 1;
                }
                None => break,
            }
            continue;
        }
        let next = html[i..].find('<').map_or(html.len(), |p| i + p);
        out.push_str(&html[i..next]);
        i = next;
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let mut lines = Vec::new();
    let mut blank = false;
    for l in decoded.lines().map(str::trim) {
        if l.is_empty() {
            if !blank && !lines.is_empty() {
                lines.push("");
            }
            blank = true;
        } else {
            lines.push(l);
            blank = false;
        }
    }
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_limits() -> WebFetchLimits {
        openclaw_config::WebFetchConfig::limits(None)
    }

    #[test]
    fn private_ranges() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_private(a.parse().unwrap()), "{a}");
        }
        for a in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(!is_private(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn html_becomes_text() {
        let t = strip_html(
            "<html><head><style>x{}</style><script>alert(1)</script></head><body><h1>Title</h1><p>a &amp; b</p></body></html>",
        );
        assert_eq!(t, "Title\n\na & b");
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello")
                        .await;
                });
            }
        });
        let url = format!("http://127.0.0.1:{port}/x");
        let err = fetch(&url, None, &default_limits()).await.unwrap_err();
        assert!(err.contains("loopback or private"), "{err}");
        let err = fetch(
            &format!("http://localhost:{port}/"),
            None,
            &default_limits(),
        )
        .await
        .unwrap_err();
        assert!(err.contains("loopback or private"), "{err}");
        let allowed = WebFetchLimits {
            allow_private_network: true,
            ..default_limits()
        };
        let ok = fetch(&url, None, &allowed).await.unwrap();
        assert!(ok.contains("Status: 200") && ok.ends_with("hello"), "{ok}");
        let err = fetch("file:///etc/passwd", None, &allowed)
            .await
            .unwrap_err();
        assert!(err.contains("only http"), "{err}");
    }
}
