//! End-to-end tests of the session store against real files in unique temp dirs.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use openclaw_sessions::{Entry, SessionError, SessionKey, SessionStore};
use serde_json::json;

/// A unique directory removed when the test ends.
fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("openclaw-sessions-{label}-"))
        .tempdir()
        .expect("create temp dir")
}

fn key(raw: &str) -> SessionKey {
    SessionKey::parse(raw).expect("valid key")
}

fn set_mtime(path: &Path, secs: u64) {
    let file = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    file.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .expect("set mtime");
}

// ---------------------------------------------------------------- keys

#[test]
fn parses_valid_keys() {
    let k = key("agent:main:main");
    assert_eq!((k.agent_id.as_str(), k.name.as_str()), ("main", "main"));
    assert!(k.is_main());

    let k = key("agent:main:telegram:12345");
    assert_eq!(k.agent_id, "main");
    assert_eq!(k.name, "telegram:12345");
    assert_eq!(k.to_string(), "agent:main:telegram:12345");

    let k = key("agent:main:openai-user:conv-1");
    assert_eq!(k.name, "openai-user:conv-1");

    // Case of the agent id is normalised, the name is kept.
    let k = key("AGENT:Ops_Team-2:Chat:ABC");
    assert_eq!(k.agent_id, "ops_team-2");
    assert_eq!(k.name, "Chat:ABC");
    assert_eq!(k, key("agent:ops_team-2:Chat:ABC"));

    // Unicode and odd but printable names.
    let k = key("agent:main:会話 🎉 ../x");
    assert_eq!(k.name, "会話 🎉 ../x");
    let long = "é".repeat(200);
    assert_eq!(key(&format!("agent:a:{long}")).name, long);
    let id64 = "a".repeat(64);
    assert_eq!(key(&format!("agent:{id64}:x")).agent_id, id64);

    // Display round trips.
    for raw in ["agent:main:main", "agent:x:a:b:c", "agent:0:名前"] {
        assert_eq!(key(raw).to_string(), raw);
        assert_eq!(raw.parse::<SessionKey>().expect("parse"), key(raw));
    }

    assert_eq!(SessionKey::main("Ops").to_string(), "agent:ops:main");
    assert_eq!(SessionKey::main("bad id!").agent_id, "bad-id-");
    assert_eq!(SessionKey::main("").to_string(), "agent:main:main");
    let k = SessionKey::new("Main", "openai-user:conv-1").expect("new");
    assert_eq!(k.to_string(), "agent:main:openai-user:conv-1");
}

#[test]
fn rejects_invalid_keys() {
    let too_long_id = format!("agent:{}:x", "a".repeat(65));
    let too_long_name = format!("agent:main:{}", "n".repeat(201));
    let bad = [
        "",
        "main",
        "agent",
        "agent:",
        "agent:main",
        "agent:main:",
        "agent::x",
        "agent:-x:y",
        "agent:_x:y",
        "agent:a b:x",
        "agent:../x:y",
        "agent:é:y",
        "session:main:x",
        " agent:main:x",
        "agent:main:line\nbreak",
        "agent:main:tab\there",
        "agent:main:nul\0",
        "agent:main:del\u{7f}",
        "agent:main:c1\u{85}",
        too_long_id.as_str(),
        too_long_name.as_str(),
    ];
    for raw in bad {
        match SessionKey::parse(raw) {
            Err(e @ SessionError::BadKey { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("agent:<agentId>:<name>"), "{msg}");
            }
            other => panic!("{raw:?} gave {other:?}"),
        }
    }
    assert!(SessionKey::new("main", "").is_err());
    assert!(SessionKey::new("", "x").is_err());
    assert!(SessionKey::new("a/b", "x").is_err());
    // A huge input is shortened in the message.
    let huge = format!("agent:main:{}", "x".repeat(10_000));
    let msg = SessionKey::parse(&huge).expect_err("too long").to_string();
    assert!(msg.len() < 1000, "{}", msg.len());
}

// ---------------------------------------------------------------- paths

