// The monitor channel and /metrics against real processes: room-wide
// monitor.stats across two gateways and a validator (every field, exact
// counters and GMV), the first frame at once with the subscribe's req and
// then about one a second, who may subscribe to what, the monitor.order feed
// with masked personal data (and no full phone, name or street address in
// any monitor frame), sampling under a burst, queue figures and SLA
// violations with the validator stopped, BUSY and RATE_LIMITED totals as
// stats_flush.lua writes them and the queue, drain rate and predicted wait
// from the room's load hash, a real BUSY counted end to end, and the
// Prometheus text of /metrics.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep, waitFor,
  newSecrets,
} from './lib/system.mjs';
import { parseProm as parsePromDoc } from './lib/prom.mjs';

// Personal data of every order placed here; no monitor frame may hold any of it.
const NAME = '欧阳明月';
const PHONE = '13912345678';
const DETAIL = '滨江路 88 号 3 单元';
const MASKED_BUYER = '欧***';
const MASKED_PHONE = '139****5678';
const personal = { name: NAME, phone: PHONE, detail: DETAIL };

const STATS_FIELDS = ['type', 'room_id', 'ts_ms', 'connections', 'orders', 'rejected_by_code',
  'gmv_fen', 'queue', 'latency_ms', 'sla_violations'];
const ORDER_FIELDS = ['received', 'accepted', 'duplicates', 'confirmed', 'rejected', 'busy', 'rate_limited', 'pay_timeouts'];
const QUEUE_FIELDS = ['high', 'normal', 'oldest_age_ms'];
const LATENCY_FIELDS = ['accept_p50', 'accept_p99', 'confirm_p50', 'confirm_p99', 'confirm_max'];

const monitorFrames = []; // every frame any monitor connection received, for the PII scan
const isStats = (m) => m.type === 'monitor.stats';

function watch(c) {
  c.ws.on('message', (data) => monitorFrames.push(data.toString()));
  return c;
}

function assertStatsShape(m) {
  for (const f of STATS_FIELDS) assert.ok(f in m, `monitor.stats lacks ${f}: ${JSON.stringify(m)}`);
  for (const f of ORDER_FIELDS) assert.equal(typeof m.orders[f], 'number', `orders.${f}`);
  for (const f of QUEUE_FIELDS) assert.equal(typeof m.queue[f], 'number', `queue.${f}`);
  // Known once the validators have measured a drain rate, null until then.
  assert.ok('drain_per_s' in m.queue && 'predicted_wait_ms' in m.queue, JSON.stringify(m.queue));
  assert.ok(m.queue.drain_per_s === null || m.queue.drain_per_s >= 0, `queue.drain_per_s ${m.queue.drain_per_s}`);
  const wait = m.queue.predicted_wait_ms;
  assert.ok(wait === null || (Number.isInteger(wait.high) && Number.isInteger(wait.normal)), JSON.stringify(wait));
  for (const f of LATENCY_FIELDS) assert.equal(typeof m.latency_ms[f], 'number', `latency_ms.${f}`);
  assert.equal(typeof m.rejected_by_code, 'object');
  for (const f of ['ts_ms', 'connections', 'gmv_fen', 'sla_violations', 'feed_dropped'])
    assert.ok(Number.isInteger(m[f]), `${f} is an integer`);
}

// Waits for the next monitor.stats frame for which pred holds.
function statsWhere(c, pred, timeoutMs = 15000) {
  return c.next((m) => isStats(m) && pred(m), timeoutMs);
}

async function place(c, order) {
  c.send(order);
  const acc = await c.next((m) => m.client_order_id === order.client_order_id &&
    (m.type === 'order.accepted' || m.type === 'error'), 10000);
  assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
  if (acc.duplicate) return { acc };
  const fin = await c.next((m) => m.order_id === acc.order_id &&
    (m.type === 'order.confirmed' || m.type === 'order.rejected'), 15000);
  return { acc, fin };
}

// The strict exposition reader every metrics test uses (lib/prom.mjs).
const parseProm = (text) => parsePromDoc(text).samples;

