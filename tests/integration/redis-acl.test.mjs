// livegate against a Redis that makes it log in as an ACL user with a
// password and grants that user only what livegate needs: its own keys
// (lg:*), its own channels (lg:*), and no dangerous command. The whole
// path runs through it (auth, submit, validation, the result, the monitor's
// Pub/Sub feed, order.update), and a wrong password is refused with a
// clear error instead of a gateway that looks healthy. docs/STORAGE.md's
// "Running Redis for production" gives the same ACL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startGateway, startValidator, stopAll, validOrder, setupRoom, waitFor,
} from './lib/system.mjs';

const isFinal = (m) => (m.type === 'order.confirmed' || m.type === 'order.rejected') && m.order_id;
const PASSWORD = 'acl-test-password-0123456789';
// The ACL docs/STORAGE.md documents, word for word.
const ACL = ['on', `>${PASSWORD}`, 'resetkeys', '~lg:*', 'resetchannels', '&lg:*', '-@all',
  '+@read', '+@write', '+@keyspace', '+@stream', '+@hash', '+@string', '+@set', '+@pubsub',
  '+@scripting', '+@connection', '+time', '-@dangerous'];

let redis;
before(async () => {
  redis = await startRedis();
  assert.equal(await redis.cli('ACL', 'SETUSER', 'livegate', ...ACL), 'OK');
});
after(stopAll);

const url = (password) => `redis://livegate:${password}@127.0.0.1:${redis.port}/0`;

test('gateway and validator work end to end as a restricted ACL user', async () => {
  const gw = await startGateway({ redis: { url: url(PASSWORD) } });
  const v = await startValidator({ redis: { url: url(PASSWORD) } });
  await setupRoom(gw, 'acl', { skus: { 'sku-1': { name: '茶', price: 19900, stock: 10, on_sale: true } } });
  const op = await gw.session({ sub: 'op-acl', room: 'acl', role: 'operator' });
  op.send({ type: 'monitor.subscribe', room_id: 'acl', req: 'm' });
  assert.equal((await op.next((m) => m.req === 'm')).type, 'monitor.stats');

  const buyer = await gw.session({ sub: 'b-acl', room: 'acl', role: 'viewer' });
  const o = validOrder({ room_id: 'acl' });
  buyer.send(o);
  const acc = await buyer.next((m) => m.client_order_id === o.client_order_id);
  assert.equal(acc.type, 'order.accepted', JSON.stringify(acc));
  const result = await buyer.next((m) => isFinal(m) && m.order_id === acc.order_id, 12000);
  assert.equal(result.type, 'order.confirmed', JSON.stringify(result));
  // The monitor's feed (Pub/Sub on lg:ev:feed:acl) and stats flow.
  await op.next((m) => m.type === 'monitor.order' && m.order_id === acc.order_id, 8000);
  op.send({ type: 'order.update', order_id: acc.order_id, status: 'paid', req: 'u' });
  assert.equal((await op.next((m) => m.req === 'u')).type, 'order.updated');
  assert.equal((await buyer.next((m) => m.type === 'order.status' && m.order_id === acc.order_id)).status, 'paid');
  // A duplicate submit (watch.lua) as the same user.
  buyer.send(o);
  assert.equal((await buyer.next((m) => m.type === 'order.accepted' && m.duplicate)).order_id, acc.order_id);

  // Nothing of livegate's ran into the ACL.
  const denied = (await redis.cli('ACL', 'LOG')).split('\n').filter((l) => l.includes('livegate'));
  assert.deepEqual(denied, []);
  // And the ACL is real: the same user may not run a dangerous command.
  const log = gw.logs.join('\n') + v.logs.join('\n');
  assert.ok(!log.includes('NOPERM'), log.split('\n').filter((l) => l.includes('NOPERM')).slice(0, 3).join('\n'));
  buyer.close();
  op.close();
  await v.stop();
  await gw.stop();
});

test('the ACL refuses what livegate does not need', async () => {
  const out = await new Promise((resolve) => {
    import('node:child_process').then(({ execFile }) => execFile('redis-cli', ['-p', String(redis.port),
      '--user', 'livegate', '--pass', PASSWORD, '--no-auth-warning', 'FLUSHALL'], (err, stdout, stderr) =>
      resolve(`${stdout}${stderr}`)));
  });
  assert.match(out, /NOPERM/);
});

test('a wrong password is refused with a clear error, and /healthz says unavailable', async () => {
  const gw = await startGateway({ redis: { url: url('not-the-password') }, wait: false });
  await waitFor(() => gw.logs.some((l) => l.includes('"redis.handshake_error"') && /WRONGPASS/.test(l)),
    { what: 'the authentication error logged' }).catch((e) => {
    throw new Error(`${e.message}\n${gw.logs.slice(0, 10).join('\n')}`);
  });
  const h = await gw.http('GET', '/healthz');
  assert.equal(h.status, 503, h.text);
  await gw.stop();
});
