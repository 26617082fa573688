// The back office moving orders along (order.update) against real
// processes: every allowed move, every refused one changing nothing,
// NOT_FOUND / FORBIDDEN / bad fields, stock and the per-user limit given back
// on a cancel, two operators racing, the audit trail (GET /v1/audit, its
// access rules and bounds, the capped stream), the masked order view, and a
// duplicate submit reporting the moved-on status.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, waitFor,
} from './lib/system.mjs';

let redis, gw;
const isFinal = (m) => (m.type === 'order.confirmed' || m.type === 'order.rejected') && m.order_id;

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
  await setupRoom(gw, 'r1', {
    skus: {
      'sku-1': { name: '茶', price: 19900, stock: 1000, on_sale: true },
      'sku-lim': { name: '限购', price: 500, stock: 3, limit_per_user: 2, on_sale: true },
      'sku-far': { name: '远', price: 700, stock: 5, on_sale: true },
    },
  });
  await setupRoom(gw, 'r2', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
  await setupRoom(gw, 'r-cap', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
});
after(stopAll);

const viewer = (sub, room = 'r1') => ({ sub, room, role: 'viewer' });
const operator = (sub = 'op-1', room = 'r1') => ({ sub, room, role: 'operator' });
const adminToken = () => gw.token({ sub: 'admin-1', room: '*', role: 'admin' });

let reqSeq = 0;
// Sends order.update and returns the direct reply (matched by req).
async function update(c, orderId, status, extra = {}) {
  const req = `u-${++reqSeq}`;
  c.send({ type: 'order.update', order_id: orderId, status, req, ...extra });
  return c.next((m) => m.req === req);
}

async function accept(c, order) {
  c.send(order);
  const acc = await c.next((m) => m.client_order_id === order.client_order_id &&
    (m.type === 'order.accepted' || m.type === 'error' || m.code === 'INVALID_FIELD'));
  assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
  return acc;
}

// Places an order and waits for its final result (a validator must run).
async function place(c, order) {
  const acc = await accept(c, order);
  const result = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 12000);
  return { acc, result, order };
}

async function confirmed(c, over = {}) {
  const p = await place(c, validOrder(over));
  assert.equal(p.result.type, 'order.confirmed', JSON.stringify(p.result));
  return p;
}

// A hash as an object: HGETALL's field order is not stable across calls
// once Redis rehashes a large hash.
async function hash(key) {
  const lines = (await redis.cli('HGETALL', key)).split('\n');
  const out = {};
  for (let i = 0; i + 1 < lines.length; i += 2) out[lines[i]] = lines[i + 1];
  return out;
}

// Everything an order.update could touch, to show a refusal changed nothing.
async function snapshot(room, orderId, user, sku = 'sku-1') {
  return {
    order: await hash(`lg:{${room}}:order:${orderId}`),
    stock: await redis.cli('HGET', `lg:{${room}}:sku:${sku}`, 'stock'),
    live: await hash(`lg:{${room}}:live:${user}`),
    audit: await redis.cli('XLEN', `lg:{${room}}:audit`),
  };
}

const auditOf = (room, query = '', token = adminToken()) =>
  gw.http('GET', `/v1/audit?room=${room}${query}`, { token });

test('a queued order cannot move: INVALID_TRANSITION, nothing changes', async () => {
  // No validator runs yet, so the order stays queued.
  const buyer = await gw.session(viewer('b-queued'));
  const op = await gw.session(operator());
  const acc = await accept(buyer, validOrder());
  const before = await snapshot('r1', acc.order_id, 'b-queued');
  for (const status of ['paid', 'cancelled']) {
    const r = await update(op, acc.order_id, status);
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, 'INVALID_TRANSITION');
    assert.equal(r.ref, acc.order_id);
    assert.match(r.message, /queued/);
  }
  assert.deepEqual(await snapshot('r1', acc.order_id, 'b-queued'), before);
  assert.equal(before.order.status, 'queued');
  buyer.close();
  op.close();
});

