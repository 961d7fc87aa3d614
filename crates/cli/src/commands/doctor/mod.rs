//! `openclaw doctor`: one line per health check, with the fix, and `--fix` to repair what
//! is safe to repair (permissions, a missing or weak token, a broken config with a good
//! backup).
//!
//! The checks themselves are in [`checks`], the repairs and the `--fix` prompt in [`fix`];
//! the posture helpers shared with `openclaw security audit` (permission bits, token
//! strength, token generation) are in [`crate::posture`].

mod checks;
mod env;
mod fix;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use super::{Global, print_json};
use crate::opts::ClientOpts;
use crate::target::Local;

use crate::posture::{holds_inline_secrets, read_raw_doc};
use checks::{
    check_aliases, check_auth, check_channels, check_config, check_log_dir, check_perms,
    check_providers, check_service, check_session_store, probe_gateway,
};

pub use fix::{Action, Fixer};

/// Time allowed for each provider TCP connect.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest time the gateway probe may take, whatever `--timeout` says.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Flags of `openclaw doctor`.
#[derive(clap::Args)]
pub struct Options {
    /// Repair what is safe to repair (permissions, a missing or weak token, a broken config with a valid .bak).
    #[arg(long)]
    pub fix: bool,
    /// Apply fixes without asking (needed with --fix when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Only list the environment variables the config references and the gateway reads:
    /// set or not set (values are never shown); an unset referenced one fails.
    #[arg(long, conflicts_with = "fix")]
    pub check_env: bool,
    /// Only test this provider with a real one-token request (as `openclaw providers test`).
    #[arg(long, value_name = "ID", conflicts_with = "fix")]
    pub provider: Option<String>,
    /// The model to ask --provider for (default: its first configured or agent-used model).
    #[arg(long, value_name = "MODEL", requires = "provider")]
    pub model: Option<String>,
}

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// Worth a look; does not make the exit code non-zero.
    Warn,
    /// Broken; the exit code is non-zero.
    Fail,
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
    pub(super) fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
        }
    }
}

/// One check's result. The fields are the doctor module's own business: checks build it
/// with [`Check::new`] and the builder methods, the report reads it.
#[derive(Clone, Debug)]
pub struct Check {
    /// Stable id, e.g. `config.valid` or `provider.openai`.
    id: String,
    /// Outcome.
    status: Status,
    /// Short name of what was checked.
    title: String,
    /// What was found.
    detail: String,
    /// What to do about it, when something is wrong.
    fix: Option<String>,
    /// The automatic repair, if there is one.
    action: Option<Action>,
    /// What `--fix` did about it (absent when no repair was attempted).
    repair: Option<Repair>,
}

/// The result of trying a check's automatic repair.
#[derive(Clone, Debug)]
enum Repair {
    /// Applied; what it changed.
    Applied(String),
    /// Declined, not confirmed or failed (the check's detail says which).
    NotApplied,
}

impl Check {
    pub(super) fn new(id: impl Into<String>, status: Status, title: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            status,
            title: title.into(),
            detail: String::new(),
            fix: None,
            action: None,
            repair: None,
        }
    }
    pub(super) fn detail(mut self, d: impl Into<String>) -> Check {
        self.detail = d.into();
        self
    }
    pub(super) fn fix(mut self, f: impl Into<String>) -> Check {
        self.fix = Some(f.into());
        self
    }
    pub(super) fn action(mut self, a: Action) -> Check {
        self.action = Some(a);
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "status": self.status.as_str(),
            "title": self.title,
            "detail": self.detail,
        });
        if let Some(f) = &self.fix {
            v["fix"] = json!(f);
        }
        match &self.repair {
            Some(Repair::Applied(changed)) => {
                v["fixed"] = json!(true);
                v["changed"] = json!(changed);
            }
            Some(Repair::NotApplied) => v["fixed"] = json!(false),
            None => {}
        }
        v
    }
}

/// Runs every check, applies fixes if asked, prints the report. Exit code 1 when any
/// check failed (after fixes).
pub async fn run(global: &Global, opts: &ClientOpts, o: Options) -> Result<ExitCode> {
    if o.check_env || o.provider.is_some() {
        let mut checks = Vec::new();
        if o.check_env {
            checks.extend(env::check_env(global)?);
        }
        if let Some(p) = &o.provider {
            checks.extend(env::check_provider(global, p, o.model.as_deref()).await?);
        }
        return Ok(report(&checks, opts.json));
    }
    let mut local = Local::load(global)?;
    let mut fixer = Fixer::new(o.fix, o.yes);
    let mut checks: Vec<Check> = Vec::new();

    let mut c = check_config(&local);
    if fixer.settle(&mut c) {
        local = Local::load(global)?;
    }
    checks.push(c);
    let raw_doc = read_raw_doc(&local.paths.config_path);
    checks.extend(raw_doc.as_ref().map(check_aliases).unwrap_or_default());
    let secrets_in_config = raw_doc.as_ref().is_some_and(holds_inline_secrets);
    for mut c in check_perms(&local.paths, secrets_in_config) {
        fixer.settle(&mut c);
        checks.push(c);
    }

    let probe = probe_gateway(&local, opts).await;
    checks.push(probe.check.clone());

    let mut c = check_auth(&local);
    if fixer.settle(&mut c) {
        local = Local::load(global)?;
        if probe.reachable {
            c.detail
                .push_str("; the running gateway applies it on its next config reload or restart");
        }
    }
    checks.push(c);

    let mut c = check_service(global, &local.paths);
    fixer.settle(&mut c);
    checks.push(c);
    checks.push(check_log_dir(&local));
    checks.extend(check_session_store(&local).await);
    checks.extend(check_providers(&local.config).await);
    checks.extend(check_channels(&local.config, probe.channels.as_ref()));
    Ok(report(&checks, opts.json))
}

/// Prints the checks (one `✓`/`!`/`✗` line each, the fix under it, then a summary; or
/// JSON) and gives exit code 1 when any failed.
fn report(checks: &[Check], json_out: bool) -> ExitCode {
    let ok = checks.iter().all(|c| c.status != Status::Fail);
    if json_out {
        print_json(&json!({
            "ok": ok,
            "checks": checks.iter().map(Check::to_json).collect::<Vec<_>>(),
        }));
    } else {
        for c in checks {
            let detail = if c.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", c.detail)
            };
            if let Some(Repair::Applied(what)) = &c.repair {
                println!("{} {}: fixed: {what}", c.status.mark(), c.title);
                println!("    was: {}", c.detail);
                continue;
            }
            println!("{} {}{detail}", c.status.mark(), c.title);
            if c.status != Status::Ok
                && let Some(f) = &c.fix
            {
                println!("    fix: {f}");
            }
        }
        let fails = checks.iter().filter(|c| c.status == Status::Fail).count();
        let warns = checks.iter().filter(|c| c.status == Status::Warn).count();
        println!(
            "{} checks: {} failed, {} warnings",
            checks.len(),
            fails,
            warns
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
