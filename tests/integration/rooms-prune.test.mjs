// The validator's work stays with the rooms in use (issue 13, holes 7 and
// 8), against real redis-server, gateway and validator processes:
// - the active-room index (lg:rooms:active): marked by PUT of a room and by
//   its orders, on Redis's clock; a room idle past its window, or closed
//   and idle past the shorter one, leaves it only once its streams are
//   drained, and an order queued in a room that looks idle or closed is
//   still decided; a pruned room that gets an order is back at once;
// - dead consumers leave the group once idle past LIVEGATE_CONSUMER_IDLE_MS
//   with nothing pending, and not before;
// - every XREADGROUP a validator sends names keys of one Redis Cluster slot
//   (seen through MONITOR), and a lone order after idle is answered soon.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, sleep, waitFor,
} from './lib/system.mjs';

let redis, gw;
const isFinal = (m) => (m.type === 'order.confirmed' || m.type === 'order.rejected') && m.order_id;
const SKUS = { s: { name: 'x', price: 100, stock: 100000, on_sale: true } };
const order = (room, extra = {}) => validOrder({ room_id: room, sku_id: 's', unit_price: 100, amount: 100, ...extra });

// Short windows (their floors), pruned five times a second. A confirmed
// order holds its room until its payment deadline is drained: 1 s here.
const PRUNE_ENV = {
  LIVEGATE_ROOM_IDLE_MS: '5000',
  LIVEGATE_ROOM_CLOSED_IDLE_MS: '5000',
  LIVEGATE_PRUNE_EVERY_MS: '200',
  LIVEGATE_PAY_WINDOW_MS: '1000',
};

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
});
after(stopAll);

async function redisNowMs() {
  const [s, us] = (await redis.cli('TIME')).split('\n');
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
async function score(room) {
  const s = await redis.cli('ZSCORE', 'lg:rooms:active', room);
  return s === '' ? null : Number(s);
}
// A validator for one test. Any left by an earlier test (one that failed
// before stopping its own) is stopped first, so its short windows cannot
// prune the next test's rooms.
const running = [];
async function validator(env) {
  for (const v of running.splice(0)) if (!v.proc.exited) await v.stop();
  const v = await startValidator({ redis, env });
  running.push(v);
  return v;
}

// Makes a room look idle for ageMs by the index (its streams untouched).
async function age(room, ageMs) {
  await redis.cli('ZADD', 'lg:rooms:active', 'XX', String((await redisNowMs()) - ageMs), room);
}

test('the index is marked by PUT of a room and by orders, on Redis time, with the newest mark kept', async () => {
  const t0 = await redisNowMs();
  await setupRoom(gw, 'ix-put', { skus: SKUS });
  const s1 = await score('ix-put');
  assert.ok(s1 >= t0 && s1 <= (await redisNowMs()), `score ${s1} is Redis's time of the PUT`);
  // an order in a room never set up marks it too (it must be answered ROOM_CLOSED)
  const c = await gw.session({ sub: 'ix-buyer', room: 'ix-none', role: 'viewer' });
  c.send(order('ix-none'));
  await c.next((m) => m.type === 'order.accepted');
  assert.ok((await score('ix-none')) >= t0);
  // a gateway's mark never moves the score back (ZADD GT)
  await redis.cli('ZADD', 'lg:rooms:active', String(s1 + 3600000), 'ix-put');
  await setupRoom(gw, 'ix-put', { skus: SKUS });
  assert.equal(await score('ix-put'), s1 + 3600000);
  c.close();
});

test('an idle room leaves the index once drained, one inside its window stays; its queued order is decided first', async () => {
  await setupRoom(gw, 'pr-idle', { skus: SKUS });
  await setupRoom(gw, 'pr-young', { skus: SKUS });
  await setupRoom(gw, 'pr-busy', { skus: SKUS });
  // An order queued while no validator runs, in a room that then looks idle
  // for a day: it must still be decided, and the room kept until it is.
  const c = await gw.session({ sub: 'pr-buyer', room: 'pr-busy', role: 'viewer' });
  const o = order('pr-busy');
  c.send(o);
  const acc = await c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id);
  await age('pr-busy', 86400000);
  await age('pr-idle', 6000); // just past the 5 s window
  await age('pr-young', 2500); // 2.5 s inside it
  const v = await validator(PRUNE_ENV);
  await waitFor(async () => (await score('pr-idle')) === null, { what: 'the idle room pruned' });
  // pr-idle went in one of the first prune rounds (5 a second); more rounds
  // pass, and pr-young, still inside its window, stays
  await sleep(1000);
  assert.ok((await redisNowMs()) - (await score('pr-young')) < 5000, 'the test ran too slow to check the bound');
  assert.notEqual(await score('pr-young'), null, 'a room inside its window was pruned');
  // pr-busy stays until its order is decided, and then until the order's
  // payment deadline (1 s) is drained
  const r = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
  assert.equal(r.type, 'order.confirmed');
  await waitFor(async () => (await score('pr-busy')) === null, { what: 'the drained busy room pruned' });
  await waitFor(() => v.logs.some((l) => l.includes('"validator.room_dropped"') && l.includes('"room":"pr-idle"')),
    { what: 'the validator dropped the pruned room' });
  // pr-young passes its window with no activity, and goes too
  await waitFor(async () => (await score('pr-young')) === null, { what: 'the young room pruned once past its window' });

  // A pruned room that gets an order is back in the index at once, and served.
  await sleep(1100); // past the gateway's one-second throttle of its marks
  const o2 = order('pr-busy');
  c.send(o2);
  const acc2 = await c.next((m) => m.type === 'order.accepted' && m.client_order_id === o2.client_order_id);
  assert.notEqual(await score('pr-busy'), null, 'the order did not mark its room active');
  const r2 = await c.next((m) => isFinal(m) && m.order_id === acc2.order_id, 10000);
  assert.equal(r2.type, 'order.confirmed');
  c.close();
  await v.stop();
});

