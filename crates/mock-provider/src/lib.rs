//! A small, fast stand-in for real model providers.
//!
//! The gateway's provider clients are written against the real OpenAI and Anthropic HTTP
//! APIs. Tests and benchmarks need something that speaks those exact wire formats without
//! network access, API keys, cost, or the latency noise of a real model, so this crate
//! serves:
//!
//! * `POST /v1/chat/completions` (OpenAI Chat Completions, JSON and SSE),
//! * `POST /v1/responses` (OpenAI Responses, JSON and SSE),
//! * `POST /v1/embeddings` (OpenAI Embeddings),
//! * `POST /v1/messages` (Anthropic Messages, JSON and SSE),
//! * `GET /v1/models` and `GET /v1/models/{id}` (OpenAI model list).
//!
//! By default every request is answered at once with `echo: <last user text>`. Behaviour
//! can be changed for the whole server through [`MockOptions`], or per request through
//! `+`-separated directives in the `model` field (for example `mock-fail-500` or
//! `mock-slow-2000+disconnect-2`), so that one server can serve many test cases at once:
//!
//! | directive | effect |
//! |-----------|--------|
//! | `fail-<status>` | answer with that status and the API's error JSON (`Retry-After: 1` on 429) |
//! | `retry-<secs>` | with `fail-429` (default 1), `fail-503` or `fail-529`: the `Retry-After` value |
//! | `slow-<ms>` | delay before the response headers |
//! | `chunkdelay-<ms>` | delay before each streamed content chunk |
//! | `disconnect-<n>` | streaming: drop the connection after `n` content chunks |
//! | `tool` | answer with a tool call instead of text (see below for scripted calls) |
//! | `toolloop` | keep making the scripted tool calls even after tool results (for round limits) |
//! | `failfirst-<status>` | fail only the first request with this exact model string |
//! | `echoheaders` | fail (400 unless a `fail-*` says otherwise) with every request header, values included, in the error message |
//!
//! Each part may carry a leading `mock-`; unknown parts are ignored, so ordinary model
//! names behave normally.
//!
//! ## Scripted tool calls
//!
//! Agent tool loops are driven from the conversation itself, the same way on all three
//! APIs, streaming or not:
//!
//! * **`[[tool NAME JSON]]` in the last user message** makes the reply tool calls only: one
//!   call of `NAME` per directive, in order (several directives = parallel calls at indexes
//!   0, 1, …), with `JSON` (up to the closing `]]`; `{}` when omitted) as the arguments,
//!   e.g. `[[tool write {"path":"a.txt","content":"hi"}]]`. Finish reason `tool_calls` /
//!   stop reason `tool_use` / Responses `function_call` items. Call ids are `call_<n>`
//!   (Chat, and Responses `call_id`, whose item id is `fc_<n>`) and `toolu_<n>` (Anthropic),
//!   where `n` counts the tool calls the assistant already made in the conversation, so ids
//!   are predictable and unique within one conversation. Streamed, each call's arguments
//!   arrive in at least three fragments cut at fixed widths (mid-string, mid-escape), one
//!   call after the other. Arguments that are not JSON are passed through as text, except
//!   in a non-streaming Anthropic reply, whose `input` must be JSON: that is a 400.
//! * **A conversation that ends with tool results** (Chat `tool` messages, Responses
//!   `function_call_output` items, Anthropic `tool_result` blocks) is answered with the text
//!   `tool results: <id>=<content>; <id>=<content>` quoting every trailing result verbatim
//!   (array contents: their text parts joined by newlines). This takes precedence over the
//!   directives, so a loop ends after one round, and proves each result reached the model.
//!   With the `toolloop` model directive it does not apply: the calls repeat every round
//!   (ids still counting up), to test a client's round limit.
//! * The older `tool` model directive still answers one call of the first declared tool
//!   (or `lookup`) with `{"query": <last user text>}`.

mod anthropic;
mod directives;
mod errors;
mod openai;
mod prompt;
mod stream;

