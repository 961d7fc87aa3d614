//! The Control UI in a real headless Chromium against the real gateway and the stand-in
//! provider: the `openclaw dashboard` URL logs in, a wrong token is refused with a clear
//! message, Overview shows the version and this browser's connection, a chat reply
//! streams and lands in history, abort stops a slow stream, a config field edited in the
//! form is applied (file and `config.changed`) while a stale edit is refused, Logs shows a
//! line written after it opened, a session reset works, and a page from another origin
//! cannot open the WebSocket. Screenshots of each page go to `target/ui-screenshots/`.

mod common;

#[path = "common/browser.rs"]
mod browser;

use std::time::Duration;

use browser::Browser;
use common::*;
use openclaw_mock_provider::MockOptions;
use serde_json::{Value, json};

const TOKEN: &str = "control-ui-browser-token-0123456789";
const WAIT: Duration = Duration::from_secs(15);

/// JS: the text of the last assistant message in the chat log.
const LAST_REPLY: &str =
    "(([...document.querySelectorAll('#chat-log .msg-assistant')].pop() || {}).textContent || '')";

/// JS: the text of the first element matching `sel`, or "".
fn text_of(sel: &str) -> String {
    format!("((document.querySelector({sel:?}) || {{}}).textContent || '')")
}

/// Types `text` into the element `sel` and fires `input`/`change`, as a user's typing does.
async fn fill(b: &Browser, sel: &str, text: &str) {
    b.wait_for(sel, &format!("document.querySelector({sel:?})"), WAIT)
        .await;
    b.js(
        "const el = document.querySelector(arguments[0]);
         el.focus();
         if (el.type === 'checkbox') { el.checked = arguments[1] === 'true'; }
         else { el.value = arguments[1]; }
         el.dispatchEvent(new Event('input', {bubbles: true}));
         el.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![json!(sel), json!(text)],
    )
    .await;
}

async fn click(b: &Browser, sel: &str) {
    b.wait_for(
        &format!("{sel} enabled"),
        &format!("(e => e && !e.disabled)(document.querySelector({sel:?}))"),
        WAIT,
    )
    .await;
    b.js(
        "document.querySelector(arguments[0]).click()",
        vec![json!(sel)],
    )
    .await;
}

async fn go(b: &Browser, route: &str) {
    b.js("location.hash = arguments[0]", vec![json!(route)])
        .await;
}

