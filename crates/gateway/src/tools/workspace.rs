//! Confinement of file-tool paths to the agent workspace.
//!
//! A path from the model is resolved against the workspace root: relative paths land
//! under it, absolute paths must already be inside it, `..` may not climb out of it, and
//! no existing component may be a symlink leading outside (that includes the parent of
//! a file that does not exist yet, so `link-to-etc/new-file` is refused before anything is
//! created). What comes back is the host path to use, with every existing component
//! already resolved.
//!
//! Every function here does blocking file-system work: call them from
//! `tokio::task::spawn_blocking`. The check and the later open are two steps, so a
//! process that can create symlinks inside the workspace between them (an `exec` command)
//! could still race it; exec can reach any file its sandbox allows anyway, so this guards
//! the file tools, not exec.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Escape {
    /// `..` climbs above the workspace root.
    ParentDir,
    /// An absolute path that is not inside the workspace.
    Outside,
    /// An existing component is a symlink whose target is outside the workspace.
    Symlink {
        /// The symlink (host path).
        link: PathBuf,
        /// Where it leads (resolved), or the raw target when it dangles.
        target: PathBuf,
    },
    /// The path holds a NUL byte or is otherwise unusable.
    Malformed,
}

impl std::fmt::Display for Escape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Escape::ParentDir => f.write_str("`..` would leave the workspace"),
            Escape::Outside => f.write_str("it is an absolute path outside the workspace"),
            Escape::Symlink { link, target } => write!(
                f,
                "{} is a symlink leading outside the workspace (to {})",
                link.display(),
                target.display()
            ),
            Escape::Malformed => f.write_str("it is not a usable path"),
        }
    }
}

/// A workspace failure, worded for the model (tool error) and the operator.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The path reaches outside the workspace.
    #[error(
        "refused path {path:?}: {why}; tools only reach files inside the workspace {} (agents.defaults.workspace, or the agent's own workspace)",
        root.display()
    )]
    Escape {
        /// The path as the tool was given it.
        path: String,
        /// What was wrong with it.
        why: Escape,
        /// The workspace root.
        root: PathBuf,
    },
    /// The workspace directory could not be created or resolved.
    #[error(
        "cannot use the workspace {} ({source}); check that it is a writable directory or point agents.defaults.workspace elsewhere",
        root.display()
    )]
    Root {
        /// The configured root.
        root: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Resolving a component failed for a reason other than "does not exist".
    #[error("cannot check {} ({source})", path.display())]
    Io {
        /// The component being checked.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// An agent workspace whose root exists.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// The root as configured (absolute).
    configured: PathBuf,
    /// The root with symlinks resolved.
    root: PathBuf,
}

impl Workspace {
    /// Opens `root`, creating it (and missing parents) with mode 0700 on first use.
    /// `root` should be absolute (the config resolves it against the state dir).
    /// Blocking.
    pub fn open(root: impl Into<PathBuf>) -> Result<Workspace, WorkspaceError> {
        let configured = root.into();
        let err = |source| WorkspaceError::Root {
            root: configured.clone(),
            source,
        };
        if !configured.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&configured)
                .map_err(err)?;
        }
        let root = configured.canonicalize().map_err(err)?;
        Ok(Workspace { configured, root })
    }

    /// The root, symlinks resolved: the directory commands run in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a tool-supplied `path` to a host path inside the workspace, or refuses
    /// it. `""` and `"."` are the root itself. The file need not exist. Blocking.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, WorkspaceError> {
        let refuse = |why| WorkspaceError::Escape {
            path: path.to_owned(),
            why,
            root: self.root.clone(),
        };
        if path.contains('\0') {
            return Err(refuse(Escape::Malformed));
        }
        let given = Path::new(path);
        // The part of the path below the root, as plain components.
        let rel: PathBuf = if given.is_absolute() {
            let inside = [&self.root, &self.configured].into_iter().find_map(|r| {
                lexical(given)
                    .ok()?
                    .strip_prefix(r)
                    .ok()
                    .map(Path::to_path_buf)
            });
            inside.ok_or_else(|| refuse(Escape::Outside))?
        } else {
            given.to_path_buf()
        };
        let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(s) => parts.push(s),
                Component::CurDir => {}
                Component::ParentDir => {
                    if parts.pop().is_none() {
                        return Err(refuse(Escape::ParentDir));
                    }
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(refuse(Escape::Malformed));
                }
            }
        }
        // Walk down from the root; every existing prefix must resolve inside it.
        let mut resolved = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            let next = resolved.join(part);
            match std::fs::symlink_metadata(&next) {
                Ok(meta) => {
                    if meta.file_type().is_symlink() {
                        match next.canonicalize() {
                            Ok(target) if target.starts_with(&self.root) => resolved = target,
                            Ok(target) => {
                                return Err(refuse(Escape::Symlink { link: next, target }));
                            }
                            Err(_) => {
                                // Dangling: writing through it would create its target,
                                // wherever that is.
                                let target = std::fs::read_link(&next).unwrap_or_default();
                                return Err(refuse(Escape::Symlink { link: next, target }));
                            }
                        }
                    } else {
                        resolved = next;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Nothing below can exist (or be a symlink) either.
                    for rest in &parts[i..] {
                        resolved.push(rest);
                    }
                    return Ok(resolved);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                    for rest in &parts[i..] {
                        resolved.push(rest);
                    }
                    return Ok(resolved);
                }
                Err(source) => return Err(WorkspaceError::Io { path: next, source }),
            }
        }
        Ok(resolved)
    }

    /// The path of `host` relative to the root, for showing to the model (`"."` for the
    /// root itself); `None` when it is not inside.
    pub fn display_path(&self, host: &Path) -> Option<String> {
        let rel = host.strip_prefix(&self.root).ok()?;
        Some(if rel.as_os_str().is_empty() {
            ".".to_owned()
        } else {
            rel.display().to_string()
        })
    }
}

