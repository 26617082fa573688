#!/usr/bin/env node
// script-cost.mjs - what the hot path's Redis scripts cost Redis per order,
// repeatably on a noisy machine.
//
// Why: Redis's own figures (INFO commandstats) are wall time, inflated by
// whatever else runs on the box, and a max run moves by ±8 % between runs
// here. Instructions do not: under valgrind --tool=callgrind the same calls
// execute the same instructions however busy the machine is, so a change
// to a script can be compared before and after in one minute.
//
// It starts a fresh redis-server of its own (AOF everysec, as issue 11's
// configuration; loopback, a free port), loads queue/lua/enqueue.lua,
// validate.lua and reply.lua (or the files given), then runs three phases
// with the bench's shape of order (one room, 5 SKUs, 200 buyers, a sealed
// address of ~270 bytes, a third high-value):
//   enqueue   N orders, 8 per call, as gateway/features/intake.c sends them
//   validate  the same orders, 128 per call, as validator/decide.c does
//   reply     their results, 128 per reply.lua call, and one XREAD of them
// and prints, per order, Redis's CPU (from /proc) and, with --callgrind,
// the instructions Redis executed (callgrind_control zeroes and dumps the
// counts around each phase). It needs valgrind for --callgrind.
//
//   node scripts/bench/script-cost.mjs [--orders N] [--callgrind] [--no-aof]
//        [--enqueue FILE] [--validate FILE] [--reply FILE]
//
// The argument layouts are the scripts' own (see each script's header); a
// change to one of them must be made here too, or the phase reports the
// script's error. Every process started here is stopped on exit.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../lib/resp.mjs';
import { luaSource } from '../lib/lua-source.mjs';
import { packOrder } from '../lib/order-record.mjs';
import { validateCall } from '../lib/validate-call.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const opts = { orders: 20000, callgrind: false, aof: true,
  enqueue: path.join(root, 'queue/lua/enqueue.lua'), validate: path.join(root, 'queue/lua/validate.lua'),
  reply: path.join(root, 'queue/lua/reply.lua') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--orders') opts.orders = Number(argv[++i]);
  else if (a === '--callgrind') opts.callgrind = true;
  else if (a === '--no-aof') opts.aof = false;
  else if (['--enqueue', '--validate', '--reply'].includes(a)) opts[a.slice(2)] = argv[++i];
  else {
    console.error(`unknown option ${a}\nusage: script-cost.mjs [--orders N] [--callgrind] [--no-aof] [--enqueue F] [--validate F] [--reply F]`);
    process.exit(2);
  }
}
if (!Number.isInteger(opts.orders) || opts.orders < 128 || opts.orders > 1000000) {
  console.error('--orders must be an integer from 128 to 1000000');
  process.exit(2);
}
if (opts.callgrind) {
  try { execFileSync('valgrind', ['--version'], { stdio: 'ignore' }); } catch {
    console.error('--callgrind needs valgrind (apt-get install valgrind)');
    process.exit(2);
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'lg-script-cost-'));
let server = null;
function cleanup() {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')')[1].trim().split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function callgrindDump(pid) {
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const files = readdirSync(dir).filter((f) => f.startsWith('cg.'))
    .sort((a, b) => statSync(path.join(dir, a)).mtimeMs - statSync(path.join(dir, b)).mtimeMs);
  const text = readFileSync(path.join(dir, files.at(-1)), 'utf8');
  const m = text.match(/^(?:totals|summary): (\d+)/m);
  return m ? Number(m[1]) : 0;
}

const port = await freePort();
const redisArgs = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
  '--appendonly', opts.aof ? 'yes' : 'no', '--appendfsync', 'everysec', '--logfile', path.join(dir, 'log')];
