//! What a killed config writer leaves behind, against the real binary: temp files (each a
//! full copy of the config, secrets included) are removed at the next start, and the
//! `.bak` is always a complete earlier version, never a truncated one.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const TOKEN: &str = "crash-leftovers-token-0123456789";

/// The config as strict JSON, so every version (the first `.bak` included) parses with
/// `serde_json`. A long system prompt makes each write (and its backup) take long enough
/// that the kills below land inside writes, not only between them.
fn config() -> String {
    json!({
        "gateway": {"mode": "local", "auth": {"token": TOKEN}},
        "agents": {"defaults": {"systemPrompt": "x".repeat(1 << 20)}},
    })
    .to_string()
}

/// Names in `dir` that are temp files of a config write (this version's
/// `.openclaw.json.tmp.<pid>.<n>` and any older spelling containing `.tmp`).
fn temps(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("openclaw.json") && n.contains(".tmp"))
        .collect();
    names.sort();
    names
}

#[test]
fn stale_temp_files_are_removed_at_start() {
    let dir = TempDir::new("leftovers");
    std::fs::write(dir.path().join("openclaw.json"), config()).unwrap();
    // Above any kernel's pid_max (2^22), so no process has it.
    let dead = [
        ".openclaw.json.tmp.999999999",
        ".openclaw.json.tmp.999999999.4",
        "openclaw.json.tmp-999999999-0",
    ];
    for name in dead {
        std::fs::write(
            dir.path().join(name),
            format!(r#"{{"gateway":{{"auth":{{"token":"{TOKEN}"}}}}}}"#),
        )
        .unwrap();
    }
    // A write in progress by a live process (this test) must not be pulled away.
    let live = format!(".openclaw.json.tmp.{}.0", std::process::id());
    std::fs::write(dir.path().join(&live), "{}").unwrap();

    let gw = start(Spec::default().state(dir.path()));
    assert_eq!(temps(dir.path()), [live], "{}", gw.output());
    let log = std::fs::read_to_string(dir.path().join("logs/gateway.log")).unwrap();
    assert!(
        log.contains("removed a temp file left by an interrupted config write"),
        "{log}"
    );
}

/// Sends `config.get` then `config.patch` forever on one connection.
async fn patch_forever(url: String, worker: usize) {
    let (mut ws, _) = connect(&url, TOKEN, Some(vec!["operator.admin"]), "test").await;
    for i in 0.. {
        let got = call(&mut ws, &format!("g{i}"), "config.get", json!({})).await;
        let Some(hash) = got["payload"]["hash"].as_str().map(str::to_owned) else {
            continue;
        };
        let patch = json!({"models": {"providers": {format!("w{worker}"): {
            "baseUrl": format!("http://127.0.0.1:9/v{i}"),
            "api": "openai-completions",
        }}}});
        // A stale base (another worker won) is expected; the next round retries.
        call(
            &mut ws,
            &format!("p{i}"),
            "config.patch",
            json!({"raw": patch, "baseHash": hash}),
        )
        .await;
    }
}

#[tokio::test]
async fn kill_9_during_config_patch_never_leaves_a_partial_backup_or_a_temp() {
    let dir = TempDir::new("kill9");
    let file = dir.path().join("openclaw.json");
    let bak = dir.path().join("openclaw.json.bak");
    std::fs::write(&file, config()).unwrap();
    for round in 0..8u64 {
        let mut gw = start(Spec::default().state(dir.path()));
        // Whatever the previous kill left, the start removed it.
        assert_eq!(
            temps(dir.path()),
            Vec::<String>::new(),
            "round {round}: {}",
            gw.output()
        );
        let workers: Vec<_> = (0..3)
            .map(|w| tokio::spawn(patch_forever(gw.url(), w)))
            .collect();
        // Different moments of the write cycle in different rounds.
        tokio::time::sleep(Duration::from_millis(100 + 50 * round)).await;
        // The clients stop (the patches they sent are still being written), then the
        // gateway is killed with no chance to finish or clean up.
        for w in &workers {
            w.abort();
        }
        for w in workers {
            let _ = w.await;
        }
        gw.signal(9);
        gw.wait_exit(Duration::from_secs(10));
        let current: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("round {round}: config is not whole: {e}"));
        assert_eq!(current["gateway"]["auth"]["token"], TOKEN);
        if bak.exists() {
            let text = std::fs::read_to_string(&bak).unwrap();
            let doc: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("round {round}: .bak is not whole ({e}): {text:?}"));
            assert_eq!(doc["gateway"]["auth"]["token"], TOKEN, "round {round}");
        }
    }
    assert!(bak.exists(), "no patch got through in any round");
    let gw = start(Spec::default().state(dir.path()));
    assert_eq!(temps(dir.path()), Vec::<String>::new(), "{}", gw.output());
}
