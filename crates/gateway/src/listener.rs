//! Binding the port: retry while it is busy, and `--force` to free it.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::error::GatewayError;

/// How long a busy port is retried before giving up (a restarting supervisor may still
/// be releasing it).
const BIND_RETRY_FOR: Duration = Duration::from_secs(3);
const BIND_RETRY_EVERY: Duration = Duration::from_millis(250);
/// Connections the kernel completes and queues before `accept`. The usual default of 128
/// drops the SYN of the 129th client of a burst (it retries after a second); the accept
/// loop drains a long queue quickly, shedding what it has no room for (`serve.rs`).
const BACKLOG: u32 = 1024;

/// Binds and listens on one address, with [`BACKLOG`] and `SO_REUSEADDR` (a restarted
/// gateway must not wait for the previous one's connections in TIME_WAIT).
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Binds the first host (required) and then the others (best-effort, on the port the
/// first one got, so that port 0 yields one port for every address).
pub async fn bind_all(hosts: &[IpAddr], port: u16) -> Result<Vec<TcpListener>, GatewayError> {
    let Some((first, rest)) = hosts.split_first() else {
        return Err(GatewayError::Setting("no address to bind".into()));
    };
    let primary = bind_with_retry(*first, port).await?;
    let port = primary
        .local_addr()
        .map_err(|e| GatewayError::io("cannot read the bound address", e))?
        .port();
    let mut out = vec![primary];
    for host in rest {
        match bind(SocketAddr::new(*host, port)) {
            Ok(l) => out.push(l),
            Err(e) => {
                tracing::debug!(target: "gateway", host = %host, error = %e, "optional listen address unavailable");
            }
        }
    }
    Ok(out)
}

async fn bind_with_retry(host: IpAddr, port: u16) -> Result<TcpListener, GatewayError> {
    let deadline = tokio::time::Instant::now() + BIND_RETRY_FOR;
    loop {
        match bind(SocketAddr::new(host, port)) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if tokio::time::Instant::now() >= deadline {
                    let shown = if host.is_unspecified() || host.is_loopback() {
                        "127.0.0.1".to_owned()
                    } else {
                        host.to_string()
                    };
                    return Err(GatewayError::PortInUse { host: shown, port });
                }
                tokio::time::sleep(BIND_RETRY_EVERY).await;
            }
            Err(e) => {
                return Err(GatewayError::io(
                    format!("cannot listen on {host}:{port}"),
                    e,
                ));
            }
        }
    }
}

/// Raises the open-file soft limit to the hard limit: every client is a socket, and the
/// common default soft limit of 1024 would cap the gateway near a thousand connections.
pub fn raise_nofile_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let below_hard = match (lim.current, lim.maximum) {
        (Some(cur), Some(max)) => cur < max,
        (Some(_), None) => true,
        _ => false,
    };
    if below_hard {
        let raised = rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(target: "gateway", error = %e, "cannot raise the open-file limit");
        }
    }
}

/// `--force`: stops the processes listening on `port` (SIGTERM, then SIGKILL after 3 s).
pub async fn free_port(port: u16) {
    // Walking /proc reads every process's fd table: blocking work, off the async workers.
    let pids = tokio::task::spawn_blocking(move || listening_pids(port))
        .await
        .unwrap_or_default();
    let me = std::process::id();
    for pid in pids.iter().copied().filter(|p| *p != me) {
        tracing::warn!(target: "gateway", pid, port, "--force: stopping the process listening on the port");
        signal(pid, rustix::process::Signal::TERM);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        if pids.iter().all(|p| *p == me || !crate::lock::pid_alive(*p)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for pid in pids.iter().copied().filter(|p| *p != me) {
        signal(pid, rustix::process::Signal::KILL);
    }
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        // The process may already be gone; nothing to do then.
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Pids of processes with a listening TCP socket on `port`, found through `/proc`.
pub fn listening_pids(port: u16) -> Vec<u32> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return vec![];
    }
    let mut pids = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let owns = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .ok()
                .and_then(|t| {
                    let t = t.to_string_lossy().into_owned();
                    t.strip_prefix("socket:[")
                        .and_then(|r| r.strip_suffix(']'))
                        .and_then(|n| n.parse::<u64>().ok())
                })
                .is_some_and(|inode| inodes.contains(&inode))
        });
        if owns {
            pids.push(pid);
        }
    }
    pids
}

fn listening_inodes(port: u16) -> HashSet<u64> {
    let mut out = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != "0A" {
                continue;
            }
            let local_port = cols[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port)
                && let Ok(inode) = cols[9].parse::<u64>()
            {
                out.insert(inode);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finds_own_listener_and_reports_busy_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(listening_pids(port).contains(&std::process::id()));
        let err = bind_all(&["127.0.0.1".parse().unwrap()], port)
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with(&format!(
            "another gateway instance is already listening on ws://127.0.0.1:{port}"
        )));
    }
}
