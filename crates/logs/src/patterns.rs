//! Operator-supplied redaction patterns (`logging.redactPatterns`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use fancy_regex::{Regex, RegexBuilder};

use crate::redact::REDACTED;

/// Backtracking budget per match attempt. Patterns with backreferences or look-around are
/// matched by backtracking; past this many steps the match gives up (and the value is
/// redacted whole, see [`RedactPatterns::apply`]) instead of stalling the logger.
const BACKTRACK_LIMIT: usize = 100_000;

/// A pattern of `logging.redactPatterns` that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern {index} ({pattern:?}) is not a valid regular expression: {message}")]
pub struct PatternError {
    /// Position of the pattern in the list (0-based).
    pub index: usize,
    /// The pattern as written.
    pub pattern: String,
    /// Why it was refused.
    pub message: String,
}

/// Compiled `logging.redactPatterns`: regular expressions whose matches are replaced by
/// [`REDACTED`] in log messages and field values.
///
/// The syntax follows the original OpenClaw setting, whose patterns are JavaScript
/// regular expressions:
///
/// * a plain string is a case-insensitive pattern (JavaScript's `gi`);
/// * `/pattern/flags` chooses the flags: `i` (ignore case), `m` (`^`/`$` at line ends),
///   `s` (`.` matches a newline); `g` and `u` are accepted and change nothing (every
///   match is always replaced; matching is always Unicode-aware). Without `i` the match is
///   case-sensitive. The sticky flag `y` is refused rather than ignored.
///
/// Backreferences (`\1`) and look-around are supported. A pattern without capture groups
/// has its whole match replaced; a pattern with groups has only the secret part replaced:
/// the last group that matched something (for `\bTOKEN\b\s*[=:]\s*(["']?)([^\s"']+)\1`
/// that is the value, and `TOKEN=` stays readable), or the whole match if no group did.
///
/// Cheap to clone (the compiled expressions are shared).
#[derive(Clone, Default)]
pub struct RedactPatterns {
    compiled: Arc<[Compiled]>,
}

struct Compiled {
    source: String,
    regex: Regex,
}

impl fmt::Debug for RedactPatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.compiled.iter().map(|c| &c.source))
            .finish()
    }
}

impl PartialEq for RedactPatterns {
    fn eq(&self, other: &Self) -> bool {
        self.sources().eq(other.sources())
    }
}

impl Eq for RedactPatterns {}

impl RedactPatterns {
    /// Compiles every pattern, failing on the first one that is not a valid expression
    /// (with its index, so the config error can name `logging.redactPatterns[i]`).
    pub fn compile<I, S>(sources: I) -> Result<Self, PatternError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut compiled = Vec::new();
        for (index, source) in sources.into_iter().enumerate() {
            let source = source.as_ref();
            let regex = compile_one(source).map_err(|message| PatternError {
                index,
                pattern: source.to_owned(),
                message,
            })?;
            compiled.push(Compiled {
                source: source.to_owned(),
                regex,
            });
        }
        Ok(RedactPatterns {
            compiled: compiled.into(),
        })
    }

    /// No patterns configured: [`RedactPatterns::apply`] returns its input unchanged.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    /// How many patterns there are.
    pub fn len(&self) -> usize {
        self.compiled.len()
    }

    /// The patterns as written, in order.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.compiled.iter().map(|c| c.source.as_str())
    }

    /// Replaces what every pattern matches in `text` (patterns applied one after the
    /// other) with [`REDACTED`].
    ///
    /// Fails closed: if a pattern cannot finish matching (its backtracking budget ran
    /// out) the whole text is replaced, since it may hold what the pattern looks for.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut current = Cow::Borrowed(text);
        for c in self.compiled.iter() {
            match redact_matches(&c.regex, &current) {
                Ok(Some(changed)) => current = Cow::Owned(changed),
                Ok(None) => {}
                Err(()) => return Cow::Owned(REDACTED.to_owned()),
            }
        }
        current
    }
}

/// One pattern over `text`: `Ok(None)` when nothing matched, `Err` when matching failed.
fn redact_matches(regex: &Regex, text: &str) -> Result<Option<String>, ()> {
    let mut out = String::new();
    let mut copied = 0;
    let mut replaced = false;
    for caps in regex.captures_iter(text) {
        let caps = caps.map_err(|_| ())?;
        let Some(whole) = caps.get(0) else { continue };
        let target = (1..caps.len())
            .rev()
            .filter_map(|i| caps.get(i))
            .find(|m| !m.as_str().is_empty())
            .unwrap_or(whole);
        if target.as_str().is_empty() || target.start() < copied {
            continue;
        }
        out.push_str(&text[copied..target.start()]);
        out.push_str(REDACTED);
        copied = target.end();
        replaced = true;
    }
    if !replaced {
        return Ok(None);
    }
    out.push_str(&text[copied..]);
    Ok(Some(out))
}

