//! Reading the log file back: `logs.tail` RPC and offline `openclaw logs`.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::LogError;

/// Lines returned when the caller does not say.
pub const DEFAULT_TAIL_LIMIT: usize = 500;
/// Upper bound for [`TailRequest::limit`]; keeps one RPC response bounded.
pub const MAX_TAIL_LIMIT: usize = 5000;
/// Bytes read when the caller does not say.
pub const DEFAULT_TAIL_MAX_BYTES: usize = 250_000;
/// Upper bound for [`TailRequest::max_bytes`]; keeps memory and frame size
/// bounded whatever a client asks for.
pub const MAX_TAIL_MAX_BYTES: usize = 1_000_000;

/// Parameters of one tail call (the `logs.tail` RPC params, camelCase).
///
/// Out-of-range values are clamped rather than rejected (`limit` to
/// `1..=5000`, `max_bytes` to `1..=1_000_000`) so that a sloppy client still
/// gets a useful answer instead of an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TailRequest {
    /// Byte offset returned by a previous call, to continue from there;
    /// `None` asks for the most recent lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Maximum number of lines to return.
    pub limit: usize,
    /// Maximum number of bytes to read from the file in this call.
    pub max_bytes: usize,
}

impl Default for TailRequest {
    fn default() -> Self {
        TailRequest {
            cursor: None,
            limit: DEFAULT_TAIL_LIMIT,
            max_bytes: DEFAULT_TAIL_MAX_BYTES,
        }
    }
}

/// Answer of one tail call (the `logs.tail` RPC result, camelCase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TailResult {
    /// The file that was read, so clients can show where logs live.
    pub file: String,
    /// Offset to pass as the next request's cursor: just after the last
    /// complete line consumed (never inside a trailing partial line).
    pub cursor: u64,
    /// Size of the file when it was read.
    pub size: u64,
    /// Complete lines, without their newline, invalid UTF-8 replaced.
    pub lines: Vec<String>,
    /// More data existed than was returned: older lines before the window
    /// (no cursor), or newer lines still to fetch from `cursor` (with one).
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// The cursor was beyond the end of the file (the file was rotated or
    /// truncated), so reading restarted at offset 0.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reset: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Reads lines from the log file according to `req`.
///
/// * Without a cursor: the last `limit` complete lines found in the final
///   `max_bytes` of the file; `truncated` when older lines were left out.
/// * With a cursor: complete lines from the cursor on, at most `limit` lines
///   and `max_bytes` bytes; `truncated` when more remain, and `cursor` then
///   points just after the last returned line so the next call continues.
///   A cursor past the end of the file sets `reset` and restarts at 0.
/// * A trailing line without `\n` is still being written and is never
///   returned; the cursor stays before it.
/// * A missing file is not an error: it reads as empty (the gateway may not
///   have logged yet, or is mid-rotation).
///
/// A single line longer than `max_bytes` can never fit in one answer; when
/// following with a cursor it is returned in `max_bytes`-sized pieces so the
/// cursor always makes progress.
pub fn tail(path: &Path, req: &TailRequest) -> Result<TailResult, LogError> {
    let limit = req.limit.clamp(1, MAX_TAIL_LIMIT);
    let max_bytes = req.max_bytes.clamp(1, MAX_TAIL_MAX_BYTES) as u64;
    let read_err = |source| LogError::Read {
        path: path.to_path_buf(),
        source,
    };
    let display = path.display().to_string();

    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Ok(TailResult {
                file: display,
                cursor: 0,
                size: 0,
                lines: Vec::new(),
                truncated: false,
                reset: req.cursor.is_some_and(|c| c > 0),
            });
        }
        Err(err) => return Err(read_err(err)),
    };
    let size = file.metadata().map_err(read_err)?.len();

    let (cursor, lines, truncated, reset) = match req.cursor {
        None => read_last(&mut file, size, limit, max_bytes).map_err(read_err)?,
        Some(cursor) => {
            let reset = cursor > size;
            let start = if reset { 0 } else { cursor };
            let (cursor, lines, truncated) =
                read_forward(&mut file, start, size, limit, max_bytes).map_err(read_err)?;
            (cursor, lines, truncated, reset)
        }
    };
    Ok(TailResult {
        file: display,
        cursor,
        size,
        lines,
        truncated,
        reset,
    })
}

