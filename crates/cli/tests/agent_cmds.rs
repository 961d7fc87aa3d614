//! `openclaw agent list|status`, `openclaw agents list` and `openclaw agent --message`
//! against the real gateway binary, with the stand-in provider answering the turns.

mod common;

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use serde_json::Value;

const TOKEN: &str = "agent-cmds-token-0123456789";

async fn setup() -> (Gateway, MockServer) {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
          agents: {{
            defaults: {{ model: "mock/mock-model", workspace: "/srv/agents/shared" }},
            list: [
              {{ id: "main", name: "Main helper", default: true }},
              {{ id: "ops", name: "Ops", model: {{ primary: "mock/ops-model", fallbacks: ["mock/mock-model"] }},
                 workspace: "/srv/agents/ops" }},
              {{ id: "broken", model: "mock/fail-401" }},
            ],
          }},
        }}"#,
        mock.openai_base_url()
    );
    (start(Spec::default().config(&cfg)), mock)
}

fn with_conn<'a>(url: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--url", url, "--token", TOKEN]);
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_list_shows_configured_agents_in_both_spellings() {
    let (gw, _mock) = setup().await;
    let text = gw.cli(&["agents", "list"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("main \"Main helper\" (default)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("mock/mock-model"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains("mock/ops-model (fallbacks: mock/mock-model)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("/srv/agents/ops"), "{}", text.stdout);
    // `agent list` is the same listing.
    let singular = gw.cli(&["agent", "list"]);
    assert_eq!(singular.stdout, text.stdout);

    let out = gw.cli(&["agents", "list", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["id"], "main");
    assert_eq!(rows[0]["default"], true);
    assert_eq!(rows[0]["model"]["primary"], "mock/mock-model");
    assert_eq!(rows[0]["workspace"], "/srv/agents/shared");
    assert_eq!(rows[1]["id"], "ops");
    assert_eq!(rows[1]["default"], false);
    assert_eq!(rows[1]["model"]["fallbacks"][0], "mock/mock-model");
    assert_eq!(rows[1]["workspace"], "/srv/agents/ops");
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_message_runs_a_turn_and_status_counts_its_session() {
    let (gw, mock) = setup().await;
    let url = gw.url();

    // Before any turn: no sessions.
    let out = gw.cli(&with_conn(&url, &["agent", "status", "ops", "--json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["sessions"], 0);
    assert_eq!(v["lastActivityAt"], Value::Null);
    assert_eq!(v["runningRuns"], 0);

    // A turn through the gateway, text output is the reply.
    let out = gw.cli(&with_conn(
        &url,
        &["agent", "--message", "hello there", "--agent", "ops"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "echo: hello there");
    let asked = mock.requests();
    assert_eq!(asked.last().unwrap()["model"], "ops-model", "{asked:?}");

    // JSON output, named session.
    let out = gw.cli(&with_conn(
        &url,
        &[
            "agent",
            "--message",
            "second",
            "--session",
            "agent:ops:triage",
            "--json",
        ],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["reply"], "echo: second");
    assert_eq!(v["sessionKey"], "agent:ops:triage");
    assert!(v["runId"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    assert_eq!(v["provider"], "mock");

    // The original's spelling: --session-key with a bare name scoped to --agent, and a
    // one-turn model override.
    let out = gw.cli(&with_conn(
        &url,
        &[
            "agent",
            "--agent",
            "ops",
            "--session-key",
            "triage",
            "--model",
            "mock/other-model",
            "--message",
            "third",
            "--json",
        ],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["sessionKey"], "agent:ops:triage");
    assert_eq!(v["reply"], "echo: third");
    assert_eq!(mock.requests().last().unwrap()["model"], "other-model");
    let out = gw.cli(&with_conn(
        &url,
        &[
            "agent",
            "--agent",
            "ops",
            "--session",
            "agent:main:x",
            "--message",
            "hi",
        ],
    ));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("belongs to agent \"main\""),
        "{}",
        out.stderr
    );

    // The agent now has two sessions (main and triage) with recent activity.
    let out = gw.cli(&with_conn(&url, &["agent", "status", "ops", "--json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["sessions"], 2, "{v}");
    assert!(v["lastActivityAt"].as_u64().is_some_and(|t| t > 0), "{v}");
    assert_eq!(v["runningRuns"], 0);
    assert_eq!(v["model"]["primary"], "mock/ops-model");
    let out = gw.cli(&with_conn(&url, &["agent", "status", "ops"]));
    assert!(out.stdout.contains("sessions:      2"), "{}", out.stdout);
    assert!(out.stdout.contains("running turns: 0"), "{}", out.stdout);
    assert!(!out.stdout.contains("never"), "{}", out.stdout);
    // The other agent is untouched.
    let out = gw.cli(&with_conn(&url, &["agent", "status", "main"]));
    assert!(out.stdout.contains("sessions:      0"), "{}", out.stdout);
    assert!(
        out.stdout.contains("last activity: never"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_errors_name_the_cause() {
    let (gw, _mock) = setup().await;
    let url = gw.url();
    let out = gw.cli(&with_conn(&url, &["agent", "status", "nobody"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("unknown agent \"nobody\""),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("main, ops, broken"), "{}", out.stderr);

    let out = gw.cli(&with_conn(
        &url,
        &["agent", "--message", "hi", "--agent", "nobody"],
    ));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("unknown agent"), "{}", out.stderr);

    let out = gw.cli(&["agent"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--message"), "{}", out.stderr);

    // A failing turn is reported with the provider's reason, exit 1.
    let out = gw.cli(&with_conn(
        &url,
        &["agent", "--message", "hi", "--agent", "broken"],
    ));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("Turn error in session agent:broken:main"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    let out = gw.cli(&with_conn(
        &url,
        &["agent", "--message", "hi", "--agent", "broken", "--json"],
    ));
    assert_eq!(out.code, 1);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["status"], "error");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("401")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_message_outlasts_one_call_timeout() {
    let (gw, mock) = setup().await;
    let url = gw.url();
    // The provider takes 1.5 s to answer; each call may take 0.6 s: the CLI keeps waiting
    // with agent.wait until the turn ends.
    let out = gw.cli(&with_conn(
        &url,
        &[
            "agent",
            "--message",
            "patient",
            "--model",
            "mock/slow-1500",
            "--timeout",
            "600",
        ],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "echo: patient");
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_status_counts_a_running_turn() {
    let (gw, _mock) = setup().await;
    let url = gw.url();
    let state = gw.state.clone();
    let turn_url = url.clone();
    let turn = std::thread::spawn(move || {
        cli_in(
            &state,
            &[
                "agent",
                "--agent",
                "ops",
                "--message",
                "slow one",
                "--model",
                "mock/slow-3000",
                "--url",
                &turn_url,
                "--token",
                TOKEN,
            ],
            &[],
        )
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = Value::Null;
    while std::time::Instant::now() < deadline {
        let out = gw.cli(&with_conn(&url, &["agent", "status", "ops", "--json"]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        seen = serde_json::from_str(&out.stdout).unwrap();
        if seen["runningRuns"] == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(seen["runningRuns"], 1, "{seen}");
    assert_eq!(seen["sessions"], 1, "{seen}");
    let done = turn.join().unwrap();
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(done.stdout.trim(), "echo: slow one");
    let out = gw.cli(&with_conn(&url, &["agent", "status", "ops", "--json"]));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["runningRuns"], 0, "{v}");
}
