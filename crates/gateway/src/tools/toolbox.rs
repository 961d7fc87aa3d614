//! One turn's tools: what the model is offered, and running a call under the policy in
//! force at that moment, inside the agent's workspace (and sandbox, when the session is
//! sandboxed).
//!
//! A tool's failure is not the turn's: it becomes a [`ToolOutput`] with `is_error`, which
//! goes back to the model like any result, so it can correct the call.

use std::path::PathBuf;
use std::sync::Arc;

use openclaw_providers::{ToolCall, ToolDef};
use openclaw_sessions::SessionKey;
use serde_json::{Value, json};

use super::fs;
use super::registry::{self, Kind, ToolSpec};
use crate::state::AppState;

/// What a tool call produced, for the model and the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolOutput {
    /// The result (or the error) as text.
    pub content: String,
    /// The tool failed, or the call was refused.
    pub is_error: bool,
}

impl ToolOutput {
    fn ok(content: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: content.into(),
            is_error: false,
        }
    }

    fn err(content: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: content.into(),
            is_error: true,
        }
    }
}

/// The gateway's tools as one turn of one agent on one session sees them.
pub struct ToolBox {
    state: Arc<AppState>,
    agent_id: String,
    session: SessionKey,
}

impl ToolBox {
    /// Tool calls of one answer that run at once; more wait for a free slot.
    pub const PARALLEL: usize = 4;

    /// The tools of a turn of `agent_id` on `session`, reading config (policy, workspace,
    /// sandbox) from `state` at each call, so a hot reload applies to the next call.
    pub fn for_turn(state: &Arc<AppState>, agent_id: &str, session: &SessionKey) -> Arc<ToolBox> {
        Arc::new(ToolBox {
            state: state.clone(),
            agent_id: agent_id.to_owned(),
            session: session.clone(),
        })
    }

    /// The tools offered to the model: those the policy allows now, except names the
    /// client declared itself (the client runs those).
    pub fn defs(&self, client: &[&str]) -> Vec<ToolDef> {
        registry::TOOLS
            .iter()
            .filter(|t| !client.contains(&t.name))
            .filter(|t| self.decide(t.name).is_ok())
            .map(|t| ToolDef {
                name: t.name.to_owned(),
                description: Some(t.description.to_owned()),
                parameters: (t.parameters)(),
            })
            .collect()
    }

