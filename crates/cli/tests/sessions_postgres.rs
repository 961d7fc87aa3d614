//! The Postgres session store (`sessions.store.backend: "postgres"`) against a real,
//! private PostgreSQL server (testkit's `Postgres`: initdb + pg_ctl from the Debian
//! package `postgresql`, which scripts/test installs) and the real binary: chat turns,
//! `chat.history`, `sessions.*`, two gateways sharing one database, a restart, export
//! from files and import into Postgres, and a clear start-up failure for a bad URL.
//! The store itself is also checked against the files backend, operation by operation.

mod common;

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_sessions::{Entry, SessionKey, SessionStore};
use openclaw_testkit::Postgres;
use serde_json::{Value, json};

const TOKEN: &str = "sessions-pg-token-0123456789";
const PASSWORD: &str = "pg-pass-Zq81xK";

fn config(mock: &MockServer, store: &str) -> String {
    format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
             models: {{ providers: {{ chat: {{ baseUrl: "{o}", api: "openai-completions" }} }} }},
             agents: {{ defaults: {{ model: "chat/m" }}, list: [ {{ id: "main", default: true }} ] }},
             sessions: {{ store: {store} }} }}"#,
        o = mock.openai_base_url(),
    )
}

fn pg_store(pg: &Postgres) -> String {
    format!(
        r#"{{ backend: "postgres", url: "{}" }}"#,
        pg.url_with_password(PASSWORD)
    )
}

async fn mock() -> MockServer {
    openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap()
}

/// Sends `message` on `session` and waits for the final chat event.
async fn turn(ws: &mut Ws, session: &str, message: &str, key: &str) -> Value {
    let run_id = chat_send(ws, session, message, key).await;
    chat_final(ws, &run_id).await
}

async fn history(ws: &mut Ws, session: &str) -> Vec<Value> {
    let h = call(ws, "h", "chat.history", json!({"sessionKey": session})).await;
    h["payload"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{h}"))
        .clone()
}

/// `(role, first text)` of each message: what must survive a move between stores.
fn texts(messages: &[Value]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| {
            let text = m["content"][0]["text"]
                .as_str()
                .or(m["content"].as_str())
                .unwrap_or_default()
                .to_owned();
            (m["role"].as_str().unwrap_or_default().to_owned(), text)
        })
        .collect()
}

async fn admin(gw: &Gateway) -> Ws {
    connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test")
        .await
        .0
}

