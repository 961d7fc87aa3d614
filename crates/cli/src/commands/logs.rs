//! `openclaw logs`: tail (and follow) the gateway log, over RPC or from the file, with
//! `--level`, `--since` and `--filter`, printed or written to `--output`. Following survives log rotation: the rest of the
//! rotated file (`gateway.log.1`) is read from the last cursor before the new file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use openclaw_logs::{Level, TailRequest, TailResult};
use serde_json::{Value, json};

use super::{Global, READ_SCOPES};
use crate::client::{Client, ClientError};
use crate::opts::ClientOpts;
use crate::target::Local;

/// What to show.
pub struct Mode {
    /// Recent lines to show first.
    pub limit: usize,
    /// Keep polling for new lines.
    pub follow: bool,
    /// Poll interval.
    pub interval_ms: u64,
    /// Only entries at this level or more severe.
    pub level: Option<Level>,
    /// Only entries newer than this.
    pub since: Option<Since>,
    /// Only entries that match this text (see [`TextFilter`]).
    pub filter: Option<TextFilter>,
    /// Print JSON entries instead of pretty lines (`--json`, `--format json`).
    pub json: bool,
    /// Write the lines to this file instead of standard output.
    pub output: Option<PathBuf>,
}

/// `--since`: a duration back from now, or a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    /// This many milliseconds ago.
    Ago(u64),
    /// This instant (Unix milliseconds).
    At(u64),
}

impl Since {
    fn after_ms(self) -> u64 {
        match self {
            Since::Ago(d) => now_ms().saturating_sub(d),
            Since::At(t) => t,
        }
    }
}

/// `--filter TEXT`: a case-insensitive regular expression (or, when `TEXT` is not a valid
/// one, a plain substring) matched against an entry's message and field values. A level
/// word (`error`, `errors`, `warn`, `warning`, `fatal`…) also matches every entry at that
/// level or a more severe one, so `--filter error` counts error lines whatever they say.
#[derive(Clone, Debug)]
pub struct TextFilter {
    pattern: Pattern,
    level: Option<Level>,
}

#[derive(Clone, Debug)]
enum Pattern {
    Regex(fancy_regex::Regex),
    Substring(String),
}

impl TextFilter {
    fn matches_text(&self, text: &str) -> bool {
        match &self.pattern {
            Pattern::Regex(r) => r.is_match(text).unwrap_or(false),
            Pattern::Substring(s) => text.to_lowercase().contains(s),
        }
    }

    /// Whether a log line (a JSON entry, or raw text) matches.
    fn matches(&self, line: &str) -> bool {
        let Ok(Value::Object(entry)) = serde_json::from_str::<Value>(line) else {
            return self.matches_text(line);
        };
        if let Some(min) = self.level
            && let Some(l) = entry
                .get("level")
                .and_then(Value::as_str)
                .and_then(|l| l.parse::<Level>().ok())
            && l != Level::Silent
            && l <= min
        {
            return true;
        }
        entry.iter().any(|(k, v)| {
            k != "time"
                && k != "level"
                && match v {
                    Value::String(s) => self.matches_text(s),
                    Value::Null => false,
                    other => self.matches_text(&other.to_string()),
                }
        })
    }
}

/// Parses `--filter`.
pub fn parse_filter(raw: &str) -> Result<TextFilter, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(
            "--filter needs some text, e.g. --filter error or --filter 'timeout|refused'".into(),
        );
    }
    let level = match text.to_ascii_lowercase().as_str() {
        "fatal" => Some(Level::Fatal),
        "error" | "errors" | "err" => Some(Level::Error),
        "warn" | "warning" | "warnings" => Some(Level::Warn),
        _ => None,
    };
    let pattern = match fancy_regex::Regex::new(&format!("(?i){text}")) {
        Ok(r) => Pattern::Regex(r),
        Err(_) => Pattern::Substring(text.to_lowercase()),
    };
    Ok(TextFilter { pattern, level })
}

