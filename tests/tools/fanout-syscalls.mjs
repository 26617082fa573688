// fanout-syscalls.mjs - counts a gateway's system calls during a sku.update
// fan-out, for issue 11 (principle 9: one write per connection per turn).
// Starts its own Redis and gateway on free loopback ports, connects VIEWERS
// viewers to one room, attaches `strace -c -f` to the gateway, publishes
// EVENTS sku.update events in one pipelined write (so they reach the
// gateway in one loop turn), waits until every viewer has every update and
// prints the syscalls, writes and epoll_ctl calls per frame sent. Wall time
// is not measured: the machine is shared.
//
//   LIVEGATE_BIN=build-release/livegate node tests/tools/fanout-syscalls.mjs [viewers] [events]
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  startRedis, startGateway, stopAll, setupRoom, sleep, waitFor, newSecrets,
} from '../integration/lib/system.mjs';

const VIEWERS = Number(process.argv[2] ?? 400);
const EVENTS = Number(process.argv[3] ?? 5);

function resp(...args) {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

// Every PUBLISH in one TCP write: Redis forwards them together.
function publishAll(port, payloads) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write(payloads.map((p) => resp('PUBLISH', 'lg:ev:sku', p)).join(''));
    });
    let replies = 0;
    sock.on('data', (d) => {
      replies += (d.toString().match(/\r\n/g) || []).length;
      if (replies >= payloads.length) { sock.end(); resolve(); }
    });
    sock.on('error', reject);
  });
}

function summarize(file) {
  const rows = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.trim().match(/^[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/);
    if (m && m[2] !== 'total') rows[m[2]] = Number(m[1]);
  }
  return rows;
}

const redis = await startRedis();
const secrets = newSecrets();
const gw = await startGateway({ redis, secrets });
const admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
await setupRoom(gw, 'r1', { skus: { 's1': { name: 'x', price: 100, stock: 5, on_sale: true } } });
await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', 'lg:ev:sku')).split('\n')[1]) >= 1,
  { what: 'gateway subscribed' });
void admin;
const viewers = [];
for (let i = 0; i < VIEWERS; i++) viewers.push(await gw.session({ sub: `v${i}`, room: 'r1', role: 'viewer' }));
await sleep(500);
for (const c of viewers) c.messages.length = 0;

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lg-strace-')), 'strace.txt');
const tracer = spawn('strace', ['-c', '-f', '-o', out, '-p', String(gw.pid)], { stdio: 'ignore' });
await sleep(1000);
const payloads = [];
for (let e = 0; e < EVENTS; e++)
  payloads.push(JSON.stringify({ room: 'r1', sku_id: `s-${e}`, stock_left: e, on_sale: true, price: 100 }));
await publishAll(redis.port, payloads);
const isUpdate = (m) => m.type === 'sku.update';
await waitFor(() => viewers.every((c) => c.messages.filter(isUpdate).length >= EVENTS),
  { timeoutMs: 60000, what: 'every viewer has every update' });
await sleep(300);
tracer.kill('SIGINT');
await new Promise((r) => tracer.on('exit', r));

// Every viewer must have the updates in publish order, each parsed whole.
for (const c of viewers) {
  const got = c.messages.filter(isUpdate).map((m) => m.sku_id);
  if (got.join() !== payloads.map((p) => JSON.parse(p).sku_id).join()) throw new Error(`out of order: ${got}`);
}
const rows = summarize(out);
const frames = VIEWERS * EVENTS;
const total = Object.values(rows).reduce((a, b) => a + b, 0);
const writes = (rows.sendto ?? 0) + (rows.write ?? 0) + (rows.writev ?? 0) + (rows.sendmsg ?? 0);
const per = (n) => (n / frames).toFixed(3);
console.log(`viewers ${VIEWERS} events ${EVENTS} frames ${frames}`);
console.log(`syscalls ${total} (${per(total)}/frame) writes ${writes} (${per(writes)}/frame) ` +
  `epoll_ctl ${rows.epoll_ctl ?? 0} (${per(rows.epoll_ctl ?? 0)}/frame)`);
console.log(JSON.stringify(rows));
for (const c of viewers) c.close?.();
await stopAll();
