// Admission (issue 12): enqueue.lua's BUSY against the room's backlog and
// drain rate, its per-user token bucket, validate.lua's bookkeeping of the
// load, and the gateway's share: jitter, shedding for the hold without a
// script call, the in-flight cap per connection, and the limits
// holding across gateway processes. Every bound is tried on both sides.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep, waitFor,
} from './lib/system.mjs';
import { runEnqueue } from './lib/enqueue.mjs';
import { luaSource } from '../../scripts/lib/lua-source.mjs';
import { validateCall } from '../../scripts/lib/validate-call.mjs';

const validateScript = luaSource('validate.lua');

let redis;
// One sample of livegate_orders_total from a gateway's /metrics.
const outcome = async (gw, name) => {
  const r = await gw.http('GET', '/metrics');
  const m = r.text.match(new RegExp(`^livegate_orders_total\\{outcome="${name}"\\} (\\d+)$`, 'm'));
  assert.ok(m, `no ${name} sample`);
  return Number(m[1]);
};
before(async () => {
  redis = await startRedis();
});
after(stopAll);

const redisNow = async () => {
  const [s, us] = (await redis.cli('TIME')).split('\n').map(Number);
  return s * 1000 + Math.floor(us / 1000);
};
const load = async (room) => {
  const flat = (await redis.cli('HGETALL', `lg:{${room}}:load`)).split('\n');
  const out = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
};
const setLoad = async (room, fields) =>
  redis.cli('HSET', `lg:{${room}}:load`, ...Object.entries(fields).flatMap(([k, v]) => [k, String(v)]));
const streamLen = async (room, prio) => Number(await redis.cli('XLEN', `lg:{${room}}:q:${prio}`));
const exists = async (key) => (await redis.cli('EXISTS', key)) === '1';

// ---- enqueue.lua -------------------------------------------------------

test('an order is admitted while the predicted wait is within the bound, and refused one past it', async () => {
  // 100 decisions a second and 1000 ms admitted: 99 ahead is a wait of
  // exactly 1000 ms, 100 ahead is 1010 ms; the refused order's turn is the
  // 10 ms past the bound plus its place in the (empty) waiting line, 10 ms.
  const now = await redisNow();
  await setLoad('a1', { high: 0, normal: 99, rate: 100, d_at: now });
  let res = await runEnqueue(redis, 'a1', [{ oid: 'o-in', coid: 'c-in' }], { wait: 1000 });
  assert.equal(res[0][0], 'accepted');
  assert.equal((await load('a1')).normal, '100');

  res = await runEnqueue(redis, 'a1', [{ oid: 'o-out', coid: 'c-out' }], { wait: 1000 });
  assert.deepEqual(res[0], ['busy', '20', 'normal', '', '10000', '0', '0']);
  // Nothing of the refused order is stored, and the backlog is unchanged.
  assert.equal(await exists('lg:{a1}:order:o-out'), false);
  assert.equal(await exists('lg:{a1}:idem:u1/c-out'), false);
  assert.equal(await streamLen('a1', 'normal'), 1);
  assert.equal((await load('a1')).normal, '100');
});

test('a high order waits behind the high queue only, so it is shed last', async () => {
  const now = await redisNow();
  await redis.cli('HSET', 'lg:{a2}:room', 'high_value_threshold', '100000');
  await setLoad('a2', { high: 5, normal: 100000, rate: 100, d_at: now });
  const res = await runEnqueue(redis, 'a2', [
    { oid: 'o-n', coid: 'c-n' },
    { oid: 'o-h', coid: 'c-h', amount: 100000 },
    { oid: 'o-v', coid: 'c-v', tier: 'vip' },
  ], { wait: 1000 });
  assert.equal(res[0][0], 'busy');
  assert.equal(res[0][2], 'normal');
  assert.equal(res[0][3], '100000', 'the threshold goes back for the gateway to shed by');
  assert.deepEqual([res[1][0], res[1][2]], ['accepted', 'high']);
  assert.deepEqual([res[2][0], res[2][2]], ['accepted', 'high']);
  assert.equal((await load('a2')).high, '7');

  // The high queue itself full: high orders are refused too. (The waiting
  // line emptied, so the turn does not depend on how fast these calls are.)
  await setLoad('a2', { high: 100, wl: 0 });
  const full = await runEnqueue(redis, 'a2', [{ oid: 'o-h2', coid: 'c-h2', amount: 100000 }], { wait: 1000 });
  assert.deepEqual(full[0], ['busy', '20', 'high', '100000', '10000', '0', '0']);
  // Far past the bound, the retry is the time until the wait is back within it.
  await setLoad('a2', { high: 1000, wl: 0 });
  const far = await runEnqueue(redis, 'a2', [{ oid: 'o-h3', coid: 'c-h3', amount: 100000 }], { wait: 1000 });
  assert.deepEqual(far[0], ['busy', '9020', 'high', '100000', '10000', '0', '0']);
});

test('refused orders get consecutive turns in the waiting line, which shortens as places free', async () => {
  const now = await redisNow();
  await setLoad('a8', { high: 0, normal: 100, rate: 10, d_at: now });
  // 10 a second: a place every 100 ms; 100 ahead is 5,100 ms past a bound of 5,000.
  const res = await runEnqueue(redis, 'a8', Array.from({ length: 4 }, (_, i) => ({ oid: `o-${i}`, coid: `c-${i}` })));
  assert.deepEqual(res.map((r) => r[1]), ['5200', '5300', '5400', '5500']);
  assert.deepEqual(res.map((r) => r[4]), ['100000', '100000', '100000', '100000']);
  const l = await load('a8');
  assert.ok(Number(l.wl) > 3.9 && Number(l.wl) <= 4, `line ${l.wl}`);
  // 250 ms later 2.5 places have freed: the next refusal is about third in line.
  await setLoad('a8', { wl_at: Number(l.wl_at) - 250 });
  const next = await runEnqueue(redis, 'a8', [{ oid: 'o-9', coid: 'c-9' }]);
  // (less the real time the calls took, a place per 100 ms of it)
  assert.ok(Number(next[0][1]) >= 5200 && Number(next[0][1]) <= 5350, `turn ${next[0][1]}`);
});