/// Parses `--level`; `silent` makes no sense as a filter.
pub fn parse_level(raw: &str) -> Result<Level, String> {
    match raw.parse::<Level>() {
        Ok(Level::Silent) | Err(_) => Err(format!(
            "unknown level {raw:?}; use one of fatal, error, warn, info, debug, trace"
        )),
        Ok(l) => Ok(l),
    }
}

/// Parses `--since`: a duration back from now (a number with unit `s`, `m`, `h` or `d`:
/// `30s`, `10m`, `2h`, `1d`), or a point in time: `2026-12-01 10:00[:SS]` in local time,
/// `2026-12-01` (local midnight), or RFC 3339 (`2026-12-01T10:00:00Z`, with any offset).
pub fn parse_since(raw: &str) -> Result<Since, String> {
    let t = raw.trim();
    if t.len() >= 10 && t.as_bytes()[4] == b'-' {
        return parse_point(t).map(Since::At).ok_or_else(|| {
            format!(
                "invalid time {raw:?}; use e.g. \"2026-12-01 10:00\" (local time), 2026-12-01, or 2026-12-01T10:00:00Z"
            )
        });
    }
    parse_duration(t)
        .map(Since::Ago)
        .map_err(|_| format!("invalid --since {raw:?}; use a duration (30s, 10m, 2h, 1d) or a time such as \"2026-12-01 10:00\""))
}

/// A point in time: RFC 3339 with an offset, or a local date and time.
fn parse_point(t: &str) -> Option<u64> {
    let has_offset =
        t.len() > 19 && (t.ends_with('Z') || t.ends_with('z') || t[19..].contains(['+', '-']));
    if has_offset {
        return parse_rfc3339_ms(&t.replacen(' ', "T", 1));
    }
    let num = |s: Option<&str>| s?.parse::<i32>().ok();
    let (date, time) = t.split_once([' ', 'T']).unwrap_or((t, "00:00"));
    let mut d = date.split('-');
    let (y, mo, day) = (num(d.next())?, num(d.next())?, num(d.next())?);
    let mut hm = time.split(':');
    let (h, mi) = (num(hm.next())?, num(hm.next())?);
    let sec = match hm.next() {
        Some(s) => s.parse::<i32>().ok()?,
        None => 0,
    };
    if d.next().is_some()
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&day)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    local_to_epoch_ms(y, mo, day, h, mi, sec)
}

/// Local civil time to Unix milliseconds, in the host's time zone (`TZ`, else
/// `/etc/localtime`), daylight saving included.
fn local_to_epoch_ms(y: i32, mo: i32, d: i32, h: i32, mi: i32, s: i32) -> Option<u64> {
    let civil = jiff::civil::DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(mo).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(h).ok()?,
        i8::try_from(mi).ok()?,
        i8::try_from(s.min(59)).ok()?,
        0,
    )
    .ok()?;
    let at = jiff::tz::TimeZone::system().to_timestamp(civil).ok()?;
    u64::try_from(at.as_millisecond()).ok()
}

