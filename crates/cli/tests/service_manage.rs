//! `openclaw gateway install|start|stop|restart|uninstall`, `gateway status` and the
//! doctor's unit-drift check past `--print`: the manager is named with
//! `OPENCLAW_SERVICE_MANAGER`, and stand-in `systemctl` / `launchctl` scripts on `PATH`
//! record every call and answer like the real tools for the calls the CLI makes.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// `systemctl` as far as the CLI uses it: `--user` and `daemon-reload`, `enable --now`,
/// `disable --now`, `start`, `stop`, `restart`, `is-enabled`, `is-active`. Unit state
/// (enabled, active) is kept as files in `$STUB_STATE`; every call is appended to
/// `$STUB_LOG`, one line of arguments each.
const SYSTEMCTL: &str = r#"#!/bin/sh
echo "$*" >> "$STUB_LOG"
[ "$1" = "--user" ] && shift
verb="$1"; shift
[ "$1" = "--now" ] && { now=1; shift; }
unit="$1"
s="$STUB_STATE/systemd-$unit"
case "$verb" in
  daemon-reload) exit 0 ;;
  enable) touch "$s.enabled"; [ -n "$now" ] && touch "$s.active"; exit 0 ;;
  disable) rm -f "$s.enabled"; [ -n "$now" ] && rm -f "$s.active"; exit 0 ;;
  start|restart) touch "$s.active"; exit 0 ;;
  stop) rm -f "$s.active"; exit 0 ;;
  is-enabled) if [ -e "$s.enabled" ]; then echo enabled; exit 0; else echo disabled; exit 1; fi ;;
  is-active) if [ -e "$s.active" ]; then echo active; exit 0; else echo inactive; exit 3; fi ;;
  *) echo "stub systemctl: unexpected call: $verb" >&2; exit 1 ;;
esac
"#;

/// `launchctl` as far as the CLI uses it: `print gui/<uid>/<label>` (succeeds, with
/// `state = running`, only while loaded), `bootstrap gui/<uid> <plist>`, `bootout
/// gui/<uid>/<label>`, `kickstart [-k] gui/<uid>/<label>`.
const LAUNCHCTL: &str = r#"#!/bin/sh
echo "$*" >> "$STUB_LOG"
loaded="$STUB_STATE/launchd.loaded"
case "$1" in
  print)
    if [ -e "$loaded" ]; then printf '%s = {\n\tstate = running\n}\n' "$2"; exit 0; fi
    echo "Could not find service \"$2\" in domain" >&2; exit 113 ;;
  bootstrap) touch "$loaded"; exit 0 ;;
  bootout) rm -f "$loaded"; exit 0 ;;
  kickstart)
    if [ -e "$loaded" ]; then exit 0; fi
    echo "Could not find service" >&2; exit 113 ;;
  *) echo "stub launchctl: unexpected call: $1" >&2; exit 1 ;;
esac
"#;

/// A private HOME, XDG_CONFIG_HOME and state dir, stand-in manager tools on `PATH`, and
/// a config with a fixed port and a strong token (so doctor only has the unit to fix).
struct Host {
    dir: TempDir,
    manager: &'static str,
    port: u16,
}

