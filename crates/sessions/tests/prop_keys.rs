//! Property tests of session keys and their on-disk names.
//!
//! * [`SessionKey::parse`] never panics, accepts exactly what the documented rules
//!   accept, and what it accepts formats back to the input (with the `agent` prefix and
//!   the agent id in lower case) and re-parses to the same key.
//! * Generated valid keys round-trip through `to_string` → `parse`, and
//!   [`SessionKey::new`] and [`SessionKey::main`] agree with `parse`.
//! * [`SessionStore::path_for`] stays inside `<state>/agents/<agentId>/sessions`: every
//!   further component is a plain name (never `.`, `..` or hidden), has no `/`, `\`, `:`
//!   or NUL, fits in 255 bytes, and percent-decoding the components gives the name back.
//! * A transcript file created at that path is listed under its key again.

use std::path::{Component, Path};

use openclaw_sessions::{MAX_AGENT_ID_LEN, MAX_NAME_CHARS, SessionKey, SessionStore};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Characters that matter to parsing and to file names, and anything else.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '.', '/', '\\', ':', '%', ' ', '-', '_', 'a', 'Z', '0', 'é', '日', '🎉', '\u{7f}',
            '\u{0}', '\n', '\u{85}', '\u{200b}', '\u{feff}',
        ]),
        2 => any::<char>(),
    ]
}

fn name_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(name_char(), 0..max).prop_map(String::from_iter)
}

/// A valid session name: 1-200 characters, no control characters.
fn valid_name() -> impl Strategy<Value = String> {
    let ok = || name_char().prop_map(|c| if c.is_control() { '~' } else { c });
    prop_oneof![
        4 => prop::collection::vec(ok(), 1..24),
        1 => prop::collection::vec(ok(), 1..=MAX_NAME_CHARS),
    ]
    .prop_map(String::from_iter)
}

/// A valid agent id in any case.
fn valid_agent_id() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["main", "research", "a", "0", "x-y_z", "Main"])
            .prop_map(str::to_owned),
        1 => "[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}",
    ]
}

/// Any agent id text: valid ones, and ones that break a rule.
fn agent_id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => valid_agent_id(),
        1 => Just(String::new()),
        1 => "[a-z0-9]{65,70}",
        1 => "[-_][a-z0-9]{0,4}",
        1 => name_text(8).prop_filter("no ':'", |s| !s.contains(':')),
    ]
}

/// Key-like text: the prefix in some case (or something else), an id, a name.
fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (
            prop::sample::select(vec!["agent:", "AGENT:", "Agent:", "agent", "agents:", "", "agen"]),
            agent_id_text(),
            prop::option::of(prop_oneof![3 => valid_name(), 1 => name_text(8), 1 => name_text(220)]),
        )
            .prop_map(|(prefix, id, name)| match name {
                Some(name) => format!("{prefix}{id}:{name}"),
                None => format!("{prefix}{id}"),
            }),
        1 => name_text(32),
    ]
}

/// The documented rules, independently of the implementation.
fn model_accepts(raw: &str) -> Option<(String, String)> {
    let prefix = raw.get(..6)?;
    if !prefix.eq_ignore_ascii_case("agent:") {
        return None;
    }
    let (id, name) = raw[6..].split_once(':')?;
    let id = id.to_ascii_lowercase();
    let id_ok = (1..=MAX_AGENT_ID_LEN).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    let count = name.chars().count();
    let name_ok = (1..=MAX_NAME_CHARS).contains(&count) && !name.chars().any(char::is_control);
    (id_ok && name_ok).then(|| (id, name.to_owned()))
}

/// Percent-decoding of one encoded name, written from the format's description.
fn percent_decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks `path_for(key)` and decodes the name back from it.
fn check_path(state: &Path, key: &SessionKey) -> Result<String, TestCaseError> {
    let store = SessionStore::new(state);
    let path = store.path_for(key);
    let base = state.join("agents").join(&key.agent_id).join("sessions");
    let rest = path.strip_prefix(&base).map_err(|_| {
        TestCaseError::fail(format!(
            "{} is not under {}",
            path.display(),
            base.display()
        ))
    })?;
    let parts: Vec<&str> = rest
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str().ok_or_else(|| TestCaseError::fail("not UTF-8")),
            other => Err(TestCaseError::fail(format!("component {other:?}"))),
        })
        .collect::<Result<_, _>>()?;
    prop_assert!(!parts.is_empty());
    let mut encoded = String::new();
    for (i, part) in parts.iter().enumerate() {
        prop_assert!(part.len() <= 255, "{} bytes", part.len());
        prop_assert!(!part.starts_with('.'), "hidden component {:?}", part);
        prop_assert!(
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-%".contains(&b)),
            "unsafe byte in {:?}",
            part
        );
        let chunk = if i + 1 == parts.len() {
            part.strip_suffix(".jsonl")
        } else {
            part.strip_suffix(".d")
        };
        let chunk = chunk.ok_or_else(|| TestCaseError::fail(format!("suffix of {part:?}")))?;
        prop_assert!(!chunk.is_empty());
        encoded.push_str(chunk);
    }
    percent_decode(&encoded).ok_or_else(|| TestCaseError::fail(format!("undecodable {encoded:?}")))
}

