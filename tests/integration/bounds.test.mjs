// Issue 12, item 4: nothing grows without bound because of a bad or slow
// client. Against a real redis-server, gateways and validators:
// - a viewer that stops reading has its socket dropped (reset, not a close
//   frame it would never read) once its send queue has stayed at the soft
//   cap for LIVEGATE_SLOW_CLIENT_MS, while a well-behaved client on the
//   same gateway keeps getting its answers; a viewer that stalls but
//   catches up within the window stays connected;
// - the validators trim an order stream only of entries their group has
//   delivered and acknowledged: an old entry pending with a dead worker,
//   or never delivered, survives the trim;
// - a gateway's reply stream keeps what the gateway has not read, however
//   many results arrive while it is stopped, and the gateway trims what it
//   has read;
// - /metrics is rendered at most once a second, from at most 100 rooms,
//   however many scrape at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep, waitFor,
  newSecrets,
} from './lib/system.mjs';
import { REPLY_SCRIPT, replyCall, pipeline } from './lib/replies.mjs';

let redis, secrets;
const isFinal = (m) => (m.type === 'order.confirmed' || m.type === 'order.rejected') && m.order_id;
const isUpdate = (sku) => (m) => m.type === 'sku.update' && m.sku_id === sku;
const logged = (gw, event) => gw.logs.filter((l) => l.includes(`"event":"${event}"`));

// n sku.update events of ~110 bytes for room: 100,000 are 11 MB, past the
// loopback socket buffers (a few MB) and the 1 MiB soft cap.
const FLOOD = `for i = 1, tonumber(ARGV[2]) do redis.call('PUBLISH', 'lg:ev:sku', cjson.encode({room = ARGV[1], sku_id = 'flood', stock_left = i, on_sale = true, price = 1})) end return 1`;
const flood = (room, n) => redis.cli('EVAL', FLOOD, '0', room, String(n));

before(async () => {
  redis = await startRedis();
  secrets = newSecrets();
});
after(stopAll);

async function subscribed(n) {
  await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', 'lg:ev:sku')).split('\n')[1]) >= n,
    { what: `${n} gateways subscribed to lg:ev:sku` });
}

async function submitAndAnswer(c, room) {
  const o = validOrder({ room_id: room });
  c.send(o);
  const acc = await c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id, 15000);
  return c.next((m) => isFinal(m) && m.order_id === acc.order_id, 15000);
}

test('a viewer that stops reading is dropped within the slow-client window; others keep being served', async () => {
  const gw = await startGateway({ redis, secrets, env: { LIVEGATE_SLOW_CLIENT_MS: '1000' } });
  await subscribed(1);
  await setupRoom(gw, 'bq', { skus: { 'sku-1': { name: 'Mug', price: 19900, stock: 1000, limit_per_user: 100, on_sale: true } } });
  await startValidator({ redis });
  const buyer = await gw.session({ sub: 'buyer', room: 'bq', role: 'viewer' });
  const reader = await gw.session({ sub: 'reader', room: 'bf', role: 'viewer' });
  const stalled = await gw.session({ sub: 'stalled', room: 'bf', role: 'viewer' });
  stalled.ws._socket.pause(); // reads nothing from now on
  assert.equal(await gw.metric('livegate_connections'), 3);
  await flood('bf', 100000);
  await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'bf', sku_id: 'after', stock_left: 1, on_sale: true, price: 1 }));
  // Served while the stalled viewer is congested and then dropped.
  const answered = submitAndAnswer(buyer, 'bq');
  await reader.next(isUpdate('after'), 60000);
  // The flood has been queued or refused: the bound is the 1 s window plus
  // lws's next service, with no close handshake to wait on.
  await waitFor(async () => (await gw.metric('livegate_connections')) === 2,
    { timeoutMs: 8000, what: 'the stalled viewer\'s connection gone' });
  assert.equal(logged(gw, 'session.slow').length, 1);
  assert.equal(logged(gw, 'session.dropped').length, 1);
  assert.ok((await answered).order_id);
  assert.ok((await submitAndAnswer(buyer, 'bq')).order_id, 'a submit after the drop is answered');
  // What the client sees once it reads again: the connection reset, no close frame.
  stalled.ws._socket.resume();
  let timer;
  const closed = await Promise.race([stalled.closed,
    new Promise((r) => { timer = setTimeout(() => r(null), 10000); })]);
  clearTimeout(timer);
  if (!closed) stalled.terminate();
  assert.ok(closed, 'the stalled viewer\'s socket was not closed');
  assert.equal(closed.code, 1006);
  assert.equal(reader.ws.readyState, 1, 'the reading viewer is still connected');
  [buyer, reader].forEach((c) => c.close());
});