#[tokio::test]
async fn turns_history_and_session_methods_through_postgres() {
    let pg = Postgres::start();
    let mock = mock().await;
    let gw = start(Spec::default().config(&config(&mock, &pg_store(&pg))));
    assert!(
        gw.output().contains("session store ready"),
        "{}",
        gw.output()
    );
    let mut ws = admin(&gw).await;
    turn(&mut ws, "agent:main:pg", "hello postgres", "t1").await;
    let msgs = history(&mut ws, "agent:main:pg").await;
    let t = texts(&msgs);
    assert_eq!(t.len(), 2, "{msgs:?}");
    assert_eq!(t[0], ("user".into(), "hello postgres".into()));
    assert_eq!(t[1].0, "assistant");
    // The rows are in the database, not in files.
    assert_eq!(
        pg.psql("SELECT count(*) FROM session_entries WHERE session_key = 'agent:main:pg'"),
        "2"
    );
    assert!(!gw.state.join("agents/main/sessions/pg.jsonl").exists());
    assert_eq!(pg.psql("SELECT max(version) FROM schema_migrations"), "1");

    let list = call(&mut ws, "l", "sessions.list", json!({})).await;
    let rows = list["payload"]["sessions"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["key"], "agent:main:pg");
    assert_eq!(rows[0]["agentId"], "main");
    assert_eq!(rows[0]["lastRole"], "assistant");
    assert!(rows[0]["sizeBytes"].as_u64().unwrap() > 0, "{list}");
    assert!(rows[0]["updatedAt"].as_u64().unwrap() > 0, "{list}");

    let pv = call(
        &mut ws,
        "p",
        "sessions.preview",
        json!({"key": "agent:main:pg", "limit": 1}),
    )
    .await;
    let items = pv["payload"]["previews"][0]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{pv}");
    assert_eq!(items[0]["role"], "assistant");

    let r = call(
        &mut ws,
        "r",
        "sessions.reset",
        json!({"key": "agent:main:pg"}),
    )
    .await;
    assert_eq!(r["payload"]["reset"], true, "{r}");
    assert!(history(&mut ws, "agent:main:pg").await.is_empty());
    let list = call(&mut ws, "l2", "sessions.list", json!({})).await;
    assert_eq!(list["payload"]["count"], 0, "{list}");
    // The archive is kept (generation 0), as the files backend keeps `.reset.` files.
    assert_eq!(
        pg.psql("SELECT count(*) FROM session_entries WHERE generation = 0"),
        "2"
    );

    turn(&mut ws, "agent:main:pg", "after reset", "t2").await;
    assert_eq!(
        texts(&history(&mut ws, "agent:main:pg").await)[0].1,
        "after reset"
    );
    let d = call(
        &mut ws,
        "d",
        "sessions.delete",
        json!({"key": "agent:main:pg"}),
    )
    .await;
    assert_eq!(d["payload"]["deleted"], true, "{d}");
    assert!(history(&mut ws, "agent:main:pg").await.is_empty());
    let d = call(
        &mut ws,
        "d2",
        "sessions.delete",
        json!({"key": "agent:main:pg"}),
    )
    .await;
    assert_eq!(d["payload"]["deleted"], false, "{d}");
    let list = call(&mut ws, "l3", "sessions.list", json!({})).await;
    assert_eq!(list["payload"]["count"], 0, "{list}");

    // health shows where the sessions are, without the password.
    let h = call(&mut ws, "hl", "health", json!({})).await;
    let text = h.to_string();
    assert!(text.contains("postgres://postgres@127.0.0.1"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(!gw.output().contains(PASSWORD), "{}", gw.output());
}

#[tokio::test]
async fn two_gateways_share_one_database_and_a_restart_keeps_history() {
    let pg = Postgres::start();
    let mock = mock().await;
    let cfg = config(&mock, &pg_store(&pg));
    let dir_a = openclaw_testkit::TempDir::new("pg-a");
    let a = start(Spec::default().config(&cfg).state(dir_a.path()));
    let b = start(Spec::default().config(&cfg));
    let mut wa = admin(&a).await;
    let mut wb = admin(&b).await;
    turn(&mut wa, "agent:main:shared", "written through A", "a1").await;
    let seen_by_b = history(&mut wb, "agent:main:shared").await;
    assert_eq!(texts(&seen_by_b)[0].1, "written through A", "{seen_by_b:?}");
    // B continues the same conversation; A reads both turns.
    turn(&mut wb, "agent:main:shared", "and through B", "b1").await;
    let seen_by_a = history(&mut wa, "agent:main:shared").await;
    assert_eq!(seen_by_a.len(), 4, "{seen_by_a:?}");
    assert_eq!(texts(&seen_by_a)[2].1, "and through B");
    let list = call(&mut wb, "l", "sessions.list", json!({})).await;
    assert_eq!(list["payload"]["sessions"][0]["key"], "agent:main:shared");

    // Restart A (a new process on the same state dir): the history is still there.
    drop(wa);
    drop(a);
    let a = start(Spec::default().config(&cfg).state(dir_a.path()));
    let mut wa = admin(&a).await;
    assert_eq!(
        texts(&history(&mut wa, "agent:main:shared").await),
        texts(&seen_by_a)
    );
}

#[tokio::test]
async fn export_from_files_and_import_into_postgres() {
    let pg = Postgres::start();
    let mock = mock().await;
    let files_dir = openclaw_testkit::TempDir::new("files");
    let files = start(
        Spec::default()
            .config(&config(&mock, r#"{ backend: "files" }"#))
            .state(files_dir.path()),
    );
    let mut ws = admin(&files).await;
    turn(&mut ws, "agent:main:one", "first session", "f1").await;
    turn(&mut ws, "agent:main:two", "second session", "f2").await;
    turn(&mut ws, "agent:main:two", "second again", "f3").await;
    let one = history(&mut ws, "agent:main:one").await;
    let two = history(&mut ws, "agent:main:two").await;

    // Offline only: refused while the gateway holds the state dir.
    let out = files_dir.path().join("export.jsonl");
    let busy = cli_in(
        files_dir.path(),
        &["sessions", "export", "--out", out.to_str().unwrap()],
        &[],
    );
    assert_ne!(busy.code, 0, "{}", busy.stderr);
    assert!(busy.stderr.contains("is running"), "{}", busy.stderr);
    drop(ws);
    drop(files);

    let exported = cli_in(
        files_dir.path(),
        &["sessions", "export", "--out", out.to_str().unwrap()],
        &[],
    );
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    assert!(
        exported.stderr.contains("exported 6 entries of 2 sessions"),
        "{}",
        exported.stderr
    );
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 6, "{lines}");
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["sessionKey"], "agent:main:one", "{first}");

    // A second instance whose config names Postgres imports the file.
    let pg_dir = openclaw_testkit::TempDir::new("pgimp");
    std::fs::write(
        pg_dir.path().join("openclaw.json"),
        config(&mock, &pg_store(&pg)),
    )
    .unwrap();
    let imported = cli_in(
        pg_dir.path(),
        &["sessions", "import", out.to_str().unwrap()],
        &[],
    );
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert!(
        imported
            .stderr
            .contains("imported 6 entries of 2 sessions into postgres"),
        "{}",
        imported.stderr
    );
    assert!(!imported.stderr.contains(PASSWORD), "{}", imported.stderr);
    // Importing again would duplicate: refused, nothing written.
    let again = cli_in(
        pg_dir.path(),
        &["sessions", "import", out.to_str().unwrap()],
        &[],
    );
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("already has"), "{}", again.stderr);
    assert_eq!(pg.psql("SELECT count(*) FROM session_entries"), "6");

    let gw = start(Spec::default().state(pg_dir.path()));
    let mut ws = admin(&gw).await;
    assert_eq!(history(&mut ws, "agent:main:one").await, one);
    assert_eq!(history(&mut ws, "agent:main:two").await, two);

    // And back: an export from Postgres is the same file.
    drop(ws);
    drop(gw);
    let back = pg_dir.path().join("back.jsonl");
    let r = cli_in(
        pg_dir.path(),
        &["sessions", "export", "--out", back.to_str().unwrap()],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let parse = |s: &str| -> Vec<Value> {
        s.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert_eq!(
        parse(&std::fs::read_to_string(&back).unwrap()),
        parse(&lines)
    );
}

#[test]
fn a_bad_url_stops_start_up_with_a_clear_message_and_no_password() {
    let closed = openclaw_testkit::free_port();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
             sessions: {{ store: {{ backend: "postgres", url: "postgres://openclaw:{PASSWORD}@127.0.0.1:{closed}/oc" }} }} }}"#
    );
    let (status, out) = run_to_exit(Spec::default().config(&cfg), &["--port", "0"]);
    // 1, not 78: a database that is down may come up, so a supervisor should retry.
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "sessions.store: cannot connect to postgres://openclaw@127.0.0.1:{closed}/oc"
        )),
        "{out}"
    );
    assert!(out.to_lowercase().contains("connection refused"), "{out}");
    assert!(
        out.contains("start Postgres or fix sessions.store.url"),
        "{out}"
    );
    assert!(!out.contains(PASSWORD), "{out}");

    // TLS is not supported: refused, not silently skipped.
    let cfg = cfg.replace("/oc\"", "/oc?sslmode=require\"");
    let (status, out) = run_to_exit(Spec::default().config(&cfg), &["--port", "0"]);
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(out.contains("sslmode=require is not supported"), "{out}");
    assert!(!out.contains(PASSWORD), "{out}");

    // Config rules: postgres without a URL, files with one.
    for (store, says) in [
        (r#"{ backend: "postgres" }"#, "needs a URL"),
        (
            r#"{ backend: "files", url: "postgres://h/db" }"#,
            "only used with backend",
        ),
    ] {
        let cfg = format!(r#"{{ gateway: {{ mode: "local" }}, sessions: {{ store: {store} }} }}"#);
        let (status, out) = run_to_exit(Spec::token(TOKEN).config(&cfg), &["--port", "0"]);
        assert!(!status.success(), "{out}");
        assert!(
            out.contains("sessions.store.url") && out.contains(says),
            "{out}"
        );
    }
}

/// The same operations on both backends give the same answers (update times aside).
#[tokio::test]
async fn the_postgres_store_answers_like_the_files_store() {
    let pg = Postgres::start();
    let dir = openclaw_testkit::TempDir::new("parity");
    let files = SessionStore::new(dir.path().join("files"));
    let pgs = SessionStore::postgres(dir.path().join("pg"), &pg.url())
        .await
        .unwrap();
    // A second store on the same database sees and serialises with the first.
    let pgs2 = SessionStore::postgres(dir.path().join("pg2"), &pg.url())
        .await
        .unwrap();
    let a = SessionKey::parse("agent:main:a").unwrap();
    let b = SessionKey::parse("agent:ops:b:with:colons").unwrap();
    // The same entries (same timestamps) go to both.
    let first = [Entry::user("one"), Entry::assistant("two")];
    let second = [Entry::user("x".repeat(500))];
    let fresh = [Entry::user("fresh")];
    for store in [&files, &pgs] {
        assert!(store.load(&a).await.unwrap().entries.is_empty());
        assert!(!store.reset(&a).await.unwrap());
        assert!(!store.delete(&a).await.unwrap());
        store.append(&a, &[]).await.unwrap();
        store.append(&a, &first).await.unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        store.append(&b, &second).await.unwrap();
    }
    for (f, p) in [(&a, &a), (&b, &b)] {
        assert_eq!(files.load(f).await.unwrap(), pgs.load(p).await.unwrap());
        assert_eq!(
            files.history(f, 1).await.unwrap(),
            pgs.history(p, 1).await.unwrap()
        );
    }
    let strip = |mut v: Vec<openclaw_sessions::SessionSummary>| {
        for s in &mut v {
            s.updated_at = 0;
        }
        v
    };
    let fl = strip(files.list(None, 100).await.unwrap());
    let pl = strip(pgs.list(None, 100).await.unwrap());
    assert_eq!(fl, pl);
    assert_eq!(pl[0].key, "agent:ops:b:with:colons", "newest first: {pl:?}");
    assert_eq!(pl[0].last_preview.as_ref().unwrap().chars().count(), 200);
    assert_eq!(
        strip(files.list(Some("MAIN"), 100).await.unwrap()),
        strip(pgs.list(Some("MAIN"), 100).await.unwrap())
    );
    assert_eq!(pgs.list(None, 1).await.unwrap().len(), 1);
    let fc = files.census("main", 5).await.unwrap();
    let pc = pgs.census("main", 5).await.unwrap();
    assert_eq!((fc.count, fc.recent.len()), (pc.count, pc.recent.len()));
    assert_eq!(fc.recent[0].0, pc.recent[0].0);

    // The other store on the same database sees everything.
    assert_eq!(pgs2.load(&a).await.unwrap(), pgs.load(&a).await.unwrap());

    for store in [&files, &pgs] {
        assert!(store.reset(&a).await.unwrap());
        assert!(store.load(&a).await.unwrap().entries.is_empty());
        store.append(&a, &fresh).await.unwrap();
        assert!(store.delete(&b).await.unwrap());
        assert!(store.load(&b).await.unwrap().entries.is_empty());
    }
    assert_eq!(files.load(&a).await.unwrap(), pgs.load(&a).await.unwrap());
    assert_eq!(
        strip(files.list(None, 100).await.unwrap()),
        strip(pgs.list(None, 100).await.unwrap())
    );

    // Concurrent appends through two stores: nothing lost, each batch contiguous.
    let c = SessionKey::parse("agent:main:busy").unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 {
            pgs.clone()
        } else {
            pgs2.clone()
        };
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append(
                    &c,
                    &[
                        Entry::user(format!("{i}a")),
                        Entry::assistant(format!("{i}b")),
                    ],
                )
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let entries = pgs.load(&c).await.unwrap().entries;
    assert_eq!(entries.len(), 40);
    for pair in entries.chunks(2) {
        let n = pair[0].content.trim_end_matches('a');
        assert_eq!(pair[1].content, format!("{n}b"), "{entries:?}");
    }
    assert!(
        pgs.location()
            .starts_with("postgres postgres://postgres@127.0.0.1:")
    );
}

/// `sessions.store` is restart-class and opened once per process: a live edit is
/// logged as waiting for a process restart, and the running store stays in use.
#[tokio::test]
async fn a_live_store_change_waits_for_a_process_restart() {
    let pg = Postgres::start();
    let mock = mock().await;
    let gw = start(Spec::default().config(&config(&mock, r#"{ backend: "files" }"#)));
    std::fs::write(
        gw.state.join("openclaw.json"),
        config(&mock, &pg_store(&pg)),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !gw
        .output()
        .contains("sessions.store takes effect when the gateway process restarts")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no warning:\n{}",
            gw.output()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The listener restarts in-process (same port, same process): wait for the second
    // "listening on"; turns still go to the files.
    while gw.output().matches("listening on ws").count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no listener restart:\n{}",
            gw.output()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut ws = admin(&gw).await;
    turn(&mut ws, "agent:main:live", "still files", "lv").await;
    let file = gw.state.join("agents/main/sessions/live.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .count()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "{}", gw.output());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'session_entries'"),
        "0"
    );
}

/// `doctor --json`'s `sessions.store` check for the config in `dir`.
fn doctor_store_check(dir: &std::path::Path) -> Value {
    let out = cli_in(dir, &["doctor", "--json"], &[]);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}\n{}\n{}", out.stdout, out.stderr));
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "sessions.store")
        .cloned()
        .unwrap_or_else(|| panic!("no sessions.store check: {v}"))
}

#[tokio::test]
async fn doctor_checks_the_postgres_store() {
    let pg = Postgres::start();
    let mock = mock().await;
    let dir = openclaw_testkit::TempDir::new("doctor-pg");
    std::fs::write(
        dir.path().join("openclaw.json"),
        config(&mock, &pg_store(&pg)),
    )
    .unwrap();

    // A database no gateway has used: a warning that says the gateway will create it.
    let c = doctor_store_check(dir.path());
    assert_eq!(c["status"], "warn", "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("PostgreSQL 1"), "{c}");
    assert!(detail.contains("no schema_migrations"), "{c}");
    assert!(!c.to_string().contains(PASSWORD), "{c}");
    assert!(
        pg.psql("SELECT to_regclass('schema_migrations') IS NULL")
            .contains('t')
    );

    // After a gateway started on it: current.
    let gw = start(Spec::default().state(dir.path()));
    drop(gw);
    let c = doctor_store_check(dir.path());
    assert_eq!(c["status"], "ok", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("(current)"), "{c}");

    // Unreachable: a failure naming the URL without the password, and what to do.
    let closed = free_port();
    let bad = format!(
        r#"{{ backend: "postgres", url: "postgres://openclaw:{PASSWORD}@127.0.0.1:{closed}/none" }}"#
    );
    std::fs::write(dir.path().join("openclaw.json"), config(&mock, &bad)).unwrap();
    let c = doctor_store_check(dir.path());
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{closed}")),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("sessions.store.url"),
        "{c}"
    );
    assert!(!c.to_string().contains(PASSWORD), "{c}");
}
