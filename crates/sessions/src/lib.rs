//! Durable session transcripts for the OpenClaw gateway.
//!
//! Every conversation with an agent is a *session*, named by a [`SessionKey`] of the form
//! `agent:<agentId>:<name>` (the main session of an agent is `agent:<id>:main`). Its
//! history is an append-only JSONL file, one [`Entry`] per line, under
//! `<state_dir>/agents/<agentId>/sessions/`.
//!
//! The design goal is that a turn acknowledged to a user is never lost:
//! [`SessionStore::append`] returns only after the lines are synced to disk, and a crash
//! in the middle of a write leaves at most a fragment of one line, which
//! [`SessionStore::load`] skips (and counts) and the next append seals off. Writers of
//! one session are serialised; callers that run a whole turn (read history, call a
//! model, append the reply) additionally hold the session's turn lock from
//! [`SessionStore::lock`] so turns do not interleave.
//!
//! All file I/O runs on Tokio's blocking pool, never on the async worker threads.
//!
//! [`SessionStore::postgres`] opens the other backend: the same operations on a shared
//! Postgres database (`sessions.store.backend: "postgres"`), so several gateways can
//! read and write the same transcripts. The turn lock stays per process either way.

mod encode;
mod entry;
mod error;
mod key;
mod locks;
mod postgres;
mod store;

pub use entry::{Entry, SessionSummary, Transcript};
pub use error::SessionError;
pub use key::{MAIN_SESSION_NAME, MAX_AGENT_ID_LEN, MAX_NAME_CHARS, SessionKey};
pub use postgres::{PgProbe, probe as probe_postgres};
pub use store::{Census, LIST_TAIL_BYTES, PREVIEW_CHARS, SessionGuard, SessionStore};
