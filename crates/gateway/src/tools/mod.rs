//! The gateway's own tools: the table of built-in tools ([`registry`]), what one turn may
//! call and how a call runs ([`toolbox`]), the tools' operations ([`fs`], [`web`]), and
//! the rules around them: the tool policy ([`policy`]).
//!
//! This layer sits between agents (which run the tool loop) and state: the tool box reads
//! the live config at each call, so a hot-reloaded policy applies to the next call. The
//! rule modules know nothing of turns or transports.

pub mod fs;
pub mod policy;
pub mod registry;
pub mod toolbox;
pub mod web;

use std::path::{Component, Path, PathBuf};

use openclaw_sessions::SessionKey;

use crate::state::Activation;

/// The agent's workspace (`agents.*.workspace`, OpenClaw's defaults under the state dir).
pub fn workspace_root(live: &Activation, agent_id: &str, state_dir: &Path) -> PathBuf {
    let home = std::env::var("HOME").ok();
    match live.resolved.agents.as_ref() {
        Some(a) => a.workspace_dir(agent_id, state_dir, home.as_deref()),
        None if agent_id == live.agents.default_id() => state_dir.join("workspace"),
        None => state_dir.join(format!("workspace-{agent_id}")),
    }
}

/// `path` (as the model wrote it) resolved inside `root`, or why not.
pub fn confine(root: &Path, path: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(root)
        .map_err(|e| format!("cannot create the workspace {}: {e}", root.display()))?;
    let root = root
        .canonicalize()
        .map_err(|e| format!("workspace {}: {e}", root.display()))?;
    let p = Path::new(path);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    };
    let mut norm = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                norm.pop();
            }
            Component::CurDir => {}
            other => norm.push(other),
        }
    }
    // The longest existing ancestor, with symlinks resolved, must stay inside.
    let mut existing = norm.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut real = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.into_iter().rev() {
        real.push(name);
    }
    if !real.starts_with(&root) {
        return Err(format!(
            "{path} is outside the workspace ({}); file tools only reach files inside it (agents.defaults.workspace)",
            root.display()
        ));
    }
    Ok(real)
}

/// The policy in force for `agent_id` on `session` in the `live` config.
pub fn policy_for(live: &Activation, agent_id: &str, _session: &SessionKey) -> policy::Policy {
    policy::Policy::resolve(&live.resolved, agent_id, false)
}

/// Runs `exec`.
pub async fn exec_tool(
    _live: &Activation,
    _agent_id: &str,
    _session: &SessionKey,
    root: PathBuf,
    command: &str,
    workdir: Option<&str>,
    timeout: Option<u64>,
) -> Result<String, String> {
    let dir = match workdir {
        Some(w) => confine(&root, w)?,
        None => {
            std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
            root
        }
    };
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .kill_on_drop(true);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(timeout.unwrap_or(1800)),
        cmd.output(),
    )
    .await
    .map_err(|_| "exec timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    Ok(format!(
        "exit code {}\n{}{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}
