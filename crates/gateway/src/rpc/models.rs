//! `models.list`: the model catalog, in the row shape and with the read controls of the
//! original's `published-model-catalog` contract (see [`super::CAPABILITIES`]).
//!
//! The catalog is published with each config activation: `models.providers.*.models`,
//! plus the models an agent's chain names that no provider lists (the agent calls them all
//! the same). Nothing is discovered from providers, so every read is passive; a request
//! for provider discovery (`refresh`) is refused with a message saying where the catalog
//! comes from instead.

use std::collections::BTreeSet;
use std::net::IpAddr;

use openclaw_config::split_model_ref;
use openclaw_protocol::ErrorShape;
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_params;
use crate::catalog::{Agent, AgentTable};
use crate::state::AppState;

const METHOD: &str = "models.list";

/// Which rows a read returns (`view`).
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
enum View {
    /// The full catalog (this gateway has no model allowlist, so it equals `all`).
    #[default]
    Default,
    /// Only the models the agent is configured to use (primary and fallbacks).
    Configured,
    /// Only the models declared under `models.providers.*.models`.
    ProviderConfig,
    /// The full catalog.
    All,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListParams {
    agent_id: Option<String>,
    session_key: Option<String>,
    auth_profile_id: Option<String>,
    provider: Option<String>,
    include_details: Option<bool>,
    include_provider_capabilities: Option<bool>,
    include_default_models: Option<bool>,
    prepared_only: Option<bool>,
    refresh: Option<bool>,
    view: Option<View>,
}

/// `models.list {view?, agentId?, sessionKey?, provider?, includeDetails?, preparedOnly?}`.
pub fn list(state: &AppState, params: &Value) -> Result<Value, ErrorShape> {
    let p: ListParams = parse_params(METHOD, params)?;
    if p.prepared_only == Some(true) && p.refresh == Some(true) {
        return Err(ErrorShape::invalid(
            "invalid params for models.list: preparedOnly and refresh are mutually exclusive",
        ));
    }
    if p.refresh == Some(true) {
        return Err(ErrorShape::invalid(
            "models.list refresh is not supported: this gateway does not discover models from \
             providers; its catalog is models.providers.<id>.models plus the agents' model \
             chains. Add models there (the next config reload publishes them) and list again \
             without --refresh",
        ));
    }
    if p.session_key.is_some() && p.auth_profile_id.is_some() {
        return Err(ErrorShape::invalid(
            "invalid params for models.list: sessionKey and authProfileId are mutually exclusive",
        ));
    }
    if p.auth_profile_id.is_some() {
        return Err(ErrorShape::invalid(
            "models.list authProfileId is not supported: this gateway has no auth profiles; \
             provider credentials come from models.providers.<id>.apiKey",
        ));
    }
    for (set, name) in [
        (
            p.include_provider_capabilities,
            "includeProviderCapabilities",
        ),
        (p.include_default_models, "includeDefaultModels"),
    ] {
        if set == Some(true) {
            return Err(ErrorShape::invalid(format!(
                "models.list {name} is not supported by this gateway; omit it"
            )));
        }
    }
    let live = state.live();
    let table = &live.agents;
    let agent = target_agent(table, p.agent_id.as_deref(), p.session_key.as_deref())?;
    let provider = match p.provider.as_deref().map(str::trim) {
        Some(id) => Some(known_provider(table, id)?),
        None => None,
    };
    let details = p.include_details == Some(true);
    let view = p.view.unwrap_or_default();

    let mut rows = Vec::new();
    let mut seen = BTreeSet::new();
    for declared in table.models() {
        let (Some(pid), Some(mid)) = (declared["provider"].as_str(), declared["id"].as_str())
        else {
            continue;
        };
        seen.insert(format!("{pid}/{mid}"));
        rows.push(declared.clone());
    }
    if view != View::ProviderConfig {
        for raw in &agent.chain_refs {
            let Some((pid, mid)) = split_model_ref(raw) else {
                continue;
            };
            if seen.insert(raw.clone()) {
                rows.push(json!({"id": mid, "name": mid, "provider": pid}));
            }
        }
    }

    let models: Vec<Value> = rows
        .into_iter()
        .filter_map(|mut row| {
            let pid = row["provider"].as_str()?.to_owned();
            let key = format!("{pid}/{}", row["id"].as_str()?);
            if provider.is_some_and(|want| want != pid) {
                return None;
            }
            let tags = tags_for(agent, &key);
            if view == View::Configured && tags.is_empty() {
                return None;
            }
            if !tags.is_empty() {
                row["tags"] = json!(tags);
            }
            let endpoint = table.provider(&pid);
            let local = endpoint.map(|p| is_local_endpoint(p.base_url()));
            match endpoint {
                Some(p) if usable(p) => {
                    row["available"] = json!(true);
                }
                Some(_) => {
                    row["available"] = json!(false);
                    row["unavailableReason"] = json!("missing-auth");
                }
                // A declared model whose provider failed to build cannot be called.
                None => row["available"] = json!(false),
            }
            if details {
                if let Some(local) = local {
                    row["local"] = json!(local);
                }
            } else if let Some(obj) = row.as_object_mut() {
                // Input modalities are a detail, as in the original's rows.
                obj.remove("input");
            }
            if let Some(obj) = row.as_object_mut() {
                obj.retain(|_, v| !v.is_null());
            }
            Some(row)
        })
        .collect();
    Ok(json!({ "models": models }))
}

/// The agent whose configured models are tagged: `agentId`, the agent of `sessionKey`,
/// or the default agent.
fn target_agent<'a>(
    table: &'a AgentTable,
    agent_id: Option<&str>,
    session_key: Option<&str>,
) -> Result<&'a Agent, ErrorShape> {
    let from_session = match session_key {
        Some(raw) => Some(
            crate::agents::session_key_for(raw)
                .map_err(|e| ErrorShape::invalid(format!("invalid params for models.list: {e}")))?
                .agent_id,
        ),
        None => None,
    };
    if let (Some(a), Some(s)) = (agent_id, from_session.as_deref())
        && !a.eq_ignore_ascii_case(s)
    {
        return Err(ErrorShape::invalid(format!(
            "invalid params for models.list: agentId {a:?} conflicts with sessionKey of agent {s:?}"
        )));
    }
    match agent_id.or(from_session.as_deref()) {
        None => Ok(table.default_agent()),
        Some(id) => table
            .agents()
            .iter()
            .find(|a| a.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                let known: Vec<&str> = table.agents().iter().map(|a| a.id.as_str()).collect();
                ErrorShape::invalid(format!(
                    "unknown agent {id:?} for models.list; configured agents: {}",
                    known.join(", ")
                ))
            }),
    }
}