#[test]
fn paths_stay_inside_the_sessions_dir() {
    let tmp = temp_dir("paths");
    let store = SessionStore::new(tmp.path());
    let sessions = tmp.path().join("agents").join("main").join("sessions");

    let plain = store.path_for(&key("agent:main:main"));
    assert_eq!(plain, sessions.join("main.jsonl"));
    let colon = store.path_for(&key("agent:main:telegram:12345"));
    assert_eq!(colon, sessions.join("telegram%3A12345.jsonl"));

    for raw in [
        "agent:main:../../etc",
        "agent:main:..",
        "agent:main:.",
        "agent:main:.hidden",
        "agent:main:/etc/passwd",
        "agent:main:a\\..\\b",
        "agent:main:%2E%2E",
    ] {
        let path = store.path_for(&key(raw));
        assert_eq!(path.parent(), Some(sessions.as_path()), "{raw}");
        let file = path.file_name().and_then(|f| f.to_str()).expect("utf8");
        assert!(!file.starts_with('.'), "{raw} -> {file}");
        assert!(file.ends_with(".jsonl"));
        assert!(!file.contains('/') && !file.contains('\\'));
    }
    assert_eq!(
        store.path_for(&key("agent:main:../../etc")),
        sessions.join("%2E.%2F..%2Fetc.jsonl")
    );

    // Long multi-byte names are split into components the file system accepts.
    let long = key(&format!("agent:main:{}", "🎉".repeat(200)));
    let path = store.path_for(&long);
    assert!(path.starts_with(&sessions));
    for c in path.strip_prefix(&sessions).expect("inside").components() {
        let c = c.as_os_str().to_str().expect("utf8");
        assert!(c.len() <= 255 && !c.starts_with('.'), "{c}");
    }
}

#[tokio::test]
async fn file_names_round_trip_through_list() {
    let tmp = temp_dir("roundtrip");
    let store = SessionStore::new(tmp.path());
    let long_unicode = format!("agent:main:{}", "日本語🎉".repeat(50));
    let long_colons = format!("agent:main:{}", ":".repeat(200));
    let raws = [
        "agent:main:main",
        "agent:main:telegram:12345",
        "agent:main:../../etc",
        "agent:main:..",
        "agent:main:.hidden",
        "agent:main:with space & % and /slash",
        "agent:main:Mixed-Case_OK.v2",
        "agent:main:%3A",
        long_unicode.as_str(),
        long_colons.as_str(),
    ];
    for raw in raws {
        store
            .append(&key(raw), &[Entry::user(raw)])
            .await
            .expect("append");
    }
    let listed = store.list(None, 100).await.expect("list");
    let mut got: Vec<String> = listed.iter().map(|s| s.key.clone()).collect();
    let mut want: Vec<String> = raws.iter().map(|r| r.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    for raw in raws {
        let t = store.load(&key(raw)).await.expect("load");
        assert_eq!(t.entries.len(), 1);
        assert_eq!(t.entries[0].content, raw);
    }
    // Nothing escaped the state directory's agent tree.
    let top: Vec<_> = fs::read_dir(tmp.path())
        .expect("read")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(top, vec![std::ffi::OsString::from("agents")]);
}

// ---------------------------------------------------------------- append / load

#[tokio::test]
async fn append_then_load_round_trips_every_field() {
    let tmp = temp_dir("append");
    let store = SessionStore::new(tmp.path());
    let k = key("agent:main:main");

    let mut user = Entry::user("hello");
    user.run_id = Some("run-1".into());
    user.channel = Some("telegram".into());
    let mut assistant = Entry::assistant("hi there\nsecond line");
    assistant.run_id = Some("run-1".into());
    assistant.provider = Some("openai".into());
    assistant.model = Some("gpt-x".into());
    assistant.usage = Some(json!({"input": 3, "output": 5}));
    assistant.tool_calls = vec![json!({"id": "c1", "name": "search"})];
    let mut tool = Entry::new("tool", "result");
    tool.tool_call_id = Some("c1".into());
    let mut failed = Entry::assistant("");
    failed.error = Some("provider timed out".into());

    store
        .append(&k, &[user.clone(), assistant.clone()])
        .await
        .expect("append 1");
    store
        .append(&k, &[tool.clone(), failed.clone()])
        .await
        .expect("append 2");
    store.append(&k, &[]).await.expect("empty append");

    // A fresh store (as after a restart) sees everything.
    let loaded = SessionStore::new(tmp.path()).load(&k).await.expect("load");
    assert_eq!(loaded.skipped_lines, 0);
    assert_eq!(loaded.entries, vec![user, assistant, tool, failed]);

    // Durability shape: whole lines, newline-terminated, camelCase, no empty fields.
    let raw = fs::read_to_string(store.path_for(&k)).expect("read");
    assert!(raw.ends_with('\n'));
    assert_eq!(raw.lines().count(), 4);
    for line in raw.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid json line");
        assert!(v.get("ts").is_some());
    }
    assert!(raw.contains("\"runId\":\"run-1\""));
    assert!(raw.contains("\"toolCallId\":\"c1\""));
    assert!(raw.contains("\"toolCalls\":["));
    assert!(!raw.contains("null"));
    assert!(!raw.lines().next().unwrap_or("").contains("toolCalls"));

    // History is the tail.
    let h = store.history(&k, 2).await.expect("history");
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].role, "tool");
    assert_eq!(store.history(&k, 100).await.expect("history").len(), 4);
    assert!(store.history(&k, 0).await.expect("history").is_empty());
}

