// Payment timeouts against real processes (redis-server, a gateway,
// validators with a short LIVEGATE_PAY_WINDOW_MS): an order left
// pending_payment is cancelled within a second after its pay_deadline_ms,
// with its stock and the buyer's per-user limit given back, an audit entry
// by "system", order.status cancelled on the buyer's WebSocket, a sku.update,
// and the count in monitor.stats and /metrics; an order paid in time stays
// paid and leaves the due index; a payment at the deadline is settled one
// way (the deadline decides: refused from pay_deadline_ms on, and the order
// cancelled); two validators draining at once cancel each order once; a
// timeout that fell due while the validator was down is applied when it is
// back; and pay_timeout.lua's bad calls and its batch bound.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { luaSource } from '../../scripts/lib/lua-source.mjs';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, waitFor, sleep,
} from './lib/system.mjs';
import { readRecord } from './lib/record.mjs';

const script = luaSource('pay_timeout.lua');

const PAY_WINDOW_MS = 2000;
const VALIDATOR_ENV = { LIVEGATE_PAY_WINDOW_MS: String(PAY_WINDOW_MS) };

let redis, gw, validator;

async function startReadyValidator() {
  const v = await startValidator({ redis, env: VALIDATOR_ENV });
  // Its signal handlers are set when it logs validator.started.
  await waitFor(() => v.logs.join('').includes('"validator.started"'), { what: 'validator.started' });
  return v;
}

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
  validator = await startReadyValidator();
});
after(stopAll);

const viewer = (sub, room) => ({ sub, room, role: 'viewer' });
const operator = (sub, room) => ({ sub, room, role: 'operator' });

async function room(name, stock = 10, limit) {
  const sku = { name: '茶', price: 500, stock, on_sale: true };
  if (limit) sku.limit_per_user = limit;
  await setupRoom(gw, name, { skus: { 'sku-1': sku } });
}

const order = (room, over = {}) => validOrder({ room_id: room, unit_price: 500, amount: 500, ...over });

// Places an order and waits for its final result.
async function place(c, o) {
  c.send(o);
  const acc = await c.next((m) => m.client_order_id === o.client_order_id &&
    (m.type === 'order.accepted' || m.type === 'error'), 10000);
  assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
  const fin = await c.next((m) => m.order_id === acc.order_id &&
    (m.type === 'order.confirmed' || m.type === 'order.rejected'), 12000);
  return fin;
}

async function confirmed(c, o) {
  const fin = await place(c, o);
  assert.equal(fin.type, 'order.confirmed', JSON.stringify(fin));
  return fin.order_id;
}

const record = (r, id) => readRecord(redis, `lg:{${r}}:order:${id}`);
const stock = async (r) => Number(await redis.cli('HGET', `lg:{${r}}:sku:sku-1`, 'stock'));
const held = async (r, user) => await redis.cli('HGET', `lg:{${r}}:live:${user}`, 'sku-1');
const dueScore = (r, id) => redis.cli('ZSCORE', `lg:{${r}}:paydue`, id);

// The room's audit entries of one order, oldest first, as field objects.
async function auditOf(r, id) {
  const raw = await redis.cli('XRANGE', `lg:{${r}}:audit`, '-', '+');
  const lines = raw === '' ? [] : raw.split('\n');
  // --raw XRANGE prints id, then field, value, ... per entry; entries start
  // with a stream id (digits-digits).
  const entries = [];
  for (const l of lines) {
    if (/^\d+-\d+$/.test(l)) entries.push([]);
    else entries.at(-1).push(l);
  }
  return entries.map((f) => Object.fromEntries(f.flatMap((_, i) => (i % 2 ? [] : [[f[i], f[i + 1]]]))))
    .filter((e) => e.order_id === id);
}

let reqSeq = 0;
async function update(c, orderId, status) {
  const req = `u-${++reqSeq}`;
  c.send({ type: 'order.update', order_id: orderId, status, req });
  return c.next((m) => m.req === req);
}

