// sku.update against real processes: two gateways and a validator on one
// Redis. A SKU's change reaches the room's viewers on both gateways and no
// one else; steady confirmations are coalesced to about one update per
// second per SKU and still end on the final stock; a sell-out and an
// off-sale go out at once, even while the SKU's gate is closed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep, waitFor,
  newSecrets,
} from './lib/system.mjs';

let redis, gwA, gwB, admin;
let viewerA, viewerB, otherRoom;
const isUpdate = (sku, pred = () => true) => (m) => m.type === 'sku.update' && m.sku_id === sku && pred(m);

before(async () => {
  redis = await startRedis();
  const secrets = newSecrets();
  gwA = await startGateway({ redis, secrets });
  gwB = await startGateway({ redis, secrets });
  await startValidator({ redis });
  admin = gwA.token({ sub: 'admin', room: '*', role: 'admin' });
  await setupRoom(gwA, 'r1', {
    skus: {
      'sku-put': { name: '茶', price: 1000, stock: 50, on_sale: true },
      'sku-co': { name: '杯', price: 300, stock: 1000, on_sale: true },
      'sku-so': { name: '壶', price: 700, stock: 3, on_sale: true },
      'sku-off': { name: '盘', price: 900, stock: 20, on_sale: true },
    },
  });
  await setupRoom(gwA, 'r2', { skus: { 'sku-put': { name: 'x', price: 1000, stock: 5, on_sale: true } } });
  // Subscribed gateways answer PUBLISH with their count; wait for both buses.
  await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', 'lg:ev:sku')).split('\n')[1]) >= 2,
    { what: 'both gateways subscribed to lg:ev:sku' });
  viewerA = await gwA.session({ sub: 'viewer-a', room: 'r1', role: 'viewer' });
  viewerB = await gwB.session({ sub: 'viewer-b', room: 'r1', role: 'viewer' });
  otherRoom = await gwB.session({ sub: 'viewer-c', room: 'r2', role: 'viewer' });
  // Let the set-up's own updates go by: a marker published now reaches each
  // viewer after everything published before it (Pub/Sub keeps the order).
  await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'r1', sku_id: 'set-up-done', stock_left: 1, on_sale: true, price: 1 }));
  await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'r2', sku_id: 'set-up-done', stock_left: 1, on_sale: true, price: 1 }));
  for (const c of [viewerA, viewerB, otherRoom]) await c.next(isUpdate('set-up-done'), 10000);
  for (const c of [viewerA, viewerB, otherRoom]) c.messages.length = 0;
});
after(stopAll);


async function putSku(room, sku, body) {
  const r = await gwA.http('PUT', `/v1/rooms/${room}/skus/${sku}`, { token: admin, body });
  assert.equal(r.status, 200, r.text);
}

// Closes the SKU's gate for a long time, as if another process had just
// published some other state: only news that bypasses the gate gets out.
// Returns when the gate would open: news that arrives before then did not
// wait for it (a bound that holds however slow the machine is).
const closeGate = async (room, sku, ms = 60000) => {
  const opensAt = Date.now() + ms;
  await redis.cli('SET', `lg:{${room}}:skugate:${sku}`, 'test|0|0', 'PX', String(ms));
  return opensAt;
};

async function place(c, order) {
  c.send(order);
  const acc = await c.next((m) => m.client_order_id === order.client_order_id && m.type !== 'sku.update');
  assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
  const res = await c.next((m) => m.order_id === acc.order_id && (m.type === 'order.confirmed' || m.type === 'order.rejected'), 12000);
  return res;
}

test('a PUT reaches the viewers of the room on both gateways, with the contract fields', async () => {
  await putSku('r1', 'sku-put', { name: '茶', price: 1200, stock: 40, on_sale: true });
  for (const c of [viewerA, viewerB]) {
    const m = await c.next(isUpdate('sku-put'), 5000);
    assert.deepEqual(m, { type: 'sku.update', room_id: 'r1', sku_id: 'sku-put', stock_left: 40, on_sale: true, price: 1200 });
  }
});

test('off sale through PUT goes out at once, through a closed gate', async () => {
  const gateOpens = await closeGate('r1', 'sku-off');
  // A plain change waits for the gate...
  await putSku('r1', 'sku-off', { name: '盘', price: 950, stock: 20, on_sale: true });
  assert.ok(await viewerA.none(isUpdate('sku-off'), 1500), 'a gated change must not go out');
  // ...going off sale does not.
  await putSku('r1', 'sku-off', { name: '盘', price: 950, stock: 20, on_sale: false });
  for (const c of [viewerA, viewerB]) {
    const m = await c.next(isUpdate('sku-off'), 5000);
    assert.equal(m.on_sale, false);
    assert.equal(m.price, 950);
  }
  assert.ok(Date.now() < gateOpens, 'the off-sale waited for the gate');
  // The gated change is covered by that publish: nothing else follows.
  assert.ok(await viewerA.none(isUpdate('sku-off'), 1500));
});

