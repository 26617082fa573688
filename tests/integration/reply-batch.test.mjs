// queue/lua/reply.lua writes a validator batch's results for one gateway as
// one reply-stream entry, packed into one value, and
// gateway/features/results.c reads them back: every result delivered, fewer
// entries than results, the entries of earlier releases (a field per value,
// with or without "n") still delivered, and entries that do not hold the
// results they announce skipped without stopping the reader.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, waitFor } from './lib/system.mjs';
import { packResults, replyCall, pipeline } from './lib/replies.mjs';

const isFinal = (m) => (m.type === 'order.confirmed' || m.type === 'order.rejected') && m.order_id;
let redis;
before(async () => {
  redis = await startRedis();
});
after(stopAll);

test('reply.lua appends n results as one entry: ("packed", n), ("results", the packed results)', async () => {
  const key = 'lg:gw:{t1}:replies';
  const results = [{ order_id: 'o-1', status: 'rejected', message: 'sold out' },
    { order_id: 'o-2', status: 'pending_payment', amount: '19900' }, { order_id: 'o-3', status: 'rejected' }];
  assert.deepEqual(await pipeline(redis.port, [replyCall(key, results, { maxlen: '1000', ttlMs: '60000' })]), [':3']);
  assert.equal(await redis.cli('XLEN', key), '1');
  const lines = (await redis.cli('XRANGE', key, '-', '+')).split('\n');
  assert.deepEqual(lines.slice(1, 4), ['packed', '3', 'results']);
  assert.equal(lines[4], packResults(results));
  assert.ok(lines[4].startsWith('3:o-1\0'), 'each value is its length, its bytes and a NUL');
  const ttl = Number(await redis.cli('PTTL', key));
  assert.ok(ttl > 0 && ttl <= 60000, `ttl ${ttl}`);
  // No results: nothing appended.
  assert.deepEqual(await pipeline(redis.port, [replyCall(key, [], { maxlen: '1000', ttlMs: '60000' })]), [':0']);
  assert.equal(await redis.cli('XLEN', key), '1');
});

test('through the system: every result arrives, packed, and old or bad entries are handled', async () => {
  const gw = await startGateway({ redis });
  await setupRoom(gw, 'rb', { skus: { 'sku-1': { name: 'Mug', price: 19900, stock: 1000, limit_per_user: 100, on_sale: true } } });
  const v = await startValidator({ redis });
  const conns = await Promise.all(Array.from({ length: 6 }, (_, i) => gw.session({ sub: `urb-${i}`, room: 'rb', role: 'viewer' })));
  const pending = [];
  for (const c of conns) {
    for (let k = 0; k < 10; k++) {
      const o = validOrder({ room_id: 'rb' });
      c.send(o);
      pending.push(c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id)
        .then((acc) => c.next((m) => isFinal(m) && m.order_id === acc.order_id, 12000)));
    }
  }
  const results = await Promise.all(pending);
  assert.equal(results.length, 60);
  assert.equal(results.filter((r) => r.type === 'order.confirmed').length, 60);
  // The first test's lg:gw:{t1}:replies is in the same Redis: not that one.
  const key = (await redis.cli('KEYS', 'lg:gw:*:replies')).split('\n').find((k) => k && !k.includes('{t1}'));
  const entries = Number(await redis.cli('XLEN', key));
  assert.ok(entries >= 1 && entries < 60, `${entries} reply entries for 60 results`);

  // Bad entries (3 pairs after "n" cannot be 2 results; a packed value
  // announcing 2 results that holds 1), then a packed entry and an entry of
  // one result without "n": the reader skips the bad ones and delivers the others.
  const c = conns[0];
  await redis.cli('XADD', key, '*', 'n', '2', 'order_id', 'o-x', 'status', 'rejected', 'user', 'urb-0');
  const one = { order_id: 'o-packed-1', room: 'rb', user: 'urb-0', status: 'rejected', code: 'OUT_OF_STOCK',
    field: 'sku_id', message: 'sold out', client_order_id: 'c-packed-1' };
  await pipeline(redis.port, [['XADD', key, '*', 'packed', '2', 'results', packResults([{ ...one, order_id: 'o-bad-1' }])],
    ['XADD', key, '*', 'packed', '1', 'results', packResults([one])]]);
  const packed = await c.next((m) => m.order_id === 'o-packed-1', 5000);
  assert.equal(packed.type, 'order.rejected');
  assert.equal(packed.code, 'OUT_OF_STOCK');
  assert.equal(packed.client_order_id, 'c-packed-1');
  await redis.cli('XADD', key, '*', 'order_id', 'o-legacy-1', 'room', 'rb', 'user', 'urb-0',
    'status', 'rejected', 'code', 'OUT_OF_STOCK', 'field', 'sku_id', 'message', 'sold out',
    'client_order_id', 'c-legacy-1');
  const legacy = await c.next((m) => m.order_id === 'o-legacy-1', 5000);
  assert.equal(legacy.type, 'order.rejected');
  assert.equal(legacy.code, 'OUT_OF_STOCK');
  assert.equal(legacy.client_order_id, 'c-legacy-1');
  await waitFor(() => gw.logs.filter((l) => l.includes('"event":"results.bad_entry"')).length === 2, { what: 'both bad entries logged' });
  assert.ok(!c.messages.some((m) => m.order_id === 'o-bad-1'), 'nothing of the bad packed entry is pushed');

  // A result read back after the order moved on (a validator re-sending a
  // stored result, after a restart or once the repeat ring has wrapped)
  // states the order's real state: order.status, never order.confirmed.
  for (const [oid, status] of [['o-moved-1', 'cancelled'], ['o-moved-2', 'paid']]) {
    await redis.cli('XADD', key, '*', 'order_id', oid, 'room', 'rb', 'user', 'urb-0',
      'status', status, 'code', '', 'field', '', 'message', '', 'amount', '19900',
      'confirmed_at_ms', '1700000000000', 'pay_deadline_ms', '1700000900000',
      'client_order_id', `c-${oid}`, 'updated_at_ms', '1700000100000');
    const m = await c.next((x) => x.order_id === oid, 5000);
    assert.deepEqual({ ...m }, { type: 'order.status', order_id: oid, client_order_id: `c-${oid}`,
      status, at_ms: 1700000100000 });
  }
  for (const x of conns) x.close();
  await v.stop();
  await gw.stop();
});
