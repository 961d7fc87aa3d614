//! The transcript store: where the files live and how they are read and written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::encode::{self, DIR_SUFFIX};
use crate::entry::{Entry, SessionSummary, Transcript, now_ms, system_time_ms};
use crate::error::SessionError;
use crate::key::{SessionKey, is_valid_agent_id, normalize_and_check_agent_id};
use crate::locks::{KeyGuard, LockMap};

/// Extension of live transcripts.
const TRANSCRIPT_EXT: &str = ".jsonl";

/// How many bytes at the end of a transcript [`SessionStore::list`] reads to find the
/// last entry. Listing must stay cheap however long the conversations are.
pub const LIST_TAIL_BYTES: u64 = 8 * 1024;

/// Length, in characters, of [`SessionSummary::last_preview`].
pub const PREVIEW_CHARS: usize = 200;

/// Deepest nesting of `.d` directories `list` follows. A 200-character name encodes to at
/// most 2,400 bytes, i.e. 12 chunks; anything deeper was not written by this crate.
const MAX_CHUNK_DEPTH: usize = 16;

/// Reset archives of one session created within the same millisecond get consecutive
/// timestamps; this bounds the search for a free one.
const MAX_RESET_ATTEMPTS: u64 = 1000;

/// Durable, append-only session transcripts on disk.
///
/// Each session is one JSONL file at
/// `<state_dir>/agents/<agentId>/sessions/<encoded name>.jsonl` (see
/// [`SessionStore::path_for`]). Files are only ever appended to, so a crash can at worst
/// leave a fragment of the line being written, which [`SessionStore::load`] skips and
/// [`SessionStore::append`] seals off with a newline.
///
/// Cloning is cheap and every clone shares the same locks, so one store should be
/// created per state directory and cloned wherever it is needed; two independent stores
/// on the same directory would not serialise each other's appends.
#[derive(Clone)]
pub struct SessionStore {
    inner: Arc<Inner>,
}

struct Inner {
    state_dir: PathBuf,
    /// Where the transcripts live.
    backend: Backend,
    /// Held for the duration of one file operation (append, reset, delete).
    write_locks: Arc<LockMap>,
    /// Held by callers for a whole turn; see [`SessionStore::lock`].
    turn_locks: Arc<LockMap>,
}

/// The two places transcripts can live.
enum Backend {
    /// JSONL files under the state directory (the default).
    Files,
    /// A shared Postgres database.
    Postgres(crate::postgres::PgStore),
}

/// Proof that the caller holds a session's turn lock (see [`SessionStore::lock`]).
/// Dropping it lets the next turn of that session start.
#[must_use = "the turn lock is released as soon as the guard is dropped"]
pub struct SessionGuard {
    _guard: KeyGuard,
}

impl std::fmt::Debug for SessionGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionGuard")
            .field("lock", &self._guard)
            .finish()
    }
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("state_dir", &self.inner.state_dir)
            .finish_non_exhaustive()
    }
}

impl SessionStore {
    /// A store rooted at the gateway's state directory. Nothing is touched on disk until
    /// the first append, so this cannot fail; directories are created on demand.
    pub fn new(state_dir: impl Into<PathBuf>) -> SessionStore {
        SessionStore::with_backend(state_dir.into(), Backend::Files)
    }

    fn with_backend(state_dir: PathBuf, backend: Backend) -> SessionStore {
        SessionStore {
            inner: Arc::new(Inner {
                state_dir,
                backend,
                write_locks: Arc::new(LockMap::default()),
                turn_locks: Arc::new(LockMap::default()),
            }),
        }
    }

    /// A store whose transcripts live in the Postgres database at `url`
    /// (`postgres://user:password@host:port/db`): connects, applies the embedded schema
    /// migrations (in one transaction, recorded in `schema_migrations`) and returns.
    /// `state_dir` is still where per-session side files (tool workspaces, approvals)
    /// go. TLS is not supported: a URL with `sslmode=require` is refused rather than
    /// connected without it. Every error names the URL without its password.
    ///
    /// Several gateways may share one database: each append is one transaction and
    /// appends to a session serialise on its row. The turn lock ([`SessionStore::lock`])
    /// is still per process: two gateways can run turns on one session at once
    /// (cluster-wide locking is a later step).
    pub async fn postgres(
        state_dir: impl Into<PathBuf>,
        url: &str,
    ) -> Result<SessionStore, SessionError> {
        let pg = crate::postgres::PgStore::connect(url).await?;
        Ok(SessionStore::with_backend(
            state_dir.into(),
            Backend::Postgres(pg),
        ))
    }

