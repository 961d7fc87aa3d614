//! Registry of authenticated connections and their outbound queues.
//!
//! Every connection has an unbounded channel whose *bytes* are bounded instead: each queued
//! frame adds its length to a counter the writer task subtracts from. Droppable events
//! (tick, presence, health) are skipped for a client that is already behind, and a client
//! whose queue would pass `maxBufferedBytes` is disconnected. Broadcasting therefore never
//! waits on a slow client and never grows memory without limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{Notify, mpsc};

/// A frame waiting to be written to one connection.
#[derive(Debug)]
pub enum Outbound {
    /// A serialized `res` frame (never dropped).
    Response(String),
    /// An event; the writer wraps `payload` (already-serialized JSON) into a frame.
    Event {
        /// Event name.
        name: &'static str,
        /// Serialized payload, shared between all recipients of a broadcast.
        payload: Arc<str>,
        /// This connection's sequence number for the event.
        seq: u64,
    },
    /// Close the socket with this code and reason, after everything queued before it.
    Close(u16, &'static str),
}

impl Outbound {
    fn cost(&self) -> usize {
        match self {
            Outbound::Response(s) => s.len(),
            Outbound::Event { name, payload, .. } => payload.len() + name.len() + 48,
            Outbound::Close(..) => 0,
        }
    }
}

/// Queued bytes past which droppable events are skipped for a connection.
pub const DROP_THRESHOLD_BYTES: usize = 1024 * 1024;

/// One connection as seen by the rest of the gateway.
#[derive(Debug)]
pub struct ConnHandle {
    /// Connection id (`hello-ok.server.connId`).
    pub id: String,
    /// Scopes granted at connect.
    pub scopes: Vec<String>,
    tx: mpsc::UnboundedSender<Outbound>,
    queued: AtomicUsize,
    next_seq: AtomicU64,
    killed: AtomicBool,
    kill: Notify,
    max_buffered: usize,
}

impl ConnHandle {
    /// A handle and the receiving end its writer task drains.
    pub fn new(
        id: String,
        scopes: Vec<String>,
        max_buffered: usize,
    ) -> (Arc<ConnHandle>, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = Arc::new(ConnHandle {
            id,
            scopes,
            tx,
            queued: AtomicUsize::new(0),
            next_seq: AtomicU64::new(1),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            max_buffered,
        });
        (handle, rx)
    }

    /// Queues a response. Responses are never dropped; a client too far behind is
    /// disconnected instead.
    pub fn send_response(&self, frame: String) {
        self.push(Outbound::Response(frame));
    }

    /// Queues an event with the next sequence number. A droppable event is skipped (its
    /// sequence number still consumed, so the client sees the gap) when the client is behind.
    pub fn send_event(&self, name: &'static str, payload: Arc<str>, droppable: bool) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        if droppable && self.queued.load(Ordering::Relaxed) > DROP_THRESHOLD_BYTES {
            return;
        }
        self.push(Outbound::Event { name, payload, seq });
    }

    /// Queues a close after whatever is already queued.
    pub fn close(&self, code: u16, reason: &'static str) {
        let _ = self.tx.send(Outbound::Close(code, reason));
    }

    fn push(&self, item: Outbound) {
        let cost = item.cost();
        let before = self.queued.fetch_add(cost, Ordering::Relaxed);
        if before + cost > self.max_buffered {
            self.queued.fetch_sub(cost, Ordering::Relaxed);
            self.kill();
            return;
        }
        if self.tx.send(item).is_err() {
            self.queued.fetch_sub(cost, Ordering::Relaxed);
        }
    }

    /// Called by the writer after a frame left the queue.
    pub fn written(&self, item: &Outbound) {
        self.queued.fetch_sub(item.cost(), Ordering::Relaxed);
    }

    /// Bytes currently queued.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Disconnects the client at once (slow consumer).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.kill.notify_waiters();
        self.kill.notify_one();
    }

    /// Resolves when [`ConnHandle::kill`] was called.
    pub async fn killed(&self) {
        if self.killed.load(Ordering::Relaxed) {
            return;
        }
        self.kill.notified().await;
    }

    /// Whether the connection was killed.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

/// All authenticated connections.
#[derive(Default)]
pub struct Registry {
    conns: RwLock<HashMap<String, Arc<ConnHandle>>>,
}

impl Registry {
    /// Adds a connection.
    pub fn insert(&self, conn: Arc<ConnHandle>) {
        self.write().insert(conn.id.clone(), conn);
    }

    /// Removes a connection.
    pub fn remove(&self, id: &str) {
        self.write().remove(id);
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends an event to every connection. The payload is serialized once by the caller.
    pub fn broadcast(&self, name: &'static str, payload: Arc<str>, droppable: bool) {
        for conn in self.read().values() {
            conn.send_event(name, payload.clone(), droppable);
        }
    }

    /// Sends an event to the connections for which `filter` is true.
    pub fn broadcast_to(
        &self,
        name: &'static str,
        payload: Arc<str>,
        droppable: bool,
        filter: impl Fn(&ConnHandle) -> bool,
    ) {
        for conn in self.read().values().filter(|c| filter(c)) {
            conn.send_event(name, payload.clone(), droppable);
        }
    }

    /// Queues a close frame on every connection.
    pub fn close_all(&self, code: u16, reason: &'static str) {
        for conn in self.read().values() {
            conn.close(code, reason);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<ConnHandle>>> {
        self.conns.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<ConnHandle>>> {
        self.conns.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn droppable_events_skip_when_behind_and_overflow_kills() {
        let (h, mut rx) = ConnHandle::new("c".into(), vec![], 3 * DROP_THRESHOLD_BYTES);
        let big: Arc<str> = Arc::from("x".repeat(DROP_THRESHOLD_BYTES + 10));
        h.send_event("tick", big.clone(), true);
        h.send_event("tick", Arc::from("{}"), true); // skipped: already behind
        h.send_event("agent", Arc::from("{}"), false); // kept
        let first = rx.try_recv().unwrap();
        assert!(matches!(first, Outbound::Event { seq: 1, .. }));
        h.written(&first);
        assert!(matches!(
            rx.try_recv().unwrap(),
            Outbound::Event { seq: 3, .. }
        ));
        assert!(!h.is_killed());
        for _ in 0..4 {
            h.send_event("agent", big.clone(), false);
        }
        assert!(h.is_killed());
        assert!(h.queued_bytes() <= 3 * DROP_THRESHOLD_BYTES);
    }
}
