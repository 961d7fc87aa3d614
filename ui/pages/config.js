// #/config: form from config.schema + raw editor; writes carry config.get's hash (baseHash).
import { h, replace, append } from "../lib/dom.js";
import { loadPagesCss } from "./sessions.js";

// Which keys the gateway redacts, and the marker config.get puts in their place:
// config.schema's `x-openclaw-secrets` (from crates/config/src/redact.rs), set when the
// schema loads; the form is built only after that.
let REDACTED = null;
let secretKeys = [];
let secretSuffixes = [];
const isSecretKey = (k) => secretKeys.includes(k) || secretSuffixes.some((s) => k.endsWith(s));
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isRef = (v) => isObj(v) && ["env", "file", "exec"].includes(v.source) && typeof v.id === "string" && Object.keys(v).every((k) => ["source", "id", "provider"].includes(k));
const empty = (v) => v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length);
const same = (a, b) => (empty(a) && empty(b)) || JSON.stringify(a) === JSON.stringify(b);

// The gateway's reload rules (config.schema's `x-openclaw-reload`, from
// crates/gateway/src/reload.rs): which paths apply in place, which do nothing, and that
// everything else restarts the listener. Until the schema has loaded, nothing is claimed.
let rules = null;
const pill = (c) => h("span", { class: `pill reload-${c}` }, c === "none" ? "no effect" : c);
export function classify(path) {
  if (!rules) return "unknown";
  const under = (p) => path === p || path.startsWith(p + ".") || path.startsWith(p + "[");
  return rules.noop.some(under) ? "none" : rules.hot.some(under) ? "hot" : rules.otherwise || "restart";
}

/** JSON merge patch turning `a` into `b` (only what differs; removed keys become null). */
export function diffPatch(a, b) {
  if (!isObj(a) || !isObj(b)) return b === undefined ? null : b;
  const out = {};
  for (const k of Object.keys(a)) if (!(k in b) && a[k] !== undefined && a[k] !== null) out[k] = null;
  for (const [k, v] of Object.entries(b)) if (JSON.stringify(a[k]) !== JSON.stringify(v)) out[k] = isObj(a[k]) && isObj(v) ? diffPatch(a[k], v) : v;
  return out;
}

function getAt(obj, segs) { return segs.reduce((o, k) => (o == null ? undefined : o[k]), obj); }
function setAt(obj, segs, v) {
  let o = obj;
  segs.slice(0, -1).forEach((k) => { if (!isObj(o[k])) o[k] = {}; o = o[k]; });
  o[segs[segs.length - 1]] = v;
}

/** Flattens $ref, nullable anyOf/type arrays and const-oneOf enums. */
function norm(root, s) {
  if (!isObj(s)) return { any: true };
  let out = { ...s };
  for (let i = 0; out.$ref && i < 20; i++) {
    const { $ref, ...rest } = out;
    const target = $ref.startsWith("#/") ? $ref.slice(2).split("/").reduce((o, k) => o?.[k], root) : null;
    out = { ...(target || {}), ...rest, secret: out.secret || $ref === "#/$defs/Secret" };
  }
  if (Array.isArray(out.anyOf)) {
    const alts = out.anyOf.filter((a) => a.type !== "null");
    if (alts.length < out.anyOf.length) out.nullable = true;
    if (alts.some((a) => a.$ref === "#/$defs/Secret")) out.secret = true;
    const { anyOf, ...rest } = out;
    out = alts.length === 1 ? { ...norm(root, alts[0]), ...rest, default: rest.default, description: rest.description ?? alts[0].description } : { ...rest, alts: alts.map((a) => norm(root, a)) };
    if (out.alts && out.alts.some((a) => a.secret || (a.type === "object" && a.properties?.source))) out.secret = out.secret || !!out.alts.find((a) => a.type === "string");
  }
  if (Array.isArray(out.type)) {
    const t = out.type.filter((x) => x !== "null");
    if (t.length < out.type.length) out.nullable = true;
    out.type = t.length === 1 ? t[0] : t;
  }
  if (Array.isArray(out.oneOf) && out.oneOf.every((a) => "const" in a)) {
    out.enum = out.oneOf.map((a) => a.const);
    out.enumHelp = out.oneOf.map((a) => a.description || "");
  }
  if (isObj(out.additionalProperties) && (out.additionalProperties.$ref || out.additionalProperties.anyOf)) out.additionalProperties = norm(root, out.additionalProperties);
  if (Array.isArray(out.enum) && out.enum.includes(null)) { out.nullable = true; out.enum = out.enum.filter((e) => e !== null); }
  return out;
}

