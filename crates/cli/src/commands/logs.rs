//! `openclaw logs`: tail (and follow) the gateway log, over RPC or from the file, with
//! `--level` and `--since` filters. Following survives log rotation: the rest of the
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
    /// Only entries newer than this many milliseconds ago.
    pub since_ms: Option<u64>,
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

/// Parses `--since`: a number with unit `s`, `m`, `h` or `d` (`30s`, `10m`, `2h`, `1d`),
/// into milliseconds.
pub fn parse_since(raw: &str) -> Result<u64, String> {
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

/// Which lines pass `--level` and `--since`.
struct Filter {
    level: Option<Level>,
    after_ms: Option<u64>,
}

impl Filter {
    fn active(&self) -> bool {
        self.level.is_some() || self.after_ms.is_some()
    }

    /// Lines that are not JSON entries pass only when no filter is set.
    fn keep(&self, line: &str) -> bool {
        if !self.active() {
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
        after_ms: mode.since_ms.map(|d| now_ms().saturating_sub(d)),
    };
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
    print_lines(kept.into_iter().skip(skip), opts.json);

    if mode.follow {
        follow(&mut source, &first, &filter, &mode, opts.json).await?;
    }
    if let Source::Rpc(c) = source {
        c.close().await;
    }
    Ok(ExitCode::SUCCESS)
}

async fn follow(
    source: &mut Source,
    first: &TailResult,
    filter: &Filter,
    mode: &Mode,
    as_json: bool,
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
                drain_archive(local_file.as_deref(), cursor, filter, as_json);
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
                drain_archive(local_file.as_deref(), cursor, filter, as_json);
            }
            print_lines(result.lines.iter().filter(|l| filter.keep(l)), as_json);
            cursor = result.cursor;
            if !result.truncated {
                break;
            }
        }
    }
}

/// Prints what remains of `<file>.1` from `cursor`, announcing the rotation.
fn drain_archive(file: Option<&Path>, mut cursor: u64, filter: &Filter, as_json: bool) {
    if !as_json {
        eprintln!("-- log file rotated --");
    }
    let Some(file) = file else { return };
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
            return;
        };
        if r.reset {
            // The archive is shorter than our cursor: not the file we were reading.
            return;
        }
        print_lines(r.lines.iter().filter(|l| filter.keep(l)), as_json);
        cursor = r.cursor;
        if !r.truncated {
            return;
        }
    }
}

fn print_lines<'a>(lines: impl Iterator<Item = &'a String>, as_json: bool) {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in lines {
        let _ = if as_json {
            match serde_json::from_str::<Value>(line) {
                Ok(v) => writeln!(out, "{v}"),
                Err(_) => writeln!(out, "{}", json!({ "raw": line })),
            }
        } else {
            writeln!(out, "{}", openclaw_logs::pretty_line(line))
        };
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_since("30s"), Ok(30_000));
        assert_eq!(parse_since("10m"), Ok(600_000));
        assert_eq!(parse_since("2h"), Ok(7_200_000));
        assert_eq!(parse_since("1d"), Ok(86_400_000));
        assert!(parse_since("10").is_err());
        assert!(parse_since("x5m").is_err());
        assert!(parse_since("5w").is_err());
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
        };
        assert!(none.keep("not json"));
    }
}