#[tokio::test]
async fn the_control_ui_in_a_real_browser() {
    let mock = openclaw_mock_provider::spawn(MockOptions::default())
        .await
        .unwrap();
    let cfg = format!(
        r#"{{ gateway: {{ mode: "local", auth: {{ token: "{TOKEN}" }} }},
             models: {{ providers: {{ mock: {{ baseUrl: "{o}", api: "openai-completions" }} }} }},
             agents: {{ defaults: {{ model: "mock/m" }},
               list: [ {{ id: "main", default: true }},
                       {{ id: "slow", model: "mock/mock-chunkdelay-250" }} ] }} }}"#,
        o = mock.openai_base_url(),
    );
    let gw = start(Spec::default().config(&cfg));
    let b = Browser::start().await;

    // A wrong token: a clear error on the login form, nothing stored.
    let base = gw.http("/");
    b.client
        .goto(&format!("{base}#token=wrong-token-0000000000"))
        .await
        .unwrap();
    let err = b
        .wait_for("the login error", &text_of("#login-error"), WAIT)
        .await;
    let err = err.as_str().unwrap().to_lowercase();
    assert!(
        err.contains("token") || err.contains("unauthorized"),
        "the error names the problem: {err}"
    );
    b.screenshot("login-wrong-token").await;
    let stored = b.js("return JSON.stringify(sessionStorage)", vec![]).await;
    assert!(
        !stored.as_str().unwrap().contains("wrong-token"),
        "{stored}"
    );

    // The dashboard URL logs in; the token leaves the address bar and stays in this tab.
    let out = gw.cli(&["dashboard", "--no-open", "--url", &gw.url()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let url = out
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL")
        .to_owned();
    b.js("sessionStorage.clear()", vec![]).await;
    // A fresh load (not a same-document fragment change).
    b.client.goto("about:blank").await.unwrap();
    b.client.goto(&url).await.unwrap();
    let version = b
        .wait_for("the version on Overview", &text_of("#ov-version"), WAIT)
        .await;
    assert!(
        version
            .as_str()
            .unwrap()
            .contains(env!("CARGO_PKG_VERSION")),
        "{version}"
    );
    let href = b.js("return location.href", vec![]).await;
    assert!(!href.as_str().unwrap().contains("token"), "{href}");
    let stores = b
        .js(
            "return [JSON.stringify(sessionStorage), JSON.stringify(localStorage)]",
            vec![],
        )
        .await;
    assert!(stores[0].as_str().unwrap().contains(TOKEN), "{stores}");
    assert!(!stores[1].as_str().unwrap().contains(TOKEN), "{stores}");
    // Overview lists this browser's connection.
    b.wait_for(
        "the UI's own connection in presence",
        &format!(
            "{}.includes('openclaw-control-ui')",
            text_of("#ov-presence")
        ),
        WAIT,
    )
    .await;
    let timing = b
        .js(
            "const n = performance.getEntriesByType('navigation')[0];
             const r = performance.getEntriesByName('openclaw:connected')[0];
             return {domInteractive: n ? n.domInteractive : null, connected: r ? r.startTime : null};",
            vec![],
        )
        .await;
    eprintln!("control-ui load timing (ms): {timing}");
    b.screenshot("overview").await;

    // Chat: a reply streams in and is in the history.
    go(&b, "#/chat").await;
    fill(&b, "#chat-input", "hello from the browser").await;
    click(&b, "#chat-send").await;
    b.wait_for(
        "the echoed reply",
        &format!(
            "{}.includes('echo: hello from the browser')",
            text_of("#chat-log")
        ),
        WAIT,
    )
    .await;
    let (mut ws, _) = connect(&gw.url(), TOKEN, Some(vec!["operator.admin"]), "test").await;
    let hist = call(
        &mut ws,
        "h1",
        "chat.history",
        json!({"sessionKey": "agent:main:main"}),
    )
    .await;
    assert!(
        hist.to_string().contains("echo: hello from the browser"),
        "{hist}"
    );
    b.screenshot("chat").await;

    // Abort stops a slow stream: the slow agent's reply stops short of its end.
    fill(&b, "#chat-agent", "slow").await;
    let long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone twentytwo twentythree twentyfour";
    fill(&b, "#chat-input", long).await;
    click(&b, "#chat-send").await;
    b.wait_for(
        "the first streamed words",
        &format!("{LAST_REPLY}.includes('echo: one')"),
        WAIT,
    )
    .await;
    click(&b, "#chat-abort").await;
    // The gateway reports the run as aborted (a run left alone ends "final" instead)...
    b.wait_for(
        "the reply marked aborted",
        &format!("{LAST_REPLY}.includes('aborted')"),
        WAIT,
    )
    .await;
    // ...and the page shows a partial reply, not the whole one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = b.js(&format!("return {LAST_REPLY}"), vec![]).await;
    assert!(
        !log.as_str().unwrap().contains("twentyfour"),
        "the stream went on after abort: {log}"
    );
    b.screenshot("chat-aborted").await;

    // Logs: a line written after the page opened shows up.
    go(&b, "#/logs").await;
    b.wait_for(
        "log lines",
        "document.querySelector('#logs-lines .log-line')",
        WAIT,
    )
    .await;
    let marker = "http://marker-origin-4242.example";
    let r = reqwest::Client::new()
        .get(gw.http("/v1/models"))
        .header("origin", marker)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    b.wait_for(
        "the new log line",
        &format!("{}.includes('marker-origin-4242')", text_of("#logs-lines")),
        WAIT,
    )
    .await;
    b.screenshot("logs").await;

    // Sessions: the chat's session is listed and reset empties it.
    go(&b, "#/sessions").await;
    let row = "#sessions-list .session-row[data-key='agent:main:main']";
    b.wait_for(
        "the main session row",
        &format!("document.querySelector({row:?})"),
        WAIT,
    )
    .await;
    b.screenshot("sessions").await;
    b.js(
        "const r = document.querySelector(arguments[0]); r.focus(); r.click();
         r.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));",
        vec![json!(row)],
    )
    .await;
    b.wait_for(
        "the preview",
        &format!(
            "{}.includes('hello from the browser')",
            text_of("#sessions-preview")
        ),
        WAIT,
    )
    .await;
    click(&b, "#sessions-reset").await;
    click(&b, "#sessions-confirm").await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let hist = call(
            &mut ws,
            "h2",
            "chat.history",
            json!({"sessionKey": "agent:main:main"}),
        )
        .await;
        if !hist.to_string().contains("hello from the browser") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not reset: {hist}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Channels page renders (no channels configured here).
    go(&b, "#/channels").await;
    b.wait_for(
        "the channels table",
        "document.querySelector('#channels-table')",
        WAIT,
    )
    .await;
    b.screenshot("channels").await;

    // Config: a field edited in the form is applied.
    go(&b, "#/config").await;
    // Secrets are shown as secrets (the rules come from config.schema), never as values.
    b.wait_for(
        "the gateway token shown as a secret",
        "(e => e && e.hasAttribute('data-secret'))(document.querySelector(\"[data-path='gateway.auth.token']\"))",
        WAIT,
    )
    .await;
    let leaked = b
        .js(
            "return [...document.querySelectorAll('input, textarea')].some(e => e.value.includes(arguments[0]))
                 || document.body.innerText.includes(arguments[0])",
            vec![json!(TOKEN)],
        )
        .await;
    assert_eq!(leaked, json!(false), "the config page shows the token");
    let field = "[data-path='gateway.rateLimit.requestsPerMinute']";
    fill(&b, field, "77").await;
    b.wait_for("the plan", &text_of("#config-plan"), WAIT).await;
    b.screenshot("config-form").await;
    click(&b, "#config-save").await;
    let changed = next_event(&mut ws, "config.changed").await;
    assert!(changed.is_object(), "{changed}");
    b.wait_for("the saved status", &text_of("#config-status"), WAIT)
        .await;
    let file = std::fs::read_to_string(gw.state.join("openclaw.json")).unwrap();
    assert!(file.contains("77"), "{file}");
    // A stale edit: the field is edited, the file changes behind the page's back, then
    // the form saves with the hash it loaded: refused as a conflict, nothing overwritten.
    fill(&b, field, "55").await;
    let out = gw.cli(&[
        "config",
        "set",
        "gateway.rateLimit.burst",
        "9",
        "--url",
        &gw.url(),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    b.wait_for(
        "the changed-elsewhere notice",
        &format!(
            "!document.querySelector('#config-conflict').hidden && {}.includes('changed elsewhere')",
            text_of("#config-conflict")
        ),
        WAIT,
    )
    .await;
    click(&b, "#config-save").await;
    b.wait_for(
        "the save refused as stale",
        &format!(
            "!document.querySelector('#config-conflict').hidden && {}.includes('nothing was written')",
            text_of("#config-conflict")
        ),
        WAIT,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let file = std::fs::read_to_string(gw.state.join("openclaw.json")).unwrap();
    assert!(
        !file.contains("55"),
        "a stale edit overwrote the file: {file}"
    );
    b.js(
        "document.querySelector('#config-conflict').scrollIntoView({block: 'center'})",
        vec![],
    )
    .await;
    b.screenshot("config-conflict").await;

    // Debug: any method, its answer.
    go(&b, "#/debug").await;
    fill(&b, "#debug-method", "health").await;
    fill(&b, "#debug-params", "{}").await;
    click(&b, "#debug-call").await;
    b.wait_for(
        "the health answer",
        &format!("{}.includes('uptimeMs')", text_of("#debug-result")),
        WAIT,
    )
    .await;
    b.screenshot("debug").await;

    // Readable on a phone: at 390 px every page fits the width (no sideways scrolling).
    b.client.set_window_size(390, 844).await.unwrap();
    for page in [
        "overview", "chat", "sessions", "channels", "config", "logs", "debug",
    ] {
        go(&b, &format!("#/{page}")).await;
        b.wait_for(
            &format!("the {page} page"),
            "document.querySelector('main') && document.querySelector('main').children.length > 0",
            WAIT,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let widths = b
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await;
        let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
        b.screenshot(&format!("phone-{page}")).await;
        assert!(
            scroll <= inner,
            "#/{page} is {scroll} px wide in a {inner} px window"
        );
    }

    // A page from another origin cannot open the gateway's WebSocket.
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_port = other.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = other.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let body = "<!doctype html><title>elsewhere</title><p>another site</p>";
                let res = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(res.as_bytes()).await;
            });
        }
    });
    b.client
        .goto(&format!("http://127.0.0.1:{other_port}/"))
        .await
        .unwrap();
    let outcome = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const ws = new WebSocket(arguments[0]);
             ws.onopen = () => done('open');
             ws.onerror = () => done('refused');",
            vec![json!(gw.url())],
        )
        .await
        .unwrap();
    assert_eq!(outcome, Value::from("refused"));
    b.close().await;
}
