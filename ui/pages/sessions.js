// #/sessions: virtualized session list (sessions.list), search, preview, reset/delete.
import { h, replace, duration, when } from "../lib/dom.js";

const ROW_H = 56; // = .session-row height (pages.css)
const BUFFER = 8;
const MAX_LIMIT = 10000; // sessions.list: limit 1..=10000, no offset or cursor

export function loadPagesCss() {
  if (document.querySelector("link[data-pages-css]")) return;
  document.head.append(h("link", { rel: "stylesheet", href: new URL("./pages.css", import.meta.url).href, "data-pages-css": "" }));
}

const ago = (ms) => (ms ? `${duration(Math.max(0, Date.now() - ms))} ago` : "—");

const size = (b) => (b == null ? "" : b < 1024 ? `${b} B` : `${(b / 1024).toFixed(1)} KB`);

export default {
  id: "sessions",
  title: "Sessions",
  mount(root, app) {
    loadPagesCss();
    let all = [], shown = [], limit = 500, more = false, loading = false;
    let focusIdx = 0, selected = null, pending = null, raf = 0, searchTimer = 0, refreshTimer = 0, gone = false;

    const search = h("input", { id: "sessions-search", type: "search", placeholder: "Search key, agent, text", autocomplete: "off", "aria-controls": "sessions-list" });
    const count = h("span", { class: "muted", "aria-live": "polite" });
    const spacer = h("div", { class: "vlist-spacer" });
    const layer = h("div", { class: "vlist-rows" });
    const list = h("div", { id: "sessions-list", class: "vlist", role: "listbox", "aria-label": "Sessions" }, spacer, layer);
    const preview = h("section", { id: "sessions-preview", class: "card", "aria-live": "polite" }, h("p", { class: "muted" }, "Select a session."));
    const err = h("p", { class: "error", role: "alert", hidden: true });

    replace(root,
      h("div", { class: "toolbar" },
        h("label", { for: "sessions-search", class: "visually-hidden" }, "Search sessions"), search,
        h("button", { type: "button", onclick: () => refresh() }, "Refresh"), count),
      err,
      h("div", { class: "sessions-layout" }, list, preview));

    function matches(s, q) {
      return !q || s.key.toLowerCase().includes(q) || (s.agentId || "").toLowerCase().includes(q) || (s.lastPreview || "").toLowerCase().includes(q);
    }

    function applyFilter() {
      const q = search.value.trim().toLowerCase();
      shown = all.filter((s) => matches(s, q));
      const sel = selected ? shown.findIndex((s) => s.key === selected) : -1;
      focusIdx = Math.min(Math.max(0, sel >= 0 ? sel : focusIdx), Math.max(0, shown.length - 1));
      spacer.style.height = `${shown.length * ROW_H}px`;
      count.textContent = `${shown.length} of ${all.length}${more ? "+" : ""} sessions`;
      render();
    }

    function rowEl(s, i) {
      const el = h("div", {
        class: "session-row" + (s.key === selected ? " selected" : ""), role: "option", tabindex: i === focusIdx ? "0" : "-1",
        "aria-selected": s.key === selected ? "true" : "false", "aria-setsize": shown.length, "aria-posinset": i + 1,
        dataset: { key: s.key, index: String(i) },
      },
        h("div", { class: "session-line" },
          h("span", { class: "session-key" }, s.key),
          h("span", { class: "pill" }, s.agentId || "?"),
          s.running ? h("span", { class: "pill ok" }, `${s.running} running`) : null,
          h("span", { class: "muted session-time", title: when(s.updatedAt) }, ago(s.updatedAt))),
        h("div", { class: "session-line muted" },
          h("span", { class: "session-last" }, s.lastRole ? `${s.lastRole}: ${s.lastPreview ?? ""}` : "—"),
          h("span", { class: "session-size" }, size(s.sizeBytes))));
      el.style.top = `${i * ROW_H}px`; // CSSOM: allowed by the CSP
      return el;
    }

    function render() {
      raf = 0;
      const top = list.scrollTop, hgt = list.clientHeight || 480;
      const first = Math.max(0, Math.floor(top / ROW_H) - BUFFER);
      const last = Math.min(shown.length, Math.ceil((top + hgt) / ROW_H) + BUFFER);
      const hadFocus = list.contains(document.activeElement);
      const rows = [];
      for (let i = first; i < last; i++) rows.push(rowEl(shown[i], i));
      if (!shown.length) rows.push(h("p", { class: "muted vlist-empty" }, loading ? "Loading…" : all.length ? "No session matches." : "No sessions yet."));
      replace(layer, rows);
      if (hadFocus) layer.querySelector(`[data-index="${focusIdx}"]`)?.focus({ preventScroll: true });
      if (more && !loading && last >= shown.length - BUFFER && top > 0) loadMore();
    }

    const schedule = () => { if (!raf) raf = requestAnimationFrame(render); };

    async function load() {
      loading = true;
      try {
        const res = await app.call("sessions.list", { limit });
        if (gone) return;
        all = res.sessions || [];
        more = all.length >= limit && limit < MAX_LIMIT;
        err.hidden = true;
      } catch (e) {
        if (gone) return;
        err.textContent = `sessions.list failed: ${e.message}`;
        err.hidden = false;
      } finally {
        loading = false;
      }
      applyFilter();
    }

    function loadMore() {
      limit = Math.min(MAX_LIMIT, limit * 2);
      return load();
    }

    function refresh() { return load().then(() => selected && all.some((s) => s.key === selected) && openPreview(selected, true)); }

    function moveFocus(i, open) {
      if (!shown.length) return;
      focusIdx = Math.max(0, Math.min(shown.length - 1, i));
      const y = focusIdx * ROW_H;
      if (y < list.scrollTop) list.scrollTop = y;
      else if (y + ROW_H > list.scrollTop + list.clientHeight) list.scrollTop = y + ROW_H - list.clientHeight;
      render();
      layer.querySelector(`[data-index="${focusIdx}"]`)?.focus({ preventScroll: true });
      if (open) openPreview(shown[focusIdx].key);
    }

    list.addEventListener("scroll", schedule, { passive: true });
    list.addEventListener("click", (ev) => {
      const row = ev.target.closest(".session-row");
      if (row) moveFocus(Number(row.dataset.index), true);
    });
    list.addEventListener("keydown", (ev) => {
      const page = Math.max(1, Math.floor(list.clientHeight / ROW_H) - 1);
      const k = { ArrowDown: focusIdx + 1, ArrowUp: focusIdx - 1, PageDown: focusIdx + page, PageUp: focusIdx - page, Home: 0, End: shown.length - 1 }[ev.key];
      if (k !== undefined) { ev.preventDefault(); moveFocus(k, false); }
      else if ((ev.key === "Enter" || ev.key === " ") && ev.target.closest(".session-row")) { ev.preventDefault(); moveFocus(focusIdx, true); }
    });
    search.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => {
        list.scrollTop = 0;
        // Client-side search: first fetch all the gateway can list.
        if (search.value.trim() && more) { limit = MAX_LIMIT; load(); } else applyFilter();
      }, 150);
    });

    async function openPreview(key, quiet) {
      selected = key;
      pending = null;
      const s = all.find((x) => x.key === key);
      if (!quiet) replace(preview, h("h3", null, key), h("p", { class: "muted" }, "Loading…"));
      schedule();
      let items = [], perr = null;
      try {
        const res = await app.call("sessions.preview", { key, limit: 20 });
        items = res.previews?.[0]?.items || [];
      } catch (e) { perr = e; }
      if (gone || selected !== key) return;
      drawPreview(s, key, items, perr);
    }

    function drawPreview(s, key, items, perr) {
      const confirmBox = h("div", { class: "row sessions-confirm-box" });
      const ask = (action) => {
        pending = action;
        replace(confirmBox,
          h("button", { id: "sessions-confirm", type: "button", class: "danger", onclick: () => doAction(action, key) }, `Really ${action} ${key}?`),
          h("button", { id: "sessions-cancel", type: "button", onclick: () => { pending = null; replace(confirmBox); } }, "Cancel"));
        confirmBox.querySelector("#sessions-confirm").focus();
      };
      replace(preview,
        h("h3", { class: "session-key" }, key),
        h("p", { class: "muted" }, s ? `agent ${s.agentId} · updated ${when(s.updatedAt)} · ${size(s.sizeBytes)}` : "",
          ` · last ${items.length} message${items.length === 1 ? "" : "s"}`),
        h("div", { class: "toolbar" },
          h("button", { id: "sessions-reset", type: "button", onclick: () => ask("reset") }, "Reset"),
          h("button", { id: "sessions-delete", type: "button", class: "danger", onclick: () => ask("delete") }, "Delete")),
        confirmBox,
        perr ? h("p", { class: "error" }, `Cannot load the preview: ${perr.message}`) : null,
        items.length
          ? h("ol", { class: "session-items scroll" }, items.map((m) =>
            h("li", { class: `session-item role-${m.role}` },
              h("div", { class: "muted" }, `${m.role} · ${when(m.ts)}`, m.error ? h("span", { class: "error" }, ` · ${m.error}`) : null),
              h("div", { class: "session-text" }, m.content || (m.toolName ? `[tool ${m.toolName}]` : "")))))
          : perr ? null : h("p", { class: "muted" }, "No messages."));
    }

    async function doAction(action, key) {
      if (pending !== action) return;
      pending = null;
      const btn = preview.querySelector("#sessions-confirm");
      if (btn) btn.disabled = true;
      try {
        const res = await app.call(`sessions.${action}`, { key });
        const did = action === "reset" ? res.reset : res.deleted;
        app.toast(did ? `${key}: ${action} done.` : `${key} had no transcript to ${action}.`, did ? "ok" : "warn");
        if (action === "delete") { selected = null; replace(preview, h("p", { class: "muted" }, `${key} deleted.`)); }
        await load();
        if (action === "reset" && !gone) openPreview(key, true);
      } catch (e) {
        app.toast(`Cannot ${action} ${key}: ${e.message}`, "error");
        if (btn) btn.disabled = false;
        pending = action;
      }
    }

    // No sessions event: refresh (throttled) when chat runs end.
    const offs = [
      app.on("_connected", () => refresh()),
      app.on("_gap", () => refresh()),
      app.on("chat", (p) => {
        if (p && p.state && !["final", "error", "aborted"].includes(p.state)) return;
        if (!refreshTimer) refreshTimer = setTimeout(() => { refreshTimer = 0; load(); }, 2000);
      }),
    ];
    if (app.connected !== false) load(); else applyFilter();

    return () => {
      gone = true;
      offs.forEach((off) => off && off());
      clearTimeout(searchTimer); clearTimeout(refreshTimer);
      if (raf) cancelAnimationFrame(raf);
    };
  },
};
