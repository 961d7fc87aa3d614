//! `gateway stop|restart` for a gateway no service manager runs: one in the foreground
//! of a terminal, or under a supervisor the CLI does not know (a container's init, a
//! process manager). It is found through the state-dir lock ([`holder`]), which records
//! its pid and where it listens; stop is SIGTERM (the same drain as Ctrl-C), restart is
//! SIGUSR1 (an in-process restart: config re-read, listeners rebound, same pid).
//!
//! Both wait for the result they promise and report it: stop until the lock is released
//! and the port no longer answers, restart until the port answers again from a new
//! listener generation (its `/readyz` uptime started after the signal was sent).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use openclaw_gateway::lock::{Holder, holder};
use serde_json::{Value, json};

use super::Action;
use crate::commands::{human_ms, print_json};

/// How long stop waits: the gateway lets running turns finish for up to 30 s
/// (`OPENCLAW_SHUTDOWN_GRACE_MS`), then gives clients a few seconds to go.
const STOP_WAIT: Duration = Duration::from_secs(45);
/// How long restart waits for the port to answer from the new listener.
const RESTART_WAIT: Duration = Duration::from_secs(30);
/// Poll interval while waiting.
const POLL: Duration = Duration::from_millis(50);

/// The gateway holding `lock`, or why it cannot be told.
pub fn find(lock: &Path) -> Result<Option<Holder>, String> {
    holder(lock).map_err(|e| {
        format!(
            "cannot read the gateway lock {} ({e}); check its permissions",
            lock.display()
        )
    })
}

/// Stops or restarts the gateway `h` that holds `lock` (its config file is `config`);
/// prints the outcome (`--json`: `{ok, manager: null, mode: "foreground", action, pid,
/// port, changed, uptimeMs?, error?}`).
pub fn control(action: Action, h: Holder, lock: &Path, config: &Path, json: bool) -> ExitCode {
    let result = match action {
        Action::Stop => stop(h, lock),
        Action::Restart => check_config(config).and_then(|()| restart(h, lock)),
        Action::Start => Ok(Done {
            message: format!(
                "The gateway is already running (PID {}{}); it is not managed by a service, so nothing was started.",
                h.pid,
                port_note(h.port)
            ),
            port: h.port,
            uptime_ms: None,
            changed: false,
        }),
        Action::Uninstall => Err("uninstall removes a service; a gateway running without one has nothing to remove (stop it with `openclaw gateway stop`)".into()),
    };
    let (ok, port) = match &result {
        Ok(d) => (true, d.port),
        Err(_) => (false, h.port),
    };
    if json {
        let mut v = json!({
            "ok": ok,
            "manager": Value::Null,
            "mode": "foreground",
            "action": action_name(action),
            "pid": h.pid,
            "port": port,
            "changed": result.as_ref().is_ok_and(|d| d.changed),
        });
        match &result {
            Ok(d) => {
                if let Some(u) = d.uptime_ms {
                    v["uptimeMs"] = json!(u);
                }
            }
            Err(e) => v["error"] = json!(e),
        }
        print_json(&v);
    } else {
        match &result {
            Ok(d) => println!("{}", d.message),
            Err(e) => eprintln!("Error: {e}"),
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Uninstall => "uninstall",
        Action::Start => "start",
        Action::Stop => "stop",
        Action::Restart => "restart",
    }
}

struct Done {
    message: String,
    port: Option<u16>,
    uptime_ms: Option<u64>,
    changed: bool,
}

fn port_note(port: Option<u16>) -> String {
    port.map(|p| format!(", port {p}")).unwrap_or_default()
}

/// Sends `signal` to `pid`, naming the fix when it is refused. `Ok(false)`: the process
/// was already gone.
fn send(pid: u32, signal: rustix::process::Signal, name: &str) -> Result<bool, String> {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return Err(format!("the gateway lock names an impossible pid {pid}"));
    };
    match rustix::process::kill_process(p, signal) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(rustix::io::Errno::PERM) => Err(format!(
            "not allowed to send {name} to the gateway (PID {pid}): it runs as another user; run this command as that user (or with sudo)"
        )),
        Err(e) => Err(format!(
            "cannot send {name} to the gateway (PID {pid}): {e}"
        )),
    }
}

