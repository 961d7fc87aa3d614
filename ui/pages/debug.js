// Debug: call any method with JSON params; watch the raw event stream.
import { h, replace } from "../lib/dom.js";

const MAX_EVENTS = 200;

export default {
  id: "debug",
  title: "Debug",
  mount(root, app) {
    let paused = false;
    const methods = app.hello?.features?.methods || [];
    const method = h("input", { id: "debug-method", type: "text", list: "debug-methods", spellcheck: "false", autocomplete: "off", value: "status", required: true });
    const datalist = h("datalist", { id: "debug-methods" }, methods.map((m) => h("option", { value: m })));
    const params = h("textarea", { id: "debug-params", rows: "6", spellcheck: "false", "aria-describedby": "debug-params-error" }, "{}");
    const paramsErr = h("div", { id: "debug-params-error", class: "field-error", "aria-live": "polite" });
    const callBtn = h("button", { id: "debug-call", type: "submit", class: "primary" }, "Call");
    const result = h("pre", { id: "debug-result", class: "code", tabindex: "0", "aria-live": "polite", "aria-label": "Response" }, "—");
    const meta = h("p", { id: "debug-meta", class: "muted" });
    const pauseBtn = h("button", { id: "debug-events-pause", type: "button", "aria-pressed": "false" }, "Pause");
    const clearBtn = h("button", { id: "debug-events-clear", type: "button" }, "Clear");
    const hideTicks = h("input", { id: "debug-hide-ticks", type: "checkbox", checked: true });
    const events = h("div", { id: "debug-events", class: "scroll", role: "log", "aria-label": "Events", tabindex: "0" });

    const form = h("form", { class: "card", id: "debug-form", "aria-labelledby": "debug-call-h" },
      h("h2", { id: "debug-call-h" }, "Call a method"),
      h("div", { class: "field" }, h("label", { for: "debug-method" }, "Method"), method, datalist),
      h("div", { class: "field" }, h("label", { for: "debug-params" }, "Params (JSON)"), params, paramsErr),
      h("div", { class: "row" }, callBtn, meta),
      h("h2", null, "Response"), result);
    replace(root,
      h("h1", null, "Debug"),
      h("div", { class: "grid" },
        form,
        h("section", { class: "card", "aria-labelledby": "debug-ev-h" },
          h("div", { class: "toolbar" }, h("h2", { id: "debug-ev-h" }, "Events"), h("span", { class: "spacer" }),
            h("label", { class: "row" }, hideTicks, "Hide ticks"), pauseBtn, clearBtn),
          events),
        h("section", { class: "card", "aria-labelledby": "debug-hello-h" },
          h("h2", { id: "debug-hello-h" }, "Hello"),
          h("details", null, h("summary", null, "hello-ok payload"),
            h("pre", { class: "code", id: "debug-hello" }, JSON.stringify(app.hello, null, 2))))));

    function validate() {
      const text = params.value.trim();
      if (!text) { params.removeAttribute("aria-invalid"); paramsErr.textContent = ""; return { ok: true, value: undefined }; }
      try {
        const value = JSON.parse(text);
        params.removeAttribute("aria-invalid");
        paramsErr.textContent = "";
        return { ok: true, value };
      } catch (e) {
        params.setAttribute("aria-invalid", "true");
        paramsErr.textContent = `Not valid JSON: ${e.message}`;
        return { ok: false };
      }
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = method.value.trim();
      if (!name) { method.setAttribute("aria-invalid", "true"); method.focus(); return; }
      method.removeAttribute("aria-invalid");
      const v = validate();
      if (!v.ok) { params.focus(); return; }
      callBtn.disabled = true;
      result.textContent = "…";
      result.classList.remove("error");
      const t0 = performance.now();
      try {
        const res = await app.call(name, v.value);
        result.textContent = JSON.stringify(res, null, 2) ?? "null";
        meta.textContent = `ok · ${Math.round(performance.now() - t0)} ms`;
      } catch (err) {
        result.classList.add("error");
        result.textContent = JSON.stringify({ code: err.code, message: err.message, details: err.details, retryable: err.retryable, retryAfterMs: err.retryAfterMs }, null, 2);
        meta.textContent = `error · ${Math.round(performance.now() - t0)} ms`;
      } finally { callBtn.disabled = false; }
    });
    params.addEventListener("input", () => { if (params.hasAttribute("aria-invalid")) validate(); });
    params.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); } });
    pauseBtn.addEventListener("click", () => {
      paused = !paused;
      pauseBtn.textContent = paused ? "Resume" : "Pause";
      pauseBtn.setAttribute("aria-pressed", String(paused));
    });
    clearBtn.addEventListener("click", () => replace(events));

    const off = app.on("*", (payload, frame) => {
      if (paused || !frame) return;
      if (hideTicks.checked && frame.event === "tick") return;
      const stick = events.scrollHeight - events.scrollTop - events.clientHeight < 40;
      let text = JSON.stringify(payload);
      if (text && text.length > 2000) text = text.slice(0, 2000) + "…";
      events.append(h("div", { class: "debug-event" },
        h("strong", null, frame.event), frame.seq != null ? h("span", { class: "muted" }, ` #${frame.seq}`) : null, " ", text));
      while (events.childElementCount > MAX_EVENTS) events.firstElementChild.remove();
      if (stick) events.scrollTop = events.scrollHeight;
    });
    return () => off();
  },
};
