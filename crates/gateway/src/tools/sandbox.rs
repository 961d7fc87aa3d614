//! Where a session's tools run: on the host or in a sandbox, and how the sandbox
//! command line is built.
//!
//! [`is_sandboxed`] applies `agents.*.sandbox.mode` to a session key. [`Sandbox`] turns
//! a shell command into the backend's command line:
//!
//! * `bubblewrap` (`bwrap`, Linux, no daemon; the default): a fresh set of namespaces per
//!   command: the system directories (`/usr`, `/bin`, `/sbin`, `/lib*`, `/etc`) read-only,
//!   a private `/proc`, a minimal `/dev`, an empty tmpfs `/tmp`, own pid / ipc / uts
//!   namespaces, no network (a new, empty network namespace) unless
//!   `bubblewrap.network: "host"`, all capabilities dropped, a new session (so it cannot
//!   inject keystrokes into a terminal) and killed when the gateway side dies.
//! * `docker` (`docker run --rm -i`, where the `docker` CLI exists): `--network none`
//!   unless configured, all capabilities dropped, `no-new-privileges`, an init process.
//!
//! The workspace appears **at the same path as on the host** in both backends, so paths
//! the file tools report are the paths commands see: bound read-only for
//! `workspaceAccess: "ro"`, read-write for `"rw"`, and for `"none"` (the default) an
//! empty scratch directory at that path that disappears with the command (bubblewrap: a
//! tmpfs; docker: the container's own filesystem). Nothing else of the host is visible.
//!
//! A missing backend is an error naming it and how to install it
//! ([`SandboxError::Unavailable`]); a sandboxed command never falls back to the host.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use openclaw_config::{SandboxBackend, SandboxMode, SandboxSettings, WorkspaceAccess};
use openclaw_sessions::SessionKey;

/// Whether a session runs its tools in a sandbox under `mode`: `off` never, `all`
/// always, `non-main` for every session that is not its agent's main session
/// (`agent:<id>:main`; channel and group sessions have their own keys, so they count as
/// non-main).
pub fn is_sandboxed(mode: SandboxMode, session: &SessionKey) -> bool {
    match mode {
        SandboxMode::Off => false,
        SandboxMode::All => true,
        SandboxMode::NonMain => !session.is_main(),
    }
}

/// Where one session's tools run, resolved from a config snapshot: the agent's sandbox
/// settings, whether this session is sandboxed and why, and its workspace directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The session.
    pub session: SessionKey,
    /// Its agent's main session (`agent:<id>:main`).
    pub main_session: SessionKey,
    /// The agent's effective sandbox settings.
    pub settings: SandboxSettings,
    /// Whether this session's tools run in the sandbox.
    pub sandboxed: bool,
    /// One sentence saying why (mode, its config key, main or not).
    pub why: String,
    /// The agent's workspace on the host (not created here).
    pub workspace: PathBuf,
}

impl Placement {
    /// Resolves `session` against `config`. `state_dir` and `home` locate the default
    /// workspace. Pure.
    pub fn resolve(
        config: &openclaw_config::Config,
        state_dir: &Path,
        home: Option<&str>,
        session: &SessionKey,
    ) -> Placement {
        let agents = config.agents.clone().unwrap_or_default();
        let agent_id = session.agent_id.as_str();
        let entry = agents
            .entry(agent_id)
            .and_then(|(i, e)| e.sandbox.as_ref().map(|s| (i, s)));
        let settings =
            openclaw_config::SandboxConfig::resolve(agents.defaults.sandbox.as_ref(), entry);
        let sandboxed = is_sandboxed(settings.mode, session);
        let main_session = SessionKey::main(agent_id);
        let mode = format!(
            "mode {:?} ({})",
            settings.mode.as_str(),
            settings.mode_source
        );
        let why = match settings.mode {
            SandboxMode::Off => format!("{mode}: tools run on the host"),
            SandboxMode::All => format!("{mode}: every session is sandboxed"),
            SandboxMode::NonMain if sandboxed => format!(
                "{mode}: {session} is not the agent's main session {main_session}, so it is sandboxed"
            ),
            SandboxMode::NonMain => {
                format!("{mode}: {session} is the agent's main session, so it runs on the host")
            }
        };
        Placement {
            session: session.clone(),
            main_session,
            workspace: agents.workspace_dir(agent_id, state_dir, home),
            settings,
            sandboxed,
            why,
        }
    }

