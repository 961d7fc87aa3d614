//! End-to-end tests of the subscriber: file JSON shape, redaction, level
//! filtering, console format — all scoped with `with_default`, never global.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use openclaw_logs::{
    ConsoleStyle, Level, LogOptions, TailRequest, pretty_line, subscriber, subscriber_with_console,
    tail,
};
use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

/// A uniquely named temporary directory removed on drop.
fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("openclaw-logs-it-{label}-"))
        .tempdir()
        .expect("temp dir")
}

/// Console capture buffer usable as a `MakeWriter`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for CaptureWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Ok(mut buf) = self.0.lock() {
            buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter(self.0.clone())
    }
}

fn options(dir: &tempfile::TempDir, level: Level, verbose: bool) -> LogOptions {
    LogOptions {
        level,
        max_file_bytes: 1024 * 1024,
        verbose,
        ..LogOptions::new(dir.path().join("logs/gateway.log"))
    }
}

fn file_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn json_line_shape() {
    let dir = temp_dir("shape");
    let opts = options(&dir, Level::Info, false);
    let (sub, handle) = subscriber_with_console(&opts, io::sink).expect("subscriber");
    assert_eq!(handle.file(), opts.file.as_path());
    tracing::subscriber::with_default(sub, || {
        tracing::info!(target: "gateway/ws", port = 18789_u64, ok = true, ratio = 0.5, peer = %"127.0.0.1", "client {} connected", "c1");
        tracing::warn!(level = 3, "reserved key");
        tracing::error!("default target");
    });

    let raw = fs::read_to_string(handle.file()).expect("read");
    assert!(raw.starts_with("{\"time\":\""), "{raw}");
    let lines = file_lines(handle.file());
    assert_eq!(lines.len(), 3);

    let first = &lines[0];
    let time = first["time"].as_str().expect("time");
    assert_eq!(time.len(), 24, "{time}");
    let bytes = time.as_bytes();
    assert_eq!(
        (
            bytes[4], bytes[7], bytes[10], bytes[13], bytes[16], bytes[19], bytes[23]
        ),
        (b'-', b'-', b'T', b':', b':', b'.', b'Z')
    );
    assert_eq!(first["level"], "info");
    assert_eq!(first["subsystem"], "gateway/ws");
    assert_eq!(first["message"], "client c1 connected");
    assert_eq!(first["port"], 18789);
    assert_eq!(first["ok"], true);
    assert_eq!(first["ratio"], 0.5);
    assert_eq!(first["peer"], "127.0.0.1");
    assert_eq!(first.as_object().map(|o| o.len()), Some(8));

    assert_eq!(lines[1]["level"], "warn");
    assert_eq!(lines[1]["field.level"], 3);

    assert_eq!(lines[2]["level"], "error");
    assert_eq!(lines[2]["subsystem"], module_path!());
}

#[test]
fn secrets_are_redacted() {
    let dir = temp_dir("redact");
    let opts = options(&dir, Level::Info, false);
    let console = Capture::default();
    let (sub, handle) = subscriber_with_console(&opts, console.clone()).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        tracing::info!(
            target: "gateway/auth",
            token = "tok-SECRET-1",
            authToken = "tok-SECRET-2",
            apiKey = ?"tok-SECRET-3",
            password = 1234567,
            Authorization = "Bearer tok-SECRET-4",
            max_tokens = 42,
            "auth attempt"
        );
    });
    let raw = fs::read_to_string(handle.file()).expect("read");
    assert!(!raw.contains("SECRET"), "{raw}");
    assert!(!raw.contains("1234567"), "{raw}");
    let line = &file_lines(handle.file())[0];
    for key in ["token", "authToken", "apiKey", "password", "Authorization"] {
        assert_eq!(line[key], "[redacted]", "{key}");
    }
    assert_eq!(line["max_tokens"], 42);
    let console_text = console.text();
    assert!(console_text.contains("token=[redacted]"), "{console_text}");
    assert!(!console_text.contains("SECRET"), "{console_text}");
}

#[test]
fn file_level_filtering() {
    let cases = [
        (Level::Silent, 0),
        (Level::Fatal, 1),
        (Level::Error, 1),
        (Level::Warn, 2),
        (Level::Info, 3),
        (Level::Debug, 4),
        (Level::Trace, 5),
    ];
    for (level, expected) in cases {
        let dir = temp_dir(&format!("filter-{level}"));
        let opts = options(&dir, level, false);
        let (sub, handle) = subscriber_with_console(&opts, io::sink).expect("subscriber");
        tracing::subscriber::with_default(sub, || {
            tracing::error!("e");
            tracing::warn!("w");
            tracing::info!("i");
            tracing::debug!("d");
            tracing::trace!("t");
        });
        assert_eq!(file_lines(handle.file()).len(), expected, "level {level}");
    }
}

