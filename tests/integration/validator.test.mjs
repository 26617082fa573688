// Validation workers against real processes: every rejection code, the
// coupon path, no overselling under concurrency, the per-user limit, order
// look-up, parallel validators, crash recovery, EXPIRED and dead letters,
// and results reaching the right connection across two gateway processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep, waitFor,
  newSecrets,
} from './lib/system.mjs';

let redis, gw;
const finalTypes = new Set(['order.confirmed', 'order.rejected']);
const isFinal = (m) => finalTypes.has(m.type) && m.order_id;

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
  await setupRoom(gw, 'r1', {
    methods: ['alipay', 'card'],
    skus: {
      'sku-1': { name: '茶', price: 19900, stock: 1000, limit_per_user: 5, on_sale: true },
      'sku-off': { name: '下架', price: 100, stock: 10, on_sale: false },
      'sku-few': { name: '稀有', price: 500, stock: 1, on_sale: true },
    },
    coupons: {
      'cp-1': { discount: 1000, min_amount: 10000, total: 100 },
      'cp-gone': { discount: 1000, total: 0 },
      'cp-min': { discount: 1000, min_amount: 1000000, total: 10 },
      'cp-big': { discount: 50000, total: 10 },
    },
  });
  await setupRoom(gw, 'r-closed', { status: 'closed', skus: { 'sku-1': { name: 'x', price: 19900, stock: 5, on_sale: true } } });
});
after(stopAll);

// Submits and waits for acceptance and the final result.
async function place(c, order) {
  c.send(order);
  const acc = await c.next((m) => m.client_order_id === order.client_order_id && (m.type === 'order.accepted' || m.type === 'error' || m.code === 'INVALID_FIELD'));
  assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
  const result = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 12000);
  return { acc, result };
}

test('every rejection code, the coupon path, and confirmation', async () => {
  const v = await startValidator({ redis });
  const c = await gw.session({ sub: 'buyer-1', room: 'r1', role: 'viewer' });
  const ok = await place(c, validOrder({ req: 'p-1' }));
  assert.equal(ok.result.type, 'order.confirmed');
  assert.equal(ok.result.status, 'pending_payment');
  assert.equal(ok.result.amount, 19900);
  assert.equal(ok.result.req, 'p-1');
  assert.equal(ok.result.pay_deadline_ms - ok.result.confirmed_at_ms, 15 * 60 * 1000);
  assert.ok(ok.result.confirmed_at_ms - ok.acc.accepted_at_ms < 10000);

  const cases = [
    [{ sku_id: 'sku-nope' }, 'UNKNOWN_SKU', 'sku_id'],
    [{ sku_id: 'sku-off', unit_price: 100, amount: 100 }, 'NOT_ON_SALE', 'sku_id'],
    [{ unit_price: 19800, amount: 19800 }, 'PRICE_CHANGED', 'unit_price'],
    [{ payment_method: 'wechat_pay' }, 'PAYMENT_METHOD_NOT_ALLOWED', 'payment_method'],
    [{ coupon_id: 'cp-nope', amount: 18900 }, 'COUPON_INVALID', 'coupon_id'],
    [{ coupon_id: 'cp-gone', amount: 18900 }, 'COUPON_INVALID', 'coupon_id'],
    [{ coupon_id: 'cp-min', amount: 18900 }, 'COUPON_INVALID', 'coupon_id'],
    [{ coupon_id: 'cp-big', amount: 0 }, 'COUPON_INVALID', 'coupon_id'],
    [{ coupon_id: 'cp-nope', amount: 1 }, 'COUPON_INVALID', 'coupon_id'],
    [{ coupon_id: 'cp-1', amount: 19900 }, 'INVALID_FIELD', 'amount'],
    [{ qty: 6, amount: 6 * 19900 }, 'LIMIT_EXCEEDED', 'qty'],
    [{ sku_id: 'sku-few', qty: 2, unit_price: 500, amount: 1000 }, 'OUT_OF_STOCK', 'sku_id'],
  ];
  for (const [over, code, field] of cases) {
    const { acc, result } = await place(c, validOrder(over));
    assert.equal(result.type, 'order.rejected', JSON.stringify(over));
    assert.equal(result.code, code, JSON.stringify(over));
    assert.equal(result.field, field);
    assert.equal(result.order_id, acc.order_id);
  }
  // The coupon path: discount applied, coupon used once per buyer.
  const withCoupon = await place(c, validOrder({ coupon_id: 'cp-1', amount: 18900 }));
  assert.equal(withCoupon.result.type, 'order.confirmed');
  assert.equal(withCoupon.result.amount, 18900);
  assert.equal(await redis.cli('HGET', 'lg:{r1}:coupon:cp-1', 'used'), '1');
  const again = await place(c, validOrder({ coupon_id: 'cp-1', amount: 18900 }));
  assert.equal(again.result.code, 'COUPON_INVALID');
  assert.equal(await redis.cli('HGET', 'lg:{r1}:coupon:cp-1', 'used'), '1');
  // Rejections took nothing: 2 confirmed units of sku-1 in all.
  assert.equal(await redis.cli('HGET', 'lg:{r1}:sku:sku-1', 'stock'), '998');
  assert.equal(await redis.cli('HGET', 'lg:{r1}:sku:sku-few', 'stock'), '1');
  c.close();

  for (const room of ['r-closed', 'never-opened']) {
    const cc = await gw.session({ sub: 'buyer-1', room, role: 'viewer' });
    const { result } = await place(cc, validOrder({ room_id: room }));
    assert.equal(result.code, 'ROOM_CLOSED');
    cc.close();
  }
  await v.stop();
});

