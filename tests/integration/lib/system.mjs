// system.mjs - starts and stops the real processes integration tests run
// against: redis-server on a free loopback port, the livegate gateway and
// validator binaries. Every process started here is stopped by stopAll(),
// which each test file calls in an after() hook, and every wait is bounded.
import { spawn, execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../package.json'));
export const WebSocket = require('ws');

const buildDir = process.env.LIVEGATE_BUILD_DIR ?? path.join(here, '../../../build');
export const GATEWAY_BIN = process.env.LIVEGATE_BIN ?? path.join(buildDir, 'livegate');
export const VALIDATOR_BIN =
  process.env.LIVEGATE_VALIDATOR_BIN ?? path.join(buildDir, 'livegate-validator');
export const BENCH_BIN = process.env.LIVEGATE_BENCH_BIN ?? path.join(buildDir, 'bench', 'livegate-bench');

const running = new Set();
const tmpDirs = [];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(check, { timeoutMs = 10000, everyMs = 50, what = 'condition' } = {}) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function track(child, name) {
  const proc = { child, name, exited: false, code: null, signal: null };
  proc.done = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      proc.exited = true;
      proc.code = code;
      proc.signal = signal;
      running.delete(proc);
      resolve({ code, signal });
    });
  });
  running.add(proc);
  return proc;
}

async function stopProc(proc, signal = 'SIGTERM', graceMs = 5000) {
  if (proc.exited) return proc.done;
  try { proc.child.kill('SIGCONT'); } catch {}
  proc.child.kill(signal);
  const timer = setTimeout(() => { if (!proc.exited) proc.child.kill('SIGKILL'); }, graceMs);
  const result = await proc.done;
  clearTimeout(timer);
  return result;
}

// Stops everything still running. A gateway or validator that does not
// exit 0 on SIGTERM fails the test file: that is how a crash at shutdown or a
// leak reported by the sanitizer build is caught.
export async function stopAll() {
  const procs = [...running];
  const exits = await Promise.all(procs.map((p) => stopProc(p)));
  for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  const unclean = procs.filter((p, i) => p.name !== 'redis' && exits[i].code !== 0);
  if (unclean.length) {
    const detail = unclean.map((p) => `${p.name} exited ${p.code ?? p.signal}:\n${(p.logs ?? []).slice(-30).join('\n')}`);
    throw new Error(`unclean exit on SIGTERM\n${detail.join('\n')}`);
  }
}

export function redisCli(port, ...args) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-p', String(port), '--raw', ...args], { timeout: 10000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout.replace(/\n$/, ''))));
  });
}

export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lg-redis-'));
  tmpDirs.push(dir);
  const redis = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    proc: null,
    async start() {
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1',
        '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no',
        '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
      redis.proc = track(child, 'redis');
      await waitFor(async () => (await redisCli(port, 'ping').catch(() => '')) === 'PONG',
        { what: 'redis-server' });
    },
    stop: () => stopProc(redis.proc),
    pause: () => redis.proc.child.kill('SIGSTOP'),
    resume: () => redis.proc.child.kill('SIGCONT'),
    cli: (...args) => redisCli(port, ...args),
  };
  await redis.start();
  return redis;
}

export function newSecrets() {
  return { secret: randomBytes(24).toString('hex'), dataKey: randomBytes(32).toString('hex') };
}

