//! `openclaw-mock-provider`: the mock provider as a process, for benchmarks and manual
//! testing of a gateway binary.
//!
//! Prints `mock provider listening on http://HOST:PORT` once it accepts connections (the
//! benchmark harness waits for that line), then serves until SIGTERM or Ctrl-C.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use openclaw_mock_provider::MockOptions;

const USAGE: &str = "usage: openclaw-mock-provider [--port N] [--host 127.0.0.1] [--api-key K] \
[--latency-ms N] [--chunk-delay-ms N] [--fail-status N] [--disconnect-after N] [--reply TEXT]";

/// Parsed command line.
#[derive(Debug)]
struct Args {
    addr: SocketAddr,
    opts: MockOptions,
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: not a valid number: {value:?}"))
}

/// Parses `--flag value` and `--flag=value` arguments. The mock is a test tool with no
/// authentication worth the name, so it only ever listens on a loopback address.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut port = 0u16;
    let mut opts = MockOptions::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--port" => port = number(&flag, &value()?)?,
            "--host" => {
                let v = value()?;
                host = if v == "localhost" {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    v.parse()
                        .map_err(|_| format!("--host: not an IP address: {v:?}"))?
                };
                if !host.is_loopback() {
                    return Err(format!("--host: refusing non-loopback address {host}"));
                }
            }
            "--api-key" => opts.api_key = Some(value()?),
            "--latency-ms" => opts.latency = Duration::from_millis(number(&flag, &value()?)?),
            "--chunk-delay-ms" => {
                opts.chunk_delay = Duration::from_millis(number(&flag, &value()?)?)
            }
            "--fail-status" => {
                let status: u16 = number(&flag, &value()?)?;
                if !(400..=599).contains(&status) {
                    return Err(format!("--fail-status: expected 400-599, got {status}"));
                }
                opts.fail_status = Some(status);
            }
            "--disconnect-after" => opts.disconnect_after = Some(number(&flag, &value()?)?),
            "--reply" => opts.reply = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(Args {
        addr: SocketAddr::new(host, port),
        opts,
    }))
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what process supervisors and the benchmark
/// harness send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("openclaw-mock-provider: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match openclaw_mock_provider::spawn_on(args.addr, args.opts).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "openclaw-mock-provider: cannot listen on {}: {e}",
                args.addr
            );
            return ExitCode::FAILURE;
        }
    };
    println!("mock provider listening on {}", server.base_url());
    stop_signal().await;
    server.shutdown();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_all_flags() {
        let a = parse(&[
            "--port",
            "1234",
            "--host=::1",
            "--api-key",
            "k",
            "--latency-ms",
            "5",
            "--chunk-delay-ms=6",
            "--fail-status",
            "503",
            "--disconnect-after",
            "2",
            "--reply",
            "hello world",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.addr, "[::1]:1234".parse().unwrap());
        assert_eq!(a.opts.api_key.as_deref(), Some("k"));
        assert_eq!(a.opts.latency, Duration::from_millis(5));
        assert_eq!(a.opts.chunk_delay, Duration::from_millis(6));
        assert_eq!(a.opts.fail_status, Some(503));
        assert_eq!(a.opts.disconnect_after, Some(2));
        assert_eq!(a.opts.reply.as_deref(), Some("hello world"));
    }

    #[test]
    fn refuses_non_loopback_and_bad_input() {
        assert!(
            parse(&["--host", "0.0.0.0"])
                .unwrap_err()
                .contains("non-loopback")
        );
        assert!(parse(&["--host", "10.1.2.3"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--help"]).unwrap().is_none());
        let a = parse(&[]).unwrap().unwrap();
        assert_eq!(a.addr, "127.0.0.1:0".parse().unwrap());
    }
}
