// DELETE /v1/rooms/{room} against the real gateway, validator and Redis:
// the rule (closed, nothing undecided, unpaid orders only with
// ?unpaid=cancel), who may, bad requests that change nothing, what goes and
// what stays (order records and idempotency keys), a deletion another
// request holds or one that died half-way, and a room put again under the
// same id that starts afresh and is served by the running validator (its
// streams were deleted under it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, waitFor, placeOrder,
} from './lib/system.mjs';

let redis, gw, validator, admin;
const tea = { name: '茶', price: 19900, stock: 10, on_sale: true, limit_per_user: 1 };

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
  validator = await startValidator({ redis });
  admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
});
after(stopAll);

const op = (room) => gw.token({ sub: 'op', room, role: 'operator' });
const del = (room, { token = op(room), query = '' } = {}) =>
  gw.http('DELETE', `/v1/rooms/${room}${query}`, { token });
const close = (room) => gw.http('PUT', `/v1/rooms/${room}`, {
  token: admin, body: { status: 'closed', high_value_threshold: 100000, payment_methods: ['alipay'] },
});

const place = placeOrder;

// Every key of the room, sorted.
async function keysOf(room) {
  const out = await redis.cli('--scan', '--pattern', `lg:{${room}}:*`);
  return out ? out.split('\n').sort() : [];
}

async function roomWithOrder(room, user) {
  await setupRoom(gw, room, { methods: ['alipay'], skus: { tea },
    coupons: { c5: { discount: 500, total: 10 } } });
  const c = await gw.session({ sub: user, room, role: 'viewer' });
  const placed = await place(c, validOrder({ room_id: room, sku_id: 'tea', coupon_id: 'c5', amount: 19400 }));
  assert.equal(placed.result.type, 'order.confirmed', JSON.stringify(placed));
  return { c, id: placed.acc.order_id };
}

test('who may delete, and requests that are refused change nothing', async () => {
  await setupRoom(gw, 'd1', { methods: ['alipay'], skus: { tea } });
  // The validator makes the room's consumer groups, and with them its two
  // streams, when it first lists the room (validator/rooms.c): wait for
  // them, or they can appear between the two looks at the keys below.
  await waitFor(async () => (await redis.cli('EXISTS', 'lg:{d1}:q:high', 'lg:{d1}:q:normal')) === '2',
    { what: "the validator's groups of d1" });
  const before = await keysOf('d1');
  const viewer = gw.token({ sub: 'u', room: 'd1', role: 'viewer' });
  assert.equal((await del('d1', { token: viewer })).status, 403);
  assert.equal((await del('d1', { token: op('d2') })).status, 403);
  assert.equal((await gw.http('DELETE', '/v1/rooms/d1')).status, 401);
  const live = await del('d1', { token: admin });
  assert.equal(live.status, 409);
  assert.deepEqual(live.json, { error: { code: 'CONFLICT',
    message: 'the room is live; PUT it with status closed before deleting it' } });
  const badValue = await del('d1', { query: '?unpaid=yes' });
  assert.equal(badValue.status, 400);
  assert.deepEqual(badValue.json.error, { code: 'INVALID_FIELD', message: 'must be cancel', field: 'unpaid' });
  const badArg = await del('d1', { query: '?force=1' });
  assert.equal(badArg.status, 400);
  assert.equal(badArg.json.error.field, 'query');
  const none = await del('nowhere', { token: admin });
  assert.equal(none.status, 404);
  assert.deepEqual(none.json, { error: { code: 'NOT_FOUND', message: 'no such room' } });
  assert.deepEqual(await keysOf('nowhere'), []);
  assert.deepEqual(await keysOf('d1'), before);
  assert.equal((await gw.http('GET', '/v1/rooms/d1', { token: admin })).json.status, 'live');
  // Listed in every 405 of the path.
  const notAllowed = await gw.http('POST', '/v1/rooms/d1', { token: admin });
  assert.equal(notAllowed.status, 405);
  assert.equal(notAllowed.headers.get('allow'), 'GET, PUT, DELETE');
});

