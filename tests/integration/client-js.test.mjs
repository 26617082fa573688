// clients/js (@livegate/client) against the real system: redis-server, the
// gateway and the validator binaries. The WebSocket handed to the client is
// the `ws` package's, wrapped only to record what went over the wire and
// when, so the tests check the frames themselves, not the client's word:
// (a) submit -> accepted -> confirmed, with a generated client_order_id,
// and the sku.update that follows;
// (b) RATE_LIMITED (the per-user rate) and BUSY (admission with no
// validator) are retried no sooner than retry_after_ms, with the same frame;
// (c) a gateway killed (SIGKILL) after accepting a submit, and (d) one
// killed while the submit waits for Redis: a new gateway on the port, the
// client reconnects with a fresh token, resubmits the same client_order_id
// and the result arrives once, with the stock taken once;
// (e) order.query recovery of tracked orders after a reconnect, and
// order.status pushes; (f) the monitor API: stats, feed and order.update;
// (g) a refused token ends the client, and a token callback that hangs is
// given up on; (h) the gateway serves the package
// to browsers at /static/vendor/livegate-client.js, byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startRedis, startGateway, startValidator, stopAll, setupRoom, sleep, waitFor, newSecrets, WebSocket,
} from './lib/system.mjs';
import { LivegateClient, LivegateError, VERSION } from '../../clients/js/index.js';

const ADDRESS = {
  name: '张三', phone: '13800138000', province: '浙江省', city: '杭州市',
  district: '西湖区', detail: '文三路 1 号', postal_code: '310000',
};
const TEA = { name: 'Tea', price: 19900, stock: 1000, limit_per_user: 1000, on_sale: true };

let redis;
// Every client made here, closed at the end even when a test failed
// half-way: a client left open keeps reconnecting, and the file running.
const clients = [];
before(async () => { redis = await startRedis(); });
after(async () => {
  for (const c of clients) c.close();
  await stopAll();
});

// A `ws` WebSocket that logs every frame it sends and receives, with the
// time, into wire (shared by every connection the client opens).
function recordingWebSocket(wire) {
  return class extends WebSocket {
    constructor(url, ...rest) {
      super(url, ...rest);
      wire.opened = (wire.opened ?? 0) + 1;
      this.addEventListener('message', (ev) => {
        wire.push({ dir: 'in', at: Date.now(), frame: JSON.parse(ev.data) });
      });
    }

    send(data, ...rest) {
      wire.push({ dir: 'out', at: Date.now(), frame: JSON.parse(data) });
      return super.send(data, ...rest);
    }
  };
}

function newClient(gwOrUrl, tokenFn, wire, opts = {}) {
  const url = typeof gwOrUrl === 'string' ? gwOrUrl : gwOrUrl.wsUrl;
  const client = new LivegateClient({
    url, token: tokenFn, WebSocket: recordingWebSocket(wire),
    reconnect: { baseMs: 100, maxMs: 800 }, ...opts,
  });
  clients.push(client);
  const events = [];
  for (const type of ['accepted', 'confirmed', 'rejected', 'status', 'sku.update', 'order.state', 'retry',
    'connection', 'auth', 'stats', 'feed', 'updated', 'error']) {
    client.on(type, (e) => events.push({ type, at: Date.now(), e }));
  }
  return { client, events, of: (type) => events.filter((x) => x.type === type).map((x) => x.e) };
}

const out = (wire, type) => wire.filter((w) => w.dir === 'out' && w.frame.type === type);
const inc = (wire, pred) => wire.filter((w) => w.dir === 'in' && pred(w.frame));
const tea = (extra = {}) => ({ sku_id: 'sku-1', qty: 1, unit_price: 19900, payment_method: 'alipay', address: ADDRESS, ...extra });