test('a closed room with a queued order is answered ROOM_CLOSED before it leaves the index; reopening brings it back', async () => {
  await setupRoom(gw, 'pr-closed', { status: 'closed', skus: SKUS });
  const c = await gw.session({ sub: 'prc-buyer', room: 'pr-closed', role: 'viewer' });
  const o = order('pr-closed');
  c.send(o);
  const acc = await c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id);
  await age('pr-closed', 6000);
  // a live room idle as long (but inside the live window) stays
  await setupRoom(gw, 'pr-live', { skus: SKUS });
  await age('pr-live', 6000);
  const v = await validator({ ...PRUNE_ENV, LIVEGATE_ROOM_IDLE_MS: '60000' });
  const r = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
  assert.equal(r.code, 'ROOM_CLOSED');
  await waitFor(async () => (await score('pr-closed')) === null, { what: 'the closed room pruned once drained' });
  await waitFor(() => v.logs.some((l) => l.includes('"validator.room_dropped"') && l.includes('"room":"pr-closed"')),
    { what: 'the validator dropped the pruned room' });
  await sleep(600); // three more prune rounds
  assert.notEqual(await score('pr-live'), null, 'a live room inside its window was pruned');
  await setupRoom(gw, 'pr-closed', { skus: SKUS }); // reopened
  assert.notEqual(await score('pr-closed'), null);
  await waitFor(() => v.logs.filter((l) => l.includes('"validator.room"') && l.includes('"room":"pr-closed"')).length === 2,
    { what: 'the validator serves the reopened room again' });
  c.close();
  await v.stop();
});

