//! Session keys: `agent:<agentId>:<name>`.

use std::fmt;
use std::str::FromStr;

use crate::error::SessionError;

/// Longest agent id, in bytes (agent ids are ASCII).
pub const MAX_AGENT_ID_LEN: usize = 64;

/// Longest session name, in characters (not bytes).
pub const MAX_NAME_CHARS: usize = 200;

/// The name of an agent's main session.
pub const MAIN_SESSION_NAME: &str = "main";

/// Agent id used by [`SessionKey::main`] when the given id has no usable character.
const FALLBACK_AGENT_ID: &str = "main";

/// Identifies one conversation: which agent answers, and which of its sessions.
///
/// The textual form is `agent:<agentId>:<name>`. The agent id is normalised to lower
/// case so `agent:Main:x` and `agent:main:x` are the same conversation; the name is kept
/// exactly as given (it usually embeds an external id such as a Telegram chat id, whose
/// case may matter) and may itself contain `:`.
///
/// Build keys with [`SessionKey::parse`], [`SessionKey::new`] or [`SessionKey::main`],
/// which validate. The fields are public for reading; a key assembled by hand is
/// validated again by every [`crate::SessionStore`] operation, so an invalid one is
/// refused with [`SessionError::BadKey`] rather than touching the disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// Lower-case agent id, matching `[a-z0-9][a-z0-9_-]{0,63}`.
    pub agent_id: String,
    /// Session name within the agent: 1-200 characters, no control characters.
    pub name: String,
}

impl SessionKey {
    /// Parses `agent:<agentId>:<name>`.
    ///
    /// Everything after the second `:` is the name, so `agent:main:telegram:12345` is
    /// the session `telegram:12345` of agent `main`. The `agent` prefix and the agent id
    /// are matched case-insensitively and the id is stored in lower case.
    pub fn parse(raw: &str) -> Result<SessionKey, SessionError> {
        let rest = match raw.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("agent:") => &raw[6..],
            _ => {
                return Err(SessionError::bad_key(
                    raw,
                    "it does not start with `agent:`",
                ));
            }
        };
        let Some((agent_id, name)) = rest.split_once(':') else {
            return Err(SessionError::bad_key(
                raw,
                "there is no `:` between the agent id and the session name",
            ));
        };
        let agent_id = normalize_and_check_agent_id(raw, agent_id)?;
        check_name(raw, name)?;
        Ok(SessionKey {
            agent_id,
            name: name.to_owned(),
        })
    }

    /// Builds a key from its two parts, with the same validation and normalisation as
    /// [`SessionKey::parse`]. Useful when the name comes from elsewhere (a channel id, an
    /// OpenAI `user` field) and should not be re-parsed.
    pub fn new(agent_id: &str, name: &str) -> Result<SessionKey, SessionError> {
        let shown = format!("agent:{agent_id}:{name}");
        let agent_id = normalize_and_check_agent_id(&shown, agent_id)?;
        check_name(&shown, name)?;
        Ok(SessionKey {
            agent_id,
            name: name.to_owned(),
        })
    }

    /// The main session of an agent, `agent:<id>:main`.
    ///
    /// This never fails, because callers use it as the default when nothing else was
    /// asked for: the id is normalised the forgiving way (lower-cased, every character
    /// outside `[a-z0-9_-]` replaced by `-`, leading `-`/`_` dropped, cut to 64 bytes)
    /// and an id with nothing usable left becomes `main`. A valid id is returned
    /// unchanged apart from lower-casing.
    pub fn main(agent_id: &str) -> SessionKey {
        SessionKey {
            agent_id: sanitize_agent_id(agent_id),
            name: MAIN_SESSION_NAME.to_owned(),
        }
    }

    /// Whether this is an agent's main session.
    pub fn is_main(&self) -> bool {
        self.name == MAIN_SESSION_NAME
    }

    /// Checks that the (public, hence possibly hand-edited) fields still form a valid
    /// key. The store calls this before every disk operation.
    pub fn validate(&self) -> Result<(), SessionError> {
        let shown = self.to_string();
        if !is_valid_agent_id(&self.agent_id) {
            return Err(SessionError::bad_key(
                &shown,
                "the agent id must be lower case and match [a-z0-9][a-z0-9_-]{0,63}",
            ));
        }
        check_name(&shown, &self.name)
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agent:{}:{}", self.agent_id, self.name)
    }
}

impl FromStr for SessionKey {
    type Err = SessionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionKey::parse(s)
    }
}

/// Whether `id` is a valid, already normalised agent id.
pub(crate) fn is_valid_agent_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_lowercase() || first.is_ascii_digit() => {}
        _ => return false,
    }
    bytes.len() <= MAX_AGENT_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// Lower-cases an agent id and checks it; `shown` is the whole input, for the error.
pub(crate) fn normalize_and_check_agent_id(
    shown: &str,
    agent_id: &str,
) -> Result<String, SessionError> {
    if agent_id.is_empty() {
        return Err(SessionError::bad_key(shown, "the agent id is empty"));
    }
    let lower = agent_id.to_ascii_lowercase();
    if is_valid_agent_id(&lower) {
        Ok(lower)
    } else if lower.len() > MAX_AGENT_ID_LEN {
        Err(SessionError::bad_key(
            shown,
            format!(
                "the agent id is {} bytes long, the limit is {MAX_AGENT_ID_LEN}",
                lower.len()
            ),
        ))
    } else {
        Err(SessionError::bad_key(
            shown,
            format!(
                "the agent id {agent_id:?} has characters outside [a-z0-9_-] or starts with `-`/`_`"
            ),
        ))
    }
}

/// Checks a session name; `shown` is the whole input, for the error.
fn check_name(shown: &str, name: &str) -> Result<(), SessionError> {
    if name.is_empty() {
        return Err(SessionError::bad_key(shown, "the session name is empty"));
    }
    let count = name.chars().count();
    if count > MAX_NAME_CHARS {
        return Err(SessionError::bad_key(
            shown,
            format!("the session name is {count} characters long, the limit is {MAX_NAME_CHARS}"),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(SessionError::bad_key(
            shown,
            format!(
                "the session name contains the control character U+{:04X}",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// The forgiving normalisation behind [`SessionKey::main`].
fn sanitize_agent_id(raw: &str) -> String {
    let mapped: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches(['-', '_']);
    // Every character is ASCII now, so byte slicing cannot split one.
    let cut = &trimmed[..trimmed.len().min(MAX_AGENT_ID_LEN)];
    if cut.is_empty() {
        FALLBACK_AGENT_ID.to_owned()
    } else {
        cut.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_examples() {
        assert_eq!(sanitize_agent_id("Main"), "main");
        assert_eq!(sanitize_agent_id("../x"), "x");
        assert_eq!(sanitize_agent_id(""), "main");
        assert_eq!(sanitize_agent_id("---"), "main");
        assert_eq!(sanitize_agent_id("héllo wörld"), "h-llo-w-rld");
        assert_eq!(sanitize_agent_id(&"a".repeat(100)).len(), 64);
        for raw in ["", "A B", "ü", "-x", "9", &"Z".repeat(300)] {
            assert!(is_valid_agent_id(&sanitize_agent_id(raw)), "{raw:?}");
        }
    }
}