#[test]
fn console_format_and_verbosity() {
    let dir = temp_dir("console");
    // File at trace, console without verbose: the console stays at info.
    let opts = options(&dir, Level::Trace, false);
    let console = Capture::default();
    let (sub, handle) = subscriber_with_console(&opts, console.clone()).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        tracing::info!(target: "gateway/ws", conn = "c1", note = "two words", "hello");
        tracing::debug!(target: "gateway/ws", "hidden on console");
    });
    let text = console.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = lines[0];
    let (time, rest) = line.split_at(8);
    assert!(
        time.chars().all(|c| c.is_ascii_digit() || c == ':'),
        "{line}"
    );
    assert_eq!(rest, r#" info [gateway/ws] hello conn=c1 note="two words""#);
    assert_eq!(file_lines(handle.file()).len(), 2);

    // Verbose shows debug on the console even when the file is at info.
    let dir = temp_dir("console-verbose");
    let opts = options(&dir, Level::Info, true);
    let console = Capture::default();
    let (sub, handle) = subscriber_with_console(&opts, console.clone()).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        tracing::debug!(target: "gateway/ws", "now visible");
        tracing::trace!(target: "gateway/ws", "never on console");
    });
    let text = console.text();
    assert!(text.contains("debug [gateway/ws] now visible"), "{text}");
    assert!(!text.contains("never"), "{text}");
    assert!(file_lines(handle.file()).is_empty());
}

#[test]
fn span_fields_are_included() {
    let dir = temp_dir("spans");
    let opts = options(&dir, Level::Info, false);
    let (sub, handle) = subscriber_with_console(&opts, io::sink).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        let outer = tracing::info_span!(
            "conn",
            conn_id = "c7",
            secret = "hide-me",
            method = tracing::field::Empty
        );
        let _outer = outer.enter();
        outer.record("method", "chat.send");
        let inner = tracing::info_span!("req", req = 3, conn_id = "override");
        let _inner = inner.enter();
        tracing::info!(target: "gateway/rpc", req = 4, "handled");
    });
    let lines = file_lines(handle.file());
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["conn_id"], "override");
    assert_eq!(line["method"], "chat.send");
    assert_eq!(line["secret"], "[redacted]");
    assert_eq!(line["req"], 4);
    assert_eq!(line["message"], "handled");
}

#[test]
fn written_logs_tail_back_and_pretty_print() {
    let dir = temp_dir("roundtrip");
    let mut opts = options(&dir, Level::Info, false);
    opts.max_file_bytes = 600;
    let (sub, handle) = subscriber_with_console(&opts, io::sink).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        for i in 0..40 {
            tracing::info!(target: "gateway/ws", seq = i, "multi\nline message {i}");
        }
    });
    // Rotation happened and the archives are capped at five.
    for n in 1..=5 {
        assert!(
            dir.path().join(format!("logs/gateway.log.{n}")).is_file(),
            "archive {n}"
        );
    }
    assert!(!dir.path().join("logs/gateway.log.6").exists());

    let result = tail(handle.file(), &TailRequest::default()).expect("tail");
    // Tail gives back exactly the live file's lines, in order.
    let live = fs::read_to_string(handle.file()).expect("read");
    assert_eq!(result.lines, live.lines().collect::<Vec<_>>());
    assert!(!result.truncated && !result.reset);
    assert_eq!(result.cursor, live.len() as u64);
    // Archives (oldest first) and the live file hold consecutive records ending at the
    // last one written: rotation lost none and duplicated none.
    let mut seqs = Vec::new();
    for name in (1..=5)
        .rev()
        .map(|n| format!("logs/gateway.log.{n}"))
        .chain(["logs/gateway.log".to_owned()])
    {
        for v in file_lines(&dir.path().join(name)) {
            seqs.push(v["seq"].as_u64().expect("seq"));
        }
    }
    let first = seqs[0];
    assert_eq!(seqs, (first..=39).collect::<Vec<_>>());
    let last: Value = serde_json::from_str(result.lines.last().expect("a line")).expect("json");
    assert_eq!(last["seq"], 39);
    assert_eq!(last["message"], "multi\nline message 39");
    let pretty = pretty_line(result.lines.last().expect("a line"));
    assert!(
        pretty.ends_with(" info [gateway/ws] multi\nline message 39 seq=39"),
        "{pretty}"
    );
}

