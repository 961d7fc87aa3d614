//! The user-facing log level (config `logging.level`, CLI flags).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tracing::level_filters::LevelFilter;

use crate::LogError;

/// Log level as users spell it in config files and on the command line.
///
/// This is wider than [`tracing::Level`]: `silent` turns file logging off and
/// `fatal` exists for compatibility with the original OpenClaw settings. Since
/// tracing has no "fatal" severity, `fatal` behaves exactly like `error`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Write nothing to the log file.
    Silent,
    /// Only unrecoverable problems (same filter as [`Level::Error`]).
    Fatal,
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Normal operational messages; the default.
    #[default]
    Info,
    /// Diagnostic detail useful when debugging the gateway.
    Debug,
    /// Everything, including very chatty per-frame tracing.
    Trace,
}

impl Level {
    /// All levels, least to most verbose; handy for help texts and validation.
    pub const ALL: [Level; 7] = [
        Level::Silent,
        Level::Fatal,
        Level::Error,
        Level::Warn,
        Level::Info,
        Level::Debug,
        Level::Trace,
    ];

    /// The canonical lowercase name, as accepted by [`FromStr`] and written
    /// back to config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Silent => "silent",
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// The tracing filter this level stands for, so the file layer can be
    /// filtered without each caller re-deriving the mapping (`silent` → off,
    /// `fatal` → error).
    pub fn to_level_filter(self) -> LevelFilter {
        match self {
            Level::Silent => LevelFilter::OFF,
            Level::Fatal | Level::Error => LevelFilter::ERROR,
            Level::Warn => LevelFilter::WARN,
            Level::Info => LevelFilter::INFO,
            Level::Debug => LevelFilter::DEBUG,
            Level::Trace => LevelFilter::TRACE,
        }
    }
}

impl FromStr for Level {
    type Err = LogError;

    /// Parses a level name case-insensitively, ignoring surrounding blanks,
    /// because the value usually comes from hand-edited config or env vars.
    /// `warning` is accepted as an alias of `warn`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lowered = s.trim().to_ascii_lowercase();
        let level = match lowered.as_str() {
            "silent" | "off" | "none" => Level::Silent,
            "fatal" => Level::Fatal,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => {
                return Err(LogError::InvalidLevel {
                    value: s.to_owned(),
                });
            }
        };
        Ok(level)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_names_round_trip() {
        for level in Level::ALL {
            assert_eq!(level.as_str().parse::<Level>().ok(), Some(level));
            assert_eq!(level.to_string(), level.as_str());
        }
        assert_eq!(" WARNING ".parse::<Level>().ok(), Some(Level::Warn));
        assert!("loud".parse::<Level>().is_err());
        assert!("".parse::<Level>().is_err());
    }

    #[test]
    fn filters() {
        assert_eq!(Level::Silent.to_level_filter(), LevelFilter::OFF);
        assert_eq!(Level::Fatal.to_level_filter(), LevelFilter::ERROR);
        assert_eq!(Level::Trace.to_level_filter(), LevelFilter::TRACE);
    }

    #[test]
    fn serde_lowercase() {
        let json = serde_json::to_string(&Level::Debug).unwrap_or_default();
        assert_eq!(json, "\"debug\"");
        let back: Result<Level, _> = serde_json::from_str("\"fatal\"");
        assert_eq!(back.ok(), Some(Level::Fatal));
    }
}
