// @livegate/client - a client of livegate's WebSocket contract
// (docs/PROTOCOL.md) for live-room frontends and back offices.
//
// Why it exists: every frontend otherwise writes its own connect, auth,
// reconnect, resubmit and recovery logic, and gets some of it wrong (a
// retry with a new client_order_id orders twice; a retry before
// retry_after_ms is refused again). One plain ES module, no build step and
// no dependency, so browsers load it as is and Node >= 18 imports it; the
// WebSocket is the global one or one the app passes in (the `ws` package).
//
// What it does on the wire, all from docs/PROTOCOL.md:
// - one connection to /v1/ws, `auth` first with a token from the app's
//   callback, asked for anew on every (re)connect;
// - reconnects after any close but a user's close(): after 1001 (a gateway
//   going away) within 150-750 ms, otherwise after a jittered exponential
//   pause; a token refused at auth ends it (see `authRetries`);
// - submit() sends order.submit with a generated client_order_id, and
//   resolves on the final result; whatever is in flight when a connection
//   drops is sent again after the next auth.ok, byte for byte (same
//   client_order_id, same req), so the gateway answers it as a duplicate;
// - BUSY and RATE_LIMITED are retried, at least retry_after_ms later;
// - after every auth.ok, order.query for the orders it tracks whose status
//   may still change (the app can add some, e.g. from a previous page load);
// - the back office: monitor.subscribe (again after every reconnect),
//   monitor.stats, monitor.order and order.update.

export const VERSION = '0.1.0';

const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const OPEN = 1; // WebSocket.OPEN, the same in browsers and in `ws`
const QUERY_MAX_IDS = 100; // the contract's limit per order.query
// Orders tracked for order.query after a reconnect: the newest this many,
// so a client that lives for days does not ask for thousands each time.
const TRACK_MAX = 1000;
// Statuses after which nothing can change any more.
const SETTLED = new Set(['rejected', 'delivered', 'cancelled']);
// Frames about one order can arrive out of order; a status only moves forward.
const RANK = { queued: 0, pending_payment: 1, rejected: 1, paid: 2, shipped: 3, delivered: 4, cancelled: 5 };
// Submit refusals after which the same client_order_id may be sent again.
const RETRIED = new Set(['BUSY', 'RATE_LIMITED', 'UNAVAILABLE']);

const DEFAULTS = {
  reconnect: { baseMs: 500, maxMs: 10000, factor: 2 },
  goingAwayMs: [150, 750],
  connectTimeoutMs: 10000,
  maxRetries: 20,
  maxInFlight: 32,
  resultTimeoutMs: 12000,
  authRetries: null, // 1 with a token callback, 0 with a fixed token
};

/** True when s is an ID by the contract's rules: 1 to 64 of [A-Za-z0-9_.:-]. */
export function isId(s) {
  return typeof s === 'string' && ID_RE.test(s);
}

