//! `models` (providers) and `agents` sections.
//!
//! A model is always named `<provider>/<model>`: the provider part picks an entry of
//! `models.providers`, the rest is sent upstream as the model id. Agents name their model
//! chain (primary, then fallbacks) with such references.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::schema::Secret;

/// `models`: the model providers the gateway can call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// `merge` (default) or `replace`; accepted for compatibility with OpenClaw files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Providers by id.
    pub providers: BTreeMap<String, ProviderEntry>,
}

/// Wire format a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderApi {
    /// OpenAI Chat Completions (`POST {baseUrl}/chat/completions`).
    OpenaiCompletions,
    /// OpenAI Responses (`POST {baseUrl}/responses`).
    OpenaiResponses,
    /// Anthropic Messages (`POST {baseUrl}/v1/messages`).
    AnthropicMessages,
}

/// `models.providers.<id>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderEntry {
    /// API root, e.g. `https://api.openai.com/v1` or `https://api.anthropic.com`.
    pub base_url: String,
    /// API key (a string, or `${ENV}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// Wire format.
    pub api: ProviderApi,
    /// Models this provider offers (informational; any id is passed through).
    #[serde(default)]
    pub models: Vec<ModelEntry>,
    /// Extra request headers. Every value is a secret (a string, `${ENV}` or a
    /// SecretRef): such headers are how proxies and gateways in front of a model API
    /// take credentials, so they are redacted wherever the config is shown, resolved like
    /// other references, and scrubbed from upstream error text.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// Longest wait for response headers and between stream chunks (default 120 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// How the key is sent; accepted for compatibility, only `api-key` is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

/// One model of a provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelEntry {
    /// Upstream model id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Context window in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// Output token cap sent upstream when the request does not set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Whether the model reasons (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
    /// Input modalities (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Vec<String>>,
    /// Pricing (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<serde_json::Value>,
}

/// A model chain: a bare `"provider/model"` or `{primary, fallbacks}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ModelRef {
    /// Just a primary model.
    Single(String),
    /// Primary and fallbacks.
    Chain(ModelChain),
}

/// `{primary, fallbacks}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelChain {
    /// Tried first.
    pub primary: String,
    /// Tried in order when the previous one fails with a retryable error.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

impl ModelRef {
    /// Every reference in order: primary, then fallbacks.
    pub fn chain(&self) -> Vec<String> {
        match self {
            ModelRef::Single(s) => vec![s.clone()],
            ModelRef::Chain(c) => std::iter::once(c.primary.clone())
                .chain(c.fallbacks.iter().cloned())
                .collect(),
        }
    }
}

/// `agents`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// Settings every agent inherits.
    pub defaults: AgentDefaults,
    /// The agents; with none, a single agent `main` exists.
    pub list: Vec<AgentEntry>,
}

/// `agents.defaults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AgentDefaults {
    /// Default model chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    /// Model allowlist/aliases (accepted for compatibility; not enforced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<serde_json::Value>,
    /// The tool workspace of the default agent: the directory file tools are confined
    /// to and commands run in (`~/` expands to HOME). Unset means `<stateDir>/workspace`;
    /// other agents without their own `workspace` get `<this>/<agentId>` when it is set,
    /// else `<stateDir>/workspace-<agentId>` (see [`AgentsConfig::workspace_dir`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Sandbox for tool execution (`mode`, `backend`, `workspaceAccess`, …); per-agent
    /// `sandbox` keys override these one by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<crate::tools::SandboxConfig>,
    /// System prompt sent before every conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Longest a run may take, in seconds (default 600).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Transcript entries sent as history on each turn (default 200).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_limit: Option<usize>,
    /// Largest answer (text plus tool-call arguments) a model may stream into one turn, in
    /// bytes (default 2 MiB). Past it the turn stops with an error; the text up to the
    /// limit is kept in the transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_answer_bytes: Option<usize>,
    /// Model answers that call gateway tools one turn may have before it is stopped with
    /// an error (default 25): a model that keeps calling tools without ever answering
    /// would otherwise run until the turn's time limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tool_rounds: Option<usize>,
    /// Embedding model used by `/v1/embeddings`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<EmbeddingsConfig>,
}