test('a viewer that stalls but catches up within the window stays connected', async () => {
  const windowMs = 4000;
  const gw = await startGateway({ redis, secrets, env: { LIVEGATE_SLOW_CLIENT_MS: String(windowMs) } });
  await subscribed(2);
  const viewer = await gw.session({ sub: 'late', room: 'bc', role: 'viewer' });
  let got = 0;
  viewer.ws.on('message', () => { got++; });
  viewer.ws._socket.pause();
  await flood('bc', 100000);
  await waitFor(() => logged(gw, 'session.slow').length === 1, { timeoutMs: 30000, what: 'the viewer congested' });
  viewer.ws._socket.resume();
  // Past the window from the moment it congested: had the timer not been
  // cancelled when the queue drained, the socket would be gone by now.
  await sleep(windowMs + 1000);
  await redis.cli('PUBLISH', 'lg:ev:sku', JSON.stringify({ room: 'bc', sku_id: 'later', stock_left: 1, on_sale: true, price: 1 }));
  await viewer.next(isUpdate('later'), 10000);
  assert.equal(viewer.ws.readyState, 1);
  assert.equal(logged(gw, 'session.dropped').length, 0);
  assert.ok(got > 0 && got < 100000, `caught up with ${got} frames, the rest dropped as optional`);
  viewer.close();
});

const here = path.dirname(fileURLToPath(import.meta.url));
async function replyScript() {
  return { sha: await redis.cli('SCRIPT', 'LOAD', REPLY_SCRIPT) };
}

test('a viewer that stops reading while its results pile up is dropped at the 4 MiB cap, not left open without them', async () => {
  // The window is the longest allowed, so the drop can only come from the
  // hard cap: results are never refused for a connection that stays open.
  const { sha } = await replyScript();
  const gw = await startGateway({ redis, secrets, env: { LIVEGATE_GATEWAY_ID: 'gw-bounds-h', LIVEGATE_SLOW_CLIENT_MS: '60000' } });
  const key = 'lg:gw:{gw-bounds-h}:replies';
  const stalled = await gw.session({ sub: 'u-stall', room: 'bh', role: 'viewer' });
  const other = await gw.session({ sub: 'u-other', room: 'bh', role: 'viewer' });
  stalled.ws._socket.pause();
  // 100,000 results of ~250 bytes (25 MB), 250 to an entry: past the
  // socket buffers and the 4 MiB cap.
  const calls = [];
  for (let e = 0; e < 400; e++) {
    const results = [];
    for (let i = 0; i < 250; i++) {
      const n = e * 250 + i;
      results.push({ order_id: `o-pile-${n}`, room: 'bh', user: 'u-stall', status: 'rejected', code: 'OUT_OF_STOCK',
        client_order_id: `c-pile-${n}-padding-padding-padding-padding` });
    }
    calls.push(replyCall(key, results, { sha }));
  }
  calls.push(replyCall(key, [{ order_id: 'o-other-1', room: 'bh', user: 'u-other', status: 'rejected',
    code: 'OUT_OF_STOCK', client_order_id: 'c-other-1' }], { sha }));
  try {
    await pipeline(redis.port, calls);
    await other.next((m) => m.order_id === 'o-other-1', 30000);
    await waitFor(async () => (await gw.metric('livegate_connections')) === 1,
      { timeoutMs: 20000, what: 'the stalled viewer\'s connection gone' });
    assert.ok(logged(gw, 'session.dropped').some((l) => l.includes('send queue full')));
  } finally {
    stalled.ws._socket.resume();
  }
  const closed = await stalled.closed;
  assert.equal(closed.code, 1006);
  other.close();
});

test('the order-stream trim keeps every entry its group has not delivered or not acknowledged, however old', async () => {
  // A Redis of its own: no other validator reads, claims or trims there.
  const redis = await startRedis();
  const room = 'bt';
  const key = `lg:{${room}}:q:normal`;
  // 400 entries from three hours ago, far past a 60 s retention: the group
  // has delivered and acknowledged the first 300, a worker that died has
  // the next 50 pending, and the last 50 were never delivered.
  const base = Date.now() - 3 * 3600 * 1000;
  const ids = Array.from({ length: 400 }, (_, i) => `${base + i}-0`);
  const add = `for i = 1, #ARGV do redis.call('XADD', KEYS[1], ARGV[i], 'order_id', 'o-trim-' .. i, 'user', 'u-trim', 'sku_id', 'sku-1', 'coupon_id', '', 'accepted_at_ms', tostring(math.floor(tonumber(string.match(ARGV[i], '^%d+')))), 'gw', 'gw-none') end return #ARGV`;
  await redis.cli('EVAL', add, '1', key, ...ids);
  await redis.cli('XGROUP', 'CREATE', key, 'lg-validators', '0');
  await redis.cli('XREADGROUP', 'GROUP', 'lg-validators', 'dead-worker', 'COUNT', '350', 'STREAMS', key, '>');
  await redis.cli('XACK', key, 'lg-validators', ...ids.slice(0, 300));
  await redis.cli('ZADD', 'lg:rooms:active', String(Date.now()), room);
  const pending = ids.slice(300, 350), undelivered = ids.slice(350);
  // Its first trim comes before its first read; the dead worker's entries
  // are not claimed during the test.
  const v = await startValidator({ redis, env: { LIVEGATE_STREAM_RETENTION_MS: '60000', LIVEGATE_CLAIM_IDLE_MS: '60000' } });
  await waitFor(async () => Number(await redis.cli('XLEN', key)) < 400, { what: 'the answered entries trimmed' });
  // Every undelivered entry was still there to be read after the trim (its
  // order record does not exist, which the validator reports per entry).
  await waitFor(() => undelivered.every((id) => v.logs.some((l) => l.includes('"event":"validator.entry_dropped"') && l.includes(id))),
    { what: 'every undelivered entry read by the validator' });
  const left = (await redis.cli('XRANGE', key, '-', '+')).split('\n');
  for (const id of pending) assert.ok(left.includes(id), `pending entry ${id} was trimmed`);
  assert.ok(!left.includes(ids[0]), 'the oldest answered entry is trimmed');
  await v.stop();
});

