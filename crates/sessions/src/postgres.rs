//! The Postgres backend of [`crate::SessionStore`]: transcripts as rows, for several
//! gateways that share one database.
//!
//! Two tables (created by the embedded [`MIGRATIONS`], applied at start in one
//! transaction and recorded in `schema_migrations`):
//!
//! * `sessions`: one row per session key that was ever written: its agent, its current
//!   `generation`, whether that generation has a transcript (`live`), the next sequence
//!   number, and what `list` shows (update time, size, last role and preview), kept up to
//!   date by every append so listing never reads transcripts.
//! * `session_entries`: append-only, one row per entry, keyed by
//!   `(session_key, generation, seq)`.
//!
//! A reset bumps the generation (the old rows stay, as the files backend keeps
//! `.reset.<ms>` archives); a delete removes the current generation's rows and bumps it
//! too, so a later transcript never collides with an archived one. Appends to one session
//! serialise on the `sessions` row lock, across gateways.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls};

use crate::entry::{Entry, SessionSummary, Transcript, now_ms};
use crate::error::{CONNECT_OP, SessionError};
use crate::key::SessionKey;
use crate::store::{Census, PREVIEW_CHARS};

/// Connections kept open to the database at most (the gateway is I/O-light per turn).
const POOL_SIZE: usize = 8;

/// How long a connection attempt may take before start-up (or a request) fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Arbitrary constant for `pg_advisory_xact_lock`, so two gateways starting at once
/// apply the migrations one after the other.
const MIGRATION_LOCK: i64 = 0x6f63_5f73_6573_7331;

/// The schema, in order. Each step runs once, in the start-up transaction; never edit a
/// released step, append a new one.
pub(crate) const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    "CREATE TABLE sessions (
        session_key  text PRIMARY KEY,
        agent_id     text NOT NULL,
        name         text NOT NULL,
        generation   integer NOT NULL DEFAULT 0,
        live         boolean NOT NULL DEFAULT false,
        next_seq     bigint NOT NULL DEFAULT 0,
        updated_at   bigint NOT NULL,
        size_bytes   bigint NOT NULL DEFAULT 0,
        last_role    text,
        last_preview text
    );
    CREATE INDEX sessions_live_updated ON sessions (updated_at DESC) WHERE live;
    CREATE INDEX sessions_agent_updated ON sessions (agent_id, updated_at DESC) WHERE live;
    CREATE TABLE session_entries (
        session_key text NOT NULL,
        generation  integer NOT NULL,
        seq         bigint NOT NULL,
        entry       jsonb NOT NULL,
        PRIMARY KEY (session_key, generation, seq)
    );",
)];

/// The Postgres half of a [`crate::SessionStore`]. Cheap to clone.
#[derive(Clone)]
pub(crate) struct PgStore {
    pool: Arc<Pool>,
}

/// A handful of connections, opened on demand and dropped when broken.
struct Pool {
    config: tokio_postgres::Config,
    /// The URL without its password, for messages.
    shown: String,
    idle: Mutex<Vec<Client>>,
    permits: Arc<Semaphore>,
}

/// A connection borrowed from the pool; goes back on drop unless it broke.
struct Conn {
    client: Option<Client>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until drop")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
        {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(client);
        }
    }
}

/// `postgres://user@host:port/db` of a parsed config: never the password.
pub(crate) fn redacted(config: &tokio_postgres::Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

/// A best-effort redaction of a URL that did not even parse: everything between `://`
/// and the last `@` (the credentials) is replaced.
fn redact_unparsed(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://[credentials]{}", &url[..s], &url[at..]),
        _ if url.contains('@') => "[unparseable URL with credentials]".to_string(),
        _ => url.to_string(),
    }
}