impl Host {
    fn new(tag: &str, manager: &'static str) -> Host {
        let dir = TempDir::new(tag);
        let host = Host {
            dir,
            manager,
            port: std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port(),
        };
        for d in ["home", "xdg", "bin", "stub-state"] {
            std::fs::create_dir_all(host.dir.path().join(d)).unwrap();
        }
        for (name, text) in [("systemctl", SYSTEMCTL), ("launchctl", LAUNCHCTL)] {
            let p = host.dir.path().join("bin").join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let state = host.state();
        std::fs::create_dir_all(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        let config = state.join("openclaw.json");
        std::fs::write(
            &config,
            format!(
                r#"{{ gateway: {{ mode: "local", port: {}, auth: {{ token: "{}" }} }} }}"#,
                host.port,
                "a".repeat(40)
            ),
        )
        .unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        host
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn log(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    /// Runs the CLI with only this host's environment (and `extra`).
    fn cli_with(&self, args: &[&str], extra: &[(&str, &str)]) -> CliOut {
        let path = format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display());
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("OPENCLAW_STATE_DIR", self.state())
            .env("OPENCLAW_SERVICE_MANAGER", self.manager)
            .env("STUB_LOG", self.log())
            .env("STUB_STATE", self.dir.path().join("stub-state"))
            .stdin(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }

    fn cli(&self, args: &[&str]) -> CliOut {
        self.cli_with(args, &[])
    }

    /// Runs the CLI, expects exit 0.
    fn ok(&self, args: &[&str]) -> CliOut {
        let out = self.cli(args);
        assert_eq!(out.code, 0, "{args:?}:\n{}{}", out.stdout, out.stderr);
        out
    }

    /// The manager calls recorded since the last `take_calls`.
    fn take_calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let _ = std::fs::remove_file(self.log());
        text.lines().map(str::to_owned).collect()
    }

    /// What `install` would write, from `install --print`.
    fn expected_text(&self) -> String {
        self.ok(&["gateway", "install", "--print"]).stdout
    }
}

fn json_of(out: &CliOut) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}{}", out.stdout, out.stderr))
}

/// (inode, modification time): a file replaced by a write gets a new inode.
fn identity(p: &Path) -> (u64, i64, i64) {
    let m = std::fs::metadata(p).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

fn doctor_check(out: &CliOut, id: &str) -> Value {
    let v = json_of(out);
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {v:#}"))
        .clone()
}

#[test]
fn systemd_install_start_stop_restart_uninstall() {
    let host = Host::new("svc-systemd", "systemd");
    let unit = "openclaw-gateway.service";
    let path = host.dir.path().join("xdg/systemd/user").join(unit);
    let expected = host.expected_text();
    assert!(
        expected.contains(&format!("gateway run --port {}\n", host.port)),
        "{expected}"
    );
    assert!(expected.contains(&format!(
        "Environment=OPENCLAW_STATE_DIR={}\n",
        host.state().display()
    )));
    assert!(
        host.take_calls().is_empty(),
        "--print runs no manager command"
    );

    // Install: the unit file, then daemon-reload and enable --now.
    let out = host.ok(&["gateway", "install"]);
    assert_eq!(
        out.stdout.trim(),
        format!(
            "Installed systemd user unit {unit} at {} (port {}); enabled and started.",
            path.display(),
            host.port
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        host.take_calls(),
        [
            "--user daemon-reload",
            &format!("--user enable --now {unit}")
        ]
    );

    // Identical unit: reported unchanged, the file is not rewritten, no daemon-reload.
    let before = identity(&path);
    let out = host.ok(&["gateway", "install", "--json"]);
    let v = json_of(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["changed"], false);
    assert_eq!(v["manager"], "systemd");
    assert_eq!(v["unit"], unit);
    assert_eq!(v["path"], path.display().to_string());
    assert_eq!(identity(&path), before, "unchanged unit was rewritten");
    assert_eq!(host.take_calls(), [format!("--user enable --now {unit}")]);
    let out = host.ok(&["gateway", "install"]);
    assert!(
        out.stdout
            .starts_with("Already installed systemd user unit"),
        "{}",
        out.stdout
    );
    host.take_calls();

    // gateway status: installed, enabled, active, up to date.
    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    let svc = &json_of(&out)["service"];
    assert_eq!(svc["manager"], "systemd");
    assert_eq!(svc["scope"], "user");
    assert_eq!(svc["unit"], unit);
    assert_eq!(svc["path"], path.display().to_string());
    assert_eq!(svc["installed"], true);
    assert_eq!(svc["enabled"], true);
    assert_eq!(svc["active"], true);
    assert_eq!(svc["error"], Value::Null);
    assert_eq!(svc["upToDate"], true);
    assert_eq!(svc["config"]["port"], host.port);
    assert_eq!(svc["config"]["matchesCli"], true);
    assert_eq!(
        host.take_calls(),
        [
            format!("--user is-enabled {unit}"),
            format!("--user is-active {unit}")
        ]
    );

    // stop, start, restart: one systemctl call each.
    for (cmd, verb, said) in [
        ("stop", "stop", "Stopped"),
        ("start", "start", "Started"),
        ("restart", "restart", "Restarted"),
    ] {
        let out = host.ok(&["gateway", cmd]);
        assert_eq!(out.stdout.trim(), format!("{said} {unit}."), "{cmd}");
        assert_eq!(
            host.take_calls(),
            [format!("--user {verb} {unit}")],
            "{cmd}"
        );
    }
    let out = host.ok(&["gateway", "stop", "--json"]);
    let v = json_of(&out);
    assert_eq!(
        (v["ok"].clone(), v["changed"].clone()),
        (true.into(), true.into())
    );
    host.take_calls();
    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    assert_eq!(json_of(&out)["service"]["active"], false);
    host.take_calls();

    // Uninstall: disable --now, remove the file, daemon-reload.
    let out = host.ok(&["gateway", "uninstall"]);
    assert_eq!(
        out.stdout.trim(),
        format!("Stopped, disabled and removed {unit} ({}).", path.display())
    );
    assert!(!path.exists());
    assert_eq!(
        host.take_calls(),
        [
            format!("--user disable --now {unit}"),
            "--user daemon-reload".into()
        ]
    );

    // Not installed: stop and uninstall have nothing to do, start and restart say how
    // to install; none of them asks systemctl anything.
    let out = host.ok(&["gateway", "stop"]);
    assert_eq!(
        out.stdout.trim(),
        format!("{unit} is not installed; nothing to stop.")
    );
    let out = host.ok(&["gateway", "uninstall"]);
    assert_eq!(
        out.stdout.trim(),
        format!("{unit} is not installed; nothing to remove.")
    );
    for cmd in ["start", "restart"] {
        let out = host.cli(&["gateway", cmd]);
        assert_eq!(out.code, 1, "{cmd}: {}", out.stdout);
        assert!(
            out.stderr.contains("the gateway service is not installed")
                && out.stderr.contains("openclaw gateway install"),
            "{cmd}: {}",
            out.stderr
        );
    }
    assert!(host.take_calls().is_empty());
    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    let svc = &json_of(&out)["service"];
    assert_eq!(svc["installed"], false);
    assert_eq!(svc["upToDate"], Value::Null);
}

#[test]
fn systemd_a_different_unit_needs_force_and_drift_is_found_and_fixed() {
    let host = Host::new("svc-systemd-drift", "systemd");
    let unit = "openclaw-gateway.service";
    let path = host.dir.path().join("xdg/systemd/user").join(unit);
    let expected = host.expected_text();

    // Someone else's unit under our name: refused without --force, left alone.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let theirs = "[Service]\nExecStart=/usr/bin/true\n";
    std::fs::write(&path, theirs).unwrap();
    host.take_calls();
    let out = host.cli(&["gateway", "install"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{} already exists and it differs from what install would write; pass --force to replace it",
            path.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), theirs);
    assert!(
        host.take_calls().is_empty(),
        "refused install ran systemctl"
    );
    let out = host.cli(&["gateway", "install", "--json"]);
    assert_eq!(out.code, 1);
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["changed"], false);
    assert!(v["error"].as_str().unwrap().contains("--force"), "{v}");

    // gateway status and doctor see the drift.
    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    assert_eq!(json_of(&out)["service"]["upToDate"], false);
    let out = host.cli(&["doctor", "--json"]);
    let c = doctor_check(&out, "service.unit");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("differs from what this binary would install"),
        "{c}"
    );
    assert_eq!(c.get("fixed"), None);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), theirs);

