//! Building and installing the gateway's tracing subscriber.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};

use crate::layer::{ConsoleLayer, JsonFileLayer, Live};
use crate::{
    ConsoleStyle, Level, LogError, RedactPatterns, Redaction, RotatingFile, SharedRotatingFile,
    TailRequest, TailResult,
};

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
    /// Rotated files kept beside the active one (`logging.maxFiles`).
    pub max_files: usize,
    /// `--verbose`: the console shows at least `debug` whatever `console_level` says.
    pub verbose: bool,
    /// Minimum level printed on the console (`logging.consoleLevel`, default `info`).
    pub console_level: Level,
    /// How console lines look (`logging.consoleStyle`).
    pub console_style: ConsoleStyle,
    /// ANSI colours in the pretty console style (the caller decides: a terminal
    /// without `NO_COLOR`).
    pub console_color: bool,
    /// Redact the values of fields with sensitive names (`logging.redactSensitive`
    /// `"tools"`, the default; `"off"` clears it).
    pub redact_fields: bool,
    /// `logging.redactPatterns`, compiled when the subscriber is built (see
    /// [`RedactPatterns`] for the syntax).
    pub redact_patterns: Vec<String>,
}

impl LogOptions {
    /// Options with the defaults (`info` file and console, 10 MiB, not
    /// verbose, pretty uncoloured console, field-name redaction, no patterns)
    /// for `file`, so callers only spell out what they change.
    pub fn new(file: impl Into<PathBuf>) -> Self {
        LogOptions {
            file: file.into(),
            level: Level::default(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_files: crate::writer::MAX_ARCHIVES,
            verbose: false,
            console_level: Level::Info,
            console_style: ConsoleStyle::default(),
            console_color: false,
            redact_fields: true,
            redact_patterns: Vec::new(),
        }
    }

    /// The filter applied to the console: `console_level`, raised to `debug`
    /// by `verbose`. Independent of [`LogOptions::level`] so that raising the
    /// file level for diagnostics does not flood the terminal.
    pub fn console_filter(&self) -> LevelFilter {
        console_filter(self.console_level, self.verbose)
    }

    /// The redaction these options ask for; fails on a pattern that does not compile.
    pub fn redaction(&self) -> Result<Redaction, LogError> {
        Ok(Redaction {
            field_names: self.redact_fields,
            patterns: RedactPatterns::compile(&self.redact_patterns)?,
        })
    }
}

/// `level`, raised to at least `debug` by `--verbose`.
fn console_filter(level: Level, verbose: bool) -> LevelFilter {
    if verbose {
        level.max(Level::Debug).to_level_filter()
    } else {
        level.to_level_filter()
    }
}

/// The registry with the filtered file layer: what the console layer sits on.
type FileLayered = tracing_subscriber::layer::Layered<
    tracing_subscriber::filter::Filtered<
        JsonFileLayer<SharedRotatingFile>,
        tracing_subscriber::reload::Layer<LevelFilter, Registry>,
        Registry,
    >,
    Registry,
>;

/// What must stay alive (and can be asked) after logging was set up.
///
/// Holds the shared log file so its handle outlives the setup call; cloning
/// is cheap and every clone refers to the same file.
#[derive(Clone)]
pub struct LogHandle {
    file: SharedRotatingFile,
    level: tracing_subscriber::reload::Handle<LevelFilter, Registry>,
    console_level: tracing_subscriber::reload::Handle<LevelFilter, FileLayered>,
    verbose: bool,
    live: Arc<Live>,
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

    /// Changes the console level at run time (`logging.consoleLevel`); `--verbose`
    /// given at start-up still raises it to `debug`.
    pub fn set_console_level(&self, level: Level) -> Result<(), LogError> {
        self.console_level
            .reload(console_filter(level, self.verbose))
            .map_err(|e| LogError::InvalidLevel {
                value: format!("{level} ({e})"),
            })
    }

    /// Changes the console style at run time (`logging.consoleStyle`).
    pub fn set_console_style(&self, style: ConsoleStyle, color: bool) {
        self.live.set_style(style, color);
    }

    /// Replaces the redaction settings at run time (`logging.redactSensitive`,
    /// `logging.redactPatterns`); later events, and lines read back through
    /// [`LogHandle::tail`], use them.
    pub fn set_redaction(&self, redaction: Redaction) {
        self.live.set_redaction(redaction);
    }

    /// The redaction in force now.
    pub fn redaction(&self) -> Redaction {
        self.live.redaction()
    }

    /// Applies what of `opts` can change at run time: file level, console level and
    /// style, redaction. The file and its rotation size stay as opened. A pattern that
    /// does not compile fails the call before anything is changed.
    pub fn reconfigure(&self, opts: &LogOptions) -> Result<(), LogError> {
        let redaction = opts.redaction()?;
        self.set_redaction(redaction);
        self.set_console_style(opts.console_style, opts.console_color);
        self.set_level(opts.level)?;
        self.set_console_level(opts.console_level)
    }

    /// [`crate::tail`] of the live file with every line scrubbed by the current
    /// redaction ([`Redaction::stored_line`]), so lines written before a pattern was
    /// added do not leak through `logs.tail` either.
    pub fn tail(&self, req: &TailRequest) -> Result<TailResult, LogError> {
        let mut result = crate::tail(self.file(), req)?;
        let redaction = self.redaction();
        for line in &mut result.lines {
            if let std::borrow::Cow::Owned(scrubbed) = redaction.stored_line(line) {
                *line = scrubbed;
            }
        }
        Ok(result)
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
    let redaction = opts.redaction()?;
    let file = RotatingFile::open(&opts.file, opts.max_file_bytes)?
        .with_archives(opts.max_files)
        .into_shared();
    let live = Live::new(redaction, opts.console_style, opts.console_color);
    let (level_filter, level) =
        tracing_subscriber::reload::Layer::new(opts.level.to_level_filter());
    let (console_filter, console_level) =
        tracing_subscriber::reload::Layer::new(opts.console_filter());
    // Stacked with `.with` one after the other: composing the two filtered layers with
    // `and_then` first would make tracing-subscriber take the console's level hint for
    // the whole stack (it then believes the inner layer is the registry).
    let subscriber: FileLayered = Registry::default()
        .with(JsonFileLayer::with_live(file.clone(), live.clone()).with_filter(level_filter));
    let subscriber =
        subscriber.with(ConsoleLayer::with_live(console, live.clone()).with_filter(console_filter));
    Ok((
        subscriber,
        LogHandle {
            file,
            level,
            console_level,
            verbose: opts.verbose,
            live,
        },
    ))
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