/// `path` with `.` and `..` folded lexically; `Err` when `..` climbs above `/`.
fn lexical(path: &Path) -> Result<PathBuf, ()> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() || out.as_os_str().is_empty() {
                    return Err(());
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn ws() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        (dir, ws)
    }

    #[test]
    fn creates_root_owner_only() {
        let (dir, ws) = ws();
        let meta = std::fs::metadata(dir.path().join("ws")).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        assert!(ws.root().is_absolute());
        // Opening again keeps it.
        Workspace::open(dir.path().join("ws")).unwrap();
    }

    #[test]
    fn relative_and_inside_paths_resolve() {
        let (_d, ws) = ws();
        assert_eq!(ws.resolve("a/b.txt").unwrap(), ws.root().join("a/b.txt"));
        assert_eq!(ws.resolve("").unwrap(), ws.root());
        assert_eq!(ws.resolve(".").unwrap(), ws.root());
        assert_eq!(ws.resolve("a/../b").unwrap(), ws.root().join("b"));
        let abs = ws.root().join("x/y");
        assert_eq!(ws.resolve(abs.to_str().unwrap()).unwrap(), abs);
        std::fs::create_dir(ws.root().join("sub")).unwrap();
        symlink(ws.root().join("sub"), ws.root().join("inner")).unwrap();
        assert_eq!(
            ws.resolve("inner/f").unwrap(),
            ws.root().join("sub/f"),
            "a symlink inside the workspace is fine"
        );
        assert_eq!(ws.display_path(&ws.root().join("sub/f")).unwrap(), "sub/f");
    }

    #[test]
    fn escapes_are_refused_with_a_clear_message() {
        let (dir, ws) = ws();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        symlink(&outside, ws.root().join("out")).unwrap();
        symlink(outside.join("secret"), ws.root().join("file-link")).unwrap();
        symlink(outside.join("nope"), ws.root().join("dangling")).unwrap();
        for (path, want) in [
            ("../x", "`..` would leave the workspace"),
            ("a/../../x", "`..` would leave the workspace"),
            ("/etc/passwd", "absolute path outside the workspace"),
            ("out/secret", "is a symlink leading outside"),
            ("out/new-file", "is a symlink leading outside"),
            ("out/deeper/new", "is a symlink leading outside"),
            ("file-link", "is a symlink leading outside"),
            ("dangling", "is a symlink leading outside"),
            ("a\0b", "not a usable path"),
        ] {
            let err = ws.resolve(path).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, WorkspaceError::Escape { .. }),
                "{path}: {msg}"
            );
            assert!(msg.contains(want), "{path}: {msg}");
            assert!(msg.contains("agents.defaults.workspace"), "{msg}");
            assert!(
                msg.contains("tools only reach files inside the workspace"),
                "{msg}"
            );
        }
        let sibling = format!("{}-evil/x", ws.root().display());
        assert!(
            ws.resolve(&sibling).is_err(),
            "a prefix of the root's name is not inside"
        );
    }
}
