//! The file tools' operations (`read`, `write`, `edit`, `apply_patch`) on paths already
//! confined to the workspace by [`super::workspace`]. Synchronous: the tool box runs them
//! in `spawn_blocking`.
//!
//! Errors are [`FsError`]s whose text goes back to the model as the tool's error, so each
//! says what was wrong with the call and how to make it right.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Largest file `read` returns whole; longer ones are cut (and say so) unless the call
/// pages with `offset`/`limit`.
pub const MAX_READ_BYTES: usize = 256 * 1024;

/// Largest content `write`, `edit` and `apply_patch` produce for one file.
pub const MAX_WRITE_BYTES: usize = 16 * 1024 * 1024;

/// A file tool that could not do what it was asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FsError {
    /// The file is not there.
    #[error("{0} does not exist; check the path (relative paths start at the workspace root)")]
    NotFound(String),
    /// The path is a directory.
    #[error("{0} is a directory, not a file")]
    IsDirectory(String),
    /// The file is not UTF-8 text.
    #[error("{0} is not UTF-8 text; these tools edit text files only")]
    NotText(String),
    /// `edit` found no match.
    #[error(
        "oldText was not found in {0}; read the file and copy the exact text (whitespace and indentation included)"
    )]
    NoMatch(String),
    /// `edit` found several matches.
    #[error(
        "oldText occurs {count} times in {path}; include more surrounding lines so it matches exactly once"
    )]
    Ambiguous {
        /// The file.
        path: String,
        /// How many times it matched.
        count: usize,
    },
    /// The result would be too large.
    #[error("{path} would be {bytes} bytes, over the {limit}-byte limit of the file tools")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A patch that does not parse or does not apply.
    #[error("apply_patch: {0}")]
    Patch(String),
    /// Any other I/O failure.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
}

fn io(path: &Path, shown: &str, e: std::io::Error) -> FsError {
    match e.kind() {
        std::io::ErrorKind::NotFound => FsError::NotFound(shown.to_owned()),
        std::io::ErrorKind::IsADirectory => FsError::IsDirectory(shown.to_owned()),
        _ if path.is_dir() => FsError::IsDirectory(shown.to_owned()),
        _ => FsError::Io {
            path: shown.to_owned(),
            message: e.to_string(),
        },
    }
}

fn read_text(path: &Path, shown: &str) -> Result<String, FsError> {
    if path.is_dir() {
        return Err(FsError::IsDirectory(shown.to_owned()));
    }
    let bytes = std::fs::read(path).map_err(|e| io(path, shown, e))?;
    String::from_utf8(bytes).map_err(|_| FsError::NotText(shown.to_owned()))
}

fn write_text(path: &Path, shown: &str, text: &str) -> Result<(), FsError> {
    if text.len() > MAX_WRITE_BYTES {
        return Err(FsError::TooLarge {
            path: shown.to_owned(),
            bytes: text.len(),
            limit: MAX_WRITE_BYTES,
        });
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, shown, e))?;
    }
    // Workspace files are the user's files: readable like any file they would create.
    let opts = openclaw_config::fsutil::AtomicWrite {
        new_mode: 0o644,
        ..Default::default()
    };
    openclaw_config::fsutil::write_atomic(path, text.as_bytes(), &opts).map_err(|e| FsError::Io {
        path: shown.to_owned(),
        message: e.to_string(),
    })
}

