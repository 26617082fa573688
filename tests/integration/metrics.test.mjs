// Metrics per process against real processes: two gateways sharing one
// port (SO_REUSEPORT) and a validator, each with its own
// LIVEGATE_METRICS_LISTEN address. Each process's /metrics is scraped there
// and parsed strictly (lib/prom.mjs); its counters are its own, they move
// with the orders it handled, and a second scrape of one address never
// sees another process. The shared port's /metrics holds the room totals
// from Redis only, whichever gateway answers, and says so. The validator's
// responder answers only GET /metrics, with Allow on 405, refuses a
// request over its size limit, serves 16 connections at once and drops an
// idle one after 5 s. A taken metrics address stops a process at start; a
// gateway without one serves its counters and the room totals together.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, waitFor, freePort,
  newSecrets, connect,
} from './lib/system.mjs';
import { parseProm, sample } from './lib/prom.mjs';

let redis, gw1, gw2, v, ports;

async function scrape(port, path = '/metrics') {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await r.text();
  return { status: r.status, type: r.headers.get('content-type'), text, headers: r.headers };
}

async function metricsOf(port) {
  const r = await scrape(port);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
  return parseProm(r.text);
}

// Sends raw bytes and reads until the server closes.
function rawRequest(port, bytes) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += d.toString(); });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.on('connect', () => s.write(bytes));
  });
}

before(async () => {
  redis = await startRedis();
  const secrets = newSecrets();
  ports = { shared: await freePort(), gw1: await freePort(), gw2: await freePort(), v: await freePort() };
  gw1 = await startGateway({ redis, secrets, port: ports.shared,
    env: { LIVEGATE_GATEWAY_ID: 'gw-one', LIVEGATE_METRICS_LISTEN: `127.0.0.1:${ports.gw1}` } });
  gw2 = await startGateway({ redis, secrets, port: ports.shared,
    env: { LIVEGATE_GATEWAY_ID: 'gw-two', LIVEGATE_METRICS_LISTEN: `127.0.0.1:${ports.gw2}` } });
  v = await startValidator({ redis,
    env: { LIVEGATE_VALIDATOR_ID: 'val-one', LIVEGATE_METRICS_LISTEN: `127.0.0.1:${ports.v}` } });
  await waitFor(() => v.logs.some((l) => l.includes('"event":"metrics.listening"')), { what: 'validator metrics' });
  for (const g of [gw1, gw2])
    assert.ok(g.logs.some((l) => l.includes('"event":"metrics.listening"') && l.includes('"port":')), 'announced');
  await setupRoom(gw1, 'mx', { skus: { tea: { name: '茶', price: 19900, stock: 100, on_sale: true } } });
});
after(stopAll);

