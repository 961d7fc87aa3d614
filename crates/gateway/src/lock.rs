//! One gateway per state directory: an OS file lock (`flock`) on `gateway.lock`, which
//! also records the owner's pid for operators and `gateway status`.
//!
//! The kernel releases the lock when the holder dies however it dies, so a `kill -9`
//! never leaves a stale lock, and a recycled pid in the file cannot make a dead
//! gateway look alive: only a process that holds the lock counts.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::GatewayError;

/// Held for the life of the gateway; removes the lock file when dropped.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    file: File,
}

impl StateLock {
    /// Takes the lock at `path`, or reports the pid that holds it.
    pub fn acquire(path: &Path) -> Result<StateLock, GatewayError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                GatewayError::io(format!("cannot create state dir {}", dir.display()), e)
            })?;
        }
        let io = |e| GatewayError::io(format!("cannot take lock file {}", path.display()), e);
        for _ in 0..5 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(GatewayError::LockHeld {
                        pid: read_pid(path).unwrap_or(0),
                        path: path.to_path_buf(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
            // A previous holder may have removed the file between our open and our lock:
            // then we hold a lock on a file nobody else can see; open it again.
            let same = match (file.metadata(), std::fs::metadata(path)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            file.set_len(0).map_err(io)?;
            file.rewind().map_err(io)?;
            file.write_all(format!("{}\n", std::process::id()).as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(|e| GatewayError::io("cannot write lock file", e))?;
            return Ok(StateLock {
                path: path.to_path_buf(),
                file,
            });
        }
        Err(io(std::io::Error::other("lock file kept being replaced")))
    }

    /// Where the lock lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Remove while still holding the lock; a starter that opened this file before the
        // removal sees the inode change after it gets the lock and opens the new file.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// The pid recorded in a lock file.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether a process with this pid exists (signal 0 probes without sending anything).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    // Signal 0 only checks that the process exists and may be signalled; EPERM means it
    // exists but belongs to someone else.
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_and_a_dead_or_recycled_pid_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.lock");
        // A pid that cannot exist, and pid 1, which always runs: neither holds the lock,
        // so neither blocks (a recycled pid cannot fool the lock).
        for stale in ["999999999\n", "1\n"] {
            std::fs::write(&path, stale).unwrap();
            let lock = StateLock::acquire(&path).unwrap();
            assert_eq!(read_pid(&path), Some(std::process::id()));
            drop(lock);
            assert!(!path.exists());
        }
        // A held lock (its own open file description) is refused, naming the holder.
        let held = StateLock::acquire(&path).unwrap();
        match StateLock::acquire(&path) {
            Err(GatewayError::LockHeld { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected LockHeld, got {other:?}"),
        }
        drop(held);
        let again = StateLock::acquire(&path).unwrap();
        assert_eq!(read_pid(again.path()), Some(std::process::id()));
    }
}
