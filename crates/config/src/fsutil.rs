//! The one way this project replaces a file: [`write_atomic`].
//!
//! Every writer of operator-owned files (the CLI's `config` commands, `doctor --fix`, the
//! gateway's `config.*` RPC methods, Telegram update offsets, service unit files) goes
//! through it, so they share one answer to the questions a careless write gets wrong:
//! a crash mid-write must leave the old file or the new one, never half of each (temp
//! file in the same directory, `fsync`, `rename`, `fsync` of the directory); a config that
//! is a symlink into a dotfiles repository must stay a symlink (the target is replaced,
//! not the link); and a file the operator made owner-only must stay owner-only (mode bits
//! are kept).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What the file must hold just before it is replaced (a compare-and-swap against a
/// concurrent writer, such as a running gateway rewriting the config).
#[derive(Debug, Clone, Copy, Default)]
pub enum Expect<'a> {
    /// Replace whatever is there.
    #[default]
    Anything,
    /// The file must not exist yet.
    Missing,
    /// The file must hold exactly these bytes.
    Contents(&'a [u8]),
}

/// How [`write_atomic`] writes.
#[derive(Debug, Clone, Copy)]
pub struct AtomicWrite<'a> {
    /// Copy the previous file to `<name>.bak` (mode 0600) before replacing it.
    pub backup: bool,
    /// Mode bits for a file that does not exist yet; an existing file keeps its own.
    pub new_mode: u32,
    /// Precondition checked just before the rename.
    pub expect: Expect<'a>,
}

impl Default for AtomicWrite<'_> {
    /// Owner-only, no backup, no precondition: right for state files.
    fn default() -> Self {
        AtomicWrite {
            backup: false,
            new_mode: 0o600,
            expect: Expect::Anything,
        }
    }
}

impl AtomicWrite<'_> {
    /// Owner-only with a `.bak` of the previous version: right for the config file.
    pub fn config() -> Self {
        AtomicWrite {
            backup: true,
            ..AtomicWrite::default()
        }
    }
}

/// A failed [`write_atomic`]; the file named in it is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// An I/O step failed.
    #[error("cannot {action} {} ({source}); {hint}", path.display())]
    Io {
        /// What was being done ("write", "create the directory", "keep a backup at", …).
        action: &'static str,
        /// The file or directory the step was about.
        path: PathBuf,
        /// What the operator can do about it.
        hint: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file no longer held what [`Expect`] said: someone else changed it meanwhile.
    #[error("{} changed while it was being edited; nothing was written, try again", path.display())]
    Conflict {
        /// The file.
        path: PathBuf,
    },
}

impl WriteError {
    /// Whether this is a lost compare-and-swap rather than an I/O failure.
    pub fn is_conflict(&self) -> bool {
        matches!(self, WriteError::Conflict { .. })
    }
}

/// `openclaw.json` → `openclaw.json<suffix>`, beside it.
pub fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    file.with_file_name(name)
}

/// The file a write to `path` must replace: `path` itself, or the final target when it is
/// a symlink (also a dangling one), so the link survives.
pub fn write_target(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    // A bounded walk: a symlink loop ends as "write the link itself" instead of spinning.
    for _ in 0..40 {
        match std::fs::read_link(&p) {
            Ok(next) => {
                p = if next.is_absolute() {
                    next
                } else {
                    p.parent().unwrap_or(Path::new(".")).join(next)
                };
            }
            Err(_) => return p,
        }
    }
    path.to_path_buf()
}

