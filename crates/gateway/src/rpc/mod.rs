//! RPC dispatch: method table, scope enforcement, and the handlers.

pub mod agent;
mod channels;
mod config;
mod core;
mod sessions;

use std::sync::Arc;

use openclaw_protocol::error::auth_detail;
use openclaw_protocol::{ErrorCode, ErrorShape, MethodAccess, Role, methods};
use serde_json::{Value, json};

use crate::state::AppState;
use crate::ws::registry::ConnHandle;

/// Every method this gateway serves, as advertised in `hello-ok.features.methods`.
pub const METHODS: &[&str] = &[
    methods::HEALTH,
    methods::STATUS,
    methods::SYSTEM_PRESENCE,
    methods::LOGS_TAIL,
    methods::CONFIG_GET,
    "agent",
    "agent.wait",
    "chat.send",
    "chat.history",
    "chat.abort",
    "agents.list",
    "models.list",
    "sessions.list",
    "sessions.preview",
    "sessions.reset",
    "sessions.delete",
    "config.set",
    "config.patch",
    "config.apply",
    "config.reload",
    "config.schema",
    "secrets.reload",
    "channels.status",
    "send",
];

/// Every event this gateway may send, as advertised in `hello-ok.features.events`.
pub const EVENTS: &[&str] = &[
    methods::events::CONNECT_CHALLENGE,
    methods::events::TICK,
    methods::events::HEALTH,
    methods::events::PRESENCE,
    methods::events::SHUTDOWN,
    agent::AGENT_EVENT,
    agent::CHAT_EVENT,
    "config.changed",
];

/// Who is calling.
pub struct CallContext {
    /// The caller's connection (scopes, outbound queue).
    pub conn: Arc<ConnHandle>,
    /// The caller's role.
    pub role: Role,
}

/// Runs one request after checking that the method exists and the caller may call it.
/// `req_id` lets two-stage methods (`agent`) answer on the same id later; they send their
/// first answer themselves (so it is queued before the second can be) and return `Ok(None)`.
pub async fn dispatch(
    state: &Arc<AppState>,
    ctx: &CallContext,
    req_id: &str,
    method: &str,
    params: Option<Value>,
) -> Result<Option<Value>, ErrorShape> {
    if method == "agent" {
        check(ctx, method)?;
        let params = params.unwrap_or(Value::Null);
        return agent::agent(state, ctx, req_id, &params)
            .await
            .map(|()| None);
    }
    call(state, ctx, method, params).await.map(Some)
}

fn check(ctx: &CallContext, method: &str) -> Result<(), ErrorShape> {
    if !METHODS.contains(&method) {
        return Err(ErrorShape::invalid(format!("unknown method: {method}")));
    }
    authorize(ctx, method)
}

async fn call(
    state: &Arc<AppState>,
    ctx: &CallContext,
    method: &str,
    params: Option<Value>,
) -> Result<Value, ErrorShape> {
    if method == methods::CONNECT {
        return Err(ErrorShape::invalid(
            "already connected: connect is valid only as the first request",
        ));
    }
    check(ctx, method)?;
    let params = params.unwrap_or(Value::Null);
    match method {
        methods::HEALTH => Ok(core::health(state, &params)),
        methods::STATUS => Ok(state.status()),
        methods::SYSTEM_PRESENCE => Ok(core::system_presence(state)),
        methods::LOGS_TAIL => core::logs_tail(state, &params).await,
        methods::CONFIG_GET => Ok(core::config_get(state)),
        "agent.wait" => agent::agent_wait(state, &params).await,
        "chat.send" => agent::chat_send(state, &params).await,
        "chat.history" => agent::chat_history(state, &params).await,
        "chat.abort" => agent::chat_abort(state, &params).await,
        "agents.list" => Ok(agent::agents_list(state)),
        "models.list" => Ok(agent::models_list(state)),
        "sessions.list" => sessions::list(state, &params).await,
        "sessions.preview" => sessions::preview(state, &params).await,
        "sessions.reset" => sessions::reset(state, &params).await,
        "sessions.delete" => sessions::delete(state, &params).await,
        "config.set" | "config.apply" => {
            config::write(state, &params, config::WriteKind::Set).await
        }
        "config.patch" => config::write(state, &params, config::WriteKind::Patch).await,
        "config.reload" => config::reload_now(state).await,
        "config.schema" => Ok(config::schema()),
        "secrets.reload" => config::secrets_reload(state).await,
        "channels.status" => channels::status(state, &params).await,
        "send" => channels::send(state, &params).await,
        _ => Err(ErrorShape::invalid(format!("unknown method: {method}"))),
    }
}

/// Role and scope check, with the `MISSING_SCOPE` details clients branch on.
fn authorize(ctx: &CallContext, method: &str) -> Result<(), ErrorShape> {
    let access = MethodAccess::of(method);
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
