//! One module per command.

pub mod audit;
pub mod call;
pub mod channels;
pub mod completion;
pub mod config;
pub mod doctor;
pub mod gateway_status;
pub mod health;
pub mod logs;
pub mod message;
pub mod run;
pub mod secrets;
pub mod service;
pub mod status;

use openclaw_protocol::scopes;

/// Flags that apply to every command.
pub struct Global {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--dev`.
    pub dev: bool,
}

/// Scopes read-only commands ask for.
pub const READ_SCOPES: &[&str] = &[scopes::READ];

/// Prints a JSON value, pretty.
pub fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// Formats milliseconds as a short duration (`3d 4h`, `5m 2s`, `800ms`).
pub fn human_ms(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}
