//! The repairs `doctor --fix` (and `security audit --fix`) can make, and the prompt that
//! decides whether to make each one.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use openclaw_config::AtomicWrite;
use serde_json::{Value, json};

use super::{Check, Repair, Status};
use crate::commands::service::UNIT_FILE_MODE;
use crate::posture::{chmod, generate_token, sibling, write_file};

/// A repair doctor (or `security audit --fix`) can make by itself.
#[derive(Clone, Debug)]
pub enum Action {
    /// `chmod 700` a directory.
    ChmodDir(PathBuf),
    /// `chmod 600` a file.
    ChmodFile(PathBuf),
    /// Write a new random token to `gateway.auth.token` of this config file.
    GenerateToken(PathBuf),
    /// Put the valid `.bak` back in place of the invalid config.
    RestoreBackup {
        /// The invalid config file.
        config: PathBuf,
        /// Its valid backup.
        bak: PathBuf,
    },
    /// Replace a drifted service unit with what `gateway install` would write.
    RewriteUnit {
        /// The unit file or plist.
        path: PathBuf,
        /// Its expected text.
        text: String,
    },
}

impl Action {
    /// What the fix will do, for the prompt.
    pub fn describe(&self) -> String {
        match self {
            Action::ChmodDir(p) => format!("chmod 700 {}", p.display()),
            Action::ChmodFile(p) => format!("chmod 600 {}", p.display()),
            Action::GenerateToken(p) => {
                format!("write a new random gateway.auth.token to {}", p.display())
            }
            Action::RestoreBackup { config, bak } => {
                format!("restore {} from {}", config.display(), bak.display())
            }
            Action::RewriteUnit { path, .. } => {
                format!("rewrite {} for this binary and config", path.display())
            }
        }
    }

    /// Applies the fix; returns what changed, never a secret.
    pub fn apply(&self) -> Result<String> {
        match self {
            Action::ChmodDir(p) => {
                chmod(p, 0o700)?;
                Ok(format!("set {} to mode 700", p.display()))
            }
            Action::ChmodFile(p) => {
                chmod(p, 0o600)?;
                Ok(format!("set {} to mode 600", p.display()))
            }
            Action::GenerateToken(p) => {
                write_new_token(p)?;
                Ok("generated a new gateway token; see gateway.auth.token".into())
            }
            Action::RestoreBackup { config, bak } => {
                let broken = sibling(config, ".invalid");
                std::fs::copy(config, &broken).with_context(|| {
                    format!(
                        "cannot keep the invalid config at {}; nothing was restored",
                        broken.display()
                    )
                })?;
                let text = std::fs::read_to_string(bak)
                    .with_context(|| format!("cannot read {}", bak.display()))?;
                write_file(
                    config,
                    text.as_bytes(),
                    &AtomicWrite {
                        backup: false,
                        ..AtomicWrite::config()
                    },
                    "the config",
                )?;
                Ok(format!(
                    "restored {} from {} (the invalid file is kept as {})",
                    config.display(),
                    bak.display(),
                    broken.display()
                ))
            }
            Action::RewriteUnit { path, text } => {
                write_file(
                    path,
                    text.as_bytes(),
                    &AtomicWrite {
                        new_mode: UNIT_FILE_MODE,
                        ..AtomicWrite::config()
                    },
                    "the unit file",
                )?;
                if path.extension().is_some_and(|e| e == "service") {
                    let _ = std::process::Command::new("systemctl")
                        .args(["--user", "daemon-reload"])
                        .stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .status();
                }
                Ok(format!(
                    "rewrote {} (previous kept as .bak); run `openclaw gateway restart` to use it",
                    path.display()
                ))
            }
        }
    }
}

/// Decides, per fix, whether to apply it: `--yes`, else ask on a terminal, else refuse
/// and tell the operator to re-run with `--yes`.
pub struct Fixer {
    enabled: bool,
    yes: bool,
    tty: bool,
    told_rerun: bool,
}

impl Fixer {
    /// A fixer for `--fix` (`enabled`) and `--yes`.
    pub fn new(enabled: bool, yes: bool) -> Fixer {
        Fixer {
            enabled,
            yes,
            tty: std::io::stdin().is_terminal(),
            told_rerun: false,
        }
    }

    /// Applies the check's repair if allowed, updating the check in place. Returns true
    /// if something changed.
    pub fn settle(&mut self, check: &mut Check) -> bool {
        let Some(action) = check.action.clone() else {
            return false;
        };
        if !self.enabled || check.status == Status::Ok {
            return false;
        }
        if !self.yes {
            if !self.tty {
                if !self.told_rerun {
                    eprintln!(
                        "not asking for confirmation (stdin is not a terminal); re-run with --yes to apply fixes"
                    );
                    self.told_rerun = true;
                }
                check.repair = Some(Repair::NotApplied);
                check.detail.push_str("; not fixed: re-run with --yes");
                return false;
            }
            eprint!("Fix {}: {}? [y/N] ", check.id, action.describe());
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
                check.repair = Some(Repair::NotApplied);
                check.detail.push_str("; fix declined");
                return false;
            }
        }
        match action.apply() {
            Ok(what) => {
                check.status = Status::Ok;
                check.repair = Some(Repair::Applied(what));
                true
            }
            Err(e) => {
                check.repair = Some(Repair::NotApplied);
                check.detail.push_str(&format!("; fix failed: {e:#}"));
                false
            }
        }
    }
}

/// Writes a freshly generated token to `gateway.auth.token` in `config_path`,
/// atomically, keeping the previous file as `.bak`. The token is never printed.
pub fn write_new_token(config_path: &Path) -> Result<()> {
    let mut doc = match std::fs::read_to_string(config_path) {
        Ok(text) => openclaw_config::read_document(&text).map_err(|e| {
            anyhow!(
                "{}: {e}; fix the file first (`openclaw config validate`)",
                config_path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => {
            return Err(anyhow!(e).context(format!("cannot read {}", config_path.display())));
        }
    };
    let token = generate_token()?;
    let segs = openclaw_config::parse_path("gateway.auth.token")?;
    openclaw_config::set_path(&mut doc, &segs, Value::String(token))?;
    let env = |k: &str| std::env::var(k).ok();
    openclaw_config::validate_document(&doc, &env).map_err(|e| {
        anyhow!(
            "the config would not load with a new token ({e}); fix {} first",
            config_path.display()
        )
    })?;
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    write_file(
        config_path,
        text.as_bytes(),
        &AtomicWrite::config(),
        "the config",
    )
}