test('dead consumers leave the group once idle past the window with nothing pending; others stay', async () => {
  await setupRoom(gw, 'dc', { skus: SKUS });
  const key = 'lg:{dc}:q:normal';
  await redis.cli('XGROUP', 'CREATE', key, 'lg-validators', '0', 'MKSTREAM').catch(() => {});
  // a consumer with nothing pending, and one that died holding an entry
  await redis.cli('XGROUP', 'CREATECONSUMER', key, 'lg-validators', 'ghost');
  await redis.cli('XADD', key, '*', 'order_id', 'o-dc', 'user', 'u', 'sku_id', 's', 'gw', 'gw-none');
  await redis.cli('XREADGROUP', 'GROUP', 'lg-validators', 'holder', 'COUNT', '1', 'STREAMS', key, '>');
  // no claim during the test: the holder keeps its entry
  const v = await validator({ ...PRUNE_ENV, LIVEGATE_CONSUMER_IDLE_MS: '5000', LIVEGATE_CLAIM_IDLE_MS: '60000', LIVEGATE_VALIDATOR_ID: 'live-one' });
  const started = Date.now();
  await sleep(3000);
  await redis.cli('XGROUP', 'CREATECONSUMER', key, 'lg-validators', 'young');
  const consumers = async () => (await redis.cli('XINFO', 'CONSUMERS', key, 'lg-validators')).split('\n');
  assert.ok((await consumers()).includes('ghost'), 'removed before its window');
  await waitFor(async () => !(await consumers()).includes('ghost'), { what: 'the idle consumer removed' });
  assert.ok(Date.now() - started >= 4500, 'removed before 5 s idle');
  const left = await consumers();
  assert.ok(left.includes('holder'), 'a consumer with a pending entry was removed');
  assert.ok(left.includes('young'), 'a consumer inside its window was removed');
  assert.ok(v.logs.some((l) => l.includes('"validator.consumers_removed"')), 'the removal was not logged');
  await v.stop();
});

// ---- Redis Cluster slots ------------------------------------------------------

// CRC16/XMODEM of the hash tag, as Redis Cluster computes a key's slot.
function crc16(buf) {
  let crc = 0;
  for (const b of buf) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
function slotOf(key) {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(Buffer.from(key.slice(open + 1, close))) % 16384;
  }
  return crc16(Buffer.from(key)) % 16384;
}

// The arguments of one MONITOR line: "ts [db addr] "CMD" "arg" ...".
function monitorArgs(line) {
  const args = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(line))) args.push(m[1]);
  return args;
}

test('every XREADGROUP names keys of one slot; rooms sharing a slot are read together; a lone order after idle is answered soon', async () => {
  assert.equal(slotOf('foo'), 12182);
  assert.equal(slotOf('bar'), 5061);
  // a room of foo's slot, so one read covers two rooms
  let twin = null;
  for (let i = 0; !twin; i++) if (slotOf(`{t${i}}`) === 12182) twin = `t${i}`;
  const rooms = ['foo', twin, 'bar', 'sl-1', 'sl-2', 'sl-3', 'sl-4', 'sl-5'];
  for (const room of rooms) await setupRoom(gw, room, { skus: SKUS });
  const mon = spawn('redis-cli', ['-p', String(redis.port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const reads = [];
  let buf = '';
  mon.stdout.on('data', (d) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const l of lines) {
      const args = monitorArgs(l);
      if (args[0]?.toUpperCase() === 'XREADGROUP') reads.push(args);
    }
  });
  try {
    const v = await validator({ LIVEGATE_VALIDATOR_BLOCK_MS: '100' });
    await waitFor(() => rooms.every((r) => v.logs.some((l) => l.includes('"validator.room"') && l.includes(`"room":"${r}"`))),
      { what: 'the validator serves every room' });
    const sessions = {};
    for (const room of rooms) sessions[room] = await gw.session({ sub: 'sl-buyer', room, role: 'viewer' });
    // orders in every room, all answered
    for (const room of rooms) {
      const c = sessions[room];
      const o = order(room);
      c.send(o);
      const acc = await c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id);
      assert.equal((await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000)).type, 'order.confirmed');
    }
    // Lone orders after idle. The same room again: the idle wait blocks on
    // its group, so the answer comes at once. Alternating rooms of other
    // slots: each waits out at most the rest of a 100 ms block.
    const lone = async (room) => {
      await sleep(400);
      const c = sessions[room];
      const o = order(room);
      c.send(o);
      const acc = await c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id);
      const r = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
      assert.equal(r.type, 'order.confirmed');
      return r.confirmed_at_ms - acc.accepted_at_ms;
    };
    const same = [], other = [];
    for (let i = 0; i < 5; i++) same.push(await lone('sl-1'));
    for (let i = 0; i < 6; i++) other.push(await lone(i % 2 ? 'sl-2' : 'bar'));
    const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    console.log(`lone order after idle: same room ${same.join(',')} ms, alternating rooms ${other.join(',')} ms`);
    assert.ok(median(same) < 50, `a lone order in the last busy room took ${same} ms`);
    assert.ok(Math.max(...other) < 100 + 150, `a lone order in another room took ${other} ms`);
    for (const c of Object.values(sessions)) c.close();
    await v.stop();
  } finally {
    mon.kill();
  }
  assert.ok(reads.length > 10, `only ${reads.length} XREADGROUP seen`);
  let together = false;
  for (const args of reads) {
    const i = args.findIndex((a) => a.toUpperCase() === 'STREAMS');
    const rest = args.slice(i + 1);
    const keys = rest.slice(0, rest.length / 2);
    assert.ok(keys.length > 0);
    const slots = new Set(keys.map(slotOf));
    assert.equal(slots.size, 1, `one XREADGROUP spans slots: ${keys.join(' ')}`);
    if (keys.includes('lg:{foo}:q:high') && keys.includes(`lg:{${twin}}:q:high`)) together = true;
  }
  assert.ok(together, 'rooms of one slot were never read in one command');
});

