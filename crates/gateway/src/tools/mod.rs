//! The gateway's own tools: the table of built-in tools ([`registry`]), what one turn may
//! call and how a call runs ([`toolbox`]), and the tools' operations ([`fs`], [`web`]).
//!
//! This layer sits between agents (which run the tool loop) and state: it reads the live
//! config at each call, so a hot-reloaded policy applies to the next call.

pub mod fs;
pub mod registry;
pub mod toolbox;
pub mod web;

use std::path::{Component, Path, PathBuf};

use openclaw_sessions::SessionKey;

use crate::state::Activation;

/// The agent's workspace: `workspace` of its `agents.list` entry, else
/// `agents.defaults.workspace`, else `<stateDir>/workspace` (the default agent) or
/// `<stateDir>/workspace-<agentId>`.
pub fn workspace_root(live: &Activation, agent_id: &str, state_dir: &Path) -> PathBuf {
    let agents = live.resolved.agents.as_ref();
    let own = agents
        .and_then(|a| a.list.iter().find(|e| e.id == agent_id))
        .and_then(|e| e.workspace.clone());
    let default = agents.and_then(|a| a.defaults.workspace.clone());
    match own.or(default) {
        Some(w) => match w.strip_prefix("~/") {
            Some(rest) => std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(rest),
            None => PathBuf::from(w),
        },
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

/// The tool policy of one turn.
pub struct Policy;

impl Policy {
    /// Whether `tool` may run.
    pub fn decide(&self, _tool: &str) -> Result<(), String> {
        Ok(())
    }
}

/// The policy in force for `agent_id` on `session`.
pub fn policy_for(_live: &Activation, _agent_id: &str, _session: &SessionKey) -> Policy {
    Policy
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