test('no overselling: stock 50, 120 orders from 40 viewers, two validators', async () => {
  await setupRoom(gw, 'flash', { skus: { hot: { name: '爆款', price: 990, stock: 50, on_sale: true } } });
  // A read takes at most 64 entries (the smallest batch), so neither
  // validator can take all 120 orders in one read while the other waits.
  const env = { LIVEGATE_VALIDATOR_BATCH: '64' };
  const validators = [await startValidator({ redis, env }), await startValidator({ redis, env })];
  // both read the room's streams before the first order is sent
  await waitFor(() => validators.every((v) => v.logs.some((l) => l.includes('"validator.room"') && l.includes('"room":"flash"'))),
    { what: 'both validators found the room' });
  const viewers = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    gw.session({ sub: `fan-${i}`, room: 'flash', role: 'viewer' })));
  const orders = [];
  for (const [i, c] of viewers.entries()) {
    for (let k = 0; k < 3; k++) {
      const o = validOrder({ room_id: 'flash', sku_id: 'hot', unit_price: 990, amount: 990, client_order_id: `f-${i}-${k}` });
      orders.push([c, o]);
    }
  }
  for (const [c, o] of orders) c.send(o);
  const accepted = await Promise.all(orders.map(([c, o]) =>
    c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id)));
  const results = await Promise.all(accepted.map((acc, i) =>
    orders[i][0].next((m) => isFinal(m) && m.order_id === acc.order_id, 12000)));
  await sleep(500); // time for any second result to show up
  for (const [c] of orders) assert.ok(!c.messages.some(isFinal), 'a second result arrived');
  const confirmed = results.filter((r) => r.type === 'order.confirmed').length;
  assert.equal(confirmed, 50);
  assert.equal(results.filter((r) => r.code === 'OUT_OF_STOCK').length, 70);
  assert.equal(await redis.cli('HGET', 'lg:{flash}:sku:hot', 'stock'), '0');
  for (const [i, r] of results.entries()) assert.ok(r.type === 'order.confirmed' ? r.confirmed_at_ms - accepted[i].accepted_at_ms < 10000 : true);
  for (const c of viewers) c.close();
  const exits = await Promise.all(validators.map((v) => v.stop('SIGTERM')));
  for (const { code } of exits) assert.equal(code, 0, 'a validator did not stop cleanly');
  // A validator does not wait for its acknowledgements before the next
  // read (answer.c), but a stop waits for them (cycle.c): once both have
  // exited, every answered entry is acknowledged.
  for (const stream of ['normal', 'high']) {
    const pending = (await redis.cli('XPENDING', `lg:{flash}:q:${stream}`, 'lg-validators')).split('\n')[0];
    assert.equal(pending, '0', `entries of the ${stream} stream left pending after a clean stop`);
  }
  // Each validator decided its own share and together exactly the 120.
  const decided = validators.map((v) => v.logs.map((l) => JSON.parse(l)).filter((l) => l.event === 'validator.stats').at(-1).decided);
  for (const [i, n] of decided.entries()) assert.ok(n > 0, `validator ${i} decided none: ${decided}`);
  assert.equal(decided.reduce((a, b) => a + b, 0), 120);
});