test('unpaid orders block the delete until ?unpaid=cancel cancels them; the orders stay readable, the rest goes', async () => {
  const { c, id } = await roomWithOrder('d3', 'b-3');
  // A second buyer pays: the per-user quantity this holds stays with the
  // room until the room goes.
  const { c: payer, id: paidId } = await roomWithOrder('d3', 'b-3p');
  const operator = await gw.session({ sub: 'op', room: 'd3', role: 'operator' });
  operator.send({ type: 'order.update', req: 'p-1', order_id: paidId, status: 'paid' });
  assert.equal((await operator.next((m) => m.req === 'p-1')).type, 'order.updated');
  operator.close();
  assert.equal(await redis.cli('HGET', 'lg:{d3}:live:b-3p', 'tea'), '1');

  assert.equal((await close('d3')).status, 200);
  const blocked = await del('d3');
  assert.equal(blocked.status, 409);
  assert.equal(blocked.json.error.message, '1 orders wait for payment; DELETE with ?unpaid=cancel cancels them');
  assert.equal((await gw.http('GET', '/v1/rooms/d3', { token: admin })).json.status, 'closed');
  assert.equal(await redis.cli('HGET', `lg:{d3}:order:${id}`, 'status'), 'pending_payment');

  const ok = await del('d3', { query: '?unpaid=cancel' });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { room_id: 'd3', deleted: true, unpaid_cancelled: 1 });
  const told = await c.next((m) => m.type === 'order.status' && m.order_id === id);
  assert.equal(told.status, 'cancelled');

  // What stays: the order records (readable by id) and the idempotency keys.
  const left = await keysOf('d3');
  assert.equal(left.length, 4, left.join(' '));
  assert.equal(left.filter((k) => k.startsWith('lg:{d3}:order:')).length, 2, left.join(' '));
  assert.equal(left.filter((k) => k.startsWith('lg:{d3}:idem:')).length, 2, left.join(' '));
  const cancelled = await gw.http('GET', `/v1/orders/${id}`, { token: admin });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.json.status, 'cancelled');
  assert.equal(await redis.cli('HGET', `lg:{d3}:order:${id}`, 'cancel_reason'), 'room_deleted');
  assert.equal((await gw.http('GET', `/v1/orders/${paidId}`, { token: admin })).json.status, 'paid');
  assert.equal(await redis.cli('SISMEMBER', 'lg:rooms', 'd3'), '0');
  assert.equal(await redis.cli('ZSCORE', 'lg:rooms:active', 'd3'), '');
  assert.equal((await gw.http('GET', '/v1/rooms/d3', { token: admin })).status, 404);
  assert.deepEqual((await gw.http('GET', '/v1/rooms/d3/skus', { token: admin })).json, { skus: [] });
  assert.equal((await gw.http('GET', '/v1/rooms/d3/coupons/c5', { token: admin })).status, 404);
  assert.equal((await del('d3')).status, 404, 'a second delete finds nothing');

  // Put again under the same id, the room starts afresh: the payer's
  // per-user quantity (limit 1) went with it, and the validator, whose
  // streams were deleted under it, serves the new ones.
  await setupRoom(gw, 'd3', { methods: ['alipay'], skus: { tea } });
  const again = await place(payer, validOrder({ room_id: 'd3', sku_id: 'tea' }));
  assert.equal(again.result?.type, 'order.confirmed', JSON.stringify(again));
  c.close();
  payer.close();
});

test('an order not decided yet blocks the delete, which goes through once it is', async () => {
  await setupRoom(gw, 'd4', { methods: ['alipay'], skus: { tea } });
  await close('d4');
  const c = await gw.session({ sub: 'b-4', room: 'd4', role: 'viewer' });
  validator.proc.child.kill('SIGSTOP');
  try {
    const order = validOrder({ room_id: 'd4', sku_id: 'tea' });
    c.send(order);
    const acc = await c.next((m) => m.client_order_id === order.client_order_id);
    assert.equal(acc.type, 'order.accepted');
    const blocked = await del('d4');
    assert.equal(blocked.status, 409);
    assert.equal(blocked.json.error.message, '1 orders are not decided yet; DELETE again in a few seconds');
    assert.equal(await redis.cli('HGET', 'lg:{d4}:room', 'status'), 'closed');
  } finally {
    validator.proc.child.kill('SIGCONT');
  }
  const rejected = await c.next((m) => m.type === 'order.rejected', 12000);
  assert.equal(rejected.code, 'ROOM_CLOSED');
  let res;
  await waitFor(async () => (res = await del('d4')).status === 200, { what: 'the delete once decided' });
  assert.deepEqual(res.json, { room_id: 'd4', deleted: true, unpaid_cancelled: 0 });
  c.close();
});

test('a delete another request holds is refused; one that died half-way is resumed', async () => {
  await setupRoom(gw, 'd5', { methods: ['alipay'], skus: { tea } });
  await close('d5');
  await redis.cli('SET', 'lg:{d5}:deleting', 'other-gw/1', 'PX', '30000');
  const held = await del('d5');
  assert.equal(held.status, 409);
  assert.equal(held.json.error.message, 'the room is being deleted by another request');
  assert.equal(await redis.cli('HGET', 'lg:{d5}:room', 'status'), 'closed');
  // The other deletion died after its first step: the room says
  // "deleting" and the marker lapses.
  await redis.cli('HSET', 'lg:{d5}:room', 'status', 'deleting');
  await redis.cli('DEL', 'lg:{d5}:deleting');
  const resumed = await del('d5');
  assert.equal(resumed.status, 200);
  assert.deepEqual(await keysOf('d5'), []);
});
