//! What the mock needs to know about a request, read from each API's request shape, and
//! the reply it derives from that.
//!
//! Only a summary is kept (owned, small), so that the parsed request body itself can be
//! moved into the request log without cloning.

use serde_json::Value;

use crate::MockOptions;
use crate::directives::Directives;

/// Tool name used by the `tool` directive when the request declares no tools.
const DEFAULT_TOOL: &str = "lookup";

/// A request, reduced to what the reply depends on.
#[derive(Debug, Default)]
pub(crate) struct Prompt {
    /// The `model` field as sent (echoed in responses, parsed for directives).
    pub(crate) model: String,
    /// `stream: true` was asked for.
    pub(crate) stream: bool,
    /// Text of the last user message that has any text.
    pub(crate) last_user: String,
    /// Whitespace-separated words across all input text (at least 1): the mock's token count.
    pub(crate) input_words: u64,
    /// Name of the first declared tool.
    pub(crate) tool_name: Option<String>,
    /// The conversation ends with a tool result, i.e. the model already called a tool.
    pub(crate) after_tool_result: bool,
    /// Why the request is invalid (answered with a 400), if it is.
    pub(crate) invalid: Option<&'static str>,
}

/// Counts whitespace-separated words: the mock's stand-in for tokens.
pub(crate) fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// Calls `f` with every piece of text in a message `content`, which may be a string or an
/// array of parts (`text`, `input_text`, `output_text`; and, when `tool_results` is set, the
/// content of Anthropic `tool_result` blocks).
fn for_each_text<'a>(content: &'a Value, tool_results: bool, f: &mut dyn FnMut(&'a str)) {
    match content {
        Value::String(s) => f(s),
        Value::Array(parts) => {
            for part in parts {
                match part {
                    Value::String(s) => f(s),
                    Value::Object(o) => match o.get("type").and_then(Value::as_str) {
                        None | Some("text" | "input_text" | "output_text") => {
                            if let Some(Value::String(t)) = o.get("text") {
                                f(t);
                            }
                        }
                        Some("tool_result") if tool_results => {
                            if let Some(c) = o.get("content") {
                                for_each_text(c, false, f);
                            }
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Counts the words in a `content` value, tool results included.
fn content_words(content: &Value) -> u64 {
    let mut n = 0;
    for_each_text(content, true, &mut |t| n += words(t));
    n
}

/// The user-visible text of a `content` value, parts joined by newlines.
fn content_text(content: &Value) -> String {
    let mut out = String::new();
    for_each_text(content, false, &mut |t| {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(t);
    });
    out
}

/// Text of the last message with role `user` that has any text.
fn last_user_text<'a>(messages: impl DoubleEndedIterator<Item = &'a Value>) -> String {
    messages
        .rev()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .find(|t| !t.trim().is_empty())
        .unwrap_or_default()
}

impl Prompt {
    /// Fields every API shares: `model`, `stream`, and the first tool's name (OpenAI Chat
    /// nests it under `function`; Responses and Anthropic put it at the top).
    fn common(req: &Value, missing_model: &'static str) -> Prompt {
        let mut p = Prompt {
            stream: req.get("stream").and_then(Value::as_bool).unwrap_or(false),
            ..Prompt::default()
        };
        match req.get("model").and_then(Value::as_str) {
            Some(m) if !m.is_empty() => p.model = m.to_owned(),
            _ => p.invalid = Some(missing_model),
        }
        p.tool_name = req
            .get("tools")
            .and_then(|t| t.get(0))
            .and_then(|t| t.pointer("/function/name").or_else(|| t.get("name")))
            .and_then(Value::as_str)
            .map(str::to_owned);
        p
    }

    /// Reads an OpenAI Chat Completions request.
    pub(crate) fn chat(req: &Value) -> Prompt {
        let mut p = Prompt::common(req, "you must provide a model parameter");
        let messages = match req.get("messages") {
            Some(Value::Array(m)) if !m.is_empty() => m.as_slice(),
            Some(Value::Array(_)) => {
                p.invalid.get_or_insert(
                    "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                );
                &[]
            }
            _ => {
                p.invalid
                    .get_or_insert("Missing required parameter: 'messages'.");
                &[]
            }
        };
        p.input_words = messages
            .iter()
            .map(|m| content_words(m.get("content").unwrap_or(&Value::Null)))
            .sum::<u64>()
            .max(1);
        p.last_user = last_user_text(messages.iter());
        p.after_tool_result = messages
            .last()
            .and_then(|m| m.get("role"))
            .and_then(Value::as_str)
            .is_some_and(|r| r == "tool" || r == "function");
        p
    }

    /// Reads an OpenAI Responses request: `input` as a string or a list of items, plus
    /// `instructions`.
    pub(crate) fn responses(req: &Value) -> Prompt {
        let mut p = Prompt::common(req, "Missing required parameter: 'model'.");
        let mut n = req
            .get("instructions")
            .and_then(Value::as_str)
            .map_or(0, words);
        match req.get("input") {
            Some(Value::String(s)) => {
                n += words(s);
                p.last_user = s.clone();
            }
            Some(Value::Array(items)) => {
                for item in items {
                    match item.get("type").and_then(Value::as_str) {
                        None | Some("message") => {
                            n += content_words(item.get("content").unwrap_or(&Value::Null));
                        }
                        Some("function_call_output") => {
                            n += content_words(item.get("output").unwrap_or(&Value::Null));
                        }
                        _ => {}
                    }
                }
                p.last_user = last_user_text(items.iter());
                p.after_tool_result = items
                    .last()
                    .and_then(|i| i.get("type"))
                    .and_then(Value::as_str)
                    == Some("function_call_output");
            }
            _ => {}
        }
        p.input_words = n.max(1);
        p
    }

    /// Reads an Anthropic Messages request; `max_tokens` is required there, as it is by the
    /// real API, so a client that forgets it fails in tests rather than in production.
    pub(crate) fn anthropic(req: &Value) -> Prompt {
        let mut p = Prompt::common(req, "model: Field required");
        if !req.get("max_tokens").is_some_and(Value::is_u64) {
            p.invalid.get_or_insert("max_tokens: Field required");
        }
        let messages = match req.get("messages") {
            Some(Value::Array(m)) if !m.is_empty() => m.as_slice(),
            Some(Value::Array(_)) => {
                p.invalid
                    .get_or_insert("messages: at least one message is required");
                &[]
            }
            _ => {
                p.invalid.get_or_insert("messages: Field required");
                &[]
            }
        };
        let system = req.get("system").map_or(0, content_words);
        p.input_words = (system
            + messages
                .iter()
                .map(|m| content_words(m.get("content").unwrap_or(&Value::Null)))
                .sum::<u64>())
        .max(1);
        p.last_user = last_user_text(messages.iter());
        p.after_tool_result = messages.last().is_some_and(|m| {
            m.get("role").and_then(Value::as_str) == Some("user")
                && m.get("content")
                    .and_then(Value::as_array)
                    .is_some_and(|blocks| {
                        blocks
                            .iter()
                            .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                    })
        });
        p
    }
}

/// What the mock model answers.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Plain assistant text.
    Text(String),
    /// A call of the tool `name` with JSON-encoded `arguments`.
    Tool {
        /// Function name.
        name: String,
        /// Arguments as a JSON string (`{"query":"<last user text>"}`).
        arguments: String,
    },
}

impl Reply {
    /// The reply for a request: a tool call under the `tool` directive (unless the model
    /// has just been given a tool result, so agent loops end), otherwise the fixed reply
    /// text or `echo: <last user text>`.
    pub(crate) fn new(opts: &MockOptions, dir: &Directives, p: &Prompt) -> Reply {
        if dir.tool && !p.after_tool_result {
            let arguments = serde_json::json!({ "query": p.last_user }).to_string();
            return Reply::Tool {
                name: p.tool_name.as_deref().unwrap_or(DEFAULT_TOOL).to_owned(),
                arguments,
            };
        }
        Reply::Text(match &opts.reply {
            Some(r) => r.clone(),
            None => format!("echo: {}", p.last_user),
        })
    }

    /// The reply's output "tokens": words of the text, or of the tool arguments.
    pub(crate) fn output_words(&self) -> u64 {
        match self {
            Reply::Text(t) => words(t),
            Reply::Tool { arguments, .. } => words(arguments),
        }
    }

    /// The text that is streamed piece by piece: the reply, or the tool arguments.
    pub(crate) fn streamed(&self) -> &str {
        match self {
            Reply::Text(t) => t,
            Reply::Tool { arguments, .. } => arguments,
        }
    }
}

/// Splits text into stream chunks of one word each, with the whitespace after the word kept
/// on it (leading whitespace goes with the first word), so the chunks concatenate back to
/// the exact text: `"echo: hi there"` → `"echo: "`, `"hi "`, `"there"`.
pub(crate) fn chunks(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let lead = rest.len() - rest.trim_start().len();
        let word_end = rest[lead..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |i| lead + i);
        let end = rest[word_end..]
            .find(|c: char| !c.is_whitespace())
            .map_or(rest.len(), |i| word_end + i);
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunks_keep_following_space() {
        let c: Vec<&str> = chunks("echo: hi there").collect();
        assert_eq!(c, ["echo: ", "hi ", "there"]);
        let c: Vec<&str> = chunks("  a\n\nb  ").collect();
        assert_eq!(c, ["  a\n\n", "b  "]);
        assert_eq!(chunks("").count(), 0);
        let s = "one  two\tthree four ";
        assert_eq!(chunks(s).collect::<String>(), s);
    }

    #[test]
    fn chat_prompt_reads_parts_and_counts_words() {
        let req = json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
                {"role": "assistant", "content": null, "tool_calls": []},
                {"role": "tool", "content": "result words here", "tool_call_id": "x"}
            ],
            "tools": [{"type": "function", "function": {"name": "search"}}]
        });
        let p = Prompt::chat(&req);
        assert_eq!(p.invalid, None);
        assert_eq!(p.last_user, "hello there");
        assert_eq!(p.input_words, 7);
        assert_eq!(p.tool_name.as_deref(), Some("search"));
        assert!(p.after_tool_result);
    }

    #[test]
    fn anthropic_prompt_requires_max_tokens() {
        let p = Prompt::anthropic(
            &json!({"model": "c", "messages": [{"role": "user", "content": "x"}]}),
        );
        assert_eq!(p.invalid, Some("max_tokens: Field required"));
        let p = Prompt::anthropic(&json!({
            "model": "c", "max_tokens": 10, "system": [{"type": "text", "text": "sys tem"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]},
                         {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]},
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r r"}]}]
        }));
        assert_eq!(p.invalid, None);
        assert_eq!(p.last_user, "q");
        assert_eq!(p.input_words, 5);
        assert!(p.after_tool_result);
    }

    #[test]
    fn responses_prompt_reads_items() {
        let p = Prompt::responses(&json!({
            "model": "r", "instructions": "be brief",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "first"}]},
                      {"type": "message", "role": "user", "content": "second one"}]
        }));
        assert_eq!(p.last_user, "second one");
        assert_eq!(p.input_words, 5);
        let p = Prompt::responses(&json!({"model": "r", "input": "just text"}));
        assert_eq!(p.last_user, "just text");
    }
}
