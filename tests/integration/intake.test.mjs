// The intake path against the real gateway and redis-server: field rules on
// the wire, durable acceptance, priority, duplicates, conflicts, encryption
// of personal data, and UNAVAILABLE while Redis is away.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startGateway, stopAll, validOrder, setupRoom, sleep, waitFor } from './lib/system.mjs';
import { readRecord } from './lib/record.mjs';

let redis, gw;
before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
  await setupRoom(gw, 'r1', { threshold: 100000 });
});
after(stopAll);

const viewer = (sub = 'u1', room = 'r1', extra = {}) => ({ sub, room, role: 'viewer', ...extra });

async function streamIds(room, prio) {
  // enqueue.lua's entry is one value, order_id|user|sku_id|coupon_id|accepted_at_ms|gw.
  const out = await redis.cli('XRANGE', `lg:{${room}}:q:${prio}`, '-', '+');
  return out.split('\n').filter((l) => l.startsWith('o-')).map((l) => l.split('|')[0]);
}

async function keysOf(pattern) {
  const out = await redis.cli('KEYS', pattern);
  return out ? out.split('\n') : [];
}

test('each broken rule on the wire answers INVALID_FIELD with the path and queues nothing', async () => {
  const c = await gw.session(viewer('u-invalid'));
  const cases = [
    [{ address: { phone: '12800138000' } }, 'address.phone'],
    [{ qty: 0 }, 'qty'],
    [{ qty: 1000 }, 'qty'],
    [{ sku_id: undefined }, 'sku_id'],
    [{ amount: '19900' }, 'amount'],
    [{ amount: 19901 }, 'amount'],
    [{ room_id: 'r2' }, 'room_id'],
    [{ currency: 'USD' }, 'currency'],
    [{ payment_method: 'bitcoin' }, 'payment_method'],
    [{ address: { name: '' } }, 'address.name'],
    [{ address: { detail: 'x'.repeat(201) } }, 'address.detail'],
    [{ address: { postal_code: '31000' } }, 'address.postal_code'],
    [{ address: { city: 'a\u0001b' } }, 'address.city'],
  ];
  for (const [i, [over, field]] of cases.entries()) {
    const order = validOrder({ ...over, req: `inv-${i}` });
    if ('sku_id' in over && over.sku_id === undefined) delete order.sku_id;
    c.send(order);
    const r = await c.next((m) => m.req === `inv-${i}`);
    assert.equal(r.type, 'order.rejected', JSON.stringify(r));
    assert.equal(r.code, 'INVALID_FIELD');
    assert.equal(r.field, field, JSON.stringify(r));
    assert.equal(r.order_id, undefined);
    assert.equal(r.client_order_id, order.client_order_id);
  }
  assert.deepEqual(await keysOf('lg:{r1}:idem:u-invalid/*'), []);
  c.close();
});

test('the limits of the contract hold on both sides over the wire', async () => {
  const c = await gw.session(viewer('u-bounds'));
  const ok = [
    { qty: 999, amount: 999 * 19900 },
    { address: { name: '张'.repeat(50) } },
    { address: { detail: '路'.repeat(200) } },
    { address: { province: '省'.repeat(32), city: '市'.repeat(32), district: '区'.repeat(32) } },
    { address: { postal_code: null, district: null } },
  ];
  for (const [i, over] of ok.entries()) {
    c.send(validOrder({ ...over, req: `ok-${i}` }));
    const r = await c.next((m) => m.req === `ok-${i}`);
    assert.equal(r.type, 'order.accepted', JSON.stringify(r));
  }
  const bad = [
    [{ address: { name: '张'.repeat(51) } }, 'address.name'],
    [{ address: { province: '省'.repeat(33) } }, 'address.province'],
    [{ address: { district: '区'.repeat(33) } }, 'address.district'],
  ];
  for (const [i, [over, field]] of bad.entries()) {
    c.send(validOrder({ ...over, req: `bad-${i}` }));
    const r = await c.next((m) => m.req === `bad-${i}`);
    assert.equal(r.field, field);
  }
  c.close();
});

test('frames that are not JSON objects of a known type are BAD_REQUEST', async () => {
  const c = await gw.session(viewer());
  for (const frame of ['not json', '[1,2,3]', '"text"', JSON.stringify({ type: 'order.cancel', req: 'unk' }),
    JSON.stringify({ req: 'no-type' }), '['.repeat(100) + ']'.repeat(100)]) {
    c.send(frame);
    const r = await c.next();
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'BAD_REQUEST');
  }
  c.close();
});

