//! Transcript entries and the shapes returned by the store.

use serde::{Deserialize, Serialize};

/// One line of a transcript: a message from the user, the assistant, the system or a
/// tool, with whatever metadata the gateway knew when it was written.
///
/// Stored as one compact JSON object per line with camelCase field names; optional
/// fields are omitted when empty so transcripts stay small and readable. Unknown fields
/// are ignored when reading, so older gateways can read newer transcripts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// When the entry was created, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// Who spoke: `"user"`, `"assistant"`, `"system"` or `"tool"`. Kept as a string so a
    /// transcript written by a newer gateway with a new role still loads.
    pub role: String,
    /// The message text (empty for, e.g., an assistant turn that only called tools or
    /// failed).
    pub content: String,
    /// The agent run that produced or consumed this entry, to correlate with run events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Model provider that produced an assistant entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Model that produced an assistant entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Token usage reported by the provider, in whatever shape it reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<serde_json::Value>,
    /// Tool calls requested by an assistant entry, as the provider described them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<serde_json::Value>,
    /// For a `tool` entry: which tool call this is the result of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Why the turn did not complete normally (a failed run, an undeliverable reply).
    /// Entries with an error are a record for humans, not history for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The channel the message came from or went to (e.g. `telegram`, `webchat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// For a `tool` entry: the tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// For a `tool` entry: the tool failed, was refused, or was interrupted. Unlike
    /// [`Entry::error`] the entry stays history: the model must see that its call failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

impl Entry {
    /// An entry with the given role and text, stamped now, with no metadata. The
    /// building block of [`Entry::user`] and [`Entry::assistant`]; set the public fields
    /// afterwards for anything else.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Entry {
        Entry {
            ts: now_ms(),
            role: role.into(),
            content: content.into(),
            tool_name: None,
            is_error: false,
            run_id: None,
            provider: None,
            model: None,
            usage: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            error: None,
            channel: None,
        }
    }

    /// A user message, stamped now.
    pub fn user(text: impl Into<String>) -> Entry {
        Entry::new("user", text)
    }

    /// An assistant message, stamped now.
    pub fn assistant(text: impl Into<String>) -> Entry {
        Entry::new("assistant", text)
    }
}

/// The result of [`crate::SessionStore::load`]: every readable entry, in file order,
/// plus how many lines had to be skipped.
///
/// `skipped_lines` is normally 0; 1 usually means the gateway was killed in the middle
/// of a write and the last line is a fragment. Callers may surface it (it is also
/// logged) but should not treat it as fatal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transcript {
    /// The entries that parsed, oldest first.
    pub entries: Vec<Entry>,
    /// Lines that were not valid JSON entries and were ignored.
    pub skipped_lines: usize,
}

/// One row of [`crate::SessionStore::list`], cheap to compute: it comes from the file's
/// metadata and its last few KiB, never from reading the whole transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    /// The session key, `agent:<agentId>:<name>`.
    pub key: String,
    /// The agent the session belongs to.
    pub agent_id: String,
    /// Last modification of the transcript, in milliseconds since the Unix epoch.
    pub updated_at: u64,
    /// Size of the transcript file in bytes.
    pub size_bytes: u64,
    /// Role of the last complete entry, if one was found in the file's tail.
    pub last_role: Option<String>,
    /// The first 200 characters of the last complete entry's content, if one was found
    /// in the file's tail (an entry larger than the tail gives `None`).
    pub last_preview: Option<String>,
}

/// Milliseconds since the Unix epoch; 0 if the clock is before 1970 rather than a panic.
pub(crate) fn now_ms() -> u64 {
    system_time_ms(std::time::SystemTime::now())
}

/// Milliseconds since the Unix epoch of `t`, saturating at 0 and `u64::MAX`.
pub(crate) fn system_time_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
