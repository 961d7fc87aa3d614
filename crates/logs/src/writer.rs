//! Size-rotated, whole-line, thread-safe log file.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

use crate::LogError;

/// How many rotated archives (`<file>.1` … `<file>.5`) are kept unless
/// [`RotatingFile::with_archives`] says otherwise (`logging.maxFiles`).
///
/// Five archives bound disk use to roughly six times `max_bytes` while still
/// leaving enough history to diagnose a problem after the fact.
pub const MAX_ARCHIVES: usize = 5;

/// Once a single writer has buffered this much, complete lines are written
/// out early so a huge multi-line write does not sit in memory.
const EARLY_FLUSH_BYTES: usize = 64 * 1024;

/// An append-only log file that rotates itself by size.
///
/// Before a write would push the file past `max_bytes`, the file is renamed
/// to `<file>.1` (shifting older archives up to `<file>.5`, dropping the
/// oldest) and a fresh file is started. Records are always written whole, so
/// a line never straddles two files and readers never see half a line from
/// a rotation. All state sits behind a [`Mutex`], so one instance can be
/// shared by every thread of the gateway (see [`SharedRotatingFile`]).
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    /// Rotated files kept (`<file>.1` … `<file>.<archives>`).
    archives: usize,
    state: Mutex<State>,
    /// Set once an IO error has been reported, cleared after the next
    /// successful write, so an outage produces one stderr line, not millions.
    error_reported: AtomicBool,
    /// Same idea for failed rotations, cleared after a successful rotation.
    rotation_error_reported: AtomicBool,
}

#[derive(Debug)]
struct State {
    /// `None` after a write error: the next write reopens the file, which
    /// lets logging recover when e.g. the directory was deleted.
    file: Option<File>,
    /// Bytes in the current file, tracked to avoid a `stat` per write.
    size: u64,
}

impl RotatingFile {
    /// Opens (creating if needed) `path` for appending.
    ///
    /// Missing parent directories are created with mode `0o700` and a new
    /// file with mode `0o600`, because logs can contain private conversation
    /// metadata. `max_bytes == 0` disables rotation entirely.
    pub fn open(path: impl Into<PathBuf>, max_bytes: u64) -> Result<Self, LogError> {
        let path = path.into();
        let (file, size) = open_append(&path)?;
        Ok(RotatingFile {
            path,
            max_bytes,
            archives: MAX_ARCHIVES,
            state: Mutex::new(State {
                file: Some(file),
                size,
            }),
            error_reported: AtomicBool::new(false),
            rotation_error_reported: AtomicBool::new(false),
        })
    }

    /// The path of the live file (archives add `.1` … `.5`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rotation threshold given to [`RotatingFile::open`] (0 = never).
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Keeps `n` rotated files (at least one) instead of [`MAX_ARCHIVES`].
    pub fn with_archives(mut self, n: usize) -> Self {
        self.archives = n.max(1);
        self
    }

    /// Path of archive number `n` (`1` is the most recent), so readers such
    /// as a future `openclaw logs --all` can find older history.
    pub fn archive_path(&self, n: usize) -> PathBuf {
        archive_path(&self.path, n)
    }

    /// Wraps the file in an [`Arc`] so it can be cloned into tracing layers.
    pub fn into_shared(self) -> SharedRotatingFile {
        SharedRotatingFile(Arc::new(self))
    }

    /// Appends one record (one or more lines) atomically with respect to
    /// other writers and rotation.
    ///
    /// A missing final newline is added so the file only ever contains whole
    /// lines. Rotation happens first when the record would push a non-empty
    /// file past the limit; a record larger than the limit on its own still
    /// goes into a single (fresh) file rather than being split. Errors are
    /// returned to the caller; logging paths use the reporting variant.
    pub fn write_record(&self, record: &[u8]) -> io::Result<()> {
        if record.is_empty() {
            return Ok(());
        }
        let needs_newline = record.last() != Some(&b'\n');
        let len = record.len() as u64 + u64::from(needs_newline);

        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.file.is_none() {
            let (file, size) = open_append(&self.path).map_err(LogError::into_io)?;
            state.file = Some(file);
            state.size = size;
        }
        if self.max_bytes > 0 && state.size > 0 && state.size.saturating_add(len) > self.max_bytes {
            self.rotate(&mut state)?;
        }
        let Some(file) = state.file.as_mut() else {
            return Err(io::Error::other("log file is not open"));
        };
        let result = if needs_newline {
            let mut line = Vec::with_capacity(record.len() + 1);
            line.extend_from_slice(record);
            line.push(b'\n');
            file.write_all(&line)
        } else {
            file.write_all(record)
        };
        match result {
            Ok(()) => {
                state.size = state.size.saturating_add(len);
                Ok(())
            }
            Err(err) => {
                // Forget the handle so the next write starts from a clean open.
                state.file = None;
                Err(err)
            }
        }
    }

