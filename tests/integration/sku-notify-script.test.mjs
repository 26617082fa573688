// queue/lua/sku_notify.lua on its own against a real redis-server: what it
// publishes, when the gate holds a change back, when a change is already
// covered, what bypasses the gate (sold out, off sale), and that every gate
// opens on a whole second of Redis's clock, at least a gate length after its
// publish, so a room's SKUs gated in one second publish together.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, stopAll, waitFor } from './lib/system.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = readFileSync(path.join(here, '../../queue/lua/sku_notify.lua'), 'utf8');
const CHANNEL = 'lg:ev:sku';
let redis, sub;
const heard = [];

before(async () => {
  redis = await startRedis();
  // A bare RESP subscriber: every bulk string that is JSON is a payload.
  sub = net.connect(redis.port, '127.0.0.1');
  let buf = '';
  sub.on('data', (d) => {
    buf += d.toString();
    const lines = buf.split('\r\n');
    buf = lines.pop();
    for (const l of lines) if (l.startsWith('{')) heard.push(JSON.parse(l));
  });
  sub.write(`SUBSCRIBE ${CHANNEL}\r\n`);
  await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', CHANNEL)).split('\n')[1]) === 1,
    { what: 'the test subscriber' });
});
after(async () => {
  sub.destroy();
  await stopAll();
});

const gateKey = (sku) => `lg:{r1}:skugate:${sku}`;
const skuKey = (sku) => `lg:{r1}:sku:${sku}`;
const run = async (sku) => (await redis.cli('EVAL', script, '2', gateKey(sku), skuKey(sku), 'r1', sku, '1000', CHANNEL)).split('\n');
const setSku = (sku, price, stock, onSale) => redis.cli('HSET', skuKey(sku), 'name', 'x', 'price', String(price), 'stock', String(stock), 'on_sale', onSale ? '1' : '0');
const redisNowMs = async () => {
  const [s, us] = (await redis.cli('TIME')).split('\n').map(Number);
  return s * 1000 + Math.floor(us / 1000);
};
const lastHeard = async (n) => { await waitFor(() => heard.length >= n, { what: `${n} payloads` }); return heard[n - 1]; };

test('publishes the state, then holds changes back for the gate second', async () => {
  await setSku('a', 19900, 10, true);
  const t0 = await redisNowMs();
  assert.deepEqual(await run('a'), ['published']);
  const t1 = await redisNowMs();
  assert.deepEqual(await lastHeard(1), { room: 'r1', sku_id: 'a', stock_left: 10, on_sale: true, price: 19900 });
  assert.equal(await redis.cli('GET', gateKey('a')), '10|1|19900');
  // The gate opens on the first whole second at least 750 ms after the publish.
  const opens = Number(await redis.cli('PEXPIRETIME', gateKey('a')));
  assert.equal(opens % 1000, 0, `gate opens at ${opens}`);
  assert.ok(opens >= t0 + 750 && opens < t1 + 1750, `gate opens at ${opens}, published in [${t0}, ${t1}]`);

  // Same state again: covered, nothing published.
  assert.deepEqual(await run('a'), ['covered']);
  // A change within the gate second: gated, with the time left.
  await setSku('a', 19900, 9, true);
  const [kind, left] = await run('a');
  assert.equal(kind, 'gated');
  assert.ok(Number(left) > 0 && Number(left) <= 2000, `gated for ${left} ms`);
  // Once the gate is gone the change goes out.
  await redis.cli('DEL', gateKey('a'));
  assert.deepEqual(await run('a'), ['published']);
  assert.equal((await lastHeard(2)).stock_left, 9);
  assert.equal(heard.length, 2);
});

test('sold out and off sale bypass a closed gate; back in stock does not', async () => {
  await setSku('b', 500, 3, true);
  await redis.cli('SET', gateKey('b'), 'other|1|1', 'PX', '60000');
  assert.equal((await run('b'))[0], 'gated');
  await setSku('b', 500, 0, true);
  assert.deepEqual(await run('b'), ['published']);
  assert.deepEqual(await lastHeard(3), { room: 'r1', sku_id: 'b', stock_left: 0, on_sale: true, price: 500 });
  // The urgent publish reset the gate to its state: a repeat is covered.
  assert.deepEqual(await run('b'), ['covered']);
  // Stock given back is ordinary news: it waits for the gate.
  await setSku('b', 500, 1, true);
  assert.equal((await run('b'))[0], 'gated');
  // Off sale is urgent again.
  await setSku('b', 500, 1, false);
  assert.deepEqual(await run('b'), ['published']);
  assert.deepEqual(await lastHeard(4), { room: 'r1', sku_id: 'b', stock_left: 1, on_sale: false, price: 500 });
});

test('an unknown SKU publishes nothing; a negative stock is shown as 0', async () => {
  const before = heard.length;
  assert.deepEqual(await run('nope'), ['missing']);
  assert.equal(await redis.cli('EXISTS', gateKey('nope')), '0');
  await setSku('c', 100, -2, true);
  assert.deepEqual(await run('c'), ['published']);
  assert.equal((await lastHeard(before + 1)).stock_left, 0);
  assert.equal(heard.length, before + 1);
});

test('gates closed at different moments of a second open together, on its boundary', async () => {
  // Start 270-400 ms into a second so that both publishes, 300 ms apart,
  // fall in it and both are more than 250 ms into it (the same boundary).
  await waitFor(async () => { const x = (await redisNowMs()) % 1000; return x >= 270 && x < 400; },
    { what: 'the start of a second', everyMs: 10 });
  await setSku('d', 100, 5, true);
  await setSku('e', 100, 5, true);
  const t0 = await redisNowMs();
  assert.deepEqual(await run('d'), ['published']);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await run('e'), ['published']);
  const t1 = await redisNowMs();
  const [od, oe] = [Number(await redis.cli('PEXPIRETIME', gateKey('d'))), Number(await redis.cli('PEXPIRETIME', gateKey('e')))];
  // (A machine too slow to publish both in one second proves nothing here.)
  if (Math.floor(t0 / 1000) === Math.floor(t1 / 1000) && t1 % 1000 < 900) assert.equal(od, oe, 'both gates of the same second open together');
  for (const o of [od, oe]) assert.equal(o % 1000, 0);
  assert.ok(od >= t0 + 1000 && oe >= t0 + 1050, `gates open at ${od}, ${oe}; published from ${t0}`);
});