/// No-cursor mode: the newest complete lines within the last `max_bytes`.
fn read_last(
    file: &mut File,
    size: u64,
    limit: usize,
    max_bytes: u64,
) -> io::Result<(u64, Vec<String>, bool, bool)> {
    let start = size.saturating_sub(max_bytes);
    let buf = read_range(file, start, size - start)?;
    let mut truncated = start > 0;

    // The window may begin mid-line; unless the byte before it is a newline,
    // drop that leading fragment.
    let mut body_start = 0usize;
    if start > 0 {
        let previous = read_range(file, start - 1, 1)?;
        if previous.first() != Some(&b'\n') {
            match buf.iter().position(|&b| b == b'\n') {
                Some(nl) => body_start = nl + 1,
                // The whole window is the middle of one unfinished line.
                None => return Ok((start, Vec::new(), truncated, false)),
            }
        }
    }

    let body = &buf[body_start..];
    let mut ranges = line_ranges(body);
    let consumed = ranges.last().map_or(0, |&(_, end)| end + 1);
    if ranges.len() > limit {
        ranges.drain(..ranges.len() - limit);
        truncated = true;
    }
    let lines = ranges
        .into_iter()
        .map(|(from, to)| decode_line(&body[from..to]))
        .collect();
    let cursor = start + (body_start + consumed) as u64;
    Ok((cursor, lines, truncated, false))
}

/// Cursor mode: complete lines from `start`, bounded by `limit` and
/// `max_bytes`.
fn read_forward(
    file: &mut File,
    start: u64,
    size: u64,
    limit: usize,
    max_bytes: u64,
) -> io::Result<(u64, Vec<String>, bool)> {
    let want = (size - start).min(max_bytes);
    let buf = read_range(file, start, want)?;
    let window_end = start + buf.len() as u64;
    let more_after_window = window_end < size;

    let mut lines = Vec::new();
    let mut consumed = 0usize;
    let mut hit_limit = false;
    while let Some(nl) = buf[consumed..].iter().position(|&b| b == b'\n') {
        if lines.len() == limit {
            hit_limit = true;
            break;
        }
        lines.push(decode_line(&buf[consumed..consumed + nl]));
        consumed += nl + 1;
    }

    if lines.is_empty() && more_after_window && !buf.is_empty() {
        // A full window without any newline while the file goes on: one line
        // is longer than max_bytes. Hand it out in pieces so the follower is
        // never stuck on it.
        lines.push(decode_line(&buf));
        consumed = buf.len();
    }

    let cursor = start + consumed as u64;
    let truncated = hit_limit || (more_after_window && cursor < size);
    Ok((cursor, lines, truncated))
}

/// `(start, end)` of every newline-terminated line; `end` is the index of
/// the `\n`. Bytes after the last newline are an unfinished line and skipped.
fn line_ranges(buf: &[u8]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut from = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            ranges.push((from, i));
            from = i + 1;
        }
    }
    ranges
}