#[test]
fn default_subscriber_builds_and_creates_file() {
    let dir = temp_dir("default");
    let opts = LogOptions::new(dir.path().join("state/logs/gateway.log"));
    assert_eq!(opts.level, Level::Info);
    let (sub, handle) = subscriber(&opts).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        tracing::debug!("not written at info");
    });
    assert!(handle.file().is_file());
    assert!(file_lines(handle.file()).is_empty());
}

#[test]
fn unusable_log_path_is_an_error() {
    let dir = temp_dir("bad-path");
    let blocker = dir.path().join("blocker");
    fs::write(&blocker, "file, not dir").expect("write");
    let opts = options(&dir, Level::Info, false);
    let opts = LogOptions {
        file: blocker.join("gateway.log"),
        ..opts
    };
    let err = subscriber_with_console(&opts, io::sink)
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("blocker"), "{err}");
}

#[test]
fn patterns_scrub_file_console_and_tail() {
    let dir = temp_dir("patterns");
    let mut opts = options(&dir, Level::Info, false);
    opts.redact_patterns = vec![
        r#"\bTOKEN\b\s*[=:]\s*(["']?)([^\s"']+)\1"#.to_owned(),
        "sk-[a-z0-9]{6,}".to_owned(),
    ];
    // A line written before the patterns existed (e.g. by an earlier run).
    fs::create_dir_all(dir.path().join("logs")).expect("mkdir");
    fs::write(
        &opts.file,
        "{\"time\":\"t\",\"level\":\"info\",\"subsystem\":\"old\",\"message\":\"old sk-abcdef123\"}\n",
    )
    .expect("seed");
    let console = Capture::default();
    let (sub, handle) = subscriber_with_console(&opts, console.clone()).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        let span = tracing::info_span!("conn", client = "agent sk-spanvalue9");
        let _g = span.enter();
        tracing::info!(target: "gateway/ws", detail = %"TOKEN='q1w2e3'", count = 3, "sent TOKEN=abc123 to sk-qwerty99");
    });
    let raw = fs::read_to_string(handle.file()).expect("read");
    for secret in ["abc123", "q1w2e3", "sk-qwerty99", "sk-spanvalue9"] {
        assert!(!raw.contains(secret), "{secret} in file: {raw}");
        assert!(
            !console.text().contains(secret),
            "{secret} on console: {}",
            console.text()
        );
    }
    let line = file_lines(handle.file()).pop().expect("a line");
    assert_eq!(line["message"], "sent TOKEN=[redacted] to [redacted]");
    assert_eq!(line["detail"], "TOKEN='[redacted]'");
    assert_eq!(line["client"], "agent [redacted]");
    assert_eq!(line["count"], 3);
    assert!(
        console
            .text()
            .contains("sent TOKEN=[redacted] to [redacted]"),
        "{}",
        console.text()
    );
    // The seeded line still holds its secret on disk, but not when read back.
    assert!(raw.contains("sk-abcdef123"));
    let tailed = handle.tail(&TailRequest::default()).expect("tail");
    assert_eq!(tailed.lines.len(), 2);
    assert!(
        tailed.lines.iter().all(|l| !l.contains("sk-")),
        "{:?}",
        tailed.lines
    );
    assert_eq!(
        tailed.lines[0],
        r#"{"time":"t","level":"info","subsystem":"old","message":"old [redacted]"}"#
    );
    // A raw tail of the same file gives the same cursor: only the text changed.
    assert_eq!(
        tail(handle.file(), &TailRequest::default())
            .expect("tail")
            .cursor,
        tailed.cursor
    );
}

#[test]
fn redact_sensitive_off_keeps_field_values_but_not_pattern_matches() {
    let dir = temp_dir("redact-off");
    let mut opts = options(&dir, Level::Info, false);
    opts.redact_fields = false;
    opts.redact_patterns = vec!["hunter\\d".to_owned()];
    let (sub, handle) = subscriber_with_console(&opts, io::sink).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        tracing::info!(token = "visible-token", password = "hunter2", "login");
    });
    let line = file_lines(handle.file()).pop().expect("a line");
    assert_eq!(line["token"], "visible-token");
    assert_eq!(line["password"], "[redacted]", "the pattern still applies");
    assert!(!handle.redaction().field_names);
}

