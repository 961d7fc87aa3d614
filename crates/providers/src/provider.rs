//! The [`Provider`] client: configuration, request sending, HTTP error handling, and the
//! non-streaming embeddings call.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::error::{
    ProviderError, Scrubber, describe_transport_error, error_message_from_body, parse_retry_after,
};
use crate::stream::{self, Decoder};
use crate::{Api, ChatRequest, ChatStream, Embeddings, Usage};
use crate::{anthropic, openai_chat, openai_responses};

/// The `anthropic-version` header value this crate's mapping is written against.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Most of an HTTP error body that is read. Error bodies are small JSON documents; the bound
/// protects against a proxy answering with something huge.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Most of an embeddings response that is read (a large batch of 3072-dimension vectors is
/// tens of MiB as JSON text).
const EMBEDDINGS_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// Largest whole JSON answer accepted from a server that ignored `stream: true`: far above
/// any real completion, yet bounded so a broken upstream cannot exhaust memory.
const JSON_ANSWER_LIMIT: usize = 32 * 1024 * 1024;

/// Everything needed to talk to one configured provider (`models.providers.<id>`).
#[derive(Clone)]
pub struct ProviderConfig {
    /// Provider id from config; used in errors and logs.
    pub id: String,
    /// Wire format.
    pub api: Api,
    /// API root. OpenAI-style: e.g. `https://api.openai.com/v1` (paths `/chat/completions`,
    /// `/responses`, `/embeddings` are appended). Anthropic: e.g. `https://api.anthropic.com`
    /// (`/v1/messages` is appended; a root that already ends in `/v1` gets `/messages`).
    /// A trailing `/` is ignored.
    pub base_url: String,
    /// API key: sent as `Authorization: Bearer` (OpenAI) or `x-api-key` (Anthropic).
    pub api_key: Option<String>,
    /// Extra request headers from config; they override the defaults of the same name
    /// (e.g. a different `anthropic-version`).
    pub headers: Vec<(String, String)>,
    /// Longest wait for response headers, and the longest silence allowed between stream
    /// chunks.
    pub request_timeout: Duration,
    /// Other secret values to remove from any error text this provider returns (the
    /// gateway's token, other providers' keys, channel tokens, …): an upstream or a proxy
    /// in front of it may echo anything it was sent or knows. The provider's own
    /// `api_key` and `headers` values are always removed and need not be listed.
    pub known_secrets: Vec<String>,
}

impl fmt::Debug for ProviderConfig {
    /// Redacts the API key (and header values, which may hold credentials too) so configs
    /// can be logged safely.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("api", &self.api)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("headers", &header_names)
            .field("request_timeout", &self.request_timeout)
            .field("known_secrets", &self.known_secrets.len())
            .finish()
    }
}

/// Builds the HTTP client all providers should share, so connections (and TLS sessions) are
/// pooled across calls. `connect_timeout` bounds TCP+TLS setup; the per-request
/// timeouts come from each [`ProviderConfig`]. Proxy environment variables are ignored so
/// behaviour does not depend on the shell the gateway was started from.
pub fn http_client(connect_timeout: Duration) -> reqwest::Client {
    let configured = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("openclaw-gateway/", env!("CARGO_PKG_VERSION")))
        .build();
    match configured {
        Ok(client) => client,
        Err(e) => {
            // Only fails if the TLS backend cannot initialize; degrade instead of aborting.
            tracing::warn!(error = %e, "could not build configured HTTP client; using defaults");
            reqwest::Client::default()
        }
    }
}

/// A client for one configured provider: the shared `reqwest::Client` plus the provider's
/// pre-validated headers. Cheap to clone (the client is reference-counted).
#[derive(Clone)]
pub struct Provider {
    cfg: ProviderConfig,
    client: reqwest::Client,
    base: String,
    headers: HeaderMap,
    /// Why the configured headers (or key) cannot be sent; reported on every call rather
    /// than panicking or silently dropping, say, an auth header.
    header_error: Option<String>,
    /// The key, the header values and `known_secrets`, removed from every error returned.
    scrubber: Scrubber,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider").field("cfg", &self.cfg).finish()
    }
}

