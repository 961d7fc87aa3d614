//! The effective tool policy of one run: which tools an agent may call, and why not.
//!
//! Layers, in OpenClaw's order (each can only take tools away, never give back what an
//! earlier layer removed):
//!
//! 1. the profile (`agents.list[].tools.profile`, else `tools.profile`; unset or `full`
//!    means no restriction), widened by `tools.alsoAllow` and the agent's `alsoAllow`;
//! 2. `tools.allow`, `tools.deny`;
//! 3. `agents.list[].tools.allow`, `agents.list[].tools.deny`;
//! 4. only for sandboxed sessions: the agent's `tools.sandbox.tools` if it sets one,
//!    else `tools.sandbox.tools`, else the sandbox defaults ([`SANDBOX_DEFAULT_ALLOW`],
//!    [`SANDBOX_DEFAULT_DENY`]); `alsoAllow` there extends the default allowlist.
//!
//! Entries are tool names, `group:*` shorthands ([`GROUPS`]), case-insensitive `*` globs,
//! or a name followed by `:` and a qualifier (`exec:*`, the runbooks' form). A qualifier
//! cannot be checked at the tool level, so in a deny list any qualified entry denies the
//! whole tool (`exec:*` and `exec:rm *` both block `exec`), and in an allow list only
//! `name:*` counts (a narrower `exec:git *` grants nothing, rather than all of exec).
//! `bash` is an alias of `exec`; allowing `write` also allows `apply_patch` (denying
//! `write` does not deny it). Unknown names are accepted and simply match nothing.
//!
//! Deny wins: a tool matched by any deny list is denied even if an allow list names it,
//! and the denial names that deny entry. Everything here is pure; build a [`Policy`]
//! once per config snapshot and reuse it for every call.

use openclaw_config::{AgentToolsConfig, Config, ToolLists, ToolProfile, ToolsConfig};
use serde::Serialize;

/// Tool groups usable as `group:<name>` in any list (OpenClaw's table).
pub const GROUPS: &[(&str, &[&str])] = &[
    ("group:runtime", &["exec", "process", "code_execution"]),
    ("group:fs", &["read", "write", "edit", "apply_patch"]),
    (
        "group:sessions",
        &[
            "sessions",
            "sessions_list",
            "sessions_history",
            "sessions_search",
            "conversations_list",
            "conversations_send",
            "conversations_turn",
            "sessions_send",
            "sessions_spawn",
            "sessions_yield",
            "subagents",
            "session_status",
            "suggest_task",
            "dismiss_task",
        ],
    ),
    ("group:memory", &["memory_search", "memory_get"]),
    ("group:web", &["web_search", "x_search", "web_fetch"]),
    (
        "group:ui",
        &[
            "browser",
            "screen",
            "dashboard",
            "terminal",
            "portal",
            "canvas",
            "show_widget",
        ],
    ),
    (
        "group:automation",
        &["heartbeat_respond", "cron", "gateway"],
    ),
    ("group:messaging", &["message"]),
    ("group:nodes", &["nodes", "computer"]),
    (
        "group:agents",
        &[
            "agents_list",
            "get_goal",
            "create_goal",
            "update_goal",
            "progress_card",
            "ask_user",
            "skill_workshop",
        ],
    ),
    (
        "group:media",
        &[
            "image",
            "image_generate",
            "music_generate",
            "video_generate",
            "tts",
        ],
    ),
    (
        "group:openclaw",
        &[
            "sessions",
            "sessions_list",
            "sessions_history",
            "sessions_search",
            "conversations_list",
            "conversations_send",
            "conversations_turn",
            "sessions_send",
            "sessions_spawn",
            "sessions_yield",
            "subagents",
            "session_status",
            "suggest_task",
            "dismiss_task",
            "memory_search",
            "memory_get",
            "web_search",
            "x_search",
            "web_fetch",
            "browser",
            "screen",
            "dashboard",
            "terminal",
            "portal",
            "show_widget",
            "heartbeat_respond",
            "cron",
            "gateway",
            "message",
            "nodes",
            "computer",
            "agents_list",
            "get_goal",
            "create_goal",
            "update_goal",
            "progress_card",
            "ask_user",
            "skill_workshop",
            "image",
            "image_generate",
            "music_generate",
            "video_generate",
            "tts",
        ],
    ),
];

