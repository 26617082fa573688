// The event bus against real processes: an lg:ev:status PUBLISH reaches the
// buyer's sessions on whichever gateway they are on (and nobody else's), the
// subscribe-mode connection is not mistaken for a stalled one while idle
// or while a burst of messages delays its heartbeat, and the subscriptions come back after a Redis restart and after a stalled
// Redis (caught by the heartbeat) resumes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startGateway, stopAll, sleep, waitFor, newSecrets } from './lib/system.mjs';

const TIMEOUT_MS = 600;
let redis, gwA, gwB;

before(async () => {
  redis = await startRedis();
  const secrets = newSecrets();
  const env = { LIVEGATE_REDIS_TIMEOUT_MS: String(TIMEOUT_MS) };
  gwA = await startGateway({ redis, secrets, env });
  gwB = await startGateway({ redis, secrets, env });
  await waitForSubscribers(2);
});
after(stopAll);

async function subscribers() {
  const out = await redis.cli('PUBSUB', 'NUMSUB', 'lg:ev:status').catch(() => '');
  return Number(out.split('\n')[1] ?? 0);
}

async function waitForSubscribers(n) {
  await waitFor(async () => (await subscribers()) >= n, { timeoutMs: 15000, what: `${n} bus subscribers` });
}

let seq = 0;
function statusEvent(over = {}) {
  seq++;
  return {
    room: 'r1', user: 'buyer-1', order_id: `o-${seq}`, client_order_id: `c-${seq}`,
    status: 'paid', from: 'pending_payment', at_ms: Date.now(), sku_id: 'sku-1', qty: 1,
    amount: 19900, priority: 'normal', buyer: '张*', phone: '138****8000', ...over,
  };
}

const publish = (ev) => redis.cli('PUBLISH', 'lg:ev:status', typeof ev === 'string' ? ev : JSON.stringify(ev));

test('order.status reaches every session of the buyer on any gateway, and nobody else', async () => {
  const onA = await gwA.session({ sub: 'buyer-1', room: 'r1', role: 'viewer' });
  const onB = await gwB.session({ sub: 'buyer-1', room: 'r1', role: 'viewer' });
  const otherUser = await gwB.session({ sub: 'buyer-2', room: 'r1', role: 'viewer' });
  const otherRoom = await gwA.session({ sub: 'buyer-1', room: 'r2', role: 'viewer' });

  // Junk on the channel is ignored and does not stop the next event.
  await publish('not json');
  await publish(JSON.stringify({ room: 'r1', user: 'buyer-1' }));
  await publish(statusEvent({ order_id: 'bad id with spaces' }));

  const ev = statusEvent();
  assert.equal(Number(await publish(ev)), 2, 'both gateways are subscribed');
  for (const c of [onA, onB]) {
    const m = await c.next((x) => x.type === 'order.status');
    assert.deepEqual(m, { type: 'order.status', order_id: ev.order_id, client_order_id: ev.client_order_id,
      status: 'paid', at_ms: ev.at_ms });
  }
  // null client_order_id is carried as null.
  const ev2 = statusEvent({ client_order_id: null, status: 'shipped' });
  await publish(ev2);
  const m2 = await onB.next((x) => x.type === 'order.status' && x.order_id === ev2.order_id);
  assert.equal(m2.client_order_id, null);
  assert.equal(m2.status, 'shipped');

  assert.ok(await otherUser.none((x) => x.type === 'order.status', 300));
  assert.ok(await otherRoom.none((x) => x.type === 'order.status', 0));
  // Exactly one frame per event per session, the junk produced none.
  await onA.next((x) => x.order_id === ev2.order_id);
  assert.ok(!onA.messages.some((x) => x.type === 'order.status'), JSON.stringify(onA.messages));
  for (const c of [onA, onB, otherUser, otherRoom]) c.close();
});