fn stop(h: Holder, lock: &Path) -> Result<Done, String> {
    send(h.pid, rustix::process::Signal::TERM, "SIGTERM")?;
    let deadline = Instant::now() + STOP_WAIT;
    loop {
        let released = !matches!(find(lock)?, Some(now) if now.pid == h.pid);
        let closed = h.port.is_none_or(|p| !answers(address(h.host, p)));
        if released && closed {
            return Ok(Done {
                message: format!(
                    "Stopped the gateway (PID {}{}); it ran without a service manager.",
                    h.pid,
                    port_note(h.port)
                ),
                port: h.port,
                uptime_ms: None,
                changed: true,
            });
        }
        if Instant::now() > deadline {
            return Err(format!(
                "sent SIGTERM to the gateway (PID {}) but it is still running after {}: it may be letting running turns finish (OPENCLAW_SHUTDOWN_GRACE_MS); check `openclaw logs`, or end it with `kill -9 {}`",
                h.pid,
                human_ms(STOP_WAIT.as_millis() as u64),
                h.pid
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// A restart re-reads the config; one the gateway would refuse is reported before any
/// signal is sent (the gateway would keep running as it was, but the operator would only
/// learn why from its log). Checked as `config validate` checks it: a `${VAR}` unset here
/// gets a stand-in (the gateway may run with an environment this shell does not have) and
/// everything else is still judged.
fn check_config(config: &Path) -> Result<(), String> {
    use crate::commands::config::{read_doc, read_text, validate_lenient};
    let checked = match read_text(config) {
        Err(e) => Err(e.to_string()),
        Ok(None) => Ok(()),
        Ok(Some(text)) => read_doc(&text, config)
            .and_then(|doc| validate_lenient(&doc).map(|_| ()))
            .map_err(|e| e.to_string()),
    };
    match checked {
        Ok(()) => Ok(()),
        Err(e) => Err(format!(
            "not restarting: the gateway would refuse its config ({e}); fix it (`openclaw config validate` checks it) and run the restart again; the running gateway was left as it is"
        )),
    }
}

fn restart(h: Holder, lock: &Path) -> Result<Done, String> {
    if h.port.is_none() {
        return Err(format!(
            "the gateway (PID {}) is still starting (it has not recorded its port in {} yet); try again in a moment",
            h.pid,
            lock.display()
        ));
    }
    let sent = Instant::now();
    if !send(h.pid, rustix::process::Signal::USR1, "SIGUSR1")? {
        return Err(format!(
            "the gateway (PID {}) exited before it could be restarted; start it with `openclaw gateway run`",
            h.pid
        ));
    }
    let deadline = sent + RESTART_WAIT;
    loop {
        // The port may change (a config edit to gateway.port): the lock says where it is now.
        let Some(now) = find(lock)?.filter(|now| now.pid == h.pid) else {
            return Err(format!(
                "the gateway (PID {}) exited instead of restarting; `openclaw logs` shows why; start it again with `openclaw gateway run`",
                h.pid
            ));
        };
        if let Some(port) = now.port
            && let Some(uptime) = ready_uptime(address(now.host, port))
            && u128::from(uptime) <= sent.elapsed().as_millis()
        {
            return Ok(Done {
                message: format!(
                    "Restarted the gateway in-process (PID {}, port {port} answers again); it runs without a service manager.",
                    h.pid
                ),
                port: Some(port),
                uptime_ms: Some(uptime),
                changed: true,
            });
        }
        if Instant::now() > deadline {
            return Err(format!(
                "sent SIGUSR1 to the gateway (PID {}) but it did not restart within {}; a config it cannot use keeps it running as it was (see `openclaw logs` and reload.lastError in `openclaw health --json`)",
                h.pid,
                human_ms(RESTART_WAIT.as_millis() as u64)
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// The raw answer to `GET /readyz` on `addr`, over TLS when `tls`.
fn readyz(addr: SocketAddr, tls: bool) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    let req = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut raw = Vec::new();
    if tls {
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let conn =
            rustls::ClientConnection::new(crate::tls::readiness_probe_config().ok()?, name).ok()?;
        let mut tls = rustls::StreamOwned::new(conn, s);
        tls.write_all(req.as_bytes()).ok()?;
        // A close without close_notify still leaves the whole answer read.
        let _ = tls.take(64 * 1024).read_to_end(&mut raw);
    } else {
        s.write_all(req.as_bytes()).ok()?;
        s.take(64 * 1024).read_to_end(&mut raw).ok()?;
    }
    Some(String::from_utf8_lossy(&raw).into_owned())
}

/// Where to reach a listener bound to `host`: the unspecified address means "every
/// interface", which loopback reaches.
fn address(host: Option<IpAddr>, port: u16) -> SocketAddr {
    let ip = match host {
        Some(IpAddr::V4(v4)) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        Some(IpAddr::V6(v6)) if v6.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        Some(ip) => ip,
        None => IpAddr::from([127, 0, 0, 1]),
    };
    SocketAddr::new(ip, port)
}

fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// The `uptimeMs` of the gateway's `/readyz` answer (ready or not: a required channel
/// that is down does not mean the restart failed), or `None` if it does not answer.
/// A gateway with `gateway.tls` on answers the plain request with its "speaks TLS" `400`;
/// the probe then asks again over TLS (the restart may also have turned TLS on or off).
fn ready_uptime(addr: SocketAddr) -> Option<u64> {
    let mut text = readyz(addr, false)?;
    if text.starts_with("HTTP/1.1 400") && text.contains("speaks TLS") {
        text = readyz(addr, true)?;
    }
    let body = text.split_once("\r\n\r\n")?.1;
    let v: Value = serde_json::from_str(body.trim()).ok()?;
    v.get("uptimeMs").and_then(Value::as_u64)
}