/// `tools.profile: "minimal"`.
pub const PROFILE_MINIMAL: &[&str] = &["session_status"];
/// `tools.profile: "coding"`.
pub const PROFILE_CODING: &[&str] = &[
    "group:fs",
    "group:runtime",
    "group:web",
    "group:sessions",
    "group:memory",
    "cron",
    "get_goal",
    "create_goal",
    "update_goal",
    "progress_card",
    "ask_user",
    "skill_workshop",
    "image",
    "image_generate",
    "music_generate",
    "video_generate",
];
/// `tools.profile: "messaging"`.
pub const PROFILE_MESSAGING: &[&str] = &[
    "group:messaging",
    "sessions",
    "sessions_list",
    "sessions_history",
    "sessions_search",
    "conversations_list",
    "conversations_send",
    "conversations_turn",
    "sessions_send",
    "sessions_spawn",
    "sessions_yield",
    "subagents",
    "session_status",
    "ask_user",
];

/// What a sandboxed session may use when no `tools.sandbox.tools.allow` is configured
/// (OpenClaw's sandbox defaults: files, runtime and session inspection; web and
/// messaging tools must be added with `tools.sandbox.tools.alsoAllow`).
pub const SANDBOX_DEFAULT_ALLOW: &[&str] = &[
    "group:fs",
    "group:runtime",
    "image",
    "sessions_list",
    "sessions_history",
    "sessions_send",
    "sessions_spawn",
    "session_status",
];
/// What a sandboxed session may never use unless `tools.sandbox.tools.deny` is set
/// (which replaces this list).
pub const SANDBOX_DEFAULT_DENY: &[&str] = &["browser", "canvas", "nodes", "cron", "gateway"];

/// The canonical id of a tool name as the policy sees it: lower case, `bash` → `exec`.
pub fn canonical_tool(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "bash" {
        "exec".to_owned()
    } else {
        lower
    }
}

/// Case-insensitive match of `name` against `glob`, where `*` matches any run of
/// characters (both already lower case).
fn glob_match(glob: &str, name: &str) -> bool {
    let (g, n) = (glob.as_bytes(), name.as_bytes());
    let (mut gi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if gi < g.len() && g[gi] == b'*' {
            star = Some((gi, ni));
            gi += 1;
        } else if gi < g.len() && g[gi] == n[ni] {
            gi += 1;
            ni += 1;
        } else if let Some((sg, sn)) = star {
            gi = sg + 1;
            ni = sn + 1;
            star = Some((sg, sn + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&c| c == b'*')
}

/// One list entry, parsed.
#[derive(Clone, Debug)]
struct Pattern {
    /// As written, for messages.
    raw: String,
    /// Tool-name part, lower case (`bash` rewritten to `exec`).
    name: String,
    /// Text after `:`, when the entry is qualified (`group:` is not a qualifier).
    qualifier: Option<String>,
}

impl Pattern {
    fn parse(raw: &str) -> Pattern {
        let lower = raw.trim().to_ascii_lowercase();
        let (name, qualifier) = if lower.starts_with("group:") {
            (lower, None)
        } else {
            match lower.split_once(':') {
                Some((n, q)) => (n.to_owned(), Some(q.to_owned())),
                None => (lower, None),
            }
        };
        let name = if name == "bash" {
            "exec".to_owned()
        } else {
            name
        };
        Pattern {
            raw: raw.to_owned(),
            name,
            qualifier,
        }
    }

    /// Whether the name part covers `tool` (canonical).
    fn name_matches(&self, tool: &str) -> bool {
        if self.name.starts_with("group:") {
            return GROUPS
                .iter()
                .find(|(g, _)| *g == self.name)
                .is_some_and(|(_, members)| members.contains(&tool));
        }
        glob_match(&self.name, tool)
    }

    /// As a deny entry: any qualifier denies the whole tool.
    fn denies(&self, tool: &str) -> bool {
        self.name_matches(tool)
    }

    /// As an allow entry: only an unqualified or `:*` entry grants; `write` grants
    /// `apply_patch` too.
    fn allows(&self, tool: &str) -> bool {
        if self.qualifier.as_deref().is_some_and(|q| q != "*") {
            return false;
        }
        self.name_matches(tool) || (tool == "apply_patch" && self.name_matches("write"))
    }
}

fn patterns(list: &[impl AsRef<str>]) -> Vec<Pattern> {
    list.iter().map(|s| Pattern::parse(s.as_ref())).collect()
}

/// Whether a layer is an allowlist (tools not matched are removed) or a denylist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// Only matched tools pass.
    Allow,
    /// Matched tools are removed.
    Deny,
}

/// One gate of the policy.
#[derive(Clone, Debug)]
struct Layer {
    kind: LayerKind,
    /// The config key (or default) the gate comes from, e.g. `tools.deny` or
    /// `tools.profile "minimal"`.
    source: String,
    entries: Vec<Pattern>,
}

/// Why a tool was refused: the config key and, for deny lists, the entry that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// Allow gate the tool is missing from, or deny list that names it.
    pub kind: LayerKind,
    /// Config key of the gate, e.g. `tools.deny`, `agents.list[1].tools.allow`,
    /// `tools.profile "minimal"`, `tools.sandbox.tools.deny`.
    pub key: String,
    /// The deny entry that matched, as written (`"exec:*"`); `None` for allow gates.
    pub entry: Option<String>,
}

impl std::fmt::Display for Denial {
    /// `denied by tools.deny ("exec:*")` or `not allowed by tools.profile "minimal"`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.kind, &self.entry) {
            (LayerKind::Deny, Some(e)) => write!(f, "denied by {} ({e:?})", self.key),
            (LayerKind::Deny, None) => write!(f, "denied by {}", self.key),
            (LayerKind::Allow, _) => write!(f, "not allowed by {}", self.key),
        }
    }
}

