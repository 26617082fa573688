// system.mjs - starts and stops the real processes integration tests run
// against: redis-server on a free loopback port, the livegate gateway and
// validator binaries, and tools (bench, bus probe). Every process started
// here is stopped by stopAll(), which each test file calls in an after()
// hook, and every wait is bounded. Every exit is recorded and judged: a
// process that crashed, was killed by a signal the test did not send, exited
// with a code the test did not expect or printed a sanitizer report fails the
// test that stopped it, or the file (see badExit).
import { spawn, execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../package.json'));
export const WebSocket = require('ws');

// The binaries under test come from ctest (tests/CMakeLists.txt sets these
// variables). There is no fallback to a guessed build folder: a stale binary
// left there would be tested instead of the one just built. bin() throws
// when the variable is unset, so a test needing that binary fails loudly.
const BIN_VARS = {
  gateway: 'LIVEGATE_BIN',
  validator: 'LIVEGATE_VALIDATOR_BIN',
  bench: 'LIVEGATE_BENCH_BIN',
  bus_probe: 'LIVEGATE_BUS_PROBE_BIN',
};
export function bin(which) {
  const name = BIN_VARS[which];
  const file = name && process.env[name];
  if (!file) throw new Error(`${name ?? which} is not set: run the integration tests through ctest (tests/CMakeLists.txt passes the binaries)`);
  return file;
}

// The environment of every process started here: this process's own, less
// any inherited LIVEGATE_* variable (a developer's shell or CI setting one
// must not change what a test checks), plus what the test sets.
export function childEnv(env = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LIVEGATE_')));
  return { ...base, ...env };
}

// Every process started since the last stopAll(), kept after it exits so
// that one dying mid-test is still judged (see badExit).
const started = [];
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

// Collects a stream's lines into logs (the last partial line too, at exit).
function collectLines(stream, logs) {
  let partial = '';
  stream.on('data', (d) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop();
    logs.push(...lines.filter(Boolean));
  });
  stream.on('end', () => { if (partial) logs.push(partial); partial = ''; });
}

// What a sanitizer build prints when it finds a bug (ASan, LSan, UBSan, TSan).
const SANITIZER = /ERROR: (Address|Leak|UndefinedBehavior|Thread|Memory)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer/;

// Records a process and, once it exits, how. expect says which ending is
// fine: by default exit code 0 only; stop()/kill9() and expectExit() widen it.
function track(child, name, logs = []) {
  const proc = {
    child, name, logs, exited: false, code: null, signal: null,
    expectSignal: null, expectCode: (code) => code === 0, forced: false, reported: false,
  };
  proc.done = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      proc.exited = true;
      proc.code = code;
      proc.signal = signal;
      resolve({ code, signal });
    });
  });
  started.push(proc);
  return proc;
}

// Why a process's ending is bad, or null: a signal the test did not send on
// purpose, an exit code the test did not say to expect, a kill after it
// ignored SIGTERM, or a sanitizer report in its stderr (whatever its exit).
export function badExit(proc) {
  const report = proc.logs.findIndex((l) => SANITIZER.test(l));
  if (report >= 0) return `sanitizer report: ${proc.logs.slice(report, report + 40).join('\n')}`;
  if (!proc.exited) return null;
  if (proc.forced) return 'did not exit within the grace period after SIGTERM: killed with SIGKILL';
  if (proc.signal) return proc.signal === proc.expectSignal ? null : `killed by ${proc.signal}, which the test did not send`;
  return proc.expectCode(proc.code) ? null : `exit code ${proc.code}`;
}

function describeBad(proc, why) {
  proc.reported = true;
  return `${proc.name} (pid ${proc.child.pid}) ${why}\n${proc.logs.slice(-30).join('\n')}`;
}

// Throws if the process ended badly (see badExit); the error names it.
export function assertCleanExit(proc) {
  const why = badExit(proc);
  if (why) throw new Error(describeBad(proc, why));
}