/// `embeddings`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbeddingsConfig {
    /// `"provider/model"`.
    pub model: String,
}

/// `agents.list[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentEntry {
    /// Agent id: lowercase letters, digits, `-`, `_`.
    pub id: String,
    /// Whether this is the default agent.
    #[serde(default)]
    pub default: bool,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Model chain overriding the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    /// This agent's tool workspace (overrides the default; see
    /// [`AgentsConfig::workspace_dir`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Sandbox keys overriding `agents.defaults.sandbox` for this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<crate::tools::SandboxConfig>,
    /// Tool policy for this agent: `profile` replaces `tools.profile`, lists restrict
    /// further, `sandbox.tools` replaces `tools.sandbox.tools`, `exec` overrides keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<crate::tools::AgentToolsConfig>,
    /// System prompt overriding the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Embeddings overriding the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<EmbeddingsConfig>,
}

/// The agent id used when `agents.list` is empty.
pub const DEFAULT_AGENT_ID: &str = "main";

impl AgentEntry {
    /// An entry with only an id, everything else inherited from the defaults.
    pub fn bare(id: &str) -> AgentEntry {
        AgentEntry {
            id: id.to_owned(),
            default: false,
            name: None,
            model: None,
            workspace: None,
            sandbox: None,
            tools: None,
            system_prompt: None,
            embeddings: None,
        }
    }
}

impl AgentsConfig {
    /// The default agent: the one marked `default: true`, else the first listed, else
    /// [`DEFAULT_AGENT_ID`].
    pub fn default_agent_id(&self) -> &str {
        self.list
            .iter()
            .find(|a| a.default)
            .or(self.list.first())
            .map(|a| a.id.as_str())
            .unwrap_or(DEFAULT_AGENT_ID)
    }

    /// The entry of `agent_id` and its index in `agents.list`, if listed.
    pub fn entry(&self, agent_id: &str) -> Option<(usize, &AgentEntry)> {
        self.list.iter().enumerate().find(|(_, a)| a.id == agent_id)
    }

    /// The tool workspace of `agent_id`, following OpenClaw: the agent's own
    /// `workspace`; for the default agent `agents.defaults.workspace`, else
    /// `<stateDir>/workspace`; for any other agent `<agents.defaults.workspace>/<id>`
    /// when that is set, else `<stateDir>/workspace-<id>`. A leading `~/` expands to
    /// `home`. Pure: nothing is created (the tool runtime creates it on first use).
    pub fn workspace_dir(
        &self,
        agent_id: &str,
        state_dir: &std::path::Path,
        home: Option<&str>,
    ) -> std::path::PathBuf {
        use crate::tools::expand_home;
        if let Some(ws) = self
            .entry(agent_id)
            .and_then(|(_, a)| a.workspace.as_deref())
        {
            return expand_home(ws, home);
        }
        let shared = self
            .defaults
            .workspace
            .as_deref()
            .map(|w| expand_home(w, home));
        if agent_id == self.default_agent_id() {
            shared.unwrap_or_else(|| state_dir.join("workspace"))
        } else {
            match shared {
                Some(root) => root.join(agent_id),
                None => state_dir.join(format!("workspace-{agent_id}")),
            }
        }
    }
}

/// Providers usable without a `models.providers` entry: their well-known endpoints, with
/// the key from the usual environment variable at activation.
pub const IMPLICIT_PROVIDERS: &[(&str, &str, ProviderApi, &str)] = &[
    (
        "openai",
        "https://api.openai.com/v1",
        ProviderApi::OpenaiResponses,
        "OPENAI_API_KEY",
    ),
    (
        "anthropic",
        "https://api.anthropic.com",
        ProviderApi::AnthropicMessages,
        "ANTHROPIC_API_KEY",
    ),
];

/// Whether an agent id is well-formed.
pub fn valid_agent_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Splits `"provider/model"`.
pub fn split_model_ref(raw: &str) -> Option<(&str, &str)> {
    let (p, m) = raw.split_once('/')?;
    (!p.is_empty() && !m.is_empty()).then_some((p, m))
}