test('with a validator running, orders are confirmed', async () => {
  // Started once ready to be stopped cleanly: its signal handlers are set
  // when it logs validator.started.
  const v = await startValidator({ redis });
  await waitFor(() => v.logs.join('').includes('"validator.started"'), { what: 'validator.started' });
  const buyer = await gw.session(viewer('b-first'));
  await confirmed(buyer);
  buyer.close();
});

test('each allowed move answers order.updated, records the status and its time', async () => {
  const buyer = await gw.session(viewer('b-moves'));
  const op = await gw.session(operator('op-moves'));
  const paths = [
    ['paid', 'shipped', 'delivered'],
    ['cancelled'],
    ['paid', 'cancelled'],
  ];
  for (const path of paths) {
    const { acc } = await confirmed(buyer);
    // Its id names room r1: no order-id index (rules/order_id.h).
    assert.ok(acc.order_id.endsWith('-r1'), acc.order_id);
    assert.equal(await redis.cli('EXISTS', `lg:oidx:{${acc.order_id}}`), '0');
    for (const status of path) {
      // A move starts the order's TTL again.
      await redis.cli('EXPIRE', `lg:{r1}:order:${acc.order_id}`, '100');
      const t0 = Date.now();
      const r = await update(op, acc.order_id, status);
      assert.deepEqual({ ...r }, { type: 'order.updated', order_id: acc.order_id, status, req: r.req });
      const rec = await redis.cli('HMGET', `lg:{r1}:order:${acc.order_id}`, 'status', `${status}_at_ms`, 'updated_at_ms');
      const [st, at, updated] = rec.split('\n');
      assert.equal(st, status);
      assert.equal(at, updated);
      assert.ok(Number(at) >= t0 - 1000 && Number(at) <= Date.now() + 1000, `${status}_at_ms ${at}`);
      const ttl = Number(await redis.cli('TTL', `lg:{r1}:order:${acc.order_id}`));
      assert.ok(ttl > 604000, `record TTL ${ttl} after ${status}`);
    }
  }
  buyer.close();
  op.close();
});

// A room id of 41 characters: with the 23 of "o-<ms>-<hex>" and a dash, 65,
// past an ID's 64, so its orders' ids name no room and have an index. 40 is
// the longest that fits (tests/unit/test_order_id.c has both sides).
const LONG_ROOM = `r-${'l'.repeat(39)}`;