    /// Where transcripts are kept, for status output: `files <state dir>` or
    /// `postgres <url without password>`.
    pub fn location(&self) -> String {
        match &self.inner.backend {
            Backend::Files => format!("files {}", self.inner.state_dir.display()),
            Backend::Postgres(pg) => format!("postgres {}", pg.shown()),
        }
    }

    /// The state directory this store was created with.
    pub fn state_dir(&self) -> &Path {
        &self.inner.state_dir
    }

    /// Where the transcript of `key` lives (whether or not it exists yet) with the files
    /// backend; with Postgres nothing is written there.
    ///
    /// The name is percent-encoded so that any valid name, including `../../etc`, maps
    /// to a file inside the agent's `sessions` directory. Names whose encoding exceeds
    /// 200 bytes are split over nested `<chunk>.d` directories to stay under file-system
    /// limits on one path component. The mapping is injective, and `list` reverses it.
    pub fn path_for(&self, key: &SessionKey) -> PathBuf {
        transcript_path(&self.inner.state_dir, key)
    }

    /// Appends entries to the session's transcript and flushes them to stable storage
    /// before returning.
    ///
    /// Only once this returns `Ok` may a turn be reported as final: the lines are then
    /// on disk (`sync_data`), so killing the process afterwards loses nothing. All
    /// entries are written in one `write` of whole lines, appends to one session are
    /// serialised, and if the file does not end with a newline (a fragment left by a
    /// crash) a newline is written first so the new line stands on its own. The write
    /// completes even if this future is dropped midway, and the session stays locked
    /// until it has. An empty slice does nothing.
    pub async fn append(&self, key: &SessionKey, entries: &[Entry]) -> Result<(), SessionError> {
        key.validate()?;
        if entries.is_empty() {
            return Ok(());
        }
        if let Backend::Postgres(pg) = &self.inner.backend {
            return pg.append(key, entries).await;
        }
        let mut data = Vec::new();
        for entry in entries {
            serde_json::to_writer(&mut data, entry).map_err(SessionError::Encode)?;
            data.push(b'\n');
        }
        let path = self.path_for(key);
        let guard = self.inner.write_locks.acquire(key).await;
        blocking(move || {
            let _guard = guard;
            append_blocking(&path, &data)
        })
        .await
    }

    /// Reads the whole transcript of a session, oldest entry first.
    ///
    /// A session that was never written (or was reset or deleted) gives an empty
    /// transcript, not an error. Lines that are not valid entries are skipped, logged with
    /// the file and line number, and counted in [`Transcript::skipped_lines`]; only a
    /// failure to read the file at all is an error.
    pub async fn load(&self, key: &SessionKey) -> Result<Transcript, SessionError> {
        key.validate()?;
        if let Backend::Postgres(pg) = &self.inner.backend {
            return pg.load(key).await;
        }
        let path = self.path_for(key);
        blocking(move || load_blocking(&path)).await
    }

    /// The last `max_entries` entries of [`SessionStore::load`], oldest first: the
    /// history sent to a model or shown as a preview.
    pub async fn history(
        &self,
        key: &SessionKey,
        max_entries: usize,
    ) -> Result<Vec<Entry>, SessionError> {
        let mut entries = self.load(key).await?.entries;
        let excess = entries.len().saturating_sub(max_entries);
        entries.drain(..excess);
        Ok(entries)
    }

