// GET /v1/rooms/{room}/skus carries each SKU's limit_per_user (issue 14,
// item 3), so a live-room page can cap the quantity a viewer may ask for:
// the bounds PUT accepts (1 and 10^6) come back as set, no cap is null,
// and so is a SKU stored before the field existed. Real redis-server and
// gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startGateway, stopAll, setupRoom } from './lib/system.mjs';

let redis, gw;
before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
});
after(stopAll);

test('GET skus includes limit_per_user: as set at both bounds, null for no cap or an old record', async () => {
  const base = { price: 100, stock: 5, on_sale: true };
  await setupRoom(gw, 'sl', {
    skus: {
      'sku-1': { ...base, name: 'one', limit_per_user: 1 },
      'sku-2': { ...base, name: 'max', limit_per_user: 1000000 },
      'sku-3': { ...base, name: 'none' },
    },
  });
  // Past the bounds PUT refuses, and the listing is unchanged.
  const admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
  for (const limit of [0, 1000001]) {
    const r = await gw.http('PUT', '/v1/rooms/sl/skus/sku-1', { token: admin, body: { ...base, name: 'one', limit_per_user: limit } });
    assert.equal(r.status, 400, `limit ${limit}`);
    assert.equal(r.json.error.field, 'limit_per_user');
  }
  // A SKU written before the field existed: no limit_per_user in the hash.
  await redis.cli('HSET', 'lg:{sl}:sku:sku-4', 'name', 'old', 'price', '100', 'stock', '5', 'on_sale', '1');
  await redis.cli('SADD', 'lg:{sl}:skus', 'sku-4');
  const viewer = gw.token({ sub: 'v', room: 'sl', role: 'viewer' });
  const list = await gw.http('GET', '/v1/rooms/sl/skus', { token: viewer });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.skus.map((s) => [s.sku_id, s.limit_per_user]),
    [['sku-1', 1], ['sku-2', 1000000], ['sku-3', null], ['sku-4', null]]);
  assert.deepEqual(Object.keys(list.json.skus[0]).sort(),
    ['limit_per_user', 'name', 'on_sale', 'price', 'sku_id', 'stock_left']);
});
