//! `openclaw agent --message TEXT`, `openclaw agent list|status ID`, `openclaw agents list`.
//!
//! Listing reads the local config (the gateway need not run) and shows the agents the
//! gateway builds from it: `agents.list`, or the single `main` agent when that is empty.
//! `status` adds the running gateway's view (sessions, last activity, running turns), and
//! `--message` runs one turn through the gateway's two-stage `agent` method.

use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use openclaw_config::{AgentEntry, Config};
use openclaw_protocol::scopes;
use serde_json::{Value, json};

use super::config::{paths, read_doc_or_empty, validate_lenient};
use super::{Global, READ_SCOPES, human_ms, print_json};
use crate::client::{Client, ClientError, Target};
use crate::opts::ClientOpts;
use crate::target::Local;

/// `openclaw agent`: a subcommand, or `--message` to run a turn.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentCmd {
    #[command(subcommand)]
    sub: Option<AgentSub>,
    /// Text of the turn to run through the gateway.
    #[arg(long, short = 'm', value_name = "TEXT")]
    message: Option<String>,
    /// Agent to run it (default: the default agent, or the one the session belongs to).
    #[arg(long, value_name = "ID")]
    agent: Option<String>,
    /// Session key: agent:<id>:<name>, or a bare name scoped to --agent (default: the
    /// agent's main session).
    #[arg(long, visible_alias = "session-key", value_name = "KEY")]
    session: Option<String>,
    /// Model for this turn only, as provider/model.
    #[arg(long, value_name = "PROVIDER/MODEL")]
    model: Option<String>,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Subcommand)]
enum AgentSub {
    /// List the configured agents.
    List(ListArgs),
    /// One agent's model, sessions, last activity and running turns.
    Status(StatusArgs),
}

/// `openclaw agents`.
#[derive(Args)]
pub struct AgentsCmd {
    #[command(subcommand)]
    sub: AgentsSub,
}

#[derive(Subcommand)]
enum AgentsSub {
    /// List the configured agents.
    List(ListArgs),
}

#[derive(Args)]
struct ListArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StatusArgs {
    /// Agent id (see `openclaw agents list`).
    id: String,
    #[command(flatten)]
    client: ClientOpts,
}

/// Runs `openclaw agent …`.
pub async fn run(global: &Global, cmd: AgentCmd) -> Result<ExitCode> {
    match cmd.sub {
        Some(AgentSub::List(a)) => list(global, a.json),
        Some(AgentSub::Status(a)) => status(global, &a.id, &a.client).await,
        None => match cmd.message {
            Some(text) => {
                let session = scoped_session(cmd.agent.as_deref(), cmd.session.as_deref())?;
                let route = Route {
                    agent: cmd.agent.as_deref(),
                    session: session.as_deref(),
                    model: cmd.model.as_deref(),
                };
                turn(global, &cmd.client, &text, route).await
            }
            None => bail!(
                "nothing to do: give --message TEXT to run a turn, or a subcommand (`openclaw agent list`, `openclaw agent status ID`)"
            ),
        },
    }
}

/// Runs `openclaw agents …`.
pub fn run_agents(global: &Global, cmd: AgentsCmd) -> Result<ExitCode> {
    match cmd.sub {
        AgentsSub::List(a) => list(global, a.json),
    }
}

/// One agent as configured.
struct AgentRow {
    id: String,
    name: Option<String>,
    model: Vec<String>,
    workspace: Option<String>,
    default: bool,
}

impl AgentRow {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name.clone().unwrap_or_else(|| self.id.clone()),
            "model": {
                "primary": self.model.first(),
                "fallbacks": self.model.iter().skip(1).collect::<Vec<_>>(),
            },
            "workspace": self.workspace,
            "default": self.default,
        })
    }

    fn model_text(&self) -> String {
        match self.model.split_first() {
            None => "(no model: set agents.defaults.model)".to_owned(),
            Some((p, [])) => p.clone(),
            Some((p, rest)) => format!("{p} (fallbacks: {})", rest.join(", ")),
        }
    }
}

