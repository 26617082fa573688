// intake-load.mjs - a simple closed-loop load on the intake path alone:
// C connections, each keeping K order.submit frames in flight, until N
// orders are accepted or the time limit passes. Reports accepted orders per
// second and accept latency (send -> order.accepted). It measures intake
// only; the full picture (open loop, results, audit) is livegate-bench's.
//
//   node scripts/bench/intake-load.mjs --url ws://127.0.0.1:8080/v1/ws \
//        --secret S --room load --conns 50 --inflight 20 --orders 200000
import { createRequire } from 'node:module';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tests/package.json'));
const WebSocket = require('ws');

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []));
const url = args.url ?? 'ws://127.0.0.1:8080/v1/ws';
const secret = args.secret ?? process.env.LIVEGATE_JWT_SECRET;
const room = args.room ?? 'load';
const conns = Number(args.conns ?? 50);
const inflight = Number(args.inflight ?? 20);
const target = Number(args.orders ?? 100000);
const limitMs = Number(args['max-seconds'] ?? 60) * 1000;
if (!secret) { console.error('--secret or LIVEGATE_JWT_SECRET is required'); process.exit(2); }

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function token(sub) {
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub, room, role: 'viewer', exp: Math.floor(Date.now() / 1000) + 3600 });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

const run = `${process.pid}-${Date.now()}`;
let sent = 0, accepted = 0, errors = 0;
const latencies = [];
const started = Date.now();
let done = false;
let finishedAt = 0;
const finishers = [];
// The run ends for every connection at once when the target is reached.
function finish() {
  if (done) return;
  done = true;
  finishedAt = Date.now();
  for (const f of finishers) f();
}

function order(coid) {
  return JSON.stringify({
    type: 'order.submit', client_order_id: coid, room_id: room, sku_id: 'sku-1', qty: 1,
    unit_price: 19900, amount: 19900, currency: 'CNY', payment_method: 'alipay',
    address: { name: '张三', phone: '13800138000', province: '浙江省', city: '杭州市',
      detail: '文三路 1 号' },
  });
}

function openOne(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    finishers.push(() => resolve(ws));
    const sentAt = new Map();
    let seq = 0;
    const submit = () => {
      if (done || sent >= target) return;
      const coid = `l-${run}-${i}-${seq++}`;
      sentAt.set(coid, process.hrtime.bigint());
      sent++;
      ws.send(order(coid));
    };
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: token(`load-${i}`) })));
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'auth.ok') { for (let k = 0; k < inflight; k++) submit(); return; }
      if (m.type === 'order.accepted') {
        const t0 = sentAt.get(m.client_order_id);
        sentAt.delete(m.client_order_id);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        accepted++;
      } else if (m.type === 'error' || m.type === 'order.rejected') {
        errors++;
        if (m.ref) sentAt.delete(m.ref);
      } else {
        return; // results and other pushes do not free an in-flight slot
      }
      if (accepted + errors >= target || Date.now() - started > limitMs) { finish(); return; }
      submit();
    });
    ws.on('close', () => resolve(ws));
    ws.on('error', () => { errors++; resolve(ws); });
  });
}

const sockets = await Promise.race([
  Promise.all(Array.from({ length: conns }, (_, i) => openOne(i))),
  new Promise((r) => setTimeout(r, limitMs + 5000)),
]);
finish();
const seconds = (finishedAt - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p / 100 * latencies.length))] : 0;
const report = {
  conns, inflight, sent, accepted, errors, seconds: +seconds.toFixed(2),
  accepted_per_s: Math.round(accepted / seconds),
  accept_ms: { p50: +pct(50).toFixed(2), p99: +pct(99).toFixed(2), max: +(latencies.at(-1) ?? 0).toFixed(2) },
  client_cpu_s: +(process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6).toFixed(2),
};
console.log(JSON.stringify(report));
for (const ws of sockets ?? []) ws?.terminate?.();
process.exit(0);