function randomHex(bytes) {
  const c = globalThis.crypto;
  const buf = new Uint8Array(bytes);
  if (c?.getRandomValues) c.getRandomValues(buf);
  // Node 18 without the global Web Crypto: ids need to be unique, not secret.
  else for (let i = 0; i < bytes; i++) buf[i] = Math.floor(Math.random() * 256);
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A new client_order_id: prefix + a random UUID (crypto.randomUUID where
 * there is one; it needs a secure context in browsers), else 32 random hex
 * digits. "c-" + a UUID is 38 characters, within the ID rules.
 */
export function newClientOrderId(prefix = 'c-') {
  if (!isId(`${prefix}x`) || prefix.length > 28) throw new TypeError('the prefix must be at most 28 ID characters');
  if (typeof globalThis.crypto?.randomUUID === 'function') return `${prefix}${globalThis.crypto.randomUUID()}`;
  return `${prefix}${randomHex(16)}`;
}

/**
 * The pause before reconnect attempt `attempt` (1, 2, ...): "equal jitter"
 * exponential backoff. The ceiling is baseMs * factor^(attempt-1), at most
 * maxMs; the pause is uniform between half the ceiling and the ceiling, so
 * it grows with each failure and a crowd of clients spreads out.
 */
export function backoffDelay(attempt, { baseMs = 500, maxMs = 10000, factor = 2 } = {}, random = Math.random) {
  const n = Math.max(1, Math.floor(attempt));
  const ceiling = Math.min(maxMs, baseMs * factor ** (n - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * The pause before resubmitting after a refusal that carried
 * retry_after_ms: never less than that (the gateway already spread it),
 * plus 1 ms so a timer that fires a little early is still not early, plus
 * up to a tenth more (at most 250 ms).
 */
export function retryDelay(retryAfterMs, random = Math.random) {
  const ms = Math.max(0, Number(retryAfterMs) || 0);
  return Math.ceil(ms) + 1 + Math.floor(random() * Math.min(250, ms / 10));
}

/** The pause after close 1001: a gateway going away; reconnect nearly at once. */
export function goingAwayDelay([lo, hi] = DEFAULTS.goingAwayMs, random = Math.random) {
  return Math.round(lo + random() * (hi - lo));
}

/** An `error` frame, or a failure of the client itself, as an exception. */
export class LivegateError extends Error {
  constructor(code, message, frame = null) {
    super(message || code);
    this.name = 'LivegateError';
    this.code = code;
    this.frame = frame;
    this.field = frame?.field ?? null;
    this.retryAfterMs = typeof frame?.retry_after_ms === 'number' ? frame.retry_after_ms : null;
  }
}

// Listeners with EventTarget's manners: an exception in one is reported
// (thrown from a microtask) and does not keep the others from running.
class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  on(type, fn) {
    if (typeof fn !== 'function') throw new TypeError('a listener must be a function');
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this._listeners.get(type)?.delete(fn);
  }

  once(type, fn) {
    const off = this.on(type, (...args) => {
      off();
      fn(...args);
    });
    return off;
  }

  _emit(type, ...args) {
    for (const fn of [...(this._listeners.get(type) ?? [])]) {
      try {
        fn(...args);
      } catch (e) {
        queueMicrotask(() => { throw e; });
      }
    }
  }
}

function defaultUrl() {
  const loc = globalThis.location;
  if (!loc?.host) return null;
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/v1/ws`;
}

function textOf(data) {
  if (typeof data === 'string') return data;
  try {
    return new TextDecoder().decode(data);
  } catch {
    return null;
  }
}

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

// A settled status seen by order.query, as the result a submit resolves with
// when its pushed result never came.
function resultFromState(m) {
  const rejected = m.status === 'rejected';
  return {
    type: rejected ? 'order.rejected' : 'order.confirmed',
    client_order_id: m.client_order_id,
    order_id: m.order_id ?? null,
    status: m.status,
    code: m.code ?? null,
    recovered: true,
  };
}

/**
 * One authenticated connection to a livegate gateway that comes back by
 * itself. See README.md for the options and events.
 */
export class LivegateClient extends Emitter {
  constructor(options = {}) {
    super();
    const { token, url, WebSocket: WS } = options;
    if (typeof token !== 'string' && typeof token !== 'function') {
      throw new TypeError('token must be a string or a function returning one (or a Promise of one)');
    }
    this._token = token;
    this._url = url ?? defaultUrl();
    if (!this._url) throw new TypeError('url is required outside a browser page (e.g. "ws://127.0.0.1:8080/v1/ws")');
    this._WS = WS ?? globalThis.WebSocket;
    if (typeof this._WS !== 'function') {
      throw new TypeError('no WebSocket: pass one as options.WebSocket (e.g. the `ws` package in Node < 22)');
    }
    this._opts = {
      ...DEFAULTS,
      ...options,
      reconnect: { ...DEFAULTS.reconnect, ...(options.reconnect ?? {}) },
    };
    if (this._opts.authRetries === null) this._opts.authRetries = typeof token === 'function' ? 1 : 0;
    this._random = options.random ?? Math.random;

    this._state = 'idle';
    this._ws = null;
    this._session = null; // the last auth.ok
    this._started = false;
    this._closed = false;
    this._failures = 0; // connection attempts since the last auth.ok
    this._authFailures = 0; // tokens refused in a row
    this._reconnectTimer = null;
    this._connectTimer = null;
    this._connectWaiters = [];
    this._seq = 0;

    this._submits = new Map(); // client_order_id -> entry, until the final result
    this._tracked = new Map(); // client_order_id -> last known status (null: unknown)
    this._finals = new Set(); // client_order_ids whose final result was announced
    this._queries = new Map(); // req -> { ids, states, resolve, reject, sent }
    this._updates = new Map(); // req -> { order_id, status, resolve, reject, sent }
    this._monitor = null; // { room, req, waiters: [], retries, timer }
  }

  /** idle | connecting | open | reconnecting | unauthorized | closed */
  get state() {
    return this._state;
  }

  /** The auth.ok of the current connection, or null while not connected. */
  get session() {
    return this._state === 'open' ? this._session : null;
  }

  /** client_order_ids submitted and not yet answered with a final result. */
  get inFlight() {
    return [...this._submits.keys()];
  }

  /** Starts (once) and resolves with the first auth.ok. */
  connect() {
    if (this._closed) return Promise.reject(new LivegateError('CLOSED', 'the client was closed'));
    if (this._state === 'unauthorized') return Promise.reject(new LivegateError('UNAUTHORIZED', 'the token was refused'));
    if (this._state === 'open') return Promise.resolve(this._session);
    const d = deferred();
    this._connectWaiters.push(d);
    if (!this._started) {
      this._started = true;
      this._open();
    }
    return d.promise;
  }

  /**
   * Ends the connection for good. Submits, queries and updates still waiting
   * are rejected with code CLOSED (an order already sent may exist: ask with
   * order.query on a new client).
   */
  close() {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._reconnectTimer);
    clearTimeout(this._connectTimer);
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      try { ws.close(1000); } catch {}
    }
    this._failAll(new LivegateError('CLOSED', 'the client was closed'));
    this._setState('closed');
  }

  _nextReq(prefix) {
    this._seq += 1;
    return `lg${prefix}-${this._seq}-${randomHex(3)}`;
  }

  _setState(state, detail = {}) {
    this._state = state;
    this._emit('connection', { state, ...detail });
  }

  _sendRaw(text) {
    if (this._state !== 'open' || !this._ws || this._ws.readyState !== OPEN) return false;
    this._ws.send(text);
    return true;
  }

  // A token callback that never answers must not hold the client for ever:
  // it counts as a failed attempt after connectTimeoutMs.
  async _tokenNow() {
    if (typeof this._token !== 'function') return this._token;
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the token callback did not answer in time')), this._opts.connectTimeoutMs);
    });
    try {
      return await Promise.race([this._token(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  _trackSet(coid, status) {
    this._tracked.delete(coid); // re-inserted as the newest
    this._tracked.set(coid, status);
    if (this._tracked.size > TRACK_MAX) this._tracked.delete(this._tracked.keys().next().value);
  }

  async _open() {
    if (this._closed) return;
    this._setState('connecting', { attempt: this._failures + 1 });
    let token;
    try {
      token = await this._tokenNow();
      if (typeof token !== 'string' || !token) throw new TypeError('the token callback gave no token');
    } catch (e) {
      this._emit('error', e instanceof LivegateError ? e : new LivegateError('TOKEN', `no token: ${e?.message ?? e}`));
      this._scheduleReconnect({ code: null, reason: 'no token' });
      return;
    }
    if (this._closed) return;
    const url = typeof this._url === 'function' ? this._url() : this._url;
    let ws;
    try {
      ws = new this._WS(url);
    } catch (e) {
      this._emit('error', new LivegateError('CONNECT', `cannot open ${url}: ${e?.message ?? e}`));
      this._scheduleReconnect({ code: null, reason: 'cannot open' });
      return;
    }
    this._ws = ws;
    const conn = { authed: false, refused: null };
    // A gateway that accepts the TCP connection but never answers the auth
    // would leave the client hanging: give up on it and try again.
    this._connectTimer = setTimeout(() => {
      if (this._ws === ws && !conn.authed) {
        try { ws.close(4000, 'no auth.ok in time'); } catch {}
        this._onClose(ws, conn, { code: 4000, reason: 'no auth.ok in time' });
      }
    }, this._opts.connectTimeoutMs);
    ws.onopen = () => {
      if (this._ws === ws) ws.send(JSON.stringify({ type: 'auth', token, req: this._nextReq('a') }));
    };
    ws.onmessage = (ev) => {
      if (this._ws !== ws) return;
      const text = textOf(ev.data);
      let m;
      try {
        m = JSON.parse(text);
      } catch {
        return;
      }
      if (!m || typeof m !== 'object') return;
      this._emit('message', m);
      if (!conn.authed) this._onAuthFrame(ws, conn, m);
      else this._onFrame(m);
    };
    ws.onerror = () => {}; // a close follows; browsers say why in the console
    ws.onclose = (ev) => this._onClose(ws, conn, { code: ev.code, reason: ev.reason });
  }

  _onAuthFrame(ws, conn, m) {
    if (m.type === 'auth.ok') {
      conn.authed = true;
      clearTimeout(this._connectTimer);
      this._failures = 0;
      this._authFailures = 0;
      this._session = m;
      this._setState('open', { session: m });
      for (const d of this._connectWaiters.splice(0)) d.resolve(m);
      this._emit('auth', m);
      this._afterAuth();
    } else if (m.type === 'error' && m.code === 'UNAUTHORIZED') {
      conn.refused = m.message ?? 'the token was refused';
    }
  }

  _onClose(ws, conn, { code, reason }) {
    if (this._ws !== ws) return;
    this._ws = null;
    clearTimeout(this._connectTimer);
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (this._closed) return;
    this._connectionLost();
    if (!conn.authed && (conn.refused || code === 4401)) {
      this._authFailures += 1;
      if (this._authFailures > this._opts.authRetries) {
        const why = conn.refused ?? reason ?? 'the token was refused';
        this._failAll(new LivegateError('UNAUTHORIZED', why));
        this._setState('unauthorized', { code, reason: why });
        for (const d of this._connectWaiters.splice(0)) d.reject(new LivegateError('UNAUTHORIZED', why));
        return;
      }
    }
    // 1001: the gateway is going away (any gateway takes the session);
    // 4401 after auth.ok: the token expired during the session, and a
    // fresh one from the callback fixes it. Both come back at once.
    if (code === 1001 || (conn.authed && code === 4401)) {
      this._scheduleReconnect({ code, reason }, goingAwayDelay(this._opts.goingAwayMs, this._random));
    } else {
      this._scheduleReconnect({ code, reason });
    }
  }

  _scheduleReconnect(detail, delay = null) {
    if (this._closed) return;
    this._failures += 1;
    const ms = delay ?? backoffDelay(this._failures, this._opts.reconnect, this._random);
    this._setState('reconnecting', { ...detail, delayMs: ms });
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(() => this._open(), ms);
  }

  // What was sent on a connection that is gone: submits go again after the
  // next auth.ok (the gateway answers a duplicate); a query goes again (it
  // changes nothing); an update is rejected, since it may have been made
  // and a repeat would answer INVALID_TRANSITION.
  _connectionLost() {
    for (const e of this._submits.values()) {
      clearTimeout(e.resultTimer);
      if (e.state === 'sent' || e.state === 'accepted') e.state = 'queued';
    }
    for (const q of this._queries.values()) q.sent = false;
    for (const [req, u] of this._updates) {
      if (!u.sent) continue;
      this._updates.delete(req);
      u.reject(new LivegateError('CONNECTION_LOST',
        'the connection dropped before order.update was answered; the move may or may not have been made'));
    }
    if (this._monitor) {
      clearTimeout(this._monitor.timer);
      this._monitor.req = null;
      if (this._monitor.prev) this._monitor.prev.req = null;
    }
  }

  _failAll(err) {
    for (const e of this._submits.values()) {
      clearTimeout(e.retryTimer);
      clearTimeout(e.resultTimer);
      e.reject(err);
    }
    this._submits.clear();
    for (const q of this._queries.values()) q.reject(err);
    this._queries.clear();
    for (const u of this._updates.values()) u.reject(err);
    this._updates.clear();
    if (this._monitor) {
      clearTimeout(this._monitor.timer);
      for (const w of this._monitor.waiters) w.reject(err);
      this._monitor = null;
    }
  }

  _afterAuth() {
    if (this._monitor) this._sendSubscribe();
    for (const q of this._queries.values()) this._sendQuery(q);
    for (const u of this._updates.values()) this._sendUpdate(u);
    this._pump();
    if (this._opts.recover !== false) this._recover();
  }

  // ---- orders -------------------------------------------------------------

  /**
   * Submits an order. Resolves with the final result, the order.confirmed
   * or order.rejected frame (an EXPIRED is an order.rejected); rejects with
   * a LivegateError when the order cannot be placed (IDEMPOTENCY_CONFLICT,
   * FORBIDDEN, BAD_REQUEST, UNAUTHORIZED, CLOSED, or BUSY / RATE_LIMITED /
   * UNAVAILABLE after maxRetries retries).
   */
  submit(order) {
    if (!order || typeof order !== 'object') return Promise.reject(new TypeError('submit needs an order object'));
    const coid = order.client_order_id ?? newClientOrderId();
    if (!isId(coid)) {
      return Promise.reject(new TypeError('client_order_id must be 1 to 64 characters from [A-Za-z0-9_.:-]'));
    }
    if (this._closed) return Promise.reject(new LivegateError('CLOSED', 'the client was closed'));
    if (this._state === 'unauthorized') return Promise.reject(new LivegateError('UNAUTHORIZED', 'the token was refused'));
    const known = this._submits.get(coid);
    if (known) return known.promise; // already on its way: the same order
    const d = deferred();
    const entry = {
      coid, order: { ...order, client_order_id: coid }, text: null, state: 'queued', attempts: 0,
      orderId: null, retryTimer: null, resultTimer: null, ...d,
    };
    // The promise is the caller's; a rejection nobody awaits is theirs too,
    // but the client itself keeps no unhandled one.
    d.promise.catch(() => {});
    this._submits.set(coid, entry);
    if (!this._tracked.has(coid)) this._trackSet(coid, null);
    if (!this._started) this.connect().catch(() => {});
    this._pump();
    return d.promise;
  }

  // The frame, built at its first send (room_id defaults to the session's
  // room) and then kept, so every resend is the same bytes.
  _frameOf(e) {
    if (e.text) return e.text;
    const o = e.order;
    const qty = o.qty;
    const amount = o.amount ?? (o.coupon_id ? undefined : o.unit_price * qty);
    const frame = {
      type: 'order.submit',
      req: e.coid,
      client_order_id: e.coid,
      room_id: o.room_id ?? this._session?.room_id,
      sku_id: o.sku_id,
      qty,
      unit_price: o.unit_price,
      amount,
      currency: o.currency ?? 'CNY',
      payment_method: o.payment_method,
      coupon_id: o.coupon_id ?? null,
      address: o.address,
    };
    e.text = JSON.stringify(frame);
    return e.text;
  }

  // Sends queued submits while fewer than maxInFlight wait for their
  // order.accepted or refusal on this connection (the gateway's own cap,
  // LIVEGATE_CONN_INFLIGHT, refuses past 32 by default).
  _pump() {
    if (this._state !== 'open') return;
    let inFlight = 0;
    for (const e of this._submits.values()) if (e.state === 'sent') inFlight += 1;
    for (const e of this._submits.values()) {
      if (inFlight >= this._opts.maxInFlight) break;
      if (e.state !== 'queued') continue;
      if (!this._sendRaw(this._frameOf(e))) break;
      e.state = 'sent';
      inFlight += 1;
    }
  }

  _armResultTimer(e) {
    clearTimeout(e.resultTimer);
    // The contract promises a final result within 10 s of accepted_at_ms;
    // if none came (a lost push), ask for the order's state.
    e.resultTimer = setTimeout(() => {
      if (this._submits.get(e.coid) !== e || e.state !== 'accepted') return;
      this._internalQuery([e.coid]);
      this._armResultTimer(e);
    }, this._opts.resultTimeoutMs);
  }

  _settleSubmit(coid, result, { event = true } = {}) {
    if (!coid) return;
    const first = !this._finals.has(coid);
    if (first) {
      this._finals.add(coid);
      // Bounded memory for long-lived clients: forget the oldest.
      if (this._finals.size > 10000) this._finals.delete(this._finals.values().next().value);
    }
    if (first && event) this._emit(result.type === 'order.rejected' ? 'rejected' : 'confirmed', result);
    const e = this._submits.get(coid);
    if (e) {
      clearTimeout(e.retryTimer);
      clearTimeout(e.resultTimer);
      this._submits.delete(coid);
      e.resolve(result);
    }
    this._noteStatus(coid, result.status ?? (result.type === 'order.rejected' ? 'rejected' : 'pending_payment'));
    this._pump();
  }

  _noteStatus(coid, status) {
    if (!coid || !this._tracked.has(coid)) return;
    const prev = this._tracked.get(coid);
    if (prev && (RANK[status] ?? -1) < (RANK[prev] ?? -1)) return;
    if (SETTLED.has(status)) this._tracked.delete(coid);
    else this._tracked.set(coid, status);
  }

  _onSubmitRefused(e, m) {
    if (RETRIED.has(m.code) && e.attempts < this._opts.maxRetries) {
      e.attempts += 1;
      const delayMs = typeof m.retry_after_ms === 'number'
        ? retryDelay(m.retry_after_ms, this._random)
        : backoffDelay(e.attempts, this._opts.reconnect, this._random);
      e.state = 'waiting';
      this._emit('retry', {
        client_order_id: e.coid, code: m.code, retry_after_ms: m.retry_after_ms ?? null,
        delay_ms: delayMs, attempt: e.attempts, frame: m,
      });
      e.retryTimer = setTimeout(() => {
        if (this._submits.get(e.coid) !== e || e.state !== 'waiting') return;
        e.state = 'queued';
        this._pump();
      }, delayMs);
    } else {
      this._submits.delete(e.coid);
      clearTimeout(e.resultTimer);
      e.reject(new LivegateError(m.code, m.message, m));
    }
    this._pump();
  }

  /**
   * Adds orders whose state may still change (their client_order_ids, or
   * { client_order_id, status } objects) to those asked for with
   * order.query after every auth.ok. Submits are tracked by themselves.
   */
  track(orders) {
    const added = [];
    for (const o of [].concat(orders ?? [])) {
      const coid = typeof o === 'string' ? o : o?.client_order_id;
      const status = typeof o === 'string' ? null : o?.status ?? null;
      if (!isId(coid) || SETTLED.has(status) || this._tracked.has(coid)) continue;
      this._trackSet(coid, status);
      added.push(coid);
    }
    // Connected already: ask for these now rather than at the next auth.ok.
    const ask = added.filter((id) => !this._submits.has(id));
    if (ask.length && this._state === 'open' && this._opts.recover !== false) this._internalQuery(ask);
  }

  untrack(coid) {
    this._tracked.delete(coid);
  }

  /** Tracked client_order_ids and their last known status (null: not known yet). */
  get tracked() {
    return new Map(this._tracked);
  }

  // order.query for the tracked orders that are not being submitted (a
  // resubmit answers those), at most 100 ids a frame.
  _recover() {
    const ids = [...this._tracked.keys()].filter((id) => !this._submits.has(id));
    if (ids.length) this._internalQuery(ids);
  }

  _internalQuery(ids) {
    this.query(ids).catch(() => {});
  }

  /** order.query: resolves with one order.state frame per id, in order. */
  query(clientOrderIds) {
    const ids = [].concat(clientOrderIds ?? []);
    if (!ids.length || !ids.every(isId)) return Promise.reject(new TypeError('query needs client_order_ids (IDs)'));
    if (this._closed) return Promise.reject(new LivegateError('CLOSED', 'the client was closed'));
    const parts = [];
    for (let i = 0; i < ids.length; i += QUERY_MAX_IDS) {
      const d = deferred();
      const q = { req: this._nextReq('q'), ids: ids.slice(i, i + QUERY_MAX_IDS), states: [], sent: false, ...d };
      this._queries.set(q.req, q);
      this._sendQuery(q);
      parts.push(d.promise);
    }
    if (!this._started) this.connect().catch(() => {});
    return Promise.all(parts).then((lists) => lists.flat());
  }

  _sendQuery(q) {
    q.states = [];
    q.sent = this._sendRaw(JSON.stringify({ type: 'order.query', req: q.req, client_order_ids: q.ids }));
  }

  _onOrderState(m) {
    this._emit('order.state', m);
    const e = this._submits.get(m.client_order_id);
    if (e && e.state === 'accepted' && m.status && m.status !== 'queued' && m.status !== 'unknown') {
      this._settleSubmit(m.client_order_id, resultFromState(m));
    } else if (m.status && m.status !== 'unknown') {
      this._noteStatus(m.client_order_id, m.status);
    } else if (m.status === 'unknown' && !e) {
      this._tracked.delete(m.client_order_id); // never placed, or long gone
    }
    const q = m.req ? this._queries.get(m.req) : null;
    if (!q) return;
    q.states.push(m);
    if (q.states.length >= q.ids.length) {
      this._queries.delete(q.req);
      q.resolve(q.states);
    }
  }

  // ---- back office --------------------------------------------------------

  /**
   * monitor.subscribe for a room ("*": every room, admins only). Resolves
   * with the monitor.stats that answers it; the subscription is renewed
   * after every reconnect. Then `stats` and `feed` events follow.
   */
  subscribeMonitor(roomId) {
    if (roomId !== '*' && !isId(roomId)) return Promise.reject(new TypeError('room_id must be an ID or "*"'));
    if (this._closed) return Promise.reject(new LivegateError('CLOSED', 'the client was closed'));
    const d = deferred();
    const prev = this._monitor;
    if (prev) clearTimeout(prev.timer);
    const same = prev && prev.room === roomId;
    if (prev && !same) {
      for (const w of prev.waiters.splice(0)) w.reject(new LivegateError('SUPERSEDED', `a subscribe to ${roomId} replaced it`));
    }
    // A refused subscribe changes nothing on the gateway: the earlier
    // subscription stays, and so it does here (see _onError).
    const keep = prev?.confirmed ? prev : prev?.prev ?? null;
    this._monitor = {
      room: roomId, req: null, waiters: same ? [...prev.waiters, d] : [d], retries: 0, timer: null,
      prev: keep, confirmed: false,
    };
    this._sendSubscribe();
    if (!this._started) this.connect().catch(() => {});
    return d.promise;
  }

  _sendSubscribe() {
    const mon = this._monitor;
    const req = this._nextReq('m');
    if (this._sendRaw(JSON.stringify({ type: 'monitor.subscribe', req, room_id: mon.room }))) mon.req = req;
  }

  _onStats(m) {
    const mon = this._monitor;
    if (mon && m.req && m.req === mon.req) {
      mon.retries = 0;
      mon.confirmed = true;
      mon.prev = null; // the gateway took this one: no earlier to fall back to
      for (const w of mon.waiters.splice(0)) w.resolve(m);
    }
    this._emit('stats', m);
  }

  /** order.update: resolves with order.updated, rejects with the error's code. */
  updateOrder(orderId, status) {
    if (!isId(orderId)) return Promise.reject(new TypeError('order_id must be an ID'));
    if (this._closed) return Promise.reject(new LivegateError('CLOSED', 'the client was closed'));
    const d = deferred();
    const u = { req: this._nextReq('u'), order_id: orderId, status, sent: false, ...d };
    this._updates.set(u.req, u);
    this._sendUpdate(u);
    if (!this._started) this.connect().catch(() => {});
    return d.promise;
  }

  _sendUpdate(u) {
    if (u.sent) return;
    u.sent = this._sendRaw(JSON.stringify({ type: 'order.update', req: u.req, order_id: u.order_id, status: u.status }));
  }

  // ---- frames -------------------------------------------------------------

  _onFrame(m) {
    switch (m.type) {
      case 'order.accepted': {
        const e = this._submits.get(m.client_order_id);
        if (e) {
          e.state = 'accepted';
          e.orderId = m.order_id;
          this._armResultTimer(e);
        }
        this._noteStatus(m.client_order_id, 'queued');
        this._emit('accepted', m);
        this._pump();
        break;
      }
      case 'order.confirmed':
      case 'order.rejected': {
        let coid = m.client_order_id;
        // A rejection of an id that was no ID echoes null: its req is ours.
        if (!coid && m.req && this._submits.has(m.req)) coid = m.req;
        if (coid) this._settleSubmit(coid, m);
        else this._emit('rejected', m);
        break;
      }
      case 'order.status':
        this._noteStatus(m.client_order_id, m.status);
        this._emit('status', m);
        break;
      case 'order.state':
        this._onOrderState(m);
        break;
      case 'sku.update':
        this._emit('sku.update', m);
        break;
      case 'monitor.stats':
        this._onStats(m);
        break;
      case 'monitor.order':
        this._emit('feed', m);
        break;
      case 'order.updated': {
        const u = m.req ? this._updates.get(m.req) : null;
        if (u) {
          this._updates.delete(m.req);
          u.resolve(m);
        }
        this._emit('updated', m);
        break;
      }
      case 'error':
        this._onError(m);
        break;
      default:
        break;
    }
  }

  _onError(m) {
    const submit = (m.ref && this._submits.get(m.ref)) || (m.req && this._submits.get(m.req));
    if (submit && (submit.state === 'sent' || submit.state === 'queued')) {
      this._onSubmitRefused(submit, m);
      return;
    }
    const u = m.req ? this._updates.get(m.req) : null;
    if (u) {
      this._updates.delete(m.req);
      u.reject(new LivegateError(m.code, m.message, m));
      return;
    }
    const q = m.req ? this._queries.get(m.req) : null;
    if (q) {
      this._queries.delete(m.req);
      q.reject(new LivegateError(m.code, m.message, m));
      return;
    }
    const mon = this._monitor;
    if (mon && m.req && m.req === mon.req) {
      if (m.code === 'UNAVAILABLE' && mon.retries < this._opts.maxRetries) {
        // Redis is unreachable for a moment: subscribe again shortly.
        mon.retries += 1;
        mon.timer = setTimeout(() => this._monitor === mon && this._sendSubscribe(),
          backoffDelay(mon.retries, this._opts.reconnect, this._random));
      } else {
        this._monitor = mon.prev ?? null;
        // Still the gateway's subscription, unless the connection it was
        // made on is gone: then make it again.
        if (this._monitor && !this._monitor.req) this._sendSubscribe();
        for (const w of mon.waiters) w.reject(new LivegateError(m.code, m.message, m));
      }
      return;
    }
    this._emit('error', new LivegateError(m.code, m.message, m));
  }
}

export default LivegateClient;
