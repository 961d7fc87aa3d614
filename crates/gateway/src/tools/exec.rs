//! Running one shell command for the `exec` tool, and deciding whether it may run.
//!
//! [`run`] starts `sh -c <command>` in the workspace, on the host or through a
//! [`Sandbox`], in its own process group. It collects stdout and stderr into one buffer
//! in arrival order, keeping the first `max_output_bytes` (the rest is counted and
//! dropped, so a chatty command cannot exhaust memory, and the result says it was cut).
//! On timeout, and when the returned future is dropped (turn aborted, client gone), the
//! whole process group is killed with SIGKILL; for bubblewrap that is `bwrap` itself,
//! whose `--die-with-parent` and pid namespace take everything inside down with it. When
//! the shell exits, whatever it left running in its group is killed too: a foreground
//! exec leaves nothing behind.
//!
//! The environment is never the gateway's as is: [`host_env`] drops the gateway's
//! secrets ([`is_secret_env`]); [`sandbox_env`] starts from nothing, as OpenClaw's
//! sandbox exec does not inherit the host environment.
//!
//! [`approvals`] holds the pure approval decision (`tools.exec.security` / `ask` plus
//! the allowlist) and the allowlist file.

pub mod approvals;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::tools::sandbox::{Sandbox, SandboxError};

/// Output kept per command when the caller has no better number (200 000 bytes, about
/// 50 000 tokens: enough for a build log's head, small enough for a model context).
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 200_000;

/// How long output is still collected after the shell exits, for what its children
/// were still writing, before they are killed.
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// `PATH` of sandboxed commands (before `tools.exec.pathPrepend`).
pub const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a command could not be run (a command that ran and failed is an [`ExecOutput`]
/// with a non-zero exit code, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The sandbox backend is missing.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The program could not be started.
    #[error("cannot start {} ({source}); check that it is installed and executable", program.display())]
    Spawn {
        /// `sh` or the sandbox program.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A per-call environment override that could hijack binaries or inject code.
    #[error(
        "the environment override {name} is refused: PATH and loader variables (LD_*, DYLD_*) cannot be set by a tool call; use tools.exec.pathPrepend for extra PATH entries"
    )]
    ForbiddenEnv {
        /// The variable.
        name: String,
    },
}

/// One command to run.
#[derive(Clone, Debug)]
pub struct ExecRequest {
    /// Shell command, run with `sh -c`.
    pub command: String,
    /// Working directory (host path inside the workspace).
    pub cwd: PathBuf,
    /// Kill after this long; `None` runs without a timeout (a call's
    /// `timeoutSeconds: 0`).
    pub timeout: Option<Duration>,
    /// Bytes of combined output kept.
    pub max_output_bytes: usize,
    /// The complete environment of the command (see [`host_env`], [`sandbox_env`]).
    pub env: Vec<(String, String)>,
    /// Run through this sandbox; `None` runs on the host.
    pub sandbox: Option<Sandbox>,
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status, when it exited normally.
    pub exit_code: Option<i32>,
    /// Signal that ended it, when one did (SIGKILL after a timeout).
    pub signal: Option<i32>,
    /// The first `max_output_bytes` of stdout and stderr interleaved (lossy UTF-8).
    pub output: String,
    /// Whether output was cut.
    pub truncated: bool,
    /// All output bytes produced, kept or not.
    pub total_bytes: u64,
    /// Whether the timeout fired.
    pub timed_out: bool,
    /// Wall time.
    pub duration: Duration,
}

impl ExecOutput {
    /// The output followed by notes on truncation, timeout and a failing status, as the
    /// model should see it.
    pub fn render(&self) -> String {
        let mut s = self.output.clone();
        let mut note = |n: String| {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&n);
        };
        if self.truncated {
            note(format!(
                "[output truncated: showing the first {} of {} bytes]",
                self.output.len(),
                self.total_bytes
            ));
        }
        if self.timed_out {
            note(format!(
                "[timed out after {:.1}s; the command and its processes were killed]",
                self.duration.as_secs_f64()
            ));
        } else if let Some(sig) = self.signal {
            note(format!("[killed by signal {sig}]"));
        } else if let Some(code) = self.exit_code.filter(|c| *c != 0) {
            note(format!("[exit code {code}]"));
        }
        s
    }
}

