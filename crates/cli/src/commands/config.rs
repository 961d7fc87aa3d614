//! `openclaw config …`: read, edit, validate, import and export the config file, and ask
//! the running gateway to reload it.
//!
//! Reads work on the file itself (the CLI runs on the gateway's host), so they work whether
//! or not a gateway is running, and show the document as written: `${VAR}` references are
//! kept, never substituted.
//!
//! Edits are computed locally: read the document, change one path, validate the result.
//! The new text then goes to the running gateway as `config.set` together with the hash of
//! the text the edit was based on; if someone changed the file meanwhile the gateway refuses
//! (`CONFIG_STALE`) and the edit is recomputed from the new text. With no gateway running
//! the CLI writes the file itself, atomically, keeping the previous version as `.bak`.

use std::cell::RefCell;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use openclaw_config::{AtomicWrite, Config, ConfigError, Expect, Paths, REDACTED, content_hash};
use openclaw_gateway::lock::{pid_alive, read_pid};
use openclaw_protocol::scopes;
use serde_json::{Value, json};

use super::{Global, print_json};
use crate::client::{Client, ClientError};
use crate::opts::ClientOpts;
use crate::target::Local;

/// Scopes the editing and reloading commands ask for.
pub const ADMIN_SCOPES: &[&str] = &[scopes::ADMIN];

/// How many times an edit is recomputed after the file changed underneath it.
const MAX_RETRIES: u32 = 3;

/// `details.code` of a `config.set` refused because the base hash is out of date.
const STALE: &str = "CONFIG_STALE";

/// Stand-in for `${VAR}` references to variables this shell does not have, so the rest
/// of an edited document can still be checked.
const ENV_PLACEHOLDER: &str = "openclaw-cli-env-placeholder";

/// `openclaw config get <path>`: prints one value of the file.
pub fn get(global: &Global, opts: &ClientOpts, path: &str, show_secrets: bool) -> Result<ExitCode> {
    let paths = paths(global)?;
    let segs = parse_segs(path)?;
    let mut doc = read_doc_or_empty(&paths.config_path)?;
    if openclaw_config::get_path(&doc, &segs).is_none() {
        // Set through an alias (e.g. gateway.bind by gateway.host): show what the
        // gateway reads.
        let effective = openclaw_config::aliases::effective_document(&doc)
            .ok()
            .filter(|d| openclaw_config::get_path(d, &segs).is_some());
        match effective {
            Some(d) => {
                let through = openclaw_config::aliases::aliases_setting(&doc, path);
                eprintln!("note: {path} is set through {}", through.join(", "));
                doc = d;
            }
            None => bail!(
                "no value at {path} in {}; `openclaw config list` shows what is set",
                paths.config_path.display()
            ),
        }
    }
    let shown = shown_doc(&doc, show_secrets);
    // A path that runs through a redacted subtree (e.g. into a secret object) no longer
    // exists in the redacted copy; the value itself is what was hidden.
    let value = openclaw_config::get_path(&shown, &segs)
        .cloned()
        .unwrap_or_else(|| Value::String(REDACTED.into()));
    match &value {
        Value::String(s) if !opts.json => println!("{s}"),
        other => print_json(other),
    }
    if !show_secrets && value.to_string().contains(REDACTED) {
        eprintln!("note: secret values are redacted; pass --show-secrets to see them");
    }
    Ok(ExitCode::SUCCESS)
}

/// `openclaw config list` / `export`: the whole file as pretty JSON.
pub fn list(global: &Global, show_secrets: bool) -> Result<ExitCode> {
    let paths = paths(global)?;
    let doc = read_doc_or_empty(&paths.config_path)?;
    print_json(&shown_doc(&doc, show_secrets));
    Ok(ExitCode::SUCCESS)
}