test('an unpaid order is cancelled within 1 s after its deadline: stock, limit, audit, buyer told, sku.update, counted', async () => {
  await room('pt1', 10, 1);
  const buyer = await gw.session(viewer('b-1', 'pt1'));
  const op = await gw.session(operator('op-1', 'pt1'));
  const id = await confirmed(buyer, order('pt1'));
  const rec = await record('pt1', id);
  assert.equal(rec.status, 'pending_payment');
  const deadline = Number(rec.pay_deadline_ms);
  assert.equal(deadline, Number(rec.confirmed_at_ms) + PAY_WINDOW_MS);
  assert.equal(Number(await dueScore('pt1', id)), deadline, 'in the due index under its deadline');
  assert.equal(await stock('pt1'), 9);
  assert.equal(await held('pt1', 'b-1'), '1');
  // The limit (1 per buyer) is held while the order is unpaid.
  const refused = await place(buyer, order('pt1'));
  assert.equal(refused.type, 'order.rejected');
  assert.equal(refused.code, 'LIMIT_EXCEEDED');

  const status = await buyer.next((m) => m.type === 'order.status' && m.order_id === id, deadline - Date.now() + 5000);
  const toldAt = Date.now();
  assert.equal(status.status, 'cancelled');
  assert.ok(toldAt >= deadline, `told ${deadline - toldAt} ms before the deadline`);
  assert.ok(toldAt - deadline <= 1000, `told ${toldAt - deadline} ms after the deadline`);
  const after = await record('pt1', id);
  assert.equal(after.status, 'cancelled');
  assert.equal(after.cancel_reason, 'pay_timeout');
  const at = Number(after.cancelled_at_ms);
  assert.ok(at >= deadline && at - deadline <= 1000, `cancelled ${at - deadline} ms after the deadline`);
  assert.equal(status.at_ms, at);
  assert.equal(await stock('pt1'), 10, 'stock given back');
  assert.equal(await held('pt1', 'b-1'), '', 'per-user quantity given back');
  assert.equal(await dueScore('pt1', id), '', 'off the due index');
  const audit = await auditOf('pt1', id);
  assert.equal(audit.length, 1, JSON.stringify(audit));
  assert.deepEqual({ ...audit[0], at_ms: undefined },
    { at_ms: undefined, actor: 'system', role: 'system', order_id: id, from: 'pending_payment', to: 'cancelled', reason: 'pay_timeout' });
  assert.equal(Number(audit[0].at_ms), at);
  // GET /v1/audit shows the non-person actor too.
  const admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
  const api = await gw.http('GET', '/v1/audit?room=pt1', { token: admin });
  assert.equal(api.status, 200);
  const mine = api.json.entries.filter((e) => e.order_id === id);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].actor, 'system');
  assert.equal(mine[0].role, 'system');
  // Viewers hear the stock coming back.
  const upd = await buyer.next((m) => m.type === 'sku.update' && m.sku_id === 'sku-1' && m.stock_left === 10, 5000);
  assert.equal(upd.room_id, 'pt1');
  // The limit is free again.
  await confirmed(buyer, order('pt1'));

  // Counted: monitor.stats (room statistics) and /metrics.
  op.send({ type: 'monitor.subscribe', room_id: 'pt1', req: 'm-1' });
  const stats = await op.next((m) => m.type === 'monitor.stats' && m.orders.pay_timeouts === 1, 5000);
  assert.equal(stats.room_id, 'pt1');
  await waitFor(async () => (await gw.metric('livegate_pay_timeouts_total')) >= 1, { what: '/metrics livegate_pay_timeouts_total' });
  assert.equal(Number(await redis.cli('HGET', 'lg:{pt1}:stats', 'pay_timeouts')), 1);
  buyer.close();
  op.close();
});