test('a refusal sets places aside for the gateway; the next refusal gets its turn after them', async () => {
  const now = await redisNow();
  await setLoad('a9', { high: 0, normal: 100, rate: 10, d_at: now });
  // As above: turns 5,200 and 5,300 ms; then 50 places kept from 5,400 ms.
  const res = await runEnqueue(redis, 'a9', [{ oid: 'o-0', coid: 'c-0' }, { oid: 'o-1', coid: 'c-1' }],
    { reserve: 50 });
  assert.deepEqual(res.map((r) => r.slice(0, 2)), [['busy', '5200'], ['busy', '5300']]);
  assert.deepEqual(res.map((r) => r.slice(5)), [['5400', '50'], ['5400', '50']]);
  const l = await load('a9');
  assert.ok(Number(l.wl) > 51.9 && Number(l.wl) <= 52, `line ${l.wl}`);
  // Another gateway refused now waits behind the 52 places: 5,100 + 53 x 100 ms.
  const other = await runEnqueue(redis, 'a9', [{ oid: 'o-2', coid: 'c-2' }], { reserve: 0 });
  assert.ok(Number(other[0][1]) >= 10300 && Number(other[0][1]) <= 10400, `turn ${other[0][1]}`);
  assert.deepEqual(other[0].slice(5), ['0', '0']);
  // The reservation is capped at 4,096 places, and none is made in a stall.
  const big = await runEnqueue(redis, 'a9', [{ oid: 'o-3', coid: 'c-3' }], { reserve: 999999 });
  assert.equal(big[0][6], '4096');
  await setLoad('a10', { high: 0, normal: 100, rate: 10, d_at: now - 60000, since: now - 60000 });
  await redis.cli('XGROUP', 'CREATE', 'lg:{a10}:q:normal', 'lg-validators', '$', 'MKSTREAM');
  await redis.cli('XADD', 'lg:{a10}:q:normal', '*', 'order_id', 'o-x');
  const stalled = await runEnqueue(redis, 'a10', [{ oid: 'o-4', coid: 'c-4' }], { reserve: 50 });
  assert.deepEqual([stalled[0][0], ...stalled[0].slice(5)], ['busy', '0', '0']);
});

test('orders of one batch count the ones admitted before them', async () => {
  const now = await redisNow();
  await setLoad('a3', { high: 0, normal: 98, rate: 100, d_at: now });
  const res = await runEnqueue(redis, 'a3', [
    { oid: 'o-1', coid: 'c-1' }, { oid: 'o-2', coid: 'c-2' }, { oid: 'o-3', coid: 'c-3' },
    { oid: 'o-1b', coid: 'c-1' }, { oid: 'o-3b', coid: 'c-3' },
  ], { wait: 1000 });
  assert.deepEqual(res.map((r) => r[0]), ['accepted', 'accepted', 'busy', 'duplicate', 'busy']);
  assert.equal((await load('a3')).normal, '100');
  assert.equal(await streamLen('a3', 'normal'), 2);
});

test('a duplicate of an admitted order is answered duplicate even while the room refuses', async () => {
  const now = await redisNow();
  await setLoad('a4', { high: 0, normal: 0, rate: 100, d_at: now });
  const first = await runEnqueue(redis, 'a4', [{ oid: 'o-1', coid: 'c-1' }], { wait: 1000 });
  assert.equal(first[0][0], 'accepted');
  await setLoad('a4', { normal: 1000 });
  const again = await runEnqueue(redis, 'a4', [{ oid: 'o-1x', coid: 'c-1' }], { wait: 1000 });
  assert.deepEqual(again[0], ['duplicate', 'o-1', 'normal', first[0][3]]);
});

test('an unknown drain rate admits; a backlog without a decision past the stall refuses', async () => {
  const now = await redisNow();
  // No rate measured yet: however long the queue, admitted.
  await setLoad('a5', { high: 0, normal: 100000, d_at: now - 500, since: now - 500 });
  let res = await runEnqueue(redis, 'a5', [{ oid: 'o-1', coid: 'c-1' }], { stall: 2000 });
  assert.equal(res[0][0], 'accepted');
  // The last decision (or the backlog's start) 2.5 s ago against a stall
  // of 2 s: the drain rate is 0, and the retry is the stall.
  await setLoad('a5', { d_at: now - 2500, since: now - 2500 });
  res = await runEnqueue(redis, 'a5', [{ oid: 'o-2', coid: 'c-2' }], { stall: 2000 });
  assert.deepEqual(res[0], ['busy', '2000', 'normal', '', '0', '0', '0']);
  // A recent start of the backlog is not a stall, even with no decision ever.
  await redis.cli('HDEL', 'lg:{a5}:load', 'd_at');
  await setLoad('a5', { since: now - 1500 });
  res = await runEnqueue(redis, 'a5', [{ oid: 'o-3', coid: 'c-3' }], { stall: 2000 });
  assert.equal(res[0][0], 'accepted');
});