test('an order of a room too long for its id is found through its index, which a move keeps', async () => {
  await setupRoom(gw, LONG_ROOM, { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
  const buyer = await gw.session(viewer('b-long', LONG_ROOM));
  const op = await gw.session(operator('op-long', LONG_ROOM));
  const { acc } = await confirmed(buyer, { room_id: LONG_ROOM });
  assert.match(acc.order_id, /^o-[0-9a-z]+-[0-9a-f]{12}$/);
  const index = `lg:oidx:{${acc.order_id}}`;
  assert.equal(await redis.cli('GET', index), LONG_ROOM);
  const shown = await gw.http('GET', `/v1/orders/${acc.order_id}`, { token: gw.token(operator('op-long', LONG_ROOM)) });
  assert.equal(shown.status, 200, shown.text);
  assert.equal(shown.json.order_id, acc.order_id);

  await redis.cli('EXPIRE', index, '100');
  const r = await update(op, acc.order_id, 'paid');
  assert.equal(r.type, 'order.updated', JSON.stringify(r));
  await waitFor(async () => Number(await redis.cli('TTL', index)) > 604000,
    { what: 'the id index\'s TTL after the move' });
  // Another room's operator is refused, as for an id that names its room.
  const other = await gw.session(operator('op-other', 'r2'));
  const refused = await update(other, acc.order_id, 'shipped');
  assert.equal(refused.code, 'FORBIDDEN');
  buyer.close();
  op.close();
  other.close();
});

test('an id that names another room is refused FORBIDDEN, one naming no order NOT_FOUND', async () => {
  const op = await gw.session(operator('op-named'));
  // Made up: the shape of an id naming r2, which op-named may not act on.
  const foreign = await update(op, 'o-midc1z40-637beb83479e-r2', 'paid');
  assert.equal(foreign.code, 'FORBIDDEN');
  const missing = await update(op, 'o-midc1z40-637beb83479e-r1', 'paid');
  assert.equal(missing.code, 'NOT_FOUND');
  const token = gw.token(operator('op-named'));
  assert.equal((await gw.http('GET', '/v1/orders/o-midc1z40-637beb83479e-r2', { token })).status, 403);
  assert.equal((await gw.http('GET', '/v1/orders/o-midc1z40-637beb83479e-r1', { token })).status, 404);
  op.close();
});

test('each refused move answers INVALID_TRANSITION and changes nothing', async () => {
  const buyer = await gw.session(viewer('b-refused'));
  const op = await gw.session(operator('op-refused'));
  const rejected = await place(buyer, validOrder({ sku_id: 'sku-nope' }));
  assert.equal(rejected.result.code, 'UNKNOWN_SKU');
  const pending = (await confirmed(buyer)).acc.order_id;
  const paid = (await confirmed(buyer)).acc.order_id;
  assert.equal((await update(op, paid, 'paid')).type, 'order.updated');
  const shipped = (await confirmed(buyer)).acc.order_id;
  assert.equal((await update(op, shipped, 'paid')).type, 'order.updated');
  assert.equal((await update(op, shipped, 'shipped')).type, 'order.updated');
  const delivered = (await confirmed(buyer)).acc.order_id;
  for (const s of ['paid', 'shipped', 'delivered']) assert.equal((await update(op, delivered, s)).type, 'order.updated');
  const cancelled = (await confirmed(buyer)).acc.order_id;
  assert.equal((await update(op, cancelled, 'cancelled')).type, 'order.updated');

  const refused = [
    [rejected.acc.order_id, 'rejected', 'paid'],
    [rejected.acc.order_id, 'rejected', 'cancelled'],
    [pending, 'pending_payment', 'shipped'],
    [pending, 'pending_payment', 'delivered'],
    [paid, 'paid', 'paid'],
    [paid, 'paid', 'delivered'],
    [shipped, 'shipped', 'shipped'],
    [shipped, 'shipped', 'cancelled'],
    [shipped, 'shipped', 'paid'],
    [delivered, 'delivered', 'cancelled'],
    [delivered, 'delivered', 'delivered'],
    [delivered, 'delivered', 'shipped'],
    [cancelled, 'cancelled', 'cancelled'],
    [cancelled, 'cancelled', 'paid'],
  ];
  for (const [id, from, to] of refused) {
    const before = await snapshot('r1', id, 'b-refused');
    const r = await update(op, id, to);
    assert.equal(r.type, 'error', `${from}->${to}: ${JSON.stringify(r)}`);
    assert.equal(r.code, 'INVALID_TRANSITION', `${from}->${to}`);
    assert.equal(r.ref, id);
    assert.ok(r.message.includes(from) && r.message.includes(to), r.message);
    assert.deepEqual(await snapshot('r1', id, 'b-refused'), before, `${from}->${to} changed something`);
  }
  buyer.close();
  op.close();
});

test('unknown orders are NOT_FOUND; another room\'s operator and viewers are FORBIDDEN', async () => {
  const buyer = await gw.session(viewer('b-access'));
  const { acc } = await confirmed(buyer);
  const before = await snapshot('r1', acc.order_id, 'b-access');

  const op = await gw.session(operator('op-a'));
  const nf = await update(op, 'o-does-not-exist', 'paid');
  assert.equal(nf.code, 'NOT_FOUND', JSON.stringify(nf));
  assert.equal(nf.ref, 'o-does-not-exist');

  const other = await gw.session(operator('op-r2', 'r2'));
  const fb = await update(other, acc.order_id, 'cancelled');
  assert.equal(fb.type, 'error');
  assert.equal(fb.code, 'FORBIDDEN', JSON.stringify(fb));
  const v = await gw.session(viewer('b-access'));
  const fv = await update(v, acc.order_id, 'paid');
  assert.equal(fv.code, 'FORBIDDEN', JSON.stringify(fv));
  assert.deepEqual(await snapshot('r1', acc.order_id, 'b-access'), before);

  // An operator token for every room, and an admin, may act on r1.
  const star = await gw.session({ sub: 'op-star', room: '*', role: 'operator' });
  assert.equal((await update(star, acc.order_id, 'paid')).type, 'order.updated');
  const admin = await gw.session({ sub: 'admin-1', room: '*', role: 'admin' });
  assert.equal((await update(admin, acc.order_id, 'shipped')).type, 'order.updated');
  for (const c of [buyer, op, other, v, star, admin]) c.close();
});

test('bad fields are answered INVALID_FIELD naming the field, and change nothing', async () => {
  const buyer = await gw.session(viewer('b-fields'));
  const { acc } = await confirmed(buyer);
  const before = await snapshot('r1', acc.order_id, 'b-fields');
  const op = await gw.session(operator('op-fields'));
  const cases = [
    [{ order_id: undefined }, 'order_id'],
    [{ order_id: null }, 'order_id'],
    [{ order_id: 42 }, 'order_id'],
    [{ order_id: '' }, 'order_id'],
    [{ order_id: 'o'.repeat(65) }, 'order_id'],
    [{ order_id: 'o x' }, 'order_id'],
    [{ status: undefined }, 'status'],
    [{ status: null }, 'status'],
    [{ status: 1 }, 'status'],
    [{ status: 'PAID' }, 'status'],
    [{ status: 'pending_payment' }, 'status'],
    [{ status: 'queued' }, 'status'],
    [{ status: 'rejected' }, 'status'],
    [{ order_id: 'bad id', status: 'nope' }, 'order_id'],
  ];
  for (const [i, [over, field]] of cases.entries()) {
    const frame = { type: 'order.update', order_id: acc.order_id, status: 'paid', req: `f-${i}`, ...over };
    for (const k of Object.keys(frame)) if (frame[k] === undefined) delete frame[k];
    op.send(frame);
    const r = await op.next((m) => m.req === `f-${i}`);
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, 'INVALID_FIELD', JSON.stringify(over));
    assert.equal(r.field, field, JSON.stringify(over));
    assert.ok(r.message.length > 0);
  }
  // The order id is echoed as ref only when it is an ID.
  op.send({ type: 'order.update', order_id: acc.order_id, status: 'gone', req: 'f-ref' });
  assert.equal((await op.next((m) => m.req === 'f-ref')).ref, acc.order_id);
  op.send({ type: 'order.update', order_id: 'x y', status: 'paid', req: 'f-noref' });
  assert.equal((await op.next((m) => m.req === 'f-noref')).ref, undefined);
  assert.deepEqual(await snapshot('r1', acc.order_id, 'b-fields'), before);
  // The boundaries that pass: a 64-character id reaches the lookup.
  assert.equal((await update(op, 'o'.repeat(64), 'paid')).code, 'NOT_FOUND');
  buyer.close();
  op.close();
});

async function stockLeft(room, sku) {
  const r = await gw.http('GET', `/v1/rooms/${room}/skus`, { token: adminToken() });
  assert.equal(r.status, 200);
  return r.json.skus.find((s) => s.sku_id === sku).stock_left;
}

test('cancelling gives the stock back and frees the per-user limit', async () => {
  const buyer = await gw.session(viewer('b-limit'));
  const op = await gw.session(operator('op-limit'));
  const lim = { sku_id: 'sku-lim', unit_price: 500 };
  assert.equal(await stockLeft('r1', 'sku-lim'), 3);
  const first = await confirmed(buyer, { ...lim, qty: 2, amount: 1000 });
  assert.equal(await stockLeft('r1', 'sku-lim'), 1);
  assert.equal(await redis.cli('HGET', 'lg:{r1}:live:b-limit', 'sku-lim'), '2');
  // At the limit: one more is refused.
  const over = await place(buyer, validOrder({ ...lim, qty: 1, amount: 500 }));
  assert.equal(over.result.code, 'LIMIT_EXCEEDED');

  assert.equal((await update(op, first.acc.order_id, 'cancelled')).type, 'order.updated');
  assert.equal(await stockLeft('r1', 'sku-lim'), 3);
  assert.equal(await redis.cli('HEXISTS', 'lg:{r1}:live:b-limit', 'sku-lim'), '0');

  // The same user may buy up to the limit again, and not past it.
  const again = await confirmed(buyer, { ...lim, qty: 1, amount: 500 });
  assert.equal((await update(op, again.acc.order_id, 'paid')).type, 'order.updated');
  await confirmed(buyer, { ...lim, qty: 1, amount: 500 });
  assert.equal(await stockLeft('r1', 'sku-lim'), 1);
  const past = await place(buyer, validOrder({ ...lim, qty: 1, amount: 500 }));
  assert.equal(past.result.code, 'LIMIT_EXCEEDED');

  // A paid order cancelled gives its stock and quantity back too.
  assert.equal((await update(op, again.acc.order_id, 'cancelled')).type, 'order.updated');
  assert.equal(await stockLeft('r1', 'sku-lim'), 2);
  assert.equal(await redis.cli('HGET', 'lg:{r1}:live:b-limit', 'sku-lim'), '1');
  await confirmed(buyer, { ...lim, qty: 1, amount: 500 });
  assert.equal(await stockLeft('r1', 'sku-lim'), 1);
  buyer.close();
  op.close();
});

test('two operators cancelling at once: one wins, the stock comes back once', async () => {
  const buyer = await gw.session(viewer('b-race'));
  const { acc } = await confirmed(buyer, { qty: 3, amount: 3 * 19900 });
  const stock = Number(await redis.cli('HGET', 'lg:{r1}:sku:sku-1', 'stock'));
  const a = await gw.session(operator('op-race-a'));
  const b = await gw.session(operator('op-race-b'));
  const [ra, rb] = await Promise.all([update(a, acc.order_id, 'cancelled'), update(b, acc.order_id, 'cancelled')]);
  const types = [ra, rb].map((r) => r.type === 'error' ? r.code : r.type).sort();
  assert.deepEqual(types, ['INVALID_TRANSITION', 'order.updated']);
  assert.equal(Number(await redis.cli('HGET', 'lg:{r1}:sku:sku-1', 'stock')), stock + 3);
  const entries = (await auditOf('r1', '&limit=1000')).json.entries.filter((e) => e.order_id === acc.order_id);
  assert.equal(entries.length, 1);
  for (const c of [buyer, a, b]) c.close();
});

test('the audit trail records who, when, from and to, newest first', async () => {
  await setupRoom(gw, 'r-audit', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 100, on_sale: true } } });
  const buyer = await gw.session(viewer('b-audit', 'r-audit'));
  const op = await gw.session(operator('op-audit', 'r-audit'));
  const admin = await gw.session({ sub: 'admin-audit', room: '*', role: 'admin' });
  const order = (over) => validOrder({ room_id: 'r-audit', ...over });
  const a1 = (await place(buyer, order())).acc.order_id;
  const a2 = (await place(buyer, order())).acc.order_id;
  const done = [];
  const move = async (c, id, to, actor, role, from) => {
    const t0 = Date.now();
    assert.equal((await update(c, id, to)).type, 'order.updated');
    done.push({ actor, role, order_id: id, from, to, t0, t1: Date.now() });
  };
  await move(op, a1, 'paid', 'op-audit', 'operator', 'pending_payment');
  await move(admin, a2, 'cancelled', 'admin-audit', 'admin', 'pending_payment');
  await move(op, a1, 'shipped', 'op-audit', 'operator', 'paid');
  await move(admin, a1, 'delivered', 'admin-audit', 'admin', 'shipped');
  // A refused move leaves no entry.
  assert.equal((await update(op, a1, 'cancelled')).code, 'INVALID_TRANSITION');

  const r = await auditOf('r-audit');
  assert.equal(r.status, 200, r.text);
  const entries = r.json.entries;
  assert.equal(entries.length, done.length);
  const expected = [...done].reverse();
  for (const [i, e] of entries.entries()) {
    const want = expected[i];
    assert.deepEqual(Object.keys(e).sort(), ['actor', 'at_ms', 'from', 'order_id', 'role', 'to']);
    assert.deepEqual({ actor: e.actor, role: e.role, order_id: e.order_id, from: e.from, to: e.to },
      { actor: want.actor, role: want.role, order_id: want.order_id, from: want.from, to: want.to });
    assert.ok(Number.isInteger(e.at_ms) && e.at_ms >= want.t0 - 1000 && e.at_ms <= want.t1 + 1000, `at_ms ${e.at_ms}`);
    if (i > 0) assert.ok(e.at_ms <= entries[i - 1].at_ms, 'newest first');
  }
  assert.ok(entries.every((e) => e.order_id === a1 || e.order_id === a2));
  // limit takes the newest.
  const one = await auditOf('r-audit', '&limit=1');
  assert.deepEqual(one.json.entries, [entries[0]]);
  const none = await auditOf('r-nothing-here');
  assert.equal(none.status, 200);
  assert.deepEqual(none.json, { entries: [] });
  for (const c of [buyer, op, admin]) c.close();
});