test('(a) submit: a generated client_order_id, an accepted event, and the confirmed result', async () => {
  assert.equal(VERSION, JSON.parse(readFileSync(new URL('../../clients/js/package.json', import.meta.url))).version);
  const gw = await startGateway({ redis });
  await setupRoom(gw, 'ca', { skus: { 'sku-1': TEA } });
  const v = await startValidator({ redis });
  const wire = [];
  let tokens = 0;
  const { client, of } = newClient(gw, () => { tokens += 1; return gw.token({ sub: 'buyer-a', room: 'ca', role: 'viewer' }); }, wire);
  const auth = await client.connect();
  assert.equal(auth.type, 'auth.ok');
  assert.equal(auth.room_id, 'ca');
  assert.equal(tokens, 1);
  assert.equal(client.state, 'open');

  const result = await client.submit(tea({ qty: 2 }));
  assert.equal(result.type, 'order.confirmed');
  assert.equal(result.status, 'pending_payment');
  assert.equal(result.amount, 39800, 'amount defaults to unit_price * qty');
  assert.match(result.client_order_id, /^c-[0-9a-f-]{36}$/);
  const [sent] = out(wire, 'order.submit');
  assert.equal(sent.frame.client_order_id, result.client_order_id);
  assert.equal(sent.frame.room_id, 'ca', 'room_id defaults to the session\'s room');
  assert.equal(sent.frame.currency, 'CNY');
  assert.equal(sent.frame.coupon_id, null);
  const [accepted] = of('accepted');
  assert.equal(accepted.client_order_id, result.client_order_id);
  assert.equal(accepted.order_id, result.order_id);
  assert.equal(accepted.duplicate, false);
  assert.deepEqual(of('confirmed').map((r) => r.order_id), [result.order_id]);
  assert.deepEqual(client.inFlight, []);

  // A broken rule is a final result too (no order_id), not an exception.
  const bad = await client.submit(tea({ address: { ...ADDRESS, phone: '12345' } }));
  assert.equal(bad.type, 'order.rejected');
  assert.equal(bad.code, 'INVALID_FIELD');
  assert.equal(bad.field, 'address.phone');
  assert.equal(bad.order_id, undefined);
  // The same client_order_id with another body: refused, nothing ordered.
  await assert.rejects(client.submit(tea({ client_order_id: result.client_order_id, qty: 3 })),
    (e) => e instanceof LivegateError && e.code === 'IDEMPOTENCY_CONFLICT');
  // A client_order_id that is no ID never leaves the client.
  const before = out(wire, 'order.submit').length;
  await assert.rejects(client.submit(tea({ client_order_id: 'bad id' })), TypeError);
  assert.equal(out(wire, 'order.submit').length, before);
  // Resubmitting the same order (same id, same body) is the same order:
  // the gateway answers a duplicate and the result comes again.
  const again = await client.submit(tea({ client_order_id: result.client_order_id, qty: 2 }));
  assert.equal(again.order_id, result.order_id);
  assert.equal(of('accepted').at(-1).duplicate, true);
  assert.equal(of('confirmed').length, 1, 'the replayed result is announced once');
  assert.equal((await redis.cli('HGET', 'lg:{ca}:sku:sku-1', 'stock')).trim(), '998');
  // The viewer hears the stock change (coalesced: at most a second late).
  const update = await waitFor(() => of('sku.update').find((u) => u.stock_left === 998), { what: 'sku.update' });
  assert.deepEqual([update.room_id, update.sku_id, update.on_sale, update.price], ['ca', 'sku-1', true, 19900]);
  client.close();
  assert.equal(client.state, 'closed');
  await v.stop();
  await gw.stop();
});

