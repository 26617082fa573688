// The monitor feed is paid for only while watched (issue 11): with no
// monitor of a room, its orders cause no PUBLISH at all; with one, every
// order still reaches it as one monitor.order when queued and one when
// decided, in the same shape as before (one PUBLISH per script call, split
// by the gateway); after the monitor leaves, publishing stops within the
// presence key's TTL (3 s).
import { test, before, after } from 'node:test';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep } from './lib/system.mjs';

const ROOM = 'fp1';
const ORDER_KEYS = ['type', 'room_id', 'order_id', 'status', 'client_order_id', 'sku_id', 'qty',
  'amount', 'priority', 'buyer', 'phone', 'at_ms'];
let redis, gw;

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis, env: { LIVEGATE_MONITOR_FEED_PER_S: '1000' } });
  await startValidator({ redis });
  await setupRoom(gw, ROOM, {
    skus: { 'sku-1': { name: '茶', price: 19900, stock: 1000, on_sale: true } },
  });
});
after(async () => {
  listener?.kill();
  await stopAll();
});

// Messages published on any room's feed channel, as a listener of its own
// hears them (other channels, such as lg:ev:sku, are not counted).
let feedMessages = 0;
let listener;
async function listen() {
  listener = spawn('redis-cli', ['-p', String(redis.port), '--raw', 'PSUBSCRIBE', 'lg:ev:feed:*']);
  let buf = '';
  listener.stdout.on('data', (d) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const l of lines) if (l === 'pmessage') feedMessages++;
  });
  await sleep(300);
}
const publishes = async () => {
  await sleep(200); // let the listener catch up
  return feedMessages;
};

// n orders from one viewer, all at once; resolves when each is decided.
async function burst(n, tag) {
  const v = await gw.session({ sub: `buyer-${tag}`, room: ROOM, role: 'viewer' });
  const orders = [];
  for (let i = 0; i < n; i++) orders.push(validOrder({ room_id: ROOM, sku_id: 'sku-1' }));
  for (const o of orders) v.send(o);
  const ids = [];
  for (const o of orders) {
    const acc = await v.next((m) => m.client_order_id === o.client_order_id &&
      (m.type === 'order.accepted' || m.type === 'error'), 10000);
    assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
    ids.push(acc.order_id);
  }
  for (const id of ids)
    await v.next((m) => m.order_id === id && (m.type === 'order.confirmed' || m.type === 'order.rejected'), 15000);
  v.close();
  return ids;
}

test('no monitor: a burst of orders publishes nothing to the feed', async () => {
  await listen();
  const before = await publishes();
  await burst(20, 'a');
  assert.equal(await publishes(), before, 'PUBLISH calls during an unwatched burst');
  assert.equal(await redis.cli('EXISTS', `lg:{${ROOM}}:feed:watched`), '0');
});

test('a monitor gets one monitor.order per order, queued and decided, same fields', async () => {
  const mon = await gw.session({ sub: 'op-1', room: ROOM, role: 'operator' });
  mon.send({ type: 'monitor.subscribe', room_id: ROOM, req: 's1' });
  await mon.next((m) => m.type === 'monitor.stats' && m.req === 's1', 5000);
  assert.equal(await redis.cli('EXISTS', `lg:{${ROOM}}:feed:watched`), '1', 'set before the answer');
  const before = await publishes();
  const ids = await burst(20, 'b');
  await sleep(500);
  const feed = mon.messages.filter((m) => m.type === 'monitor.order' && ids.includes(m.order_id));
  for (const id of ids) {
    const mine = feed.filter((m) => m.order_id === id);
    assert.deepEqual(mine.map((m) => m.status).sort(), ['pending_payment', 'queued'], id);
    for (const m of mine) {
      assert.deepEqual(Object.keys(m).sort(), ORDER_KEYS.slice().sort(), JSON.stringify(m));
      assert.equal(m.room_id, ROOM);
      assert.equal(m.sku_id, 'sku-1');
      assert.equal(m.qty, 1);
      assert.equal(m.amount, 19900);
      assert.equal(m.buyer, '张*');
      assert.equal(m.phone, '138****8000');
      assert.ok(!JSON.stringify(m).includes('文三路'));
    }
  }
  const calls = (await publishes()) - before;
  assert.ok(calls >= 2 && calls < 40, `${calls} PUBLISH calls for 20 orders: one per script call`);
  mon.close();
});

test('after the monitor leaves, publishing stops within the key TTL', async () => {
  await sleep(3500);
  assert.equal(await redis.cli('EXISTS', `lg:{${ROOM}}:feed:watched`), '0');
  const before = await publishes();
  await burst(10, 'c');
  assert.equal(await publishes(), before);
});
