//! Facts about the machine the gateway runs on: the wall clock and the host name.
//!
//! A leaf module (nothing else from this crate below it) so every layer can stamp times
//! without importing the state it would otherwise tie into a circle.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// This machine's host name, for presence entries ("localhost" if it cannot be read).
pub fn hostname() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy();
    if name.is_empty() {
        "localhost".into()
    } else {
        name.into_owned()
    }
}