test('GET /v1/audit: admins only, room required, limit 1..1000 with a default of 100', async () => {
  // 1005 entries written straight into the stream, to test the reader's bounds.
  await redis.cli('EVAL', `for i = 1, 1005 do redis.call('XADD', KEYS[1], '*', 'at_ms', tostring(i),
    'actor', 'seed', 'role', 'admin', 'order_id', 'o-' .. i, 'from', 'paid', 'to', 'shipped') end return 1`,
  '1', 'lg:{r-seeded}:audit');
  const noToken = await gw.http('GET', '/v1/audit?room=r-seeded');
  assert.equal(noToken.status, 401);
  assert.equal(noToken.json.error.code, 'UNAUTHORIZED');
  for (const claims of [operator('op-s', 'r-seeded'), operator('op-s', '*'), viewer('v-s', 'r-seeded')]) {
    const r = await auditOf('r-seeded', '', gw.token(claims));
    assert.equal(r.status, 403, JSON.stringify(claims));
    assert.equal(r.json.error.code, 'FORBIDDEN');
  }
  const bad = [
    ['/v1/audit', 'room'],
    ['/v1/audit?limit=5', 'room'],
    ['/v1/audit?room=', 'room'],
    ['/v1/audit?room', 'room'],
    ['/v1/audit?room=*', 'room'],
    ['/v1/audit?room=a%20b', 'room'],
    [`/v1/audit?room=${'r'.repeat(65)}`, 'room'],
    ['/v1/audit?room=r-seeded&limit=0', 'limit'],
    ['/v1/audit?room=r-seeded&limit=1001', 'limit'],
    ['/v1/audit?room=r-seeded&limit=-1', 'limit'],
    ['/v1/audit?room=r-seeded&limit=abc', 'limit'],
    ['/v1/audit?room=r-seeded&limit=10x', 'limit'],
    ['/v1/audit?room=r-seeded&limit=', 'limit'],
  ];
  for (const [p, field] of bad) {
    const r = await gw.http('GET', p, { token: adminToken() });
    assert.equal(r.status, 400, p);
    assert.equal(r.json.error.code, 'INVALID_FIELD', p);
    assert.equal(r.json.error.field, field, p);
  }
  const badQueries = [
    `/v1/audit?room=r-seeded&x=${'y'.repeat(129)}`,
    `/v1/audit?room=r-seeded&${'n'.repeat(33)}=1`,
    `/v1/audit?room=r-seeded${'&a=1'.repeat(8)}`,
  ];
  for (const p of badQueries) {
    const r = await gw.http('GET', p, { token: adminToken() });
    assert.equal(r.status, 400, p);
    assert.equal(r.json.error.field, 'query', p);
  }
  // Just inside those bounds the query is read.
  const okQueries = [
    `/v1/audit?room=r-seeded&x=${'y'.repeat(128)}`,
    `/v1/audit?room=r-seeded&${'n'.repeat(32)}=1`,
    `/v1/audit?room=r-seeded${'&a=1'.repeat(7)}`,
  ];
  for (const p of okQueries) assert.equal((await gw.http('GET', p, { token: adminToken() })).status, 200, p);

  const byDefault = await auditOf('r-seeded');
  assert.equal(byDefault.json.entries.length, 100);
  assert.equal(byDefault.json.entries[0].order_id, 'o-1005');
  assert.equal(byDefault.json.entries[99].order_id, 'o-906');
  assert.equal((await auditOf('r-seeded', '&limit=1000')).json.entries.length, 1000);
  assert.equal((await auditOf('r-seeded', '&limit=999')).json.entries.length, 999);
  const all = await auditOf('r-seeded', '&limit=1000');
  assert.equal(all.json.entries.at(-1).order_id, 'o-6');
  // Other methods on the path are 405.
  assert.equal((await gw.http('PUT', '/v1/audit?room=r-seeded', { token: adminToken(), body: {} })).status, 405);
});