test('counters that say "stalled" while the streams hold nothing undecided are reset', async () => {
  const now = await redisNow();
  await redis.cli('XGROUP', 'CREATE', 'lg:{a6}:q:normal', 'validators', '$', 'MKSTREAM');
  await redis.cli('XGROUP', 'CREATE', 'lg:{a6}:q:high', 'validators', '$', 'MKSTREAM');
  await setLoad('a6', { high: 0, normal: 7, d_at: now - 60000, since: now - 60000 });
  const res = await runEnqueue(redis, 'a6', [{ oid: 'o-1', coid: 'c-1' }], { stall: 2000 });
  assert.equal(res[0][0], 'accepted');
  const l = await load('a6');
  assert.equal(l.normal, '1', 'the drifted count is gone; the new order counts');
  assert.ok(Number(l.since) >= now);
  // An undelivered entry is undecided: the stall stands.
  await setLoad('a6', { normal: 1, d_at: now - 60000, since: now - 60000 });
  const stuck = await runEnqueue(redis, 'a6', [{ oid: 'o-2', coid: 'c-2' }], { stall: 2000 });
  assert.equal(stuck[0][0], 'busy');
});

test('the per-user bucket allows the burst, refuses one past it, and refills at the rate', async () => {
  const batch = (n, user = 'u1', from = 0) => Array.from({ length: n }, (_, i) =>
    ({ oid: `o-${user}-${from + i}`, coid: `c-${user}-${from + i}`, user }));
  // Burst 3 at 2 a second: three pass, the fourth waits for a token, 500 ms.
  let res = await runEnqueue(redis, 'a7', batch(4), { rate: 2, burst: 3 });
  assert.deepEqual(res.map((r) => r[0]), ['accepted', 'accepted', 'accepted', 'rate_limited']);
  assert.ok(Number(res[3][1]) > 0 && Number(res[3][1]) <= 500, `retry ${res[3][1]}`);
  assert.equal(await exists('lg:{a7}:order:o-u1-3'), false);
  // Another user has a bucket of their own.
  res = await runEnqueue(redis, 'a7', batch(3, 'u2'), { rate: 2, burst: 3 });
  assert.deepEqual(res.map((r) => r[0]), ['accepted', 'accepted', 'accepted']);
  const ttl = Number(await redis.cli('PTTL', 'lg:{a7}:rate:u1'));
  assert.ok(ttl > 0 && ttl <= 1500 + 1000, `bucket PTTL ${ttl}`);

  // Refill at 1 a second: an empty bucket 1.1 s old holds a token; one
  // 0.5 s old does not (the redis-cli round trips add a few ms to both).
  await redis.cli('SET', 'lg:{a7}:rate:u3', `0|${(await redisNow()) - 1100}`);
  res = await runEnqueue(redis, 'a7', batch(1, 'u3'), { rate: 1, burst: 3 });
  assert.equal(res[0][0], 'accepted');
  await redis.cli('SET', 'lg:{a7}:rate:u4', `0|${(await redisNow()) - 500}`);
  res = await runEnqueue(redis, 'a7', batch(1, 'u4'), { rate: 1, burst: 3 });
  assert.equal(res[0][0], 'rate_limited');
  assert.ok(Number(res[0][1]) >= 1 && Number(res[0][1]) <= 500, `retry ${res[0][1]}`);

  // Rate 0 is no limit, and writes no bucket.
  res = await runEnqueue(redis, 'a7', batch(50, 'u5'), { rate: 0, burst: 1 });
  assert.ok(res.every((r) => r[0] === 'accepted'));
  assert.equal(await exists('lg:{a7}:rate:u5'), false);
});

// ---- validate.lua's bookkeeping ---------------------------------------

// Decides the given queued orders of `room` (made by runEnqueue) with
// validate.lua, as validator/decide.c calls it.
async function decide(room, oids, { payDue = false } = {}) {
  const { keys, args } = validateCall(room, oids.map((oid) => ({ oid })), { skus: ['sku-1'], payDue });
  return redis.cli('EVAL', validateScript, String(keys.length), ...keys, ...args);
}

test('the orders one call confirms all join the payment due index, under the one deadline', async () => {
  await redis.cli('HSET', 'lg:{v9}:room', 'status', 'live', 'payment_methods', 'alipay',
    'high_value_threshold', '100000');
  await redis.cli('HSET', 'lg:{v9}:sku:sku-1', 'price', '19900', 'stock', '2', 'on_sale', '1');
  await runEnqueue(redis, 'v9', ['a', 'b', 'c'].map((x) => ({ oid: `o-${x}`, coid: `c-${x}` })));
  const before = await redisNow();
  await decide('v9', ['o-a', 'o-b', 'o-c'], { payDue: true });
  // Stock 2: the third is refused OUT_OF_STOCK and stays off the index.
  const due = (await redis.cli('ZRANGE', 'lg:{v9}:paydue', '0', '-1', 'WITHSCORES')).split('\n');
  assert.deepEqual([due[0], due[2]], ['o-a', 'o-b']);
  assert.equal(due.length, 4);
  assert.equal(due[1], due[3]);
  const deadline = Number(due[1]);
  assert.ok(deadline >= before + 900000 && deadline <= (await redisNow()) + 900000, `deadline ${deadline}`);
  assert.equal(await redis.cli('HGET', 'lg:{v9}:order:o-c', 'code'), 'OUT_OF_STOCK');
});

