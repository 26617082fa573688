// The HTTP API against the real gateway: tokens and roles, body rules with
// the field named, the catalog round trip, masked order look-up, health.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startGateway, stopAll, validOrder, waitFor } from './lib/system.mjs';

let redis, gw, admin, operator, viewer;
const room = { title: '直播间', status: 'live', high_value_threshold: 100000, payment_methods: ['alipay', 'card'] };
const sku = { name: '茶叶礼盒', price: 19900, stock: 100, limit_per_user: 2, on_sale: true };

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
  admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
  operator = gw.token({ sub: 'op', room: 'r1', role: 'operator' });
  viewer = gw.token({ sub: 'u1', room: 'r1', role: 'viewer' });
});
after(stopAll);

test('no token or a bad token is 401 with a JSON error', async () => {
  for (const token of [undefined, 'garbage', gw.token({ sub: 'op', room: 'r1', role: 'operator' }, { badSig: true })]) {
    const r = await gw.http('PUT', '/v1/rooms/r1', { token, body: room });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'UNAUTHORIZED');
    assert.equal(typeof r.json.error.message, 'string');
  }
  assert.equal((await gw.http('GET', '/v1/rooms/r1/skus')).status, 401);
  assert.equal(await redis.cli('EXISTS', 'lg:{r1}:room'), '0');
});

test('a viewer is 403 except for reading its own room catalog', async () => {
  assert.equal((await gw.http('PUT', '/v1/rooms/r1', { token: viewer, body: room })).status, 403);
  assert.equal((await gw.http('PUT', '/v1/rooms/r1/skus/s1', { token: viewer, body: sku })).status, 403);
  assert.equal((await gw.http('GET', '/v1/orders/o-x', { token: viewer })).status, 403);
  assert.equal((await gw.http('GET', '/v1/rooms/r1/skus', { token: viewer })).status, 200);
  assert.equal((await gw.http('GET', '/v1/rooms/r2/skus', { token: viewer })).status, 403);
  assert.equal(await redis.cli('EXISTS', 'lg:{r1}:room'), '0');
});

test('an operator manages its own room only; an admin any room', async () => {
  const own = await gw.http('PUT', '/v1/rooms/r1', { token: operator, body: room });
  assert.equal(own.status, 200);
  assert.deepEqual(own.json, { room_id: 'r1', ...room });
  const other = await gw.http('PUT', '/v1/rooms/r2', { token: operator, body: room });
  assert.equal(other.status, 403);
  assert.equal(other.json.error.code, 'FORBIDDEN');
  assert.equal(await redis.cli('EXISTS', 'lg:{r2}:room'), '0');
  assert.equal((await gw.http('PUT', '/v1/rooms/r2', { token: admin, body: room })).status, 200);
  assert.equal(await redis.cli('HGET', 'lg:{r2}:room', 'payment_methods'), 'alipay,card');
});

test('bad bodies are 400 with the field named, and change nothing', async () => {
  const cases = [
    ['/v1/rooms/r3', { ...room, status: 'open' }, 'status'],
    ['/v1/rooms/r3', { ...room, status: undefined }, 'status'],
    ['/v1/rooms/r3', { ...room, payment_methods: ['alipay', 'paypal'] }, 'payment_methods'],
    ['/v1/rooms/r3', { ...room, payment_methods: [] }, 'payment_methods'],
    ['/v1/rooms/r3', { ...room, high_value_threshold: -1 }, 'high_value_threshold'],
    ['/v1/rooms/r3', { ...room, title: 'x'.repeat(101) }, 'title'],
    ['/v1/rooms/r3/skus/s1', { ...sku, price: -5 }, 'price'],
    ['/v1/rooms/r3/skus/s1', { ...sku, price: 0 }, 'price'],
    ['/v1/rooms/r3/skus/s1', { ...sku, stock: '10' }, 'stock'],
    ['/v1/rooms/r3/skus/s1', { ...sku, on_sale: 'yes' }, 'on_sale'],
    ['/v1/rooms/r3/skus/s1', { ...sku, name: '' }, 'name'],
    ['/v1/rooms/r3/skus/s1', { ...sku, limit_per_user: 0 }, 'limit_per_user'],
    ['/v1/rooms/r3/coupons/c1', { discount: 0, total: 10 }, 'discount'],
    ['/v1/rooms/r3/coupons/c1', { discount: 100, total: -1 }, 'total'],
    ['/v1/rooms/r3/coupons/c1', { discount: 100 }, 'total'],
  ];
  for (const [path, body, field] of cases) {
    const r = await gw.http('PUT', path, { token: admin, body });
    assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.equal(r.json.error.code, 'INVALID_FIELD');
    assert.equal(r.json.error.field, field, `${path} ${JSON.stringify(body)} -> ${r.text}`);
  }
  for (const raw of ['not json', '[1,2]', '']) {
    const r = await gw.http('PUT', '/v1/rooms/r3', { token: admin, raw });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.field, 'body');
  }
  const badId = await gw.http('PUT', '/v1/rooms/bad%20room', { token: admin, body: room });
  assert.equal(badId.status, 400);
  assert.equal(badId.json.error.field, 'room');
  assert.equal(await redis.cli('KEYS', 'lg:{r3}*'), '');
});