/// `read`: the file's text, or lines `offset..offset+limit` of it (1-based), cut at
/// [`MAX_READ_BYTES`] with a note saying how to read on.
pub fn read(
    path: &Path,
    shown: &str,
    offset: Option<usize>,
    limit: Option<usize>,
) -> Result<String, FsError> {
    let text = read_text(path, shown)?;
    let paged = offset.is_some() || limit.is_some();
    let out = if paged {
        let start = offset.unwrap_or(1).max(1) - 1;
        let take = limit.unwrap_or(usize::MAX);
        let mut out = String::new();
        for line in text.split_inclusive('\n').skip(start).take(take) {
            out.push_str(line);
        }
        out
    } else {
        text
    };
    if out.len() <= MAX_READ_BYTES {
        return Ok(out);
    }
    let mut cut = MAX_READ_BYTES;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    let lines = out[..cut].matches('\n').count();
    let mut kept = out[..cut].to_owned();
    let _ = write!(
        kept,
        "\n[truncated at {MAX_READ_BYTES} bytes after {lines} lines; read on with offset {}]",
        offset.unwrap_or(1).max(1) + lines
    );
    Ok(kept)
}

/// `write`: replaces (or creates) the file with `content`, creating parent directories.
pub fn write(path: &Path, shown: &str, content: &str) -> Result<String, FsError> {
    write_text(path, shown, content)?;
    Ok(format!("wrote {} bytes to {shown}", content.len()))
}

/// `edit`: replaces the one occurrence of `old` with `new`.
pub fn edit(path: &Path, shown: &str, old: &str, new: &str) -> Result<String, FsError> {
    if old.is_empty() {
        return Err(FsError::NoMatch(shown.to_owned()));
    }
    let text = read_text(path, shown)?;
    let count = text.matches(old).count();
    match count {
        0 => Err(FsError::NoMatch(shown.to_owned())),
        1 => {
            let out = text.replacen(old, new, 1);
            write_text(path, shown, &out)?;
            Ok(format!(
                "edited {shown}: replaced {} bytes with {}",
                old.len(),
                new.len()
            ))
        }
        count => Err(FsError::Ambiguous {
            path: shown.to_owned(),
            count,
        }),
    }
}

/// One file operation of a patch.
#[derive(Debug, PartialEq, Eq)]
pub enum PatchOp {
    /// `*** Add File: PATH` with its `+` lines.
    Add {
        /// Where (as written in the patch).
        path: String,
        /// The new file's text.
        content: String,
    },
    /// `*** Delete File: PATH`.
    Delete {
        /// Which.
        path: String,
    },
    /// `*** Update File: PATH`, optionally `*** Move to: PATH`, with its hunks.
    Update {
        /// Which.
        path: String,
        /// Rename target.
        move_to: Option<String>,
        /// The hunks, in order.
        hunks: Vec<Hunk>,
    },
}

/// One `@@` hunk: the lines it expects (context and `-`) and what replaces them
/// (context and `+`).
#[derive(Debug, PartialEq, Eq, Default)]
pub struct Hunk {
    /// Text after `@@` that locates the hunk (a line the change comes after), if any.
    pub anchor: Option<String>,
    /// Lines before the change, as in the file.
    pub old: Vec<String>,
    /// Lines after it.
    pub new: Vec<String>,
    /// `*** End of File`: the hunk applies at the end.
    pub at_eof: bool,
}

