//! System presence: who is connected, as shown by `system-presence` and `presence` events.
//!
//! Short-lived control clients (`cli`, `backend`, `probe` modes) are not tracked, the list
//! is capped at [`MAX_ENTRIES`], and change events are coalesced, so a burst of thousands
//! of connections costs one broadcast, not thousands of full-list copies per client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Most entries kept; the oldest are dropped first.
pub const MAX_ENTRIES: usize = 200;

/// Client modes that never become presence entries.
const EPHEMERAL_MODES: &[&str] = &["cli", "backend", "probe"];

/// One presence row.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEntry {
    /// Last update, ms since the epoch.
    pub ts: u64,
    /// Host name (the client's own, or the gateway's for the self entry).
    pub host: String,
    /// Client address; omitted for loopback clients, where it would only show the tunnel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Client version.
    pub version: String,
    /// Client platform.
    pub platform: String,
    /// Device family hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    /// Client mode (`ui`, `webchat`, `node`, `test`, … or `gateway` for the self entry).
    pub mode: String,
    /// Why the entry was written: `self` or `connect`.
    pub reason: String,
    /// Roles of the connection.
    pub roles: Vec<String>,
    /// Scopes of the connection.
    pub scopes: Vec<String>,
    /// Client instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Connection id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_id: Option<String>,
}

/// The presence table and its version counter.
pub struct Presence {
    self_entry: PresenceEntry,
    entries: Mutex<HashMap<String, PresenceEntry>>,
    version: AtomicU64,
}

impl Presence {
    /// A table seeded with the gateway's own entry.
    pub fn new(self_entry: PresenceEntry) -> Self {
        Self {
            self_entry,
            entries: Mutex::new(HashMap::new()),
            version: AtomicU64::new(1),
        }
    }

    /// Whether clients of this mode are tracked.
    pub fn tracks_mode(mode: &str) -> bool {
        !EPHEMERAL_MODES.contains(&mode)
    }

    /// Adds or replaces the entry for a connection; returns false if the mode is not tracked.
    pub fn upsert(&self, entry: PresenceEntry) -> bool {
        if !Self::tracks_mode(&entry.mode) {
            return false;
        }
        let Some(key) = entry.conn_id.clone() else {
            return false;
        };
        let mut entries = self.lock();
        entries.insert(key, entry);
        while entries.len() > MAX_ENTRIES {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.ts)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => entries.remove(&k),
                None => break,
            };
        }
        drop(entries);
        self.version.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes a connection's entry; returns whether there was one.
    pub fn remove(&self, conn_id: &str) -> bool {
        let removed = self.lock().remove(conn_id).is_some();
        if removed {
            self.version.fetch_add(1, Ordering::Relaxed);
        }
        removed
    }

    /// The self entry first, then clients, newest first.
    pub fn list(&self) -> Vec<PresenceEntry> {
        let mut clients: Vec<PresenceEntry> = self.lock().values().cloned().collect();
        clients.sort_by(|a, b| b.ts.cmp(&a.ts).then_with(|| a.conn_id.cmp(&b.conn_id)));
        let mut out = Vec::with_capacity(clients.len() + 1);
        out.push(self.self_entry.clone());
        out.extend(clients);
        out
    }

    /// Monotonic version, bumped on every change (`stateVersion.presence`).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PresenceEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, mode: &str, ts: u64) -> PresenceEntry {
        PresenceEntry {
            ts,
            host: "h".into(),
            ip: None,
            version: "1".into(),
            platform: "linux".into(),
            device_family: None,
            mode: mode.into(),
            reason: "connect".into(),
            roles: vec!["operator".into()],
            scopes: vec![],
            instance_id: None,
            conn_id: Some(id.into()),
        }
    }

    #[test]
    fn caps_and_skips_ephemeral() {
        let p = Presence::new(entry("self", "gateway", 0));
        assert!(!p.upsert(entry("a", "cli", 1)));
        for i in 0..(MAX_ENTRIES + 5) {
            assert!(p.upsert(entry(&format!("c{i}"), "ui", i as u64 + 10)));
        }
        let list = p.list();
        assert_eq!(list.len(), MAX_ENTRIES + 1);
        assert_eq!(list[0].mode, "gateway");
        assert!(list.iter().all(|e| e.conn_id.as_deref() != Some("c0")));
        let v = p.version();
        assert!(p.remove("c10"));
        assert!(p.version() > v);
    }
}
