//! Secret references: pointers to credentials kept outside the config file.
//!
//! Any secret field (`gateway.auth.token`, `gateway.auth.password`,
//! `models.providers.<id>.apiKey`, `channels.telegram[.accounts.<id>].botToken`,
//! `hooks.token`) may hold, instead of the value, a [`SecretRef`] such
//! as `{ source: "env", id: "OPENAI_API_KEY" }`. The file then says *where* the value is
//! without containing it, so it can be committed, shared or printed safely.
//!
//! References are resolved explicitly with [`resolve_secrets`], never implicitly while
//! loading: resolution may read files or run commands, which the CLI's read-only
//! commands (`config get`, `secrets list`) must not do, and its failures deserve their
//! own error ([`SecretError`]) naming the field and the source that failed.
//! [`secret_sources`] lists every secret field and its kind without touching values.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::schema::{Config, Secret};

/// Longest an `exec` secret command may run before it is killed. Long enough for a
/// password-manager CLI, short enough that a command waiting for interactive input
/// cannot hang gateway start-up.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest secret accepted from a file or a command, in bytes. Guards against pointing
/// a ref at something huge or endless (`/dev/zero`, a log file) and exhausting memory;
/// real secrets (even PEM keys) are far smaller.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Where a [`SecretRef`]'s value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    /// The environment variable named by `id`.
    Env,
    /// The contents of the file at path `id` (`~/` allowed), minus one trailing newline.
    File,
    /// The standard output of the command `id` (program and arguments separated by
    /// whitespace, run without a shell), trimmed.
    Exec,
}

impl SecretSource {
    /// The on-disk spelling (`env`, `file`, `exec`), for messages and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretSource::Env => "env",
            SecretSource::File => "file",
            SecretSource::Exec => "exec",
        }
    }
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pointer to a secret kept outside the config file.
///
/// Unknown keys are rejected (so `{ source: "env", name: "X" }` is an error rather than
/// a reference to nothing), and [`Config::validate`] rejects an empty `id` with the
/// path `<field>.id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// Where the value comes from.
    pub source: SecretSource,
    /// Name of the secret provider, accepted for compatibility with OpenClaw files
    /// (which can configure several providers per source). Only the built-in provider
    /// of each source exists here, so the name is kept and shown but does not change
    /// how the value is fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// What to fetch: a variable name (`env`), a file path (`file`) or a command line
    /// (`exec`). Must not be empty.
    pub id: String,
}

impl SecretRef {
    /// Fetches this reference's value now. `path` is the config path of the field that
    /// holds the reference and only serves the error message; `env` is the environment
    /// lookup (used for `env` refs and for `HOME` when expanding `~/`).
    ///
    /// Exposed for callers that hold references outside the typed fields (e.g. a
    /// `secrets test` command); [`resolve_secrets`] uses it for the whole config.
    pub fn resolve(
        &self,
        path: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Secret, SecretError> {
        let result = match self.source {
            SecretSource::Env => resolve_env(&self.id, env),
            SecretSource::File => resolve_file(&self.id, env),
            SecretSource::Exec => resolve_exec(&self.id, env, EXEC_TIMEOUT),
        };
        result.map(Secret::new).map_err(|message| SecretError {
            path: path.to_string(),
            message,
        })
    }
}

/// A [`SecretRef`] could not be turned into a value.
///
/// `message` says which source failed and how to fix it. It never contains the secret
/// value (nor the output of an `exec` command), so it is safe to log and to show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve the secret at {path}: {message}")]
pub struct SecretError {
    /// Config path of the secret field, e.g. `gateway.auth.token` or
    /// `models.providers.openai.apiKey`.
    pub path: String,
    /// What failed and what to do about it.
    pub message: String,
}

impl From<SecretError> for ConfigError {
    /// Lets code that reports [`ConfigError`]s use `?` on resolution; the result is an
    /// [`ConfigError::Invalid`] at the secret's path.
    fn from(err: SecretError) -> ConfigError {
        ConfigError::Invalid {
            path: err.path,
            message: err.message,
        }
    }
}

/// One secret field as listed by `openclaw secrets list`. Never carries the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSourceInfo {
    /// Config path of the field, e.g. `gateway.auth.token`.
    pub path: String,
    /// `inline` (the value is in the file, or the field is unset), `env`, `file` or
    /// `exec`.
    pub kind: String,
    /// The reference's `id` (variable name, file path or command) for references;
    /// `None` for inline values, whose content must not be shown.
    pub id: Option<String>,
    /// Whether the field is configured: a non-empty inline value, or a reference with a
    /// non-empty `id`. Says nothing about whether the reference resolves.
    pub set: bool,
}

