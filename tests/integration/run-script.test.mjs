// scripts/run.sh with real processes, on ports and in folders of its own
// (LIVEGATE_RUN_DIR, LIVEGATE_RUN_REDIS_PORT, LIVEGATE_LISTEN) and with the
// programs ctest built (LIVEGATE_RUN_NO_BUILD, LIVEGATE_RUN_BUILD_DIR), so a
// developer's var/ and ports are never touched:
// - a second run.sh on the same ports refuses, names the ports and what
//   holds them, and leaves the first untouched (its /healthz, its Redis);
// - Ctrl-C (SIGINT to the script's whole process group, as a terminal sends
//   it) stops gateways (viewers closed 1001), then validators, then Redis,
//   as each process's log and the script's run.log show;
// - a process that dies (a validator, Redis) is reported and the rest stop.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { connect, freePort, mintToken, redisCli, sleep, waitFor } from './lib/system.mjs';

const runSh = path.resolve(process.cwd(), '../scripts/run.sh');
const buildDir = process.env.LIVEGATE_BUILD_DIR;
const runs = [];

// A base for LIVEGATE_RUN_METRICS_BASE whose ports (gateways at base + 1 and
// + 2, the validator at base + 101) are free now. Drawn below the kernel's
// ephemeral range (32768 and up): there the other tests' outgoing
// connections take ports at random, and one could land on a port between
// run.sh's check and the process's bind.
const canBind = (port) => new Promise((resolve) => {
  const srv = net.createServer();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});
async function metricsBase() {
  for (let i = 0; i < 200; i++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    if (await canBind(base + 1) && await canBind(base + 2) && await canBind(base + 101)) return base;
  }
  throw new Error('no free metrics ports below 32768');
}
const dirs = [];

