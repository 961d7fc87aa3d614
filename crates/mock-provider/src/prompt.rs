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
    /// The trailing tool results as `(call id, content)`, in request order.
    pub(crate) tool_results: Vec<(String, String)>,
    /// `[[tool NAME JSON]]` directives found in the last user message, as `(name, JSON)`.
    pub(crate) tool_directives: Vec<(String, String)>,
    /// Tool calls the assistant already made earlier in the conversation; new call ids
    /// continue from here so they stay unique within one conversation.
    pub(crate) prior_calls: usize,
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
        p.tool_results = messages
            .iter()
            .rev()
            .take_while(|m| {
                matches!(
                    m.get("role").and_then(Value::as_str),
                    Some("tool" | "function")
                )
            })
            .map(|m| {
                let id = m
                    .get("tool_call_id")
                    .or_else(|| m.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (
                    id.to_owned(),
                    content_text(m.get("content").unwrap_or(&Value::Null)),
                )
            })
            .collect();
        p.tool_results.reverse();
        p.prior_calls = messages
            .iter()
            .filter_map(|m| m.get("tool_calls").and_then(Value::as_array))
            .map(Vec::len)
            .sum();
        p.tool_directives = tool_directives(&p.last_user);
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
                let kind = |i: &Value| {
                    i.get("type").and_then(Value::as_str) == Some("function_call_output")
                };
                p.tool_results = items
                    .iter()
                    .rev()
                    .take_while(|i| kind(i))
                    .map(|i| {
                        let id = i.get("call_id").and_then(Value::as_str).unwrap_or_default();
                        (
                            id.to_owned(),
                            content_text(i.get("output").unwrap_or(&Value::Null)),
                        )
                    })
                    .collect();
                p.tool_results.reverse();
                p.prior_calls = items
                    .iter()
                    .filter(|i| i.get("type").and_then(Value::as_str) == Some("function_call"))
                    .count();
            }
            _ => {}
        }
        p.input_words = n.max(1);
        p.tool_directives = tool_directives(&p.last_user);
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
        if p.after_tool_result {
            let blocks = messages
                .last()
                .and_then(|m| m.get("content"))
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            p.tool_results = blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                .map(|b| {
                    let id = b
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    (
                        id.to_owned(),
                        content_text(b.get("content").unwrap_or(&Value::Null)),
                    )
                })
                .collect();
        }
        p.prior_calls = messages
            .iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
            .filter_map(|m| m.get("content").and_then(Value::as_array))
            .flatten()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
            .count();
        p.tool_directives = tool_directives(&p.last_user);
        p
    }
}

/// Marker that opens a tool-call directive in a user message.
const TOOL_OPEN: &str = "[[tool";

/// Finds the `[[tool NAME JSON]]` directives in `text`, in order, as `(NAME, JSON)`.
///
/// `NAME` is the first whitespace-separated word after `[[tool`; `JSON` is the rest up to
/// the closing `]]` (trimmed; `{}` when empty). When the text after the name holds several
/// `]]`, the first one that leaves valid JSON before it closes the directive, so a JSON
/// array argument such as `["a"]` still works; if none does, the first `]]` closes it and
/// the (invalid) JSON is passed through as the call's arguments. `[[tool]]` or `[[toolbox`
/// (no whitespace and name) are plain text.
pub(crate) fn tool_directives(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(TOOL_OPEN) {
        let after = &rest[at + TOOL_OPEN.len()..];
        let body = after.trim_start();
        if body.len() == after.len() || body.starts_with("]]") {
            rest = after;
            continue;
        }
        let name_end = body
            .find(|c: char| c.is_whitespace() || c == ']')
            .unwrap_or(body.len());
        let (name, tail) = body.split_at(name_end);
        // Overlapping matches: in `["a"]]]` the directive closes at the second `]]`.
        let closes: Vec<usize> = (0..tail.len().saturating_sub(1))
            .filter(|&i| tail.as_bytes()[i..].starts_with(b"]]"))
            .collect();
        let Some(&first) = closes.first() else {
            break;
        };
        let close = closes
            .iter()
            .copied()
            .find(|&i| {
                let j = tail[..i].trim();
                j.is_empty() || serde_json::from_str::<Value>(j).is_ok()
            })
            .unwrap_or(first);
        let json = tail[..close].trim();
        let json = if json.is_empty() { "{}" } else { json };
        out.push((name.to_owned(), json.to_owned()));
        rest = &tail[close + 2..];
    }
    out
}

