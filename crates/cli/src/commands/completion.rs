//! `openclaw completion <shell>`: prints a shell completion script generated from the
//! command definitions, so it always matches this binary's commands and flags.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// Writes the completion script for `shell` to stdout.
pub fn run(shell: Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(shell, &mut cmd, "openclaw", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