test('decisions take orders off the load by priority and time the drain rate over busy windows', async () => {
  await redis.cli('HSET', 'lg:{v1}:room', 'status', 'live', 'payment_methods', 'alipay',
    'high_value_threshold', '100000');
  await redis.cli('HSET', 'lg:{v1}:sku:sku-1', 'price', '19900', 'stock', '1000', 'on_sale', '1');
  const orders = Array.from({ length: 6 }, (_, i) => ({ oid: `o-${i}`, coid: `c-${i}` }));
  orders.push({ oid: 'o-h', coid: 'c-h', amount: 100000 });
  await runEnqueue(redis, 'v1', orders);
  assert.deepEqual([(await load('v1')).high, (await load('v1')).normal], ['1', '6']);

  // A window open 600 ms with 100 decisions, the queue never empty: this
  // call's 2 make 102 in >= 600 ms, about 170 a second.
  let now = await redisNow();
  await setLoad('v1', { w_start: now - 600, w_n: 100, w_idle: 0, d_at: now - 10 });
  await decide('v1', ['o-0', 'o-h']);
  let l = await load('v1');
  assert.deepEqual([l.high, l.normal], ['0', '5']);
  assert.ok(Number(l.rate) >= 100 && Number(l.rate) <= 170, `rate ${l.rate}`);
  assert.ok(Number(l.d_at) >= now);
  assert.equal(l.w_n, '0', 'a new window starts');
  const rate = Number(l.rate);

  // A window shorter than 500 ms measures nothing yet.
  now = await redisNow();
  await setLoad('v1', { w_start: now - 100, w_n: 10, w_idle: 0, d_at: now - 10 });
  await decide('v1', ['o-1']);
  l = await load('v1');
  assert.equal(Number(l.rate), rate);
  assert.equal(l.w_n, '11');

  // A gap between decisions longer than 250 ms after the queue ran empty
  // starts a new window: an idle spell does not drag the rate down.
  now = await redisNow();
  await setLoad('v1', { w_start: now - 5000, w_n: 10, w_idle: 0, w_empty: 1, d_at: now - 1000 });
  await decide('v1', ['o-2']);
  l = await load('v1');
  assert.equal(Number(l.rate), rate);
  assert.equal(l.w_n, '1');
  assert.equal(l.w_empty, '0', 'orders are still queued after this call');

  // The same gap with orders still queued stays in the window: starved or
  // stopped validators decide slower, and the rate says so (11 in 5 s,
  // averaged with the previous figure).
  now = await redisNow();
  await setLoad('v1', { w_start: now - 5000, w_n: 10, w_idle: 0, w_empty: 0, d_at: now - 1000 });
  await decide('v1', ['o-5']);
  l = await load('v1');
  const slower = Number(l.rate);
  assert.ok(slower >= Math.floor(rate / 2) && slower <= Math.ceil((rate + 3) / 2), `rate ${slower} after ${rate}`);
  await setLoad('v1', { rate });

  // A window in which the queue ran empty measured arrivals: not kept.
  now = await redisNow();
  await setLoad('v1', { w_start: now - 700, w_n: 3, w_idle: 1, d_at: now - 10 });
  await decide('v1', ['o-3']);
  assert.equal(Number((await load('v1')).rate), rate);

  // The count never goes below 0, and an order decided again is not taken off twice.
  await setLoad('v1', { normal: 0 });
  await decide('v1', ['o-4', 'o-0']);
  assert.equal((await load('v1')).normal, '0');
});

// ---- through the gateway ---------------------------------------------

