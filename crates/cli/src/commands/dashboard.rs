//! `openclaw dashboard`: the Control UI's URL, with the gateway token in its fragment, and
//! a browser opened on it when this machine has one.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::{Global, READ_SCOPES, print_json};
use crate::opts::ClientOpts;
use crate::target::Local;

/// `openclaw dashboard [--no-open] [--json]`.
#[derive(Args)]
pub struct DashboardArgs {
    #[command(flatten)]
    client: ClientOpts,
    /// Print the URL only; do not launch a browser.
    #[arg(long)]
    no_open: bool,
}

/// Checks that the gateway answers, then prints (and opens) `http(s)://host:port{base}#token=…`.
///
/// The token goes in the fragment, which browsers never send to a server or put in a
/// `Referer`; the UI imports it into the tab's `sessionStorage` once and strips it from the
/// address bar. A password is never put in a URL: the login form asks for it.
pub async fn run(global: &Global, args: &DashboardArgs) -> anyhow::Result<ExitCode> {
    let local = Local::load(global)?;
    let ui = &local.config.gateway.control_ui;
    if !ui.enabled {
        anyhow::bail!(
            "the Control UI is switched off (gateway.controlUi.enabled: false); turn it on with `openclaw config set gateway.controlUi.enabled true`"
        );
    }
    let target = local.target(&args.client);
    // The page is only useful if the gateway behind it answers.
    local
        .call(&target, READ_SCOPES, "health", None)
        .await
        .map_err(|e| anyhow::anyhow!("the Control UI is served by the gateway, and {e}"))?;
    let base = openclaw_gateway::http::control_ui::base_path(ui);
    let origin = target
        .url
        .trim_end_matches('/')
        .replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1);
    let http_url = format!("{origin}{base}");
    let ws_url = format!("{}{base}", target.url.trim_end_matches('/'));
    let url = match &target.token {
        Some(t) => format!("{http_url}#token={}", fragment_encode(t)),
        None => http_url.clone(),
    };
    if args.client.json {
        print_json(&json!({
            "ok": true,
            "url": url,
            "httpUrl": http_url,
            "wsUrl": ws_url,
            "port": local.port,
            "tokenIncluded": target.token.is_some(),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    println!("Dashboard URL: {url}");
    if target.token.is_none() && target.password.is_some() {
        println!("Sign in with the gateway password on the page (it is never put in a URL).");
    }
    if args.no_open {
        return Ok(ExitCode::SUCCESS);
    }
    match open_browser(&url) {
        Ok(opener) => println!("Opened in your browser ({opener})."),
        Err(why) => println!("No browser was opened ({why}); open the URL above yourself."),
    }
    Ok(ExitCode::SUCCESS)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn fragment_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Hands `url` to the desktop's opener (`open` on macOS, `xdg-open` elsewhere), which
/// returns at once; says why not when there is no desktop or no opener.
fn open_browser(url: &str) -> Result<&'static str, String> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            return Err("no graphical session: DISPLAY and WAYLAND_DISPLAY are unset".into());
        }
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| opener)
        .map_err(|e| format!("{opener} could not be started: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_fragment_safe() {
        assert_eq!(super::fragment_encode("abc-_.~9"), "abc-_.~9");
        assert_eq!(super::fragment_encode("a b&c#"), "a%20b%26c%23");
    }
}