test('(b) RATE_LIMITED and BUSY are retried no sooner than retry_after_ms, with the same client_order_id', async () => {
  // The per-user rate: 1 a second, bursts of 1. The second submit is refused.
  const gw = await startGateway({ redis, env: { LIVEGATE_USER_RATE: '1', LIVEGATE_USER_BURST: '1', LIVEGATE_ADMIT_STALL_MS: '300' } });
  await setupRoom(gw, 'cb', { skus: { 'sku-1': TEA } });
  await setupRoom(gw, 'cb2', { skus: { 'sku-1': TEA } });
  let v = await startValidator({ redis });
  const wire = [];
  const { client, of } = newClient(gw, () => gw.token({ sub: 'buyer-b', room: 'cb', role: 'viewer' }), wire);
  await client.connect();
  const [r1, r2] = await Promise.all([client.submit(tea()), client.submit(tea())]);
  assert.equal(r1.type, 'order.confirmed');
  assert.equal(r2.type, 'order.confirmed');
  const limited = inc(wire, (m) => m.type === 'error' && m.code === 'RATE_LIMITED');
  assert.ok(limited.length >= 1, 'the second submit was refused RATE_LIMITED first');
  for (const refusal of limited) {
    const coid = refusal.frame.ref;
    assert.ok(refusal.frame.retry_after_ms >= 50, `retry_after_ms ${refusal.frame.retry_after_ms}`);
    // Strictly after: the submit the refusal answers can be logged in the
    // same millisecond as the refusal, and a resend comes 50 ms later at least.
    const resend = out(wire, 'order.submit').find((w) => w.frame.client_order_id === coid && w.at > refusal.at);
    assert.ok(resend, 'resent');
    assert.ok(resend.at - refusal.at >= refusal.frame.retry_after_ms,
      `resent ${resend.at - refusal.at} ms after a retry_after_ms of ${refusal.frame.retry_after_ms}`);
    const first = out(wire, 'order.submit').find((w) => w.frame.client_order_id === coid);
    assert.deepEqual(resend.frame, first.frame, 'the very same frame');
  }
  const retries = of('retry').filter((r) => r.code === 'RATE_LIMITED');
  assert.equal(retries.length, limited.length);
  assert.ok(retries.every((r) => r.delay_ms >= r.retry_after_ms));
  client.close();

  // BUSY: no validator, and a backlog with no decision for the stall
  // (300 ms): admission refuses every new order until decisions flow again.
  await v.stop();
  const wire2 = [];
  const busyRoom = newClient(gw, () => gw.token({ sub: 'buyer-b2', room: 'cb2', role: 'viewer' }), wire2);
  const c2 = busyRoom.client;
  await c2.connect();
  const backlog = c2.submit(tea());
  await waitFor(() => busyRoom.of('accepted').length === 1, { what: 'the backlog order accepted' });
  await sleep(1100); // past the stall, and a token back for the per-user rate
  const refusedOnce = c2.submit(tea());
  const busy = await waitFor(() => inc(wire2, (m) => m.type === 'error' && m.code === 'BUSY')[0],
    { timeoutMs: 5000, what: 'BUSY' });
  v = await startValidator({ redis });
  const [rb, rr] = await Promise.all([backlog, refusedOnce]);
  assert.equal(rb.type, 'order.confirmed');
  assert.equal(rr.type, 'order.confirmed');
  assert.equal(rr.client_order_id, busy.frame.ref);
  for (const refusal of inc(wire2, (m) => m.type === 'error' && (m.code === 'BUSY' || m.code === 'RATE_LIMITED'))) {
    const resend = out(wire2, 'order.submit').find((w) => w.frame.client_order_id === refusal.frame.ref && w.at > refusal.at);
    assert.ok(resend, `resent after ${refusal.frame.code}`);
    assert.ok(resend.at - refusal.at >= refusal.frame.retry_after_ms,
      `${refusal.frame.code}: resent ${resend.at - refusal.at} ms after a retry_after_ms of ${refusal.frame.retry_after_ms}`);
  }
  assert.ok(busyRoom.of('retry').some((r) => r.code === 'BUSY' && r.client_order_id === rr.client_order_id));
  c2.close();
  await v.stop();
  await gw.stop();
});

test('(b2) retries stop after maxRetries: the submit rejects with the refusal\'s code and retry_after_ms', async () => {
  const gw = await startGateway({ redis, env: { LIVEGATE_USER_RATE: '1', LIVEGATE_USER_BURST: '1' } });
  await setupRoom(gw, 'cb3', { skus: { 'sku-1': TEA } });
  const wire = [];
  const { client } = newClient(gw, () => gw.token({ sub: 'buyer-b3', room: 'cb3', role: 'viewer' }), wire, { maxRetries: 0 });
  await client.connect();
  const first = client.submit(tea());
  const second = client.submit(tea());
  await assert.rejects(second, (e) => e instanceof LivegateError && e.code === 'RATE_LIMITED' && e.retryAfterMs >= 50);
  assert.equal(out(wire, 'order.submit').length, 2, 'with maxRetries 0, nothing is sent again');
  client.close();
  await assert.rejects(first, (e) => e.code === 'CLOSED'); // no validator: still waiting for its result
  await gw.stop();
});