    /// The sandbox to run this session's commands in (`workspace` is the opened,
    /// symlink-resolved root), or `None` when it runs on the host.
    pub fn sandbox(&self, workspace: &Path) -> Option<Sandbox> {
        self.sandboxed
            .then(|| Sandbox::new(&self.settings, workspace))
    }

    /// The tool policy for this session (sandbox layer included when sandboxed).
    pub fn policy(&self, config: &openclaw_config::Config) -> crate::tools::policy::Policy {
        crate::tools::policy::Policy::resolve(config, &self.session.agent_id, self.sandboxed)
    }

    /// What `openclaw sandbox explain` shows: the placement, the tool policy applied to
    /// `tools` (usually the registry's names) and the keys that change the outcome.
    pub fn explain<'a>(
        &self,
        config: &openclaw_config::Config,
        tools: impl IntoIterator<Item = &'a str>,
    ) -> SandboxExplanation {
        let s = &self.settings;
        let mut fix_it = vec![if self.sandboxed {
            "agents.defaults.sandbox.mode (or agents.list[].sandbox.mode) = \"off\" runs this session on the host".to_owned()
        } else {
            "agents.defaults.sandbox.mode (or agents.list[].sandbox.mode) = \"all\" or \"non-main\" sandboxes sessions".to_owned()
        }];
        if self.sandboxed {
            fix_it.push(
                "tools.sandbox.tools.alsoAllow / deny (or agents.list[].tools.sandbox.tools) change which tools sandboxed sessions get".to_owned(),
            );
            fix_it.push("agents.defaults.sandbox.workspaceAccess = \"none\" | \"ro\" | \"rw\" sets what the sandbox sees of the workspace".to_owned());
        }
        fix_it.push("tools.profile, tools.allow / alsoAllow / deny (and agents.list[].tools.*) change the tool list".to_owned());
        SandboxExplanation {
            session_key: self.session.to_string(),
            main_session_key: self.main_session.to_string(),
            agent_id: self.session.agent_id.clone(),
            mode: s.mode.as_str(),
            mode_source: s.mode_source.clone(),
            sandboxed: self.sandboxed,
            why: self.why.clone(),
            backend: s.backend.as_str(),
            workspace_access: s.workspace_access.as_str(),
            network: s.network,
            docker_image: (s.backend == SandboxBackend::Docker).then(|| s.docker_image.clone()),
            workspace: self.workspace.display().to_string(),
            tool_policy: self.policy(config).explain(tools),
            fix_it,
        }
    }
}

/// `openclaw sandbox explain [--json]` for one session.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxExplanation {
    /// The session explained.
    pub session_key: String,
    /// Its agent's main session.
    pub main_session_key: String,
    /// The agent.
    pub agent_id: String,
    /// Effective `sandbox.mode`.
    pub mode: &'static str,
    /// Config key that set the mode (or `default`).
    pub mode_source: String,
    /// Whether this session is sandboxed.
    pub sandboxed: bool,
    /// Why.
    pub why: String,
    /// Backend.
    pub backend: &'static str,
    /// `workspaceAccess`.
    pub workspace_access: &'static str,
    /// Whether sandboxed commands may use the network.
    pub network: bool,
    /// Docker image, for the docker backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_image: Option<String>,
    /// Host workspace directory.
    pub workspace: String,
    /// The tool policy layers and per-tool verdicts.
    pub tool_policy: crate::tools::policy::Explanation,
    /// Config keys that change the outcome.
    pub fix_it: Vec<String>,
}

/// A sandbox that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The backend's program is not installed (or not executable).
    #[error(
        "the {backend} sandbox is not available: {program} was not found{looked}; {hint}, or set agents.defaults.sandbox.mode to \"off\" to run tools on the host (sandboxed commands never fall back to the host)"
    )]
    Unavailable {
        /// `bubblewrap` or `docker`.
        backend: &'static str,
        /// The program looked for.
        program: String,
        /// Where it was looked for (`" in PATH"` or empty for an explicit path).
        looked: &'static str,
        /// How to install it.
        hint: &'static str,
    },
}