test('the per-user limit holds under concurrent submits of one user', async () => {
  await setupRoom(gw, 'lim', { skus: { one: { name: '限购', price: 100, stock: 100, limit_per_user: 3, on_sale: true } } });
  const v = await startValidator({ redis });
  const conns = [await gw.session({ sub: 'greedy', room: 'lim', role: 'viewer' }),
    await gw.session({ sub: 'greedy', room: 'lim', role: 'viewer' })];
  const orders = Array.from({ length: 10 }, (_, i) => validOrder({ room_id: 'lim', sku_id: 'one', unit_price: 100, amount: 100, client_order_id: `g-${i}` }));
  orders.forEach((o, i) => conns[i % 2].send(o));
  const results = await Promise.all(orders.map(async (o, i) => {
    const acc = await conns[i % 2].next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id);
    return conns[i % 2].next((m) => isFinal(m) && m.order_id === acc.order_id, 12000);
  }));
  assert.equal(results.filter((r) => r.type === 'order.confirmed').length, 3);
  assert.equal(results.filter((r) => r.code === 'LIMIT_EXCEEDED').length, 7);
  assert.equal(await redis.cli('HGET', 'lg:{lim}:live:greedy', 'one'), '3');
  for (const c of conns) c.close();
  await v.stop();
});

test('order.query after a reconnect, and a duplicate after the result', async () => {
  const v = await startValidator({ redis });
  const c = await gw.session({ sub: 'asker', room: 'r1', role: 'viewer' });
  const order = validOrder();
  const { acc } = await place(c, order);
  c.close();
  const again = await gw.session({ sub: 'asker', room: 'r1', role: 'viewer' });
  again.send({ type: 'order.query', client_order_ids: [order.client_order_id, 'never-sent'], req: 'q1' });
  const s1 = await again.next((m) => m.type === 'order.state' && m.req === 'q1');
  const s2 = await again.next((m) => m.type === 'order.state' && m.req === 'q1');
  assert.deepEqual([s1.client_order_id, s1.order_id, s1.status], [order.client_order_id, acc.order_id, 'pending_payment']);
  assert.deepEqual([s2.client_order_id, s2.order_id, s2.status], ['never-sent', null, 'unknown']);
  // Another user asking for the same client_order_id sees nothing.
  const other = await gw.session({ sub: 'someone-else', room: 'r1', role: 'viewer' });
  other.send({ type: 'order.query', client_order_ids: [order.client_order_id] });
  assert.equal((await other.next((m) => m.type === 'order.state')).status, 'unknown');
  // Query bounds: 100 ids fine, 101 and 0 refused.
  other.send({ type: 'order.query', client_order_ids: Array.from({ length: 100 }, (_, i) => `x-${i}`), req: 'q100' });
  for (let i = 0; i < 100; i++) await other.next((m) => m.req === 'q100');
  for (const ids of [Array.from({ length: 101 }, (_, i) => `x-${i}`), [], ['bad id']]) {
    other.send({ type: 'order.query', client_order_ids: ids, req: 'qbad' });
    assert.equal((await other.next((m) => m.req === 'qbad')).code, 'BAD_REQUEST');
  }
  // A duplicate submit after the result: accepted (duplicate) then the result.
  again.send(order);
  const dup = await again.next((m) => m.type === 'order.accepted');
  assert.equal(dup.duplicate, true);
  assert.equal(dup.order_id, acc.order_id);
  const res = await again.next(isFinal);
  assert.equal(res.type, 'order.confirmed');
  assert.equal(res.order_id, acc.order_id);
  again.close();
  other.close();
  await v.stop();
});