test('steady confirmations are coalesced to about one update per second and end on the final stock', async () => {
  const buyers = await Promise.all([1, 2, 3, 4].map((i) => gwA.session({ sub: `buyer-co-${i}`, room: 'r1', role: 'viewer' })));
  const order = () => validOrder({ sku_id: 'sku-co', unit_price: 300, amount: 300 });
  const results = [];
  const start = Date.now();
  let n = 0;
  // About 20 orders a second for 3 s, each awaited on its own.
  while (Date.now() - start < 3000) {
    results.push(place(buyers[n++ % buyers.length], order()));
    await sleep(50);
  }
  const settled = await Promise.all(results);
  const confirmed = settled.filter((r) => r.type === 'order.confirmed').length;
  assert.equal(confirmed, settled.length, 'every order confirmed');
  const lastConfirm = Date.now();
  const finalStock = 1000 - confirmed;
  // The last change is announced within about a gate length.
  const last = await viewerB.next(isUpdate('sku-co', (m) => m.stock_left === finalStock), 5000);
  assert.ok(Date.now() - lastConfirm < 3000);
  const updates = [...viewerB.messages.filter(isUpdate('sku-co')), last];
  const span = lastConfirm - start;
  // Orders kept coming for 3 s (longer, if the machine is slow): at most one
  // publish per gate second while they came, plus the trailing one that
  // carries the final stock; never one per order.
  const allowed = Math.floor(span / 1000) + 2;
  assert.ok(updates.length >= 2, `only ${updates.length} updates for ${confirmed} confirmations`);
  assert.ok(updates.length <= allowed, `${updates.length} updates in ${span} ms for ${confirmed} confirmations`);
  assert.ok(confirmed >= 3 * updates.length, `${confirmed} confirmations, ${updates.length} updates`);
  for (let i = 1; i < updates.length; i++) assert.ok(updates[i].stock_left < updates[i - 1].stock_left);
  // viewer A on the other gateway saw the same final state.
  await viewerA.next(isUpdate('sku-co', (m) => m.stock_left === finalStock), 5000);
  for (const b of buyers) b.close();
});

test('the sell-out goes out at once, through a closed gate', async () => {
  const gateOpens = await closeGate('r1', 'sku-so');
  const buyer = await gwA.session({ sub: 'buyer-so', room: 'r1', role: 'viewer' });
  const order = () => validOrder({ sku_id: 'sku-so', unit_price: 700, amount: 700 });
  await place(buyer, order());
  await place(buyer, order());
  const res = await place(buyer, order());
  assert.equal(res.type, 'order.confirmed');
  const m = await viewerB.next(isUpdate('sku-so', (x) => x.stock_left === 0), 5000);
  assert.ok(Date.now() < gateOpens, 'the sell-out waited for the gate');
  assert.deepEqual(m, { type: 'sku.update', room_id: 'r1', sku_id: 'sku-so', stock_left: 0, on_sale: true, price: 700 });
  // The two gated changes before it are covered by the sell-out.
  assert.ok(await viewerB.none(isUpdate('sku-so', (x) => x.stock_left !== 0), 1500), JSON.stringify(viewerB.messages));
  await viewerA.next(isUpdate('sku-so', (x) => x.stock_left === 0), 5000);
  buyer.close();
});

test('viewers of other rooms heard nothing, and junk on the channel is ignored', async () => {
  await redis.cli('PUBLISH', 'lg:ev:sku', 'not json');
  await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'r1', sku_id: 'sku-put', stock_left: -1, on_sale: true, price: 1 }));
  await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'r1', sku_id: 'sku-put', stock_left: 1, on_sale: 'yes', price: 1 }));
  // A well-formed event is still delivered after the junk.
  await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'r1', sku_id: 'sku-x', stock_left: 7, on_sale: true, price: 5 }));
  const m = await viewerA.next(isUpdate('sku-x'), 5000);
  assert.equal(m.stock_left, 7);
  assert.ok(!viewerA.messages.some(isUpdate('sku-put', (x) => x.price === 1)));
  assert.ok(!otherRoom.messages.some((x) => x.type === 'sku.update'), JSON.stringify(otherRoom.messages));
});

