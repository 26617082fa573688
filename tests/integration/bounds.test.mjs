// Issue 12, item 4: nothing grows without bound because of a bad or slow
// client. Against a real redis-server, gateways and validators:
// - a viewer that stops reading has its socket dropped (reset, not a close
//   frame it would never read) once its send queue has stayed at the soft
//   cap for LIVEGATE_SLOW_CLIENT_MS, while a well-behaved client on the
//   same gateway keeps getting its answers; a viewer that stalls but
//   catches up within the window stays connected;
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep, waitFor,
  newSecrets,
} from './lib/system.mjs';

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