test('the audit stream keeps the newest 10,000 entries of a room', async () => {
  await redis.cli('EVAL', `for i = 1, 10000 do redis.call('XADD', KEYS[1], '*', 'at_ms', '1',
    'actor', 'seed', 'role', 'admin', 'order_id', 'o-seed-' .. i, 'from', 'paid', 'to', 'shipped') end return 1`,
  '1', 'lg:{r-cap}:audit');
  assert.equal(await redis.cli('XLEN', 'lg:{r-cap}:audit'), '10000');
  const buyer = await gw.session(viewer('b-cap', 'r-cap'));
  const op = await gw.session(operator('op-cap', 'r-cap'));
  const { acc } = await confirmed(buyer, { room_id: 'r-cap' });
  assert.equal((await update(op, acc.order_id, 'paid')).type, 'order.updated');
  assert.equal(await redis.cli('XLEN', 'lg:{r-cap}:audit'), '10000');
  const newest = (await auditOf('r-cap', '&limit=1')).json.entries[0];
  assert.equal(newest.order_id, acc.order_id);
  const oldest = (await redis.cli('XRANGE', 'lg:{r-cap}:audit', '-', '+', 'COUNT', '1')).split('\n');
  assert.equal(oldest[oldest.indexOf('order_id') + 1], 'o-seed-2');
  buyer.close();
  op.close();
});

