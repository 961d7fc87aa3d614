//! `openclaw providers list|test`: the model providers this instance's config names, and a
//! real one-token request to each, with its latency and, when it fails, why.
//!
//! Both read the local config file (the gateway need not run): the providers under
//! `models.providers` plus the built-in ones (`openai`, `anthropic`) that an agent's model
//! chain uses. Credentials are resolved the way the gateway resolves them, but only their
//! source is ever shown. `doctor --provider` runs the same probe ([`probe`]).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use openclaw_config::{Config, IMPLICIT_PROVIDERS, ProviderApi, Secret, split_model_ref};
use openclaw_providers::{Api, ChatRequest, Message, Provider, ProviderConfig, ProviderError};
use serde_json::{Value, json};

use super::config::{paths, read_doc_or_empty, validate_lenient};
use super::{Global, print_json};

/// `openclaw providers …`.
#[derive(Args)]
pub struct ProvidersCmd {
    #[command(subcommand)]
    sub: ProvidersSub,
}

#[derive(Subcommand)]
enum ProvidersSub {
    /// List the configured providers: id, API, base URL, models and where the key comes from.
    List(ListArgs),
    /// Send a one-token request to each provider (or one); exits 1 if any failed.
    Test(TestArgs),
}

#[derive(Args)]
struct ListArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TestArgs {
    /// Only this provider (an id from `openclaw providers list`).
    #[arg(long, value_name = "ID")]
    provider: Option<String>,
    /// Model to ask for (default: the provider's first configured or agent-used model).
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Longest wait for the connection and for the answer, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    timeout: u64,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `providers list` or `providers test`.
pub async fn run(global: &Global, cmd: ProvidersCmd) -> Result<ExitCode> {
    let mut set = ProviderSet::load(global)?;
    match cmd.sub {
        ProvidersSub::List(a) => list(&set, a.json),
        ProvidersSub::Test(a) => {
            let chosen = set.select(a.provider.as_deref())?;
            let timeout = Duration::from_millis(a.timeout.max(1));
            let futs = chosen.iter().map(|p| probe(p, a.model.as_deref(), timeout));
            let results = futures_util::future::join_all(futs).await;
            let ok = results.iter().all(|r| r.failure.is_none());
            if a.json {
                print_json(&json!({
                    "ok": ok,
                    "results": results.iter().map(ProbeResult::to_json).collect::<Vec<_>>(),
                }));
            } else {
                for r in &results {
                    for line in r.lines() {
                        println!("{line}");
                    }
                }
                let failed = results.iter().filter(|r| r.failure.is_some()).count();
                println!("{} tested, {failed} failed", results.len());
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn list(set: &ProviderSet, json_out: bool) -> Result<ExitCode> {
    if json_out {
        print_json(&Value::Array(
            set.providers.iter().map(ProviderInfo::to_json).collect(),
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if set.providers.is_empty() {
        println!(
            "No providers configured in {}. Add one under models.providers (see `openclaw config set`).",
            set.file
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &set.providers {
        let models = if p.models.is_empty() {
            "-".to_owned()
        } else {
            p.models.join(", ")
        };
        println!("{}", p.id);
        println!("    api:        {}", api_name(p.api));
        println!("    baseUrl:    {}", p.base_url);
        println!("    models:     {models}");
        println!("    credential: {}", p.credential.describe());
        for problem in &p.problems {
            println!("    problem:    {problem}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The config's providers, resolved for calling.
pub(crate) struct ProviderSet {
    /// The config file they came from (for messages).
    file: String,
    /// In id order: configured first, then the implicit ones agents use.
    pub(crate) providers: Vec<ProviderInfo>,
}

/// Where a provider's API key comes from. Never holds the value.
pub(crate) enum Credential {
    /// No key configured.
    None,
    /// A plain string in the config file.
    Inline,
    /// `${VAR}` in the config file text.
    EnvText { var: String, set: bool },
    /// A SecretRef (`env`, `file`, `exec`) and whether it resolved.
    Reference {
        kind: String,
        id: String,
        error: Option<String>,
    },
    /// A built-in provider's key variable (`OPENAI_API_KEY`, …).
    ImplicitEnv { var: String, set: bool },
}

impl Credential {
    fn describe(&self) -> String {
        match self {
            Credential::None => "none (no apiKey)".into(),
            Credential::Inline => "inline in the config file".into(),
            Credential::EnvText { var, set } => {
                format!("env ${{{var}}} ({})", if *set { "set" } else { "not set" })
            }
            Credential::Reference { kind, id, error } => match error {
                None => format!("{kind} {id} (resolves)"),
                Some(e) => format!("{kind} {id} (does not resolve: {e})"),
            },
            Credential::ImplicitEnv { var, set } => {
                format!("env {var} ({})", if *set { "set" } else { "not set" })
            }
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Credential::None => json!({"source": "none", "available": false}),
            Credential::Inline => json!({"source": "inline", "available": true}),
            Credential::EnvText { var, set } | Credential::ImplicitEnv { var, set } => {
                json!({"source": "env", "id": var, "available": set})
            }
            Credential::Reference { kind, id, error } => {
                let mut v = json!({"source": kind, "id": id, "available": error.is_none()});
                if let Some(e) = error {
                    v["error"] = json!(e);
                }
                v
            }
        }
    }
}

/// One provider as a probe needs it. Holds the resolved key, so it has no `Debug`.
pub(crate) struct ProviderInfo {
    /// Provider id (`models.providers.<id>`, or a built-in id).
    pub(crate) id: String,
    api: ProviderApi,
    base_url: String,
    /// Configured models first, then those agents use, without duplicates.
    models: Vec<String>,
    /// Built in (not under `models.providers`).
    implicit: bool,
    pub(crate) credential: Credential,
    key: Option<String>,
    headers: Vec<(String, String)>,
    /// What keeps this provider from being called as configured (unresolvable header refs…).
    problems: Vec<String>,
}

impl ProviderInfo {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "api": api_name(self.api),
            "baseUrl": self.base_url,
            "models": self.models,
            "implicit": self.implicit,
            "credential": self.credential.to_json(),
            "problems": self.problems,
        })
    }
}

impl ProviderSet {
    /// Reads the config file leniently: `${VAR}` references unset in this shell are
    /// reported on the provider that uses them instead of failing the whole command.
    pub(crate) fn load(global: &Global) -> Result<ProviderSet> {
        let paths = paths(global)?;
        let file = paths.config_path.display().to_string();
        let doc = read_doc_or_empty(&paths.config_path)?;
        let (config, missing) = validate_lenient(&doc).map_err(|e| {
            anyhow::anyhow!("{file}: {e}; fix the config (see `openclaw config validate`) first")
        })?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Ok(ProviderSet {
            providers: collect(&config, &doc, &missing, &env),
            file,
        })
    }

    /// All providers, or the one named; an unknown id is an error listing the known ones.
    /// A built-in provider (`openai`, `anthropic`) can be named even when no agent uses it
    /// yet: the gateway would call it as soon as one did.
    pub(crate) fn select(&mut self, id: Option<&str>) -> Result<Vec<&ProviderInfo>> {
        if let Some(id) = id
            && !self.providers.iter().any(|p| p.id == id)
        {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            self.providers.extend(builtin(id, Vec::new(), &env));
        }
        let Some(id) = id else {
            if self.providers.is_empty() {
                bail!(
                    "no providers configured in {}; add one under models.providers",
                    self.file
                );
            }
            return Ok(self.providers.iter().collect());
        };
        match self.providers.iter().find(|p| p.id == id) {
            Some(p) => Ok(vec![p]),
            None => bail!(
                "unknown provider {id:?}; configured: {} (see `openclaw providers list`)",
                self.known()
            ),
        }
    }

    fn known(&self) -> String {
        if self.providers.is_empty() {
            "none".to_owned()
        } else {
            self.providers
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

fn collect(
    config: &Config,
    doc: &Value,
    missing: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<ProviderInfo> {
    let used = agent_model_refs(config);
    let used_models = |pid: &str| -> Vec<String> {
        used.iter()
            .filter_map(|r| split_model_ref(r))
            .filter(|(p, _)| *p == pid)
            .map(|(_, m)| m.to_owned())
            .collect()
    };
    let mut out = Vec::new();
    if let Some(models) = &config.models {
        for (id, p) in &models.providers {
            let mut problems = Vec::new();
            let raw_key = doc
                .pointer(&format!("/models/providers/{}/apiKey", pointer_escape(id)))
                .and_then(Value::as_str);
            let (credential, key) = match (&p.api_key, raw_key.map(openclaw_config::env_refs)) {
                (None, _) => (Credential::None, None),
                (Some(secret), _) if secret.as_ref_source().is_some() => {
                    resolve_ref(secret, &format!("models.providers.{id}.apiKey"), env)
                }
                (Some(secret), Some(vars)) if !vars.is_empty() => {
                    let unset: Vec<&String> = vars.iter().filter(|v| missing.contains(v)).collect();
                    let cred = Credential::EnvText {
                        var: vars.join(","),
                        set: unset.is_empty(),
                    };
                    if unset.is_empty() {
                        (cred, Some(secret.expose().to_owned()))
                    } else {
                        (cred, None)
                    }
                }
                (Some(secret), _) => (Credential::Inline, Some(secret.expose().to_owned())),
            };
            let mut headers = Vec::new();
            for (name, value) in &p.headers {
                let path = format!("models.providers.{id}.headers.{name}");
                let raw = doc
                    .pointer(&format!(
                        "/models/providers/{}/headers/{}",
                        pointer_escape(id),
                        pointer_escape(name)
                    ))
                    .and_then(Value::as_str)
                    .map(openclaw_config::env_refs)
                    .unwrap_or_default();
                if let Some(var) = raw.iter().find(|v| missing.contains(v)) {
                    problems.push(format!("{path} uses ${{{var}}}, which is not set"));
                    continue;
                }
                match value.as_ref_source() {
                    Some(r) => match r.resolve(&path, env) {
                        Ok(s) => headers.push((name.clone(), s.expose().to_owned())),
                        Err(e) => problems.push(e.to_string()),
                    },
                    None => headers.push((name.clone(), value.expose().to_owned())),
                }
            }
            let mut models: Vec<String> = p.models.iter().map(|m| m.id.clone()).collect();
            for m in used_models(id) {
                if !models.contains(&m) {
                    models.push(m);
                }
            }
            out.push(ProviderInfo {
                id: id.clone(),
                api: p.api,
                base_url: p.base_url.clone(),
                models,
                implicit: false,
                credential,
                key,
                headers,
                problems,
            });
        }
    }
    for (id, ..) in IMPLICIT_PROVIDERS {
        let configured = out.iter().any(|p| p.id == *id);
        let models = used_models(id);
        if configured || models.is_empty() {
            continue;
        }
        out.extend(builtin(id, models, env));
    }
    out
}

/// A built-in provider (`IMPLICIT_PROVIDERS`), its key from its variable; `None` for an
/// id that is not built in.
fn builtin(
    id: &str,
    models: Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<ProviderInfo> {
    let (id, base, api, var) = IMPLICIT_PROVIDERS.iter().find(|(i, ..)| *i == id)?;
    let mut uniq = Vec::new();
    for m in models {
        if !uniq.contains(&m) {
            uniq.push(m);
        }
    }
    let key = env(var);
    Some(ProviderInfo {
        id: (*id).to_owned(),
        api: *api,
        base_url: (*base).to_owned(),
        models: uniq,
        implicit: true,
        credential: Credential::ImplicitEnv {
            var: (*var).to_owned(),
            set: key.is_some(),
        },
        key,
        headers: Vec::new(),
        problems: Vec::new(),
    })
}

fn resolve_ref(
    secret: &Secret,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Credential, Option<String>) {
    let Some(r) = secret.as_ref_source() else {
        return (Credential::Inline, Some(secret.expose().to_owned()));
    };
    let kind = r.source.as_str().to_owned();
    match r.resolve(path, env) {
        Ok(v) => (
            Credential::Reference {
                kind,
                id: r.id.clone(),
                error: None,
            },
            Some(v.expose().to_owned()),
        ),
        Err(e) => (
            Credential::Reference {
                kind,
                id: r.id.clone(),
                error: Some(e.message),
            },
            None,
        ),
    }
}

/// Every model reference the agents use: defaults, each agent's chain, embeddings.
fn agent_model_refs(config: &Config) -> Vec<String> {
    let Some(agents) = &config.agents else {
        return Vec::new();
    };
    let mut refs: Vec<String> = Vec::new();
    if let Some(m) = &agents.defaults.model {
        refs.extend(m.chain());
    }
    if let Some(e) = &agents.defaults.embeddings {
        refs.push(e.model.clone());
    }
    for a in &agents.list {
        if let Some(m) = &a.model {
            refs.extend(m.chain());
        }
        if let Some(e) = &a.embeddings {
            refs.push(e.model.clone());
        }
    }
    refs
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The config spelling of an API kind.
fn api_name(api: ProviderApi) -> &'static str {
    match api {
        ProviderApi::OpenaiCompletions => "openai-completions",
        ProviderApi::OpenaiResponses => "openai-responses",
        ProviderApi::AnthropicMessages => "anthropic-messages",
    }
}

/// Why a probe failed, as an operator reads it. One table: the JSON `class`, the text
/// label and the fix all come from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// No model to ask for.
    NoModel,
    /// The key (or a header) could not be resolved from its source.
    Credential,
    /// The host name did not resolve.
    Dns,
    /// Nothing listens at the host and port.
    Refused,
    /// The TLS handshake failed (plain HTTP port, bad certificate…).
    Tls,
    /// Another transport failure.
    Connect,
    /// 401/403: the key was refused.
    Auth,
    /// 404: unknown model (or wrong base URL path).
    ModelNotFound,
    /// No answer in time.
    Timeout,
    /// Another HTTP error status.
    HttpStatus,
    /// The upstream answered, but not in the API's wire format.
    Protocol,
}

impl FailureClass {
    fn as_str(self) -> &'static str {
        match self {
            FailureClass::NoModel => "no-model",
            FailureClass::Credential => "credential",
            FailureClass::Dns => "dns",
            FailureClass::Refused => "connection-refused",
            FailureClass::Tls => "tls",
            FailureClass::Connect => "connect",
            FailureClass::Auth => "auth",
            FailureClass::ModelNotFound => "model-not-found",
            FailureClass::Timeout => "timeout",
            FailureClass::HttpStatus => "http-status",
            FailureClass::Protocol => "protocol",
        }
    }

    fn label(self) -> &'static str {
        match self {
            FailureClass::NoModel => "no model to test",
            FailureClass::Credential => "credential not available",
            FailureClass::Dns => "DNS failure",
            FailureClass::Refused => "connection refused",
            FailureClass::Tls => "TLS error",
            FailureClass::Connect => "connection failed",
            FailureClass::Auth => "authentication failed (bad key)",
            FailureClass::ModelNotFound => "model not found",
            FailureClass::Timeout => "timeout",
            FailureClass::HttpStatus => "HTTP error",
            FailureClass::Protocol => "protocol error",
        }
    }

    fn fix(self, id: &str, model: Option<&str>) -> String {
        match self {
            FailureClass::NoModel => format!(
                "pass --model, or list models under models.providers.{id}.models or use {id}/<model> in agents"
            ),
            // The detail names the key (apiKey or a header) whose value is missing.
            FailureClass::Credential => format!(
                "set the variable, or fix the reference, at the models.providers.{id} key named above (`openclaw secrets list` shows each source)"
            ),
            FailureClass::Dns => format!(
                "check the host name in models.providers.{id}.baseUrl and this machine's DNS"
            ),
            FailureClass::Refused => format!(
                "start the provider's server, or fix the host/port in models.providers.{id}.baseUrl"
            ),
            FailureClass::Tls => format!(
                "if the server speaks plain HTTP use http:// in models.providers.{id}.baseUrl; else check its certificate"
            ),
            FailureClass::Connect => {
                format!("check models.providers.{id}.baseUrl and the network path to it")
            }
            FailureClass::Auth => format!(
                "set a valid key in models.providers.{id}.apiKey (or its env variable); the upstream refused this one"
            ),
            FailureClass::ModelNotFound => format!(
                "check the model id {:?} against the provider's model list, and the path in models.providers.{id}.baseUrl",
                model.unwrap_or("")
            ),
            FailureClass::Timeout => format!(
                "check the provider's health and the network; raise --timeout or models.providers.{id}.timeoutMs for slow servers"
            ),
            FailureClass::HttpStatus => {
                "see the upstream's message above; retry later if it is a 5xx or 429".to_owned()
            }
            FailureClass::Protocol => format!(
                "check that models.providers.{id}.api matches what the server at baseUrl speaks"
            ),
        }
    }
}

/// A failed probe.
pub(crate) struct Failure {
    pub(crate) class: FailureClass,
    status: Option<u16>,
    message: String,
}

/// The outcome of one provider probe.
pub(crate) struct ProbeResult {
    pub(crate) provider: String,
    pub(crate) model: Option<String>,
    api: ProviderApi,
    base_url: String,
    /// Time to the end of the answer (or the failure); `None` when nothing was sent.
    latency_ms: Option<u64>,
    /// A built-in provider (no `models.providers` entry to point the fix at).
    implicit: bool,
    pub(crate) failure: Option<Failure>,
}

impl ProbeResult {
    /// `provider/model` as operators write it.
    pub(crate) fn label(&self) -> String {
        match &self.model {
            Some(m) => format!("{}/{m}", self.provider),
            None => self.provider.clone(),
        }
    }

    /// One-line summary: latency when it worked, the class and upstream message when not.
    pub(crate) fn detail(&self) -> String {
        match &self.failure {
            None => format!(
                "answered in {} ms ({} at {})",
                self.latency_ms.unwrap_or(0),
                api_name(self.api),
                self.base_url
            ),
            Some(f) => {
                let status = f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
                let after = self
                    .latency_ms
                    .map(|ms| format!(" after {ms} ms"))
                    .unwrap_or_default();
                format!("{}{status}{after}: {}", f.class.label(), f.message)
            }
        }
    }

    /// The fix line for a failure.
    pub(crate) fn fix(&self) -> Option<String> {
        let f = self.failure.as_ref()?;
        if self.implicit && matches!(f.class, FailureClass::Credential | FailureClass::Auth) {
            return Some(format!(
                "export the provider's key variable in the gateway's environment, or configure models.providers.{} with an apiKey",
                self.provider
            ));
        }
        Some(f.class.fix(&self.provider, self.model.as_deref()))
    }

    fn lines(&self) -> Vec<String> {
        let mark = if self.failure.is_none() { "✓" } else { "✗" };
        let mut out = vec![format!("{mark} {}: {}", self.label(), self.detail())];
        if let Some(f) = self.fix() {
            out.push(format!("    fix: {f}"));
        }
        out
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "provider": self.provider,
            "model": self.model,
            "api": api_name(self.api),
            "baseUrl": self.base_url,
            "ok": self.failure.is_none(),
            "latencyMs": self.latency_ms,
        });
        if let Some(f) = &self.failure {
            v["error"] = json!({
                "class": f.class.as_str(),
                "status": f.status,
                "message": f.message,
            });
            v["fix"] = json!(self.fix());
        }
        v
    }
}

/// Sends one minimal chat request (one user word, at most one output token, streamed to
/// its end) to `p` for `model` (default: its first known model) and classifies the
/// outcome. `timeout` bounds the connection and each wait for data.
pub(crate) async fn probe(p: &ProviderInfo, model: Option<&str>, timeout: Duration) -> ProbeResult {
    let model = model
        .map(str::to_owned)
        .or_else(|| p.models.first().cloned());
    let mut result = ProbeResult {
        provider: p.id.clone(),
        model: model.clone(),
        api: p.api,
        base_url: p.base_url.clone(),
        latency_ms: None,
        implicit: p.implicit,
        failure: None,
    };
    let Some(model) = model else {
        result.failure = Some(Failure {
            class: FailureClass::NoModel,
            status: None,
            message: "no --model given and no model known for this provider".into(),
        });
        return result;
    };
    let credential_problem = match &p.credential {
        Credential::EnvText { var, set: false } => Some(format!("${{{var}}} is not set")),
        Credential::ImplicitEnv { var, set: false } => Some(format!(
            "{var} is not set (the built-in {} provider takes its key from it)",
            p.id
        )),
        Credential::Reference { error: Some(e), .. } => Some(e.clone()),
        _ => p.problems.first().cloned(),
    };
    if let Some(message) = credential_problem {
        result.failure = Some(Failure {
            class: FailureClass::Credential,
            status: None,
            message,
        });
        return result;
    }
    let provider = Provider::new(
        ProviderConfig {
            id: p.id.clone(),
            api: api_of(p.api),
            base_url: p.base_url.clone(),
            api_key: p.key.clone(),
            headers: p.headers.clone(),
            request_timeout: timeout,
            known_secrets: Vec::new(),
        },
        openclaw_providers::http_client(timeout),
    );
    let req = ChatRequest {
        model: model.clone(),
        messages: vec![Message::user("ping")],
        max_tokens: Some(1),
        ..ChatRequest::default()
    };
    let started = Instant::now();
    // The connect timeout and the provider's own waits bound each step; this bounds the
    // whole exchange (a trickling stream) to twice the budget.
    let outcome = tokio::time::timeout(timeout * 2, async {
        let stream = provider.chat(&req).await?;
        openclaw_providers::collect(stream).await
    })
    .await;
    result.latency_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    result.failure = match outcome {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(classify(&e)),
        Err(_) => Some(Failure {
            class: FailureClass::Timeout,
            status: None,
            message: format!("no complete answer within {} ms", (timeout * 2).as_millis()),
        }),
    };
    result
}

fn api_of(api: ProviderApi) -> Api {
    match api {
        ProviderApi::OpenaiCompletions => Api::OpenaiCompletions,
        ProviderApi::OpenaiResponses => Api::OpenaiResponses,
        ProviderApi::AnthropicMessages => Api::AnthropicMessages,
    }
}

/// Maps a provider error onto the operator's failure classes. Transport errors are told
/// apart by the causes reqwest/hyper/rustls report in their source chain.
fn classify(e: &ProviderError) -> Failure {
    let (class, status) = match e {
        ProviderError::Connect { message, .. } => (connect_class(message), None),
        ProviderError::Timeout { .. } => (FailureClass::Timeout, None),
        ProviderError::Status { status, .. } => (
            match status {
                401 | 403 => FailureClass::Auth,
                404 => FailureClass::ModelNotFound,
                _ => FailureClass::HttpStatus,
            },
            Some(*status),
        ),
        ProviderError::Protocol { .. } | ProviderError::Unsupported { .. } => {
            (FailureClass::Protocol, None)
        }
    };
    Failure {
        class,
        status,
        message: e.to_string(),
    }
}

fn connect_class(message: &str) -> FailureClass {
    let m = message.to_ascii_lowercase();
    if m.contains("dns error") || m.contains("failed to lookup address") {
        FailureClass::Dns
    } else if m.contains("connection refused") {
        FailureClass::Refused
    } else if m.contains("tls")
        || m.contains("certificate")
        || m.contains("handshake")
        || m.contains("corrupt message")
        || m.contains("invalidcontenttype")
    {
        FailureClass::Tls
    } else if m.contains("timed out") || m.contains("timeout") {
        FailureClass::Timeout
    } else {
        FailureClass::Connect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_messages_map_to_classes() {
        let dns = "error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known";
        assert_eq!(connect_class(dns), FailureClass::Dns);
        assert_eq!(
            connect_class(
                "client error (Connect): tcp connect error: Connection refused (os error 111)"
            ),
            FailureClass::Refused
        );
        assert_eq!(
            connect_class(
                "client error (Connect): received corrupt message of type InvalidContentType"
            ),
            FailureClass::Tls
        );
        assert_eq!(connect_class("connection reset"), FailureClass::Connect);
    }
}