test('an order paid in time stays paid and leaves the due index', async () => {
  await room('pt2', 10);
  const buyer = await gw.session(viewer('b-2', 'pt2'));
  const op = await gw.session(operator('op-2', 'pt2'));
  const id = await confirmed(buyer, order('pt2'));
  const deadline = Number((await record('pt2', id)).pay_deadline_ms);
  assert.ok(Date.now() < deadline - 500, 'paid well before the deadline');
  const r = await update(op, id, 'paid');
  assert.equal(r.type, 'order.updated', JSON.stringify(r));
  assert.equal(await dueScore('pt2', id), '', 'paid: off the due index');
  // Well past the deadline and a drain or more later: untouched.
  await sleep(deadline - Date.now() + 1500);
  const rec = await record('pt2', id);
  assert.equal(rec.status, 'paid');
  assert.equal(rec.cancelled_at_ms, undefined);
  assert.equal(await stock('pt2'), 9);
  assert.equal(await held('pt2', 'b-2'), '1');
  assert.ok(!buyer.messages.some((m) => m.type === 'order.status' && m.status === 'cancelled'));
  assert.deepEqual((await auditOf('pt2', id)).map((e) => [e.actor, e.to]), [['op-2', 'paid']]);
  assert.equal(await redis.cli('HGET', 'lg:{pt2}:stats', 'pay_timeouts'), '');
  // An operator's cancel of a pending order takes it off the index too.
  const id2 = await confirmed(buyer, order('pt2'));
  assert.notEqual(await dueScore('pt2', id2), '');
  assert.equal((await update(op, id2, 'cancelled')).type, 'order.updated');
  assert.equal(await dueScore('pt2', id2), '');
  buyer.close();
  op.close();
});

test('paid at the deadline: refused from pay_deadline_ms on, and the order is cancelled (one way)', async () => {
  await room('pt3', 100);
  const buyer = await gw.session(viewer('b-3', 'pt3'));
  const op = await gw.session(operator('op-3', 'pt3'));
  // With the validator stopped nothing drains: a payment after the
  // deadline meets an order still pending_payment, and is refused.
  const late = await confirmed(buyer, order('pt3'));
  await validator.stop();
  const lateDeadline = Number((await record('pt3', late)).pay_deadline_ms);
  await sleep(lateDeadline - Date.now() + 50);
  assert.equal((await record('pt3', late)).status, 'pending_payment');
  const refused = await update(op, late, 'paid');
  assert.equal(refused.type, 'error', JSON.stringify(refused));
  assert.equal(refused.code, 'INVALID_TRANSITION');
  assert.match(refused.message, /payment deadline/);
  const rec = await record('pt3', late);
  assert.equal(rec.status, 'pending_payment', 'a refused payment changes nothing');
  assert.equal(rec.paid_at_ms, undefined);
  assert.equal(await auditOf('pt3', late).then((a) => a.length), 0);
  validator = await startReadyValidator();
  await waitFor(async () => (await record('pt3', late)).status === 'cancelled', { what: 'the late order cancelled' });

  // Payments sent around the deadline with the validator draining: each
  // order ends one way, paid strictly before its deadline or cancelled at
  // or after it, never both, its stock back only when cancelled.
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push(await confirmed(buyer, order('pt3')));
  const deadlines = await Promise.all(ids.map(async (id) => Number((await record('pt3', id)).pay_deadline_ms)));
  const offsets = [-60, -30, -10, 0, 10, 30];
  const replies = await Promise.all(ids.map(async (id, i) => {
    await sleep(Math.max(0, deadlines[i] + offsets[i] - Date.now()));
    return update(op, id, 'paid');
  }));
  let paid = 0;
  for (let i = 0; i < ids.length; i++) {
    await waitFor(async () => ['paid', 'cancelled'].includes((await record('pt3', ids[i])).status),
      { what: `order ${i} settled` });
    const r = await record('pt3', ids[i]);
    const moves = (await auditOf('pt3', ids[i])).map((e) => `${e.actor}:${e.to}`);
    if (r.status === 'paid') {
      paid++;
      assert.equal(replies[i].type, 'order.updated');
      assert.ok(Number(r.paid_at_ms) < deadlines[i], `paid ${Number(r.paid_at_ms) - deadlines[i]} ms after the deadline`);
      assert.deepEqual(moves, ['op-3:paid']);
    } else {
      assert.equal(replies[i].code, 'INVALID_TRANSITION', JSON.stringify(replies[i]));
      assert.match(replies[i].message, /payment deadline|cancelled/);
      assert.ok(Number(r.cancelled_at_ms) >= deadlines[i]);
      assert.equal(r.paid_at_ms, undefined);
      assert.deepEqual(moves, ['system:cancelled']);
    }
    assert.equal(await dueScore('pt3', ids[i]), '');
    // Sent at or after the deadline (Redis and this process share the
    // host's clock): the script ran later still, so it cannot have paid.
    if (offsets[i] >= 0) assert.equal(r.status, 'cancelled', `offset ${offsets[i]} ms`);
  }
  // 100 at the start, 1 + 6 taken, the late one and the unpaid ones back.
  assert.equal(await stock('pt3'), 100 - paid);
  buyer.close();
  op.close();
});