#[tokio::test]
async fn missing_session_loads_empty() {
    let tmp = temp_dir("missing");
    let store = SessionStore::new(tmp.path().join("not-yet-created"));
    let t = store.load(&key("agent:main:nothing")).await.expect("load");
    assert!(t.entries.is_empty());
    assert_eq!(t.skipped_lines, 0);
    assert!(store.list(None, 10).await.expect("list").is_empty());
    assert!(store.list(Some("main"), 10).await.expect("list").is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn files_and_dirs_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = temp_dir("perms");
    let state = tmp.path().join("state");
    let store = SessionStore::new(&state);
    let k = key("agent:main:main");
    store.append(&k, &[Entry::user("x")]).await.expect("append");
    let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    let path = store.path_for(&k);
    assert_eq!(mode(&path), 0o600);
    let mut dir = path.parent().map(Path::to_path_buf);
    while let Some(d) = dir {
        if d == tmp.path() {
            break;
        }
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        dir = d.parent().map(Path::to_path_buf);
    }
}

#[tokio::test]
async fn torn_last_line_is_skipped_and_sealed() {
    let tmp = temp_dir("torn");
    let store = SessionStore::new(tmp.path());
    let k = key("agent:main:telegram:42");
    store
        .append(&k, &[Entry::user("one"), Entry::assistant("two")])
        .await
        .expect("append");

    // Simulate a crash in the middle of writing the third line.
    let path = store.path_for(&k);
    {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(br#"{"ts":1,"role":"user","cont"#)
            .expect("write");
    }

    let t = store.load(&k).await.expect("load");
    assert_eq!(t.entries.len(), 2);
    assert_eq!(t.skipped_lines, 1);

    store
        .append(&k, &[Entry::user("three")])
        .await
        .expect("append after crash");
    let raw = fs::read_to_string(&path).expect("read");
    assert!(raw.ends_with('\n'));
    let last = raw.lines().last().expect("a line");
    let e: Entry = serde_json::from_str(last).expect("new line stands alone");
    assert_eq!(e.content, "three");

    let t = store.load(&k).await.expect("load");
    let texts: Vec<&str> = t.entries.iter().map(|e| e.content.as_str()).collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert_eq!(t.skipped_lines, 1, "only the old fragment is skipped");

    // Other garbage (binary, wrong shape, blank lines) never fails a load.
    {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(b"\xff\xfe not utf8\n{\"unrelated\":true}\n\n   \n")
            .expect("write");
    }
    let t = store.load(&k).await.expect("load");
    assert_eq!(t.entries.len(), 3);
    assert_eq!(t.skipped_lines, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_all_kept_whole() {
    let tmp = temp_dir("concurrent");
    let store = SessionStore::new(tmp.path());
    let k = key("agent:main:busy");
    let tasks = 32;
    let per_task = 10;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        let k = k.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let text = format!("{t}-{i}-{}", "x".repeat(500));
                let pair = [Entry::user(text.clone()), Entry::assistant(text)];
                store.append(&k, &pair).await.expect("append");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }

    let raw = fs::read_to_string(store.path_for(&k)).expect("read");
    for line in raw.lines() {
        serde_json::from_str::<Entry>(line).expect("every line is a whole entry");
    }
    let t = store.load(&k).await.expect("load");
    assert_eq!(t.skipped_lines, 0);
    assert_eq!(t.entries.len(), tasks * per_task * 2);
    // Each append's two entries are adjacent, and each task's appends keep their order.
    let mut next = vec![0usize; tasks];
    for pair in t.entries.chunks(2) {
        assert_eq!(pair[0].content, pair[1].content);
        assert_eq!(
            (pair[0].role.as_str(), pair[1].role.as_str()),
            ("user", "assistant")
        );
        let mut parts = pair[0].content.splitn(3, '-');
        let task: usize = parts.next().and_then(|p| p.parse().ok()).expect("task");
        let i: usize = parts.next().and_then(|p| p.parse().ok()).expect("index");
        assert_eq!(i, next[task]);
        next[task] += 1;
    }
    assert!(next.iter().all(|n| *n == per_task));
}

#[tokio::test]
async fn hand_built_invalid_keys_are_refused() {
    let tmp = temp_dir("invalid");
    let store = SessionStore::new(tmp.path());
    for k in [
        SessionKey {
            agent_id: "..".into(),
            name: "x".into(),
        },
        SessionKey {
            agent_id: "Main".into(),
            name: "x".into(),
        },
        SessionKey {
            agent_id: "main".into(),
            name: String::new(),
        },
        SessionKey {
            agent_id: "main".into(),
            name: "a\nb".into(),
        },
    ] {
        assert!(matches!(
            store.append(&k, &[Entry::user("x")]).await,
            Err(SessionError::BadKey { .. })
        ));
        assert!(store.load(&k).await.is_err());
        assert!(store.reset(&k).await.is_err());
        assert!(store.delete(&k).await.is_err());
        // Even the path of an invalid key stays inside the state directory.
        let p = store.path_for(&k);
        assert!(p.starts_with(tmp.path().join("agents")));
        assert!(!p.components().any(|c| c.as_os_str() == ".."));
    }
    assert_eq!(
        fs::read_dir(tmp.path()).expect("read").count(),
        0,
        "nothing was written"
    );
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_is_newest_first_with_preview_and_filter() {
    let tmp = temp_dir("list");
    let store = SessionStore::new(tmp.path());
    let a = key("agent:main:main");
    let b = key("agent:main:telegram:1");
    let c = key("agent:ops:main");

    // `a` has a huge early entry; only the tail is needed for its preview.
    store
        .append(&a, &[Entry::user("z".repeat(100_000))])
        .await
        .expect("append");
    store
        .append(&a, &[Entry::assistant("short answer")])
        .await
        .expect("append");
    let long = "é".repeat(300);
    store
        .append(&b, &[Entry::user(long.clone())])
        .await
        .expect("append");
    store
        .append(&c, &[Entry::user("ops question")])
        .await
        .expect("append");
    set_mtime(&store.path_for(&a), 1_000);
    set_mtime(&store.path_for(&b), 3_000);
    set_mtime(&store.path_for(&c), 2_000);

    // Files that are not live transcripts are ignored.
    let sessions = tmp.path().join("agents/main/sessions");
    fs::write(sessions.join("notes.txt"), "x").expect("write");
    fs::write(sessions.join("bad%zz.jsonl"), "x").expect("write");
    fs::write(sessions.join("main.jsonl.reset.5"), "x").expect("write");
    fs::create_dir_all(tmp.path().join("agents/Not Valid/sessions")).expect("mkdir");
    fs::write(tmp.path().join("agents/Not Valid/sessions/x.jsonl"), "x").expect("write");

    let all = store.list(None, 10).await.expect("list");
    let keys: Vec<&str> = all.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        ["agent:main:telegram:1", "agent:ops:main", "agent:main:main"]
    );
    assert_eq!(all[0].updated_at, 3_000_000);
    assert_eq!(all[0].agent_id, "main");
    assert_eq!(all[0].last_role.as_deref(), Some("user"));
    assert_eq!(
        all[0].last_preview.as_deref(),
        Some("é".repeat(200).as_str())
    );
    assert_eq!(all[2].last_role.as_deref(), Some("assistant"));
    assert_eq!(all[2].last_preview.as_deref(), Some("short answer"));
    assert!(all[2].size_bytes > 100_000);
    assert_eq!(
        all[1].size_bytes,
        fs::metadata(store.path_for(&c)).expect("meta").len()
    );

    let json = serde_json::to_value(&all[1]).expect("json");
    assert_eq!(json["agentId"], "ops");
    assert_eq!(json["updatedAt"], 2_000_000);
    assert!(json.get("sizeBytes").is_some() && json.get("lastPreview").is_some());

    let main_only = store.list(Some("MAIN"), 10).await.expect("list");
    assert_eq!(main_only.len(), 2);
    assert!(main_only.iter().all(|s| s.agent_id == "main"));
    assert_eq!(store.list(Some("ops"), 10).await.expect("list").len(), 1);
    assert!(
        store
            .list(Some("nobody"), 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(store.list(None, 1).await.expect("list")[0].key, keys[0]);
    assert!(store.list(None, 0).await.expect("list").is_empty());
    assert!(matches!(
        store.list(Some("../etc"), 10).await,
        Err(SessionError::BadKey { .. })
    ));
}

#[tokio::test]
async fn list_preview_is_none_when_the_last_entry_exceeds_the_tail() {
    let tmp = temp_dir("bigtail");
    let store = SessionStore::new(tmp.path());
    let k = key("agent:main:big");
    store
        .append(
            &k,
            &[Entry::user("small"), Entry::assistant("y".repeat(20_000))],
        )
        .await
        .expect("append");
    let all = store.list(None, 10).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].last_preview, None);
    assert_eq!(all[0].last_role, None);
}

// ---------------------------------------------------------------- reset / delete

#[tokio::test]
async fn reset_archives_and_delete_removes() {
    let tmp = temp_dir("reset");
    let store = SessionStore::new(tmp.path());
    let k = key("agent:main:telegram:7");
    let path = store.path_for(&k);
    let dir = path.parent().expect("dir").to_path_buf();

    assert!(!store.reset(&k).await.expect("reset"));
    assert!(!store.delete(&k).await.expect("delete"));

    store
        .append(&k, &[Entry::user("old")])
        .await
        .expect("append");
    assert!(store.reset(&k).await.expect("reset"));
    assert!(!path.exists());
    assert!(store.load(&k).await.expect("load").entries.is_empty());
    assert!(!store.reset(&k).await.expect("reset again"));

    // Reset twice in quick succession: both archives are kept.
    store
        .append(&k, &[Entry::user("mid")])
        .await
        .expect("append");
    assert!(store.reset(&k).await.expect("reset"));
    let archives: Vec<String> = fs::read_dir(&dir)
        .expect("read")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("telegram%3A7.jsonl.reset."))
        .collect();
    assert_eq!(archives.len(), 2, "{archives:?}");
    for a in &archives {
        let ms = a.rsplit('.').next().expect("suffix");
        assert!(ms.parse::<u64>().is_ok(), "{a}");
    }
    let contents: Vec<String> = archives
        .iter()
        .map(|a| fs::read_to_string(dir.join(a)).expect("read"))
        .collect();
    assert!(contents.iter().any(|c| c.contains("\"content\":\"old\"")));
    assert!(contents.iter().any(|c| c.contains("\"content\":\"mid\"")));

    // A fresh transcript after the reset; archives are not listed.
    store
        .append(&k, &[Entry::user("new")])
        .await
        .expect("append");
    let t = store.load(&k).await.expect("load");
    assert_eq!(t.entries.len(), 1);
    assert_eq!(t.entries[0].content, "new");
    let listed = store.list(None, 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_preview.as_deref(), Some("new"));

    assert!(store.delete(&k).await.expect("delete"));
    assert!(!path.exists());
    assert!(!store.delete(&k).await.expect("delete again"));
    assert!(store.list(None, 10).await.expect("list").is_empty());
    assert_eq!(
        fs::read_dir(&dir).expect("read").count(),
        2,
        "archives survive delete"
    );
}

// ---------------------------------------------------------------- turn lock

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turn_lock_serialises_turns() {
    let tmp = temp_dir("lock");
    let store = SessionStore::new(tmp.path());
    let k = key("agent:main:main");
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();

    let first = {
        let store = store.clone();
        let k = k.clone();
        tokio::spawn(async move {
            let _turn = store.lock(&k).await;
            let _ = started_tx.send(());
            store
                .append(&k, &[Entry::user("a1")])
                .await
                .expect("append");
            tokio::time::sleep(Duration::from_millis(100)).await;
            store
                .append(&k, &[Entry::assistant("a2")])
                .await
                .expect("append");
        })
    };
    started_rx.await.expect("first turn started");
    let second = {
        let store = store.clone();
        let k = k.clone();
        tokio::spawn(async move {
            let _turn = store.lock(&k).await;
            store
                .append(&k, &[Entry::user("b1")])
                .await
                .expect("append");
            store
                .append(&k, &[Entry::assistant("b2")])
                .await
                .expect("append");
        })
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        first.await.expect("first");
        second.await.expect("second");
    })
    .await
    .expect("no deadlock");

    let t = store.load(&k).await.expect("load");
    let texts: Vec<&str> = t.entries.iter().map(|e| e.content.as_str()).collect();
    assert_eq!(texts, ["a1", "a2", "b1", "b2"]);
}

#[tokio::test]
async fn holding_the_turn_lock_does_not_block_writes() {
    let tmp = temp_dir("nodeadlock");
    let store = SessionStore::new(tmp.path());
    let k = key("agent:main:main");
    let _turn = store.lock(&k).await;
    tokio::time::timeout(Duration::from_secs(10), async {
        store.append(&k, &[Entry::user("x")]).await.expect("append");
        store.load(&k).await.expect("load");
        store.reset(&k).await.expect("reset");
        store.delete(&k).await.expect("delete");
    })
    .await
    .expect("append under the turn lock must not deadlock");

    // Other sessions are not blocked by this one's lock.
    let other = Arc::new(store.clone());
    let _other_turn = tokio::time::timeout(
        Duration::from_secs(10),
        other.lock(&key("agent:main:other")),
    )
    .await
    .expect("independent sessions lock independently");
    // The same session is.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), store.lock(&k))
            .await
            .is_err()
    );
}

