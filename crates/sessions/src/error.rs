//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while naming, reading or writing a session transcript.
///
/// Each message says what was wrong and what the caller (or the operator reading the
/// log) can do about it, because these errors end up verbatim in RPC error replies and
/// in the gateway log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A session key (or an agent id) did not have the expected shape. The input is
    /// kept (shortened and escaped) so the client can see which value was refused.
    #[error(
        "invalid session key {input}: {reason}; expected `agent:<agentId>:<name>` where \
         agentId matches [a-z0-9][a-z0-9_-]{{0,63}} and name is 1-200 characters without \
         control characters (e.g. `agent:main:main` or `agent:main:telegram:12345`)"
    )]
    BadKey {
        /// The refused input, quoted and shortened for display.
        input: String,
        /// Which rule the input broke.
        reason: String,
    },

    /// A file-system operation on a transcript failed.
    #[error(
        "cannot {op} session transcript {}: {source}; check that the state directory \
         exists, is writable by the gateway's user and that the disk is not full",
        path.display()
    )]
    Io {
        /// What was being done ("append to", "read", "list", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// A transcript entry could not be turned into JSON. Practically unreachable (every
    /// field is a string, a number or a `serde_json::Value`), but reported rather than
    /// panicking.
    #[error("cannot encode a transcript entry as JSON: {0}; the entry was not written")]
    Encode(#[source] serde_json::Error),

    /// The blocking file task was cancelled or crashed, typically because the runtime
    /// is shutting down.
    #[error(
        "the background file task for a session transcript did not finish: {0}; \
         retry the request, and restart the gateway if this keeps happening"
    )]
    Background(#[source] tokio::task::JoinError),

    /// The Postgres backend (`sessions.store.backend: "postgres"`) failed: the URL does
    /// not parse, the server is unreachable, or a statement failed. `url` never holds
    /// the password.
    #[error("sessions.store: cannot {op} {url}: {cause}; start Postgres or fix sessions.store.url")]
    Postgres {
        /// What was being done ("connect to", "append to", "read", ...).
        op: &'static str,
        /// The database URL without its password.
        url: String,
        /// The driver's or server's message.
        cause: String,
    },
}

/// The `op` of a [`SessionError::Postgres`] that failed to reach the server.
pub(crate) const CONNECT_OP: &str = "connect to";

impl SessionError {
    /// Builds a [`SessionError::BadKey`], shortening and escaping the input so a huge or
    /// binary value cannot flood a log line or an error reply.
    pub(crate) fn bad_key(input: &str, reason: impl Into<String>) -> SessionError {
        const MAX_SHOWN: usize = 120;
        let mut shown: String = input.chars().take(MAX_SHOWN).collect();
        if shown.len() < input.len() {
            shown.push('…');
        }
        SessionError::BadKey {
            input: format!("{shown:?}"),
            reason: reason.into(),
        }
    }

    /// Whether the database could not be reached (it may come up later, so a supervisor
    /// may retry), as opposed to a URL, schema or statement the gateway cannot use.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SessionError::Postgres { op, .. } if *op == CONNECT_OP)
    }

    /// Builds a [`SessionError::Postgres`].
    pub(crate) fn postgres(op: &'static str, url: String, cause: String) -> SessionError {
        SessionError::Postgres { op, url, cause }
    }

    /// Builds a [`SessionError::Io`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SessionError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