server = opts.callgrind
  ? spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${dir}/cg.%p`, 'redis-server', ...redisArgs], { stdio: 'ignore' })
  : spawn('redis-server', redisArgs, { stdio: 'ignore' });
let r;
for (let i = 0; i < 600 && !r; i++) {
  if (server.exitCode !== null) throw new Error('redis-server did not start');
  try { r = await connect(port); } catch { await new Promise((res) => setTimeout(res, 100)); }
}

const ROOM = 'lg:{cost}';
await r.send([['HSET', `${ROOM}:room`, 'status', 'live', 'payment_methods', 'cod,alipay', 'high_value_threshold', '50000'],
  ...[0, 1, 2, 3, 4].map((k) => ['HSET', `${ROOM}:sku:sku-${k}`, 'price', '9900', 'stock', '100000000',
    'limit_per_user', '1000000', 'on_sale', '1'])]);
const [enq, val, rep] = await r.send([opts.enqueue, opts.validate, opts.reply]
  .map((f) => ['SCRIPT', 'LOAD', luaSource(f)]));
for (const sha of [enq, val, rep]) if (sha instanceof Error) throw sha;

let seed = 1;
const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const pii = Buffer.from(Array.from({ length: 200 }, () => rand(256))).toString('base64');
const orders = Array.from({ length: opts.orders }, (_, i) => {
  const high = rand(100) < 35;
  return { oid: `o-cost-${i}`, user: `u${rand(200)}`, coid: `c-${i}`, sku: `sku-${i % 5}`,
    qty: high ? '6' : '2', amount: high ? '59400' : '19800', tier: rand(10) === 0 ? 'vip' : '' };
});

function enqueueCall(batch) {
  const keys = [`${ROOM}:room`, `${ROOM}:q:high`, `${ROOM}:q:normal`, `${ROOM}:feed:watched`, `${ROOM}:load`];
  // No admission wait and no stall: the phase measures the writes.
  const args = ['86400', '604800', 'gw-cost', 'cost', 'lg:ev:feed:cost', '10000', '1000000000', '0', '20', '0'];
  for (const o of batch) {
    keys.push(`${ROOM}:idem:${o.user}/${o.coid}`, `${ROOM}:order:${o.oid}`, `${ROOM}:rate:${o.user}`);
    const d = packOrder({ order_id: o.oid, room_id: 'cost', gw: 'gw-cost', user: o.user,
      client_order_id: o.coid, sku_id: o.sku, qty: o.qty, unit_price: '9900', amount: o.amount,
      currency: 'CNY', payment_method: 'cod', coupon_id: '', tier: o.tier, buyer: '赵**',
      phone: '130****0043', pii, req: `s${rand(100000)}` });
    args.push(`k1${'ab'.repeat(16)}`, d, o.oid, `${o.oid}|${o.user}|${o.sku}|`, o.tier, o.amount);
  }
  return ['EVALSHA', enq, keys.length, ...keys, ...args];
}
function validateEval(batch) {
  const skus = [...new Set(batch.map((o) => o.sku))];
  const { keys, args } = validateCall('cost', batch.map((o) => ({ oid: o.oid, user: o.user })),
    { skus, margin: 500, feed: 'lg:ev:feed:cost' });
  return ['EVALSHA', val, keys.length, ...keys, ...args];
}
function replyCall(batch) {
  const packed = batch.map((o) => [o.oid, 'cost', o.user, 'pending_payment', '', '', '', o.amount,
    '1796228813334', '1796229713334', o.coid, 's8662', '1796228813194', '']
    .map((v) => `${Buffer.byteLength(v)}:${v}\0`).join('')).join('');
  return ['EVALSHA', rep, '1', 'lg:gw:{gw-cost}:replies', '100000', '3600000', String(batch.length), packed];
}
const chunks = (size) => Array.from({ length: Math.ceil(orders.length / size) }, (_, i) => orders.slice(i * size, (i + 1) * size));

async function phase(name, calls, check) {
  await r.send([['CONFIG', 'RESETSTAT']]);
  if (opts.callgrind) execFileSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'ignore' });
  const cpu0 = cpuSeconds(server.pid);
  const replies = [];
  for (let i = 0; i < calls.length; i += 16) replies.push(...await r.send(calls.slice(i, i + 16)));
  const cpu = cpuSeconds(server.pid) - cpu0;
  const instructions = opts.callgrind ? callgrindDump(server.pid) : 0;
  const failed = replies.find((x) => x instanceof Error);
  if (failed) throw new Error(`${name}: ${failed.message}`);
  const ok = check(replies);
  const n = orders.length;
  console.log(`${name.padEnd(9)} ${(cpu * 1e6 / n).toFixed(1).padStart(7)} µs of Redis CPU per order` +
    (opts.callgrind ? `, ${Math.round(instructions / n).toLocaleString('en-US').padStart(8)} instructions per order` : '') +
    `  (${ok} of ${n} as expected)`);
}

console.log(`redis-server ${opts.callgrind ? 'under callgrind, ' : ''}AOF ${opts.aof ? 'everysec' : 'off'}, ${orders.length} orders`);
await phase('enqueue', chunks(8).map(enqueueCall), (rs) => rs.flat().filter((x) => Array.isArray(x) && x[0] === 'accepted').length);
await phase('validate', chunks(128).map(validateEval), (rs) => rs.flat().filter((x) => typeof x === 'string' && x.startsWith('pending_payment\0')).length);
await phase('reply', [...chunks(128).map(replyCall), ['XREAD', 'COUNT', '1000000', 'STREAMS', 'lg:gw:{gw-cost}:replies', '0']],
  (rs) => rs.slice(0, -1).reduce((s, x) => s + Number(x), 0));
r.close();
process.exit(0);
