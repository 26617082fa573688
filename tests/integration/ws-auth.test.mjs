// The WebSocket handshake and frame limits of the contract, against the real
// gateway and a real redis-server: auth, the 5 s deadline, every close code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startGateway, stopAll, connect, validOrder, sleep, mintToken, newSecrets } from './lib/system.mjs';

let redis, gw;
before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
});
after(stopAll);

const viewer = { sub: 'u1', room: 'r1', role: 'viewer' };

test('a good token answers auth.ok with every field and the req', async () => {
  const c = await gw.connect();
  const before = Date.now();
  c.send({ type: 'auth', token: gw.token(viewer), req: 'a-1' });
  const ok = await c.next();
  assert.equal(ok.type, 'auth.ok');
  assert.equal(ok.user_id, 'u1');
  assert.equal(ok.room_id, 'r1');
  assert.equal(ok.role, 'viewer');
  assert.equal(typeof ok.session_id, 'string');
  assert.ok(ok.session_id.length > 0);
  assert.ok(ok.server_time_ms >= before - 1000 && ok.server_time_ms <= Date.now() + 1000);
  assert.equal(ok.req, 'a-1');
  c.close();
});

async function expectUnauthorized(token, firstFrame) {
  const c = await gw.connect();
  c.send(firstFrame ?? { type: 'auth', token });
  const err = await c.next();
  assert.equal(err.type, 'error');
  assert.equal(err.code, 'UNAUTHORIZED');
  const { code } = await c.closed;
  assert.equal(code, 4401);
}

const now = () => Math.floor(Date.now() / 1000);
const badTokens = {
  'bad signature': () => gw.token(viewer, { badSig: true }),
  'expired': () => gw.token({ ...viewer, exp: now() - 5 }),
  'exp exactly now': () => gw.token({ ...viewer, exp: now() }),
  'alg none': () => gw.token(viewer, { alg: 'none' }),
  'alg HS512': () => gw.token(viewer, { alg: 'HS512' }),
  'missing sub': () => gw.token({ ...viewer, sub: undefined }),
  'missing room': () => gw.token({ ...viewer, room: undefined }),
  'missing role': () => gw.token({ ...viewer, role: undefined }),
  'missing exp': () => gw.token({ ...viewer, exp: undefined }),
  'exp as a string': () => gw.token({ ...viewer, exp: String(now() + 60) }),
  'unknown role': () => gw.token({ ...viewer, role: 'superuser' }),
  'viewer for every room': () => gw.token({ ...viewer, room: '*' }),
  'sub not an ID': () => gw.token({ ...viewer, sub: 'a b' }),
  // a well-formed HS256 token, correctly signed, by another deployment's key
  'signed with another secret': () => mintToken(viewer, newSecrets().secret),
  'garbage': () => 'not-a-token',
};
for (const [name, make] of Object.entries(badTokens)) {
  test(`refused token (${name}): UNAUTHORIZED then close 4401`, () => expectUnauthorized(make()));
}

test('an operator token for every room is accepted', async () => {
  const c = await gw.session({ sub: 'op', room: '*', role: 'operator' });
  c.close();
});

test('a first frame that is not auth is UNAUTHORIZED and closes 4401', async () => {
  await expectUnauthorized(null, validOrder());
  await expectUnauthorized(null, 'not json at all');
  await expectUnauthorized(null, { type: 'auth' });
});

test('no auth within 5 s closes 4408, and not earlier', async () => {
  const c = await gw.connect();
  const t0 = Date.now();
  const { code } = await Promise.race([c.closed, sleep(8000).then(() => ({ code: 'none' }))]);
  const elapsed = Date.now() - t0;
  assert.equal(code, 4408);
  assert.ok(elapsed >= 4900, `closed after ${elapsed} ms`);
  assert.ok(elapsed < 7000, `closed after ${elapsed} ms`);
});

test('an authenticated connection is not closed by the auth deadline', async () => {
  const c = await gw.session(viewer);
  await sleep(5600);
  c.send({ type: 'order.query', client_order_ids: ['x-1'], req: 'still-open' });
  const state = await c.next((m) => m.req === 'still-open');
  assert.equal(state.type, 'order.state');
  c.close();
});

// A frame of exactly n bytes: JSON padded with an unknown field.
function frameOfSize(obj, n) {
  const base = JSON.stringify({ ...obj, pad: '' });
  const pad = n - Buffer.byteLength(base);
  assert.ok(pad >= 0);
  const text = JSON.stringify({ ...obj, pad: 'x'.repeat(pad) });
  assert.equal(Buffer.byteLength(text), n);
  return text;
}

test('exactly 16384 bytes is accepted before and after auth', async () => {
  const c = await gw.connect();
  c.send(frameOfSize({ type: 'auth', token: gw.token(viewer) }, 16384));
  assert.equal((await c.next()).type, 'auth.ok');
  c.send(frameOfSize({ ...validOrder(), room_id: 'elsewhere', req: 'big' }, 16384));
  const reply = await c.next((m) => m.req === 'big');
  assert.equal(reply.type, 'order.rejected');
  assert.equal(reply.field, 'room_id');
  c.close();
});

