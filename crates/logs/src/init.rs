//! Building and installing the gateway's tracing subscriber.

use std::path::{Path, PathBuf};

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};

use crate::layer::{ConsoleLayer, JsonFileLayer};
use crate::{Level, LogError, RotatingFile, SharedRotatingFile};

/// Default rotation threshold for the log file (10 MiB), so that with five
/// archives logs never use more than about 60 MiB of the state directory.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// How the gateway (or CLI) wants logging set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// The JSON-lines log file, usually `<state>/logs/gateway.log`; the
    /// caller resolves it because only it knows the state directory.
    pub file: PathBuf,
    /// Minimum level written to the file (`silent` writes nothing).
    pub level: Level,
    /// Rotate once the file would exceed this many bytes (0 = never).
    pub max_file_bytes: u64,
    /// Show `debug` events on the console too (normally `info` and up).
    pub verbose: bool,
}

impl LogOptions {
    /// Options with the defaults (`info`, 10 MiB, not verbose) for `file`,
    /// so callers only spell out what they change.
    pub fn new(file: impl Into<PathBuf>) -> Self {
        LogOptions {
            file: file.into(),
            level: Level::default(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            verbose: false,
        }
    }

    /// The filter applied to the console: `info`, or `debug` with
    /// `verbose`. Independent of [`LogOptions::level`] so that raising the
    /// file level for diagnostics does not flood the terminal.
    pub fn console_filter(&self) -> LevelFilter {
        if self.verbose {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        }
    }
}

/// What must stay alive (and can be asked) after logging was set up.
///
/// Holds the shared log file so its handle outlives the setup call; cloning
/// is cheap and every clone refers to the same file.
#[derive(Clone)]
pub struct LogHandle {
    file: SharedRotatingFile,
    level: tracing_subscriber::reload::Handle<LevelFilter, Registry>,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle")
            .field("file", &self.file.path())
            .finish()
    }
}

impl LogHandle {
    /// Path of the live log file, e.g. to report it in `status` or to hand
    /// to [`crate::tail`].
    pub fn file(&self) -> &Path {
        self.file.path()
    }

    /// Changes the file log level at run time (hot reload of `logging.level`).
    pub fn set_level(&self, level: Level) -> Result<(), LogError> {
        self.level
            .reload(level.to_level_filter())
            .map_err(|e| LogError::InvalidLevel {
                value: format!("{level} ({e})"),
            })
    }

    /// The shared rotating file, for callers that want to add their own
    /// layer writing to the same file.
    pub fn writer(&self) -> &SharedRotatingFile {
        &self.file
    }
}

/// Builds the gateway subscriber (JSON file layer + stderr console layer)
/// without installing it.
///
/// Separate from [`init`] so tests and embedders can scope it with
/// `tracing::subscriber::with_default` instead of touching global state.
pub fn subscriber(
    opts: &LogOptions,
) -> Result<(impl Subscriber + Send + Sync + use<>, LogHandle), LogError> {
    subscriber_with_console(opts, std::io::stderr)
}

/// Like [`subscriber`], but with the console lines going to `console`
/// instead of stderr (e.g. `std::io::sink` to silence them in tests, or a
/// buffer to capture them).
pub fn subscriber_with_console<W>(
    opts: &LogOptions,
    console: W,
) -> Result<(impl Subscriber + Send + Sync + use<W>, LogHandle), LogError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let file = RotatingFile::open(&opts.file, opts.max_file_bytes)?.into_shared();
    let (level_filter, level) =
        tracing_subscriber::reload::Layer::new(opts.level.to_level_filter());
    let subscriber = Registry::default()
        .with(JsonFileLayer::new(file.clone()).with_filter(level_filter))
        .with(ConsoleLayer::new(console).with_filter(opts.console_filter()));
    Ok((subscriber, LogHandle { file, level }))
}

/// Builds the subscriber and installs it as the process-wide default.
///
/// Call once at startup; a second call fails with
/// [`LogError::AlreadyInstalled`] rather than silently replacing logging.
/// Keep the returned handle for the file path.
pub fn init(opts: &LogOptions) -> Result<LogHandle, LogError> {
    let (subscriber, handle) = subscriber(opts)?;
    tracing::subscriber::set_global_default(subscriber).map_err(LogError::AlreadyInstalled)?;
    Ok(handle)
}
