//! Running agents: one turn ([`runner`]), background runs that stream `agent`/`chat`
//! events to operators ([`spawn`]), and the narrow handle channels start turns through
//! ([`TurnHost`]).
//!
//! What an agent *is* (its model chain, prompt, limits) is [`crate::catalog`], built per
//! config activation; the run registry is [`crate::runs`]. This layer sits above state:
//! RPC handlers, HTTP endpoints and channels call into it, never the other way round.

pub mod runner;
pub mod spawn;

use std::sync::{Arc, Weak};

use openclaw_sessions::{SessionError, SessionKey, SessionStore};
use tokio::sync::watch;

pub use runner::{
    GenParams, Outcome, RunError, RunEvent, Turn, recover_interrupted, reset_if_idle, run_turn,
};
pub use spawn::{AGENT_EVENT, CHAT_EVENT, spawn_run, with_gateway_tools};

use crate::catalog::{Agent, DEFAULT_AGENT_ID};
use crate::runs::{RunEntry, Runs};
use crate::state::{AppState, ChannelDeps};

/// Parses a full session key (`agent:<agentId>:<name>`).
pub fn session_key(raw: &str) -> Result<SessionKey, SessionError> {
    SessionKey::parse(raw)
}

/// A session key as clients write it: a full `agent:<id>:<name>` key, or a bare name,
/// which means a session of the default agent (as in OpenClaw).
pub fn session_key_for(raw: &str) -> Result<SessionKey, SessionError> {
    if raw.starts_with("agent:") {
        SessionKey::parse(raw)
    } else {
        SessionKey::new(DEFAULT_AGENT_ID, raw)
    }
}

/// What a channel account may do with agents: look one up, write to transcripts, start a
/// background run. It holds no listener generation alive: a run started between two
/// generations waits for none and reports the gateway unavailable instead.
#[derive(Clone)]
pub struct TurnHost {
    sessions: SessionStore,
    runs: Arc<Runs>,
    generation: watch::Receiver<Weak<AppState>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl TurnHost {
    /// The handle, from the parts [`crate::state::Shared::new`] gives channels.
    pub fn new(deps: ChannelDeps) -> TurnHost {
        TurnHost {
            sessions: deps.sessions,
            runs: deps.runs,
            generation: deps.generation,
            metrics: deps.metrics,
        }
    }

    /// The process's metrics (a channel counts its reconnects there).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    fn current(&self) -> Option<Arc<AppState>> {
        self.generation.borrow().upgrade()
    }

    /// Whether a listener generation is serving (turns can be started).
    pub fn is_serving(&self) -> bool {
        self.current().is_some_and(|s| !s.is_draining())
    }

    /// The default agent's id in the current config; `None` when no generation serves.
    pub fn default_agent_id(&self) -> Option<String> {
        Some(self.current()?.live().agents.default_id().to_owned())
    }

    /// The agent `id` of the current config, if it exists.
    pub fn agent(&self, id: &str) -> Option<Agent> {
        self.current()?.live().agents.get(id).cloned()
    }

    /// Session transcripts.
    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// Starts `turn` in the background (events go to the serving generation's operators);
    /// `None` when no generation is serving.
    pub fn start(&self, turn: Turn) -> Option<Arc<RunEntry>> {
        let state = self.current()?;
        if let Some(why) = state.shared.memory.pressure() {
            tracing::warn!(target: "gateway", run = %turn.run_id, "{why}");
            return None;
        }
        let entry = self.runs.start(&turn.run_id, &turn.session.to_string());
        spawn_run(&state, turn, entry.clone());
        Some(entry)
    }
}