/// Parses the `*** Begin Patch` … `*** End Patch` format.
pub fn parse_patch(input: &str) -> Result<Vec<PatchOp>, FsError> {
    let bad = |m: String| FsError::Patch(m);
    let mut lines = input
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .peekable();
    while lines.peek().is_some_and(|l| l.trim().is_empty()) {
        lines.next();
    }
    if lines.next().map(str::trim) != Some("*** Begin Patch") {
        return Err(bad(
            "the patch must start with a `*** Begin Patch` line".into()
        ));
    }
    let mut ops = Vec::new();
    let mut ended = false;
    while let Some(line) = lines.next() {
        if line.trim() == "*** End Patch" {
            ended = true;
            break;
        }
        if let Some(path) = line.strip_prefix("*** Add File: ") {
            let mut content = String::new();
            while let Some(next) = lines.peek() {
                if next.starts_with("*** ") {
                    break;
                }
                let l = lines.next().unwrap_or_default();
                let Some(text) = l.strip_prefix('+') else {
                    return Err(bad(format!(
                        "in `*** Add File: {path}` every line must start with `+` (found {l:?})"
                    )));
                };
                content.push_str(text);
                content.push('\n');
            }
            ops.push(PatchOp::Add {
                path: path.trim().to_owned(),
                content,
            });
        } else if let Some(path) = line.strip_prefix("*** Delete File: ") {
            ops.push(PatchOp::Delete {
                path: path.trim().to_owned(),
            });
        } else if let Some(path) = line.strip_prefix("*** Update File: ") {
            let mut move_to = None;
            if let Some(next) = lines.peek()
                && let Some(to) = next.strip_prefix("*** Move to: ")
            {
                move_to = Some(to.trim().to_owned());
                lines.next();
            }
            let mut hunks: Vec<Hunk> = Vec::new();
            while let Some(next) = lines.peek() {
                if *next == "*** End of File" {
                    lines.next();
                    if let Some(h) = hunks.last_mut() {
                        h.at_eof = true;
                    }
                    continue;
                }
                if next.starts_with("*** ") {
                    break;
                }
                let l = lines.next().unwrap_or_default();
                if let Some(anchor) = l.strip_prefix("@@") {
                    let anchor = anchor.trim();
                    hunks.push(Hunk {
                        anchor: (!anchor.is_empty()).then(|| anchor.to_owned()),
                        ..Hunk::default()
                    });
                    continue;
                }
                if hunks.is_empty() {
                    hunks.push(Hunk::default());
                }
                let h = hunks.last_mut().expect("a hunk was just pushed");
                match l.chars().next() {
                    Some('+') => h.new.push(l[1..].to_owned()),
                    Some('-') => h.old.push(l[1..].to_owned()),
                    Some(' ') => {
                        h.old.push(l[1..].to_owned());
                        h.new.push(l[1..].to_owned());
                    }
                    None => {
                        h.old.push(String::new());
                        h.new.push(String::new());
                    }
                    Some(_) => {
                        return Err(bad(format!(
                            "in `*** Update File: {path}` each change line starts with `+`, `-` or a space (found {l:?})"
                        )));
                    }
                }
            }
            if hunks.iter().all(|h| h.old == h.new) && move_to.is_none() {
                return Err(bad(format!("`*** Update File: {path}` changes nothing")));
            }
            ops.push(PatchOp::Update {
                path: path.trim().to_owned(),
                move_to,
                hunks,
            });
        } else if line.trim().is_empty() {
            continue;
        } else {
            return Err(bad(format!(
                "unexpected line {line:?}; expected `*** Add File:`, `*** Update File:`, `*** Delete File:` or `*** End Patch`"
            )));
        }
    }
    if !ended {
        return Err(bad("the patch must end with a `*** End Patch` line".into()));
    }
    if ops.is_empty() {
        return Err(bad("the patch has no file operations".into()));
    }
    Ok(ops)
}

