// The HTTP API's reads and removals against the real gateway and
// validator: GET of a room and of a coupon, DELETE of a coupon (new orders
// naming it are rejected COUPON_INVALID) and of a SKU (unlisted and off
// sale, viewers told at once, new orders rejected NOT_ON_SALE, its orders
// kept, a PUT brings it back); who may do each, 404s that change nothing;
// an Allow header on every 405; token errors that name the claim at fault,
// over HTTP and on the WebSocket; and one phone message whatever check
// trips first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, mintToken, placeOrder,
} from './lib/system.mjs';

let redis, gw, admin, operator, otherOp, viewer;
const room = { title: '直播间', status: 'live', high_value_threshold: 100000, payment_methods: ['card', 'alipay'] };
const tea = { name: '茶', price: 19900, stock: 100, on_sale: true };

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
  await startValidator({ redis });
  admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
  operator = gw.token({ sub: 'op', room: 'k1', role: 'operator' });
  otherOp = gw.token({ sub: 'op2', room: 'k2', role: 'operator' });
  viewer = gw.token({ sub: 'u1', room: 'k1', role: 'viewer' });
  await setupRoom(gw, 'k1', { methods: room.payment_methods, skus: { tea, cake: { ...tea, name: '饼' } } });
});
after(stopAll);

const place = placeOrder;

test('GET /v1/rooms/{room} shows the room as it was put, to its operator and admins', async () => {
  const put = await gw.http('PUT', '/v1/rooms/k1', { token: operator, body: room });
  assert.equal(put.status, 200);
  const r = await gw.http('GET', '/v1/rooms/k1', { token: operator });
  assert.equal(r.status, 200);
  const { updated_at_ms: at, ...rest } = r.json;
  assert.deepEqual(rest, { room_id: 'k1', title: room.title, status: 'live', high_value_threshold: 100000,
    payment_methods: ['alipay', 'card'] });
  assert.ok(Number.isInteger(at) && at > 0);
  assert.equal((await gw.http('GET', '/v1/rooms/k1', { token: admin })).status, 200);
  assert.equal((await gw.http('GET', '/v1/rooms/k1', { token: otherOp })).status, 403);
  assert.equal((await gw.http('GET', '/v1/rooms/k1', { token: viewer })).status, 403);
  assert.equal((await gw.http('GET', '/v1/rooms/k1')).status, 401);
  const none = await gw.http('GET', '/v1/rooms/nowhere', { token: admin });
  assert.equal(none.status, 404);
  assert.deepEqual(none.json, { error: { code: 'NOT_FOUND', message: 'no such room' } });
  const bad = await gw.http('GET', '/v1/rooms/a*b', { token: admin });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, 'room');
});