    // --force replaces it.
    host.take_calls();
    let out = host.ok(&["gateway", "install", "--force"]);
    assert!(
        out.stdout.starts_with("Installed systemd user unit"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    assert_eq!(
        host.take_calls(),
        [
            "--user daemon-reload",
            &format!("--user enable --now {unit}")
        ]
    );
    let out = host.cli(&["doctor", "--json"]);
    assert_eq!(doctor_check(&out, "service.unit")["status"], "ok");

    // The unit drifts (edited by hand): doctor --fix --yes rewrites it, keeps the drifted
    // one as .bak and reloads systemd. (A different --port alone is not drift for
    // `gateway status`: it compares at the port the unit was installed with.)
    let drifted = expected.replace("RestartSec=5\n", "RestartSec=50\n");
    assert_ne!(drifted, expected);
    std::fs::write(&path, &drifted).unwrap();
    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    assert_eq!(json_of(&out)["service"]["upToDate"], false);
    host.take_calls();
    let out = host.cli(&["doctor", "--fix", "--yes", "--json"]);
    let c = doctor_check(&out, "service.unit");
    assert_eq!(c["status"], "ok", "{c}");
    assert_eq!(c["fixed"], true, "{c}");
    assert!(
        c["changed"]
            .as_str()
            .unwrap()
            .contains("openclaw gateway restart"),
        "{c}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    let bak = path.with_file_name(format!("{unit}.bak"));
    assert_eq!(std::fs::read_to_string(&bak).unwrap(), drifted);
    assert_eq!(host.take_calls(), ["--user daemon-reload"]);
    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    assert_eq!(json_of(&out)["service"]["upToDate"], true);
    let out = host.cli(&["doctor", "--json"]);
    assert_eq!(doctor_check(&out, "service.unit")["status"], "ok");
}

#[test]
fn an_unknown_manager_override_is_an_error_naming_the_allowed_ones() {
    let host = Host::new("svc-bad-override", "upstart");
    for cmd in ["install", "start", "stop", "restart", "uninstall"] {
        let out = host.cli(&["gateway", cmd]);
        assert_eq!(out.code, 1, "{cmd}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains("OPENCLAW_SERVICE_MANAGER=\"upstart\" is not a service manager")
                && out.stderr.contains("\"systemd\"")
                && out.stderr.contains("\"launchd\""),
            "{cmd}: {}",
            out.stderr
        );
    }
    let out = host.cli(&["gateway", "install", "--json"]);
    assert_eq!(out.code, 1);
    assert!(
        json_of(&out)["error"]
            .as_str()
            .unwrap()
            .contains("OPENCLAW_SERVICE_MANAGER")
    );
    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    let svc = &json_of(&out)["service"];
    assert_eq!(svc["manager"], Value::Null);
    assert!(
        svc["error"]
            .as_str()
            .unwrap()
            .contains("OPENCLAW_SERVICE_MANAGER"),
        "{svc}"
    );
    let out = host.cli(&["doctor", "--json"]);
    let c = doctor_check(&out, "service.unit");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("upstart"), "{c}");
    assert!(host.take_calls().is_empty());
    assert!(!host.dir.path().join("xdg/systemd").exists());

    // Empty counts as unset: detection as usual (the stand-in systemctl is on PATH, so
    // this depends only on whether systemd runs this machine).
    let out = host.cli_with(
        &["gateway", "install", "--print"],
        &[("OPENCLAW_SERVICE_MANAGER", "")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// The launchd code path runs on any Unix: only `launchctl` is platform-specific, and
/// the stand-in answers for it.
#[test]
fn launchd_install_start_stop_restart_uninstall_and_drift() {
    let host = Host::new("svc-launchd", "launchd");
    let label = "ai.openclaw.gateway";
    let path = host
        .home()
        .join("Library/LaunchAgents")
        .join(format!("{label}.plist"));
    let uid = std::fs::metadata(host.dir.path()).unwrap().uid();
    let target = format!("gui/{uid}/{label}");
    let expected = host.expected_text();
    assert!(
        expected.contains(&format!("<string>{label}</string>")),
        "{expected}"
    );
    assert!(expected.contains(&format!(
        "<string>{}</string>",
        host.state().join("logs/gateway.stdout.log").display()
    )));

    // Install: not loaded yet, so bootstrap.
    let out = host.ok(&["gateway", "install"]);
    assert_eq!(
        out.stdout.trim(),
        format!(
            "Installed LaunchAgent {label} at {} (port {}); enabled and started.",
            path.display(),
            host.port
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    assert!(host.state().join("logs").is_dir());
    assert_eq!(
        host.take_calls(),
        [
            format!("print {target}"),
            format!("bootstrap gui/{uid} {}", path.display())
        ]
    );

    // Identical and loaded: nothing to do.
    let before = identity(&path);
    let out = host.ok(&["gateway", "install", "--json"]);
    assert_eq!(json_of(&out)["changed"], false);
    assert_eq!(identity(&path), before);
    assert_eq!(host.take_calls(), [format!("print {target}")]);

    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    let svc = &json_of(&out)["service"];
    assert_eq!(svc["manager"], "launchd");
    assert_eq!(svc["unit"], label);
    assert_eq!(svc["installed"], true);
    assert_eq!(svc["enabled"], true);
    assert_eq!(svc["active"], true);
    assert_eq!(svc["upToDate"], true);
    assert_eq!(host.take_calls(), [format!("print {target}")]);

    let out = host.ok(&["gateway", "start"]);
    assert_eq!(out.stdout.trim(), format!("Started {label}."));
    assert_eq!(
        host.take_calls(),
        [format!("print {target}"), format!("kickstart {target}")]
    );
    let out = host.ok(&["gateway", "restart"]);
    assert_eq!(out.stdout.trim(), format!("Restarted {label}."));
    assert_eq!(
        host.take_calls(),
        [format!("print {target}"), format!("kickstart -k {target}")]
    );
    let out = host.ok(&["gateway", "stop"]);
    assert_eq!(out.stdout.trim(), format!("Stopped {label}."));
    assert_eq!(
        host.take_calls(),
        [format!("print {target}"), format!("bootout {target}")]
    );
    let out = host.ok(&["gateway", "stop"]);
    assert_eq!(
        out.stdout.trim(),
        format!("{label} is not loaded; nothing to stop.")
    );
    host.take_calls();
    let out = host.ok(&["gateway", "start"]);
    assert_eq!(out.stdout.trim(), format!("Started {label}."));
    assert_eq!(
        host.take_calls(),
        [
            format!("print {target}"),
            format!("bootstrap gui/{uid} {}", path.display())
        ]
    );

    // Drift: doctor finds it and --fix rewrites the plist (no systemctl involved).
    let drifted = expected.replace("<integer>5</integer>", "<integer>50</integer>");
    assert_ne!(drifted, expected);
    std::fs::write(&path, &drifted).unwrap();
    let out = host.ok(&["gateway", "status", "--json", "--no-probe"]);
    assert_eq!(json_of(&out)["service"]["upToDate"], false);
    let out = host.cli(&["doctor", "--json"]);
    assert_eq!(doctor_check(&out, "service.unit")["status"], "warn");
    host.take_calls();
    let out = host.cli(&["doctor", "--fix", "--yes", "--json"]);
    let c = doctor_check(&out, "service.unit");
    assert_eq!(
        (c["status"].clone(), c["fixed"].clone()),
        ("ok".into(), true.into()),
        "{c}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    assert!(host.take_calls().iter().all(|c| c.starts_with("print ")));

    // A changed plist while loaded: install --force unloads and loads it again.
    std::fs::write(&path, &drifted).unwrap();
    let out = host.ok(&["gateway", "install", "--force"]);
    assert!(
        out.stdout.starts_with("Installed LaunchAgent"),
        "{}",
        out.stdout
    );
    assert_eq!(
        host.take_calls(),
        [
            format!("print {target}"),
            format!("bootout {target}"),
            format!("bootstrap gui/{uid} {}", path.display())
        ]
    );

    // Uninstall: unload, remove.
    let out = host.ok(&["gateway", "uninstall"]);
    assert_eq!(
        out.stdout.trim(),
        format!("Stopped and removed {label} ({}).", path.display())
    );
    assert!(!path.exists());
    assert_eq!(
        host.take_calls(),
        [format!("print {target}"), format!("bootout {target}")]
    );
}