#[test]
fn console_level_is_separate_from_the_file_and_reloads() {
    let dir = temp_dir("console-level");
    let mut opts = options(&dir, Level::Debug, false);
    opts.console_level = Level::Warn;
    let console = Capture::default();
    let (sub, handle) = subscriber_with_console(&opts, console.clone()).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        tracing::info!("info one");
        tracing::warn!("warn one");
        handle
            .set_console_level(Level::Debug)
            .expect("console level");
        tracing::debug!("debug two");
        handle.set_console_level(Level::Silent).expect("silent");
        tracing::error!("error three");
    });
    let text = console.text();
    assert!(!text.contains("info one"), "{text}");
    assert!(text.contains("warn one"), "{text}");
    assert!(text.contains("debug two"), "{text}");
    assert!(!text.contains("error three"), "{text}");
    let messages: Vec<String> = file_lines(handle.file())
        .iter()
        .map(|v| v["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        messages,
        ["info one", "warn one", "debug two", "error three"]
    );

    // --verbose raises a quieter console level to debug, but never lowers trace.
    let mut opts = options(&dir, Level::Info, true);
    opts.console_level = Level::Warn;
    assert_eq!(
        opts.console_filter(),
        tracing::level_filters::LevelFilter::DEBUG
    );
    opts.console_level = Level::Trace;
    assert_eq!(
        opts.console_filter(),
        tracing::level_filters::LevelFilter::TRACE
    );
}

#[test]
fn console_styles() {
    let dir = temp_dir("styles");
    let mut opts = options(&dir, Level::Info, false);
    opts.console_style = ConsoleStyle::Compact;
    let console = Capture::default();
    let (sub, handle) = subscriber_with_console(&opts, console.clone()).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        tracing::info!(target: "gateway", port = 1, "compact line");
        handle.set_console_style(ConsoleStyle::Json, false);
        tracing::info!(target: "gateway", token = "x", "json line");
        handle.set_console_style(ConsoleStyle::Pretty, true);
        tracing::warn!(target: "gateway", "pretty line");
    });
    let text = console.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "info [gateway] compact line port=1");
    let json: Value = serde_json::from_str(lines[1]).expect("a JSON console line");
    let file = file_lines(handle.file());
    let mut from_file = file[1].clone();
    // Same record as the file line (the time is taken per layer).
    from_file["time"] = json["time"].clone();
    assert_eq!(json, from_file);
    assert_eq!(json["token"], "[redacted]");
    assert!(
        lines[2].contains("\u{1b}[33mwarn\u{1b}[0m"),
        "coloured level: {:?}",
        lines[2]
    );
    assert!(lines[2].ends_with("pretty line"), "{:?}", lines[2]);
}

#[test]
fn reconfigure_swaps_patterns_and_refuses_bad_ones() {
    let dir = temp_dir("reconfigure");
    let opts = options(&dir, Level::Info, false);
    let console = Capture::default();
    let (sub, handle) = subscriber_with_console(&opts, console.clone()).expect("subscriber");
    tracing::subscriber::with_default(sub, || {
        tracing::info!("before zebra-1");
        let mut next = opts.clone();
        next.redact_patterns = vec!["zebra-\\d".to_owned()];
        next.console_level = Level::Warn;
        handle.reconfigure(&next).expect("reconfigure");
        tracing::info!("hidden on console zebra-2");
        tracing::warn!("after zebra-3");
        let mut bad = next.clone();
        bad.redact_patterns = vec!["(".to_owned()];
        bad.console_level = Level::Info;
        let err = handle.reconfigure(&bad).expect_err("invalid pattern");
        assert!(
            matches!(err, openclaw_logs::LogError::InvalidPattern(ref e) if e.index == 0),
            "{err}"
        );
        tracing::info!("still hidden zebra-4");
    });
    let text = console.text();
    assert!(text.contains("before zebra-1"), "{text}");
    assert!(text.contains("after [redacted]"), "{text}");
    assert!(!text.contains("hidden"), "{text}");
    let tailed = handle.tail(&TailRequest::default()).expect("tail");
    assert!(
        tailed.lines.iter().all(|l| !l.contains("zebra-")),
        "{:?}",
        tailed.lines
    );
    assert_eq!(tailed.lines.len(), 4);
}

#[test]
fn invalid_pattern_fails_setup() {
    let dir = temp_dir("bad-pattern");
    let mut opts = options(&dir, Level::Info, false);
    opts.redact_patterns = vec!["ok".to_owned(), "[unclosed".to_owned()];
    let err = subscriber_with_console(&opts, io::sink)
        .err()
        .expect("must fail");
    let text = err.to_string();
    assert!(text.contains("logging.redactPatterns"), "{text}");
    assert!(text.contains("pattern 1"), "{text}");
    assert!(!opts.file.exists(), "nothing was opened");
}
