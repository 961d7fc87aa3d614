//! `openclaw sessions export|import`: move transcripts between session store backends.
//!
//! Both run offline, against the store `sessions.store` names in the config (files in
//! the state directory, or Postgres), not through a running gateway: export from a
//! files instance, switch the config to Postgres, import. They refuse to run while a
//! gateway holds this state directory's lock. The format is JSONL, one entry per line:
//! `{"sessionKey":"agent:main:main","entry":{...}}`, sessions one after the other, each
//! oldest entry first.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use openclaw_config::{Paths, SessionBackend};
use openclaw_sessions::{Entry, SessionKey, SessionStore};
use serde::{Deserialize, Serialize};

use crate::commands::Global;

/// `openclaw sessions ...`.
#[derive(Args)]
pub struct SessionsCmd {
    #[command(subcommand)]
    sub: SessionsSub,
}

#[derive(Subcommand)]
enum SessionsSub {
    /// Write every session transcript of the configured store as JSONL (stdout by default).
    Export(ExportArgs),
    /// Read a JSONL export into the configured store; refuses sessions that already have entries.
    Import(ImportArgs),
}

#[derive(Args)]
struct ExportArgs {
    /// Write to this file (created with mode 0600) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ImportArgs {
    /// The JSONL file written by `openclaw sessions export`.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// One line of the export.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Line {
    session_key: String,
    entry: Entry,
}

/// Runs `openclaw sessions <sub>`.
pub async fn run(global: &Global, cmd: SessionsCmd) -> Result<ExitCode> {
    let paths = Paths::from_process_env(global.profile.as_deref(), global.dev)?;
    refuse_if_running(&paths)?;
    let store = open(&paths).await?;
    match cmd.sub {
        SessionsSub::Export(a) => export(&store, a.out.as_deref()).await,
        SessionsSub::Import(a) => import(&store, &a.file).await,
    }
}

/// The gateway owns the store while it runs; an offline copy must not race it.
fn refuse_if_running(paths: &Paths) -> Result<()> {
    let lock = paths.lock_path();
    if let Some(holder) = openclaw_gateway::lock::holder(&lock)
        .with_context(|| format!("cannot check the gateway lock {}", lock.display()))?
    {
        bail!(
            "a gateway (pid {}) is running on the state directory {}; stop it first (`openclaw gateway stop`): sessions export/import work on the store offline",
            holder.pid,
            paths.state_dir.display()
        );
    }
    Ok(())
}

/// The store the config names, opened as the gateway opens it.
async fn open(paths: &Paths) -> Result<SessionStore> {
    let env = |k: &str| std::env::var(k).ok();
    let loaded = openclaw_config::load_file(&paths.config_path, &env)
        .map_err(|e| anyhow!("{}: {e}", paths.config_path.display()))?;
    let resolved = openclaw_config::resolve_secrets(&loaded.config, &env)
        .map_err(|e| anyhow!("{}: {e}", paths.config_path.display()))?;
    let store = resolved.sessions.as_ref().map(|s| &s.store);
    match store {
        Some(s) if s.backend == SessionBackend::Postgres => {
            let url = s.url.as_ref().map(|u| u.expose()).unwrap_or_default();
            Ok(SessionStore::postgres(paths.state_dir.clone(), url).await?)
        }
        _ => Ok(SessionStore::new(paths.state_dir.clone())),
    }
}

async fn export(store: &SessionStore, out: Option<&Path>) -> Result<ExitCode> {
    let mut sessions = store.list(None, usize::MAX).await?;
    sessions.sort_by(|a, b| a.key.cmp(&b.key));
    let mut writer: Box<dyn Write> = match out {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            Box::new(BufWriter::new(
                options
                    .open(path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            ))
        }
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut entries = 0usize;
    for summary in &sessions {
        let key = SessionKey::parse(&summary.key)?;
        let transcript = store.load(&key).await?;
        for entry in transcript.entries {
            let line = Line {
                session_key: summary.key.clone(),
                entry,
            };
            serde_json::to_writer(&mut writer, &line)?;
            writer.write_all(b"\n")?;
            entries += 1;
        }
    }
    writer.flush()?;
    drop(writer);
    eprintln!(
        "exported {entries} entries of {} sessions from {}",
        sessions.len(),
        store.location()
    );
    Ok(ExitCode::SUCCESS)
}

async fn import(store: &SessionStore, file: &Path) -> Result<ExitCode> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    // Everything is parsed and checked before anything is written.
    let mut order: Vec<(SessionKey, Vec<Entry>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).map_err(|e| {
            anyhow!(
                "{}:{}: not an export line ({e}); expected {{\"sessionKey\": \"agent:<id>:<name>\", \"entry\": {{...}}}} as written by `openclaw sessions export`",
                file.display(),
                n + 1
            )
        })?;
        let key = SessionKey::parse(&parsed.session_key)
            .map_err(|e| anyhow!("{}:{}: {e}", file.display(), n + 1))?;
        let slot = *index.entry(key.to_string()).or_insert_with(|| {
            order.push((key, Vec::new()));
            order.len() - 1
        });
        order[slot].1.push(parsed.entry);
    }
    for (key, _) in &order {
        let existing = store.load(key).await?.entries.len();
        if existing > 0 {
            bail!(
                "session {key} already has {existing} entries in {}; import does not merge transcripts: delete or reset that session first (nothing was imported)",
                store.location()
            );
        }
    }
    let mut entries = 0usize;
    for (key, list) in &order {
        store.append(key, list).await?;
        entries += list.len();
    }
    eprintln!(
        "imported {entries} entries of {} sessions into {}",
        order.len(),
        store.location()
    );
    Ok(ExitCode::SUCCESS)
}
