//! The two tracing layers: JSON lines for the file, short lines for stderr.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::marker::PhantomData;
use std::time::SystemTime;

use serde_json::{Number, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::redact::{REDACTED, is_sensitive_field};
use crate::time::UtcTime;

/// Keys the file format reserves for itself; event fields with these names
/// are written as `field.<name>` so no JSON object ever has duplicate keys.
const RESERVED_KEYS: [&str; 4] = ["time", "level", "subsystem", "message"];

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

    fn record_value(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else if is_sensitive_field(name) {
            self.set(name, Value::String(REDACTED.to_owned()));
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

/// Writes JSON-lines log records to a [`MakeWriter`] (normally a
/// [`crate::SharedRotatingFile`]).
///
/// Each event becomes one object `{"time","level","subsystem","message",
/// ...fields}` — the format `logs.tail` clients and `openclaw logs` expect.
/// It is a hand-written layer because the built-in JSON formatter nests
/// fields and names keys differently. Sensitive fields are redacted and
/// fields of enclosing spans are included (event fields win on conflicts).
/// Filtering is left to the caller (`.with_filter(...)`).
#[derive(Debug, Clone)]
pub struct JsonFileLayer<W> {
    writer: W,
}

impl<W> JsonFileLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// Creates a layer writing to `writer`; one `make_writer` call (and thus
    /// one whole-line record) per event.
    pub fn new(writer: W) -> Self {
        JsonFileLayer { writer }
    }

    /// Renders one event as a JSON line (with trailing newline).
    fn render(&self, meta: &tracing::Metadata<'_>, fields: &Fields) -> String {
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
}

/// Appends `"key":value` (with a leading comma unless first) to `out`.
fn push_json_pair(out: &mut String, key: &str, value: &Value, first: bool) {
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
        let fields = collect_event_fields::<S, Self>(event, &ctx);
        let line = self.render(event.metadata(), &fields);
        let mut writer = self.writer.make_writer_for(event.metadata());
        // Errors are handled (reported once) by the rotating writer itself.
        let _ = writer.write_all(line.as_bytes());
    }
}

/// Writes short human-readable lines, `HH:MM:SS level [subsystem] message
/// key=value…`, to a [`MakeWriter`] (normally stderr).
///
/// This is what an operator watching `openclaw gateway` in a terminal sees;
/// the JSON file remains the complete record. Times are UTC because the
/// crate avoids platform time-zone code. Sensitive fields are redacted here
/// as well. Filtering is left to the caller (`.with_filter(...)`).
#[derive(Debug, Clone)]
pub struct ConsoleLayer<W> {
    writer: W,
}

impl<W> ConsoleLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// Creates a layer writing one line per event to `writer`.
    pub fn new(writer: W) -> Self {
        ConsoleLayer { writer }
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
        let fields = collect_event_fields::<S, Self>(event, &ctx);
        let meta = event.metadata();
        let mut line = String::with_capacity(96);
        write_console_line(
            &mut line,
            &UtcTime::from_system(SystemTime::now()).hms(),
            level_name(meta.level()),
            meta.target(),
            fields.message.as_deref().unwrap_or_default(),
            fields.pairs.iter().map(|(k, v)| (k.as_str(), v)),
        );
        let mut writer = self.writer.make_writer_for(meta);
        // A closed stderr must not bring the gateway down.
        let _ = writer.write_all(line.as_bytes());
    }
}

/// Formats one console line (with trailing newline) into `out`.
fn write_console_line<'a>(
    out: &mut String,
    hms: &str,
    level: &str,
    subsystem: &str,
    message: &str,
    fields: impl Iterator<Item = (&'a str, &'a Value)>,
) {
    let _ = write!(out, "{hms} {level} [{subsystem}]");
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
        &hms,
        &text("level"),
        &text("subsystem"),
        &text("message"),
        rest,
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
