//! The single error type of this crate.
//!
//! Every failure a user can cause (bad profile name, unreadable file, broken JSON5,
//! missing environment variable, schema violation) maps to one variant of
//! [`ConfigError`]. The `Display` texts are written for the person at the terminal: each
//! says where the problem is (file, line, JSON path) and what to do about it, because the
//! CLI prints them verbatim.

use std::path::PathBuf;

/// Everything that can go wrong while locating, reading, parsing or validating the
/// configuration.
///
/// The variants carry structured fields (rather than only a message) so callers such as
/// the gateway's `config.*` RPC methods can report the JSON path or the line/column to
/// remote clients without re-parsing the text.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `OPENCLAW_STATE_DIR` nor `HOME` is available, so there is no place to
    /// put the state directory (or a `~/` in a path variable cannot be expanded).
    #[error(
        "cannot locate the OpenClaw state directory: HOME is not set; set HOME or OPENCLAW_STATE_DIR"
    )]
    NoHome,

    /// A profile name (from `--profile` or `OPENCLAW_PROFILE`) contains characters
    /// that are not allowed. Names are restricted because they become part of a
    /// directory name (`~/.openclaw-<profile>`); anything else could escape it.
    #[error(
        "invalid profile name {name:?}: profile names must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
    )]
    BadProfile {
        /// The rejected name, exactly as given.
        name: String,
    },

    /// `--dev` (which means profile `dev`) was combined with a different explicit
    /// profile. Rejected rather than silently picking one, because the two would
    /// select different state directories.
    #[error(
        "--dev selects the \"dev\" profile but profile {profile:?} was also given; use only one of them"
    )]
    ProfileConflict {
        /// The explicit profile that conflicts with `--dev`.
        profile: String,
    },

    /// The config file exists (or might) but could not be read for a reason other than
    /// "not found" (a missing file simply means "use defaults").
    #[error(
        "cannot read config file {}: {source}; check that it is a readable file or point OPENCLAW_CONFIG_PATH elsewhere",
        .path.display()
    )]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// The text is not valid JSON5. `line` and `column` are 1-based; both are 0 when
    /// the parser could not tell where the problem is.
    #[error(
        "{}:{line}:{column}: JSON5 parse error: {message}; fix the syntax or move the file aside to start from defaults",
        display_source(.path)
    )]
    Parse {
        /// The file that was parsed, when the text came from a file.
        path: Option<PathBuf>,
        /// 1-based line of the error, or 0 if unknown.
        line: usize,
        /// 1-based column of the error, or 0 if unknown.
        column: usize,
        /// What the parser objected to.
        message: String,
    },

    /// A string value references `${VAR}` but `VAR` is unset or empty. Treated as an
    /// error (not as an empty string) because a silently empty token or password would
    /// weaken authentication.
    #[error(
        "config value at {} references environment variable ${{{var}}}, which is not set or is empty; set {var}, or write $${{{var}}} for a literal \"${{{var}}}\"",
        display_json_path(.path)
    )]
    MissingEnv {
        /// The variable name, without `${}`.
        var: String,
        /// JSON path of the string that referenced it, e.g. `gateway.auth.token`.
        path: String,
    },

    /// The document parsed but does not fit the schema, or a value is out of range.
    /// `path` points at the offending key (e.g. `gateway.bind`); `message` says what was
    /// wrong and what is allowed.
    #[error("invalid config at {}: {message}", display_json_path(.path))]
    Invalid {
        /// JSON path of the offending value; empty for the document root.
        path: String,
        /// What was wrong and what would be accepted.
        message: String,
    },
}

/// Renders an optional source file for [`ConfigError::Parse`]; text that did not come
/// from a file is labelled so the `path:line:col` shape stays recognisable.
fn display_source(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => "<config>".to_string(),
    }
}

/// Renders a JSON path, naming the root explicitly instead of printing nothing.
fn display_json_path(path: &str) -> &str {
    if path.is_empty() { "(top level)" } else { path }
}

impl ConfigError {
    /// Attaches the file path to a [`ConfigError::Parse`] that was produced from a bare
    /// string, so messages name the file once the caller knows it. Other variants are
    /// returned unchanged.
    pub(crate) fn with_file(self, file: &std::path::Path) -> ConfigError {
        match self {
            ConfigError::Parse {
                path: None,
                line,
                column,
                message,
            } => ConfigError::Parse {
                path: Some(file.to_path_buf()),
                line,
                column,
                message,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_display_matches_documented_shape() {
        let err = ConfigError::Invalid {
            path: "gateway.bind".into(),
            message: "unknown variant `wide`, expected one of `loopback`, `lan`".into(),
        };
        assert_eq!(
            err.to_string(),
            "invalid config at gateway.bind: unknown variant `wide`, expected one of `loopback`, `lan`"
        );
    }

    #[test]
    fn root_path_is_named() {
        let err = ConfigError::Invalid {
            path: String::new(),
            message: "x".into(),
        };
        assert_eq!(err.to_string(), "invalid config at (top level): x");
    }

    #[test]
    fn parse_display_names_file_and_fix() {
        let err = ConfigError::Parse {
            path: Some(PathBuf::from("/tmp/openclaw.json")),
            line: 3,
            column: 7,
            message: "expected comma".into(),
        };
        assert_eq!(
            err.to_string(),
            "/tmp/openclaw.json:3:7: JSON5 parse error: expected comma; fix the syntax or move the file aside to start from defaults"
        );
    }

    #[test]
    fn missing_env_display_mentions_escape() {
        let err = ConfigError::MissingEnv {
            var: "TOK".into(),
            path: "gateway.auth.token".into(),
        };
        let s = err.to_string();
        assert!(s.contains("${TOK}"), "{s}");
        assert!(s.contains("gateway.auth.token"), "{s}");
        assert!(s.contains("$${TOK}"), "{s}");
    }
}