test('two validators draining at once cancel each order once', async () => {
  await room('pt4', 50);
  const second = await startReadyValidator();
  const buyer = await gw.session(viewer('b-4', 'pt4'));
  const ids = [];
  for (let i = 0; i < 12; i++) ids.push(await confirmed(buyer, order('pt4')));
  assert.equal(await stock('pt4'), 38);
  for (const id of ids) {
    await buyer.next((m) => m.type === 'order.status' && m.order_id === id && m.status === 'cancelled', 10000);
  }
  await sleep(600); // a few more drains by both
  assert.equal(await stock('pt4'), 50, 'each order\'s stock back exactly once');
  assert.equal(await held('pt4', 'b-4'), '');
  for (const id of ids) assert.equal((await auditOf('pt4', id)).length, 1);
  assert.equal(Number(await redis.cli('HGET', 'lg:{pt4}:stats', 'pay_timeouts')), 12);
  assert.equal(Number(await redis.cli('ZCARD', 'lg:{pt4}:paydue')), 0);
  assert.equal(buyer.messages.filter((m) => m.type === 'order.status' && m.status === 'cancelled').length, 0,
    'no second order.status for any order');
  await second.stop();
  buyer.close();
});

test('a timeout that fell due while the validator was down is applied after the restart', async () => {
  await room('pt5', 10);
  const buyer = await gw.session(viewer('b-5', 'pt5'));
  const id = await confirmed(buyer, order('pt5'));
  const deadline = Number((await record('pt5', id)).pay_deadline_ms);
  await validator.kill9();
  await sleep(deadline - Date.now() + 1500);
  assert.equal((await record('pt5', id)).status, 'pending_payment', 'nobody cancels while no validator runs');
  assert.equal(await stock('pt5'), 9);
  const startedAt = Date.now();
  validator = await startReadyValidator();
  const status = await buyer.next((m) => m.type === 'order.status' && m.order_id === id, 5000);
  assert.equal(status.status, 'cancelled');
  assert.ok(Date.now() - startedAt < 3000, `applied ${Date.now() - startedAt} ms after the restart`);
  assert.equal(await stock('pt5'), 10);
  assert.deepEqual((await auditOf('pt5', id)).map((e) => e.actor), ['system']);
  buyer.close();
});

// ---- pay_timeout.lua on its own -------------------------------------------

function evalPay(r, { batch = '10', keep = '10000', ttl = '604800', keys = 3, extra = [] } = {}) {
  const k = [`lg:{${r}}:paydue`, `lg:{${r}}:audit`, `lg:{${r}}:stats`].slice(0, keys);
  return redis.cli('EVAL', script, String(k.length), ...k, r, `lg:{${r}}:order:`, `lg:{${r}}:sku:`,
    `lg:{${r}}:live:`, batch, keep, 'lg:ev:status', ttl, ...extra);
}