test('each process serves its own /metrics, and they move with the orders each handled', async () => {
  const before1 = await metricsOf(ports.gw1);
  const before2 = await metricsOf(ports.gw2);
  const beforeV = await metricsOf(ports.v);
  assert.equal(sample(before1, 'livegate_info', { gateway_id: 'gw-one' }), 1);
  assert.equal(sample(before2, 'livegate_info', { gateway_id: 'gw-two' }), 1);
  assert.equal(sample(beforeV, 'livegate_validator_info', { consumer: 'val-one' }), 1);
  // A process's own document has no room totals: those are the shared port's.
  assert.equal(sample(before1, 'livegate_room_totals_up'), undefined);
  assert.equal(sample(before1, 'livegate_queue_depth', { priority: 'high' }), undefined);

  // Orders go through gw-one's own connections only: its WebSocket on the
  // shared port may land on either process, so connect until it is gw-one.
  const accepted1 = sample(before1, 'livegate_orders_total', { outcome: 'accepted' });
  const accepted2 = sample(before2, 'livegate_orders_total', { outcome: 'accepted' });
  const confirmedV = sample(beforeV, 'livegate_validator_decisions_total', { code: 'CONFIRMED' }) ?? 0;
  const batchesV = sample(beforeV, 'livegate_validator_batch_size_count');
  const c = await gw1.session({ sub: 'buyer-m', room: 'mx', role: 'viewer' });
  const n = 3;
  for (let i = 0; i < n; i++) {
    const o = validOrder({ room_id: 'mx', sku_id: 'tea' });
    c.send(o);
    const acc = await c.next((m) => m.client_order_id === o.client_order_id && m.type !== 'sku.update');
    assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
    const res = await c.next((m) => m.order_id === acc.order_id && m.type === 'order.confirmed', 12000);
    assert.equal(res.status, 'pending_payment');
  }
  c.close();

  const after1 = await metricsOf(ports.gw1);
  const after2 = await metricsOf(ports.gw2);
  const moved1 = sample(after1, 'livegate_orders_total', { outcome: 'accepted' }) - accepted1;
  const moved2 = sample(after2, 'livegate_orders_total', { outcome: 'accepted' }) - accepted2;
  // Whichever process took the connection counted all three, the other none.
  assert.deepEqual([moved1, moved2].sort(), [0, n]);
  // Each order waited for its answer before the next was sent, so each went
  // in a call of its own, all normal-priority (19,900 fen is no high value).
  const [took, tookBefore] = moved1 === n ? [after1, before1] : [after2, before2];
  const calls = (d, priority) => sample(d, 'livegate_intake_calls_total', { priority });
  const carried = (d, priority) => sample(d, 'livegate_intake_call_orders_total', { priority });
  assert.equal(calls(took, 'normal') - calls(tookBefore, 'normal'), n);
  assert.equal(carried(took, 'normal') - carried(tookBefore, 'normal'), n);
  assert.equal(calls(took, 'high') - calls(tookBefore, 'high'), 0);
  assert.equal(carried(took, 'high') - carried(tookBefore, 'high'), 0);
  // Each address answers for one process only, scrape after scrape.
  for (let i = 0; i < 5; i++) {
    const again = await metricsOf(ports.gw1);
    assert.equal(sample(again, 'livegate_info', { gateway_id: 'gw-one' }), 1);
    assert.equal(sample(again, 'livegate_orders_total', { outcome: 'accepted' }), accepted1 + moved1);
  }

  const afterV = await waitFor(async () => {
    const d = await metricsOf(ports.v);
    return sample(d, 'livegate_validator_decisions_total', { code: 'CONFIRMED' }) >= confirmedV + n && d;
  }, { what: 'the validator counted its confirmations' });
  assert.equal(sample(afterV, 'livegate_validator_decisions_total', { code: 'CONFIRMED' }), confirmedV + n);
  assert.ok(sample(afterV, 'livegate_validator_batch_size_count') >= batchesV + 1);
  assert.ok(sample(afterV, 'livegate_validator_batch_size_sum') >= n);
  assert.ok(sample(afterV, 'livegate_validator_lag_seconds') >= 0);
  assert.ok(sample(afterV, 'livegate_validator_rooms') >= 1);
  assert.equal(sample(afterV, 'livegate_validator_redis_up'), 1);
  assert.equal(typeof sample(afterV, 'livegate_validator_claimed_total'), 'number');
  assert.equal(typeof sample(afterV, 'livegate_validator_claim_rounds_total'), 'number');
});