// Stops a process with signal (SIGCONT first, so a stopped one can act on
// it) and waits, with SIGKILL after graceMs. Any signal but SIGKILL asks for
// a clean shutdown, i.e. exit code 0; SIGKILL is the expected ending only
// when the test sent it. Throws if the ending is bad.
async function stopProc(proc, signal = 'SIGTERM', graceMs = 5000) {
  await endProc(proc, signal, graceMs);
  assertCleanExit(proc);
  return { code: proc.code, signal: proc.signal };
}

async function endProc(proc, signal = 'SIGTERM', graceMs = 5000) {
  if (!proc.exited) {
    if (signal === 'SIGKILL') proc.expectSignal = 'SIGKILL';
    try { proc.child.kill('SIGCONT'); } catch {}
    proc.child.kill(signal);
    const timer = setTimeout(() => {
      if (!proc.exited) { proc.forced = true; proc.child.kill('SIGKILL'); }
    }, graceMs);
    await proc.done;
    clearTimeout(timer);
  }
}

// Starts a process to track: a test binary, with the clean environment and
// its stderr in logs. stdout is the caller's ('pipe') or ignored.
export function spawnTracked(file, args, { name, env = {}, stdin = 'ignore', stdout = 'ignore' } = {}) {
  const child = spawn(file, args, { env: childEnv(env), stdio: [stdin, stdout, 'pipe'] });
  const logs = [];
  collectLines(child.stderr, logs);
  return track(child, name ?? path.basename(file), logs);
}

// Runs a tool (livegate-bench) to its end, bounded by timeoutMs, and
// returns { code, signal, out } (stdout and stderr together). okCodes are
// the exit codes the test expects; any other fails the file at stopAll().
export function runTool(file, args, { name, env = {}, timeoutMs = 120000, okCodes = [0] } = {}) {
  const proc = spawnTracked(file, args, { name, env, stdout: 'pipe' });
  proc.expectCode = (code) => okCodes.includes(code);
  let out = '';
  proc.child.stdout.on('data', (d) => { out += d; });
  proc.child.stderr.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.child.kill('SIGKILL'); reject(new Error(`${proc.name} timed out:\n${out}`)); }, timeoutMs);
    proc.done.then(({ code, signal }) => { clearTimeout(timer); resolve({ code, signal, out, proc }); });
  });
}

// Stops everything still running and judges every process started since
// the last call, also those that exited on their own mid-test: the file
// fails on any bad ending (see badExit). Each test file calls this in an
// after() hook.
export async function stopAll() {
  const procs = started.splice(0);
  await Promise.all(procs.map((p) => endProc(p)));
  for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  const bad = procs.map((p) => [p, p.reported ? null : badExit(p)]).filter(([, why]) => why);
  if (bad.length) {
    throw new Error(`processes that ended badly:\n${bad.map(([p, why]) => describeBad(p, why)).join('\n')}`);
  }
}

export function redisCli(port, ...args) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-p', String(port), '--raw', ...args], { timeout: 10000, env: childEnv() },
      (err, stdout) => (err ? reject(err) : resolve(stdout.replace(/\n$/, ''))));
  });
}

// A redis-server on a free loopback port and its own folder. aof: true
// runs it with the append-only file, fsync'ed on every write (appendfsync
// always), so what it acknowledged survives a kill -9; start() after
// kill9() restarts it on the same port from the same folder.
export async function startRedis({ aof = false } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lg-redis-'));
  tmpDirs.push(dir);
  const persistence = aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const redis = {
    port, dir,
    url: `redis://127.0.0.1:${port}/0`,
    proc: null,
    async start() {
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1',
        '--save', '', ...persistence, '--dir', dir, '--daemonize', 'no',
        '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore', env: childEnv() });
      redis.proc = track(child, 'redis');
      await waitFor(async () => {
        if (redis.proc.exited) throw new Error(`redis-server exited: ${readRedisLog(dir)}`);
        return (await redisCli(port, 'ping').catch(() => '')) === 'PONG';
      }, { what: 'redis-server' });
    },
    stop: () => stopProc(redis.proc),
    kill9: () => stopProc(redis.proc, 'SIGKILL'),
    pause: () => redis.proc.child.kill('SIGSTOP'),
    resume: () => redis.proc.child.kill('SIGCONT'),
    cli: (...args) => redisCli(port, ...args),
  };
  await redis.start();
  return redis;
}

