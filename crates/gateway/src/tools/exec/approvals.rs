//! Exec approvals: whether a command may run now, must be refused, or needs a human.
//!
//! Two inputs decide: the config (`tools.exec.security` / `ask`, resolved per agent into
//! [`ExecSettings`]) and the approvals file `<stateDir>/exec-approvals.json`, which has
//! OpenClaw's document shape (`version`, `defaults`, `agents.<id>.allowlist[]`). The
//! file can only tighten the config, never loosen it ([`effective`]): the stricter
//! `security` (deny > allowlist > full) and the stricter `ask` (always > on-miss > off)
//! win. `askFallback` (default `deny`) says what an unanswered or timed-out prompt
//! resolves to.
//!
//! Allowlist matching ([`matches`]) follows OpenClaw: a pattern with a `/` (or a leading
//! `~`) is a glob over the resolved executable path (`*` within one path segment, `**`
//! across segments, `?` one character); a bare pattern is a glob over the command name
//! and only matches commands found through `PATH` (`rg` matches `rg`, not `./rg`). Every
//! top-level segment of a chain or pipeline (`;`, `&&`, `||`, `|`, newlines) must match.
//! Redirections, command substitution, subshells, backgrounding and leading `VAR=value`
//! assignments are never allowlisted (a miss), so they always need approval. An entry
//! with `argPattern` also needs the arguments (joined by single spaces, `argv[0]`
//! excluded) to match that regular expression; OpenClaw's generated hash form
//! (`sha256:…`) is not understood and never matches.
//!
//! The decision itself ([`decide`]) is pure; [`ApprovalsStore`] does blocking file I/O
//! (call it from `spawn_blocking`) through the project's atomic writer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openclaw_config::{AtomicWrite, ExecAsk, ExecSecurity, ExecSettings};
use serde::{Deserialize, Serialize};

/// File name of the approvals document in the state directory.
pub const APPROVALS_FILE: &str = "exec-approvals.json";

/// Policy fields of `defaults` or of one agent in the approvals file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPolicy {
    /// Tightens `tools.exec.security`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<ExecSecurity>,
    /// Tightens `tools.exec.ask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<ExecAsk>,
    /// What an unanswered prompt resolves to (default `deny`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_fallback: Option<ExecSecurity>,
    /// Fields this gateway does not use (`autoAllowSkills`, …), kept on rewrite.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// One allowlist entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistEntry {
    /// Stable id (a UUID for entries this gateway adds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Executable path glob or bare command-name glob.
    pub pattern: String,
    /// Regular expression the arguments must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg_pattern: Option<String>,
    /// `allow-always` for entries added by an approval; absent for manual ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Milliseconds since the epoch of the last match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// Other fields (`lastUsedCommand`, `lastResolvedPath`, …), kept on rewrite.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// One agent's block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentApprovals {
    /// Policy overrides for this agent (tighten only).
    #[serde(flatten)]
    pub policy: HostPolicy,
    /// Trusted commands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowlist: Vec<AllowlistEntry>,
}

/// The whole approvals document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalsFile {
    /// Format version, 1.
    pub version: u32,
    /// Policy for agents without their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<HostPolicy>,
    /// Per-agent policy and allowlists.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<String, AgentApprovals>,
    /// Other top-level fields (`socket`, …), kept on rewrite.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Default for ApprovalsFile {
    fn default() -> ApprovalsFile {
        ApprovalsFile {
            version: 1,
            defaults: None,
            agents: BTreeMap::new(),
            other: BTreeMap::new(),
        }
    }
}

impl ApprovalsFile {
    /// The allowlist of `agent_id` (empty when none).
    pub fn allowlist(&self, agent_id: &str) -> &[AllowlistEntry] {
        self.agents
            .get(agent_id)
            .map(|a| a.allowlist.as_slice())
            .unwrap_or_default()
    }
}