/// Whether an environment variable of the gateway must not reach commands: the
/// gateway's own credentials and anything named like a secret (`*_API_KEY`, `*TOKEN*`,
/// `*SECRET*`, `*PASSWORD*`, `*PRIVATE_KEY*`, `*CREDENTIAL*`), case-insensitively.
pub fn is_secret_env(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.starts_with("OPENCLAW_GATEWAY_")
        || [
            "API_KEY",
            "APIKEY",
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "PRIVATE_KEY",
            "CREDENTIAL",
        ]
        .iter()
        .any(|s| n.contains(s))
}

/// Whether a tool call may set `name` (PATH and loader variables are refused, as in
/// OpenClaw's host exec).
fn check_override(name: &str) -> Result<(), ExecError> {
    let n = name.to_ascii_uppercase();
    if n == "PATH" || n.starts_with("LD_") || n.starts_with("DYLD_") || name.contains('=') {
        return Err(ExecError::ForbiddenEnv {
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn set(env: &mut Vec<(String, String)>, k: &str, v: String) {
    env.retain(|(n, _)| n != k);
    env.push((k.to_owned(), v));
}

fn prepend_path(env: &mut Vec<(String, String)>, base: String, prepend: &[String]) {
    let mut parts: Vec<&str> = prepend.iter().map(String::as_str).collect();
    if !base.is_empty() {
        parts.push(&base);
    }
    let joined = parts.join(":");
    set(env, "PATH", joined);
}

/// The environment of a host command: `inherited` (usually the gateway's) without
/// secrets, `pathPrepend` in front of `PATH`, the call's `overrides` on top, and
/// `OPENCLAW_SHELL=exec` so shell profiles can tell they run under exec.
pub fn host_env(
    inherited: impl IntoIterator<Item = (String, String)>,
    overrides: &[(String, String)],
    path_prepend: &[String],
) -> Result<Vec<(String, String)>, ExecError> {
    let mut env: Vec<(String, String)> = inherited
        .into_iter()
        .filter(|(k, _)| !is_secret_env(k))
        .collect();
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned());
    prepend_path(&mut env, path, path_prepend);
    for (k, v) in overrides {
        check_override(k)?;
        set(&mut env, k, v.clone());
    }
    set(&mut env, "OPENCLAW_SHELL", "exec".to_owned());
    Ok(env)
}

/// The environment of a sandboxed command: nothing of the host, only `PATH`
/// ([`SANDBOX_PATH`] after `pathPrepend`), `HOME` (the workspace), `LANG`, the call's
/// `overrides` and `OPENCLAW_SHELL=exec`.
pub fn sandbox_env(
    home: &Path,
    overrides: &[(String, String)],
    path_prepend: &[String],
) -> Result<Vec<(String, String)>, ExecError> {
    let mut env = vec![
        ("HOME".to_owned(), home.display().to_string()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ];
    prepend_path(&mut env, SANDBOX_PATH.to_owned(), path_prepend);
    for (k, v) in overrides {
        check_override(k)?;
        set(&mut env, k, v.clone());
    }
    set(&mut env, "OPENCLAW_SHELL", "exec".to_owned());
    Ok(env)
}

/// The timeout of one call: the call's `timeoutSeconds` if given (`0` = none), else the
/// configured default (`tools.exec.timeoutSeconds`).
pub fn timeout_for(call_seconds: Option<u64>, default_seconds: u64) -> Option<Duration> {
    match call_seconds.unwrap_or(default_seconds) {
        0 => None,
        s => Some(Duration::from_secs(s)),
    }
}

/// Finds a bare command name in the directories of `path` (a `PATH` value), the way a
/// shell would: the resolver [`approvals::decide`] needs. Blocking (`stat`s).
pub fn path_lookup(path: &str, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') || name.is_empty() {
        return None;
    }
    std::env::split_paths(path).map(|d| d.join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Kills a process group when dropped, unless disarmed: the cancellation path.
struct GroupGuard {
    pgid: Option<rustix::process::Pid>,
}

impl GroupGuard {
    fn kill(&self) {
        if let Some(p) = self.pgid {
            // ESRCH (already gone) is fine.
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Appends `chunk` to `buf` up to `cap` bytes; returns whether anything was dropped.
fn keep(buf: &mut Vec<u8>, cap: usize, chunk: &[u8]) -> bool {
    let room = cap.saturating_sub(buf.len());
    buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
    chunk.len() > room
}

/// Runs `req` to completion (or timeout). Cancel-safe: dropping the future kills the
/// command's process group.
pub async fn run(req: ExecRequest) -> Result<ExecOutput, ExecError> {
    let mut cmd = match &req.sandbox {
        Some(sb) => {
            let sb2 = sb.clone();
            let program = tokio::task::spawn_blocking(move || sb2.locate())
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
            let argv = sb.argv(&program, &req.command, &req.cwd, &req.env);
            let mut c = tokio::process::Command::new(&argv[0]);
            c.args(&argv[1..]);
            // bwrap gets the env through --setenv/--clearenv; docker through -e. The
            // sandbox program itself runs with the scrubbed host env.
            c.env_clear();
            for (k, v) in std::env::vars() {
                if !is_secret_env(&k) {
                    c.env(k, v);
                }
            }
            c
        }
        None => {
            let mut c = tokio::process::Command::new("/bin/sh");
            c.arg("-c").arg(&req.command);
            c.current_dir(&req.cwd);
            c.env_clear();
            c.envs(req.env.iter().map(|(k, v)| (k, v)));
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let program = PathBuf::from(cmd.as_std().get_program());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|source| ExecError::Spawn { program, source })?;
    let guard = GroupGuard {
        pgid: child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32)),
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let cap = req.max_output_bytes;
    let mut buf: Vec<u8> = Vec::with_capacity(cap.min(64 * 1024));
    let mut total: u64 = 0;
    let mut truncated = false;
    let mut status = None;
    let mut exited_at: Option<Instant> = None;
    let deadline = req.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut timed_out = false;
    let (mut a, mut b) = (vec![0u8; 8192], vec![0u8; 8192]);
    loop {
        if stdout.is_none() && stderr.is_none() && status.is_some() {
            break;
        }
        let grace = exited_at.map(|t| tokio::time::Instant::from_std(t + EXIT_GRACE));
        let stop = match (deadline, grace) {
            (Some(d), Some(g)) => Some(d.min(g)),
            (d, g) => d.or(g),
        };
        tokio::select! {
            r = async { stdout.as_mut().unwrap().read(&mut a).await }, if stdout.is_some() => match r {
                Ok(n) if n > 0 => { total += n as u64; truncated |= keep(&mut buf, cap, &a[..n]); }
                _ => stdout = None,
            },
            r = async { stderr.as_mut().unwrap().read(&mut b).await }, if stderr.is_some() => match r {
                Ok(n) if n > 0 => { total += n as u64; truncated |= keep(&mut buf, cap, &b[..n]); }
                _ => stderr = None,
            },
            s = child.wait(), if status.is_none() => {
                status = Some(s);
                exited_at = Some(Instant::now());
            }
            () = async { tokio::time::sleep_until(stop.unwrap()).await }, if stop.is_some() => {
                if exited_at.is_some() && deadline.is_none_or(|d| tokio::time::Instant::now() < d) {
                    // The shell is gone; what it left behind is not waited for.
                    break;
                }
                timed_out = true;
                break;
            }
        }
    }
    // Whatever is left of the group (the timed-out command, or children of an exited
    // shell) goes now, then the shell is reaped.
    guard.kill();
    let status = match status {
        Some(s) => s,
        None => child.wait().await,
    };
    drop(guard);
    let duration = started.elapsed();
    use std::os::unix::process::ExitStatusExt;
    let (exit_code, signal) = match &status {
        Ok(s) => (s.code(), s.signal()),
        Err(_) => (None, None),
    };
    Ok(ExecOutput {
        exit_code: if timed_out { None } else { exit_code },
        signal,
        output: String::from_utf8_lossy(&buf).into_owned(),
        truncated,
        total_bytes: total,
        timed_out,
        duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_and_overrides_checked() {
        let inherited = [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/home/u"),
            ("OPENCLAW_GATEWAY_TOKEN", "t"),
            ("OPENCLAW_GATEWAY_PASSWORD", "p"),
            ("OPENAI_API_KEY", "k"),
            ("anthropic_api_key", "k"),
            ("GH_TOKEN", "g"),
            ("AWS_SECRET_ACCESS_KEY", "a"),
            ("LANG", "C"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let env = host_env(
            inherited,
            &[("FOO".into(), "bar".into())],
            &["/opt/x".into()],
        )
        .unwrap();
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        for gone in [
            "OPENCLAW_GATEWAY_TOKEN",
            "OPENCLAW_GATEWAY_PASSWORD",
            "OPENAI_API_KEY",
            "anthropic_api_key",
            "GH_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(!names.contains(&gone), "{gone} leaked: {names:?}");
        }
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH"), Some("/opt/x:/usr/bin:/bin"));
        assert_eq!(get("FOO"), Some("bar"));
        assert_eq!(get("OPENCLAW_SHELL"), Some("exec"));
        assert_eq!(get("HOME"), Some("/home/u"));
        for bad in ["PATH", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "path"] {
            let e = host_env([], &[(bad.into(), "x".into())], &[]).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
            assert!(sandbox_env(Path::new("/w"), &[(bad.into(), "x".into())], &[]).is_err());
        }
        let sb = sandbox_env(Path::new("/w"), &[], &[]).unwrap();
        assert_eq!(sb.len(), 4, "{sb:?}");
        assert!(sb.contains(&("PATH".into(), SANDBOX_PATH.into())));
        assert!(sb.contains(&("HOME".into(), "/w".into())));
    }

    #[test]
    fn timeouts_and_lookup() {
        assert_eq!(timeout_for(None, 1800), Some(Duration::from_secs(1800)));
        assert_eq!(timeout_for(Some(5), 1800), Some(Duration::from_secs(5)));
        assert_eq!(timeout_for(Some(0), 1800), None);
        let sh = path_lookup("/nonexistent:/bin:/usr/bin", "sh").unwrap();
        assert!(sh.ends_with("sh") && sh.is_absolute());
        assert!(path_lookup("/bin", "./sh").is_none());
        assert!(path_lookup("/bin", "no-such-program-xyz").is_none());
    }

    #[test]
    fn keep_caps_the_head() {
        let mut b = Vec::new();
        assert!(!keep(&mut b, 5, b"abc"));
        assert!(keep(&mut b, 5, b"defg"));
        assert!(keep(&mut b, 5, b"h"));
        assert_eq!(b, b"abcde");
    }

    #[test]
    fn render_notes() {
        let o = ExecOutput {
            exit_code: Some(2),
            signal: None,
            output: "abc".into(),
            truncated: true,
            total_bytes: 10,
            timed_out: false,
            duration: Duration::from_millis(5),
        };
        let r = o.render();
        assert!(
            r.contains("abc\n[output truncated: showing the first 3 of 10 bytes]"),
            "{r}"
        );
        assert!(r.contains("[exit code 2]"), "{r}");
    }
}