function readRedisLog(dir) {
  try { return readFileSync(path.join(dir, 'redis.log'), 'utf8').split('\n').slice(-20).join('\n'); } catch { return ''; }
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
  const proc = spawnTracked(bin('gateway'), ['serve'], {
    name: 'gateway',
    env: {
      LIVEGATE_JWT_SECRET: secrets.secret,
      LIVEGATE_DATA_KEY: secrets.dataKey,
      LIVEGATE_REDIS_URL: redis.url,
      LIVEGATE_LISTEN: `127.0.0.1:${port}`,
      // Most tests submit bursts from one user on one connection, which the
      // default per-user rate (10/s, bursts of 20) and in-flight cap (32)
      // would refuse; and many run no validator, where admission would
      // answer BUSY once the queue had no decision for 2 s. The tests of
      // those limits set them (admission.test.mjs).
      LIVEGATE_USER_RATE: '0',
      LIVEGATE_CONN_INFLIGHT: '1000000',
      LIVEGATE_ADMIT_STALL_MS: '60000',
      ...env,
    },
  });
  const { child, logs } = proc;
  const base = `http://127.0.0.1:${port}`;
  const gw = {
    port, proc, logs, secrets,
    pid: child.pid,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    http: (method, urlPath, opts) => httpRequest(base, method, urlPath, opts),
    stop: (signal) => stopProc(proc, signal),
    kill9: () => stopProc(proc, 'SIGKILL'),
    // The test expects this gateway to exit on its own with a non-zero code.
    expectFailure: () => { proc.expectCode = (code) => code !== 0; },
    token: (claims, opts) => mintToken(claims, secrets.secret, opts),
    // The sum of a Prometheus series from GET /metrics (every label set), so
    // a test can wait on what the gateway did instead of sleeping.
    async metric(name) {
      const r = await httpRequest(base, 'GET', '/metrics');
      if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
      return r.text.split('\n').filter((l) => l.startsWith(name) && /^[a-z_]+(\{| )/.test(l) && l.split(/[{ ]/)[0] === name)
        .reduce((n, l) => n + Number(l.trim().split(' ').at(-1)), 0);
    },
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
    // Its own "gateway.listening" first: on a shared port (SO_REUSEPORT)
    // /healthz may be answered by a sibling that is already up, while this
    // process has not yet listened nor set its signal handlers.
    await waitFor(async () => {
      if (proc.exited) throw new Error(`gateway exited: ${logs.join('\n')}`);
      if (!logs.some((l) => l.includes('"event":"gateway.listening"'))) return false;
      const r = await gw.http('GET', '/healthz').catch(() => null);
      return r && r.status === 200;
    }, { what: 'gateway listening and /healthz' });
  }
  return gw;
}

export async function startValidator({ redis, env = {} } = {}) {
  const proc = spawnTracked(bin('validator'), [], {
    name: 'validator', env: { LIVEGATE_REDIS_URL: redis.url, ...env },
  });
  return {
    proc, logs: proc.logs,
    pid: proc.child.pid,
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

// Submits an order on client c and waits for its answer and, once
// accepted, its result: {acc} for a refusal, else {acc, result}.
export async function placeOrder(c, order) {
  c.send(order);
  const acc = await c.next((m) => m.client_order_id === order.client_order_id && m.type !== 'sku.update');
  if (acc.type !== 'order.accepted') return { acc };
  const result = await c.next((m) => m.order_id === acc.order_id &&
    (m.type === 'order.confirmed' || m.type === 'order.rejected'), 12000);
  return { acc, result };
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
