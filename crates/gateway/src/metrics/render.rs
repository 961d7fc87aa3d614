//! The Prometheus text exposition format (version 0.0.4), written in one pass into one
//! `String`. Counters with bounded labels are emitted once they are non-zero (a series
//! appears with its first event, as in OpenClaw's exporter); gauges and the process
//! series always are.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::hist::Histogram;
use super::{
    HttpMethod, Metrics, Outcome, RPC_OUTCOME_NAMES, ReloadOutcome, Route, Surface, http_index,
};

/// The content type of a scrape.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One channel account as the supervisor reports it.
#[derive(Clone, Debug)]
pub struct ChannelState {
    /// Channel id (`telegram`).
    pub channel: String,
    /// Account id.
    pub account: String,
    /// Connected to the service now.
    pub connected: bool,
}

/// What the scrape reads from outside the registry: the channel supervisor's state and
/// process figures read from `/proc` (absent where there is none).
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// Channel accounts that are enabled and configured (the ones expected to connect).
    pub channels: Vec<ChannelState>,
    /// Resident set size, bytes.
    pub rss_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<usize>,
}

/// Writes a label value with the format's escapes (`\\`, `\"`, `\n`).
fn escape(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// `{k="v",…}` from pairs.
fn labels(out: &mut String, pairs: &[(&str, &str)]) {
    if pairs.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape(out, v);
        out.push('"');
    }
    out.push('}');
}

fn sample(out: &mut String, name: &str, pairs: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    labels(out, pairs);
    let _ = writeln!(out, " {value}");
}

fn histogram(out: &mut String, name: &str, pairs: &[(&str, &str)], h: &Histogram) {
    let s = h.snapshot();
    for (i, count) in s.cumulative.iter().enumerate() {
        out.push_str(name);
        out.push_str("_bucket{");
        for (k, v) in pairs {
            out.push_str(k);
            out.push_str("=\"");
            escape(out, v);
            out.push_str("\",");
        }
        match s.bounds.get(i) {
            Some(b) => {
                let _ = writeln!(out, "le=\"{b}\"}} {count}");
            }
            None => {
                let _ = writeln!(out, "le=\"+Inf\"}} {count}");
            }
        }
    }
    out.push_str(name);
    out.push_str("_sum");
    labels(out, pairs);
    let _ = writeln!(out, " {}", s.sum);
    out.push_str(name);
    out.push_str("_count");
    labels(out, pairs);
    let _ = writeln!(out, " {}", s.cumulative.last().copied().unwrap_or(0));
}

impl Metrics {
    /// The whole exposition: every series, then `extras`.
    pub fn render(&self, extras: &Extras) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let o = &mut out;

