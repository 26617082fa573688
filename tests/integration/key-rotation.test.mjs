// Data-key rotation against the real gateway and Redis: an order sealed
// under the old key (and one sealed the way releases before key ids did) is
// still shown by GET /v1/orders/{id} once LIVEGATE_DATA_KEY is a new key and
// the old one is in LIVEGATE_DATA_KEYS_OLD; new orders carry the new key's
// id; a resubmit across the rotation is still a duplicate. Without the old
// key its records no longer open, and a bad key list stops the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { startRedis, startGateway, stopAll, validOrder, newSecrets, waitFor } from './lib/system.mjs';
import { readRecord, rewriteFixed } from './lib/record.mjs';

const oldKey = randomBytes(32).toString('hex');
const newKey = randomBytes(32).toString('hex');
const { secret } = newSecrets();
const sku = { name: 'tea', price: 19900, stock: 100, limit_per_user: 5, on_sale: true };
let redis;

// The id crypto.h documents: SHA-256("livegate data key id v1" | key), 4 bytes.
const keyId = (hex) => createHash('sha256').update('livegate data key id v1')
  .update(Buffer.from(hex, 'hex')).digest().subarray(0, 4).toString('hex');

// A pii value as sealed before key ids: version 1 | nonce | ct | tag,
// the order id alone as associated data.
function sealWithoutId(hex, orderId, doc) {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', Buffer.from(hex, 'hex'), nonce);
  c.setAAD(Buffer.from(orderId));
  const ct = Buffer.concat([c.update(JSON.stringify(doc)), c.final()]);
  return Buffer.concat([Buffer.from([1]), nonce, ct, c.getAuthTag()]).toString('base64');
}

const gatewayWith = (dataKey, old, opts = {}) => startGateway({
  redis, secrets: { secret, dataKey }, env: old === undefined ? {} : { LIVEGATE_DATA_KEYS_OLD: old }, ...opts,
});

async function submit(gw, order) {
  const c = await gw.session({ sub: 'u-rot', room: 'r1', role: 'viewer' });
  c.send(order);
  const r = await c.next((m) => m.type === 'order.accepted' || m.type === 'error');
  c.close();
  return r;
}

const getOrder = (gw, id) => gw.http('GET', `/v1/orders/${id}`, { token: gw.token({ sub: 'op', room: 'r1', role: 'operator' }) });
const sealedId = async (id) => Buffer.from((await readRecord(redis, `lg:{r1}:order:${id}`)).pii, 'base64');

before(async () => { redis = await startRedis(); });
after(stopAll);

test('after a rotation old records are shown, new ones carry the new key id, a retry is a duplicate', async () => {
  const before = await gatewayWith(oldKey);
  assert.ok(before.logs.some((l) => l.includes(`"data_key_id":"${keyId(oldKey)}"`)), before.logs.join('\n'));
  const admin = before.token({ sub: 'admin', room: '*', role: 'admin' });
  assert.equal((await before.http('PUT', '/v1/rooms/r1', { token: admin, body: { title: 'r', status: 'live', high_value_threshold: 100000, payment_methods: ['alipay'] } })).status, 200);
  assert.equal((await before.http('PUT', '/v1/rooms/r1/skus/sku-1', { token: admin, body: sku })).status, 200);

  const first = validOrder();
  const a = await submit(before, first);
  assert.equal(a.type, 'order.accepted');
  const raw = await sealedId(a.order_id);
  assert.equal(raw[0], 2);
  assert.equal(raw.subarray(1, 5).toString('hex'), keyId(oldKey));
  // A second order whose pii is rewritten as a pre-key-id value.
  const legacy = await submit(before, validOrder());
  await rewriteFixed(redis, `lg:{r1}:order:${legacy.order_id}`, { pii:
    sealWithoutId(oldKey, legacy.order_id, { name: '李四', phone: '13900139000', province: '江苏省', city: '南京市', detail: 'x' }) });
  assert.equal((await getOrder(before, legacy.order_id)).json.province, '江苏省');
  await before.stop();

  const after = await gatewayWith(newKey, oldKey);
  assert.ok(after.logs.some((l) => l.includes(`"data_key_id":"${keyId(newKey)}"`) && l.includes('"old_data_keys":1')));
  const shown = await getOrder(after, a.order_id);
  assert.equal(shown.status, 200);
  assert.equal(shown.json.province, '浙江省');
  assert.equal(shown.json.city, '杭州市');
  assert.equal((await getOrder(after, legacy.order_id)).json.city, '南京市');

  const retry = await submit(after, first);
  assert.equal(retry.type, 'order.accepted', JSON.stringify(retry));
  assert.equal(retry.duplicate, true);
  assert.equal(retry.order_id, a.order_id);

  const b = await submit(after, validOrder({ address: { province: '广东省', city: '深圳市' } }));
  const rawB = await sealedId(b.order_id);
  assert.equal(rawB[0], 2);
  assert.equal(rawB.subarray(1, 5).toString('hex'), keyId(newKey));
  assert.equal((await getOrder(after, b.order_id)).json.province, '广东省');
  await after.stop();

  // The old key dropped: its records stay sealed (and say so in the log),
  // the new key's still open, and fingerprints now come from the new key,
  // so the old order's retry is a conflict (the README says so).
  const dropped = await gatewayWith(newKey);
  const hidden = await getOrder(dropped, a.order_id);
  assert.equal(hidden.status, 200);
  assert.equal(hidden.json.province, undefined);
  await waitFor(() => dropped.logs.some((l) => l.includes('order.pii_unreadable')), { what: 'order.pii_unreadable' });
  assert.equal((await getOrder(dropped, b.order_id)).json.province, '广东省');
  const late = await submit(dropped, first);
  assert.equal(late.type, 'error');
  assert.equal(late.code, 'IDEMPOTENCY_CONFLICT');
  await dropped.stop();
});

test('a bad LIVEGATE_DATA_KEYS_OLD stops the gateway and names the key at fault', async () => {
  for (const [list, says] of [[`${oldKey},abc`, 'key 2 must be'], [`${oldKey},`, 'key 2 must be'],
    [Array(9).fill(oldKey).join(','), 'more than 8 keys']]) {
    const gw = await gatewayWith(newKey, list, { wait: false });
    gw.expectFailure();
    const { code } = await gw.proc.done;
    assert.equal(code, 1);
    assert.ok(gw.logs.some((l) => l.includes('gateway.config_invalid') && l.includes(says)), gw.logs.join('\n'));
  }
  // Eight keys, the bound, are taken.
  const eight = await gatewayWith(newKey, Array(8).fill(oldKey).join(','));
  assert.ok(eight.logs.some((l) => l.includes('"old_data_keys":8')));
  await eight.stop();
});