test('GET /v1/orders/{id} shows the new status and times, personal data masked', async () => {
  const buyer = await gw.session(viewer('b-view'));
  const op = await gw.session(operator('op-view'));
  const { acc } = await confirmed(buyer, { address: { name: '欧阳娜娜', phone: '13912345678', detail: '西溪路 88 号 3 幢' } });
  assert.equal((await update(op, acc.order_id, 'paid')).type, 'order.updated');
  assert.equal((await update(op, acc.order_id, 'shipped')).type, 'order.updated');
  const r = await gw.http('GET', `/v1/orders/${acc.order_id}`, { token: gw.token(operator('op-view')) });
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'shipped');
  assert.ok(Number.isInteger(r.json.paid_at_ms) && Number.isInteger(r.json.shipped_at_ms));
  assert.ok(r.json.shipped_at_ms >= r.json.paid_at_ms);
  assert.equal(r.json.updated_at_ms, r.json.shipped_at_ms);
  assert.equal(r.json.buyer, '欧***');
  assert.equal(r.json.phone, '139****5678');
  for (const secret of ['欧阳娜娜', '阳娜', '13912345678', '西溪路', '88 号']) {
    assert.ok(!r.text.includes(secret), `GET /v1/orders leaks ${secret}`);
  }
  assert.equal(r.json.pii, undefined);
  // The region is shown from the sealed document; the record has no clear copy.
  assert.equal(r.json.province, '浙江省');
  assert.equal(r.json.city, '杭州市');
  const record = await hash(`lg:{r1}:order:${acc.order_id}`);
  assert.equal(record.province, undefined);
  assert.equal(record.city, undefined);
  assert.ok(!JSON.stringify(record).includes('杭州'));
  buyer.close();
  op.close();
});

