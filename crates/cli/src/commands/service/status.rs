//! What `gateway status` (and `doctor`) report about the installed service.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::{
    InstalledService, Manager, UnitLocation, detect_manager, launchd::launchd_loaded,
    native_format, process_env, unit_location,
};

/// The service as `gateway status` reports it.
#[derive(Clone, Debug)]
pub struct ServiceStatus {
    /// The detected manager (`None`: no service manager).
    pub manager: Option<Manager>,
    /// Where the unit is (or would be) and its name; `None` when HOME is unknown.
    pub location: Option<UnitLocation>,
    /// The unit file exists.
    pub installed: bool,
    /// Enabled (systemd) / loaded (launchd); `None` when unknown.
    pub enabled: Option<bool>,
    /// Active (systemd) / running (launchd); `None` when unknown.
    pub active: Option<bool>,
    /// Why the manager could not be asked, if it could not.
    pub error: Option<String>,
    /// What the installed unit runs.
    pub installed_service: Option<InstalledService>,
}

impl ServiceStatus {
    /// One human line: `systemd (openclaw-gateway.service: installed, enabled, active)`.
    pub fn summary(&self) -> String {
        let Some(manager) = self.manager else {
            return match &self.location {
                Some(l) if self.installed => format!(
                    "no service manager (a unit file exists at {})",
                    l.path.display()
                ),
                _ => "no service manager".into(),
            };
        };
        let unit = self
            .location
            .as_ref()
            .map_or("?".to_owned(), |l| l.unit.clone());
        if !self.installed {
            return format!("{} ({unit}: not installed)", manager.name());
        }
        let (on, off) = match manager {
            Manager::Systemd => (("enabled", "disabled"), ("active", "inactive")),
            Manager::Launchd => (("loaded", "not loaded"), ("running", "not running")),
        };
        let word = |b: Option<bool>, (y, n): (&str, &str)| match b {
            Some(true) => y.to_owned(),
            Some(false) => n.to_owned(),
            None => format!("{y}?"),
        };
        let scope = match &self.location {
            Some(l) if l.system => ", system",
            _ => "",
        };
        format!(
            "{} ({unit}: installed, {}, {}{scope})",
            manager.name(),
            word(self.enabled, on),
            word(self.active, off)
        )
    }
}

/// Looks up the service for this profile: the per-user unit, or the system unit when only
/// that one is installed; asks the manager whether it is enabled and active.
pub fn service_status(profile: Option<&str>) -> ServiceStatus {
    let (manager, detect_error) = match detect_manager() {
        Ok(m) => (m, None),
        Err(e) => (None, Some(e)),
    };
    let format = manager.unwrap_or_else(native_format);
    let user = unit_location(format, false, profile, &process_env).ok();
    let system = (format == Manager::Systemd)
        .then(|| unit_location(format, true, profile, &process_env).ok())
        .flatten();
    let location = match (&user, &system) {
        (Some(u), _) if u.path.exists() => user.clone(),
        (_, Some(s)) if s.path.exists() => system.clone(),
        _ => user.clone().or(system.clone()),
    };
    let installed = location.as_ref().is_some_and(|l| l.path.exists());
    let installed_service = location
        .as_ref()
        .filter(|_| installed)
        .and_then(|l| std::fs::read_to_string(&l.path).ok())
        .map(|t| InstalledService::parse(&t));
    let mut st = ServiceStatus {
        manager,
        location,
        installed,
        enabled: None,
        active: None,
        error: detect_error,
        installed_service,
    };
    let (Some(manager), Some(loc), true) = (manager, st.location.clone(), installed) else {
        return st;
    };
    match manager {
        Manager::Systemd => {
            let word = |verb: &str| -> (Option<String>, Option<String>) {
                let mut args = vec![];
                if !loc.system {
                    args.push("--user");
                }
                args.extend([verb, loc.unit.as_str()]);
                match Command::new("systemctl").args(&args).output() {
                    Ok(o) => {
                        let out = String::from_utf8_lossy(&o.stdout).trim().to_owned();
                        let err = String::from_utf8_lossy(&o.stderr).trim().to_owned();
                        if out.is_empty() {
                            (None, Some(err))
                        } else {
                            (Some(out), None)
                        }
                    }
                    Err(e) => (None, Some(format!("could not run systemctl: {e}"))),
                }
            };
            let (enabled, e1) = word("is-enabled");
            let (active, e2) = word("is-active");
            st.enabled = enabled.map(|s| s == "enabled" || s == "enabled-runtime");
            st.active = active.map(|s| s == "active" || s == "reloading");
            st.error = e1.or(e2).filter(|e| !e.is_empty());
        }
        Manager::Launchd => match launchd_loaded(&loc) {
            Some(out) => {
                st.enabled = Some(true);
                st.active = Some(out.contains("state = running"));
            }
            None => {
                st.enabled = Some(false);
                st.active = Some(false);
            }
        },
    }
    st
}

impl ServiceStatus {
    /// The `service` object of `gateway status --json`; `cli_config` is the CLI's config
    /// path, compared with the one the service uses.
    pub fn to_json(&self, cli_config: &Path) -> Value {
        let home = process_env("HOME");
        let svc_paths = self
            .installed_service
            .as_ref()
            .map(|s| (s, s.paths(home.as_deref())));
        let config = match svc_paths {
            Some((s, Some(p))) => json!({
                "path": p.config_path,
                "stateDir": p.state_dir,
                "profile": p.profile,
                "port": s.port(),
                "matchesCli": p.config_path == cli_config,
            }),
            _ => Value::Null,
        };
        json!({
            "manager": self.manager.map(Manager::name),
            "scope": self.location.as_ref().map(|l| if l.system { "system" } else { "user" }),
            "unit": self.location.as_ref().map(|l| l.unit.clone()),
            "path": self.location.as_ref().map(|l| l.path.clone()),
            "installed": self.installed,
            "enabled": self.enabled,
            "active": self.active,
            "error": self.error,
            "config": config,
        })
    }
}
