// The deadline is kept without validators: queue/lua/expire.lua on its own
// (the bound to the millisecond, pending and undelivered entries, the
// cursor, the guard, the load counters, the feed), then the gateway's sweep
// (gateway/features/expiry.c) against real processes: with no validator
// every accepted order is answered EXPIRED within the deadline, an order
// decided in time is left alone, a validator that comes later skips what
// was expired, and two gateways sweeping one room expire each order once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { luaSource } from '../../scripts/lib/lua-source.mjs';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, waitFor, newSecrets,
} from './lib/system.mjs';

const script = luaSource('expire.lua');
const DEADLINE = 2000;
const MARGIN = 500;
const BOUND = DEADLINE - MARGIN; // an order older than this is EXPIRED
const GW_ENV = {
  LIVEGATE_DEADLINE_MS: String(DEADLINE), LIVEGATE_EXPIRE_MARGIN_MS: String(MARGIN), LIVEGATE_ADMIT_WAIT_MS: '1000',
};
const GROUP = 'lg-validators';
const MESSAGE = 'the order could not be validated within the deadline';
let redis;

before(async () => { redis = await startRedis(); });
after(stopAll);

const cli = (...a) => redis.cli(...a.map(String));
const redisNowMs = async () => {
  const [s, us] = (await cli('TIME')).split('\n').map(Number);
  return s * 1000 + Math.floor(us / 1000);
};
const stream = (room, prio) => `lg:{${room}}:q:${prio}`;
const recordKey = (room, oid) => `lg:{${room}}:order:${oid}`;
const record = async (room, oid) => {
  const flat = (await cli('HGETALL', recordKey(room, oid))).split('\n');
  const r = {};
  for (let i = 0; i + 1 < flat.length; i += 2) r[flat[i]] = flat[i + 1];
  return r;
};

// ---- the script on its own ---------------------------------------------------

const NAMES = ['order_id', 'status', 'code', 'field', 'message', 'decided_at_ms', 'accepted_at_ms', 'gw'];

// One expire.lua call: { state, rows } with rows as objects of NAMES.
async function expire(room, { gw = 'gw-a', batch = 256, feed = '', guard = 150 } = {}) {
  const out = await cli('EVAL', script, 5, stream(room, 'high'), stream(room, 'normal'),
    `lg:{${room}}:load`, `lg:{${room}}:sweep`, `lg:{${room}}:feed:watched`,
    DEADLINE, MARGIN, gw, guard, batch, feed, room, `lg:{${room}}:order:`, 3600000,
    NAMES.length, ...NAMES);
  const lines = out.split('\n');
  const rows = [];
  for (let i = 1; i + NAMES.length <= lines.length; i += NAMES.length) {
    rows.push(Object.fromEntries(NAMES.map((n, k) => [n, lines[i + k]])));
  }
  return { state: lines[0], rows };
}

// An order as enqueue.lua leaves it: the record and its stream entry, whose
// id carries the acceptance's millisecond as Redis's clock gives it.
let seq = 0;
async function addOrder(room, prio, acceptedAt, { status = 'queued', gw = 'gw-a', idMs = acceptedAt } = {}) {
  const oid = `o-${room}-${++seq}`;
  const id = `${idMs}-${seq}`;
  await cli('HSET', recordKey(room, oid), 'order_id', oid, 'status', status, 'priority', prio,
    'accepted_at_ms', acceptedAt, 'gw', gw, 'user', 'u1', 'client_order_id', `c-${seq}`,
    'sku_id', 'sku-1', 'qty', 1, 'amount', 100, 'buyer', '张*', 'phone', '138****8000');
  const entryId = await cli('XADD', stream(room, prio), id, 'order_id', oid, 'user', 'u1',
    'sku_id', 'sku-1', 'coupon_id', '', 'accepted_at_ms', acceptedAt, 'gw', gw);
  return { oid, entryId };
}