    /// Summaries of the stored sessions, most recently updated first, at most `limit`.
    ///
    /// `agent_id` restricts the list to one agent (case-insensitive; an invalid id is
    /// [`SessionError::BadKey`]). Reset archives and files this crate did not write are
    /// ignored. Only file metadata and the last [`LIST_TAIL_BYTES`] bytes of each listed
    /// file are read, so the cost does not grow with transcript length.
    pub async fn list(
        &self,
        agent_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, SessionError> {
        let filter = match agent_id {
            Some(id) => Some(normalize_and_check_agent_id(&format!("agent:{id}:*"), id)?),
            None => None,
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        if let Backend::Postgres(pg) = &self.inner.backend {
            return pg.list(filter.as_deref(), limit).await;
        }
        let state_dir = self.inner.state_dir.clone();
        blocking(move || list_blocking(&state_dir, filter.as_deref(), limit)).await
    }

    /// How many sessions an agent has, where they are stored, and the `recent` most
    /// recently updated keys: what health and status summaries show. Only directory
    /// entries and file metadata are read (no transcript content).
    pub async fn census(&self, agent_id: &str, recent: usize) -> Result<Census, SessionError> {
        let id = normalize_and_check_agent_id(&format!("agent:{agent_id}:*"), agent_id)?;
        if let Backend::Postgres(pg) = &self.inner.backend {
            return pg.census(&id, recent).await;
        }
        let state_dir = self.inner.state_dir.clone();
        blocking(move || {
            let dir = sessions_dir(&state_dir, &id);
            let mut found = Vec::new();
            walk(&state_dir, &id, &dir, &mut String::new(), 0, &mut found);
            found.sort_by_key(|f| std::cmp::Reverse(f.updated_at));
            let count = found.len();
            found.truncate(recent);
            Ok(Census {
                dir,
                count,
                recent: found
                    .into_iter()
                    .map(|f| (f.key.to_string(), f.updated_at))
                    .collect(),
            })
        })
        .await
    }

    /// Starts a fresh transcript for the session: the current file is renamed to
    /// `<file>.jsonl.reset.<ms>` so it is kept for audit but no longer loaded or listed.
    /// Returns `false` if there was no transcript to reset.
    pub async fn reset(&self, key: &SessionKey) -> Result<bool, SessionError> {
        key.validate()?;
        if let Backend::Postgres(pg) = &self.inner.backend {
            return pg.reset(key).await;
        }
        let path = self.path_for(key);
        let guard = self.inner.write_locks.acquire(key).await;
        blocking(move || {
            let _guard = guard;
            reset_blocking(&path)
        })
        .await
    }

    /// Deletes the session's transcript for good (reset archives are left alone).
    /// Returns `false` if there was no transcript.
    pub async fn delete(&self, key: &SessionKey) -> Result<bool, SessionError> {
        key.validate()?;
        if let Backend::Postgres(pg) = &self.inner.backend {
            return pg.delete(key).await;
        }
        let path = self.path_for(key);
        let guard = self.inner.write_locks.acquire(key).await;
        blocking(move || {
            let _guard = guard;
            delete_blocking(&path)
        })
        .await
    }

    /// Waits for and takes the session's turn lock.
    ///
    /// Hold the guard while running a turn (read history, call the model, append the
    /// reply) so two turns of one session never interleave and each sees the other's
    /// result. It is separate from the lock that serialises individual file writes, so
    /// [`SessionStore::append`], `reset` and `delete` work while it is held; it only
    /// excludes other holders of the turn lock. The lock is not reentrant: taking it
    /// twice for the same session in one task waits forever.
    ///
    /// The lock is held in this process only, whichever the backend: gateways sharing a
    /// Postgres store do not exclude each other's turns (a cluster-wide lock over Redis
    /// is a later step; see docs/SCALING.md).
    pub async fn lock(&self, key: &SessionKey) -> SessionGuard {
        SessionGuard {
            _guard: self.inner.turn_locks.acquire(key).await,
        }
    }
}

/// Runs blocking file work off the async runtime. Outside a Tokio runtime (a foreign
/// executor) the work runs inline rather than panicking.
async fn blocking<T, F>(work: F) -> Result<T, SessionError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, SessionError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(work)
            .await
            .map_err(SessionError::Background)?,
        Err(_) => work(),
    }
}

fn sessions_dir(state_dir: &Path, agent_id: &str) -> PathBuf {
    state_dir
        .join("agents")
        .join(encode::encode_component(agent_id))
        .join("sessions")
}

fn transcript_path(state_dir: &Path, key: &SessionKey) -> PathBuf {
    let mut path = sessions_dir(state_dir, &key.agent_id);
    let chunks = encode::encode_chunks(&key.name);
    let (last, dirs) = match chunks.split_last() {
        Some((last, dirs)) => (last.as_str(), dirs),
        None => ("%", &[][..]),
    };
    for dir in dirs {
        path.push(format!("{dir}{DIR_SUFFIX}"));
    }
    path.push(format!("{last}{TRANSCRIPT_EXT}"));
    path
}

fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn open_for_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Flushes a directory so that a file created, renamed or removed in it survives a power
/// loss, not just a process crash. Best effort: some file systems refuse directory
/// syncs, and the data itself is already synced.
fn sync_dir(dir: Option<&Path>) {
    let Some(dir) = dir else {
        return;
    };
    #[cfg(unix)]
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot sync session directory");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn append_blocking(path: &Path, data: &[u8]) -> Result<(), SessionError> {
    let parent = path.parent();
    if let Some(dir) = parent {
        create_dirs(dir).map_err(|e| SessionError::io("create the directory of", path, e))?;
    }
    let existed = path.symlink_metadata().is_ok();
    let io_err = |e| SessionError::io("append to", path, e);
    let mut file = open_for_append(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut needs_newline = false;
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1)).map_err(io_err)?;
        file.read_exact(&mut last).map_err(io_err)?;
        needs_newline = last[0] != b'\n';
    }
    if needs_newline {
        tracing::warn!(
            file = %path.display(),
            "transcript did not end with a newline (torn write?); starting a new line"
        );
        let mut joined = Vec::with_capacity(data.len() + 1);
        joined.push(b'\n');
        joined.extend_from_slice(data);
        file.write_all(&joined).map_err(io_err)?;
    } else {
        file.write_all(data).map_err(io_err)?;
    }
    file.sync_data().map_err(io_err)?;
    if !existed {
        sync_dir(parent);
    }
    Ok(())
}

fn load_blocking(path: &Path) -> Result<Transcript, SessionError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Transcript::default()),
        Err(e) => return Err(SessionError::io("read", path, e)),
    };
    let mut reader = BufReader::new(file);
    let mut transcript = Transcript::default();
    let mut line = Vec::new();
    let mut line_no = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| SessionError::io("read", path, e))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Entry>(text) {
            Ok(entry) => transcript.entries.push(entry),
            Err(e) => {
                transcript.skipped_lines += 1;
                tracing::warn!(
                    file = %path.display(),
                    line = line_no,
                    error = %e,
                    "skipping unreadable transcript line (typically cut short by a crash)"
                );
            }
        }
    }
    Ok(transcript)
}

/// One agent's sessions in numbers, from [`SessionStore::census`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Census {
    /// The agent's sessions directory (it may not exist yet); with the Postgres backend,
    /// the database URL without its password.
    pub dir: PathBuf,
    /// How many sessions are stored.
    pub count: usize,
    /// The most recently updated sessions, newest first: key and update time (ms since
    /// the Unix epoch).
    pub recent: Vec<(String, u64)>,
}

/// A transcript found by `list`, before its tail is read.
struct Found {
    key: SessionKey,
    path: PathBuf,
    updated_at: u64,
    size_bytes: u64,
}

fn list_blocking(
    state_dir: &Path,
    filter: Option<&str>,
    limit: usize,
) -> Result<Vec<SessionSummary>, SessionError> {
    let agents_dir = state_dir.join("agents");
    let agent_ids: Vec<String> = match filter {
        Some(id) => vec![id.to_owned()],
        None => match fs::read_dir(&agents_dir) {
            Ok(dir) => dir
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| is_valid_agent_id(name))
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(SessionError::io("list", agents_dir, e)),
        },
    };
    let mut found = Vec::new();
    for agent_id in &agent_ids {
        let dir = sessions_dir(state_dir, agent_id);
        let mut prefix = String::new();
        walk(state_dir, agent_id, &dir, &mut prefix, 0, &mut found);
    }
    found.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.key.to_string().cmp(&b.key.to_string()))
    });
    found.truncate(limit);
    Ok(found
        .into_iter()
        .map(|f| {
            let (last_role, last_preview) = match read_last_entry(&f.path, f.size_bytes) {
                Ok(Some(entry)) => (
                    Some(entry.role),
                    Some(entry.content.chars().take(PREVIEW_CHARS).collect()),
                ),
                Ok(None) => (None, None),
                Err(e) => {
                    tracing::debug!(file = %f.path.display(), error = %e, "cannot read transcript tail");
                    (None, None)
                }
            };
            SessionSummary {
                key: f.key.to_string(),
                agent_id: f.key.agent_id,
                updated_at: f.updated_at,
                size_bytes: f.size_bytes,
                last_role,
                last_preview,
            }
        })
        .collect())
}

