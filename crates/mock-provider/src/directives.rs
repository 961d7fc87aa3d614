//! Per-request behaviour switches carried in the `model` field.
//!
//! The model string is the one thing every provider client forwards verbatim, so it is the
//! natural place for a test to say "fail this call" or "stream slowly" without any side
//! channel to the mock.

use std::time::Duration;

/// The switches found in one model string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Directives {
    /// `fail-<status>`: always answer with this error status.
    pub(crate) fail: Option<u16>,
    /// `failfirst-<status>`: answer the first request for this model string with this status.
    pub(crate) fail_first: Option<u16>,
    /// `retry-<secs>`: `Retry-After` value for a 429.
    pub(crate) retry_after: Option<u64>,
    /// `slow-<ms>`: delay before the response headers.
    pub(crate) slow: Option<Duration>,
    /// `chunkdelay-<ms>`: delay before each streamed content chunk.
    pub(crate) chunk_delay: Option<Duration>,
    /// `disconnect-<n>`: streaming: drop the connection after `n` content chunks.
    pub(crate) disconnect: Option<usize>,
    /// `tool`: answer with a tool call.
    pub(crate) tool: bool,
    /// `toolloop`: keep answering with the scripted tool calls even after tool results,
    /// so a client's round limit can be tested.
    pub(crate) tool_loop: bool,
    /// `echoheaders`: fail with the request headers in the error message.
    pub(crate) echo_headers: bool,
}

/// An error status a directive may ask for; anything outside 4xx/5xx is ignored because it
/// would not be a failure at all.
fn error_status(arg: &str) -> Option<u16> {
    arg.parse().ok().filter(|s| (400..=599).contains(s))
}

fn millis(arg: &str) -> Option<Duration> {
    arg.parse().ok().map(Duration::from_millis)
}

impl Directives {
    /// Splits `model` on `+`, strips a leading `mock-` from each part, and reads the parts
    /// it knows; others (ordinary model names) are ignored.
    pub(crate) fn parse(model: &str) -> Directives {
        let mut d = Directives::default();
        for part in model.split('+') {
            let part = part.strip_prefix("mock-").unwrap_or(part);
            if part == "tool" {
                d.tool = true;
                continue;
            }
            if part == "toolloop" {
                d.tool_loop = true;
                continue;
            }
            if part == "echoheaders" {
                d.echo_headers = true;
                continue;
            }
            let Some((name, arg)) = part.split_once('-') else {
                continue;
            };
            match name {
                "fail" => d.fail = error_status(arg).or(d.fail),
                "failfirst" => d.fail_first = error_status(arg).or(d.fail_first),
                "retry" => d.retry_after = arg.parse().ok().or(d.retry_after),
                "slow" => d.slow = millis(arg).or(d.slow),
                "chunkdelay" => d.chunk_delay = millis(arg).or(d.chunk_delay),
                "disconnect" => d.disconnect = arg.parse().ok().or(d.disconnect),
                _ => {}
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_combined_directives() {
        let d = Directives::parse("mock-slow-2000+disconnect-2+mock-tool+toolloop");
        assert!(d.tool_loop);
        assert_eq!(d.slow, Some(Duration::from_millis(2000)));
        assert_eq!(d.disconnect, Some(2));
        assert!(d.tool);
        assert_eq!(d.fail, None);
    }

    #[test]
    fn ordinary_models_have_no_directives() {
        for m in [
            "gpt-4o-mini",
            "claude-3-5-sonnet",
            "m1",
            "",
            "mock",
            "embed-small",
        ] {
            assert_eq!(Directives::parse(m), Directives::default(), "{m}");
        }
    }

    #[test]
    fn fail_variants_and_retry() {
        let d = Directives::parse("mock-fail-429+retry-7");
        assert_eq!(d.fail, Some(429));
        assert_eq!(d.retry_after, Some(7));
        let d = Directives::parse("mock-failfirst-503");
        assert_eq!(d.fail_first, Some(503));
        assert_eq!(d.fail, None);
        assert_eq!(Directives::parse("mock-fail-200").fail, None);
        let d = Directives::parse("m+mock-echoheaders+fail-502");
        assert!(d.echo_headers);
        assert_eq!(d.fail, Some(502));
        assert_eq!(Directives::parse("mock-fail-abc").fail, None);
        assert_eq!(
            Directives::parse("mock-chunkdelay-5").chunk_delay,
            Some(Duration::from_millis(5))
        );
    }
}