test('a duplicate submit after a move reports the order.status it moved on to', async () => {
  const buyer = await gw.session(viewer('b-dup'));
  const op = await gw.session(operator('op-dup'));
  const { acc, order } = await confirmed(buyer);
  for (const status of ['paid', 'shipped']) {
    assert.equal((await update(op, acc.order_id, status)).type, 'order.updated');
    const at = Number(await redis.cli('HGET', `lg:{r1}:order:${acc.order_id}`, `${status}_at_ms`));
    const again = await gw.session(viewer('b-dup'));
    again.send({ ...order, req: `dup-${status}` });
    const dup = await again.next((m) => m.type === 'order.accepted' && m.req === `dup-${status}`);
    assert.equal(dup.duplicate, true);
    assert.equal(dup.order_id, acc.order_id);
    const res = await again.next((m) => m.type === 'order.confirmed');
    assert.equal(res.order_id, acc.order_id);
    const st = await again.next((m) => m.type === 'order.status');
    assert.deepEqual({ order_id: st.order_id, client_order_id: st.client_order_id, status: st.status, at_ms: st.at_ms },
      { order_id: acc.order_id, client_order_id: order.client_order_id, status, at_ms: at });
    again.close();
  }
  // order.query shows the moved-on status too.
  buyer.send({ type: 'order.query', client_order_ids: [order.client_order_id], req: 'q-dup' });
  const state = await buyer.next((m) => m.req === 'q-dup');
  assert.equal(state.status, 'shipped');
  buyer.close();
  op.close();
});

