// Issue 11 (burst): a room's sku.update frames must reach a viewer together,
// not one SKU at a time. Against a real redis-server, gateway and validator:
// (a) every SKU gate opens on the same whole second, so a room's SKUs that
// keep changing are published together, still at most once a second each;
// (b) fan-out slices yield to the loop between them (with
// libuv 1.44 a 0 ms timer restarted in its own callback runs again in the
// same timer phase, so slices on such a timer never let I/O in), and a
// room's events that wait are delivered in one pass over its viewers, so
// each viewer gets them in one send (one TCP chunk).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep, waitFor,
  newSecrets,
} from './lib/system.mjs';

let redis, gw;
const UPDATE = Buffer.from('"type":"sku.update"');

// Records, for each sku.update, when it came and in which TCP chunk: the
// gateway's frames for a viewer from one send arrive (on loopback) in one.
function tap(c) {
  const seen = [];
  let chunk = 0;
  c.ws._socket.prependListener('data', (d) => {
    chunk++;
    let n = 0;
    for (let i = d.indexOf(UPDATE); i >= 0; i = d.indexOf(UPDATE, i + 1)) n++;
    if (n) seen.push({ chunk, n });
  });
  const updates = [];
  c.ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.type === 'sku.update') updates.push({ ...m, at: Date.now(), chunk });
  });
  return { chunks: seen, updates };
}

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis, secrets: newSecrets() });
  await startValidator({ redis });
  await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', 'lg:ev:sku')).split('\n')[1]) >= 1,
    { what: 'the gateway subscribed to lg:ev:sku' });
});
after(stopAll);

test('a big fan-out yields to the loop between slices; a room\'s waiting events go out in one pass, one send per viewer', async () => {
  // 10 frames a slice: a fan-out of 60 events to 1,000 viewers takes
  // 1,000 loop turns. A second room's 5 events wait behind it, merged into
  // one pass over that room's viewers, so each of them gets them in one
  // send although the room takes several slices.
  const gwS = await startGateway({ redis, secrets: gw.secrets, env: { LIVEGATE_FANOUT_SLICE: '10' } });
  await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', 'lg:ev:sku')).split('\n')[1]) >= 2,
    { what: 'the second gateway subscribed' });
  const big = [];
  for (let i = 0; i < 1000; i += 100) {
    big.push(...await Promise.all(Array.from({ length: 100 }, (_, k) =>
      gwS.session({ sub: `big-${i + k}`, room: 'rbig', role: 'viewer' }))));
  }
  const viewers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    gwS.session({ sub: `merge-${i}`, room: 'rm', role: 'viewer' })));
  const taps = viewers.map(tap);
  const N = 5;
  const burst = `for i = 1, 60 do redis.call('PUBLISH', 'lg:ev:sku', cjson.encode({room = 'rbig', sku_id = 'b', stock_left = i, on_sale = true, price = 1})) end return 1`;
  const queuedBefore = await gwS.metric('livegate_sku_updates_total');
  // Paused, the gateway finds all of it at once when it resumes: the big
  // room's 60 events, the small room's 5 (sent one by one) and a /metrics
  // request, which it reads a few turns later.
  gwS.proc.child.kill('SIGSTOP');
  let scrape;
  try {
    await redis.cli('EVAL', burst, '0');
    for (let i = 1; i <= N; i++) {
      await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'rm', sku_id: `s${i}`, stock_left: i, on_sale: true, price: 1 }));
    }
    scrape = gwS.http('GET', '/metrics');
    await sleep(100);
  } finally {
    gwS.proc.child.kill('SIGCONT');
  }
  // The slices yield to the loop: the request is answered long before the
  // big fan-out has been queued, not after it.
  const text = (await scrape).text;
  const queued = Number(text.match(/^livegate_sku_updates_total (\d+)$/m)[1]) - queuedBefore;
  assert.ok(queued < 60 * big.length / 2, `${queued} of ${60 * big.length} frames queued when /metrics was answered`);
  const bigDone = Promise.all(big.map((c) => c.next((m) => m.type === 'sku.update' && m.stock_left === 60, 60000)));
  await Promise.all(viewers.map((c) => c.next((m) => m.type === 'sku.update' && m.sku_id === `s${N}`, 30000)));
  for (const t of taps) {
    assert.deepEqual(t.updates.map((m) => m.sku_id), ['s1', 's2', 's3', 's4', 's5'], 'in publish order');
    assert.deepEqual(t.chunks, [{ chunk: t.chunks[0].chunk, n: N }], `one chunk for all ${N}: ${JSON.stringify(t.chunks)}`);
  }
  await bigDone;
  for (const c of [...viewers, ...big]) c.close();
  await gwS.stop();
  assert.equal(gwS.proc.code, 0, gwS.logs.slice(-5).join('\n'));
});