/// The error's message with its causes, e.g. `error connecting to server: Connection
/// refused (os error 111)`.
fn cause(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// What `openclaw doctor` reports about a Postgres session store: read without changing
/// anything (no migration is applied; the gateway applies them when it starts).
#[derive(Clone, Debug)]
pub struct PgProbe {
    /// The URL without its password.
    pub url: String,
    /// `SHOW server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub server_version: String,
    /// The highest migration applied, `None` when the database has never been used by a
    /// gateway (no `schema_migrations` table yet).
    pub schema: Option<i32>,
    /// The highest migration this build knows.
    pub latest: i32,
}

/// Connects once to `url` and reads the server version and the applied schema version.
/// Every error names the URL without its password.
pub async fn probe(url: &str) -> Result<PgProbe, SessionError> {
    let (config, shown) = parse(url)?;
    let fail = |op: &'static str, e: tokio_postgres::Error| {
        SessionError::postgres(op, shown.clone(), cause(&e))
    };
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| fail(CONNECT_OP, e))?;
    let driver = tokio::spawn(connection);
    let result = async {
        let server_version: String = client
            .query_one("SHOW server_version", &[])
            .await
            .map_err(|e| fail("query", e))?
            .get(0);
        let has_table: bool = client
            .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
            .await
            .map_err(|e| fail("query", e))?
            .get(0);
        let schema = if has_table {
            let v: i32 = client
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )
                .await
                .map_err(|e| fail("query", e))?
                .get(0);
            Some(v)
        } else {
            None
        };
        Ok(PgProbe {
            url: shown.clone(),
            server_version,
            schema,
            latest: MIGRATIONS.last().map_or(0, |(v, _)| *v),
        })
    }
    .await;
    drop(client);
    let _ = driver.await;
    result
}

/// Parses `url` with this backend's rules (no TLS, a connect timeout); gives the config
/// and the URL without its password.
fn parse(url: &str) -> Result<(tokio_postgres::Config, String), SessionError> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
        SessionError::postgres(
            "parse the URL",
            redact_unparsed(url),
            format!(
                "{e}; expected postgres://user:password@host:port/database (sessions.store.url)"
            ),
        )
    })?;
    let shown = redacted(&config);
    match config.get_ssl_mode() {
        SslMode::Disable | SslMode::Prefer => {}
        _ => {
            return Err(SessionError::postgres(
                "use",
                shown,
                "sslmode=require is not supported: this gateway connects to Postgres without TLS (meant for loopback or a private network); remove sslmode from the URL or use sslmode=disable".to_string(),
            ));
        }
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok((config, shown))
}

impl PgStore {
    /// Parses `url`, connects, and applies the migrations this build knows. Every error
    /// names the URL without its password.
    pub(crate) async fn connect(url: &str) -> Result<PgStore, SessionError> {
        let (config, shown) = parse(url)?;
        let pool = Arc::new(Pool {
            config,
            shown,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(POOL_SIZE)),
        });
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The URL without its password.
    pub(crate) fn shown(&self) -> &str {
        &self.pool.shown
    }

    fn err(&self, op: &'static str, e: tokio_postgres::Error) -> SessionError {
        SessionError::postgres(op, self.pool.shown.clone(), cause(&e))
    }