/// A provider filter must name a provider of the catalog.
fn known_provider<'a>(table: &AgentTable, id: &'a str) -> Result<&'a str, ErrorShape> {
    let declared = table
        .models()
        .iter()
        .filter_map(|m| m["provider"].as_str())
        .any(|p| p == id);
    if declared || table.provider(id).is_some() {
        return Ok(id);
    }
    let mut known: BTreeSet<&str> = table
        .models()
        .iter()
        .filter_map(|m| m["provider"].as_str())
        .collect();
    for a in table.agents() {
        known.extend(a.chain.iter().map(|t| t.provider.id()));
    }
    Err(ErrorShape::invalid(format!(
        "unknown provider {id:?} for models.list; known providers: {}",
        if known.is_empty() {
            "none (add one under models.providers)".to_owned()
        } else {
            known.into_iter().collect::<Vec<_>>().join(", ")
        }
    )))
}

/// The original's tags for a model of the agent's chain: `default` for the primary,
/// `fallback#N` for the N-th fallback.
fn tags_for(agent: &Agent, key: &str) -> Vec<String> {
    agent
        .chain_refs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_str() == key)
        .map(|(i, _)| {
            if i == 0 {
                "default".to_owned()
            } else {
                format!("fallback#{i}")
            }
        })
        .collect()
}

/// Whether an API root is on this machine or a private network (a self-hosted model
/// server), as opposed to a hosted API.
/// Whether a provider can be called: it has credentials, or it is a local endpoint that
/// needs none. `models.list` rows and the `status` summary both answer by it.
pub fn usable(p: &openclaw_providers::Provider) -> bool {
    p.has_credentials() || is_local_endpoint(p.base_url())
}

/// `status.providers`: how many providers can be called, of how many, and each one's
/// verdict (`reason` says why one cannot).
pub fn provider_summary(table: &AgentTable) -> Value {
    let list: Vec<Value> = table
        .providers()
        .map(|(id, p)| {
            let ok = usable(p);
            let mut row = json!({"id": id, "available": ok});
            if !ok {
                row["reason"] = json!(format!(
                    "no credentials: set models.providers.{id}.apiKey (or the provider's API key variable)"
                ));
            }
            row
        })
        .collect();
    let available = list.iter().filter(|r| r["available"] == true).count();
    json!({"available": available, "configured": list.len(), "list": list})
}

fn is_local_endpoint(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return is_local_ip(ip);
    }
    let name = host.to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.ends_with(".local")
}

fn is_local_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_endpoints() {
        for local in [
            "http://127.0.0.1:11434/v1",
            "http://localhost:8080",
            "http://[::1]:9000/v1",
            "http://192.168.1.20:11434",
            "http://10.0.0.5/v1",
            "http://gpu-box.local:8000/v1",
        ] {
            assert!(is_local_endpoint(local), "{local}");
        }
        for hosted in [
            "https://api.openai.com/v1",
            "https://api.anthropic.com",
            "http://8.8.8.8/v1",
            "not a url",
        ] {
            assert!(!is_local_endpoint(hosted), "{hosted}");
        }
    }
}