test('a room\'s busy SKUs are published together on the second boundary, each at most once a second', async () => {
  const skus = ['ka', 'kb', 'kc'];
  await setupRoom(gw, 'ra', {
    skus: Object.fromEntries(skus.map((s) => [s, { name: s, price: 100, stock: 100000, limit_per_user: 100000, on_sale: true }])),
  });
  const viewer = await gw.session({ sub: 'aligned-viewer', room: 'ra', role: 'viewer' });
  // Let the set-up's own updates go by.
  await sleep(2500);
  const t = tap(viewer);
  const buyers = await Promise.all(skus.map((s) => gw.session({ sub: `aligned-${s}`, room: 'ra', role: 'viewer' })));
  // Each SKU starts changing at its own moment of a second (so each one's
  // first publish, which needs no gate, is at its own moment), then keeps
  // changing every ~100 ms for 4 s.
  const stop = Date.now() + 4000;
  const pending = [];
  await Promise.all(skus.map(async (sku, k) => {
    await sleep(300 * k);
    while (Date.now() < stop) {
      const o = validOrder({ room_id: 'ra', sku_id: sku, unit_price: 100, amount: 100 });
      buyers[k].send(o);
      pending.push(buyers[k].next((m) => m.client_order_id === o.client_order_id && m.type === 'order.accepted', 10000));
      await sleep(100);
    }
  }));
  await Promise.all(pending);
  await sleep(2500); // the trailing publishes
  const ups = t.updates;
  // At most once a second per SKU (a margin for delivery jitter).
  for (const s of skus) {
    const at = ups.filter((m) => m.sku_id === s).map((m) => m.at);
    assert.ok(at.length >= 3, `${s}: ${at.length} updates`);
    for (let i = 1; i < at.length; i++) assert.ok(at[i] - at[i - 1] >= 700, `${s} twice in ${at[i] - at[i - 1]} ms`);
  }
  // After each SKU's first (immediate) publish, the updates come in groups,
  // one per second boundary, the busy SKUs together.
  const firsts = new Set(skus.map((s) => ups.find((m) => m.sku_id === s)));
  const gated = ups.filter((m) => !firsts.has(m));
  const groups = [];
  for (const m of gated) {
    const g = groups.at(-1);
    if (g && m.at - g[0].at < 300) g.push(m);
    else groups.push([m]);
  }
  const detail = JSON.stringify(ups.map(({ sku_id, at, chunk }) => ({ sku_id, at, chunk })));
  // (A retry that lands over 250 ms late is gated to the boundary after, so
  // on a loaded machine a group may miss a SKU; unaligned gates never group.)
  const full = groups.filter((g) => g.length >= 2);
  for (const g of groups) {
    assert.ok(g.at(-1).at - g[0].at <= 150, `a group spread over ${g.at(-1).at - g[0].at} ms: ${detail}`);
    assert.equal(new Set(g.map((m) => m.sku_id)).size, g.length, `a SKU twice in a group: ${detail}`);
  }
  assert.ok(full.length >= 2, `${full.length} groups of 2 or more SKUs: ${detail}`);
  // And the gateway merged such a group into one send at least once.
  assert.ok(full.some((g) => g.every((m) => m.chunk === g[0].chunk)), `no group in one chunk: ${detail}`);
  for (const c of [viewer, ...buyers]) c.close();
});
