// Unit tests of @livegate/client's pure parts: ids, the backoff and its
// jitter, the pause after a refusal with retry_after_ms, the constructor's
// and the methods' refusals of bad input (which must start nothing), and
// that index.d.ts declares exactly what index.js exports. The behaviour on
// the wire is tested against the real gateway in
// tests/integration/client-js.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as lib from '../index.js';

const {
  LivegateClient, LivegateError, VERSION, backoffDelay, goingAwayDelay, isId, newClientOrderId, retryDelay,
} = lib;

test('isId: 1 to 64 characters of [A-Za-z0-9_.:-], at both bounds', () => {
  assert.equal(isId('a'), true);
  assert.equal(isId('x'.repeat(64)), true);
  assert.equal(isId('x'.repeat(65)), false);
  assert.equal(isId(''), false);
  assert.equal(isId('A-z_0.9:'), true);
  for (const bad of ['a b', 'é', 'a/b', 'a\n', null, undefined, 7, {}]) assert.equal(isId(bad), false, String(bad));
});

test('newClientOrderId: "c-" and a UUID, an ID, unique', () => {
  const ids = new Set();
  for (let i = 0; i < 2000; i++) {
    const id = newClientOrderId();
    assert.match(id, /^c-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(id.length, 38);
    assert.ok(isId(id));
    ids.add(id);
  }
  assert.equal(ids.size, 2000);
  // the prefix: at most 28 ID characters, so the id stays within 64
  const longest = newClientOrderId('p'.repeat(28));
  assert.equal(longest.length, 64);
  assert.ok(isId(longest));
  assert.throws(() => newClientOrderId('p'.repeat(29)), TypeError);
  assert.throws(() => newClientOrderId('bad prefix'), TypeError);
  assert.ok(newClientOrderId('').length === 36);
});

test('newClientOrderId without crypto.randomUUID (a page outside a secure context): 32 random hex digits', () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  const real = globalThis.crypto;
  Object.defineProperty(globalThis, 'crypto', {
    configurable: true, value: { getRandomValues: (a) => real.getRandomValues(a) },
  });
  try {
    const a = newClientOrderId();
    const b = newClientOrderId();
    assert.match(a, /^c-[0-9a-f]{32}$/);
    assert.notEqual(a, b);
  } finally {
    Object.defineProperty(globalThis, 'crypto', saved);
  }
  assert.equal(typeof globalThis.crypto.randomUUID, 'function');
});

test('backoffDelay: equal jitter between half the ceiling and the ceiling, doubling up to maxMs', () => {
  const opts = { baseMs: 500, maxMs: 10000, factor: 2 };
  const at = (attempt, r) => backoffDelay(attempt, opts, () => r);
  // attempt 1: ceiling 500
  assert.equal(at(1, 0), 250);
  assert.equal(at(1, 0.999999), 500);
  // each attempt doubles the ceiling: 1000, 2000, 4000, 8000, then the cap
  assert.deepEqual([2, 3, 4, 5].map((n) => [at(n, 0), at(n, 0.999999)]),
    [[500, 1000], [1000, 2000], [2000, 4000], [4000, 8000]]);
  for (const n of [6, 7, 50, 1e6]) assert.deepEqual([at(n, 0), at(n, 0.999999)], [5000, 10000], `attempt ${n}`);
  // below 1 counts as the first attempt
  assert.equal(at(0, 0), 250);
  assert.equal(at(-3, 0.999999), 500);
  // the defaults are those
  assert.equal(backoffDelay(1, undefined, () => 0), 250);
  assert.equal(backoffDelay(99, {}, () => 0.999999), 10000);
  // jittered: with the real random source, spread over the whole band
  const draws = Array.from({ length: 500 }, () => backoffDelay(3, opts));
  assert.ok(draws.every((d) => d >= 1000 && d <= 2000));
  assert.ok(new Set(draws).size > 100, 'not in step');
  assert.ok(Math.min(...draws) < 1200 && Math.max(...draws) > 1800);
});

test('retryDelay: never sooner than retry_after_ms, at most a tenth (250 ms) later', () => {
  for (const ms of [0, 50, 100, 1375, 2500, 60000]) {
    const lo = retryDelay(ms, () => 0);
    const hi = retryDelay(ms, () => 0.999999);
    assert.equal(lo, ms + 1, `${ms}`);
    assert.ok(hi >= lo && hi <= ms + 1 + Math.min(250, ms / 10), `${ms}: ${hi}`);
  }
  assert.equal(retryDelay(60000, () => 0.999999), 60250);
  assert.equal(retryDelay(99.2, () => 0), 101, 'a fraction of a ms rounds up');
  for (const bad of [undefined, null, -5, 'x']) assert.equal(retryDelay(bad, () => 0), 1);
  const draws = Array.from({ length: 200 }, () => retryDelay(1000));
  assert.ok(draws.every((d) => d >= 1001 && d <= 1101));
});

test('goingAwayDelay: 150 to 750 ms after close 1001', () => {
  assert.equal(goingAwayDelay(undefined, () => 0), 150);
  assert.equal(goingAwayDelay(undefined, () => 1), 750);
  assert.equal(goingAwayDelay([10, 20], () => 0.5), 15);
});