// Queued orders, one per millisecond of acceptance from BOUND - from to
// BOUND - to ms before Redis's now, oldest first, made in one step so the
// ages are exact; returns that now and the orders' ids. Each entry's id is
// idShift ms after its acceptance (-1: as when XADD read the clock a
// millisecond before enqueue.lua's TIME).
const FIXTURE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local room, bound, from, to = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local shift = tonumber(ARGV[5])
local out = {string.format('%d', now)}
for k = from, to do
  local at = string.format('%d', now - bound + k)
  local id = string.format('%d', now - bound + k + shift) .. '-0'
  local oid = 'o-' .. room .. '-' .. (k - from)
  redis.call('HSET', 'lg:{' .. room .. '}:order:' .. oid, 'order_id', oid, 'status', 'queued',
             'priority', 'normal', 'accepted_at_ms', at, 'gw', 'gw-a', 'user', 'u1')
  redis.call('XADD', 'lg:{' .. room .. '}:q:normal', id, 'order_id', oid, 'user', 'u1',
             'sku_id', 'sku-1', 'coupon_id', '', 'accepted_at_ms', at, 'gw', 'gw-a')
  out[#out + 1] = oid
end
return out`;

// n orders of one status and priority, all accepted age ms before Redis's
// now, in one step, at the end of their stream (ids carry the acceptance's
// millisecond, as enqueue.lua's do); returns their ids.
const BULK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local room, prio, status, n, age = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local at = string.format('%d', now - age)
local last = redis.call('XREVRANGE', 'lg:{' .. room .. '}:q:' .. prio, '+', '-', 'COUNT', 1)[1]
local base = 0
if last and string.match(last[1], '^(%d+)') == at then
  base = tonumber(string.match(last[1], '-(%d+)$'))
end
local out = {}
for i = 1, n do
  local oid = 'o-' .. room .. '-' .. status .. '-' .. i
  redis.call('HSET', 'lg:{' .. room .. '}:order:' .. oid, 'order_id', oid, 'status', status,
             'priority', prio, 'accepted_at_ms', at, 'gw', 'gw-a', 'user', 'u1')
  redis.call('XADD', 'lg:{' .. room .. '}:q:' .. prio, at .. '-' .. (base + i), 'order_id', oid, 'user', 'u1',
             'sku_id', 'sku-1', 'coupon_id', '', 'accepted_at_ms', at, 'gw', 'gw-a')
  out[#out + 1] = oid
end
return out`;
const bulk = async (room, prio, status, n, age = 5000) =>
  (await cli('EVAL', BULK, 0, room, prio, status, n, age)).split('\n');

for (const [room, shift] of [['b1', 0], ['b2', -1]]) test(`the bound (entry ids ${shift} ms from the acceptance): an order exactly deadline - margin old is left queued, one a millisecond older is EXPIRED`, async () => {
  const FROM = -40, TO = 400;
  const [t0s, ...oids] = (await cli('EVAL', FIXTURE, 0, room, BOUND, FROM, TO, shift)).split('\n');
  const t0 = Number(t0s);
  const orders = oids.map((oid, i) => ({ oid, at: t0 - BOUND + FROM + i }));
  const { state, rows } = await expire(room, { batch: 1000 });
  assert.equal(state, 'done');
  assert.ok(rows.length > 0);
  const now = Number(rows[0].decided_at_ms);
  assert.ok(now - t0 < TO, `the call ran ${now - t0} ms after the orders were made`);
  const expired = new Set(rows.map((r) => r.order_id));
  for (const o of orders) {
    const age = now - o.at;
    assert.equal(expired.has(o.oid), age > BOUND, `age ${age} ms`);
    if (Math.abs(age - BOUND) <= 2) {
      const rec = await record(room, o.oid);
      assert.equal(rec.status, age > BOUND ? 'rejected' : 'queued', `age ${age} ms`);
    }
  }
  // Both sides of the bound were there.
  assert.ok(orders.some((o) => now - o.at === BOUND) && orders.some((o) => now - o.at === BOUND + 1));
  for (const r of rows) {
    assert.deepEqual([r.status, r.code, r.field, r.message, r.decided_at_ms, r.gw],
      ['rejected', 'EXPIRED', '', MESSAGE, String(now), 'gw-a']);
  }
});

// A bare RESP subscriber: every bulk string that is JSON is a payload.
async function subscribe(channel) {
  const heard = [];
  const sub = net.connect(redis.port, '127.0.0.1');
  let buf = '';
  sub.on('data', (d) => {
    buf += d.toString();
    const lines = buf.split('\r\n');
    buf = lines.pop();
    for (const l of lines) if (l.startsWith('[')) heard.push(JSON.parse(l));
  });
  sub.write(`SUBSCRIBE ${channel}\r\n`);
  await waitFor(async () => Number((await cli('PUBSUB', 'NUMSUB', channel)).split('\n')[1]) === 1,
    { what: 'the test subscriber' });
  return { heard, close: () => sub.destroy() };
}

test('pending entries are expired and acknowledged, undelivered ones expired, decided and young ones left; the load goes down, never below 0; the feed hears it', async () => {
  const room = 'p1';
  for (const prio of ['high', 'normal']) await cli('XGROUP', 'CREATE', stream(room, prio), GROUP, 0, 'MKSTREAM');
  await cli('HSET', `lg:{${room}}:load`, 'high', 0, 'normal', 5);
  await cli('SET', `lg:{${room}}:feed:watched`, 1, 'PX', 60000);
  const feed = await subscribe(`lg:ev:feed:${room}`);
  const old = (await redisNowMs()) - 5000;
  const n1 = await addOrder(room, 'normal', old);                                  // delivered, queued
  const n2 = await addOrder(room, 'normal', old, { status: 'pending_payment' });   // delivered, decided, not acked
  // A stuck validator took the first two.
  await cli('XREADGROUP', 'GROUP', GROUP, 'stuck', 'COUNT', 2, 'STREAMS', stream(room, 'normal'), '>');
  const n3 = await addOrder(room, 'normal', old);                                  // undelivered, queued
  const h1 = await addOrder(room, 'high', old);                                    // undelivered, queued
  const young = await addOrder(room, 'normal', (await redisNowMs()) - BOUND + 1000); // due in 1 s
  try {
    // A long guard, so the other gateway's call below falls inside it.
    const first = await expire(room, { feed: `lg:ev:feed:${room}`, guard: 60000 });
    assert.equal(first.state, 'done');
    // Another gateway within the guard period does nothing; this one may go
    // on, and finds nothing more (before the young order is due).
    assert.deepEqual(await expire(room, { gw: 'gw-b' }), { state: 'busy', rows: [] });
    assert.deepEqual(await expire(room), { state: 'done', rows: [] });
    // High stream first, then pending, then undelivered.
    assert.deepEqual(first.rows.map((r) => r.order_id), [h1.oid, n1.oid, n3.oid]);
    for (const o of [h1, n1, n3]) {
      const rec = await record(room, o.oid);
      assert.deepEqual([rec.status, rec.code, rec.field, rec.message], ['rejected', 'EXPIRED', '', MESSAGE]);
    }
    assert.equal((await record(room, n2.oid)).status, 'pending_payment');
    assert.equal((await record(room, young.oid)).status, 'queued');
    // n1 acknowledged; n2 still pending for its validator to answer.
    const pending = (await cli('XPENDING', stream(room, 'normal'), GROUP, '-', '+', 10)).split('\n');
    assert.deepEqual(pending.filter((l) => /^\d+-\d+$/.test(l)), [n2.entryId]);
    assert.deepEqual((await cli('HMGET', `lg:{${room}}:load`, 'high', 'normal')).split('\n'), ['0', '3']);
    await waitFor(() => feed.heard.length >= 1, { what: 'the feed message' });
    assert.equal(feed.heard.length, 1);
    assert.deepEqual(feed.heard[0].map((e) => [e.order_id, e.status, e.code, e.room, e.buyer]),
      [h1, n1, n3].map((o) => [o.oid, 'rejected', 'EXPIRED', room, '张*']));

    // The young order is expired once due, not skipped by the cursor; the
    // decided n2 is never expired.
    const later = await waitFor(async () => {
      const r = await expire(room);
      return r.rows.length ? r : null;
    }, { what: 'the young order to expire', everyMs: 50 });
    assert.deepEqual(later.rows.map((r) => r.order_id), [young.oid]);
    assert.equal((await record(room, n2.oid)).status, 'pending_payment');
    assert.deepEqual((await cli('HMGET', `lg:{${room}}:load`, 'high', 'normal')).split('\n'), ['0', '2']);
    // Once this gateway's guard period has passed, another may sweep.
    await waitFor(async () => (await expire(room, { gw: 'gw-b' })).state === 'done',
      { what: 'the guard to lapse', everyMs: 20 });
  } finally {
    feed.close();
  }
});

test('bad arguments are an error and change nothing', async () => {
  const old = (await redisNowMs()) - 5000;
  const o = await addOrder('x1', 'normal', old);
  const call = (...args) => cli('EVAL', script, 5, stream('x1', 'high'), stream('x1', 'normal'),
    'lg:{x1}:load', 'lg:{x1}:sweep', 'lg:{x1}:feed:watched', ...args).catch((e) => String(e));
  const good = [DEADLINE, MARGIN, 'gw-a', 150, 256, '', 'x1', 'lg:{x1}:order:', 3600000, 1, 'status'];
  const bad = [
    good.map((v, i) => (i === 0 ? 'soon' : v)),      // deadline not a number
    good.map((v, i) => (i === 1 ? DEADLINE : v)),    // margin not below the deadline
    good.map((v, i) => (i === 9 ? 2 : v)),           // more names announced than given
  ];
  for (const args of bad) assert.match(await call(...args), /bad arguments/);
  assert.equal((await record('x1', o.oid)).status, 'queued');
  assert.equal(await cli('EXISTS', 'lg:{x1}:sweep'), '0');
  assert.equal(await call(...good), 'done\nrejected');
  assert.equal((await record('x1', o.oid)).status, 'rejected');
});

test('a load hash without counters is not created', async () => {
  const old = (await redisNowMs()) - 5000;
  await addOrder('l1', 'normal', old);
  assert.equal((await expire('l1')).rows.length, 1);
  assert.equal(await cli('EXISTS', 'lg:{l1}:load'), '0');
});

test('the batch bound: a call looks at ARGV[5] entries, says "more", and the cursor passes decided entries', async () => {
  const room = 'm1';
  // 120 entries already decided (say, expired while no validator ran),
  // then one still queued: without the cursor, every call would look at
  // the same first 50 and never reach it.
  await bulk(room, 'normal', 'rejected', 120, 60000);
  const [last] = await bulk(room, 'normal', 'queued', 1, 5000);
  const states = [];
  let got = [];
  for (let i = 0; i < 5; i++) {
    const r = await expire(room, { batch: 50 });
    states.push(r.state);
    got = got.concat(r.rows.map((x) => x.order_id));
    if (r.state === 'done') break;
  }
  assert.deepEqual(states, ['more', 'more', 'done']);
  assert.deepEqual(got, [last]);
  // At the bound: 51 queued entries are 50 expired orders and "more", then 1.
  const room2 = 'm2';
  await bulk(room2, 'high', 'queued', 51);
  const a = await expire(room2, { batch: 50 });
  assert.deepEqual([a.state, a.rows.length], ['more', 50]);
  const b = await expire(room2, { batch: 50 });
  assert.deepEqual([b.state, b.rows.length], ['done', 1]);
});

// ---- the gateway's sweep -----------------------------------------------------

const finals = new Set(['order.confirmed', 'order.rejected']);
const isFinal = (m) => finals.has(m.type) && m.order_id;

async function submit(c, order) {
  c.send(order);
  const acc = await c.next((m) => m.client_order_id === order.client_order_id &&
    (m.type === 'order.accepted' || m.type === 'error' || m.type === 'order.rejected'));
  assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
  return acc;
}

// A counter of /metrics by its label, e.g. ('livegate_results_total', 'kind', 'repeated').
async function counter(gw, name, label, value) {
  const r = await gw.http('GET', '/metrics');
  const line = r.text.split('\n').find((l) => l.startsWith(`${name}{${label}="${value}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

// The validators' group on a stream, as XINFO GROUPS names its fields.
async function groupInfo(key) {
  const flat = (await cli('XINFO', 'GROUPS', key)).split('\n');
  const g = {};
  for (let i = 0; i + 1 < flat.length; i += 2) g[flat[i]] = flat[i + 1];
  return g;
}

const stock = async (room, sku) => Number(await cli('HGET', `lg:{${room}}:sku:${sku}`, 'stock'));

test('with no validator, every accepted order is answered EXPIRED within the deadline; the load and the room stats count it', async () => {
  const gw = await startGateway({ redis, env: GW_ENV });
  await setupRoom(gw, 'g1', { threshold: 50000, skus: { 'sku-1': { name: '茶', price: 19900, stock: 100, on_sale: true } } });
  const c = await gw.session({ sub: 'buyer-1', room: 'g1', role: 'viewer' });
  const orders = [];
  for (let i = 0; i < 3; i++) orders.push(validOrder({ room_id: 'g1' }));
  for (let i = 0; i < 2; i++) orders.push(validOrder({ room_id: 'g1', qty: 3, amount: 3 * 19900 })); // high
  const accepted = [];
  for (const o of orders) accepted.push(await submit(c, o));
  assert.deepEqual(accepted.map((a) => a.priority), ['normal', 'normal', 'normal', 'high', 'high']);
  // Whatever enqueue.lua counted, the counters the sweep takes from (high
  // goes below 0 without the clamp).
  await cli('HSET', 'lg:{g1}:load', 'high', 1, 'normal', 10);
  for (const acc of accepted) {
    const res = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
    assert.equal(res.type, 'order.rejected');
    assert.equal(res.code, 'EXPIRED');
    assert.equal(res.field, null);
    assert.equal(res.client_order_id, acc.client_order_id);
    const rec = await record('g1', acc.order_id);
    assert.equal(rec.status, 'rejected');
    const age = Number(rec.decided_at_ms) - acc.accepted_at_ms;
    assert.ok(age > BOUND && age <= DEADLINE, `decided ${age} ms after acceptance`);
  }
  assert.deepEqual((await cli('HMGET', 'lg:{g1}:load', 'high', 'normal')).split('\n'), ['0', '7']);
  assert.equal(await stock('g1', 'sku-1'), 100);
  // The room's statistics: five rejections, all EXPIRED, none late.
  await waitFor(async () => (await cli('HGET', 'lg:{g1}:stats', 'rej:EXPIRED')) === '5',
    { what: 'the stats flush', timeoutMs: 5000 });
  assert.equal(await cli('HGET', 'lg:{g1}:stats', 'rejected'), '5');
  assert.equal(await cli('HGET', 'lg:{g1}:stats', 'sla_violations'), '');
  assert.ok(await c.none((m) => isFinal(m), 200), 'one result per order');
  c.close();
  await gw.stop();
});

test('an order decided before its deadline is not expired', async () => {
  const gw = await startGateway({ redis, env: GW_ENV });
  await setupRoom(gw, 'g2', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 100, on_sale: true } } });
  const v = await startValidator({ redis, env: GW_ENV });
  const c = await gw.session({ sub: 'buyer-2', room: 'g2', role: 'viewer' });
  const done = await submit(c, validOrder({ room_id: 'g2' }));
  const res = await c.next((m) => isFinal(m) && m.order_id === done.order_id, 10000);
  assert.equal(res.type, 'order.confirmed');
  await v.stop();
  // A later order expires: the sweep has passed the first one by then.
  const witness = await submit(c, validOrder({ room_id: 'g2' }));
  const wres = await c.next((m) => isFinal(m) && m.order_id === witness.order_id, 10000);
  assert.equal(wres.code, 'EXPIRED');
  assert.equal((await record('g2', done.order_id)).status, 'pending_payment');
  assert.equal(await stock('g2', 'sku-1'), 99);
  assert.ok(!c.messages.some((m) => isFinal(m) && m.order_id === done.order_id), 'no second result');
  c.close();
  await gw.stop();
});

test('a validator that comes after the sweep skips the expired orders: stock untouched, no second result, the record stays EXPIRED', async () => {
  const gw = await startGateway({ redis, env: GW_ENV });
  await setupRoom(gw, 'g3', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
  // The group as a validator makes it; one that took the first order and
  // froze (delivered, never acknowledged), the others never delivered.
  await cli('XGROUP', 'CREATE', stream('g3', 'normal'), GROUP, 0, 'MKSTREAM');
  const c = await gw.session({ sub: 'buyer-3', room: 'g3', role: 'viewer' });
  const first = await submit(c, validOrder({ room_id: 'g3' }));
  await cli('XREADGROUP', 'GROUP', GROUP, 'frozen', 'COUNT', 1, 'STREAMS', stream('g3', 'normal'), '>');
  const rest = [await submit(c, validOrder({ room_id: 'g3' })), await submit(c, validOrder({ room_id: 'g3' }))];
  for (const acc of [first, ...rest]) {
    const res = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
    assert.equal(res.code, 'EXPIRED');
  }
  assert.equal(await cli('XPENDING', stream('g3', 'normal'), GROUP, '-', '+', 10), '', 'the frozen entry was acknowledged');
  const repeatedBefore = await counter(gw, 'livegate_results_total', 'kind', 'repeated');

  const v = await startValidator({ redis, env: GW_ENV });
  // The validator reads the two undelivered entries and re-sends their
  // stored results, which the gateway drops as repeats.
  await waitFor(async () => (await counter(gw, 'livegate_results_total', 'kind', 'repeated')) >= repeatedBefore + 2,
    { what: 'the validator to re-send the stored results', timeoutMs: 10000 });
  await waitFor(async () => {
    const g = await groupInfo(stream('g3', 'normal'));
    return g.pending === '0' && g.lag === '0';
  }, { what: 'the validator to acknowledge every entry' });
  for (const acc of [first, ...rest]) {
    const rec = await record('g3', acc.order_id);
    assert.deepEqual([rec.status, rec.code], ['rejected', 'EXPIRED']);
  }
  assert.equal(await stock('g3', 'sku-1'), 10);
  assert.ok(!c.messages.some((m) => isFinal(m)), `no second result: ${JSON.stringify(c.messages)}`);
  await v.stop();
  c.close();
  await gw.stop();
});

test('a validator frozen (SIGSTOP) while its orders expire, then resumed, answers nothing twice and takes no stock', async () => {
  const gw = await startGateway({ redis, env: GW_ENV });
  await setupRoom(gw, 'g5', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
  const v = await startValidator({ redis, env: GW_ENV });
  const c = await gw.session({ sub: 'buyer-5', room: 'g5', role: 'viewer' });
  const live = await submit(c, validOrder({ room_id: 'g5' }));
  assert.equal((await c.next((m) => isFinal(m) && m.order_id === live.order_id, 10000)).type, 'order.confirmed');
  process.kill(v.pid, 'SIGSTOP');
  try {
    const frozen = [];
    for (let i = 0; i < 3; i++) frozen.push(await submit(c, validOrder({ room_id: 'g5' })));
    for (const acc of frozen) {
      const res = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
      assert.equal(res.code, 'EXPIRED');
    }
    const inBefore = await counter(gw, 'livegate_results_total', 'kind', 'in');
    process.kill(v.pid, 'SIGCONT');
    // The validator gets to the entries (what its frozen read held, what it
    // reads now) and re-sends their stored results; the gateway drops them.
    await waitFor(async () => {
      const g = await groupInfo(stream('g5', 'normal'));
      return g.pending === '0' && g.lag === '0';
    }, { what: 'the validator to acknowledge every entry', timeoutMs: 10000 });
    await waitFor(async () => (await counter(gw, 'livegate_results_total', 'kind', 'in')) > inBefore,
      { what: 'a re-sent result', timeoutMs: 10000 });
    for (const acc of frozen) {
      const rec = await record('g5', acc.order_id);
      assert.deepEqual([rec.status, rec.code], ['rejected', 'EXPIRED']);
    }
    assert.equal(await stock('g5', 'sku-1'), 9);
    assert.equal(await counter(gw, 'livegate_results_total', 'kind', 'repeated'),
      (await counter(gw, 'livegate_results_total', 'kind', 'in')) - inBefore);
    assert.ok(!c.messages.some(isFinal), `no second result: ${JSON.stringify(c.messages)}`);
  } finally {
    process.kill(v.pid, 'SIGCONT');
  }
  await v.stop();
  c.close();
  await gw.stop();
});

test('two gateways sweeping one room expire each order once', async () => {
  const secrets = newSecrets();
  const a = await startGateway({ redis, secrets, env: { ...GW_ENV, LIVEGATE_GATEWAY_ID: 'gw-one' } });
  const b = await startGateway({ redis, secrets, env: { ...GW_ENV, LIVEGATE_GATEWAY_ID: 'gw-two' } });
  await setupRoom(a, 'g4', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
  const ca = await a.session({ sub: 'buyer-a', room: 'g4', role: 'viewer' });
  const cb = await b.session({ sub: 'buyer-b', room: 'g4', role: 'viewer' });
  const onA = [], onB = [];
  for (let i = 0; i < 4; i++) {
    onA.push(await submit(ca, validOrder({ room_id: 'g4' })));
    onB.push(await submit(cb, validOrder({ room_id: 'g4' })));
  }
  for (const [c, accs] of [[ca, onA], [cb, onB]]) {
    for (const acc of accs) {
      const res = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
      assert.equal(res.code, 'EXPIRED');
    }
  }
  // Each order went to its gateway's reply stream once: no repeats, and
  // the room counted eight expiries in all.
  for (const gw of [a, b]) {
    assert.equal(await counter(gw, 'livegate_results_total', 'kind', 'in'), 4);
    assert.equal(await counter(gw, 'livegate_results_total', 'kind', 'repeated'), 0);
  }
  await waitFor(async () => (await cli('HGET', 'lg:{g4}:stats', 'rej:EXPIRED')) === '8',
    { what: 'the stats flush', timeoutMs: 5000 });
  await Promise.all([a.stop(), b.stop()]);
  assert.equal(await cli('HGET', 'lg:{g4}:stats', 'rej:EXPIRED'), '8');
  assert.ok(!ca.messages.some(isFinal) && !cb.messages.some(isFinal), 'one result per order');
});

test('an expired order reaches the gateways a duplicate submit asked on (watchers), once each', async () => {
  const secrets = newSecrets();
  const a = await startGateway({ redis, secrets, env: GW_ENV });
  const b = await startGateway({ redis, secrets, env: GW_ENV });
  await setupRoom(a, 'g7', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
  const onA = await a.session({ sub: 'buyer-8', room: 'g7', role: 'viewer' });
  const onB = await b.session({ sub: 'buyer-8', room: 'g7', role: 'viewer' });
  const order = validOrder({ room_id: 'g7' });
  const acc = await submit(onA, order);
  // The same buyer resubmits through the other gateway while it is queued.
  onB.send(order);
  const dup = await onB.next((m) => m.client_order_id === order.client_order_id && m.type === 'order.accepted');
  assert.equal(dup.duplicate, true);
  assert.ok((await record('g7', acc.order_id)).watchers, 'b is a watcher');
  for (const c of [onA, onB]) {
    const res = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
    assert.equal(res.code, 'EXPIRED');
  }
  for (const gw of [a, b]) {
    assert.equal(await counter(gw, 'livegate_results_total', 'kind', 'repeated'), 0);
  }
  assert.ok(!onA.messages.some(isFinal) && !onB.messages.some(isFinal), 'one result per connection');
  onA.close();
  onB.close();
  await Promise.all([a.stop(), b.stop()]);
});

test('another gateway in the room expires the orders of a gateway that died, and stops sweeping two deadlines after its last submit there', async () => {
  const secrets = newSecrets();
  const a = await startGateway({ redis, secrets, env: GW_ENV });
  const b = await startGateway({ redis, secrets, env: GW_ENV });
  await setupRoom(b, 'g6', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
  const ca = await a.session({ sub: 'buyer-6', room: 'g6', role: 'viewer' });
  const orphan = validOrder({ room_id: 'g6' });
  const lost = await submit(ca, orphan);
  await a.kill9();
  const cb = await b.session({ sub: 'buyer-7', room: 'g6', role: 'viewer' });
  const witness = await submit(cb, validOrder({ room_id: 'g6' }));
  assert.equal((await cb.next((m) => isFinal(m) && m.order_id === witness.order_id, 10000)).code, 'EXPIRED');
  const rec = await record('g6', lost.order_id);
  assert.deepEqual([rec.status, rec.code], ['rejected', 'EXPIRED']);
  // The buyer reconnects to the live gateway and resubmits: the result.
  const again = await b.session({ sub: 'buyer-6', room: 'g6', role: 'viewer' });
  again.send(orphan);
  const dup = await again.next((m) => m.client_order_id === orphan.client_order_id && m.type === 'order.accepted');
  assert.equal(dup.duplicate, true);
  assert.equal((await again.next((m) => isFinal(m) && m.order_id === lost.order_id)).code, 'EXPIRED');

  // No submit since: two deadlines after the last one, b stops sweeping
  // g6 (its guard is no longer renewed), and an order queued there now
  // (as by a gateway b never heard of) is left to the validators.
  await waitFor(async () => Number(await cli('HGET', 'lg:{g6}:sweep', 'until')) < (await redisNowMs()) - 1000,
    { what: 'the gateway to forget the room', timeoutMs: 4 * DEADLINE, everyMs: 200 });
  // (Its entry id after the stream's last, and past the cutoff already.)
  const now = await redisNowMs();
  const late = await addOrder('g6', 'normal', now - 5000, { idMs: now - BOUND - 100 });
  assert.ok(await cb.none(() => false, 3 * 200 + 100));
  assert.equal((await record('g6', late.oid)).status, 'queued');
  for (const c of [ca, cb, again]) c.close();
  await b.stop();
});