test('SKUs and coupons round-trip through PUT and GET', async () => {
  const put = await gw.http('PUT', '/v1/rooms/r1/skus/sku-b', { token: operator, body: sku });
  assert.equal(put.status, 200);
  assert.deepEqual(put.json, { sku_id: 'sku-b', name: sku.name, price: 19900, stock_left: 100, limit_per_user: 2, on_sale: true });
  await gw.http('PUT', '/v1/rooms/r1/skus/sku-a', { token: operator, body: { name: 'A', price: 500, stock: 0, on_sale: false } });
  const list = await gw.http('GET', '/v1/rooms/r1/skus', { token: viewer });
  assert.deepEqual(list.json, { skus: [
    { sku_id: 'sku-a', name: 'A', price: 500, stock_left: 0, on_sale: false, limit_per_user: null },
    { sku_id: 'sku-b', name: sku.name, price: 19900, stock_left: 100, on_sale: true, limit_per_user: 2 },
  ] });
  const coupon = await gw.http('PUT', '/v1/rooms/r1/coupons/c-10', { token: operator, body: { discount: 1000, min_amount: 5000, total: 3 } });
  assert.equal(coupon.status, 200);
  assert.deepEqual(coupon.json, { coupon_id: 'c-10', discount: 1000, min_amount: 5000, total: 3 });
  // A re-PUT keeps the uses counted so far.
  await redis.cli('HSET', 'lg:{r1}:coupon:c-10', 'used', '2');
  await gw.http('PUT', '/v1/rooms/r1/coupons/c-10', { token: operator, body: { discount: 1000, total: 5 } });
  assert.equal(await redis.cli('HGET', 'lg:{r1}:coupon:c-10', 'used'), '2');
  assert.equal(await redis.cli('HGET', 'lg:{r1}:coupon:c-10', 'min_amount'), '0');
});

test('GET /v1/orders/{id} shows the order masked, to its room operator', async () => {
  const c = await gw.session({ sub: 'u-order', room: 'r1', role: 'viewer' });
  const order = validOrder();
  c.send(order);
  const acc = await c.next((m) => m.type === 'order.accepted');
  c.close();
  const r = await gw.http('GET', `/v1/orders/${acc.order_id}`, { token: operator });
  assert.equal(r.status, 200);
  assert.equal(r.json.order_id, acc.order_id);
  assert.equal(r.json.client_order_id, order.client_order_id);
  assert.equal(r.json.status, 'queued');
  assert.equal(r.json.qty, 1);
  assert.equal(r.json.amount, 19900);
  assert.equal(r.json.buyer, '张*');
  assert.equal(r.json.phone, '138****8000');
  assert.equal(r.json.pii, undefined);
  for (const secret of ['13800138000', '张三', '文三路']) assert.ok(!r.text.includes(secret), secret);
  const otherOp = gw.token({ sub: 'op2', room: 'r2', role: 'operator' });
  assert.equal((await gw.http('GET', `/v1/orders/${acc.order_id}`, { token: otherOp })).status, 403);
  assert.equal((await gw.http('GET', `/v1/orders/${acc.order_id}`, { token: admin })).status, 200);
  const missing = await gw.http('GET', '/v1/orders/o-nope', { token: admin });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'NOT_FOUND');
});

test('unknown paths are 404 and wrong methods 405, as JSON', async () => {
  const r = await gw.http('GET', '/v1/nothing', { token: admin });
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'NOT_FOUND');
  const m = await gw.http('POST', '/v1/rooms/r1', { token: admin });
  assert.equal(m.status, 405);
  assert.equal(m.json.error.code, 'METHOD_NOT_ALLOWED');
  assert.equal(m.headers.get('allow'), 'GET, PUT, DELETE');
});

test('/healthz is 200 with Redis and 503 without, no token needed', async () => {
  const ok = await gw.http('GET', '/healthz');
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { status: 'ok' });
  await redis.stop();
  await waitFor(async () => (await gw.http('GET', '/healthz')).status === 503, { what: '503' });
  const put = await gw.http('PUT', '/v1/rooms/r1', { token: admin, body: room });
  assert.equal(put.status, 503);
  assert.equal(put.json.error.code, 'UNAVAILABLE');
  await redis.start();
  await waitFor(async () => (await gw.http('GET', '/healthz')).status === 200, { what: '200' });
});
