//! `openclaw-bench`: measures a release build of the gateway on this machine.
//!
//! Every scenario starts its own gateway process (loopback, port 0, private state dir),
//! drives it over real sockets, and reads memory from `/proc/<pid>/status`. Loops are
//! bounded in count and time. Run `openclaw-bench --help` for the scenarios.

mod chat;
mod gateway;
mod scenarios;

use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: openclaw-bench [--bin PATH] <scenario>...\n\
         scenarios: startup [RUNS]   start-to-/healthz time and idle RSS (default 20 runs)\n\
         \x20          ws-idle [N]      N idle authenticated WebSocket connections (default 1000)\n\
         \x20          chat [RATE]      added latency of /v1/chat/completions at RATE req/s (default 2000)\n\
         \x20          all              every scenario with defaults\n\
         --bin defaults to target/release/openclaw next to this binary"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut bin = std::env::current_exe()?
        .parent()
        .map(|p| p.join("openclaw"))
        .unwrap_or_else(|| PathBuf::from("openclaw"));
    if let Some(i) = args.iter().position(|a| a == "--bin") {
        if i + 1 >= args.len() {
            usage();
        }
        bin = PathBuf::from(args.remove(i + 1));
        args.remove(i);
    }
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        usage();
    }
    if !bin.exists() {
        anyhow::bail!(
            "gateway binary {} not found; build it with `cargo build --release -p openclaw-cli`",
            bin.display()
        );
    }
    gateway::raise_nofile_limit();
    let mut rows = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let num = args.get(i + 1).and_then(|a| a.parse::<usize>().ok());
        if num.is_some() {
            i += 1;
        }
        match args[i - usize::from(num.is_some())].as_str() {
            "startup" => rows.extend(scenarios::startup(&bin, num.unwrap_or(20)).await?),
            "ws-idle" => rows.extend(scenarios::ws_idle(&bin, num.unwrap_or(1000)).await?),
            "chat" => rows.extend(chat::added_latency(&bin, num.unwrap_or(2000) as u64, 10).await?),
            "all" => {
                rows.extend(scenarios::startup(&bin, 20).await?);
                rows.extend(scenarios::ws_idle(&bin, 1000).await?);
                rows.extend(chat::added_latency(&bin, 2000, 10).await?);
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