/// Collects the transcripts under `dir`, whose encoded name so far is `prefix`.
/// Unreadable directories are logged and skipped so one bad entry cannot hide the rest.
fn walk(
    state_dir: &Path,
    agent_id: &str,
    dir: &Path,
    prefix: &mut String,
    depth: usize,
    out: &mut Vec<Found>,
) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot list session directory");
            return;
        }
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // `file_type` does not follow symlinks, so links are never listed or entered.
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            let chunk = name
                .strip_suffix(DIR_SUFFIX)
                .filter(|_| depth < MAX_CHUNK_DEPTH);
            if let Some(chunk) = chunk {
                let len = prefix.len();
                prefix.push_str(chunk);
                walk(state_dir, agent_id, &entry.path(), prefix, depth + 1, out);
                prefix.truncate(len);
            }
        } else if file_type.is_file() {
            let Some(stem) = name.strip_suffix(TRANSCRIPT_EXT) else {
                continue;
            };
            let Some(decoded) = encode::decode(&format!("{prefix}{stem}")) else {
                continue;
            };
            let Ok(key) = SessionKey::new(agent_id, &decoded) else {
                continue;
            };
            let path = entry.path();
            // Only the canonical file of a key counts; anything else was not written here.
            if transcript_path(state_dir, &key) != path {
                continue;
            }
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            out.push(Found {
                key,
                path,
                updated_at: meta.modified().map(system_time_ms).unwrap_or(0),
                size_bytes: meta.len(),
            });
        }
    }
}

/// The last complete, valid entry within the final [`LIST_TAIL_BYTES`] of a file.
fn read_last_entry(path: &Path, len: u64) -> io::Result<Option<Entry>> {
    let mut file = File::open(path)?;
    let start = len.saturating_sub(LIST_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    file.take(LIST_TAIL_BYTES).read_to_end(&mut buf)?;
    // When the window starts mid-file, its first line is probably cut: drop it.
    let usable = if start > 0 {
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => &buf[i + 1..],
            None => return Ok(None),
        }
    } else {
        &buf[..]
    };
    Ok(usable
        .split(|b| *b == b'\n')
        .rev()
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty())
        .find_map(|line| serde_json::from_slice::<Entry>(line).ok()))
}

fn reset_blocking(path: &Path) -> Result<bool, SessionError> {
    match path.symlink_metadata() {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(SessionError::io("reset", path, e)),
    }
    let base = now_ms();
    for attempt in 0..MAX_RESET_ATTEMPTS {
        let mut target = path.as_os_str().to_owned();
        target.push(format!(".reset.{}", base.saturating_add(attempt)));
        let target = PathBuf::from(target);
        if target.symlink_metadata().is_ok() {
            continue;
        }
        return match fs::rename(path, &target) {
            Ok(()) => {
                sync_dir(path.parent());
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(SessionError::io("reset", path, e)),
        };
    }
    Err(SessionError::io(
        "reset",
        path,
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            "every candidate archive name is taken; remove old `.reset.` files",
        ),
    ))
}

fn delete_blocking(path: &Path) -> Result<bool, SessionError> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_dir(path.parent());
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(SessionError::io("delete", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn write_lock_map_does_not_grow() {
        let dir = std::env::temp_dir().join(format!(
            "openclaw-sessions-unit-{}-{}",
            std::process::id(),
            now_ms()
        ));
        let store = SessionStore::new(&dir);
        for i in 0..50 {
            let key = SessionKey::new("main", &format!("s{i}")).expect("valid key");
            store
                .append(&key, &[Entry::user("hi")])
                .await
                .expect("append");
            let _g = store.lock(&key).await;
            assert_eq!(store.inner.turn_locks.len(), 1);
        }
        assert_eq!(store.inner.write_locks.len(), 0);
        assert_eq!(store.inner.turn_locks.len(), 0);
        let _ = fs::remove_dir_all(&dir);
    }
}