/// The agents the gateway builds from `config`, in config order.
fn agents_of(config: &Config) -> Vec<AgentRow> {
    let defaults = config
        .agents
        .as_ref()
        .map(|a| a.defaults.clone())
        .unwrap_or_default();
    let entries: Vec<AgentEntry> = match config.agents.as_ref().map(|a| &a.list) {
        Some(list) if !list.is_empty() => list.clone(),
        _ => vec![AgentEntry {
            default: true,
            ..AgentEntry::bare(openclaw_gateway::catalog::DEFAULT_AGENT_ID)
        }],
    };
    let default_id = entries
        .iter()
        .find(|e| e.default)
        .unwrap_or(&entries[0])
        .id
        .clone();
    entries
        .into_iter()
        .map(|e| AgentRow {
            default: e.id == default_id,
            model: e
                .model
                .as_ref()
                .or(defaults.model.as_ref())
                .map(|m| m.chain())
                .unwrap_or_default(),
            workspace: e.workspace.or_else(|| defaults.workspace.clone()),
            name: e.name,
            id: e.id,
        })
        .collect()
}

fn load_agents(global: &Global) -> Result<Vec<AgentRow>> {
    let paths = paths(global)?;
    let doc = read_doc_or_empty(&paths.config_path)?;
    let (config, _missing) = validate_lenient(&doc).map_err(|e| {
        anyhow!(
            "{}: {e}; fix the config (see `openclaw config validate`) to list its agents",
            paths.config_path.display()
        )
    })?;
    Ok(agents_of(&config))
}