test('a coupon is read with GET and removed with DELETE; new orders naming it are then refused', async () => {
  const body = { discount: 1000, min_amount: 5000, total: 3 };
  assert.equal((await gw.http('PUT', '/v1/rooms/k1/coupons/c-1', { token: operator, body })).status, 200);
  const c = await gw.session({ sub: 'buyer-c', room: 'k1', role: 'viewer' });
  const used = await place(c, validOrder({ room_id: 'k1', sku_id: 'tea', coupon_id: 'c-1', amount: 18900 }));
  assert.equal(used.result.type, 'order.confirmed', JSON.stringify(used));

  const r = await gw.http('GET', '/v1/rooms/k1/coupons/c-1', { token: operator });
  assert.equal(r.status, 200);
  const { updated_at_ms: at, ...rest } = r.json;
  assert.deepEqual(rest, { coupon_id: 'c-1', discount: 1000, min_amount: 5000, total: 3, used: 1 });
  assert.ok(at > 0);
  assert.equal((await gw.http('GET', '/v1/rooms/k1/coupons/c-1', { token: viewer })).status, 403);
  assert.equal((await gw.http('GET', '/v1/rooms/k1/coupons/c-1', { token: otherOp })).status, 403);
  assert.equal((await gw.http('GET', '/v1/rooms/k1/coupons/c-none', { token: operator })).status, 404);

  // Refused deletes change nothing.
  assert.equal((await gw.http('DELETE', '/v1/rooms/k1/coupons/c-1', { token: otherOp })).status, 403);
  assert.equal((await gw.http('DELETE', '/v1/rooms/k1/coupons/c-1', { token: viewer })).status, 403);
  assert.equal(await redis.cli('EXISTS', 'lg:{k1}:coupon:c-1'), '1');

  const del = await gw.http('DELETE', '/v1/rooms/k1/coupons/c-1', { token: operator });
  assert.equal(del.status, 200);
  assert.deepEqual(del.json, { coupon_id: 'c-1', deleted: true });
  assert.equal(await redis.cli('EXISTS', 'lg:{k1}:coupon:c-1'), '0');
  assert.equal(await redis.cli('EXISTS', 'lg:{k1}:coupon_users:c-1'), '0');
  assert.equal((await gw.http('GET', '/v1/rooms/k1/coupons/c-1', { token: operator })).status, 404);
  const again = await gw.http('DELETE', '/v1/rooms/k1/coupons/c-1', { token: operator });
  assert.equal(again.status, 404);
  assert.equal(again.json.error.message, 'no such coupon');

  const after = await place(c, validOrder({ room_id: 'k1', sku_id: 'tea', coupon_id: 'c-1', amount: 18900 }));
  assert.equal(after.result.type, 'order.rejected');
  assert.equal(after.result.code, 'COUPON_INVALID');
  // The order that used it is kept, discount and all.
  const kept = await gw.http('GET', `/v1/orders/${used.acc.order_id}`, { token: operator });
  assert.equal(kept.status, 200);
  assert.equal(kept.json.coupon_id, 'c-1');
  assert.equal(kept.json.amount, 18900);
  c.close();
});

test('DELETE of a SKU takes it off sale and out of the listing; its orders stay, new ones are refused', async () => {
  const c = await gw.session({ sub: 'buyer-s', room: 'k1', role: 'viewer' });
  const before = await place(c, validOrder({ room_id: 'k1', sku_id: 'cake' }));
  assert.equal(before.result.type, 'order.confirmed', JSON.stringify(before));

  assert.equal((await gw.http('DELETE', '/v1/rooms/k1/skus/cake', { token: otherOp })).status, 403);
  assert.equal((await gw.http('DELETE', '/v1/rooms/k1/skus/cake', { token: viewer })).status, 403);
  assert.equal(await redis.cli('HGET', 'lg:{k1}:sku:cake', 'on_sale'), '1');
  const none = await gw.http('DELETE', '/v1/rooms/k1/skus/nothing', { token: operator });
  assert.equal(none.status, 404);
  assert.equal(none.json.error.message, 'no such product in this room');
  assert.equal(await redis.cli('EXISTS', 'lg:{k1}:sku:nothing'), '0');

  const del = await gw.http('DELETE', '/v1/rooms/k1/skus/cake', { token: operator });
  assert.equal(del.status, 200);
  assert.deepEqual(del.json, { sku_id: 'cake', on_sale: false, listed: false });
  // Viewers hear of it at once.
  const update = await c.next((m) => m.type === 'sku.update' && m.sku_id === 'cake' && m.on_sale === false);
  assert.equal(update.room_id, 'k1');
  const list = await gw.http('GET', '/v1/rooms/k1/skus', { token: viewer });
  assert.deepEqual(list.json.skus.map((s) => s.sku_id), ['tea']);

  const after = await place(c, validOrder({ room_id: 'k1', sku_id: 'cake' }));
  assert.equal(after.result.type, 'order.rejected');
  assert.equal(after.result.code, 'NOT_ON_SALE');
  const kept = await gw.http('GET', `/v1/orders/${before.acc.order_id}`, { token: operator });
  assert.equal(kept.status, 200);
  assert.equal(kept.json.sku_id, 'cake');
  assert.equal(kept.json.status, 'pending_payment');

  // A PUT brings it back.
  assert.equal((await gw.http('PUT', '/v1/rooms/k1/skus/cake', { token: operator, body: tea })).status, 200);
  const back = await gw.http('GET', '/v1/rooms/k1/skus', { token: viewer });
  assert.deepEqual(back.json.skus.map((s) => s.sku_id), ['cake', 'tea']);
  const sold = await place(c, validOrder({ room_id: 'k1', sku_id: 'cake' }));
  assert.equal(sold.result.type, 'order.confirmed');
  c.close();
});

