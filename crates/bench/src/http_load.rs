//! A lean closed-loop HTTP/1.1 load generator over raw keep-alive sockets.
//!
//! A general-purpose client would spend as much CPU per request as the server under test,
//! and on a 2-core machine that caps the measurable rate; writing a fixed request and
//! reading `Content-Length` bytes back costs almost nothing.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Result of one load run.
pub struct LoadResult {
    /// Completed requests with status 200.
    pub ok: usize,
    /// Requests that failed (non-200 or I/O error).
    pub failed: usize,
    /// Per-request latencies of the successful ones, sorted.
    pub latencies: Vec<Duration>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl LoadResult {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency percentile.
    pub fn pct(&self, q: f64) -> Duration {
        self.latencies
            .get(
                ((self.latencies.len() as f64 * q) as usize)
                    .min(self.latencies.len().saturating_sub(1)),
            )
            .copied()
            .unwrap_or_default()
    }
}

/// Runs `conns` connections, each sending `GET path` back to back for `duration`.
pub async fn get_load(
    port: u16,
    path: &str,
    token: &str,
    conns: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    load_with(path, token, conns, duration, move || async move {
        let s = TcpStream::connect(("127.0.0.1", port)).await?;
        let _ = s.set_nodelay(true);
        Ok(s)
    })
    .await
}

/// [`get_load`] over connections `connect` opens (TCP, or TLS over it): keep-alive, a
/// new connection only after an error.
pub async fn load_with<C, F, S>(
    path: &str,
    token: &str,
    conns: usize,
    duration: Duration,
    connect: C,
) -> anyhow::Result<LoadResult>
where
    C: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = std::io::Result<S>> + Send,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n");
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let request = request.clone();
        let connect = connect.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(65_536);
            let mut failed = 0usize;
            let mut stream = match connect().await {
                Ok(s) => s,
                Err(_) => return (lat, 1),
            };
            let mut buf = vec![0u8; 64 * 1024];
            while Instant::now() < deadline {
                let t0 = Instant::now();
                match one(&mut stream, request.as_bytes(), &mut buf).await {
                    Ok(200) => lat.push(t0.elapsed()),
                    Ok(_) => failed += 1,
                    Err(_) => {
                        failed += 1;
                        match connect().await {
                            Ok(s) => stream = s,
                            Err(_) => break,
                        }
                    }
                }
            }
            (lat, failed)
        }));
    }
    collect(tasks, started).await
}

/// Runs `conns` loops that each open a new connection per request (`connect`, which for
/// TLS does a full handshake), send `GET path` with `Connection: close` and read the
/// answer, for `duration`. Latencies include the connect (and handshake).
pub async fn connect_load<C, F, S>(
    path: &str,
    conns: usize,
    duration: Duration,
    connect: C,
) -> anyhow::Result<LoadResult>
where
    C: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = std::io::Result<S>> + Send,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let request = request.clone();
        let connect = connect.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(65_536);
            let mut failed = 0usize;
            let mut buf = vec![0u8; 64 * 1024];
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let r = async {
                    let mut s = connect().await?;
                    let status = one(&mut s, request.as_bytes(), &mut buf).await?;
                    let _ = s.shutdown().await;
                    anyhow::Ok(status)
                }
                .await;
                match r {
                    Ok(200) => lat.push(t0.elapsed()),
                    _ => failed += 1,
                }
            }
            (lat, failed)
        }));
    }
    collect(tasks, started).await
}

async fn collect(
    tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>,
    started: Instant,
) -> anyhow::Result<LoadResult> {
    let mut latencies = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await.context("load task")?;
        latencies.extend(l);
        failed += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(LoadResult {
        ok: latencies.len(),
        failed,
        latencies,
        elapsed,
    })
}

/// One request/response on a keep-alive connection; returns the status.
pub(crate) async fn one<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    buf: &mut [u8],
) -> anyhow::Result<u16> {
    stream.write_all(request).await?;
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            bail!("connection closed");
        }
        filled += n;
        if let Some(end) = find(&buf[..filled], b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end])?;
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())
                        .flatten()
                })
                .context("response without content-length")?;
            let total = end + 4 + len;
            if total > buf.len() {
                bail!("response larger than the buffer");
            }
            while filled < total {
                let n = stream.read(&mut buf[filled..total]).await?;
                if n == 0 {
                    bail!("connection closed mid-body");
                }
                filled += n;
            }
            return Ok(status);
        }
        if filled == buf.len() {
            bail!("headers too large");
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