test('a deployment from before the index: the first validator copies lg:rooms into it once, and a queued order there is decided', async () => {
  const own = await startRedis();
  const g = await startGateway({ redis: own });
  await setupRoom(g, 'legacy', { skus: SKUS });
  const c = await g.session({ sub: 'legacy-buyer', room: 'legacy', role: 'viewer' });
  const o = order('legacy');
  c.send(o);
  const acc = await c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id);
  // as an older release left it: the room only in the registry
  await own.cli('ZREM', 'lg:rooms:active', 'legacy');
  await own.cli('SADD', 'lg:rooms', 'legacy-2');
  const v = await startValidator({ redis: own });
  const r = await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000);
  assert.equal(r.type, 'order.confirmed');
  assert.equal(await own.cli('ZSCORE', 'lg:rooms:active', 'legacy-2'), '0', 'seeded as idle since ever');
  assert.equal(await own.cli('GET', 'lg:rooms:seeded'), '1');
  await v.stop();
  // once per deployment: a validator started later does not copy again
  await own.cli('ZREM', 'lg:rooms:active', 'legacy-2');
  const v2 = await startValidator({ redis: own });
  await waitFor(() => v2.logs.some((l) => l.includes('"validator.room"')), { what: 'the second validator refreshed' });
  await sleep(1200);
  assert.equal(await own.cli('ZSCORE', 'lg:rooms:active', 'legacy-2'), '', 'the registry was copied again');
  assert.ok(!v2.logs.some((l) => l.includes('"validator.index_seeded"')));
  c.close();
  await v2.stop();
  await g.stop();
});

test('a room whose confirmed order awaits its payment deadline is not pruned until the deadline is drained', async () => {
  await setupRoom(gw, 'pr-pay', { skus: SKUS });
  const v = await validator({ ...PRUNE_ENV, LIVEGATE_PAY_WINDOW_MS: '3000' });
  const c = await gw.session({ sub: 'pay-buyer', room: 'pr-pay', role: 'viewer' });
  const o = order('pr-pay');
  c.send(o);
  const acc = await c.next((m) => m.type === 'order.accepted' && m.client_order_id === o.client_order_id);
  assert.equal((await c.next((m) => isFinal(m) && m.order_id === acc.order_id, 10000)).type, 'order.confirmed');
  const dueKey = 'lg:{pr-pay}:paydue';
  await age('pr-pay', 6000); // streams drained, idle past its window: only the payment holds it
  await sleep(1000); // five prune rounds
  assert.notEqual(await score('pr-pay'), null, 'pruned with an order awaiting payment');
  assert.ok(Number(await redis.cli('ZCARD', dueKey)) > 0, 'the payment deadline is not indexed');
  // the deadline passes, the order is cancelled, and then the room goes
  await waitFor(async () => (await score('pr-pay')) === null, { what: 'the room pruned after the payment deadline' });
  assert.equal(Number(await redis.cli('ZCARD', dueKey)), 0);
  assert.equal(await redis.cli('HGET', `lg:{pr-pay}:order:${acc.order_id}`, 'status'), 'cancelled');
  c.close();
  await v.stop();
});