test('the gateway answers BUSY with jittered retry_after_ms, leaves nothing queued, and sheds for the hold without Redis', async () => {
  const gw = await startGateway({ redis, env: { LIVEGATE_ADMIT_WAIT_MS: '5000' } });
  await setupRoom(gw, 'g1', { threshold: 100000 });
  const now = await redisNow();
  // 60 ahead at 10 a second: a 6,100 ms wait, 1,100 ms past the bound,
  // and the first place in the waiting line, 100 ms more: a turn of 1,200 ms.
  await setLoad('g1', { high: 0, normal: 60, rate: 10, d_at: now + 60000 });
  const c = await gw.session({ sub: 'b1', room: 'g1', role: 'viewer' });
  // enqueue.lua reads each order's idempotency key (GET): what an order
  // that reaches the script always costs.
  const gets = async () => Number((await redis.cli('INFO', 'commandstats')).match(/cmdstat_get:calls=(\d+)/)?.[1] ?? 0);

  const o = validOrder({ room_id: 'g1' });
  c.send(o);
  const busy = await c.next((m) => m.ref === o.client_order_id);
  assert.equal(busy.type, 'error');
  assert.equal(busy.code, 'BUSY');
  assert.ok(Number.isInteger(busy.retry_after_ms));
  assert.ok(busy.retry_after_ms >= 1200 && busy.retry_after_ms <= 1800, `retry ${busy.retry_after_ms}`);
  const readsAfterFirst = await gets();

  // Within the hold (100 ms from the refusal above) the gateway refuses on
  // its own: the order never reaches the script.
  const o2 = validOrder({ room_id: 'g1' });
  c.send(o2);
  const shed = await c.next((m) => m.ref === o2.client_order_id);
  assert.equal(shed.code, 'BUSY');
  // The gateway's own turn is the next place: 1,300 ms from the refusal.
  assert.ok(shed.retry_after_ms >= 1100 && shed.retry_after_ms <= 1950, `retry ${shed.retry_after_ms}`);
  assert.equal(await streamLen('g1', 'normal'), 0);
  assert.equal(await redis.cli('KEYS', 'lg:oidx:*'), '', 'no order-id index: the ids name room g1');
  assert.equal(await gets(), readsAfterFirst, 'the shed order did not reach the script');
  // A high order is not shed by a normal refusal, and is admitted.
  const h = validOrder({ room_id: 'g1', unit_price: 100000, amount: 100000 });
  c.send(h);
  const acc = await c.next((m) => m.client_order_id === h.client_order_id);
  assert.equal(acc.type, 'order.accepted');
  assert.equal(acc.priority, 'high');

  // The script kept places for this gateway after its refusal, so the
  // places that free belong to the turns handed out: a new submit within
  // the hold is refused again, though the queue has room now.
  await setLoad('g1', { normal: 0 });
  await sleep(150);
  const o3 = validOrder({ room_id: 'g1' });
  c.send(o3);
  assert.equal((await c.next((m) => m.ref === o3.client_order_id)).code, 'BUSY');
  assert.equal(await streamLen('g1', 'normal'), 0);

  // The client refused second comes back at its turn, while the room is
  // held again (the hold over, the next submit went to the script as its
  // probe, and was refused): its place
  // is its own, so it goes to the script past the local refusal and is
  // admitted, while a new submit in the same moment is refused locally.
  await sleep(Math.max(0, shed.retry_after_ms - 150) + 20);
  await setLoad('g1', { normal: 60, d_at: (await redisNow()) + 60000 });
  const o4 = validOrder({ room_id: 'g1' });
  c.send(o4);
  assert.equal((await c.next((m) => m.ref === o4.client_order_id)).code, 'BUSY');
  await setLoad('g1', { normal: 0 });
  const o5 = validOrder({ room_id: 'g1' });
  c.send(o5);
  assert.equal((await c.next((m) => m.ref === o5.client_order_id)).code, 'BUSY');
  // A resubmit before its turn is a new submit: refused, with a new turn.
  c.send(o4);
  assert.equal((await c.next((m) => m.ref === o4.client_order_id)).code, 'BUSY');
  c.send(o2);
  assert.equal((await c.next((m) => m.client_order_id === o2.client_order_id)).type, 'order.accepted');
  assert.equal(await streamLen('g1', 'normal'), 1);
  // Admitted: the room takes orders again at once.
  const o6 = validOrder({ room_id: 'g1' });
  c.send(o6);
  assert.equal((await c.next((m) => m.client_order_id === o6.client_order_id || m.ref === o6.client_order_id)).type, 'order.accepted');
  assert.equal(await outcome(gw, 'busy'), 6, `left over: ${JSON.stringify(c.messages)}`);
  c.close();
  await gw.stop();
});

test('with no validator, admission answers BUSY once the backlog has had no decision for the stall', async () => {
  const gw = await startGateway({ redis, env: { LIVEGATE_ADMIT_STALL_MS: '300' } });
  await setupRoom(gw, 'g2');
  const c = await gw.session({ sub: 'b2', room: 'g2', role: 'viewer' });
  const o = validOrder({ room_id: 'g2' });
  c.send(o);
  assert.equal((await c.next((m) => m.client_order_id === o.client_order_id)).type, 'order.accepted');
  // Within the stall: still admitted.
  const o2 = validOrder({ room_id: 'g2' });
  c.send(o2);
  assert.equal((await c.next((m) => m.client_order_id === o2.client_order_id || m.ref === o2.client_order_id)).type, 'order.accepted');
  const busy = await waitFor(async () => {
    const x = validOrder({ room_id: 'g2' });
    c.send(x);
    const m = await c.next((r) => r.client_order_id === x.client_order_id || r.ref === x.client_order_id);
    return m.code === 'BUSY' ? m : null;
  }, { timeoutMs: 5000, everyMs: 100, what: 'BUSY after the stall' });
  assert.ok(busy.retry_after_ms >= 300, `retry ${busy.retry_after_ms}`);
  // A validator comes back: decisions flow, the room admits again.
  const v = await startValidator({ redis });
  await waitFor(async () => (await load('g2')).normal === '0', { what: 'the backlog decided' });
  await sleep(350); // past the gateway's hold of the last refusal: the stall, 300 ms
  const ok = validOrder({ room_id: 'g2' });
  c.send(ok);
  assert.equal((await c.next((m) => m.client_order_id === ok.client_order_id || m.ref === ok.client_order_id)).type, 'order.accepted');
  c.close();
  await v.stop();
  await gw.stop();
});

test('a connection may have LIVEGATE_CONN_INFLIGHT submits unanswered, and not one more', async () => {
  const gw = await startGateway({ redis, env: { LIVEGATE_CONN_INFLIGHT: '3' } });
  await setupRoom(gw, 'g3');
  const c = await gw.session({ sub: 'b3', room: 'g3', role: 'viewer' });
  // Redis holds every write for 800 ms, so none of the four is answered
  // before the gateway has read them all.
  const orders = Array.from({ length: 4 }, () => validOrder({ room_id: 'g3' }));
  await redis.cli('CLIENT', 'PAUSE', '800', 'WRITE');
  for (const o of orders) c.send(o);
  const answers = [];
  for (const o of orders) answers.push(await c.next((m) => m.client_order_id === o.client_order_id || m.ref === o.client_order_id));
  assert.deepEqual(answers.map((m) => m.type === 'error' ? m.code : m.type),
    ['order.accepted', 'order.accepted', 'order.accepted', 'RATE_LIMITED']);
  assert.ok(answers[3].retry_after_ms >= 100, `retry ${answers[3].retry_after_ms}`);
  assert.match(answers[3].message, /waiting for an answer on this connection/);
  // Answered ones no longer count: the retry goes through.
  c.send(orders[3]);
  assert.equal((await c.next((m) => m.client_order_id === orders[3].client_order_id && m.type === 'order.accepted')).duplicate, false);
  assert.equal(await outcome(gw, 'rate_limited'), 1);
  // The room's statistics count it too, for the back office.
  const op = await gw.session({ sub: 'op3', room: 'g3', role: 'operator' });
  op.send({ type: 'monitor.subscribe', room_id: 'g3' });
  const stats = await op.next((m) => m.type === 'monitor.stats' && m.orders.rate_limited === 1, 5000);
  assert.equal(stats.orders.busy, 0);
  op.close();
  c.close();
  await gw.stop();
});