use std::collections::{HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::directives::Directives;
use crate::errors::{Api, ApiError};
use crate::stream::Track;

/// How many request bodies [`MockServer::requests`] keeps; older ones are dropped so a
/// long benchmark run does not grow memory without bound.
const REQUEST_LOG_LEN: usize = 100;

/// Largest request body accepted. Generous, because the gateway may send long histories,
/// yet bounded so a runaway test cannot exhaust memory.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Server-wide behaviour of the mock.
///
/// Every field defaults to "behave like a healthy, instant provider"; tests switch on only
/// what they exercise. Per-request directives in the `model` field take precedence over
/// these settings, so a shared server can still produce one-off failures.
#[derive(Debug, Clone, Default)]
pub struct MockOptions {
    /// When set, requests must carry `Authorization: Bearer <key>` (OpenAI routes) or
    /// `x-api-key: <key>` (Anthropic route); anything else gets a 401 in that API's error
    /// JSON. Lets tests check that the gateway forwards provider credentials.
    pub api_key: Option<String>,
    /// Delay before the response headers of every model request (default none), to
    /// simulate time-to-first-byte. The `slow-<ms>` directive overrides it.
    pub latency: Duration,
    /// Delay before each streamed content chunk (default none), to simulate token
    /// generation speed. The `chunkdelay-<ms>` directive overrides it.
    pub chunk_delay: Duration,
    /// Answer every request with this status and an API-shaped error body, to simulate a
    /// provider outage. A `fail-<status>` directive overrides it.
    pub fail_status: Option<u16>,
    /// Streaming responses drop the connection after this many content chunks, without a
    /// terminal event, to simulate a provider that dies mid-stream. The
    /// `disconnect-<n>` directive overrides it.
    pub disconnect_after: Option<usize>,
    /// Fixed reply text instead of the default `echo: <last user text>`, for tests that
    /// need a particular answer (for example a long one).
    pub reply: Option<String>,
    /// Simulated failures (`fail_status`, `fail-*`) put every request header, values
    /// included, into their error message, like a careless proxy or self-hosted server.
    /// Lets tests check that credentials echoed by an upstream never reach a log or a
    /// client. The `echoheaders` directive does the same for one request.
    pub echo_headers_on_error: bool,
}

/// Counters a test or benchmark can read while the server runs.
///
/// They are plain atomics so that reading them never contends with the request path.
#[derive(Debug, Default)]
pub struct Stats {
    /// Model requests received (every `POST` to one of the four model endpoints, whatever
    /// its outcome). `GET /v1/models` is not counted, so a test can assert exactly how many
    /// generations the gateway asked for.
    pub requests: AtomicU64,
    /// Successful responses whose body was produced in full (for streams: the last event
    /// was handed to the connection). Error answers and deliberate disconnects do not count.
    pub completed: AtomicU64,
    /// Responses abandoned because the client went away first: a stream dropped before its
    /// last event, or a request whose connection closed during the `latency`/`slow` delay.
    /// This is how tests prove that the gateway cancels upstream work.
    pub cancelled: AtomicU64,
}

/// State shared by all request handlers of one server.
pub(crate) struct Shared {
    /// Server-wide behaviour.
    pub(crate) opts: MockOptions,
    /// Counters, also held by [`MockServer`].
    pub(crate) stats: Arc<Stats>,
    /// Bodies of the most recent requests, newest last.
    log: Mutex<VecDeque<Value>>,
    /// Model strings that already used up their `failfirst-<status>` failure.
    failed_first: Mutex<HashSet<String>>,
}

/// What [`Shared::plan`] decided for a request that passed validation.
pub(crate) struct Plan {
    /// The directives parsed from the model string.
    pub(crate) dir: Directives,
    /// Completion/cancellation accounting for this response.
    pub(crate) track: Track,
    /// Delay before each streamed content chunk.
    pub(crate) chunk_delay: Duration,
    /// Streaming: abort after this many content chunks.
    pub(crate) disconnect_after: Option<usize>,
}

/// Locks a mutex even if a panicking thread poisoned it: the data (a log, a set) stays
/// valid either way, and a mock must not turn one failed test into many.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn new(opts: MockOptions) -> Self {
        Shared {
            opts,
            stats: Arc::new(Stats::default()),
            log: Mutex::new(VecDeque::with_capacity(REQUEST_LOG_LEN)),
            failed_first: Mutex::new(HashSet::new()),
        }
    }

    /// Common front half of every model request: count it, check credentials (and the
    /// Anthropic version header), and parse the body as a JSON object.
    pub(crate) fn admit(
        &self,
        api: Api,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.check_auth(api, headers)?;
        if api == Api::Anthropic && !headers.contains_key("anthropic-version") {
            return Err(ApiError::new(
                api,
                400,
                "anthropic-version: header is required",
            ));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.is_object() => Ok(v),
            Ok(_) => Err(ApiError::new(
                api,
                400,
                "The request body must be a JSON object.",
            )),
            Err(e) => Err(ApiError::new(
                api,
                400,
                format!("We could not parse the JSON body of your request: {e}"),
            )),
        }
    }

    /// Checks the API key, when one is configured, in the header style of `api`.
    pub(crate) fn check_auth(&self, api: Api, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(key) = self.opts.api_key.as_deref() else {
            return Ok(());
        };
        let given = match api {
            Api::OpenAi => headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                }),
            Api::Anthropic => headers.get("x-api-key").and_then(|v| v.to_str().ok()),
        };
        if given.map(str::trim) == Some(key) {
            Ok(())
        } else {
            let msg = match api {
                Api::OpenAi => "Incorrect API key provided.",
                Api::Anthropic => "invalid x-api-key",
            };
            Err(ApiError::new(api, 401, msg))
        }
    }

    /// Keeps a request body for [`MockServer::requests`].
    pub(crate) fn record(&self, body: Value) {
        let mut log = lock(&self.log);
        if log.len() == REQUEST_LOG_LEN {
            log.pop_front();
        }
        log.push_back(body);
    }

    /// Back half shared by all model requests: resolve directives against the options,
    /// wait out the configured latency, and fail if asked to. The returned plan carries the
    /// accounting guard, so a client that leaves during the delay is counted as cancelled.
    pub(crate) async fn plan(
        &self,
        api: Api,
        model: &str,
        headers: &HeaderMap,
    ) -> Result<Plan, ApiError> {
        let dir = Directives::parse(model);
        let fail = dir
            .fail
            .or_else(|| {
                dir.fail_first
                    .filter(|_| lock(&self.failed_first).insert(model.to_owned()))
            })
            .or(self.opts.fail_status)
            .or(dir.echo_headers.then_some(400));
        let mut track = Track::new(self.stats.clone());
        let delay = dir.slow.unwrap_or(self.opts.latency);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(status) = fail {
            track.settle();
            let err = ApiError::failure(api, status, dir.retry_after);
            return Err(if dir.echo_headers || self.opts.echo_headers_on_error {
                err.echoing(headers)
            } else {
                err
            });
        }
        Ok(Plan {
            chunk_delay: dir.chunk_delay.unwrap_or(self.opts.chunk_delay),
            disconnect_after: dir.disconnect.or(self.opts.disconnect_after),
            dir,
            track,
        })
    }
}