async function httpRequest(base, method, urlPath, { token, body, raw } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + urlPath, {
    method, headers, body: raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

export async function startGateway({ redis, secrets = newSecrets(), env = {}, wait = true, port: fixedPort } = {}) {
  const port = fixedPort ?? await freePort();
  const logs = [];
  const child = spawn(GATEWAY_BIN, ['serve'], {
    env: {
      ...process.env,
      LIVEGATE_JWT_SECRET: secrets.secret,
      LIVEGATE_DATA_KEY: secrets.dataKey,
      LIVEGATE_REDIS_URL: redis.url,
      LIVEGATE_LISTEN: `127.0.0.1:${port}`,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let partial = '';
  child.stderr.on('data', (d) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop();
    logs.push(...lines);
  });
  const proc = track(child, 'gateway');
  proc.logs = logs;
  const base = `http://127.0.0.1:${port}`;
  const gw = {
    port, proc, logs, secrets,
    pid: child.pid,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    http: (method, urlPath, opts) => httpRequest(base, method, urlPath, opts),
    stop: (signal) => stopProc(proc, signal),
    token: (claims, opts) => mintToken(claims, secrets.secret, opts),
    connect: () => connect(`ws://127.0.0.1:${port}/v1/ws`),
    async session(claims) {
      const c = await connect(`ws://127.0.0.1:${port}/v1/ws`);
      c.send({ type: 'auth', token: mintToken(claims, secrets.secret) });
      const ok = await c.next((m) => m.type === 'auth.ok' || m.type === 'error');
      if (ok.type !== 'auth.ok') throw new Error(`auth failed: ${JSON.stringify(ok)}`);
      return c;
    },
  };
  if (wait) {
    await waitFor(async () => {
      if (proc.exited) throw new Error(`gateway exited: ${logs.join('\n')}`);
      const r = await gw.http('GET', '/healthz').catch(() => null);
      return r && r.status === 200;
    }, { what: 'gateway /healthz' });
  }
  return gw;
}

export async function startValidator({ redis, env = {} } = {}) {
  const logs = [];
  const child = spawn(VALIDATOR_BIN, [], {
    env: { ...process.env, LIVEGATE_REDIS_URL: redis.url, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (d) => logs.push(...d.toString().split('\n').filter(Boolean)));
  const proc = track(child, 'validator');
  proc.logs = logs;
  return {
    proc, logs,
    pid: child.pid,
    stop: (signal) => stopProc(proc, signal),
    kill9: () => stopProc(proc, 'SIGKILL'),
  };
}

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

// Mints a token; opts can forge bad ones: alg (header alg), badSig, expired.
export function mintToken(claims, secret, { alg = 'HS256', badSig = false } = {}) {
  const body = { exp: Math.floor(Date.now() / 1000) + 3600, ...claims };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  const head = b64url({ alg, typ: 'JWT' });
  const payload = b64url(body);
  if (alg === 'none') return `${head}.${payload}.`;
  const algo = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
  const sig = createHmac(algo, badSig ? secret + 'x' : secret).update(`${head}.${payload}`)
    .digest('base64url');
  return `${head}.${payload}.${sig}`;
}

// A WebSocket client that queues every message so tests can wait for the
// one they want without racing the event loop.
export function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const queue = [];
    const waiters = [];
    let closeInfo = null;
    let closeResolve;
    const closed = new Promise((r) => { closeResolve = r; });
    const client = {
      ws, closed, messages: queue,
      send: (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)),
      sendRaw: (data, opts = {}) => ws.send(data, { binary: !!opts.binary }),
      // Resolves with (and removes) the first queued or future message matching pred.
      next(pred = () => true, timeoutMs = 5000) {
        const i = queue.findIndex(pred);
        if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
        return new Promise((res, rej) => {
          // The timer is cleared on a match, so a long timeout does not keep
          // the test process alive after the test.
          const w = { pred, res: (m) => { clearTimeout(w.timer); res(m); } };
          waiters.push(w);
          w.timer = setTimeout(() => {
            const k = waiters.indexOf(w);
            if (k >= 0) {
              waiters.splice(k, 1);
              rej(new Error(`no matching message within ${timeoutMs} ms; queued: ${JSON.stringify(queue)}; closed: ${JSON.stringify(closeInfo)}`));
            }
          }, timeoutMs);
        });
      },
      // Asserts no matching message arrives within ms.
      async none(pred, ms) {
        await sleep(ms);
        return !queue.some(pred);
      },
      close: () => { try { ws.close(); } catch {} },
      terminate: () => { try { ws.terminate(); } catch {} },
    };
    ws.on('open', () => resolve(client));
    ws.on('error', (e) => { if (ws.readyState !== WebSocket.OPEN) reject(e); });
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      const k = waiters.findIndex((w) => w.pred(msg));
      if (k >= 0) waiters.splice(k, 1)[0].res(msg);
      else queue.push(msg);
    });
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      closeResolve(closeInfo);
    });
  });
}

let orderSeq = 0;
export function validOrder(overrides = {}) {
  const { address, ...rest } = overrides;
  return {
    type: 'order.submit',
    client_order_id: `c-${process.pid}-${++orderSeq}`,
    room_id: 'r1', sku_id: 'sku-1', qty: 1, unit_price: 19900, amount: 19900,
    currency: 'CNY', payment_method: 'alipay', coupon_id: null,
    address: {
      name: '张三', phone: '13800138000', province: '浙江省', city: '杭州市',
      district: '西湖区', detail: '文三路 1 号', postal_code: '310000', ...address,
    },
    ...rest,
  };
}

// Sets a room up through the HTTP API as an admin.
export async function setupRoom(gw, room, { threshold = 100000, status = 'live',
  methods = ['alipay', 'wechat_pay', 'card', 'cod'], skus = {}, coupons = {} } = {}) {
  const admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
  const put = async (p, body) => {
    const r = await gw.http('PUT', p, { token: admin, body });
    if (r.status !== 200) throw new Error(`PUT ${p}: ${r.status} ${r.text}`);
  };
  await put(`/v1/rooms/${room}`, { title: room, status, high_value_threshold: threshold, payment_methods: methods });
  for (const [sku, body] of Object.entries(skus)) await put(`/v1/rooms/${room}/skus/${sku}`, body);
  for (const [c, body] of Object.entries(coupons)) await put(`/v1/rooms/${room}/coupons/${c}`, body);
}
