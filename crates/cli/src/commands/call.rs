//! `openclaw call <method>` (and its long form `openclaw gateway call`): any RPC, payload
//! printed as JSON.

use std::process::ExitCode;

use openclaw_protocol::scopes;

use super::{Global, print_json};
use crate::client::{ClientError, call_once, parse_params};
use crate::opts::ClientOpts;
use crate::target::Local;

/// One `call`: what to call and where.
pub struct Request<'a> {
    /// Method name.
    pub method: &'a str,
    /// `--params` as given (a JSON object).
    pub params: Option<&'a str>,
    /// `--expect-final`: skip the interim `accepted` of two-stage methods.
    pub expect_final: bool,
    /// `--port`: the local gateway on this loopback port instead of the configured one.
    pub port: Option<u16>,
}

/// Calls the method with full operator scopes (the caller holds the shared secret).
/// `openclaw call` and `openclaw gateway call` both end here.
pub async fn run(global: &Global, opts: &ClientOpts, req: Request<'_>) -> anyhow::Result<ExitCode> {
    let Request {
        method,
        params,
        expect_final,
        port,
    } = req;
    let params = parse_params(params)?;
    let mut local = Local::load(global)?;
    if let Some(p) = port {
        // Still this machine's instance: its credentials apply, as for the configured port.
        local.port = p;
    }
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