/// A duration with unit `s`, `m`, `h` or `d`, in milliseconds.
pub fn parse_duration(raw: &str) -> Result<u64, String> {
    let t = raw.trim();
    let bad = || {
        format!("invalid duration {raw:?}; use a number with s, m, h or d, e.g. 30s, 10m, 2h, 1d")
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit {
        "s" | "sec" | "secs" => 1_000,
        "m" | "min" | "mins" => 60_000,
        "h" | "hr" | "hrs" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (the log file's format).
pub fn rfc3339_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

/// Parses an RFC 3339 UTC time (`2026-01-02T03:04:05.678Z`, fraction optional, `Z` or
/// `+00:00`-style offset) into Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        let padded = format!("{digits:0<3}");
        millis = padded[..3].parse().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset_s = match rest {
        "Z" | "z" | "" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days-from-civil.
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    u64::try_from(secs * 1000 + millis).ok()
}

/// Which lines pass `--level`, `--since` and `--filter`.
struct Filter {
    level: Option<Level>,
    after_ms: Option<u64>,
    text: Option<TextFilter>,
}

impl Filter {
    fn active(&self) -> bool {
        self.level.is_some() || self.after_ms.is_some() || self.text.is_some()
    }

    /// Lines that are not JSON entries pass `--level`/`--since` only when neither is set.
    fn keep(&self, line: &str) -> bool {
        if let Some(t) = &self.text
            && !t.matches(line)
        {
            return false;
        }
        if self.level.is_none() && self.after_ms.is_none() {
            return true;
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return false;
        };
        if let Some(max) = self.level {
            let Some(l) = v
                .get("level")
                .and_then(Value::as_str)
                .and_then(|l| l.parse::<Level>().ok())
            else {
                return false;
            };
            // Lower in the enum = more severe.
            if l == Level::Silent || l > max {
                return false;
            }
        }
        if let Some(after) = self.after_ms {
            match v
                .get("time")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339_ms)
            {
                Some(t) if t > after => {}
                _ => return false,
            }
        }
        true
    }
}

enum Source {
    Rpc(Box<Client>),
    File(PathBuf),
}

impl Source {
    async fn tail(&mut self, req: TailRequest) -> anyhow::Result<TailResult> {
        match self {
            Source::Rpc(c) => {
                let payload = c
                    .call("logs.tail", Some(serde_json::to_value(&req)?), false)
                    .await?;
                Ok(serde_json::from_value(payload).context("unexpected logs.tail payload")?)
            }
            Source::File(path) => Ok(openclaw_logs::tail(path, &req)?),
        }
    }
}

/// Identity of a file on disk, to notice rotation even when the new file has already
/// grown past the old cursor.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Prints recent lines, then follows if asked. Falls back to reading the log file
/// directly when no gateway answers, so logs stay readable after a crash.
pub async fn run(global: &Global, opts: &ClientOpts, mode: Mode) -> anyhow::Result<ExitCode> {
    if !(1..=openclaw_logs::MAX_TAIL_LIMIT).contains(&mode.limit) {
        bail!(
            "--limit must be between 1 and {}",
            openclaw_logs::MAX_TAIL_LIMIT
        );
    }
    let filter = Filter {
        level: mode.level,
        after_ms: mode.since.map(Since::after_ms),
        text: mode.filter.clone(),
    };
    let mut sink = Sink::open(mode.output.as_deref(), mode.json)?;
    let local = Local::load(global)?;
    let target = local.target(opts);
    let mut source = match Client::connect(&target, READ_SCOPES).await {
        Ok(c) => Source::Rpc(Box::new(c)),
        Err(ClientError::Unreachable { .. }) if opts.url.is_none() => {
            let file = local.log_file();
            eprintln!(
                "gateway not reachable at {}; reading {} directly",
                target.url,
                file.display()
            );
            if !file.exists() {
                eprintln!("no log file at {} yet", file.display());
            }
            Source::File(file)
        }
        Err(e) => return Err(e.into()),
    };
    // With a filter, look further back so `--limit` counts matching entries.
    let first_limit = if filter.active() {
        openclaw_logs::MAX_TAIL_LIMIT
    } else {
        mode.limit
    };
    let first = source
        .tail(TailRequest {
            cursor: None,
            limit: first_limit,
            max_bytes: openclaw_logs::MAX_TAIL_MAX_BYTES,
        })
        .await?;
    let kept: Vec<&String> = first.lines.iter().filter(|l| filter.keep(l)).collect();
    let skip = kept.len().saturating_sub(mode.limit);
    sink.lines(kept.into_iter().skip(skip))?;
    if let Some(path) = &mode.output {
        eprintln!("wrote {} lines to {}", sink.written, path.display());
    }

    if mode.follow {
        follow(&mut source, &first, &filter, &mode, &mut sink).await?;
    }
    if let Source::Rpc(c) = source {
        c.close().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the lines go: standard output, or the `--output` file (created owner-only,
/// truncated; logs may hold what operators would not share).
struct Sink {
    file: Option<std::io::BufWriter<std::fs::File>>,
    json: bool,
    written: usize,
}

impl Sink {
    fn open(path: Option<&Path>, json: bool) -> anyhow::Result<Sink> {
        let file = match path {
            Some(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(p)
                    .with_context(|| format!("cannot write --output {}", p.display()))?;
                Some(std::io::BufWriter::new(f))
            }
            None => None,
        };
        Ok(Sink {
            file,
            json,
            written: 0,
        })
    }

    fn lines<'a>(&mut self, lines: impl Iterator<Item = &'a String>) -> anyhow::Result<()> {
        use std::io::Write;
        let stdout = std::io::stdout();
        let mut lock;
        let out: &mut dyn Write = match &mut self.file {
            Some(f) => f,
            None => {
                lock = stdout.lock();
                &mut lock
            }
        };
        for line in lines {
            let text = if self.json {
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => v.to_string(),
                    Err(_) => json!({ "raw": line }).to_string(),
                }
            } else {
                openclaw_logs::pretty_line(line)
            };
            // A closed pipe (`| head`) is not an error worth reporting.
            if writeln!(out, "{text}").is_err() {
                break;
            }
            self.written += 1;
        }
        out.flush().context("cannot write the log lines")?;
        Ok(())
    }
}

async fn follow(
    source: &mut Source,
    first: &TailResult,
    filter: &Filter,
    mode: &Mode,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    // The file as this host sees it: the gateway reports its path, and `openclaw logs`
    // normally runs on the gateway's host. Without it, rotation is noticed only through
    // the tail API's `reset` flag.
    let local_file = Some(PathBuf::from(&first.file)).filter(|p| p.is_absolute());
    let mut cursor = first.cursor;
    let mut ident = local_file.as_deref().and_then(file_id);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(mode.interval_ms.max(50))) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        loop {
            let before = local_file.as_deref().and_then(file_id);
            let rotated_by_id = ident.is_some() && before.is_some() && before != ident;
            if rotated_by_id {
                drain_archive(local_file.as_deref(), cursor, filter, sink)?;
                cursor = 0;
                ident = before;
            }
            let result = source
                .tail(TailRequest {
                    cursor: Some(cursor),
                    limit: openclaw_logs::MAX_TAIL_LIMIT,
                    max_bytes: openclaw_logs::MAX_TAIL_MAX_BYTES,
                })
                .await?;
            let after = local_file.as_deref().and_then(file_id);
            if after.is_some() && after != before {
                // Rotated while reading: the answer may mix files; read again.
                continue;
            }
            if ident.is_none() {
                ident = after;
            }
            if result.reset {
                // The file shrank below the cursor: rotated (or truncated). What was
                // still unread at the old cursor is in the archive.
                drain_archive(local_file.as_deref(), cursor, filter, sink)?;
            }
            sink.lines(result.lines.iter().filter(|l| filter.keep(l)))?;
            cursor = result.cursor;
            if !result.truncated {
                break;
            }
        }
    }
}

/// Prints what remains of `<file>.1` from `cursor`, announcing the rotation.
fn drain_archive(
    file: Option<&Path>,
    mut cursor: u64,
    filter: &Filter,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    if !sink.json {
        eprintln!("-- log file rotated --");
    }
    let Some(file) = file else { return Ok(()) };
    let archive = crate::posture::sibling(file, ".1");
    loop {
        let Ok(r) = openclaw_logs::tail(
            &archive,
            &TailRequest {
                cursor: Some(cursor),
                limit: openclaw_logs::MAX_TAIL_LIMIT,
                max_bytes: openclaw_logs::MAX_TAIL_MAX_BYTES,
            },
        ) else {
            return Ok(());
        };
        if r.reset {
            // The archive is shorter than our cursor: not the file we were reading.
            return Ok(());
        }
        sink.lines(r.lines.iter().filter(|l| filter.keep(l)))?;
        cursor = r.cursor;
        if !r.truncated {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_since("30s"), Ok(Since::Ago(30_000)));
        assert_eq!(parse_since("10m"), Ok(Since::Ago(600_000)));
        assert_eq!(parse_since("2h"), Ok(Since::Ago(7_200_000)));
        assert_eq!(parse_since("1d"), Ok(Since::Ago(86_400_000)));
        assert!(parse_since("10").is_err());
        assert!(parse_since("x5m").is_err());
        assert!(parse_since("5w").is_err());
        assert_eq!(
            parse_since("2026-01-02T03:04:05Z"),
            Ok(Since::At(1_767_323_045_000))
        );
        // Local times go through the host's zone: the same instant as mktime says, and
        // a minute later is 60 s later.
        let Ok(Since::At(a)) = parse_since("2026-12-01 10:00") else {
            panic!("local time not parsed")
        };
        let Ok(Since::At(b)) = parse_since("2026-12-01 10:01") else {
            panic!()
        };
        assert_eq!(b - a, 60_000);
        assert_eq!(parse_since("2026-12-01"), parse_since("2026-12-01 00:00"));
        for bad in [
            "2026-13-01 10:00",
            "2026-12-01 25:00",
            "2026-12-01 10",
            "2026-12-xx",
        ] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_filter_matches_message_fields_and_level_words() {
        let line = |lvl: &str, msg: &str, extra: &str| {
            format!(
                r#"{{"time":"2026-01-02T03:04:05.678Z","level":"{lvl}","message":"{msg}"{extra}}}"#
            )
        };
        let f = parse_filter("error").unwrap();
        assert!(f.matches(&line("error", "boom", "")));
        assert!(f.matches(&line("fatal", "down", "")));
        assert!(f.matches(&line("info", "an error in the text", "")));
        assert!(!f.matches(&line("warn", "slow", "")));
        let f = parse_filter("timeout|refused").unwrap();
        assert!(f.matches(&line("info", "x", r#","error":"connection refused""#)));
        assert!(f.matches(&line("warn", "Provider TIMEOUT", "")));
        assert!(!f.matches(&line("warn", "ok", "")));
        // Not a valid regex: a substring.
        let f = parse_filter("a(b").unwrap();
        assert!(f.matches(&line("info", "xa(by", "")));
        assert!(f.matches("raw a(b line"));
        assert!(parse_filter("  ").is_err());
    }

    #[test]
    fn times_round_trip() {
        let ms = 1_767_323_045_678;
        let s = rfc3339_millis(ms);
        assert_eq!(s, "2026-01-02T03:04:05.678Z");
        assert_eq!(parse_rfc3339_ms(&s), Some(ms));
        assert_eq!(parse_rfc3339_ms("2026-01-02T03:04:05Z"), Some(ms - 678));
        assert_eq!(parse_rfc3339_ms("2026-01-02T04:04:05.678+01:00"), Some(ms));
        assert_eq!(parse_rfc3339_ms("garbage"), None);
        // Known instants, not derived from the code under test.
        for (ms, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_700_000_000_000, "2023-11-14T22:13:20.000Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (1_740_787_200_000, "2025-03-01T00:00:00.000Z"),
        ] {
            assert_eq!(rfc3339_millis(ms), text);
            assert_eq!(parse_rfc3339_ms(text), Some(ms));
        }
    }

    #[test]
    fn filter_by_level_and_time() {
        let f = Filter {
            level: Some(Level::Warn),
            after_ms: Some(1_767_323_045_000),
            text: None,
        };
        let line =
            |lvl: &str, t: &str| format!(r#"{{"time":"{t}","level":"{lvl}","message":"m"}}"#);
        assert!(f.keep(&line("error", "2026-01-02T03:04:05.678Z")));
        assert!(f.keep(&line("warn", "2026-01-02T03:04:05.678Z")));
        assert!(!f.keep(&line("info", "2026-01-02T03:04:05.678Z")));
        assert!(!f.keep(&line("error", "2026-01-02T03:04:04.000Z")));
        assert!(!f.keep("not json"));
        let none = Filter {
            level: None,
            after_ms: None,
            text: None,
        };
        assert!(none.keep("not json"));
    }
}