/// The verdict for one tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The tool may be offered and called.
    Allow,
    /// Refused, with the reason to show the model and the operator.
    Deny(Denial),
}

impl Decision {
    /// Whether the tool is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// The effective policy of one agent in one session kind (sandboxed or not).
#[derive(Clone, Debug)]
pub struct Policy {
    sandboxed: bool,
    layers: Vec<Layer>,
}

/// One tool's line in [`Explanation`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolVerdict {
    /// Tool name.
    pub name: String,
    /// Whether it is allowed.
    pub allowed: bool,
    /// For an allowed tool, the gates it passed (`tools.profile "coding"` …, or
    /// `no restriction`); for a denied one, the denial.
    pub reason: String,
}

/// One gate in [`Explanation`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerExplanation {
    /// Allow or deny.
    pub kind: LayerKind,
    /// Config key (or default) it comes from.
    pub source: String,
    /// Its entries as written.
    pub entries: Vec<String>,
}

/// What `openclaw sandbox explain` prints about tools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Whether the sandbox layer applies.
    pub sandboxed: bool,
    /// The gates in order.
    pub layers: Vec<LayerExplanation>,
    /// The verdict for each tool asked about, in the order given.
    pub tools: Vec<ToolVerdict>,
    /// The allowed tool names (a subset of `tools`).
    pub allowed: Vec<String>,
}

fn profile_set(p: ToolProfile) -> Option<&'static [&'static str]> {
    match p {
        ToolProfile::Minimal => Some(PROFILE_MINIMAL),
        ToolProfile::Coding => Some(PROFILE_CODING),
        ToolProfile::Messaging => Some(PROFILE_MESSAGING),
        ToolProfile::Full => None,
    }
}

impl Policy {
    /// The policy of `agent_id` (looked up in `agents.list`; an unlisted id gets only the
    /// global layers) for a session that is `sandboxed` or not.
    pub fn resolve(config: &Config, agent_id: &str, sandboxed: bool) -> Policy {
        let global = config.tools.as_ref();
        let agent = config
            .agents
            .as_ref()
            .and_then(|a| a.entry(agent_id))
            .and_then(|(i, e)| e.tools.as_ref().map(|t| (i, t)));
        Policy::from_parts(global, agent, sandboxed)
    }

