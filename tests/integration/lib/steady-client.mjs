// steady-client.mjs - the well-behaved client of abuse.test.mjs, run as a
// process of its own so the abuse the test process generates does not
// slow the measurement down: one authenticated WebSocket session submits
// COUNT orders, one every INTERVAL_MS, and prints one JSON line on stdout:
// { lat: [ms from send to order.accepted, ...], failed: [answers that were
// not order.accepted] }. Every submit must be answered within 10 s.
//
// Environment: LG_URL (ws://...), LG_TOKEN (a viewer token), LG_ROOM,
// LG_SKU, LG_PRICE, LG_COUNT, LG_INTERVAL_MS, LG_TAG (makes the
// client_order_ids unique across runs).
import { performance } from 'node:perf_hooks';
import { connect, validOrder, sleep } from './system.mjs';

const env = process.env;
const count = Number(env.LG_COUNT);
const interval = Number(env.LG_INTERVAL_MS);
const price = Number(env.LG_PRICE);

const c = await connect(env.LG_URL);
c.send({ type: 'auth', token: env.LG_TOKEN });
const ok = await c.next((m) => m.type === 'auth.ok' || m.type === 'error');
if (ok.type !== 'auth.ok') throw new Error(`auth failed: ${JSON.stringify(ok)}`);

const lat = [];
const failed = [];
const answers = [];
const start = performance.now();
for (let i = 0; i < count; i++) {
  // a fixed schedule, not "interval after the last send": a slow gateway
  // must not lower the rate it is measured at
  const due = start + i * interval;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  const order = validOrder({ room_id: env.LG_ROOM, sku_id: env.LG_SKU, unit_price: price, amount: price, client_order_id: `${env.LG_TAG}-${i}` });
  const sent = performance.now();
  c.send(order);
  answers.push(c.next((m) => m.client_order_id === order.client_order_id, 10000).then((m) => {
    if (m.type === 'order.accepted') lat.push(performance.now() - sent);
    else failed.push(m);
  }));
}
await Promise.all(answers);
c.close();
process.stdout.write(`${JSON.stringify({ lat, failed })}\n`);
