//! Per-session async mutexes that disappear when nobody needs them.
//!
//! A gateway may see millions of distinct sessions over its lifetime, so keeping one
//! mutex per session forever would leak. Each entry of the map is an `Arc` that is
//! taken out of the map only while the map's own (synchronous) lock is held; whoever lets go of a
//! clone re-takes that lock, drops the clone and removes the entry if the map's copy is
//! the last one left. The map thus holds exactly the sessions that are locked or being
//! waited for. The cleanup also runs when a waiting future is cancelled (dropped) before
//! it got the lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::key::SessionKey;

type Map = HashMap<SessionKey, Arc<AsyncMutex<()>>>;

/// A set of named async mutexes, one per session key.
#[derive(Default)]
pub(crate) struct LockMap {
    map: Mutex<Map>,
}

impl LockMap {
    /// Waits for the mutex of `key` and returns a guard that releases it (and forgets
    /// the entry if unused) on drop.
    pub(crate) async fn acquire(self: &Arc<Self>, key: &SessionKey) -> KeyGuard {
        let mutex = {
            let mut map = self.entries();
            map.entry(key.clone())
                .or_insert_with(|| Arc::new(AsyncMutex::new(())))
                .clone()
        };
        // The wait future owns its own clone of the `Arc`. It is declared after the slot,
        // so if this future is cancelled it is dropped first, and the slot's drop then
        // sees the true count and removes an entry that nobody holds any more.
        let slot = Slot {
            owner: Arc::clone(self),
            key: key.clone(),
            mutex: Some(Arc::clone(&mutex)),
        };
        let wait = mutex.lock_owned();
        let guard = wait.await;
        KeyGuard {
            _guard: guard,
            _slot: slot,
        }
    }

    /// How many sessions currently have an entry (held or waited for).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries().len()
    }

    fn entries(&self) -> MutexGuard<'_, Map> {
        // A panic while holding this lock cannot leave the map inconsistent (every
        // critical section is a single insert/remove), so poisoning is ignored.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Holds one clone of a session's mutex and returns it to the map on drop.
struct Slot {
    owner: Arc<LockMap>,
    key: SessionKey,
    mutex: Option<Arc<AsyncMutex<()>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.owner.entries();
        // Drop our clone while the map is locked, so nobody can clone in between.
        drop(self.mutex.take());
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

/// A held per-session mutex. Field order matters: the mutex guard (which owns a clone
/// of the `Arc`) is dropped before the slot checks whether the entry is still needed.
pub(crate) struct KeyGuard {
    _guard: OwnedMutexGuard<()>,
    _slot: Slot,
}

impl std::fmt::Debug for KeyGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyGuard")
            .field("key", &self._slot.key.to_string())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> SessionKey {
        SessionKey::new("main", name).expect("valid key")
    }

    #[tokio::test]
    async fn entries_are_dropped_when_unused() {
        let locks = Arc::new(LockMap::default());
        for i in 0..1000 {
            let _g = locks.acquire(&key(&format!("s{i}"))).await;
            assert_eq!(locks.len(), 1);
        }
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn cancelled_waiter_cleans_up() {
        let locks = Arc::new(LockMap::default());
        let k = key("x");
        let held = locks.acquire(&k).await;
        {
            let wait = locks.acquire(&k);
            // Poll once (it blocks), then drop the future.
            let r = tokio::time::timeout(std::time::Duration::from_millis(20), wait).await;
            assert!(r.is_err());
        }
        assert_eq!(locks.len(), 1);
        drop(held);
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn waiter_keeps_entry_alive() {
        let locks = Arc::new(LockMap::default());
        let k = key("y");
        let held = locks.acquire(&k).await;
        let l2 = Arc::clone(&locks);
        let k2 = k.clone();
        let waiter = tokio::spawn(async move {
            let _g = l2.acquire(&k2).await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.is_ok());
        assert_eq!(locks.len(), 0);
    }
}