function kindOf(s, key, value) {
  if (s.secret || (isSecretKey(key) && (s.type === "string" || s.alts || s.any)) || value === REDACTED || isRef(value)) return "secret";
  if (s.enum) return "enum";
  if (s.type === "boolean") return "bool";
  if (s.type === "integer" || s.type === "number") return "number";
  if (s.type === "string") return "string";
  if (s.type === "array" && s.items) {
    const it = s.items;
    const scalar = (x) => ["string", "integer", "number"].includes(x.type) || (x.alts && x.alts.every(scalar)) || x.enum;
    if (scalar(it)) return "list";
  }
  if (s.type === "object" && s.properties) return "section";
  if (s.type === "object" && isObj(s.additionalProperties) && s.additionalProperties.properties && isObj(value)) return "map";
  return "json";
}

function showValue(v) {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

export default {
  id: "config",
  title: "Config",
  mount(root, app) {
    loadPagesCss();
    let pendingReload = false, schemaRoot = null, loaded = null, fields = [], rawText = "", gone = false, saving = false, seq = 0;
    const dirtyRaw = () => raw.value !== rawText;
    const changedFields = () => fields.filter((f) => f.changed());
    const hasEdits = () => !!changedFields().length || dirtyRaw();

    const tab = (id, label, panel) => h("button", { id, type: "button", role: "tab", "aria-controls": panel, "aria-selected": "false", tabindex: "-1", onclick: () => select(id) }, label);
    const tabForm = tab("config-tab-form", "Form", "config-panel-form");
    const tabRaw = tab("config-tab-raw", "Raw", "config-panel-raw");
    const tablist = h("div", { role: "tablist", "aria-label": "Config editor", class: "config-tabs" }, tabForm, tabRaw);
    const meta = h("p", { class: "muted config-meta" });
    const status = h("div", { id: "config-status", role: "status", "aria-live": "polite" });
    const conflict = h("div", { id: "config-conflict", role: "alert", class: "card warn", hidden: true });
    const errors = h("div", { id: "config-errors", role: "alert", hidden: true });
    const plan = h("div", { id: "config-plan", "aria-live": "polite", class: "card" });
    const save = h("button", { id: "config-save", type: "button", class: "primary", disabled: true, onclick: () => saveForm() }, "Save");
    const discard = h("button", { id: "config-discard", type: "button", disabled: true, onclick: () => load(true) }, "Discard");
    const form = h("div", { class: "config-form" });
    const panelForm = h("div", { id: "config-panel-form", role: "tabpanel", "aria-labelledby": "config-tab-form" },
      h("div", { class: "toolbar config-actions" }, save, discard), plan, form);
    const raw = h("textarea", { id: "config-raw", class: "code", rows: "30", spellcheck: "false", "aria-describedby": "config-raw-help" });
    const rawSave = h("button", { id: "config-raw-save", type: "button", class: "primary", onclick: () => saveRaw() }, "Save raw");
    const panelRaw = h("div", { id: "config-panel-raw", role: "tabpanel", "aria-labelledby": "config-tab-raw", hidden: true },
      h("p", { id: "config-raw-help", class: "muted" },
        "The active config as parsed (defaults filled in; secrets as ", h("code", { id: "config-redacted-marker" }, "the redaction marker"),
        " or their SecretRef: leave those to keep them). JSON is saved as a merge patch of your changes (config.patch); other JSON5 replaces the file (config.set)."),
      h("label", { for: "config-raw", class: "visually-hidden" }, "Raw config"), raw,
      h("div", { class: "toolbar" }, rawSave, h("button", { type: "button", onclick: () => { raw.value = rawText; refreshState(); } }, "Revert")));
    replace(root, h("div", { class: "toolbar" }, tablist), meta, conflict, errors, status, panelForm, panelRaw);
    raw.addEventListener("input", () => refreshState());

    function select(id) {
      for (const t of [tabForm, tabRaw]) {
        const on = t.id === id;
        t.setAttribute("aria-selected", String(on));
        t.tabIndex = on ? 0 : -1;
      }
      panelForm.hidden = id !== "config-tab-form";
      panelRaw.hidden = id !== "config-tab-raw";
    }
    tablist.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      const next = tabForm.getAttribute("aria-selected") === "true" ? tabRaw : tabForm;
      select(next.id); next.focus();
    });
    select("config-tab-form");

    function field(s, segs, value) {
      const path = segs.join(".");
      const key = segs[segs.length - 1];
      const kind = kindOf(s, key, value);
      const id = `cfg-${++seq}`;
      const helpId = `${id}-help`;
      const wrap = h("div", { class: `field cfg-field kind-${kind}`, dataset: { field: path } });
      const labelEl = h("label", { for: id }, key, " ", pill(classify(path)));
      const help = [s.description || ""];
      if (s.default !== undefined && !isObj(s.default)) help.push(` Default: ${showValue(s.default) || "(empty)"}.`);
      const helpEl = h("small", { id: helpId, class: "muted cfg-help" }, help.join(""));
      const common = { id, "data-path": path, "aria-describedby": helpId, name: path };
      const ph = s.default !== undefined && !isObj(s.default) ? showValue(s.default) : "";
      let input, read, f;
      if (kind === "bool") {
        input = h("input", { ...common, type: "checkbox", checked: value === true });
        read = () => input.checked;
        append(wrap, [h("div", { class: "row" }, input, labelEl), helpEl]);
      } else if (kind === "enum") {
        input = h("select", common, h("option", { value: "" }, ph ? `(default: ${ph})` : "(unset)"),
          s.enum.map((v, i) => h("option", { value: String(v), title: s.enumHelp?.[i] || null, selected: String(value) === String(v) }, String(v))));
        read = () => (input.value === "" ? null : s.enum.find((v) => String(v) === input.value));
      } else if (kind === "number") {
        input = h("input", { ...common, type: "number", value: showValue(value), placeholder: ph, min: s.minimum, max: s.maximum, step: s.type === "integer" ? "1" : "any" });
        read = () => { if (input.validity.badInput) throw new Error("not a number"); return input.value.trim() === "" ? null : Number(input.value); };
      } else if (kind === "string") {
        input = h("input", { ...common, type: "text", value: showValue(value), placeholder: ph, autocomplete: "off" });
        read = () => (input.value === "" ? null : input.value);
      } else if (kind === "list") {
        const numeric = s.items.type === "integer" || s.items.type === "number" || (s.items.alts || []).some((a) => a.type === "integer");
        input = h("textarea", { ...common, rows: "3", value: Array.isArray(value) ? value.join("\n") : "", placeholder: "one per line" });
        read = () => {
          const items = input.value.split("\n").map((l) => l.trim()).filter(Boolean);
          return items.map((l) => (numeric && /^-?\d+$/.test(l) ? Number(l) : l));
        };
        help.push(" One entry per line.");
        helpEl.textContent = help.join("");
      } else if (kind === "secret") {
        return secretField(s, segs, value, { wrap, labelEl, helpEl, common, id });
      } else {
        input = h("textarea", { ...common, class: "code", rows: JSON.stringify(value ?? "").length > 60 ? "5" : "2", value: value == null ? "" : JSON.stringify(value, null, 2), placeholder: ph || "JSON" });
        read = () => {
          if (input.value.trim() === "") return null;
          try { return JSON.parse(input.value); } catch { throw new Error("not valid JSON"); }
        };
        helpEl.textContent = help.join("") + " JSON value.";
      }
      if (kind !== "bool") append(wrap, [labelEl, input, helpEl]);
      f = { path, segs, kind, wrap, input, initial: value, read,
        changed() { try { const v = read(); return kind === "bool" ? !!v !== !!value : !same(v, value); } catch { return true; } },
        patchValue() { const v = read(); return kind === "json" && isObj(value) && isObj(v) ? diffPatch(value, v) : v; } };
      input.addEventListener(kind === "bool" || kind === "enum" ? "change" : "input", () => refreshState());
      fields.push(f);
      return wrap;
    }

    function secretField(s, segs, value, { wrap, labelEl, helpEl, common, id }) {
      const path = segs.join(".");
      const shown = isRef(value) ? `${value.source}: ${value.id}` : empty(value) ? "not set" : /^\$\{[^}]+\}$/.test(value) ? value : "set (value hidden)";
      const display = h("input", { ...common, type: "text", readonly: true, value: shown, "data-secret": "", class: "cfg-secret" });
      const srcSel = h("select", { id: `${id}-src`, "aria-label": `Source of the new ${path}` },
        ["value", "env", "file", "exec"].map((v) => h("option", { value: v }, v === "value" ? "literal value" : `SecretRef: ${v}`)));
      const newVal = h("input", { id: `${id}-new`, type: "password", autocomplete: "new-password", "aria-label": `New value for ${path}`, placeholder: "value, variable, path or command", "data-secret-new": path });
      const editor = h("div", { class: "row cfg-secret-edit", hidden: true }, srcSel, newVal);
      let replacing = false;
      const btn = h("button", { type: "button", class: "cfg-secret-replace", "aria-expanded": "false", onclick: () => {
        replacing = !replacing;
        editor.hidden = !replacing;
        btn.textContent = replacing ? "Keep current" : "Replace…";
        btn.setAttribute("aria-expanded", String(replacing));
        if (replacing) newVal.focus(); else newVal.value = "";
        refreshState();
      } }, "Replace…");
      srcSel.addEventListener("change", () => { newVal.type = srcSel.value === "value" ? "password" : "text"; refreshState(); });
      newVal.addEventListener("input", () => refreshState());
      append(wrap, [labelEl, h("div", { class: "row" }, display, btn), editor, helpEl]);
      helpEl.textContent += " Secret: use Replace to set a new one.";
      const read = () => {
        if (!replacing || newVal.value === "") return value;
        return srcSel.value === "value" ? newVal.value : { source: srcSel.value, id: newVal.value };
      };
      fields.push({ path, segs, kind: "secret", wrap, input: display, initial: value, read,
        changed: () => replacing && newVal.value !== "", patchValue: read });
      return wrap;
    }

    function section(s, segs, value, depth) {
      const path = segs.join(".");
      const kids = [];
      const props = s.properties || {};
      for (const [k, sub] of Object.entries(props)) kids.push(node(sub, [...segs, k], value?.[k], depth + 1));
      if (isObj(s.additionalProperties) && isObj(value)) {
        const addl = s.additionalProperties;
        for (const k of Object.keys(value)) if (!(k in props)) kids.push(node(addl, [...segs, k], value[k], depth + 1));
      } else if (s.additionalProperties === true && isObj(value)) {
        for (const k of Object.keys(value)) if (!(k in props)) kids.push(field({ any: true }, [...segs, k], value[k]));
      }
      if (!segs.length) return kids;
      return h("details", { open: true, class: `cfg-section depth-${Math.min(depth, 3)}`, dataset: { section: path } },
        h("summary", null, segs[segs.length - 1], " ", pill(classify(path))),
        s.description ? h("p", { class: "muted cfg-help" }, s.description) : null,
        kids.length ? kids : h("p", { class: "muted" }, "Nothing set (use the Raw tab)."));
    }

    function node(raw0, segs, value, depth) {
      const s = norm(schemaRoot, raw0);
      const kind = kindOf(s, segs[segs.length - 1], value);
      if (kind === "section") return section(s, segs, value, depth);
      if (kind === "map") return section({ ...s, properties: {} }, segs, value, depth);
      return field(s, segs, value);
    }

    function buildForm() {
      fields = [];
      const open = new Set([...form.querySelectorAll("details:not([open])")].map((d) => d.dataset.section));
      replace(form, section(norm(schemaRoot, schemaRoot), [], loaded.config, 0));
      form.querySelectorAll("details").forEach((d) => { if (open.has(d.dataset.section)) d.open = false; });
    }

    function refreshState() {
      const changed = [];
      for (const f of fields) {
        const c = f.changed();
        f.wrap.classList.toggle("changed", c);
        if (c) changed.push(f);
      }
      save.disabled = saving || !changed.length;
      discard.disabled = !changed.length && !dirtyRaw();
      save.textContent = changed.length ? `Save ${changed.length} change${changed.length > 1 ? "s" : ""}` : "Save";
      drawPlan(changed.map((f) => f.path));
    }

    function drawPlan(paths) {
      if (!paths.length) { replace(plan, h("p", { class: "muted" }, "No changes yet (edited fields are highlighted).")); return; }
      const mode = loaded?.config?.gateway?.reload?.mode || "hybrid"; // "off" acts as hybrid for RPC writes
      const classes = paths.map(classify);
      const needsRestart = classes.includes("restart"), anyHot = classes.includes("hot");
      const summary = (mode === "restart" && (needsRestart || anyHot)) || (needsRestart && mode !== "hot") ? "Saving restarts the gateway listener; connections drop briefly."
        : needsRestart ? "Hot changes apply now; restart-only ones wait for a restart (reload mode hot)." : anyHot ? "Saving applies in place (hot reload)." : "Saving has no runtime effect.";
      replace(plan, h("p", { class: needsRestart || mode === "restart" ? "warn" : "ok" }, h("strong", null, "Plan: "), summary),
        h("ul", { class: "cfg-plan-list" }, paths.map((p, i) => h("li", null, h("code", null, p), " ", pill(classes[i])))),
        h("p", { class: "muted" }, "Predicted from the reload rules; the save reply says what happened."));
    }

    function clearErrors() {
      errors.hidden = true; replace(errors);
      form.querySelectorAll(".field-error").forEach((e) => e.remove());
      form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    }

    function showError(message, path) {
      let target = null;
      if (path) {
        const segs = path.replace(/\[(\d+)\]/g, ".$1").split(".");
        for (let n = segs.length; n > 0 && !target; n--) target = fields.find((f) => f.path === segs.slice(0, n).join("."));
      }
      replace(status);
      const eid = `cfg-err-${++seq}`;
      if (target) {
        target.wrap.append(h("p", { class: "field-error", id: eid }, message));
        target.input.setAttribute("aria-invalid", "true");
        target.input.setAttribute("aria-describedby", `${target.input.getAttribute("aria-describedby") || ""} ${eid}`.trim());
        target.wrap.closest("details")?.setAttribute("open", "");
      }
      errors.hidden = false;
      if (!errors.firstChild) errors.append(h("strong", null, "Not saved:"), h("ul"));
      const ul = errors.querySelector("ul");
      ul.append(h("li", null, path ? h("code", null, path) : null, path ? ": " : "", message,
        target ? h("button", { type: "button", class: "link", onclick: () => { select("config-tab-form"); target.input.focus(); } }, " (go to field)") : null));
    }

    function showConflict(text) {
      conflict.hidden = false;
      replace(conflict, h("p", null, text),
        h("button", { id: "config-reload-latest", type: "button", onclick: () => load(true) }, "Reload (discard my edits)"));
    }

    async function load(discardEdits, quiet) {
      try {
        const [cfg, schema] = await Promise.all([app.call("config.get", {}), schemaRoot ? schemaRoot : app.call("config.schema", {})]);
        if (gone) return;
        schemaRoot = schema;
        const r = schema["x-openclaw-reload"];
        if (r && Array.isArray(r.hot) && Array.isArray(r.noop)) rules = r;
        const sec = schema["x-openclaw-secrets"];
        if (sec && typeof sec.redacted === "string") {
          REDACTED = sec.redacted;
          secretKeys = Array.isArray(sec.keys) ? sec.keys : [];
          secretSuffixes = Array.isArray(sec.suffixes) ? sec.suffixes : [];
          const marker = root.querySelector("#config-redacted-marker");
          if (marker) marker.textContent = REDACTED;
        }
        loaded = cfg;
        conflict.hidden = true;
        if (discardEdits) clearErrors();
        meta.textContent = `${cfg.path}${cfg.exists ? "" : " (not created yet: defaults)"} · hash ${String(cfg.hash).slice(0, 12)}`;
        rawText = JSON.stringify(cfg.config, null, 2) + "\n";
        raw.value = rawText;
        buildForm();
        refreshState();
        return true;
      } catch (e) {
        if (gone || quiet) return;
        replace(status, h("p", { class: "error" }, `Cannot load the config: ${e.message}`));
      }
    }

    function describe(res) {
      const what = res.changed?.length ? `: ${res.changed.join(", ")}` : "";
      return { hot: `Saved and applied in place (hot reload)${what}.`, restart: `Saved; the gateway restarts its listener to apply it${what}.`,
        "hot-pending-restart": `Saved; hot changes applied, the rest needs a restart${what}.`, none: "Saved; no effective change." }[res.applied] || `Saved (${res.applied})${what}.`;
    }

    async function write(method, rawParam) {
      if (saving) return;
      saving = true; save.disabled = rawSave.disabled = true;
      clearErrors(); replace(status);
      try {
        const res = await app.call(method, { raw: rawParam, baseHash: loaded.hash });
        loaded.hash = res.hash; // our own config.changed event carries this hash
        replace(status, h("p", { class: "ok" }, describe(res)));
        app.toast(describe(res), "ok");
        saving = false;
        if (res.applied === "restart") { pendingReload = true; setTimeout(() => !gone && load(true, true).then((ok) => { if (ok) pendingReload = false; }), 1500); }
        else await load(true);
      } catch (e) {
        const code = e.details?.code;
        if (code === "CONFIG_STALE") showConflict("The config file changed since you loaded it; nothing was written. Reload the latest version, then redo your change.");
        else if (code === "CONFIG_INVALID") showError(e.message.replace(/^config not written: /, ""), e.details.path);
        else if (code === "CONFIG_RELOAD_SKIPPED") { showError(`${e.message}. The file was written but is not active.`, ""); load(false); }
        else showError(e.message, "");
      } finally {
        saving = false; rawSave.disabled = false; refreshState();
      }
    }
    function saveForm() {
      const patch = {};
      try {
        for (const f of changedFields()) setAt(patch, f.segs, f.patchValue());
      } catch (e) { clearErrors(); showError(e.message, changedFields().find((f) => { try { f.read(); return false; } catch { return true; } })?.path); return; }
      if (!Object.keys(patch).length) return;
      if (REDACTED && JSON.stringify(patch).includes(REDACTED)) { clearErrors(); showError(`Would write ${REDACTED}; use Replace on the secret.`, ""); return; }
      write("config.patch", patch);
    }

    function saveRaw() {
      let parsed;
      try { parsed = JSON.parse(raw.value); } catch { parsed = undefined; }
      if (isObj(parsed)) {
        const patch = diffPatch(loaded.config, parsed);
        if (REDACTED && JSON.stringify(patch).includes(REDACTED)) { clearErrors(); showError(`${REDACTED} may only stay where it was.`, ""); return; }
        if (!Object.keys(patch).length) { replace(status, h("p", { class: "muted" }, "No changes to save.")); return; }
        return write("config.patch", patch);
      }
      if (REDACTED && raw.value.includes(REDACTED)) { clearErrors(); showError(`Not plain JSON, so it replaces the whole file: replace each ${REDACTED} first.`, ""); return; }
      write("config.set", raw.value);
    }

    const offs = [
      app.on("config.changed", (p) => {
        const where = p?.changed?.length ? ` (${p.changed.join(", ")})` : "";
        if (!loaded || saving || (p && p.hash === loaded.hash)) return;
        if (!hasEdits() && !saving) { load(false); replace(status, h("p", { class: "muted" }, `Reloaded: the config was changed elsewhere${where}.`)); }
        else showConflict(`The config was changed elsewhere${where} while you were editing; saving would be refused.`);
      }),
      app.on("_connected", () => { if (!loaded || pendingReload || !hasEdits()) load(pendingReload, false).then((ok) => { if (ok) pendingReload = false; }); }),
      app.on("_gap", () => { if (!hasEdits()) load(false); }),
    ];
    replace(plan, h("p", { class: "muted" }, "Loading…"));
    if (app.connected !== false) load(false);
    return () => { gone = true; offs.forEach((off) => off && off()); };
  },
};