impl Provider {
    /// Creates a provider client. Never fails: invalid header names or values in config are
    /// reported as a [`ProviderError::Protocol`] on each call, naming the config path.
    pub fn new(cfg: ProviderConfig, client: reqwest::Client) -> Provider {
        let base = cfg.base_url.trim().trim_end_matches('/').to_string();
        let (headers, header_error) = build_headers(&cfg);
        let scrubber = Scrubber::new(
            cfg.api_key
                .iter()
                .chain(cfg.headers.iter().map(|(_, v)| v))
                .chain(&cfg.known_secrets)
                .cloned(),
        );
        Provider {
            cfg,
            client,
            base,
            headers,
            header_error,
            scrubber,
        }
    }

    /// The provider id from config.
    pub fn id(&self) -> &str {
        &self.cfg.id
    }

    /// The wire format this provider speaks.
    pub fn api(&self) -> Api {
        self.cfg.api
    }

    /// The API root requests go to (trailing `/` removed): what a catalog needs to tell a
    /// local endpoint from a hosted one.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Whether the provider is configured with credentials (an API key, or headers, which
    /// is how proxies in front of a model API take them). Says nothing about whether the
    /// upstream accepts them.
    pub fn has_credentials(&self) -> bool {
        self.cfg.api_key.as_deref().is_some_and(|k| !k.is_empty()) || !self.cfg.headers.is_empty()
    }

