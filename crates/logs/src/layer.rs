//! The two tracing layers: JSON lines for the file, short lines for stderr.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::redact::{REDACTED, Redaction, is_sensitive_field};
use crate::time::UtcTime;

/// Keys the file format reserves for itself; event fields with these names
/// are written as `field.<name>` so no JSON object ever has duplicate keys.
pub(crate) const RESERVED_KEYS: [&str; 4] = ["time", "level", "subsystem", "message"];

/// How the console layer prints events (`logging.consoleStyle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleStyle {
    /// `HH:MM:SS level [subsystem] message key=value…`, the level and subsystem
    /// coloured when colours are on (a terminal without `NO_COLOR`).
    #[default]
    Pretty,
    /// `level [subsystem] message key=value…`: no time (a supervisor or journal adds
    /// its own) and never coloured.
    Compact,
    /// The same JSON object per line as the log file.
    Json,
}

impl ConsoleStyle {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleStyle::Pretty => "pretty",
            ConsoleStyle::Compact => "compact",
            ConsoleStyle::Json => "json",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            ConsoleStyle::Pretty => 0,
            ConsoleStyle::Compact => 1,
            ConsoleStyle::Json => 2,
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            1 => ConsoleStyle::Compact,
            2 => ConsoleStyle::Json,
            _ => ConsoleStyle::Pretty,
        }
    }
}

/// Settings both layers read on every event and [`crate::LogHandle`] changes at run
/// time (hot reload of `logging.*`).
#[derive(Debug)]
pub(crate) struct Live {
    redaction: RwLock<Redaction>,
    style: AtomicU8,
    color: AtomicBool,
}

impl Live {
    pub(crate) fn new(redaction: Redaction, style: ConsoleStyle, color: bool) -> Arc<Live> {
        Arc::new(Live {
            redaction: RwLock::new(redaction),
            style: AtomicU8::new(style.to_u8()),
            color: AtomicBool::new(color),
        })
    }

    /// A snapshot (cheap: the compiled patterns are shared).
    pub(crate) fn redaction(&self) -> Redaction {
        self.redaction
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_redaction(&self, redaction: Redaction) {
        *self
            .redaction
            .write()
            .unwrap_or_else(PoisonError::into_inner) = redaction;
    }

    pub(crate) fn style(&self) -> ConsoleStyle {
        ConsoleStyle::from_u8(self.style.load(Ordering::Relaxed))
    }

    pub(crate) fn set_style(&self, style: ConsoleStyle, color: bool) {
        self.style.store(style.to_u8(), Ordering::Relaxed);
        self.color.store(color, Ordering::Relaxed);
    }

    fn color(&self) -> bool {
        self.color.load(Ordering::Relaxed)
    }

    /// Redacts an event's message and fields in place.
    fn scrub(&self, fields: &mut Fields) {
        let redaction = self
            .redaction
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(message) = &mut fields.message
            && let std::borrow::Cow::Owned(changed) = redaction.text(message)
        {
            *message = changed;
        }
        for (name, value) in &mut fields.pairs {
            redaction.field(name, value);
        }
    }
}

/// Collected key/value pairs of an event or span, in recording order.
#[derive(Debug, Default, Clone)]
struct Fields {
    message: Option<String>,
    pairs: Vec<(String, Value)>,
}

impl Fields {
    /// Inserts or replaces, so an inner span / the event overrides outer
    /// values and `span.record()` updates in place.
    fn set(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.pairs.iter_mut().find(|(k, _)| k == name) {
            slot.1 = value;
        } else {
            self.pairs.push((name.to_owned(), value));
        }
    }

    fn merge(&mut self, other: &Fields) {
        for (name, value) in &other.pairs {
            self.set(name, value.clone());
        }
    }

