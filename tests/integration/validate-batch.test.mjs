// validate.lua's call layout: two keys per order (its record and the
// buyer's live quantities), the call's SKU and coupon keys once each, and no
// arguments per order (an order's user, SKU and coupon come from its
// record). Driven with EVAL in the layout validator/decide.c sends; the
// validator's own test (validator.test.mjs) runs the same path end to end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopAll } from './lib/system.mjs';
import { runEnqueue } from './lib/enqueue.mjs';
import { luaSource } from '../../scripts/lib/lua-source.mjs';
import { connect } from '../../scripts/lib/resp.mjs';
import { validateCall } from '../../scripts/lib/validate-call.mjs';

const script = luaSource('validate.lua');

let redis;
before(async () => {
  redis = await startRedis();
});
after(stopAll);

const hget = (key, field) => redis.cli('HGET', key, field);

async function evalRaw(keys, args) {
  const conn = await connect(redis.port);
  try {
    const [reply] = await conn.send([['EVAL', script, String(keys.length), ...keys, ...args]]);
    return reply;
  } finally {
    conn.close();
  }
}

// The call validator/decide.c makes for `orders` of `room`, declaring
// `skus` and `coupons`; `extra` breaks the layout (counts, keys) on purpose.
function layout(room, orders, skus, coupons, extra = {}) {
  const { keys, args } = validateCall(room, orders,
    { skus, coupons, counts: extra.counts, extraKeys: extra.keys });
  return [keys, args];
}

const decide = (room, orders, skus, coupons, extra) => evalRaw(...layout(room, orders, skus, coupons, extra));
const statusOf = (room, oid) => hget(`lg:{${room}}:order:${oid}`, 'status');

async function setupRoom(room) {
  const t = `lg:{${room}}`;
  await redis.cli('HSET', `${t}:room`, 'status', 'live', 'payment_methods', 'alipay',
    'high_value_threshold', '1000000');
  await redis.cli('HSET', `${t}:sku:sku-a`, 'price', '10000', 'stock', '10', 'on_sale', '1');
  await redis.cli('HSET', `${t}:sku:sku-b`, 'price', '20000', 'stock', '10', 'on_sale', '1');
  await redis.cli('HSET', `${t}:coupon:cp1`, 'discount', '500', 'min_amount', '0', 'total', '5',
    'used', '0');
}

test('one call decides orders of two SKUs and a coupon, each against its own keys', async () => {
  await setupRoom('vb1');
  const orders = [
    { oid: 'o-a1', coid: 'c-a1', user: 'u1', sku: 'sku-a', amount: 10000 },
    { oid: 'o-b1', coid: 'c-b1', user: 'u2', sku: 'sku-b', amount: 20000 },
    { oid: 'o-a2', coid: 'c-a2', user: 'u2', sku: 'sku-a', coupon: 'cp1', unitPrice: 10000, amount: 9500 },
  ];
  const accepted = await runEnqueue(redis, 'vb1', orders);
  assert.deepEqual(accepted.map((r) => r[0]), ['accepted', 'accepted', 'accepted']);

  const out = await decide('vb1', orders, ['sku-a', 'sku-b'], ['cp1']);
  assert.equal(out.length, 3);
  for (const r of out) assert.equal(r.split('\0')[0], 'pending_payment', String(r));
  // stock_left, the last value: sku-a after both of its orders, sku-b after its one.
  assert.deepEqual(out.map((r) => r.split('\0').at(-1)), ['9', '9', '8']);
  assert.equal(await hget('lg:{vb1}:sku:sku-a', 'stock'), '8');
  assert.equal(await hget('lg:{vb1}:sku:sku-b', 'stock'), '9');
  assert.equal(await hget('lg:{vb1}:coupon:cp1', 'used'), '1');
  assert.equal(await redis.cli('SISMEMBER', 'lg:{vb1}:coupon_users:cp1', 'u2'), '1');
  assert.equal(await hget('lg:{vb1}:live:u1', 'sku-a'), '1');
  assert.equal(await hget('lg:{vb1}:live:u2', 'sku-a'), '1');
  assert.equal(await hget('lg:{vb1}:live:u2', 'sku-b'), '1');
  assert.equal(await redis.cli('ZCARD', 'lg:{vb1}:paydue'), '3');

  // Decided again (a re-delivery): the stored results, nothing taken twice.
  const again = await decide('vb1', orders, ['sku-a', 'sku-b'], ['cp1']);
  assert.deepEqual(again.map((r) => r.split('\0')[0]), ['pending_payment', 'pending_payment', 'pending_payment']);
  assert.equal(await hget('lg:{vb1}:sku:sku-a', 'stock'), '8');
  assert.equal(await hget('lg:{vb1}:coupon:cp1', 'used'), '1');
});

