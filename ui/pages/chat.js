// Chat: one session's transcript, streaming replies, tool cards, abort, offline send queue.
import { h, replace } from "../lib/dom.js";

// Survives page switches: sends typed while offline go out in order after reconnect.
const queue = []; // {params, el}
let flushing = false;
let queueApp = null;
let onQueueSent = null; // (item, res) for the mounted page
const unconfirmed = []; // {runId, sessionKey, el}: sent, not yet in the transcript the server returns

function remember(runId, sessionKey, el) {
  if (!runId) return;
  unconfirmed.push({ runId, sessionKey, el });
  if (unconfirmed.length > 20) unconfirmed.shift();
}

function markSent(item, err) {
  item.el.classList.remove("msg-pending");
  const meta = item.el.querySelector(".msg-meta");
  if (err) item.el.classList.add("msg-error");
  if (meta) meta.textContent = err ? `You · not sent: ${err.message}` : "You";
}

async function flushQueue() {
  if (flushing || !queueApp?.connected) return;
  flushing = true;
  try {
    while (queue.length && queueApp.connected) {
      const item = queue[0];
      try {
        const res = await queueApp.call("chat.send", item.params);
        queue.shift();
        markSent(item, null);
        remember(res?.runId, item.params.sessionKey, item.el);
        onQueueSent?.(item, res);
      } catch (e) {
        if (e.code === "OFFLINE" || e.code === "TIMEOUT") break; // retried (same idempotency key) on the next connect
        queue.shift();
        markSent(item, e);
      }
    }
  } finally { flushing = false; }
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function textOf(message) {
  if (!message) return "";
  if (typeof message.content === "string") return message.content;
  if (Array.isArray(message.content)) return message.content.map((c) => (typeof c === "string" ? c : c?.text || "")).join("");
  return message.text || "";
}

function pretty(v) {
  if (v == null) return "";
  if (typeof v === "string") {
    try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return v; }
  }
  return JSON.stringify(v, null, 2);
}