/// One tool call the mock model makes.
#[derive(Debug)]
pub(crate) struct ToolCall {
    /// Position of this call in the conversation (0 for the first call ever made in it);
    /// the ids are `call_<seq>` (OpenAI), `fc_<seq>` (Responses item) and `toolu_<seq>`
    /// (Anthropic).
    pub(crate) seq: usize,
    /// Function name.
    pub(crate) name: String,
    /// Arguments as JSON text, exactly as the directive gave them.
    pub(crate) arguments: String,
}

impl ToolCall {
    /// The id with an API's prefix (`call_`, `fc_`, `toolu_`).
    pub(crate) fn id(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.seq)
    }

    /// The arguments cut into pieces for streaming: at least three when the text has at
    /// least three characters, at fixed byte widths with no regard for JSON structure
    /// (mid-string, mid-escape), because real providers split arguments that way and
    /// clients must only ever concatenate them.
    pub(crate) fn argument_pieces(&self) -> Vec<&str> {
        let s = self.arguments.as_str();
        let width = (s.len() / 3).clamp(1, 7);
        let mut pieces = Vec::with_capacity(s.len() / width + 1);
        let mut start = 0;
        while start < s.len() {
            let mut end = (start + width).min(s.len());
            while !s.is_char_boundary(end) {
                end += 1;
            }
            pieces.push(&s[start..end]);
            start = end;
        }
        pieces
    }
}

/// What the mock model answers.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Plain assistant text.
    Text(String),
    /// One or more (parallel) tool calls and nothing else.
    Tools(Vec<ToolCall>),
}

impl Reply {
    /// The reply for a request, first rule that applies:
    ///
    /// 1. the conversation ends with tool results: the text `tool results: ` followed by
    ///    `<call id>=<content>` for each trailing result, joined by `; ` (this also ends
    ///    agent loops, since the directive that asked for the call is still in the last
    ///    user message; the `toolloop` model directive skips this rule, so the calls below
    ///    repeat every round);
    /// 2. the last user message holds `[[tool NAME JSON]]` directives: one call per
    ///    directive, in order;
    /// 3. the `tool` model directive: one call of the first declared tool (or `lookup`)
    ///    with `{"query": <last user text>}`;
    /// 4. the fixed reply text, or `echo: <last user text>`.
    pub(crate) fn new(opts: &MockOptions, dir: &Directives, p: &Prompt) -> Reply {
        if p.after_tool_result && !dir.tool_loop {
            let quoted: Vec<String> = p
                .tool_results
                .iter()
                .map(|(id, content)| format!("{id}={content}"))
                .collect();
            return Reply::Text(format!("tool results: {}", quoted.join("; ")));
        }
        if !p.tool_directives.is_empty() {
            let calls = p
                .tool_directives
                .iter()
                .enumerate()
                .map(|(i, (name, arguments))| ToolCall {
                    seq: p.prior_calls + i,
                    name: name.clone(),
                    arguments: arguments.clone(),
                })
                .collect();
            return Reply::Tools(calls);
        }
        if dir.tool {
            let arguments = serde_json::json!({ "query": p.last_user }).to_string();
            return Reply::Tools(vec![ToolCall {
                seq: p.prior_calls,
                name: p.tool_name.as_deref().unwrap_or(DEFAULT_TOOL).to_owned(),
                arguments,
            }]);
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
            Reply::Tools(calls) => calls.iter().map(|c| words(&c.arguments).max(1)).sum(),
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

    #[test]
    fn tool_directives_parse() {
        let d = tool_directives(r#"a [[tool write {"p":"x]"}]] b [[tool  ls]][[tool arr ["a"]]]"#);
        assert_eq!(
            d,
            [
                ("write".to_owned(), r#"{"p":"x]"}"#.to_owned()),
                ("ls".to_owned(), "{}".to_owned()),
                ("arr".to_owned(), r#"["a"]"#.to_owned()),
            ]
        );
        assert!(tool_directives("[[tool]] [[toolbox x]] [[tool x {").is_empty());
        // Broken JSON is passed through for the client to cope with.
        assert_eq!(tool_directives("[[tool w {oops]]")[0].1, "{oops");
    }

    #[test]
    fn argument_pieces_cover_the_text() {
        for args in [
            r#"{"path":"a.txt","content":"h\"é"}"#,
            "{}",
            "{\"a\":1}",
            "",
        ] {
            let c = ToolCall {
                seq: 0,
                name: "n".into(),
                arguments: args.into(),
            };
            let p = c.argument_pieces();
            assert_eq!(p.concat(), args);
            assert!(p.len() >= 3 || args.len() < 3, "{p:?}");
            assert!(p.iter().all(|s| !s.is_empty()));
        }
    }
}
