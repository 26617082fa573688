// common.js - what both pages share on screen: the token from the field or
// the URL fragment, money formatting, toasts and the connection pill. The
// connection itself (auth, reconnects, resubmits, retries, recovery) is the
// client package's, clients/js, served as /static/vendor/livegate-client.js.
// Plain ES module, no build step.

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

// The client's connection states as the pill names them.
const PAGE_STATE = { open: 'connected', closed: 'idle' };

// Shows the client's connection state in a pill: <span id=conn-state>.
// detail: the client's `connection` event ({ code, reason, delayMs }) or a text.
export function showSocketState(node, clientState, detail) {
  const state = PAGE_STATE[clientState] ?? clientState;
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
