//! One turn's tools: what the model is offered, and running a call under the policy in
//! force at that moment, inside the agent's workspace (and sandbox, when the session is
//! sandboxed).
//!
//! A tool's failure is not the turn's: it becomes a [`ToolOutput`] with `is_error`, which
//! goes back to the model like any result, so it can correct the call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openclaw_providers::{ToolCall, ToolDef};
use openclaw_sessions::SessionKey;
use serde_json::{Value, json};

use super::registry::{self, Kind, ToolSpec};
use super::{exec, fs};
use crate::approvals::Resolution;
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
        match self.placement(&live).policy(&live.resolved).decide(tool) {
            super::policy::Decision::Allow => Ok(()),
            super::policy::Decision::Deny(d) => {
                Err(format!("tool {tool:?} is {d} (the gateway's tool policy)"))
            }
        }
    }

    /// A sandboxed session's file tools see the workspace as its sandbox does
    /// (`workspaceAccess`): not at all with `none`, read-only with `ro`.
    fn check_workspace_access(&self, kind: Kind) -> Result<(), String> {
        use openclaw_config::WorkspaceAccess;
        let p = self.placement(&self.state.live());
        if !p.sandboxed {
            return Ok(());
        }
        match (p.settings.workspace_access, kind) {
            (WorkspaceAccess::None, _) => Err(
                "this session is sandboxed without the workspace (agents.defaults.sandbox.workspaceAccess is \"none\"), so file tools have nothing to work on; set it to \"ro\" or \"rw\""
                    .to_owned(),
            ),
            (WorkspaceAccess::Ro, Kind::Write | Kind::Edit | Kind::ApplyPatch) => Err(
                "this session is sandboxed with a read-only workspace (agents.defaults.sandbox.workspaceAccess is \"ro\"); set it to \"rw\" to let tools change files"
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }

    fn placement(&self, live: &crate::state::Activation) -> super::sandbox::Placement {
        super::placement(live, self.state.shared.sessions.state_dir(), &self.session)
    }

    fn workspace(&self) -> PathBuf {
        self.placement(&self.state.live()).workspace
    }

    async fn dispatch(&self, spec: &'static ToolSpec, args: Value) -> Result<String, String> {
        let str_arg = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
        let need = |k: &str| {
            str_arg(k).ok_or_else(|| format!("{}: `{k}` (a string) is required", spec.name))
        };
        let num = |k: &str| args.get(k).and_then(Value::as_u64).map(|n| n as usize);
        if matches!(
            spec.kind,
            Kind::Read | Kind::Write | Kind::Edit | Kind::ApplyPatch
        ) {
            self.check_workspace_access(spec.kind)?;
        }
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
                let timeout = args.get("timeout").and_then(Value::as_u64);
                self.exec(command, str_arg("workdir"), timeout).await
            }
            Kind::WebFetch => {
                let url = need("url")?;
                let limits = super::fetch_limits(&self.state.live());
                if !limits.enabled {
                    return Err(
                        "web_fetch is disabled (tools.web.fetch.enabled is false)".to_owned()
                    );
                }
                super::web::fetch(&url, num("maxChars"), &limits).await
            }
            Kind::Message => {
                if let Some(a) = str_arg("action").filter(|a| a != "send") {
                    return Err(format!(
                        "message: action {a:?} is not supported by this gateway; only \"send\" is"
                    ));
                }
                let to = need("to")?;
                let text = need("message")?;
                if to.trim().is_empty() || text.trim().is_empty() {
                    return Err("message: `to` and `message` must not be empty".to_owned());
                }
                let channel = str_arg("channel").unwrap_or_else(|| "telegram".to_owned());
                let v = self
                    .state
                    .shared
                    .channels
                    .send(&channel, str_arg("accountId").as_deref(), to.trim(), &text)
                    .await
                    .map_err(|e| format!("message: {e}"))?;
                Ok(
                    json!({"ok": true, "channel": channel, "to": to.trim(), "result": v})
                        .to_string(),
                )
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

    /// `exec`: on the host under the exec policy (asking an operator when it says so),
    /// or in the sandbox when the session is sandboxed (the sandbox is the containment
    /// there; a missing backend is an error, never a silent run on the host).
    async fn exec(
        &self,
        command: String,
        workdir: Option<String>,
        timeout: Option<u64>,
    ) -> Result<String, String> {
        let live = self.state.live();
        let settings = super::exec_settings(&live, &self.agent_id);
        let placement = self.placement(&live);
        drop(live);
        let (root, cwd) = {
            let root = placement.workspace.clone();
            let wd = workdir.unwrap_or_else(|| ".".to_owned());
            tokio::task::spawn_blocking(move || {
                Ok::<_, String>((super::confine(&root, ".")?, super::confine(&root, &wd)?))
            })
            .await
            .map_err(|e| e.to_string())??
        };
        let (env, sandbox) = if let Some(sandbox) = placement.sandbox(&root) {
            let env =
                exec::sandbox_env(&root, &[], &settings.path_prepend).map_err(|e| e.to_string())?;
            (env, Some(sandbox))
        } else {
            self.approve(&command, &cwd, &settings).await?;
            let env = exec::host_env(std::env::vars(), &[], &settings.path_prepend)
                .map_err(|e| e.to_string())?;
            (env, None)
        };
        let req = exec::ExecRequest {
            command,
            cwd,
            timeout: exec::timeout_for(timeout, settings.timeout_seconds),
            max_output_bytes: exec::DEFAULT_MAX_OUTPUT_BYTES,
            env,
            sandbox,
        };
        exec::run(req)
            .await
            .map(|out| out.render())
            .map_err(|e| e.to_string())
    }

    /// The exec policy's verdict on a host command, asking an operator when it says so
    /// (`exec.approval.requested`); `Err` is the refusal the model sees.
    async fn approve(
        &self,
        command: &str,
        cwd: &std::path::Path,
        settings: &openclaw_config::ExecSettings,
    ) -> Result<(), String> {
        use super::exec::approvals::{self, ApprovalDecision, ApprovalsStore};
        let store = ApprovalsStore::new(self.state.shared.sessions.state_dir());
        let file = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.load())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?
        };
        let eff = approvals::effective(settings, &file, &self.agent_id);
        let path = std::env::var("PATH").unwrap_or_default();
        let resolve = |name: &str| exec::path_lookup(&path, name);
        let decision = approvals::decide(&eff, file.allowlist(&self.agent_id), command, &resolve);
        let allow_on_timeout = match decision {
            ApprovalDecision::Allow => return Ok(()),
            ApprovalDecision::Deny(why) => return Err(why),
            ApprovalDecision::Ask {
                allow_on_timeout, ..
            } => allow_on_timeout,
        };
        let timeout = Duration::from_secs(settings.approval_timeout_seconds.max(1));
        let request = json!({
            "command": command,
            "cwd": cwd.display().to_string(),
            "host": "gateway",
            "agentId": self.agent_id,
            "sessionKey": self.session.to_string(),
            "security": eff.security,
            "ask": eff.ask,
        });
        let pending = &self.state.shared.approvals;
        let (record, answer) = pending.open(request, timeout);
        let id = record["id"].as_str().unwrap_or_default().to_owned();
        broadcast_approval(
            &self.state,
            openclaw_protocol::methods::events::EXEC_APPROVAL_REQUESTED,
            &record,
        );
        let outcome = tokio::time::timeout(timeout, answer).await;
        pending.close(&id);
        let Ok(Ok(decision)) = outcome else {
            // Nobody answered in time: askFallback decides.
            let decision = if allow_on_timeout {
                "allow-once"
            } else {
                "deny"
            };
            broadcast_approval(
                &self.state,
                openclaw_protocol::methods::events::EXEC_APPROVAL_RESOLVED,
                &json!({"id": id, "decision": decision, "reason": "timeout", "ts": crate::sys::now_ms()}),
            );
            if allow_on_timeout {
                return Ok(());
            }
            return Err(format!(
                "exec was not approved: nobody answered the approval request within {} s (tools.exec.approvalTimeoutSeconds; askFallback is deny), so the command did not run",
                timeout.as_secs()
            ));
        };
        match decision {
            Resolution::Deny => {
                Err("exec was denied by an operator; the command did not run".to_owned())
            }
            Resolution::AllowOnce => Ok(()),
            Resolution::AllowAlways => {
                if let Some(entry) = approvals::allow_always_entry(command, &resolve) {
                    let agent = self.agent_id.clone();
                    let added = tokio::task::spawn_blocking(move || store.add(&agent, entry)).await;
                    if let Ok(Err(e)) = added {
                        tracing::warn!(target: "tools", error = %e, "cannot add the approved command to the exec allowlist");
                    }
                }
                Ok(())
            }
        }
    }

    fn session_arg(&self, raw: Option<String>) -> Result<SessionKey, String> {
        match raw {
            // A bare name is a session of this turn's agent.
            Some(k) if k.starts_with("agent:") => SessionKey::parse(&k).map_err(|e| e.to_string()),
            Some(k) => SessionKey::new(&self.agent_id, &k).map_err(|e| e.to_string()),
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

/// Sends an approval event to the operators who may answer it (`operator.approvals` or
/// admin).
fn broadcast_approval(state: &AppState, name: &'static str, payload: &Value) {
    let text: Arc<str> = Arc::from(payload.to_string());
    state.conns.broadcast_to(name, text, false, |c| {
        openclaw_protocol::MethodAccess::Approvals.allows(&c.scopes)
    });
}