test('operators and admins may not submit orders', async () => {
  const c = await gw.session({ sub: 'op', room: 'r1', role: 'operator' });
  c.send(validOrder({ req: 'op-submit' }));
  const r = await c.next((m) => m.req === 'op-submit');
  assert.equal(r.code, 'FORBIDDEN');
  c.close();
});

test('order.accepted comes only after the entry is in the stream', async () => {
  const c = await gw.session(viewer('u-durable'));
  const order = validOrder();
  c.send(order);
  const acc = await c.next((m) => m.type === 'order.accepted');
  assert.equal(acc.client_order_id, order.client_order_id);
  assert.equal(acc.duplicate, false);
  assert.equal(acc.priority, 'normal');
  assert.ok((await streamIds('r1', 'normal')).includes(acc.order_id));
  const record = await redis.cli('HGET', `lg:{r1}:order:${acc.order_id}`, 'status');
  assert.equal(record, 'queued');

  // With Redis stalled, nothing is acknowledged until it answers.
  redis.pause();
  const stalled = validOrder();
  c.send(stalled);
  const early = await c.none((m) => m.client_order_id === stalled.client_order_id, 800);
  redis.resume();
  assert.ok(early, 'order.accepted arrived while Redis was stalled');
  const late = await c.next((m) => m.client_order_id === stalled.client_order_id);
  assert.equal(late.type, 'order.accepted');
  assert.ok((await streamIds('r1', 'normal')).includes(late.order_id));
  c.close();
});

test('priority: at or above the threshold, and vip tokens, go to the high stream', async () => {
  const c = await gw.session(viewer('u-prio'));
  const below = validOrder({ qty: 5, amount: 99500 });
  const at = validOrder({ unit_price: 100000, amount: 100000 });
  for (const o of [below, at]) c.send(o);
  const rb = await c.next((m) => m.client_order_id === below.client_order_id);
  const ra = await c.next((m) => m.client_order_id === at.client_order_id);
  assert.equal(rb.priority, 'normal');
  assert.equal(ra.priority, 'high');
  assert.ok((await streamIds('r1', 'normal')).includes(rb.order_id));
  assert.ok((await streamIds('r1', 'high')).includes(ra.order_id));
  c.close();

  const vip = await gw.session(viewer('u-vip', 'r1', { tier: 'vip' }));
  const small = validOrder();
  vip.send(small);
  const rv = await vip.next((m) => m.client_order_id === small.client_order_id);
  assert.equal(rv.priority, 'high');
  assert.ok((await streamIds('r1', 'high')).includes(rv.order_id));
  vip.close();

  // A room never set up has no threshold: normal, and still queued.
  const other = await gw.session(viewer('u-new', 'never-set-up'));
  const big = validOrder({ room_id: 'never-set-up', unit_price: 5000000, amount: 5000000 });
  other.send(big);
  const rn = await other.next((m) => m.client_order_id === big.client_order_id);
  assert.equal(rn.priority, 'normal');
  assert.ok((await streamIds('never-set-up', 'normal')).includes(rn.order_id));
  assert.ok((await redis.cli('SMEMBERS', 'lg:rooms')).split('\n').includes('never-set-up'));
  other.close();
});

test('a duplicate on another connection of the same user returns the first order', async () => {
  const a = await gw.session(viewer('u-dup'));
  const b = await gw.session(viewer('u-dup'));
  const order = validOrder();
  a.send(order);
  const first = await a.next((m) => m.type === 'order.accepted');
  b.send({ ...order, req: 'again' });
  const second = await b.next((m) => m.req === 'again');
  assert.equal(second.type, 'order.accepted');
  assert.equal(second.duplicate, true);
  assert.equal(second.order_id, first.order_id);
  assert.equal(second.accepted_at_ms, first.accepted_at_ms);
  const inStream = (await streamIds('r1', 'normal')).filter((id) => id === first.order_id);
  assert.equal(inStream.length, 1);
  a.close();
  b.close();
});

test('the same client_order_id from another user is another order', async () => {
  const a = await gw.session(viewer('u-a'));
  const b = await gw.session(viewer('u-b'));
  const order = validOrder();
  a.send(order);
  b.send(order);
  const ra = await a.next((m) => m.type === 'order.accepted');
  const rb = await b.next((m) => m.type === 'order.accepted');
  assert.equal(rb.duplicate, false);
  assert.notEqual(ra.order_id, rb.order_id);
  a.close();
  b.close();
});

