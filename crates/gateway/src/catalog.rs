//! The agent catalog: which model chain answers for which agent.
//!
//! [`AgentTable`] is built once per config activation from `models.providers` and `agents`
//! and lives in that activation ([`crate::state::Activation`]); a run reads one table from
//! start to end, so a config reload never mixes two chains in one turn. This module only
//! describes agents; running them is [`crate::agents`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openclaw_config::{
    AgentEntry, Config, IMPLICIT_PROVIDERS, ModelRef, ProviderApi, split_model_ref,
};
use openclaw_providers::{Api, Provider, ProviderConfig};
use serde_json::{Value, json};

/// Id of the agent that exists when `agents.list` is empty.
pub const DEFAULT_AGENT_ID: &str = "main";
/// Default run time limit.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// Default number of transcript entries sent as history.
pub const DEFAULT_HISTORY_LIMIT: usize = 200;
/// Default `agents.defaults.maxToolRounds`.
pub const DEFAULT_MAX_TOOL_ROUNDS: usize = 25;
/// Largest answer a turn keeps when `agents.defaults.maxAnswerBytes` is not set: far above
/// any real model answer, far below what would strain memory or a client's frame limit.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;
/// Default provider timeout (to headers and between chunks).
pub const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(120);

/// One step of a model chain: a provider and the model id it is asked for.
#[derive(Clone)]
pub struct ModelTarget {
    /// The provider client.
    pub provider: Arc<Provider>,
    /// Upstream model id (without the provider prefix).
    pub model: String,
    /// Output cap from `models.providers.<id>.models[].maxTokens`, if configured.
    pub max_tokens: Option<u32>,
}

impl ModelTarget {
    /// `provider/model`, as operators write it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider.id(), self.model)
    }
}

/// One agent, resolved.
#[derive(Clone)]
pub struct Agent {
    /// Agent id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Primary then fallbacks; empty when no model is configured.
    pub chain: Vec<ModelTarget>,
    /// The configured chain as written (for listings).
    pub chain_refs: Vec<String>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Longest a run may take.
    pub timeout: Duration,
    /// Transcript entries sent as history.
    pub history_limit: usize,
    /// Largest answer a turn may stream (`agents.defaults.maxAnswerBytes`).
    pub max_answer_bytes: usize,
    /// Tool-calling answers per turn (`agents.defaults.maxToolRounds`).
    pub max_tool_rounds: usize,
    /// Embedding model, if configured.
    pub embeddings: Option<ModelTarget>,
    /// A session untouched this long starts over on its next turn (`session.reset`).
    pub idle_reset: Option<Duration>,
    /// Log a `timing` line per turn (`gateway.logTimings`).
    pub log_timings: bool,
}

/// Every agent and provider of one config activation (cheap to clone: providers are
/// shared).
#[derive(Clone)]
pub struct AgentTable {
    agents: Vec<Agent>,
    default_id: String,
    providers: BTreeMap<String, Arc<Provider>>,
    models: Vec<Value>,
}