test('every 405 carries Allow with the methods of its path', async () => {
  const cases = [
    ['POST', '/v1/rooms/k1', 'GET, PUT, DELETE'],
    ['GET', '/v1/rooms/k1/skus/tea', 'PUT, DELETE'],
    ['POST', '/v1/rooms/k1/coupons/c-1', 'GET, PUT, DELETE'],
    ['PUT', '/v1/rooms/k1/skus', 'GET'],
    ['DELETE', '/v1/orders/o-1', 'GET'],
    ['PUT', '/v1/audit', 'GET'],
    ['POST', '/healthz', 'GET'],
    ['DELETE', '/metrics', 'GET'],
    ['POST', '/', 'GET'], // a page
  ];
  for (const [method, path, allow] of cases) {
    const r = await gw.http(method, path, { token: admin });
    assert.equal(r.status, 405, `${method} ${path}`);
    assert.equal(r.headers.get('allow'), allow, `${method} ${path}`);
    assert.equal(r.json.error.code, 'METHOD_NOT_ALLOWED');
  }
  // Other answers have no Allow.
  assert.equal((await gw.http('GET', '/v1/rooms/k1', { token: admin })).headers.get('allow'), null);
});

test('token errors name the claim at fault, over HTTP and on the WebSocket', async () => {
  const secret = gw.secrets.secret;
  const past = Math.floor(Date.now() / 1000) - 10;
  const cases = [
    [{ sub: 'op', room: 'k1', role: 'operator', exp: past }, "token claim 'exp' has expired"],
    [{ sub: 'op', role: 'operator' }, "token claim 'room' is missing or not a string"],
    [{ room: 'k1', role: 'operator' }, "token claim 'sub' is missing or not a string"],
    [{ sub: 'op', room: 'k1' }, "token claim 'role' is missing or not a string"],
    [{ sub: 'op', room: 'k1', role: 'root' }, "token claim 'role' must be viewer, operator or admin"],
    [{ sub: 'op', room: '*', role: 'viewer' }, "token claim 'room' must be a room ID, or * for an operator or admin"],
    [{ sub: 'a b', room: 'k1', role: 'operator' }, "token claim 'sub' must be 1-64 characters of [A-Za-z0-9_.:-]"],
    [{ sub: 'op', room: 'k1', role: 'operator', tier: 3 }, "token claim 'tier' must be a string or null"],
  ];
  for (const [claims, message] of cases) {
    const token = mintToken(claims, secret);
    const r = await gw.http('GET', '/v1/rooms/k1', { token });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { error: { code: 'UNAUTHORIZED', message } });
    const ws = await gw.connect();
    ws.send({ type: 'auth', token });
    const err = await ws.next((m) => m.type === 'error');
    assert.equal(err.code, 'UNAUTHORIZED');
    assert.equal(err.message, message);
    ws.close();
  }
  // exp missing: mintToken always adds one, so the payload is built here.
  const r = await gw.http('GET', '/v1/rooms/k1', { token: mintToken({ sub: 'op', room: 'k1', role: 'operator', exp: 'soon' }, secret) });
  assert.equal(r.json.error.message, "token claim 'exp' is missing or not an integer");
});

test('the phone has one error message, whatever check trips first', async () => {
  const c = await gw.session({ sub: 'buyer-p', room: 'k1', role: 'viewer' });
  const messages = new Set();
  for (const phone of ['12800138000', '1380013800', '138001380000', '', '1380013800a', 13800138000, null]) {
    const o = validOrder({ room_id: 'k1', sku_id: 'tea', address: { phone } });
    c.send(o);
    const r = await c.next((m) => m.client_order_id === o.client_order_id && m.type !== 'sku.update');
    assert.equal(r.code, 'INVALID_FIELD', JSON.stringify(r));
    assert.equal(r.field, 'address.phone');
    messages.add(r.message);
  }
  assert.deepEqual([...messages], ['address.phone must be a mainland mobile number: 1, then 3-9, then 9 digits']);
  c.close();
});