/// Rewrites bare model ids (`"gpt-4o"`, no provider) in every agent's model chain and
/// embeddings into `"provider/model"`, by the providers whose `models` list has that id.
/// None or several → an error listing the candidates. The file keeps what was written.
pub(crate) fn resolve_bare_models(
    models: Option<&ModelsConfig>,
    agents: Option<&mut AgentsConfig>,
) -> Result<(), ConfigError> {
    let Some(agents) = agents else {
        return Ok(());
    };
    let all: Vec<String> = models
        .into_iter()
        .flat_map(|m| m.providers.iter())
        .flat_map(|(p, e)| e.models.iter().map(move |m| format!("{p}/{}", m.id)))
        .collect();
    let resolve = |path: &str, raw: &mut String| -> Result<(), ConfigError> {
        if raw.contains('/') || raw.trim().is_empty() {
            return Ok(());
        }
        let hits: Vec<&String> = all
            .iter()
            .filter(|r| r.split_once('/').is_some_and(|(_, m)| m == raw))
            .collect();
        match hits.as_slice() {
            [one] => {
                *raw = (*one).clone();
                Ok(())
            }
            [] => Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "no configured provider lists model {raw:?}; write \"<provider>/<model>\" or add it to a provider's models ({})",
                    if all.is_empty() {
                        "no provider lists any models".to_owned()
                    } else {
                        format!("listed: {}", all.join(", "))
                    }
                ),
            }),
            many => Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "model {raw:?} is offered by several providers; pick one of: {}",
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    };
    let chain = |path: &str, r: &mut ModelRef| -> Result<(), ConfigError> {
        match r {
            ModelRef::Single(s) => resolve(path, s),
            ModelRef::Chain(c) => {
                resolve(&format!("{path}.primary"), &mut c.primary)?;
                for (i, f) in c.fallbacks.iter_mut().enumerate() {
                    resolve(&format!("{path}.fallbacks[{i}]"), f)?;
                }
                Ok(())
            }
        }
    };
    if let Some(m) = &mut agents.defaults.model {
        chain("agents.defaults.model", m)?;
    }
    if let Some(e) = &mut agents.defaults.embeddings {
        resolve("agents.defaults.embeddings.model", &mut e.model)?;
    }
    for (i, a) in agents.list.iter_mut().enumerate() {
        if let Some(m) = &mut a.model {
            chain(&format!("agents.list[{i}].model"), m)?;
        }
        if let Some(e) = &mut a.embeddings {
            resolve(&format!("agents.list[{i}].embeddings.model"), &mut e.model)?;
        }
    }
    Ok(())
}