test('a conflicting body is IDEMPOTENCY_CONFLICT and leaves the first order untouched', async () => {
  const c = await gw.session(viewer('u-conflict'));
  const order = validOrder();
  c.send(order);
  const first = await c.next((m) => m.type === 'order.accepted');
  const key = `lg:{r1}:order:${first.order_id}`;
  const before = await redis.cli('HGETALL', key);
  const variants = [
    { qty: 2, amount: 39800 }, { sku_id: 'sku-2' }, { payment_method: 'card' },
    { address: { detail: '另一个地址' } }, { coupon_id: 'cp-1' },
  ];
  for (const [i, v] of variants.entries()) {
    c.send({ ...validOrder(v), client_order_id: order.client_order_id, req: `cf-${i}` });
    const r = await c.next((m) => m.req === `cf-${i}`);
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'IDEMPOTENCY_CONFLICT');
    assert.equal(r.ref, order.client_order_id);
  }
  assert.equal(await redis.cli('HGETALL', key), before);
  const inStream = (await streamIds('r1', 'normal')).filter((id) => id === first.order_id);
  assert.equal(inStream.length, 1);
  // The conflicting attempts left no stray order-id index behind.
  const indexes = await keysOf('lg:oidx:*');
  for (const k of indexes) {
    const room = await redis.cli('GET', k);
    const id = k.slice('lg:oidx:{'.length, -1);
    assert.equal(await redis.cli('EXISTS', `lg:{${room}}:order:${id}`), '1', `stray index ${k}`);
  }
  c.close();
});

test('name, phone and address are never stored or logged in clear', async () => {
  const c = await gw.session(viewer('u-pii'));
  const order = validOrder({ address: { name: '王小明', phone: '13912345678', detail: '秘密路 88 号',
    province: '隐秘省', city: '无名市' } });
  c.send(order);
  const acc = await c.next((m) => m.type === 'order.accepted');
  const keys = await keysOf('*');
  let everything = '';
  // every key of every type: a type this does not know fails the test
  // rather than going unread
  const read = {
    hash: (k) => redis.cli('HGETALL', k),
    stream: (k) => redis.cli('XRANGE', k, '-', '+'),
    string: (k) => redis.cli('GET', k),
    set: (k) => redis.cli('SMEMBERS', k),
    zset: (k) => redis.cli('ZRANGE', k, '0', '-1', 'WITHSCORES'),
    list: (k) => redis.cli('LRANGE', k, '0', '-1'),
  };
  for (const k of keys) {
    const type = await redis.cli('TYPE', k);
    if (type === 'none') continue; // expired between the scan and now
    assert.ok(read[type], `key ${k} of type ${type} not scanned`);
    everything += await read[type](k);
  }
  for (const secret of ['13912345678', '王小明', '秘密路', '隐秘省', '无名市']) {
    assert.ok(!everything.includes(secret), `${secret} found in Redis`);
    assert.ok(!gw.logs.join('\n').includes(secret), `${secret} found in logs`);
  }
  const record = `lg:{r1}:order:${acc.order_id}`;
  const rec = await readRecord(redis, record);
  assert.equal(rec.phone, '139****5678');
  assert.equal(rec.buyer, '王**');
  assert.ok(rec.pii.length > 40);
  const token = gw.token(viewer('u-pii'));
  assert.ok(!gw.logs.join('\n').includes(token.split('.')[2]));
  c.close();
});

test('after SCRIPT FLUSH the script is reloaded and the submit still succeeds', async () => {
  const c = await gw.session(viewer('u-noscript'));
  await redis.cli('SCRIPT', 'FLUSH');
  const order = validOrder({ req: 'after-flush' });
  c.send(order);
  const r = await c.next((m) => m.req === 'after-flush');
  assert.equal(r.type, 'order.accepted', JSON.stringify(r));
  assert.ok((await streamIds('r1', 'normal')).includes(r.order_id));
  assert.ok(gw.logs.some((l) => l.includes('redis.noscript')));
  c.close();
});

test('UNAVAILABLE while redis-server is down, and normal service once it is back', async () => {
  const c = await gw.session(viewer('u-outage'));
  await redis.stop();
  await waitFor(async () => (await gw.http('GET', '/healthz')).status === 503, { what: 'healthz 503' });
  const order = validOrder({ req: 'down' });
  c.send(order);
  const r = await c.next((m) => m.req === 'down');
  assert.equal(r.type, 'error');
  assert.equal(r.code, 'UNAVAILABLE');
  assert.equal(r.ref, order.client_order_id);

  await redis.start();
  // the data was not persisted: once the gateway is back on Redis, set the room up again
  await waitFor(async () => (await gw.http('GET', '/healthz')).status === 200, { what: 'healthz 200' });
  await setupRoom(gw, 'r1');
  c.send({ ...order, req: 'back' });
  const ok = await c.next((m) => m.req === 'back');
  assert.equal(ok.type, 'order.accepted');
  assert.equal(ok.duplicate, false);
  c.close();
});