test('results a stopped gateway has not read are all delivered when it resumes, and it trims what it read', async () => {
  // More entries than the reply stream's old cap (MAXLEN ~ 1000), written
  // as validators write them: reply.lua with the cap of queue/result_layout.h. A real
  // validator packs a batch into one entry, so 1,500 entries would take
  // 1,500 batches; the script is called directly instead.
  const { sha } = await replyScript();
  const maxlen = readFileSync(path.join(here, '../../queue/result_layout.h'), 'utf8')
    .match(/#define LG_REPLY_STREAM_MAXLEN "(\d+)"/)[1];
  const gw = await startGateway({ redis, secrets, env: { LIVEGATE_GATEWAY_ID: 'gw-bounds-r' } });
  const key = 'lg:gw:{gw-bounds-r}:replies';
  const viewer = await gw.session({ sub: 'u-many', room: 'br', role: 'viewer' });
  const N = 1500;
  const calls = Array.from({ length: N }, (_, i) => replyCall(key, [{ order_id: `o-many-${i}`, room: 'br',
    user: 'u-many', status: 'rejected', code: 'OUT_OF_STOCK', client_order_id: `c-many-${i}` }], { sha, maxlen }));
  gw.proc.child.kill('SIGSTOP');
  try {
    await pipeline(redis.port, calls);
    assert.equal(Number(await redis.cli('XLEN', key)), N, 'every entry kept while the gateway is stopped');
  } finally {
    gw.proc.child.kill('SIGCONT');
  }
  const got = new Set();
  await waitFor(() => {
    for (const m of viewer.messages) if (m.type === 'order.rejected' && m.order_id?.startsWith('o-many-')) got.add(m.order_id);
    viewer.messages.length = 0;
    return got.size === N;
  }, { timeoutMs: 30000, what: `all ${N} results delivered (so far ${got.size})` });
  // What was read goes: at most a stream node's worth (100 entries) waits.
  await waitFor(async () => Number(await redis.cli('XLEN', key)) <= 100, { what: 'the read entries trimmed' });
  viewer.close();
});

test('/metrics: concurrent scrapes share one refresh of at most 100 rooms; a scrape a second later sees new figures', async () => {
  // A Redis of its own: nothing else calls ZRANGE or scripts there.
  const own = await startRedis();
  const gw = await startGateway({ redis: own, secrets });
  await own.cli('ZADD', 'lg:rooms:active', ...Array.from({ length: 150 }, (_, i) => [String(i), `mr-${i}`]).flat());
  const calls = async (cmd) => {
    const m = (await own.cli('INFO', 'commandstats')).match(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`));
    return m ? Number(m[1]) : 0;
  };
  const before = { zrange: await calls('zrange'), evalsha: await calls('evalsha') };
  const scrapes = await Promise.all(Array.from({ length: 20 }, () => gw.http('GET', '/metrics')));
  assert.ok(scrapes.every((r) => r.status === 200));
  // The refresh's own commands show in livegate_redis_commands_total: a
  // second refresh would have changed the body.
  assert.ok(scrapes.every((r) => r.text === scrapes[0].text), 'every scrape got the same document');
  assert.match(scrapes[0].text, /livegate_queue_depth\{priority="normal"\} 0/);
  const mid = { zrange: await calls('zrange'), evalsha: await calls('evalsha') };
  assert.equal(mid.zrange - before.zrange, 1, 'one refresh');
  const rooms = mid.evalsha - before.evalsha;
  assert.ok(rooms >= 100 && rooms < 110, `one stats read per room, 100 rooms at most: ${rooms}`);
  // Past the second, the next scrape renders again.
  await sleep(1100);
  const later = await gw.http('GET', '/metrics');
  assert.equal(later.status, 200);
  assert.notEqual(later.text, scrapes[0].text);
  assert.equal((await calls('zrange')) - mid.zrange, 1, 'a second refresh');
});
