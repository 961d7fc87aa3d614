//! `openclaw gateway install|uninstall|start|stop|restart`: the gateway as an OS service.
//!
//! Linux uses a systemd unit (`~/.config/systemd/user/openclaw-gateway[-<profile>].service`,
//! or `/etc/systemd/system/…` with `--system`); macOS uses a LaunchAgent
//! (`~/Library/LaunchAgents/ai.openclaw.gateway.plist`, label `ai.openclaw.<profile>` for a
//! named profile). Anything else has no supported service manager, and the commands say so.
//!
//! The text generation ([`systemd_unit`], [`launchd_plist`]) is pure so that `doctor` and
//! `gateway status` can compare an installed unit with what `install` would write
//! ([`expected_unit`]) and read back what an installed unit runs ([`InstalledService`]).
//!
//! The systemd and launchd specifics are in [`systemd`] and [`launchd`]; what
//! `gateway status` reports about the service is in [`status`].

mod foreground;
mod launchd;
mod status;
mod systemd;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use openclaw_config::paths::{CONFIG_PATH_ENV, PROFILE_ENV, STATE_DIR_ENV};
use openclaw_config::{AtomicWrite, Expect, Paths, write_atomic};
use serde_json::json;

use super::{Global, print_json};
use crate::target::Local;

pub use launchd::{launchd_label, launchd_plist};
pub use status::{ServiceStatus, service_status};
pub use systemd::{systemd_unit, systemd_unit_name};

/// The message every command prints when this machine has no supported service manager.
pub const NO_MANAGER: &str = "no service manager found (systemd or launchd); run \"openclaw gateway run\" under your own supervisor";

/// Exit status the gateway uses for configuration problems; the unit does not restart on it.
pub const CONFIG_EXIT_STATUS: u8 = 78;

/// Mode bits of a new unit file or plist (service managers read them; nothing secret is
/// in them).
pub const UNIT_FILE_MODE: u32 = 0o644;

/// Flags shared by `install`, `uninstall`, `start`, `stop` and `restart`.
#[derive(clap::Args, Clone, Default)]
pub struct ServiceArgs {
    /// Print machine-readable JSON: {ok, manager, unit, path, changed}.
    #[arg(long)]
    pub json: bool,
    /// Use a system-wide systemd unit in /etc/systemd/system (needs root) instead of a user unit.
    #[arg(long)]
    pub system: bool,
}

/// Flags of `openclaw gateway install`.
#[derive(clap::Args, Clone, Default)]
pub struct InstallArgs {
    /// Port the service's gateway listens on (default: the configured port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Replace an existing unit file that differs from what install would write.
    #[arg(long)]
    pub force: bool,
    /// Print the unit file (plist on macOS) instead of installing it; works without a service manager.
    #[arg(long)]
    pub print: bool,
    #[command(flatten)]
    pub common: ServiceArgs,
}

/// The lifecycle commands other than `install`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Disable, stop and remove the unit.
    Uninstall,
    /// Start the installed service.
    Start,
    /// Stop the service (a no-op when it is not installed).
    Stop,
    /// Restart the installed service.
    Restart,
}

/// A supported service manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    /// systemd (Linux), driven with `systemctl`.
    Systemd,
    /// launchd (macOS), driven with `launchctl`.
    Launchd,
}

impl Manager {
    /// `systemd` or `launchd`.
    pub fn name(self) -> &'static str {
        match self {
            Manager::Systemd => "systemd",
            Manager::Launchd => "launchd",
        }
    }
}

/// Environment variable that names the service manager instead of detecting it.
pub const MANAGER_ENV: &str = "OPENCLAW_SERVICE_MANAGER";

