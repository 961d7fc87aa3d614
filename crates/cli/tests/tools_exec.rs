//! `exec` against the real binary: approvals over WebSocket (allowed once, always,
//! denied, timed out), the bubblewrap sandbox (runs, sees the workspace, has no network),
//! and a `kill -9` during a long command (the call is marked interrupted on restart and
//! never run again).

mod common;

use std::time::{Duration, Instant};

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::{Value, json};

const TOKEN: &str = "tools-exec-token-0123456789";

fn config(mock: &MockServer, extra: &str) -> String {
    format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
             models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
             agents: {{ defaults: {{ model: "mock/m" }} }},
             {extra} }}"#,
        mock.openai_base_url()
    )
}

async fn mock() -> MockServer {
    openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap()
}

/// Starts a `chat.send`; returns its run id.
async fn send(ws: &mut Ws, session: &str, message: &str, key: &str) -> String {
    chat_send(ws, session, message, key).await
}

/// Waits for the run's final chat event; returns its text.
async fn finish(ws: &mut Ws, run_id: &str) -> String {
    chat_final(ws, run_id).await["message"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn exec(cmd: &str) -> String {
    format!(r#"[[tool exec {}]]"#, json!({ "command": cmd }))
}

#[tokio::test]
async fn approvals_allow_once_always_deny_and_timeout_over_websocket() {
    let mock = mock().await;
    let gw = start(Spec::default().config(&config(
        &mock,
        r#"tools: { exec: { security: "allowlist", ask: "on-miss", approvalTimeoutSeconds: 2 } }"#,
    )));
    let (mut user, _) = connect(
        &gw.url(),
        TOKEN,
        Some(vec!["operator.write", "operator.read"]),
        "test",
    )
    .await;
    let (mut approver, _) =
        connect(&gw.url(), TOKEN, Some(vec!["operator.approvals"]), "test").await;

    // Allowed once: the request reaches the approver, the command runs.
    let run = send(&mut user, "agent:main:a", &exec("echo approved-once"), "a1").await;
    let req = next_event(&mut approver, "exec.approval.requested").await;
    let p = &req["payload"];
    assert_eq!(p["request"]["command"], "echo approved-once", "{p}");
    assert_eq!(p["request"]["sessionKey"], "agent:main:a");
    assert!(p["expiresAtMs"].as_u64() > p["createdAtMs"].as_u64());
    // A client without the approvals scope cannot answer it.
    let r = call(
        &mut user,
        "no",
        "exec.approval.resolve",
        json!({"id": p["id"], "decision": "allow-once"}),
    )
    .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN", "{r}");
    let listed = call(&mut approver, "l", "exec.approval.list", json!({})).await;
    assert_eq!(listed["payload"]["approvals"][0]["id"], p["id"], "{listed}");
    let r = call(
        &mut approver,
        "ok1",
        "exec.approval.resolve",
        json!({"id": p["id"], "decision": "allow-once"}),
    )
    .await;
    assert_eq!(r["payload"]["decision"], "allow-once", "{r}");
    assert!(finish(&mut user, &run).await.contains("approved-once"));
    let again = call(
        &mut approver,
        "ok2",
        "exec.approval.resolve",
        json!({"id": p["id"], "decision": "deny"}),
    )
    .await;
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already resolved or expired"),
        "{again}"
    );

    // Denied: the model is told, nothing runs.
    let marker = gw.state.join("workspace/denied.txt");
    let run = send(
        &mut user,
        "agent:main:a",
        &exec("echo x > denied.txt"),
        "a2",
    )
    .await;
    let req = next_event(&mut approver, "exec.approval.requested").await;
    call(
        &mut approver,
        "d",
        "exec.approval.resolve",
        json!({"id": req["payload"]["id"], "decision": "deny"}),
    )
    .await;
    assert!(
        finish(&mut user, &run)
            .await
            .contains("denied by an operator")
    );
    assert!(!marker.exists());

    // Nobody answers: after approvalTimeoutSeconds the default askFallback (deny) applies.
    let t0 = Instant::now();
    let run = send(&mut user, "agent:main:a", &exec("echo x > late.txt"), "a3").await;
    let req = next_event(&mut approver, "exec.approval.requested").await;
    let text = finish(&mut user, &run).await;
    assert!(
        text.contains("nobody answered") && text.contains("2 s"),
        "{text}"
    );
    let done = next_event(&mut approver, "exec.approval.resolved").await;
    assert_eq!(done["payload"]["id"], req["payload"]["id"], "{done}");
    assert_eq!(done["payload"]["reason"], "timeout");
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert!(!gw.state.join("workspace/late.txt").exists());

    // Allowed always: written to the allowlist, not asked the next time.
    let run = send(&mut user, "agent:main:a", &exec("echo always-ok"), "a4").await;
    let req = next_event(&mut approver, "exec.approval.requested").await;
    call(
        &mut approver,
        "aa",
        "exec.approval.resolve",
        json!({"id": req["payload"]["id"], "decision": "allow-always"}),
    )
    .await;
    let text = finish(&mut user, &run).await;
    assert!(text.contains("always-ok"), "{text}");
    let file = std::fs::read_to_string(gw.state.join("exec-approvals.json")).unwrap();
    assert!(file.contains("allow-always"), "{file}");
    let run = send(&mut user, "agent:main:a", &exec("echo always-ok"), "a5").await;
    let text = finish(&mut user, &run).await;
    assert!(text.contains("always-ok"), "{text}");
    let pending = call(&mut approver, "l2", "exec.approval.list", json!({})).await;
    assert_eq!(pending["payload"]["approvals"], json!([]), "{pending}");
}

#[tokio::test]
async fn sandboxed_exec_runs_in_bubblewrap_without_network() {
    // A precondition, never a skip: without bwrap this test fails and says how to fix it.
    assert!(
        which("bwrap").is_some(),
        "bubblewrap (bwrap) is not installed: apt-get install bubblewrap (scripts/test installs it)"
    );
    let mock = mock().await;
    // A listener on the host's loopback that the sandbox must not reach.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let gw = start(Spec::default().config(&config(
        &mock,
        r#"agents: { defaults: { model: "mock/m", sandbox: { mode: "all", workspaceAccess: "rw" } } }"#,
    ).replace(r#"agents: {{ defaults: {{ model: "mock/m" }} }},"#, "")));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let probe = format!(
        "echo inside > made-in-sandbox.txt; python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)' && echo \"net=\"reachable || echo \"net=\"refused; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /home 2>&1 | head -1"
    );
    let run = send(&mut ws, "agent:main:main", &exec(&probe), "s1").await;
    let text = finish(&mut ws, &run).await;
    assert!(
        text.contains("net=refused") && !text.contains("net=reachable"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(gw.state.join("workspace/made-in-sandbox.txt")).unwrap(),
        "inside\n"
    );
    // Its own pid namespace: pid 1 is the sandbox's, not the host's init.
    assert!(
        !text.contains("/sbin/init") && !text.contains("systemd"),
        "{text}"
    );
    drop(l);
}

#[tokio::test]
async fn kill_9_during_a_long_exec_marks_the_call_interrupted_and_never_reruns_it() {
    let mock = mock().await;
    let cfg = config(&mock, "");
    let dir = tempfile::tempdir().unwrap();
    let mut gw = start(Spec::default().config(&cfg).state(dir.path()));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let run = send(
        &mut ws,
        "agent:main:crash",
        &exec("echo ran >> runs.txt; sleep 30"),
        "k1",
    )
    .await;
    // Wait until the command is running.
    let runs = dir.path().join("workspace/runs.txt");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !runs.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = run;
    gw.signal(9);
    gw.wait_exit(Duration::from_secs(5));
    drop(ws);

    let gw = start(Spec::default().config(&cfg).state(dir.path()));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let msgs: Vec<Value> = loop {
        let h = call(
            &mut ws,
            "h",
            "chat.history",
            json!({"sessionKey": "agent:main:crash"}),
        )
        .await;
        let msgs = h["payload"]["messages"].as_array().unwrap().clone();
        if msgs.last().is_some_and(|m| m["role"] == "tool") || Instant::now() > deadline {
            break msgs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "tool"], "{msgs:?}");
    assert_eq!(msgs[2]["isError"], true);
    assert!(
        msgs[2]["content"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{msgs:?}"
    );
    assert_eq!(msgs[2]["toolCallId"], msgs[1]["toolCalls"][0]["id"]);
    // Never re-run: one line, now and a while later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "ran\n");

    // The next turn in that session carries on from the recorded (interrupted) result.
    let run = send(&mut ws, "agent:main:crash", "hello again", "k2").await;
    assert_eq!(finish(&mut ws, &run).await, "echo: hello again");
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "ran\n");
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[tokio::test]
async fn cli_answers_approvals_and_explains_the_sandbox_and_hello_reports_the_policy() {
    let mock = mock().await;
    let gw = start(Spec::default().config(&config(
        &mock,
        r#"tools: { deny: ["browser:*"], exec: { security: "allowlist", ask: "on-miss", approvalTimeoutSeconds: 30 } },
           agents: { defaults: { model: "mock/m", sandbox: { mode: "non-main", workspaceAccess: "ro" } } }"#,
    ).replace(r#"agents: {{ defaults: {{ model: "mock/m" }} }},"#, "")));
    let (mut ws, hello) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let policy = &hello["snapshot"]["policy"];
    assert_eq!(policy["sandbox"], "non-main", "{hello}");
    let tools: Vec<&str> = policy["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tools.contains(&"exec") && tools.contains(&"read"),
        "{policy}"
    );
    assert_eq!(policy["sandboxBackend"], "bubblewrap");
    let status = call(&mut ws, "st", "status", json!({})).await;
    assert_eq!(status["payload"]["policy"], *policy, "{status}");

    // The main session runs on the host: exec asks, the CLI lists and answers.
    let run = send(&mut ws, "agent:main:main", &exec("echo via-cli"), "c1").await;
    next_event(&mut ws, "exec.approval.requested").await;
    let url = gw.url();
    let remote = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--url", url.as_str(), "--token", TOKEN]);
        gw.cli(&a)
    };
    let pending = remote(&["approvals", "pending", "--json"]);
    assert_eq!(pending.code, 0, "{}{}", pending.stdout, pending.stderr);
    let v: Value = serde_json::from_str(&pending.stdout).unwrap();
    let id = v["approvals"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["approvals"][0]["request"]["command"], "echo via-cli");
    let human = remote(&["approvals", "pending"]);
    assert!(
        human.stdout.contains(&id) && human.stdout.contains("echo via-cli"),
        "{}",
        human.stdout
    );
    let bad = remote(&["approvals", "resolve", &id, "maybe"]);
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("allow-once, allow-always, deny"),
        "{}",
        bad.stderr
    );
    let ok = remote(&["approvals", "resolve", &id, "allow-once"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(finish(&mut ws, &run).await.contains("via-cli"));

    // A channel-style session is sandboxed; its workspace is read-only there.
    let out = gw.cli(&[
        "sandbox",
        "explain",
        "--session",
        "agent:main:telegram-42",
        "--json",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let e: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(e["sandboxed"], true, "{e}");
    assert_eq!(e["backend"], "bubblewrap");
    assert_eq!(e["workspaceAccess"], "ro");
    let out = gw.cli(&["sandbox", "explain"]);
    assert!(
        out.stdout.contains("Sandbox:   no") && out.stdout.contains("main session"),
        "{}",
        out.stdout
    );
    let (fin, _) = (
        {
            let run = send(
                &mut ws,
                "agent:main:telegram-42",
                r#"[[tool write {"path":"x.txt","content":"x"}]]"#,
                "c2",
            )
            .await;
            finish(&mut ws, &run).await
        },
        (),
    );
    assert!(fin.contains("read-only workspace"), "{fin}");
}

#[tokio::test]
async fn chat_abort_stops_a_running_exec_and_kills_its_processes() {
    let mock = mock().await;
    let gw = start(Spec::default().config(&config(&mock, "")));
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let run = send(
        &mut ws,
        "agent:main:abort",
        &exec("echo started > started.txt; sleep 31.25"),
        "ab1",
    )
    .await;
    let started = gw.state.join("workspace/started.txt");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t0 = Instant::now();
    let r = call(
        &mut ws,
        "ab",
        "chat.abort",
        json!({"sessionKey": "agent:main:abort", "runId": run}),
    )
    .await;
    assert_eq!(r["payload"]["aborted"], true, "{r}");
    loop {
        let v = next_event(&mut ws, "chat").await;
        if v["payload"]["runId"] == run.as_str() && v["payload"]["state"] != "delta" {
            assert_eq!(v["payload"]["state"], "aborted", "{v}");
            break;
        }
    }
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "abort took {:?}",
        t0.elapsed()
    );
    // The command's process group is gone with the turn.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = std::process::Command::new("pgrep")
            .args(["-f", "sleep 31.25"])
            .output()
            .unwrap();
        if out.stdout.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sleep still running: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
