//! The original OpenClaw CLI (npm `openclaw@2026.9.6` on Node 26) against our gateway: its
//! read commands and `agent --message`, pointed at our port with `OPENCLAW_GATEWAY_PORT`
//! and `OPENCLAW_GATEWAY_TOKEN`, each asserting on what it prints. The reference install
//! is a precondition: missing or at other versions, these tests fail (scripts/test
//! installs it).

mod common;

use common::*;
use openclaw_mock_provider::{MockOptions, MockServer};
use openclaw_mock_telegram::MockTelegram;
use serde_json::Value;

const TOKEN: &str = "reference-cli-token-0123456789";
const BOT: &str = "123456:REF-bot-token";

/// Our gateway with a mock provider (model `mock/m1`, two agents) and a Telegram account
/// on the mock Bot API, plus a home for the reference CLI.
struct Setup {
    gw: Gateway,
    reference: Reference,
    home: TempDir,
    _provider: MockServer,
    _tg: MockTelegram,
}

async fn setup() -> Setup {
    let reference = reference();
    let provider = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let tg = openclaw_mock_telegram::spawn(BOT).await.unwrap();
    let config = format!(
        r#"{{
          gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
          models: {{ providers: {{ mock: {{ baseUrl: "{}", api: "openai-completions",
                     models: [{{ id: "m1", name: "Mock One", contextWindow: 8192 }}] }} }} }},
          agents: {{ defaults: {{ model: {{ primary: "mock/m1", fallbacks: ["mock/m2"] }} }},
                     list: [{{ id: "main", default: true }}, {{ id: "research", name: "Research" }}] }},
          channels: {{ telegram: {{ botToken: "{BOT}", apiRoot: "{}" }} }},
        }}"#,
        provider.openai_base_url(),
        tg.api_root()
    );
    let gw = start(Spec::default().config(&config));
    let home = TempDir::new("refhome");
    // A config of its own, so `status` is not a cold start (which skips the gateway).
    std::fs::write(
        home.path().join("openclaw.json"),
        r#"{ gateway: { mode: "local" } }"#,
    )
    .unwrap();
    Setup {
        gw,
        reference,
        home,
        _provider: provider,
        _tg: tg,
    }
}

impl Setup {
    /// Runs the reference CLI off the async runtime (the mocks serve on it meanwhile) and
    /// requires exit 0.
    async fn ok(&self, args: &[&str]) -> String {
        self.ok_env(args, &[]).await
    }

    async fn ok_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run(args, env).await;
        assert_eq!(
            out.code,
            0,
            "openclaw {args:?} failed:\nstdout: {}\nstderr: {}\ngateway:\n{}",
            out.stdout,
            out.stderr,
            self.gw.output()
        );
        out.stdout
    }

    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> CliOut {
        let reference = self.reference.clone();
        let home = self.home.path().to_path_buf();
        let port = self.gw.port;
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            reference.run(&home, port, TOKEN, &args, &env)
        })
        .await
        .unwrap()
    }

    async fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args).await;
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
}

