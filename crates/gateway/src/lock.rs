//! One gateway per state directory: a lock file holding the owner's pid.
//!
//! The lock is a plain file created with `O_EXCL`. A lock whose pid no longer runs is
//! stale (the previous gateway was killed) and is taken over, so a `kill -9` never leaves
//! an operator unable to start again.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::GatewayError;

/// Held for the life of the gateway; removes the lock file when dropped.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock at `path`, or reports the pid that holds it.
    pub fn acquire(path: &Path) -> Result<StateLock, GatewayError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                GatewayError::io(format!("cannot create state dir {}", dir.display()), e)
            })?;
        }
        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut f) => {
                    let body = format!("{}\n", std::process::id());
                    f.write_all(body.as_bytes())
                        .map_err(|e| GatewayError::io("cannot write lock file", e))?;
                    return Ok(StateLock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    match read_pid(path) {
                        Some(pid) if pid_alive(pid) && pid != std::process::id() => {
                            return Err(GatewayError::LockHeld {
                                pid,
                                path: path.to_path_buf(),
                            });
                        }
                        // Stale or unreadable: the owner is gone. Remove and retry.
                        _ => {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
                Err(e) => {
                    return Err(GatewayError::io(
                        format!("cannot create lock file {}", path.display()),
                        e,
                    ));
                }
            }
        }
        Err(GatewayError::io(
            format!("cannot take lock file {}", path.display()),
            std::io::Error::other("lock kept reappearing"),
        ))
    }

    /// Where the lock lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if read_pid(&self.path) == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.path);
        }
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
    // SAFETY: kill with signal 0 performs only the existence and permission check.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_lock_is_taken_over_and_live_one_refused() {
        let dir = std::env::temp_dir().join(format!("oc-lock-{}", uuid::Uuid::new_v4()));
        let path = dir.join("gateway.lock");
        std::fs::create_dir_all(&dir).unwrap();
        // A pid that cannot exist.
        std::fs::write(&path, "999999999\n").unwrap();
        let lock = StateLock::acquire(&path).unwrap();
        assert_eq!(read_pid(&path), Some(std::process::id()));
        drop(lock);
        assert!(!path.exists());
        // pid 1 always runs.
        std::fs::write(&path, "1\n").unwrap();
        match StateLock::acquire(&path) {
            Err(GatewayError::LockHeld { pid: 1, .. }) => {}
            other => panic!("expected LockHeld, got {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