    /// [`Policy::resolve`] from the pieces: the global `tools` section and the agent's
    /// `tools` block with its index in `agents.list`.
    pub fn from_parts(
        global: Option<&ToolsConfig>,
        agent: Option<(usize, &AgentToolsConfig)>,
        sandboxed: bool,
    ) -> Policy {
        let mut layers = Vec::new();
        let agent_key = |i: usize, k: &str| format!("agents.list[{i}].tools.{k}");
        let g_lists = global.map(ToolsConfig::lists).unwrap_or_default();
        let a_lists = agent.map(|(_, a)| a.lists()).unwrap_or_default();

        // 1. Profile, widened by alsoAllow of both scopes.
        let profile = match (agent.and_then(|(i, a)| a.profile.map(|p| (i, p))), global) {
            (Some((i, p)), _) => Some((agent_key(i, "profile"), p)),
            (None, Some(g)) => g.profile.map(|p| ("tools.profile".to_owned(), p)),
            (None, None) => None,
        };
        if let Some((key, p)) = profile
            && let Some(set) = profile_set(p)
        {
            let mut entries = patterns(set);
            entries.extend(patterns(g_lists.also_allow.as_deref().unwrap_or_default()));
            entries.extend(patterns(a_lists.also_allow.as_deref().unwrap_or_default()));
            layers.push(Layer {
                kind: LayerKind::Allow,
                source: format!("{key} {:?}", p.as_str()),
                entries,
            });
        }
        // 2-3. Global then per-agent allow / deny.
        let mut push_lists = |lists: &ToolLists, prefix: &dyn Fn(&str) -> String| {
            if let Some(allow) = &lists.allow {
                layers.push(Layer {
                    kind: LayerKind::Allow,
                    source: prefix("allow"),
                    entries: patterns(allow),
                });
            }
            if let Some(deny) = &lists.deny {
                layers.push(Layer {
                    kind: LayerKind::Deny,
                    source: prefix("deny"),
                    entries: patterns(deny),
                });
            }
        };
        push_lists(&g_lists, &|k| format!("tools.{k}"));
        if let Some((i, _)) = agent {
            push_lists(&a_lists, &|k| agent_key(i, k));
        }
        // 4. Sandbox layer.
        if sandboxed {
            let agent_sb = agent.and_then(|(i, a)| {
                a.sandbox
                    .as_ref()
                    .filter(|s| !s.is_empty())
                    .map(|s| (format!("agents.list[{i}].tools.sandbox.tools"), s))
            });
            let chosen = agent_sb.or_else(|| {
                global
                    .and_then(|g| g.sandbox.as_ref())
                    .filter(|s| !s.is_empty())
                    .map(|s| ("tools.sandbox.tools".to_owned(), s))
            });
            let (prefix, lists) = match chosen {
                Some((p, s)) => (Some(p), s.tools.clone()),
                None => (None, ToolLists::default()),
            };
            let (allow_source, allow) = match (&prefix, &lists.allow) {
                (Some(p), Some(a)) => (format!("{p}.allow"), patterns(a)),
                (p, _) => {
                    let mut e = patterns(SANDBOX_DEFAULT_ALLOW);
                    e.extend(patterns(lists.also_allow.as_deref().unwrap_or_default()));
                    let src = match (p, &lists.also_allow) {
                        (Some(p), Some(_)) => {
                            format!("the sandbox default allowlist + {p}.alsoAllow")
                        }
                        _ => "the sandbox default allowlist (extend it with tools.sandbox.tools.alsoAllow)".to_owned(),
                    };
                    (src, e)
                }
            };
            layers.push(Layer {
                kind: LayerKind::Allow,
                source: allow_source,
                entries: allow,
            });
            let (deny_source, deny) = match (&prefix, &lists.deny) {
                (Some(p), Some(d)) => (format!("{p}.deny"), patterns(d)),
                _ => (
                    "the sandbox default denylist (replace it with tools.sandbox.tools.deny)"
                        .to_owned(),
                    patterns(SANDBOX_DEFAULT_DENY),
                ),
            };
            layers.push(Layer {
                kind: LayerKind::Deny,
                source: deny_source,
                entries: deny,
            });
        }
        Policy { sandboxed, layers }
    }

    /// Whether the sandbox layer is part of this policy.
    pub fn sandboxed(&self) -> bool {
        self.sandboxed
    }