test('an idle subscribed connection is not taken for a stalled one', async () => {
  const dropsBefore = gwA.logs.filter((l) => l.includes('redis.drop') && l.includes(':bus')).length;
  await sleep(TIMEOUT_MS * 4); // no traffic at all: only the heartbeat
  const dropsAfter = gwA.logs.filter((l) => l.includes('redis.drop') && l.includes(':bus')).length;
  assert.equal(dropsAfter, dropsBefore, gwA.logs.slice(-10).join('\n'));
  const c = await gwA.session({ sub: 'buyer-idle', room: 'r1', role: 'viewer' });
  const ev = statusEvent({ user: 'buyer-idle' });
  assert.equal(Number(await publish(ev)), 2);
  assert.equal((await c.next((x) => x.type === 'order.status')).order_id, ev.order_id);
  c.close();
});

test('a PUBLISH reaches the gateways after a Redis restart', async () => {
  const onA = await gwA.session({ sub: 'buyer-r', room: 'r1', role: 'viewer' });
  const onB = await gwB.session({ sub: 'buyer-r', room: 'r1', role: 'viewer' });
  await redis.stop();
  await sleep(300);
  await redis.start();
  await waitForSubscribers(2);
  const ev = statusEvent({ user: 'buyer-r', status: 'delivered' });
  await publish(ev);
  for (const c of [onA, onB])
    assert.equal((await c.next((x) => x.type === 'order.status' && x.order_id === ev.order_id, 5000)).status, 'delivered');
  onA.close();
  onB.close();
});

test('a stalled Redis is caught by the heartbeat and the bus resubscribes when it resumes', async () => {
  const c = await gwB.session({ sub: 'buyer-s', room: 'r1', role: 'viewer' });
  redis.pause();
  try {
    await waitFor(() => gwB.logs.some((l) => l.includes('heartbeat timed out')),
      { timeoutMs: 10000, what: 'the bus heartbeat to time out' });
  } finally {
    redis.resume();
  }
  await waitFor(async () => {
    const ev = statusEvent({ user: 'buyer-s' });
    if (Number(await publish(ev)) < 2) return false;
    return (await c.next((x) => x.type === 'order.status' && x.order_id === ev.order_id, 2000)
      .catch(() => null)) !== null;
  }, { timeoutMs: 15000, everyMs: 200, what: 'order.status after the stall' });
  c.close();
});

test('a burst of messages that delays the heartbeat is not taken for a stall', async () => {
  // The stall of the test before hit gwA too: start once both gateways'
  // buses are back on every channel, or a drop from that recovery counts here.
  const numsub = async (ch) => Number((await redis.cli('PUBSUB', 'NUMSUB', ch)).split('\n')[1]);
  await waitFor(async () => (await numsub('lg:ev:status')) >= 2 && (await numsub('lg:ev:sku')) >= 2,
    { timeoutMs: 15000, what: 'both buses resubscribed' });
  const c = await gwA.session({ sub: 'buyer-burst', room: 'r1', role: 'viewer' });
  const drops = () => gwA.logs.filter((l) => l.includes('heartbeat timed out')).length;
  const before = drops();
  // 150,000 events for a room nobody watches (about 22 MB on the wire, under
  // Redis's 32 MB output limit for subscribers): parsing them delays the
  // heartbeat's answer well past the 600 ms timeout.
  const burst = `for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', 'lg:ev:sku', cjson.encode({room = 'nobody', sku_id = 's', stock_left = i, on_sale = true, price = 1})) end return 1`;
  await redis.cli('EVAL', burst, '0', '150000');
  const ev = statusEvent({ user: 'buyer-burst' });
  await publish(ev); // queued behind the burst: lost if the bus reconnected
  assert.equal((await c.next((x) => x.type === 'order.status', 30000)).order_id, ev.order_id);
  assert.equal(drops(), before, gwA.logs.filter((l) => l.includes('redis.')).slice(-5).join('\n'));
  c.close();
});