/// The service manager of this machine: systemd when `systemctl` is on `PATH` and
/// `/run/systemd/system` exists (systemd is PID 1), launchd on macOS, otherwise none.
///
/// `OPENCLAW_SERVICE_MANAGER=systemd|launchd` says which manager to drive instead of
/// detecting one: used by the tests (with stand-in `systemctl`/`launchctl` programs on
/// `PATH`) and for containers whose systemd has no `/run/systemd/system`. The commands
/// are still run by name from `PATH`. Empty counts as unset; any other value is an error
/// naming the allowed ones, never silently ignored.
pub fn detect_manager() -> Result<Option<Manager>, String> {
    match std::env::var(MANAGER_ENV) {
        Ok(v) if v.is_empty() => {}
        Ok(v) => {
            return match v.as_str() {
                "systemd" => Ok(Some(Manager::Systemd)),
                "launchd" => Ok(Some(Manager::Launchd)),
                other => Err(format!(
                    "{MANAGER_ENV}={other:?} is not a service manager; use \"systemd\" or \"launchd\", or unset it to detect one"
                )),
            };
        }
        Err(std::env::VarError::NotPresent) => {}
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(format!(
                "{MANAGER_ENV} is not valid UTF-8; use \"systemd\" or \"launchd\", or unset it to detect one"
            ));
        }
    }
    if cfg!(target_os = "macos") {
        return Ok(Some(Manager::Launchd));
    }
    if on_path("systemctl") && Path::new("/run/systemd/system").is_dir() {
        return Ok(Some(Manager::Systemd));
    }
    Ok(None)
}

/// The format `--print` uses when no manager runs: the platform's native one.
fn native_format() -> Manager {
    if cfg!(target_os = "macos") {
        Manager::Launchd
    } else {
        Manager::Systemd
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|dir| {
            let f = dir.join(program);
            std::fs::metadata(&f).is_ok_and(|m| m.is_file())
        })
    })
}

/// Everything a unit file or plist says about the gateway it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Absolute path of the `openclaw` binary.
    pub program: PathBuf,
    /// The profile (`None` for the default instance).
    pub profile: Option<String>,
    /// Whether the profile is `dev` (written as `--dev`).
    pub dev: bool,
    /// Port passed as `gateway run --port`.
    pub port: u16,
    /// Environment the service runs with, in order.
    pub env: Vec<(String, String)>,
    /// The instance's state directory (launchd writes stdout/stderr under its `logs/`).
    pub state_dir: PathBuf,
    /// A system-wide unit (`multi-user.target`) rather than a per-user one.
    pub system: bool,
}

impl ServiceSpec {
    /// Builds the spec for this CLI invocation: the current binary, the resolved profile,
    /// `port` (or the configured one), and the profile's environment overrides made absolute.
    pub fn for_local(local: &Local, port: Option<u16>, system: bool) -> anyhow::Result<Self> {
        let program = std::env::current_exe().map_err(|e| {
            anyhow::anyhow!(
                "cannot tell where the openclaw binary is ({e}); run it by its full path"
            )
        })?;
        let program = std::path::absolute(&program).unwrap_or(program);
        let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
        let mut env = Vec::new();
        if let Some(p) = &local.paths.profile {
            env.push((PROFILE_ENV.to_owned(), p.clone()));
        }
        // A system service has no meaningful HOME of the installing user, so it always
        // gets the state dir spelled out.
        if set(STATE_DIR_ENV) || system {
            env.push((
                STATE_DIR_ENV.to_owned(),
                absolute(&local.paths.state_dir).display().to_string(),
            ));
        }
        if set(CONFIG_PATH_ENV) {
            env.push((
                CONFIG_PATH_ENV.to_owned(),
                absolute(&local.paths.config_path).display().to_string(),
            ));
        }
        Ok(ServiceSpec {
            program,
            profile: local.paths.profile.clone(),
            dev: local.paths.dev,
            port: port.unwrap_or(local.port),
            env,
            state_dir: absolute(&local.paths.state_dir),
            system,
        })
    }

    /// The command line: program, profile flag, `gateway run --port N`.
    pub fn argv(&self) -> Vec<String> {
        let mut v = vec![self.program.display().to_string()];
        if self.dev {
            v.push("--dev".into());
        } else if let Some(p) = &self.profile {
            v.push("--profile".into());
            v.push(p.clone());
        }
        v.extend(["gateway".into(), "run".into(), "--port".into()]);
        v.push(self.port.to_string());
        v
    }

    fn profile_label(&self) -> &str {
        self.profile.as_deref().unwrap_or("default")
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The text for `manager`'s format.
pub fn render(manager: Manager, spec: &ServiceSpec) -> String {
    match manager {
        Manager::Systemd => systemd_unit(spec),
        Manager::Launchd => launchd_plist(spec),
    }
}

/// What an installed unit file or plist runs, read back from its text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstalledService {
    /// The command line (`ExecStart=` or `ProgramArguments`).
    pub argv: Vec<String>,
    /// The environment assignments, in order.
    pub env: Vec<(String, String)>,
}

impl InstalledService {
    /// Reads either format, by its first non-blank character.
    pub fn parse(text: &str) -> Self {
        if text.trim_start().starts_with('<') {
            Self::from_plist(text)
        } else {
            Self::from_systemd(text)
        }
    }