test('kill -9 of a validator mid-stream: another one answers every order once, within 10 s', async () => {
  await setupRoom(gw, 'crash', { skus: { s: { name: 'x', price: 100, stock: 10000, on_sale: true } } });
  // blocking reads of 1 s (the longest): a stopped validator stays parked in
  // one long enough for the orders below to reach it
  const a = await startValidator({ redis, env: { LIVEGATE_VALIDATOR_ID: 'doomed', LIVEGATE_VALIDATOR_BLOCK_MS: '1000' } });
  await waitFor(async () => (await redis.cli('XINFO', 'GROUPS', 'lg:{crash}:q:normal').catch(() => '')).includes('lg-validators'), { what: 'group' });
  const c = await gw.session({ sub: 'crash-buyer', room: 'crash', role: 'viewer' });
  const orders = Array.from({ length: 300 }, (_, i) => validOrder({ room_id: 'crash', sku_id: 's', unit_price: 100, amount: 100, client_order_id: `k-${i}` }));
  // Stopped only once Redis shows it blocked in XREADGROUP: parked inside a
  // blocking read, the next entries go to it (stopped between two reads, it
  // would get none and the test would prove nothing).
  await waitFor(async () => (await redis.cli('CLIENT', 'LIST')).split('\n')
    .some((l) => l.includes('name=livegate-validator:doomed') && /flags=\S*b/.test(l) && l.includes('cmd=xreadgroup')),
  { everyMs: 10, what: 'validator doomed blocked in XREADGROUP' });
  a.proc.child.kill('SIGSTOP');
  for (const o of orders) c.send(o);
  const accepted = await Promise.all(orders.map((o) => c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id)));
  // the entries Redis handed the stopped validator are pending under its name
  await waitFor(async () => /doomed/.test(await redis.cli('XPENDING', 'lg:{crash}:q:normal', 'lg-validators')),
    { what: 'the stopped validator holds entries' });
  await a.kill9();
  const b = await startValidator({ redis });
  const results = await Promise.all(accepted.map((acc) => c.next((m) => isFinal(m) && m.order_id === acc.order_id, 15000)));
  const arrived = Date.now();
  await sleep(500);
  assert.ok(!c.messages.some(isFinal), 'an order was answered twice');
  for (const [i, r] of results.entries()) {
    assert.equal(r.type, 'order.confirmed');
    assert.ok(r.confirmed_at_ms - accepted[i].accepted_at_ms < 10000, `order ${i} confirmed after ${r.confirmed_at_ms - accepted[i].accepted_at_ms} ms`);
  }
  assert.ok(arrived - accepted[0].accepted_at_ms < 10000);
  assert.equal(await redis.cli('HGET', 'lg:{crash}:sku:s', 'stock'), String(10000 - 300));
  c.close();
  await b.stop();
});

test('an order past its deadline is answered EXPIRED and takes no stock', async () => {
  await setupRoom(gw, 'late', { skus: { s: { name: 'x', price: 100, stock: 5, on_sale: true } } });
  const c = await gw.session({ sub: 'late-buyer', room: 'late', role: 'viewer' });
  const order = validOrder({ room_id: 'late', sku_id: 's', unit_price: 100, amount: 100 });
  c.send(order);
  const acc = await c.next((m) => m.type === 'order.accepted');
  await sleep(2200); // no validator runs; the (shortened) deadline passes
  const v = await startValidator({ redis, env: { LIVEGATE_DEADLINE_MS: '2000', LIVEGATE_EXPIRE_MARGIN_MS: '500' } });
  const r = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
  assert.equal(r.type, 'order.rejected');
  assert.equal(r.code, 'EXPIRED');
  assert.equal(await redis.cli('HGET', 'lg:{late}:sku:s', 'stock'), '5');
  c.close();
  await v.stop();
});