function startRun({ redisPort, gwPort, metricsBase, gateways = 2, validators = 1 }) {
  if (!buildDir) throw new Error('LIVEGATE_BUILD_DIR is not set: run through ctest');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lg-run-'));
  dirs.push(dir);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LIVEGATE_')));
  Object.assign(env, {
    LIVEGATE_RUN_DIR: dir, LIVEGATE_RUN_NO_BUILD: '1', LIVEGATE_RUN_BUILD_DIR: buildDir,
    LIVEGATE_RUN_REDIS_PORT: String(redisPort), LIVEGATE_LISTEN: `127.0.0.1:${gwPort}`,
    LIVEGATE_GATEWAYS: String(gateways), LIVEGATE_VALIDATORS: String(validators),
    LIVEGATE_APPENDFSYNC: 'everysec',
  });
  if (metricsBase) env.LIVEGATE_RUN_METRICS_BASE = String(metricsBase);
  // Its own process group, as a shell gives a foreground job: -pid is the
  // group a terminal's Ctrl-C would signal.
  const child = spawn('bash', [runSh], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { child, dir, redisPort, gwPort, out: '', exited: null };
  child.stdout.on('data', (d) => { run.out += d; });
  child.stderr.on('data', (d) => { run.out += d; });
  run.done = new Promise((r) => child.on('exit', (code, signal) => { run.exited = { code, signal }; r(run.exited); }));
  runs.push(run);
  return run;
}

async function running(run) {
  await waitFor(() => {
    if (run.exited) throw new Error(`run.sh exited ${JSON.stringify(run.exited)}:\n${run.out}`);
    return run.out.includes('livegate is running');
  }, { timeoutMs: 60000, what: 'livegate is running' });
  return run;
}

const log = (run, name) => readFileSync(path.join(run.dir, 'log', name), 'utf8');
const events = (run, file) => log(run, file).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
// The pids run.sh started, by name ("gateway 1", "validator 1", "redis-server").
function pids(run) {
  const out = {};
  for (const m of log(run, 'run.log').matchAll(/\[\d+\] livegate: (gateway \d+|validator \d+|redis-server) started \(pid (\d+)/g)) out[m[1]] = Number(m[2]);
  return out;
}
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const healthz = (run) => fetch(`http://127.0.0.1:${run.gwPort}/healthz`, { signal: AbortSignal.timeout(3000) })
  .then((r) => r.status).catch(() => 0);
const redisPid = async (port) => (await redisCli(port, 'INFO', 'server')).match(/process_id:(\d+)/)[1];
const portFree = async (port) => (await redisCli(port, 'PING').catch(() => 'refused')) !== 'PONG';

after(async () => {
  for (const run of runs) {
    if (!run.exited) {
      try { process.kill(-run.child.pid, 'SIGTERM'); } catch {}
      await Promise.race([run.done, sleep(30000)]);
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a second run.sh on the same ports refuses and leaves the first untouched', async () => {
  const redisPort = await freePort();
  const gwPort = await freePort();
  // Each process's /metrics on a port of its own: gateway i on base + i,
  // validator j on base + 100 + j (ports that are free now, see metricsBase).
  const base = await metricsBase();
  const first = await running(startRun({ redisPort, gwPort, metricsBase: base }));
  const firstPids = pids(first);
  // The Prometheus targets it wrote, each one answering its own metrics.
  const targets = JSON.parse(readFileSync(path.join(first.dir, 'prometheus-targets.json'), 'utf8'));
  const job = (name) => targets.find((t) => t.labels.job === name).targets;
  assert.deepEqual(job('livegate-gateway'), [`127.0.0.1:${base + 1}`, `127.0.0.1:${base + 2}`]);
  assert.deepEqual(job('livegate-validator'), [`127.0.0.1:${base + 101}`]);
  assert.deepEqual(job('livegate-rooms'), [`127.0.0.1:${gwPort}`]);
  for (const t of [...job('livegate-gateway'), ...job('livegate-validator')]) {
    const r = await fetch(`http://${t}/metrics`, { signal: AbortSignal.timeout(3000) });
    assert.equal(r.status, 200, t);
    assert.match(await r.text(), /^livegate_\w+/m, t);
  }
  assert.deepEqual(Object.keys(firstPids).sort(), ['gateway 1', 'gateway 2', 'redis-server', 'validator 1']);
  const redisBefore = await redisPid(redisPort);
  assert.equal(Number(redisBefore), firstPids['redis-server']);

  const second = startRun({ redisPort, gwPort, metricsBase: base });
  const { code } = await second.done;
  assert.equal(code, 1, second.out);
  assert.match(second.out, new RegExp(`port ${redisPort} \\(its Redis.*\\) is taken by pid ${redisBefore} \\(redis-server\\)`));
  assert.match(second.out, new RegExp(`port ${gwPort} \\(the gateways.*\\) is taken by pid \\d+ \\(livegate\\)`));
  assert.match(second.out, new RegExp(`port ${base + 1} \\(gateway 1's /metrics.*\\) is taken by pid \\d+ \\(livegate\\)`));
  assert.match(second.out, new RegExp(`port ${base + 101} \\(validator 1's /metrics.*\\) is taken by pid \\d+ \\(livegate-valida`));
  assert.doesNotMatch(second.out, /livegate is running/);
  assert.deepEqual(readdirSync(path.join(second.dir, 'log')), ['run.log']); // it started nothing

  // Only the gateway port taken: refused too, and its free Redis port stays free.
  const otherRedis = await freePort();
  const third = startRun({ redisPort: otherRedis, gwPort, metricsBase: await metricsBase() });
  assert.equal((await third.done).code, 1, third.out);
  assert.match(third.out, new RegExp(`port ${gwPort} \\(the gateways`));
  assert.doesNotMatch(third.out, new RegExp(`port ${otherRedis}`));
  assert.ok(await portFree(otherRedis));

  assert.equal(await healthz(first), 200);
  assert.equal(await redisPid(redisPort), redisBefore);
  for (const [name, pid] of Object.entries(firstPids)) assert.ok(alive(pid), `${name} of the first run still runs`);
  assert.equal(first.exited, null);

  // Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
  const secret = /^LIVEGATE_JWT_SECRET=(.*)$/m.exec(readFileSync(path.join(first.dir, 'demo.env'), 'utf8'))[1];
  const viewer = await connect(`ws://127.0.0.1:${gwPort}/v1/ws`);
  viewer.send({ type: 'auth', token: mintToken({ sub: 'v1', room: 'demo', role: 'viewer' }, secret) });
  assert.equal((await viewer.next((m) => m.type === 'auth.ok' || m.type === 'error')).type, 'auth.ok');
  process.kill(-first.child.pid, 'SIGINT');
  assert.equal((await first.done).code, 0, first.out);
  assert.equal((await viewer.closed).code, 1001);

  // The order, from each process's own log: every gateway stopped before
  // any validator was told to stop, which stopped before Redis was.
  for (const g of ['gateway-1.log', 'gateway-2.log']) {
    const ev = events(first, g);
    assert.equal(ev.find((e) => e.event === 'gateway.stopping').signal, 15, 'run.sh sent SIGTERM, the SIGINT never reached it');
  }
  const gwStopped = Math.max(...['gateway-1.log', 'gateway-2.log'].map((g) => events(first, g).find((e) => e.event === 'gateway.stopped').ts_ms));
  const v = events(first, 'validator-1.log');
  const vStopping = v.find((e) => e.event === 'validator.stopping');
  const vStopped = v.find((e) => e.event === 'validator.stopped');
  assert.equal(vStopping.signal, 15);
  assert.ok(gwStopped <= vStopping.ts_ms, `gateways stopped ${gwStopped}, validator stopping ${vStopping.ts_ms}`);
  const redisLog = log(first, 'redis.log');
  const sigterm = /(\d+):signal-handler \((\d+)\) Received SIGTERM/.exec(redisLog);
  assert.ok(sigterm, redisLog);
  assert.equal(sigterm[1], redisBefore);
  assert.ok(Number(sigterm[2]) >= Math.floor(vStopped.ts_ms / 1000), 'Redis was told to stop after the validator stopped');
  assert.doesNotMatch(redisLog, /Received SIGINT/);
  // ... and run.log, with its timestamps, in the same order.
  const steps = log(first, 'run.log').split('\n').filter((l) => l.includes(`[${first.child.pid}]`));
  const at = (what) => {
    const line = steps.find((l) => l.includes(what));
    assert.ok(line, `run.log: ${what}\n${steps.join('\n')}`);
    return Date.parse(line.split(' ')[0]);
  };
  const order = ['SIGINT received', 'stopping 2 gateway(s)', 'gateways stopped', 'stopping 1 validator(s)',
    'validators stopped', 'stopping redis-server', 'redis-server stopped'].map(at);
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.ok(order[5] >= vStopped.ts_ms);
  for (const [name, pid] of Object.entries(firstPids)) assert.ok(!alive(pid), `${name} stopped`);
  assert.ok(await portFree(redisPort));
});

for (const victim of ['validator 1', 'redis-server']) {
  test(`run.sh notices when its ${victim} dies, says so and stops the rest`, async () => {
    const run = await running(startRun({ redisPort: await freePort(), gwPort: await freePort(), gateways: 1, metricsBase: await metricsBase() }));
    const p = pids(run);
    process.kill(p[victim], 'SIGKILL');
    const { code } = await run.done;
    assert.equal(code, 1, run.out);
    assert.match(run.out, new RegExp(`${victim} \\(pid ${p[victim]}\\) exited with status 137; stopping the rest`));
    for (const [name, pid] of Object.entries(p)) assert.ok(!alive(pid), `${name} stopped`);
    assert.ok(events(run, 'gateway-1.log').some((e) => e.event === 'gateway.stopped'));
    assert.ok(await portFree(run.redisPort));
    assert.equal(await healthz(run), 0);
  });
}