    /// The verdict for `tool`: denied by the first deny list naming it (deny wins over
    /// every allow), else by the first allow gate it is missing from, else allowed.
    pub fn decide(&self, tool: &str) -> Decision {
        let tool = canonical_tool(tool);
        for l in self.layers.iter().filter(|l| l.kind == LayerKind::Deny) {
            if let Some(p) = l.entries.iter().find(|p| p.denies(&tool)) {
                return Decision::Deny(Denial {
                    kind: LayerKind::Deny,
                    key: l.source.clone(),
                    entry: Some(p.raw.clone()),
                });
            }
        }
        for l in self.layers.iter().filter(|l| l.kind == LayerKind::Allow) {
            if !l.entries.iter().any(|p| p.allows(&tool)) {
                return Decision::Deny(Denial {
                    kind: LayerKind::Allow,
                    key: l.source.clone(),
                    entry: None,
                });
            }
        }
        Decision::Allow
    }

    /// The names in `tools` that are allowed, in order: what is sent to the model.
    pub fn filter<'a>(&self, tools: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        tools
            .into_iter()
            .filter(|t| self.decide(t).is_allowed())
            .collect()
    }

    /// Every gate and the verdict for each of `tools` (usually the registry's names).
    pub fn explain<'a>(&self, tools: impl IntoIterator<Item = &'a str>) -> Explanation {
        let layers = self
            .layers
            .iter()
            .map(|l| LayerExplanation {
                kind: l.kind,
                source: l.source.clone(),
                entries: l.entries.iter().map(|p| p.raw.clone()).collect(),
            })
            .collect();
        let mut verdicts = Vec::new();
        let mut allowed = Vec::new();
        for name in tools {
            let v = match self.decide(name) {
                Decision::Allow => {
                    allowed.push(name.to_owned());
                    let passed: Vec<&str> = self
                        .layers
                        .iter()
                        .filter(|l| l.kind == LayerKind::Allow)
                        .map(|l| l.source.as_str())
                        .collect();
                    ToolVerdict {
                        name: name.to_owned(),
                        allowed: true,
                        reason: if passed.is_empty() {
                            "no restriction (no profile or allowlist; not in any deny list)"
                                .to_owned()
                        } else {
                            format!(
                                "allowed by {}; not in any deny list",
                                passed.join(", then ")
                            )
                        },
                    }
                }
                Decision::Deny(d) => ToolVerdict {
                    name: name.to_owned(),
                    allowed: false,
                    reason: d.to_string(),
                },
            };
            verdicts.push(v);
        }
        Explanation {
            sandboxed: self.sandboxed,
            layers,
            tools: verdicts,
            allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &[
        "read",
        "write",
        "edit",
        "apply_patch",
        "exec",
        "process",
        "web_fetch",
        "message",
        "sessions_list",
        "sessions_history",
        "session_status",
        "agents_list",
    ];

    fn config(raw: &str) -> Config {
        openclaw_config::parse_str(raw, &|_| None).unwrap()
    }

    fn allowed(raw: &str, agent: &str, sandboxed: bool) -> Vec<&'static str> {
        Policy::resolve(&config(raw), agent, sandboxed).filter(ALL.iter().copied())
    }

    #[test]
    fn no_config_allows_everything() {
        assert_eq!(allowed("{}", "main", false), ALL);
    }

    #[test]
    fn glob_matching() {
        assert!(glob_match("*", "exec"));
        assert!(glob_match("sessions_*", "sessions_list"));
        assert!(glob_match("*_list", "agents_list"));
        assert!(glob_match("se*on_st*", "session_status"));
        assert!(!glob_match("sessions_*", "session_status"));
        assert!(!glob_match("exec", "execute"));
        assert!(glob_match("**", ""));
    }

    #[test]
    fn seed_deny_of_qualified_entries_blocks_the_whole_tool() {
        let p = Policy::resolve(
            &config(r#"{ tools: { deny: ["exec:*", "browser:*"] } }"#),
            "main",
            false,
        );
        let d = p.decide("exec");
        assert_eq!(
            d,
            Decision::Deny(Denial {
                kind: LayerKind::Deny,
                key: "tools.deny".into(),
                entry: Some("exec:*".into())
            })
        );
        let Decision::Deny(d) = d else { unreachable!() };
        assert_eq!(d.to_string(), r#"denied by tools.deny ("exec:*")"#);
        assert!(!p.decide("bash").is_allowed(), "bash is exec");
        assert!(!p.decide("EXEC").is_allowed(), "case-insensitive");
        assert!(!p.decide("browser").is_allowed());
        assert!(p.decide("read").is_allowed());
        assert!(p.decide("process").is_allowed());
        // Any qualifier in a deny list denies the whole tool.
        let p = Policy::resolve(
            &config(r#"{ tools: { deny: ["exec:rm *"] } }"#),
            "main",
            false,
        );
        assert!(!p.decide("exec").is_allowed());
    }

    #[test]
    fn profiles_and_also_allow() {
        assert_eq!(
            allowed(r#"{ tools: { profile: "minimal" } }"#, "main", false),
            ["session_status"]
        );
        let p = Policy::resolve(
            &config(r#"{ tools: { profile: "minimal" } }"#),
            "main",
            false,
        );
        let Decision::Deny(d) = p.decide("exec") else {
            panic!()
        };
        assert_eq!(d.to_string(), r#"not allowed by tools.profile "minimal""#);
        assert_eq!(
            allowed(r#"{ tools: { profile: "coding" } }"#, "main", false),
            [
                "read",
                "write",
                "edit",
                "apply_patch",
                "exec",
                "process",
                "web_fetch",
                "sessions_list",
                "sessions_history",
                "session_status"
            ]
        );
        assert_eq!(
            allowed(r#"{ tools: { profile: "messaging" } }"#, "main", false),
            [
                "message",
                "sessions_list",
                "sessions_history",
                "session_status"
            ]
        );
        assert_eq!(
            allowed(
                r#"{ tools: { profile: "minimal", alsoAllow: ["group:fs", "AGENTS_*"] } }"#,
                "main",
                false
            ),
            [
                "read",
                "write",
                "edit",
                "apply_patch",
                "session_status",
                "agents_list"
            ]
        );
        assert_eq!(
            allowed(r#"{ tools: { profile: "full" } }"#, "main", false),
            ALL
        );
    }

    #[test]
    fn allow_lists_groups_and_deny_wins() {
        assert_eq!(
            allowed(
                r#"{ tools: { allow: ["group:runtime", "read", "unknown_tool"], deny: ["process"] } }"#,
                "main",
                false
            ),
            ["read", "exec"]
        );
        // write implies apply_patch for allow, but deny write does not deny apply_patch.
        assert_eq!(
            allowed(r#"{ tools: { allow: ["write"] } }"#, "main", false),
            ["write", "apply_patch"]
        );
        assert_eq!(
            allowed(r#"{ tools: { deny: ["write"] } }"#, "main", false).len(),
            ALL.len() - 1
        );
        // A narrow qualifier in an allow list grants nothing; `:*` grants the tool.
        assert_eq!(
            allowed(
                r#"{ tools: { allow: ["exec:git *", "read:*"] } }"#,
                "main",
                false
            ),
            ["read"]
        );
        // Deny wins over allow, whatever the order of layers.
        let p = Policy::resolve(
            &config(r#"{ tools: { allow: ["exec"], deny: ["group:runtime"] } }"#),
            "main",
            false,
        );
        let Decision::Deny(d) = p.decide("exec") else {
            panic!()
        };
        assert_eq!(d.to_string(), r#"denied by tools.deny ("group:runtime")"#);
        let p = Policy::resolve(&config(r#"{ tools: { deny: ["*"] } }"#), "main", false);
        assert!(p.filter(ALL.iter().copied()).is_empty());
    }

    #[test]
    fn per_agent_layers() {
        let raw = r#"{ tools: { profile: "coding", deny: ["web_fetch"] },
                       agents: { list: [{ id: "main", default: true },
                                        { id: "family", tools: { profile: "messaging", deny: ["message"] } },
                                        { id: "ro", tools: { allow: ["read", "web_fetch"] } }] } }"#;
        assert_eq!(
            allowed(raw, "family", false),
            ["sessions_list", "sessions_history", "session_status"]
        );
        let p = Policy::resolve(&config(raw), "family", false);
        let Decision::Deny(d) = p.decide("message") else {
            panic!()
        };
        assert_eq!(
            d.to_string(),
            r#"denied by agents.list[1].tools.deny ("message")"#
        );
        let Decision::Deny(d) = p.decide("exec") else {
            panic!()
        };
        assert_eq!(
            d.to_string(),
            r#"not allowed by agents.list[1].tools.profile "messaging""#
        );
        // The agent cannot grant back what the global deny removed.
        assert_eq!(allowed(raw, "ro", false), ["read"]);
        let p = Policy::resolve(&config(raw), "ro", false);
        let Decision::Deny(d) = p.decide("exec") else {
            panic!()
        };
        assert_eq!(d.to_string(), "not allowed by agents.list[2].tools.allow");
        // An agent not in the list gets the global layers only.
        assert_eq!(allowed(raw, "ghost", false).len(), 9);
    }

    #[test]
    fn sandbox_layer_defaults_and_overrides() {
        assert_eq!(
            allowed("{}", "main", true),
            [
                "read",
                "write",
                "edit",
                "apply_patch",
                "exec",
                "process",
                "sessions_list",
                "sessions_history",
                "session_status"
            ]
        );
        let p = Policy::resolve(&config("{}"), "main", true);
        let Decision::Deny(d) = p.decide("web_fetch") else {
            panic!()
        };
        assert!(d.key.contains("sandbox default allowlist"), "{d}");
        assert!(!p.decide("browser").is_allowed());
        // alsoAllow extends the default allowlist.
        let raw = r#"{ tools: { sandbox: { tools: { alsoAllow: ["web_fetch", "message"], deny: ["exec"] } } } }"#;
        assert_eq!(
            allowed(raw, "main", true),
            [
                "read",
                "write",
                "edit",
                "apply_patch",
                "process",
                "web_fetch",
                "message",
                "sessions_list",
                "sessions_history",
                "session_status"
            ]
        );
        let p = Policy::resolve(&config(raw), "main", true);
        let Decision::Deny(d) = p.decide("exec") else {
            panic!()
        };
        assert_eq!(
            d.to_string(),
            r#"denied by tools.sandbox.tools.deny ("exec")"#
        );
        // The sandbox layer only applies to sandboxed sessions.
        assert_eq!(allowed(raw, "main", false), ALL);
        // A per-agent sandbox.tools replaces the global one.
        let raw = r#"{ tools: { sandbox: { tools: { deny: ["read"] } } },
                       agents: { list: [{ id: "a", tools: { sandbox: { tools: { allow: ["read", "exec"] } } } }] } }"#;
        assert_eq!(allowed(raw, "a", true), ["read", "exec"]);
        let p = Policy::resolve(&config(raw), "a", true);
        let Decision::Deny(d) = p.decide("write") else {
            panic!()
        };
        assert_eq!(
            d.to_string(),
            "not allowed by agents.list[0].tools.sandbox.tools.allow"
        );
        assert!(!allowed(raw, "other", true).contains(&"read"));
    }

    #[test]
    fn explain_lists_layers_and_reasons() {
        let raw = r#"{ tools: { profile: "coding", deny: ["exec:*"] } }"#;
        let e = Policy::resolve(&config(raw), "main", true).explain(ALL.iter().copied());
        assert!(e.sandboxed);
        assert_eq!(e.layers[0].source, r#"tools.profile "coding""#);
        assert_eq!(e.layers[1].source, "tools.deny");
        assert_eq!(e.layers[1].entries, ["exec:*"]);
        assert_eq!(e.layers.len(), 4);
        assert_eq!(
            e.allowed,
            [
                "read",
                "write",
                "edit",
                "apply_patch",
                "process",
                "sessions_list",
                "sessions_history",
                "session_status"
            ]
        );
        let exec = e.tools.iter().find(|t| t.name == "exec").unwrap();
        assert!(!exec.allowed);
        assert_eq!(exec.reason, r#"denied by tools.deny ("exec:*")"#);
        let read = e.tools.iter().find(|t| t.name == "read").unwrap();
        assert!(
            read.reason
                .starts_with(r#"allowed by tools.profile "coding", then the sandbox"#),
            "{}",
            read.reason
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["layers"][1]["kind"], "deny");
        let e = Policy::resolve(&config("{}"), "main", false).explain(["read"]);
        assert!(e.tools[0].reason.starts_with("no restriction"));
    }
}