test('LivegateError carries the frame\'s code, field and retry_after_ms', () => {
  const frame = { type: 'error', code: 'BUSY', message: 'busy', retry_after_ms: 1375, ref: 'c-1' };
  const e = new LivegateError(frame.code, frame.message, frame);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'LivegateError');
  assert.equal(e.code, 'BUSY');
  assert.equal(e.message, 'busy');
  assert.equal(e.retryAfterMs, 1375);
  assert.equal(e.field, null);
  assert.equal(e.frame, frame);
  assert.equal(new LivegateError('CLOSED').message, 'CLOSED');
});

// A WebSocket that must never be constructed: bad input starts nothing.
class NoSocket {
  constructor() {
    throw new Error('no socket should be opened');
  }
}

test('the constructor refuses what it cannot work with', () => {
  assert.throws(() => new LivegateClient({ url: 'ws://h/v1/ws', WebSocket: NoSocket }), /token/);
  assert.throws(() => new LivegateClient({ token: 5, url: 'ws://h/v1/ws', WebSocket: NoSocket }), /token/);
  assert.throws(() => new LivegateClient({ token: 't', WebSocket: NoSocket }), /url is required/);
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
  if (saved) delete globalThis.WebSocket;
  try {
    assert.throws(() => new LivegateClient({ token: 't', url: 'ws://h/v1/ws' }), /no WebSocket/);
  } finally {
    if (saved) Object.defineProperty(globalThis, 'WebSocket', saved);
  }
  const c = new LivegateClient({ token: () => 't', url: 'ws://h/v1/ws', WebSocket: NoSocket });
  assert.equal(c.state, 'idle');
  assert.equal(c.session, null);
  assert.deepEqual(c.inFlight, []);
});

test('bad arguments are refused with a TypeError and start nothing', async () => {
  const c = new LivegateClient({ token: 't', url: 'ws://h/v1/ws', WebSocket: NoSocket });
  await assert.rejects(c.submit(null), TypeError);
  await assert.rejects(c.submit({ client_order_id: 'bad id', sku_id: 's' }), TypeError);
  await assert.rejects(c.submit({ client_order_id: 'x'.repeat(65) }), TypeError);
  await assert.rejects(c.query([]), TypeError);
  await assert.rejects(c.query(['ok', 'not ok']), TypeError);
  await assert.rejects(c.subscribeMonitor('no room'), TypeError);
  await assert.rejects(c.updateOrder('', 'paid'), TypeError);
  assert.throws(() => c.on('stats', 'not a function'), TypeError);
  assert.equal(c.state, 'idle', 'nothing was started');
  assert.deepEqual(c.inFlight, []);
  // track() takes IDs only, and no settled status
  c.track(['c-1', 'bad id', { client_order_id: 'c-2', status: 'cancelled' }, { client_order_id: 'c-3', status: 'paid' }]);
  assert.deepEqual([...c.tracked], [['c-1', null], ['c-3', 'paid']]);
  c.untrack('c-1');
  assert.deepEqual([...c.tracked.keys()], ['c-3']);
  // at most the newest 1000 are tracked
  const ids = Array.from({ length: 1000 }, (_, i) => `c-t${i}`);
  c.untrack('c-3');
  c.track(ids);
  assert.equal(c.tracked.size, 1000);
  assert.ok(c.tracked.has('c-t0'));
  c.track('c-t1000');
  assert.equal(c.tracked.size, 1000);
  assert.equal(c.tracked.has('c-t0'), false, 'the oldest goes');
  assert.ok(c.tracked.has('c-t1000'));
  // after close(), everything is refused with CLOSED
  c.close();
  assert.equal(c.state, 'closed');
  for (const p of [c.connect(), c.submit({ sku_id: 's' }), c.query(['c-1']), c.updateOrder('o-1', 'paid')]) {
    await assert.rejects(p, (e) => e instanceof LivegateError && e.code === 'CLOSED');
  }
});

test('listeners: on returns an unsubscribe, once fires once, a throwing listener does not stop the others', () => {
  const c = new LivegateClient({ token: 't', url: 'ws://h/v1/ws', WebSocket: NoSocket });
  const seen = [];
  const off = c.on('connection', (e) => seen.push(['on', e.state]));
  c.once('connection', (e) => seen.push(['once', e.state]));
  const offBug = c.on('connection', () => { throw new Error('listener bug'); });
  c.on('connection', (e) => seen.push(['after', e.state]));
  // The exception is thrown again from a microtask (as EventTarget reports
  // it); catch that here instead of letting it reach the test runner.
  const queued = [];
  const real = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (fn) => queued.push(fn);
  try {
    c.close(); // emits connection: closed
  } finally {
    globalThis.queueMicrotask = real;
  }
  assert.deepEqual(seen, [['on', 'closed'], ['once', 'closed'], ['after', 'closed']]);
  assert.equal(queued.length, 1);
  assert.throws(queued[0], /listener bug/, 'reported, not swallowed');
  off();
  offBug();
  c._emit('connection', { state: 'x' });
  assert.deepEqual(seen.slice(3), [['after', 'x']]);
});

test('index.d.ts declares exactly what index.js exports; package.json has the version', () => {
  const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8');
  const declared = new Set([...dts.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]));
  if (/^export default \w+;/m.test(dts)) declared.add('default');
  assert.deepEqual([...declared].sort(), Object.keys(lib).sort());
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.version, VERSION);
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.types, './index.d.ts');
  assert.match(readFileSync(new URL('../CHANGELOG.md', import.meta.url), 'utf8'), new RegExp(`## ${VERSION.replace(/\./g, '\\.')}\\b`));
});