async function numsub(channel) {
  return Number((await redis.cli('PUBSUB', 'NUMSUB', channel)).split('\n')[1]);
}

test('the buyer hears order.status on another gateway; a cancel brings sku.update there', async () => {
  const gwB = await startGateway({ redis, secrets: gw.secrets });
  await waitFor(async () => (await numsub('lg:ev:status')) >= 2 && (await numsub('lg:ev:sku')) >= 2,
    { what: 'both gateways subscribed' });
  const roomViewer = await gwB.session(viewer('v-watching'));
  const placing = await gw.session(viewer('b-far'));
  const { acc, order } = await confirmed(placing, { sku_id: 'sku-far', unit_price: 700, amount: 700 * 2, qty: 2 });
  placing.close();
  // The confirmation's own announcement has gone out, so the validator has
  // nothing left to announce: a later stock_left of 5 can only come from the cancel.
  const isFar = (stock) => (m) => m.type === 'sku.update' && m.sku_id === 'sku-far' && m.stock_left === stock;
  await roomViewer.next(isFar(3), 8000);

  const onB = await gwB.session(viewer('b-far'));
  const alsoOnA = await gw.session(viewer('b-far'));
  const stranger = await gwB.session(viewer('b-stranger'));
  const op = await gw.session(operator('op-far'));
  const isStatus = (status) => (m) => m.type === 'order.status' && m.status === status;

  for (const status of ['paid', 'cancelled']) {
    assert.equal((await update(op, acc.order_id, status)).type, 'order.updated');
    const at = Number(await redis.cli('HGET', `lg:{r1}:order:${acc.order_id}`, `${status}_at_ms`));
    for (const c of [onB, alsoOnA]) {
      const m = await c.next(isStatus(status));
      assert.deepEqual(m, { type: 'order.status', order_id: acc.order_id, client_order_id: order.client_order_id, status, at_ms: at });
    }
  }
  // The stock given back reaches the room's viewers on the other gateway.
  const upd = await roomViewer.next(isFar(5), 8000);
  assert.deepEqual(upd, { type: 'sku.update', room_id: 'r1', sku_id: 'sku-far', stock_left: 5, on_sale: true, price: 700 });
  // Nobody else hears of the order.
  assert.ok(await stranger.none((m) => m.type === 'order.status', 300));
  assert.ok(!op.messages.some((m) => m.type === 'order.status'));
  for (const c of [onB, alsoOnA, stranger, roomViewer, op]) c.close();
  await gwB.stop();
});

test('order.update while Redis is away answers UNAVAILABLE', async () => {
  const op = await gw.session(operator('op-down'));
  await redis.stop();
  try {
    await waitFor(async () => (await gw.http('GET', '/healthz')).status === 503, { what: 'healthz 503' });
    const r = await update(op, 'o-whatever', 'paid');
    assert.equal(r.code, 'UNAVAILABLE', JSON.stringify(r));
  } finally {
    await redis.start();
    await waitFor(async () => (await gw.http('GET', '/healthz')).status === 200, { what: 'healthz 200', timeoutMs: 15000 });
  }
  op.close();
});
