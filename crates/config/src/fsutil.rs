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
use std::time::Duration;

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
/// (0700); write a uniquely named temp file (`.<name>.tmp.<pid>.<n>`) in the same
/// directory and `fsync` it; check `opts.expect`; optionally keep the old file as
/// `<name>.bak`; `rename` over; `fsync` the directory so the renames are durable.
///
/// Temp files are created owner-only (0600) by the `open` itself and only get the old
/// file's mode once their content is complete: the config holds credentials, and a temp
/// left behind by a killed writer must not be readable by others even for an instant.
/// The backup is written the same way (its own temp, `fsync`, `rename`), so a kill while
/// it is made leaves the previous `.bak` whole instead of a truncated one. Temps a killed
/// writer left behind are removed by [`remove_stale_temp_files`].
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
    let tmp = temp_path(&file);
    if let Err(e) = write_temp(&tmp, mode, |f| f.write_all(contents)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", &tmp, e));
    }
    let cleanup = || {
        let _ = std::fs::remove_file(&tmp);
    };
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
        if let Err(e) = back_up(&file, &bak) {
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

/// `.<name>.tmp.<pid>.<n>` beside `file`: hidden, unique within the process (the
/// counter) and across processes (the pid), and recognisable by
/// [`remove_stale_temp_files`], which needs the pid to tell a live writer from a dead one.
fn temp_path(file: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    file.with_file_name(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Creates `tmp` owner-only, fills it with `fill`, gives it `mode` and `fsync`s it. The
/// caller removes `tmp` on error.
fn write_temp(
    tmp: &Path,
    mode: u32,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    fill(&mut f)?;
    #[cfg(test)]
    tests::temp_written(tmp);
    // Also restores bits the umask took away: the old file's mode is what we promise.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.sync_all()
}

/// Copies `file` to `bak` (0600) through a temp file and a rename, so `bak` is always a
/// complete earlier version: `std::fs::copy` would truncate `bak` in place first, and a
/// kill at that moment left an empty backup.
fn back_up(file: &Path, bak: &Path) -> std::io::Result<()> {
    let tmp = temp_path(file);
    let copied = std::fs::File::open(file)
        .and_then(|mut from| write_temp(&tmp, 0o600, |to| std::io::copy(&mut from, to).map(drop)))
        .and_then(|()| std::fs::rename(&tmp, bak));
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied
}

/// How old a temp file of a still-running process must be before it counts as abandoned.
/// A write takes milliseconds; the age only matters when the writer's pid was reused by
/// an unrelated process after the writer died.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(10 * 60);

/// Removes the temp files [`write_atomic`] left beside `path` (or beside its symlink
/// target) when its writer was killed mid-write: `.<name>.tmp.<pid>[.<n>]`, and the
/// `<name>.tmp-<pid>-<n>` of earlier versions. A temp is removed when process `pid` no
/// longer exists, or when it is older than [`STALE_TEMP_AGE`]; a younger temp of a live
/// process is a write in progress (say an `openclaw config set` running now) and stays.
///
/// Such leftovers hold a full copy of the file, secrets included, so the gateway calls
/// this at start-up for the config. Returns the paths removed. Blocking I/O: call it from
/// `spawn_blocking` in async code.
pub fn remove_stale_temp_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let file = write_target(path);
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Some(pid) = entry.file_name().to_str().and_then(|n| temp_pid(n, name)) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if old || !process_alive(pid) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed.push(entry.path()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// The writer's pid if `entry` is a temp file of `name`: `.<name>.tmp.<pid>` or
/// `.<name>.tmp.<pid>.<n>` (this version), `<name>.tmp-<pid>-<n>` (earlier ones).
fn temp_pid(entry: &str, name: &str) -> Option<i32> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (pid, counter) = if let Some(rest) = entry
        .strip_prefix('.')
        .and_then(|e| e.strip_prefix(name))
        .and_then(|e| e.strip_prefix(".tmp."))
    {
        match rest.split_once('.') {
            Some((pid, n)) => (pid, Some(n)),
            None => (rest, None),
        }
    } else {
        let rest = entry.strip_prefix(name)?.strip_prefix(".tmp-")?;
        let (pid, n) = rest.split_once('-')?;
        (pid, Some(n))
    };
    if !digits(pid) || counter.is_some_and(|n| !digits(n)) {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this pid exists (signal 0). "Not permitted" means it exists
/// under another user; only "no such process" means the writer is gone.
fn process_alive(pid: i32) -> bool {
    match rustix::process::Pid::from_raw(pid) {
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::os::unix::fs::MetadataExt;

    /// A test's look at a temp file.
    type Observer = Box<dyn FnMut(&Path)>;

    thread_local! {
        /// What tests observe of each temp file the moment its content is complete.
        static OBSERVER: RefCell<Option<Observer>> = const { RefCell::new(None) };
    }

    /// Called by `write_temp` once a temp file holds its content, before it gets its final
    /// mode: the window in which a kill leaves it behind.
    pub(super) fn temp_written(tmp: &Path) {
        OBSERVER.with(|o| {
            if let Some(f) = o.borrow_mut().as_mut() {
                f(tmp);
            }
        });
    }

    fn observe(f: impl FnMut(&Path) + 'static) {
        OBSERVER.with(|o| *o.borrow_mut() = Some(Box::new(f)));
    }

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

    #[test]
    fn temp_files_are_owner_only_while_they_hold_content() {
        let d = tmpdir();
        let f = d.path().join("openclaw.json");
        std::fs::write(&f, "old secret").unwrap();
        // A world-readable config keeps its mode, but its temps never have it.
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let seen = std::rc::Rc::new(RefCell::new(Vec::new()));
        let log = seen.clone();
        observe(move |tmp| {
            let name = tmp.file_name().unwrap().to_string_lossy().into_owned();
            let mode = std::fs::metadata(tmp).unwrap().permissions().mode() & 0o777;
            log.borrow_mut().push((name, mode));
        });
        write_atomic(&f, b"new secret", &AtomicWrite::config()).unwrap();
        let seen = seen.borrow().clone();
        assert_eq!(
            seen.len(),
            2,
            "the backup's temp and the new file's: {seen:?}"
        );
        let prefix = format!(".openclaw.json.tmp.{}.", std::process::id());
        for (name, mode) in &seen {
            assert!(name.starts_with(&prefix), "{name}");
            assert_eq!(*mode, 0o600, "{name} was readable by others while written");
        }
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new secret");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn the_backup_replaces_the_old_one_by_rename_never_in_place() {
        let d = tmpdir();
        let f = d.path().join("openclaw.json");
        let bak = sibling(&f, ".bak");
        std::fs::write(&f, "v2").unwrap();
        std::fs::write(&bak, "v1").unwrap();
        // A second name for the previous backup's inode: a copy into `.bak` in place
        // (truncate, then write) would change what this name reads mid-way.
        let witness = d.path().join("witness");
        std::fs::hard_link(&bak, &witness).unwrap();
        let old_inode = std::fs::metadata(&bak).unwrap().ino();
        // While the new backup is being written, `.bak` still holds the complete v1.
        let bak_seen = bak.clone();
        let during = std::rc::Rc::new(RefCell::new(Vec::new()));
        let log = during.clone();
        observe(move |_| {
            log.borrow_mut()
                .push(std::fs::read_to_string(&bak_seen).unwrap())
        });
        write_atomic(&f, b"v3", &AtomicWrite::config()).unwrap();
        assert_eq!(
            during.borrow()[0],
            "v1",
            "the old backup was touched before the rename"
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "v3");
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "v2");
        assert_eq!(std::fs::read_to_string(&witness).unwrap(), "v1");
        assert_ne!(std::fs::metadata(&bak).unwrap().ino(), old_inode);
        assert_eq!(
            std::fs::metadata(&bak).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let mut names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["openclaw.json", "openclaw.json.bak", "witness"]);
    }

    /// A pid no process has: past the kernel's largest (`pid_max` is at most 2^22).
    const DEAD_PID: u32 = 999_999_999;

    fn plant(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "{ gateway: { auth: { token: \"leaked\" } } }").unwrap();
        p
    }

    #[test]
    fn stale_temps_of_dead_writers_are_removed_live_ones_kept() {
        let d = tmpdir();
        let f = d.path().join("openclaw.json");
        std::fs::write(&f, "{}").unwrap();
        let me = std::process::id();
        let dead = [
            plant(d.path(), &format!(".openclaw.json.tmp.{DEAD_PID}")),
            plant(d.path(), &format!(".openclaw.json.tmp.{DEAD_PID}.3")),
            plant(d.path(), &format!("openclaw.json.tmp-{DEAD_PID}-0")),
        ];
        let kept = [
            // A write in progress in a live process.
            plant(d.path(), &format!(".openclaw.json.tmp.{me}.7")),
            // Not temps of this file, or not of this pattern.
            plant(d.path(), &format!(".other.json.tmp.{DEAD_PID}")),
            plant(d.path(), &format!(".openclaw.json.tmp.{DEAD_PID}.x")),
            plant(d.path(), ".openclaw.json.tmp.notapid"),
            plant(d.path(), "openclaw.json.bak"),
        ];
        let mut removed = remove_stale_temp_files(&f).unwrap();
        removed.sort();
        let mut want = dead.to_vec();
        want.sort();
        assert_eq!(removed, want);
        for p in &dead {
            assert!(!p.exists(), "{}", p.display());
        }
        for p in &kept {
            assert!(p.exists(), "{}", p.display());
        }
        assert!(f.exists());
        // A missing directory has nothing to clean.
        assert!(
            remove_stale_temp_files(&d.path().join("gone/openclaw.json"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn old_temps_are_removed_even_when_the_pid_is_alive_again() {
        let d = tmpdir();
        let f = d.path().join("openclaw.json");
        let me = std::process::id();
        let old = plant(d.path(), &format!(".openclaw.json.tmp.{me}.1"));
        let young = plant(d.path(), &format!(".openclaw.json.tmp.{me}.2"));
        let then = std::time::SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(then)
            .unwrap();
        assert_eq!(remove_stale_temp_files(&f).unwrap(), vec![old.clone()]);
        assert!(!old.exists());
        assert!(young.exists());
    }

    #[test]
    fn stale_temps_are_found_beside_a_symlink_target() {
        let d = tmpdir();
        let real = d.path().join("dotfiles/openclaw.json");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "{}").unwrap();
        let link = d.path().join("openclaw.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let stale = plant(
            real.parent().unwrap(),
            &format!(".openclaw.json.tmp.{DEAD_PID}"),
        );
        assert_eq!(remove_stale_temp_files(&link).unwrap(), vec![stale]);
    }
}