/// Why a table could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct AgentConfigError {
    /// JSON path of the offending setting.
    pub path: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl AgentTable {
    /// Builds the table from a config whose SecretRefs are resolved. `env` supplies keys
    /// of implicit providers (`OPENAI_API_KEY`, …).
    ///
    /// Every provider is told every secret this gateway holds (`known_secrets` below), so
    /// none of them can come back inside an upstream's error text: such text reaches
    /// logs, RPC answers and HTTP bodies.
    pub fn build(
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
        client: &reqwest::Client,
    ) -> Result<AgentTable, AgentConfigError> {
        let secrets = known_secrets(config, env);
        let mut providers = BTreeMap::new();
        let mut models = Vec::new();
        let mut max_tokens: BTreeMap<(String, String), u32> = BTreeMap::new();
        if let Some(m) = &config.models {
            for (id, p) in &m.providers {
                let cfg = ProviderConfig {
                    id: id.clone(),
                    api: api_of(p.api),
                    base_url: p.base_url.clone(),
                    api_key: p.api_key.as_ref().map(|k| k.expose().to_owned()),
                    headers: p
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                        .collect(),
                    request_timeout: p
                        .timeout_ms
                        .map(Duration::from_millis)
                        .unwrap_or(DEFAULT_PROVIDER_TIMEOUT),
                    known_secrets: secrets.clone(),
                };
                providers.insert(id.clone(), Arc::new(Provider::new(cfg, client.clone())));
                for model in &p.models {
                    if let Some(mt) = model.max_tokens {
                        max_tokens.insert((id.clone(), model.id.clone()), mt);
                    }
                    // The original's catalog row: `id` is the upstream model id, the
                    // provider is beside it (clients join them as `provider/id`).
                    let mut row = json!({
                        "id": model.id,
                        "name": model.name.clone().unwrap_or_else(|| model.id.clone()),
                        "provider": id,
                        "contextWindow": model.context_window,
                        "maxTokens": model.max_tokens,
                        "reasoning": model.reasoning.unwrap_or(false),
                    });
                    if let Some(input) = &model.input {
                        row["input"] = json!(input);
                    }
                    models.push(row);
                }
            }
        }
        let mut resolve = |path: &str, raw: &str| -> Result<ModelTarget, AgentConfigError> {
            let (pid, model) = split_model_ref(raw).ok_or_else(|| AgentConfigError {
                path: path.to_owned(),
                message: format!("{raw:?} is not \"<provider>/<model>\""),
            })?;
            if !providers.contains_key(pid) {
                let Some((_, base, api, key_var)) =
                    IMPLICIT_PROVIDERS.iter().find(|(id, ..)| *id == pid)
                else {
                    return Err(AgentConfigError {
                        path: path.to_owned(),
                        message: format!("unknown provider {pid:?}; add it under models.providers"),
                    });
                };
                let cfg = ProviderConfig {
                    id: pid.to_owned(),
                    api: api_of(*api),
                    base_url: (*base).to_owned(),
                    api_key: env(key_var),
                    headers: vec![],
                    request_timeout: DEFAULT_PROVIDER_TIMEOUT,
                    known_secrets: secrets.clone(),
                };
                providers.insert(pid.to_owned(), Arc::new(Provider::new(cfg, client.clone())));
            }
            Ok(ModelTarget {
                provider: providers[pid].clone(),
                model: model.to_owned(),
                max_tokens: max_tokens.get(&(pid.to_owned(), model.to_owned())).copied(),
            })
        };

        let defaults = config
            .agents
            .as_ref()
            .map(|a| a.defaults.clone())
            .unwrap_or_default();
        let entries: Vec<AgentEntry> = match config.agents.as_ref().map(|a| &a.list) {
            Some(list) if !list.is_empty() => list.clone(),
            _ => vec![AgentEntry {
                default: true,
                ..AgentEntry::bare(DEFAULT_AGENT_ID)
            }],
        };
        let mut agents = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let (path, model_ref): (String, Option<&ModelRef>) = match &e.model {
                Some(m) => (format!("agents.list[{i}].model"), Some(m)),
                None => ("agents.defaults.model".into(), defaults.model.as_ref()),
            };
            let chain_refs = model_ref.map(ModelRef::chain).unwrap_or_default();
            let chain = chain_refs
                .iter()
                .map(|r| resolve(&path, r))
                .collect::<Result<Vec<_>, _>>()?;
            let embeddings = match e.embeddings.as_ref().or(defaults.embeddings.as_ref()) {
                Some(em) => Some(resolve("agents.defaults.embeddings.model", &em.model)?),
                None => None,
            };
            agents.push(Agent {
                id: e.id.clone(),
                name: e.name.clone(),
                chain,
                chain_refs,
                system_prompt: e
                    .system_prompt
                    .clone()
                    .or_else(|| defaults.system_prompt.clone()),
                timeout: defaults
                    .timeout_seconds
                    .map(Duration::from_secs)
                    .unwrap_or(DEFAULT_RUN_TIMEOUT),
                history_limit: defaults.history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT),
                max_answer_bytes: defaults
                    .max_answer_bytes
                    .unwrap_or(DEFAULT_MAX_ANSWER_BYTES),
                max_tool_rounds: defaults.max_tool_rounds.unwrap_or(DEFAULT_MAX_TOOL_ROUNDS),
                embeddings,
                idle_reset: config.idle_reset(),
                log_timings: config.gateway.log_timings,
            });
        }
        let default_id = entries
            .iter()
            .find(|e| e.default)
            .unwrap_or(&entries[0])
            .id
            .clone();
        Ok(AgentTable {
            agents,
            default_id,
            providers,
            models,
        })
    }

    /// The default agent's id.
    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    /// An agent by id.
    pub fn get(&self, id: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id)
    }

    /// The default agent.
    pub fn default_agent(&self) -> &Agent {
        self.get(&self.default_id).unwrap_or(&self.agents[0])
    }

    /// All agents.
    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    /// Resolves a `provider/model` override (`x-openclaw-model`, `agent {model}`).
    pub fn target(&self, raw: &str) -> Option<ModelTarget> {
        let (pid, model) = split_model_ref(raw)?;
        Some(ModelTarget {
            provider: self.providers.get(pid)?.clone(),
            model: model.to_owned(),
            max_tokens: None,
        })
    }

    /// Configured models (`models.providers.*.models`), for `models.list`.
    pub fn models(&self) -> &[Value] {
        &self.models
    }

    /// A provider by id: the configured ones and the implicit ones an agent chain uses.
    pub fn provider(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.get(id)
    }

    /// Every provider (configured, and the implicit ones an agent chain uses), by id.
    pub fn providers(&self) -> impl Iterator<Item = (&str, &Arc<Provider>)> {
        self.providers.iter().map(|(id, p)| (id.as_str(), p))
    }

    /// `agents.list` payload.
    pub fn listing(&self) -> Value {
        json!({
            "defaultId": self.default_id,
            "mainKey": "main",
            "agents": self.agents.iter().map(|a| json!({
                "id": a.id,
                "name": a.name.clone().unwrap_or_else(|| a.id.clone()),
                "default": a.id == self.default_id,
                "model": {
                    "primary": a.chain_refs.first(),
                    "fallbacks": a.chain_refs.iter().skip(1).collect::<Vec<_>>(),
                },
            })).collect::<Vec<_>>(),
        })
    }
}

/// Every secret value the gateway runs with: those of the (resolved) config
/// ([`openclaw_config::secret_values`]: gateway token and password, provider keys and
/// headers, channel and hook tokens), plus the ones that come from the environment (the
/// implicit providers' keys, `OPENCLAW_GATEWAY_TOKEN`/`_PASSWORD`).
fn known_secrets(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut secrets = openclaw_config::secret_values(config);
    let vars = IMPLICIT_PROVIDERS
        .iter()
        .map(|(.., var)| *var)
        .chain(["OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD"]);
    secrets.extend(vars.filter_map(env).filter(|v| !v.is_empty()));
    secrets
}

fn api_of(api: ProviderApi) -> Api {
    match api {
        ProviderApi::OpenaiCompletions => Api::OpenaiCompletions,
        ProviderApi::OpenaiResponses => Api::OpenaiResponses,
        ProviderApi::AnthropicMessages => Api::AnthropicMessages,
    }
}