/// The sandbox settings of one session plus the program that implements them.
#[derive(Clone, Debug)]
pub struct Sandbox {
    backend: SandboxBackend,
    program: OsString,
    workspace: PathBuf,
    access: WorkspaceAccess,
    network: bool,
    docker_image: String,
    docker_network: String,
}

/// Default program of each backend, looked up in `PATH`.
fn default_program(backend: SandboxBackend) -> &'static str {
    match backend {
        SandboxBackend::Bubblewrap => "bwrap",
        SandboxBackend::Docker => "docker",
    }
}

impl Sandbox {
    /// A sandbox per `settings` around the (host) workspace root `workspace`, using the
    /// backend's usual program (`bwrap` / `docker` from `PATH`).
    pub fn new(settings: &SandboxSettings, workspace: &Path) -> Sandbox {
        Sandbox {
            backend: settings.backend,
            program: default_program(settings.backend).into(),
            workspace: workspace.to_path_buf(),
            access: settings.workspace_access,
            network: settings.network,
            docker_image: settings.docker_image.clone(),
            docker_network: settings.docker_network.clone(),
        }
    }

    /// Uses `program` (a name looked up in `PATH`, or a path) instead of the default;
    /// for tests and unusual installs.
    pub fn with_program(mut self, program: impl Into<OsString>) -> Sandbox {
        self.program = program.into();
        self
    }

    /// The backend.
    pub fn backend(&self) -> SandboxBackend {
        self.backend
    }

    /// What the sandbox sees of the workspace.
    pub fn workspace_access(&self) -> WorkspaceAccess {
        self.access
    }

    /// Whether commands may use the network.
    pub fn network(&self) -> bool {
        self.network
    }

    /// Finds the backend's program: the path to run, or [`SandboxError::Unavailable`].
    /// Blocking (a few `stat`s); cheap enough to call per command from
    /// `spawn_blocking`, or once per config generation.
    pub fn locate(&self) -> Result<PathBuf, SandboxError> {
        let program = Path::new(&self.program);
        let unavailable = |looked| SandboxError::Unavailable {
            backend: self.backend.as_str(),
            program: program.display().to_string(),
            looked,
            hint: match self.backend {
                SandboxBackend::Bubblewrap => {
                    "install it (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`)"
                }
                SandboxBackend::Docker => {
                    "install the Docker CLI and engine (https://docs.docker.com/engine/install/), or set agents.defaults.sandbox.backend to \"bubblewrap\""
                }
            },
        };
        if program.components().count() > 1 {
            return if is_executable(program) {
                Ok(program.to_path_buf())
            } else {
                Err(unavailable(""))
            };
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| is_executable(p))
            .ok_or_else(|| unavailable(" in PATH"))
    }