    /// An environment value the service sets.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value following `flag` on the command line.
    fn flag_value(&self, flag: &str) -> Option<&str> {
        let i = self.argv.iter().position(|a| a == flag)?;
        self.argv.get(i + 1).map(String::as_str)
    }

    /// `--port N` from the command line.
    pub fn port(&self) -> Option<u16> {
        self.flag_value("--port").and_then(|p| p.parse().ok())
    }

    /// The paths the service's gateway resolves: its `--profile`/`--dev` and environment,
    /// with `home` for `~`-relative defaults.
    pub fn paths(&self, home: Option<&str>) -> Option<Paths> {
        let dev = self.argv.iter().any(|a| a == "--dev");
        let profile = self.flag_value("--profile");
        let env = |k: &str| match self.env_var(k) {
            Some(v) => Some(v.to_owned()),
            None if k == "HOME" => home.map(str::to_owned),
            None => None,
        };
        Paths::resolve(profile, dev, &env).ok()
    }
}

/// Where a unit lives and what it is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitLocation {
    /// The manager whose format and commands apply.
    pub manager: Manager,
    /// A system-wide systemd unit rather than a per-user one.
    pub system: bool,
    /// Unit name (systemd) or label (launchd).
    pub unit: String,
    /// The unit file or plist.
    pub path: PathBuf,
}

