//! RPC: the method table ([`METHODS`]), scope enforcement, dispatch, and the handlers.

pub mod agent;
mod approvals;
mod cache;
mod channels;
mod config;
mod core;
mod models;
mod sessions;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use openclaw_protocol::error::auth_detail;
use openclaw_protocol::methods::capabilities;
use openclaw_protocol::{ErrorCode, ErrorShape, MethodAccess, Role, methods};
use serde_json::{Value, json};

use crate::agents::{AGENT_EVENT, CHAT_EVENT};
use crate::conns::ConnHandle;
use crate::state::AppState;

/// Who is calling.
pub struct CallContext {
    /// The caller's connection (scopes, outbound queue).
    pub conn: Arc<ConnHandle>,
    /// The caller's role.
    pub role: Role,
}

/// One request as a handler sees it.
pub struct Call<'a> {
    /// The listener generation serving it.
    pub state: &'a Arc<AppState>,
    /// The caller.
    pub ctx: &'a CallContext,
    /// The request id (two-stage methods answer on it again later).
    pub req_id: &'a str,
    /// `params`, `null` when absent.
    pub params: Value,
}

/// A handler's answer: the `res` payload, or `None` when the handler already queued its
/// response itself (two-stage `agent`: `accepted` now, the result later on the same id).
pub type Reply = Option<Value>;

/// A method handler.
pub type Handler = for<'a> fn(Call<'a>) -> BoxFuture<'a, Result<Reply, ErrorShape>>;

/// One RPC method: its wire name, the access it needs, and what runs it.
pub struct Method {
    /// Wire name.
    pub name: &'static str,
    /// Who may call it.
    pub access: MethodAccess,
    handler: Handler,
}

/// A table entry: `method!(name, Access, |c| <expr>)`, where the expression (evaluated in
/// an async block, so it may `.await`) yields `Result<Value, ErrorShape>`; with `raw`, it
/// yields `Result<Reply, ErrorShape>`.
macro_rules! method {
    ($name:expr, $access:ident, |$c:ident| $body:expr) => {
        method!(raw $name, $access, |$c| {
            let r: Result<Value, ErrorShape> = $body;
            r.map(Some)
        })
    };
    (raw $name:expr, $access:ident, |$c:ident| $body:expr) => {
        Method {
            name: $name,
            access: MethodAccess::$access,
            handler: {
                fn handler<'a>($c: Call<'a>) -> BoxFuture<'a, Result<Reply, ErrorShape>> {
                    Box::pin(async move { $body })
                }
                handler
            },
        }
    };
}

/// Every method this gateway serves: `hello-ok.features.methods`, scope checks and
/// dispatch all read this one table, so they cannot disagree. A method's access is
/// decided here when it is added; there is no default.
pub static METHODS: &[Method] = &[
    method!(methods::HEALTH, Open, |c| Ok(core::health(
        c.state, &c.params
    )
    .await)),
    method!(methods::STATUS, Read, |c| Ok(core::status(c.state).await)),
    method!(methods::SYSTEM_PRESENCE, Read, |c| Ok(
        core::system_presence(c.state)
    )),
    method!(methods::LOGS_TAIL, Read, |c| core::logs_tail(
        c.state, &c.params
    )
    .await),
    method!(methods::CONFIG_GET, Read, |c| Ok(core::config_get(c.state))),
    method!(raw "agent", Write, |c| agent::agent(c.state, c.ctx, c.req_id, &c.params) .await .map(|()| None)),
    method!("agent.wait", Read, |c| agent::agent_wait(
        c.state, &c.params
    )
    .await),
    method!("chat.send", Write, |c| agent::chat_send(c.state, &c.params)
        .await),
    method!("chat.history", Read, |c| agent::chat_history(
        c.state, &c.params
    )
    .await),
    method!("chat.abort", Write, |c| agent::chat_abort(
        c.state, &c.params
    )
    .await),
    method!("agents.list", Read, |c| Ok(agent::agents_list(c.state))),
    method!("exec.approval.list", Approvals, |c| Ok(approvals::list(
        c.state
    ))),
    method!("exec.approval.resolve", Approvals, |c| approvals::resolve(
        c.state, &c.params
    )),
    method!("models.list", Read, |c| models::list(c.state, &c.params)),
    method!("sessions.list", Read, |c| sessions::list(
        c.state, &c.params
    )
    .await),
    method!("sessions.preview", Read, |c| sessions::preview(
        c.state, &c.params
    )
    .await),
    method!("sessions.reset", Admin, |c| sessions::reset(
        c.state, &c.params
    )
    .await),
    method!("sessions.delete", Admin, |c| sessions::delete(
        c.state, &c.params
    )
    .await),
    method!("config.set", Admin, |c| config::write(
        c.state,
        &c.params,
        config::WriteKind::Set
    )
    .await),
    method!("config.patch", Admin, |c| config::write(
        c.state,
        &c.params,
        config::WriteKind::Patch
    )
    .await),
    method!("config.apply", Admin, |c| config::write(
        c.state,
        &c.params,
        config::WriteKind::Set
    )
    .await),
    method!("config.reload", Admin, |c| config::reload_now(c.state)
        .await),
    method!("config.schema", Read, |_c| Ok(config::schema())),
    method!("secrets.reload", Admin, |c| config::secrets_reload(c.state)
        .await),
    method!("channels.status", Read, |c| channels::status(
        c.state, &c.params
    )
    .await),
    method!("send", Write, |c| channels::send(c.state, &c.params).await),
    method!("cache.clear", Admin, |c| Ok(cache::clear(c.state))),
];