/// Applies `hunks` to `text`, each found after the previous one.
pub fn apply_hunks(text: &str, hunks: &[Hunk], shown: &str) -> Result<String, FsError> {
    let trailing_newline = text.ends_with('\n') || text.is_empty();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut from = 0usize;
    for (i, h) in hunks.iter().enumerate() {
        if let Some(anchor) = &h.anchor {
            match lines[from..].iter().position(|l| l.trim() == anchor.trim()) {
                Some(p) => from += p + 1,
                None => {
                    return Err(FsError::Patch(format!(
                        "hunk {} of {shown}: its `@@ {anchor}` line is not in the file",
                        i + 1
                    )));
                }
            }
        }
        let at = if h.at_eof {
            let start = lines.len().checked_sub(h.old.len());
            start.filter(|&s| s >= from && lines[s..] == h.old[..])
        } else if h.old.is_empty() {
            Some(from)
        } else {
            (from..=lines.len().saturating_sub(h.old.len()))
                .find(|&s| lines[s..s + h.old.len()] == h.old[..])
                .or_else(|| {
                    // Models often get trailing whitespace wrong; accept that, nothing more.
                    (from..=lines.len().saturating_sub(h.old.len())).find(|&s| {
                        lines[s..s + h.old.len()]
                            .iter()
                            .zip(&h.old)
                            .all(|(a, b)| a.trim_end() == b.trim_end())
                    })
                })
        };
        let Some(at) = at else {
            return Err(FsError::Patch(format!(
                "hunk {} of {shown} does not match the file: its context and `-` lines were not found{}; read the file and rebuild the hunk from its current text",
                i + 1,
                if from > 0 {
                    " after the previous hunk"
                } else {
                    ""
                }
            )));
        };
        lines.splice(at..at + h.old.len(), h.new.iter().cloned());
        from = at + h.new.len();
    }
    let mut out = lines.join("\n");
    if trailing_newline && !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

/// What [`apply_patch`] needs from the tool box: each path of the patch, confined.
pub trait Resolve {
    /// The confined absolute path for `path` as written in the patch.
    fn resolve(&self, path: &str) -> Result<PathBuf, String>;
}

/// `apply_patch`: checks every operation first (paths confined, hunks applying, adds not
/// overwriting), then writes; a patch that fails anywhere changes nothing.
pub fn apply_patch(input: &str, paths: &dyn Resolve) -> Result<String, FsError> {
    let ops = parse_patch(input)?;
    enum Planned {
        Write(PathBuf, String),
        Remove(PathBuf),
    }
    let mut plan = Vec::new();
    let mut summary = Vec::new();
    for op in &ops {
        match op {
            PatchOp::Add { path, content } => {
                let p = paths.resolve(path).map_err(FsError::Patch)?;
                if p.exists() {
                    return Err(FsError::Patch(format!(
                        "`*** Add File: {path}`: the file exists; use `*** Update File:` or delete it first"
                    )));
                }
                plan.push(Planned::Write(p, content.clone()));
                summary.push(format!("A {path}"));
            }
            PatchOp::Delete { path } => {
                let p = paths.resolve(path).map_err(FsError::Patch)?;
                if !p.is_file() {
                    return Err(FsError::Patch(format!(
                        "`*** Delete File: {path}`: no such file"
                    )));
                }
                plan.push(Planned::Remove(p));
                summary.push(format!("D {path}"));
            }
            PatchOp::Update {
                path,
                move_to,
                hunks,
            } => {
                let p = paths.resolve(path).map_err(FsError::Patch)?;
                let text = read_text(&p, path)?;
                let out = apply_hunks(&text, hunks, path)?;
                match move_to {
                    Some(to) if to != path => {
                        let t = paths.resolve(to).map_err(FsError::Patch)?;
                        if t.exists() {
                            return Err(FsError::Patch(format!(
                                "`*** Move to: {to}`: the destination exists; delete it first"
                            )));
                        }
                        plan.push(Planned::Write(t, out));
                        plan.push(Planned::Remove(p));
                        summary.push(format!("R {path} -> {to}"));
                    }
                    _ => {
                        plan.push(Planned::Write(p, out));
                        summary.push(format!("M {path}"));
                    }
                }
            }
        }
    }
    for step in plan {
        match step {
            Planned::Write(p, text) => {
                let shown = p.display().to_string();
                write_text(&p, &shown, &text)?;
            }
            Planned::Remove(p) => {
                std::fs::remove_file(&p).map_err(|e| io(&p, &p.display().to_string(), e))?;
            }
        }
    }
    Ok(format!("applied patch:\n{}", summary.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Under(PathBuf);
    impl Resolve for Under {
        fn resolve(&self, path: &str) -> Result<PathBuf, String> {
            if path.contains("..") {
                return Err(format!("{path} is outside the workspace"));
            }
            Ok(self.0.join(path))
        }
    }

    #[test]
    fn edit_needs_exactly_one_match() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.txt");
        std::fs::write(&f, "one two two\n").unwrap();
        assert_eq!(
            edit(&f, "a.txt", "three", "x"),
            Err(FsError::NoMatch("a.txt".into()))
        );
        assert!(matches!(
            edit(&f, "a.txt", "two", "x"),
            Err(FsError::Ambiguous { count: 2, .. })
        ));
        edit(&f, "a.txt", "one", "1").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "1 two two\n");
    }

    #[test]
    fn read_pages_by_lines() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.txt");
        std::fs::write(&f, "a\nb\nc\nd\n").unwrap();
        assert_eq!(read(&f, "a.txt", Some(2), Some(2)).unwrap(), "b\nc\n");
        assert_eq!(read(&f, "a.txt", None, None).unwrap(), "a\nb\nc\nd\n");
        assert_eq!(
            read(&d.path().join("nope"), "nope", None, None),
            Err(FsError::NotFound("nope".into()))
        );
    }

    #[test]
    fn patch_adds_updates_moves_and_deletes_or_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let root = Under(d.path().to_owned());
        std::fs::write(d.path().join("src.txt"), "alpha\nbeta\ngamma\n").unwrap();
        std::fs::write(d.path().join("old.txt"), "bye\n").unwrap();
        let patch = "*** Begin Patch\n*** Add File: new/n.txt\n+hello\n+world\n*** Update File: src.txt\n@@ alpha\n-beta\n+BETA\n gamma\n*** Delete File: old.txt\n*** End Patch\n";
        let out = apply_patch(patch, &root).unwrap();
        assert!(
            out.contains("A new/n.txt") && out.contains("M src.txt") && out.contains("D old.txt")
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("new/n.txt")).unwrap(),
            "hello\nworld\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("src.txt")).unwrap(),
            "alpha\nBETA\ngamma\n"
        );
        assert!(!d.path().join("old.txt").exists());

        // A hunk that does not apply fails the whole patch before anything is written.
        let bad = "*** Begin Patch\n*** Add File: x.txt\n+x\n*** Update File: src.txt\n-nothere\n+y\n*** End Patch";
        assert!(
            matches!(apply_patch(bad, &root), Err(FsError::Patch(m)) if m.contains("does not match"))
        );
        assert!(!d.path().join("x.txt").exists());

        let mv = "*** Begin Patch\n*** Update File: src.txt\n*** Move to: moved.txt\n@@\n-alpha\n+ALPHA\n*** End Patch";
        apply_patch(mv, &root).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("moved.txt")).unwrap(),
            "ALPHA\nBETA\ngamma\n"
        );
        assert!(!d.path().join("src.txt").exists());

        let escape = "*** Begin Patch\n*** Add File: ../evil.txt\n+x\n*** End Patch";
        assert!(
            matches!(apply_patch(escape, &root), Err(FsError::Patch(m)) if m.contains("outside"))
        );
    }

    #[test]
    fn patch_format_errors_say_what_is_expected() {
        for (p, want) in [
            ("hello", "Begin Patch"),
            ("*** Begin Patch\n*** Add File: a\n+x\n", "End Patch"),
            ("*** Begin Patch\n*** End Patch", "no file operations"),
            ("*** Begin Patch\nfoo\n*** End Patch", "unexpected line"),
            (
                "*** Begin Patch\n*** Add File: a\nx\n*** End Patch",
                "must start with `+`",
            ),
        ] {
            match parse_patch(p) {
                Err(FsError::Patch(m)) => assert!(m.contains(want), "{p:?}: {m}"),
                other => panic!("{p:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn eof_hunk_applies_at_the_end_only() {
        let hunks = parse_patch(
            "*** Begin Patch\n*** Update File: f\n@@\n x\n+y\n*** End of File\n*** End Patch",
        )
        .unwrap();
        let PatchOp::Update { hunks, .. } = &hunks[0] else {
            panic!()
        };
        assert_eq!(
            apply_hunks("x\na\nx\n", hunks, "f").unwrap(),
            "x\na\nx\ny\n"
        );
    }
}
