//! `openclaw gateway [run]`: the daemon in the foreground.

use std::process::ExitCode;

use openclaw_config::{BindMode, Paths};
use openclaw_gateway::{GatewayError, RunOptions};

use super::Global;
use crate::{BindArg, RunArgs};

/// Runs the gateway until a signal; maps failures to the documented exit codes.
pub fn run(global: &Global, args: RunArgs) -> anyhow::Result<ExitCode> {
    let opts = RunOptions {
        port: args.port,
        bind: args.bind.map(|b| match b {
            BindArg::Loopback => BindMode::Loopback,
            BindArg::Lan => BindMode::Lan,
            BindArg::Custom => BindMode::Custom,
            BindArg::Auto => BindMode::Auto,
        }),
        token: args.token,
        password: args.password,
        force: args.force,
        verbose: args.verbose,
        dev: global.dev,
        allow_unconfigured: args.allow_unconfigured,
    };
    let paths = match Paths::from_process_env(global.profile.as_deref(), global.dev) {
        Ok(p) => p,
        Err(e) => return Ok(fail(&GatewayError::from(e))),
    };
    let prepared = match openclaw_gateway::Activation::prepare(paths, &opts) {
        Ok(p) => p,
        Err(e) => return Ok(fail(&e)),
    };
    let log_opts = prepared.log_options(opts.verbose);
    let handle = match openclaw_logs::init(&log_opts) {
        Ok(h) => h,
        Err(e) => {
            eprintln!(
                "Error: cannot set up logging at {}: {e}",
                log_opts.file.display()
            );
            // A pattern is a config problem (normally refused by validation already).
            let code = if matches!(e, openclaw_logs::LogError::InvalidPattern(_)) {
                78
            } else {
                1
            };
            return Ok(ExitCode::from(code));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(openclaw_gateway::run(prepared, &opts, handle));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            tracing::error!(target: "gateway", error = %e, "gateway failed");
            Ok(fail(&e))
        }
    }
}

fn fail(e: &GatewayError) -> ExitCode {
    eprintln!("Error: {e}");
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
}
