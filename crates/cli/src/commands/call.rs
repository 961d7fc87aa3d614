//! `openclaw gateway call <method>`: any RPC, payload printed as JSON.

use std::process::ExitCode;

use openclaw_protocol::scopes;

use super::{Global, print_json};
use crate::client::{ClientError, call_once, parse_params};
use crate::opts::ClientOpts;
use crate::target::Local;

/// Calls the method with full operator scopes (the caller holds the shared secret).
pub async fn run(
    global: &Global,
    opts: &ClientOpts,
    method: &str,
    params: Option<&str>,
    expect_final: bool,
) -> anyhow::Result<ExitCode> {
    let params = parse_params(params)?;
    let local = Local::load(global)?;
    let target = local.target(opts);
    let all = [
        scopes::ADMIN,
        scopes::READ,
        scopes::WRITE,
        scopes::APPROVALS,
        scopes::PAIRING,
    ];
    match call_once(&target, &all, method, params, expect_final).await {
        Ok(payload) => {
            print_json(&payload);
            Ok(ExitCode::SUCCESS)
        }
        Err(ClientError::Rpc(err)) if opts.json => {
            print_json(&serde_json::json!({ "ok": false, "error": err }));
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            local.warn_config();
            Err(e.into())
        }
    }
}