// ---------------------------------------------------------------- census

#[tokio::test]
async fn census_counts_one_agent_newest_first_without_reset_archives() {
    let dir = temp_dir("census");
    let store = SessionStore::new(dir.path());
    for (raw, secs) in [
        ("agent:main:a", 1_000),
        ("agent:main:b", 3_000),
        ("agent:main:c", 2_000),
        ("agent:other:x", 4_000),
    ] {
        let k = key(raw);
        store.append(&k, &[Entry::user("hi")]).await.unwrap();
        set_mtime(&store.path_for(&k), secs);
    }
    // A reset archive is not a session.
    store
        .append(&key("agent:main:d"), &[Entry::user("x")])
        .await
        .unwrap();
    assert!(store.reset(&key("agent:main:d")).await.unwrap());

    let c = store.census("MAIN", 2).await.unwrap();
    assert_eq!(c.count, 3);
    assert_eq!(
        c.recent,
        vec![
            ("agent:main:b".to_owned(), 3_000_000),
            ("agent:main:c".to_owned(), 2_000_000)
        ]
    );
    assert_eq!(c.dir, dir.path().join("agents/main/sessions"));

    let none = store.census("nobody", 10).await.unwrap();
    assert_eq!((none.count, none.recent.len()), (0, 0));
    assert!(matches!(
        store.census("bad id!", 1).await,
        Err(SessionError::BadKey { .. })
    ));
}
