//! launchd: the LaunchAgent property list, reading an installed one back, and `launchctl`.

use super::{Action, InstalledService, ServiceSpec, UnitLocation, run_cmd, uid};

/// The launchd label: `ai.openclaw.gateway` or `ai.openclaw.<profile>`.
pub fn launchd_label(profile: Option<&str>) -> String {
    format!("ai.openclaw.{}", profile.unwrap_or("gateway"))
}

/// The text of the launchd property list for `spec`.
pub fn launchd_plist(spec: &ServiceSpec) -> String {
    let logs = spec.state_dir.join("logs");
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n");
    s.push_str("<plist version=\"1.0\">\n<dict>\n");
    let kv = |s: &mut String, k: &str, v: &str| {
        s.push_str(&format!(
            "  <key>{}</key>\n  <string>{}</string>\n",
            xml_escape(k),
            xml_escape(v)
        ));
    };
    kv(&mut s, "Label", &launchd_label(spec.profile.as_deref()));
    s.push_str("  <key>ProgramArguments</key>\n  <array>\n");
    for a in spec.argv() {
        s.push_str(&format!("    <string>{}</string>\n", xml_escape(&a)));
    }
    s.push_str("  </array>\n");
    if !spec.env.is_empty() {
        s.push_str("  <key>EnvironmentVariables</key>\n  <dict>\n");
        for (k, v) in &spec.env {
            s.push_str(&format!(
                "    <key>{}</key>\n    <string>{}</string>\n",
                xml_escape(k),
                xml_escape(v)
            ));
        }
        s.push_str("  </dict>\n");
    }
    s.push_str("  <key>RunAtLoad</key>\n  <true/>\n");
    s.push_str("  <key>KeepAlive</key>\n  <true/>\n");
    s.push_str("  <key>ThrottleInterval</key>\n  <integer>5</integer>\n");
    s.push_str("  <key>ExitTimeOut</key>\n  <integer>30</integer>\n");
    kv(
        &mut s,
        "StandardOutPath",
        &logs.join("gateway.stdout.log").display().to_string(),
    );
    kv(
        &mut s,
        "StandardErrorPath",
        &logs.join("gateway.stderr.log").display().to_string(),
    );
    s.push_str("</dict>\n</plist>\n");
    s
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn section_after<'a>(text: &'a str, marker: &str, end: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    let rest = &text[start..];
    let stop = rest.find(end)?;
    Some(&rest[..stop])
}

fn tag_values(body: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(xml_unescape(&after[..j]));
        rest = &after[j + close.len()..];
    }
    out
}

fn launchd_domain() -> String {
    format!("gui/{}", uid())
}

fn launchd_target(loc: &UnitLocation) -> String {
    format!("gui/{}/{}", uid(), loc.unit)
}

/// `launchctl print` succeeds only for a loaded service; returns its output then.
pub(super) fn launchd_loaded(loc: &UnitLocation) -> Option<String> {
    run_cmd("launchctl", &["print", &launchd_target(loc)]).ok()
}

fn launchd_bootstrap(loc: &UnitLocation) -> Result<String, String> {
    let path = loc.path.display().to_string();
    run_cmd("launchctl", &["bootstrap", &launchd_domain(), &path])
}

fn launchd_bootout(loc: &UnitLocation) -> Result<String, String> {
    run_cmd("launchctl", &["bootout", &launchd_target(loc)])
}

/// Loads a freshly written (`changed`) or already installed LaunchAgent; a changed one
/// that is loaded is unloaded first so launchd reads the new plist.
pub(super) fn activate(
    loc: &UnitLocation,
    spec: &ServiceSpec,
    changed: bool,
) -> Result<(), String> {
    let _ = std::fs::create_dir_all(spec.state_dir.join("logs"));
    if launchd_loaded(loc).is_some() {
        if changed {
            let _ = launchd_bootout(loc);
            launchd_bootstrap(loc).map(drop)
        } else {
            Ok(())
        }
    } else {
        launchd_bootstrap(loc).map(drop)
    }
}

impl InstalledService {
    /// Reads a plist's `ProgramArguments` and `EnvironmentVariables` (the shapes
    /// [`launchd_plist`] writes).
    pub fn from_plist(text: &str) -> Self {
        let mut out = InstalledService::default();
        if let Some(body) = section_after(text, "<key>ProgramArguments</key>", "</array>") {
            out.argv = tag_values(body, "string");
        }
        if let Some(body) = section_after(text, "<key>EnvironmentVariables</key>", "</dict>") {
            let keys = tag_values(body, "key");
            let vals = tag_values(body, "string");
            out.env = keys.into_iter().zip(vals).collect();
        }
        out
    }
}

/// Runs `action` on an installed LaunchAgent.
pub(super) fn run_action(loc: &UnitLocation, action: Action) -> Result<String, String> {
    let unit = loc.unit.as_str();
    match action {
        Action::Start => {
            if launchd_loaded(loc).is_some() {
                run_cmd("launchctl", &["kickstart", &launchd_target(loc)])?;
            } else {
                launchd_bootstrap(loc)?;
            }
            Ok(format!("Started {unit}."))
        }
        Action::Stop => {
            if launchd_loaded(loc).is_some() {
                launchd_bootout(loc)?;
                Ok(format!("Stopped {unit}."))
            } else {
                Ok(format!("{unit} is not loaded; nothing to stop."))
            }
        }
        Action::Restart => {
            if launchd_loaded(loc).is_some() {
                run_cmd("launchctl", &["kickstart", "-k", &launchd_target(loc)])?;
            } else {
                launchd_bootstrap(loc)?;
            }
            Ok(format!("Restarted {unit}."))
        }
        Action::Uninstall => {
            if launchd_loaded(loc).is_some() {
                launchd_bootout(loc)?;
            }
            std::fs::remove_file(&loc.path)
                .map_err(|e| format!("cannot remove {}: {e}", loc.path.display()))?;
            Ok(format!(
                "Stopped and removed {unit} ({}).",
                loc.path.display()
            ))
        }
    }
}
