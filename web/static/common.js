// common.js - what both pages share: the token from the field or the URL
// fragment, the WebSocket connection to /v1/ws with its auth frame and its
// reconnects, money formatting and toasts. Plain ES module, no build step.

// "#token=...&room=..." -> { token, room } (either may be null).
export function readFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  return { token: params.get('token'), room: params.get('room') };
}

export function writeFragment(values) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) params.set(k, v);
  history.replaceState(null, '', `${location.pathname}${location.search}#${params}`);
}

// The token's claims, read without checking the signature (the gateway
// checks it); null when it is not a JWT.
export function tokenClaims(token) {
  const parts = String(token || '').trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

// Integer fen -> "¥1,234.56", exact (no floating point on the fen).
export function yuan(fen) {
  if (typeof fen !== 'number' || !Number.isFinite(fen)) return '—';
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(fen));
  const whole = Math.floor(abs / 100).toLocaleString('en-US');
  return `${sign}¥${whole}.${String(abs % 100).padStart(2, '0')}`;
}

export function yuanToFen(text) {
  const m = /^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$/.exec(String(text ?? ''));
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

export function clockTime(ms) {
  if (typeof ms !== 'number') return '';
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

// An ID by the contract's rules ([A-Za-z0-9_.:-], at most 64): prefix + a
// random UUID. crypto.randomUUID needs a secure context, so plain http on a
// non-local host falls back to getRandomValues.
export function randomId(prefix) {
  if (globalThis.crypto?.randomUUID) return `${prefix}${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// kind: success | error | info. Newest on top, each gone after a while.
export function toast(kind, title, detail = '') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = el('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('div', { class: 'toast-title', text: title }),
    detail ? el('div', { class: 'toast-detail', text: detail }) : null);
  box.prepend(t);
  while (box.children.length > 4) box.lastElementChild.remove();
  setTimeout(() => t.classList.add('toast-leaving'), kind === 'error' ? 7000 : 4500);
  setTimeout(() => t.remove(), kind === 'error' ? 7400 : 4900);
}

export function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
}

// One authenticated connection to /v1/ws that comes back after a close:
// at once (with a little jitter) after 1001, the gateway going away, and
// with a growing pause after anything else. A refused token (4401) is final.
export class LiveSocket {
  constructor({ token, onAuth, onMessage, onState }) {
    this.token = token;
    this.onAuth = onAuth;
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.ready = false;
    this.stopped = false;
    this.failures = 0;
    this.timer = null;
    this.seq = 0;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.ready = false;
  }

  nextReq(prefix = 'r') {
    this.seq += 1;
    return `${prefix}-${Date.now().toString(36)}-${this.seq}`;
  }

  // Sends obj (or an already serialised string); false when not connected.
  send(obj) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
    return true;
  }

  open() {
    this.onState('connecting');
    const ws = new WebSocket(wsUrl());
    this.ws = ws;
    ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'auth', token: this.token, req: 'auth' })));
    ws.addEventListener('message', (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (!this.ready && msg.type === 'auth.ok') {
        this.ready = true;
        this.failures = 0;
        this.onState('connected', msg);
        this.onAuth(msg);
        return;
      }
      if (!this.ready && msg.type === 'error' && msg.code === 'UNAUTHORIZED') {
        this.onState('unauthorized', msg.message || 'the token was refused');
        return;
      }
      this.onMessage(msg);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      this.ready = false;
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === 4401) {
        this.stopped = true;
        this.onState('unauthorized', ev.reason || 'the token was refused');
        return;
      }
      this.failures += 1;
      const delay = ev.code === 1001
        ? 150 + Math.random() * 600
        : Math.min(10000, 500 * 2 ** Math.min(this.failures, 5)) * (0.75 + Math.random() / 2);
      this.onState('reconnecting', { code: ev.code, delay });
      this.timer = setTimeout(() => this.open(), delay);
    });
  }
}

// Shows the socket state in a pill: <span id=conn-state>.
export function showSocketState(node, state, detail) {
  const labels = {
    connecting: 'Connecting…',
    connected: 'Live',
    reconnecting: 'Reconnecting…',
    unauthorized: 'Token refused',
    idle: 'Not connected',
  };
  node.textContent = labels[state] ?? state;
  node.dataset.state = state;
  node.title = typeof detail === 'string' ? detail : detail?.code ? `closed ${detail.code}` : '';
  // The last few close codes, for whoever looks into a flaky connection.
  if (detail?.code) node.dataset.closeCodes = [...(node.dataset.closeCodes ?? '').split(',').filter(Boolean), detail.code].slice(-5).join(',');
}
