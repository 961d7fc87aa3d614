// #/channels: per-account status (channels.status), probe with latency, enable/disable.
import { h, replace, when } from "../lib/dom.js";
import { loadPagesCss } from "./sessions.js";

const span = (c, t) => h("span", { class: c }, t);
const yesNo = (v) => span(v ? "ok" : "muted", v ? "yes" : "no");

/** Merge patch enabling/disabling account `id` of channel `ch`. */
export function togglePatch(config, ch, id, enable) {
  const c = config?.channels?.[ch] || {};
  const accounts = c.accounts && typeof c.accounts === "object" ? c.accounts : {};
  // A lone top-level bot is the implicit account "default".
  if (id === "default" && !Object.keys(accounts).length) return { channels: { [ch]: { enabled: enable } } };
  const patch = { channels: { [ch]: { accounts: { [id]: { enabled: enable } } } } };
  // The channel switch overrides every account.
  if (enable && c.enabled === false) patch.channels[ch].enabled = true;
  return patch;
}

export default {
  id: "channels",
  title: "Channels",
  mount(root, app) {
    loadPagesCss();
    let status = null, gone = false, busy = false, timer = 0;
    const probes = new Map(); // "ch/id" -> {probe, at}: kept between plain status refreshes

    const probeBtn = h("button", { id: "channels-probe", type: "button", class: "primary", onclick: () => load(true) }, "Probe all");
    const info = h("span", { class: "muted", "aria-live": "polite" });
    const err = h("p", { class: "error", role: "alert", hidden: true });
    const tbody = h("tbody");
    const table = h("table", { id: "channels-table", class: "data" },
      h("caption", { class: "visually-hidden" }, "Channel accounts"),
      h("thead", null, h("tr", null, ["Channel", "Account", "Enabled", "Configured", "Running", "Connected", "Last error", "Probe", "Latency", ""].map((t) => h("th", { scope: "col" }, t)))),
      tbody);
    replace(root,
      h("div", { class: "toolbar" }, probeBtn, h("button", { type: "button", onclick: () => load(false) }, "Refresh"), info),
      err, h("div", { class: "scroll" }, table));

    function render() {
      const rows = [];
      const chans = status?.channels || {};
      const order = [...(status?.channelOrder || []), ...Object.keys(chans).filter((c) => !(status?.channelOrder || []).includes(c))];
      for (const ch of order) {
        const accts = chans[ch]?.accounts || {};
        for (const [id, a] of Object.entries(accts)) {
          const p = probes.get(`${ch}/${id}`);
          const pr = p?.probe;
          const bot = pr?.bot?.username ? `@${pr.bot.username}` : "";
          const toggle = h("button", {
            type: "button", class: "channel-toggle" + (a.enabled ? "" : " primary"), "aria-pressed": a.enabled ? "true" : "false",
            "aria-label": `${a.enabled ? "Disable" : "Enable"} ${ch} account ${id}`,
            onclick: () => toggleAccount(ch, id, !a.enabled),
          }, a.enabled ? "Disable" : "Enable");
          rows.push(h("tr", { class: "channel-row", dataset: { channel: ch, account: id, enabled: String(!!a.enabled), connected: String(!!a.connected) } },
            h("td", { class: "col-channel" }, ch),
            h("td", { class: "col-account" }, id, a.name ? span("muted", ` (${a.name})`) : null, a.required ? span("pill", "required") : null),
            h("td", { class: "col-enabled" }, yesNo(a.enabled)),
            h("td", { class: "col-configured" }, yesNo(a.configured)),
            h("td", { class: "col-running" }, yesNo(a.running), a.mode ? span("muted", ` ${a.mode}`) : null),
            h("td", { class: "col-connected", title: a.lastConnectedAt ? `last connected ${when(a.lastConnectedAt)}` : null },
              span(a.connected ? "ok" : a.enabled ? "warn" : "muted", a.connected ? "connected" : "not connected"),
              a.reconnectAttempts ? span("muted", ` (${a.reconnectAttempts} retries)`) : null),
            h("td", { class: "col-error" }, a.lastError ? span("error", a.lastError) : span("muted", "—")),
            h("td", { class: "col-probe", title: p ? `probed ${when(p.at)}` : null },
              !pr ? span("muted", "not probed") : pr.ok ? span("ok", `ok ${bot}`.trim()) : span("error", `failed: ${pr.error || "?"}`)),
            h("td", { class: "col-latency", dataset: pr ? { ms: String(pr.elapsedMs) } : {} }, pr && pr.elapsedMs != null ? `${pr.elapsedMs} ms` : "—"),
            h("td", null, toggle)));
        }
      }
      if (!rows.length) rows.push(h("tr", null, h("td", { colspan: "10", class: "muted" }, status ? "No channel accounts configured." : "Loading…")));
      replace(tbody, rows);
      info.textContent = status?.ts ? `as of ${when(status.ts)}` : "";
    }

    async function load(probe) {
      if (probe) { probeBtn.disabled = true; probeBtn.textContent = "Probing…"; }
      try {
        const res = await app.call("channels.status", probe ? { probe: true } : {});
        if (gone) return;
        status = res;
        if (probe) {
          for (const [ch, c] of Object.entries(res.channels || {}))
            for (const [id, a] of Object.entries(c.accounts || {})) if (a.probe) probes.set(`${ch}/${id}`, { probe: a.probe, at: res.ts || Date.now() });
        }
        err.hidden = true;
        render();
      } catch (e) {
        if (gone) return;
        err.textContent = `Cannot read channel status: ${e.message}`;
        err.hidden = false;
      } finally {
        if (probe && !gone) { probeBtn.disabled = false; probeBtn.textContent = "Probe all"; }
      }
    }

    async function toggleAccount(ch, id, enable) {
      if (busy) return;
      busy = true;
      tbody.querySelectorAll(".channel-toggle").forEach((b) => (b.disabled = true));
      try {
        let res;
        // Stale hash: someone else wrote the file; re-read and recompute once.
        for (let attempt = 0; ; attempt++) {
          const cur = await app.call("config.get", {});
          try {
            res = await app.call("config.patch", { raw: togglePatch(cur.config, ch, id, enable), baseHash: cur.hash });
            break;
          } catch (e) {
            if (e.details?.code !== "CONFIG_STALE" || attempt >= 1) throw e;
          }
        }
        app.toast(`${ch} account ${id} ${enable ? "enabled" : "disabled"} (${res.applied === "hot" ? "applied in place" : res.applied}).`, "ok");
      } catch (e) {
        app.toast(`Cannot ${enable ? "enable" : "disable"} ${ch}/${id}: ${e.message}`, "error");
      } finally {
        busy = false;
        if (!gone) { await load(false); clearTimeout(timer); timer = setTimeout(() => load(false), 1000); }
      }
    }

    const offs = [
      app.on("_connected", () => load(false)),
      app.on("_gap", () => load(false)),
      // health carries the same {channels: {<ch>: {accounts}}} snapshot; use it directly.
      app.on("health", (p) => {
        if (p && p.channels && typeof p.channels === "object") {
          status = { ...(status || {}), channels: p.channels, channelOrder: p.channelOrder || status?.channelOrder, ts: p.ts || Date.now() };
          if (!busy) render();
        } else load(false);
      }),
    ];
    render();
    if (app.connected !== false) load(false);
    return () => { gone = true; clearTimeout(timer); offs.forEach((off) => off && off()); };
  },
};