// One buyer, a gateway on a fixed port that dies with SIGKILL at the moment
// kill() chooses, then a new gateway on that port and a validator.
async function killAndReconnect(room, user, kill, prepare = async () => {}) {
  const secrets = newSecrets();
  let gw = await startGateway({ redis, secrets });
  const port = gw.port;
  await setupRoom(gw, room, { skus: { 'sku-1': TEA } });
  const wire = [];
  let tokens = 0;
  const url = gw.wsUrl;
  const fresh = () => {
    tokens += 1;
    return gw.token({ sub: user, room, role: 'viewer' });
  };
  const { client, of } = newClient(url, fresh, wire);
  await client.connect();
  await prepare();
  const pending = client.submit(tea({ qty: 3 }));
  await kill(gw, wire, of);
  await gw.kill9();
  // The client notices at once (the kernel closes the dead process's
  // sockets) and keeps trying while nothing listens on the port.
  await waitFor(() => client.state !== 'open', { what: 'the client noticing the dead gateway' });
  gw = await startGateway({ redis, secrets, port });
  const v = await startValidator({ redis });
  const result = await pending;
  await sleep(700); // room for a second result, which must not come
  return { gw, v, client, of, wire, result, tokens };
}

async function assertOnce({ client, of, wire, result, tokens, gw, v }, room) {
  assert.equal(result.type, 'order.confirmed');
  const submits = out(wire, 'order.submit');
  assert.ok(submits.length >= 2, 'resubmitted after the reconnect');
  assert.ok(submits.every((w) => w.frame.client_order_id === result.client_order_id), 'with the same client_order_id');
  assert.ok(submits.every((w) => JSON.stringify(w.frame) === JSON.stringify(submits[0].frame)), 'byte for byte');
  assert.ok(wire.opened >= 2, 'a second connection');
  assert.ok(tokens >= 2, 'a fresh token for the new connection');
  assert.deepEqual(of('confirmed').map((r) => r.client_order_id), [result.client_order_id], 'one confirmed event');
  const results = inc(wire, (m) => (m.type === 'order.confirmed' || m.type === 'order.rejected')
    && m.client_order_id === result.client_order_id);
  assert.equal(results.length, 1, 'one result frame on the wire');
  // One order: the stock was taken once, and the user holds 3.
  assert.equal((await redis.cli('HGET', `lg:{${room}}:sku:sku-1`, 'stock')).trim(), '997');
  const orders = (await redis.cli('KEYS', `lg:{${room}}:order:*`)).split('\n').filter(Boolean);
  assert.deepEqual(orders, [`lg:{${room}}:order:${result.order_id}`], 'one order');
  const stored = await gw.http('GET', `/v1/orders/${result.order_id}`, { token: gw.token({ sub: 'admin', room: '*', role: 'admin' }) });
  assert.equal(stored.json.client_order_id, result.client_order_id);
  assert.equal(stored.json.status, 'pending_payment');
  assert.deepEqual(client.inFlight, []);
  client.close();
  await v.stop();
  await gw.stop();
}

test('(c) a gateway killed after accepting the submit: reconnect, resubmit, the result arrives once', async () => {
  const run = await killAndReconnect('cc', 'buyer-c', async (gw, wire, of) => {
    await waitFor(() => of('accepted').length === 1, { what: 'order.accepted' });
  });
  const accepted = inc(run.wire, (m) => m.type === 'order.accepted');
  assert.equal(accepted.length, 2);
  assert.equal(accepted[0].frame.duplicate, false);
  assert.equal(accepted[1].frame.duplicate, true, 'the resubmit is answered as a duplicate');
  assert.equal(accepted[1].frame.order_id, run.result.order_id);
  await assertOnce(run, 'cc');
});

test('(d) a gateway killed while the submit waits for Redis: reconnect, resubmit, the result arrives once', async () => {
  const run = await killAndReconnect('cd', 'buyer-d', async (gw, wire) => {
    await waitFor(() => out(wire, 'order.submit').length === 1, { what: 'the submit sent' });
    await sleep(100);
    assert.equal(inc(wire, (m) => m.type === 'order.accepted').length, 0, 'not answered yet');
  }, async () => {
    // Redis holds the writes, so the submit is on the gateway, unanswered,
    // when the gateway dies.
    await redis.cli('CLIENT', 'PAUSE', '1500', 'WRITE');
  });
  await assertOnce(run, 'cd');
});

