// queue/lua/enqueue.lua with batches of one room's orders, against a real
// redis-server: each order answered as if it had been a call of its own (a
// double tap inside one batch included), high-value orders written first,
// a failed write answered on its own; then through the gateway, where
// submits from many connections in one loop turn share script calls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startGateway, stopAll, validOrder, setupRoom } from './lib/system.mjs';
import { runEnqueue } from './lib/enqueue.mjs';
import { readRecord } from './lib/record.mjs';

let redis, gw;
before(async () => {
  redis = await startRedis();
});
after(stopAll);

const run = (room, orders, admit) => runEnqueue(redis, room, orders, admit);

const entries = async (room, prio) =>
  (await redis.cli('XRANGE', `lg:{${room}}:q:${prio}`, '-', '+')).split('\n').filter((l) => l.startsWith('o-'))
    .map((l) => l.split('|')[0]);

test('a batch answers each order in the order given, from one clock reading', async () => {
  await redis.cli('HSET', 'lg:{b1}:room', 'high_value_threshold', '100000');
  const res = await run('b1', [
    { oid: 'o-n1', coid: 'c1' },
    { oid: 'o-h1', coid: 'c2', amount: 100000 },
    { oid: 'o-v1', coid: 'c3', tier: 'vip' },
    { oid: 'o-n2', coid: 'c4', user: 'u2' },
  ]);
  assert.deepEqual(res.map((r) => [r[0], r[1], r[2]]), [
    ['accepted', 'o-n1', 'normal'], ['accepted', 'o-h1', 'high'],
    ['accepted', 'o-v1', 'high'], ['accepted', 'o-n2', 'normal']]);
  assert.equal(new Set(res.map((r) => r[3])).size, 1);
  assert.deepEqual(await entries('b1', 'high'), ['o-h1', 'o-v1']);
  assert.deepEqual(await entries('b1', 'normal'), ['o-n1', 'o-n2']);
  // The entry is one value: what a validator needs to name its keys.
  const raw = (await redis.cli('XRANGE', 'lg:{b1}:q:normal', '-', '+')).split('\n');
  assert.deepEqual(raw.slice(1, 3), ['o', `o-n1|u1|sku-1||${res[0][3]}|gw-test`]);
  const rec = await readRecord(redis, 'lg:{b1}:order:o-h1');
  assert.equal(rec.room_id, 'b1');
  assert.equal(rec.gw, 'gw-test');
  assert.equal(rec.priority, 'high');
  assert.equal(rec.status, 'queued');
  assert.equal(rec.accepted_at_ms, res[1][3]);
  // The fixed fields are one hash field: the record has four in all.
  assert.deepEqual((await redis.cli('HKEYS', 'lg:{b1}:order:o-h1')).split('\n').sort(),
    ['accepted_at_ms', 'd', 'priority', 'status']);
  assert.equal(await redis.cli('GET', 'lg:{b1}:idem:u1/c2'), `o-h1|k1fp-1|high|${res[1][3]}`);
  const ttl = Number(await redis.cli('TTL', 'lg:{b1}:order:o-n1'));
  assert.ok(ttl > 604000, `record TTL ${ttl}`);
});

test('a double tap inside one batch is accepted once, then duplicate or conflict', async () => {
  // The copy with another body is high-value: it still loses to the first.
  await redis.cli('HSET', 'lg:{b2}:room', 'high_value_threshold', '100000');
  const res = await run('b2', [
    { oid: 'o-a', coid: 'tap' },
    { oid: 'o-b', coid: 'tap' },
    { oid: 'o-c', coid: 'tap', fp: 'k1fp-other', amount: 200000 },
  ]);
  assert.deepEqual(res[0].slice(0, 3), ['accepted', 'o-a', 'normal']);
  assert.deepEqual(res[1], ['duplicate', 'o-a', 'normal', res[0][3]]);
  assert.deepEqual(res[2], ['conflict', 'o-a']);
  assert.deepEqual(await entries('b2', 'normal'), ['o-a']);
  assert.deepEqual(await entries('b2', 'high'), []);
  assert.equal(await redis.cli('EXISTS', 'lg:{b2}:order:o-b', 'lg:{b2}:order:o-c'), '0');
  // A later batch sees the stored key.
  const again = await run('b2', [{ oid: 'o-d', coid: 'tap' }]);
  assert.deepEqual(again[0], ['duplicate', 'o-a', 'normal', res[0][3]]);
});