/// Compiles one pattern in the syntax described on [`RedactPatterns`].
fn compile_one(source: &str) -> Result<Regex, String> {
    let (pattern, flags) = split_flags(source);
    let mut builder = RegexBuilder::new(pattern);
    builder.backtrack_limit(BACKTRACK_LIMIT);
    match flags {
        None => {
            builder.case_insensitive(true);
        }
        Some(flags) => {
            for flag in flags.chars() {
                match flag {
                    'i' => {
                        builder.case_insensitive(true);
                    }
                    'm' => {
                        builder.multi_line(true);
                    }
                    's' => {
                        builder.dot_matches_new_line(true);
                    }
                    'g' | 'u' => {}
                    other => {
                        return Err(format!(
                            "the {other} flag is not supported (use i, m, s, g or u)"
                        ));
                    }
                }
            }
        }
    }
    if pattern.is_empty() {
        return Err("the pattern is empty".to_owned());
    }
    builder.build().map_err(|e| e.to_string())
}

/// `/pattern/flags` → (`pattern`, `Some(flags)`) when the flags are JavaScript's
/// `gimsuy` letters (as the original OpenClaw reads it); anything else, e.g.
/// `/usr/local/bin`, is a plain pattern.
fn split_flags(source: &str) -> (&str, Option<&str>) {
    if let Some(rest) = source.strip_prefix('/')
        && let Some(end) = rest.rfind('/')
        && end > 0
    {
        let flags = &rest[end + 1..];
        if flags.chars().all(|c| "gimsuy".contains(c)) {
            return (&rest[..end], Some(flags));
        }
    }
    (source, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(patterns: &[&str], text: &str) -> String {
        RedactPatterns::compile(patterns)
            .expect("valid patterns")
            .apply(text)
            .into_owned()
    }

    #[test]
    fn whole_match_without_groups() {
        assert_eq!(
            apply(&["sk-[a-z0-9]+"], "key sk-abc123 and sk-zz9 end"),
            "key [redacted] and [redacted] end"
        );
        assert_eq!(apply(&["sk-[a-z0-9]+"], "nothing here"), "nothing here");
        assert!(matches!(
            RedactPatterns::compile(["x"]).expect("valid").apply("none"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn plain_patterns_ignore_case_and_slash_form_chooses() {
        assert_eq!(apply(&["secret"], "a SECRET b"), "a [redacted] b");
        assert_eq!(
            apply(&["/secret/"], "a SECRET b secret"),
            "a SECRET b [redacted]"
        );
        assert_eq!(apply(&["/secret/gi"], "a SECRET b"), "a [redacted] b");
        assert_eq!(apply(&["/^x.y$/ms"], "a\nx\ny\nb"), "a\n[redacted]\nb");
    }

    #[test]
    fn capture_groups_redact_the_secret_part() {
        let token = r#"\bTOKEN\b\s*[=:]\s*(["']?)([^\s"']+)\1"#;
        assert_eq!(
            apply(&[token], r#"sent TOKEN="abc123" and token: xyz"#),
            r#"sent TOKEN="[redacted]" and token: [redacted]"#
        );
        // The last group that matched something wins; none → the whole match.
        let alt = r"user=(\w+)|pass=(\w+)";
        assert_eq!(
            apply(&[alt], "user=bob pass=hunter2"),
            "user=[redacted] pass=[redacted]"
        );
        assert_eq!(apply(&[r"k(x?)=\d+"], "k=42!"), "[redacted]!");
    }

    #[test]
    fn several_patterns_apply_in_turn() {
        assert_eq!(
            apply(&["alpha", "beta"], "alpha beta gamma"),
            "[redacted] [redacted] gamma"
        );
        // Empty matches never insert markers.
        assert_eq!(apply(&["z*"], "abc"), "abc");
    }

    #[test]
    fn invalid_patterns_name_their_index() {
        let err = RedactPatterns::compile(["ok", "(unclosed"]).expect_err("invalid");
        assert_eq!(err.index, 1);
        assert_eq!(err.pattern, "(unclosed");
        assert!(err.to_string().contains("pattern 1"), "{err}");
        let err = RedactPatterns::compile(["/x/y"]).expect_err("sticky refused");
        assert!(err.message.contains("y flag"), "{err}");
        assert!(RedactPatterns::compile([""]).is_err());
        assert!(RedactPatterns::compile(["/(/i"]).is_err());
        assert!(RedactPatterns::compile(["//g"]).is_ok(), "a plain pattern");
    }

    #[test]
    fn slash_form_detection() {
        assert_eq!(split_flags("/ab/i"), ("ab", Some("i")));
        assert_eq!(split_flags("/a/b/"), ("a/b", Some("")));
        assert_eq!(split_flags("/a/b.c"), ("/a/b.c", None));
        assert_eq!(split_flags("/usr/local/bin"), ("/usr/local/bin", None));
        assert_eq!(split_flags("plain"), ("plain", None));
        assert_eq!(split_flags("/"), ("/", None));
    }

    #[test]
    fn runaway_backtracking_fails_closed() {
        // Catastrophic backtracking (forced onto the backtracker by the backreference).
        let p = RedactPatterns::compile([r"(a|a)*(b)\1"]).expect("valid");
        let text = "a".repeat(64);
        assert_eq!(p.apply(&text), REDACTED);
    }

    #[test]
    fn equality_and_debug_use_sources() {
        let a = RedactPatterns::compile(["x", "y"]).expect("valid");
        let b = RedactPatterns::compile(vec!["x".to_owned(), "y".to_owned()]).expect("valid");
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), r#"["x", "y"]"#);
        assert_eq!(a.len(), 2);
        assert!(RedactPatterns::default().is_empty());
    }
}