/// Every event this gateway may send, as advertised in `hello-ok.features.events`.
pub const EVENTS: &[&str] = &[
    methods::events::CONNECT_CHALLENGE,
    methods::events::TICK,
    methods::events::HEALTH,
    methods::events::PRESENCE,
    methods::events::SHUTDOWN,
    methods::events::EXEC_APPROVAL_REQUESTED,
    methods::events::EXEC_APPROVAL_RESOLVED,
    AGENT_EVENT,
    CHAT_EVENT,
    "config.changed",
];

/// The contracts this gateway implements, under the original's capability names: sent in
/// the `connect.challenge` payload's `capabilities` and in `hello-ok.features.capabilities`
/// (clients refuse a command whose contract the gateway does not list, so an entry is
/// added here only with the behaviour it names).
///
/// - `published-model-catalog`: `models.list` reads the catalog published with the config
///   activation, with `view`, `provider`, `includeDetails` and `preparedOnly` (see
///   [`models`]).
pub const CAPABILITIES: &[&str] = &[capabilities::PUBLISHED_MODEL_CATALOG];

impl Method {
    /// Whether a call counts against the caller's `gateway.rateLimit` budget. Every method
    /// does except the operator's controls (admin-scoped methods: `config.set`, …) and the
    /// `health` / `status` probes, so an operator whose clients used up the budget can
    /// still see it and lower it (`openclaw config set gateway.rate_limit…`).
    pub fn is_metered(&self) -> bool {
        self.access != MethodAccess::Admin
            && self.name != methods::HEALTH
            && self.name != methods::STATUS
    }
}

/// The table entry for `name`.
pub fn method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// Method names in table order (`hello-ok.features.methods`).
pub fn method_names() -> impl Iterator<Item = &'static str> {
    METHODS.iter().map(|m| m.name)
}

/// Runs one request after checking that the method exists and the caller may call it.
/// Returns `Ok(None)` when the handler queued its response itself (two-stage `agent`).
pub async fn dispatch(
    state: &Arc<AppState>,
    ctx: &CallContext,
    req_id: &str,
    method_name: &str,
    params: Option<Value>,
) -> Result<Reply, ErrorShape> {
    let started = std::time::Instant::now();
    let slot = METHODS.iter().position(|m| m.name == method_name);
    let result = run_method(state, ctx, req_id, method_name, slot, params).await;
    state.shared.metrics.rpc(
        slot,
        slot.map_or("unknown", |i| METHODS[i].name),
        result.as_ref().map(|_| ()).map_err(|e| e.code),
        started.elapsed(),
    );
    result
}

/// [`dispatch`] less the metrics: checks and runs the method at `slot`.
async fn run_method(
    state: &Arc<AppState>,
    ctx: &CallContext,
    req_id: &str,
    method_name: &str,
    slot: Option<usize>,
    params: Option<Value>,
) -> Result<Reply, ErrorShape> {
    if method_name == methods::CONNECT {
        return Err(ErrorShape::invalid(
            "already connected: connect is valid only as the first request",
        ));
    }
    let Some(m) = slot.map(|i| &METHODS[i]) else {
        return Err(ErrorShape::invalid(format!(
            "unknown method: {method_name}"
        )));
    };
    authorize(ctx, m)?;
    // While draining, reads still answer; nothing new is started or changed.
    if state.is_draining() && !matches!(m.access, MethodAccess::Open | MethodAccess::Read) {
        return Err(ErrorShape::unavailable(format!(
            "gateway is shutting down; {method_name} was not run: retry once it is back \
             (a supervisor restarts it; `openclaw gateway status` shows when)"
        ))
        .retry_after(state.drain_retry_after_ms()));
    }
    let call = Call {
        state,
        ctx,
        req_id,
        params: params.unwrap_or(Value::Null),
    };
    (m.handler)(call).await
}

/// Role and scope check, with the `MISSING_SCOPE` details clients branch on.
fn authorize(ctx: &CallContext, m: &Method) -> Result<(), ErrorShape> {
    let (access, method) = (m.access, m.name);
    if access == MethodAccess::Open {
        return Ok(());
    }
    if ctx.role != Role::Operator {
        return Err(ErrorShape::new(
            ErrorCode::Forbidden,
            format!(
                "role {} cannot call {method}; connect as operator",
                ctx.role.as_str()
            ),
        ));
    }
    if access.allows(&ctx.conn.scopes) {
        return Ok(());
    }
    let missing = access.primary_scope().unwrap_or_default();
    Err(
        ErrorShape::new(ErrorCode::Forbidden, format!("missing scope: {missing}")).with_details(
            json!({
                "code": auth_detail::MISSING_SCOPE,
                "missingScope": missing,
                "requiredScopes": access.satisfying_scopes(),
            }),
        ),
    )
}

/// Deserializes method parameters, turning serde's message into an `INVALID_REQUEST`.
pub(crate) fn parse_params<T: serde::de::DeserializeOwned + Default>(
    method: &str,
    params: &Value,
) -> Result<T, ErrorShape> {
    if params.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(params.clone())
        .map_err(|e| ErrorShape::invalid(format!("invalid params for {method}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each method has its own metrics slot; one past the slots would be counted as
    /// `unknown`, so the table must not outgrow them.
    #[test]
    fn method_table_fits_the_metrics_slots() {
        assert!(METHODS.len() <= crate::metrics::RPC_SLOTS);
        assert!(METHODS.iter().all(|m| m.name != "unknown"));
    }
}
