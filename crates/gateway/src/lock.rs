//! One gateway per state directory: an OS file lock (`flock`) on `gateway.lock`, which
//! also records the owner's pid (first line) for operators and `gateway status`, and, once
//! it listens, the port and address it serves on (second and third lines), so that
//! `openclaw gateway stop|restart` can find and check a gateway that runs in the
//! foreground or under a supervisor the CLI does not know ([`holder`]).
//!
//! The kernel releases the lock when the holder dies however it dies, so a `kill -9`
//! never leaves a stale lock, and a recycled pid in the file cannot make a dead
//! gateway look alive: only a process that holds the lock counts.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::net::IpAddr;
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

    /// Records where the gateway listens (after every bind, so an in-process restart onto
    /// another port is reflected). The pid stays the first line, as before.
    pub fn record_listener(&mut self, host: IpAddr, port: u16) -> Result<(), GatewayError> {
        let text = format!("{}\n{port}\n{host}\n", std::process::id());
        // Overwrite in place, then cut what is left over: the pid line never changes, so a
        // reader (`holder`, polling during a restart) never meets an empty file.
        self.file
            .rewind()
            .and_then(|()| self.file.write_all(text.as_bytes()))
            .and_then(|()| self.file.set_len(text.len() as u64))
            .map_err(|e| GatewayError::io("cannot write lock file", e))
    }
}

/// The gateway holding a state-dir lock, as its lock file describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// The port it listens on, once it does (`None` while it starts up).
    pub port: Option<u16>,
    /// The address it listens on (the first, when it binds several).
    pub host: Option<IpAddr>,
}

/// The gateway that holds the lock at `path`, or `None` when no process holds it (no
/// file, or a file left by a dead gateway: only a held lock counts, never a pid that
/// may have been recycled).
///
/// Asking takes a shared lock for an instant when nobody holds the file; a gateway that
/// starts in exactly that instant is refused as if another gateway ran, and says so.
pub fn holder(path: &Path) -> std::io::Result<Option<Holder>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            return Ok(None);
        }
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines().map(str::trim);
    let Some(pid) = lines.next().and_then(|l| l.parse().ok()) else {
        return Err(std::io::Error::other(format!(
            "{} is held but does not start with a pid",
            path.display()
        )));
    };
    Ok(Some(Holder {
        pid,
        port: lines.next().and_then(|l| l.parse().ok()),
        host: lines.next().and_then(|l| l.parse().ok()),
    }))
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Remove while still holding the lock; a starter that opened this file before the
        // removal sees the inode change after it gets the lock and opens the new file.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// The pid recorded in a lock file (its first line).
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
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
        // The holder is visible with where it listens once recorded; the pid stays first.
        assert_eq!(
            holder(&path).unwrap(),
            Some(Holder {
                pid: std::process::id(),
                port: None,
                host: None
            })
        );
        let mut held = held;
        held.record_listener(IpAddr::from([127, 0, 0, 1]), 18789)
            .unwrap();
        assert_eq!(
            holder(&path).unwrap(),
            Some(Holder {
                pid: std::process::id(),
                port: Some(18789),
                host: Some(IpAddr::from([127, 0, 0, 1]))
            })
        );
        assert_eq!(read_pid(&path), Some(std::process::id()));
        drop(held);
        // Released: nobody holds it, whatever a leftover file says.
        assert_eq!(holder(&path).unwrap(), None);
        std::fs::write(&path, "1\n18789\n").unwrap();
        assert_eq!(holder(&path).unwrap(), None);
        let again = StateLock::acquire(&path).unwrap();
        assert_eq!(read_pid(again.path()), Some(std::process::id()));
    }
}