    async fn conn(&self) -> Result<Conn, SessionError> {
        let permit = Arc::clone(&self.pool.permits)
            .acquire_owned()
            .await
            .map_err(|_| {
                SessionError::postgres(CONNECT_OP, self.pool.shown.clone(), "pool closed".into())
            })?;
        let idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let client = match idle {
            Some(client) if !client.is_closed() => client,
            _ => {
                let (client, connection) = self
                    .pool
                    .config
                    .connect(NoTls)
                    .await
                    .map_err(|e| self.err(CONNECT_OP, e))?;
                let shown = self.pool.shown.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::warn!(target: "sessions", url = %shown, error = %e, "postgres connection closed");
                    }
                });
                client
            }
        };
        Ok(Conn {
            client: Some(client),
            pool: Arc::clone(&self.pool),
            _permit: permit,
        })
    }

    async fn migrate(&self) -> Result<(), SessionError> {
        let mut conn = self.conn().await?;
        let tx = conn
            .transaction()
            .await
            .map_err(|e| self.err("migrate", e))?;
        let step = |e| self.err("migrate", e);
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(step)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(step)?;
        let current: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(step)?
            .get(0);
        let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
        if current > known {
            return Err(SessionError::postgres(
                "use",
                self.pool.shown.clone(),
                format!(
                    "the database schema is at version {current}, newer than this gateway knows ({known}); upgrade the gateway"
                ),
            ));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(sql).await.map_err(step)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await
            .map_err(step)?;
            tracing::info!(target: "sessions", url = %self.pool.shown, version, "applied session store migration");
        }
        tx.commit().await.map_err(step)
    }

    /// Appends in one transaction; returns once it committed. Runs as its own task so a
    /// dropped caller cannot cut the transaction short.
    pub(crate) async fn append(
        &self,
        key: &SessionKey,
        entries: &[Entry],
    ) -> Result<(), SessionError> {
        let mut values = Vec::with_capacity(entries.len());
        let mut size: i64 = 0;
        for entry in entries {
            let line = serde_json::to_vec(entry).map_err(SessionError::Encode)?;
            size = size.saturating_add(i64::try_from(line.len() + 1).unwrap_or(i64::MAX));
            values.push(serde_json::to_value(entry).map_err(SessionError::Encode)?);
        }
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let last_role = last.role.clone();
        let preview: String = last.content.chars().take(PREVIEW_CHARS).collect();
        let store = self.clone();
        let key = key.clone();
        let task = tokio::spawn(async move {
            let count = i64::try_from(values.len()).unwrap_or(i64::MAX);
            let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
            let text_key = key.to_string();
            let mut conn = store.conn().await?;
            let op = |e| store.err("append to", e);
            let tx = conn.transaction().await.map_err(op)?;
            let row = tx
                .query_one(
                    "INSERT INTO sessions AS s (session_key, agent_id, name, generation, live, next_seq, updated_at, size_bytes, last_role, last_preview)
                     VALUES ($1, $2, $3, 0, true, $4, $5, $6, $7, $8)
                     ON CONFLICT (session_key) DO UPDATE SET
                        live = true,
                        next_seq = s.next_seq + EXCLUDED.next_seq,
                        updated_at = EXCLUDED.updated_at,
                        size_bytes = s.size_bytes + EXCLUDED.size_bytes,
                        last_role = EXCLUDED.last_role,
                        last_preview = EXCLUDED.last_preview
                     RETURNING generation, next_seq",
                    &[&text_key, &key.agent_id, &key.name, &count, &now, &size, &last_role, &preview],
                )
                .await
                .map_err(op)?;
            let generation: i32 = row.get(0);
            let first = row.get::<_, i64>(1) - count;
            tx.execute(
                "INSERT INTO session_entries (session_key, generation, seq, entry)
                 SELECT $1, $2, $3 + t.i - 1, t.e FROM unnest($4::jsonb[]) WITH ORDINALITY AS t(e, i)",
                &[&text_key, &generation, &first, &values],
            )
            .await
            .map_err(op)?;
            tx.commit().await.map_err(op)
        });
        task.await.map_err(SessionError::Background)?
    }

    pub(crate) async fn load(&self, key: &SessionKey) -> Result<Transcript, SessionError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT e.seq, e.entry FROM sessions s
                 JOIN session_entries e ON e.session_key = s.session_key AND e.generation = s.generation
                 WHERE s.session_key = $1 AND s.live ORDER BY e.seq",
                &[&key.to_string()],
            )
            .await
            .map_err(|e| self.err("read", e))?;
        let mut transcript = Transcript::default();
        for row in rows {
            let value: serde_json::Value = row.get(1);
            match serde_json::from_value::<Entry>(value) {
                Ok(entry) => transcript.entries.push(entry),
                Err(e) => {
                    transcript.skipped_lines += 1;
                    let seq: i64 = row.get(0);
                    tracing::warn!(target: "sessions", key = %key, seq, error = %e, "skipping an unreadable transcript entry");
                }
            }
        }
        Ok(transcript)
    }

    pub(crate) async fn list(
        &self,
        agent_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, SessionError> {
        let conn = self.conn().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = conn
            .query(
                "SELECT session_key, agent_id, updated_at, size_bytes, last_role, last_preview
                 FROM sessions WHERE live AND ($1::text IS NULL OR agent_id = $1)
                 ORDER BY updated_at DESC, session_key COLLATE \"C\" LIMIT $2",
                &[&agent_id, &limit],
            )
            .await
            .map_err(|e| self.err("list", e))?;
        Ok(rows
            .into_iter()
            .map(|row| SessionSummary {
                key: row.get(0),
                agent_id: row.get(1),
                updated_at: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
                size_bytes: u64::try_from(row.get::<_, i64>(3)).unwrap_or(0),
                last_role: row.get(4),
                last_preview: row.get(5),
            })
            .collect())
    }

    pub(crate) async fn census(
        &self,
        agent_id: &str,
        recent: usize,
    ) -> Result<Census, SessionError> {
        let conn = self.conn().await?;
        let op = |e| self.err("list", e);
        let count: i64 = conn
            .query_one(
                "SELECT count(*) FROM sessions WHERE live AND agent_id = $1",
                &[&agent_id],
            )
            .await
            .map_err(op)?
            .get(0);
        let limit = i64::try_from(recent).unwrap_or(i64::MAX);
        let rows = conn
            .query(
                "SELECT session_key, updated_at FROM sessions WHERE live AND agent_id = $1
                 ORDER BY updated_at DESC, session_key COLLATE \"C\" LIMIT $2",
                &[&agent_id, &limit],
            )
            .await
            .map_err(op)?;
        Ok(Census {
            dir: self.pool.shown.clone().into(),
            count: usize::try_from(count).unwrap_or(0),
            recent: rows
                .into_iter()
                .map(|r| (r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0)))
                .collect(),
        })
    }

    /// Starts a new generation; the old entries stay in the table (the archive).
    pub(crate) async fn reset(&self, key: &SessionKey) -> Result<bool, SessionError> {
        let conn = self.conn().await?;
        let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        let n = conn
            .execute(
                "UPDATE sessions SET generation = generation + 1, live = false, next_seq = 0,
                    size_bytes = 0, last_role = NULL, last_preview = NULL, updated_at = $2
                 WHERE session_key = $1 AND live",
                &[&key.to_string(), &now],
            )
            .await
            .map_err(|e| self.err("reset", e))?;
        Ok(n > 0)
    }

    /// Removes the current generation's entries (archives of earlier resets stay).
    pub(crate) async fn delete(&self, key: &SessionKey) -> Result<bool, SessionError> {
        let mut conn = self.conn().await?;
        let op = |e| self.err("delete", e);
        let text_key = key.to_string();
        let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        let tx = conn.transaction().await.map_err(op)?;
        let Some(row) = tx
            .query_opt(
                "SELECT generation FROM sessions WHERE session_key = $1 AND live FOR UPDATE",
                &[&text_key],
            )
            .await
            .map_err(op)?
        else {
            return Ok(false);
        };
        let generation: i32 = row.get(0);
        tx.execute(
            "DELETE FROM session_entries WHERE session_key = $1 AND generation = $2",
            &[&text_key, &generation],
        )
        .await
        .map_err(op)?;
        tx.execute(
            "UPDATE sessions SET generation = generation + 1, live = false, next_seq = 0,
                size_bytes = 0, last_role = NULL, last_preview = NULL, updated_at = $2
             WHERE session_key = $1",
            &[&text_key, &now],
        )
        .await
        .map_err(op)?;
        tx.commit().await.map_err(op)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_never_shows_the_password() {
        let c =
            tokio_postgres::Config::from_str("postgres://alice:hunter2@127.0.0.1:5433/oc").unwrap();
        assert_eq!(redacted(&c), "postgres://alice@127.0.0.1:5433/oc");
        let shown = redact_unparsed("postgres://alice:hunter2@[bad/oc?x=");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[tokio::test]
    async fn sslmode_require_is_refused() {
        let e = PgStore::connect("postgres://u:pw@127.0.0.1:1/db?sslmode=require")
            .await
            .err()
            .expect("refused");
        let text = e.to_string();
        assert!(text.contains("sslmode=require"), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
        assert_eq!(versions.first(), Some(&1));
    }
}