    /// Records values as they are; redaction happens when an event is written
    /// ([`Live::scrub`]), so it follows the settings of that moment.
    fn record_value(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.set(name, value);
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let json =
            Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.record_value(field, json);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_value(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_value(field, Value::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let json =
            i64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from);
        self.record_value(field, json);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let json =
            u64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from);
        self.record_value(field, json);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_value(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_value(field, Value::String(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // Include the cause chain: "connect failed: connection refused" is
        // far more useful in a log than the outermost message alone.
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(text, ": {cause}");
            source = cause.source();
        }
        self.record_value(field, Value::String(text));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_value(field, Value::String(format!("{value:?}")));
    }
}

/// Span fields stored in span extensions, tagged per layer `L` so the two
/// layers never fight over the same extension slot.
struct SpanFields<L> {
    fields: Fields,
    _layer: PhantomData<fn() -> L>,
}

/// Records a new span's fields for layer `L`.
fn store_span_fields<S, L: 'static>(attrs: &Attributes<'_>, id: &Id, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else { return };
    let mut fields = Fields::default();
    attrs.record(&mut fields);
    span.extensions_mut().replace(SpanFields::<L> {
        fields,
        _layer: PhantomData,
    });
}

/// Applies `span.record(...)` updates for layer `L`.
fn update_span_fields<S, L: 'static>(id: &Id, values: &Record<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else { return };
    let mut extensions = span.extensions_mut();
    if let Some(stored) = extensions.get_mut::<SpanFields<L>>() {
        values.record(&mut stored.fields);
    } else {
        let mut fields = Fields::default();
        values.record(&mut fields);
        extensions.replace(SpanFields::<L> {
            fields,
            _layer: PhantomData,
        });
    }
}

/// Span fields (root first) overlaid with the event's own fields.
fn collect_event_fields<S, L: 'static>(event: &Event<'_>, ctx: &Context<'_, S>) -> Fields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut fields = Fields::default();
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope.from_root() {
            if let Some(stored) = span.extensions().get::<SpanFields<L>>() {
                fields.merge(&stored.fields);
            }
        }
    }
    let mut own = Fields::default();
    event.record(&mut own);
    fields.merge(&own);
    fields.message = own.message;
    fields
}

fn level_name(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::ERROR => "error",
        tracing::Level::WARN => "warn",
        tracing::Level::INFO => "info",
        tracing::Level::DEBUG => "debug",
        tracing::Level::TRACE => "trace",
    }
}

/// Renders one event as a JSON line (with trailing newline): the file format, and
/// the console's `json` style.
fn render_json(meta: &tracing::Metadata<'_>, fields: &Fields) -> String {
    // Key order matters to human readers, so the object is built by hand
    // (serde_json's map would sort the keys).
    let mut line = String::with_capacity(128);
    line.push('{');
    push_json_pair(
        &mut line,
        "time",
        &Value::String(UtcTime::from_system(SystemTime::now()).rfc3339_millis()),
        true,
    );
    push_json_pair(
        &mut line,
        "level",
        &Value::String(level_name(meta.level()).to_owned()),
        false,
    );
    push_json_pair(
        &mut line,
        "subsystem",
        &Value::String(meta.target().to_owned()),
        false,
    );
    push_json_pair(
        &mut line,
        "message",
        &Value::String(fields.message.clone().unwrap_or_default()),
        false,
    );
    for (name, value) in &fields.pairs {
        if RESERVED_KEYS.contains(&name.as_str()) {
            push_json_pair(&mut line, &format!("field.{name}"), value, false);
        } else {
            push_json_pair(&mut line, name, value, false);
        }
    }
    line.push_str("}\n");
    line
}

/// Writes JSON-lines log records to a [`MakeWriter`] (normally a
/// [`crate::SharedRotatingFile`]).
///
/// Each event becomes one object `{"time","level","subsystem","message",
/// ...fields}` — the format `logs.tail` clients and `openclaw logs` expect.
/// It is a hand-written layer because the built-in JSON formatter nests
/// fields and names keys differently. Fields are redacted as [`Redaction`]
/// says (by default: sensitive field names) and fields of enclosing spans are
/// included (event fields win on conflicts). Filtering is left to the caller
/// (`.with_filter(...)`).
#[derive(Debug, Clone)]
pub struct JsonFileLayer<W> {
    writer: W,
    live: Arc<Live>,
}

