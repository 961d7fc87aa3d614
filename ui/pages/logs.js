// Logs: live tail of the gateway log file through `logs.tail` (cursor polling).
import { h, replace } from "../lib/dom.js";

const MAX_LINES = 2000;
const POLL_MS = 1000;
const LEVELS = ["trace", "debug", "info", "warn", "error"];

function parse(line) {
  let v = null;
  try { v = JSON.parse(line); } catch { /* plain text */ }
  if (v && typeof v === "object") {
    const level = String(v.level || "").toLowerCase();
    const rest = Object.entries(v).filter(([k]) => !["time", "level", "subsystem", "message", "msg", "target"].includes(k));
    const extra = rest.length ? " " + rest.map(([k, x]) => `${k}=${typeof x === "string" ? x : JSON.stringify(x)}`).join(" ") : "";
    return { level, text: `${v.time || ""} ${v.subsystem || v.target ? "[" + (v.subsystem || v.target) + "] " : ""}${v.message ?? v.msg ?? ""}${extra}` };
  }
  const m = /\b(TRACE|DEBUG|INFO|WARN|WARNING|ERROR)\b/i.exec(line);
  const level = m ? m[1].toLowerCase().replace("warning", "warn") : "";
  return { level, text: line };
}

export default {
  id: "logs",
  title: "Logs",
  mount(root, app) {
    let cursor = null;
    let paused = false;
    let timer = null;
    let inflight = false;
    let stopped = false;
    let file = "";

    const level = h("select", { id: "logs-level" },
      h("option", { value: "" }, "All levels"),
      LEVELS.map((l) => h("option", { value: l }, `${l} and above`)));
    const filter = h("input", { id: "logs-filter", type: "search", placeholder: "Text to match", spellcheck: "false" });
    const pause = h("button", { id: "logs-pause", type: "button", "aria-pressed": "false" }, "Pause");
    const copy = h("button", { id: "logs-copy", type: "button" }, "Copy");
    const clear = h("button", { id: "logs-clear", type: "button" }, "Clear");
    const lines = h("div", { id: "logs-lines", class: "scroll", role: "log", "aria-label": "Log lines", tabindex: "0" });
    const info = h("p", { id: "logs-status", class: "muted", role: "status" });

    replace(root,
      h("div", { class: "toolbar" },
        h("h1", null, "Logs"), h("span", { class: "spacer" }),
        h("div", { class: "field" }, h("label", { for: "logs-level" }, "Level"), level),
        h("div", { class: "field" }, h("label", { for: "logs-filter" }, "Filter"), filter),
        pause, copy, clear),
      info, lines);

    const minLevel = () => LEVELS.indexOf(level.value);
    function visible(el) {
      const min = minLevel();
      const lv = LEVELS.indexOf(el.dataset.level);
      if (min > 0 && lv !== -1 && lv < min) return false;
      if (min > 0 && lv === -1) return false;
      const q = filter.value.trim().toLowerCase();
      return !q || el.textContent.toLowerCase().includes(q);
    }
    function applyFilter() { for (const el of lines.children) el.hidden = !visible(el); }

    function add(raw) {
      const stick = lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40;
      const frag = document.createDocumentFragment();
      for (const line of raw) {
        const p = parse(line);
        const el = h("div", { class: "log-line" + (p.level ? " lvl-" + p.level : ""), dataset: { level: p.level } },
          p.level ? h("span", { class: "lvl" }, p.level.toUpperCase()) : null, p.text);
        el.hidden = !visible(el);
        frag.append(el);
      }
      lines.append(frag);
      while (lines.childElementCount > MAX_LINES) lines.firstElementChild.remove();
      if (stick) lines.scrollTop = lines.scrollHeight;
    }

    function status(text, cls) { info.textContent = text; info.className = cls || "muted"; }

    async function poll() {
      timer = null;
      if (stopped) return;
      if (!paused && app.connected && !inflight) {
        inflight = true;
        try {
          const params = cursor == null ? { limit: 500 } : { cursor, limit: 1000 };
          const res = await app.call("logs.tail", params);
          if (stopped) return;
          if (res.reset) add(["--- log file was rotated or truncated; reading from the start ---"]);
          if (res.lines?.length) add(res.lines);
          cursor = res.cursor;
          file = res.file || file;
          status(`${file} · ${lines.childElementCount} lines shown${paused ? " · paused" : ""}`);
          if (res.truncated && cursor != null) { inflight = false; timer = setTimeout(poll, 50); return; }
        } catch (e) {
          if (!stopped) status(`Could not read the log: ${e.message}`, e.code === "OFFLINE" ? "warn" : "error");
        } finally { inflight = false; }
      } else if (!app.connected) status("Offline: the tail resumes when the gateway is back.", "warn");
      if (!stopped && !timer) timer = setTimeout(poll, POLL_MS);
    }

    level.addEventListener("change", applyFilter);
    filter.addEventListener("input", applyFilter);
    pause.addEventListener("click", () => {
      paused = !paused;
      pause.textContent = paused ? "Resume" : "Pause";
      pause.setAttribute("aria-pressed", String(paused));
      status(paused ? "Paused" : "Resuming…");
      if (!paused && !timer) poll();
    });
    clear.addEventListener("click", () => replace(lines));
    copy.addEventListener("click", async () => {
      const text = [...lines.children].filter((el) => !el.hidden).map((el) => el.textContent).join("\n");
      try {
        await navigator.clipboard.writeText(text);
        app.toast("Log lines copied", "ok");
      } catch {
        const range = document.createRange();
        range.selectNodeContents(lines);
        const sel = getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        let ok = false;
        try { ok = document.execCommand("copy"); } catch { /* unsupported */ }
        app.toast(ok ? "Log lines copied" : "Copy is blocked; the lines are selected, press Ctrl+C", ok ? "ok" : "error");
      }
    });
    const offs = [app.on("_connected", () => { if (!timer && !inflight) poll(); })];
    poll();
    return () => { stopped = true; clearTimeout(timer); offs.forEach((f) => f()); };
  },
};
