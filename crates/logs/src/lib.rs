//! Structured logging for the OpenClaw gateway.
//!
//! The gateway daemon writes one JSON object per log event to a size-rotated
//! file (by default `<state>/logs/gateway.log`) and, in parallel, short human
//! readable lines to stderr. Clients read the file back through the
//! `logs.tail` RPC, and the `openclaw logs` CLI reads it directly when the
//! gateway is not running — which is why the file format, rotation scheme and
//! tail cursor semantics all live together in this one crate.
//!
//! * [`RotatingFile`] / [`SharedRotatingFile`] — the thread-safe, whole-line,
//!   size-rotated file sink (also usable as a `tracing_subscriber` writer).
//! * [`init`] / [`subscriber`] — build (and optionally install) the tracing
//!   subscriber with the JSON file layer and the console layer.
//! * [`tail`] — read recent lines, or follow the file with a byte cursor.
//! * [`pretty_line`] — turn a stored JSON line back into a console line, so
//!   offline readers show the same format as the live daemon.
//! * [`Redaction`] / [`RedactPatterns`] — what is scrubbed (`logging.redactSensitive`,
//!   `logging.redactPatterns`) from every record written and every line read back.

mod error;
mod init;
mod layer;
mod level;
mod patterns;
mod redact;
mod tail;
mod time;
mod writer;

pub use error::LogError;
pub use init::{
    DEFAULT_MAX_FILE_BYTES, LogHandle, LogOptions, init, subscriber, subscriber_with_console,
};
pub use layer::{ConsoleLayer, ConsoleStyle, JsonFileLayer, pretty_line};
pub use level::Level;
pub use patterns::{PatternError, RedactPatterns};
pub use redact::{REDACTED, Redaction, is_sensitive_field};
pub use tail::{
    DEFAULT_TAIL_LIMIT, DEFAULT_TAIL_MAX_BYTES, MAX_TAIL_LIMIT, MAX_TAIL_MAX_BYTES, TailRequest,
    TailResult, tail,
};
pub use writer::{MAX_ARCHIVES, RecordWriter, RotatingFile, SharedRotatingFile};