test('(e) order.query recovery after a reconnect, and order.status pushes', async () => {
  const secrets = newSecrets();
  let gw = await startGateway({ redis, secrets });
  const port = gw.port;
  await setupRoom(gw, 'ce', { skus: { 'sku-1': TEA } });
  const v = await startValidator({ redis });
  const admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
  // An order placed by an earlier page load: only its id is known.
  const earlier = newClient(gw, () => gw.token({ sub: 'buyer-e', room: 'ce', role: 'viewer' }), []);
  const placed = await earlier.client.submit(tea());
  earlier.client.close();

  const wire = [];
  const { client, of } = newClient(gw.wsUrl, () => gw.token({ sub: 'buyer-e', room: 'ce', role: 'viewer' }), wire);
  client.track([placed.client_order_id, 'c-never-placed']);
  await client.connect();
  const firstStates = await waitFor(() => of('order.state').length >= 2 && of('order.state'), { what: 'order.state after auth' });
  assert.deepEqual(firstStates.map((s) => [s.client_order_id, s.status]).sort(),
    [[placed.client_order_id, 'pending_payment'], ['c-never-placed', 'unknown']].sort());
  assert.deepEqual([...client.tracked.keys()], [placed.client_order_id], 'an unknown order is no longer asked for');

  // Paid while the client is away (the gateway restarts): order.query after
  // the reconnect tells.
  await gw.stop();
  const operator = await (async () => {
    gw = await startGateway({ redis, secrets, port });
    return gw.session({ sub: 'op-e', room: 'ce', role: 'operator' });
  })();
  // the client may be connected again already; pay the order on the side
  // of another connection and wait for the client to hear it either way
  operator.send({ type: 'order.update', req: 'u1', order_id: placed.order_id, status: 'paid' });
  assert.equal((await operator.next((m) => m.req === 'u1')).type, 'order.updated');
  await waitFor(() => client.state === 'open', { what: 'reconnected' });
  await waitFor(() => of('status').some((s) => s.status === 'paid')
    || of('order.state').some((s) => s.status === 'paid'), { what: 'paid, pushed or queried' });
  const queriesAfterAuth = out(wire, 'order.query').length;
  assert.ok(queriesAfterAuth >= 2, `order.query after each auth.ok: ${queriesAfterAuth}`);
  // A query asked now says so too.
  const [state] = await client.query([placed.client_order_id]);
  assert.equal(state.status, 'paid');
  assert.equal(client.tracked.get(placed.client_order_id), 'paid');

  // A push while connected: the operator ships the order.
  operator.send({ type: 'order.update', req: 'u2', order_id: placed.order_id, status: 'shipped' });
  const shipped = await waitFor(() => of('status').find((s) => s.status === 'shipped'), { what: 'order.status shipped' });
  assert.equal(shipped.client_order_id, placed.client_order_id);
  assert.equal(shipped.order_id, placed.order_id);
  operator.close();
  const stored = await gw.http('GET', `/v1/orders/${placed.order_id}`, { token: admin });
  assert.equal(stored.json.status, 'shipped');
  client.close();
  await v.stop();
  await gw.stop();
});