/// The unit location for `profile`: systemd user units go in `$XDG_CONFIG_HOME/systemd/user`
/// (default `~/.config/systemd/user`), system units in `/etc/systemd/system`, LaunchAgents
/// in `~/Library/LaunchAgents`.
pub fn unit_location(
    manager: Manager,
    system: bool,
    profile: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<UnitLocation, String> {
    let home = || {
        env("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| "HOME is not set; set it to your home directory".to_owned())
    };
    match manager {
        Manager::Systemd => {
            let unit = systemd_unit_name(profile);
            let dir = if system {
                PathBuf::from("/etc/systemd/system")
            } else {
                match env("XDG_CONFIG_HOME").filter(|x| x.starts_with('/')) {
                    Some(x) => PathBuf::from(x).join("systemd").join("user"),
                    None => home()?.join(".config").join("systemd").join("user"),
                }
            };
            Ok(UnitLocation {
                manager,
                system,
                path: dir.join(&unit),
                unit,
            })
        }
        Manager::Launchd => {
            if system {
                return Err("--system is only supported with systemd; on macOS the gateway installs as a per-user LaunchAgent (drop --system)".into());
            }
            let unit = launchd_label(profile);
            Ok(UnitLocation {
                manager,
                system,
                path: home()?
                    .join("Library")
                    .join("LaunchAgents")
                    .join(format!("{unit}.plist")),
                unit,
            })
        }
    }
}

fn process_env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// What `openclaw gateway install` would write for this profile under the detected
/// manager (per-user unit, configured port): the unit's path and its full text. `None`
/// when no service manager runs here or the paths cannot be resolved.
pub fn expected_unit(global: &Global) -> Option<(PathBuf, String)> {
    expected_unit_with_port(global, None)
}

/// Like [`expected_unit`], for `openclaw gateway install --port <port>` (`None`: the
/// configured port), e.g. to compare with a unit that was installed with `--port`.
pub fn expected_unit_with_port(global: &Global, port: Option<u16>) -> Option<(PathBuf, String)> {
    let manager = detect_manager().ok()??;
    let local = Local::load(global).ok()?;
    let loc = unit_location(manager, false, local.paths.profile.as_deref(), &process_env).ok()?;
    let spec = ServiceSpec::for_local(&local, port, false).ok()?;
    Some((loc.path, render(manager, &spec)))
}

/// What `install` does with an existing file.
#[derive(Debug, PartialEq, Eq)]
enum WritePlan {
    /// Nothing there: write it.
    Create,
    /// Already identical: leave it.
    Unchanged,
    /// Different, and `--force` was given: replace it.
    Replace,
}

fn plan_write(existing: Option<&str>, new: &str, force: bool) -> Result<WritePlan, String> {
    match existing {
        None => Ok(WritePlan::Create),
        Some(old) if old == new => Ok(WritePlan::Unchanged),
        Some(_) if force => Ok(WritePlan::Replace),
        Some(_) => Err("it differs from what install would write; pass --force to replace it (see the new text with `openclaw gateway install --print`)".into()),
    }
}

/// A command's outcome, printed as text or as `{ok, manager, unit, path, changed}`.
struct Outcome {
    manager: Option<Manager>,
    unit: Option<String>,
    path: Option<PathBuf>,
    changed: bool,
    result: Result<String, String>,
}

impl Outcome {
    fn fail(loc: Option<&UnitLocation>, manager: Option<Manager>, msg: String) -> Self {
        Outcome {
            manager,
            unit: loc.map(|l| l.unit.clone()),
            path: loc.map(|l| l.path.clone()),
            changed: false,
            result: Err(msg),
        }
    }

    fn ok(loc: &UnitLocation, changed: bool, msg: String) -> Self {
        Outcome {
            manager: Some(loc.manager),
            unit: Some(loc.unit.clone()),
            path: Some(loc.path.clone()),
            changed,
            result: Ok(msg),
        }
    }

    fn finish(self, json: bool) -> ExitCode {
        if json {
            let mut v = json!({
                "ok": self.result.is_ok(),
                "manager": self.manager.map(Manager::name),
                "unit": self.unit,
                "path": self.path,
                "changed": self.changed,
            });
            if let Err(e) = &self.result {
                v["error"] = json!(e);
            }
            print_json(&v);
        } else {
            match &self.result {
                Ok(m) => println!("{m}"),
                Err(e) => eprintln!("Error: {e}"),
            }
        }
        if self.result.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

fn need_root(loc: &UnitLocation) -> Result<(), String> {
    if loc.system && !is_root() {
        return Err(format!(
            "--system manages {} and needs root; re-run with sudo, or drop --system for a per-user unit",
            loc.path.display()
        ));
    }
    Ok(())
}

/// Runs a manager command; `Err` carries the command line and its stderr.
fn run_cmd(program: &str, args: &[&str]) -> Result<String, String> {
    let shown = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let detail = if stderr.is_empty() { stdout } else { stderr };
    let mut msg = format!("`{shown}` failed ({}): {detail}", out.status);
    if detail.contains("Failed to connect to bus") || detail.contains("$DBUS_SESSION_BUS_ADDRESS") {
        msg.push_str(
            "\nhint: no systemd user session is reachable; log in through a normal session, or run `loginctl enable-linger $USER` on a headless host, or use --system as root",
        );
    }
    Err(msg)
}

fn scope_word(loc: &UnitLocation) -> &'static str {
    match (loc.manager, loc.system) {
        (Manager::Launchd, _) => "LaunchAgent",
        (Manager::Systemd, true) => "systemd system unit",
        (Manager::Systemd, false) => "systemd user unit",
    }
}

/// `openclaw gateway install`.
pub fn install(global: &Global, args: &InstallArgs) -> anyhow::Result<ExitCode> {
    let json = args.common.json;
    let local = Local::load(global)?;
    if let Some(e) = &local.config_error {
        eprintln!("warning: config not loaded ({e}); the service will fail until it is fixed");
    }
    let detected = match detect_manager() {
        Ok(m) => m,
        Err(e) => return Ok(Outcome::fail(None, None, e).finish(json)),
    };
    let format = detected.unwrap_or_else(native_format);
    let profile = local.paths.profile.clone();
    if format == Manager::Launchd && profile.as_deref() == Some("gateway") {
        return Ok(Outcome::fail(None, detected, "the profile name \"gateway\" would reuse the default LaunchAgent label ai.openclaw.gateway; pick another profile name".into()).finish(json));
    }
    let loc = match unit_location(format, args.common.system, profile.as_deref(), &process_env) {
        Ok(l) => l,
        Err(e) => return Ok(Outcome::fail(None, detected, e).finish(json)),
    };
    let spec = ServiceSpec::for_local(&local, args.port, args.common.system)?;
    let text = render(format, &spec);

    if args.print {
        if json {
            print_json(&json!({
                "ok": true,
                "manager": detected.map(Manager::name),
                "unit": loc.unit,
                "path": loc.path,
                "changed": false,
                "text": text,
            }));
        } else {
            print!("{text}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(manager) = detected else {
        if !json {
            eprintln!("{NO_MANAGER}");
            eprintln!(
                "(`openclaw gateway install --print` shows the unit file install would write)"
            );
            return Ok(ExitCode::FAILURE);
        }
        return Ok(Outcome::fail(None, None, NO_MANAGER.into()).finish(json));
    };
    if let Err(e) = need_root(&loc) {
        return Ok(Outcome::fail(Some(&loc), Some(manager), e).finish(json));
    }
    let existing = match std::fs::read_to_string(&loc.path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            let msg = format!("cannot read {}: {e}", loc.path.display());
            return Ok(Outcome::fail(Some(&loc), Some(manager), msg).finish(json));
        }
    };
    let plan = match plan_write(existing.as_deref(), &text, args.force) {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("{} already exists and {e}", loc.path.display());
            return Ok(Outcome::fail(Some(&loc), Some(manager), msg).finish(json));
        }
    };
    let changed = plan != WritePlan::Unchanged;
    let unit_write = AtomicWrite {
        backup: false,
        new_mode: UNIT_FILE_MODE,
        expect: Expect::Anything,
    };
    if changed && let Err(e) = write_atomic(&loc.path, text.as_bytes(), &unit_write) {
        return Ok(Outcome::fail(Some(&loc), Some(manager), e.to_string()).finish(json));
    }
    let activated = match manager {
        Manager::Systemd => systemd::activate(&loc, changed),
        Manager::Launchd => launchd::activate(&loc, &spec, changed),
    };
    let outcome = match activated {
        Ok(()) => {
            let what = if changed {
                "Installed"
            } else {
                "Already installed"
            };
            Outcome::ok(
                &loc,
                changed,
                format!(
                    "{what} {} {} at {} (port {}); enabled and started.",
                    scope_word(&loc),
                    loc.unit,
                    loc.path.display(),
                    spec.port
                ),
            )
        }
        Err(e) => Outcome {
            changed,
            ..Outcome::fail(
                Some(&loc),
                Some(manager),
                format!("wrote {} but could not start it: {e}", loc.path.display()),
            )
        },
    };
    Ok(outcome.finish(json))
}

/// `openclaw gateway uninstall|start|stop|restart`. An installed service is driven
/// through its manager; without one, `stop` and `restart` act on the gateway that holds
/// this instance's state-dir lock (a foreground or otherwise supervised process), and
/// `start` reports it as already running.
pub fn control(global: &Global, action: Action, args: &ServiceArgs) -> anyhow::Result<ExitCode> {
    let json = args.json;
    let paths = Paths::from_process_env(global.profile.as_deref(), global.dev)?;
    let detected = detect_manager();
    let managed = match &detected {
        Ok(Some(m)) => unit_location(*m, args.system, paths.profile.as_deref(), &process_env)
            .is_ok_and(|l| l.path.exists()),
        _ => false,
    };
    let lock = paths.lock_path();
    if !managed && action != Action::Uninstall {
        match foreground::find(&lock) {
            Ok(Some(h)) => {
                return Ok(foreground::control(
                    action,
                    h,
                    &lock,
                    &paths.config_path,
                    json,
                ));
            }
            Ok(None) => {}
            Err(e) => return Ok(Outcome::fail(None, None, e).finish(json)),
        }
    }
    let manager = match detected {
        Ok(Some(m)) => m,
        Ok(None) => {
            let mut msg = NO_MANAGER.to_owned();
            if matches!(action, Action::Stop | Action::Restart) {
                msg.push_str(&format!(
                    "; no gateway is running for this instance either (nothing holds {})",
                    lock.display()
                ));
            }
            return Ok(Outcome::fail(None, None, msg).finish(json));
        }
        Err(e) => return Ok(Outcome::fail(None, None, e).finish(json)),
    };
    let loc = match unit_location(manager, args.system, paths.profile.as_deref(), &process_env) {
        Ok(l) => l,
        Err(e) => return Ok(Outcome::fail(None, Some(manager), e).finish(json)),
    };
    if let Err(e) = need_root(&loc) {
        return Ok(Outcome::fail(Some(&loc), Some(manager), e).finish(json));
    }
    let installed = loc.path.exists();
    let not_installed = || {
        let flags = match (&paths.profile, paths.dev) {
            (_, true) => " --dev".to_owned(),
            (Some(p), false) => format!(" --profile {p}"),
            (None, false) => String::new(),
        };
        format!(
            "the gateway service is not installed ({} does not exist); install it with `openclaw{flags} gateway install{}`",
            loc.path.display(),
            if loc.system { " --system" } else { "" }
        )
    };
    let outcome = match (action, installed) {
        (Action::Stop, false) => Outcome::ok(
            &loc,
            false,
            format!("{} is not installed; nothing to stop.", loc.unit),
        ),
        (Action::Uninstall, false) => Outcome::ok(
            &loc,
            false,
            format!("{} is not installed; nothing to remove.", loc.unit),
        ),
        (Action::Start | Action::Restart, false) => {
            Outcome::fail(Some(&loc), Some(manager), not_installed())
        }
        (action, true) => match run_action(&loc, action) {
            Ok(msg) => Outcome::ok(&loc, true, msg),
            Err(e) => Outcome::fail(Some(&loc), Some(manager), e),
        },
    };
    Ok(outcome.finish(json))
}

fn run_action(loc: &UnitLocation, action: Action) -> Result<String, String> {
    match loc.manager {
        Manager::Systemd => systemd::run_action(loc, action),
        Manager::Launchd => launchd::run_action(loc, action),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(profile: Option<&str>) -> ServiceSpec {
        ServiceSpec {
            program: PathBuf::from("/usr/local/bin/openclaw"),
            profile: profile.map(str::to_owned),
            dev: profile == Some("dev"),
            port: 18789,
            env: profile
                .map(|p| vec![(PROFILE_ENV.to_owned(), p.to_owned())])
                .unwrap_or_default(),
            state_dir: PathBuf::from("/home/u/.openclaw"),
            system: false,
        }
    }

    #[test]
    fn default_unit_has_the_documented_lines() {
        let u = systemd_unit(&spec(None));
        for line in [
            "[Unit]",
            "Description=OpenClaw Gateway (profile default)",
            "After=network-online.target",
            "Wants=network-online.target",
            "[Service]",
            "ExecStart=/usr/local/bin/openclaw gateway run --port 18789",
            "Restart=always",
            "RestartSec=5",
            "RestartPreventExitStatus=78",
            "TimeoutStopSec=30",
            "KillMode=mixed",
            "[Install]",
            "WantedBy=default.target",
        ] {
            assert!(u.lines().any(|l| l == line), "missing {line:?} in\n{u}");
        }
        assert!(!u.contains("Environment="), "{u}");
    }

    #[test]
    fn profile_unit_names_profile_and_env() {
        let mut s = spec(Some("work"));
        s.env.push((STATE_DIR_ENV.into(), "/srv/oc state".into()));
        s.system = true;
        let u = systemd_unit(&s);
        assert!(u.contains("Description=OpenClaw Gateway (profile work)\n"));
        assert!(u.contains(
            "ExecStart=/usr/local/bin/openclaw --profile work gateway run --port 18789\n"
        ));
        assert!(u.contains("Environment=OPENCLAW_PROFILE=work\n"));
        assert!(u.contains("Environment=\"OPENCLAW_STATE_DIR=/srv/oc state\"\n"));
        assert!(u.contains("WantedBy=multi-user.target\n"));
        assert_eq!(
            systemd_unit_name(Some("work")),
            "openclaw-gateway-work.service"
        );
        assert_eq!(systemd_unit_name(None), "openclaw-gateway.service");
        assert_eq!(launchd_label(Some("work")), "ai.openclaw.work");
        assert_eq!(launchd_label(None), "ai.openclaw.gateway");
    }

    #[test]
    fn dev_profile_uses_dev_flag() {
        let u = systemd_unit(&spec(Some("dev")));
        assert!(u.contains("ExecStart=/usr/local/bin/openclaw --dev gateway run --port 18789\n"));
    }

    #[test]
    fn odd_characters_are_quoted_and_read_back() {
        let mut s = spec(Some("p"));
        s.program = PathBuf::from("/opt/my apps/100%/$bin/open\"claw");
        s.env
            .push((CONFIG_PATH_ENV.into(), "/c/50% \"x\"\\y.json".into()));
        let u = systemd_unit(&s);
        assert!(
            u.contains("ExecStart=\"/opt/my apps/100%%/$$bin/open\\\"claw\" --profile p"),
            "{u}"
        );
        let back = InstalledService::from_systemd(&u);
        assert_eq!(back.argv, s.argv());
        assert_eq!(back.env, s.env);
        assert_eq!(back.port(), Some(18789));
        let p = back.paths(Some("/home/u")).unwrap();
        assert_eq!(p.config_path, PathBuf::from("/c/50% \"x\"\\y.json"));
        assert_eq!(p.state_dir, PathBuf::from("/home/u/.openclaw-p"));
    }

    #[test]
    fn plist_has_keys_and_reads_back() {
        let mut s = spec(Some("work"));
        s.env.push((CONFIG_PATH_ENV.into(), "/a&b/<c>.json".into()));
        let p = launchd_plist(&s);
        assert!(p.contains("<key>Label</key>\n  <string>ai.openclaw.work</string>"));
        assert!(p.contains("<key>KeepAlive</key>\n  <true/>"));
        assert!(p.contains("<key>RunAtLoad</key>\n  <true/>"));
        assert!(p.contains("<string>/home/u/.openclaw/logs/gateway.stdout.log</string>"));
        assert!(p.contains("<string>/home/u/.openclaw/logs/gateway.stderr.log</string>"));
        assert!(p.contains("/a&amp;b/&lt;c&gt;.json"));
        let back = InstalledService::parse(&p);
        assert_eq!(back.argv, s.argv());
        assert_eq!(back.env, s.env);
    }

    #[test]
    fn install_refuses_to_overwrite_without_force() {
        assert_eq!(plan_write(None, "a", false), Ok(WritePlan::Create));
        assert_eq!(plan_write(Some("a"), "a", false), Ok(WritePlan::Unchanged));
        assert_eq!(plan_write(Some("b"), "a", true), Ok(WritePlan::Replace));
        let e = plan_write(Some("b"), "a", false).unwrap_err();
        assert!(e.contains("--force"), "{e}");
    }

    #[test]
    fn unit_locations() {
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_owned());
        let l = unit_location(Manager::Systemd, false, Some("a"), &env).unwrap();
        assert_eq!(
            l.path,
            PathBuf::from("/home/u/.config/systemd/user/openclaw-gateway-a.service")
        );
        let l = unit_location(Manager::Systemd, true, None, &env).unwrap();
        assert_eq!(
            l.path,
            PathBuf::from("/etc/systemd/system/openclaw-gateway.service")
        );
        let l = unit_location(Manager::Launchd, false, None, &env).unwrap();
        assert_eq!(
            l.path,
            PathBuf::from("/home/u/Library/LaunchAgents/ai.openclaw.gateway.plist")
        );
        assert!(unit_location(Manager::Launchd, true, None, &env).is_err());
        let none = |_: &str| None;
        let e = unit_location(Manager::Systemd, false, None, &none).unwrap_err();
        assert!(e.contains("HOME"), "{e}");
        let xdg = |k: &str| (k == "XDG_CONFIG_HOME").then(|| "/x".to_owned());
        let l = unit_location(Manager::Systemd, false, None, &xdg).unwrap();
        assert_eq!(
            l.path,
            PathBuf::from("/x/systemd/user/openclaw-gateway.service")
        );
    }

    #[test]
    fn summary_wording() {
        let loc = UnitLocation {
            manager: Manager::Systemd,
            system: false,
            unit: "openclaw-gateway.service".into(),
            path: PathBuf::from("/nonexistent"),
        };
        let mut st = ServiceStatus {
            manager: Some(Manager::Systemd),
            location: Some(loc),
            installed: true,
            enabled: Some(true),
            active: Some(true),
            error: None,
            installed_service: None,
        };
        assert_eq!(
            st.summary(),
            "systemd (openclaw-gateway.service: installed, enabled, active)"
        );
        st.installed = false;
        assert_eq!(
            st.summary(),
            "systemd (openclaw-gateway.service: not installed)"
        );
        st.manager = None;
        assert_eq!(st.summary(), "no service manager");
    }
}