// lws hands the gateway at most its 1 KiB receive buffer per callback
// (server.c), so a submit on either side of that bound, and one spanning
// several buffers, must arrive whole.
test('submits of 1024, 1025 and 4000 bytes are taken whole', async () => {
  const c = await gw.session(viewer);
  for (const n of [1023, 1024, 1025, 4000]) {
    const o = validOrder({ req: `size-${n}` });
    c.send(frameOfSize(o, n));
    const reply = await c.next((m) => m.req === `size-${n}`);
    assert.notEqual(reply.type, 'error', `${n} bytes: ${JSON.stringify(reply)}`);
    assert.equal(reply.client_order_id, o.client_order_id, `${n} bytes`);
  }
  c.close();
});

test('16385 bytes closes 1009 before auth', async () => {
  const c = await gw.connect();
  c.send(frameOfSize({ type: 'auth', token: gw.token(viewer) }, 16385));
  assert.equal((await c.closed).code, 1009);
});

test('16385 bytes closes 1009 after auth', async () => {
  const c = await gw.session(viewer);
  c.send(frameOfSize(validOrder(), 16385));
  assert.equal((await c.closed).code, 1009);
});

test('a message fragmented over several frames counts whole', async () => {
  const small = await gw.session(viewer);
  const text = frameOfSize({ type: 'order.query', client_order_ids: ['f-1'], req: 'frag' }, 16000);
  small.ws.send(text.slice(0, 6000), { fin: false });
  small.ws.send(text.slice(6000, 12000), { fin: false });
  small.ws.send(text.slice(12000), { fin: true });
  assert.equal((await small.next((m) => m.req === 'frag')).type, 'order.state');
  small.close();

  const big = await gw.session(viewer);
  const chunk = 'x'.repeat(6000);
  big.ws.send(chunk, { fin: false });
  big.ws.send(chunk, { fin: false });
  big.ws.send(chunk, { fin: true });
  assert.equal((await big.closed).code, 1009);
});

test('a binary frame closes 1003, before and after auth', async () => {
  const c1 = await gw.connect();
  c1.sendRaw(Buffer.from('{"type":"auth"}'), { binary: true });
  assert.equal((await c1.closed).code, 1003);
  const c2 = await gw.session(viewer);
  c2.sendRaw(Buffer.from(JSON.stringify(validOrder())), { binary: true });
  assert.equal((await c2.closed).code, 1003);
});

test('text that is not valid UTF-8 closes 1007', async () => {
  const c = await gw.session(viewer);
  c.sendRaw(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), { binary: false });
  assert.equal((await c.closed).code, 1007);
});

test('a second auth is BAD_REQUEST and the session stays', async () => {
  const c = await gw.session(viewer);
  c.send({ type: 'auth', token: gw.token(viewer), req: 'again' });
  const err = await c.next((m) => m.req === 'again');
  assert.equal(err.code, 'BAD_REQUEST');
  c.close();
});

test('past the per-address limit new connections close 4429', async () => {
  const limited = await startGateway({ redis, env: { LIVEGATE_MAX_CONN_PER_IP: '3' } });
  const open = [];
  for (let i = 0; i < 3; i++) open.push(await limited.connect());
  const fourth = await limited.connect();
  assert.equal((await fourth.closed).code, 4429);
  // The first three are unaffected and can still authenticate.
  open[0].send({ type: 'auth', token: limited.token(viewer) });
  assert.equal((await open[0].next()).type, 'auth.ok');
  // Closing one frees a place.
  open[1].close();
  await open[1].closed;
  await sleep(200);
  const again = await limited.connect();
  again.send({ type: 'auth', token: limited.token(viewer) });
  assert.equal((await again.next()).type, 'auth.ok');
  for (const c of [...open, again]) c.close();
  await limited.stop();
});

test('a stopping gateway closes its connections with 1001', async () => {
  const g = await startGateway({ redis });
  const c = await g.session(viewer);
  const stopped = g.stop('SIGTERM');
  assert.equal((await c.closed).code, 1001);
  const { code } = await stopped;
  assert.equal(code, 0);
});

test('a session whose token expires is told UNAUTHORIZED and closed 4401; one whose token lives on stays', async () => {
  const c = await gw.connect();
  const exp = now() + 2;
  c.send({ type: 'auth', token: gw.token({ ...viewer, sub: 'u-exp', exp }) });
  assert.equal((await c.next()).type, 'auth.ok');
  const lasting = await gw.session({ ...viewer, sub: 'u-lasting', exp: now() + 3600 });
  // Still open just before exp: a submit is answered.
  const o = validOrder();
  c.send(o);
  assert.ok(['order.accepted', 'error'].includes((await c.next((m) => m.client_order_id === o.client_order_id || m.ref === o.client_order_id)).type));
  const err = await c.next((m) => m.type === 'error' && m.code === 'UNAUTHORIZED', 6000);
  assert.match(err.message, /expired/);
  const { code } = await c.closed;
  assert.equal(code, 4401);
  // Closed once exp had passed (the sweep runs every second), not before.
  assert.ok(Date.now() / 1000 >= exp, `closed at ${Date.now() / 1000}, exp ${exp}`);
  assert.ok(Date.now() / 1000 < exp + 3, `closed at ${Date.now() / 1000}, exp ${exp}`);
  // The other session is untouched.
  lasting.send({ type: 'order.query', client_order_ids: ['nope'], req: 'q' });
  assert.equal((await lasting.next((m) => m.req === 'q')).type, 'order.state');
  lasting.close();
});