async function seedDue(r, n) {
  await redis.cli('HSET', `lg:{${r}}:sku:s`, 'stock', '0', 'price', '1', 'on_sale', '1');
  for (let i = 0; i < n; i++) {
    await redis.cli('HSET', `lg:{${r}}:order:o${i}`, 'status', 'pending_payment', 'user', 'u', 'sku_id', 's',
      'qty', '1', 'pay_deadline_ms', '1000');
    await redis.cli('ZADD', `lg:{${r}}:paydue`, '1000', `o${i}`);
  }
  await redis.cli('HSET', `lg:{${r}}:live:u`, 's', String(n));
}

test('pay_timeout.lua: bad calls change nothing; the batch is bounded on both sides', async () => {
  await seedDue('ps1', 3);
  for (const call of [{ batch: '0' }, { batch: '1001' }, { batch: 'x' }, { batch: '1.5' }, { batch: '1e2' },
    { batch: '-1' }, { batch: '' }, { keep: '0' }, { keep: '1.5' }, { ttl: '0' }, { ttl: 'x' },
    { keys: 2 }, { extra: ['x'] }]) {
    assert.match(await evalPay('ps1', call), /bad arguments/, JSON.stringify(call));
  }
  assert.equal(Number(await redis.cli('ZCARD', 'lg:{ps1}:paydue')), 3, 'nothing changed');
  assert.equal(await redis.cli('HGET', 'lg:{ps1}:order:o0', 'status'), 'pending_payment');

  // Batch 1: one cancelled, "more", and the next one due now (0 ms).
  assert.deepEqual((await evalPay('ps1', { batch: '1' })).split('\n'), ['1', '1', '0', 's']);
  assert.equal(Number(await redis.cli('HGET', 'lg:{ps1}:sku:s', 'stock')), 1);
  // Batch 1000 (the largest) takes the other two; the index is then empty.
  assert.deepEqual((await evalPay('ps1', { batch: '1000' })).split('\n'), ['2', '0', '-1', 's']);
  assert.equal(Number(await redis.cli('HGET', 'lg:{ps1}:sku:s', 'stock')), 3);
  assert.equal(await redis.cli('HGET', 'lg:{ps1}:live:u', 's'), '');
  assert.equal(Number(await redis.cli('HGET', 'lg:{ps1}:stats', 'pay_timeouts')), 3);
  // Nothing left: nothing happens.
  assert.deepEqual((await evalPay('ps1')).split('\n'), ['0', '0', '-1']);

  // A due entry whose order is paid, gone, or not yet due by its record.
  await redis.cli('HSET', 'lg:{ps2}:order:paid', 'status', 'paid', 'user', 'u', 'sku_id', 's', 'qty', '1');
  await redis.cli('ZADD', 'lg:{ps2}:paydue', '1000', 'paid', '1000', 'gone');
  const later = String(Date.now() + 60000);
  await redis.cli('HSET', 'lg:{ps2}:order:later', 'status', 'pending_payment', 'user', 'u', 'sku_id', 's',
    'qty', '1', 'pay_deadline_ms', later);
  await redis.cli('ZADD', 'lg:{ps2}:paydue', '1000', 'later');
  const [n, more, next] = (await evalPay('ps2')).split('\n').map(Number);
  assert.deepEqual([n, more], [0, 0]);
  assert.ok(next > 55000 && next <= 60000, `next due in ${next} ms`);
  assert.equal(await redis.cli('HGET', 'lg:{ps2}:order:paid', 'status'), 'paid');
  assert.equal(await redis.cli('ZSCORE', 'lg:{ps2}:paydue', 'later'), later, 'put back under its own deadline');
  assert.equal(Number(await redis.cli('ZCARD', 'lg:{ps2}:paydue')), 1);
  assert.equal(await redis.cli('XLEN', 'lg:{ps2}:audit'), '0');
});