test('a key stored with the plain digest of earlier releases answers duplicate, not conflict', async () => {
  await redis.cli('SET', 'lg:{b5}:idem:u1/old', 'o-old|9a60331e183822f0545fecd70ce0aa5e|normal|1700000000000');
  const res = await run('b5', [{ oid: 'o-new', coid: 'old', fp: 'k1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }]);
  assert.deepEqual(res[0], ['duplicate', 'o-old', 'normal', '1700000000000']);
  // A keyed one that differs is a conflict.
  await redis.cli('SET', 'lg:{b5}:idem:u1/new', 'o-k|k1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb|normal|1700000000000');
  const c = await run('b5', [{ oid: 'o-n2', coid: 'new', fp: 'k1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }]);
  assert.deepEqual(c[0], ['conflict', 'o-k']);
});

test('a room never set up queues everything as normal unless vip', async () => {
  const res = await run('b3', [{ oid: 'o-big', coid: 'c1', amount: 99999999 }, { oid: 'o-vip', coid: 'c2', tier: 'vip' }]);
  assert.deepEqual(res.map((r) => r[2]), ['normal', 'high']);
});

test('an order whose write fails is answered error, alone, and leaves no key', async () => {
  await redis.cli('SET', 'lg:{b4}:order:o-bad', 'not a hash');
  const res = await run('b4', [
    { oid: 'o-ok1', coid: 'c1' },
    { oid: 'o-bad', coid: 'c2' },
    { oid: 'o-bad2', coid: 'c2' },
    { oid: 'o-ok2', coid: 'c3' },
  ]);
  assert.equal(res[0][0], 'accepted');
  assert.equal(res[1][0], 'error');
  assert.match(res[1][1], /WRONGTYPE/);
  assert.equal(res[2][0], 'error', 'the copy of a failed order fails with it');
  assert.equal(res[3][0], 'accepted');
  assert.equal(await redis.cli('EXISTS', 'lg:{b4}:idem:u1/c2'), '0');
  assert.deepEqual(await entries('b4', 'normal'), ['o-ok1', 'o-ok2']);
});

test('submits from many connections in one burst share script calls, each answered', async () => {
  gw = await startGateway({ redis });
  await setupRoom(gw, 'r1', { threshold: 100000 });
  const conns = await Promise.all(Array.from({ length: 8 }, (_, i) => gw.session({ sub: `ub-${i}`, room: 'r1', role: 'viewer' })));
  const evalsha = async () => {
    const m = (await redis.cli('INFO', 'commandstats')).match(/cmdstat_evalsha:calls=(\d+)/);
    return m ? Number(m[1]) : 0;
  };
  const callsBefore = await evalsha();
  const sent = [];
  for (const [i, c] of conns.entries()) {
    for (let k = 0; k < 10; k++) {
      const o = validOrder(k === 9 ? { unit_price: 100000, amount: 100000 } : {});
      sent.push([c, o]);
      c.send(o);
      if (k === 0) c.send({ ...o, req: `tap-${i}` }); // a double tap
    }
  }
  for (const [i, c] of conns.entries()) {
    const tap = await c.next((m) => m.req === `tap-${i}`);
    assert.equal(tap.type, 'order.accepted');
    assert.equal(tap.duplicate, true);
  }
  for (const [c, o] of sent) {
    const r = await c.next((m) => m.client_order_id === o.client_order_id && m.type === 'order.accepted' && !m.req);
    assert.equal(r.duplicate, false);
    assert.equal(r.priority, o.amount >= 100000 ? 'high' : 'normal');
  }
  const calls = (await evalsha()) - callsBefore;
  // 88 submits; a few of these calls are the statistics' flush and the
  // duplicates' watch.lua.
  assert.ok(calls < 60, `${calls} EVALSHA calls for 88 submits`);
  assert.equal((await entries('r1', 'normal')).length + (await entries('r1', 'high')).length, 80);
  for (const c of conns) c.close();
});