    /// The full argv (program first) that runs `sh -c <command>` in `cwd` inside the
    /// sandbox with exactly `env` as its environment. `cwd` must be the workspace root
    /// or a directory below it (host path; it is the same path inside).
    pub fn argv(
        &self,
        program: &Path,
        command: &str,
        cwd: &Path,
        env: &[(String, String)],
    ) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![program.into()];
        let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
        let ws = self.workspace.as_os_str();
        match self.backend {
            SandboxBackend::Bubblewrap => {
                push(&[
                    "--die-with-parent",
                    "--new-session",
                    "--unshare-pid",
                    "--unshare-ipc",
                    "--unshare-uts",
                    "--unshare-cgroup-try",
                    "--cap-drop",
                    "ALL",
                    "--hostname",
                    "openclaw-sandbox",
                ]);
                if !self.network {
                    push(&["--unshare-net"]);
                }
                push(&["--ro-bind", "/usr", "/usr"]);
                for dir in [
                    "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
                ] {
                    push(&["--ro-bind-try", dir, dir]);
                }
                push(&["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
                // After /tmp, so a workspace under /tmp is not hidden by the tmpfs.
                let flag = match self.access {
                    WorkspaceAccess::Rw => "--bind",
                    WorkspaceAccess::Ro => "--ro-bind",
                    WorkspaceAccess::None => "--tmpfs",
                };
                a.push(flag.into());
                if self.access != WorkspaceAccess::None {
                    a.push(ws.into());
                }
                a.push(ws.into());
                if self.access == WorkspaceAccess::None && cwd != self.workspace {
                    // The scratch workspace is empty: make the working directory exist.
                    a.push("--dir".into());
                    a.push(cwd.into());
                }
                a.push("--clearenv".into());
                for (k, v) in env {
                    a.push("--setenv".into());
                    a.push(k.into());
                    a.push(v.into());
                }
                a.push("--chdir".into());
                a.push(cwd.into());
                a.extend(["--", "/bin/sh", "-c", command].map(OsString::from));
            }
            SandboxBackend::Docker => {
                let network = if self.network {
                    self.docker_network.as_str()
                } else {
                    "none"
                };
                push(&[
                    "run",
                    "--rm",
                    "-i",
                    "--init",
                    "--network",
                    network,
                    "--cap-drop",
                    "ALL",
                    "--security-opt",
                    "no-new-privileges",
                    "--tmpfs",
                    "/tmp",
                ]);
                let mut ws_arg = OsString::from("");
                match self.access {
                    WorkspaceAccess::None => {}
                    WorkspaceAccess::Ro | WorkspaceAccess::Rw => {
                        ws_arg.push(ws);
                        ws_arg.push(":");
                        ws_arg.push(ws);
                        ws_arg.push(if self.access == WorkspaceAccess::Ro {
                            ":ro"
                        } else {
                            ":rw"
                        });
                        a.push("-v".into());
                        a.push(ws_arg);
                    }
                }
                for (k, v) in env {
                    a.push("-e".into());
                    a.push(format!("{k}={v}").into());
                }
                a.push("-w".into());
                a.push(cwd.into());
                a.push(self.docker_image.clone().into());
                a.extend(["sh", "-lc", command].map(OsString::from));
            }
        }
        a
    }
}

/// Whether `p` is a regular file with an execute bit.
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_config::SandboxConfig;

    fn settings(raw: &str) -> SandboxSettings {
        let s: SandboxConfig = serde_json::from_str(raw).unwrap();
        SandboxConfig::resolve(Some(&s), None)
    }

