//! The single error type of this crate.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while setting up logging or reading logs back.
///
/// Errors that happen *while logging* (a full disk, a deleted directory) are
/// deliberately not represented here: they are reported once to stderr by the
/// writer and otherwise swallowed, because a logging failure must never take
/// the gateway down. Only setup and explicit reads surface errors to callers.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The directory that should hold the log file could not be created.
    #[error("cannot create log directory {}: {source}", .path.display())]
    CreateDir {
        /// Directory we tried to create.
        path: PathBuf,
        /// Underlying OS error.
        source: io::Error,
    },
    /// The log file could not be opened for appending.
    #[error("cannot open log file {}: {source}", .path.display())]
    Open {
        /// File we tried to open.
        path: PathBuf,
        /// Underlying OS error.
        source: io::Error,
    },
    /// The log file exists but could not be read (tail).
    #[error("cannot read log file {}: {source}", .path.display())]
    Read {
        /// File we tried to read.
        path: PathBuf,
        /// Underlying OS error.
        source: io::Error,
    },
    /// A log level string was not one of the known names.
    #[error(
        "invalid log level {value:?} (expected silent, fatal, error, warn, info, debug or trace)"
    )]
    InvalidLevel {
        /// The rejected input, kept verbatim for the message.
        value: String,
    },
    /// A `logging.redactPatterns` entry does not compile.
    #[error("invalid logging.redactPatterns entry: {0}")]
    InvalidPattern(#[from] crate::PatternError),
    /// [`crate::init`] was called while a global subscriber was already set.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[source] tracing::subscriber::SetGlobalDefaultError),
}
