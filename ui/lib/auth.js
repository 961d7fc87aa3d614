// Credential storage: sessionStorage only (gone when the tab closes), keyed by gateway URL.
// Never localStorage, never a URL query.

const PREFIX = "openclaw.cred:";
const LAST_URL = "openclaw.url";

function store() {
  try { return window.sessionStorage; } catch { return null; }
}

/** The credential saved for `url`: `{kind: "token"|"password", secret}` or null. */
export function loadCredential(url) {
  const raw = store()?.getItem(PREFIX + url);
  if (!raw) return null;
  try {
    const v = JSON.parse(raw);
    return v && typeof v.secret === "string" ? { kind: v.kind === "password" ? "password" : "token", secret: v.secret } : null;
  } catch { return null; }
}

export function saveCredential(url, kind, secret) {
  const s = store();
  if (!s) return;
  s.setItem(PREFIX + url, JSON.stringify({ kind, secret }));
  s.setItem(LAST_URL, url);
}

export function clearCredential(url) {
  store()?.removeItem(PREFIX + url);
}

/** The gateway URL used last in this tab, or null. */
export function lastUrl() {
  return store()?.getItem(LAST_URL) || null;
}

export function setLastUrl(url) {
  store()?.setItem(LAST_URL, url);
}

/**
 * `#token=X` in the address bar (as printed by `openclaw dashboard`): saved for `url`
 * and removed from the address bar and history entry. Returns true when one was imported.
 */
export function importHashToken(url) {
  const m = /^#token=([^&]*)/.exec(location.hash || "");
  if (!m) return false;
  let token = m[1];
  try { token = decodeURIComponent(token); } catch { /* keep raw */ }
  history.replaceState(null, "", location.pathname + location.search + "#/overview");
  if (!token) return false;
  saveCredential(url, "token", token);
  return true;
}