test('(f) the monitor API: stats, the feed and order.update, resubscribed after a reconnect', async () => {
  const secrets = newSecrets();
  let gw = await startGateway({ redis, secrets });
  const port = gw.port;
  await setupRoom(gw, 'cf', { skus: { 'sku-1': TEA } });
  const v = await startValidator({ redis });
  const wire = [];
  const mon = newClient(gw.wsUrl, () => gw.token({ sub: 'op-f', room: 'cf', role: 'operator' }), wire);
  const first = await mon.client.subscribeMonitor('cf');
  assert.equal(first.type, 'monitor.stats');
  assert.equal(first.room_id, 'cf');
  assert.equal(first.req, out(wire, 'monitor.subscribe')[0].frame.req, 'the stats frame that answers the subscribe');
  await assert.rejects(mon.client.subscribeMonitor('other-room'), (e) => e.code === 'FORBIDDEN');

  const buyer = newClient(gw, () => gw.token({ sub: 'buyer-f', room: 'cf', role: 'viewer' }), []);
  const placed = await buyer.client.submit(tea());
  // the refused subscribe changed nothing: the feed of cf goes on
  const placed2 = await buyer.client.submit(tea());
  const feed = await waitFor(() => mon.of('feed').find((f) => f.order_id === placed2.order_id && f.status === 'pending_payment'),
    { what: 'the decision in the feed' });
  assert.equal(feed.buyer, '张*');
  assert.equal(feed.phone, '138****8000');
  await waitFor(() => mon.of('stats').some((s) => s.orders.confirmed >= 2), { what: 'stats counting the orders' });

  const updated = await mon.client.updateOrder(placed.order_id, 'paid');
  assert.deepEqual([updated.type, updated.order_id, updated.status], ['order.updated', placed.order_id, 'paid']);
  await assert.rejects(mon.client.updateOrder(placed.order_id, 'delivered'),
    (e) => e instanceof LivegateError && e.code === 'INVALID_TRANSITION');
  await assert.rejects(mon.client.updateOrder('o-none', 'paid'), (e) => e.code === 'NOT_FOUND');
  await waitFor(() => buyer.of('status').some((s) => s.order_id === placed.order_id && s.status === 'paid'),
    { what: 'the buyer told' });

  // After a restart the subscription comes back by itself.
  await gw.stop();
  gw = await startGateway({ redis, secrets, port });
  await waitFor(() => out(wire, 'monitor.subscribe').length >= 3, { what: 'subscribed again' });
  const seen = mon.of('stats').length;
  await waitFor(() => mon.of('stats').length > seen + 1, { what: 'stats flowing again' });
  const placed3 = await buyer.client.submit(tea());
  await waitFor(() => mon.of('feed').some((f) => f.order_id === placed3.order_id), { what: 'the feed again' });
  buyer.client.close();
  mon.client.close();
  await v.stop();
  await gw.stop();
});

test('(g) a token refused at auth ends the client; submits waiting are rejected UNAUTHORIZED', async () => {
  const gw = await startGateway({ redis });
  let calls = 0;
  const wire = [];
  const { client, of } = newClient(gw, () => {
    calls += 1;
    return gw.token({ sub: 'x', room: 'cg', role: 'viewer' }, { badSig: true });
  }, wire);
  const pending = client.submit(tea());
  await assert.rejects(client.connect(), (e) => e.code === 'UNAUTHORIZED');
  await assert.rejects(pending, (e) => e.code === 'UNAUTHORIZED');
  assert.equal(client.state, 'unauthorized');
  assert.equal(calls, 2, 'a token callback gets one more chance with a fresh token (authRetries 1)');
  assert.equal(out(wire, 'order.submit').length, 0);
  assert.ok(of('connection').some((c) => c.state === 'unauthorized'));
  await sleep(500);
  assert.equal(wire.opened, 2, 'no more attempts');
  await gw.stop();
});

test('(g2) a token callback that never answers counts as a failed attempt; the next one connects', async () => {
  const gw = await startGateway({ redis });
  let calls = 0;
  const wire = [];
  const { client, of } = newClient(gw, () => {
    calls += 1;
    return calls === 1 ? new Promise(() => {}) : gw.token({ sub: 'slow', room: 'cg', role: 'viewer' });
  }, wire, { connectTimeoutMs: 300 });
  const ok = await client.connect();
  assert.equal(ok.type, 'auth.ok');
  assert.equal(calls, 2);
  assert.equal(wire.opened, 1, 'no socket without a token');
  assert.ok(of('error').some((e) => e.code === 'TOKEN'), 'the app hears of it');
  client.close();
  await gw.stop();
});

test('(h) the gateway serves the package at /static/vendor/livegate-client.js', async () => {
  const gw = await startGateway({ redis });
  const r = await gw.http('GET', '/static/vendor/livegate-client.js');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(r.text, readFileSync(new URL('../../clients/js/index.js', import.meta.url), 'utf8'));
  // only that file of the package
  for (const p of ['/static/vendor/livegate-client.d.ts', '/static/vendor/package.json', '/static/vendor/index.js']) {
    assert.equal((await gw.http('GET', p)).status, 404, p);
  }
  await gw.stop();
});
