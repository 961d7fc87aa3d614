// Control UI entry: login, connection, router, page mounting.
import { h, replace } from "./lib/dom.js";
import { GatewayClient, defaultUrl } from "./lib/gateway.js";
import { loadCredential, saveCredential, clearCredential, lastUrl, setLastUrl, importHashToken } from "./lib/auth.js";

const ROUTES = [
  ["overview", "Overview"], ["chat", "Chat"], ["sessions", "Sessions"], ["channels", "Channels"],
  ["config", "Config"], ["logs", "Logs"], ["debug", "Debug"],
];
const loaders = {
  overview: () => import("./pages/overview.js"),
  chat: () => import("./pages/chat.js"),
  sessions: () => import("./pages/sessions.js"),
  channels: () => import("./pages/channels.js"),
  config: () => import("./pages/config.js"),
  logs: () => import("./pages/logs.js"),
  debug: () => import("./pages/debug.js"),
};

const metaBase = document.querySelector('meta[name="openclaw-base"]')?.content || "/";
const BASE = metaBase.startsWith("/") ? metaBase : "/";
const $ = (id) => document.getElementById(id);

const listeners = new Map(); // event name -> Set(handler)
let client = null;
let unmount = null;
let mountToken = 0;
let shellShown = false;

const app = {
  hello: null,
  connected: false,
  gatewayUrl: lastUrl() || defaultUrl(BASE),
  call(method, params) {
    if (!client) return Promise.reject(Object.assign(new Error("not connected to the gateway"), { code: "OFFLINE" }));
    return client.call(method, params);
  },
  on(name, handler) {
    if (!listeners.has(name)) listeners.set(name, new Set());
    listeners.get(name).add(handler);
    return () => listeners.get(name)?.delete(handler);
  },
  navigate(route) {
    const r = String(route || "overview").replace(/^#?\/?/, "");
    if (location.hash === "#/" + r) route_(); else location.hash = "#/" + r;
  },
  toast(text, kind) {
    const el = h("div", { class: "toast " + (kind === "error" ? "error" : "ok"), role: kind === "error" ? "alert" : "status" }, String(text));
    $("toasts").append(el);
    setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
  },
};
window.openclawApp = app; // handy from the devtools console

function emit(name, payload, frame) {
  for (const key of [name, "*"]) {
    for (const fn of [...(listeners.get(key) || [])]) {
      try { fn(payload, frame); } catch (e) { console.error(`handler for ${name} failed`, e); }
    }
  }
}

function setStatus(state, detail) {
  const el = $("conn-status");
  const text = {
    connecting: "Connecting…",
    connected: "Connected" + (detail?.server?.version ? ` · ${detail.server.version}` : ""),
    reconnecting: detail?.delayMs != null ? `Reconnecting in ${Math.ceil(detail.delayMs / 1000)} s…` : "Reconnecting…",
    stopped: "Not connected",
  }[state] || state;
  el.textContent = text;
  el.dataset.state = state === "connected" ? "connected" : state === "stopped" ? (detail ? "error" : "offline") : "connecting";
}

function connect(url, cred) {
  client?.stop();
  app.gatewayUrl = url;
  const auth = cred && cred.secret ? { [cred.kind]: cred.secret } : null;
  const c = new GatewayClient({
    url,
    auth,
    onStatus: setStatus,
    onHello(hello) {
      if (c !== client) return;
      app.hello = hello;
      app.connected = true;
      showShell();
      // The load-time figure in docs/BENCHMARKS.md: navigation start to the first hello-ok.
      if (!performance.getEntriesByName("openclaw:connected").length) performance.mark("openclaw:connected");
      emit("_connected", hello, null);
    },
    onDisconnected() {
      if (c !== client) return;
      app.connected = false;
      emit("_disconnected", null, null);
    },
    onEvent(frame) {
      if (c !== client) return;
      if (frame.event === "presence" && app.hello?.snapshot && frame.payload?.presence) app.hello.snapshot.presence = frame.payload.presence;
      if (frame.event === "health" && app.hello?.snapshot && frame.payload) app.hello.snapshot.health = frame.payload;
      emit(frame.event, frame.payload, frame);
    },
    onFatal(err) {
      if (c !== client) return;
      app.connected = false;
      let msg;
      if (err.auth || err.code === "CONNECT_REFUSED" || err.details?.code) {
        clearCredential(url);
        msg = `The gateway refused the ${cred?.kind || "token"}: ${err.message}`;
      } else if (err.closeCode) {
        msg = err.message;
      } else {
        msg = `The gateway refused the connection: ${err.message}`;
      }
      showLogin(msg);
    },
  });
  client = c;
  c.start();
}

function showLogin(error) {
  shellShown = false;
  unmountPage();
  $("nav").hidden = true;
  $("logout").hidden = true;
  const cred = loadCredential(app.gatewayUrl);
  const main = $("main");
  const form = h("form", { id: "login-form", class: "card login", novalidate: true, "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Connect to the gateway"),
    h("div", { id: "login-error", role: "alert" }, error || ""),
    h("div", { class: "field" },
      h("label", { for: "login-url" }, "Gateway URL"),
      h("input", { id: "login-url", name: "url", type: "url", required: true, autocomplete: "url", spellcheck: "false", value: app.gatewayUrl })),
    h("div", { class: "field" },
      h("label", { for: "login-kind" }, "Credential type"),
      h("select", { id: "login-kind", name: "kind" },
        h("option", { value: "token", selected: cred?.kind !== "password" }, "Token"),
        h("option", { value: "password", selected: cred?.kind === "password" }, "Password"))),
    h("div", { class: "field" },
      h("label", { for: "login-secret", id: "login-secret-label" }, cred?.kind === "password" ? "Password" : "Token"),
      h("input", { id: "login-secret", name: "secret", type: "password", autocomplete: "current-password", spellcheck: "false", value: cred?.secret || "", "aria-describedby": "login-help" }),
      h("small", { id: "login-help", class: "muted" }, "Kept in this browser tab only (sessionStorage). Leave empty if the gateway has no auth.")),
    h("button", { id: "login-submit", class: "primary", type: "submit" }, "Connect"));
  form.querySelector("#login-kind").addEventListener("change", (e) => {
    form.querySelector("#login-secret-label").textContent = e.target.value === "password" ? "Password" : "Token";
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const url = form.querySelector("#login-url").value.trim();
    const kind = form.querySelector("#login-kind").value;
    const secret = form.querySelector("#login-secret").value;
    const errEl = form.querySelector("#login-error");
    if (!/^wss?:\/\/[^\s/]+/i.test(url)) {
      errEl.textContent = "The gateway URL must start with ws:// or wss://";
      form.querySelector("#login-url").setAttribute("aria-invalid", "true");
      form.querySelector("#login-url").focus();
      return;
    }
    form.querySelector("#login-url").removeAttribute("aria-invalid");
    errEl.textContent = "";
    setLastUrl(url);
    if (secret) saveCredential(url, kind, secret); else clearCredential(url);
    form.querySelector("#login-submit").disabled = true;
    form.querySelector("#login-submit").textContent = "Connecting…";
    connect(url, secret ? { kind, secret } : null);
  });
  replace(main, form);
  document.title = "Connect · OpenClaw";
  const focusEl = error ? form.querySelector("#login-secret") : form.querySelector(cred ? "#login-submit" : "#login-secret");
  focusEl?.focus();
}

function showShell() {
  if (shellShown) return;
  shellShown = true;
  $("nav").hidden = false;
  $("logout").hidden = false;
  route_(false);
}

function renderNav(current) {
  const nav = $("nav");
  if (!nav.firstChild) {
    for (const [id, title] of ROUTES) nav.append(h("a", { href: "#/" + id, dataset: { route: id } }, title));
  }
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.route === current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function currentRoute() {
  const m = /^#\/([a-z-]+)/.exec(location.hash || "");
  const id = m ? m[1] : "overview";
  return loaders[id] ? id : "overview";
}

function unmountPage() {
  mountToken++;
  if (unmount) { try { unmount(); } catch (e) { console.error(e); } }
  unmount = null;
}

async function route_(focus = true) {
  if (!shellShown) return;
  const id = currentRoute();
  if (!/^#\/[a-z-]+/.test(location.hash) || location.hash.slice(2) !== id) history.replaceState(null, "", "#/" + id);
  renderNav(id);
  unmountPage();
  const token = mountToken;
  const main = $("main");
  const root = h("div", { class: "page page-" + id });
  replace(main, root);
  const title = ROUTES.find((r) => r[0] === id)[1];
  document.title = `${title} · OpenClaw`;
  let page;
  try {
    page = (await loaders[id]()).default;
  } catch (e) {
    console.error(e);
    if (token !== mountToken) return;
    replace(root, h("h1", null, title), h("p", { class: "muted" }, "This page is not available in this build."));
    return;
  }
  if (token !== mountToken) return;
  if (page?.title) document.title = `${page.title} · OpenClaw`;
  try {
    const off = page.mount(root, app);
    unmount = typeof off === "function" ? off : null;
  } catch (e) {
    console.error(e);
    replace(root, h("h1", null, title), h("p", { class: "error" }, `This page failed to load: ${e.message}`));
  }
  if (focus) main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", () => {
  if (/^#token=/.test(location.hash)) {
    if (importHashToken(app.gatewayUrl)) connect(app.gatewayUrl, loadCredential(app.gatewayUrl));
    return;
  }
  route_();
});

$("logout").addEventListener("click", () => {
  clearCredential(app.gatewayUrl);
  client?.stop();
  client = null;
  app.connected = false;
  app.hello = null;
  setStatus("stopped");
  showLogin("");
});

// Start-up.
importHashToken(app.gatewayUrl);
const saved = loadCredential(app.gatewayUrl);
if (saved) {
  replace($("main"), h("p", { class: "muted" }, "Connecting to ", app.gatewayUrl, "…"));
  connect(app.gatewayUrl, saved);
} else {
  showLogin("");
}
