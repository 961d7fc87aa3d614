// WebSocket client of the gateway protocol (version 4): handshake, requests with
// timeouts, events with gap detection, reconnect with backoff.

export const PROTOCOL = 4;
export const CLIENT_ID = "openclaw-control-ui";
// The UI is built into the gateway binary, so its version is the gateway's (filled into
// index.html by the server).
export const CLIENT_VERSION = document.querySelector('meta[name="openclaw-version"]')?.content || "unknown";
const REQUEST_TIMEOUT_MS = 30_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const AUTH_CODES = ["AUTH_TOKEN_MISMATCH", "AUTH_PASSWORD_MISMATCH", "AUTH_TOKEN_MISSING", "AUTH_PASSWORD_MISSING", "AUTH_RATE_LIMITED"];

/** An Error carrying the protocol error shape. */
export function gatewayError(shape, fallbackCode) {
  const e = new Error(shape?.message || String(shape?.code || fallbackCode || "error"));
  e.code = shape?.code || fallbackCode || "ERROR";
  e.details = shape?.details;
  e.retryable = shape?.retryable;
  e.retryAfterMs = shape?.retryAfterMs;
  return e;
}

/** The default gateway URL: this page's host and base path, over ws(s). */
export function defaultUrl(base) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${base || "/"}`;
}

/**
 * new GatewayClient({url, auth: {token}|{password}|null, onStatus, onEvent, onHello, onFatal})
 * Status: "connecting" | "connected" | "reconnecting" | "stopped".
 * onFatal(error) is called (and reconnecting stops) when the gateway refuses the
 * handshake (bad credential, protocol mismatch, rate limit), or when the very first
 * connection cannot be opened at all.
 */
export class GatewayClient {
  constructor(opts) {
    this.url = opts.url;
    this.auth = opts.auth || null;
    this.opts = opts;
    this.ws = null;
    this.pending = new Map();
    this.nextId = 1;
    this.hello = null;
    this.connected = false;
    this.everConnected = false;
    this.attempt = 0;
    this.lastSeq = null;
    this.stopped = false;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(1000, "bye"); } catch { /* closed */ } }
    this.dropped("stopped", "client stopped");
  }

  status(state, detail) {
    this.opts.onStatus?.(state, detail);
  }

  open() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.status(this.attempt ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.fatal(gatewayError({ code: "BAD_URL", message: `Cannot open ${this.url}: ${e.message}` }));
      return;
    }
    this.ws = ws;
    let refusal = null; // error of a refused connect
    let connectId = null;
    const challengeTimer = setTimeout(() => { if (!connectId) sendConnect(); }, 3000);
    const sendConnect = () => {
      if (connectId || ws !== this.ws) return;
      clearTimeout(challengeTimer);
      connectId = "c" + this.nextId++;
      const params = {
        minProtocol: PROTOCOL, maxProtocol: PROTOCOL,
        client: { id: CLIENT_ID, version: CLIENT_VERSION, platform: navigator.platform || "web", mode: "ui" },
        role: "operator",
        scopes: ["operator.admin", "operator.read", "operator.write", "operator.approvals"],
        caps: [],
        userAgent: navigator.userAgent,
        locale: navigator.language,
      };
      if (this.auth) params.auth = this.auth;
      ws.send(JSON.stringify({ type: "req", id: connectId, method: "connect", params }));
    };
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      let f;
      try { f = JSON.parse(m.data); } catch { return; }
      if (!f || typeof f !== "object") return;
      if (f.type === "event") {
        if (f.event === "connect.challenge" && !this.connected) { sendConnect(); return; }
        this.event(f);
      } else if (f.type === "res") {
        if (f.id === connectId && !this.connected) {
          if (f.ok) this.welcome(f.payload);
          else refusal = gatewayError(f.error, "CONNECT_REFUSED");
          return;
        }
        const p = this.pending.get(f.id);
        if (!p) return;
        // Two-stage methods (`agent`) answer twice; the first answer settles the promise.
        this.pending.delete(f.id);
        clearTimeout(p.timer);
        if (f.ok) p.resolve(f.payload);
        else p.reject(gatewayError(f.error));
      }
    };
    ws.onclose = (e) => {
      clearTimeout(challengeTimer);
      if (ws !== this.ws) return;
      this.ws = null;
      const wasConnected = this.connected;
      this.dropped("closed", e.reason || `closed (${e.code})`);
      if (this.stopped) return;
      if (refusal) {
        const dc = refusal.details?.code;
        refusal.closeCode = e.code;
        refusal.auth = AUTH_CODES.includes(dc);
        this.fatal(refusal);
        return;
      }
      if (!wasConnected && !this.everConnected) {
        const err = gatewayError({
          code: "UNREACHABLE",
          message: e.code === 1008 && e.reason
            ? `The gateway closed the connection: ${e.reason}`
            : `Could not connect to ${this.url}. Is the gateway running, and is this page's origin allowed (gateway.controlUi.allowedOrigins)?`,
        });
        err.closeCode = e.code;
        this.fatal(err);
        return;
      }
      this.schedule(e.code === 1012 ? 1000 : 0);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  schedule(minDelay) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.max(minDelay, Math.min(BACKOFF_MAX_MS, base * (0.75 + Math.random() * 0.5)));
    this.attempt++;
    this.status("reconnecting", { delayMs: Math.round(delay) });
    this.timer = setTimeout(() => this.open(), delay);
  }

  fatal(err) {
    this.stopped = true;
    clearTimeout(this.timer);
    this.status("stopped", err);
    this.opts.onFatal?.(err);
  }

  welcome(hello) {
    this.hello = hello;
    this.connected = true;
    this.everConnected = true;
    this.attempt = 0;
    this.lastSeq = null;
    this.status("connected", hello);
    this.opts.onHello?.(hello);
  }

  dropped(why, message) {
    const was = this.connected;
    this.connected = false;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(gatewayError({ code: "OFFLINE", message: `connection lost (${message})` }));
    }
    this.pending.clear();
    if (was) this.opts.onDisconnected?.(why);
  }

  event(f) {
    if (typeof f.seq === "number") {
      if (this.lastSeq !== null && f.seq !== this.lastSeq + 1) {
        this.opts.onEvent?.({ type: "event", event: "_gap", payload: { expected: this.lastSeq + 1, received: f.seq } });
      }
      this.lastSeq = f.seq;
    }
    this.opts.onEvent?.(f);
  }

  /** Sends a request; resolves with the payload, rejects with an Error (see gatewayError). */
  call(method, params) {
    if (!this.connected || !this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(gatewayError({ code: "OFFLINE", message: "not connected to the gateway" }));
    }
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(gatewayError({ code: "TIMEOUT", message: `${method}: no answer within 30 s`, retryable: true }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      const frame = { type: "req", id, method };
      if (params !== undefined) frame.params = params;
      try {
        this.ws.send(JSON.stringify(frame));
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(gatewayError({ code: "OFFLINE", message: e.message }));
      }
    });
  }
}