/// A running mock provider.
///
/// Serving stops when it is dropped (or [`shutdown`](MockServer::shutdown) is called), so
/// a test cannot leak a listening port past its own end.
pub struct MockServer {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    /// Live counters; see [`Stats`].
    pub stats: Arc<Stats>,
    shared: Arc<Shared>,
    /// Dropping this ends the serve loop.
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .field("stats", &self.stats)
            .field("opts", &self.shared.opts)
            .finish()
    }
}

impl MockServer {
    /// `http://HOST:PORT`: the base for Anthropic-style configuration, which appends
    /// `/v1/messages` itself.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://HOST:PORT/v1`: the base for OpenAI-style configuration, which appends
    /// `/chat/completions`, `/responses` or `/embeddings`.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Bodies of the last 100 requests that parsed as JSON objects (newest last), so tests
    /// can check exactly what the gateway sent upstream. Requests rejected before parsing
    /// (bad credentials, malformed JSON) are not included.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// Stops accepting connections and closes idle ones; responses already in flight are
    /// allowed to finish. Dropping the server does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

/// Starts a mock provider on `127.0.0.1` with an ephemeral port, serving on a background
/// tokio task. Needs to be called inside a tokio runtime.
pub async fn spawn(opts: MockOptions) -> std::io::Result<MockServer> {
    spawn_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), opts).await
}

/// Starts a mock provider on a given address (for the binary, or a test that needs a fixed
/// port), serving on a background tokio task.
pub async fn spawn_on(addr: SocketAddr, opts: MockOptions) -> std::io::Result<MockServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(opts));
    let app = build_router(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    // Without TCP_NODELAY, small SSE writes can sit in Nagle's buffer for tens of
    // milliseconds, which would swamp the latencies the benchmarks measure.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(MockServer {
        addr,
        stats: shared.stats.clone(),
        shared,
        _stop: stop,
    })
}

/// Builds the router for one server's state.
fn build_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat))
        .route("/v1/responses", post(openai::responses))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{id}", get(openai::model))
        .route("/v1/messages", post(anthropic::messages))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// Unknown paths answer like OpenAI does, so a misconfigured base URL shows up as a clear
/// provider error rather than an empty 404.
async fn not_found(method: axum::http::Method, uri: axum::http::Uri, _body: Bytes) -> ApiError {
    ApiError::new(
        Api::OpenAi,
        404,
        format!("Invalid URL ({method} {})", uri.path()),
    )
}