    fn strings(a: &[OsString]) -> Vec<String> {
        a.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn modes_follow_the_main_session_rule() {
        let main = SessionKey::main("ops");
        let chan = SessionKey::parse("agent:ops:telegram:group:42").unwrap();
        assert!(!is_sandboxed(SandboxMode::Off, &main));
        assert!(!is_sandboxed(SandboxMode::Off, &chan));
        assert!(is_sandboxed(SandboxMode::All, &main));
        assert!(is_sandboxed(SandboxMode::All, &chan));
        assert!(!is_sandboxed(SandboxMode::NonMain, &main));
        assert!(is_sandboxed(SandboxMode::NonMain, &chan));
        assert!(is_sandboxed(
            SandboxMode::NonMain,
            &SessionKey::parse("agent:ops:main:thread").unwrap()
        ));
    }

    #[test]
    fn bubblewrap_argv_isolates() {
        let s = Sandbox::new(&settings(r#"{ "workspaceAccess": "ro" }"#), Path::new("/w"));
        let a = strings(&s.argv(
            Path::new("/usr/bin/bwrap"),
            "echo hi",
            Path::new("/w/sub"),
            &[("PATH".into(), "/usr/bin:/bin".into())],
        ));
        let joined = a.join(" ");
        for want in [
            "--die-with-parent",
            "--new-session",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-net",
            "--ro-bind /usr /usr",
            "--proc /proc",
            "--dev /dev",
            "--tmpfs /tmp",
            "--ro-bind /w /w",
            "--clearenv --setenv PATH /usr/bin:/bin",
            "--chdir /w/sub -- /bin/sh -c echo hi",
        ] {
            assert!(joined.contains(want), "{want} missing: {joined}");
        }
        assert!(joined.find("--tmpfs /tmp") < joined.find("--ro-bind /w /w"));
        let rw = Sandbox::new(
            &settings(r#"{ "workspaceAccess": "rw", "bubblewrap": { "network": "host" } }"#),
            Path::new("/w"),
        );
        let j = strings(&rw.argv(Path::new("bwrap"), "x", Path::new("/w"), &[])).join(" ");
        assert!(
            j.contains("--bind /w /w") && !j.contains("--unshare-net"),
            "{j}"
        );
        let none = Sandbox::new(&settings("{}"), Path::new("/w"));
        let j = strings(&none.argv(Path::new("bwrap"), "x", Path::new("/w"), &[])).join(" ");
        assert!(j.contains("--tmpfs /w") && !j.contains("--bind /w"), "{j}");
        let j = strings(&none.argv(Path::new("bwrap"), "x", Path::new("/w/a/b"), &[])).join(" ");
        assert!(j.contains("--tmpfs /w --dir /w/a/b"), "{j}");
    }

    #[test]
    fn docker_argv() {
        let s = Sandbox::new(
            &settings(
                r#"{ "backend": "docker", "workspaceAccess": "rw", "docker": { "image": "img:2" } }"#,
            ),
            Path::new("/w"),
        );
        let a = strings(&s.argv(
            Path::new("docker"),
            "ls",
            Path::new("/w"),
            &[("A".into(), "1".into())],
        ));
        assert_eq!(
            a,
            [
                "docker",
                "run",
                "--rm",
                "-i",
                "--init",
                "--network",
                "none",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges",
                "--tmpfs",
                "/tmp",
                "-v",
                "/w:/w:rw",
                "-e",
                "A=1",
                "-w",
                "/w",
                "img:2",
                "sh",
                "-lc",
                "ls"
            ]
        );
    }

    #[test]
    fn placement_and_explain() {
        let config = openclaw_config::parse_str(
            r#"{ agents: { defaults: { sandbox: { mode: "non-main", workspaceAccess: "rw" } },
                           list: [{ id: "main", default: true }, { id: "ops", sandbox: { mode: "off" } }] },
                 tools: { deny: ["exec:*"] } }"#,
            &|_| None,
        )
        .unwrap();
        let state = Path::new("/state");
        let chan = SessionKey::parse("agent:main:telegram:42").unwrap();
        let p = Placement::resolve(&config, state, None, &chan);
        assert!(p.sandboxed);
        assert!(p.why.contains("agent:main:main"), "{}", p.why);
        assert!(p.why.contains("agents.defaults.sandbox.mode"), "{}", p.why);
        assert_eq!(p.workspace, state.join("workspace"));
        assert!(p.sandbox(Path::new("/w")).is_some());
        let e = p.explain(&config, ["read", "exec", "web_fetch"]);
        assert_eq!(e.mode, "non-main");
        assert_eq!(e.backend, "bubblewrap");
        assert_eq!(e.workspace_access, "rw");
        assert_eq!(e.tool_policy.allowed, ["read"]);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["mainSessionKey"], "agent:main:main");
        assert_eq!(
            json["toolPolicy"]["tools"][1]["reason"],
            r#"denied by tools.deny ("exec:*")"#
        );
        let main = Placement::resolve(&config, state, None, &SessionKey::main("main"));
        assert!(!main.sandboxed && main.sandbox(Path::new("/w")).is_none());
        let ops = Placement::resolve(
            &config,
            state,
            None,
            &SessionKey::parse("agent:ops:x").unwrap(),
        );
        assert!(!ops.sandboxed);
        assert_eq!(ops.settings.mode_source, "agents.list[1].sandbox.mode");
        assert_eq!(ops.workspace, state.join("workspace-ops"));
    }

    #[test]
    fn missing_backend_names_it_and_the_fix() {
        for (raw, program, want) in [
            ("{}", "/nonexistent/bwrap", "apt-get install bubblewrap"),
            ("{}", "no-such-bwrap-program", "apt-get install bubblewrap"),
            (
                r#"{ "backend": "docker" }"#,
                "/nonexistent/docker",
                "install the Docker CLI",
            ),
        ] {
            let s = Sandbox::new(&settings(raw), Path::new("/w")).with_program(program);
            let msg = s.locate().unwrap_err().to_string();
            assert!(msg.contains(want), "{msg}");
            assert!(msg.contains(program), "{msg}");
            assert!(msg.contains("agents.defaults.sandbox.mode"), "{msg}");
            assert!(msg.contains("never fall back to the host"), "{msg}");
        }
        let sh = Sandbox::new(&settings("{}"), Path::new("/w")).with_program("sh");
        assert!(sh.locate().unwrap().is_absolute());
    }
}
