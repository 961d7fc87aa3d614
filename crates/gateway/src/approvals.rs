//! Exec approvals waiting for an operator: `exec.approval.requested` goes out, the tool
//! call waits, and `exec.approval.resolve` (scope `operator.approvals`) or the timeout
//! ends the wait. Process-lifetime, like runs: a listener restart does not drop a pending
//! request.
//!
//! Only the bookkeeping lives here; which commands need asking is the exec policy's
//! business (`tools::exec::approvals`), and broadcasting is the caller's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::sys::now_ms;

/// An operator's answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Run this command this time.
    AllowOnce,
    /// Run it, and add it to the allowlist so it is not asked again.
    AllowAlways,
    /// Do not run it.
    Deny,
}

impl Resolution {
    /// Parses OpenClaw's decision names.
    pub fn parse(raw: &str) -> Option<Resolution> {
        match raw {
            "allow-once" => Some(Resolution::AllowOnce),
            "allow-always" => Some(Resolution::AllowAlways),
            "deny" => Some(Resolution::Deny),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::AllowOnce => "allow-once",
            Resolution::AllowAlways => "allow-always",
            Resolution::Deny => "deny",
        }
    }
}

/// Why a resolve failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// No pending request has that id (never existed, already resolved, or expired).
    #[error(
        "no pending exec approval {0:?}: it was already resolved or expired; `openclaw approvals pending` lists the open ones"
    )]
    NotFound(String),
}

struct Pending {
    record: Value,
    answer: oneshot::Sender<Resolution>,
}

/// The open requests.
#[derive(Default)]
pub struct PendingApprovals {
    open: Mutex<HashMap<String, Pending>>,
}

impl PendingApprovals {
    /// Opens a request for `request` (command, cwd, agent, session…) that expires after
    /// `timeout`; returns its record (for the `requested` event) and the receiver of the
    /// answer. The caller waits with its own timer and calls [`PendingApprovals::close`]
    /// when it stops waiting.
    pub fn open(
        &self,
        request: Value,
        timeout: Duration,
    ) -> (Value, oneshot::Receiver<Resolution>) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = now_ms();
        let record = json!({
            "id": id,
            "kind": "exec",
            "request": request,
            "createdAtMs": now,
            "expiresAtMs": now + timeout.as_millis() as u64,
        });
        let (tx, rx) = oneshot::channel();
        self.lock().insert(
            id,
            Pending {
                record: record.clone(),
                answer: tx,
            },
        );
        (record, rx)
    }

    /// Forgets request `id` (timed out or the call was abandoned).
    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Answers request `id`; returns its record.
    pub fn resolve(&self, id: &str, decision: Resolution) -> Result<Value, ResolveError> {
        let p = self
            .lock()
            .remove(id)
            .ok_or_else(|| ResolveError::NotFound(id.to_owned()))?;
        // The waiter may have given up a moment ago; the answer then has no effect, and
        // the request counts as expired.
        p.answer
            .send(decision)
            .map_err(|_| ResolveError::NotFound(id.to_owned()))?;
        Ok(p.record)
    }

    /// The open requests, oldest first.
    pub fn list(&self) -> Vec<Value> {
        let mut v: Vec<Value> = self.lock().values().map(|p| p.record.clone()).collect();
        v.sort_by_key(|r| r["createdAtMs"].as_u64());
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_resolve_and_expire() {
        let p = PendingApprovals::default();
        let (rec, rx) = p.open(json!({"command": "ls"}), Duration::from_secs(5));
        let id = rec["id"].as_str().unwrap().to_owned();
        assert_eq!(p.list().len(), 1);
        p.resolve(&id, Resolution::AllowOnce).unwrap();
        assert_eq!(rx.await.unwrap(), Resolution::AllowOnce);
        assert_eq!(
            p.resolve(&id, Resolution::Deny),
            Err(ResolveError::NotFound(id.clone()))
        );
        let (rec, rx) = p.open(json!({"command": "ls"}), Duration::from_secs(5));
        drop(rx);
        let id = rec["id"].as_str().unwrap();
        assert!(
            p.resolve(id, Resolution::Deny).is_err(),
            "a waiter that left cannot be answered"
        );
        assert_eq!(
            Resolution::parse("allow-always"),
            Some(Resolution::AllowAlways)
        );
        assert_eq!(Resolution::parse("yes"), None);
    }
}