impl<W> JsonFileLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// Creates a layer writing to `writer`; one `make_writer` call (and thus
    /// one whole-line record) per event. Redacts with [`Redaction::default`].
    pub fn new(writer: W) -> Self {
        Self::with_live(
            writer,
            Live::new(Redaction::default(), ConsoleStyle::Json, false),
        )
    }

    /// The layer with fixed redaction settings instead of the default.
    pub fn with_redaction(self, redaction: Redaction) -> Self {
        self.live.set_redaction(redaction);
        self
    }

    pub(crate) fn with_live(writer: W, live: Arc<Live>) -> Self {
        JsonFileLayer { writer, live }
    }
}

/// Appends `"key":value` (with a leading comma unless first) to `out`.
pub(crate) fn push_json_pair(out: &mut String, key: &str, value: &Value, first: bool) {
    if !first {
        out.push(',');
    }
    // Serialising a `Value` or `&str` to a string cannot fail.
    out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"\"".to_owned()));
    out.push(':');
    out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()));
}

impl<S, W> Layer<S> for JsonFileLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        store_span_fields::<S, Self>(attrs, id, &ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        update_span_fields::<S, Self>(id, values, &ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = collect_event_fields::<S, Self>(event, &ctx);
        self.live.scrub(&mut fields);
        let line = render_json(event.metadata(), &fields);
        let mut writer = self.writer.make_writer_for(event.metadata());
        // Errors are handled (reported once) by the rotating writer itself.
        let _ = writer.write_all(line.as_bytes());
    }
}

/// Writes one line per event to a [`MakeWriter`] (normally stderr), in the
/// [`ConsoleStyle`] of the moment: `HH:MM:SS level [subsystem] message
/// key=value…` (pretty), the same without the time (compact), or the file's
/// JSON object (json).
///
/// This is what an operator watching `openclaw gateway` in a terminal sees;
/// the JSON file remains the complete record. Times are UTC because the
/// crate avoids platform time-zone code. Redaction is the same as in the
/// file. Filtering is left to the caller (`.with_filter(...)`).
#[derive(Debug, Clone)]
pub struct ConsoleLayer<W> {
    writer: W,
    live: Arc<Live>,
}

impl<W> ConsoleLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// Creates a layer writing one line per event to `writer`: pretty style
    /// without colours, default redaction.
    pub fn new(writer: W) -> Self {
        Self::with_live(
            writer,
            Live::new(Redaction::default(), ConsoleStyle::Pretty, false),
        )
    }

    /// The layer with another style; `color` adds ANSI colours to the pretty style.
    pub fn with_style(self, style: ConsoleStyle, color: bool) -> Self {
        self.live.set_style(style, color);
        self
    }

    /// The layer with fixed redaction settings instead of the default.
    pub fn with_redaction(self, redaction: Redaction) -> Self {
        self.live.set_redaction(redaction);
        self
    }

    pub(crate) fn with_live(writer: W, live: Arc<Live>) -> Self {
        ConsoleLayer { writer, live }
    }
}

impl<S, W> Layer<S> for ConsoleLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        store_span_fields::<S, Self>(attrs, id, &ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        update_span_fields::<S, Self>(id, values, &ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = collect_event_fields::<S, Self>(event, &ctx);
        self.live.scrub(&mut fields);
        let meta = event.metadata();
        let line = match self.live.style() {
            ConsoleStyle::Json => render_json(meta, &fields),
            style => {
                let mut line = String::with_capacity(96);
                let hms = UtcTime::from_system(SystemTime::now()).hms();
                let pretty = style == ConsoleStyle::Pretty;
                write_console_line(
                    &mut line,
                    pretty.then_some(hms.as_str()),
                    level_name(meta.level()),
                    meta.target(),
                    fields.message.as_deref().unwrap_or_default(),
                    fields.pairs.iter().map(|(k, v)| (k.as_str(), v)),
                    pretty && self.live.color(),
                );
                line
            }
        };
        let mut writer = self.writer.make_writer_for(meta);
        // A closed stderr must not bring the gateway down.
        let _ = writer.write_all(line.as_bytes());
    }
}

