// A viewer whose connection drops reconnects and resubmits, and with
// several gateway processes on one port the new connection often lands on
// another process than the one that accepted the order. The result of a
// still-queued order must then reach the new connection by itself
// (watch.lua registers the resubmitting gateway as a reply target), not
// only through order.query. Real redis-server, two gateways, a validator
// started only after the resubmit so the order is provably still queued.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { luaSource } from '../../scripts/lib/lua-source.mjs';
import {
  startRedis, startGateway, startValidator, stopAll, setupRoom, validOrder, newSecrets,
} from './lib/system.mjs';
import { readRecord } from './lib/record.mjs';

let redis, gwA, gwB;

before(async () => {
  redis = await startRedis();
  const secrets = newSecrets();
  gwA = await startGateway({ redis, secrets });
  gwB = await startGateway({ redis, secrets });
  await setupRoom(gwA, 'r1', { skus: { 'sku-1': { name: 'Tea', price: 19900, stock: 100, limit_per_user: 100, on_sale: true } } });
});
after(stopAll);

const isResult = (m) => m.type === 'order.confirmed' || m.type === 'order.rejected';

async function submitAndDrop(gw, user, order) {
  const c = await gw.session({ sub: user, room: 'r1', role: 'viewer' });
  c.send(order);
  const acc = await c.next((m) => m.type === 'order.accepted');
  assert.equal(acc.duplicate, false);
  c.terminate();
  await c.closed;
  return acc;
}

test('a resubmit on another gateway gets the pushed result of the queued order', async () => {
  const order = validOrder();
  const first = await submitAndDrop(gwA, 'buyer-1', order);

  const again = await gwB.session({ sub: 'buyer-1', room: 'r1', role: 'viewer' });
  again.send({ ...order, req: 'retry-1' });
  const dup = await again.next((m) => m.type === 'order.accepted');
  assert.equal(dup.duplicate, true);
  assert.equal(dup.order_id, first.order_id);
  assert.equal(dup.req, 'retry-1');
  const record = await redis.cli('HGET', `lg:{r1}:order:${first.order_id}`, 'status');
  assert.equal(record.trim(), 'queued', 'the order is still undecided when the resubmit is answered');

  const v = await startValidator({ redis });
  const res = await again.next(isResult, 15000);
  assert.equal(res.type, 'order.confirmed');
  assert.equal(res.order_id, first.order_id);
  assert.equal(res.client_order_id, order.client_order_id);
  assert.ok(await again.none(isResult, 500), 'exactly one result on the new connection');
  await v.stop();
});

test('resubmitting twice through the same gateway registers it once', async () => {
  const order = validOrder();
  const first = await submitAndDrop(gwA, 'buyer-2', order);
  for (let i = 0; i < 3; i++) {
    const c = await gwB.session({ sub: 'buyer-2', room: 'r1', role: 'viewer' });
    c.send(order);
    assert.equal((await c.next((m) => m.type === 'order.accepted')).duplicate, true);
    c.close();
  }
  // The accepting gateway itself resubmitting is not a second target either.
  const onA = await gwA.session({ sub: 'buyer-2', room: 'r1', role: 'viewer' });
  onA.send(order);
  assert.equal((await onA.next((m) => m.type === 'order.accepted')).duplicate, true);
  const key = `lg:{r1}:order:${first.order_id}`;
  const watchers = (await redis.cli('HGET', key, 'watchers')).trim();
  const accepting = (await readRecord(redis, key)).gw;
  assert.match(watchers, /^[A-Za-z0-9_.:-]+$/, `exactly one extra reply target, got "${watchers}"`);
  assert.notEqual(watchers, accepting, 'the accepting gateway is a target already');

  const v = await startValidator({ redis });
  const res = await onA.next(isResult, 15000);
  assert.equal(res.order_id, first.order_id);
  assert.ok(await onA.none(isResult, 500), 'the accepting gateway shows the result once');
  await v.stop();
});

test('a resubmit after the decision gets the stored result and registers nothing', async () => {
  const v = await startValidator({ redis });
  const order = validOrder();
  const c = await gwA.session({ sub: 'buyer-3', room: 'r1', role: 'viewer' });
  c.send(order);
  const acc = await c.next((m) => m.type === 'order.accepted');
  assert.equal((await c.next(isResult, 15000)).type, 'order.confirmed');
  c.close();

  const again = await gwB.session({ sub: 'buyer-3', room: 'r1', role: 'viewer' });
  again.send(order);
  assert.equal((await again.next((m) => m.type === 'order.accepted')).duplicate, true);
  const res = await again.next(isResult);
  assert.equal(res.type, 'order.confirmed');
  assert.equal(res.order_id, acc.order_id);
  const watchers = (await redis.cli('HGET', `lg:{r1}:order:${acc.order_id}`, 'watchers')).trim();
  assert.equal(watchers, '', 'a decided order gets no reply targets');
  await v.stop();
});

test('watch.lua keeps at most 8 extra reply targets and only while the order is queued', async () => {
  const script = luaSource('watch.lua');
  const key = 'lg:{r9}:order:o-watch';
  await redis.cli('HSET', key, 'status', 'queued', 'gw', 'gw-first', 'client_order_id', 'c-w');
  const watch = async (gw) => (await redis.cli('EVAL', script, '1', key, gw, 'status', 'client_order_id')).split('\n');
  assert.deepEqual(await watch('gw-first'), ['queued', 'c-w'], 'returns the asked fields');
  assert.equal((await redis.cli('HGET', key, 'watchers')).trim(), '', 'the accepting gateway is not added');
  for (let i = 1; i <= 8; i++) await watch(`gw-${i}`);
  await watch('gw-3');
  const eight = (await redis.cli('HGET', key, 'watchers')).trim().split(',');
  assert.deepEqual(eight, ['gw-1', 'gw-2', 'gw-3', 'gw-4', 'gw-5', 'gw-6', 'gw-7', 'gw-8']);
  await watch('gw-9');
  assert.equal((await redis.cli('HGET', key, 'watchers')).trim().split(',').length, 8, 'the ninth is not added');

  const key2 = 'lg:{r9}:order:o-done';
  await redis.cli('HSET', key2, 'status', 'pending_payment', 'gw', 'gw-first');
  assert.equal((await redis.cli('EVAL', script, '1', key2, 'gw-1', 'status')).trim(), 'pending_payment');
  assert.equal((await redis.cli('HGET', key2, 'watchers')).trim(), '', 'a decided order gets none');
  assert.equal((await redis.cli('EVAL', script, '1', 'lg:{r9}:order:o-none', 'gw-1', 'status')).trim(), '',
    'a missing order answers nil fields and is not created');
  assert.equal((await redis.cli('EXISTS', 'lg:{r9}:order:o-none')).trim(), '0');
});