/// The approvals file failed to load or save.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalsError {
    /// Unreadable.
    #[error("cannot read {} ({source}); check its permissions", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Not a valid approvals document.
    #[error("{} is not a valid exec approvals file ({message}); fix it or move it aside to start with an empty allowlist", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Saving failed.
    #[error(transparent)]
    Write(#[from] openclaw_config::WriteError),
}

/// The approvals file of one state directory.
#[derive(Clone, Debug)]
pub struct ApprovalsStore {
    path: PathBuf,
}

impl ApprovalsStore {
    /// The store at `<state_dir>/exec-approvals.json`.
    pub fn new(state_dir: &Path) -> ApprovalsStore {
        ApprovalsStore {
            path: state_dir.join(APPROVALS_FILE),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the document; a missing file is an empty one. Blocking.
    pub fn load(&self) -> Result<ApprovalsFile, ApprovalsError> {
        let raw = match std::fs::read_to_string(&self.path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ApprovalsFile::default());
            }
            Err(source) => {
                return Err(ApprovalsError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        serde_json::from_str(&raw).map_err(|e| ApprovalsError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    fn save(&self, doc: &ApprovalsFile) -> Result<(), ApprovalsError> {
        let mut text = serde_json::to_vec_pretty(doc).expect("approvals serialize");
        text.push(b'\n');
        openclaw_config::write_atomic(&self.path, &text, &AtomicWrite::default())?;
        Ok(())
    }

    /// Adds `entry` to `agent_id`'s allowlist (an entry with the same pattern and
    /// argPattern is replaced) and saves atomically (0600). Returns the entry as stored
    /// (with an id). Blocking.
    pub fn add(
        &self,
        agent_id: &str,
        mut entry: AllowlistEntry,
    ) -> Result<AllowlistEntry, ApprovalsError> {
        let mut doc = self.load()?;
        if entry.id.is_none() {
            entry.id = Some(uuid::Uuid::new_v4().to_string().to_uppercase());
        }
        let list = &mut doc.agents.entry(agent_id.to_owned()).or_default().allowlist;
        list.retain(|e| !(e.pattern == entry.pattern && e.arg_pattern == entry.arg_pattern));
        list.push(entry.clone());
        self.save(&doc)?;
        Ok(entry)
    }

    /// Removes entries of `agent_id` whose id or pattern is `key`; returns how many.
    /// Blocking.
    pub fn remove(&self, agent_id: &str, key: &str) -> Result<usize, ApprovalsError> {
        let mut doc = self.load()?;
        let Some(a) = doc.agents.get_mut(agent_id) else {
            return Ok(0);
        };
        let before = a.allowlist.len();
        a.allowlist
            .retain(|e| e.id.as_deref() != Some(key) && e.pattern != key);
        let removed = before - a.allowlist.len();
        if removed > 0 {
            self.save(&doc)?;
        }
        Ok(removed)
    }
}

/// The allowlist entry an "allow always" answer records for `command`: its first
/// segment's executable (resolved path when it was found through `PATH`, else the name)
/// with an anchored `argPattern` for exactly its arguments. `None` when the command is
/// not a single simple command (chains and redirections are approved once only).
pub fn allow_always_entry(
    command: &str,
    resolve: &dyn Fn(&str) -> Option<PathBuf>,
) -> Option<AllowlistEntry> {
    let segments = split_segments(command)?;
    let [argv] = segments.as_slice() else {
        return None;
    };
    let exe = argv.first()?;
    let pattern = if exe.contains('/') {
        exe.clone()
    } else {
        resolve(exe)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| exe.clone())
    };
    let args = argv[1..].join(" ");
    Some(AllowlistEntry {
        pattern,
        arg_pattern: Some(format!("^{}$", fancy_regex::escape(&args))),
        source: Some("allow-always".into()),
        ..AllowlistEntry::default()
    })
}

/// What to do with a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalDecision {
    /// Run it.
    Allow,
    /// Refuse it; the reason names the config key or file to change.
    Deny(String),
    /// Ask a human (`exec.approval.requested`); if nobody answers in time, run it only
    /// when `allow_on_timeout` (from `askFallback`).
    Ask {
        /// What an unanswered prompt resolves to.
        allow_on_timeout: bool,
        /// Whether the allowlist matched (so `always` asked anyway).
        allowlisted: bool,
    },
}

/// Security and ask after the approvals file tightened the config, plus `askFallback`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effective {
    /// Effective security.
    pub security: ExecSecurity,
    /// Effective ask.
    pub ask: ExecAsk,
    /// Effective askFallback.
    pub ask_fallback: ExecSecurity,
}

fn security_rank(s: ExecSecurity) -> u8 {
    match s {
        ExecSecurity::Full => 0,
        ExecSecurity::Allowlist => 1,
        ExecSecurity::Deny => 2,
    }
}

fn ask_rank(a: ExecAsk) -> u8 {
    match a {
        ExecAsk::Off => 0,
        ExecAsk::OnMiss => 1,
        ExecAsk::Always => 2,
    }
}

/// The stricter of the config's exec settings and the file's policy for `agent_id`
/// (its own block, else `defaults`).
pub fn effective(settings: &ExecSettings, file: &ApprovalsFile, agent_id: &str) -> Effective {
    let own = file.agents.get(agent_id).map(|a| &a.policy);
    let pick = |f: fn(&HostPolicy) -> Option<ExecSecurity>| {
        own.and_then(f).or(file.defaults.as_ref().and_then(f))
    };
    let mut security = settings.security;
    if let Some(s) = pick(|p| p.security)
        && security_rank(s) > security_rank(security)
    {
        security = s;
    }
    let mut ask = settings.ask;
    let file_ask = own
        .and_then(|p| p.ask)
        .or(file.defaults.as_ref().and_then(|p| p.ask));
    if let Some(a) = file_ask
        && ask_rank(a) > ask_rank(ask)
    {
        ask = a;
    }
    Effective {
        security,
        ask,
        ask_fallback: pick(|p| p.ask_fallback).unwrap_or(ExecSecurity::Deny),
    }
}

/// The decision for `command` (pure). `resolve` finds a bare command name in the
/// command's `PATH` (the caller's lookup; tests pass a table).
pub fn decide(
    eff: &Effective,
    allowlist: &[AllowlistEntry],
    command: &str,
    resolve: &dyn Fn(&str) -> Option<PathBuf>,
) -> ApprovalDecision {
    if eff.security == ExecSecurity::Deny {
        return ApprovalDecision::Deny(
            "exec is disabled: tools.exec.security is \"deny\" (or the exec approvals file sets it); set tools.exec.security to \"allowlist\" or \"full\" to allow commands".into(),
        );
    }
    let allowlisted = matches(allowlist, command, resolve);
    let fallback = match eff.ask_fallback {
        ExecSecurity::Deny => false,
        ExecSecurity::Allowlist => allowlisted,
        ExecSecurity::Full => true,
    };
    if eff.ask == ExecAsk::Always {
        return ApprovalDecision::Ask {
            allow_on_timeout: fallback,
            allowlisted,
        };
    }
    match eff.security {
        ExecSecurity::Full => ApprovalDecision::Allow,
        _ if allowlisted => ApprovalDecision::Allow,
        _ if eff.ask == ExecAsk::OnMiss => ApprovalDecision::Ask {
            allow_on_timeout: fallback,
            allowlisted,
        },
        _ => ApprovalDecision::Deny(
            "the command is not in the exec allowlist (tools.exec.security is \"allowlist\"); add it with `openclaw approvals allow`, or set tools.exec.ask to \"on-miss\" to be asked".into(),
        ),
    }
}

/// Whether every top-level segment of `command` matches some entry.
pub fn matches(
    allowlist: &[AllowlistEntry],
    command: &str,
    resolve: &dyn Fn(&str) -> Option<PathBuf>,
) -> bool {
    if allowlist.is_empty() {
        return false;
    }
    let Some(segments) = split_segments(command) else {
        return false;
    };
    !segments.is_empty()
        && segments
            .iter()
            .all(|argv| allowlist.iter().any(|e| entry_matches(e, argv, resolve)))
}

fn entry_matches(
    e: &AllowlistEntry,
    argv: &[String],
    resolve: &dyn Fn(&str) -> Option<PathBuf>,
) -> bool {
    let Some(exe) = argv.first() else {
        return false;
    };
    let home = std::env::var("HOME").ok();
    let pattern = match (e.pattern.strip_prefix("~/"), &home) {
        (Some(rest), Some(h)) => format!("{h}/{rest}"),
        _ => e.pattern.clone(),
    };
    let path_ok = if pattern.contains('/') {
        let resolved = if exe.contains('/') {
            Some(PathBuf::from(exe))
        } else {
            resolve(exe)
        };
        resolved.is_some_and(|p| path_glob(&pattern, &p.display().to_string()))
    } else {
        !exe.contains('/') && path_glob(&pattern, exe)
    };
    if !path_ok {
        return false;
    }
    match &e.arg_pattern {
        None => true,
        Some(p) if p.starts_with("sha256:") => false,
        Some(p) => fancy_regex::Regex::new(p)
            .ok()
            .and_then(|re| re.is_match(&argv[1..].join(" ")).ok())
            .unwrap_or(false),
    }
}

/// Glob over a path: `**` any characters, `*` any except `/`, `?` one except `/`.
fn path_glob(glob: &str, text: &str) -> bool {
    fn go(g: &[u8], t: &[u8]) -> bool {
        match g.first() {
            None => t.is_empty(),
            Some(b'*') if g.get(1) == Some(&b'*') => {
                let rest = &g[2..];
                (0..=t.len()).any(|i| go(rest, &t[i..]))
            }
            Some(b'*') => {
                let rest = &g[1..];
                for i in 0..=t.len() {
                    if go(rest, &t[i..]) {
                        return true;
                    }
                    if t.get(i) == Some(&b'/') {
                        break;
                    }
                }
                false
            }
            Some(b'?') => t.first().is_some_and(|&c| c != b'/') && go(&g[1..], &t[1..]),
            Some(&c) => t.first() == Some(&c) && go(&g[1..], &t[1..]),
        }
    }
    go(glob.as_bytes(), text.as_bytes())
}

/// Splits a shell command into top-level simple commands (argv each), or `None` when
/// it uses anything that cannot be allowlisted: redirections, `$(…)` / backticks,
/// subshells, `&` backgrounding, variable expansion in the command name, or leading
/// `VAR=value` assignments.
fn split_segments(command: &str) -> Option<Vec<Vec<String>>> {
    let mut segments: Vec<Vec<String>> = Vec::new();
    let mut argv: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    let end_word = |argv: &mut Vec<String>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            argv.push(std::mem::take(word));
            *in_word = false;
        }
    };
    let end_segment = |segments: &mut Vec<Vec<String>>, argv: &mut Vec<String>| -> bool {
        if argv.is_empty() {
            return false;
        }
        segments.push(std::mem::take(argv));
        true
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => word.push(ch),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => word.push(chars.next()?),
                        ch => word.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next()? {
                    '\n' => {}
                    ch => word.push(ch),
                }
            }
            ' ' | '\t' => end_word(&mut argv, &mut word, &mut in_word),
            '\n' | ';' => {
                end_word(&mut argv, &mut word, &mut in_word);
                if !argv.is_empty() {
                    end_segment(&mut segments, &mut argv);
                }
            }
            '|' | '&' => {
                end_word(&mut argv, &mut word, &mut in_word);
                let doubled = chars.peek() == Some(&c);
                if c == '&' && !doubled {
                    return None; // backgrounding
                }
                if doubled {
                    chars.next();
                }
                if !end_segment(&mut segments, &mut argv) {
                    return None;
                }
            }
            // Redirections, substitutions, subshells, groups and unquoted globs.
            '<' | '>' | '(' | ')' | '`' | '$' | '{' | '}' | '*' | '?' | '[' => return None,
            // A leading `~` expands, a leading `#` starts a comment.
            '~' | '#' if !in_word => return None,
            ch => {
                in_word = true;
                word.push(ch);
            }
        }
    }
    end_word(&mut argv, &mut word, &mut in_word);
    if !argv.is_empty() {
        segments.push(argv);
    }
    for s in &segments {
        if s[0].contains('=') {
            return None;
        }
    }
    Some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: &str) -> Option<PathBuf> {
        ["git", "rg", "ls", "echo"]
            .contains(&name)
            .then(|| PathBuf::from(format!("/usr/bin/{name}")))
    }

    fn entry(pattern: &str, arg: Option<&str>) -> AllowlistEntry {
        AllowlistEntry {
            pattern: pattern.into(),
            arg_pattern: arg.map(str::to_owned),
            ..AllowlistEntry::default()
        }
    }

    fn settings(security: ExecSecurity, ask: ExecAsk) -> Effective {
        effective(
            &ExecSettings {
                security,
                ask,
                timeout_seconds: 1800,
                path_prepend: vec![],
                approval_timeout_seconds: 120,
            },
            &ApprovalsFile::default(),
            "main",
        )
    }

    #[test]
    fn segments() {
        assert_eq!(
            split_segments("git status && rg -n 'a b' | ls").unwrap(),
            [vec!["git", "status"], vec!["rg", "-n", "a b"], vec!["ls"]]
        );
        assert_eq!(split_segments("echo \"x y\"; ls\nls").unwrap().len(), 3);
        for bad in [
            "echo hi > f",
            "cat < f",
            "echo $(id)",
            "echo `id`",
            "echo $HOME",
            "(ls)",
            "sleep 1 &",
            "FOO=1 ls",
            "ls *",
            "echo 'unterminated",
            "&& ls",
        ] {
            assert!(split_segments(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn allowlist_matching_rules() {
        let list = [entry("rg", None), entry("/usr/bin/g*", None)];
        assert!(matches(&list, "rg foo", &resolve));
        assert!(matches(&list, "git log | rg x", &resolve));
        assert!(
            !matches(&list, "./rg foo", &resolve),
            "bare names only via PATH"
        );
        assert!(!matches(&list, "ls", &resolve));
        assert!(!matches(&list, "rg x && ls", &resolve), "every segment");
        assert!(!matches(&list, "rg x > out", &resolve), "redirections");
        let deep = [entry("/opt/**/bin/tool", None)];
        assert!(matches(&deep, "/opt/a/b/bin/tool -v", &resolve));
        assert!(!matches(
            &[entry("/opt/*/bin/tool", None)],
            "/opt/a/b/bin/tool",
            &resolve
        ));
        let args = [entry("git", Some("^status$"))];
        assert!(matches(&args, "git status", &resolve));
        assert!(!matches(&args, "git push", &resolve));
        assert!(!matches(
            &[entry("git", Some("sha256:argv:abc"))],
            "git status",
            &resolve
        ));
    }

    #[test]
    fn decisions() {
        let list = [entry("git", None)];
        let d = decide(
            &settings(ExecSecurity::Deny, ExecAsk::Off),
            &list,
            "git status",
            &resolve,
        );
        assert!(
            matches!(&d, ApprovalDecision::Deny(r) if r.contains("tools.exec.security")),
            "{d:?}"
        );
        assert_eq!(
            decide(
                &settings(ExecSecurity::Full, ExecAsk::Off),
                &[],
                "rm -rf x",
                &resolve
            ),
            ApprovalDecision::Allow
        );
        assert_eq!(
            decide(
                &settings(ExecSecurity::Full, ExecAsk::OnMiss),
                &[],
                "anything",
                &resolve
            ),
            ApprovalDecision::Allow
        );
        assert_eq!(
            decide(
                &settings(ExecSecurity::Full, ExecAsk::Always),
                &list,
                "git status",
                &resolve
            ),
            ApprovalDecision::Ask {
                allow_on_timeout: false,
                allowlisted: true
            }
        );
        let s = settings(ExecSecurity::Allowlist, ExecAsk::Off);
        assert_eq!(
            decide(&s, &list, "git status", &resolve),
            ApprovalDecision::Allow
        );
        let d = decide(&s, &list, "ls", &resolve);
        assert!(
            matches!(&d, ApprovalDecision::Deny(r) if r.contains("allowlist")),
            "{d:?}"
        );
        let s = settings(ExecSecurity::Allowlist, ExecAsk::OnMiss);
        assert_eq!(
            decide(&s, &list, "git status", &resolve),
            ApprovalDecision::Allow
        );
        assert_eq!(
            decide(&s, &list, "ls", &resolve),
            ApprovalDecision::Ask {
                allow_on_timeout: false,
                allowlisted: false
            }
        );
    }

    #[test]
    fn file_only_tightens() {
        let cfg = ExecSettings {
            security: ExecSecurity::Full,
            ask: ExecAsk::Off,
            timeout_seconds: 1,
            path_prepend: vec![],
            approval_timeout_seconds: 120,
        };
        let file: ApprovalsFile = serde_json::from_str(
            r#"{ "version": 1, "socket": { "path": "/x" },
                 "defaults": { "security": "allowlist", "ask": "on-miss", "askFallback": "allowlist" },
                 "agents": { "main": { "ask": "always", "allowlist": [{ "pattern": "git", "lastResolvedPath": "/usr/bin/git" }] } } }"#,
        )
        .unwrap();
        let e = effective(&cfg, &file, "main");
        assert_eq!(e.security, ExecSecurity::Allowlist);
        assert_eq!(e.ask, ExecAsk::Always);
        assert_eq!(e.ask_fallback, ExecSecurity::Allowlist);
        assert_eq!(
            decide(&e, file.allowlist("main"), "git log", &resolve),
            ApprovalDecision::Ask {
                allow_on_timeout: true,
                allowlisted: true
            }
        );
        // A looser file does not loosen the config.
        let loose: ApprovalsFile = serde_json::from_str(
            r#"{ "version": 1, "defaults": { "security": "full", "ask": "off" } }"#,
        )
        .unwrap();
        let strict = ExecSettings {
            security: ExecSecurity::Deny,
            ask: ExecAsk::Always,
            ..cfg
        };
        let e = effective(&strict, &loose, "other");
        assert_eq!((e.security, e.ask), (ExecSecurity::Deny, ExecAsk::Always));
        // Unknown fields survive a round trip.
        let v = serde_json::to_value(&file).unwrap();
        assert_eq!(v["socket"]["path"], "/x");
        assert_eq!(
            v["agents"]["main"]["allowlist"][0]["lastResolvedPath"],
            "/usr/bin/git"
        );
    }

    #[test]
    fn store_add_remove_round_trip() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalsStore::new(dir.path());
        assert!(store.load().unwrap().agents.is_empty());
        let e = allow_always_entry("git status --short", &resolve).unwrap();
        assert_eq!(e.pattern, "/usr/bin/git");
        let arg = e.arg_pattern.clone().unwrap();
        assert!(arg.starts_with('^') && arg.ends_with('$'), "{arg}");
        let stored = store.add("main", e).unwrap();
        assert!(stored.id.is_some());
        store.add("main", entry("rg", None)).unwrap();
        let doc = store.load().unwrap();
        assert_eq!(doc.version, 1);
        let list = doc.allowlist("main");
        assert_eq!(list.len(), 2);
        assert!(matches(list, "git status --short", &resolve));
        assert!(!matches(list, "git status", &resolve));
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(store.remove("main", "rg").unwrap(), 1);
        assert_eq!(
            store.remove("main", stored.id.as_deref().unwrap()).unwrap(),
            1
        );
        assert!(store.load().unwrap().allowlist("main").is_empty());
        assert!(allow_always_entry("a && b", &resolve).is_none());
        std::fs::write(store.path(), "{ nope").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("not a valid exec approvals file"), "{err}");
    }
}