/// Every secret field of `config`: the gateway token and password (always listed, so
/// an unset one shows up as `set: false`), the `apiKey` and each header of every
/// configured provider, Telegram bot tokens and the hooks token.
pub fn secret_sources(config: &Config) -> Vec<SecretSourceInfo> {
    secret_slots(config)
        .into_iter()
        .map(
            |(path, secret)| match secret.and_then(Secret::as_ref_source) {
                Some(r) => SecretSourceInfo {
                    path,
                    kind: r.source.as_str().to_string(),
                    id: Some(r.id.clone()),
                    set: !r.id.trim().is_empty(),
                },
                None => SecretSourceInfo {
                    path,
                    kind: "inline".to_string(),
                    id: None,
                    set: secret.is_some_and(|s| !s.is_empty()),
                },
            },
        )
        .collect()
}

/// A copy of `config` with every [`SecretRef`] replaced by the value it points to.
///
/// * `env`: the variable `id`, looked up through `env`; unset or empty is an error.
/// * `file`: the file at path `id` (a leading `~/` is expanded with `HOME` from `env`),
///   minus one trailing newline; missing, unreadable, non-UTF-8, empty or larger than
///   [`MAX_SECRET_BYTES`] is an error. Relative paths are relative to the process's
///   working directory, so prefer absolute ones.
/// * `exec`: `id` is split on whitespace into a program and its arguments and run
///   directly (no shell, no globbing, no quoting), with stdin closed and
///   [`EXEC_TIMEOUT`] to finish (it is killed otherwise). Its trimmed stdout is the
///   value; a non-zero exit, a timeout or empty output is an error. The program may
///   start with `~/`; it is found through the process's `PATH` and inherits the
///   process environment (not the `env` lookup, which cannot be enumerated).
///
/// Stops at the first failure. Plain values are copied unchanged. Call this once when
/// the config is (re)loaded and use the result; [`Secret::expose`] on an unresolved
/// reference returns `""`.
pub fn resolve_secrets(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, SecretError> {
    let mut out = config.clone();
    for (path, secret) in secret_slots_mut(&mut out) {
        let resolved = match secret.as_ref_source() {
            Some(r) => r.resolve(&path, env)?,
            None => continue,
        };
        *secret = resolved;
    }
    Ok(out)
}

/// The secret fields of the typed config with their paths, in a stable order.
fn secret_slots(config: &Config) -> Vec<(String, Option<&Secret>)> {
    let auth = &config.gateway.auth;
    let mut slots = vec![
        ("gateway.auth.token".to_string(), auth.token.as_ref()),
        ("gateway.auth.password".to_string(), auth.password.as_ref()),
    ];
    // The remote's credentials are listed only when set: most configs have no remote.
    let remote = &config.gateway.remote;
    for (path, slot) in [
        ("gateway.remote.token", &remote.token),
        ("gateway.remote.password", &remote.password),
    ] {
        if slot.is_some() {
            slots.push((path.to_string(), slot.as_ref()));
        }
    }
    if let Some(models) = &config.models {
        for (id, provider) in &models.providers {
            slots.push((
                format!("models.providers.{id}.apiKey"),
                provider.api_key.as_ref(),
            ));
            for (name, value) in &provider.headers {
                slots.push((format!("models.providers.{id}.headers.{name}"), Some(value)));
            }
        }
    }
    if let Some(tg) = config.channels.as_ref().and_then(|c| c.telegram.as_ref()) {
        slots.extend(tg.token_slots());
    }
    if let Some(hooks) = &config.hooks {
        slots.push(("hooks.token".to_string(), hooks.token.as_ref()));
    }
    if let Some(url) = config.sessions.as_ref().and_then(|s| s.store.url.as_ref()) {
        slots.push(("sessions.store.url".to_string(), Some(url)));
    }
    slots
}

/// [`secret_slots`], mutably, for the resolver: the secrets that are set, in the same
/// order.
fn secret_slots_mut(config: &mut Config) -> Vec<(String, &mut Secret)> {
    fn set(path: String, slot: &mut Option<Secret>) -> Option<(String, &mut Secret)> {
        slot.as_mut().map(|s| (path, s))
    }
    let auth = &mut config.gateway.auth;
    let mut slots: Vec<(String, &mut Secret)> = Vec::new();
    slots.extend(set("gateway.auth.token".to_string(), &mut auth.token));
    slots.extend(set("gateway.auth.password".to_string(), &mut auth.password));
    let remote = &mut config.gateway.remote;
    slots.extend(set("gateway.remote.token".to_string(), &mut remote.token));
    slots.extend(set(
        "gateway.remote.password".to_string(),
        &mut remote.password,
    ));
    if let Some(models) = &mut config.models {
        for (id, provider) in &mut models.providers {
            slots.extend(set(
                format!("models.providers.{id}.apiKey"),
                &mut provider.api_key,
            ));
            for (name, value) in &mut provider.headers {
                slots.push((format!("models.providers.{id}.headers.{name}"), value));
            }
        }
    }
    if let Some(tg) = config.channels.as_mut().and_then(|c| c.telegram.as_mut()) {
        slots.extend(
            tg.token_slots_mut()
                .into_iter()
                .filter_map(|(path, slot)| set(path, slot)),
        );
    }
    if let Some(hooks) = &mut config.hooks {
        slots.extend(set("hooks.token".to_string(), &mut hooks.token));
    }
    if let Some(sessions) = &mut config.sessions {
        slots.extend(set(
            "sessions.store.url".to_string(),
            &mut sessions.store.url,
        ));
    }
    slots
}

/// Every secret value `config` holds, for scrubbing text that may echo them (an
/// upstream's error body, say): the gateway token and password, provider API keys and
/// header values, Telegram bot tokens, the hooks token. Call it on the config returned
/// by [`resolve_secrets`]; unresolved references contribute nothing, and neither do
/// empty values. Longest first, so a value that contains another is replaced whole.
pub fn secret_values(config: &Config) -> Vec<String> {
    let mut values: Vec<String> = secret_slots(config)
        .into_iter()
        .filter_map(|(_, s)| s.map(Secret::expose))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    values.dedup();
    values
}

/// The semantic checks for references, run by [`Config::validate`]: an empty `id` can
/// never resolve, so it is reported at load time rather than at first use.
pub(crate) fn validate_refs(config: &Config) -> Result<(), ConfigError> {
    for (path, secret) in secret_slots(config) {
        if let Some(r) = secret.and_then(Secret::as_ref_source)
            && r.id.trim().is_empty()
        {
            let what = match r.source {
                SecretSource::Env => "the environment variable name, e.g. \"OPENAI_API_KEY\"",
                SecretSource::File => "the file path, e.g. \"~/.openclaw/token\"",
                SecretSource::Exec => "the command to run, e.g. \"pass show openclaw/token\"",
            };
            return Err(ConfigError::Invalid {
                path: format!("{path}.id"),
                message: format!(
                    "a SecretRef with source \"{}\" needs a non-empty id: {what}",
                    r.source
                ),
            });
        }
    }
    Ok(())
}

/// `env` source: the variable must be set and non-empty (an empty token would silently
/// weaken authentication).
fn resolve_env(id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    env(id).filter(|v| !v.is_empty()).ok_or_else(|| {
        format!(
            "environment variable {id:?} (SecretRef source \"env\") is not set or is empty; set it in the environment of the gateway/CLI, or change the ref's id"
        )
    })
}

/// Expands a leading `~/` (or a lone `~`) with `HOME` from `env`.
fn expand_home(raw: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, String> {
    let rest = if raw == "~" {
        ""
    } else if let Some(rest) = raw.strip_prefix("~/") {
        rest
    } else {
        return Ok(PathBuf::from(raw));
    };
    let home = env("HOME").filter(|h| !h.is_empty()).ok_or_else(|| {
        format!("{raw:?} starts with \"~\" but HOME is not set; set HOME or use an absolute path")
    })?;
    Ok(PathBuf::from(home).join(rest))
}

/// Reads at most [`MAX_SECRET_BYTES`] + 1 bytes, then drains the rest (so a writer on
/// the other end of a pipe is never blocked). Returns the bytes and whether there was
/// more than the limit.
fn read_capped(mut reader: impl Read) -> std::io::Result<(Vec<u8>, bool)> {
    let mut buf = Vec::new();
    let limit = u64::try_from(MAX_SECRET_BYTES).unwrap_or(u64::MAX);
    (&mut reader).take(limit + 1).read_to_end(&mut buf)?;
    let overflow = buf.len() > MAX_SECRET_BYTES;
    if overflow {
        std::io::copy(&mut reader, &mut std::io::sink())?;
        buf.truncate(MAX_SECRET_BYTES);
    }
    Ok((buf, overflow))
}

/// `file` source.
fn resolve_file(id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let path = expand_home(id, env).map_err(|e| format!("SecretRef source \"file\": {e}"))?;
    let shown = path.display();
    let file = std::fs::File::open(&path).map_err(|e| {
        format!(
            "cannot open secret file {shown} (SecretRef source \"file\"): {e}; create it (readable only by you, e.g. chmod 600) or fix the ref's id"
        )
    })?;
    let (bytes, overflow) = read_capped(file).map_err(|e| {
        format!(
            "cannot read secret file {shown} (SecretRef source \"file\"): {e}; make sure id names a regular, readable file"
        )
    })?;
    if overflow {
        return Err(format!(
            "secret file {shown} is larger than {MAX_SECRET_BYTES} bytes; point the ref at a file that contains only the secret"
        ));
    }
    let mut text = String::from_utf8(bytes)
        .map_err(|_| format!("secret file {shown} is not valid UTF-8; store the secret as text"))?;
    if text.ends_with("\r\n") {
        text.truncate(text.len() - 2);
    } else if text.ends_with('\n') {
        text.truncate(text.len() - 1);
    }
    if text.trim().is_empty() {
        return Err(format!(
            "secret file {shown} is empty; write the secret into it (SecretRef source \"file\")"
        ));
    }
    Ok(text)
}

/// First non-empty line of a failed command's stderr, shortened, to explain the
/// failure. The value itself is only ever on stdout, which is never quoted.
fn stderr_hint(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => {
            let mut short: String = line.chars().take(200).collect();
            if short.len() < line.len() {
                short.push('…');
            }
            format!(" (stderr: {short})")
        }
        None => String::new(),
    }
}

/// Which pipe a reader thread drained.
enum Pipe {
    Stdout,
    Stderr,
}

/// `exec` source, with the timeout as a parameter so tests need not wait 5 s.
fn resolve_exec(
    id: &str,
    env: &dyn Fn(&str) -> Option<String>,
    timeout: Duration,
) -> Result<String, String> {
    let mut words = id.split_whitespace();
    let Some(program) = words.next() else {
        return Err(
            "the ref's id is empty; for source \"exec\" it must be a command such as \"pass show openclaw/token\"".to_string(),
        );
    };
    let args: Vec<&str> = words.collect();
    let program_path =
        expand_home(program, env).map_err(|e| format!("SecretRef source \"exec\": {e}"))?;

    let start = Instant::now();
    let mut child = Command::new(&program_path)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {program:?} (SecretRef source \"exec\"): {e}; check that the command in id exists and is executable (it is run directly, without a shell)"
            )
        })?;

    // Drain both pipes on threads so a chatty command cannot block on a full pipe, and
    // collect through a channel so a grandchild that keeps a pipe open cannot make us
    // wait past the deadline.
    let (tx, rx) = mpsc::channel();
    let mut readers = 0;
    let mut spawn_failed = false;
    for (pipe, reader) in [
        (
            Pipe::Stdout,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            Pipe::Stderr,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let Some(reader) = reader else { continue };
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("openclaw-secret-exec".into())
            .spawn(move || {
                let _ = tx.send((pipe, read_capped(reader)));
            });
        match spawned {
            Ok(_) => readers += 1,
            Err(_) => spawn_failed = true,
        }
    }
    drop(tx);
    if spawn_failed {
        let _ = child.kill();
        let _ = child.wait();
        return Err(
            "cannot start a thread to read the command's output (SecretRef source \"exec\"); the system is out of resources, try again".to_string(),
        );
    }

    let timed_out = || {
        format!(
            "command {program:?} (SecretRef source \"exec\") did not finish within {} s and was killed; make it non-interactive (e.g. unlock the password manager first) or store the secret in a file",
            timeout.as_secs_f64()
        )
    };

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                if start.elapsed() >= timeout {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(timed_out());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "lost track of command {program:?} (SecretRef source \"exec\"): {e}; try again"
                ));
            }
        }
    };

    let mut stdout = None;
    let mut stderr = Vec::new();
    for _ in 0..readers {
        let remaining = timeout.saturating_sub(start.elapsed());
        match rx.recv_timeout(remaining) {
            Ok((Pipe::Stdout, result)) => stdout = Some(result),
            Ok((Pipe::Stderr, result)) => {
                if let Ok((bytes, _)) = result {
                    stderr = bytes;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "command {program:?} (SecretRef source \"exec\") exited, but something it started kept its output open for more than {} s; make it exit without leaving background processes attached to stdout",
                    timeout.as_secs_f64()
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }

    if !status.success() {
        return Err(format!(
            "command {program:?} (SecretRef source \"exec\") failed with {status}{}; run it by hand to see why",
            stderr_hint(&stderr)
        ));
    }
    let (bytes, overflow) = match stdout {
        Some(Ok(out)) => out,
        Some(Err(e)) => {
            return Err(format!(
                "cannot read the output of {program:?} (SecretRef source \"exec\"): {e}; try again"
            ));
        }
        None => (Vec::new(), false),
    };
    if overflow {
        return Err(format!(
            "command {program:?} (SecretRef source \"exec\") printed more than {MAX_SECRET_BYTES} bytes; it must print only the secret"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        format!(
            "command {program:?} (SecretRef source \"exec\") printed output that is not valid UTF-8; it must print the secret as text"
        )
    })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!(
            "command {program:?} (SecretRef source \"exec\") printed nothing on stdout; it must print the secret"
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A temp file (name ending in `name`) removed on drop.
    fn temp_file(name: &str, content: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new()
            .prefix("openclaw-secret-test-")
            .suffix(&format!("-{name}"))
            .tempfile()
            .expect("temp file");
        std::fs::write(file.path(), content).unwrap();
        file
    }

    fn env_ref(id: &str) -> SecretRef {
        SecretRef {
            source: SecretSource::Env,
            provider: None,
            id: id.into(),
        }
    }

    #[test]
    fn secret_accepts_both_forms_and_round_trips() {
        let c = parse_str(
            r#"{ gateway: { auth: { token: "plain", password: { source: "env", provider: "default", id: "PW" } } },
                 models: { providers: { p: { baseUrl: "http://h", api: "openai-completions",
                     apiKey: { source: "exec", id: "pass show p" } } } } }"#,
            &no_env,
        )
        .unwrap();
        let token = c.gateway.auth.token.as_ref().unwrap();
        assert_eq!(token.expose(), "plain");
        assert!(token.as_ref_source().is_none());
        let pw = c.gateway.auth.password.as_ref().unwrap();
        assert_eq!(pw.expose(), "");
        assert!(!pw.is_empty());
        assert_eq!(format!("{pw} {pw:?}"), "[redacted] [redacted]");
        let r = pw.as_ref_source().unwrap();
        assert_eq!(r.source, SecretSource::Env);
        assert_eq!(r.provider.as_deref(), Some("default"));
        assert_eq!(r.id, "PW");

        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["gateway"]["auth"]["token"], "plain");
        assert_eq!(
            v["gateway"]["auth"]["password"],
            serde_json::json!({ "source": "env", "provider": "default", "id": "PW" })
        );
        assert_eq!(
            v["models"]["providers"]["p"]["apiKey"],
            serde_json::json!({ "source": "exec", "id": "pass show p" })
        );
        let back: Config = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn ref_password_selects_password_mode() {
        let mut c = Config::default();
        c.gateway.auth.password = Some(Secret::from_ref(env_ref("PW")));
        assert_eq!(
            c.gateway.auth.effective_mode(),
            crate::schema::AuthMode::Password
        );
    }

    #[test]
    fn bad_refs_are_reported_at_their_path() {
        let err = |s: &str| parse_str(s, &no_env).unwrap_err();
        let cases = [
            (
                r#"{ gateway: { auth: { token: { source: "vault", id: "x" } } } }"#,
                "gateway.auth.token.source",
                "exec",
            ),
            (
                r#"{ gateway: { auth: { token: { source: "env", id: "X", name: "y" } } } }"#,
                "gateway.auth.token.name",
                "unknown field",
            ),
            (
                r#"{ gateway: { auth: { token: { source: "env" } } } }"#,
                "gateway.auth.token",
                "missing field `id`",
            ),
            (
                r#"{ gateway: { auth: { token: 42 } } }"#,
                "gateway.auth.token",
                "SecretRef",
            ),
            (
                r#"{ gateway: { auth: { password: { source: "file", id: "  " } } } }"#,
                "gateway.auth.password.id",
                "non-empty id",
            ),
        ];
        for (raw, path, text) in cases {
            match err(raw) {
                ConfigError::Invalid { path: p, message } => {
                    assert_eq!(p, path, "{raw}: {message}");
                    assert!(message.contains(text), "{raw}: {message}");
                }
                other => panic!("{raw}: unexpected {other}"),
            }
        }
    }

    #[test]
    fn provider_headers_take_secret_refs_and_count_as_secrets() {
        let c = parse_str(
            r#"{ gateway: { auth: { token: "gw-token-1" } },
                 hooks: { enabled: true, token: "hook-token-1" },
                 models: { providers: { p: { baseUrl: "http://h", api: "openai-completions",
                     apiKey: "sk-key-1",
                     headers: { "X-Proxy-Auth": { source: "env", id: "PROXY_AUTH" },
                                "X-Plain": "plain-header-1", "X-Unset": "" } } } } }"#,
            &no_env,
        )
        .unwrap();
        let listed: Vec<(String, String, bool)> = secret_sources(&c)
            .into_iter()
            .map(|s| (s.path, s.kind, s.set))
            .collect();
        for want in [
            ("models.providers.p.headers.X-Proxy-Auth", "env", true),
            ("models.providers.p.headers.X-Plain", "inline", true),
            ("models.providers.p.headers.X-Unset", "inline", false),
        ] {
            assert!(
                listed.contains(&(want.0.into(), want.1.into(), want.2)),
                "{want:?} not in {listed:?}"
            );
        }
        // Unresolved, the reference is no value yet.
        assert!(!secret_values(&c).iter().any(|v| v.contains("from-env")));
        let err = resolve_secrets(&c, &no_env).unwrap_err();
        assert_eq!(err.path, "models.providers.p.headers.X-Proxy-Auth");
        let resolved = resolve_secrets(&c, &env_of(&[("PROXY_AUTH", "hdr-from-env-1")])).unwrap();
        let headers = &resolved.models.as_ref().unwrap().providers["p"].headers;
        assert_eq!(headers["X-Proxy-Auth"].expose(), "hdr-from-env-1");
        assert_eq!(headers["X-Plain"].expose(), "plain-header-1");
        assert_eq!(
            secret_values(&resolved),
            [
                "hdr-from-env-1",
                "plain-header-1",
                "hook-token-1",
                "gw-token-1",
                "sk-key-1"
            ]
        );
    }

    #[test]
    fn resolves_env_refs_and_keeps_plain_values() {
        let mut c = Config::default();
        c.gateway.auth.token = Some(Secret::from_ref(env_ref("TOK")));
        c.gateway.auth.password = Some(Secret::new("pw"));
        let resolved = resolve_secrets(&c, &env_of(&[("TOK", "s3cr3t")])).unwrap();
        assert_eq!(resolved.gateway.auth.token.unwrap().expose(), "s3cr3t");
        assert_eq!(resolved.gateway.auth.password.unwrap().expose(), "pw");
        // The input is untouched.
        assert!(c.gateway.auth.token.unwrap().as_ref_source().is_some());
    }

    #[test]
    fn env_errors_name_path_and_variable() {
        let mut c = Config::default();
        c.gateway.auth.token = Some(Secret::from_ref(env_ref("TOK")));
        for env in [env_of(&[]), env_of(&[("TOK", "")])] {
            let e = resolve_secrets(&c, &env).unwrap_err();
            assert_eq!(e.path, "gateway.auth.token");
            assert!(
                e.message.contains("\"TOK\"") && e.message.contains("env"),
                "{e}"
            );
            assert!(e.to_string().contains("gateway.auth.token"), "{e}");
        }
    }

    #[test]
    fn file_refs() {
        let f = temp_file("tok", b"file-secret\n");
        let file_ref = |id: &str| SecretRef {
            source: SecretSource::File,
            provider: None,
            id: id.to_string(),
        };
        let path = f.path().to_str().unwrap().to_string();
        let got = file_ref(&path).resolve("x", &no_env).unwrap();
        assert_eq!(got.expose(), "file-secret");

        // Only one trailing newline is removed; CRLF counts as one.
        let f2 = temp_file("crlf", b"a b\r\n\r\n");
        let got = file_ref(f2.path().to_str().unwrap())
            .resolve("x", &no_env)
            .unwrap();
        assert_eq!(got.expose(), "a b\r\n");

        // `~/` expands through HOME from the lookup, not the process.
        let dir = f.path().parent().unwrap().to_str().unwrap().to_string();
        let name = f.path().file_name().unwrap().to_str().unwrap();
        let home = env_of(&[("HOME", &dir)]);
        let got = file_ref(&format!("~/{name}")).resolve("x", &home).unwrap();
        assert_eq!(got.expose(), "file-secret");
        let e = file_ref("~/x").resolve("p", &no_env).unwrap_err();
        assert!(e.message.contains("HOME"), "{e}");

        let e = file_ref("/nonexistent/openclaw/secret")
            .resolve("models.providers.a.apiKey", &no_env)
            .unwrap_err();
        assert_eq!(e.path, "models.providers.a.apiKey");
        assert!(e.message.contains("cannot open secret file"), "{e}");

        let empty = temp_file("empty", b"\n");
        let e = file_ref(empty.path().to_str().unwrap())
            .resolve("p", &no_env)
            .unwrap_err();
        assert!(e.message.contains("empty"), "{e}");

        let dir_err = file_ref(&dir).resolve("p", &no_env).unwrap_err();
        assert!(dir_err.message.contains("secret file"), "{dir_err}");

        let big = temp_file("big", &vec![b'a'; MAX_SECRET_BYTES + 1]);
        let e = file_ref(big.path().to_str().unwrap())
            .resolve("p", &no_env)
            .unwrap_err();
        assert!(e.message.contains("larger than"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn exec_refs() {
        let run = |id: &str| resolve_exec(id, &no_env, Duration::from_secs(5));
        assert_eq!(run("echo  exec-secret ").unwrap(), "exec-secret");
        // No shell: metacharacters are passed through as arguments.
        assert_eq!(run("echo $HOME;*").unwrap(), "$HOME;*");
        let e = run("false").unwrap_err();
        assert!(e.contains("failed with") && e.contains("\"false\""), "{e}");
        let e = run("true").unwrap_err();
        assert!(e.contains("printed nothing"), "{e}");
        let e = run("/nonexistent/openclaw-helper").unwrap_err();
        assert!(e.contains("cannot run"), "{e}");
        let e = run("   ").unwrap_err();
        assert!(e.contains("empty"), "{e}");

        let started = Instant::now();
        let e = resolve_exec("sleep 10", &no_env, Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("did not finish"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));

        // A background process holding stdout open must not make us wait forever.
        let script = temp_file("bg.sh", b"sleep 3 &\necho value\n");
        let started = Instant::now();
        let e = resolve_exec(
            &format!("sh {}", script.path().to_str().unwrap()),
            &no_env,
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(e.contains("kept its output open"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[cfg(unix)]
    #[test]
    fn exec_errors_never_contain_stdout() {
        let script = temp_file(
            "fail.sh",
            b"#!/bin/sh\necho TOPSECRET\necho 'vault is locked' >&2\nexit 3\n",
        );
        // Run through `sh` rather than executing the fresh file, which can fail with
        // "text file busy" while other test threads fork.
        let mut c = Config::default();
        c.gateway.auth.token = Some(Secret::from_ref(SecretRef {
            source: SecretSource::Exec,
            provider: None,
            id: format!("sh {}", script.path().to_str().unwrap()),
        }));
        let e = resolve_secrets(&c, &no_env).unwrap_err();
        assert_eq!(e.path, "gateway.auth.token");
        assert!(!e.to_string().contains("TOPSECRET"), "{e}");
        assert!(e.message.contains("vault is locked"), "{e}");
        assert!(e.message.contains("exit status: 3"), "{e}");

        c.gateway.auth.token = Some(Secret::from_ref(SecretRef {
            source: SecretSource::Exec,
            provider: None,
            id: "printf TOPSECRET".into(),
        }));
        let ok = resolve_secrets(&c, &no_env).unwrap();
        assert_eq!(ok.gateway.auth.token.unwrap().expose(), "TOPSECRET");
    }

    #[test]
    fn sources_list_never_shows_values() {
        let mut c = parse_str(
            r#"{ models: { providers: { b: { baseUrl: "http://h", api: "openai-completions", apiKey: "sk-1" },
                                        a: { baseUrl: "http://h", api: "openai-completions" } } } }"#,
            &no_env,
        )
        .unwrap();
        c.gateway.auth.token = Some(Secret::from_ref(SecretRef {
            source: SecretSource::File,
            provider: None,
            id: "/run/secrets/tok".into(),
        }));
        let list = secret_sources(&c);
        let summary: Vec<(&str, &str, Option<&str>, bool)> = list
            .iter()
            .map(|i| (i.path.as_str(), i.kind.as_str(), i.id.as_deref(), i.set))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("gateway.auth.token", "file", Some("/run/secrets/tok"), true),
                ("gateway.auth.password", "inline", None, false),
                ("models.providers.a.apiKey", "inline", None, false),
                ("models.providers.b.apiKey", "inline", None, true),
            ]
        );
        let json = serde_json::to_string(&list).unwrap();
        assert!(!json.contains("sk-1"), "{json}");
        assert!(json.contains("\"kind\":\"file\""), "{json}");
    }
}