/// `openclaw config validate`: checks the file exactly as the gateway loads it, with this
/// shell's environment for `${VAR}` references.
pub fn validate(global: &Global, opts: &ClientOpts) -> Result<ExitCode> {
    let paths = paths(global)?;
    let file = &paths.config_path;
    // Variables this shell lacks are warnings, not errors (the gateway's environment, often
    // a service manager's, may have them): the rest is checked with a stand-in value.
    let mut warnings: Vec<String> = Vec::new();
    let error = match read_text(file)? {
        None => None,
        Some(text) => match read_doc(&text, file) {
            Err(e) => Some(e),
            Ok(doc) => match validate_lenient(&doc) {
                Err(e) => Some(e),
                Ok((_, missing)) => {
                    warnings = openclaw_config::env_references(&doc)
                        .into_iter()
                        .filter(|(_, var)| missing.contains(var))
                        .map(|(path, var)| {
                            openclaw_config::ConfigError::MissingEnv { var, path }.to_string()
                        })
                        .collect();
                    None
                }
            },
        },
    };
    if opts.json {
        let mut out = json!({ "valid": error.is_none(), "path": file, "warnings": warnings });
        if let Some(e) = &error {
            out["error"] = json!(e.to_string());
        }
        print_json(&out);
    } else {
        for w in &warnings {
            eprintln!("warning: {w} (the gateway refuses to start until it is set)");
        }
        match &error {
            None if !file.exists() => {
                println!("Config valid: {} (missing; defaults)", file.display())
            }
            None => println!("Config valid: {}", file.display()),
            Some(e) => eprintln!("Config invalid: {e}"),
        }
    }
    Ok(if error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `openclaw config set <path> <value>`.
pub async fn set(
    global: &Global,
    opts: &ClientOpts,
    path: &str,
    raw_value: &str,
) -> Result<ExitCode> {
    parse_segs(path)?;
    let value = openclaw_config::parse_value_arg(raw_value);
    apply(global, opts, &Edit::Set { path, value }).await
}

/// `openclaw config unset <path>`.
pub async fn unset(global: &Global, opts: &ClientOpts, path: &str) -> Result<ExitCode> {
    parse_segs(path)?;
    apply(global, opts, &Edit::Unset { path }).await
}

/// `openclaw config import --input FILE` (`-` reads standard input).
pub async fn import(global: &Global, opts: &ClientOpts, input: &Path) -> Result<ExitCode> {
    let text = if input == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the config to import from standard input")?;
        s
    } else {
        read_text(input)?.ok_or_else(|| {
            anyhow!(
                "{} does not exist; pass the file to import with --input",
                input.display()
            )
        })?
    };
    // A YAML backup (`config-backup.yaml`) is converted to JSON; comments do not survive.
    let is_yaml = input
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let text = if is_yaml {
        let value: Value = serde_norway::from_str(&text).map_err(|e| {
            anyhow!(
                "{} is not valid YAML: {e}; fix it or import a JSON5 file",
                input.display()
            )
        })?;
        if !value.is_object() {
            bail!(
                "{} holds no mapping at the top (expected e.g. `gateway:` with keys under it)",
                input.display()
            );
        }
        pretty(&value)
    } else {
        text
    };
    apply(
        global,
        opts,
        &Edit::Import {
            text: &text,
            source: input,
        },
    )
    .await
}

/// `openclaw config reload`: asks the running gateway to re-read its config now.
pub async fn reload(global: &Global, opts: &ClientOpts) -> Result<ExitCode> {
    let Some(res) = super::reload_call(global, opts, "config.reload", "config", "").await? else {
        return Ok(ExitCode::FAILURE);
    };
    if !opts.json {
        let changed = changed_list(&res);
        match res.get("applied").and_then(Value::as_str) {
            Some("none") | None if changed.is_empty() => {
                println!("Config reloaded (no changes)")
            }
            applied => println!(
                "Config reloaded{}; changed: {}",
                applied_note(applied),
                if changed.is_empty() {
                    "-".to_owned()
                } else {
                    changed.join(", ")
                }
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One change to the config file, recomputable against whatever text is current.
enum Edit<'a> {
    /// Put `value` at `path`.
    Set { path: &'a str, value: Value },
    /// Remove `path`.
    Unset { path: &'a str },
    /// Replace the whole file with `text` (read from `source`).
    Import { text: &'a str, source: &'a Path },
}

impl Edit<'_> {
    /// The new file text for `original` (`None`: no file yet), validated. Also returns the
    /// `${VAR}` names this shell does not have (checked with a stand-in value).
    fn compute(&self, original: Option<&str>, file: &Path) -> Result<(String, Vec<String>)> {
        let current = || -> Result<Value> {
            match original {
                Some(t) => Ok(read_doc(t, file)?),
                None => Ok(json!({})),
            }
        };
        let (doc, verbatim) = match self {
            Edit::Set { path, value } => {
                let segs = parse_segs(path)?;
                let mut doc = current()?;
                openclaw_config::set_path(&mut doc, &segs, value.clone())?;
                (doc, None)
            }
            Edit::Unset { path } => {
                let segs = parse_segs(path)?;
                let mut doc = current()?;
                let removed = openclaw_config::unset_path(&mut doc, &segs)?;
                if !removed {
                    bail!("no value at {path}; nothing to remove");
                }
                (doc, None)
            }
            Edit::Import { text, source } => {
                let mut doc = read_doc(text, source)?;
                if contains_redacted(&doc) {
                    // An export made without --show-secrets: keep the secrets we have.
                    let cur = current()?;
                    restore_redacted(&mut doc, Some(&cur), "", source)?;
                    (doc, None)
                } else {
                    // Keep the file as written: comments, JSON5 syntax, key order.
                    (doc, Some((*text).to_owned()))
                }
            }
        };
        let (_, missing) = validate_lenient(&doc).map_err(|e| match self {
            Edit::Import { source, .. } => {
                anyhow!("{}: {e}; the config was not changed", source.display())
            }
            _ => anyhow!("{e}; the config was not changed"),
        })?;
        let text = verbatim.unwrap_or_else(|| pretty(&doc));
        Ok((text, missing))
    }

    /// What the success line names.
    fn label(&self, file: &Path) -> String {
        match self {
            Edit::Set { path, .. } => format!("Updated {path}"),
            Edit::Unset { path } => format!("Removed {path}"),
            Edit::Import { source, .. } => {
                format!("Imported {} into {}", source.display(), file.display())
            }
        }
    }
}

/// The edit flow shared by `set`, `unset` and `import`.
async fn apply(global: &Global, opts: &ClientOpts, edit: &Edit<'_>) -> Result<ExitCode> {
    let local = Local::load(global)?;
    let file = local.paths.config_path.clone();
    let target = edit_target(&local, opts);
    // Outer None: not tried yet; Some(None): no gateway answers, write the file directly.
    let mut gateway: Option<Option<Client>> = None;
    let mut warned = false;
    for attempt in 0..=MAX_RETRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
        let original = read_text(&file)?;
        let (text, missing) = edit.compute(original.as_deref(), &file)?;
        if !warned && !missing.is_empty() {
            warned = true;
            let names: Vec<String> = missing.iter().map(|v| format!("${{{v}}}")).collect();
            eprintln!(
                "warning: {} not set in this shell; the gateway must have {} in its environment when it loads the config",
                names.join(", "),
                if missing.len() == 1 { "it" } else { "them" }
            );
        }
        let base_hash = content_hash(original.as_deref().unwrap_or(""));
        if gateway.is_none() {
            gateway = Some(match Client::connect(&target, ADMIN_SCOPES).await {
                Ok(c) => Some(c),
                Err(ClientError::Unreachable { .. }) if opts.url.is_none() => None,
                Err(e) => {
                    local.warn_config();
                    return Err(anyhow!(e).context(format!(
                        "cannot hand the edit to the gateway at {}; the config was not changed",
                        target.url
                    )));
                }
            });
        }
        match gateway.as_mut().and_then(Option::as_mut) {
            Some(client) => {
                let params = json!({ "raw": text, "baseHash": base_hash });
                match client.call("config.set", Some(params), false).await {
                    Ok(res) => {
                        if let Some(c) = gateway.take().flatten() {
                            c.close().await;
                        }
                        if opts.json {
                            print_json(&res);
                        } else {
                            let applied = res.get("applied").and_then(Value::as_str);
                            println!("{}{}", edit.label(&file), applied_note(applied));
                        }
                        return Ok(ExitCode::SUCCESS);
                    }
                    Err(ClientError::Rpc(e)) if e.detail_code() == Some(STALE) => continue,
                    Err(ClientError::Rpc(e)) => {
                        bail!("the gateway rejected the edit: {e}; the config was not changed")
                    }
                    Err(e) => {
                        // A restart-class change: the gateway may close every connection
                        // (1012) to restart before its answer arrives. If the file holds
                        // exactly our text, the edit landed.
                        if read_text(&file)?.as_deref() == Some(text.as_str()) {
                            if opts.json {
                                print_json(&json!({
                                    "ok": true,
                                    "path": file,
                                    "hash": content_hash(&text),
                                    "applied": "restart",
                                }));
                            } else {
                                println!("{}{}", edit.label(&file), applied_note(Some("restart")));
                            }
                            return Ok(ExitCode::SUCCESS);
                        }
                        return Err(anyhow!(e).context(
                            "config.set did not complete; check the file with `openclaw config get` before retrying",
                        ));
                    }
                }
            }
            None => {
                // Written only if the file still holds the text the edit was computed
                // from; otherwise someone changed it meanwhile and the edit is redone.
                let expect = match original.as_deref() {
                    Some(t) => Expect::Contents(t.as_bytes()),
                    None => Expect::Missing,
                };
                let write = AtomicWrite {
                    expect,
                    ..AtomicWrite::config()
                };
                match openclaw_config::write_atomic(&file, text.as_bytes(), &write) {
                    Ok(()) => {}
                    Err(e) if e.is_conflict() => continue,
                    Err(e) => bail!("{e}; the config was not changed"),
                }
                if opts.json {
                    print_json(&json!({
                        "ok": true,
                        "path": file,
                        "hash": content_hash(&text),
                        "applied": "none",
                        "gateway": false,
                    }));
                } else {
                    let note = match read_pid(&local.paths.lock_path()).filter(|p| pid_alive(*p)) {
                        Some(pid) => format!(
                            " (written directly: no gateway answered at {}, but pid {pid} holds the gateway lock; it applies the change if it watches the file)",
                            target.url
                        ),
                        None => " (gateway not running; takes effect at next start)".to_owned(),
                    };
                    println!("{}{note}", edit.label(&file));
                }
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    if let Some(c) = gateway.take().flatten() {
        c.close().await;
    }
    bail!(
        "{} kept changing while this edit was applied ({} attempts); someone else is editing it, so run the command again",
        file.display(),
        MAX_RETRIES + 1
    )
}

/// Where edits go. Like every client command, but when the config could not be loaded
/// with this shell's environment (typically a `${VAR}` set only in the gateway's), the
/// port still comes from the file rather than the default, so the edit reaches this
/// instance's gateway and not whatever listens on the default port.
fn edit_target(local: &Local, opts: &ClientOpts) -> crate::client::Target {
    let mut target = local.target(opts);
    let port_overridden =
        std::env::var("OPENCLAW_GATEWAY_PORT").is_ok_and(|p| !p.trim().is_empty());
    if local.config_error.is_some() && opts.url.is_none() && !port_overridden {
        let port = read_doc_or_empty(&local.paths.config_path)
            .ok()
            .and_then(|doc| validate_lenient(&doc).ok())
            .and_then(|(config, _)| config.gateway.port);
        if let Some(port) = port {
            target.url = local.local_url(port);
        }
    }
    target
}

/// ` (applied: hot)`-style suffix for a `config.set`/`config.reload` result.
fn applied_note(applied: Option<&str>) -> String {
    match applied {
        Some("hot") => " (applied: hot)".into(),
        Some("restart") => " (gateway restarting to apply)".into(),
        Some("hot-pending-restart") => {
            " (applied: hot; some changes take effect after a gateway restart)".into()
        }
        Some("none") => " (applied: nothing to apply)".into(),
        Some(other) => format!(" (applied: {other})"),
        None => String::new(),
    }
}

fn changed_list(res: &Value) -> Vec<String> {
    res.get("changed")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Instance paths for `--profile`/`--dev`.
pub(crate) fn paths(global: &Global) -> Result<Paths> {
    Ok(Paths::from_process_env(
        global.profile.as_deref(),
        global.dev,
    )?)
}

/// Parses a dotted config path (`gateway.auth.token`, `agents.list[0].id`); the error
/// names the path and the position of the problem.
fn parse_segs(path: &str) -> Result<Vec<openclaw_config::PathSeg>> {
    Ok(openclaw_config::parse_path(path)?)
}

/// The file's text, or `None` when it does not exist.
pub(crate) fn read_text(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
            anyhow!(
                "{} is not valid UTF-8 (bad byte at offset {}); fix it or move it aside",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!(e).context(format!(
            "cannot read {}; check that it is a readable file",
            path.display()
        ))),
    }
}

/// Parses config text without `${VAR}` substitution; parse errors name `file`.
pub(crate) fn read_doc(text: &str, file: &Path) -> Result<Value, ConfigError> {
    openclaw_config::read_document(text).map_err(|e| match e {
        ConfigError::Parse {
            path: None,
            line,
            column,
            message,
        } => ConfigError::Parse {
            path: Some(file.to_path_buf()),
            line,
            column,
            message,
        },
        other => other,
    })
}

/// The document at `file`, or `{}` when there is no file (the defaults).
pub(crate) fn read_doc_or_empty(file: &Path) -> Result<Value> {
    match read_text(file)? {
        Some(text) => Ok(read_doc(&text, file)?),
        None => Ok(json!({})),
    }
}

/// Validates with this shell's environment; `${VAR}` references to unset variables are
/// checked with a stand-in value and returned, since the gateway's environment (often a
/// service manager's) may well have them.
pub(crate) fn validate_lenient(doc: &Value) -> Result<(Config, Vec<String>), ConfigError> {
    let missing = RefCell::new(Vec::<String>::new());
    let env = |k: &str| match std::env::var(k) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            missing.borrow_mut().push(k.to_owned());
            Some(ENV_PLACEHOLDER.to_owned())
        }
    };
    let config = openclaw_config::validate_document(doc, &env)?;
    let mut missing = missing.into_inner();
    missing.sort();
    missing.dedup();
    Ok((config, missing))
}

/// The document as shown to people: secrets redacted unless asked for. `${VAR}`
/// references under secret keys stay visible: a variable's name is not a secret.
fn shown_doc(doc: &Value, show_secrets: bool) -> Value {
    let mut shown = doc.clone();
    if !show_secrets {
        openclaw_config::redact_value(&mut shown);
        restore_env_refs(&mut shown, doc);
    }
    shown
}

/// Puts back whole-string `${VAR}` references that redaction replaced.
fn restore_env_refs(shown: &mut Value, raw: &Value) {
    let mut stack: Vec<(&mut Value, &Value)> = vec![(shown, raw)];
    while let Some((s, r)) = stack.pop() {
        match (s, r) {
            (s @ Value::String(_), Value::String(r)) if *s == REDACTED && is_env_ref(r) => {
                *s = Value::String(r.clone());
            }
            (Value::Object(sm), Value::Object(rm)) => {
                for (k, sv) in sm.iter_mut() {
                    if let Some(rv) = rm.get(k) {
                        stack.push((sv, rv));
                    }
                }
            }
            (Value::Array(sa), Value::Array(ra)) => {
                stack.extend(sa.iter_mut().zip(ra.iter()));
            }
            _ => {}
        }
    }
}

/// True for a string that is exactly one `${NAME}` reference.
fn is_env_ref(s: &str) -> bool {
    let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
        return false;
    };
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn contains_redacted(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s == REDACTED => return true,
            Value::Object(m) => stack.extend(m.values()),
            Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    false
}

/// Replaces redaction markers in an imported document with the values the current config
/// has at the same place; a marker with nothing to keep is an error.
fn restore_redacted(v: &mut Value, cur: Option<&Value>, path: &str, source: &Path) -> Result<()> {
    match v {
        Value::String(s) if s == REDACTED => match cur {
            Some(c) if !contains_redacted(c) => *v = c.clone(),
            _ => bail!(
                "{} has a redacted value at {} and the current config has none to keep; export with --show-secrets or fill the value in",
                source.display(),
                if path.is_empty() { "(top level)" } else { path }
            ),
        },
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                restore_redacted(child, cur.and_then(|c| c.get(k.as_str())), &p, source)?;
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                restore_redacted(
                    child,
                    cur.and_then(|c| c.get(i)),
                    &format!("{path}[{i}]"),
                    source,
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Pretty JSON with a trailing newline, as the file is written.
fn pretty(doc: &Value) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_else(|_| doc.to_string());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_refs() {
        assert!(is_env_ref("${MY_TOKEN}"));
        assert!(is_env_ref("${_X1}"));
        assert!(!is_env_ref("${lower}"));
        assert!(!is_env_ref("x${A}"));
        assert!(!is_env_ref("${}"));
        assert!(!is_env_ref("plain"));
    }

    #[test]
    fn redacted_env_refs_are_shown() {
        let raw = json!({"gateway": {"auth": {"token": "${TOK}", "password": "pw"}}});
        let shown = shown_doc(&raw, false);
        assert_eq!(shown["gateway"]["auth"]["token"], "${TOK}");
        assert_eq!(shown["gateway"]["auth"]["password"], REDACTED);
        assert_eq!(shown_doc(&raw, true), raw);
    }

    #[test]
    fn redacted_import_keeps_current_secrets() {
        let cur = json!({"gateway": {"auth": {"token": "real"}}});
        let mut doc = json!({"gateway": {"auth": {"token": REDACTED}, "port": 1}});
        restore_redacted(&mut doc, Some(&cur), "", Path::new("x.json")).unwrap();
        assert_eq!(doc["gateway"]["auth"]["token"], "real");
        let mut doc = json!({"channels": {"a": {"botToken": REDACTED}}});
        let err = restore_redacted(&mut doc, Some(&cur), "", Path::new("x.json")).unwrap_err();
        assert!(err.to_string().contains("channels.a.botToken"), "{err}");
    }
}
