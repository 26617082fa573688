// The order record's fixed fields packed as one value, "d"
// (queue/order_record.h, queue/lua/lib/order_record.lua): the C and Lua
// lists of fields agree, a record written now holds them only in d, and a
// record of an earlier release, with every field of its own, is still
// decided, shown and moved along after the upgrade, with the same answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, waitFor,
} from './lib/system.mjs';
import { readRecord } from './lib/record.mjs';
import { ORDER_FIXED, packOrder } from '../../scripts/lib/order-record.mjs';
import { connect } from '../../scripts/lib/resp.mjs';

let redis, gw;

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
  await setupRoom(gw, 'r1', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
});
after(stopAll);

test('the C layout (order_record.c) and the scripts\' (lib/order_record.lua) name the same fields in the same order', () => {
  const header = readFileSync(new URL('../../queue/order_record.h', import.meta.url), 'utf8');
  const source = readFileSync(new URL('../../queue/order_record.c', import.meta.url), 'utf8');
  const order = header.match(/enum lg_order_fixed \{([^}]*)\}/)[1].match(/LG_OF_\w+/g);
  const names = Object.fromEntries([...source.matchAll(/\[(LG_OF_\w+)\] = "([^"]+)"/g)].map((m) => [m[1], m[2]]));
  assert.equal(order.length, 17);
  assert.deepEqual(order.map((e) => names[e]), ORDER_FIXED);
});

test('the scripts read every fixed field of d under its own name, pii aside, and refuse a d of the wrong shape', async () => {
  const lib = readFileSync(new URL('../../queue/lua/lib/order_record.lua', import.meta.url), 'utf8');
  const read = `${lib}\nreturn cjson.encode(order_read(KEYS[1], {'watchers'}))`;
  const values = Object.fromEntries(ORDER_FIXED.map((n) => [n, `v-${n}`]));
  const conn = await connect(redis.port);
  try {
    const [set] = await conn.send([['HSET', 'lg:{lay}:order:o1', 'status', 'queued', 'watchers', 'gw-x',
      'd', packOrder(values)]]);
    assert.equal(set, '3');
    const [json] = await conn.send([['EVAL', read, '1', 'lg:{lay}:order:o1']]);
    const { pii, ...expected } = values;
    assert.ok(pii);
    assert.deepEqual(JSON.parse(json), { ...expected, status: 'queued', watchers: 'gw-x' });
    // One value short: an error, not a record read askew.
    await conn.send([['HSET', 'lg:{lay}:order:o2', 'status', 'queued',
      'd', ORDER_FIXED.slice(0, -2).map((n) => values[n]).join('\0')]]);
    const [bad] = await conn.send([['EVAL', read, '1', 'lg:{lay}:order:o2']]);
    assert.ok(bad instanceof Error && /malformed d/.test(bad.message), String(bad));
    // No record: nothing.
    const [none] = await conn.send([['EVAL', read, '1', 'lg:{lay}:order:none']]);
    assert.equal(none, '{}');
  } finally {
    conn.close();
  }
});

const OLD = {
  order_id: 'o-old', room_id: 'r1', gw: 'gw-gone', user: 'u-old', client_order_id: 'c-old',
  sku_id: 'sku-1', qty: '2', unit_price: '19900', amount: '39800', currency: 'CNY',
  payment_method: 'alipay', coupon_id: '', tier: '', buyer: '李*', phone: '139****0000', req: '',
};

// An order queued by an earlier release: every field its own, no d.
async function seedOldOrder() {
  const now = Number((await redis.cli('TIME')).split('\n')[0]) * 1000;
  const fields = Object.entries({ ...OLD, status: 'queued', priority: 'normal', accepted_at_ms: String(now) }).flat();
  await redis.cli('HSET', 'lg:{r1}:order:o-old', ...fields);
  await redis.cli('SET', 'lg:oidx:{o-old}', 'r1');
  await redis.cli('HINCRBY', 'lg:{r1}:load', 'normal', '1');
  await redis.cli('XADD', 'lg:{r1}:q:normal', '*', 'o', `o-old|u-old|sku-1||${now}|gw-gone`);
}

const getOrder = (id) => gw.http('GET', `/v1/orders/${id}`, { token: gw.token({ sub: 'op', room: 'r1', role: 'operator' }) });

test('a new record holds its fixed fields only in d; one of an earlier release is decided, shown and paid as before', async () => {
  const c = await gw.session({ sub: 'u-new', room: 'r1', role: 'viewer' });
  const order = validOrder({ qty: 2, amount: 39800 });
  c.send(order);
  const acc = await c.next((m) => m.client_order_id === order.client_order_id);
  assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
  const keyNew = `lg:{r1}:order:${acc.order_id}`;
  assert.deepEqual((await redis.cli('HKEYS', keyNew)).split('\n').sort(), ['accepted_at_ms', 'd', 'priority', 'status']);
  // After the new order: its admission found the room idle.
  await seedOldOrder();

  await startValidator({ redis });
  const result = await c.next((m) => m.order_id === acc.order_id && m.type === 'order.confirmed', 12000);
  assert.equal(result.amount, 39800);
  await waitFor(async () => (await redis.cli('HGET', 'lg:{r1}:order:o-old', 'status')) === 'pending_payment',
    { what: 'the old order decided' });
  // Both took their stock: 10 - 2 - 2.
  assert.equal(await redis.cli('HGET', 'lg:{r1}:sku:sku-1', 'stock'), '6');

  // Decisions add fields beside d, never a fixed one of its own.
  const decided = await redis.cli('HKEYS', keyNew);
  for (const name of ORDER_FIXED) assert.ok(!decided.split('\n').includes(name), `${name} outside d`);
  const rec = await readRecord(redis, keyNew);
  assert.equal(rec.user, 'u-new');
  assert.equal(rec.client_order_id, order.client_order_id);
  assert.equal(rec.status, 'pending_payment');

  // The order view shows both layouts with the same fields (the old one
  // has no sealed address, so no province or city).
  const shownNew = await getOrder(acc.order_id), shownOld = await getOrder('o-old');
  assert.equal(shownNew.status, 200);
  assert.equal(shownOld.status, 200);
  const keys = (o) => Object.keys(o).filter((k) => k !== 'province' && k !== 'city').sort();
  assert.deepEqual(keys(shownOld.json), keys(shownNew.json));
  assert.equal(shownNew.json.user, 'u-new');
  assert.equal(shownNew.json.sku_id, 'sku-1');
  assert.equal(shownNew.json.amount, 39800);
  assert.equal(shownNew.json.coupon_id, null);
  assert.equal(shownNew.json.province, '浙江省');
  assert.equal(shownOld.json.user, 'u-old');
  assert.equal(shownOld.json.qty, 2);
  assert.equal(shownOld.json.buyer, '李*');
  assert.equal(shownOld.json.status, 'pending_payment');

  // order.update reads the user and SKU from either layout.
  const op = await gw.session({ sub: 'op-1', room: 'r1', role: 'operator' });
  for (const id of ['o-old', acc.order_id]) {
    op.send({ type: 'order.update', order_id: id, status: 'cancelled', req: `x-${id}` });
    const r = await op.next((m) => m.req === `x-${id}`);
    assert.equal(r.type, 'order.updated', JSON.stringify(r));
    assert.equal(r.status, 'cancelled');
  }
  assert.equal(await redis.cli('HGET', 'lg:{r1}:sku:sku-1', 'stock'), '10');
  c.close();
  op.close();
});
