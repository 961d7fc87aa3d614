//! `openclaw logs`: tail (and follow) the gateway log, over RPC or from the file.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use openclaw_logs::{TailRequest, TailResult};
use serde_json::json;

use super::{Global, READ_SCOPES};
use crate::ClientOpts;
use crate::client::{Client, ClientError};
use crate::target::Local;

/// What to show.
pub struct Mode {
    /// Recent lines to show first.
    pub limit: usize,
    /// Keep polling for new lines.
    pub follow: bool,
    /// Poll interval.
    pub interval_ms: u64,
}

enum Source {
    Rpc(Box<Client>),
    File(std::path::PathBuf),
}

impl Source {
    async fn tail(&mut self, req: TailRequest) -> anyhow::Result<TailResult> {
        match self {
            Source::Rpc(c) => {
                let payload = c
                    .call("logs.tail", Some(serde_json::to_value(&req)?), false)
                    .await?;
                Ok(serde_json::from_value(payload).context("unexpected logs.tail payload")?)
            }
            Source::File(path) => Ok(openclaw_logs::tail(path, &req)?),
        }
    }
}

/// Prints recent lines, then follows if asked. Falls back to reading the log file
/// directly when no gateway answers, so logs stay readable after a crash.
pub async fn run(global: &Global, opts: &ClientOpts, mode: Mode) -> anyhow::Result<ExitCode> {
    if !(1..=openclaw_logs::MAX_TAIL_LIMIT).contains(&mode.limit) {
        anyhow::bail!(
            "--limit must be between 1 and {}",
            openclaw_logs::MAX_TAIL_LIMIT
        );
    }
    let local = Local::load(global)?;
    let target = local.target(opts);
    let mut source = match Client::connect(&target, READ_SCOPES).await {
        Ok(c) => Source::Rpc(Box::new(c)),
        Err(ClientError::Unreachable { .. }) if opts.url.is_none() => {
            let file = local
                .config
                .logging
                .file
                .clone()
                .unwrap_or_else(|| local.paths.default_log_file());
            eprintln!(
                "gateway not reachable at {}; reading {} directly",
                target.url,
                file.display()
            );
            if !file.exists() {
                eprintln!("no log file at {} yet", file.display());
            }
            Source::File(file)
        }
        Err(e) => return Err(e.into()),
    };
    let mut result = source
        .tail(TailRequest {
            cursor: None,
            limit: mode.limit,
            max_bytes: openclaw_logs::MAX_TAIL_MAX_BYTES,
        })
        .await?;
    print_lines(&result, opts.json);
    loop {
        if !mode.follow {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(mode.interval_ms.max(50))) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        result = source
            .tail(TailRequest {
                cursor: Some(result.cursor),
                limit: openclaw_logs::MAX_TAIL_LIMIT,
                max_bytes: openclaw_logs::MAX_TAIL_MAX_BYTES,
            })
            .await?;
        if result.reset && !opts.json {
            eprintln!("-- log file rotated --");
        }
        print_lines(&result, opts.json);
    }
    if let Source::Rpc(c) = source {
        c.close().await;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_lines(result: &TailResult, as_json: bool) {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in &result.lines {
        let _ = if as_json {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => writeln!(out, "{v}"),
                Err(_) => writeln!(out, "{}", json!({ "raw": line })),
            }
        } else {
            writeln!(out, "{}", openclaw_logs::pretty_line(line))
        };
    }
    let _ = out.flush();
}
