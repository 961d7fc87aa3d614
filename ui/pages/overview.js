// Overview: gateway identity, uptime, auth, reload state, connections, agents, channels, errors.
import { h, replace, duration, when } from "../lib/dom.js";

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.map(([k, v, id]) => [h("dt", null, k), h("dd", id ? { id } : null, v ?? "—")]));
}

function parseLine(line) {
  try { const v = JSON.parse(line); if (v && typeof v === "object") return v; } catch { /* plain text */ }
  const m = /\b(ERROR|WARN|INFO|DEBUG|TRACE)\b/i.exec(line);
  return { level: m ? m[1].toLowerCase() : "", message: line };
}

export default {
  id: "overview",
  title: "Overview",
  mount(root, app) {
    let status = null;
    let health = app.hello?.snapshot?.health || null;
    let presence = app.hello?.snapshot?.presence || [];
    let errors = [];
    let uptimeBase = null; // [uptimeMs, at]
    let loadError = "";

    const ids = ["ov-gateway", "ov-presence-card", "ov-agents-card", "ov-channels-card", "ov-errors-card"];
    const cards = Object.fromEntries(ids.map((id) => [id, h("section", { class: "card", id, "aria-labelledby": id + "-h" })]));
    const note = h("p", { class: "error", role: "alert", id: "ov-load-error" });
    replace(root,
      h("div", { class: "toolbar" }, h("h1", null, "Overview"), h("span", { class: "spacer" }),
        h("button", { type: "button", id: "ov-refresh", onclick: () => refresh() }, "Refresh")),
      note,
      h("div", { class: "grid" }, ids.map((id) => cards[id])));

    const uptimeText = () => uptimeBase ? duration(uptimeBase[0] + (Date.now() - uptimeBase[1])) : "—";

    function renderGateway() {
      const gw = status?.gateway || {};
      const reload = status?.reload || health?.reload || {};
      const snap = app.hello?.snapshot || {};
      replace(cards["ov-gateway"], h("h2", { id: "ov-gateway-h" }, "Gateway"), kv([
        ["Version", status?.version || health?.version || app.hello?.server?.version, "ov-version"],
        ["Uptime", uptimeText(), "ov-uptime"],
        ["Status", health?.status || (gw.draining ? "draining" : "live"), "ov-state"],
        ["Bind / port", gw.bind ? `${gw.bind} (${(gw.hosts || []).join(", ")}) : ${gw.port}` : null, "ov-bind"],
        ["Auth mode", gw.authMode || snap.authMode, "ov-auth"],
        ["Config", status?.configPath || snap.configPath, "ov-config"],
        ["Last reload", reload.lastReloadAt ? when(reload.lastReloadAt) : "never", "ov-reload"],
        ["Reload error", reload.lastError ? h("span", { class: "error" }, String(reload.lastError)) : h("span", { class: "ok" }, "none"), "ov-reload-error"],
        ["Running turns", health?.runs ?? "—", "ov-runs"],
      ]));
    }

    function renderPresence() {
      const rows = (presence || []).map((p) => h("tr", { class: "presence-row", dataset: { mode: p.mode || "" } },
        h("td", { class: "presence-client" }, p.host || "?", p.ip ? h("span", { class: "muted" }, ` (${p.ip})`) : null),
        h("td", { class: "presence-mode" }, p.mode || "—"),
        h("td", null, p.version || "—"),
        h("td", null, p.connId && p.connId === app.hello?.server?.connId ? h("span", { class: "pill ok" }, "this tab") : p.ts ? new Date(p.ts).toLocaleTimeString() : "—")));
      replace(cards["ov-presence-card"], h("h2", { id: "ov-presence-card-h" }, `Connections (${Math.max(0, presence.length - 1)} clients)`),
        h("div", { class: "table-wrap" }, h("table", { class: "data" },
          h("thead", null, h("tr", null, ["Client", "Mode", "Version", "Since"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", { id: "ov-presence" }, rows))));
    }

    function renderAgents() {
      const listing = status?.agents || null;
      const agents = listing?.agents || health?.agents || [];
      const def = listing?.defaultId || health?.defaultAgentId;
      const defAgent = agents.find((a) => a.id === def);
      replace(cards["ov-agents-card"], h("h2", { id: "ov-agents-card-h" }, "Agents"),
        h("p", null, "Default model: ", h("strong", { id: "ov-default-model" }, defAgent?.model?.primary || "not set")),
        h("div", { class: "table-wrap" }, h("table", { class: "data" },
          h("thead", null, h("tr", null, ["Agent", "Model", ""].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", { id: "ov-agents" }, agents.map((a) => h("tr", null,
            h("td", null, a.name && a.name !== a.id ? `${a.name} (${a.id})` : a.id),
            h("td", null, a.model?.primary || h("span", { class: "warn" }, "none"), a.model?.fallbacks?.length ? h("span", { class: "muted" }, ` → ${a.model.fallbacks.join(", ")}`) : null),
            h("td", null, a.id === def ? h("span", { class: "pill" }, "default") : null)))))));
    }

    function renderChannels() {
      const channels = status?.channels || health?.channels || {};
      const rows = [];
      for (const [name, ch] of Object.entries(channels)) {
        for (const [acct, s] of Object.entries(ch?.accounts || {})) {
          const state = !s?.enabled ? ["disabled", ""] : s.connected ? ["connected", "ok"] : s.running ? ["starting", "warn"] : ["down", "error"];
          rows.push(h("tr", null, h("td", null, name), h("td", null, s?.name || acct),
            h("td", null, h("span", { class: "pill " + state[1] }, state[0])),
            h("td", { class: s?.lastError ? "error" : "muted" }, s?.lastError || "—")));
        }
      }
      replace(cards["ov-channels-card"], h("h2", { id: "ov-channels-card-h" }, "Channels"),
        rows.length
          ? h("div", { class: "table-wrap" }, h("table", { class: "data", id: "ov-channels" },
              h("thead", null, h("tr", null, ["Channel", "Account", "State", "Last error"].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", null, rows)))
          : h("p", { class: "muted", id: "ov-channels" }, "No channel accounts configured."),
        h("p", null, h("a", { href: "#/channels" }, "Channel details")));
    }

    function renderErrors() {
      replace(cards["ov-errors-card"], h("h2", { id: "ov-errors-card-h" }, "Recent errors"),
        errors.length
          ? h("ul", { class: "log-errors", id: "ov-errors" }, errors.slice(-10).reverse().map((e) =>
              h("li", { class: e.level === "error" ? "error" : "warn" }, `${e.time || ""} ${e.subsystem ? "[" + e.subsystem + "] " : ""}${e.message || e.msg || JSON.stringify(e)}`)))
          : h("p", { class: "muted", id: "ov-errors" }, "No warnings or errors in the recent log."),
        h("p", null, h("a", { href: "#/logs" }, "Open logs")));
    }

    function renderAll() {
      note.textContent = loadError;
      renderGateway(); renderPresence(); renderAgents(); renderChannels(); renderErrors();
    }

    let busy = false;
    async function refresh() {
      if (busy) return;
      if (!app.connected) { loadError = "Not connected; showing the last known state."; renderAll(); return; }
      busy = true;
      const [s, p, l, hl] = await Promise.allSettled([
        app.call("status", {}), app.call("system-presence", {}), app.call("logs.tail", { limit: 300 }), app.call("health", {}),
      ]);
      busy = false;
      const failed = [];
      if (s.status === "fulfilled") { status = s.value; uptimeBase = [status.uptimeMs, Date.now()]; } else failed.push(`status: ${s.reason.message}`);
      if (p.status === "fulfilled" && Array.isArray(p.value)) presence = p.value; else if (p.status === "rejected") failed.push(`system-presence: ${p.reason.message}`);
      if (hl.status === "fulfilled") health = hl.value;
      if (l.status === "fulfilled") {
        errors = (l.value.lines || []).map(parseLine).filter((e) => /^(error|warn)/i.test(e.level || ""));
      }
      loadError = failed.join("; ");
      renderAll();
    }

    const offs = [
      app.on("presence", (pl) => { if (Array.isArray(pl?.presence)) { presence = pl.presence; renderPresence(); } }),
      app.on("health", (pl) => {
        if (!pl) return;
        health = pl;
        if (typeof pl.uptimeMs === "number") uptimeBase = [pl.uptimeMs, Date.now()];
        renderGateway(); renderAgents(); renderChannels();
      }),
      app.on("config.changed", () => refresh()),
      app.on("_gap", () => refresh()),
      app.on("_connected", () => refresh()),
      app.on("_disconnected", () => { loadError = "Connection lost; reconnecting…"; note.textContent = loadError; }),
    ];
    const snapUp = app.hello?.snapshot?.uptimeMs;
    if (typeof snapUp === "number") uptimeBase = [snapUp, Date.now()];
    renderAll();
    refresh();
    const tick = setInterval(() => { const el = root.querySelector("#ov-uptime"); if (el) el.textContent = uptimeText(); }, 1000);
    return () => { clearInterval(tick); offs.forEach((f) => f()); };
  },
};