fn list(global: &Global, json_out: bool) -> Result<ExitCode> {
    let agents = load_agents(global)?;
    if json_out {
        print_json(&Value::Array(
            agents.iter().map(AgentRow::to_json).collect(),
        ));
        return Ok(ExitCode::SUCCESS);
    }
    for a in &agents {
        let marker = if a.default { " (default)" } else { "" };
        let name = a
            .name
            .as_deref()
            .filter(|n| *n != a.id)
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        println!("{}{name}{marker}", a.id);
        println!("    model:     {}", a.model_text());
        println!(
            "    workspace: {}",
            a.workspace.as_deref().unwrap_or("(not set)")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(global: &Global, id: &str, opts: &ClientOpts) -> Result<ExitCode> {
    let agents = load_agents(global)?;
    let Some(agent) = agents.iter().find(|a| a.id == id) else {
        let known: Vec<&str> = agents.iter().map(|a| a.id.as_str()).collect();
        bail!(
            "unknown agent {id:?}; configured agents: {} (add it under agents.list)",
            known.join(", ")
        );
    };
    let local = Local::load(global)?;
    let target = local.target(opts);
    let listing = local
        .call(
            &target,
            READ_SCOPES,
            "sessions.list",
            Some(json!({"agentId": id, "limit": 10_000})),
        )
        .await?;
    let sessions = listing
        .get("sessions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let last = sessions
        .iter()
        .filter_map(|s| s.get("updatedAt").and_then(Value::as_u64))
        .max();
    let running: u64 = sessions
        .iter()
        .filter_map(|s| s.get("running").and_then(Value::as_u64))
        .sum();
    if opts.json {
        let mut v = agent.to_json();
        v["sessions"] = json!(sessions.len());
        v["lastActivityAt"] = json!(last);
        v["runningRuns"] = json!(running);
        print_json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let now = super::logs::now_ms();
    let marker = if agent.default { " (default)" } else { "" };
    println!("Agent {}{marker}", agent.id);
    println!("    model:         {}", agent.model_text());
    println!(
        "    workspace:     {}",
        agent.workspace.as_deref().unwrap_or("(not set)")
    );
    println!("    sessions:      {}", sessions.len());
    match last {
        Some(t) => println!("    last activity: {} ago", human_ms(now.saturating_sub(t))),
        None => println!("    last activity: never"),
    }
    println!("    running turns: {running}");
    Ok(ExitCode::SUCCESS)
}

/// Where a turn goes: `agent` method parameters besides the message.
struct Route<'a> {
    agent: Option<&'a str>,
    session: Option<&'a str>,
    model: Option<&'a str>,
}

/// The session key to send: a bare name with `--agent` becomes `agent:<agent>:<name>`
/// (as the original CLI scopes it); a full key must belong to `--agent` when both are given.
fn scoped_session(agent: Option<&str>, session: Option<&str>) -> Result<Option<String>> {
    use openclaw_gateway::agents::session_key;
    let (Some(agent), Some(session)) = (agent, session) else {
        return Ok(session.map(str::to_owned));
    };
    let raw = if session.starts_with("agent:") {
        session.to_owned()
    } else {
        format!("agent:{agent}:{session}")
    };
    let key = session_key(&raw).map_err(|e| anyhow!("--session {session}: {e}"))?;
    // Agent ids are compared as the gateway stores them (lower case).
    if key.agent_id != agent.to_ascii_lowercase() {
        bail!(
            "--session {session} belongs to agent {:?}, not --agent {agent:?}; drop --agent or use agent:{agent}:<name>",
            key.agent_id
        );
    }
    Ok(Some(key.to_string()))
}

async fn turn(
    global: &Global,
    opts: &ClientOpts,
    text: &str,
    route: Route<'_>,
) -> Result<ExitCode> {
    let Route {
        agent,
        session,
        model,
    } = route;
    let local = Local::load(global)?;
    let target = local.target(opts);
    let mut params = json!({
        "message": text,
        "idempotencyKey": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(a) = agent {
        params["agentId"] = json!(a);
    }
    if let Some(s) = session {
        params["sessionKey"] = json!(s);
    }
    if let Some(m) = model {
        params["model"] = json!(m);
    }
    let scopes = [scopes::READ, scopes::WRITE];
    let res = match run_to_end(&target, &scopes, params).await {
        Ok(r) => r,
        Err(ClientError::Rpc(e)) => bail!("the gateway refused the turn: {e}"),
        Err(e) => {
            local.warn_config();
            return Err(e.into());
        }
    };
    let status = res
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let reply = res
        .pointer("/result/payloads")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .or_else(|| {
            res.get("summary")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    let error = res.get("error").and_then(Value::as_str);
    if opts.json {
        let mut v = json!({
            "runId": res.get("runId"),
            "status": status,
            "reply": reply,
            "sessionKey": res.get("sessionKey"),
        });
        if let Some(meta) = res.pointer("/result/meta") {
            v["provider"] = meta.get("provider").cloned().unwrap_or(Value::Null);
            v["model"] = meta.get("model").cloned().unwrap_or(Value::Null);
        }
        if let Some(e) = error {
            v["error"] = json!(e);
        }
        print_json(&v);
    } else if status == "ok" {
        println!("{}", reply.unwrap_or_default());
    } else {
        let session = res.get("sessionKey").and_then(Value::as_str).unwrap_or("?");
        eprintln!(
            "Turn {status} in session {session}: {}",
            error.unwrap_or("the gateway gave no reason")
        );
    }
    Ok(if status == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Starts the turn with `agent` (answered at once with its run id) and waits for its end
/// with `agent.wait`, each call within `--timeout`: a turn may take longer than one call
/// budget (the gateway bounds it with agents.defaults.timeoutSeconds).
async fn run_to_end(target: &Target, scopes: &[&str], params: Value) -> Result<Value, ClientError> {
    let mut client = Client::connect(target, scopes).await?;
    let out = async {
        let accepted = client.call("agent", Some(params), false).await?;
        let Some(run_id) = accepted
            .get("runId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(ClientError::Protocol(format!(
                "the gateway accepted the turn without a run id: {accepted}"
            )));
        };
        let wait_ms = u64::try_from(target.timeout.as_millis() * 3 / 4)
            .unwrap_or(u64::MAX)
            .max(1);
        loop {
            let res = client
                .call(
                    "agent.wait",
                    Some(json!({"runId": run_id, "timeoutMs": wait_ms})),
                    false,
                )
                .await?;
            if res.get("status").and_then(Value::as_str) != Some("timeout") {
                return Ok(res);
            }
        }
    }
    .await;
    client.close().await;
    out
}