    /// Runs one call the model made.
    pub async fn run(&self, call: &ToolCall) -> ToolOutput {
        let args: Value = match serde_json::from_str(if call.arguments.trim().is_empty() {
            "{}"
        } else {
            &call.arguments
        }) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return ToolOutput::err(format!(
                    "{}: the arguments must be a JSON object",
                    call.name
                ));
            }
            Err(e) => {
                return ToolOutput::err(format!(
                    "{}: the arguments are not valid JSON ({e}); send one JSON object",
                    call.name
                ));
            }
        };
        match self.invoke(&call.name, args).await {
            Ok(v) => ToolOutput::ok(v),
            Err(e) => ToolOutput::err(e),
        }
    }

    /// Runs tool `name` with `args` (an object): the result text, or the error text.
    pub async fn invoke(&self, name: &str, args: Value) -> Result<String, String> {
        let Some(spec) = registry::find(name) else {
            let known: Vec<&str> = registry::TOOLS.iter().map(|t| t.name).collect();
            return Err(format!(
                "unknown tool {name:?}; the gateway's tools are: {}",
                known.join(", ")
            ));
        };
        self.decide(spec.name)?;
        self.dispatch(spec, args).await
    }

    /// Whether the policy in force lets `tool` run; the refusal names the key that
    /// denied it.
    pub fn check(&self, tool: &str) -> Result<(), String> {
        self.decide(tool)
    }

    fn decide(&self, tool: &str) -> Result<(), String> {
        let live = self.state.live();
        match super::policy_for(&live, &self.agent_id, &self.session).decide(tool) {
            super::policy::Decision::Allow => Ok(()),
            super::policy::Decision::Deny(d) => {
                Err(format!("tool {tool:?} is {d} (the gateway's tool policy)"))
            }
        }
    }

    fn workspace(&self) -> PathBuf {
        let live = self.state.live();
        super::workspace_root(
            &live,
            &self.agent_id,
            self.state.shared.sessions.state_dir(),
        )
    }

    async fn dispatch(&self, spec: &'static ToolSpec, args: Value) -> Result<String, String> {
        let str_arg = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
        let need = |k: &str| {
            str_arg(k).ok_or_else(|| format!("{}: `{k}` (a string) is required", spec.name))
        };
        let num = |k: &str| args.get(k).and_then(Value::as_u64).map(|n| n as usize);
        match spec.kind {
            Kind::Read | Kind::Write | Kind::Edit => {
                let path = need("path")?;
                let root = self.workspace();
                let (content, old, new) = match spec.kind {
                    Kind::Write => (Some(need("content")?), None, None),
                    Kind::Edit => (None, Some(need("oldText")?), Some(need("newText")?)),
                    _ => (None, None, None),
                };
                let (offset, limit) = (num("offset"), num("limit"));
                let kind = spec.kind;
                blocking(move || {
                    let abs = super::confine(&root, &path)?;
                    match kind {
                        Kind::Read => fs::read(&abs, &path, offset, limit),
                        Kind::Write => {
                            fs::write(&abs, &path, content.as_deref().unwrap_or_default())
                        }
                        _ => fs::edit(
                            &abs,
                            &path,
                            old.as_deref().unwrap_or_default(),
                            new.as_deref().unwrap_or_default(),
                        ),
                    }
                    .map_err(|e| e.to_string())
                })
                .await
            }
            Kind::ApplyPatch => {
                let input = need("input")?;
                let root = self.workspace();
                blocking(move || {
                    struct In(PathBuf);
                    impl fs::Resolve for In {
                        fn resolve(&self, path: &str) -> Result<PathBuf, String> {
                            super::confine(&self.0, path)
                        }
                    }
                    fs::apply_patch(&input, &In(root)).map_err(|e| e.to_string())
                })
                .await
            }
            Kind::Exec => {
                let command = need("command")?;
                let live = self.state.live();
                let root = self.workspace();
                super::exec_tool(
                    &live,
                    &self.agent_id,
                    &self.session,
                    root,
                    &command,
                    str_arg("workdir").as_deref(),
                    args.get("timeout").and_then(Value::as_u64),
                )
                .await
            }
            Kind::WebFetch => {
                let url = need("url")?;
                super::web::fetch(&url, num("maxChars"), &super::web::FetchLimits::default()).await
            }
            Kind::SessionsList => {
                let limit = num("limit").unwrap_or(50).clamp(1, 1000);
                let agent = str_arg("agentId");
                let s = self
                    .state
                    .shared
                    .sessions
                    .list(agent.as_deref(), limit)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"count": s.len(), "sessions": s}).to_string())
            }
            Kind::SessionsHistory => {
                let key = self.session_arg(str_arg("sessionKey"))?;
                let limit = num("limit").unwrap_or(20).clamp(1, 500);
                let entries = self
                    .state
                    .shared
                    .sessions
                    .history(&key, limit)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"sessionKey": key.to_string(), "messages": entries}).to_string())
            }
            Kind::SessionStatus => {
                let key = self.session_arg(str_arg("sessionKey"))?;
                session_status(&self.state, &key)
                    .await
                    .map(|v| v.to_string())
            }
            Kind::AgentsList => Ok(self.state.live().agents.listing().to_string()),
            Kind::ModelsList => {
                Ok(json!({"models": self.state.live().agents.models()}).to_string())
            }
        }
    }

    fn session_arg(&self, raw: Option<String>) -> Result<SessionKey, String> {
        match raw {
            Some(k) => crate::agents::session_key_for(&k).map_err(|e| e.to_string()),
            None => Ok(self.session.clone()),
        }
    }
}

/// Runs blocking file work off the async workers.
async fn blocking(
    f: impl FnOnce() -> Result<String, String> + Send + 'static,
) -> Result<String, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("the tool failed unexpectedly: {e}")))
}

/// `session_status`: whether the session exists, its size and last activity, and
/// whether a run is active in it.
pub async fn session_status(state: &AppState, key: &SessionKey) -> Result<Value, String> {
    let t = state
        .shared
        .sessions
        .load(key)
        .await
        .map_err(|e| e.to_string())?;
    let last = t.entries.last();
    Ok(json!({
        "sessionKey": key.to_string(),
        "exists": !t.entries.is_empty(),
        "messages": t.entries.len(),
        "lastRole": last.map(|e| e.role.clone()),
        "updatedAt": last.map(|e| e.ts),
        "running": state.shared.runs.running_in(&key.to_string()),
    }))
}
