//! `openclaw setup`: the non-interactive first run. Writes a config the gateway starts on
//! without `--allow-unconfigured` (`gateway.mode: "local"`) with a freshly generated
//! token, and says where; the token itself is never printed (local commands read it from
//! the file; `config get gateway.auth.token --show-secrets` shows it on purpose).

use std::process::ExitCode;

use anyhow::{Result, bail};
use openclaw_config::{AtomicWrite, Expect, Paths};
use serde_json::json;

use super::{Global, print_json};

/// Flags of `openclaw setup`.
#[derive(clap::Args)]
pub struct SetupArgs {
    /// Replace an existing config file (the previous one is kept as <name>.bak).
    #[arg(long)]
    pub force: bool,
    /// Print machine-readable JSON: {ok, path, stateDir, profile, gatewayMode, tokenGenerated, replaced}.
    #[arg(long)]
    pub json: bool,
}

/// Writes the first-run config for this instance (`--dev`: the dev profile's).
pub fn run(global: &Global, args: &SetupArgs) -> Result<ExitCode> {
    let paths = Paths::from_process_env(global.profile.as_deref(), global.dev)?;
    let path = &paths.config_path;
    let existed = path.exists();
    if existed && !args.force {
        bail!(
            "{} already exists; setup does not overwrite a config. Pass --force to replace it (the old one is kept as .bak), or change single keys with `openclaw config set PATH VALUE`",
            path.display()
        );
    }
    let token = openclaw_gateway::token::generate_token()?;
    let config = json!({
        "gateway": {
            "mode": "local",
            "auth": { "mode": "token", "token": token },
        },
    });
    let text = format!("{}\n", serde_json::to_string_pretty(&config)?);
    // The atomic writer creates a missing state dir owner-only (0700).
    let write = AtomicWrite {
        backup: existed,
        new_mode: 0o600,
        expect: if existed {
            Expect::Anything
        } else {
            Expect::Missing
        },
    };
    crate::posture::write_file(path, text.as_bytes(), &write, "the config")?;
    let flags = match (&paths.profile, paths.dev) {
        (_, true) => " --dev".to_owned(),
        (Some(p), false) => format!(" --profile {p}"),
        (None, false) => String::new(),
    };
    if args.json {
        print_json(&json!({
            "ok": true,
            "path": path,
            "stateDir": paths.state_dir,
            "profile": paths.profile,
            "gatewayMode": "local",
            "tokenGenerated": true,
            "replaced": existed,
        }));
    } else {
        println!(
            "{} {} (gateway.mode=local, gateway.auth.token generated; local commands use it, `openclaw{flags} config get gateway.auth.token --show-secrets` shows it).",
            if existed { "Replaced" } else { "Wrote" },
            path.display()
        );
        println!("Start the gateway with `openclaw{flags} gateway`.");
    }
    Ok(ExitCode::SUCCESS)
}