test('an entry delivered too many times goes to the dead letters, answered EXPIRED', async () => {
  await setupRoom(gw, 'poison', { skus: { s: { name: 'x', price: 100, stock: 5, on_sale: true } } });
  const a = await startValidator({ redis, env: { LIVEGATE_VALIDATOR_ID: 'first' } });
  await waitFor(async () => (await redis.cli('XINFO', 'GROUPS', 'lg:{poison}:q:normal').catch(() => '')).includes('lg-validators'), { what: 'group' });
  await a.kill9();
  const c = await gw.session({ sub: 'p-buyer', room: 'poison', role: 'viewer' });
  const order = validOrder({ room_id: 'poison', sku_id: 's', unit_price: 100, amount: 100 });
  c.send(order);
  const acc = await c.next((m) => m.type === 'order.accepted');
  // A consumer takes the entry and dies with it (deterministically: a stopped
  // validator only gets it if it happened to be blocked in XREADGROUP).
  await redis.cli('XREADGROUP', 'GROUP', 'lg-validators', 'dead-consumer', 'COUNT', '10',
    'STREAMS', 'lg:{poison}:q:normal', '>');
  const b = await startValidator({ redis, env: { LIVEGATE_MAX_DELIVERIES: '1' } });
  const r = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
  assert.equal(r.code, 'EXPIRED');
  const dead = await redis.cli('XRANGE', 'lg:{poison}:dead', '-', '+');
  assert.ok(dead.includes(acc.order_id));
  assert.equal(await redis.cli('HGET', 'lg:{poison}:sku:s', 'stock'), '5');
  c.close();
  await b.stop();
});

test('two gateway processes on one port: each result reaches the submitting connection', async () => {
  const secrets = newSecrets();
  const g1 = await startGateway({ redis, secrets });
  const g2 = await startGateway({ redis, secrets, port: g1.port });
  await setupRoom(g1, 'duo', { skus: { s: { name: 'x', price: 100, stock: 1000, on_sale: true } } });
  const v = await startValidator({ redis });
  const conns = [];
  const gatewaysSeen = new Set();
  for (let i = 0; i < 24; i++) {
    const c = await g1.connect();
    c.send({ type: 'auth', token: g1.token({ sub: `duo-${i % 6}`, room: 'duo', role: 'viewer' }) });
    const ok = await c.next((m) => m.type === 'auth.ok');
    gatewaysSeen.add(ok.session_id.replace(/\.\d+$/, ''));
    conns.push(c);
  }
  assert.equal(gatewaysSeen.size, 2, 'connections spread over both processes');
  const all = [];
  for (const [i, c] of conns.entries()) {
    const o = validOrder({ room_id: 'duo', sku_id: 's', unit_price: 100, amount: 100, client_order_id: `duo-o-${i}` });
    c.send(o);
    all.push(c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id)
      .then((acc) => c.next((m) => isFinal(m) && m.order_id === acc.order_id, 12000)));
  }
  const results = await Promise.all(all);
  assert.equal(results.filter((r) => r.type === 'order.confirmed').length, 24);
  // Each gateway's reply stream is capped and expires once it is no longer fed.
  for (const key of (await redis.cli('KEYS', 'lg:gw:*:replies')).split('\n')) {
    const ttl = Number(await redis.cli('PTTL', key));
    assert.ok(ttl > 0 && ttl <= 3600000, `${key} ttl ${ttl}`);
  }
  for (const c of conns) c.close();
  await v.stop();
  await g2.stop();
  await g1.stop();
});
