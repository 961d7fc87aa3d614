//! `openclaw approvals pending|resolve` (exec approvals waiting in the running gateway)
//! and `openclaw sandbox explain` (the effective sandbox and tool policy of a session,
//! computed from the local config the way the gateway computes it).

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use openclaw_gateway::tools::{registry, sandbox};
use openclaw_sessions::SessionKey;
use serde_json::json;

use super::{Global, print_json};
use crate::client::call_once;
use crate::opts::ClientOpts;
use crate::target::Local;

/// Scopes for answering approvals.
const APPROVAL_SCOPES: &[&str] = &[openclaw_protocol::scopes::APPROVALS];

/// `openclaw approvals`.
#[derive(Args)]
pub struct ApprovalsCmd {
    #[command(subcommand)]
    sub: ApprovalsSub,
}

#[derive(Subcommand)]
enum ApprovalsSub {
    /// List the exec approvals waiting for an answer (alias: list).
    #[command(alias = "list")]
    Pending(ClientOpts),
    /// Answer one: allow-once, allow-always (also adds it to the allowlist) or deny.
    Resolve(ResolveArgs),
}

#[derive(Args)]
struct ResolveArgs {
    /// The approval's id (from `approvals pending` or the exec.approval.requested event).
    id: String,
    /// allow-once, allow-always or deny.
    decision: String,
    #[command(flatten)]
    client: ClientOpts,
}

/// Runs `approvals …`.
pub async fn approvals(global: &Global, cmd: ApprovalsCmd) -> Result<ExitCode> {
    let local = Local::load(global)?;
    match cmd.sub {
        ApprovalsSub::Pending(opts) => {
            let target = local.target(&opts);
            let res = call_once(
                &target,
                APPROVAL_SCOPES,
                "exec.approval.list",
                Some(json!({})),
                false,
            )
            .await?;
            if opts.json {
                print_json(&res);
                return Ok(ExitCode::SUCCESS);
            }
            let list = res["approvals"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("No exec approvals are waiting.");
            }
            let now = openclaw_gateway::sys::now_ms();
            for a in list {
                let r = &a["request"];
                println!(
                    "{}  {}  agent {}  session {}  expires in {} s\n    {}",
                    a["id"].as_str().unwrap_or_default(),
                    a["kind"].as_str().unwrap_or("exec"),
                    r["agentId"].as_str().unwrap_or("-"),
                    r["sessionKey"].as_str().unwrap_or("-"),
                    a["expiresAtMs"].as_u64().unwrap_or(now).saturating_sub(now) / 1000,
                    r["command"].as_str().unwrap_or_default(),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsSub::Resolve(a) => {
            if !matches!(a.decision.as_str(), "allow-once" | "allow-always" | "deny") {
                bail!(
                    "decision {:?} is not one of allow-once, allow-always, deny",
                    a.decision
                );
            }
            let target = local.target(&a.client);
            let res = call_once(
                &target,
                APPROVAL_SCOPES,
                "exec.approval.resolve",
                Some(json!({"id": a.id, "decision": a.decision})),
                false,
            )
            .await?;
            if a.client.json {
                print_json(&res);
            } else {
                println!(
                    "{} {}: {}",
                    a.id,
                    a.decision,
                    res["request"]["command"].as_str().unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `openclaw sandbox`.
#[derive(Args)]
pub struct SandboxCmd {
    #[command(subcommand)]
    sub: SandboxSub,
}

#[derive(Subcommand)]
enum SandboxSub {
    /// Print the effective sandbox mode, backend and tool policy of a session, and why.
    Explain(ExplainArgs),
}

#[derive(Args)]
struct ExplainArgs {
    /// Session key (agent:<id>:<name>, or a bare name of the default agent); default: the
    /// agent's main session.
    #[arg(long)]
    session: Option<String>,
    /// Agent id; default: the session's agent, else the default agent.
    #[arg(long)]
    agent: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `sandbox explain`.
pub fn sandbox_cmd(global: &Global, cmd: SandboxCmd) -> Result<ExitCode> {
    let SandboxSub::Explain(a) = cmd.sub;
    let local = Local::load(global)?;
    if let Some(e) = &local.config_error {
        bail!("{e}");
    }
    let cfg = &local.config;
    let default_agent = cfg
        .agents
        .as_ref()
        .map_or_else(|| "main".to_owned(), |x| x.default_agent_id().to_owned());
    let session = match (&a.session, &a.agent) {
        (Some(s), _) if s.starts_with("agent:") => SessionKey::parse(s)?,
        (Some(s), agent) => SessionKey::new(agent.as_deref().unwrap_or(&default_agent), s)?,
        (None, agent) => SessionKey::main(agent.as_deref().unwrap_or(&default_agent)),
    };
    if let Some(ag) = &a.agent
        && *ag != session.agent_id
    {
        bail!(
            "--agent {ag} does not match the session's agent ({}); pass one or the other",
            session.agent_id
        );
    }
    let home = std::env::var("HOME").ok();
    let placement =
        sandbox::Placement::resolve(cfg, &local.paths.state_dir, home.as_deref(), &session);
    let names: Vec<&str> = registry::TOOLS.iter().map(|t| t.name).collect();
    let explained = placement.explain(cfg, names);
    if a.json {
        print_json(&serde_json::to_value(&explained)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Session:   {} (agent {})",
        explained.session_key, explained.agent_id
    );
    println!(
        "Sandbox:   {} ({})",
        if explained.sandboxed { "yes" } else { "no" },
        explained.why
    );
    if explained.sandboxed {
        println!(
            "Backend:   {} (workspace access {}, network {})",
            explained.backend,
            explained.workspace_access,
            if explained.network { "on" } else { "off" }
        );
    }
    println!("Workspace: {}", explained.workspace);
    let policy = &explained.tool_policy;
    println!("Tools allowed: {}", policy.allowed.join(", "));
    for t in &policy.tools {
        println!(
            "  {} {:<16} {}",
            if t.allowed { "+" } else { "-" },
            t.name,
            t.reason
        );
    }
    println!("To change this:");
    for f in &explained.fix_it {
        println!("  {f}");
    }
    Ok(ExitCode::SUCCESS)
}