    /// Starts a streaming chat call. Returns once the upstream answered with 2xx headers (so
    /// connect errors, timeouts and HTTP error statuses surface here, before any delta, and
    /// the caller can fall back to another provider). Dropping the stream aborts the
    /// upstream request. No error, returned here or by the stream, contains a known
    /// secret (see [`ProviderConfig::known_secrets`]).
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        self.start_chat(req)
            .await
            .map_err(|e| self.scrubber.error(e))
    }

    async fn start_chat(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let (path, body, decoder): (&str, Value, Box<dyn Decoder>) = match self.cfg.api {
            Api::OpenaiCompletions => (
                "/chat/completions",
                openai_chat::build_body(req),
                Box::new(openai_chat::ChatDecoder::default()),
            ),
            Api::OpenaiResponses => (
                "/responses",
                openai_responses::build_body(req),
                Box::new(openai_responses::ResponsesDecoder::default()),
            ),
            // Users paste both `https://api.anthropic.com` (what the SDKs take) and
            // `https://api.anthropic.com/v1` (what the docs' URLs show): accept both.
            Api::AnthropicMessages => (
                if self.base.ends_with("/v1") {
                    "/messages"
                } else {
                    "/v1/messages"
                },
                anthropic::build_body(req),
                Box::new(anthropic::AnthropicDecoder::default()),
            ),
        };
        tracing::debug!(provider = %self.cfg.id, api = ?self.cfg.api, model = %req.model, "starting chat request");
        let response = self.send(path, &body, true).await?;

        // Several OpenAI-compatible local servers ignore `stream: true` and answer with one
        // whole JSON document. That is a complete answer: translate it into the same events
        // a stream would have given (text, tool calls, usage, finish).
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("application/json") {
            let body = read_bounded(
                response,
                JSON_ANSWER_LIMIT,
                self.cfg.request_timeout,
                Overflow::Fail,
            )
            .await
            .map_err(|e| match e {
                ReadError::Timeout => ProviderError::Timeout {
                    provider: self.cfg.id.clone(),
                    after: self.cfg.request_timeout,
                    stage: "stream",
                },
                ReadError::Transport(m) => self.protocol(format!("JSON answer body: {m}")),
                ReadError::TooLarge => {
                    self.protocol(format!("JSON answer exceeds {JSON_ANSWER_LIMIT} bytes"))
                }
            })?;
            let sse = match self.cfg.api {
                Api::OpenaiCompletions => openai_chat::json_as_sse(&body),
                Api::AnthropicMessages => anthropic::json_as_sse(&body),
                Api::OpenaiResponses => openai_responses::json_as_sse(&body),
            }
            .ok_or_else(|| {
                self.protocol(format!(
                    "expected an event stream but got JSON that is not a {} answer: {}",
                    match self.cfg.api {
                        Api::OpenaiCompletions => "chat completion",
                        Api::OpenaiResponses => "Responses API",
                        Api::AnthropicMessages => "Anthropic Messages",
                    },
                    error_message_from_body(&body, &self.scrubber)
                ))
            })?;
            return Ok(stream::replay(&self.cfg.id, decoder, &sse, &self.scrubber));
        }
        Ok(stream::drive(
            self.cfg.id.clone(),
            response,
            decoder,
            self.cfg.request_timeout,
            self.scrubber.clone(),
        ))
    }

    /// Embeddings (OpenAI-compatible APIs only; Anthropic → [`ProviderError::Unsupported`]).
    /// Vectors are returned in input order regardless of the order the upstream lists them.
    /// Errors are scrubbed like [`Provider::chat`]'s.
    pub async fn embed(&self, model: &str, input: &[String]) -> Result<Embeddings, ProviderError> {
        self.embed_unscrubbed(model, input)
            .await
            .map_err(|e| self.scrubber.error(e))
    }

    async fn embed_unscrubbed(
        &self,
        model: &str,
        input: &[String],
    ) -> Result<Embeddings, ProviderError> {
        if self.cfg.api == Api::AnthropicMessages {
            return Err(ProviderError::Unsupported {
                provider: self.cfg.id.clone(),
                what: "embeddings".to_string(),
            });
        }
        if input.is_empty() {
            // The APIs reject an empty batch; there is nothing to compute anyway.
            return Ok(Embeddings {
                vectors: Vec::new(),
                usage: None,
                model: model.to_string(),
            });
        }
        let body = serde_json::json!({"model": model, "input": input});
        tracing::debug!(provider = %self.cfg.id, model = %model, inputs = input.len(), "embeddings request");
        let response = self.send("/embeddings", &body, false).await?;
        let bytes = read_bounded(
            response,
            EMBEDDINGS_BODY_LIMIT,
            self.cfg.request_timeout,
            Overflow::Fail,
        )
        .await
        .map_err(|e| match e {
            ReadError::Timeout => ProviderError::Timeout {
                provider: self.cfg.id.clone(),
                after: self.cfg.request_timeout,
                stage: "stream",
            },
            ReadError::Transport(m) => self.protocol(format!("embeddings body: {m}")),
            ReadError::TooLarge => self.protocol(format!(
                "embeddings response exceeds {EMBEDDINGS_BODY_LIMIT} bytes"
            )),
        })?;
        parse_embeddings(&bytes, model, input.len()).map_err(|m| self.protocol(m))
    }

    fn protocol(&self, message: String) -> ProviderError {
        ProviderError::Protocol {
            provider: self.cfg.id.clone(),
            message,
        }
    }

    /// Sends a POST and waits (bounded by `request_timeout`) for 2xx headers; every other
    /// outcome becomes the matching [`ProviderError`].
    async fn send(
        &self,
        path: &str,
        body: &Value,
        streaming: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        if let Some(e) = &self.header_error {
            return Err(self.protocol(e.clone()));
        }
        let url = format!("{}{}", self.base, path);
        let mut request = self
            .client
            .post(&url)
            .headers(self.headers.clone())
            .json(body);
        if streaming {
            request = request.header(reqwest::header::ACCEPT, "text/event-stream");
        }
        let timeout = self.cfg.request_timeout;
        let response = match tokio::time::timeout(timeout, request.send()).await {
            Err(_) => {
                tracing::debug!(provider = %self.cfg.id, ?timeout, "timed out waiting for headers");
                return Err(ProviderError::Timeout {
                    provider: self.cfg.id.clone(),
                    after: timeout,
                    stage: "headers",
                });
            }
            Ok(Err(e)) => {
                let is_builder = e.is_builder();
                // Drop the URL from the message: users sometimes put credentials in it.
                // Scrubbed here too because it is logged right away.
                let message = self
                    .scrubber
                    .text(describe_transport_error(&e.without_url()));
                tracing::debug!(provider = %self.cfg.id, error = %message, "request failed before a response");
                return Err(if is_builder {
                    self.protocol(format!(
                        "could not build the request ({message}); check models.providers.{}.baseUrl",
                        self.cfg.id
                    ))
                } else {
                    ProviderError::Connect {
                        provider: self.cfg.id.clone(),
                        message,
                    }
                });
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = parse_retry_after(response.headers());
        let body = match read_bounded(response, ERROR_BODY_LIMIT, timeout, Overflow::Truncate).await
        {
            Ok(b) => b,
            Err(ReadError::TooLarge) | Err(ReadError::Timeout) | Err(ReadError::Transport(_)) => {
                Vec::new()
            }
        };
        let message = error_message_from_body(&body, &self.scrubber);
        tracing::debug!(provider = %self.cfg.id, status = status.as_u16(), error = %message, "upstream returned an error status");
        Err(ProviderError::Status {
            provider: self.cfg.id.clone(),
            status: status.as_u16(),
            message,
            retry_after,
        })
    }
}

/// Validates and assembles the per-provider headers once, at construction.
fn build_headers(cfg: &ProviderConfig) -> (HeaderMap, Option<String>) {
    let mut headers = HeaderMap::new();
    let mut error = None;
    if let Some(key) = cfg.api_key.as_deref() {
        let (name, value) = match cfg.api {
            Api::AnthropicMessages => ("x-api-key", key.to_string()),
            _ => ("authorization", format!("Bearer {key}")),
        };
        match HeaderValue::from_str(&value) {
            Ok(mut v) => {
                // Keeps the key out of reqwest/hyper debug output.
                v.set_sensitive(true);
                headers.insert(name, v);
            }
            Err(_) => {
                error = Some(format!(
                    "the API key contains characters that cannot be sent in an HTTP header (check models.providers.{}.apiKey)",
                    cfg.id
                ));
            }
        }
    }
    if cfg.api == Api::AnthropicMessages {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
    }
    for (name, value) in &cfg.headers {
        let parsed_name = HeaderName::from_bytes(name.trim().as_bytes());
        let parsed_value = HeaderValue::from_str(value.trim());
        match (parsed_name, parsed_value) {
            (Ok(n), Ok(mut v)) => {
                v.set_sensitive(true);
                headers.insert(n, v);
            }
            _ => {
                // The value may be a credential: name the header, never echo the value.
                error.get_or_insert_with(|| {
                    format!(
                        "invalid header {name:?} in models.providers.{}.headers",
                        cfg.id
                    )
                });
            }
        }
    }
    (headers, error)
}

/// Why a bounded body read stopped.
enum ReadError {
    Timeout,
    TooLarge,
    Transport(String),
}

/// How [`read_bounded`] treats a body longer than its limit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// Keep the first `limit` bytes (an error-body excerpt is still useful).
    Truncate,
    /// Fail with [`ReadError::TooLarge`] (a truncated JSON document is useless).
    Fail,
}