/// ANSI colour of a level name.
fn level_color(level: &str) -> &'static str {
    match level {
        "error" | "fatal" => "\x1b[31m",
        "warn" => "\x1b[33m",
        "info" => "\x1b[32m",
        "debug" => "\x1b[34m",
        _ => "\x1b[90m",
    }
}

/// Formats one console line (with trailing newline) into `out`; `hms` is
/// left out when `None` (compact style), `color` adds ANSI colours.
fn write_console_line<'a>(
    out: &mut String,
    hms: Option<&str>,
    level: &str,
    subsystem: &str,
    message: &str,
    fields: impl Iterator<Item = (&'a str, &'a Value)>,
    color: bool,
) {
    if let Some(hms) = hms {
        if color {
            let _ = write!(out, "\x1b[2m{hms}\x1b[0m ");
        } else {
            let _ = write!(out, "{hms} ");
        }
    }
    if color {
        let _ = write!(
            out,
            "{}{level}\x1b[0m \x1b[36m[{subsystem}]\x1b[0m",
            level_color(level)
        );
    } else {
        let _ = write!(out, "{level} [{subsystem}]");
    }
    if !message.is_empty() {
        out.push(' ');
        out.push_str(message);
    }
    for (key, value) in fields {
        let _ = write!(out, " {key}=");
        match value {
            Value::String(s) if needs_quotes(s) => {
                let _ = write!(out, "{s:?}");
            }
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
    }
    out.push('\n');
}

/// Quote console values that would otherwise be ambiguous to read back.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '='))
}

/// Turns one stored JSON log line into the console format.
///
/// `openclaw logs` uses this when reading the file offline (or via
/// `logs.tail`) so users see the same lines the live daemon prints. Lines
/// that are not JSON objects (e.g. from an older version) are returned
/// unchanged; values of sensitive keys are redacted again in case the line
/// was written by something less careful.
pub fn pretty_line(line: &str) -> String {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    let text = |key: &str| match object.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let time = text("time");
    let hms = time
        .get(11..19)
        .filter(|t| t.len() == 8)
        .map_or_else(|| time.clone(), str::to_owned);
    let redacted = Value::String(REDACTED.to_owned());
    let rest = object
        .iter()
        .filter(|(k, _)| !RESERVED_KEYS.contains(&k.as_str()))
        .map(|(k, v)| {
            if is_sensitive_field(k) {
                (k.as_str(), &redacted)
            } else {
                (k.as_str(), v)
            }
        });
    let mut out = String::with_capacity(line.len());
    write_console_line(
        &mut out,
        Some(&hms),
        &text("level"),
        &text("subsystem"),
        &text("message"),
        rest,
        false,
    );
    out.pop(); // callers print it with their own newline
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_line_formats_json() {
        let line = r#"{"time":"2026-11-22T03:04:05.678Z","level":"info","subsystem":"gateway/ws","message":"client connected","conn":"c1","peer":"a b","apiKey":"leak"}"#;
        assert_eq!(
            pretty_line(line),
            r#"03:04:05 info [gateway/ws] client connected apiKey=[redacted] conn=c1 peer="a b""#
        );
        assert_eq!(pretty_line("plain text"), "plain text");
        assert_eq!(pretty_line("[1,2]"), "[1,2]");
        assert_eq!(pretty_line("{}"), "  []");
    }

    #[test]
    fn json_pairs_escape() {
        let mut out = String::new();
        push_json_pair(&mut out, "k\"", &Value::String("a\nb".into()), true);
        assert_eq!(out, r#""k\"":"a\nb""#);
    }
}