function value(samples, name, labels = {}) {
  const s = samples.find((x) => x.name === name &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(s, `metric ${name} ${JSON.stringify(labels)} present`);
  return s.value;
}

// Pub/Sub is fire and forget: wait until Redis has the gateways' feed
// subscriptions before publishing anything a test counts.
async function feedSubscribers(redis, room, wantChannel, wantPatterns = 0) {
  await waitFor(async () => {
    const numsub = (await redis.cli('PUBSUB', 'NUMSUB', `lg:ev:feed:${room}`)).split('\n');
    const numpat = Number(await redis.cli('PUBSUB', 'NUMPAT'));
    return Number(numsub[1]) >= wantChannel && numpat >= wantPatterns;
  }, { what: `feed subscriptions of ${room}` });
}

describe('room-wide statistics across two gateways and a validator', () => {
  let redis, gw1, gw2, secrets;
  before(async () => {
    redis = await startRedis();
    secrets = newSecrets();
    gw1 = await startGateway({ redis, secrets, env: { LIVEGATE_MONITOR_FEED_PER_S: '1000' } });
    gw2 = await startGateway({ redis, secrets, env: { LIVEGATE_MONITOR_FEED_PER_S: '1000' } });
    await startValidator({ redis });
    await setupRoom(gw1, 'm1', {
      skus: { 'sku-a': { name: '茶', price: 1000, stock: 10, on_sale: true } },
    });
    await setupRoom(gw1, 'm2', {
      skus: { 'sku-a': { name: '茶', price: 1000, stock: 1000, on_sale: true } },
    });
  });
  after(stopAll);

  test('who may subscribe to what', async () => {
    const viewer = await gw1.session({ sub: 'v-x', room: 'm1', role: 'viewer' });
    viewer.send({ type: 'monitor.subscribe', room_id: 'm1', req: 'f1' });
    assert.equal((await viewer.next((m) => m.req === 'f1')).code, 'FORBIDDEN');

    const other = watch(await gw1.session({ sub: 'op-2', room: 'm2', role: 'operator' }));
    other.send({ type: 'monitor.subscribe', room_id: 'm1', req: 'f2' });
    const e2 = await other.next((m) => m.req === 'f2');
    assert.equal(e2.type, 'error');
    assert.equal(e2.code, 'FORBIDDEN');
    other.send({ type: 'monitor.subscribe', room_id: '*', req: 'f3' });
    assert.equal((await other.next((m) => m.req === 'f3')).code, 'FORBIDDEN');
    other.send({ type: 'monitor.subscribe', room_id: 'bad room', req: 'f4' });
    assert.equal((await other.next((m) => m.req === 'f4')).code, 'BAD_REQUEST');
    other.send({ type: 'monitor.subscribe', req: 'f5' });
    assert.equal((await other.next((m) => m.req === 'f5')).code, 'BAD_REQUEST');
    assert.ok(await other.none(isStats, 1500), 'a refused subscribe gets no stats');

    // The operator's own room is fine; an operator token for "*" may pick a room but not "*".
    other.send({ type: 'monitor.subscribe', room_id: 'm2', req: 'ok-1' });
    const first = await other.next((m) => m.req === 'ok-1');
    assert.equal(first.type, 'monitor.stats');
    assert.equal(first.room_id, 'm2');
    const opAll = await gw2.session({ sub: 'op-all', room: '*', role: 'operator' });
    opAll.send({ type: 'monitor.subscribe', room_id: '*', req: 'f6' });
    assert.equal((await opAll.next((m) => m.req === 'f6')).code, 'FORBIDDEN');
    opAll.send({ type: 'monitor.subscribe', room_id: 'm2', req: 'ok-2' });
    assert.equal((await opAll.next((m) => m.req === 'ok-2')).type, 'monitor.stats');
    // A second subscribe replaces the first.
    opAll.send({ type: 'monitor.subscribe', room_id: 'm1', req: 'ok-3' });
    assert.equal((await opAll.next((m) => m.req === 'ok-3')).room_id, 'm1');
    opAll.messages.length = 0;
    for (let i = 0; i < 2; i++)
      assert.equal((await statsWhere(opAll, () => true)).room_id, 'm1', 'no more frames of the first room');
    [viewer, other, opAll].forEach((c) => c.close());
  });

  test('first frame at once with the req, then about one a second, every field present', async () => {
    const mon = watch(await gw2.session({ sub: 'op-1', room: 'm1', role: 'operator' }));
    const t0 = Date.now();
    mon.send({ type: 'monitor.subscribe', room_id: 'm1', req: 'sub-1' });
    const first = await mon.next(() => true, 5000);
    assert.equal(first.type, 'monitor.stats');
    assert.equal(first.req, 'sub-1');
    assert.equal(first.room_id, 'm1');
    assertStatsShape(first);
    assert.ok(Date.now() - t0 < 3000, 'the first frame does not wait for the timer');
    await sleep(4200);
    const later = mon.messages.filter(isStats);
    assert.ok(later.length >= 2 && later.length <= 6, `about one a second: ${later.length} in 4.2 s`);
    for (const m of later) {
      assertStatsShape(m);
      assert.equal(m.req, undefined, 'only the first frame carries the req');
    }
    for (let i = 1; i < later.length; i++) assert.ok(later[i].ts_ms > later[i - 1].ts_ms);
    mon.close();
  });

  test('exact room-wide counters, GMV and codes after a known set of orders', async () => {
    const before1 = parseProm((await gw1.http('GET', '/metrics')).text);
    const mon = watch(await gw2.session({ sub: 'op-1', room: 'm1', role: 'operator' }));
    mon.send({ type: 'monitor.subscribe', room_id: 'm1', req: 's' });
    await mon.next((m) => m.req === 's');
    const all = watch(await gw1.session({ sub: 'admin', room: '*', role: 'admin' }));
    all.send({ type: 'monitor.subscribe', room_id: '*', req: 'a' });
    const allFirst = await all.next((m) => m.req === 'a');
    assert.equal(allFirst.room_id, '*');
    assertStatsShape(allFirst);

    await feedSubscribers(redis, 'm1', 1, 1);
    const v1 = await gw1.session({ sub: 'buyer-1', room: 'm1', role: 'viewer' });
    const v2 = await gw2.session({ sub: 'buyer-2', room: 'm1', role: 'viewer' });
    const order = (o) => validOrder({ room_id: 'm1', sku_id: 'sku-a', unit_price: 1000, amount: 1000 * (o.qty ?? 1), address: personal, ...o });

    // 5 confirmed (3 on gw1, 2 on gw2), GMV 1000*(1+2+1+1+3) = 8000.
    const confirmed = [];
    for (const [c, qty] of [[v1, 1], [v1, 2], [v1, 1], [v2, 1], [v2, 3]]) {
      const r = await place(c, order({ qty }));
      assert.equal(r.fin.type, 'order.confirmed', JSON.stringify(r.fin));
      confirmed.push(r);
    }
    // 2 rejected with known codes.
    const unknown = await place(v1, order({ sku_id: 'sku-none' }));
    assert.equal(unknown.fin.code, 'UNKNOWN_SKU');
    const price = await place(v2, order({ unit_price: 900, amount: 900 }));
    assert.equal(price.fin.code, 'PRICE_CHANGED');
    // 1 duplicate, through the other gateway than the first submit.
    const dupOf = order({ qty: 1 });
    const firstTry = await place(v2, dupOf);
    assert.equal(firstTry.fin.type, 'order.confirmed');
    const v2b = await gw1.session({ sub: 'buyer-2', room: 'm1', role: 'viewer' });
    const dup = await place(v2b, dupOf);
    assert.equal(dup.acc.duplicate, true);
    // Totals now: received 9, accepted 8, duplicates 1, confirmed 6, rejected 2, GMV 9000.
    const want = { received: 9, accepted: 8, duplicates: 1, confirmed: 6, rejected: 2, busy: 0, rate_limited: 0, pay_timeouts: 0 };
    const done = (m) => m.orders.confirmed === 6 && m.orders.rejected === 2 && m.orders.duplicates === 1 &&
      m.orders.received === 9 && m.connections === 4;
    const s = await statsWhere(mon, done);
    assertStatsShape(s);
    assert.deepEqual(s.orders, want);
    assert.deepEqual(s.rejected_by_code, { UNKNOWN_SKU: 1, PRICE_CHANGED: 1 });
    assert.equal(s.gmv_fen, 9000);
    assert.equal(s.sla_violations, 0);
    // buyer-1, buyer-2 twice and the operator, over both gateways (the admin's "*" token is in no room).
    assert.equal(s.connections, 4);
    assert.deepEqual([s.queue.high, s.queue.normal, s.queue.oldest_age_ms], [0, 0, 0], JSON.stringify(s.queue));
    const l = s.latency_ms;
    assert.ok(l.accept_p50 > 0 && l.accept_p99 >= l.accept_p50, JSON.stringify(l));
    // Confirm latency is measured on Redis's millisecond clock; a validator
    // that is idle decides within the same millisecond, so 0 is a fair value.
    assert.ok(l.confirm_p50 >= 0 && l.confirm_p99 >= l.confirm_p50 && l.confirm_max >= l.confirm_p99, JSON.stringify(l));
    assert.ok(l.confirm_max < 10000, 'every result within the deadline');

    // "*" adds up every room: m1's figures plus whatever m2 has (nothing ordered there).
    const a = await statsWhere(all, (m) => m.orders.confirmed === 6 && m.orders.received === 9);
    assertStatsShape(a);
    assert.equal(a.room_id, '*');
    assert.deepEqual(a.orders, want);
    assert.equal(a.gmv_fen, 9000);
    assert.deepEqual(a.rejected_by_code, { UNKNOWN_SKU: 1, PRICE_CHANGED: 1 });

    // The feed: accept and decision of every order, masked.
    const feed = mon.messages.filter((m) => m.type === 'monitor.order');
    for (const { acc, fin } of [...confirmed, unknown, price, firstTry]) {
      const queued = feed.find((m) => m.order_id === acc.order_id && m.status === 'queued');
      assert.ok(queued, `accept of ${acc.order_id} in the feed`);
      assert.equal(queued.room_id, 'm1');
      assert.equal(queued.buyer, MASKED_BUYER);
      assert.equal(queued.phone, MASKED_PHONE);
      assert.equal(queued.priority, 'normal');
      assert.ok(Number.isInteger(queued.at_ms) && Number.isInteger(queued.qty) && Number.isInteger(queued.amount));
      const status = fin.type === 'order.confirmed' ? 'pending_payment' : 'rejected';
      const decided = feed.find((m) => m.order_id === acc.order_id && m.status === status);
      assert.ok(decided, `decision of ${acc.order_id} in the feed: ${JSON.stringify(feed)}`);
      assert.equal(decided.buyer, MASKED_BUYER);
      assert.equal(decided.phone, MASKED_PHONE);
      assert.equal(decided.sku_id, fin.type === 'order.confirmed' ? 'sku-a' : queued.sku_id);
      if (status === 'rejected') assert.equal(decided.code, fin.code);
    }
    assert.ok(!feed.some((m) => m.order_id === dup.acc.order_id && m.status === 'queued' && m !== feed.find((x) => x.order_id === dup.acc.order_id && x.status === 'queued')),
      'a duplicate is not a second accept in the feed');
    // The "*" monitor sees the same events.
    const allFeed = all.messages.filter((m) => m.type === 'monitor.order');
    assert.ok(allFeed.some((m) => m.order_id === confirmed[0].acc.order_id && m.status === 'pending_payment'));

    // /metrics of gw1 moved with the orders it took (6 accepted there: 3+1+1 and the duplicate).
    const after1 = parseProm((await gw1.http('GET', '/metrics')).text);
    const delta = (name, labels) => value(after1, name, labels) - value(before1, name, labels);
    assert.equal(delta('livegate_orders_total', { outcome: 'accepted' }), 4);
    assert.equal(delta('livegate_orders_total', { outcome: 'duplicate' }), 1);
    assert.equal(delta('livegate_orders_total', { outcome: 'received' }), 5);
    assert.equal(delta('livegate_orders_accepted_total', { priority: 'normal' }), 4);
    assert.equal(delta('livegate_accept_latency_seconds_count'), 5);
    assert.ok(delta('livegate_confirm_latency_seconds_count') >= 4);
    assert.ok(delta('livegate_frames_total', { direction: 'in' }) >= 5);
    assert.ok(delta('livegate_frames_total', { direction: 'out' }) >= 10);
    [mon, all, v1, v2, v2b].forEach((c) => c.close());
  });

  test('the feed is sampled per connection and says how much it dropped', async () => {
    const gw3 = await startGateway({ redis, secrets, env: { LIVEGATE_MONITOR_FEED_PER_S: '5' } });
    const mon = watch(await gw3.session({ sub: 'op-2', room: 'm2', role: 'operator' }));
    mon.send({ type: 'monitor.subscribe', room_id: 'm2', req: 's' });
    await mon.next((m) => m.req === 's');
    await feedSubscribers(redis, 'm2', 1);
    const viewers = await Promise.all([1, 2, 3, 4].map((i) => gw1.session({ sub: `burst-${i}`, room: 'm2', role: 'viewer' })));
    const orders = [];
    for (let i = 0; i < 40; i++) {
      const o = validOrder({ room_id: 'm2', sku_id: 'sku-a', unit_price: 1000, amount: 1000, address: personal });
      orders.push(o);
      viewers[i % 4].send(o);
    }
    for (const [i, o] of orders.entries())
      await viewers[i % 4].next((m) => m.order_id && m.client_order_id === o.client_order_id && m.type === 'order.confirmed', 20000);
    // 80 events (accept + decision); at most 5 a second get through.
    const st = await statsWhere(mon, (m) => m.feed_dropped > 0 && m.orders.confirmed >= 40, 20000);
    let feed = mon.messages.filter((m) => m.type === 'monitor.order');
    assert.ok(feed.length >= 1, 'some of the feed gets through');
    assert.ok(feed.length + st.feed_dropped === 80, `sent ${feed.length} + dropped ${st.feed_dropped}`);
    // After a quiet second the next frame says how many were dropped since the last one sent.
    await sleep(1100);
    const after = validOrder({ room_id: 'm2', sku_id: 'sku-a', unit_price: 1000, amount: 1000, address: personal });
    viewers[0].send(after);
    const acc = await viewers[0].next((m) => m.type === 'order.accepted' && m.client_order_id === after.client_order_id);
    const next = await mon.next((m) => m.type === 'monitor.order' && m.order_id === acc.order_id, 10000);
    feed = mon.messages.filter((m) => m.type === 'monitor.order');
    const reported = feed.reduce((n, m) => n + (m.dropped ?? 0), 0) + (next.dropped ?? 0);
    assert.ok(next.dropped > 0, `the frame after the gap says how many were dropped: ${JSON.stringify(next)}`);
    assert.equal(reported, st.feed_dropped, 'every drop is reported by a later frame');
    const m3 = parseProm((await gw3.http('GET', '/metrics')).text);
    assert.ok(value(m3, 'livegate_monitor_feed_dropped_total') >= st.feed_dropped);
    [mon, ...viewers].forEach((c) => c.close());
  });

  test('a monitor that stops reading is not cut off: its feed frames are dropped and counted', async () => {
    const gw4 = await startGateway({ redis, secrets, env: { LIVEGATE_MONITOR_FEED_PER_S: '100000' } });
    const slow = await gw4.session({ sub: 'op-2', room: 'm2', role: 'operator' });
    slow.send({ type: 'monitor.subscribe', room_id: 'm2', req: 's' });
    await slow.next((m) => m.req === 's');
    await feedSubscribers(redis, 'm2', 1);
    slow.ws._socket.pause(); // reads nothing from now on: kernel buffers fill, then the gateway's queue
    // 60,000 feed events of ~300 bytes: far more than the socket buffers and
    // the 4 MiB after which an ordinary connection is closed 1008.
    const script = `for i = 1, tonumber(ARGV[1]) do
      redis.call('PUBLISH', KEYS[1], cjson.encode({room = 'm2', order_id = 'o-flood-' .. i,
        status = 'queued', sku_id = 'sku-a', qty = 1, amount = 1000, priority = 'normal',
        client_order_id = 'c-flood-' .. i .. '-padding-padding-padding', buyer = '欧***',
        phone = '139****5678', at_ms = 1700000000000}))
    end
    return 1`;
    for (let k = 0; k < 6; k++) await redis.cli('EVAL', script, '1', 'lg:ev:feed:m2', '10000');
    await sleep(1500);
    slow.ws._socket.resume();
    const st = await statsWhere(slow, (m) => m.feed_dropped > 0, 30000);
    assert.ok(st.feed_dropped < 60000, 'some frames were delivered');
    const got = slow.messages.filter((m) => m.type === 'monitor.order' && m.order_id.startsWith('o-flood-')).length;
    assert.ok(got > 0 && got + st.feed_dropped <= 60000, `delivered ${got}, dropped ${st.feed_dropped}`);
    // Still open, and still getting its stats.
    await statsWhere(slow, () => true, 5000);
    assert.equal(slow.ws.readyState, 1, 'the slow monitor was not closed');
    const m4 = parseProm((await gw4.http('GET', '/metrics')).text);
    assert.ok(value(m4, 'livegate_monitor_feed_dropped_total') >= st.feed_dropped);
    slow.close();
  });

  test('status changes (lg:ev:status) reach the monitors of the room and of "*", masked', async () => {
    const mon = watch(await gw2.session({ sub: 'op-1', room: 'm1', role: 'operator' }));
    mon.send({ type: 'monitor.subscribe', room_id: 'm1', req: 's' });
    await mon.next((m) => m.req === 's');
    const other = watch(await gw2.session({ sub: 'op-2', room: 'm2', role: 'operator' }));
    other.send({ type: 'monitor.subscribe', room_id: 'm2', req: 's' });
    await other.next((m) => m.req === 's');
    const all = watch(await gw1.session({ sub: 'admin', room: '*', role: 'admin' }));
    all.send({ type: 'monitor.subscribe', room_id: '*', req: 'a' });
    await all.next((m) => m.req === 'a');
    // As the back office publishes it, except that this publisher is careless
    // and puts the full name and phone in: the gateway must not pass them on.
    const event = { room: 'm1', user: 'buyer-1', order_id: 'o-status-1', client_order_id: 'c-s1',
      status: 'paid', from: 'pending_payment', at_ms: Date.now(), sku_id: 'sku-a', qty: 1,
      amount: 1000, priority: 'normal', buyer: NAME, phone: PHONE, detail: DETAIL };
    await redis.cli('PUBLISH', 'lg:ev:status', JSON.stringify(event));
    for (const c of [mon, all]) {
      const m = await c.next((x) => x.type === 'monitor.order' && x.order_id === 'o-status-1', 5000);
      assert.equal(m.status, 'paid');
      assert.equal(m.from, 'pending_payment');
      assert.equal(m.room_id, 'm1');
      assert.equal(m.at_ms, event.at_ms);
      assert.equal(m.buyer, '*');
      assert.equal(m.phone, '****');
      assert.equal(m.detail, undefined);
      assert.equal(m.user, undefined);
    }
    assert.ok(await other.none((x) => x.type === 'monitor.order' && x.order_id === 'o-status-1', 500),
      'another room\'s monitor does not get it');
    [mon, other, all].forEach((c) => c.close());
  });

  test('no monitor frame carries a full phone number, name or street address', () => {
    assert.ok(monitorFrames.length > 20, `scanned ${monitorFrames.length} frames`);
    for (const text of monitorFrames) {
      assert.ok(!text.includes(PHONE), `full phone in ${text}`);
      assert.ok(!text.includes(NAME), `full name in ${text}`);
      assert.ok(!text.includes('滨江路'), `street address in ${text}`);
      assert.ok(!text.includes('13800138000') && !text.includes('文三路'), `default test address in ${text}`);
    }
  });
});

describe('queue figures and SLA violations while the validator is away', () => {
  let redis, gw;
  before(async () => {
    redis = await startRedis();
    gw = await startGateway({ redis });
    await setupRoom(gw, 'q1', {
      threshold: 50000,
      skus: { 'sku-a': { name: '茶', price: 1000, stock: 100, on_sale: true } },
    });
  });
  after(stopAll);

  test('backlog and oldest age per priority, then EXPIRED past the deadline counts as an SLA violation', async () => {
    // The normal stream gets its consumer group now (as a validator would);
    // the high stream has none yet, as when no validator has seen the room.
    await redis.cli('XGROUP', 'CREATE', 'lg:{q1}:q:normal', 'lg-validators', '0', 'MKSTREAM');
    const mon = watch(await gw.session({ sub: 'op', room: 'q1', role: 'operator' }));
    mon.send({ type: 'monitor.subscribe', room_id: 'q1', req: 's' });
    const first = await mon.next((m) => m.req === 's');
    assert.deepEqual([first.queue.high, first.queue.normal, first.queue.oldest_age_ms], [0, 0, 0], JSON.stringify(first.queue));
    const v = await gw.session({ sub: 'b', room: 'q1', role: 'viewer' });
    const submit = async (o) => {
      v.send(o);
      return v.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id);
    };
    const normal = (qty) => validOrder({ room_id: 'q1', sku_id: 'sku-a', unit_price: 1000, qty, amount: 1000 * qty, address: personal });
    const a1 = await submit(normal(1));
    await sleep(300);
    const a2 = await submit(normal(2));
    const a3 = await submit(normal(60));
    assert.equal(a3.priority, 'high');
    // A consumer takes the first normal entry and never acknowledges it:
    // pending 1 plus 1 undelivered; the oldest is the pending one.
    await redis.cli('XREADGROUP', 'GROUP', 'lg-validators', 'ghost', 'COUNT', '1', 'STREAMS', 'lg:{q1}:q:normal', '>');
    const waiting = await statsWhere(mon, (m) => m.queue.normal === 2 && m.queue.high === 1 && m.queue.oldest_age_ms >= 1000);
    const age = Date.now() - a1.accepted_at_ms;
    assert.ok(waiting.queue.oldest_age_ms <= age + 100 && waiting.queue.oldest_age_ms >= age - 5000, `${JSON.stringify(waiting.queue)} vs ${age}`);
    const metrics = parseProm((await gw.http('GET', '/metrics')).text);
    assert.equal(value(metrics, 'livegate_queue_depth', { priority: 'normal' }), 2);
    assert.equal(value(metrics, 'livegate_queue_depth', { priority: 'high' }), 1);
    assert.ok(value(metrics, 'livegate_queue_oldest_age_seconds', { priority: 'normal' }) >= 1);
    assert.ok(value(metrics, 'livegate_queue_oldest_age_seconds', { priority: 'high' }) >= 0.5);

    // A validator with a 1 s deadline finds every order too old (the ghost's
    // entry after the claim delay).
    await sleep(Math.max(0, a2.accepted_at_ms + 1500 - Date.now()));
    await startValidator({ redis, env: { LIVEGATE_DEADLINE_MS: '1000', LIVEGATE_EXPIRE_MARGIN_MS: '200', LIVEGATE_CLAIM_IDLE_MS: '500' } });
    for (const a of [a1, a2, a3]) {
      const fin = await v.next((m) => m.type === 'order.rejected' && m.order_id === a.order_id, 15000);
      assert.equal(fin.code, 'EXPIRED');
    }
    const s = await statsWhere(mon, (m) => m.orders.rejected === 3 && m.queue.normal === 0 && m.queue.high === 0);
    assert.equal(s.sla_violations, 3);
    assert.deepEqual(s.rejected_by_code, { EXPIRED: 3 });
    assert.equal(s.queue.oldest_age_ms, 0);
    assert.equal(s.orders.confirmed, 0);
    assert.equal(s.gmv_fen, 0);
    assert.ok(s.latency_ms.confirm_max >= 1000, JSON.stringify(s.latency_ms));
    mon.close();
    v.close();
  });

  test('a room going live again starts its totals afresh', async () => {
    const admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
    const room = { title: 'q1', high_value_threshold: 50000, payment_methods: ['alipay'] };
    const mon = await gw.session({ sub: 'op', room: 'q1', role: 'operator' });
    mon.send({ type: 'monitor.subscribe', room_id: 'q1', req: 's1' });
    assert.equal((await mon.next((m) => m.req === 's1')).orders.rejected, 3);
    // Live again while live: no reset.
    assert.equal((await gw.http('PUT', '/v1/rooms/q1', { token: admin, body: { ...room, status: 'live' } })).status, 200);
    mon.send({ type: 'monitor.subscribe', room_id: 'q1', req: 's2' });
    assert.equal((await mon.next((m) => m.req === 's2')).orders.rejected, 3);
    assert.equal((await gw.http('PUT', '/v1/rooms/q1', { token: admin, body: { ...room, status: 'closed' } })).status, 200);
    mon.send({ type: 'monitor.subscribe', room_id: 'q1', req: 's3' });
    assert.equal((await mon.next((m) => m.req === 's3')).orders.rejected, 3, 'closing keeps the totals');
    assert.equal((await gw.http('PUT', '/v1/rooms/q1', { token: admin, body: { ...room, status: 'live' } })).status, 200);
    mon.send({ type: 'monitor.subscribe', room_id: 'q1', req: 's4' });
    const fresh = await mon.next((m) => m.req === 's4');
    assert.deepEqual(fresh.orders, { received: 0, accepted: 0, duplicates: 0, confirmed: 0, rejected: 0, busy: 0, rate_limited: 0, pay_timeouts: 0 });
    assert.equal(fresh.sla_violations, 0);
    assert.deepEqual(fresh.rejected_by_code, {});
    mon.close();
  });

  test('BUSY and RATE_LIMITED totals as stats_flush.lua writes them; queue, drain rate and predicted wait from the load', async () => {
    const room = 'q2';
    const mon = watch(await gw.session({ sub: 'op', room, role: 'operator' }));
    mon.send({ type: 'monitor.subscribe', room_id: room, req: 's' });
    const first = await mon.next((m) => m.req === 's');
    assertStatsShape(first);
    assert.equal(first.orders.busy, 0);
    assert.equal(first.orders.rate_limited, 0);
    assert.equal(first.queue.drain_per_s, null, 'no rate measured: not known');
    assert.equal(first.queue.predicted_wait_ms, null);

    // The refusals arrive as a gateway hands them over: stats_flush.lua with
    // the field names lg_stats_flush_args uses (tests/unit/test_stats.c).
    const flush = readFileSync(new URL('../../queue/lua/stats_flush.lua', import.meta.url), 'utf8');
    const flushRefusals = (busy, limited) => redis.cli('EVAL', flush, '3', `lg:{${room}}:stats`,
      `lg:{${room}}:stats:conns`, `lg:{${room}}:stats:lat:${Math.floor(Date.now() / 1000)}`,
      'gw-it', '', '60000', '90', '604800', '2', '0', '0', 'busy', String(busy), 'rate_limited', String(limited));
    await flushRefusals(3, 2);
    await flushRefusals(1, 5);
    const refused = await statsWhere(mon, (m) => m.orders.busy === 4);
    assert.equal(refused.orders.rate_limited, 7);
    assert.equal(refused.orders.accepted, 0, 'a refusal is not an accept');

    // Entries in the stream and no load (a room from before admission):
    // counted from the stream, as before.
    for (let i = 0; i < 3; i++) await redis.cli('XADD', `lg:{${room}}:q:normal`, '*', 'order_id', `o-old-${i}`);
    const old = await statsWhere(mon, (m) => m.queue.normal === 3);
    assert.equal(old.queue.high, 0);
    assert.ok(old.queue.oldest_age_ms >= 0);
    assert.equal(old.queue.predicted_wait_ms, null);

    // With the load, its counts win; 250 decisions/s: a high order waits for
    // the 2 high ones (8 ms), a normal one for all 7 (28 ms).
    await redis.cli('HSET', `lg:{${room}}:load`, 'high', '2', 'normal', '5', 'rate', '250');
    const loaded = await statsWhere(mon, (m) => m.queue.normal === 5);
    assertStatsShape(loaded);
    assert.equal(loaded.queue.high, 2);
    assert.equal(loaded.queue.drain_per_s, 250);
    assert.deepEqual(loaded.queue.predicted_wait_ms, { high: 8, normal: 28 });
    assert.ok(loaded.queue.oldest_age_ms > 0, 'the age of the oldest normal entry, from the stream');
    assert.equal(loaded.orders.busy, 4, 'the totals are untouched');

    // Nothing undecided by the load: no age, even with entries left in the
    // stream (orders the deadline sweep answered EXPIRED, not yet skipped).
    await redis.cli('HSET', `lg:{${room}}:load`, 'high', '0', 'normal', '0', 'rate', '9800.25');
    const empty = await statsWhere(mon, (m) => m.queue.normal === 0);
    assert.deepEqual([empty.queue.high, empty.queue.oldest_age_ms], [0, 0]);
    assert.equal(empty.queue.drain_per_s, 9800.3);
    assert.deepEqual(empty.queue.predicted_wait_ms, { high: 0, normal: 0 });

    // Counts that are not numbers or below 0 count as 0; a rate of 0 (or
    // none) is not known. Nothing else in the frame moves.
    await redis.cli('HSET', `lg:{${room}}:load`, 'high', '-4', 'normal', 'many', 'rate', '0');
    const junk = await statsWhere(mon, (m) => m.queue.drain_per_s === null);
    assert.deepEqual([junk.queue.high, junk.queue.normal, junk.queue.oldest_age_ms], [0, 0, 0]);
    assert.equal(junk.queue.predicted_wait_ms, null);
    assert.deepEqual([junk.orders.busy, junk.orders.rate_limited], [4, 7]);
    await redis.cli('HSET', `lg:{${room}}:load`, 'high', '1', 'normal', '0', 'rate', '0.5');
    const slow = await statsWhere(mon, (m) => m.queue.high === 1);
    assert.equal(slow.queue.drain_per_s, 0.5);
    assert.deepEqual(slow.queue.predicted_wait_ms, { high: 2000, normal: 2000 });
    assert.ok(slow.queue.oldest_age_ms === 0, 'no high entry in the streams: no age');
    mon.close();
  });

  test('a real BUSY: the gateway refuses against the load, counts it, and monitor.stats shows it with the wait that caused it', async () => {
    const room = 'q3';
    await setupRoom(gw, room, { skus: { 'sku-a': { name: '茶', price: 1000, stock: 100, on_sale: true } } });
    // 60 undecided at 10 decisions/s: a new normal order would wait 6 s,
    // past the 5 s admission allows (LIVEGATE_ADMIT_WAIT_MS). The last
    // decision is dated ahead (as tests/integration/admission.test.mjs
    // does), so enqueue.lua sees a draining queue rather than a stall it
    // would check against the (empty) streams and reset.
    const [sec] = (await redis.cli('TIME')).split('\n');
    await redis.cli('HSET', `lg:{${room}}:load`, 'high', '0', 'normal', '60', 'rate', '10',
      'd_at', String(Number(sec) * 1000 + 60000));
    const mon = watch(await gw.session({ sub: 'op', room, role: 'operator' }));
    mon.send({ type: 'monitor.subscribe', room_id: room, req: 's' });
    const first = await mon.next((m) => m.req === 's');
    assert.deepEqual(first.queue.predicted_wait_ms, { high: 0, normal: 6000 });
    assert.equal(first.queue.drain_per_s, 10);
    const v = await gw.session({ sub: 'b', room, role: 'viewer' });
    const o = validOrder({ room_id: room, sku_id: 'sku-a', unit_price: 1000, amount: 1000, address: personal });
    v.send(o);
    const refusal = await v.next((m) => m.ref === o.client_order_id || m.client_order_id === o.client_order_id);
    assert.equal(refusal.code, 'BUSY', JSON.stringify(refusal));
    const s = await statsWhere(mon, (m) => m.orders.busy === 1);
    assert.deepEqual([s.orders.received, s.orders.accepted, s.orders.rate_limited], [1, 0, 0]);
    assert.equal(s.queue.normal, 60, 'nothing queued for the refusal');
    assert.deepEqual(s.queue.predicted_wait_ms, { high: 0, normal: 6000 });
    mon.close();
    v.close();
  });
});
