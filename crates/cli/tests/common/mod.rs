//! Test harness: runs the real `openclaw` binary on port 0 in a private state dir and talks
//! to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_openclaw")
}

/// A private directory, removed on drop (a thin wrapper over [`tempfile::TempDir`]).
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir(
            tempfile::Builder::new()
                .prefix(&format!("oc-test-{tag}-"))
                .tempdir()
                .expect("create temp dir"),
        )
    }
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A loopback port that was free a moment ago (the listener is closed before returning).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        if let Some(i) = text.find("listening on ws://127.0.0.1:") {
            let rest = &text[i + "listening on ws://127.0.0.1:".len()..];
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

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a socket and reads the challenge.
pub async fn open(url: &str) -> (Ws, Value) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect");
    let challenge = next_json(&mut ws).await.expect("challenge");
    (ws, challenge)
}

/// Like [`open`], but `None` while nothing listens (e.g. during an in-process restart).
pub async fn try_open(url: &str) -> Option<(Ws, Value)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.ok()?;
    let challenge = next_json(&mut ws).await?;
    Some((ws, challenge))
}

/// The connect frame exactly as the real `openclaw` 2026.9.6 CLI sends it.
pub fn real_cli_connect(token: &str) -> Value {
    json!({"type":"req","id":format!("1:{}", uuid::Uuid::new_v4()),"method":"connect","params":{"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","mode":"cli","instanceId":uuid::Uuid::new_v4().to_string()},"caps":[],"auth":{"token":token},"role":"operator","scopes":["operator.read"]}})
}

/// A connect frame with the given auth object, scopes and client mode.
pub fn connect_frame(auth: Value, scopes: Option<Vec<&str>>, mode: &str) -> Value {
    let mut params = json!({
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "test", "version": "0.0.1", "platform": "linux", "mode": mode,
                   "instanceId": uuid::Uuid::new_v4().to_string()},
        "auth": auth, "role": "operator",
    });
    if let Some(s) = scopes {
        params["scopes"] = json!(s);
    }
    json!({"type":"req","id":"c1","method":"connect","params":params})
}

/// Connects and authenticates; returns the socket and the hello-ok payload.
pub async fn connect(url: &str, token: &str, scopes: Option<Vec<&str>>, mode: &str) -> (Ws, Value) {
    let (mut ws, _) = open(url).await;
    send(
        &mut ws,
        &connect_frame(json!({"token": token}), scopes, mode),
    )
    .await;
    let res = next_res(&mut ws, "c1").await;
    assert_eq!(res["ok"], true, "connect failed: {res}");
    (ws, res["payload"].clone())
}

pub async fn send(ws: &mut Ws, v: &Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub async fn send_text(ws: &mut Ws, s: &str) {
    ws.send(Message::Text(s.to_owned().into())).await.unwrap();
}

/// Next JSON text message, or None if the socket closed. Times out after 10 s.
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("timed out waiting for a frame")?;
        match msg {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Waits for the `res` with this id, skipping events.
pub async fn next_res(ws: &mut Ws, id: &str) -> Value {
    loop {
        let v = next_json(ws).await.expect("socket closed before response");
        if v["type"] == "res" && v["id"] == id {
            return v;
        }
    }
}

/// Waits for an event with this name.
pub async fn next_event(ws: &mut Ws, name: &str) -> Value {
    loop {
        let v = next_json(ws).await.expect("socket closed before event");
        if v["type"] == "event" && v["event"] == name {
            return v;
        }
    }
}

/// Calls a method and returns the whole `res` frame.
pub async fn call(ws: &mut Ws, id: &str, method: &str, params: Value) -> Value {
    send(
        ws,
        &json!({"type":"req","id":id,"method":method,"params":params}),
    )
    .await;
    next_res(ws, id).await
}

/// Reads until the close frame; returns (code, reason). Fails if no close arrives.
pub async fn close_code(ws: &mut Ws) -> Option<(u16, String)> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("timed out waiting for close")?;
        match msg {
            Ok(Message::Close(Some(f))) => return Some((u16::from(f.code), f.reason.to_string())),
            Ok(Message::Close(None)) => return Some((1005, String::new())),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// A plain HTTP/1.1 GET over a TCP socket; returns (status, headers, body).
pub async fn http_get(port: u16, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}