test('a high-value order counts against a cap of its own: normal orders at the cap do not refuse it', async () => {
  const gw = await startGateway({ redis, env: { LIVEGATE_CONN_INFLIGHT: '2' } });
  await setupRoom(gw, 'g3h', { threshold: 100000 });
  const c = await gw.session({ sub: 'b3h', room: 'g3h', role: 'viewer' });
  const answer = (o) => c.next((m) => m.client_order_id === o.client_order_id || m.ref === o.client_order_id);
  const kind = (m) => m.type === 'error' ? m.code : m.type;
  const big = () => validOrder({ room_id: 'g3h', unit_price: 100000, amount: 100000 });
  // The gateway learns the threshold from an order admitted high.
  const first = big();
  c.send(first);
  assert.equal((await answer(first)).priority, 'high');
  // Redis holds every write: two normal orders fill the cap, yet a
  // high-value one goes through; a third normal one is refused (the cap
  // counts every submit for it), and so is a third high-value one.
  const orders = [validOrder({ room_id: 'g3h' }), validOrder({ room_id: 'g3h' }), big(), big(),
    validOrder({ room_id: 'g3h' }), big()];
  await redis.cli('CLIENT', 'PAUSE', '800', 'WRITE');
  for (const o of orders) c.send(o);
  const answers = [];
  for (const o of orders) answers.push(await answer(o));
  assert.deepEqual(answers.map(kind),
    ['order.accepted', 'order.accepted', 'order.accepted', 'order.accepted', 'RATE_LIMITED', 'RATE_LIMITED']);
  assert.deepEqual(answers.slice(0, 4).map((m) => m.priority), ['normal', 'normal', 'high', 'high']);
  // Answered ones no longer count.
  const again = big();
  c.send(again);
  assert.equal(kind(await answer(again)), 'order.accepted');
  c.close();
  await gw.stop();
});

test('the per-user rate holds across gateway processes, with the defaults of 10 a second and bursts of 20', async () => {
  const env = { LIVEGATE_USER_RATE: '10', LIVEGATE_USER_BURST: '20' };
  const a = await startGateway({ redis, env });
  const b = await startGateway({ redis, env, secrets: a.secrets });
  await setupRoom(a, 'g4');
  const ca = await a.session({ sub: 'b4', room: 'g4', role: 'viewer' });
  const cb = await b.session({ sub: 'b4', room: 'g4', role: 'viewer' });
  const answer = async (c, o) => {
    c.send(o);
    return c.next((m) => m.client_order_id === o.client_order_id || m.ref === o.client_order_id);
  };
  const kinds = [];
  for (let i = 0; i < 21; i++) {
    const m = await answer(i % 2 ? cb : ca, validOrder({ room_id: 'g4' }));
    kinds.push(m.type === 'error' ? m.code : m.type);
  }
  // 21 submits within far less than the 100 ms one token takes to come back.
  assert.deepEqual(kinds.slice(0, 20), Array(20).fill('order.accepted'));
  assert.equal(kinds[20], 'RATE_LIMITED');
  const refused = await answer(ca, validOrder({ room_id: 'g4' }));
  assert.equal(refused.code, 'RATE_LIMITED');
  assert.match(refused.message, /from this user/);
  assert.ok(refused.retry_after_ms >= 50 && refused.retry_after_ms <= 150, `retry ${refused.retry_after_ms}`);
  // After retry_after_ms a token is back.
  await sleep(refused.retry_after_ms);
  assert.equal((await answer(cb, validOrder({ room_id: 'g4' }))).type, 'order.accepted');
  ca.close();
  cb.close();
  await a.stop();
  await b.stop();
});

test('with Redis far behind, the gateway refuses BUSY without sending: a fifth of the admitted wait', async () => {
  // LIVEGATE_ADMIT_WAIT_MS=1000: an order is not sent once the oldest
  // enqueue call has waited 200 ms.
  const gw = await startGateway({ redis, env: { LIVEGATE_ADMIT_WAIT_MS: '1000' } });
  await setupRoom(gw, 'g5');
  const c = await gw.session({ sub: 'b5', room: 'g5', role: 'viewer' });
  const lagging = async () => {
    const r = await gw.http('GET', '/metrics');
    return Number(r.text.match(/^livegate_orders_busy_lagging_total (\d+)$/m)[1]);
  };
  await redis.cli('CLIENT', 'PAUSE', '1500', 'WRITE');
  const first = validOrder({ room_id: 'g5' });
  c.send(first);
  await sleep(50);
  // 50 ms behind: still sent.
  const second = validOrder({ room_id: 'g5' });
  c.send(second);
  await sleep(400);
  const third = validOrder({ room_id: 'g5' });
  c.send(third);
  const refused = await c.next((m) => m.ref === third.client_order_id, 1000);
  assert.equal(refused.code, 'BUSY');
  assert.ok(refused.retry_after_ms >= 250, `retry ${refused.retry_after_ms}`);
  // The first two are accepted once Redis answers again.
  for (const o of [first, second]) {
    assert.equal((await c.next((m) => m.client_order_id === o.client_order_id, 5000)).type, 'order.accepted');
  }
  assert.equal(await lagging(), 1);
  c.close();
  await gw.stop();
});