/// Lossy UTF-8 decoding, also dropping a `\r` left by CRLF line endings.
fn decode_line(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Reads up to `len` bytes at `offset`; fewer if the file shrank meanwhile.
fn read_range(file: &mut File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
pub(crate) mod test_support {
    /// A uniquely named temporary directory removed on drop.
    pub(crate) fn temp_dir(label: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("openclaw-logs-{label}-"))
            .tempdir()
            .expect("create temp dir")
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::temp_dir;
    use super::*;
    use std::fs;
    use std::io::Write;

    fn req(cursor: Option<u64>, limit: usize, max_bytes: usize) -> TailRequest {
        TailRequest {
            cursor,
            limit,
            max_bytes,
        }
    }

    fn append(path: &Path, text: &str) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(text.as_bytes()).expect("append");
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = temp_dir("tail-missing");
        let path = dir.path().join("nope.log");
        let r = tail(&path, &TailRequest::default()).expect("tail");
        assert_eq!((r.cursor, r.size, r.lines.len()), (0, 0, 0));
        assert!(!r.truncated && !r.reset);
        assert_eq!(r.file, path.display().to_string());
        let r = tail(&path, &req(Some(40), 10, 100)).expect("tail");
        assert!(r.reset);
        assert_eq!(r.cursor, 0);
    }

    #[test]
    fn without_cursor_returns_last_lines() {
        let dir = temp_dir("tail-last");
        let path = dir.path().join("gateway.log");
        append(&path, "a\nbb\nccc\n");
        let r = tail(&path, &TailRequest::default()).expect("tail");
        assert_eq!(r.lines, ["a", "bb", "ccc"]);
        assert_eq!(r.cursor, 9);
        assert_eq!(r.size, 9);
        assert!(!r.truncated && !r.reset);

        let r = tail(&path, &req(None, 2, 1000)).expect("tail");
        assert_eq!(r.lines, ["bb", "ccc"]);
        assert!(r.truncated);
        assert_eq!(r.cursor, 9);
    }

    #[test]
    fn without_cursor_max_bytes_cuts_partial_head() {
        let dir = temp_dir("tail-maxbytes");
        let path = dir.path().join("gateway.log");
        append(&path, "first line\nsecond\nthird\n");
        // Window of 10 bytes: "ond\nthird\n" → leading fragment dropped.
        let r = tail(&path, &req(None, 100, 10)).expect("tail");
        assert_eq!(r.lines, ["third"]);
        assert!(r.truncated);
        assert_eq!(r.cursor, 24);
        // Window starting exactly on a line boundary keeps that line.
        let r = tail(&path, &req(None, 100, 13)).expect("tail");
        assert_eq!(r.lines, ["second", "third"]);
        assert!(r.truncated);
    }

    #[test]
    fn partial_last_line_is_held_back() {
        let dir = temp_dir("tail-partial");
        let path = dir.path().join("gateway.log");
        append(&path, "done\nhalf");
        let r = tail(&path, &TailRequest::default()).expect("tail");
        assert_eq!(r.lines, ["done"]);
        assert_eq!(r.cursor, 5);
        assert_eq!(r.size, 9);

        let r2 = tail(&path, &req(Some(r.cursor), 100, 1000)).expect("tail");
        assert!(r2.lines.is_empty());
        assert_eq!(r2.cursor, 5);
        assert!(!r2.truncated);

        append(&path, "-finished\n");
        let r3 = tail(&path, &req(Some(r2.cursor), 100, 1000)).expect("tail");
        assert_eq!(r3.lines, ["half-finished"]);
        assert_eq!(r3.cursor, r3.size);

        // Only a partial line, no cursor.
        let only = dir.path().join("only.log");
        append(&only, "no newline yet");
        let r = tail(&only, &TailRequest::default()).expect("tail");
        assert!(r.lines.is_empty());
        assert_eq!(r.cursor, 0);
    }

    #[test]
    fn cursor_follows_appends() {
        let dir = temp_dir("tail-follow");
        let path = dir.path().join("gateway.log");
        append(&path, "one\ntwo\n");
        let r = tail(&path, &TailRequest::default()).expect("tail");
        assert_eq!(r.cursor, 8);
        let r = tail(&path, &req(Some(r.cursor), 100, 1000)).expect("tail");
        assert!(r.lines.is_empty());
        assert_eq!(r.cursor, 8);
        append(&path, "three\nfour\n");
        let r = tail(&path, &req(Some(r.cursor), 100, 1000)).expect("tail");
        assert_eq!(r.lines, ["three", "four"]);
        assert_eq!(r.cursor, 19);
        assert!(!r.truncated && !r.reset);
    }

    #[test]
    fn cursor_with_limit_and_max_bytes_pages_through() {
        let dir = temp_dir("tail-pages");
        let path = dir.path().join("gateway.log");
        let all: Vec<String> = (0..50).map(|i| format!("entry {i:02}")).collect();
        append(&path, &format!("{}\n", all.join("\n")));

        // Limit-bound pages.
        let mut got = Vec::new();
        let mut cursor = 0;
        loop {
            let r = tail(&path, &req(Some(cursor), 7, 1_000_000)).expect("tail");
            assert!(r.lines.len() <= 7);
            got.extend(r.lines);
            cursor = r.cursor;
            if !r.truncated {
                break;
            }
        }
        assert_eq!(got, all);
        assert_eq!(cursor, fs::metadata(&path).expect("meta").len());

        // Byte-bound pages (each line is 9 bytes incl. newline).
        let mut got = Vec::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            let r = tail(&path, &req(Some(cursor), 5000, 40)).expect("tail");
            assert!(r.lines.len() <= 4);
            got.extend(r.lines);
            cursor = r.cursor;
            calls += 1;
            if !r.truncated {
                break;
            }
        }
        assert_eq!(got, all);
        assert!(calls >= 13);
    }

    #[test]
    fn reset_after_rotation() {
        let dir = temp_dir("tail-reset");
        let path = dir.path().join("gateway.log");
        append(&path, "old line one\nold line two\n");
        let r = tail(&path, &TailRequest::default()).expect("tail");
        let cursor = r.cursor;
        fs::rename(&path, dir.path().join("gateway.log.1")).expect("rotate");
        append(&path, "new\n");
        let r = tail(&path, &req(Some(cursor), 100, 1000)).expect("tail");
        assert!(r.reset);
        assert_eq!(r.lines, ["new"]);
        assert_eq!(r.cursor, 4);
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["reset"], serde_json::Value::Bool(true));
        assert!(json.get("truncated").is_none());
    }

    #[test]
    fn oversized_line_makes_progress() {
        let dir = temp_dir("tail-oversized");
        let path = dir.path().join("gateway.log");
        let long = "z".repeat(25);
        append(&path, &format!("{long}\nshort\n"));
        let mut pieces = Vec::new();
        let mut cursor = 0;
        for _ in 0..10 {
            let r = tail(&path, &req(Some(cursor), 100, 10)).expect("tail");
            pieces.extend(r.lines);
            cursor = r.cursor;
            if !r.truncated {
                break;
            }
        }
        assert_eq!(pieces.concat(), format!("{long}short"));
        assert_eq!(cursor, 32);
    }

    #[test]
    fn clamps_and_lossy_utf8_and_crlf() {
        let dir = temp_dir("tail-clamp");
        let path = dir.path().join("gateway.log");
        let mut f = fs::File::create(&path).expect("create");
        f.write_all(b"ok\r\nbad \xff byte\nlast\n").expect("write");
        // 20 bytes. max_bytes 0 → 1: the window is the "\n" ending "last", which is
        // the tail of a cut-off line: no line, cursor at the end, truncated.
        let r = tail(&path, &req(None, 0, 0)).expect("tail");
        assert!(r.lines.is_empty(), "{:?}", r.lines);
        assert_eq!((r.cursor, r.size), (20, 20));
        assert!(r.truncated && !r.reset);
        // Exactly one byte, not more: a 2-byte window would hold the whole line "a".
        let short = dir.path().join("short.log");
        append(&short, "x\na\n");
        let r = tail(&short, &req(None, 100, 0)).expect("tail");
        assert!(r.lines.is_empty(), "{:?}", r.lines);
        assert_eq!(r.cursor, 4);
        // limit 0 → 1: just the last line.
        let r = tail(&path, &req(None, 0, usize::MAX)).expect("tail");
        assert_eq!(r.lines, ["last"]);
        assert_eq!(r.cursor, 20);
        assert!(r.truncated);
        // Forward with limit 0 → 1 line per call.
        let r = tail(&path, &req(Some(0), 0, usize::MAX)).expect("tail");
        assert_eq!(r.lines, ["ok"]);
        assert_eq!(r.cursor, 4);
        assert!(r.truncated);
        let r = tail(&path, &req(None, usize::MAX, usize::MAX)).expect("tail");
        assert_eq!(r.lines, ["ok", "bad \u{fffd} byte", "last"]);
        let r = tail(&path, &req(Some(u64::MAX), 1, 1)).expect("tail");
        assert!(r.reset);
    }

    #[test]
    fn request_deserializes_camel_case_with_defaults() {
        let r: TailRequest = serde_json::from_str(r#"{"cursor":12,"maxBytes":99}"#).expect("parse");
        assert_eq!(r.cursor, Some(12));
        assert_eq!(r.max_bytes, 99);
        assert_eq!(r.limit, DEFAULT_TAIL_LIMIT);
        let r: TailRequest = serde_json::from_str("{}").expect("parse");
        assert_eq!(r, TailRequest::default());
    }

    #[test]
    fn directory_path_is_an_error_not_a_panic() {
        let dir = temp_dir("tail-dir");
        // Opening a directory succeeds on Linux; reading it fails (EISDIR), and that is
        // reported as a read error naming the path.
        let err = tail(dir.path(), &TailRequest::default()).expect_err("a directory is no log");
        match &err {
            LogError::Read { path, source } => {
                assert_eq!(path, dir.path());
                assert_eq!(source.kind(), io::ErrorKind::IsADirectory, "{source}");
            }
            other => panic!("expected a read error, got {other:?}"),
        }
        assert!(err.to_string().contains("cannot read log file"), "{err}");
    }
}
