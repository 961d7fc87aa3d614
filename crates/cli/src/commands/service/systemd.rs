//! systemd: the unit file text, reading an installed unit back, and `systemctl`.

use super::{Action, CONFIG_EXIT_STATUS, InstalledService, ServiceSpec, UnitLocation, run_cmd};

/// The systemd unit name: `openclaw-gateway.service` or `openclaw-gateway-<profile>.service`.
pub fn systemd_unit_name(profile: Option<&str>) -> String {
    match profile {
        Some(p) => format!("openclaw-gateway-{p}.service"),
        None => "openclaw-gateway.service".into(),
    }
}

/// The text of the systemd unit for `spec`.
pub fn systemd_unit(spec: &ServiceSpec) -> String {
    let exec = spec
        .argv()
        .iter()
        .map(|a| systemd_word(a, true))
        .collect::<Vec<_>>()
        .join(" ");
    let mut s = String::new();
    s.push_str("# Written by `openclaw gateway install`; rewrite with `openclaw gateway install --force`.\n");
    s.push_str("[Unit]\n");
    s.push_str(&format!(
        "Description=OpenClaw Gateway (profile {})\n",
        spec.profile_label()
    ));
    s.push_str("After=network-online.target\nWants=network-online.target\n\n");
    s.push_str("[Service]\nType=simple\n");
    s.push_str(&format!("ExecStart={exec}\n"));
    s.push_str("Restart=always\nRestartSec=5\n");
    s.push_str(&format!("RestartPreventExitStatus={CONFIG_EXIT_STATUS}\n"));
    s.push_str("TimeoutStopSec=30\nKillMode=mixed\n");
    for (k, v) in &spec.env {
        s.push_str(&format!(
            "Environment={}\n",
            systemd_word(&format!("{k}={v}"), false)
        ));
    }
    s.push_str("\n[Install]\n");
    s.push_str(if spec.system {
        "WantedBy=multi-user.target\n"
    } else {
        "WantedBy=default.target\n"
    });
    s
}

/// Quotes one word for a systemd unit line: `%` → `%%` (specifiers), and in `ExecStart=`
/// also `$` → `$$`; words with anything but safe characters are double-quoted with C escapes.
fn systemd_word(s: &str, exec: bool) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c));
    if safe {
        return s.to_owned();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' if exec => out.push_str("$$"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Splits a systemd value into words, undoing [`systemd_word`]'s quoting.
fn systemd_split(s: &str, exec: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('n') => cur.push('\n'),
                    Some('t') => cur.push('\t'),
                    Some(o) => cur.push(o),
                    None => {}
                }
            }
            '%' if chars.peek() == Some(&'%') => {
                chars.next();
                in_word = true;
                cur.push('%');
            }
            '$' if exec && chars.peek() == Some(&'$') => {
                chars.next();
                in_word = true;
                cur.push('$');
            }
            '"' | '\'' if quote.is_none() => {
                quote = Some(c);
                in_word = true;
            }
            c if Some(c) == quote => quote = None,
            c if c.is_whitespace() && quote.is_none() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

fn systemctl(loc: &UnitLocation, args: &[&str]) -> Result<String, String> {
    let mut all: Vec<&str> = Vec::with_capacity(args.len() + 1);
    if !loc.system {
        all.push("--user");
    }
    all.extend_from_slice(args);
    run_cmd("systemctl", &all)
}

/// Enables and starts a freshly written (`changed`) or already installed unit.
pub(super) fn activate(loc: &UnitLocation, changed: bool) -> Result<(), String> {
    if changed {
        systemctl(loc, &["daemon-reload"])?;
    }
    systemctl(loc, &["enable", "--now", &loc.unit]).map(drop)
}

impl InstalledService {
    /// Reads a systemd unit's `ExecStart=` and `Environment=` lines.
    pub fn from_systemd(text: &str) -> Self {
        let mut out = InstalledService::default();
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("ExecStart=") {
                out.argv = systemd_split(v.trim_start_matches(['-', '@', '+', '!']), true);
            } else if let Some(v) = line.strip_prefix("Environment=") {
                for w in systemd_split(v, false) {
                    if let Some((k, v)) = w.split_once('=') {
                        out.env.retain(|(old, _)| old != k);
                        out.env.push((k.to_owned(), v.to_owned()));
                    }
                }
            }
        }
        out
    }
}

/// Runs `action` on an installed systemd unit.
pub(super) fn run_action(loc: &UnitLocation, action: Action) -> Result<String, String> {
    let unit = loc.unit.as_str();
    match action {
        Action::Start => systemctl(loc, &["start", unit]).map(|_| format!("Started {unit}.")),
        Action::Stop => systemctl(loc, &["stop", unit]).map(|_| format!("Stopped {unit}.")),
        Action::Restart => systemctl(loc, &["restart", unit]).map(|_| format!("Restarted {unit}.")),
        Action::Uninstall => {
            systemctl(loc, &["disable", "--now", unit]).map_err(|e| {
                format!(
                    "{e}\nthe unit file {} was left in place; fix the problem and re-run, or remove it by hand",
                    loc.path.display()
                )
            })?;
            std::fs::remove_file(&loc.path)
                .map_err(|e| format!("cannot remove {}: {e}", loc.path.display()))?;
            systemctl(loc, &["daemon-reload"])?;
            Ok(format!(
                "Stopped, disabled and removed {unit} ({}).",
                loc.path.display()
            ))
        }
    }
}