        header(
            o,
            "openclaw_build_info",
            "gauge",
            "Always 1; the version label says which gateway build is running.",
        );
        sample(
            o,
            "openclaw_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );
        header(
            o,
            "openclaw_process_uptime_seconds",
            "gauge",
            "Seconds since the gateway process started (in-process restarts do not reset it).",
        );
        sample(
            o,
            "openclaw_process_uptime_seconds",
            &[],
            self.uptime().as_secs_f64(),
        );
        if let Some(rss) = extras.rss_bytes {
            header(
                o,
                "openclaw_memory_bytes",
                "gauge",
                "Process memory by kind; rss is the resident set.",
            );
            sample(o, "openclaw_memory_bytes", &[("kind", "rss")], rss);
        }
        if let Some(fds) = extras.open_fds {
            header(
                o,
                "openclaw_process_open_fds",
                "gauge",
                "File descriptors the process has open.",
            );
            sample(o, "openclaw_process_open_fds", &[], fds);
        }

        header(
            o,
            "openclaw_http_requests_total",
            "counter",
            "HTTP responses by route family, method and status code.",
        );
        let mut code_buf = String::new();
        for route in Route::ALL {
            for method in HttpMethod::ALL {
                for code in 100u16..600 {
                    let n =
                        self.http_requests[http_index(route, method, code)].load(Ordering::Relaxed);
                    if n == 0 {
                        continue;
                    }
                    code_buf.clear();
                    let _ = write!(code_buf, "{code}");
                    sample(
                        o,
                        "openclaw_http_requests_total",
                        &[
                            ("route", route.as_str()),
                            ("method", method.as_str()),
                            ("code", &code_buf),
                        ],
                        n,
                    );
                }
            }
        }
        for (name, help, table) in [
            (
                "openclaw_http_request_ttfb_seconds",
                "Time from request head to response head, by route family.",
                &self.http_ttfb,
            ),
            (
                "openclaw_http_request_duration_seconds",
                "Time from request head to the end of the response body, by route family.",
                &self.http_total,
            ),
        ] {
            header(o, name, "histogram", help);
            for route in Route::ALL {
                let h = &table[route as usize];
                if h.count() > 0 {
                    histogram(o, name, &[("route", route.as_str())], h);
                }
            }
        }

        header(
            o,
            "openclaw_ws_connections",
            "gauge",
            "WebSocket connections open now (upgraded, authenticated or not yet).",
        );
        sample(
            o,
            "openclaw_ws_connections",
            &[],
            self.ws_open.load(Ordering::Relaxed).max(0),
        );
        header(
            o,
            "openclaw_ws_connections_total",
            "counter",
            "WebSocket connections upgraded since start.",
        );
        sample(
            o,
            "openclaw_ws_connections_total",
            &[],
            self.ws_total.load(Ordering::Relaxed),
        );

        header(
            o,
            "openclaw_rpc_requests_total",
            "counter",
            "WebSocket RPC requests by method and outcome (ok, or the error code).",
        );
        for s in self.rpc.iter() {
            let Some(name) = s.name.get() else { continue };
            for (i, c) in s.calls.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    sample(
                        o,
                        "openclaw_rpc_requests_total",
                        &[("method", name), ("outcome", RPC_OUTCOME_NAMES[i])],
                        n,
                    );
                }
            }
        }
        header(
            o,
            "openclaw_rpc_request_duration_seconds",
            "histogram",
            "WebSocket RPC handling time by method (for agent, until accepted).",
        );
        for s in self.rpc.iter() {
            if let Some(name) = s.name.get() {
                histogram(
                    o,
                    "openclaw_rpc_request_duration_seconds",
                    &[("method", name)],
                    &s.duration,
                );
            }
        }

        header(
            o,
            "openclaw_run_completed_total",
            "counter",
            "Agent runs finished, by outcome.",
        );
        for outcome in Outcome::ALL {
            sample(
                o,
                "openclaw_run_completed_total",
                &[("outcome", outcome.as_str())],
                self.runs[outcome as usize].load(Ordering::Relaxed),
            );
        }
        header(
            o,
            "openclaw_run_duration_seconds",
            "histogram",
            "Agent run duration, by outcome.",
        );
        for outcome in Outcome::ALL {
            let h = &self.run_duration[outcome as usize];
            if h.count() > 0 {
                histogram(
                    o,
                    "openclaw_run_duration_seconds",
                    &[("outcome", outcome.as_str())],
                    h,
                );
            }
        }

        header(
            o,
            "openclaw_model_call_total",
            "counter",
            "Model provider calls by provider, model and outcome.",
        );
        self.models.each(|provider, model, s| {
            for outcome in Outcome::ALL {
                let n = s.calls[outcome as usize].load(Ordering::Relaxed);
                if n > 0 {
                    sample(
                        o,
                        "openclaw_model_call_total",
                        &[
                            ("provider", provider),
                            ("model", model),
                            ("outcome", outcome.as_str()),
                        ],
                        n,
                    );
                }
            }
        });
        header(
            o,
            "openclaw_model_call_duration_seconds",
            "histogram",
            "Model provider call duration (request to end of stream) by provider and model.",
        );
        self.models.each(|provider, model, s| {
            histogram(
                o,
                "openclaw_model_call_duration_seconds",
                &[("provider", provider), ("model", model)],
                &s.duration,
            );
        });
        header(
            o,
            "openclaw_model_tokens_total",
            "counter",
            "Tokens the providers reported, by provider, model and token_type (input, output).",
        );
        self.models.each(|provider, model, s| {
            for (kind, c) in [("input", &s.input_tokens), ("output", &s.output_tokens)] {
                sample(
                    o,
                    "openclaw_model_tokens_total",
                    &[
                        ("provider", provider),
                        ("model", model),
                        ("token_type", kind),
                    ],
                    c.load(Ordering::Relaxed),
                );
            }
        });

        header(
            o,
            "openclaw_channel_connected",
            "gauge",
            "1 while an enabled, configured channel account is connected to its service, else 0.",
        );
        for c in &extras.channels {
            sample(
                o,
                "openclaw_channel_connected",
                &[("channel", &c.channel), ("account", &c.account)],
                u8::from(c.connected),
            );
        }
        header(
            o,
            "openclaw_channel_reconnects_total",
            "counter",
            "Times a channel account lost its connection (or failed) and was restarted.",
        );
        self.channels.each(|channel, account, s| {
            sample(
                o,
                "openclaw_channel_reconnects_total",
                &[("channel", channel), ("account", account)],
                s.reconnects.load(Ordering::Relaxed),
            );
        });

        header(
            o,
            "openclaw_config_reloads_total",
            "counter",
            "Config reloads by outcome.",
        );
        for outcome in ReloadOutcome::ALL {
            sample(
                o,
                "openclaw_config_reloads_total",
                &[("outcome", outcome.as_str())],
                self.reloads[outcome as usize].load(Ordering::Relaxed),
            );
        }
        header(
            o,
            "openclaw_rate_limited_total",
            "counter",
            "Requests refused by the request rate limiter, by surface.",
        );
        for s in Surface::ALL {
            sample(
                o,
                "openclaw_rate_limited_total",
                &[("surface", s.as_str())],
                self.rate_limited[s as usize].load(Ordering::Relaxed),
            );
        }
        header(
            o,
            "openclaw_auth_failures_total",
            "counter",
            "Wrong or missing credentials, by surface.",
        );
        for s in Surface::ALL {
            sample(
                o,
                "openclaw_auth_failures_total",
                &[("surface", s.as_str())],
                self.auth_failures[s as usize].load(Ordering::Relaxed),
            );
        }
        header(
            o,
            "openclaw_prometheus_series_dropped_total",
            "counter",
            "Observations dropped because the 2048-series cap on provider, model and channel account labels was reached.",
        );
        sample(
            o,
            "openclaw_prometheus_series_dropped_total",
            &[],
            self.budget.dropped(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn renders_escaped_labels_and_cumulative_buckets() {
        let m = Metrics::default();
        m.model_call(
            "p\"x",
            "m\\1",
            Outcome::Ok,
            Duration::from_millis(300),
            Some((3, 4)),
        );
        m.http_head(
            Route::Models,
            HttpMethod::Get,
            200,
            std::time::Instant::now() - Duration::from_millis(2),
        );
        m.http_done(Route::Models, Duration::from_millis(3));
        let text = m.render(&Extras::default());
        assert!(
            text.contains(
                r#"openclaw_model_call_total{provider="p\"x",model="m\\1",outcome="ok"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"openclaw_http_requests_total{route="models",method="GET",code="200"} 1"#
            )
        );
        assert!(text.contains(
            r#"openclaw_http_request_duration_seconds_bucket{route="models",le="0.005"} 1"#
        ));
        assert!(text.contains(
            r#"openclaw_http_request_duration_seconds_bucket{route="models",le="+Inf"} 1"#
        ));
        assert!(text.contains(
            r#"openclaw_model_tokens_total{provider="p\"x",model="m\\1",token_type="output"} 4"#
        ));
    }
}