    /// Like [`RotatingFile::write_record`] but never fails: an error is
    /// printed to stderr once per outage and the record is dropped, because
    /// a broken log file must not crash or stall the gateway.
    pub fn write_record_or_report(&self, record: &[u8]) {
        match self.write_record(record) {
            Ok(()) => self.error_reported.store(false, Ordering::Relaxed),
            Err(err) => {
                if !self.error_reported.swap(true, Ordering::Relaxed) {
                    report(&format!(
                        "openclaw: cannot write log file {}: {err} (further errors suppressed)",
                        self.path.display()
                    ));
                }
            }
        }
    }

    /// Shifts archives up by one and starts a fresh live file.
    ///
    /// Failing to shift archives (permissions, a stray directory) is only
    /// reported, once until a rotation succeeds again: the record is then
    /// appended to the old live file, which grows past the limit, because
    /// losing log lines is worse than an oversized file. Only failing to
    /// (re)open the live file is an error.
    fn rotate(&self, state: &mut State) -> io::Result<()> {
        // Close our handle first (matters on platforms that lock open files).
        state.file = None;
        let mut shift_error = ignore_not_found(fs::remove_file(self.archive_path(self.archives)));
        for n in (1..self.archives).rev() {
            let moved =
                ignore_not_found(fs::rename(self.archive_path(n), self.archive_path(n + 1)));
            shift_error = shift_error.and(moved);
        }
        let shift_error = shift_error.and(ignore_not_found(fs::rename(
            &self.path,
            self.archive_path(1),
        )));
        let (file, size) = open_append(&self.path).map_err(LogError::into_io)?;
        state.file = Some(file);
        state.size = size;
        match shift_error {
            Ok(()) => self.rotation_error_reported.store(false, Ordering::Relaxed),
            Err(err) => {
                if !self.rotation_error_reported.swap(true, Ordering::Relaxed) {
                    report(&format!(
                        "openclaw: cannot rotate log file {}: {err} (appending to it instead)",
                        self.path.display()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Best-effort stderr report; there is nothing sensible left to do if
/// stderr is gone as well, so the result is ignored.
fn report(message: &str) {
    let _ = io::stderr().write_all(format!("{message}\n").as_bytes());
}

/// A cheap, cloneable handle to a [`RotatingFile`].
///
/// This is what tracing layers hold: it implements
/// [`MakeWriter`], so it also plugs into `tracing_subscriber::fmt` layers,
/// and every clone writes to the same file under the same lock.
#[derive(Debug, Clone)]
pub struct SharedRotatingFile(Arc<RotatingFile>);

impl SharedRotatingFile {
    /// The shared file, for direct [`RotatingFile::write_record`] calls.
    pub fn file(&self) -> &RotatingFile {
        &self.0
    }

    /// Path of the live log file.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl From<RotatingFile> for SharedRotatingFile {
    fn from(file: RotatingFile) -> Self {
        file.into_shared()
    }
}

impl<'a> MakeWriter<'a> for SharedRotatingFile {
    type Writer = RecordWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        RecordWriter {
            file: &self.0,
            buf: Vec::new(),
        }
    }
}

/// Per-event writer returned by [`SharedRotatingFile::make_writer`].
///
/// It buffers everything written to it and commits on drop (or flush) as
/// whole lines, so however a formatter chops up its output, each event lands
/// in the file in one piece. IO errors are reported once and swallowed.
#[derive(Debug)]
pub struct RecordWriter<'a> {
    file: &'a RotatingFile,
    buf: Vec<u8>,
}

impl RecordWriter<'_> {
    /// Writes out every complete line buffered so far.
    fn commit_complete_lines(&mut self) {
        if let Some(last_newline) = self.buf.iter().rposition(|&b| b == b'\n') {
            let rest = self.buf.split_off(last_newline + 1);
            self.file.write_record_or_report(&self.buf);
            self.buf = rest;
        }
    }
}

impl Write for RecordWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= EARLY_FLUSH_BYTES {
            self.commit_complete_lines();
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.commit_complete_lines();
        Ok(())
    }
}

impl Drop for RecordWriter<'_> {
    fn drop(&mut self) {
        // A trailing fragment becomes its own line (newline added) rather
        // than being glued onto the next event's output.
        if !self.buf.is_empty() {
            self.file.write_record_or_report(&self.buf);
        }
    }
}

impl LogError {
    /// Back to a plain IO error for the `io::Result` paths of the writer.
    fn into_io(self) -> io::Error {
        // Keep the kind for callers, and the full message (which directory
        // or file failed) for the one-time stderr report.
        let kind = match &self {
            LogError::CreateDir { source, .. }
            | LogError::Open { source, .. }
            | LogError::Read { source, .. } => source.kind(),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self.to_string())
    }
}

/// `<file>.<n>`, appended to the full file name (not replacing an extension).
fn archive_path(path: &Path, n: usize) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn ignore_not_found(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Creates parent directories (0o700) and opens the file for appending
/// (0o600 when created), returning it with its current length.
fn open_append(path: &Path) -> Result<(File, u64), LogError> {
    // Only create what is missing, so an existing directory keeps the mode
    // the user gave it.
    let missing_parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.is_dir());
    if let Some(parent) = missing_parent {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(parent)
            .map_err(|source| LogError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let open_err = |source| LogError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = options.open(path).map_err(open_err)?;
    let size = file.metadata().map_err(open_err)?.len();
    Ok((file, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::test_support::temp_dir;

    #[test]
    fn appends_and_adds_missing_newline() {
        let dir = temp_dir("writer-append");
        let path = dir.path().join("nested/deeper/gateway.log");
        let file = RotatingFile::open(&path, 0).expect("open");
        file.write_record(b"one\n").expect("write");
        file.write_record(b"two").expect("write");
        file.write_record(b"").expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read"), "one\ntwo\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("nested")), 0o700);
            assert_eq!(mode(&dir.path().join("nested/deeper")), 0o700);
        }
    }

    #[test]
    fn reopening_appends_and_counts_existing_size() {
        let dir = temp_dir("writer-reopen");
        let path = dir.path().join("gateway.log");
        fs::write(&path, "0123456789\n").expect("seed");
        let file = RotatingFile::open(&path, 20).expect("open");
        file.write_record(b"abcdefghij\n").expect("write"); // 11 + 11 > 20
        assert_eq!(
            fs::read_to_string(file.archive_path(1)).expect("archive"),
            "0123456789\n"
        );
        assert_eq!(fs::read_to_string(&path).expect("live"), "abcdefghij\n");
    }

    #[test]
    fn the_archive_count_is_configurable() {
        for keep in [1usize, 2, 9] {
            let dir = temp_dir("writer-archives");
            let path = dir.path().join("gateway.log");
            let file = RotatingFile::open(&path, 64)
                .expect("open")
                .with_archives(keep);
            for i in 0..200 {
                file.write_record(format!("line-{i:04}-{}\n", "y".repeat(20)).as_bytes())
                    .expect("write");
            }
            for n in 1..=keep {
                assert!(
                    file.archive_path(n).is_file(),
                    "keep {keep}: archive {n} missing"
                );
            }
            assert!(!file.archive_path(keep + 1).exists(), "keep {keep}");
        }
    }

    #[test]
    fn rotation_keeps_five_archives_and_whole_lines() {
        let dir = temp_dir("writer-rotate");
        let path = dir.path().join("gateway.log");
        let max = 100;
        let file = RotatingFile::open(&path, max).expect("open");
        let mut written = Vec::new();
        for i in 0..400 {
            let line = format!("line-{i:04}-{}", "x".repeat(i % 37));
            file.write_record(format!("{line}\n").as_bytes())
                .expect("write");
            written.push(line);
        }
        for n in 1..=MAX_ARCHIVES {
            assert!(file.archive_path(n).is_file(), "archive {n} missing");
        }
        assert!(!file.archive_path(MAX_ARCHIVES + 1).exists());
        let names = fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(names, MAX_ARCHIVES + 1);

        // Oldest → newest, the files hold a contiguous suffix of what was
        // written, every file within the limit and ending on a newline.
        let mut seen = Vec::new();
        let mut paths: Vec<PathBuf> = (1..=MAX_ARCHIVES)
            .rev()
            .map(|n| file.archive_path(n))
            .collect();
        paths.push(path.clone());
        for p in &paths {
            let text = fs::read_to_string(p).expect("read");
            assert!(text.len() as u64 <= max, "{} too big", p.display());
            assert!(text.ends_with('\n'));
            seen.extend(text.lines().map(str::to_owned));
        }
        let suffix = &written[written.len() - seen.len()..];
        assert_eq!(seen, suffix);
    }

    #[test]
    fn oversized_record_is_not_split() {
        let dir = temp_dir("writer-oversized");
        let path = dir.path().join("gateway.log");
        let file = RotatingFile::open(&path, 10).expect("open");
        file.write_record(b"short\n").expect("write");
        let big = format!("{}\n", "y".repeat(50));
        file.write_record(big.as_bytes()).expect("write");
        assert_eq!(fs::read_to_string(&path).expect("live"), big);
        assert_eq!(
            fs::read_to_string(file.archive_path(1)).expect("archive"),
            "short\n"
        );
        // Next record rotates the oversized file away.
        file.write_record(b"next\n").expect("write");
        assert_eq!(fs::read_to_string(&path).expect("live"), "next\n");
    }

    #[test]
    fn make_writer_commits_whole_lines_from_many_threads() {
        let dir = temp_dir("writer-threads");
        let path = dir.path().join("gateway.log");
        let shared = RotatingFile::open(&path, 4096).expect("open").into_shared();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let mut w = shared.make_writer();
                        // Deliberately written in pieces.
                        let _ = write!(w, "thread-{t}-");
                        let _ = write!(w, "event-{i:03}-");
                        let _ = writeln!(w, "end");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("join");
        }
        let mut count = 0;
        let mut paths: Vec<PathBuf> = (1..=MAX_ARCHIVES)
            .map(|n| shared.file().archive_path(n))
            .collect();
        paths.push(path);
        for p in paths {
            let Ok(text) = fs::read_to_string(&p) else {
                continue;
            };
            for line in text.lines() {
                assert!(
                    line.starts_with("thread-") && line.ends_with("-end"),
                    "{line}"
                );
                assert_eq!(line.len(), "thread-0-event-000-end".len());
                count += 1;
            }
        }
        assert!(count > 0);
    }

    #[test]
    fn fragment_without_newline_becomes_a_line_on_drop() {
        let dir = temp_dir("writer-fragment");
        let path = dir.path().join("gateway.log");
        let shared = RotatingFile::open(&path, 0).expect("open").into_shared();
        {
            let mut w = shared.make_writer();
            let _ = w.write_all(b"a\nb");
        }
        {
            let mut w = shared.make_writer();
            let _ = w.write_all(b"c\n");
        }
        assert_eq!(fs::read_to_string(&path).expect("read"), "a\nb\nc\n");
    }

    #[test]
    fn write_errors_do_not_panic() {
        let dir = temp_dir("writer-errors");
        let path = dir.path().join("logs/gateway.log");
        let file = RotatingFile::open(&path, 8).expect("open");
        file.write_record(b"first line\n").expect("write");
        // Replace the directory with a plain file: rotation and reopening
        // must now fail without panicking.
        fs::remove_dir_all(dir.path().join("logs")).expect("rm");
        fs::write(dir.path().join("logs"), "not a dir").expect("block");
        assert!(file.write_record(b"second\n").is_err());
        file.write_record_or_report(b"third\n");
        file.write_record_or_report(b"fourth\n");
        let shared = file.into_shared();
        let mut w = shared.make_writer();
        let _ = w.write_all(b"fifth\n");
        drop(w);
        // Recovery once the directory is back.
        fs::remove_file(dir.path().join("logs")).expect("unblock");
        shared.file().write_record(b"sixth\n").expect("recovered");
        assert_eq!(fs::read_to_string(shared.path()).expect("read"), "sixth\n");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn full_device_write_fails_with_enospc_and_is_reported_once() {
        // Every Linux system has /dev/full: opening it works, every write fails ENOSPC.
        let dev_full = Path::new("/dev/full");
        let file = RotatingFile::open(dev_full, 0).expect("open /dev/full for appending");
        let err = file
            .write_record(b"x\n")
            .expect_err("a write to /dev/full fails");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
        assert!(!file.error_reported.load(Ordering::Relaxed));
        // The reporting variant swallows the error (no panic) and remembers it reported.
        file.write_record_or_report(b"y\n");
        assert!(file.error_reported.load(Ordering::Relaxed));
        file.write_record_or_report(b"z\n");
        assert!(file.error_reported.load(Ordering::Relaxed));
    }

    #[test]
    fn archive_names_append_to_full_name() {
        assert_eq!(
            archive_path(Path::new("/a/gateway.log"), 3),
            PathBuf::from("/a/gateway.log.3")
        );
    }
}