test('every one of 2,000 viewers of a room gets the update, and the gateway stays responsive', async () => {
  const N = 2000;
  const viewers = [];
  for (let i = 0; i < N; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, k) =>
      gwB.session({ sub: `crowd-${i + k}`, room: 'r3', role: 'viewer' })));
    viewers.push(...batch);
  }
  // Responsive before, during and after the fan-out: /healthz and a
  // WebSocket request (order.query) on the same gateway are answered.
  const responsive = async (what) => {
    assert.equal((await gwB.http('GET', '/healthz')).status, 200, `healthz ${what}`);
    const req = `alive-${what}-${Math.random()}`;
    viewerB.send({ type: 'order.query', client_order_ids: ['nothing-here'], req });
    assert.equal((await viewerB.next((m) => m.req === req, 5000)).status, 'unknown', `order.query ${what}`);
  };
  await responsive('before');
  await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'r3', sku_id: 'hot', stock_left: 42, on_sale: true, price: 99 }));
  const all = Promise.all(viewers.map((c) => c.next(isUpdate('hot'), 15000)));
  let settled = false;
  all.then(() => {}, () => {}).then(() => { settled = true; });
  // at least once right after the publish, then until every viewer has it
  // (or one of them timed out, which the await below reports)
  do await responsive('during'); while (!settled);
  const got = await all;
  await responsive('after');
  assert.equal(got.length, N);
  assert.ok(got.every((m) => m.stock_left === 42 && m.room_id === 'r3'));
  for (const c of viewers) c.close();
  await waitFor(async () => !viewers.some((c) => c.ws.readyState !== 3), { timeoutMs: 15000, what: 'crowd closed' });
});

test('a viewer that stops reading is cut off at the queue\'s soft cap; the gateway keeps serving', async () => {
  const N = 150000;
  const stalled = await gwA.session({ sub: 'stalled', room: 'r4', role: 'viewer' });
  stalled.ws._socket.pause();
  let received = 0;
  stalled.ws.on('message', () => { received++; });
  // 150,000 updates of ~110 bytes (16 MB): past the 4 MiB queue bound plus
  // whatever the loopback socket buffers hold.
  const burst = `for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', 'lg:ev:sku', cjson.encode({room = 'r4', sku_id = 'flood', stock_left = i, on_sale = true, price = 1})) end return 1`;
  await redis.cli('EVAL', burst, '0', String(N));
  // Events are handled in order: once a viewer of another room hears an
  // event published after the flood, the flood has been queued (or refused)
  // for the stalled viewer, and the gateway is still serving.
  const other = await gwA.session({ sub: 'other', room: 'r5', role: 'viewer' });
  try {
    await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'r5', sku_id: 'after', stock_left: 1, on_sale: true, price: 1 }));
    await other.next(isUpdate('after'), 60000);
    // Still not reading when LIVEGATE_SLOW_CLIENT_MS (5 s) has passed.
    await waitFor(() => gwA.logs.some((l) => l.includes('"event":"session.dropped"')),
      { timeoutMs: 30000, what: 'the stalled viewer dropped' });
  } finally {
    stalled.ws._socket.resume();
    other.close();
  }
  let timer;
  const closed = await Promise.race([stalled.closed,
    new Promise((r) => { timer = setTimeout(() => r(null), 60000); })]);
  clearTimeout(timer);
  if (!closed) stalled.terminate();
  assert.ok(closed, 'the stalled viewer was not closed');
  // Its socket is reset (bounds.test.mjs): a close frame would never be read.
  assert.equal(closed.code, 1006);
  assert.ok(received > 0 && received < N, `the stalled viewer got ${received} of ${N}`);
});

test('a fan-out spread over many loop turns keeps each viewer\'s order and survives viewers leaving midway', async () => {
  // One viewer per turn: each update takes 600 loop turns.
  const gwC = await startGateway({ redis, secrets: gwA.secrets, env: { LIVEGATE_FANOUT_SLICE: '1' } });
  await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', 'lg:ev:sku')).split('\n')[1]) >= 3,
    { what: 'the third gateway subscribed' });
  const viewers = [];
  for (let i = 0; i < 600; i += 100) {
    viewers.push(...await Promise.all(Array.from({ length: 100 }, (_, k) =>
      gwC.session({ sub: `turns-${i + k}`, room: 'r6', role: 'viewer' }))));
  }
  const leaving = viewers.filter((_, i) => i % 10 !== 0);
  const staying = viewers.filter((_, i) => i % 10 === 0);
  const N = 100;
  const burst = `for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', 'lg:ev:sku', cjson.encode({room = 'r6', sku_id = 'turns', stock_left = i, on_sale = true, price = 1})) end return 1`;
  // The updates and then the leavers' closes reach a paused gateway, so on
  // resuming it finds them in that order in one poll: the closes land while
  // the fan-outs are in progress.
  gwC.proc.child.kill('SIGSTOP');
  try {
    await redis.cli('EVAL', burst, '0', String(N));
    await sleep(50);
    for (const c of leaving) c.terminate();
    await sleep(100);
  } finally {
    gwC.proc.child.kill('SIGCONT');
  }
  await Promise.all(staying.map((c) => c.next(isUpdate('turns', (m) => m.stock_left === N), 30000)));
  for (const c of staying) {
    const seen = [...c.messages.filter(isUpdate('turns')).map((m) => m.stock_left), N];
    assert.deepEqual(seen, Array.from({ length: N }, (_, i) => i + 1));
  }
  const health = await gwC.http('GET', '/healthz');
  assert.equal(health.status, 200);
  for (const c of staying) c.close();
  await gwC.stop();
  assert.equal(gwC.proc.code, 0, gwC.logs.slice(-5).join('\n'));
});
