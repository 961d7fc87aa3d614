//! The registry of agent runs: running ones can be aborted, finished ones answered by
//! `agent.wait` for a while afterwards.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

/// How long a finished run stays answerable by `agent.wait`.
pub const KEEP_FINISHED: Duration = Duration::from_secs(600);
/// Most finished runs kept.
pub const MAX_FINISHED: usize = 10_000;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Answered.
    Ok,
    /// Every model failed, or the transcript could not be written.
    Error,
    /// Aborted by `chat.abort`, a disconnecting HTTP client, or shutdown.
    Aborted,
}

impl RunStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Error => "error",
            RunStatus::Aborted => "aborted",
        }
    }
}

/// A finished run's result.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// How it ended.
    pub status: RunStatus,
    /// The final payload (`runId`, `status`, text, provider, usage or error).
    pub payload: Value,
}

/// Cooperative cancellation for one run.
#[derive(Clone)]
pub struct Cancel(Arc<watch::Sender<bool>>);

impl Default for Cancel {
    fn default() -> Self {
        Cancel(Arc::new(watch::channel(false).0))
    }
}

impl Cancel {
    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
    /// Resolves once cancellation is requested.
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// One run.
pub struct RunEntry {
    /// Run id.
    pub run_id: String,
    /// Session the run belongs to.
    pub session_key: String,
    /// Its cancellation handle.
    pub cancel: Cancel,
    done: watch::Sender<Option<RunResult>>,
    finished_at: Mutex<Option<Instant>>,
}

impl RunEntry {
    /// The result, if finished.
    pub fn result(&self) -> Option<RunResult> {
        self.done.borrow().clone()
    }

    /// Waits for the result however long the run takes (runs have their own time limit).
    pub async fn finished(&self) -> RunResult {
        let mut rx = self.done.subscribe();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self`, so this cannot happen while we borrow it.
                return RunResult {
                    status: RunStatus::Error,
                    payload: serde_json::json!({"runId": self.run_id, "status": "error", "error": "run lost"}),
                };
            }
        }
    }

    /// Waits up to `timeout` for the result.
    pub async fn wait(&self, timeout: Duration) -> Option<RunResult> {
        let mut rx = self.done.subscribe();
        let r = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
        match r {
            Ok(Ok(v)) => v.clone(),
            _ => None,
        }
    }
}

/// All runs.
#[derive(Default)]
pub struct Runs {
    inner: Mutex<HashMap<String, Arc<RunEntry>>>,
}

impl Runs {
    /// Registers a new running run.
    pub fn start(&self, run_id: &str, session_key: &str) -> Arc<RunEntry> {
        let entry = Arc::new(RunEntry {
            run_id: run_id.to_owned(),
            session_key: session_key.to_owned(),
            cancel: Cancel::default(),
            done: watch::channel(None).0,
            finished_at: Mutex::new(None),
        });
        let mut map = self.lock();
        Self::prune(&mut map);
        map.insert(run_id.to_owned(), entry.clone());
        entry
    }

    /// Records the result and wakes waiters.
    pub fn finish(&self, entry: &RunEntry, result: RunResult) {
        *entry.finished_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        entry.done.send_replace(Some(result));
    }

    /// A run by id.
    pub fn get(&self, run_id: &str) -> Option<Arc<RunEntry>> {
        self.lock().get(run_id).cloned()
    }

    /// Cancels the running runs of a session (or only `run_id`); returns their ids.
    pub fn abort(&self, session_key: &str, run_id: Option<&str>) -> Vec<String> {
        let map = self.lock();
        let mut out = Vec::new();
        for e in map.values() {
            if e.session_key == session_key
                && e.result().is_none()
                && run_id.is_none_or(|r| r == e.run_id)
            {
                e.cancel.cancel();
                out.push(e.run_id.clone());
            }
        }
        out
    }

    /// Cancels every running run (shutdown after the grace period).
    pub fn abort_all(&self) {
        for e in self.lock().values() {
            if e.result().is_none() {
                e.cancel.cancel();
            }
        }
    }

    /// Runs of one session still running.
    pub fn running_in(&self, session_key: &str) -> usize {
        self.lock()
            .values()
            .filter(|e| e.session_key == session_key && e.result().is_none())
            .count()
    }

    /// Forgets the results of finished runs (`cache.clear`); running runs are kept.
    /// Returns how many were forgotten; `agent.wait` on one of them then says it is unknown.
    pub fn clear_finished(&self) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, e| e.result().is_none());
        before - map.len()
    }

    /// Number of runs still running.
    pub fn running(&self) -> usize {
        self.lock()
            .values()
            .filter(|e| e.result().is_none())
            .count()
    }

    fn prune(map: &mut HashMap<String, Arc<RunEntry>>) {
        let now = Instant::now();
        let finished = |e: &RunEntry| *e.finished_at.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, e| finished(e).is_none_or(|t| now.duration_since(t) < KEEP_FINISHED));
        let done: usize = map.values().filter(|e| finished(e).is_some()).count();
        if done > MAX_FINISHED {
            let mut olds: Vec<(Instant, String)> = map
                .iter()
                .filter_map(|(k, e)| finished(e).map(|t| (t, k.clone())))
                .collect();
            olds.sort();
            for (_, k) in olds.into_iter().take(done - MAX_FINISHED) {
                map.remove(&k);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<RunEntry>>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn wait_abort_finish() {
        let runs = Runs::default();
        let e = runs.start("r1", "agent:main:main");
        assert!(e.wait(Duration::from_millis(10)).await.is_none());
        assert_eq!(runs.abort("agent:main:main", None), vec!["r1"]);
        assert!(e.cancel.is_cancelled());
        runs.finish(
            &e,
            RunResult {
                status: RunStatus::Aborted,
                payload: json!({}),
            },
        );
        assert_eq!(
            runs.get("r1")
                .unwrap()
                .wait(Duration::from_secs(1))
                .await
                .unwrap()
                .status,
            RunStatus::Aborted
        );
        assert!(runs.abort("agent:main:main", None).is_empty());
        assert_eq!(runs.running(), 0);
    }
}