/// Reads a response body up to `limit` bytes, allowing at most `timeout` of silence between
/// chunks. Used for error bodies and embeddings, which are never streamed to the caller.
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
    timeout: Duration,
    overflow: Overflow,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(timeout, response.chunk()).await {
            Err(_) => return Err(ReadError::Timeout),
            Ok(Err(e)) => {
                return Err(ReadError::Transport(describe_transport_error(
                    &e.without_url(),
                )));
            }
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => {
                let room = limit.saturating_sub(body.len());
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return match overflow {
                        Overflow::Truncate => Ok(body),
                        Overflow::Fail => Err(ReadError::TooLarge),
                    };
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

/// Parses an OpenAI embeddings response, ordering vectors by their `index`.
fn parse_embeddings(
    bytes: &[u8],
    requested_model: &str,
    expected: usize,
) -> Result<Embeddings, String> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("invalid JSON in embeddings response: {e}"))?;
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or("embeddings response has no data array")?;
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (pos, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .map_or(pos, |i| usize::try_from(i).unwrap_or(usize::MAX));
        let slot = slots.get_mut(index).ok_or_else(|| {
            format!("embedding index {index} out of range (sent {expected} inputs)")
        })?;
        let values = item
            .get("embedding")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("embedding {index} is not an array of floats"))?;
        let vector = values
            .iter()
            .map(|v| v.as_f64().map(|f| f as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| format!("embedding {index} contains a non-number"))?;
        *slot = Some(vector);
    }
    let vectors = slots
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| format!("embeddings response is missing index {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let usage = doc.get("usage").filter(|u| u.is_object()).map(|u| Usage {
        input_tokens: u
            .get("prompt_tokens")
            .or_else(|| u.get("input_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0),
        output_tokens: 0,
    });
    let model = doc
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(requested_model)
        .to_string();
    Ok(Embeddings {
        vectors,
        usage,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(api: Api) -> ProviderConfig {
        ProviderConfig {
            id: "p".into(),
            api,
            base_url: "https://example.invalid/v1/".into(),
            api_key: Some("sk-very-secret".into()),
            headers: vec![("X-Extra".into(), "1".into())],
            request_timeout: Duration::from_secs(5),
            known_secrets: vec![],
        }
    }

    #[test]
    fn debug_redacts_key() {
        let c = cfg(Api::OpenaiCompletions);
        let text = format!("{c:?}");
        assert!(!text.contains("sk-very-secret"), "{text}");
        assert!(text.contains("[redacted]"));
        let p = Provider::new(c, reqwest::Client::new());
        assert!(!format!("{p:?}").contains("sk-very-secret"));
        assert_eq!(p.base, "https://example.invalid/v1");
    }

    #[test]
    fn headers_per_api() {
        let (h, e) = build_headers(&cfg(Api::OpenaiCompletions));
        assert!(e.is_none());
        assert_eq!(h["authorization"], "Bearer sk-very-secret");
        assert_eq!(h["x-extra"], "1");
        let (h, _) = build_headers(&cfg(Api::AnthropicMessages));
        assert_eq!(h["x-api-key"], "sk-very-secret");
        assert_eq!(h["anthropic-version"], ANTHROPIC_VERSION);
        assert!(h.get("authorization").is_none());
    }

    #[test]
    fn invalid_key_or_header_is_reported_without_the_value() {
        let mut c = cfg(Api::OpenaiCompletions);
        c.api_key = Some("sk-bad\nkey".into());
        let (_, e) = build_headers(&c);
        let e = e.unwrap();
        assert!(e.contains("apiKey") && !e.contains("sk-bad"), "{e}");
        let mut c = cfg(Api::OpenaiCompletions);
        c.headers = vec![("Bad Name".into(), "secret-value".into())];
        let e = build_headers(&c).1.unwrap();
        assert!(e.contains("Bad Name") && !e.contains("secret-value"), "{e}");
    }

    #[test]
    fn embeddings_parsing() {
        let body = br#"{"object":"list","data":[
            {"object":"embedding","index":1,"embedding":[0.5,-1]},
            {"object":"embedding","index":0,"embedding":[0.25,2]}
        ],"model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}}"#;
        let e = parse_embeddings(body, "req", 2).unwrap();
        assert_eq!(e.vectors, vec![vec![0.25, 2.0], vec![0.5, -1.0]]);
        assert_eq!(e.model, "text-embedding-3-small");
        assert_eq!(
            e.usage,
            Some(Usage {
                input_tokens: 7,
                output_tokens: 0
            })
        );
        assert!(
            parse_embeddings(body, "req", 3)
                .unwrap_err()
                .contains("missing index 2")
        );
        assert!(
            parse_embeddings(body, "req", 1)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_embeddings(b"{}", "req", 1).is_err());
        assert!(parse_embeddings(b"not json", "req", 1).is_err());
        let bad = br#"{"data":[{"index":0,"embedding":"AAAA"}]}"#;
        assert!(parse_embeddings(bad, "req", 1).is_err());
        let huge_index = br#"{"data":[{"index":18446744073709551615,"embedding":[1]}]}"#;
        assert!(parse_embeddings(huge_index, "req", 1).is_err());
    }
}