proptest! {
    #![proptest_config(config())]

    /// Parsing follows the rules, and what parses formats back to its input.
    #[test]
    fn parse_follows_the_rules(raw in key_text()) {
        let parsed = SessionKey::parse(&raw);
        match (parsed, model_accepts(&raw)) {
            (Ok(key), Some((id, name))) => {
                prop_assert_eq!(&key.agent_id, &id);
                prop_assert_eq!(&key.name, &name);
                prop_assert!(key.validate().is_ok());
                let shown = key.to_string();
                prop_assert_eq!(&shown, &format!("agent:{id}:{name}"));
                prop_assert_eq!(SessionKey::parse(&shown).ok(), Some(key.clone()));
                prop_assert_eq!(shown.parse::<SessionKey>().ok(), Some(key));
            }
            (Err(e), None) => prop_assert!(!e.to_string().is_empty()),
            (got, want) => prop_assert!(false, "{:?}: got {:?}, want {:?}", raw, got, want),
        }
    }

    /// Valid keys round-trip, whichever constructor built them.
    #[test]
    fn valid_keys_round_trip(id in valid_agent_id(), name in valid_name()) {
        let key = SessionKey::new(&id, &name).expect("valid parts");
        prop_assert_eq!(&key.agent_id, &id.to_ascii_lowercase());
        prop_assert_eq!(&key.name, &name);
        prop_assert_eq!(SessionKey::parse(&format!("agent:{id}:{name}")).ok(), Some(key.clone()));
        prop_assert_eq!(SessionKey::parse(&key.to_string()).ok(), Some(key));
        let main = SessionKey::main(&id);
        prop_assert_eq!(&main.agent_id, &id.to_ascii_lowercase());
        prop_assert!(main.is_main());
    }

    /// `main` accepts any id text and always gives a valid key.
    #[test]
    fn main_is_always_valid(id in name_text(80)) {
        let key = SessionKey::main(&id);
        prop_assert!(key.validate().is_ok(), "{:?} -> {:?}", id, key);
        prop_assert_eq!(SessionKey::parse(&key.to_string()).ok(), Some(key));
    }

    /// The file of any valid key is a safe path inside the agent's sessions directory
    /// that decodes back to the name.
    #[test]
    fn path_is_contained_and_decodes(id in valid_agent_id(), name in valid_name()) {
        let key = SessionKey::new(&id, &name).unwrap();
        let decoded = check_path(Path::new("/state"), &key)?;
        prop_assert_eq!(decoded, name);
    }

    /// Distinct names never share a file.
    #[test]
    fn paths_are_injective((a, b) in valid_name().prop_flat_map(|a| {
        // Often a near miss of `a`: one character changed, or a prefix.
        let len = a.chars().count();
        let near = (0..len, name_char(), any::<bool>()).prop_map({
            let a = a.clone();
            move |(i, c, cut)| {
                let mut chars: Vec<char> = a.chars().collect();
                if cut && i > 0 {
                    chars.truncate(i);
                } else if !c.is_control() {
                    chars[i] = c;
                }
                String::from_iter(chars)
            }
        });
        (Just(a), prop_oneof![valid_name(), near])
    })) {
        let store = SessionStore::new("/state");
        let ka = SessionKey::new("main", &a).unwrap();
        let kb = SessionKey::new("main", &b).unwrap();
        prop_assert_eq!(store.path_for(&ka) == store.path_for(&kb), a == b);
    }
}

proptest! {
    #![proptest_config(config())]

    /// A transcript at `path_for(key)` is listed as `key`: the store's own decoding of the
    /// file name gives the key back.
    #[test]
    fn listed_under_its_key(id in valid_agent_id(), name in valid_name()) {
        use std::sync::OnceLock;
        static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
        let rt = RT.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread().build().unwrap()
        });
        let state = DIR.get_or_init(|| tempfile::tempdir().unwrap()).path().join(format!(
            "s{:?}",
            std::thread::current().id()
        ));
        let key = SessionKey::new(&id, &name).unwrap();
        let store = SessionStore::new(&state);
        let path = store.path_for(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        let listed = rt.block_on(store.list(None, 10));
        std::fs::remove_dir_all(&state).unwrap();
        let listed = listed.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(listed.len(), 1);
        prop_assert_eq!(&listed[0].key, &key.to_string());
        prop_assert_eq!(&listed[0].agent_id, &key.agent_id);
    }
}
