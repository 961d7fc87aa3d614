//! The gateway's own tools: the table of built-in tools ([`registry`]), what one turn may
//! call and how a call runs ([`toolbox`]), the tools' operations ([`fs`], [`web`]), and
//! the rules around them: the tool policy ([`policy`]), workspace confinement
//! ([`workspace`]), the sandbox backends ([`sandbox`]) and the exec runtime with its
//! approval rules ([`exec`]).
//!
//! This layer sits between agents (which run the tool loop) and state: the tool box reads
//! the live config at each call, so a hot-reloaded policy applies to the next call. The
//! rule modules know nothing of turns or transports.

pub mod exec;
pub mod fs;
pub mod policy;
pub mod registry;
pub mod sandbox;
pub mod toolbox;
pub mod web;
pub mod workspace;

use std::path::{Path, PathBuf};

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

/// `path` (as the model wrote it) resolved inside the workspace `root` (created on
/// first use), or why not. Blocking: call from `spawn_blocking`.
pub fn confine(root: &Path, path: &str) -> Result<PathBuf, String> {
    workspace::Workspace::open(root)
        .and_then(|w| w.resolve(path))
        .map_err(|e| e.to_string())
}

/// The sandbox settings of `agent_id` (`agents.*.sandbox`, resolved over the defaults).
pub fn sandbox_settings(live: &Activation, agent_id: &str) -> openclaw_config::SandboxSettings {
    let agents = live.resolved.agents.as_ref();
    let defaults = agents.and_then(|a| a.defaults.sandbox.as_ref());
    let own = agents
        .and_then(|a| a.entry(agent_id))
        .and_then(|(i, e)| e.sandbox.as_ref().map(|s| (i, s)));
    openclaw_config::SandboxConfig::resolve(defaults, own)
}

/// Whether `session` of `agent_id` runs its tools in the sandbox.
pub fn is_sandboxed(live: &Activation, agent_id: &str, session: &SessionKey) -> bool {
    sandbox::is_sandboxed(sandbox_settings(live, agent_id).mode, session)
}

/// The policy in force for `agent_id` on `session` in the `live` config.
pub fn policy_for(live: &Activation, agent_id: &str, session: &SessionKey) -> policy::Policy {
    policy::Policy::resolve(
        &live.resolved,
        agent_id,
        is_sandboxed(live, agent_id, session),
    )
}

/// The exec settings of `agent_id` (`tools.exec` under `agents.list[].tools.exec`).
pub fn exec_settings(live: &Activation, agent_id: &str) -> openclaw_config::ExecSettings {
    let global = live.resolved.tools.as_ref().and_then(|t| t.exec.as_ref());
    let own = live
        .resolved
        .agents
        .as_ref()
        .and_then(|a| a.entry(agent_id))
        .and_then(|(_, e)| e.tools.as_ref())
        .and_then(|t| t.exec.as_ref());
    openclaw_config::ExecToolConfig::resolve(global, own)
}

/// The `web_fetch` limits in force.
pub fn fetch_limits(live: &Activation) -> openclaw_config::WebFetchLimits {
    openclaw_config::WebFetchConfig::limits(
        live.resolved
            .tools
            .as_ref()
            .and_then(|t| t.web.as_ref())
            .and_then(|w| w.fetch.as_ref()),
    )
}