test('the shared port serves the room totals from Redis, the same from every gateway, and says so', async () => {
  const doc = await waitFor(async () => {
    const d = await metricsOf(ports.shared);
    return sample(d, 'livegate_room_orders', { outcome: 'confirmed' }) >= 3 && d;
  }, { what: 'the room totals show the confirmations' });
  const r = await scrape(ports.shared);
  assert.match(r.text, /^# HELP livegate_room_totals_up The room figures that follow are read from Redis .* cached up to 1000 ms/m);
  assert.equal(sample(doc, 'livegate_room_totals_up'), 1);
  assert.ok(sample(doc, 'livegate_room_orders', { outcome: 'accepted' }) >= 3);
  assert.ok(sample(doc, 'livegate_room_gmv_fen') >= 3 * 19900);
  assert.equal(sample(doc, 'livegate_queue_depth', { priority: 'normal' }), 0);
  // No process's own counters: they would jump between the processes.
  assert.equal(sample(doc, 'livegate_orders_total', { outcome: 'accepted' }), undefined);
  assert.equal(doc.samples.filter((s) => s.name === 'livegate_info').length, 0);
});

test('a metrics address serves /metrics and nothing else', async () => {
  const page = await scrape(ports.gw1, '/healthz');
  assert.equal(page.status, 404);
  const put = await fetch(`http://127.0.0.1:${ports.gw1}/metrics`, { method: 'PUT', body: '{}' });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get('allow'), 'GET');

  // No WebSocket there either.
  await assert.rejects(connect(`ws://127.0.0.1:${ports.gw1}/v1/ws`));

  assert.equal((await scrape(ports.v, '/')).status, 404);
  const post = await fetch(`http://127.0.0.1:${ports.v}/metrics`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET');
  // The request limit, on both sides: 4096 bytes in all.
  const head = 'GET /metrics HTTP/1.1\r\nX-Pad: ';
  const tail = '\r\n\r\n';
  const fits = await rawRequest(ports.v, head + 'a'.repeat(4096 - head.length - tail.length) + tail);
  assert.match(fits, /^HTTP\/1\.1 200 OK\r\n/);
  const over = await rawRequest(ports.v, head + 'a'.repeat(4097 - head.length - tail.length) + tail);
  assert.match(over, /^HTTP\/1\.1 431 /);
  assert.match(await rawRequest(ports.v, 'nonsense\r\n\r\n'), /^HTTP\/1\.1 400 /);
});

test('a second process on a taken metrics address refuses to start', async () => {
  const g = await startGateway({ redis, wait: false,
    env: { LIVEGATE_METRICS_LISTEN: `127.0.0.1:${ports.gw1}` } });
  g.expectFailure();
  await waitFor(() => g.proc.exited, { what: 'the gateway exits' });
  assert.ok(g.logs.some((l) => l.includes('"event":"gateway.listen_failed"')), g.logs.join('\n'));
  const v2 = await startValidator({ redis, env: { LIVEGATE_METRICS_LISTEN: `127.0.0.1:${ports.v}` } });
  v2.proc.expectCode = (code) => code !== 0;
  await waitFor(() => v2.proc.exited, { what: 'the validator exits' });
  assert.ok(v2.logs.some((l) => l.includes('"event":"validator.listen_failed"')), v2.logs.join('\n'));
});

test('the validator serves 16 connections at once, and drops one that sends nothing within 5 s', async () => {
  const open = () => new Promise((resolve, reject) => {
    const s = net.connect(ports.v, '127.0.0.1');
    s.on('connect', () => resolve(s));
    s.on('error', reject);
  });
  const ended = (s) => new Promise((resolve) => {
    let got = '';
    s.on('data', (d) => { got += d.toString(); });
    s.on('close', () => resolve(got));
  });
  const idle = [];
  for (let i = 0; i < 16; i++) idle.push(await open());
  const idleEnds = idle.map((s) => ({ s, done: ended(s), at: Date.now() }));
  // The 17th is closed unanswered while 16 are held.
  const extra = await open();
  const extraEnd = ended(extra);
  extra.write('GET /metrics HTTP/1.1\r\n\r\n');
  assert.equal(await extraEnd, '');
  // The held ones send nothing: each is closed unanswered after 5 s.
  const first = idleEnds[0];
  assert.equal(await first.done, '');
  const waited = Date.now() - first.at;
  assert.ok(waited >= 4500 && waited < 8000, `closed after ${waited} ms`);
  await Promise.all(idleEnds.map((e) => e.done));
  // Room again.
  assert.equal((await scrape(ports.v)).status, 200);
});

test('a gateway without a metrics address serves its own counters and the room totals on its port', async () => {
  const g = await startGateway({ redis, env: { LIVEGATE_GATEWAY_ID: 'gw-solo' } });
  const r = await scrape(g.port);
  assert.equal(r.status, 200);
  const doc = parseProm(r.text);
  assert.equal(sample(doc, 'livegate_info', { gateway_id: 'gw-solo' }), 1);
  assert.equal(typeof sample(doc, 'livegate_orders_total', { outcome: 'accepted' }), 'number');
  assert.equal(sample(doc, 'livegate_room_totals_up'), 1);
  assert.ok(sample(doc, 'livegate_room_orders', { outcome: 'confirmed' }) >= 3);
  assert.equal(typeof sample(doc, 'livegate_queue_depth', { priority: 'high' }), 'number');
  assert.match(r.text, /^# HELP livegate_room_totals_up .*the counters before them are those of the gateway process that answered/m);
  assert.ok(!g.logs.some((l) => l.includes('"event":"metrics.listening"')));
  await g.stop();
});