test('with Redis far behind, a client back at its turn passes up to twice the bound, and is refused past it', async () => {
  // LIVEGATE_ADMIT_WAIT_MS=1000: the bound is 200 ms, so a client back at
  // its turn is let through while the oldest call has waited 400 ms at
  // most. Under a flood, letting every returning client through piled up
  // ten seconds of orders in one gateway (docs/BENCHMARKS.md).
  const gw = await startGateway({ redis, env: { LIVEGATE_ADMIT_WAIT_MS: '1000' } });
  await setupRoom(gw, 'g5b');
  const c = await gw.session({ sub: 'b5b', room: 'g5b', role: 'viewer' });
  const lagging = async () => {
    const r = await gw.http('GET', '/metrics');
    return Number(r.text.match(/^livegate_orders_busy_lagging_total (\d+)$/m)[1]);
  };
  await redis.cli('CLIENT', 'PAUSE', '1500', 'WRITE');
  const started = Date.now();
  const first = validOrder({ room_id: 'g5b' });
  c.send(first);
  await sleep(300);
  const second = validOrder({ room_id: 'g5b' });
  c.send(second);
  const refused = await c.next((m) => m.ref === second.client_order_id, 1000);
  assert.equal(refused.code, 'BUSY');
  // Back at its turn (250 ms at least): the oldest call has waited more
  // than 400 ms by then, so it is refused again, with a new turn.
  await sleep(refused.retry_after_ms);
  assert.ok(Date.now() - started < 1300, 'the turn came while Redis was still paused');
  c.send(second);
  const again = await c.next((m) => m.ref === second.client_order_id, 1000);
  assert.equal(again.code, 'BUSY');
  assert.ok(again.retry_after_ms >= 50, `retry ${again.retry_after_ms}`);
  assert.equal(await lagging(), 2);
  // Once Redis answers, the first is accepted, and the second gets in.
  assert.equal((await c.next((m) => m.client_order_id === first.client_order_id, 5000)).type, 'order.accepted');
  c.send(second);
  const last = await c.next((m) => m.client_order_id === second.client_order_id || m.ref === second.client_order_id, 5000);
  assert.equal(last.type, 'order.accepted');
  c.close();
  await gw.stop();
});

test('a gateway sends at most LIVEGATE_INTAKE_IN_FLIGHT orders Redis has not answered, and not one more', async () => {
  const gw = await startGateway({ redis, env: { LIVEGATE_INTAKE_IN_FLIGHT: '16' } });
  await setupRoom(gw, 'g6');
  const c = await gw.session({ sub: 'b6', room: 'g6', role: 'viewer' });
  await redis.cli('CLIENT', 'PAUSE', '1000', 'WRITE');
  // 15 in one loop turn: one enqueue call of 15 orders in flight.
  const first = Array.from({ length: 15 }, () => validOrder({ room_id: 'g6' }));
  for (const o of first) c.send(o);
  await sleep(100);
  const sixteenth = validOrder({ room_id: 'g6' });
  c.send(sixteenth); // 15 in flight: sent
  await sleep(100);
  const over = validOrder({ room_id: 'g6' });
  c.send(over); // 16 in flight: refused
  const refused = await c.next((m) => m.ref === over.client_order_id, 800);
  assert.equal(refused.code, 'BUSY');
  for (const o of [...first, sixteenth]) {
    assert.equal((await c.next((m) => m.client_order_id === o.client_order_id, 5000)).type, 'order.accepted');
  }
  c.close();
  await gw.stop();
});

// The enqueue calls one gateway sends, counted from Redis's slow log (every
// command logged): each EVALSHA of enqueue.lua's digest is one call.
const enqueueSha = createHash('sha1')
  .update(luaSource('enqueue.lua')).digest('hex');
async function enqueueCalls() {
  const log = await redis.cli('SLOWLOG', 'GET', '100000');
  return log.split('\n').filter((l) => l.trim() === enqueueSha).length;
}

// With Redis paused: 5 normal orders (one call in flight, or a few), then
// 10 more that wait for it, 100 ms apart.
async function holdOneCallThenQueue(c, room) {
  const first = Array.from({ length: 5 }, () => validOrder({ room_id: room }));
  for (const o of first) c.send(o);
  await sleep(100);
  const normal = Array.from({ length: 10 }, () => validOrder({ room_id: room }));
  for (const o of normal) c.send(o);
  await sleep(100);
  return { first, normal };
}

// The enqueue calls in the order Redis ran them, as orders a call (their
// KEYS count: 5 of the room, 3 an order).
async function enqueueCallSizes() {
  const log = (await redis.cli('SLOWLOG', 'GET', '100000')).split('\n').map((l) => l.trim());
  const calls = [];
  log.forEach((l, i) => { if (l === enqueueSha) calls.push((Number(log[i + 1]) - 5) / 3); });
  return calls.reverse();
}

