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

/// `path` (as the model wrote it) resolved inside the workspace `root` (created on
/// first use), or why not. Blocking: call from `spawn_blocking`.
pub fn confine(root: &Path, path: &str) -> Result<PathBuf, String> {
    workspace::Workspace::open(root)
        .and_then(|w| w.resolve(path))
        .map_err(|e| e.to_string())
}

/// Where `session`'s tools run in the `live` config: its workspace, whether it is
/// sandboxed, and with which settings.
pub fn placement(live: &Activation, state_dir: &Path, session: &SessionKey) -> sandbox::Placement {
    let home = std::env::var("HOME").ok();
    sandbox::Placement::resolve(&live.resolved, state_dir, home.as_deref(), session)
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

/// The effective tool policy in brief, for the hello-ok snapshot and `status`: the
/// default agent's sandbox mode and the tools its main session may call, plus (when the
/// mode sandboxes some sessions) the tools a sandboxed session may call.
pub fn policy_summary(state: &crate::state::AppState) -> serde_json::Value {
    let live = state.live();
    let agent = live.agents.default_id();
    let state_dir = state.shared.sessions.state_dir();
    let names = || registry::TOOLS.iter().map(|t| t.name);
    let main = placement(&live, state_dir, &SessionKey::main(agent));
    let tools = main.policy(&live.resolved).filter(names());
    let mut out = serde_json::json!({
        "sandbox": main.settings.mode.as_str(),
        "tools": tools,
        "agentId": agent,
    });
    if main.settings.mode != openclaw_config::SandboxMode::Off {
        let policy = policy::Policy::resolve(&live.resolved, agent, true);
        out["sandboxBackend"] = serde_json::json!(main.settings.backend.as_str());
        out["sandboxedTools"] = serde_json::json!(policy.filter(names()));
    }
    out
}
