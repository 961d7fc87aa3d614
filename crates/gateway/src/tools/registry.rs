//! The built-in tools: one table of names, descriptions, argument schemas and what runs
//! them. The model's tool list, `/tools/invoke` and the policy's view of "which tools
//! exist" all read this table, so they cannot drift apart.

use serde_json::{Value, json};

/// What runs a tool (dispatched by [`super::toolbox::ToolBox::run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `read`.
    Read,
    /// `write`.
    Write,
    /// `edit`.
    Edit,
    /// `apply_patch`.
    ApplyPatch,
    /// `exec`.
    Exec,
    /// `web_fetch`.
    WebFetch,
    /// `message`.
    Message,
    /// `sessions_list`.
    SessionsList,
    /// `sessions_history`.
    SessionsHistory,
    /// `session_status`.
    SessionStatus,
    /// `agents_list`.
    AgentsList,
    /// `models_list` (gateway catalog; `/tools/invoke` has always offered it).
    ModelsList,
}

/// One built-in tool.
#[derive(Debug)]
pub struct ToolSpec {
    /// The name the model calls it by (OpenClaw's).
    pub name: &'static str,
    /// What it does, for the model.
    pub description: &'static str,
    /// JSON Schema of its arguments object.
    pub parameters: fn() -> Value,
    /// What runs it.
    pub kind: Kind,
}

fn path_schema(extra: Value) -> Value {
    let mut props = json!({
        "path": {"type": "string", "description": "File path, relative to the workspace root (or absolute inside it)"}
    });
    if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    props
}

/// Every built-in tool, in the order they are offered.
pub static TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "read",
        description: "Read a text file from the workspace. Use offset/limit (1-based line numbers) to page through long files.",
        parameters: || {
            json!({"type": "object", "properties": path_schema(json!({
                "offset": {"type": "integer", "minimum": 1, "description": "First line to return (1-based)"},
                "limit": {"type": "integer", "minimum": 1, "description": "Number of lines to return"}
            })), "required": ["path"], "additionalProperties": false})
        },
        kind: Kind::Read,
    },
    ToolSpec {
        name: "write",
        description: "Create or replace a file in the workspace with the given content (parent directories are created).",
        parameters: || {
            json!({"type": "object", "properties": path_schema(json!({
                "content": {"type": "string", "description": "The whole new content of the file"}
            })), "required": ["path", "content"], "additionalProperties": false})
        },
        kind: Kind::Write,
    },
    ToolSpec {
        name: "edit",
        description: "Replace one exact occurrence of oldText with newText in a workspace file. oldText must match exactly once.",
        parameters: || {
            json!({"type": "object", "properties": path_schema(json!({
                "oldText": {"type": "string", "description": "Exact text to replace (must occur exactly once)"},
                "newText": {"type": "string", "description": "Replacement text"}
            })), "required": ["path", "oldText", "newText"], "additionalProperties": false})
        },
        kind: Kind::Edit,
    },
    ToolSpec {
        name: "apply_patch",
        description: "Apply a multi-file patch: `*** Begin Patch`, then `*** Add File: P` (+lines), `*** Update File: P` (optional `*** Move to: Q`, `@@ context` hunks of ' '/-/+ lines), `*** Delete File: P`, then `*** End Patch`. All or nothing.",
        parameters: || {
            json!({"type": "object", "properties": {
                "input": {"type": "string", "description": "The whole patch, from *** Begin Patch to *** End Patch"}
            }, "required": ["input"], "additionalProperties": false})
        },
        kind: Kind::ApplyPatch,
    },
    ToolSpec {
        name: "exec",
        description: "Run a shell command (sh -c) in the workspace and return its exit code and output. Long output is cut; long runs time out.",
        parameters: || {
            json!({"type": "object", "properties": {
                "command": {"type": "string", "description": "Shell command line"},
                "workdir": {"type": "string", "description": "Working directory, relative to the workspace root"},
                "timeout": {"type": "integer", "minimum": 1, "description": "Seconds before the command is killed"}
            }, "required": ["command"], "additionalProperties": false})
        },
        kind: Kind::Exec,
    },
    ToolSpec {
        name: "web_fetch",
        description: "Fetch a public http(s) URL with GET and return its text (size- and time-capped; private and loopback addresses are refused).",
        parameters: || {
            json!({"type": "object", "properties": {
                "url": {"type": "string", "description": "http:// or https:// URL"},
                "maxChars": {"type": "integer", "minimum": 1, "description": "Most characters of body to return"}
            }, "required": ["url"], "additionalProperties": false})
        },
        kind: Kind::WebFetch,
    },
    ToolSpec {
        name: "message",
        description: "Send a message through one of the gateway's channels (e.g. telegram) to a chat id or user.",
        parameters: || {
            json!({"type": "object", "properties": {
                "action": {"type": "string", "enum": ["send"], "description": "Only send is supported"},
                "channel": {"type": "string", "description": "Channel id (default telegram)"},
                "to": {"type": "string", "description": "Recipient: chat id, @username, …"},
                "message": {"type": "string", "description": "Text to send"},
                "accountId": {"type": "string", "description": "Channel account (default: the channel's default account)"}
            }, "required": ["to", "message"], "additionalProperties": false})
        },
        kind: Kind::Message,
    },
    ToolSpec {
        name: "sessions_list",
        description: "List sessions (newest first), optionally of one agent.",
        parameters: || {
            json!({"type": "object", "properties": {
                "agentId": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000}
            }, "additionalProperties": false})
        },
        kind: Kind::SessionsList,
    },
    ToolSpec {
        name: "sessions_history",
        description: "Read the newest messages of a session's transcript.",
        parameters: || {
            json!({"type": "object", "properties": {
                "sessionKey": {"type": "string", "description": "agent:<agentId>:<name>; default: this session"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 500}
            }, "additionalProperties": false})
        },
        kind: Kind::SessionsHistory,
    },
    ToolSpec {
        name: "session_status",
        description: "Status of a session: whether it exists, message count, last activity, whether a run is active.",
        parameters: || {
            json!({"type": "object", "properties": {
                "sessionKey": {"type": "string", "description": "default: this session"}
            }, "additionalProperties": false})
        },
        kind: Kind::SessionStatus,
    },
    ToolSpec {
        name: "agents_list",
        description: "List the gateway's configured agents.",
        parameters: || json!({"type": "object", "properties": {}, "additionalProperties": false}),
        kind: Kind::AgentsList,
    },
    ToolSpec {
        name: "models_list",
        description: "List the models the gateway's agents can use.",
        parameters: || json!({"type": "object", "properties": {}, "additionalProperties": false}),
        kind: Kind::ModelsList,
    },
];

/// The built-in tool called `name` (OpenClaw's `bash` is accepted for `exec`).
pub fn find(name: &str) -> Option<&'static ToolSpec> {
    let name = if name == "bash" { "exec" } else { name };
    TOOLS.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_schemas_are_objects() {
        let mut seen = std::collections::HashSet::new();
        for t in TOOLS {
            assert!(seen.insert(t.name), "{} twice", t.name);
            let p = (t.parameters)();
            assert_eq!(p["type"], "object", "{}", t.name);
            for r in p["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                assert!(
                    p["properties"].get(r).is_some(),
                    "{}: required {r} has no schema",
                    t.name
                );
            }
        }
        assert_eq!(find("bash").map(|t| t.name), Some("exec"));
        assert!(find("browser").is_none());
    }
}