for (const [calls, expected] of [[1, 2], [2, 3]]) {
  test(`LIVEGATE_INTAKE_CALLS=${calls}: at most ${calls} enqueue call(s) in flight; the others wait and grow`, async () => {
    const gw = await startGateway({ redis, env: { LIVEGATE_INTAKE_CALLS: String(calls) } });
    const room = `g-calls-${calls}`;
    await setupRoom(gw, room);
    const c = await gw.session({ sub: `b-calls-${calls}`, room, role: 'viewer' });
    await redis.cli('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
    await redis.cli('CONFIG', 'SET', 'slowlog-max-len', '100000');
    await redis.cli('SLOWLOG', 'RESET');
    try {
      await redis.cli('CLIENT', 'PAUSE', '800', 'WRITE');
      // Three loop turns of submits while Redis holds the first call: 15,
      // then 10 and 10 more. One call in flight at most: the 20 later ones
      // wait as one batch (2 calls); two at most: 15, 10, then 10 (3 calls).
      const orders = [];
      for (const n of [15, 10, 10]) {
        for (let i = 0; i < n; i++) {
          const o = validOrder({ room_id: room });
          orders.push(o);
          c.send(o);
        }
        await sleep(100);
      }
      for (const o of orders) {
        assert.equal((await c.next((m) => m.client_order_id === o.client_order_id, 5000)).type, 'order.accepted');
      }
      assert.equal(await enqueueCalls(), expected);
    } finally {
      await redis.cli('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
      c.close();
      await gw.stop();
    }
  });
}

test('LIVEGATE_INTAKE_CALLS=1: a high-value batch goes out beside the normal call in flight, and a third call waits', async () => {
  const gw = await startGateway({ redis, env: { LIVEGATE_INTAKE_CALLS: '1' } });
  const room = 'g-high-slots';
  await setupRoom(gw, room, { threshold: 100000 });
  const c = await gw.session({ sub: 'b-hs', room, role: 'viewer' });
  const vip = await gw.session({ sub: 'b-hs-vip', room, role: 'viewer', tier: 'vip' });
  await redis.cli('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
  await redis.cli('SLOWLOG', 'RESET');
  try {
    await redis.cli('CLIENT', 'PAUSE', '600', 'WRITE');
    // A normal call in flight (held by the pause), 10 normal orders
    // waiting; a high order then goes out once it has waited 50 ms (2
    // calls in flight, the most a high-value batch may have with 1), and a
    // second high order waits for one of them. Before, both high orders
    // waited for the normal call and went as one call.
    const { first, normal } = await holdOneCallThenQueue(c, room);
    const high = [validOrder({ room_id: room }), validOrder({ room_id: room })];
    vip.send(high[0]);
    await sleep(100);
    vip.send(high[1]);
    for (const o of high) {
      const a = await vip.next((m) => m.client_order_id === o.client_order_id, 5000);
      assert.equal(a.type, 'order.accepted');
      assert.equal(a.priority, 'high');
    }
    for (const o of [...first, ...normal]) {
      assert.equal((await c.next((m) => m.client_order_id === o.client_order_id, 5000)).type, 'order.accepted');
    }
    // The calls in the order Redis ran them, as orders a call (KEYS: 5 of
    // the room, 3 an order): the held one, each high order alone, then
    // every normal order still waiting.
    const calls = await enqueueCallSizes();
    assert.equal(calls.length, 4, JSON.stringify(calls));
    assert.equal(calls[1], 1, JSON.stringify(calls));
    assert.equal(calls[2], 1, JSON.stringify(calls));
    assert.equal(calls[0] + calls[3], 15, JSON.stringify(calls));
  } finally {
    await redis.cli('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
    c.close();
    vip.close();
    await gw.stop();
  }
});

for (const how of ['vip', 'amount']) {
test(`a high-value order (${how}) waiting for its enqueue call goes out before the normal ones waiting`, async () => {
  const gw = await startGateway({ redis, env: { LIVEGATE_INTAKE_CALLS: '1' } });
  const room = `g-high-first-${how}`;
  await setupRoom(gw, room, { threshold: 100000 });
  const c = await gw.session({ sub: `b-hf-${how}`, room, role: 'viewer' });
  const vip = how === 'vip'
    ? await gw.session({ sub: 'b-hf-vip', room, role: 'viewer', tier: 'vip' })
    : await gw.session({ sub: 'b-hf-big', room, role: 'viewer' });
  const bigOrder = () => validOrder({ room_id: room, unit_price: 100000, amount: 100000 });
  if (how === 'amount') {
    // The gateway learns the threshold from an order admitted high.
    const first = bigOrder();
    vip.send(first);
    const a = await vip.next((m) => m.client_order_id === first.client_order_id, 5000);
    assert.equal(a.priority, 'high');
  }
  await redis.cli('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
  await redis.cli('SLOWLOG', 'RESET');
  try {
    await redis.cli('CLIENT', 'PAUSE', '600', 'WRITE');
    // One call in flight (held by the pause); then 10 normal orders wait,
    // then a vip's (high) order arrives: it goes out first all the same.
    const { first, normal } = await holdOneCallThenQueue(c, room);
    const high = how === 'vip' ? validOrder({ room_id: room }) : bigOrder();
    vip.send(high);
    const h = await vip.next((m) => m.client_order_id === high.client_order_id, 5000);
    assert.equal(h.type, 'order.accepted');
    assert.equal(h.priority, 'high');
    for (const o of normal) {
      assert.equal((await c.next((m) => m.client_order_id === o.client_order_id, 5000)).type, 'order.accepted');
    }
    // The calls in the order Redis ran them, as orders a call (their KEYS
    // count: 5 of the room, 3 an order): the one held by the pause (the
    // first submit or few), then the high order alone, though the normal
    // ones had waited longer, then every normal order still waiting.
    const calls = await enqueueCallSizes();
    assert.equal(calls.length, 3, JSON.stringify(calls));
    assert.equal(calls[1], 1, JSON.stringify(calls));
    assert.equal(calls[0] + calls[2], 15, JSON.stringify(calls));
  } finally {
    await redis.cli('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
    c.close();
    vip.close();
    await gw.stop();
  }
});
}