test('an order whose SKU or coupon is not among the call\'s keys fails alone and stays queued', async () => {
  await setupRoom('vb2');
  const orders = [
    { oid: 'o-1', coid: 'c-1', sku: 'sku-a', amount: 10000 },
    { oid: 'o-2', coid: 'c-2', sku: 'sku-b', amount: 20000 },
    { oid: 'o-3', coid: 'c-3', sku: 'sku-a', coupon: 'cp1', unitPrice: 10000, amount: 9500 },
  ];
  await runEnqueue(redis, 'vb2', orders);
  // sku-b and cp1 left out of the call.
  const out = await decide('vb2', orders, ['sku-a'], []);
  assert.equal(out[0].split('\0')[0], 'pending_payment');
  assert.deepEqual(out[1], ['error', out[1][1]]);
  assert.match(out[1][1], /SKU is not among the call's keys/);
  assert.deepEqual(out[2], ['error', out[2][1]]);
  assert.match(out[2][1], /coupon is not among the call's keys/);
  assert.equal(await statusOf('vb2', 'o-2'), 'queued');
  assert.equal(await statusOf('vb2', 'o-3'), 'queued');
  // Only o-1 took stock; nobody took the coupon or sku-b.
  assert.equal(await hget('lg:{vb2}:sku:sku-a', 'stock'), '9');
  assert.equal(await hget('lg:{vb2}:sku:sku-b', 'stock'), '10');
  assert.equal(await hget('lg:{vb2}:coupon:cp1', 'used'), '0');

  // With every key declared, the two are decided.
  const out2 = await decide('vb2', orders, ['sku-a', 'sku-b'], ['cp1']);
  assert.deepEqual(out2.map((r) => r.split('\0')[0]), ['pending_payment', 'pending_payment', 'pending_payment']);
  assert.equal(await hget('lg:{vb2}:coupon:cp1', 'used'), '1');
});

test('a call whose counts do not match its keys and arguments is refused and changes nothing', async () => {
  await setupRoom('vb3');
  const orders = [{ oid: 'o-x', coid: 'c-x', sku: 'sku-a', amount: 10000 }];
  await runEnqueue(redis, 'vb3', orders);
  const refused = async (extra, why) => {
    const r = await decide('vb3', orders, ['sku-a'], [], extra);
    assert.ok(r instanceof Error, `${why}: ${r}`);
    assert.match(r.message, /not a whole batch/, why);
    assert.equal(await statusOf('vb3', 'o-x'), 'queued', why);
    assert.equal(await hget('lg:{vb3}:sku:sku-a', 'stock'), '10', why);
  };
  // The payment due index is the one optional key: one more is refused.
  await refused({ keys: ['lg:{vb3}:extra'] }, 'a key past the optional one');
  await refused({ counts: [2, 1, 0] }, 'one order more than the keys hold');
  await refused({ counts: [1, 2, 0] }, 'one SKU more than the keys hold');
  await refused({ counts: [1, 1, 1] }, 'one coupon more than the keys hold');
  await refused({ counts: [1, 'x', 0] }, 'a count that is not a number');

  // Without the optional index, and then with it: both are whole batches.
  const [keys, args] = layout('vb3', orders, ['sku-a'], []);
  const noIndex = await evalRaw(keys.slice(0, -1), args);
  assert.equal(noIndex[0].split('\0')[0], 'pending_payment');
  assert.equal(await redis.cli('EXISTS', 'lg:{vb3}:paydue'), '0');
  const withIndex = await decide('vb3', orders, ['sku-a'], []);
  assert.equal(withIndex[0].split('\0')[0], 'pending_payment');
});

// The buyer's quantity is counted up with one HINCRBY and taken back past
// the limit; it is read (HGET) only where the stock cannot take the order,
// to tell LIMIT_EXCEEDED (the rule checked first) from OUT_OF_STOCK.
test('the per-user limit on both sides of its bound, and a refusal leaves the buyer\'s quantity as it was', async () => {
  await setupRoom('vb4');
  const t = 'lg:{vb4}';
  await redis.cli('HSET', `${t}:sku:sku-l`, 'price', '100', 'stock', '10', 'limit_per_user', '2', 'on_sale', '1');
  await redis.cli('HSET', `${t}:sku:sku-z`, 'price', '100', 'stock', '0', 'limit_per_user', '1', 'on_sale', '1');
  // ud already holds the one unit of sku-z it may have.
  await redis.cli('HSET', `${t}:live:ud`, 'sku-z', '1');
  const one = (oid, user, sku, qty) => ({ oid, coid: `c-${oid}`, user, sku, qty, unitPrice: 100, amount: 100 * qty });
  const orders = [
    one('o-over', 'ua', 'sku-l', 3), // past the limit on its own: ua holds nothing after
    one('o-at', 'ub', 'sku-l', 2), // exactly the limit
    one('o-past', 'ub', 'sku-l', 1), // one past it, in the same call
    one('o-other', 'uc', 'sku-l', 1),
    one('o-both', 'ud', 'sku-z', 1), // past the limit and out of stock: the limit is named
    one('o-none', 'ue', 'sku-z', 1), // out of stock only
  ];
  const accepted = await runEnqueue(redis, 'vb4', orders);
  assert.deepEqual(accepted.map((r) => r[0]), orders.map(() => 'accepted'));

  const out = await decide('vb4', orders, ['sku-l', 'sku-z'], []);
  const codes = await Promise.all(orders.map((o) => hget(`${t}:order:${o.oid}`, 'code')));
  assert.deepEqual(out.map((r) => r.split('\0')[0]),
    ['rejected', 'pending_payment', 'rejected', 'pending_payment', 'rejected', 'rejected']);
  assert.deepEqual(codes, ['LIMIT_EXCEEDED', '', 'LIMIT_EXCEEDED', '', 'LIMIT_EXCEEDED', 'OUT_OF_STOCK']);
  assert.equal(await hget(`${t}:order:o-over`, 'message'), 'at most 2 per buyer');
  assert.equal(await redis.cli('EXISTS', `${t}:live:ua`), '0');
  assert.equal(await hget(`${t}:live:ub`, 'sku-l'), '2');
  assert.equal(await hget(`${t}:live:uc`, 'sku-l'), '1');
  assert.equal(await hget(`${t}:live:ud`, 'sku-z'), '1');
  assert.equal(await redis.cli('EXISTS', `${t}:live:ue`), '0');
  assert.equal(await hget(`${t}:sku:sku-l`, 'stock'), '7');
  assert.equal(await hget(`${t}:sku:sku-z`, 'stock'), '0');

  // A quantity put back keeps the buyer's other SKUs: ub's sku-a stays.
  const later = [{ ...one('o-a', 'ub', 'sku-a', 1), unitPrice: 10000, amount: 10000 },
    one('o-back', 'ub', 'sku-l', 1)];
  await runEnqueue(redis, 'vb4', later);
  const out2 = await decide('vb4', later, ['sku-a', 'sku-l'], []);
  assert.deepEqual(out2.map((r) => r.split('\0')[0]), ['pending_payment', 'rejected']);
  assert.deepEqual(await redis.cli('HGETALL', `${t}:live:ub`).then((s) => s.split('\n').sort()),
    ['1', '2', 'sku-a', 'sku-l']);

  // Orders the stock can take are counted without reading the quantity.
  const fresh = [one('o-f1', 'uf', 'sku-l', 1), one('o-f2', 'ug', 'sku-l', 2)];
  await runEnqueue(redis, 'vb4', fresh);
  await redis.cli('CONFIG', 'RESETSTAT');
  const out3 = await decide('vb4', fresh, ['sku-l'], []);
  assert.deepEqual(out3.map((r) => r.split('\0')[0]), ['pending_payment', 'pending_payment']);
  const stats = await redis.cli('INFO', 'commandstats');
  assert.doesNotMatch(stats, /cmdstat_hget:/, stats);
  assert.match(stats, /cmdstat_hincrby:calls=3,/, stats); // two buyers, one SKU's stock
});