/// Replaces `path` with `contents` so that a crash leaves either the old or the new file.
///
/// Steps: resolve a symlinked `path` to its target; create a missing parent directory
/// (0700); write a uniquely named temp file in the same directory with the old file's
/// mode (or `opts.new_mode`) and `fsync` it; check `opts.expect`; optionally copy the old
/// file to `.bak`; `rename` over; `fsync` the directory so the rename itself is durable.
/// This does blocking I/O: call it from `spawn_blocking` in async code.
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    opts: &AtomicWrite<'_>,
) -> Result<(), WriteError> {
    let file = write_target(path);
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |action: &'static str, path: &Path, source: std::io::Error| WriteError::Io {
        action,
        path: path.to_path_buf(),
        hint: format!("check that {} exists and is writable", dir.display()),
        source,
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io("create the directory", &dir, e))?;
    }
    let mode = match std::fs::metadata(&file) {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(_) => opts.new_mode,
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = sibling(
        &file,
        &format!(
            ".tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
    );
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have taken bits away; the old file's mode is what we promise.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()
    })();
    let cleanup = || {
        let _ = std::fs::remove_file(&tmp);
    };
    if let Err(e) = written {
        cleanup();
        return Err(io("write", &tmp, e));
    }
    let holds = match opts.expect {
        Expect::Anything => true,
        Expect::Missing => !file.exists(),
        Expect::Contents(want) => std::fs::read(&file).ok().as_deref() == Some(want),
    };
    if !holds {
        cleanup();
        return Err(WriteError::Conflict { path: file });
    }
    if opts.backup && file.exists() {
        let bak = sibling(&file, ".bak");
        let copied = std::fs::copy(&file, &bak)
            .and_then(|_| std::fs::set_permissions(&bak, std::fs::Permissions::from_mode(0o600)));
        if let Err(e) = copied {
            cleanup();
            return Err(io("keep a backup at", &bak, e));
        }
    }
    if let Err(e) = std::fs::rename(&tmp, &file) {
        cleanup();
        return Err(io("replace", &file, e));
    }
    // Make the rename durable; a directory that cannot be opened for fsync (some network
    // file systems) still has the new file in place.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn creates_a_new_file_owner_only_and_leaves_no_temp() {
        let d = tmpdir();
        let f = d.path().join("sub/openclaw.json");
        write_atomic(&f, b"{}\n", &AtomicWrite::config()).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"{}\n");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let dir_mode = std::fs::metadata(f.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert!(!sibling(&f, ".bak").exists(), "nothing to back up");
        let names: Vec<_> = std::fs::read_dir(f.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("openclaw.json")]);
    }

    #[test]
    fn keeps_mode_bits_and_backs_up() {
        let d = tmpdir();
        let f = d.path().join("unit.service");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&f, b"new", &AtomicWrite::config()).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let bak = sibling(&f, ".bak");
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "old");
        assert_eq!(
            std::fs::metadata(&bak).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn writes_through_a_symlink_and_keeps_the_link() {
        let d = tmpdir();
        let real = d.path().join("dotfiles/openclaw.json");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "old").unwrap();
        let link = d.path().join("openclaw.json");
        std::os::unix::fs::symlink("dotfiles/openclaw.json", &link).unwrap();
        write_atomic(&link, b"new", &AtomicWrite::config()).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(
            std::fs::read_to_string(sibling(&real, ".bak")).unwrap(),
            "old"
        );
        // A dangling link gets its target created.
        let dangling = d.path().join("other.json");
        std::os::unix::fs::symlink(d.path().join("made/other.json"), &dangling).unwrap();
        write_atomic(&dangling, b"x", &AtomicWrite::default()).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("made/other.json")).unwrap(),
            "x"
        );
    }

    #[test]
    fn precondition_failure_writes_nothing() {
        let d = tmpdir();
        let f = d.path().join("c.json");
        std::fs::write(&f, "theirs").unwrap();
        let opts = AtomicWrite {
            expect: Expect::Contents(b"mine"),
            ..AtomicWrite::config()
        };
        let err = write_atomic(&f, b"new", &opts).unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "theirs");
        let missing = AtomicWrite {
            expect: Expect::Missing,
            ..AtomicWrite::default()
        };
        assert!(
            write_atomic(&f, b"new", &missing)
                .unwrap_err()
                .is_conflict()
        );
        let ok = AtomicWrite {
            expect: Expect::Contents(b"theirs"),
            ..AtomicWrite::default()
        };
        write_atomic(&f, b"new", &ok).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp left"
        );
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_an_error_naming_it() {
        let d = tmpdir();
        let blocker = d.path().join("not-a-dir");
        std::fs::write(&blocker, "file").unwrap();
        let f = blocker.join("c.json");
        let e = write_atomic(&f, b"new", &AtomicWrite::default()).unwrap_err();
        assert!(!e.is_conflict());
        let msg = e.to_string();
        assert!(msg.contains("cannot create the directory"), "{msg}");
        assert!(msg.contains(&blocker.display().to_string()), "{msg}");
        assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "file");
    }
}
