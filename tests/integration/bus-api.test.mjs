// gateway/bus.c's subscription API against a real Redis, through
// tests/tools/bus_probe: reference counting by (channel, fn, arg), patterns,
// unsubscribing from inside a callback, a channel wanted again while its
// UNSUBSCRIBE is still on the way, and every subscription back after a
// Redis restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopAll, sleep, waitFor, bin, spawnTracked } from './lib/system.mjs';

let redis, probe;

function startProbe() {
  const proc = spawnTracked(bin('bus_probe'), [redis.url], { name: 'bus_probe', stdin: 'pipe', stdout: 'pipe' });
  const { child } = proc;
  const lines = [];
  let partial = '';
  child.stdout.on('data', (d) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop();
    lines.push(...parts);
  });
  const done = proc.done.then(({ code }) => code);
  return {
    child, lines, done,
    async send(cmd) {
      const before = lines.filter((l) => l === 'ok').length;
      child.stdin.write(cmd + '\n');
      await waitFor(() => lines.filter((l) => l === 'ok').length > before, { what: `probe: ${cmd}` });
    },
    msgs: (id) => lines.filter((l) => l.startsWith(`msg ${id} `)),
  };
}

before(async () => {
  redis = await startRedis();
  probe = startProbe();
});
after(async () => {
  if (probe.child.exitCode === null) {
    probe.child.stdin.write('quit\n');
    const timer = setTimeout(() => probe.child.kill('SIGKILL'), 5000);
    await probe.done;
    clearTimeout(timer);
  }
  await stopAll();
});

const numsub = async (ch) => Number((await redis.cli('PUBSUB', 'NUMSUB', ch)).split('\n')[1]);
const numpat = async () => Number(await redis.cli('PUBSUB', 'NUMPAT'));
const waitSubs = (ch, n) => waitFor(async () => (await numsub(ch)) === n, { what: `NUMSUB ${ch} = ${n}` });
const publish = (ch, payload) => redis.cli('PUBLISH', ch, payload);

test('subscriptions are counted by (channel, fn, arg); the last one leaves the Redis channel', async () => {
  await probe.send('sub ch-a 1');
  await probe.send('sub ch-a 2');
  await probe.send('sub ch-a 1'); // id 1 now holds two references
  await waitSubs('ch-a', 1);
  await publish('ch-a', 'one');
  await waitFor(() => probe.msgs(1).length === 1 && probe.msgs(2).length === 1, { what: 'both subscribers' });
  assert.equal(probe.msgs(1)[0], 'msg 1 ch-a one');

  await probe.send('unsub ch-a 1'); // one reference of id 1 left
  await probe.send('unsub ch-a 2');
  await publish('ch-a', 'two');
  await waitFor(() => probe.msgs(1).length === 2, { what: 'id 1 still subscribed' });
  await sleep(200);
  assert.equal(probe.msgs(2).length, 1, 'id 2 unsubscribed');

  await probe.send('unsub ch-a 1');
  await probe.send('unsub ch-a 1'); // one too many: ignored
  await waitSubs('ch-a', 0);
  assert.equal(Number(await publish('ch-a', 'three')), 0);
});

test('a channel with * is a pattern; the callback gets the matching channel', async () => {
  await probe.send('sub lg:ev:feed:* 3');
  await waitFor(async () => (await numpat()) === 1, { what: 'NUMPAT 1' });
  await publish('lg:ev:feed:r1', '{"x":1}');
  await waitFor(() => probe.msgs(3).length === 1, { what: 'pattern message' });
  assert.equal(probe.msgs(3)[0], 'msg 3 lg:ev:feed:r1 {"x":1}');
  await probe.send('unsub lg:ev:feed:* 3');
  await waitFor(async () => (await numpat()) === 0, { what: 'NUMPAT 0' });
});

test('unsubscribing from inside the callback', async () => {
  await probe.send('once ch-once 4');
  await probe.send('sub ch-once 5');
  await waitSubs('ch-once', 1);
  await publish('ch-once', 'first');
  await publish('ch-once', 'second');
  await waitFor(() => probe.msgs(5).length === 2, { what: 'the other subscriber' });
  assert.deepEqual(probe.msgs(4), ['msg 4 ch-once first']);
  await probe.send('unsub ch-once 5');
  await waitSubs('ch-once', 0);
});

test('a channel wanted again while its UNSUBSCRIBE is on the way stays subscribed', async () => {
  for (let round = 0; round < 20; round++) {
    probe.child.stdin.write('sub ch-flip 6\nunsub ch-flip 6\nsub ch-flip 6\nunsub ch-flip 6\nsub ch-flip 6\n');
    await waitSubs('ch-flip', 1);
    const n = probe.msgs(6).length;
    await publish('ch-flip', `round-${round}`);
    await waitFor(() => probe.msgs(6).length === n + 1, { timeoutMs: 3000, what: `message of round ${round}` });
    await probe.send('unsub ch-flip 6');
    await waitSubs('ch-flip', 0);
  }
});

test('every subscription is back after a Redis restart', async () => {
  await probe.send('sub ch-r 7');
  await probe.send('sub ch-r2 8');
  await probe.send('sub lg:ev:x:* 9');
  await waitSubs('ch-r', 1);
  await redis.stop();
  await sleep(200);
  await redis.start();
  await waitFor(async () => (await numsub('ch-r')) === 1 && (await numsub('ch-r2')) === 1 && (await numpat()) === 1,
    { timeoutMs: 15000, what: 'resubscribed' });
  await publish('ch-r', 'a');
  await publish('ch-r2', 'b');
  await publish('lg:ev:x:1', 'c');
  await waitFor(() => probe.msgs(7).length === 1 && probe.msgs(8).length === 1 && probe.msgs(9).length === 1,
    { what: 'messages after the restart' });
});

test('the probe closes the bus cleanly', async () => {
  probe.child.stdin.write('quit\n');
  const timer = setTimeout(() => probe.child.kill('SIGKILL'), 5000);
  const code = await probe.done;
  clearTimeout(timer);
  assert.equal(code, 0);
});