/// The JSON of `gateway call <method> --json`.
async fn call(s: &Setup, method: &str) -> Value {
    s.json(&["gateway", "call", method, "--json"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_gateway_call_health() {
    let s = setup().await;
    let v = call(&s, "health").await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["defaultAgentId"], "main");
    let ids: Vec<&str> = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agentId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["main", "research"]);
    assert_eq!(v["agents"][0]["isDefault"], true);
    assert_eq!(v["agents"][0]["heartbeat"]["enabled"], false);
    assert_eq!(v["agents"][0]["sessions"]["count"], 0);
    assert_eq!(v["sessions"]["count"], 0);
    assert!(
        v["channels"]["telegram"]["accounts"]["default"].is_object(),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_gateway_call_status() {
    let s = setup().await;
    let v = call(&s, "status").await;
    assert_eq!(v["gateway"]["port"], s.gw.port, "{v}");
    assert_eq!(v["pid"], s.gw.pid());
    assert_eq!(v["heartbeat"]["defaultAgentId"], "main");
    assert_eq!(v["heartbeat"]["agents"][1]["agentId"], "research");
    assert_eq!(v["sessions"]["byAgent"][0]["agentId"], "main");
    assert_eq!(v["sessions"]["defaults"]["model"], "mock/m1");
    assert_eq!(v["sessions"]["defaults"]["contextTokens"], 8192);
    let summary = v["channelSummary"].as_array().unwrap();
    assert!(
        summary
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("telegram default: ")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_health() {
    let s = setup().await;
    let out = s.ok(&["health"]).await;
    assert!(out.contains("Agents: main (default), research"), "{out}");
    assert!(out.contains("Heartbeat interval: disabled (main)"), "{out}");
    let store = s.gw.state.join("agents/main/sessions");
    assert!(
        out.contains(&format!(
            "Session store (main): {} (0 entries)",
            store.display()
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_status() {
    let s = setup().await;
    let out = s.ok(&["status"]).await;
    let gateway = out
        .lines()
        .find(|l| l.contains("│ Gateway ") && l.contains("ws://"))
        .unwrap_or_else(|| panic!("no Gateway row:\n{out}"));
    assert!(
        gateway.contains(&format!("ws://127.0.0.1:{}", s.gw.port)),
        "{gateway}"
    );
    assert!(gateway.contains("reachable"), "{gateway}");
    assert!(!gateway.contains("unreachable"), "{gateway}");
    // The heartbeat row comes from our status (the CLI's own defaults would say 30m).
    let heartbeat = out
        .lines()
        .find(|l| l.contains("│ Heartbeat "))
        .unwrap_or_else(|| panic!("no Heartbeat row:\n{out}"));
    assert!(heartbeat.contains("disabled (main)"), "{heartbeat}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_channels_status() {
    let s = setup().await;
    let v = s.json(&["channels", "status", "--json"]).await;
    assert_eq!(v["channelOrder"], serde_json::json!(["telegram"]), "{v}");
    let account = &v["channels"]["telegram"]["accounts"]["default"];
    assert_eq!(account["configured"], true, "{v}");
    assert_eq!(account["enabled"], true, "{v}");
    let out = s.ok(&["channels", "status"]).await;
    assert!(out.contains("Gateway reachable."), "{out}");
}

/// `sessions` and `agents list` of the original read its local config and store, not
/// the gateway; pointed at our gateway's config file it reads our agents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_sessions_and_agents_list() {
    let s = setup().await;
    let config = s.gw.state.join("openclaw.json");
    let config = config.to_str().unwrap();
    let out = s
        .ok_env(&["agents", "list"], &[("OPENCLAW_CONFIG_PATH", config)])
        .await;
    assert!(out.contains("- main (default)"), "{out}");
    assert!(out.contains("- research (Research)"), "{out}");
    assert!(out.contains("Model: mock/m1"), "{out}");
    // It reports on stderr, from its own store under its home.
    let out = s.run(&["sessions"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let store = s
        .home
        .path()
        .join("agents/main/agent/openclaw-agent.sqlite");
    assert!(
        out.stderr
            .contains(&format!("Session store: {}", store.display())),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Sessions listed: 0"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_models_list() {
    let s = setup().await;
    let v = s.json(&["models", "list", "--json"]).await;
    assert_eq!(v["count"], 2, "{v}");
    let m1 = &v["models"][0];
    assert_eq!(m1["key"], "mock/m1");
    assert_eq!(m1["name"], "Mock One");
    assert_eq!(m1["contextWindow"], 8192);
    assert_eq!(m1["local"], true);
    assert_eq!(m1["available"], true);
    assert_eq!(m1["tags"], serde_json::json!(["default"]));
    assert_eq!(v["models"][1]["key"], "mock/m2");
    assert_eq!(v["models"][1]["tags"], serde_json::json!(["fallback#1"]));
    let table = s.ok(&["models", "list"]).await;
    let row = table
        .lines()
        .find(|l| l.starts_with("mock/m1 "))
        .unwrap_or_else(|| panic!("no mock/m1 row:\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["mock/m1", "-", "8k", "yes", "yes", "default"],
        "{row}"
    );
    // A filter on a provider we do not have is refused by the gateway, with the reason.
    let out = s.run(&["models", "list", "--provider", "nope"], &[]).await;
    assert_ne!(out.code, 0);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("unknown provider \"nope\""),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_logs() {
    let s = setup().await;
    let out = s.ok(&["logs"]).await;
    let file = s.gw.state.join("logs/gateway.log");
    assert!(
        out.contains(&format!("Log file: {}", file.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "listening on ws://127.0.0.1:{} (PID {})",
            s.gw.port,
            s.gw.pid()
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_gateway_status() {
    let s = setup().await;
    let v = s.json(&["gateway", "status", "--json"]).await;
    assert_eq!(v["rpc"]["ok"], true, "{v}");
    assert_eq!(v["rpc"]["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["gateway"]["port"], s.gw.port);
    let out = s.ok(&["gateway", "status"]).await;
    assert!(out.contains("Connectivity probe: ok"), "{out}");
    assert!(
        out.contains(&format!("Listening: 127.0.0.1:{}", s.gw.port)),
        "{out}"
    );
}

/// A turn through our gateway to the mock provider, the reply printed by the original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_agent_message() {
    let s = setup().await;
    let out = s
        .ok(&["agent", "--message", "ping from the original"])
        .await;
    assert!(out.contains("echo: ping from the original"), "{out}");
    // The turn is in our transcript, and health now counts the session.
    let v = call(&s, "health").await;
    assert_eq!(v["agents"][0]["sessions"]["count"], 1, "{v}");
    assert_eq!(
        v["agents"][0]["sessions"]["recent"][0]["key"],
        "agent:main:main"
    );
    // --json prints our final payload; --agent is checked against the CLI's own config
    // first, so it reads our gateway's config file.
    let config = s.gw.state.join("openclaw.json");
    let out = s
        .ok_env(
            &[
                "agent",
                "--agent",
                "research",
                "--message",
                "second",
                "--json",
            ],
            &[("OPENCLAW_CONFIG_PATH", config.to_str().unwrap())],
        )
        .await;
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["sessionKey"], "agent:research:main", "{v}");
    assert_eq!(v["result"]["payloads"][0]["text"], "echo: second", "{v}");
    assert_eq!(v["result"]["meta"]["provider"], "mock", "{v}");
    let v = call(&s, "health").await;
    assert_eq!(v["agents"][1]["sessions"]["count"], 1, "{v}");
}