export default {
  id: "chat",
  title: "Chat",
  mount(root, app) {
    if (!queueApp) { queueApp = app; app.on("_connected", () => flushQueue()); }
    const snapDefaults = app.hello?.snapshot?.sessionDefaults || {};
    let agents = [];
    let agentId = snapDefaults.defaultAgentId || "main";
    let mainKey = snapDefaults.mainKey || "main";
    let sessionKey = `agent:${agentId}:${mainKey}`;
    const ourRuns = new Set();
    const earlyTool = new Map(); // runId -> [agent tool payloads] seen before we knew the run
    let activeRun = null; // runId currently streaming
    let stream = null; // {runId, el, body}
    const toolCards = new Map(); // toolCallId -> card parts
    let historyToken = 0;

    const agentSel = h("select", { id: "chat-agent" });
    const sessionIn = h("input", { id: "chat-session", type: "text", list: "chat-session-list", spellcheck: "false", autocomplete: "off", value: mainKey, "aria-describedby": "chat-session-help" });
    const sessionList = h("datalist", { id: "chat-session-list" });
    const log = h("div", { id: "chat-log", class: "scroll", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Transcript", tabindex: "0" });
    const input = h("textarea", { id: "chat-input", rows: "3", placeholder: "Message (Enter to send, Shift+Enter for a new line)" });
    const sendBtn = h("button", { id: "chat-send", type: "submit", class: "primary" }, "Send");
    const abortBtn = h("button", { id: "chat-abort", type: "button", class: "danger", disabled: true }, "Abort");
    const info = h("p", { id: "chat-status", class: "muted", role: "status" });

    const form = h("form", { class: "composer", "aria-label": "Send a message" },
      h("label", { for: "chat-input", class: "visually-hidden" }, "Message"), input,
      h("div", { class: "buttons" }, sendBtn, abortBtn));
    replace(root, h("div", { class: "chat" },
      h("div", { class: "toolbar" },
        h("h1", null, "Chat"), h("span", { class: "spacer" }),
        h("div", { class: "field" }, h("label", { for: "chat-agent" }, "Agent"), agentSel),
        h("div", { class: "field" }, h("label", { for: "chat-session" }, "Session"), sessionIn, sessionList,
          h("span", { id: "chat-session-help", class: "visually-hidden" }, "A session name of the agent, or a full agent:ID:NAME key")),
        h("button", { type: "button", id: "chat-reload", onclick: () => loadHistory() }, "Reload")),
      log, info, form));

    const scrollDown = () => { log.scrollTop = log.scrollHeight; };
    const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const setInfo = (t, cls) => { info.textContent = t || ""; info.className = cls || "muted"; };
    const setRunning = (runId) => { activeRun = runId; abortBtn.disabled = !runId; };

    function resolveKey() {
      const raw = sessionIn.value.trim() || mainKey;
      return raw.startsWith("agent:") ? raw : `agent:${agentId}:${raw}`;
    }

    function addMsg(role, text, opts = {}) {
      const cls = ["msg", "msg-" + (role === "user" || role === "assistant" || role === "tool" ? role : "system")];
      if (opts.pending) cls.push("msg-pending");
      if (opts.error) cls.push("msg-error");
      const body = h("span", { class: "msg-body" }, text);
      const meta = h("span", { class: "msg-meta" }, opts.meta || (role === "user" ? "You" : role === "assistant" ? "Assistant" : role));
      const el = h("div", { class: cls.join(" "), dataset: opts.runId ? { runId: opts.runId } : undefined }, meta, body);
      if (opts.errorText) el.append(h("span", { class: "msg-meta error" }, opts.errorText));
      log.querySelector(".chat-empty")?.remove();
      const stick = nearBottom();
      (opts.before && opts.before.parentNode === log ? log.insertBefore(el, opts.before) : log.append(el));
      if (stick || opts.scroll) scrollDown();
      return { el, body, meta };
    }

    function toolCard(id, name) {
      if (id && toolCards.has(id)) return toolCards.get(id);
      const status = h("span", { class: "pill tool-status" }, "called");
      const args = h("pre", { class: "code tool-args" });
      const result = h("pre", { class: "code tool-result" });
      const card = h("details", { class: "tool-card" },
        h("summary", null, h("span", { class: "tool-name" }, name || "tool"), status),
        h("div", { class: "muted" }, "Arguments"), args,
        h("div", { class: "muted" }, "Result"), result);
      const wrap = h("div", { class: "msg msg-tool" }, card);
      log.querySelector(".chat-empty")?.remove();
      const stick = nearBottom();
      if (stream && stream.el.parentNode === log) log.insertBefore(wrap, stream.el); else log.append(wrap);
      if (stick) scrollDown();
      const parts = { wrap, card, status, args, result, name: card.querySelector(".tool-name") };
      if (id) toolCards.set(id, parts);
      return parts;
    }

    function setToolResult(parts, content, isError) {
      parts.result.textContent = pretty(content) || "(empty)";
      parts.status.textContent = isError ? "error" : "done";
      parts.status.className = "pill tool-status " + (isError ? "error" : "ok");
      parts.card.classList.toggle("tool-error", !!isError);
      if (isError) parts.card.open = true;
    }

    function renderEntry(m) {
      if (m.role === "tool") {
        const parts = toolCard(m.toolCallId, m.toolName);
        if (m.toolName) parts.name.textContent = m.toolName;
        setToolResult(parts, m.content, m.isError);
        return;
      }
      const text = m.content || "";
      if (text || m.error || !(m.toolCalls || []).length) {
        addMsg(m.role, text || (m.error ? "" : "(empty)"), {
          runId: m.runId, error: !!m.error, errorText: m.error || "",
          meta: m.role === "assistant" && m.model ? `Assistant · ${m.provider ? m.provider + "/" : ""}${m.model}` : undefined,
        });
      }
      for (const c of m.toolCalls || []) {
        const fn = c.function || c;
        const parts = toolCard(c.id || c.toolCallId, fn.name || c.name);
        parts.args.textContent = pretty(fn.arguments ?? c.args ?? c.input);
      }
    }

    async function loadHistory() {
      const token = ++historyToken;
      sessionKey = resolveKey();
      if (!app.connected) { setInfo("Offline: the transcript will load when the gateway is back."); return; }
      setInfo("Loading…");
      try {
        const res = await app.call("chat.history", { sessionKey, limit: 200 });
        if (token !== historyToken) return;
        toolCards.clear();
        const streaming = stream && stream.el;
        replace(log);
        if (res.hasMore) log.append(h("p", { class: "muted msg-system" }, "Older messages are not shown."));
        for (const m of res.messages || []) renderEntry(m);
        if (!(res.messages || []).length) log.append(h("p", { class: "muted chat-empty" }, "No messages yet in ", sessionKey, "."));
        const seen = new Set((res.messages || []).map((m) => m.runId).filter(Boolean));
        for (let i = unconfirmed.length - 1; i >= 0; i--) if (seen.has(unconfirmed[i].runId)) unconfirmed.splice(i, 1);
        if (streaming && activeRun) log.append(streaming);
        for (const u of unconfirmed) {
          if (u.sessionKey !== sessionKey) continue;
          if (streaming && activeRun && u.runId === stream?.runId) log.insertBefore(u.el, streaming); else log.append(u.el);
        }
        for (const q of queue) if (q.params.sessionKey === sessionKey) log.append(q.el);
        setInfo(`Session ${sessionKey}`);
        scrollDown();
      } catch (e) {
        if (token !== historyToken) return;
        setInfo(`Could not load the transcript: ${e.message}`, "error");
      }
    }

    async function loadAgents() {
      if (!app.connected) return;
      try {
        const res = await app.call("agents.list", {});
        agents = res.agents || [];
        mainKey = res.mainKey || mainKey;
        if (!agents.some((a) => a.id === agentId)) agentId = res.defaultId || agents[0]?.id || agentId;
        replace(agentSel, agents.map((a) => h("option", { value: a.id, selected: a.id === agentId }, a.name && a.name !== a.id ? `${a.name} (${a.id})` : a.id)));
      } catch (e) { setInfo(`Could not list agents: ${e.message}`, "error"); }
      try {
        const res = await app.call("sessions.list", { agentId, limit: 50 });
        const list = Array.isArray(res) ? res : res.sessions || [];
        replace(sessionList, list.map((s) => h("option", { value: s.key || s.sessionKey || "" })));
      } catch { /* optional */ }
    }

    function startStream(runId) {
      if (stream && stream.runId === runId) return stream;
      if (stream) stream.el.classList.remove("msg-streaming");
      const m = addMsg("assistant", "", { runId });
      m.el.classList.add("msg-streaming");
      stream = { runId, ...m };
      return stream;
    }

    function endStream(text, opts = {}) {
      if (!stream) return;
      stream.el.classList.remove("msg-streaming");
      if (text != null) stream.body.textContent = text;
      if (opts.error) { stream.el.classList.add("msg-error"); stream.el.append(h("span", { class: "msg-meta error" }, opts.error)); }
      if (opts.note) stream.el.append(h("span", { class: "msg-meta" }, opts.note));
      stream = null;
    }

    function adoptRun(runId) {
      if (!runId || ourRuns.has(runId)) return;
      ourRuns.add(runId);
      if (ourRuns.size > 50) ourRuns.delete(ourRuns.values().next().value);
      const early = earlyTool.get(runId);
      earlyTool.delete(runId);
      for (const p of early || []) onAgent(p);
    }

    function onChat(p) {
      if (!p || p.sessionKey !== sessionKey) return;
      adoptRun(p.runId);
      const text = textOf(p.message);
      const stick = nearBottom();
      if (p.state === "delta") {
        setRunning(p.runId);
        startStream(p.runId).body.textContent = text; // deltas carry the whole reply so far
      } else if (p.state === "final") {
        if (!stream || stream.runId !== p.runId) startStream(p.runId);
        endStream(text || "(no text)");
        if (activeRun === p.runId) setRunning(null);
      } else if (p.state === "aborted") {
        if (stream && stream.runId === p.runId) endStream(null, { note: "aborted" });
        else addMsg("system", "Run aborted.");
        if (activeRun === p.runId) setRunning(null);
      } else if (p.state === "error") {
        if (!stream || stream.runId !== p.runId) startStream(p.runId);
        endStream(null, { error: p.errorMessage || "the run failed" });
        if (activeRun === p.runId) setRunning(null);
      }
      if (stick) scrollDown();
    }

    function onAgent(p) {
      if (!p?.runId) return;
      if (!ourRuns.has(p.runId)) {
        if (p.stream === "tool" || p.stream === "lifecycle") {
          const list = earlyTool.get(p.runId) || [];
          if (list.length < 50) list.push(p);
          earlyTool.set(p.runId, list);
          if (earlyTool.size > 20) earlyTool.delete(earlyTool.keys().next().value);
        }
        return;
      }
      const d = p.data || {};
      if (p.stream === "lifecycle" && d.phase === "start") setRunning(p.runId);
      if (p.stream !== "tool") return;
      const id = d.toolCallId || `${p.runId}:${d.index ?? d.name}`;
      const parts = toolCard(id, d.name);
      if (d.name) parts.name.textContent = d.name;
      if (d.phase === "call" && d.argsDelta) parts.args.textContent += d.argsDelta;
      else if (d.phase === "start") { parts.args.textContent = pretty(d.args); parts.status.textContent = "running"; }
      else if (d.phase === "result") setToolResult(parts, d.result, d.isError);
    }

    function pendingBubble(text) {
      return addMsg("user", text, { pending: true, meta: "You · queued until reconnect", scroll: true });
    }

    onQueueSent = (item, res) => {
      if (item.params.sessionKey === sessionKey && res?.runId) { adoptRun(res.runId); setRunning(res.runId); }
    };

    async function send() {
      const message = input.value;
      if (!message.trim()) return;
      sessionKey = resolveKey();
      const params = { sessionKey, message, idempotencyKey: uuid() };
      input.value = "";
      if (!app.connected || queue.length) {
        const m = pendingBubble(message);
        queue.push({ params, el: m.el });
        setInfo(`${queue.length} message(s) queued; they are sent when the gateway is back.`);
        flushQueue();
        return;
      }
      const m = addMsg("user", message, { scroll: true });
      sendBtn.disabled = true;
      try {
        const res = await app.call("chat.send", params);
        remember(res?.runId, sessionKey, m.el);
        adoptRun(res?.runId);
        if (res?.runId && res.status !== "ok" && res.status !== "error") setRunning(res.runId);
      } catch (e) {
        if (e.code === "OFFLINE") {
          m.el.classList.add("msg-pending");
          m.meta.textContent = "You · queued until reconnect";
          queue.push({ params, el: m.el });
        } else {
          m.el.classList.add("msg-error");
          m.meta.textContent = `You · not sent: ${e.message}`;
          if (!input.value) input.value = message;
          app.toast(`Send failed: ${e.message}`, "error");
        }
      } finally { sendBtn.disabled = false; }
    }

    async function abort() {
      abortBtn.disabled = true;
      try {
        const res = await app.call("chat.abort", { sessionKey, runId: activeRun || undefined });
        if (!res?.aborted) { setRunning(null); endStream(null, { note: "nothing to abort" }); }
      } catch (e) {
        abortBtn.disabled = false;
        app.toast(`Abort failed: ${e.message}`, "error");
      }
    }

    form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) { e.preventDefault(); send(); }
    });
    abortBtn.addEventListener("click", abort);
    agentSel.addEventListener("change", () => {
      agentId = agentSel.value;
      if (!sessionIn.value.trim().startsWith("agent:")) { sessionIn.value = mainKey; }
      resetRun(); loadHistory(); loadAgents();
    });
    sessionIn.addEventListener("change", () => { resetRun(); loadHistory(); });
    sessionIn.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); resetRun(); loadHistory(); } });

    function resetRun() { if (stream) endStream(null); setRunning(null); }

    const offs = [
      app.on("chat", onChat),
      app.on("agent", onAgent),
      app.on("_connected", () => { loadAgents().then(loadHistory); }),
      app.on("_gap", () => loadHistory()),
      app.on("_disconnected", () => setInfo("Offline: messages you send now are queued.", "warn")),
    ];
    replace(agentSel, h("option", { value: agentId }, agentId));
    loadAgents().then(loadHistory);
    if (!app.connected) setInfo("Offline: messages you send now are queued.", "warn");
    input.focus();
    return () => { offs.forEach((f) => f()); onQueueSent = null; };
  },
};