pub(crate) fn validate(
    models: Option<&ModelsConfig>,
    agents: Option<&AgentsConfig>,
) -> Result<(), ConfigError> {
    let invalid = |path: String, message: String| Err(ConfigError::Invalid { path, message });
    let providers: Vec<&str> = models
        .map(|m| m.providers.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if let Some(models) = models {
        for (id, p) in &models.providers {
            if !(p.base_url.starts_with("http://") || p.base_url.starts_with("https://")) {
                return invalid(
                    format!("models.providers.{id}.baseUrl"),
                    format!("{:?} is not an http(s) URL", p.base_url),
                );
            }
            if p.timeout_ms == Some(0) {
                return invalid(
                    format!("models.providers.{id}.timeoutMs"),
                    "must be greater than 0".into(),
                );
            }
        }
    }
    let check_ref = |path: String, raw: &str| -> Result<(), ConfigError> {
        let Some((provider, _)) = split_model_ref(raw) else {
            return invalid(
                path,
                format!(
                    "{raw:?} is not a model reference; write \"<provider>/<model>\", e.g. \"openai/gpt-4o\""
                ),
            );
        };
        let implicit = IMPLICIT_PROVIDERS.iter().any(|(id, ..)| *id == provider);
        if !providers.contains(&provider) && !implicit {
            let known = if providers.is_empty() {
                "none are configured".to_owned()
            } else {
                format!("configured: {}", providers.join(", "))
            };
            return invalid(
                path,
                format!(
                    "unknown provider {provider:?} in {raw:?}; add it under models.providers ({known})"
                ),
            );
        }
        Ok(())
    };
    let check_chain = |path: &str, r: &ModelRef| -> Result<(), ConfigError> {
        match r {
            ModelRef::Single(s) => check_ref(path.to_owned(), s),
            ModelRef::Chain(c) => {
                check_ref(format!("{path}.primary"), &c.primary)?;
                for (i, f) in c.fallbacks.iter().enumerate() {
                    check_ref(format!("{path}.fallbacks[{i}]"), f)?;
                }
                Ok(())
            }
        }
    };
    let Some(agents) = agents else {
        return Ok(());
    };
    if let Some(m) = &agents.defaults.model {
        check_chain("agents.defaults.model", m)?;
    }
    if let Some(e) = &agents.defaults.embeddings {
        check_ref("agents.defaults.embeddings.model".into(), &e.model)?;
    }
    let mut seen = Vec::new();
    let mut defaults = 0;
    for (i, a) in agents.list.iter().enumerate() {
        if !valid_agent_id(&a.id) {
            return invalid(
                format!("agents.list[{i}].id"),
                format!(
                    "{:?} is not a valid agent id; use lowercase letters, digits, '-' and '_' (at most 64)",
                    a.id
                ),
            );
        }
        if seen.contains(&a.id.as_str()) {
            return invalid(
                format!("agents.list[{i}].id"),
                format!("duplicate agent id {:?}; agent ids must be unique", a.id),
            );
        }
        seen.push(a.id.as_str());
        defaults += usize::from(a.default);
        if let Some(m) = &a.model {
            check_chain(&format!("agents.list[{i}].model"), m)?;
        }
        if let Some(e) = &a.embeddings {
            check_ref(format!("agents.list[{i}].embeddings.model"), &e.model)?;
        }
    }
    if defaults > 1 {
        return invalid(
            "agents.list".into(),
            "more than one agent has default: true; mark exactly one".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::parse_str;

    fn parse(s: &str) -> Result<crate::Config, crate::ConfigError> {
        parse_str(s, &|_| None)
    }

    #[test]
    fn accepts_providers_and_agents() {
        let c = parse(
            r#"{
              models: { providers: { local: { baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions",
                         models: [{ id: "m1", contextWindow: 8000 }] } } },
              agents: { defaults: { model: { primary: "local/m1", fallbacks: ["openai/gpt-4o"] } },
                        list: [{ id: "main", default: true }, { id: "research", model: "local/m2" }] },
            }"#,
        )
        .unwrap();
        let agents = c.agents.unwrap();
        assert_eq!(
            agents.defaults.model.unwrap().chain(),
            vec!["local/m1", "openai/gpt-4o"]
        );
        assert_eq!(
            agents.list[1].model.as_ref().unwrap().chain(),
            vec!["local/m2"]
        );
    }

    #[test]
    fn rejects_bad_references_with_paths() {
        let e = parse(r#"{ agents: { defaults: { model: "nope" } } }"#).unwrap_err();
        assert!(e.to_string().contains("agents.defaults.model"), "{e}");
        let e =
            parse(r#"{ agents: { defaults: { model: { primary: "ghost/x" } } } }"#).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("agents.defaults.model.primary") && s.contains("ghost"),
            "{s}"
        );
        let e = parse(r#"{ agents: { list: [{ id: "Main" }] } }"#).unwrap_err();
        assert!(e.to_string().contains("agents.list[0].id"), "{e}");
        let e = parse(r#"{ agents: { list: [{ id: "a" }, { id: "a" }] } }"#).unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
        let e = parse(r#"{ models: { providers: { x: { baseUrl: "ftp://h", api: "openai-completions" } } } }"#)
            .unwrap_err();
        assert!(e.to_string().contains("models.providers.x.baseUrl"), "{e}");
        let e = parse(r#"{ models: { providers: { x: { baseUrl: "http://h", api: "grpc" } } } }"#)
            .unwrap_err();
        assert!(e.to_string().contains("anthropic-messages"), "{e}");
    }
}
